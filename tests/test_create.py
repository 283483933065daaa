"""The create operation: defaults, server-assigned fields and rejected bodies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import BASE, WORKORDER

DEFAULTS = {
    "workorder": WORKORDER,
    "link_type": "private",
    "permissions": {
        "can_view_details": True,
        "can_view_attachments": False,
        "can_upload_attachments": False,
        "can_comment": False,
        "can_approve": False,
        "can_sign": False,
        "can_pay": False,
    },
    "access_restrictions": {
        "allowed_emails": [],
        "allowed_ip_ranges": [],
        "max_uses": None,
        "require_verification": False,
    },
    "expiry_date": None,
    "notification_settings": {
        "notify_on_view": False,
        "notify_on_comment": False,
        "notify_on_approval": False,
        "recipients": [],
    },
    "custom_branding": {},
    "metadata": {},
    "is_active": True,
    "company_namespace": [],
}
SERVER_ASSIGNED = ("_id", "url", "access_token", "created_at", "updated_at")
FULL_BODY = {
    "workorder": WORKORDER,
    "link_type": "secure",
    "permissions": {
        "can_view_details": True,
        "can_view_attachments": True,
        "can_upload_attachments": True,
        "can_comment": True,
        "can_approve": False,
        "can_sign": True,
        "can_pay": False,
    },
    "access_restrictions": {
        "allowed_emails": ["facilities@harborview-dental.com"],
        "allowed_ip_ranges": ["203.0.113.0/24"],
        "max_uses": 25,
        "require_verification": True,
    },
    "expiry_date": "2027-01-31T23:59:59Z",
    "notification_settings": {
        "notify_on_view": True,
        "notify_on_comment": False,
        "notify_on_approval": True,
        "recipients": ["dispatch@northwind-hvac.com"],
    },
    "custom_branding": {
        "logo_url": "https://cdn.northwind-hvac.com/brand/logo.png",
        "primary_color": "#0B5FFF",
        "secondary_color": "#f4f6fa",
        "company_name": "Northwind HVAC Services",
        "welcome_message": "Track the repair of your rooftop unit here.",
    },
    "metadata": {"source": "dispatch-board", "priority": 2, "urgent": False},
    "is_active": False,
    "company_namespace": ["northwind-hvac", "harborview-property"],
}


def without_server_fields(link: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in link.items() if name not in SERVER_ASSIGNED}


def total(client: Any) -> int:
    count: int = client.get(BASE).json()["paging"]["total"]
    return count


def assert_rejected(client: Any, conforms: Any, response: Any, field: str | None) -> None:
    """A documented 400 envelope, naming ``field`` in a detail, and nothing stored."""
    assert response.status_code == 400, response.text
    conforms(response)
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    details = body["error"]["details"]
    assert details
    if field is not None:
        assert field in {detail["field"] for detail in details}, details
    assert total(client) == 0


def test_create_returns_201_with_location_of_the_new_link(client: Any, conforms: Any) -> None:
    response = client.post(BASE, json={"workorder": WORKORDER})
    assert response.status_code == 201, response.text
    conforms(response)
    created = response.json()["data"]
    assert response.headers["Location"] == f"{BASE}/{created['_id']}"
    fetched = client.get(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.json()["data"] == created


def test_create_applies_the_defaults_of_the_spec(create: Any) -> None:
    assert without_server_fields(create()) == DEFAULTS


def test_create_fills_defaults_inside_a_partial_nested_object(create: Any) -> None:
    link = create(permissions={"can_pay": True}, access_restrictions={"max_uses": 3})
    assert link["permissions"] == {**DEFAULTS["permissions"], "can_pay": True}
    assert link["access_restrictions"] == {**DEFAULTS["access_restrictions"], "max_uses": 3}


def test_create_returns_the_whole_stored_link(client: Any, conforms: Any) -> None:
    response = client.post(BASE, json=FULL_BODY)
    assert response.status_code == 201, response.text
    conforms(response)
    created = response.json()["data"]
    assert without_server_fields(created) == FULL_BODY
    assert set(created) == set(FULL_BODY) | set(SERVER_ASSIGNED)
    assert client.get(f"{BASE}/{created['_id']}").json()["data"] == created


def test_create_assigns_id_url_token_and_timestamps(create: Any) -> None:
    link = create()
    assert re.fullmatch(r"[0-9a-f]{24}", link["_id"])
    assert re.fullmatch(r"https?://\S+", link["url"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link["access_token"])
    assert link["created_at"] == link["updated_at"]
    created_at = datetime.fromisoformat(link["created_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=1)


def test_create_gives_every_link_its_own_id_token_and_url(create: Any) -> None:
    links = [create() for _ in range(10)]
    for name in ("_id", "access_token", "url"):
        assert len({link[name] for link in links}) == 10, name


def test_create_issues_ids_that_grow_in_creation_order(create: Any) -> None:
    created = [create()["_id"] for _ in range(10)]
    assert created == sorted(created)


def test_create_gives_each_link_fresh_default_objects(client: Any, create: Any) -> None:
    first, second = create(), create()
    changed = client.put(
        f"{BASE}/{first['_id']}",
        json={"permissions": {"can_pay": True}, "metadata": {"note": "changed"}},
    )
    assert changed.status_code == 200, changed.text
    assert client.get(f"{BASE}/{second['_id']}").json()["data"] == second
    assert without_server_fields(create()) == DEFAULTS


def test_create_accepts_a_chunked_body(client: Any, conforms: Any) -> None:
    body = json.dumps({"workorder": WORKORDER}).encode()
    response = client.post(BASE, content=iter([body]), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    response.request.read()
    conforms(response)


def test_create_without_workorder_returns_400_naming_the_field(client: Any, conforms: Any) -> None:
    response = client.post(BASE, json={"link_type": "public"})
    assert_rejected(client, conforms, response, "workorder")


def test_create_with_unknown_field_returns_400(client: Any, conforms: Any) -> None:
    response = client.post(BASE, json={"workorder": WORKORDER, "owner": "someone"})
    assert_rejected(client, conforms, response, "owner")


@pytest.mark.parametrize("name", SERVER_ASSIGNED)
def test_create_with_server_assigned_field_returns_400(
    client: Any, conforms: Any, name: str
) -> None:
    value = {
        "_id": "6740c3a1e4b0a1c2d3e4f5a6",
        "url": "https://portal.example.com/l/mine",
        "access_token": "q3J9v0cS7TtJfT1gkq0pQmGZfVvX8yB2n6hR4wL1aEo",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }[name]
    response = client.post(BASE, json={"workorder": WORKORDER, name: value})
    assert_rejected(client, conforms, response, name)


# id -> (dotted path to the bad value, the value); the error names that path
INVALID_FIELDS: dict[str, tuple[str, Any]] = {
    "workorder-not-string": ("workorder", 12345),
    "workorder-uppercase": ("workorder", "507F1F77BCF86CD799439012"),
    "workorder-not-hex": ("workorder", "not-an-object-id"),
    "link_type-not-in-enum": ("link_type", "shared"),
    "is_active-not-boolean": ("is_active", "yes"),
    "expiry_date-not-date-time": ("expiry_date", "tomorrow"),
    "namespace-not-array": ("company_namespace", "northwind-hvac"),
    "namespace-with-comma": ("company_namespace.0", "a,b"),
    "permissions-not-object": ("permissions", []),
    "permissions-extra-key": ("permissions.can_fly", True),
    "permissions-not-boolean": ("permissions.can_pay", "yes"),
    "branding-extra-key": ("custom_branding.font", "Arial"),
    "branding-bad-colour": ("custom_branding.primary_color", "red"),
    "branding-logo-not-http": ("custom_branding.logo_url", "ftp://x.example/a.png"),
    "branding-name-too-long": ("custom_branding.company_name", "x" * 101),
    "notification-extra-key": ("notification_settings.sms", True),
    "recipient-not-email": ("notification_settings.recipients.0", "nobody"),
    "allowed-email-not-email": ("access_restrictions.allowed_emails.0", "a@"),
    "ip-range-prefix-33": ("access_restrictions.allowed_ip_ranges.0", "10.0.0.0/33"),
    "ip-range-without-prefix": ("access_restrictions.allowed_ip_ranges.0", "10.0.0.0"),
    "restrictions-extra-key": ("access_restrictions.max_visits", 3),
    "max_uses-0": ("access_restrictions.max_uses", 0),
    "metadata-number-past-2**53": ("metadata.nested", {"a": 2.0**53}),
}


def nest(path: str, value: Any) -> Any:
    """``nest("a.b.0", 1)`` is ``{"a": {"b": [1]}}``."""
    for part in reversed(path.split(".")):
        value = [value] if part.isdigit() else {part: value}
    return value


@pytest.mark.parametrize("case", INVALID_FIELDS.values(), ids=INVALID_FIELDS.keys())
def test_create_with_invalid_field_returns_400_and_stores_nothing(
    client: Any, conforms: Any, case: tuple[Any, ...]
) -> None:
    path, value = case
    response = client.post(BASE, json={"workorder": WORKORDER, **nest(path, value)})
    assert_rejected(client, conforms, response, path)
