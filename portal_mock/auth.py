"""The ApiKeyAuth scheme: an X-API-Key header checked against the configured keys."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from connexion.security import ApiKeySecurityHandler


def key_accepted(keys: frozenset[str], given: str) -> bool:
    """Whether ``given`` is one of ``keys``, compared in constant time (no timing oracle)."""
    given_bytes = given.encode("utf-8", "surrogateescape")
    found = False
    for key in keys:
        found |= hmac.compare_digest(key.encode("utf-8", "surrogateescape"), given_bytes)
    return found


def api_key_handler(keys: frozenset[str]) -> Callable[[], ApiKeySecurityHandler]:
    """A Connexion security handler factory that accepts exactly ``keys``.

    The spec stays free of ``x-apikeyInfoFunc``: which keys are valid is a
    start-up setting, not part of the contract.
    """

    def check(api_key: str, required_scopes: Any = None) -> dict[str, str] | None:
        return {"sub": "api-key"} if key_accepted(keys, api_key) else None

    class KeyHandler(ApiKeySecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Callable[..., Any]:
            return check

    return KeyHandler
