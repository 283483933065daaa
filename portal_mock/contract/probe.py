"""The few extra requests a check makes: same base URL, headers and TLS settings as the run."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from portal_mock.contract.spec import BY_ID, LIST, Spec

Link = dict[str, Any]
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    def data(self) -> Any:
        """The envelope's ``data``, or None for a body that is not a success envelope."""
        return self.body.get("data") if isinstance(self.body, dict) else None


@dataclass(frozen=True)
class Snapshot:
    """What the list said about one id just before a call: the link, its absence, or no answer."""

    reliable: bool
    link: Link | None = None

    @property
    def exists(self) -> bool:
        return self.reliable and self.link is not None

    @property
    def absent(self) -> bool:
        return self.reliable and self.link is None


UNKNOWN = Snapshot(reliable=False)


@dataclass(frozen=True)
class Probe:
    """Sends requests to the deployment under test the way the run sends its own."""

    client: httpx.Client
    base_url: str
    headers: Mapping[str, str]
    spec: Spec
    # Told of every request that may change the target, so what was read before is re-read.
    on_write: Callable[[], None] | None = None

    def call(
        self,
        operation_id: str,
        link_id: str | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Reply:
        method = self.spec.operations[operation_id][0]
        if method != "GET" and self.on_write is not None:
            self.on_write()
        url = self.base_url.rstrip("/") + self.spec.path_for(operation_id, link_id)
        response = self.client.request(
            method, url, params=dict(query or {}), json=body, headers=dict(self.headers)
        )
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return Reply(response.status_code, parsed)

    def snapshot(self, link_id: str) -> Snapshot:
        """The link with ``link_id`` as the list shows it, through its ``_id`` filter."""
        reply = self.call(LIST, query={"_id": link_id, "per_page": 2})
        items = reply.data()
        if reply.status != 200 or not isinstance(items, list):
            return UNKNOWN
        if any(not isinstance(item, dict) or item.get("_id") != link_id for item in items):
            return UNKNOWN  # the filter is not honoured: the list cannot vouch for this id
        return Snapshot(reliable=True, link=items[0] if items else None)


def new_client(
    transport: Mapping[str, Any], timeout: float | None, proxy: str | None
) -> httpx.Client:
    """A client with the TLS settings Schemathesis passes to a call (``verify``, ``cert``)."""
    verify = transport.get("verify")
    return httpx.Client(
        verify=True if verify is None else verify,
        cert=transport.get("cert"),
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        proxy=proxy,
        follow_redirects=False,
    )


def by_id_target(operation_id: str | None, path_parameters: Mapping[str, Any]) -> str | None:
    """The link id a by-id operation is called with, if it is a well-formed ObjectId."""
    link_id = path_parameters.get("id")
    if operation_id in BY_ID and isinstance(link_id, str) and OBJECT_ID.match(link_id):
        return link_id
    return None
