"""API keys and the company namespaces each may act on: ``--api-key`` and ``--keys FILE``.

A key from ``--api-key`` reaches every namespace; a key from the TOML file
only those it lists (``"*"`` meaning all)::

    [[keys]]
    key = "acme-frontend-7d2c"
    namespaces = ["acme"]

A key is never printed: a problem in the file names the entry by its number.
"""

from __future__ import annotations

import hmac
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVERY_NAMESPACE = "*"


@dataclass(frozen=True)
class Reach:
    """The namespaces one key may act on; ``None``: all of them."""

    namespaces: frozenset[str] | None

    def sees(self, link_namespaces: Iterable[str]) -> bool:
        """A link is visible when its namespaces overlap the key's."""
        return self.namespaces is None or not self.namespaces.isdisjoint(link_namespaces)

    def may_hold(self, link_namespaces: list[str]) -> bool:
        """A key creates or moves a link only into its own namespaces (and into at least one)."""
        return self.namespaces is None or (
            bool(link_namespaces) and self.namespaces.issuperset(link_namespaces)
        )

    def outside(self, link_namespaces: Iterable[str]) -> list[str]:
        """The namespaces a link would be given that the key may not act on."""
        if self.namespaces is None:
            return []
        return [name for name in link_namespaces if name not in self.namespaces]


EVERYWHERE = Reach(None)


class KeyScopes:
    """Every accepted key with its reach, looked up in constant time."""

    def __init__(self, entries: Iterable[tuple[str, Reach]]) -> None:
        self._entries = [(key.encode("utf-8", "surrogateescape"), reach) for key, reach in entries]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(key.decode("utf-8", "surrogateescape") for key, _ in self._entries)

    def reach_of(self, given: str | bytes | None) -> Reach | None:
        """The reach of the key ``given``, or None when it is not accepted.

        Every configured key is compared, whichever matches, so the time taken
        says nothing about which keys exist.
        """
        if given is None:
            return None
        wanted = given if isinstance(given, bytes) else given.encode("utf-8", "surrogateescape")
        found: Reach | None = None
        for key, reach in self._entries:
            if hmac.compare_digest(key, wanted):
                found = reach
        return found


def read_keys_file(path: Path) -> list[tuple[str, Reach]]:
    """The keys of a TOML keys file; ValueError saying what is wrong, never showing a key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the keys file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the keys file {path} is not TOML: {exc}") from None
    entries = data.get("keys")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"the keys file {path} has no [[keys]] entries")
    read = [_entry(path, number, entry) for number, entry in enumerate(entries, start=1)]
    first: dict[str, int] = {}
    for number, (key, _) in enumerate(read, start=1):
        if key in first:
            raise ValueError(
                f"the keys file {path}, entry {number}: the key of entry {first[key]} again"
            )
        first[key] = number
    return read


def _entry(path: Path, number: int, entry: Any) -> tuple[str, Reach]:
    where = f"the keys file {path}, entry {number}"
    if not isinstance(entry, dict) or set(entry) - {"key", "namespaces"}:
        raise ValueError(f"{where}: an entry holds only key and namespaces")
    key, namespaces = entry.get("key"), entry.get("namespaces")
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"{where}: key must be a non-empty string")
    if (
        not isinstance(namespaces, list)
        or not namespaces
        or not all(isinstance(name, str) and name for name in namespaces)
    ):
        raise ValueError(f'{where}: namespaces must be a non-empty list of names, or ["*"]')
    if EVERY_NAMESPACE in namespaces:
        return key, EVERYWHERE
    return key, Reach(frozenset(namespaces))


def key_scopes(api_keys: Iterable[str], keys_file: Path | None, default_key: str) -> KeyScopes:
    """``--api-key`` keys reach everywhere, file keys what they list; with neither, the
    development key reaches everywhere. A key in both places keeps the wider reach."""
    entries = [(key, EVERYWHERE) for key in api_keys]
    if keys_file is not None:
        given = {key for key, _ in entries}
        entries += [(k, reach) for k, reach in read_keys_file(keys_file) if k not in given]
    return KeyScopes(entries or [(default_key, EVERYWHERE)])
