"""``--latency`` and ``--fail-rate``: every API answer late, a share of them failed on purpose.

A request that carries ``Prefer`` is left alone: it asked for one answer, and
gets that one (portal_mock.prefer). The controls under ``/__mock/`` are never
slowed or failed, so a test can always reset the mock.
"""

from __future__ import annotations

import asyncio
import json
import random

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portal_mock.errors import CODES, MESSAGES, error_body

FAULT_HEADER = "X-Mock-Fault"
CONTROLS_BASE = "/__mock"
_READS = frozenset({"GET", "HEAD"})


class FaultMiddleware:
    """Sits after routing, before security: any API request may be slowed or failed."""

    def __init__(
        self,
        app: ASGIApp,
        latency_ms: tuple[int, int],
        fail_rate: float,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.latency_ms = latency_ms
        self.fail_rate = fail_rate
        self.rng = rng or random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_plain_api_request(scope):
            await self.app(scope, receive, send)
            return
        low, high = self.latency_ms
        if high:
            await asyncio.sleep(self.rng.uniform(low, high) / 1000)
        if self.fail_rate and self.rng.random() < self.fail_rate:
            # A write fails as a refused write does: 503, nothing stored.
            status = 500 if scope["method"] in _READS else 503
            detail = {"field": "", "message": "Injected by portal-mock --fail-rate."}
            body = json.dumps(error_body(CODES[status], MESSAGES[status], [detail]))
            response = Response(
                body, status, headers={FAULT_HEADER: "injected"}, media_type="application/json"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_plain_api_request(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    routing = scope.get("extensions", {}).get("connexion_routing", {})
    if not routing.get("operation_id") or routing.get("api_base_path") == CONTROLS_BASE:
        return False
    return all(name != b"prefer" for name, _ in scope["headers"])
