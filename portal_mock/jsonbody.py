"""JSON answers encoded by orjson, the same bytes on Connexion's path and the direct one."""

from __future__ import annotations

import json
from typing import Any

import orjson


def encoded(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON (orjson: NaN and Infinity become null)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        # orjson stops at 64-bit integers; a page number asked for may be larger.
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def decoded(raw: bytes) -> Any:
    """What ``encoded`` wrote, read back (the json module for integers past 64 bits)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(data: Any) -> bytes:
    """A JSON answer's bytes: compact, UTF-8, with Connexion's trailing newline."""
    return encoded(data) + b"\n"


class OrjsonText:
    """orjson behind the ``json`` module's names, for Connexion's Jsonifier."""

    @staticmethod
    def dumps(data: Any, **_options: Any) -> str:
        return encoded(data).decode()

    @staticmethod
    def loads(data: str | bytes) -> Any:
        return orjson.loads(data)
