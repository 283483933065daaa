"""One function per operationId of ``openapi/mock-controls.yaml``, over the caller's workspace."""

from __future__ import annotations

from typing import Any

from connexion import request

from handlers.common import Response, ok, workspace
from portal_mock import __version__
from portal_mock.errors import error_body
from portal_mock.requestlog import RequestLog
from portal_mock.seeding import fake_links, new_seed
from portal_mock.sessions import SESSION_HEADER, Sessions, Workspace


def _sessions() -> Sessions:
    sessions: Sessions = request.state.sessions
    return sessions


def _summary(place: Workspace) -> dict[str, Any]:
    return {"session": place.session, "links": place.store.count()}


def _no_snapshot(name: str) -> Response:
    return error_body("not_found", f"No snapshot is named {name}."), 404


def get_mock_health() -> Response:
    sessions = _sessions()
    place = workspace()
    return ok(
        {
            "status": "ok",
            "version": __version__,
            **_summary(place),
            "sessions": sessions.count(),
            "max_sessions": sessions.limit,
        }
    )


def reset_mock_store(body: dict[str, Any]) -> Response:
    place = workspace()
    place.store.reset(_sessions().fixtures if body["fixtures"] else [])
    return ok(_summary(place))


def save_mock_snapshot(name: str) -> Response:
    return ok(workspace().take_snapshot(name))


def restore_mock_snapshot(name: str) -> Response:
    place = workspace()
    snapshot = place.snapshot(name)
    if snapshot is None:
        return _no_snapshot(name)
    place.store.reset(snapshot.links)
    return ok(snapshot.summary())


def list_mock_snapshots() -> Response:
    return ok(workspace().summaries())


def delete_mock_snapshot(name: str) -> Response:
    return ({"success": True}, 200) if workspace().drop_snapshot(name) else _no_snapshot(name)


def seed_mock_store(body: dict[str, Any]) -> Response:
    place = workspace()
    seed = body["seed"] if "seed" in body else new_seed()
    ids = place.store.add(fake_links(request.state.api_spec, body["count"], seed))
    return ok({**_summary(place), "added": len(ids), "seed": seed, "ids": ids})


def _requests() -> RequestLog:
    log: RequestLog = request.state.requests
    return log


def list_mock_requests(limit: int) -> Response:
    entries = _requests().recent(limit, request.headers.get(SESSION_HEADER))
    return ok([entry._asdict() for entry in entries])


def clear_mock_requests() -> Response:
    return ok({"cleared": _requests().clear(request.headers.get(SESSION_HEADER))})


def end_mock_session() -> Response:
    name = request.headers[SESSION_HEADER]
    if _sessions().end(name):
        return {"success": True}, 200
    return error_body("not_found", f"No mock session is named {name}."), 404
