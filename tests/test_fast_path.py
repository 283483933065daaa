"""The direct route: it answers as Connexion's stack does, and hands on every request in doubt."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import API_KEY, AUTH, BASE, WORKORDER
from connexion.spec import Specification
from hypothesis import given
from hypothesis import strategies as st

from portal_mock.app import create_app, handler_name
from portal_mock.fast_path import FastPathMiddleware, direct_routes
from portal_mock.key_scopes import key_scopes
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

UNKNOWN_ID = "0" * 24
# What differs between two stores given the same writes: new ids, secrets and clocks.
VOLATILE = ("_id", "access_token", "url", "created_at", "updated_at")


def long_way(app: Any) -> Any:
    """``app`` with the direct route taken out: every request goes through Connexion."""
    stack = app.middleware.middlewares
    kept = [m for m in stack if getattr(m, "func", m) is not FastPathMiddleware]
    assert len(kept) == len(stack) - 1, "the direct route is not in the stack"
    app.middleware.middlewares = kept
    return app


@pytest.fixture
def pair(sample_links: list[dict[str, Any]]) -> Iterator[tuple[Any, Any]]:
    """Two mocks over equal stores of the sample links: as served, and the long way only."""
    stores = [LinkStore(), LinkStore()]
    apps = [create_app(Settings(db=None, fixtures=None), store=s) for s in stores]
    long_way(apps[1])
    for link_store in stores:
        link_store.reset(sample_links)
    with apps[0].test_client(headers=AUTH) as fast, apps[1].test_client(headers=AUTH) as slow:
        yield fast, slow
    for link_store in stores:
        link_store.close()


def exchange(client: Any, method: str, url: str, **options: Any) -> tuple[int, list[Any], bytes]:
    response = client.request(method, url, **options)
    headers = sorted((k, v) for k, v in response.headers.items() if k != "date")
    return response.status_code, headers, response.content


def steady(content: bytes) -> Any:
    """A JSON answer with what two stores cannot share (ids, secrets, clocks) blanked."""
    body = json.loads(content)
    data = body.get("data")
    for link in data if isinstance(data, list) else [data] if isinstance(data, dict) else []:
        link.update({name: "~" for name in VOLATILE if name in link})
    return body


QUERY_VALUES = {
    "page": ["1", "2", "0", "-1", "01", "+1", "x", "", "99999999999999999999"],
    "per_page": ["1", "5", "25", "100", "101", "0", "1.5", " 5"],
    "sort": ["-created_at", "workorder,-_id", "is_active", "name", "", "-", "_id,"],
    "company_namespace": ["northwind-hvac", "a,b", "", ",", "x" * 300],
    "workorder": [WORKORDER, "nope", "", "6" * 24],
    "is_active": ["true", "false", "True", "1", ""],
    "link_type": ["private", "public", "secret", ""],
    "_id": [UNKNOWN_ID, f"{UNKNOWN_ID},{UNKNOWN_ID}", "bad", ""],
    "unknown": ["1"],
}
query = st.lists(
    st.sampled_from(sorted(QUERY_VALUES)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from(QUERY_VALUES[name]))
    ),
    max_size=4,
)
key_headers = st.sampled_from([{}, {"X-API-Key": ""}, {"X-API-Key": API_KEY + "x"}])


@given(pairs=query, headers=st.one_of(st.just(None), key_headers))
def test_a_list_is_answered_byte_for_byte_alike(
    pair: tuple[Any, Any], pairs: list[tuple[str, str]], headers: dict[str, str] | None
) -> None:
    fast, slow = pair
    url = f"{BASE}?{urlencode(pairs)}"
    options = {} if headers is None else {"headers": headers}
    assert exchange(fast, "GET", url, **options) == exchange(slow, "GET", url, **options)


@given(
    link=st.sampled_from(["sample", UNKNOWN_ID, "bad-id", "6" * 25]),
    suffix=st.sampled_from(["", "/", "/regenerate", "/activate", "/deactivate"]),
    method=st.sampled_from(["GET", "DELETE", "POST", "HEAD"]),
)
def test_reads_and_actions_by_id_are_answered_alike(
    pair: tuple[Any, Any], sample_links: list[dict[str, Any]], link: str, suffix: str, method: str
) -> None:
    fast, slow = pair
    link_id = sample_links[3]["_id"] if link == "sample" else link
    url = f"{BASE}/{link_id}{suffix}"
    fast_status, fast_headers, fast_body = exchange(fast, method, url)
    slow_status, slow_headers, slow_body = exchange(slow, method, url)
    assert (fast_status, fast_headers) == (slow_status, slow_headers)
    if fast_body:
        assert steady(fast_body) == steady(slow_body)


BODIES = st.one_of(
    st.fixed_dictionaries(
        {"workorder": st.sampled_from([WORKORDER, "nope"])},
        optional={
            "company_namespace": st.sampled_from([["acme"], [], ["a,b"], "acme"]),
            "link_type": st.sampled_from(["private", "public", "secret"]),
            "is_active": st.sampled_from([True, False, "yes"]),
            "expiry_date": st.sampled_from(["2031-01-01T00:00:00Z", "tomorrow"]),
            "metadata": st.sampled_from([{}, {"source": "web"}, {"n": 2.5}, []]),
            "access_token": st.just("mine"),
        },
    ),
    st.sampled_from([[], None, 3, "text"]),
)


@given(
    body=BODIES,
    method=st.sampled_from(["POST", "PUT"]),
    content_type=st.sampled_from(["application/json", "text/plain", None]),
)
def test_writes_are_answered_alike(
    pair: tuple[Any, Any],
    sample_links: list[dict[str, Any]],
    body: Any,
    method: str,
    content_type: str | None,
) -> None:
    fast, slow = pair
    url = BASE if method == "POST" else f"{BASE}/{sample_links[5]['_id']}"
    headers = {} if content_type is None else {"Content-Type": content_type}
    content = json.dumps(body).encode()
    results = [exchange(c, method, url, content=content, headers=headers) for c in (fast, slow)]
    (fast_status, fast_headers, fast_body), (slow_status, slow_headers, slow_body) = results
    assert fast_status == slow_status
    assert [h for h in fast_headers if h[0] != "location"] == [
        h for h in slow_headers if h[0] != "location"
    ]
    assert steady(fast_body) == steady(slow_body)


# The direct route on its own, in front of a stand-in for Connexion's stack.


class Recorder:
    """Stands in for Connexion's stack: notes each request and the body it could read."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.bodies.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def resolve_handlers(operation_id: str) -> Any:
    module, _, name = handler_name(operation_id).rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)


def direct(spec: dict[str, Any], resolve: Callable[[str], Any] = resolve_handlers) -> Any:
    recorder = Recorder()
    routes = direct_routes(Specification.from_dict(spec), "", resolve)
    return FastPathMiddleware(recorder, routes, frozenset({API_KEY}), 1000), recorder


def call(
    middleware: Any,
    link_store: LinkStore,
    method: str,
    target: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunks: int = 1,
) -> tuple[int, bytes]:
    """One request through ``middleware``; its status and body."""
    path, _, query_string = target.partition("?")
    sent = [(b"x-api-key", API_KEY.encode())] if headers is None else headers
    if body and not any(name == b"transfer-encoding" for name, _ in sent):
        sent = [*sent, (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query_string.encode(),
        "headers": sent,
        # What the app's lifespan puts in every request's state.
        "state": {
            "store": link_store,
            "keys": key_scopes([API_KEY], None, API_KEY),
            "key_header": "x-api-key",
            "field_filters": {},
        },
    }
    size = max(1, -(-len(body) // chunks))
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    inbox = [
        {"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1}
        for n, piece in enumerate(pieces)
    ]
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        answer.setdefault("status", message.get("status"))
        answer["body"] = answer.get("body", b"") + message.get("body", b"")

    asyncio.run(middleware(scope, receive, send))
    return answer["status"], answer["body"]


JSON = (b"content-type", b"application/json")
KEY = (b"x-api-key", API_KEY.encode())
VALID = json.dumps({"workorder": WORKORDER}).encode()


@pytest.fixture
def filled(store: LinkStore, sample_links: list[dict[str, Any]]) -> LinkStore:
    store.reset(sample_links)
    return store


def test_a_well_formed_request_of_every_operation_never_reaches_connexion(
    spec: dict[str, Any], filled: LinkStore, sample_links: list[dict[str, Any]]
) -> None:
    middleware, recorder = direct(spec)
    link = f"{BASE}/{sample_links[0]['_id']}"
    requests = [
        (
            "GET",
            f"{BASE}?page=1&per_page=5&sort=-workorder&is_active=true&_id={UNKNOWN_ID},{UNKNOWN_ID}",
            b"",
        ),
        ("GET", f"{BASE}?company_namespace=x&company_namespace=y,z", b""),
        ("POST", BASE, VALID),
        ("GET", link, b""),
        ("PUT", link, b'{"is_active": false}'),
        ("POST", f"{link}/regenerate", b""),
        ("POST", f"{link}/activate", b""),
        ("POST", f"{link}/deactivate", b""),
        ("DELETE", link, b""),
        ("GET", link, b""),
    ]
    statuses = [call(middleware, filled, m, t, b, [KEY, JSON])[0] for m, t, b in requests]
    assert statuses[:-1] == [200, 200, 201, 200, 200, 200, 200, 200, 200]
    assert statuses[-1] == 404, "the handler's own 404 is an answer, not a doubt"
    assert recorder.bodies == []


DOUBTS = {
    "no key": ("GET", BASE, b"", [JSON]),
    "a wrong key": ("GET", BASE, b"", [(b"x-api-key", b"nope"), JSON]),
    "a Prefer header": ("GET", BASE, b"", [KEY, (b"prefer", b"code=500")]),
    "a mock session": ("GET", BASE, b"", [KEY, (b"x-mock-session", b"s1")]),
    "a repeated header": ("GET", BASE, b"", [KEY, KEY]),
    "an unknown parameter": ("GET", f"{BASE}?colour=red", b"", [KEY]),
    "a value out of bounds": ("GET", f"{BASE}?per_page=101", b"", [KEY]),
    "an integer spelt oddly": ("GET", f"{BASE}?page=01", b"", [KEY]),
    "a repeated scalar": ("GET", f"{BASE}?page=1&page=2", b"", [KEY]),
    "a malformed id": ("GET", f"{BASE}/xyz", b"", [KEY]),
    "a trailing slash": ("GET", f"{BASE}/", b"", [KEY]),
    "invalid JSON": ("POST", BASE, b'{"workorder": ', [KEY, JSON]),
    "NaN": (
        "POST",
        BASE,
        b'{"workorder": "%s", "metadata": {"n": NaN}}' % WORKORDER.encode(),
        [KEY, JSON],
    ),
    "a body the schema refuses": ("POST", BASE, b'{"workorder": 1}', [KEY, JSON]),
    "another content type": ("POST", BASE, VALID, [KEY, (b"content-type", b"text/plain")]),
    "no content type": ("POST", BASE, VALID, [KEY]),
    "a chunked body": ("POST", BASE, VALID, [KEY, JSON, (b"transfer-encoding", b"chunked")]),
    "a body over the limit": ("POST", BASE, b" " * 1001 + VALID, [KEY, JSON]),
    "a body on a read": ("GET", BASE, b"{}", [KEY, JSON]),
}


@pytest.mark.parametrize("doubt", sorted(DOUBTS))
def test_a_request_in_doubt_goes_to_connexion_with_its_body_intact(
    spec: dict[str, Any], filled: LinkStore, doubt: str
) -> None:
    method, target, body, headers = DOUBTS[doubt]
    middleware, recorder = direct(spec)
    before = filled.count()
    assert call(middleware, filled, method, target, body, headers, chunks=3)[0] == 599
    assert recorder.bodies == [body]
    assert filled.count() == before


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (({"success": True, "data": {"_id": 1}}, 200), "a body the schema refuses"),
        (({"success": True}, 418), "a status the spec does not document"),
        (({"success": True, "data": None}, 201), "a 201 without its Location header"),
    ],
)
def test_a_handler_answer_that_breaks_the_spec_is_a_500_in_the_envelope(
    spec: dict[str, Any], store: LinkStore, answer: Any, reason: str
) -> None:
    async def wrong(**_arguments: Any) -> Any:
        return answer

    middleware, _ = direct(spec, resolve=lambda _operation_id: wrong)
    target = BASE if answer[1] == 201 else f"{BASE}/{UNKNOWN_ID}"
    method = "POST" if answer[1] == 201 else "GET"
    status, body = call(
        middleware, store, method, target, VALID if method == "POST" else b"", [KEY, JSON]
    )
    assert status == 500, reason
    assert json.loads(body)["error"]["code"] == "internal_error"


def test_a_page_number_past_64_bits_is_answered_like_any_other(client: Any) -> None:
    """orjson cannot write it; the answer must still be a 200 with that page number."""
    page = 10**22
    response = client.get(BASE, params={"page": page})
    assert response.status_code == 200, response.text
    assert response.json()["paging"]["page"] == page
    assert response.json()["data"] == []


def test_a_request_without_a_required_parameter_goes_to_connexion(
    spec: dict[str, Any], filled: LinkStore
) -> None:
    """A spec edited to require a query parameter: missing, it is Connexion's 400 to give."""
    edited = copy.deepcopy(spec)
    page = edited["components"]["parameters"]["Page"]
    page["required"] = True
    middleware, recorder = direct(edited)
    assert call(middleware, filled, "GET", f"{BASE}?per_page=5")[0] == 599
    assert call(middleware, filled, "GET", f"{BASE}?page=1")[0] == 200
    assert len(recorder.bodies) == 1


def test_an_operation_with_a_required_header_is_left_to_connexion(spec: dict[str, Any]) -> None:
    edited = copy.deepcopy(spec)
    session = edited["components"]["parameters"]["MockSession"]
    session["required"] = True
    routes = direct_routes(Specification.from_dict(edited), "", resolve_handlers)
    assert routes == {}, "every operation here takes the mock-session header"
