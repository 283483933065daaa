"""What every handler shares: the caller's store, the success envelope, the 404."""

from __future__ import annotations

from typing import Any

from connexion import request
from connexion.context import scope as current

from portal_mock.errors import error_body
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


def ok(data: Any, **extra: Any) -> Response:
    return {"success": True, "data": data, **extra}, 200


def not_found(link_id: str) -> Response:
    message = f"Workorder portal link {link_id} was not found."
    return error_body("not_found", message), 404


def link_or_404(link: dict[str, Any] | None, link_id: str) -> Response:
    return ok(link) if link is not None else not_found(link_id)
