"""Seeds the target with the run's own links through the API, and removes them afterwards.

The population (see ``population``) is created once, the first time Schemathesis
builds the examples of an operation, so its requests come first in the run.
Every link the target answers is recorded in the run's memory, so a later
answer that changes a server-assigned field of one of them is noticed. At the
end the run deletes what it created, where the target allows it.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from portal_mock.contract import population
from portal_mock.contract.memory import RUN
from portal_mock.contract.probe import Probe
from portal_mock.contract.spec import CREATE, DELETE, LIST

Link = dict[str, Any]


@dataclass
class Seeded:
    """What the run created: the population, a target link per by-id operation, and problems."""

    tag: str
    links: list[Link] = field(default_factory=list)
    targets: dict[str, Link] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    removed: int = 0
    made_by_cases: int = 0
    read_only: bool = False

    @property
    def created(self) -> list[Link]:
        return [*self.links, *self.targets.values()]


def link_types(probe: Probe) -> list[str]:
    """The link types the spec allows, in its order."""
    schema = probe.spec.property_schema(probe.spec.create_schema, "link_type")
    found = [str(value) for value in schema.get("enum", [])]
    return found or ["private"]


def _create(probe: Probe, body: dict[str, Any], seeded: Seeded) -> Link | None:
    try:
        reply = probe.call(CREATE, body=body)
    except httpx.HTTPError as exc:
        seeded.problems.append(f"creating a link failed: {exc}")
        return None
    link = reply.data()
    if reply.status != 201 or not isinstance(link, dict) or not isinstance(link.get("_id"), str):
        seeded.problems.append(f"creating a link answered {reply.status}")
        return None
    RUN.observe(link)
    return link


def seed(probe: Probe, tag: str | None = None) -> Seeded:
    """Create the population and the target links on the target; report what failed."""
    seeded = Seeded(tag=tag or secrets.token_hex(8))
    types = link_types(probe)
    for body in population.population_bodies(seeded.tag, types):
        link = _create(probe, body, seeded)
        if link is not None:
            seeded.links.append(link)
    for operation in population.TARGETED:
        link = _create(probe, population.target_body(seeded.tag, operation, types), seeded)
        if link is not None:
            seeded.targets[operation] = link
    return seeded


def tidy(probe: Probe, seeded: Seeded) -> None:
    """Delete every link the run created; a link already gone (404) counts as removed.

    Besides the seeded links, that is the links its create cases made, which are
    found by their namespace.
    """
    for link_id in [str(link["_id"]) for link in seeded.created] + _made_by_cases(probe, seeded):
        try:
            reply = probe.call(DELETE, link_id)
        except httpx.HTTPError:
            continue
        if reply.status in (200, 204, 404):
            seeded.removed += 1


def _made_by_cases(probe: Probe, seeded: Seeded) -> list[str]:
    query = {"company_namespace": population.created_namespace(seeded.tag), "per_page": 100}
    try:
        reply = probe.call(LIST, query=query)
    except httpx.HTTPError:
        return []
    items = reply.data() if reply.status == 200 else None
    found = [item.get("_id") for item in items or [] if isinstance(item, dict)]
    seeded.made_by_cases = len(found)
    return [str(link_id) for link_id in found]


class Seeder:
    """Seeds once per run, on first use, from whichever thread asks first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seeded: Seeded | None = None
        self._probe: Probe | None = None

    def read_only(self) -> None:
        """Seed nothing in this run: the target's data must not change."""
        with self._lock:
            self._seeded = Seeded(tag=secrets.token_hex(8), read_only=True)

    def get(self, probe: Probe) -> Seeded:
        with self._lock:
            if self._seeded is None:
                self._probe = probe
                self._seeded = seed(probe)
            return self._seeded

    def links(self) -> list[Link]:
        """The population (not the target links) seeded so far."""
        with self._lock:
            return list(self._seeded.links) if self._seeded is not None else []

    def namespaces(self) -> list[str]:
        """The namespaces the population was created in."""
        with self._lock:
            tag = self._seeded.tag if self._seeded is not None else None
        return list(population.namespaces(tag)) if tag is not None else []

    def finish(self) -> Seeded | None:
        """Remove what was seeded (once); return it, or None if the run seeded nothing."""
        with self._lock:
            seeded, probe, self._probe = self._seeded, self._probe, None
        if seeded is not None and probe is not None:
            tidy(probe, seeded)
        return seeded


SEEDER = Seeder()
