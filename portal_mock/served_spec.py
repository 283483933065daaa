"""Serves the spec as written at /openapi.json and /openapi.yaml, its $refs kept."""

from __future__ import annotations

import json
from typing import Any

import yaml
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class SpecAsWrittenMiddleware:
    """Answers GET ``{base}/openapi.json`` and ``.yaml`` with the spec file's own document.

    Connexion serves the spec with every ``$ref`` inlined. Code generators name
    their types after the components a ``$ref`` points to, so the inlined copy
    gave openapi-python-client 345 models named after response codes, and
    object models where the spec says string (docs/code-generators.md). Only
    ``servers`` changes: it is the address the spec was asked for at, so a
    client and the Swagger UI call the server that served it, and the UI's
    server box shows that address rather than an empty entry.
    """

    def __init__(self, app: ASGIApp, spec: dict[str, Any], base_path: str) -> None:
        self.app = app
        self.spec = spec
        self.base_path = base_path
        self.paths = {f"{base_path}/openapi.json": "json", f"{base_path}/openapi.yaml": "yaml"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self.paths.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        document = {**self.spec, "servers": [{"url": address(scope) + self.base_path}]}
        if kind == "json":
            # default=str: YAML reads an unquoted date as a date object.
            response = Response(json.dumps(document, default=str), media_type="application/json")
        else:
            response = Response(yaml.safe_dump(document, sort_keys=False), media_type="text/yaml")
        await response(scope, receive, send)


def address(scope: Scope) -> str:
    """``scheme://host[:port][root_path]`` of the request, as its client addressed it."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
    if host is None:
        server_host, port = scope.get("server") or ("localhost", 80)
        host = f"{server_host}:{port}"
    root = str(scope.get("root_path", "")).rstrip("/")
    return f"{scope.get('scheme', 'http')}://{host}{root}"
