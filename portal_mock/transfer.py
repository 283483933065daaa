"""``portal-mock export`` and ``import``: a store as JSON Lines, to move it between backends.

One link a line, every field as stored, in ``_id`` order, keys sorted: PostgreSQL's
jsonb keeps keys in an order of its own, so sorting makes the same links the same
bytes from either backend, and export, import, export gives the file back unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from portal_mock.settings import db_setting
from portal_mock.store import StoreError, StoreLocked, open_store, store_name
from portal_mock.store.journal import journals_of
from portal_mock.store.querying import row_of

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_DB = "portal-mock-db.json"
# Lowercase only: ids are compared as text, and the stores issue lowercase ones.
_ID = re.compile(r"[0-9a-f]{24}")


class TransferError(Exception):
    """What went wrong, in one line for stderr; nothing was written."""


def add_parsers(commands: Any) -> None:
    """Declare ``export`` and ``import`` on an argparse subparsers object."""
    db_help = (
        "TinyDB file or postgresql://USER@HOST:PORT/DB (PORTAL_MOCK_DB) [./portal-mock-db.json]"
    )
    export = commands.add_parser(
        "export",
        help="write every link of a stopped store as JSON Lines",
        description="Write each link, as stored, one JSON object a line, in _id order. "
        "Exit 0: written, 2: the store cannot be opened (a server holds it) or read.",
    )
    export.add_argument("--db", metavar="FILE|URL", help=db_help)
    export.add_argument("--output", metavar="FILE", default="-", help="[- : stdout]")
    export.set_defaults(transfer="export")
    load = commands.add_parser(
        "import",
        help="load links from JSON Lines into an empty (or --replace'd) store",
        description="Store each line's link as it is, ids kept. Every line is checked "
        "before anything is written. Exit 0: imported, 2: a bad line, a store that "
        "already holds links (without --replace), or a store that cannot be opened.",
    )
    load.add_argument("--db", metavar="FILE|URL", help=db_help)
    load.add_argument("--input", metavar="FILE", default="-", help="[- : stdin]")
    load.add_argument(
        "--replace", action="store_true", help="drop every link the store holds first"
    )
    load.set_defaults(transfer="import")


def command(args: argparse.Namespace) -> int:
    """Run the ``export`` or ``import`` that ``args`` holds; the exit code."""
    db = db_setting(args.db or os.environ.get("PORTAL_MOCK_DB") or DEFAULT_DB)
    try:
        summary = (
            export_links(db, args.output) if args.transfer == "export" else import_links(db, args)
        )
    except TransferError as exc:
        print(f"portal-mock {args.transfer}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"portal-mock {args.transfer}: {summary}", file=sys.stderr)
    return EXIT_OK


def export_links(db: Path | str, output: str) -> str:
    # Opening a file store that is not there would make an empty one: a typo'd path.
    if isinstance(db, Path) and not (db.exists() or journals_of(db)[1].exists()):
        raise TransferError(f"no store at {store_name(db)}")
    with _opened(db) as store:
        links = sorted(store.export(), key=lambda link: str(link["_id"]))
    lines = b"".join(_line(link) + b"\n" for link in links)
    try:
        if output == "-":
            sys.stdout.flush()
            sys.stdout.buffer.write(lines)
            sys.stdout.buffer.flush()
        else:
            Path(output).write_bytes(lines)
    except OSError as exc:
        raise TransferError(f"cannot write {output}: {exc}") from None
    return f"exported {len(links)} links from {store_name(db)}"


def import_links(db: Path | str, args: argparse.Namespace) -> str:
    links = parsed(_read(args.input))
    with _opened(db) as store:
        held = store.count()
        if held and not args.replace:
            raise TransferError(f"{store_name(db)} already holds {held} links: import into "
                                "an empty store, or add --replace to drop them")  # fmt: skip
        store.reset(links)
    replaced = f", replacing {held}" if held else ""
    return f"imported {len(links)} links into {store_name(db)}{replaced}"


def parsed(data: bytes) -> list[dict[str, Any]]:
    """Every link of ``data``, JSON Lines; TransferError naming the first bad line."""
    links: list[dict[str, Any]] = []
    lines: dict[str, list[int]] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            link = _link(line, number)
            links.append(link)
            lines.setdefault(link["_id"], []).append(number)
    repeated = [f"{i} (lines {', '.join(map(str, n))})" for i, n in lines.items() if len(n) > 1]
    if repeated:
        raise TransferError(f"duplicate _id: {'; '.join(repeated[:5])}")
    return links


def _link(line: bytes, number: int) -> dict[str, Any]:
    try:
        link = orjson.loads(line)
    except ValueError as exc:
        raise TransferError(f"line {number}: not JSON: {exc}") from None
    if not isinstance(link, dict):
        raise TransferError(f"line {number}: not a JSON object")
    if not isinstance(link.get("_id"), str) or not _ID.fullmatch(link["_id"]):
        raise TransferError(f"line {number}: no _id of 24 lowercase hex digits")
    try:
        row_of(link, None)  # what the embedded store indexes: an expiry_date it can read
    except (AttributeError, TypeError, ValueError) as exc:
        raise TransferError(f"line {number}: a link the store cannot index: {exc}") from None
    return link


def _line(link: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(link, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits, which PostgreSQL's jsonb can hold
        return json.dumps(link, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _read(source: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise TransferError(f"cannot read {source}: {exc}") from None


@contextmanager
def _opened(db: Path | str) -> Iterator[Any]:
    """The store, closed afterwards; its errors as TransferError (messages never hold a
    password: the PostgreSQL store redacts its URL)."""
    import psycopg

    try:
        store = open_store(db)
    except StoreLocked as exc:
        raise TransferError(f"{exc}: stop the server that holds it first") from None
    except (StoreError, RuntimeError) as exc:  # RuntimeError: a newer schema
        raise TransferError(str(exc)) from None
    except OSError as exc:
        raise TransferError(f"cannot open {store_name(db)}: {exc}") from None
    try:
        yield store
    except StoreError as exc:
        raise TransferError(f"nothing written: {exc}") from None
    except psycopg.Error as exc:  # a link the table's columns refuse (a bad expiry_date)
        reason = str(exc).strip().splitlines()[0]
        raise TransferError(f"nothing written, the database refused a link: {reason}") from None
    finally:
        store.close()
