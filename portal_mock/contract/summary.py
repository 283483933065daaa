"""The short report: operations and cases per phase, failures by check, failing exchanges.

``Tally`` collects what each finished scenario recorded; ``render`` turns it into
the lines printed after Schemathesis's own output; ``FailingExchanges`` writes
the requests behind the failures (and the requests that led to them) as a HAR or
VCR cassette with Schemathesis's own writers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from schemathesis.config import OutputConfig
from schemathesis.core.failures import Failure
from schemathesis.engine.recorder import CheckFailureInfo, RecordedScenario, ScenarioRecorder
from schemathesis.reporting.har import HarWriter
from schemathesis.reporting.vcr import VcrWriter

from portal_mock.contract.seeding import Seeded
from portal_mock.contract.settings import PHASES

EXAMPLES_PER_CHECK = 3
_CUSTOM_TITLE = "Custom check failed"
_WIDTH = 240


@dataclass(frozen=True)
class Finding:
    """One distinct failure: the check that raised it, where, what, and how to send it again."""

    check: str
    operation: str
    detail: str
    curl: str
    # How many requests before this one the failure needs (a stateful sequence).
    earlier: int = 0


def describe(failure: Failure) -> str:
    """One line for a failure: a custom check's message, or a built-in's title and first line."""
    first = next((line.strip() for line in failure.message.splitlines() if line.strip()), "")
    text = first if failure.title.startswith(_CUSTOM_TITLE) else f"{failure.title}. {first}"
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def reproduction(info: CheckFailureInfo, case_id: str) -> tuple[str, int]:
    """The failing request as one curl line, and how many earlier requests it needs."""
    steps = info.steps
    own = next((step for step in steps if step.case_id == case_id), steps[-1] if steps else None)
    curl = own.curl if own is not None else info.code_sample or ""
    lines = curl.strip().splitlines()
    return (lines[0] if lines else ""), max(0, len(steps) - 1)


@dataclass
class Tally:
    """Cases and operations per phase, and the distinct findings of every check."""

    cases: Counter[str] = field(default_factory=Counter)
    operations: dict[str, set[str]] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, phase: str, recorder: RecordedScenario) -> None:
        for case_id, node in recorder.cases.items():
            label = node.value.operation.label
            self.cases[phase] += 1
            self.operations.setdefault(phase, set()).add(label)
            for check in recorder.checks.get(case_id, []):
                info = check.failure_info
                if info is not None:
                    curl, earlier = reproduction(info, case_id)
                    detail = describe(info.failure)
                    self.add_finding(Finding(check.name, label, detail, curl, earlier))

    def add_finding(self, finding: Finding) -> None:
        """Keep ``finding`` unless the same check already found the same thing there."""
        key = (finding.check, finding.operation, finding.detail)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.setdefault(finding.check, []).append(finding)

    @property
    def failed_checks(self) -> list[str]:
        return sorted(self.findings, key=lambda name: (-len(self.findings[name]), name))


def _coverage_lines(tally: Tally, selected: int) -> list[str]:
    phases = [phase for phase in PHASES if tally.cases[phase]]
    everywhere = (
        set.intersection(*(tally.operations[phase] for phase in phases)) if phases else set()
    )
    lines = [
        f"  operations   {len(everywhere)} of {selected} exercised in every phase that ran "
        f"({', '.join(phases) or 'none'})"
    ]
    for phase in phases:
        missing = sorted(set().union(*tally.operations.values()) - tally.operations[phase])
        if missing:
            lines.append(f"  not in {phase}: {', '.join(missing)}")
    counts = ", ".join(f"{phase} {tally.cases[phase]}" for phase in phases)
    lines.append(f"  cases run    {sum(tally.cases.values())} ({counts})")
    return lines


def _finding_lines(tally: Tally) -> list[str]:
    lines: list[str] = []
    for check in tally.failed_checks:
        findings = tally.findings[check]
        lines.append(f"  {check}: {len(findings)}")
        for finding in findings[:EXAMPLES_PER_CHECK]:
            lines.append(f"    {finding.operation}: {finding.detail}")
            if finding.curl:
                lines.append(f"      {finding.curl}")
            if finding.earlier:
                lines.append(
                    f"      (sent after {finding.earlier} earlier request(s) that set it up; "
                    "Schemathesis's output above lists them all)"
                )
        if len(findings) > EXAMPLES_PER_CHECK:
            lines.append(f"    ... and {len(findings) - EXAMPLES_PER_CHECK} more")
    return lines


def _seeding_lines(seeded: Seeded | None) -> list[str]:
    if seeded is None:
        return ["  seeded       nothing (the schema did not load)"]
    if seeded.read_only:
        return [
            "  seeded       nothing (read-only): the list was tested on the target's own data "
            "and no write operation was checked"
        ]
    created = len(seeded.created)
    made = f" and {seeded.made_by_cases} its create cases made" if seeded.made_by_cases else ""
    lines = [
        f"  seeded       {created} links of its own (namespaces {seeded.tag}-*); "
        f"{seeded.removed} removed after the run (the seeded{made})"
    ]
    if seeded.problems:
        lines.append(
            f"  not seeded   {len(seeded.problems)}: {seeded.problems[0]}; "
            "the rules that need them were checked less"
        )
    return lines


def render(
    tally: Tally, *, selected: int, seed: int | None, errors: int, seeded: Seeded | None = None
) -> str:
    """The summary printed at the end of a run."""
    lines = ["", "portal-mock contract summary", *_coverage_lines(tally, selected)]
    lines.extend(_seeding_lines(seeded))
    if errors:
        lines.append(f"  errors       {errors} (the run could not complete some cases; see above)")
    total = sum(len(found) for found in tally.findings.values())
    if not total:
        lines.append("  result       no contract violations found")
    else:
        checks = len(tally.findings)
        lines.append(
            f"  result       {total} violation{'s' if total != 1 else ''} "
            f"found by {checks} check{'s' if checks != 1 else ''}"
        )
        lines.extend(["", "failures by check (each with a curl command that sends it again):"])
        lines.extend(_finding_lines(tally))
    if seed is not None:
        lines.extend(["", f"seed {seed}: pass --seed {seed} to run the same cases again"])
    return "\n".join(lines)


def failing_part(recorder: RecordedScenario) -> ScenarioRecorder | None:
    """The failing cases of ``recorder`` with the cases that led to them; None if none failed."""
    wanted: set[str] = set()
    for case_id in recorder.failing_case_ids():
        wanted.add(case_id)
        wanted.update(
            info.failure.case_id
            for check in recorder.checks[case_id]
            if (info := check.failure_info) is not None and info.failure.case_id is not None
        )
    if not wanted:
        return None
    for case_id in list(wanted):
        node = recorder.cases.get(case_id)
        while node is not None and node.parent_id is not None:
            wanted.add(node.parent_id)
            node = recorder.cases.get(node.parent_id)
    part = ScenarioRecorder(label=recorder.label)
    for case_id, node in recorder.cases.items():
        if case_id in wanted and case_id in recorder.interactions:
            part.record_case_node(case_id, node)
            part.record_interaction(case_id, recorder.interactions[case_id])
            for check in recorder.checks.get(case_id, []):
                part.record_check_node(case_id, check)
    return part


class FailingExchanges:
    """Writes the failing part of each scenario to a HAR and/or a VCR cassette."""

    def __init__(self, config: OutputConfig, har: Path | None, vcr: Path | None) -> None:
        self._har = HarWriter(output=har, config=config) if har else None
        self._vcr = VcrWriter(output=vcr, config=config) if vcr else None
        for path in (har, vcr):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)

    def open(self, seed: int | None) -> None:
        if self._har is not None:
            self._har.open(seed=seed)
        if self._vcr is not None:
            self._vcr.open(seed=seed, command="portal-mock contract")

    def write(self, recorders: Iterable[RecordedScenario]) -> None:
        for recorder in recorders:
            part = failing_part(recorder)
            if part is None:
                continue
            for writer in (self._har, self._vcr):
                if writer is not None:
                    writer.write(part)

    def close(self) -> None:
        for writer in (self._har, self._vcr):
            if writer is not None:
                writer.close()
