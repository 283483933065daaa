"""The ApiKeyAuth scheme: an X-API-Key header checked against the configured keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion.security import ApiKeySecurityHandler


def api_key_handler(keys: frozenset[str]) -> Callable[[], ApiKeySecurityHandler]:
    """A Connexion security handler factory that accepts exactly ``keys``.

    The spec stays free of ``x-apikeyInfoFunc``: which keys are valid is a
    start-up setting, not part of the contract.
    """

    def check(api_key: str, required_scopes: Any = None) -> dict[str, str] | None:
        return {"sub": "api-key"} if api_key in keys else None

    class KeyHandler(ApiKeySecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Callable[..., Any]:
            return check

    return KeyHandler
