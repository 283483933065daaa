"""``portal-mock diff``: each rule fires on the edit it names and keeps quiet on a near miss,
ten realistic edits get their verdicts, and stored links the new version refuses are named."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml
from conftest import clean_os_environment

from portal_mock.fixtures import read_fixtures
from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC
from portal_mock.spec_tools.api_changes import DIFF_RULES
from portal_mock.spec_tools.diff import Report, Version, diff, run
from portal_mock.store import LinkStore

TEXT = DEFAULT_SPEC.read_text(encoding="utf-8")
SPEC = yaml.safe_load(TEXT)
OLD = Version(str(DEFAULT_SPEC), TEXT, SPEC)
FIXTURES = read_fixtures(DEFAULT_FIXTURES)
EDITS = sorted((Path(__file__).parent / "spec_edits").glob("*.yaml"))

LINK = "/components/schemas/WorkorderPortalLink"
CREATE = "/components/requestBodies/CreateWorkorderPortalLink/content/application~1json/schema"
UPDATE = "/components/schemas/UpdateWorkorderPortalLink"
LIST = "/paths/~1workorder-portal-links/get"
POST = "/paths/~1workorder-portal-links/post"
DEACTIVATE = "/paths/~1workorder-portal-links~1{id}~1deactivate/post"
NAME = "/components/schemas/CustomBranding/properties/company_name"
COLOR = "/components/schemas/CustomBranding/properties/primary_color"
BEARER = {"type": "http", "scheme": "bearer"}


def add(path: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": path, "value": value}


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def remove(path: str) -> dict[str, Any]:
    return {"op": "remove", "path": path}


def move(source: str, path: str) -> dict[str, Any]:
    return {"op": "move", "from": source, "path": path}


def edited(patch: list[dict[str, Any]], name: str = "new.yaml") -> Version:
    spec = jsonpatch.apply_patch(SPEC, patch)
    return Version(name, yaml.safe_dump(spec, sort_keys=False), spec)


def rules(report: Report) -> set[str]:
    return {finding.rule for finding in report.findings}


def secured(*alternatives: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [
        add("/components/securitySchemes/Bearer", BEARER),
        replace(f"{DEACTIVATE}/security", list(alternatives)),
    ]


REQUIRED_REGION = {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
OPTIONAL_REGION = {**REQUIRED_REGION, "required": False}
PUT_SUMMARY = replace("/paths/~1workorder-portal-links~1{id}/put/summary", "Change a link")
# Each rule: an edit that makes it fire, and a near miss that must leave it silent.
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "operation-removed": ([remove(DEACTIVATE)], [replace(f"{DEACTIVATE}/summary", "Switch off")]),
    "operation-added": (
        [add("/paths/~1portal-links", {"post": SPEC["paths"]["/workorder-portal-links"]["post"]})],
        [PUT_SUMMARY],
    ),
    "parameter-removed": (
        [remove(f"{LIST}/parameters/7")],
        [replace("/components/parameters/IdFilter/description", "By id.")],
    ),
    "parameter-added": (
        [add(f"{LIST}/parameters/-", OPTIONAL_REGION)],
        [add(f"{LIST}/parameters/-", REQUIRED_REGION)],
    ),
    "parameter-required": (
        [add(f"{LIST}/parameters/-", REQUIRED_REGION)],
        [add(f"{LIST}/parameters/-", OPTIONAL_REGION)],
    ),
    "response-removed": (
        [remove(f"{LIST}/responses/429")],
        [move(f"{POST}/responses/201", f"{POST}/responses/200")],
    ),
    "response-added": (
        [add(f"{POST}/responses/409", {"$ref": "#/components/responses/BadRequest"})],
        [move(f"{POST}/responses/201", f"{POST}/responses/200")],
    ),
    "success-status-changed": (
        [move(f"{POST}/responses/201", f"{POST}/responses/200")],
        [{"op": "copy", "from": f"{POST}/responses/201", "path": f"{POST}/responses/202"}],
    ),
    "property-removed": (
        [remove("/components/schemas/Permissions/properties/can_pay")],
        [add("/components/schemas/Permissions/properties/can_share", {"type": "boolean"})],
    ),
    "property-added": (
        [add("/components/schemas/Permissions/properties/can_share", {"type": "boolean"})],
        [remove("/components/schemas/Permissions/properties/can_pay")],
    ),
    "property-required": (
        [add(f"{CREATE}/required/-", "link_type")],
        [remove(f"{CREATE}/required/0")],
    ),
    "response-property-optional": (
        [remove(f"{LINK}/required/3")],
        [remove(f"{CREATE}/required/0")],
    ),
    "response-property-nullable": (
        [add(f"{LINK}/properties/url/nullable", True)],
        [add(f"{UPDATE}/properties/is_active/nullable", True)],
    ),
    "nullable-added": (
        [add(f"{UPDATE}/properties/is_active/nullable", True)],
        [add(f"{LINK}/properties/url/nullable", True)],
    ),
    "nullable-removed": (
        [remove(f"{LINK}/properties/expiry_date/nullable")],
        [remove(f"{UPDATE}/properties/expiry_date/nullable")],
    ),
    "type-changed": (
        [replace("/components/schemas/Permissions/properties/can_pay/type", "string")],
        [add("/components/schemas/Permissions/properties/can_pay/description", "May pay.")],
    ),
    "enum-narrowed": (
        [replace("/components/schemas/LinkType/enum", ["private", "secure"])],
        [add("/components/schemas/LinkType/enum/-", "internal")],
    ),
    "enum-widened": (
        [add("/components/schemas/LinkType/enum/-", "internal")],
        [replace("/components/schemas/LinkType/enum", ["private", "secure"])],
    ),
    "bound-narrowed": (
        [replace(f"{NAME}/maxLength", 20)],
        [replace(f"{NAME}/maxLength", 200)],
    ),
    "bound-widened": (
        [replace(f"{NAME}/maxLength", 200)],
        [replace(f"{NAME}/maxLength", 20)],
    ),
    "pattern-changed": (
        [replace(f"{COLOR}/pattern", "^#[0-9A-F]{6}$")],
        [remove(f"{COLOR}/pattern")],
    ),
    "pattern-removed": (
        [remove(f"{COLOR}/pattern")],
        [replace(f"{COLOR}/pattern", "^#[0-9A-F]{6}$")],
    ),
    "security-added": (
        secured({"ApiKeyAuth": [], "Bearer": []}),
        secured({"ApiKeyAuth": []}, {"Bearer": []}),
    ),
    "security-relaxed": (
        secured({"ApiKeyAuth": []}, {"Bearer": []}),
        secured({"ApiKeyAuth": [], "Bearer": []}),
    ),
    "alternative-added": (
        [add("/components/schemas/MetadataScalar/anyOf/-", {"type": "array", "maxItems": 0})],
        [remove("/components/schemas/MetadataScalar/anyOf/2")],
    ),
    "description-changed": (
        [replace("/components/schemas/LinkType/description", "Who may open the link.")],
        [replace("/components/schemas/LinkType/example", "secure")],
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(DIFF_RULES)


def test_the_spec_against_itself_reports_nothing() -> None:
    report = diff(OLD, OLD, [(str(DEFAULT_FIXTURES), FIXTURES)])
    assert report.findings == []
    assert report.invalid == []
    assert not report.breaks


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_fires_on_its_edit(rule: str) -> None:
    report = diff(OLD, edited(CASES[rule][0]))
    found = [finding for finding in report.findings if finding.rule == rule]
    assert found, report.findings
    assert all(finding.breaking is DIFF_RULES[rule] for finding in found)
    assert report.breaks is any(DIFF_RULES[finding.rule] for finding in report.findings)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_is_silent_on_a_near_miss(rule: str) -> None:
    report = diff(OLD, edited(CASES[rule][1]))
    assert rule not in rules(report), report.findings


def test_a_finding_names_the_line_of_the_edit_and_every_operation_it_reaches() -> None:
    new = edited(CASES["enum-narrowed"][0])
    (finding,) = diff(OLD, new).findings
    lines = new.text.splitlines()
    assert lines[finding.line - 1].strip() == "enum:"
    assert lines[finding.line - 2].strip() == "description: Type of portal link"
    assert finding.file == "new.yaml"
    assert "enum lost 'public'" in finding.message
    assert "link_type in POST /workorder-portal-links request body" in finding.reaches
    assert "query parameter link_type in GET /workorder-portal-links" in finding.reaches
    assert "data[].link_type in GET /workorder-portal-links response 200" in finding.reaches


def test_a_removal_is_located_in_the_old_version() -> None:
    (finding,) = diff(OLD, edited(CASES["operation-removed"][0])).findings
    assert finding.file == str(DEFAULT_SPEC)
    assert TEXT.splitlines()[finding.line - 1].strip() == "post:"
    paths_above = [line for line in TEXT.splitlines()[: finding.line] if line.startswith("  /")]
    assert paths_above[-1] == "  /workorder-portal-links/{id}/deactivate:"


def load_edit(path: Path) -> dict[str, Any]:
    edit: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return edit


@pytest.mark.parametrize("path", EDITS, ids=[path.stem for path in EDITS])
def test_realistic_edits_get_their_verdicts(path: Path, tmp_path: Path) -> None:
    edit = load_edit(path)
    new = tmp_path / "edited.yaml"
    new.write_text(edited(edit["patch"]).text, encoding="utf-8")
    out = io.StringIO()
    code = run(str(DEFAULT_SPEC), str(new), [], [str(DEFAULT_FIXTURES)], "json", out)
    report = json.loads(out.getvalue())
    expected = [link["_id"] for link in FIXTURES] if edit["invalid"] == "all" else edit["invalid"]
    assert {change["rule"] for change in report["changes"]} == set(edit["rules"])
    assert [bad["id"] for bad in report["invalid"]] == expected
    assert report["breaking"] is (edit["breaking"] or bool(expected))
    assert code == (1 if report["breaking"] else 0)


def test_ten_realistic_edits_are_kept() -> None:
    assert len(EDITS) == 10
    assert {load_edit(path)["breaking"] for path in EDITS} == {True, False}


def test_an_invalid_link_says_which_field_and_why(tmp_path: Path) -> None:
    report = diff(OLD, edited(load_edit(EDITS[1])["patch"]), [("f.json", FIXTURES)])
    bad = report.invalid[0]
    assert (bad.source, bad.id) == ("f.json", "6a9945cf9176b78af3b80cc7")
    assert bad.reasons == ("link_type: 'public' is not one of ['private', 'secure']",)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal_mock", "diff", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=clean_os_environment(),
    )


def test_the_command_compares_a_git_revision_with_the_working_copy(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(TEXT, encoding="utf-8")
    subprocess.run([*git, "-C", str(tmp_path), "add", "spec.yaml"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "spec"], check=True)
    assert cli("git:HEAD:spec.yaml", "spec.yaml", cwd=tmp_path).returncode == 0
    spec.write_text(TEXT.replace("enum: [public, private, secure]", "enum: [private, secure]"))
    done = cli("git:HEAD:spec.yaml", "spec.yaml", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "spec.yaml:" in done.stdout
    assert "BREAKING enum-narrowed: enum lost 'public'" in done.stdout
    assert "1 breaking change(s), 0 compatible" in done.stdout


def test_unreadable_sides_exit_2_with_one_line(tmp_path: Path) -> None:
    for old, new in [
        (str(tmp_path / "missing.yaml"), str(DEFAULT_SPEC)),
        ("git:no-such-ref:spec.yaml", str(DEFAULT_SPEC)),
        (str(DEFAULT_SPEC), str(DEFAULT_FIXTURES.parent)),
    ]:
        done = cli(old, new, cwd=tmp_path)
        assert done.returncode == 2, done.stdout
        assert done.stderr.startswith("portal-mock diff: cannot read")
        assert done.stdout == ""


def test_json_output_for_machines(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(edited(CASES["bound-narrowed"][0]).text, encoding="utf-8")
    done = cli(str(DEFAULT_SPEC), str(new), "--format", "json")
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert report["breaking"] is True
    (change,) = report["changes"]
    assert (change["rule"], change["detail"]) == ("bound-narrowed", "maxLength 100 -> 20")
    assert (change["file"], change["breaking"]) == (str(new), True)


def test_stored_links_the_new_version_refuses_are_named(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    store = LinkStore(path)
    store.reset(FIXTURES[:2])  # one private link, one public, in the snapshot
    fresh = [{name: value for name, value in link.items() if name != "_id"} for link in FIXTURES]
    public = store.create(fresh[1])  # journaled only
    store.create(fresh[0])
    store.delete(FIXTURES[1]["_id"])  # journaled: a deleted link is not reported
    new = tmp_path / "new.yaml"
    new.write_text(edited(CASES["enum-narrowed"][0]).text, encoding="utf-8")
    # The store stays open, locked, as under a running server: diff reads it all the same.
    done = cli(str(DEFAULT_SPEC), str(new), "--db", str(path), "--format", "json")
    store.close()
    report = json.loads(done.stdout)
    assert [(bad["source"], bad["id"]) for bad in report["invalid"]] == [(str(path), public["_id"])]
    assert done.returncode == 1
