"""``portal-mock seed``: add generated links to a store that no server holds."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from portal_mock.settings import build_settings

EXIT_OK, EXIT_USAGE = 0, 2


def _number(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is not between {low} and {high}")
    return number


def seed(flags: Mapping[str, Any], environ: Mapping[str, str]) -> int:
    """Add ``--count`` links to ``--db``; exit 2 when the arguments are bad or a server holds it."""
    from portal_mock.app import load_spec
    from portal_mock.seeding import fake_links, new_seed
    from portal_mock.store import StoreLocked, StoreWriteFailed, open_store, store_name
    from portal_mock.store.link_store import StoreError

    try:
        settings = build_settings({"db": flags.get("db"), "spec": flags.get("spec")}, environ)
        count = _number("count", flags["count"], 1, 1_000_000)
        chosen = _number("seed", flags["seed"], 0, 2**32 - 1) if flags.get("seed") else new_seed()
        links = fake_links(load_spec(settings.spec), count, chosen)
    except (OSError, ValueError) as exc:
        print(f"portal-mock seed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    assert settings.db is not None
    try:
        store = open_store(settings.db)
    except OSError as exc:
        print(f"portal-mock seed: cannot open {settings.db}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreLocked as exc:
        print(
            f"portal-mock seed: {exc}.\nA running mock holds the store: seed it through the "
            'server instead, with POST /__mock/seed (body {"count": N, "seed": S}).',
            file=sys.stderr,
        )
        return EXIT_USAGE
    except StoreError as exc:
        print(f"portal-mock seed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store.add(links)
        total = store.count()
    except StoreWriteFailed as exc:
        print(f"portal-mock seed: nothing added: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    name = store_name(settings.db)
    print(f"portal-mock seed: added {count} links to {name} (now {total}); --seed {chosen}")
    return EXIT_OK
