"""The app factory: the spec, the handlers, the store and the error envelope, wired by Connexion."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException

from portal_mock import checked_specs, errors, spec_fit
from portal_mock.auth import api_key_handler
from portal_mock.body_limit import BodyLimitMiddleware
from portal_mock.cors import PathCORSMiddleware, origin_rules
from portal_mock.fast_path import FastPathMiddleware, direct_routes
from portal_mock.faults import FaultMiddleware
from portal_mock.fixtures import read_fixtures
from portal_mock.jsonbody import OrjsonText
from portal_mock.key_scopes import key_scopes
from portal_mock.paths import DEFAULT_CONTROLS_SPEC, HANDLER_MODULE
from portal_mock.prefer import PreferMiddleware
from portal_mock.requestlog import RequestLog, RequestLogMiddleware, printer
from portal_mock.response_check import CompiledResponseValidator
from portal_mock.served_spec import SpecAsWrittenMiddleware
from portal_mock.sessions import sessions_for
from portal_mock.settings import DEV_KEY, Settings
from portal_mock.store import LinkStore, StoreError, is_shared, open_store
from portal_mock.swagger_page import SwaggerPageMiddleware
from portal_mock.validation import BodyValidator, ParameterChecker

VALIDATORS = {
    "body": {"application/json": BodyValidator},
    "parameter": ParameterChecker,
    "response": {"application/json": CompiledResponseValidator},
}
CONTROLS_PACKAGE = "portal_mock.controls.handlers"


def handler_name(operation_id: str, package: str = HANDLER_MODULE) -> str:
    """``listWorkorderPortalLinks`` -> ``handlers.links.list_workorder_portal_links``."""
    return f"{package}.{re.sub(r'(?<!^)(?=[A-Z])', '_', operation_id).lower()}"


class HandlerResolver(Resolver):
    """Resolves each operationId to its snake_case handler; a missing one fails at start-up."""

    def __init__(self, package: str = HANDLER_MODULE) -> None:
        super().__init__()
        self.package = package

    def resolve_operation_id(self, operation: Any) -> str:
        return handler_name(operation.operation_id, self.package)


# libyaml's parser where PyYAML was built with it (its wheels are): the pure
# Python one took a quarter of a second of every start-up on the two specs.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_spec(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=_SAFE_LOADER)
    return spec


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def base_path(spec: dict[str, Any]) -> str:
    """The path of the spec's first server, where Connexion serves the API."""
    url = str(spec.get("servers", [{}])[0].get("url", ""))
    return urlparse(url).path.rstrip("/")


def method_table(spec: dict[str, Any]) -> Callable[[str], list[str]]:
    """A lookup from a request path to the methods the spec defines for it."""
    base = base_path(spec)
    table = [
        (
            re.compile("^" + base + re.sub(r"\{[^/}]+\}", "[^/]+", template) + "/?$"),
            [method.upper() for method in HTTP_METHODS if method in item],
        )
        for template, item in spec["paths"].items()
    ]

    def allowed(path: str) -> list[str]:
        return next((methods for pattern, methods in table if pattern.match(path)), [])

    return allowed


def key_header(spec: dict[str, Any]) -> str:
    """The header of the spec's apiKey scheme (``X-API-Key``), lower case as ASGI gives it."""
    for scheme in spec.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            return str(scheme["name"]).lower()
    return "x-api-key"


def shared_journal(store: Any) -> Any:
    """The request journal every worker of a PostgreSQL ``store`` shares; None for a file."""
    if not is_shared(store):
        return None
    from portal_mock.store.postgres_state import RequestJournal

    return RequestJournal(store)


def create_app(
    settings: Settings, store: LinkStore | None = None, seed: bool | None = None
) -> AsyncApp:
    """Build the mock for ``settings``; a given ``store`` is used as it is and left open.

    ``seed``: load the fixtures into an empty store (all of it with ``--reset``);
    by default only into a store the app opens itself. The workers of
    ``serve --workers`` never do: their supervisor did, once, before any served.
    """
    owned = store is None
    seed = owned if seed is None else seed
    link_store: LinkStore | None = store
    requests = RequestLog()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        assert link_store is not None
        # Over a store file, sessions live as long as this run of the server; over
        # PostgreSQL, they, the snapshots and the request journal are the database's.
        sessions = sessions_for(link_store, samples or [], settings.max_sessions)
        journal = shared_journal(link_store)
        requests.share(journal)
        yield {
            "store": link_store,
            "sessions": sessions,
            "requests": requests,
            "api_spec": spec,
            "keys": keys,
            "key_header": key_header(spec),
            "field_filters": field_filters,
        }
        if journal is not None:
            journal.close()
        if owned:
            link_store.close()

    checked_specs.install()
    spec = load_spec(settings.spec)
    # An edit to the spec the mock cannot follow stops it here, with the reason.
    field_filters = spec_fit.check(spec)
    controls = load_spec(DEFAULT_CONTROLS_SPEC)
    keys = key_scopes(settings.api_keys, settings.keys_file, DEV_KEY)
    app = AsyncApp(
        __name__,
        lifespan=lifespan,
        jsonifier=Jsonifier(OrjsonText),
        security_map={"apiKey": api_key_handler(keys.keys)},
    )
    # The controls go first: the API's base path "" would also match /__mock/.
    app.add_api(
        controls,
        base_path="/__mock",
        resolver=HandlerResolver(CONTROLS_PACKAGE),
        strict_validation=True,
        validate_responses=True,
        validator_map=VALIDATORS,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    app.add_api(
        spec,
        resolver=HandlerResolver(),
        strict_validation=True,
        validate_responses=True,
        pythonic_params=True,
        validator_map=VALIDATORS,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    app.add_middleware(
        BodyLimitMiddleware, MiddlewarePosition.BEFORE_SWAGGER, limit=settings.max_body_bytes
    )
    app.add_middleware(
        SpecAsWrittenMiddleware,
        MiddlewarePosition.BEFORE_SWAGGER,
        spec=spec,
        base_path=base_path(spec),
    )
    app.add_middleware(
        SwaggerPageMiddleware,
        MiddlewarePosition.BEFORE_SWAGGER,
        pages={
            f"{base_path(spec)}/ui/": (spec["info"]["title"], f"{base_path(spec)}/openapi.json"),
            "/__mock/ui/": (controls["info"]["title"], "/__mock/openapi.json"),
        },
        scheme=next(iter(spec["components"]["securitySchemes"])),
        key=DEV_KEY if settings.uses_dev_key else None,
    )
    app.add_error_handler(ProblemException, errors.problem_handler)
    app.add_middleware(
        RequestLogMiddleware,
        MiddlewarePosition.BEFORE_EXCEPTION,
        log=requests,
        show=None if settings.quiet else printer(settings.log_format),
    )
    api_methods, control_methods = method_table(spec), method_table(controls)
    app.add_error_handler(
        HTTPException,
        errors.http_exception_handler(lambda path: api_methods(path) or control_methods(path)),
    )
    if settings.cors:
        # Before Connexion's exception middleware, so that its errors carry the headers too.
        origins, origin_regex = origin_rules(settings.host, settings.cors_origins)
        app.add_middleware(
            PathCORSMiddleware,
            MiddlewarePosition.BEFORE_EXCEPTION,
            path_methods=lambda path: api_methods(path) or control_methods(path),
            origins=origins,
            origin_regex=origin_regex,
        )
    if settings.latency_ms == (0, 0) and not settings.fail_rate:
        # Inside the request log and CORS, so that a direct answer is logged and
        # carries CORS headers like any other; faults apply only on the long way.
        resolver = HandlerResolver()
        app.add_middleware(
            FastPathMiddleware,
            MiddlewarePosition.BEFORE_EXCEPTION,
            routes=direct_routes(
                # The API's specification as Connexion loaded and validated it.
                app.middleware.apis[-1].specification,
                base_path(spec),
                lambda operation_id: resolver.resolve_function_from_operation_id(
                    handler_name(operation_id)
                ),
            ),
            keys=keys.keys,
            max_body_bytes=settings.max_body_bytes,
        )
    # After validation: a canned answer is the spec's example, checked like any answer.
    app.add_middleware(
        PreferMiddleware,
        MiddlewarePosition.BEFORE_CONTEXT,
        spec=spec,
        path_methods=api_methods,
        handler_name=handler_name,
        header_schema=controls["components"]["parameters"]["Prefer"]["schema"],
    )
    if settings.latency_ms != (0, 0) or settings.fail_rate:
        # Before security, so that a refused request is slowed as much as an accepted one.
        app.add_middleware(
            FaultMiddleware,
            MiddlewarePosition.BEFORE_SECURITY,
            latency_ms=settings.latency_ms,
            fail_rate=settings.fail_rate,
        )
    app.add_error_handler(StoreError, errors.storage_error_handler)
    app.add_error_handler(Exception, errors.unexpected_error_handler)
    # The store is opened last: a spec or fixtures file that fails to load
    # leaves no store file open behind it.
    samples = read_fixtures(settings.fixtures) if settings.fixtures else None
    link_store = open_store(settings.db) if link_store is None else link_store
    if seed and (settings.reset or (samples is not None and link_store.count() == 0)):
        link_store.reset(samples)
    return app
