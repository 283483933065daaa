"""The three actions on a link: regenerate, activate and deactivate."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import BASE

ACTIONS = pytest.mark.parametrize("action", ["regenerate", "activate", "deactivate"])


def url(link_id: str, action: str = "") -> str:
    return f"{BASE}/{link_id}" + (f"/{action}" if action else "")


def act(client: Any, conforms: Any, link_id: str, action: str) -> dict[str, Any]:
    """Run ``action``, check it is a documented 200 that the link now reads back as."""
    response = client.post(url(link_id, action))
    assert response.status_code == 200, response.text
    conforms(response)
    data: dict[str, Any] = response.json()["data"]
    assert client.get(url(link_id)).json()["data"] == data
    return data


def tick() -> None:
    """Let the clock move past the millisecond timestamps' resolution."""
    time.sleep(0.01)


def test_regenerate_gives_a_new_access_token_and_url(
    client: Any, conforms: Any, create: Any
) -> None:
    link = create()
    tick()
    renewed = act(client, conforms, link["_id"], "regenerate")
    assert renewed["access_token"] != link["access_token"]
    assert renewed["url"] != link["url"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", renewed["access_token"])
    assert renewed["updated_at"] > link["updated_at"]


def test_regenerate_keeps_every_other_field(client: Any, conforms: Any, create: Any) -> None:
    link = create(
        link_type="public",
        custom_branding={"company_name": "Northwind HVAC"},
        metadata={"ticket": "HD-20431"},
        company_namespace=["northwind-hvac"],
        is_active=False,
    )
    renewed = act(client, conforms, link["_id"], "regenerate")
    kept = set(link) - {"access_token", "url", "updated_at"}
    assert {name: renewed[name] for name in kept} == {name: link[name] for name in kept}


def test_regenerate_leaves_the_old_token_nowhere(client: Any, conforms: Any, create: Any) -> None:
    link = create()
    create()
    act(client, conforms, link["_id"], "regenerate")
    listing = client.get(BASE, params={"per_page": 100})
    assert listing.json()["paging"]["total"] == 2
    assert link["access_token"] not in listing.text
    assert link["url"] not in listing.text
    assert link["access_token"] not in client.get(url(link["_id"])).text


def test_regenerate_never_repeats_a_token(client: Any, conforms: Any, create: Any) -> None:
    link = create()
    renewed = [act(client, conforms, link["_id"], "regenerate") for _ in range(20)]
    tokens = {link["access_token"]} | {found["access_token"] for found in renewed}
    urls = {link["url"]} | {found["url"] for found in renewed}
    assert len(tokens) == len(urls) == 21


@pytest.mark.parametrize(
    ("action", "start", "expected"),
    [
        ("activate", False, True),
        ("deactivate", True, False),
    ],
    ids=["activate-inactive", "deactivate-active"],
)
def test_action_sets_is_active(
    client: Any, conforms: Any, create: Any, action: str, start: bool, expected: bool
) -> None:
    link = create(is_active=start)
    tick()
    changed = act(client, conforms, link["_id"], action)
    assert changed["is_active"] is expected
    assert changed["updated_at"] > link["updated_at"]
    assert {k: v for k, v in changed.items() if k not in {"is_active", "updated_at"}} == {
        k: v for k, v in link.items() if k not in {"is_active", "updated_at"}
    }


@pytest.mark.parametrize(
    ("action", "expected"),
    [("activate", True), ("deactivate", False)],
    ids=["activate", "deactivate"],
)
def test_action_repeated_is_idempotent(
    client: Any, conforms: Any, create: Any, action: str, expected: bool
) -> None:
    link = create(is_active=not expected)
    first = act(client, conforms, link["_id"], action)
    tick()
    second = act(client, conforms, link["_id"], action)
    assert second["is_active"] is expected
    assert second == first


@pytest.mark.parametrize(
    ("action", "state"),
    [("activate", True), ("deactivate", False)],
    ids=["activate-active", "deactivate-inactive"],
)
def test_action_on_link_already_in_that_state_changes_nothing(
    client: Any, conforms: Any, create: Any, action: str, state: bool
) -> None:
    link = create(is_active=state)
    tick()
    assert act(client, conforms, link["_id"], action) == link


@ACTIONS
def test_action_on_unknown_link_returns_404_envelope(
    client: Any, conforms: Any, action: str
) -> None:
    response = client.post(url("ffffffffffffffffffffffff", action))
    assert response.status_code == 404
    conforms(response)
    assert response.json()["error"]["code"] == "not_found"


@ACTIONS
@pytest.mark.parametrize(
    "bad_id",
    ["6740C3A1E4B0A1C2D3E4F5A6", "6740c3a1e4b0a1c2d3e4f5a", "g" * 24],
    ids=["uppercase", "23-chars", "not-hex"],
)
def test_action_on_malformed_id_returns_400(
    client: Any, conforms: Any, action: str, bad_id: str
) -> None:
    response = client.post(url(bad_id, action))
    assert response.status_code == 400
    conforms(response)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "id" in {detail["field"] for detail in error["details"]}
