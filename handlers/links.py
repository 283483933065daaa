"""The eight operations on workorder portal links.

Every handler is a coroutine, run on the event loop without a hop to a worker
thread: the embedded store answers reads from memory at once, and a write awaits
its group commit (the journal's own thread fsyncs it) without blocking the loop.
The PostgreSQL store waits for the database in a worker thread instead.
"""

from __future__ import annotations

from typing import Any

from handlers.common import (
    Response,
    field_filters,
    forbidden,
    link_or_404,
    namespaces,
    not_found,
    ok,
    reach,
    store,
)
from portal_mock.credentials import new_credentials
from portal_mock.store.querying import DEFAULT_SORT, LinkQuery


async def list_workorder_portal_links(
    page: int,
    per_page: int,
    sort: str = DEFAULT_SORT,
    company_namespace: list[str] | None = None,
    workorder: str | None = None,
    is_active: bool | None = None,
    link_type: str | None = None,
    _id: list[str] | None = None,
    **fields: Any,
) -> Response:
    query = LinkQuery(
        company_namespace=company_namespace or (),
        workorder=workorder,
        is_active=is_active,
        link_type=link_type,
        ids=_id or (),
        visible=reach().namespaces,
        equal=field_filters(fields),
        sort=sort,
        page=page,
        per_page=per_page,
    )
    links, paging = await store().search_async(query)
    return ok(links, paging=paging)


async def create_workorder_portal_link(body: dict[str, Any]) -> Response:
    if not reach().may_hold(namespaces(body)):
        return forbidden(reach().outside(namespaces(body)))
    link = await store().create_async({**body, **new_credentials()})
    location = f"/workorder-portal-links/{link['_id']}"
    return {"success": True, "data": link}, 201, {"Location": location}


async def get_workorder_portal_link(id_: str) -> Response:
    link = await store().get_async(id_)
    return link_or_404(link if link is not None and reach().sees(namespaces(link)) else None, id_)


async def update_workorder_portal_link(id_: str, body: dict[str, Any]) -> Response:
    caller = reach()
    if "company_namespace" in body and not caller.may_hold(namespaces(body)):
        # A link the key cannot see is not there: 404 before 403, so nothing leaks.
        current = await store().get_async(id_)
        if current is None or not caller.sees(namespaces(current)):
            return not_found(id_)
        return forbidden(caller.outside(namespaces(body)))
    return link_or_404(await _changed(id_, body), id_)


async def delete_workorder_portal_link(id_: str) -> Response:
    caller = reach()
    deleted = await store().delete_async(id_, lambda link: caller.sees(namespaces(link)))
    return ({"success": True}, 200) if deleted else not_found(id_)


async def regenerate_workorder_portal_link(id_: str) -> Response:
    return link_or_404(await _changed(id_, new_credentials()), id_)


async def activate_workorder_portal_link(id_: str) -> Response:
    return link_or_404(await _changed(id_, {"is_active": True}), id_)


async def deactivate_workorder_portal_link(id_: str) -> Response:
    return link_or_404(await _changed(id_, {"is_active": False}), id_)


async def _changed(id_: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """The link with ``changes`` made, or None if it is missing or outside the caller's reach."""
    caller = reach()
    return await store().update_async(id_, changes, lambda link: caller.sees(namespaces(link)))
