"""The eight operations on workorder portal links."""

from __future__ import annotations

from typing import Any

from handlers.common import Response, link_or_404, not_found, ok, store
from portal_mock.credentials import new_credentials
from portal_mock.querying import DEFAULT_SORT, LinkQuery


def list_workorder_portal_links(
    page: int,
    per_page: int,
    sort: str = DEFAULT_SORT,
    company_namespace: list[str] | None = None,
    workorder: str | None = None,
    is_active: bool | None = None,
    link_type: str | None = None,
    _id: list[str] | None = None,
) -> Response:
    query = LinkQuery(
        company_namespace=company_namespace or (),
        workorder=workorder,
        is_active=is_active,
        link_type=link_type,
        ids=_id or (),
        sort=sort,
        page=page,
        per_page=per_page,
    )
    links, paging = store().search(query)
    return ok(links, paging=paging)


def create_workorder_portal_link(body: dict[str, Any]) -> Response:
    link = store().create({**body, **new_credentials()})
    location = f"/workorder-portal-links/{link['_id']}"
    return {"success": True, "data": link}, 201, {"Location": location}


def get_workorder_portal_link(id_: str) -> Response:
    return link_or_404(store().get(id_), id_)


def update_workorder_portal_link(id_: str, body: dict[str, Any]) -> Response:
    return link_or_404(store().update(id_, body), id_)


def delete_workorder_portal_link(id_: str) -> Response:
    return ({"success": True}, 200) if store().delete(id_) else not_found(id_)


def regenerate_workorder_portal_link(id_: str) -> Response:
    return link_or_404(store().update(id_, new_credentials()), id_)


def activate_workorder_portal_link(id_: str) -> Response:
    return link_or_404(store().update(id_, {"is_active": True}), id_)


def deactivate_workorder_portal_link(id_: str) -> Response:
    return link_or_404(store().update(id_, {"is_active": False}), id_)
