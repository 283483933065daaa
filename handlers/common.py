"""What every handler shares: the caller's store and reach, the success envelope, the 404."""

from __future__ import annotations

from typing import Any

from connexion import request
from connexion.context import scope as current

from portal_mock.errors import error_body
from portal_mock.key_scopes import EVERYWHERE, KeyScopes, Reach
from portal_mock.sessions import SESSION_HEADER, Sessions, Workspace
from portal_mock.store import LinkStore

_SESSION_KEY = SESSION_HEADER.lower().encode("latin-1")
Response = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]


def workspace() -> Workspace:
    """The caller's X-Mock-Session workspace (the spec checked the name), else the durable one."""
    sessions: Sessions = request.state.sessions
    return sessions.workspace(request.headers.get(SESSION_HEADER))


def store() -> LinkStore:
    """The store this request acts on; without X-Mock-Session, the one the app factory opened."""
    # The request's scope, not Connexion's request object: building that costs a
    # tenth of a get.
    if any(name == _SESSION_KEY for name, _ in current["headers"]):
        return workspace().store
    found: LinkStore = current["state"]["store"]
    return found


def field_filters(arguments: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The list's arguments that a spec's own query parameters add, each as (field, value):
    spec_fit.py accepted each at start-up as named after a field of the link."""
    fields: dict[str, str] = current["state"]["field_filters"]
    return tuple((fields[name], value) for name, value in arguments.items() if name in fields)


def ok(data: Any, **extra: Any) -> Response:
    return {"success": True, "data": data, **extra}, 200


def not_found(link_id: str) -> Response:
    message = f"Workorder portal link {link_id} was not found."
    return error_body("not_found", message), 404


def link_or_404(link: dict[str, Any] | None, link_id: str) -> Response:
    return ok(link) if link is not None else not_found(link_id)


def reach() -> Reach:
    """The namespaces the caller's key may act on; security accepted the key before.

    An operation the spec leaves open (no key asked for) reaches every namespace.
    """
    state = current["state"]
    wanted = state["key_header"].encode("latin-1")
    given = next((value for name, value in current["headers"] if name == wanted), None)
    keys: KeyScopes = state["keys"]
    return keys.reach_of(given) or EVERYWHERE


def namespaces(link: dict[str, Any]) -> list[str]:
    found: list[str] = link.get("company_namespace") or []
    return found


def forbidden(outside: list[str]) -> Response:
    if outside:
        message = f"This API key may not act on the namespace(s) {', '.join(outside)}."
    else:
        message = "This API key may act only on links in its namespaces; give company_namespace."
    return error_body(
        "forbidden", message, [{"field": "company_namespace", "message": message}]
    ), 403
