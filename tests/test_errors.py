"""Every error the server sends is the documented envelope, whatever goes wrong."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from conftest import BASE, WORKORDER
from jsonschema import Draft4Validator

LIMIT = 64 * 1024
JSON = {"Content-Type": "application/json"}

# (method, path suffix after the link's address or None for the collection, JSON body)
OPERATIONS = pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", None, None),
        ("POST", None, {"workorder": WORKORDER}),
        ("GET", "", None),
        ("PUT", "", {"link_type": "public"}),
        ("DELETE", "", None),
        ("POST", "/regenerate", None),
        ("POST", "/activate", None),
        ("POST", "/deactivate", None),
    ],
    ids=["list", "create", "get", "update", "delete", "regenerate", "activate", "deactivate"],
)


@pytest.fixture
def link(create: Any) -> dict[str, Any]:
    return create(is_active=True, company_namespace=["northwind-hvac"])


@pytest.fixture
def envelope(spec: dict[str, Any]) -> Any:
    """Check an error response: status, JSON media type, the spec's ErrorResponse schema."""
    schema = {"$ref": "#/components/schemas/ErrorResponse", "components": spec["components"]}
    validator = Draft4Validator(schema)

    def check(response: Any, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].split(";")[0] == "application/json"
        body: dict[str, Any] = response.json()
        validator.validate(body)
        assert body["success"] is False
        assert body["error"]["code"] == code
        assert body["error"]["message"]
        return body

    return check


def path_of(link: dict[str, Any], suffix: str | None) -> str:
    return BASE if suffix is None else f"{BASE}/{link['_id']}{suffix}"


def everything(client: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get(BASE, params={"per_page": 100}).json()["data"]
    return data


def post_bytes(client: Any, path: str, content: Any, method: str = "POST", **headers: str) -> Any:
    return client.request(method, path, content=content, headers={**JSON, **headers})


@OPERATIONS
@pytest.mark.parametrize("key", [None, "not-a-key"], ids=["missing-key", "unknown-key"])
def test_operation_without_valid_api_key_returns_401_and_changes_nothing(
    client: Any,
    conforms: Any,
    envelope: Any,
    link: dict[str, Any],
    method: str,
    suffix: str | None,
    body: Any,
    key: str | None,
) -> None:
    before = everything(client)
    request = client.build_request(method, path_of(link, suffix), json=body)
    if key is None:
        del request.headers["X-API-Key"]
    else:
        request.headers["X-API-Key"] = key
    response = client.send(request)
    envelope(response, 401, "unauthorized")
    conforms(response)
    assert everything(client) == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/{id}", {"GET", "PUT", "DELETE"}),
        ("POST", "/{id}", {"GET", "PUT", "DELETE"}),
        ("DELETE", "", {"GET", "POST"}),
        ("PUT", "", {"GET", "POST"}),
        ("GET", "/{id}/regenerate", {"POST"}),
        ("DELETE", "/{id}/activate", {"POST"}),
    ],
    ids=[
        "patch-link",
        "post-link",
        "delete-collection",
        "put-collection",
        "get-regenerate",
        "delete-activate",
    ],
)
def test_undocumented_method_returns_405_with_allow_header_of_the_path(
    client: Any, envelope: Any, link: dict[str, Any], method: str, path: str, allowed: set[str]
) -> None:
    before = everything(client)
    response = client.request(method, BASE + path.format(id=link["_id"]))
    envelope(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert everything(client) == before


@pytest.mark.parametrize(
    "path",
    ["/", "/links", f"{BASE}/ffffffffffffffffffffffff/explode", f"{BASE}-v2"],
    ids=["root", "other-collection", "unknown-action", "collection-prefix"],
)
def test_unknown_path_returns_404_envelope(client: Any, envelope: Any, path: str) -> None:
    envelope(client.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT"], ids=["create", "update"])
def test_text_plain_body_returns_415(
    client: Any, conforms: Any, envelope: Any, link: dict[str, Any], method: str
) -> None:
    before = everything(client)
    path = BASE if method == "POST" else path_of(link, "")
    body = json.dumps({"workorder": WORKORDER, "link_type": "public"})
    response = client.request(method, path, content=body, headers={"Content-Type": "text/plain"})
    envelope(response, 415, "unsupported_media_type")
    conforms(response)
    assert everything(client) == before


def padded(size: int) -> bytes:
    """A valid create body of exactly ``size`` bytes."""
    body = json.dumps({"workorder": WORKORDER}).encode()
    return body + b" " * (size - len(body))


def test_body_of_exactly_64_kib_is_accepted(client: Any, conforms: Any) -> None:
    response = post_bytes(client, BASE, padded(LIMIT))
    assert response.status_code == 201, response.text
    conforms(response)


@pytest.mark.parametrize("method", ["POST", "PUT"], ids=["create", "update"])
def test_body_over_64_kib_returns_413(
    client: Any, conforms: Any, envelope: Any, link: dict[str, Any], method: str
) -> None:
    before = everything(client)
    path = BASE if method == "POST" else path_of(link, "")
    response = post_bytes(client, path, padded(LIMIT + 1), method)
    envelope(response, 413, "payload_too_large")
    conforms(response)
    assert everything(client) == before


def test_chunked_body_over_64_kib_returns_413(client: Any, conforms: Any, envelope: Any) -> None:
    chunks = [padded(LIMIT + 1)[i : i + 4096] for i in range(0, LIMIT + 1, 4096)]
    response = post_bytes(client, BASE, iter(chunks))
    assert "content-length" not in response.request.headers
    envelope(response, 413, "payload_too_large")
    response.request.read()
    conforms(response)
    assert everything(client) == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"workorder": ', "malformed_body"),
        (b"{'workorder': 'x'}", "malformed_body"),
        (b'{"workorder": "\xff\xfe"}', "malformed_body"),
        (b"", "validation_error"),
        (b"[]", "validation_error"),
    ],
    ids=["truncated-json", "single-quotes", "not-utf-8", "empty", "not-an-object"],
)
@pytest.mark.parametrize("method", ["POST", "PUT"], ids=["create", "update"])
def test_unreadable_body_returns_400(
    client: Any,
    conforms: Any,
    envelope: Any,
    link: dict[str, Any],
    method: str,
    content: bytes,
    code: str,
) -> None:
    before = everything(client)
    path = BASE if method == "POST" else path_of(link, "")
    response = post_bytes(client, path, content, method)
    envelope(response, 400, code)
    conforms(response)
    assert everything(client) == before


@pytest.mark.parametrize(
    ("method", "suffix", "body", "store_method"),
    [
        ("GET", None, None, "search"),
        ("POST", None, {"workorder": WORKORDER}, "create_async"),
        ("GET", "", None, "get"),
        ("PUT", "", {"link_type": "public"}, "update_async"),
        ("DELETE", "", None, "delete_async"),
        ("POST", "/regenerate", None, "update_async"),
    ],
    ids=["list", "create", "get", "update", "delete", "regenerate"],
)
def test_unexpected_failure_returns_500_without_stack_trace(
    client: Any,
    conforms: Any,
    envelope: Any,
    store: Any,
    monkeypatch: pytest.MonkeyPatch,
    link: dict[str, Any],
    method: str,
    suffix: str | None,
    body: Any,
    store_method: str,
) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(store, store_method, fail)
    response = client.request(method, path_of(link, suffix), json=body)
    envelope(response, 500, "internal_error")
    conforms(response)
    for leak in ("Traceback", "secret-internal-detail", "RuntimeError", ".py"):
        assert leak not in response.text


FAULTS = ("oversized", "no-key", "text/plain", "invalid-field", "unknown-id")
# The error code each fault alone is answered with.
FAULT_CODES = dict(
    zip(
        FAULTS,
        ("payload_too_large", "unauthorized", "unsupported_media_type", "validation_error",
         "not_found"),
        strict=True,
    )
)  # fmt: skip
STATUS_OF = {
    "payload_too_large": 413,
    "unauthorized": 401,
    "unsupported_media_type": 415,
    "validation_error": 400,
    "not_found": 404,
}
FAULT_SETS = [
    set(combo)
    for size in range(1, len(FAULTS) + 1)
    for combo in itertools.combinations(FAULTS, size)
]


@pytest.mark.parametrize("faults", FAULT_SETS, ids=["+".join(sorted(f)) for f in FAULT_SETS])
def test_a_request_with_several_faults_gets_the_error_the_spec_ranks_first(
    client: Any, envelope: Any, link: dict[str, Any], spec: dict[str, Any], faults: set[str]
) -> None:
    precedence = spec["info"]["x-error-precedence"]
    code = min((FAULT_CODES[fault] for fault in faults), key=precedence.index)
    body: dict[str, Any] = {"link_type": "bogus" if "invalid-field" in faults else "public"}
    if "oversized" in faults:
        body["metadata"] = {"note": "x" * LIMIT}
    link_id = "0123456789abcdef01234567" if "unknown-id" in faults else link["_id"]
    request = client.build_request(
        "PUT",
        f"{BASE}/{link_id}",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain" if "text/plain" in faults else "application/json"},
    )
    if "no-key" in faults:
        del request.headers["X-API-Key"]
    before = everything(client)
    envelope(client.send(request), STATUS_OF[code], code)
    assert everything(client) == before
