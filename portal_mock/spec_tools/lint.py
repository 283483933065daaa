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

from portal_mock.spec_tools.document import Validators
from portal_mock.spec_tools.locate import Lines
from portal_mock.spec_tools.rules import RULES
from portal_mock.spec_tools.stored_data import link_schema, reason

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2
FIXTURES_RULE = "fixtures-valid"


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    rule: str
    message: str


def lint(path: Path, fixtures: Path | None = None) -> list[Finding]:
    """Every finding of every rule on the document at ``path``, and on the links in
    ``fixtures``; OSError or yaml.YAMLError (or ValueError for a document that is not a
    mapping, or fixtures that are not JSON) when either cannot be read."""
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
    listed = sorted(found, key=lambda f: (f.line, f.rule, f.message))
    return listed + (fixtures_valid(spec, fixtures) if fixtures is not None else [])


def fixtures_valid(spec: dict[str, Any], fixtures: Path) -> list[Finding]:
    """Rule fixtures-valid: every fixture is a link the spec's link schema accepts."""
    text = fixtures.read_text(encoding="utf-8")
    links = json.loads(text)
    if not isinstance(links, list):
        raise ValueError(f"{fixtures} does not hold a list of links")
    where = link_schema(spec)
    if where is None:
        return [Finding(str(fixtures), 1, FIXTURES_RULE, "the spec has no link schema to check")]
    validator = Validators(spec).at(where)
    found = []
    for position, link in enumerate(links):
        name = link.get("_id") if isinstance(link, dict) else None
        line = text.count("\n", 0, text.find(f'"{name}"')) + 1 if name else 1
        for error in validator.iter_errors(link):
            message = f"link {name or f'#{position + 1}'}: {reason(error)}"
            found.append(Finding(str(fixtures), line, FIXTURES_RULE, message))
    return found


def run(path: Path, output: str, out: TextIO = sys.stdout, fixtures: Path | None = None) -> int:
    try:
        found = lint(path, fixtures)
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
    fixtures = Path(arguments.fixtures) if arguments.fixtures else None
    return run(Path(arguments.spec), arguments.format, fixtures=fixtures)
