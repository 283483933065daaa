"""Which stored links and fixtures a new version of the spec makes invalid, and why."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from portal_mock.spec_tools.document import Path, Validators, operations, resolved_at

Spec = dict[str, Any]
_MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class Invalid:
    """A link that the old version accepts and the new one does not."""

    source: str
    id: str
    reasons: tuple[str, ...]


def link_schema(spec: Spec) -> Path | None:
    """Where the stored link's schema is: the ``data`` of the first item GET's 200 answer."""
    for template, method, operation in operations(spec):
        if method != "get" or "{" not in template:
            continue
        here = ("paths", template, method, "responses", "200")
        answer, where = resolved_at(spec, (operation.get("responses") or {}).get("200"), here)
        media = (answer or {}).get("content", {}).get("application/json", {})
        if not isinstance(media, dict) or "schema" not in media:
            continue
        body, where = resolved_at(
            spec, media["schema"], (*where, "content", "application/json", "schema")
        )
        if isinstance(body, dict) and "data" in (body.get("properties") or {}):
            return (*where, "properties", "data")
    return None


def made_invalid(old: Spec, new: Spec, source: str, links: Iterable[Any]) -> Iterator[Invalid]:
    """Each of ``links`` (from ``source``) valid by ``old`` and invalid by ``new``."""
    old_path, new_path = link_schema(old), link_schema(new)
    if new_path is None:
        return
    now = Validators(new).at(new_path)
    was = Validators(old).at(old_path) if old_path is not None else None
    for position, link in enumerate(links):
        errors = sorted(now.iter_errors(link), key=lambda error: list(error.absolute_path))
        if errors and (was is None or was.is_valid(link)):
            name = link.get("_id") if isinstance(link, dict) else None
            yield Invalid(source, str(name or f"#{position + 1}"), tuple(map(reason, errors)))


def reason(error: Any) -> str:
    """Where in a link ``error`` is, and why, short enough to print."""
    at = ".".join(str(part) for part in error.absolute_path) or "(link)"
    message = error.message
    # A long value would be echoed whole: the field and the start of it say enough.
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 3] + "..."
    return f"{at}: {message}"
