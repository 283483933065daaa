"""The mock follows an edited copy of the spec with no Python change: a new property, a new
or removed enum value, a tighter bound and a new list filter; what it cannot follow is
refused at start-up with the reason."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest
import yaml
from conftest import AUTH, BASE, WORKORDER, RunningServer, clean_os_environment

from portal_mock.app import create_app
from portal_mock.paths import DEFAULT_SPEC
from portal_mock.settings import Settings
from portal_mock.spec_fit import SpecNotFollowable, check
from portal_mock.store import LinkStore

SPEC = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))
LINK = "/components/schemas/WorkorderPortalLink"
UPDATE = "/components/schemas/UpdateWorkorderPortalLink"
CREATE = "/components/requestBodies/CreateWorkorderPortalLink/content/application~1json/schema"
LIST_PARAMETERS = "/paths/~1workorder-portal-links/get/parameters/-"
NOTES = {"type": "string", "maxLength": 40}
# A new optional field, in the link and in both request bodies.
WITH_NOTES = [
    {"op": "add", "path": f"{path}/properties/notes", "value": NOTES}
    for path in (LINK, UPDATE, CREATE)
]
NOTES_FILTER = {"name": "notes", "in": "query", "schema": NOTES}


def edited_spec(tmp_path: Path, patch: list[dict[str, Any]]) -> Path:
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(jsonpatch.apply_patch(SPEC, patch), sort_keys=False))
    return path


@pytest.fixture
def serve_edited(tmp_path: Path) -> Iterator[Any]:
    """Connexion's test client of the mock on an edited copy of the spec."""
    stores: list[LinkStore] = []

    def start(patch: list[dict[str, Any]]) -> Any:
        store = LinkStore()
        stores.append(store)
        settings = Settings(db=None, fixtures=None, spec=edited_spec(tmp_path, patch))
        return create_app(settings, store=store).test_client(headers=AUTH)

    yield start
    for store in stores:
        store.close()


def test_a_new_optional_property_is_accepted_stored_and_returned(serve_edited: Any) -> None:
    with serve_edited(WITH_NOTES) as client:
        created = client.post(BASE, json={"workorder": WORKORDER, "notes": "gate code 4411"})
        assert created.status_code == 201, created.text
        link = f"{BASE}/{created.json()['data']['_id']}"
        assert client.get(link).json()["data"]["notes"] == "gate code 4411"
        updated = client.put(link, json={"notes": "ring twice"})
        assert updated.json()["data"]["notes"] == "ring twice"
        assert client.get(link).json()["data"]["notes"] == "ring twice"
        # The bound that comes with it is enforced, and the refusal changes nothing.
        refused = client.put(link, json={"notes": "x" * 41})
        assert refused.status_code == 400
        assert refused.json()["error"]["details"][0]["field"] == "notes"
        assert client.get(link).json()["data"]["notes"] == "ring twice"


def test_a_new_enum_value_is_accepted_and_a_removed_one_refused(serve_edited: Any) -> None:
    enum = "/components/schemas/LinkType/enum"
    with serve_edited([{"op": "replace", "path": enum, "value": ["private", "internal"]}]) as c:
        added = c.post(BASE, json={"workorder": WORKORDER, "link_type": "internal"})
        assert added.status_code == 201, added.text
        assert added.json()["data"]["link_type"] == "internal"
        listed = c.get(BASE, params={"link_type": "internal"}).json()
        assert [link["_id"] for link in listed["data"]] == [added.json()["data"]["_id"]]
        removed = c.post(BASE, json={"workorder": WORKORDER, "link_type": "public"})
        assert removed.status_code == 400
        assert removed.json()["error"]["details"][0]["field"] == "link_type"
        assert c.get(BASE, params={"link_type": "public"}).status_code == 400
        assert c.get(BASE).json()["paging"]["total"] == 1


def test_a_tightened_bound_is_enforced(serve_edited: Any) -> None:
    name = "/components/schemas/CustomBranding/properties/company_name/maxLength"
    per_page = "/components/parameters/PerPage/schema/maximum"
    patch = [
        {"op": "replace", "path": name, "value": 10},
        {"op": "replace", "path": per_page, "value": 30},
    ]
    with serve_edited(patch) as client:
        branded = {"workorder": WORKORDER, "custom_branding": {"company_name": "Northwind HVAC"}}
        refused = client.post(BASE, json=branded)
        assert refused.status_code == 400
        assert refused.json()["error"]["details"][0]["field"] == "custom_branding.company_name"
        branded["custom_branding"]["company_name"] = "Northwind"
        assert client.post(BASE, json=branded).status_code == 201
        assert client.get(BASE, params={"per_page": 31}).status_code == 400
        assert client.get(BASE, params={"per_page": 30}).status_code == 200


def test_a_new_query_parameter_named_after_a_field_filters_by_equality(serve_edited: Any) -> None:
    patch = [*WITH_NOTES, {"op": "add", "path": LIST_PARAMETERS, "value": NOTES_FILTER}]
    with serve_edited(patch) as client:
        ids = {}
        for notes in ("gate code", "ring twice", "gate code", None):
            body = {"workorder": WORKORDER, **({"notes": notes} if notes else {})}
            ids.setdefault(notes, []).append(client.post(BASE, json=body).json()["data"]["_id"])
        found = client.get(BASE, params={"notes": "gate code", "sort": "_id"}).json()
        assert [link["_id"] for link in found["data"]] == ids["gate code"]
        assert found["paging"]["total"] == 2
        both = client.get(BASE, params={"notes": "ring twice", "is_active": "true"}).json()
        assert [link["_id"] for link in both["data"]] == ids["ring twice"]
        assert client.get(BASE, params={"notes": "nobody"}).json()["data"] == []
        assert client.get(BASE, params={"notes": "x" * 41}).status_code == 400
        assert client.get(BASE).json()["paging"]["total"] == 4


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        (
            [{"op": "add", "path": LIST_PARAMETERS, "value": {**NOTES_FILTER, "name": "owner"}}],
            "GET /workorder-portal-links: parameter 'owner' is read by no handler",
        ),
        (
            [{"op": "remove", "path": f"{LINK}/properties/workorder"}],
            "the link has no field 'workorder', which the mock writes and reads itself",
        ),
        (
            [{"op": "replace", "path": f"{LINK}/properties/is_active/type", "value": "string"}],
            "the link's 'is_active' is now string; the mock writes it as a boolean",
        ),
        (
            [
                *WITH_NOTES[:1],
                {"op": "add", "path": f"{LINK}/required/-", "value": "notes"},
            ],
            "the link requires 'notes', but create neither requires it nor gives it a default",
        ),
        (
            [
                *WITH_NOTES,
                {
                    "op": "replace",
                    "path": "/components/parameters/Sort/schema/pattern",
                    "value": "^-?(_id|notes|created_at)$",
                },
            ],
            "sort accepts 'notes', a field the store does not order by",
        ),
    ],
    ids=["unread parameter", "missing field", "retyped field", "required field", "sort field"],
)
def test_what_the_mock_cannot_follow_is_refused_with_the_reason(
    patch: list[dict[str, Any]], reason: str
) -> None:
    with pytest.raises(SpecNotFollowable, match=reason):
        check(jsonpatch.apply_patch(SPEC, patch))


def test_the_bundled_spec_and_followable_edits_pass_the_check() -> None:
    assert check(SPEC) == {}
    patch = [*WITH_NOTES, {"op": "add", "path": LIST_PARAMETERS, "value": NOTES_FILTER}]
    assert check(jsonpatch.apply_patch(SPEC, patch)) == {"notes": "notes"}


def test_serve_restarted_on_an_edited_spec_keeps_the_store(tmp_path: Path) -> None:
    db = str(tmp_path / "links.json")
    server = RunningServer(["--db", db, "--no-fixtures"], tmp_path)
    try:
        first = httpx.post(server.url + BASE, json={"workorder": WORKORDER}, headers=AUTH)
        assert first.status_code == 201
    finally:
        server.stop()
    spec = edited_spec(tmp_path, WITH_NOTES)
    server = RunningServer(["--db", db, "--no-fixtures", "--spec", str(spec)], tmp_path)
    try:
        body = {"workorder": WORKORDER, "notes": "new field"}
        second = httpx.post(server.url + BASE, json=body, headers=AUTH).json()["data"]
        listed = httpx.get(server.url + BASE, params={"sort": "created_at"}, headers=AUTH).json()
        assert [link["_id"] for link in listed["data"]] == [
            first.json()["data"]["_id"],
            second["_id"],
        ]
        assert [link.get("notes") for link in listed["data"]] == [None, "new field"]
    finally:
        server.stop()


def test_serve_refuses_a_spec_it_cannot_follow_in_one_message(tmp_path: Path) -> None:
    patch = [{"op": "remove", "path": f"{LINK}/properties/workorder"}]
    done = subprocess.run(
        [sys.executable, "-m", "portal_mock", "serve", "--port", "0", "--no-fixtures",
         "--spec", str(edited_spec(tmp_path, patch))],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_os_environment(),
    )  # fmt: skip
    assert done.returncode == 2
    assert "portal-mock: cannot start: the spec asks for what the mock cannot do" in done.stderr
    assert "the link has no field 'workorder'" in done.stderr
