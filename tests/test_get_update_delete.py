"""Reading, updating and deleting one link."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import BASE, WORKORDER

UNKNOWN_ID = "ffffffffffffffffffffffff"
MALFORMED_IDS = pytest.mark.parametrize(
    "bad_id",
    ["6740C3A1E4B0A1C2D3E4F5A6", "6740c3a1e4b0a1c2d3e4f5a", "6740c3a1e4b0a1c2d3e4f5a6f", "z" * 24],
    ids=["uppercase", "23-chars", "25-chars", "not-hex"],
)


@pytest.fixture
def link(create: Any) -> dict[str, Any]:
    return create(
        link_type="secure",
        permissions={"can_view_details": True, "can_sign": True, "can_pay": True},
        expiry_date="2027-01-31T23:59:59Z",
        custom_branding={"company_name": "Northwind HVAC", "primary_color": "#0B5FFF"},
        metadata={"source": "dispatch-board", "ticket": "HD-20431"},
        company_namespace=["northwind-hvac"],
    )


def url(link_id: str) -> str:
    return f"{BASE}/{link_id}"


def fetch(client: Any, link_id: str) -> dict[str, Any]:
    response = client.get(url(link_id))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def update(client: Any, conforms: Any, link_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.put(url(link_id), json=body)
    assert response.status_code == 200, response.text
    conforms(response)
    data: dict[str, Any] = response.json()["data"]
    assert data == fetch(client, link_id)
    return data


def assert_error(response: Any, conforms: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    conforms(response)
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code


def tick() -> None:
    """Let the clock move past the millisecond timestamps' resolution."""
    time.sleep(0.01)


def test_get_returns_the_link(client: Any, conforms: Any, link: dict[str, Any]) -> None:
    response = client.get(url(link["_id"]))
    assert response.status_code == 200
    conforms(response)
    assert response.json() == {"success": True, "data": link}


def test_get_unknown_link_returns_404_envelope(client: Any, conforms: Any) -> None:
    response = client.get(url(UNKNOWN_ID))
    assert_error(response, conforms, 404, "not_found")
    assert UNKNOWN_ID in response.json()["error"]["message"]


@MALFORMED_IDS
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_id_returns_400(client: Any, conforms: Any, method: str, bad_id: str) -> None:
    body = {"json": {"is_active": False}} if method == "PUT" else {}
    response = client.request(method, url(bad_id), **body)
    assert_error(response, conforms, 400, "validation_error")
    assert "id" in {detail["field"] for detail in response.json()["error"]["details"]}


def test_update_changes_given_fields_and_keeps_absent_ones(
    client: Any, conforms: Any, link: dict[str, Any]
) -> None:
    tick()
    updated = update(client, conforms, link["_id"], {"link_type": "public", "is_active": False})
    assert updated["link_type"] == "public"
    assert updated["is_active"] is False
    unchanged = {
        k: v for k, v in updated.items() if k not in {"link_type", "is_active", "updated_at"}
    }
    assert unchanged == {k: link[k] for k in unchanged}
    assert set(updated) == set(link)


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("custom_branding", {"company_name": "Contoso Facilities"}),
        ("metadata", {"source": "customer-portal"}),
        ("company_namespace", ["contoso-facilities"]),
    ],
    ids=["branding", "metadata", "namespaces"],
)
def test_update_replaces_a_nested_value_instead_of_merging(
    client: Any, conforms: Any, link: dict[str, Any], name: str, given: Any
) -> None:
    assert update(client, conforms, link["_id"], {name: given})[name] == given


def test_update_of_permissions_does_not_keep_stored_flags(
    client: Any, conforms: Any, link: dict[str, Any]
) -> None:
    assert link["permissions"]["can_pay"] is True
    updated = update(client, conforms, link["_id"], {"permissions": {"can_comment": True}})
    assert updated["permissions"]["can_comment"] is True
    assert updated["permissions"].get("can_pay", False) is False
    assert updated["permissions"].get("can_sign", False) is False


def test_update_with_null_expiry_date_clears_it(
    client: Any, conforms: Any, link: dict[str, Any]
) -> None:
    assert update(client, conforms, link["_id"], {"expiry_date": None})["expiry_date"] is None


def test_update_moves_updated_at_on_a_real_change(
    client: Any, conforms: Any, link: dict[str, Any]
) -> None:
    tick()
    updated = update(client, conforms, link["_id"], {"link_type": "public"})
    assert updated["updated_at"] > link["updated_at"]
    assert updated["created_at"] == link["created_at"]


def test_update_with_stored_values_changes_nothing(
    client: Any, conforms: Any, link: dict[str, Any]
) -> None:
    tick()
    same = {name: link[name] for name in ("link_type", "custom_branding", "is_active")}
    assert update(client, conforms, link["_id"], same) == link


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workorder", "507f1f77bcf86cd799439099"),
        ("workorder", WORKORDER),
        ("_id", "6740c3a1e4b0a1c2d3e4f5a6"),
        ("created_at", "2026-01-01T00:00:00Z"),
        ("updated_at", "2026-01-01T00:00:00Z"),
        ("access_token", "q3J9v0cS7TtJfT1gkq0pQmGZfVvX8yB2n6hR4wL1aEo"),
        ("url", "https://portal.example.com/l/mine"),
        ("owner", "someone"),
    ],
    ids=[
        "workorder",
        "same-workorder",
        "_id",
        "created_at",
        "updated_at",
        "access_token",
        "url",
        "unknown-field",
    ],
)
def test_update_of_fixed_field_returns_400_and_changes_nothing(
    client: Any, conforms: Any, link: dict[str, Any], name: str, value: str
) -> None:
    response = client.put(url(link["_id"]), json={"link_type": "public", name: value})
    assert_error(response, conforms, 400, "validation_error")
    assert name in {detail["field"] for detail in response.json()["error"]["details"]}
    assert fetch(client, link["_id"]) == link


def test_update_of_invalid_value_returns_400_and_changes_nothing(
    client: Any, conforms: Any, link: dict[str, Any]
) -> None:
    response = client.put(url(link["_id"]), json={"is_active": False, "link_type": "shared"})
    assert_error(response, conforms, 400, "validation_error")
    assert "link_type" in {detail["field"] for detail in response.json()["error"]["details"]}
    assert fetch(client, link["_id"]) == link


def test_update_unknown_link_returns_404_envelope(client: Any, conforms: Any) -> None:
    response = client.put(url(UNKNOWN_ID), json={"is_active": False})
    assert_error(response, conforms, 404, "not_found")


def test_delete_returns_success_true(client: Any, conforms: Any, link: dict[str, Any]) -> None:
    response = client.delete(url(link["_id"]))
    assert response.status_code == 200
    conforms(response)
    assert response.json() == {"success": True}


def test_delete_unknown_link_returns_404_envelope(client: Any, conforms: Any) -> None:
    assert_error(client.delete(url(UNKNOWN_ID)), conforms, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"is_active": False}),
        ("DELETE", "", None),
        ("POST", "/regenerate", None),
        ("POST", "/activate", None),
        ("POST", "/deactivate", None),
    ],
    ids=["get", "update", "delete", "regenerate", "activate", "deactivate"],
)
def test_deleted_link_answers_404_to_every_operation(
    client: Any, conforms: Any, link: dict[str, Any], method: str, suffix: str, body: Any
) -> None:
    assert client.delete(url(link["_id"])).status_code == 200
    response = client.request(method, url(link["_id"]) + suffix, json=body)
    assert_error(response, conforms, 404, "not_found")


def test_deleted_link_is_gone_from_the_list(client: Any, create: Any, link: dict[str, Any]) -> None:
    other = create()
    assert client.delete(url(link["_id"])).status_code == 200
    body = client.get(BASE).json()
    assert [found["_id"] for found in body["data"]] == [other["_id"]]
    assert body["paging"]["total"] == 1
    assert client.get(BASE, params={"_id": link["_id"]}).json()["data"] == []
