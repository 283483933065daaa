"""Tenant isolation: a link one key creates is not there for a key of another company.

With ``--tenant-key`` the contract run ends with this check, in both
directions: the owner key creates a link in its namespace, and the other key
must find nothing of it through any operation or filter (each answered as
for a link that does not exist), must not change it, and may neither create
a link in the owner's namespace nor move its own link there (403). The
owner's link must come out of all that unchanged; it is deleted at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from portal_mock.contract.rules import brief


@dataclass(frozen=True)
class Tenant:
    """A key and a company namespace it may create links in."""

    key: str
    namespace: str


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str


Send = Callable[..., httpx.Response]
NOT_THERE = "a link outside the key's namespaces is answered as a missing link (404)"
NOT_LISTED = "a link outside the key's namespaces is never listed, whatever the filter"
NOT_CREATED = "a key creates or moves links only into its own namespaces (403 otherwise)"
UNCHANGED = "nothing another company's key sends changes a link"


def check_isolation(
    client: httpx.Client, path: str, header: str, owner: Tenant, other: Tenant
) -> list[Violation]:
    """Every isolation problem between the two keys, both ways round, on ``client``'s target."""
    return [
        *_one_way(client, path, header, owner, other),
        *_one_way(client, path, header, other, owner),
    ]


def _one_way(
    client: httpx.Client, path: str, header: str, owner: Tenant, other: Tenant
) -> list[Violation]:
    def send(key: str) -> Send:
        return lambda method, url, **kw: client.request(method, url, headers={header: key}, **kw)

    as_owner, as_other = send(owner.key), send(other.key)
    workorder = uuid.uuid4().hex[:24]
    made = as_owner(
        "POST", path, json={"workorder": workorder, "company_namespace": [owner.namespace]}
    )
    if made.status_code != 201:
        return [Violation("setup", f"the key of {owner.namespace} could not create a link: "
                                   f"{made.status_code} {brief(made.text)}")]  # fmt: skip
    link = made.json()["data"]
    try:
        found = [
            # Listed first: the lookups end with a DELETE, which a leaky target obeys.
            *_listed(as_other, path, link, owner.namespace),
            *_looked_up(as_other, path, link),
            *_created_elsewhere(as_other, path, workorder, owner.namespace, other.namespace),
        ]
        after = as_owner("GET", f"{path}/{link['_id']}")
        if after.status_code != 200 or after.json().get("data") != link:
            found.append(Violation(UNCHANGED, f"{link['_id']} is now {brief(after.text)}"))
        return found
    finally:
        as_owner("DELETE", f"{path}/{link['_id']}")


def _looked_up(send: Send, path: str, link: dict[str, Any]) -> Iterator[Violation]:
    missing_id = "0" * len(link["_id"])
    calls = [
        ("GET", "", None),
        ("PUT", "", {"is_active": not link.get("is_active")}),
        ("POST", "/regenerate", None),
        ("POST", "/activate", None),
        ("POST", "/deactivate", None),
        ("DELETE", "", None),
    ]
    for method, suffix, body in calls:
        kwargs = {} if body is None else {"json": body}
        answer = send(method, f"{path}/{link['_id']}{suffix}", **kwargs)
        absent = send(method, f"{path}/{missing_id}{suffix}", **kwargs)
        if answer.status_code != 404 or absent.status_code != 404:
            yield Violation(
                NOT_THERE,
                f"{method} {path}/{link['_id']}{suffix} with the other key answers "
                f"{answer.status_code} {brief(answer.text)}",
            )


def _listed(send: Send, path: str, link: dict[str, Any], namespace: str) -> Iterator[Violation]:
    queries = [
        {},
        {"_id": link["_id"]},
        {"workorder": link["workorder"]},
        {"company_namespace": namespace},
        {"_id": link["_id"], "workorder": link["workorder"], "company_namespace": namespace},
    ]
    for query in queries:
        answer = send("GET", path, params={**query, "per_page": 100})
        data = answer.json().get("data") if answer.status_code == 200 else None
        if not isinstance(data, list):
            yield Violation(NOT_LISTED, f"GET {path} {query} answers {answer.status_code}")
        elif any(item.get("_id") == link["_id"] for item in data if isinstance(item, dict)):
            yield Violation(
                NOT_LISTED, f"GET {path} {query} with the other key lists {link['_id']}"
            )


def _created_elsewhere(
    send: Send, path: str, workorder: str, owners: str, own: str
) -> Iterator[Violation]:
    into = send("POST", path, json={"workorder": workorder, "company_namespace": [owners]})
    if into.status_code != 403:
        yield Violation(NOT_CREATED, f"a create in {owners} answers {into.status_code}")
        if into.status_code == 201:
            send("DELETE", f"{path}/{into.json()['data']['_id']}")
    mine = send("POST", path, json={"workorder": workorder, "company_namespace": [own]})
    if mine.status_code != 201:
        yield Violation("setup", f"the key of {own} could not create a link: {mine.status_code}")
        return
    own_id = mine.json()["data"]["_id"]
    moved = send("PUT", f"{path}/{own_id}", json={"company_namespace": [owners]})
    if moved.status_code != 403:
        yield Violation(
            NOT_CREATED, f"a move of its own link into {owners} answers {moved.status_code}"
        )
    send("DELETE", f"{path}/{own_id}")


def discover_namespace(
    client: httpx.Client, path: str, header: str, key: str, other: str
) -> str | None:
    """A namespace ``key`` may create links in and ``other`` does not reach, read off the
    links the one key lists and the other does not; None when there is none to go by."""

    def ids_and_links(with_key: str) -> list[dict[str, Any]]:
        answer = client.get(path, params={"per_page": 100}, headers={header: with_key})
        data = answer.json().get("data") if answer.status_code == 200 else None
        return [link for link in data or [] if isinstance(link, dict)]

    theirs = {link.get("_id") for link in ids_and_links(other)}
    for link in ids_and_links(key):
        if link.get("_id") in theirs:
            continue
        for namespace in link.get("company_namespace") or []:
            trial = client.post(
                path,
                json={"workorder": link["workorder"], "company_namespace": [namespace]},
                headers={header: key},
            )
            if trial.status_code == 201:
                client.delete(f"{path}/{trial.json()['data']['_id']}", headers={header: key})
                return str(namespace)
    return None
