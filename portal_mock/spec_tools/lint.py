"""``portal-mock lint [SPEC]``: each rule's findings, by file, line and rule.

Exit 0 when the document is clean, 1 with findings, 2 when it cannot be read.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from portal_mock.spec_tools.locate import Lines
from portal_mock.spec_tools.rules import RULES

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    rule: str
    message: str


def lint(path: Path) -> list[Finding]:
    """Every finding of every rule on the document at ``path``; OSError or yaml.YAMLError
    (or ValueError for a document that is not a mapping) when it cannot be read."""
    text = path.read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    if not isinstance(spec, dict):
        raise ValueError("the document is not a mapping")
    lines = Lines(text)
    found = {
        Finding(str(path), lines.line(where), name, message)
        for name, rule in RULES.items()
        for where, message in rule(spec)
    }
    # A shared component is found once, however many operations use it.
    return sorted(found, key=lambda f: (f.line, f.rule, f.message))


def run(path: Path, output: str, out: TextIO = sys.stdout) -> int:
    try:
        found = lint(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        print(f"portal-mock lint: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if output == "json":
        json.dump([asdict(finding) for finding in found], out, indent=2)
        out.write("\n")
    else:
        for f in found:
            print(f"{f.file}:{f.line}: {f.rule}: {f.message}", file=out)
        print(f"{len(found)} finding(s) in {path}" if found else f"{path}: clean", file=out)
    return EXIT_FINDINGS if found else EXIT_CLEAN


def command(arguments: Any) -> int:
    return run(Path(arguments.spec), arguments.format)
