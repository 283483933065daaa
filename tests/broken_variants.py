"""Deliberately broken variants of the mock, each with the one contract check meant to catch it.

A variant is the real app with one defect put in by swapping a handler,
wrapping the store or wrapping the ASGI app. The suite runs each the way a
user runs ``portal-mock contract``: the whole API, the default phases, a time
budget. Run as a script (``python tests/broken_variants.py NAME``), this
module serves one variant (or ``correct``, the mock itself) on a free port of
127.0.0.1, prints its URL and serves until its standard input closes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import handlers.links
from handlers.common import ok, store
from portal_mock.app import create_app
from portal_mock.contract.target import serve_in_thread
from portal_mock.errors import error_body
from portal_mock.fixtures import load_fixtures
from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC
from portal_mock.settings import Settings
from portal_mock.store import LinkStore, utc_now
from portal_mock.store.querying import LinkQuery, paging, parse_datetime, sort_links

App = Any


@dataclass(frozen=True)
class Variant:
    """One defect: what it is, the check that must report it, and how to build the app."""

    defect: str
    check: str
    build: Callable[[pytest.MonkeyPatch, Path], App]

    @property
    def name(self) -> str:
        return self.defect.replace(" ", "-")


# --- building blocks ---------------------------------------------------------------


def mock(link_store: Any = None, spec: Path = DEFAULT_SPEC) -> App:
    """The mock over an in-memory store (or ``link_store``) holding the sample links."""
    inner = link_store if link_store is not None else LinkStore()
    load_fixtures(inner, DEFAULT_FIXTURES)
    return create_app(Settings(db=None, fixtures=None, spec=spec), store=inner)


def swap_handler(monkeypatch: pytest.MonkeyPatch, name: str, handler: Callable[..., Any]) -> App:
    """The mock with ``handlers.links.<name>`` replaced (for as long as the test runs)."""
    monkeypatch.setattr(handlers.links, name, handler)
    return mock()


def spec_changed(tmp: Path, change: Callable[[dict[str, Any]], None]) -> App:
    """The mock validating against a copy of the spec with ``change`` made to it."""
    spec = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))
    change(spec)
    path = tmp / "changed-spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return mock(spec=path)


class StoreWrapper:
    """Passes every call through to a real store; subclasses override the broken method."""

    def __init__(self) -> None:
        self.inner = LinkStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    # The handlers await these: they go through the sync methods a subclass may break.
    # Variants run with the development key, which reaches every namespace, so
    # the handlers' ``allowed`` (the key's reach) always says yes and is not passed on.
    async def create_async(self, fields: Any) -> Any:
        return self.create(fields)

    async def update_async(self, link_id: str, changes: Any, allowed: Any = None) -> Any:
        return self.update(link_id, changes)

    async def delete_async(self, link_id: str, allowed: Any = None) -> Any:
        return self.delete(link_id)

    async def search_async(self, query: LinkQuery) -> Any:
        return self.search(query)

    async def get_async(self, link_id: str) -> Any:
        return self.get(link_id)


class ResponseRewriter:
    """An ASGI wrapper that may change the request's headers and each response's start and body."""

    def __init__(self, app: App) -> None:
        self.app = app

    def request_headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        return headers

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        return message

    def body(self, status: int, body: bytes) -> bytes:
        return body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": self.request_headers(list(scope["headers"]))}
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self.body(started["status"], b"".join(chunks))
            headers = [
                (k, v) for k, v in started.get("headers", []) if k.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send(self.start({**started, "headers": headers}))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


# --- the defects ---------------------------------------------------------------------


def list_ignoring_link_type(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    original = handlers.links.list_workorder_portal_links

    @functools.wraps(original)  # Connexion passes the parameters the signature names
    async def handler(**params: Any) -> Any:
        params.pop("link_type", None)
        return await original(**params)

    return swap_handler(monkeypatch, "list_workorder_portal_links", handler)


class PageTotalStore(StoreWrapper):
    def search(self, query: LinkQuery) -> Any:
        links, paging = self.inner.search(query)
        return links, {**paging, "total": len(links), "total_pages": 1 if links else 0}


def list_ignoring_sort(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    original = handlers.links.list_workorder_portal_links

    @functools.wraps(original)
    async def handler(**params: Any) -> Any:
        params.pop("sort", None)
        return await original(**params)

    return swap_handler(monkeypatch, "list_workorder_portal_links", handler)


class InventingStore(StoreWrapper):
    """Answers a get for an unknown id with a sample link under that id."""

    def get(self, link_id: str) -> Any:
        found = self.inner.get(link_id)
        if found is None:
            sample = self.inner.search(LinkQuery(per_page=1))[0][0]
            found = {**sample, "_id": link_id}
        return found


class UndeletingStore(StoreWrapper):
    def delete(self, link_id: str) -> bool:
        return self.inner.get(link_id) is not None


class StaleIndexStore(StoreWrapper):
    """Deletes a link for get, update and delete, but the list still shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: set[str] = set()

    def get(self, link_id: str) -> Any:
        return None if link_id in self.deleted else self.inner.get(link_id)

    def update(self, link_id: str, changes: Any) -> Any:
        return None if link_id in self.deleted else self.inner.update(link_id, changes)

    def delete(self, link_id: str) -> bool:
        if link_id in self.deleted or self.inner.get(link_id) is None:
            return False
        self.deleted.add(link_id)
        return True


def update_wiping_absent_fields(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    blank = {
        "link_type": "private",
        "permissions": {},
        "access_restrictions": {},
        "expiry_date": None,
        "notification_settings": {},
        "custom_branding": {},
        "metadata": {},
        "is_active": True,
        "company_namespace": [],
    }

    def handler(id_: str, body: dict[str, Any]) -> Any:
        link = store().update(id_, {**blank, **body})
        return ok(link) if link is not None else handlers.links.not_found(id_)

    return swap_handler(monkeypatch, "update_workorder_portal_link", handler)


def regenerate_keeping_the_token(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    def handler(id_: str) -> Any:
        link = store().get(id_)
        if link is None:
            return handlers.links.not_found(id_)
        return ok(store().update(id_, {"url": link["url"] + "x"}))

    return swap_handler(monkeypatch, "regenerate_workorder_portal_link", handler)


def deactivate_doing_nothing(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    def handler(id_: str) -> Any:
        link = store().get(id_)
        return ok(link) if link is not None else handlers.links.not_found(id_)

    return swap_handler(monkeypatch, "deactivate_workorder_portal_link", handler)


class ForgetfulStore(StoreWrapper):
    """Answers a create with the new link but does not keep it."""

    def create(self, fields: Any) -> Any:
        link = self.inner.create(fields)
        self.inner.delete(link["_id"])
        return link


class BackdatingStore(StoreWrapper):
    """Rewrites created_at on every update."""

    def update(self, link_id: str, changes: Any) -> Any:
        return self.inner.update(link_id, {**changes, "created_at": "2001-02-03T04:05:06.000Z"})


class KeylessAccepted(ResponseRewriter):
    """Lets a request without X-API-Key in, as if it had sent the development key."""

    def request_headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        if not any(name.lower() == b"x-api-key" for name, _ in headers):
            headers.append((b"x-api-key", b"dev-key"))
        return headers


class TotalAsText(ResponseRewriter):
    """Sends paging.total as a string."""

    def body(self, status: int, body: bytes) -> bytes:
        try:
            document = json.loads(body)
        except ValueError:
            return body
        if isinstance(document, dict) and isinstance(document.get("paging"), dict):
            document["paging"]["total"] = str(document["paging"]["total"])
            return json.dumps(document).encode()
        return body


class UnprocessableInsteadOfBadRequest(ResponseRewriter):
    """Answers 422, which the spec does not document, where it should answer 400."""

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "status": 422} if message["status"] == 400 else message


class StaleAllowHeader(ResponseRewriter):
    """Answers every 405 with Connexion's old ``Allow: HEAD, GET``."""

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["status"] != 405:
            return message
        headers = [(k, v) for k, v in message["headers"] if k.lower() != b"allow"]
        return {**message, "headers": [*headers, (b"allow", b"HEAD, GET")]}


class CreatedWithoutLocation(ResponseRewriter):
    """Forgets the Location header of a 201."""

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["status"] != 201:
            return message
        headers = [(k, v) for k, v in message["headers"] if k.lower() != b"location"]
        return {**message, "headers": headers}


def location_at_the_collection(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Points Location at the collection instead of the new link."""
    original = handlers.links.create_workorder_portal_link

    @functools.wraps(original)
    async def handler(body: Any) -> Any:
        envelope, status, _headers = await original(body)
        return envelope, status, {"Location": "/workorder-portal-links"}

    return swap_handler(monkeypatch, "create_workorder_portal_link", handler)


def activate_toggling(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Flips is_active on activate, so activating an active link deactivates it."""

    def handler(id_: str) -> Any:
        link = store().get(id_)
        if link is None:
            return handlers.links.not_found(id_)
        return ok(store().update(id_, {"is_active": not link["is_active"]}))

    return swap_handler(monkeypatch, "activate_workorder_portal_link", handler)


class DeleteWithoutKey(ResponseRewriter):
    """Lets a DELETE without X-API-Key in: the one operation whose key check was forgotten."""

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.method = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.method = scope.get("method", "")
        await super().__call__(scope, receive, send)

    def request_headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        keyless = not any(name.lower() == b"x-api-key" for name, _ in headers)
        if self.method == "DELETE" and keyless:
            headers.append((b"x-api-key", b"dev-key"))
        return headers


class NotFoundAsValidationError(ResponseRewriter):
    """Answers a 404 with the code validation_error, copied from the 400 handler."""

    def body(self, status: int, body: bytes) -> bytes:
        if status != 404:
            return body
        document = json.loads(body)
        document["error"]["code"] = "validation_error"
        return json.dumps(document).encode()


def link_type_filter_without_enum(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """The server validates against a spec whose link_type filter lost its enum."""

    def change(spec: dict[str, Any]) -> None:
        spec["components"]["parameters"]["LinkTypeFilter"]["schema"] = {"type": "string"}

    return spec_changed(tmp, change)


def list_failing_on_is_active(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    original = handlers.links.list_workorder_portal_links

    @functools.wraps(original)
    async def handler(**params: Any) -> Any:
        if params.get("is_active") is not None:
            raise KeyError("is_active")
        return await original(**params)

    return swap_handler(monkeypatch, "list_workorder_portal_links", handler)


def list_reading_one_namespace(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Filters by the first company_namespace asked for and drops the others."""
    original = handlers.links.list_workorder_portal_links

    @functools.wraps(original)
    async def handler(**params: Any) -> Any:
        if params.get("company_namespace"):
            params["company_namespace"] = params["company_namespace"][:1]
        return await original(**params)

    return swap_handler(monkeypatch, "list_workorder_portal_links", handler)


def list_reading_is_active_false_as_true(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Treats is_active=false as true (a truthiness test on the string)."""
    original = handlers.links.list_workorder_portal_links

    @functools.wraps(original)
    async def handler(**params: Any) -> Any:
        if params.get("is_active") is False:
            params["is_active"] = True
        return await original(**params)

    return swap_handler(monkeypatch, "list_workorder_portal_links", handler)


def list_combining_filters_with_or(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Answers links that match any one of the filters, not all of them."""

    class OrStore(StoreWrapper):
        def search(self, query: LinkQuery) -> Any:
            filters = {
                "company_namespace": query.company_namespace,
                "workorder": query.workorder,
                "is_active": query.is_active,
                "link_type": query.link_type,
                "ids": query.ids,
            }
            given = {name: value for name, value in filters.items() if value not in (None, ())}
            if len(given) < 2:
                return self.inner.search(query)
            links = [
                link
                for link in sort_links(self.inner.export(), query.sort)
                if any(LinkQuery(**{name: value}).matches(link) for name, value in given.items())
            ]
            return page_of(links, query)

    return mock(OrStore())


def list_reading_one_id(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Filters by the first _id asked for and drops the others."""
    original = handlers.links.list_workorder_portal_links

    @functools.wraps(original)
    async def handler(**params: Any) -> Any:
        if params.get("_id"):
            params["_id"] = params["_id"][:1]
        return await original(**params)

    return swap_handler(monkeypatch, "list_workorder_portal_links", handler)


def page_of(links: list[Any], query: LinkQuery) -> tuple[list[Any], dict[str, int]]:
    start = (query.page - 1) * query.per_page
    return links[start : start + query.per_page], paging(query, len(links))


def sorted_by(monkeypatch: pytest.MonkeyPatch, broken: Callable[[Any, str], list[Any]]) -> App:
    """The mock with every ordered page taken from ``broken(links, sort)``."""

    def first_rows(rows: Any, sort: str, count: int) -> list[Any]:
        by_id = {row[0]: row for row in rows}
        links = [json.loads(row[-1]) for row in rows]
        return [by_id[link["_id"]] for link in broken(links, sort)[:count]]

    monkeypatch.setattr("portal_mock.store.link_store.first_rows", first_rows)
    return mock()


def stable_sort(links: Any, sort: str, key: Callable[[str], Callable[[Any], Any]]) -> list[Any]:
    keys = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    ordered = sorted(links, key=lambda link: link["_id"], reverse=keys[-1][1])
    for name, descending in reversed(keys):
        ordered.sort(key=key(name), reverse=descending)
    return ordered


def plain_key(name: str) -> Callable[[Any], Any]:
    if name != "expiry_date":
        return lambda link: link[name]
    return lambda link: (
        link[name] is not None,
        parse_datetime(link[name]) if link[name] else 0,
    )


def expiry_sorted_as_text(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Sorts expiry_date as text, so offsets other than Z put instants out of order."""

    def key(name: str) -> Callable[[Any], Any]:
        if name != "expiry_date":
            return plain_key(name)
        return lambda link: (link[name] is not None, link[name] or "")

    return sorted_by(monkeypatch, lambda links, sort: stable_sort(links, sort, key))


def ties_by_ascending_id(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Breaks ties by ascending _id whatever the direction asked for."""

    def broken(links: Any, sort: str) -> list[Any]:
        ordered = sorted(links, key=lambda link: link["_id"])
        for part in reversed(sort.split(",")):
            ordered.sort(key=plain_key(part.lstrip("-")), reverse=part.startswith("-"))
        return ordered

    return sorted_by(monkeypatch, broken)


def sort_by_first_field_only(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Orders by the first of several sort fields and ignores the rest."""
    return sorted_by(monkeypatch, lambda links, sort: sort_links(links, sort.split(",")[0]))


def total_pages_rounded_down(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Counts pages with floor division, so a last partial page is not counted."""

    def broken(query: LinkQuery, total: int) -> dict[str, int]:
        return {**paging(query, total), "total_pages": total // query.per_page}

    monkeypatch.setattr("portal_mock.store.link_store.paging", broken)
    return mock()


def pages_overlapping_by_one(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Starts every page after the first one link early (an off-by-one offset)."""
    search = LinkStore.search

    def broken(self: LinkStore, query: LinkQuery) -> Any:
        everything = dataclasses.replace(query, page=1, per_page=query.page * query.per_page)
        links, _ = search(self, everything)
        start = max(0, (query.page - 1) * query.per_page - 1)
        return links[start : start + query.per_page], search(self, query)[1]

    monkeypatch.setattr(LinkStore, "search", broken)
    return mock()


def public_by_default(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Creates links as public when link_type is not sent (the documented default is private)."""

    def change(spec: dict[str, Any]) -> None:
        body = spec["components"]["requestBodies"]["CreateWorkorderPortalLink"]
        body["content"]["application/json"]["schema"]["properties"]["link_type"]["default"] = (
            "public"
        )

    return spec_changed(tmp, change)


def create_dropping_custom_branding(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Stores custom_branding empty, whatever was sent (a field left out of a DTO)."""
    original = handlers.links.create_workorder_portal_link

    @functools.wraps(original)
    async def handler(body: Any) -> Any:
        return await original({**body, "custom_branding": {}})

    return swap_handler(monkeypatch, "create_workorder_portal_link", handler)


class MergingStore(StoreWrapper):
    """Merges a nested object sent in an update into the stored one instead of replacing it."""

    def update(self, link_id: str, changes: Any) -> Any:
        current = self.inner.get(link_id)
        if current is not None:
            changes = {
                name: {**current[name], **value}
                if isinstance(value, dict) and isinstance(current.get(name), dict)
                else value
                for name, value in changes.items()
            }
        return self.inner.update(link_id, changes)


def update_accepting_workorder(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """The update schema lists workorder, so a link can move to another work order."""

    def change(spec: dict[str, Any]) -> None:
        update = spec["components"]["schemas"]["UpdateWorkorderPortalLink"]
        update["properties"]["workorder"] = {"$ref": "#/components/schemas/ObjectId"}

    return spec_changed(tmp, change)


class ServerFieldsDropped:
    """Strips the server's fields from an update body before the app sees it: 200, ignored."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "PUT":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            document = json.loads(body)
            for name in ("_id", "url", "access_token", "created_at", "updated_at"):
                document.pop(name, None)
            body = json.dumps(document).encode()
        except (ValueError, AttributeError):
            pass
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


def regenerate_deriving_the_token(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Derives the new token and url from the link's id: the second regenerate changes nothing."""

    def handler(id_: str) -> Any:
        digest = hashlib.sha256(id_.encode()).hexdigest()
        fresh = {"access_token": digest[:43], "url": f"https://portal.example.com/l/{digest[:16]}"}
        link = store().update(id_, fresh)
        return ok(link) if link is not None else handlers.links.not_found(id_)

    return swap_handler(monkeypatch, "regenerate_workorder_portal_link", handler)


def deactivate_refusing_an_inactive_link(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Answers 400 to deactivating a link that is already inactive."""
    original = handlers.links.deactivate_workorder_portal_link

    @functools.wraps(original)
    async def handler(id_: str) -> Any:
        link = store().get(id_)
        if link is not None and not link["is_active"]:
            return error_body("validation_error", "The link is already inactive."), 400
        return await original(id_)

    return swap_handler(monkeypatch, "deactivate_workorder_portal_link", handler)


class SoftDeleteStore(StoreWrapper):
    """Marks a link deleted for reads, but regenerate still writes to it (and answers 200)."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: set[str] = set()

    def get(self, link_id: str) -> Any:
        return None if link_id in self.deleted else self.inner.get(link_id)

    def search(self, query: LinkQuery) -> Any:
        links, _ = self.inner.search(dataclasses.replace(query, page=1, per_page=10**6))
        kept = [link for link in links if link["_id"] not in self.deleted]
        return page_of(kept, query)

    def update(self, link_id: str, changes: Any) -> Any:
        if link_id in self.deleted and "access_token" not in changes:
            return None
        return self.inner.update(link_id, changes)

    def delete(self, link_id: str) -> bool:
        if link_id in self.deleted or self.inner.get(link_id) is None:
            return False
        self.deleted.add(link_id)
        return True


def updated_at_left_alone(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """Sets updated_at on create only: every later write leaves it as it was."""
    monkeypatch.setattr("portal_mock.store.link_store.utc_after", lambda previous: previous)
    return mock()


class ReadTouchingStore(StoreWrapper):
    """Records every read in updated_at ("last accessed")."""

    def get(self, link_id: str) -> Any:
        if self.inner.get(link_id) is None:
            return None
        return self.inner.update(link_id, {"updated_at": utc_now()})


def malformed_id_not_found(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> App:
    """The id parameter lost its pattern: a malformed id is looked up and answered 404."""

    def change(spec: dict[str, Any]) -> None:
        spec["components"]["parameters"]["LinkId"]["schema"] = {"type": "string"}

    return spec_changed(tmp, change)


class AnyKeyAccepted(ResponseRewriter):
    """Checks that X-API-Key is present, not that it is a key the server knows."""

    def request_headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        return [
            (name, b"dev-key" if name.lower() == b"x-api-key" and value else value)
            for name, value in headers
        ]


class ProblemJsonErrors(ResponseRewriter):
    """Serves errors as application/problem+json, the framework's default."""

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["status"] < 400:
            return message
        headers = [(k, v) for k, v in message["headers"] if k.lower() != b"content-type"]
        return {**message, "headers": [*headers, (b"content-type", b"application/problem+json")]}


def with_store(wrapper: Callable[[], Any]) -> Callable[[pytest.MonkeyPatch, Path], App]:
    return lambda monkeypatch, tmp: mock(wrapper())


def wrapped(rewriter: Callable[[App], App]) -> Callable[[pytest.MonkeyPatch, Path], App]:
    return lambda monkeypatch, tmp: rewriter(mock())


VARIANTS = [
    Variant(
        "list ignores the link_type filter",
        "list_items_match_filters",
        list_ignoring_link_type,
    ),
    Variant(
        "paging total counts only the page",
        "list_paging_is_consistent",
        with_store(PageTotalStore),
    ),
    Variant(
        "list ignores sort",
        "list_sort_order_holds",
        list_ignoring_sort,
    ),
    Variant(
        "unknown id answered 200",
        "unknown_link_is_not_found",
        with_store(InventingStore),
    ),
    Variant(
        "delete does not delete",
        "deleted_link_is_gone",
        with_store(UndeletingStore),
    ),
    Variant(
        "a deleted link stays in the list",
        "deleted_link_is_gone",
        with_store(StaleIndexStore),
    ),
    Variant(
        "update wipes the fields it was not sent",
        "update_changes_only_given_fields",
        update_wiping_absent_fields,
    ),
    Variant(
        "regenerate keeps the token",
        "regenerate_changes_only_credentials",
        regenerate_keeping_the_token,
    ),
    Variant(
        "deactivate does nothing",
        "activation_sets_is_active",
        deactivate_doing_nothing,
    ),
    Variant(
        "a created link is not stored",
        "created_link_reads_back",
        with_store(ForgetfulStore),
    ),
    Variant(
        "update rewrites created_at",
        "server_fields_never_drift",
        with_store(BackdatingStore),
    ),
    Variant(
        "a request without a key is accepted",
        "ignored_auth",
        wrapped(KeylessAccepted),
    ),
    Variant(
        "paging.total is a string",
        "response_schema_conformance",
        wrapped(TotalAsText),
    ),
    Variant(
        "422 instead of the documented 400",
        "status_code_conformance",
        wrapped(UnprocessableInsteadOfBadRequest),
    ),
    Variant(
        "an invalid link_type filter is accepted",
        "negative_data_rejection",
        link_type_filter_without_enum,
    ),
    Variant(
        "a server error on the is_active filter",
        "not_a_server_error",
        list_failing_on_is_active,
    ),
    Variant(
        "405 with a stale Allow header",
        "allow_header_conformance",
        wrapped(StaleAllowHeader),
    ),
    Variant(
        "list reads only the first company_namespace",
        "list_shows_every_matching_link",
        list_reading_one_namespace,
    ),
    Variant(
        "is_active=false read as true",
        "list_items_match_filters",
        list_reading_is_active_false_as_true,
    ),
    Variant(
        "a 201 without Location",
        "response_headers_conformance",
        wrapped(CreatedWithoutLocation),
    ),
    Variant(
        "Location points at the collection",
        "created_link_reads_back",
        location_at_the_collection,
    ),
    Variant(
        "activate toggles is_active",
        "activation_sets_is_active",
        activate_toggling,
    ),
    Variant(
        "delete skips the key check",
        "ignored_auth",
        wrapped(DeleteWithoutKey),
    ),
    Variant(
        "a 404 with the code validation_error",
        "errors_name_their_status",
        wrapped(NotFoundAsValidationError),
    ),
    Variant(
        "filters combined with OR",
        "list_items_match_filters",
        list_combining_filters_with_or,
    ),
    Variant(
        "list reads only the first _id",
        "list_shows_every_matching_link",
        list_reading_one_id,
    ),
    Variant(
        "expiry_date sorted as text",
        "list_sort_order_holds",
        expiry_sorted_as_text,
    ),
    Variant(
        "ties broken by ascending _id in a descending sort",
        "list_sort_order_holds",
        ties_by_ascending_id,
    ),
    Variant(
        "only the first sort field is used",
        "list_sort_order_holds",
        sort_by_first_field_only,
    ),
    Variant(
        "total_pages rounded down",
        "list_paging_is_consistent",
        total_pages_rounded_down,
    ),
    Variant(
        "pages overlap by one link",
        "list_paging_is_consistent",
        pages_overlapping_by_one,
    ),
    Variant(
        "link_type defaults to public",
        "created_link_reads_back",
        public_by_default,
    ),
    Variant(
        "create drops custom_branding",
        "created_link_reads_back",
        create_dropping_custom_branding,
    ),
    Variant(
        "update merges a nested object",
        "update_changes_only_given_fields",
        with_store(MergingStore),
    ),
    Variant(
        "update moves a link to another workorder",
        "immutable_fields_are_refused",
        update_accepting_workorder,
    ),
    Variant(
        "update ignores server fields instead of refusing them",
        "immutable_fields_are_refused",
        wrapped(ServerFieldsDropped),
    ),
    Variant(
        "regenerate derives the token from the id",
        "regenerate_changes_only_credentials",
        regenerate_deriving_the_token,
    ),
    Variant(
        "deactivating an inactive link answers 400",
        "activation_sets_is_active",
        deactivate_refusing_an_inactive_link,
    ),
    Variant(
        "a deleted link can still be regenerated",
        "deleted_link_is_gone",
        with_store(SoftDeleteStore),
    ),
    Variant(
        "update leaves updated_at",
        "timestamps_follow_writes",
        updated_at_left_alone,
    ),
    Variant(
        "a read moves updated_at",
        "server_fields_never_drift",
        with_store(ReadTouchingStore),
    ),
    Variant(
        "a malformed id answered 404",
        "malformed_id_is_bad_request",
        malformed_id_not_found,
    ),
    Variant(
        "any key is accepted",
        "ignored_auth",
        wrapped(AnyKeyAccepted),
    ),
    Variant(
        "errors served as application/problem+json",
        "errors_name_their_status",
        wrapped(ProblemJsonErrors),
    ),
]

# The mock itself, served the same way: the control run.
CORRECT = Variant("correct", "", lambda monkeypatch, tmp: mock())
BY_NAME = {variant.name: variant for variant in [CORRECT, *VARIANTS]}


def serve(name: str) -> None:
    """Serve the variant ``name``; print its URL; stop when standard input closes."""
    monkeypatch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory(prefix="portal-mock-variant-") as tmp:
        app = BY_NAME[name].build(monkeypatch, Path(tmp))
        with serve_in_thread(app) as url:
            print(url, flush=True)
            sys.stdin.read()
    monkeypatch.undo()


if __name__ == "__main__":
    serve(sys.argv[1])
