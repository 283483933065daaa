"""Connexion's check of a spec against the OpenAPI schema, run once per spec text.

Connexion validates every spec it loads, at every start: 0.1 s of a 1 s
start-up at 100,000 links, for a spec that has not changed since the last
start. A spec that passed is remembered by the digest of its content (and of
the versions of Connexion and jsonschema that checked it) in the user's cache
folder; the same content is not checked again. A new or edited spec is always
checked, and a spec that fails is never remembered. Without a writable cache
folder every start checks, as before.
"""

from __future__ import annotations

import hashlib
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from connexion.spec import OpenAPISpecification

_ENV = "PORTAL_MOCK_CACHE_DIR"


def cache_folder() -> Path:
    """``$PORTAL_MOCK_CACHE_DIR``, else ``$XDG_CACHE_HOME/portal-mock``, else ``~/.cache/...``."""
    if os.environ.get(_ENV):
        return Path(os.environ[_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "portal-mock" / "checked-specs"


def _digest(spec: dict[str, Any]) -> str:
    content = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    checker = f"connexion {version('connexion')} jsonschema {version('jsonschema')}"
    return hashlib.sha256(checker.encode() + b"\0" + content).hexdigest()


def install() -> None:
    """Make Connexion skip its check for a spec content it has passed before."""
    check = OpenAPISpecification._validate_spec
    if getattr(check, "remembers", False):
        return

    def remembered(cls: type[OpenAPISpecification], spec: dict[str, Any]) -> None:
        marker = cache_folder() / _digest(spec)
        if marker.exists():
            return
        check.__func__(cls, spec)  # raises InvalidSpecification: nothing is remembered
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # no cache folder: the next start checks again

    remembered.remembers = True  # type: ignore[attr-defined]
    OpenAPISpecification._validate_spec = classmethod(remembered)
