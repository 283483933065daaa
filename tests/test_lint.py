"""``portal-mock lint``: each rule fires on an edited copy of the spec, at the edited line, and
stays silent on the spec as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_os_environment

from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC
from portal_mock.spec_tools.lint import lint

TEXT = DEFAULT_SPEC.read_text(encoding="utf-8")


def edited(tmp_path: Path, old: str, new: str, count: int = 1) -> tuple[Path, int]:
    """A copy of the spec with ``old`` replaced by ``new``; the line of the first change."""
    assert old in TEXT, old
    path = tmp_path / "spec.yaml"
    path.write_text(TEXT.replace(old, new, count), encoding="utf-8")
    return path, TEXT[: TEXT.index(old)].count("\n") + 1


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal_mock", "lint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_os_environment(),
    )


def test_the_bundled_spec_lints_clean() -> None:
    assert lint(DEFAULT_SPEC) == []
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clean" in done.stdout


@pytest.mark.parametrize(
    ("rule", "old", "new", "says"),
    [
        (
            "openapi-valid",
            "openapi: 3.0.3\ninfo:\n  title:",
            "openapi: 3.0.3\ninfo:\n  titel:",
            "title",
        ),
        (
            "handlers-resolve",
            "operationId: activateWorkorderPortalLink",
            "operationId: switchOnWorkorderPortalLink",
            "handlers.links.switch_on_workorder_portal_link, which does not exist",
        ),
        (
            "examples-valid",
            "    - field: link_type\n                      message: \"'shared'",
            "    - field: 7\n                      message: \"'shared'",
            "7 is not of type 'string'",
        ),
        (
            "links-resolve",
            "        GetLinkById:\n          operationId: getWorkorderPortalLink",
            "        GetLinkById:\n          operationId: fetchWorkorderPortalLink",
            "link GetLinkById names no operation of the spec",
        ),
        (
            "links-resolve",
            "            id: $response.body#/data/_id\n          description: Read the",
            "            link_id: $response.body#/data/_id\n          description: Read the",
            "getWorkorderPortalLink has no parameter link_id",
        ),
        (
            "error-envelope",
            "namespaces reach.\n      content:\n        application/json:\n          schema:\n"
            "            $ref: '#/components/schemas/ErrorResponse'",
            "namespaces reach.\n      content:\n        application/json:\n          schema:\n"
            "            $ref: '#/components/schemas/DeleteResponse'",
            "answers 404 without #/components/schemas/ErrorResponse",
        ),
    ],
    ids=[
        "openapi-valid",
        "handlers-resolve",
        "examples-valid",
        "links-resolve operation",
        "links-resolve parameter",
        "error-envelope",
    ],
)
def test_each_rule_names_the_line_it_finds(
    tmp_path: Path, rule: str, old: str, new: str, says: str
) -> None:
    path, line = edited(tmp_path, old, new)
    found = [f for f in lint(path) if f.rule == rule]
    assert found, lint(path)
    assert any(says in f.message for f in found), found
    assert any(abs(f.line - line) <= 2 for f in found), (line, found)


def test_a_handler_no_operation_reaches_is_found(tmp_path: Path) -> None:
    path, _ = edited(tmp_path, "operationId: activateWorkorderPortalLink", "operationId: x")
    messages = [f.message for f in lint(path) if f.rule == "handlers-resolve"]
    assert "handlers.links.activate_workorder_portal_link is reached by no operation" in messages


def test_an_operation_without_its_error_statuses_is_found(tmp_path: Path) -> None:
    old = "        '500':\n          $ref: '#/components/responses/InternalError'\n"
    path, line = edited(tmp_path, old, "")
    found = [f for f in lint(path) if f.rule == "error-statuses"]
    assert len(found) == 1
    assert "does not document 500" in found[0].message
    assert found[0].line < line


def test_json_output_and_exit_codes(tmp_path: Path) -> None:
    path, _ = edited(tmp_path, "operationId: activateWorkorderPortalLink", "operationId: x")
    done = run(str(path), "--format", "json")
    assert done.returncode == 1
    findings = json.loads(done.stdout)
    assert {"file", "line", "rule", "message"} <= set(findings[0])
    # The links naming the old operationId no longer resolve either.
    assert {f["rule"] for f in findings} == {"handlers-resolve", "links-resolve"}
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: [3.0\n", encoding="utf-8")
    for unreadable in (str(broken), str(tmp_path / "missing.yaml")):
        done = run(unreadable)
        assert done.returncode == 2
        assert "cannot read" in done.stderr


def test_an_answer_without_an_example_is_found(tmp_path: Path) -> None:
    # Prefer: code=429 sends the spec's own example: without one there is nothing to send.
    start = TEXT.index("          examples:\n            too-many-sessions:")
    end = TEXT.index("    StorageUnavailable:")
    assert end > start
    path = tmp_path / "spec.yaml"
    path.write_text(TEXT[:start] + TEXT[end:], encoding="utf-8")
    found = [f for f in lint(path) if f.rule == "prefer-examples"]
    assert found
    assert all("the 429 answer has no example" in f.message for f in found)


def test_a_fixture_the_spec_refuses_is_found_at_its_line(tmp_path: Path) -> None:
    links = json.loads(DEFAULT_FIXTURES.read_text(encoding="utf-8"))
    links[3]["link_type"] = "internal"
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps(links, indent=2), encoding="utf-8")
    done = run("--fixtures", str(fixtures))
    assert done.returncode == 1
    text = fixtures.read_text(encoding="utf-8")
    line = text[: text.index(links[3]["_id"])].count("\n") + 1
    assert (
        f"{fixtures}:{line}: fixtures-valid: link {links[3]['_id']}: link_type: 'internal' "
        "is not one of ['public', 'private', 'secure']"
    ) in done.stdout
    assert lint(DEFAULT_SPEC, DEFAULT_FIXTURES) == []
    fixtures.write_text("{not json", encoding="utf-8")
    assert run("--fixtures", str(fixtures)).returncode == 2
