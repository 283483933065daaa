"""What every handler shares: the store of this app, the success envelope, the 404."""

from __future__ import annotations

from typing import Any

from connexion import request

from portal_mock.errors import error_body
from portal_mock.store import LinkStore

Response = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]


def store() -> LinkStore:
    """The store the app factory put in the lifespan state."""
    found: LinkStore = request.state.store
    return found


def ok(data: Any, **extra: Any) -> Response:
    return {"success": True, "data": data, **extra}, 200


def not_found(link_id: str) -> Response:
    message = f"Workorder portal link {link_id} was not found."
    return error_body("not_found", message), 404


def link_or_404(link: dict[str, Any] | None, link_id: str) -> Response:
    return ok(link) if link is not None else not_found(link_id)
