"""``portal-mock diff OLD NEW``: what a new version of the spec breaks, for clients and data.

Each side is a file or ``git:REF:PATH``. Changes are grouped: a change to a
shared component is one finding, naming every operation it reaches. With
``--db`` or ``--fixtures``, the links the new version makes invalid are listed
too. Exit 0 when nothing breaks, 1 when something does, 2 when a side cannot
be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from portal_mock.fixtures import read_fixtures
from portal_mock.spec_tools.api_changes import api_changes
from portal_mock.spec_tools.document import Unreadable, parse, read_source
from portal_mock.spec_tools.locate import Lines
from portal_mock.spec_tools.stored_data import Invalid, made_invalid
from portal_mock.store.peek import stored_links

EXIT_SAFE, EXIT_BREAKING, EXIT_UNREADABLE = 0, 1, 2
_SHOWN = 3


@dataclass(frozen=True)
class Version:
    name: str
    text: str
    spec: dict[str, Any]

    @classmethod
    def read(cls, source: str) -> Version:
        text, name = read_source(source)
        return cls(name, text, parse(text, name))


@dataclass(frozen=True)
class Finding:
    rule: str
    breaking: bool
    file: str
    line: int
    detail: str
    # Each field and operation part the change reaches: "data.link_type in GET /x response 200".
    reaches: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        shown = "; ".join(self.reaches[:_SHOWN])
        more = len(self.reaches) - _SHOWN
        return f"{self.detail}: {shown}" + (f"; and {more} more" if more > 0 else "")


@dataclass
class Report:
    findings: list[Finding]
    invalid: list[Invalid]

    @property
    def breaks(self) -> bool:
        return bool(self.invalid) or any(finding.breaking for finding in self.findings)


def diff(old: Version, new: Version, data: Iterable[tuple[str, list[Any]]] = ()) -> Report:
    """The changes from ``old`` to ``new``, and the links of ``data`` (source, links) that
    ``new`` makes invalid."""
    lines = {"old": Lines(old.text), "new": Lines(new.text)}
    files = {"old": old.name, "new": new.name}
    grouped: dict[tuple[str, bool, str, int, str], list[str]] = {}
    for change in api_changes(old.spec, new.spec):
        file, at = files[change.side], lines[change.side].line(change.where)
        key = (change.rule, change.breaking, file, at, change.detail)
        seen = f"{change.subject} in {change.context}"
        if seen not in grouped.setdefault(key, []):
            grouped[key].append(seen)
    findings = [Finding(*key, reaches=reaches) for key, reaches in grouped.items()]
    findings.sort(key=lambda f: (not f.breaking, f.file != new.name, f.line, f.rule, f.detail))
    invalid = [
        bad for source, links in data for bad in made_invalid(old.spec, new.spec, source, links)
    ]
    return Report(findings, invalid)


def render(report: Report, out: TextIO) -> None:
    for finding in report.findings:
        label = "BREAKING" if finding.breaking else "ok"
        print(f"{finding.file}:{finding.line}: {label} {finding.rule}: {finding.message}", file=out)
    for bad in report.invalid:
        print(f"{bad.source}: link {bad.id} is invalid under the new version:", file=out)
        for reason in bad.reasons:
            print(f"    {reason}", file=out)
    breaking = sum(finding.breaking for finding in report.findings)
    print(
        f"{breaking} breaking change(s), {len(report.findings) - breaking} compatible, "
        f"{len(report.invalid)} stored link(s) or fixture(s) made invalid",
        file=out,
    )


def as_json(report: Report) -> dict[str, Any]:
    return {
        "breaking": report.breaks,
        "changes": [{**asdict(f), "message": f.message} for f in report.findings],
        "invalid": [asdict(bad) for bad in report.invalid],
    }


def run(
    old: str,
    new: str,
    stores: list[str],
    fixtures: list[str],
    output: str,
    out: TextIO = sys.stdout,
) -> int:
    try:
        versions = Version.read(old), Version.read(new)
        data = [(path, stored_links(Path(path))) for path in stores]
        data += [(path, read_fixtures(Path(path))) for path in fixtures]
    except (Unreadable, OSError, ValueError) as exc:
        print(f"portal-mock diff: cannot read {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    report = diff(*versions, data)
    if output == "json":
        json.dump(as_json(report), out, indent=2)
        out.write("\n")
    else:
        render(report, out)
    return EXIT_BREAKING if report.breaks else EXIT_SAFE


def command(arguments: Any) -> int:
    return run(arguments.old, arguments.new, arguments.db, arguments.fixtures, arguments.format)
