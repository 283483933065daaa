"""A direct route, built from the spec at start-up, for API requests that need no error.

Connexion's per-request machinery (its middleware chain, context locals,
parameter decorators and pure-Python checks) costs most of a request here
(bench/results/profile.md). This layer reads the same spec once: each
operation's path, parameters, body and response schemas, and its handler as
the resolver names it. A request it can answer in full (a known key, every
parameter and the body valid by the compiled schemas, no mock header) goes
straight to the handler, and its answer is checked against the documented
response before it is sent.

Anything else, above all every request that will be refused, is handed to
Connexion's stack unchanged (a body already read is replayed), so every error
keeps the one source it has always had. Nothing here decides that a request
is wrong: a doubt is a fallback, never an answer.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from connexion.context import _receive, _scope
from connexion.decorators.parameter import pythonic
from connexion.json_schema import Draft4ResponseValidator, format_error_with_path
from connexion.spec import Specification
from jsonschema import Draft4Validator
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_mock import errors, size_bounds, strict_json
from portal_mock.auth import key_accepted
from portal_mock.compiled_schemas import compiled_for, fill_defaults
from portal_mock.jsonbody import dumps
from portal_mock.store import StoreError
from portal_mock.strict_json import JsonLimits

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
# Request headers that ask for mock behaviour the full stack implements.
_MOCK_HEADERS = frozenset({b"prefer"})
_JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?")
_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class Parameter:
    name: str
    argument: str
    schema: dict[str, Any]
    is_array: bool
    item_type: str

    def parse(self, values: list[str]) -> Any:
        """The typed value of the query's raw values; None when it is not plainly valid."""
        if self.is_array:
            parts = [part for value in values for part in value.split(",")]
            items = [_typed(part, self.item_type) for part in parts]
            found: Any = None if any(item is None for item in items) else items
        else:
            found = _typed(values[0], self.item_type) if len(values) == 1 else None
        if found is None or not compiled_for(self.schema).is_valid(found):
            return None
        return found


@dataclass
class Operation:
    handler: Handler
    pattern: re.Pattern[str]
    path: list[Parameter]
    query: dict[str, Parameter]
    # Query parameters a request must send: one without them goes to Connexion (400).
    required: frozenset[str]
    defaults: dict[str, Any]
    # Headers only Connexion's stack can honour: a request that sends one goes there.
    header_names: frozenset[bytes]
    key_header: bytes | None
    body: dict[str, Any] | None
    # Each documented status: its body schema and the headers it must carry.
    responses: dict[int, tuple[dict[str, Any] | None, list[str]]] = field(default_factory=dict)


def _typed(raw: str, kind: str) -> Any:
    """A query string's value as the schema's type, only in its one plain spelling."""
    if kind == "string":
        return raw or None
    if kind == "integer":
        return int(raw) if _INTEGER.fullmatch(raw) else None
    if kind == "number":
        return float(raw) if _NUMBER.fullmatch(raw) else None
    if kind == "boolean":
        return _BOOLEANS.get(raw)
    return None


def _parameter(spec: dict[str, Any]) -> Parameter:
    schema = spec.get("schema", {})
    is_array = schema.get("type") == "array"
    item_type = (schema.get("items", {}) if is_array else schema).get("type", "")
    return Parameter(spec["name"], pythonic(spec["name"]), schema, is_array, item_type)


def _plain_array(spec: dict[str, Any]) -> bool:
    """Only form-style exploded arrays are read here, the one kind this spec uses."""
    return bool(spec.get("style", "form") == "form" and spec.get("explode", True))


def _operation(
    base: str, template: str, item: dict[str, Any], op: dict[str, Any], handler: Handler
) -> Operation | None:
    """The direct route of one operation, or None where only Connexion can serve it."""
    params = [*item.get("parameters", []), *op.get("parameters", [])]
    if any(
        p["in"] == "cookie"
        or (p["in"] == "query" and not _plain_array(p))
        or (p["in"] == "header" and p.get("required"))
        for p in params
    ):
        return None
    signature = inspect.signature(handler).parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature)
    accepted = {p.name for p in signature}
    query = {p["name"]: _parameter(p) for p in params if p["in"] == "query"}
    defaults = {
        pythonic(p["name"]): p["schema"]["default"]
        for p in params
        if p["in"] == "query" and "default" in p.get("schema", {})
    }
    content = op.get("requestBody", {}).get("content", {})
    if set(content) - {"application/json"}:
        return None
    body = content.get("application/json", {}).get("schema") if content else None
    wanted = {pythonic(p["name"]) for p in params if p["in"] in ("path", "query")}
    if body is not None:
        wanted.add("body")
    if not takes_any and not accepted >= wanted:
        return None
    pieces = re.split(r"\{[^/}]+\}", template)
    regex = "([^/]+)".join(re.escape(piece) for piece in pieces)
    found = Operation(
        handler=handler,
        pattern=re.compile(re.escape(base) + regex),
        path=[_parameter(p) for p in params if p["in"] == "path"],
        query=query,
        required=frozenset(p["name"] for p in params if p["in"] == "query" and p.get("required")),
        defaults=defaults,
        header_names=_MOCK_HEADERS
        | frozenset(p["name"].lower().encode() for p in params if p["in"] == "header"),
        key_header=None,
        body=body,
    )
    for status, response in op.get("responses", {}).items():
        if status.isdigit():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            required = [n for n, h in response.get("headers", {}).items() if h.get("required")]
            found.responses[int(status)] = (schema, required)
    return found


def _key_header(spec: dict[str, Any], op: dict[str, Any]) -> tuple[bool, bytes | None]:
    """(can serve, the API key header): one apiKey-in-header scheme, or no security at all."""
    requirements = op.get("security", spec.get("security", []))
    if not requirements:
        return True, None
    if len(requirements) != 1 or len(requirements[0]) != 1:
        return False, None
    scheme = spec["components"]["securitySchemes"][next(iter(requirements[0]))]
    if scheme.get("type") != "apiKey" or scheme.get("in") != "header":
        return False, None
    return True, str(scheme["name"]).lower().encode()


def direct_routes(
    spec: Specification, base: str, resolve: Callable[[str], Handler]
) -> dict[str, list[Operation]]:
    """Each method's direct routes, from the spec as Connexion resolved it."""
    routes: dict[str, list[Operation]] = {}
    for template, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters" or "operationId" not in op:
                continue
            servable, key_header = _key_header(spec.raw, op)
            found = _operation(base, template, item, op, resolve(op["operationId"]))
            if servable and found is not None:
                found.key_header = key_header
                routes.setdefault(method.upper(), []).append(found)
    return routes


class FastPathMiddleware:
    """Answers the API requests it can in full; hands every other one on, unchanged."""

    def __init__(
        self,
        app: ASGIApp,
        routes: dict[str, list[Operation]],
        keys: frozenset[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.routes = routes
        self.keys = keys
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for op in self.routes.get(scope["method"], ()):
                match = op.pattern.fullmatch(scope["path"])
                if match is not None:
                    await self._serve(op, match.groups(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, op: Operation, path: tuple[str, ...], scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = dict(scope["headers"])
        arguments = self._arguments(op, path, scope, headers)
        if arguments is None or (op.body is None and _has_body(headers)):
            await self.app(scope, receive, send)
            return
        if op.body is not None:
            raw = await _read_body(headers, receive, self.limit)
            if raw is not None:
                receive = _replay(raw, receive)
            body = _json_body(op.body, headers, raw, strict_json.limits_of(scope))
            if body is None:
                await self.app(scope, receive, send)
                return
            arguments["body"] = body
        # Handlers may still read Connexion's request context.
        _scope.set(scope)
        _receive.set(receive)
        status, payload, extra = await _answer(op, arguments)
        raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in extra.items()
        ]
        raw_headers += [(b"content-type", b"application/json")]
        raw_headers += [(b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})

    def _arguments(
        self, op: Operation, path: tuple[str, ...], scope: Scope, headers: dict[bytes, bytes]
    ) -> dict[str, Any] | None:
        """The handler's arguments, or None: anything not plainly valid goes the long way."""
        if len(headers) != len(scope["headers"]) or op.header_names & headers.keys():
            return None
        if op.key_header is not None and not key_accepted(
            self.keys, headers.get(op.key_header, b"").decode("latin-1")
        ):
            return None
        arguments = dict(op.defaults)
        for parameter, value in zip(op.path, path, strict=True):
            if (typed := parameter.parse([value])) is None:
                return None
            arguments[parameter.argument] = typed
        query = _query_arguments(op, scope["query_string"])
        return None if query is None else {**arguments, **query}


def _query_arguments(op: Operation, raw: bytes) -> dict[str, Any] | None:
    """The query's typed arguments; None for an unknown or missing name or a value in doubt."""
    text = raw.decode("latin-1")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        return None
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    if not op.required <= values.keys():
        return None
    arguments = {}
    for name, given in values.items():
        parameter = op.query.get(name)
        typed = None if parameter is None else parameter.parse(given)
        if parameter is None or typed is None:
            return None
        arguments[parameter.argument] = typed
    return arguments


def _has_body(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


async def _read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes | None:
    """The whole body, when its declared length is within the limit and it all arrives."""
    declared = headers.get(b"content-length", b"")
    if not declared.isdigit() or int(declared) > limit or b"transfer-encoding" in headers:
        return None
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    """A receive that gives ``raw`` once more, then whatever the client sends next."""
    pending = [{"type": "http.request", "body": raw, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _json_body(
    schema: dict[str, Any], headers: dict[bytes, bytes], raw: bytes | None, limits: JsonLimits
) -> Any:
    """The parsed body with its defaults, if it is JSON that the schema accepts."""
    if raw is None or headers.get(b"content-type", b"").lower() not in _JSON_TYPES:
        return None
    if len(raw) != int(headers[b"content-length"]):
        return None
    try:
        body = strict_json.loads(raw, limits)
    except ValueError:  # not JSON, or not I-JSON: Connexion's path says why
        return None
    fill_defaults(schema, body)
    if size_bounds.problems(schema, body) or not compiled_for(schema).is_valid(body):
        return None
    return body


async def _answer(op: Operation, arguments: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    """The handler's answer, encoded once it matches the operation's documented response."""
    try:
        if inspect.iscoroutinefunction(op.handler):
            result = await op.handler(**arguments)
        else:
            result = await run_in_threadpool(op.handler, **arguments)
    except StoreError as exc:
        return _error(errors.storage_error_handler(None, exc))
    except Exception as exc:  # noqa: BLE001 - every failure is a 500 in the envelope
        return _error(errors.unexpected_error_handler(None, exc))
    payload, status, *rest = result
    extra: dict[str, str] = rest[0] if rest else {}
    problem = _off_spec(op, status, payload, extra)
    if problem is None:
        return status, dumps(payload), extra
    # Logged as Connexion's response validation logs it; the client sees a plain 500.
    logger.error("Response body does not conform to specification: %s", problem)
    return _error(errors.error_response(500, errors.MESSAGES[500]))


def _off_spec(op: Operation, status: int, payload: Any, extra: dict[str, str]) -> str | None:
    """Why the answer breaks the operation's documented responses; None if it does not."""
    schema, required = op.responses.get(status, (None, None))
    lowered = {name.lower() for name in extra}
    if required is None:
        return f"{status} is not a documented status of {op.handler.__name__}."
    if missing := [name for name in required if name.lower() not in lowered]:
        return f"The {status} answer lacks its required header(s) {', '.join(missing)}."
    if schema is not None and not compiled_for(schema).is_valid(payload):
        return _refusal(schema, payload)
    return None


def _refusal(schema: dict[str, Any], payload: Any) -> str:
    """Connexion's own words for why ``payload`` breaks ``schema``."""
    validator = Draft4ResponseValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(payload):
        return f"{error.message}{format_error_with_path(exception=error)}"
    return "the compiled schema refuses it"


def _error(response: Any) -> tuple[int, bytes, dict[str, str]]:
    """An error envelope from errors.py, its own headers without the ones sent anyway."""
    extra = {
        name: value
        for name, value in (response.headers or {}).items()
        if name.lower() not in ("content-type", "content-length")
    }
    return response.status_code, response.body, extra
