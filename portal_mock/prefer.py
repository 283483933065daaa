"""``Prefer`` (RFC 7240, as Prism takes it): a documented answer, a named example, a delay.

The header is described in the controls' document (openapi/mock-controls.yaml),
not the API's, so that a fuzzer reading the API's document never asks for a
canned failure; its schema there checks the syntax. Then the preferences are
held against what the operation documents. A canned answer never reaches the
handler, so it changes nothing, and it still passes the response validation:
it is the spec's own example.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft4Validator
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_mock.errors import InvalidInput
from portal_mock.settings import MAX_DELAY_MS

APPLIED = "Preference-Applied"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Preferences:
    code: int | None = None
    example: str | None = None
    delay_ms: int = 0

    @classmethod
    def parse(cls, value: str) -> Preferences:
        """``"code=404, delay=200"`` -> Preferences; the header's schema has checked the form."""
        pairs = dict(item.split("=", 1) for item in re.split(r" *[,;] *", value.strip()))
        return cls(
            code=int(pairs["code"]) if "code" in pairs else None,
            example=pairs.get("example"),
            delay_ms=int(pairs.get("delay", 0)),
        )

    def applied(self) -> str:
        forms = [("code", self.code), ("example", self.example), ("delay", self.delay_ms or None)]
        return ", ".join(f"{name}={value}" for name, value in forms if value is not None)


@dataclass(frozen=True)
class Documented:
    """One documented response: its named examples (in order) and its headers' examples."""

    examples: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Operation:
    name: str
    success: int
    responses: dict[int, Documented]


def documented_operations(spec: dict[str, Any]) -> dict[str, Operation]:
    """Each operationId -> its success status and documented responses."""

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            found: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                found = found[part]
            node = found
        return node

    def documented(response: dict[str, Any]) -> Documented:
        media = resolve(response).get("content", {}).get("application/json", {})
        named = {name: resolve(ex)["value"] for name, ex in media.get("examples", {}).items()}
        headers = {}
        for name, header in resolve(response).get("headers", {}).items():
            header = resolve(header)
            example = header.get("example", header.get("schema", {}).get("example"))
            if example is not None:
                headers[name] = str(example)
        return Documented(named, headers)

    table = {}
    for item in spec["paths"].values():
        for method in _HTTP_METHODS:
            if method in item:
                op = item[method]
                responses = {int(code): documented(r) for code, r in op["responses"].items()}
                success = min(code for code in responses if code < 300)
                table[op["operationId"]] = Operation(op["operationId"], success, responses)
    return table


class PreferMiddleware:
    """Applies ``Prefer`` to API operations; requests without it pass at the cost of one lookup."""

    def __init__(
        self,
        app: ASGIApp,
        spec: dict[str, Any],
        path_methods: Callable[[str], list[str]],
        handler_name: Callable[[str], str],
        header_schema: dict[str, Any],
    ) -> None:
        self.app = app
        self.header = Draft4Validator(header_schema)
        # Connexion's routing names an operation by the handler its operationId resolved to.
        operations = documented_operations(spec).values()
        self.operations = {handler_name(op.name): op for op in operations}
        self.path_methods = path_methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        value = _header(scope, b"prefer") if scope["type"] == "http" else None
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        operation = self.operations.get(routing.get("operation_id") or "")
        if value is None or operation is None:
            await self.app(scope, receive, send)
            return
        if not self.header.is_valid(value):
            message = f"{value[:100]!r} is not a list of code=N, example=NAME and delay=MS"
            raise InvalidInput(
                "The Prefer header is malformed.", [{"field": "Prefer", "message": message}]
            )
        wanted = Preferences.parse(value)
        canned = self.canned(operation, wanted, scope["path"])
        if wanted.delay_ms:
            await asyncio.sleep(wanted.delay_ms / 1000)
        applied = wanted.applied()
        if canned is None:
            await self.app(scope, receive, _with_header(send, APPLIED, applied))
            return
        status, body, headers = canned
        response = Response(
            json.dumps(body),
            status_code=status,
            headers={**headers, APPLIED: applied},
            media_type="application/json",
        )
        await response(scope, receive, send)

    def canned(
        self, operation: Operation, wanted: Preferences, path: str
    ) -> tuple[int, Any, dict[str, str]] | None:
        """The documented answer asked for, None to run the operation; InvalidInput if neither."""
        status = operation.success if wanted.code is None else wanted.code
        documented = operation.responses.get(status)
        problems = []
        if documented is None:
            codes = ", ".join(str(code) for code in sorted(operation.responses))
            problems.append(f"code={status}: {operation.name} documents only {codes}")
        elif wanted.example is not None and wanted.example not in documented.examples:
            names = ", ".join(documented.examples)
            problems.append(f"example={wanted.example}: the {status} answer has only {names}")
        if wanted.delay_ms > MAX_DELAY_MS:
            problems.append(f"delay={wanted.delay_ms}: the longest delay is {MAX_DELAY_MS} ms")
        if problems:
            raise InvalidInput(
                "The Prefer header asks for what this operation cannot give.",
                [{"field": "Prefer", "message": problem} for problem in problems],
            )
        assert documented is not None
        if wanted.example is None and status == operation.success:
            return None
        name = wanted.example or next(iter(documented.examples))
        body = documented.examples[name]
        return status, body, self._headers(documented, body, path)

    def _headers(self, documented: Documented, body: Any, path: str) -> dict[str, str]:
        headers = dict(documented.headers)
        if "Allow" in headers:
            headers["Allow"] = ", ".join(self.path_methods(path))
        link_id = body.get("data", {}).get("_id") if isinstance(body.get("data"), dict) else None
        if "Location" in headers and link_id:
            headers["Location"] = f"{path.rstrip('/')}/{link_id}"
        return headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _with_header(send: Send, name: str, value: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                *message.get("headers", []),
                (name.lower().encode(), value.encode()),
            ]
        await send(message)

    return sending
