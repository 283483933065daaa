"""The ``portal-mock`` command.

Exit codes: 0 ok, 1 findings (``contract`` found violations), 2 usage or environment error
(``contract``: also a target it cannot reach); ``contract`` interrupted by Ctrl-C: 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

import uvicorn

from portal_mock import __version__
from portal_mock.contract.settings import DEFAULT_MAX_EXAMPLES, build_contract_settings
from portal_mock.settings import DEV_KEY, Settings, build_settings
from portal_mock.store import store_name

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-mock",
        description="A stateful mock of the Workorder Portal Link API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the API from a TinyDB file or a shared PostgreSQL database",
        description="Serve the API. Every flag can also be set as PORTAL_MOCK_<FLAG>.",
    )
    serve.add_argument("--host", help="address to listen on [127.0.0.1]")
    serve.add_argument("--port", help="port to listen on, 0 for any free one [8080]")
    serve.add_argument(
        "--db",
        metavar="FILE|URL",
        help="TinyDB file, or postgresql://USER@HOST:PORT/DB to share one store "
        "[./portal-mock-db.json]",
    )
    serve.add_argument("--spec", metavar="FILE", help="OpenAPI document [the bundled spec]")
    fixtures = serve.add_mutually_exclusive_group()
    fixtures.add_argument(
        "--fixtures", metavar="FILE", help="links loaded into an empty store [bundled samples]"
    )
    fixtures.add_argument(
        "--no-fixtures",
        dest="fixtures",
        action="store_const",
        const="",
        help="start with an empty store",
    )
    serve.add_argument(
        "--api-key",
        dest="api_keys",
        metavar="KEY",
        action="append",
        help=f"accepted X-API-Key, repeatable; PORTAL_MOCK_API_KEY takes a comma list [{DEV_KEY}]",
    )
    serve.add_argument(
        "--keys",
        dest="keys_file",
        metavar="FILE",
        help="TOML file of keys, each scoped to company namespaces (PORTAL_MOCK_KEYS)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    _session_and_terminal_flags(serve)
    _browser_and_fault_flags(serve)
    _transport_flags(serve)
    _contract_parser(commands)
    _seed_parser(commands)
    _lint_parser(commands)
    _diff_parser(commands)
    from portal_mock.transfer import add_parsers as _transfer_parsers

    _transfer_parsers(commands)
    return parser


def _session_and_terminal_flags(serve: argparse.ArgumentParser) -> None:
    # A switch left unset is None, so that PORTAL_MOCK_<NAME>=1 can turn it on.
    switch: dict[str, Any] = {"action": "store_const", "const": True, "default": None}
    serve.add_argument(
        "--max-sessions", metavar="N", help="live X-Mock-Session stores at most, 0: none [100]"
    )
    serve.add_argument(
        "--reset", **switch, help="start from the fixtures again, whatever is stored"
    )
    serve.add_argument(
        "--quiet", **switch, help="no line per request (nor with --log-level warning and above)"
    )
    serve.add_argument(
        "--log-format", choices=["text", "json"], help="the line per request: text or json [text]"
    )
    serve.add_argument(
        "--reload", **switch, help="restart when the spec or the fixtures file changes"
    )
    serve.add_argument(
        "--workers",
        metavar="N",
        help="server processes sharing the store; more than 1 needs --db postgresql:// [1]",
    )


def _browser_and_fault_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        metavar="ORIGIN",
        action="append",
        help="origin a browser app may call from, repeatable; PORTAL_MOCK_CORS_ORIGIN takes a "
        "comma list [any, when listening on loopback; else http(s)://localhost and "
        "127.0.0.1, any port]",
    )
    serve.add_argument(
        "--no-cors", dest="cors", action="store_const", const=False, help="send no CORS headers"
    )
    serve.add_argument(
        "--latency",
        dest="latency_ms",
        metavar="MIN-MAX",
        help="add a random delay of MIN to MAX milliseconds to every API answer [none]",
    )
    serve.add_argument(
        "--fail-rate",
        metavar="P",
        help="answer this fraction of API requests with an injected 500 (503 on writes) [0]",
    )


def _transport_flags(serve: argparse.ArgumentParser) -> None:
    limits = Settings()
    for flag, unit, help_text in (
        ("--header-timeout", "SECONDS", "close a connection whose request head takes longer"),
        ("--body-timeout", "SECONDS", "close a connection whose request body takes longer"),
        ("--idle-timeout", "SECONDS", "close a keep-alive connection idle this long"),
        ("--max-header-bytes", "BYTES", "answer 400 to a request head larger than this"),
        ("--max-headers", "N", "answer 400 to a request with more header fields"),
    ):
        default = getattr(limits, flag[2:].replace("-", "_"))
        serve.add_argument(flag, metavar=unit, help=f"{help_text} [{default:g}]")


def _lint_parser(commands: Any) -> None:
    from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC

    lint = commands.add_parser(
        "lint",
        help="check an OpenAPI document: valid, handlers, error statuses, examples",
        description="Check the spec, each finding with its file, line and rule; "
        "exit 0 clean, 1 findings, 2 unreadable.",
    )
    lint.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC), help="[the bundled spec]")
    lint.add_argument(
        "--fixtures",
        default=str(DEFAULT_FIXTURES),
        metavar="FILE",
        help="links that must validate against the spec's link schema [the bundled fixtures]",
    )
    lint.add_argument("--format", choices=["text", "json"], default="text")


def _diff_parser(commands: Any) -> None:
    diff = commands.add_parser(
        "diff",
        help="what a new version of the spec breaks, for clients and for stored links",
        description="Compare two versions of the spec, each a file or git:REF:PATH; list each "
        "breaking and compatible change with its file, line and rule, and with --db or "
        "--fixtures the links the new version makes invalid. Exit 0 when nothing breaks, "
        "1 when something does, 2 when a side cannot be read.",
    )
    diff.add_argument("old", metavar="OLD", help="the version clients use now")
    diff.add_argument("new", metavar="NEW", help="the edited version")
    diff.add_argument(
        "--db", action="append", default=[], metavar="FILE", help="a store file to check"
    )
    diff.add_argument(
        "--fixtures", action="append", default=[], metavar="FILE", help="fixtures to check"
    )
    diff.add_argument("--format", choices=["text", "json"], default="text")


def _seed_parser(commands: Any) -> None:
    seed = commands.add_parser(
        "seed",
        help="add generated links to a stopped store",
        description=(
            "Add COUNT realistic links, made with Faker from the spec's schemas, to the store. "
            "The same --seed gives the same links. The store must not be in use: to seed a "
            "running mock, use POST /__mock/seed. Exit 0: added, 2: usage error or store in use."
        ),
    )
    seed.add_argument("--count", metavar="N", required=True, help="how many links to add")
    seed.add_argument("--seed", metavar="S", help="seed for the same links again [random]")
    seed.add_argument("--db", metavar="FILE", help="TinyDB file [./portal-mock-db.json]")
    seed.add_argument("--spec", metavar="FILE", help="OpenAPI document [the bundled spec]")


def _contract_parser(commands: Any) -> None:
    contract = commands.add_parser(
        "contract",
        help="test a deployment (or the built-in mock) against the spec",
        description=(
            "Run Schemathesis (every phase, every check) plus this API's own contract checks "
            "against URL, or against the built-in mock when no URL is given. Every flag can "
            "also be set as PORTAL_MOCK_CONTRACT_<FLAG>. Exit 0: no violations, 1: violations "
            "found, 2: usage error or target unreachable."
        ),
    )
    contract.add_argument("--url", help="base URL of the deployment [the built-in mock]")
    contract.add_argument("--api-key", metavar="KEY", help=f"sent as X-API-Key [{DEV_KEY}]")
    contract.add_argument(
        "--tenant-key", metavar="KEY", help="another company's key: check tenant isolation too"
    )
    contract.add_argument(
        "--namespace", metavar="NS", help="a namespace of --api-key [found from its links]"
    )
    contract.add_argument(
        "--tenant-namespace", metavar="NS", help="a namespace of --tenant-key [found likewise]"
    )
    contract.add_argument("--spec", metavar="FILE", help="OpenAPI document [the bundled spec]")
    contract.add_argument("--max-time", metavar="SECONDS", help="stop after this long [no limit]")
    contract.add_argument(
        "--workers", metavar="N", help="concurrent Schemathesis workers [1; see README]"
    )
    contract.add_argument("--report", metavar="junit,har,vcr", help="reports to write [none]")
    contract.add_argument("--report-dir", metavar="DIR", help="where reports go [./reports]")
    contract.add_argument("--seed", metavar="N", help="seed for reproducible cases [random]")
    contract.add_argument(
        "--max-examples",
        metavar="N",
        help=f"examples per operation and phase [{DEFAULT_MAX_EXAMPLES}]",
    )
    contract.add_argument(
        "--max-failures", metavar="N", help="stop after N failing test cases [no limit]"
    )
    contract.add_argument(
        "--phases", metavar="LIST", help="comma list of examples,coverage,fuzzing,stateful [all]"
    )
    contract.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="send no write: no seeding, only the GET operations [off]",
    )
    contract.add_argument(
        "--operation",
        metavar="OPERATION_ID",
        action="append",
        help="test only this operation, repeatable [all]",
    )


def contract(flags: dict[str, Any], environ: Mapping[str, str]) -> int:
    try:
        settings = build_contract_settings(flags, environ)
    except ValueError as exc:
        print(f"portal-mock contract: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from portal_mock.contract.runner import run_contract

    return run_contract(settings)


def _announce(settings: Settings, host: str, port: int, workers: Sequence[int] = ()) -> None:
    base = f"http://{host}:{port}"
    print(f"portal-mock {__version__} listening on {base}", flush=True)
    print(f"  store:      {store_name(settings.db)}")
    if workers:
        print(f"  workers:    {len(workers)} (pids {', '.join(map(str, workers))})")
    print(f"  spec:       {settings.spec.resolve()} (served at {base}/openapi.json)")
    print(f"  swagger ui: {base}/ui/")
    print(f"  controls:   {base}/__mock/ (spec at {base}/__mock/openapi.json)")
    if settings.uses_dev_key:
        print(f"  api key:    none configured, accepting the development key '{DEV_KEY}'")
    else:
        scoped = f", and the keys of {settings.keys_file}" if settings.keys_file else ""
        print(f"  api keys:   {len(settings.api_keys)} for every namespace{scoped}")
    print(f"  cors:       {_cors_line(settings)}")
    if settings.latency_ms != (0, 0) or settings.fail_rate:
        low, high = settings.latency_ms
        print(f"  faults:     latency {low}-{high} ms, fail rate {settings.fail_rate:g}")
    print("Press Ctrl-C to stop.", flush=True)


def _cors_line(settings: Settings) -> str:
    from portal_mock.cors import origin_rules

    if not settings.cors:
        return "off (--no-cors)"
    origins, regex = origin_rules(settings.host, settings.cors_origins)
    if regex:
        return "pages served from this machine (localhost, 127.0.0.1), any port"
    return "any origin" if origins == ["*"] else ", ".join(origins)


class _Server(uvicorn.Server):
    """Announces the address only once it is accepting and handles SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce
        self._stopping_since = 0.0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn records the signal and raises it again once it has shut down,
        # which ends the process with -SIGTERM or a KeyboardInterrupt traceback;
        # a clean stop here exits 0. A second Ctrl-C forces the exit, unless it
        # is the same keypress delivered twice (the terminal's and tox's copy).
        now = time.monotonic()
        if self.should_exit and sig == signal.SIGINT and now - self._stopping_since > 0.5:
            self.force_exit = True
        if not self.should_exit:
            self._stopping_since = now
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._announce()


def serve(settings: Settings, log_level: str) -> int:
    try:
        sock = socket.create_server((settings.host, settings.port))
    except OSError as exc:
        print(
            f"portal-mock: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr
        )
        return EXIT_USAGE
    run = serve_on if settings.workers == 1 else serve_workers_on
    if settings.reload:
        from portal_mock.reload import serve_with_reload

        return serve_with_reload(settings, log_level, sock, run)
    return run(settings, log_level, sock)


def _collect_old_objects_rarely() -> None:
    """Collect the oldest generation a hundred times less often than Python does.

    A served store is long-lived objects without cycles; each full collection
    walks the containers that hold them, 15 to 25 ms at 30,000 links, in the
    middle of requests, and under write load they came once a second. Young
    objects are still collected as often as ever.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old * 100)


def serve_on(settings: Settings, log_level: str, sock: socket.socket) -> int:
    """Serve on the listening ``sock`` until SIGINT or SIGTERM (the --reload child runs this)."""
    host, port = sock.getsockname()[:2]
    code = run_server(settings, log_level, sock, lambda: _announce(settings, host, port))
    if code == EXIT_OK:
        print("portal-mock stopped.", flush=True)
    return code


def serve_workers_on(settings: Settings, log_level: str, sock: socket.socket) -> int:
    """Serve with ``settings.workers`` processes on ``sock`` (portal_mock.workers)."""
    from portal_mock.workers import serve_workers

    host, port = sock.getsockname()[:2]
    code = serve_workers(
        settings, log_level, sock, run_server, lambda pids: _announce(settings, host, port, pids)
    )
    if code == EXIT_OK:
        print("portal-mock stopped.", flush=True)
    return code


def run_server(
    settings: Settings, log_level: str, sock: socket.socket, announce: Callable[[], None]
) -> int:
    """One server process on ``sock``; ``announce`` once it accepts connections."""
    # Start-up makes hundreds of thousands of objects that live as long as the
    # server (modules, the specs, the store): collecting while it runs finds no
    # garbage, only costs, so the collector waits until all is built.
    gc.disable()
    from portal_mock.app import create_app
    from portal_mock.transport_limits import guarded_protocol, transport_limits

    if log_level not in ("info", "debug"):
        # The line per request is an info message, as uvicorn's access log was.
        settings = dataclasses.replace(settings, quiet=True)
    try:
        app = create_app(settings)
    except Exception as exc:  # noqa: BLE001 - any start-up failure (YAML, spec, fixtures, store) is one line and exit 2
        sock.close()
        print(f"portal-mock: cannot start: {exc}", file=sys.stderr)
        return EXIT_USAGE
    gc.freeze()
    gc.enable()
    _collect_old_objects_rarely()
    # The app writes its own line per request (portal_mock.requestlog), keys never in it.
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        http=guarded_protocol(transport_limits(settings)),
    )
    # uvicorn handles SIGINT and SIGTERM itself: it stops accepting, finishes
    # the requests in flight, runs the lifespan shutdown (closing the store).
    _Server(config, announce).run(sockets=[sock])
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    # Both commands import Connexion lazily, after this: it imports Starlette's
    # test client, which warns that it wants httpx2, and a user has nothing to
    # act on there.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    if args.command == "contract":
        return contract(vars(args), os.environ)
    if args.command == "lint":
        from portal_mock.spec_tools.lint import command

        return command(args)
    if args.command == "diff":
        from portal_mock.spec_tools.diff import command as diff_command

        return diff_command(args)
    if args.command in ("export", "import"):
        from portal_mock.transfer import command as transfer_command

        return transfer_command(args)
    if args.command == "seed":
        from portal_mock.seed_command import seed

        return seed(vars(args), os.environ)
    try:
        settings = build_settings(vars(args), os.environ)
    except ValueError as exc:
        print(f"portal-mock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return serve(settings, args.log_level)


if __name__ == "__main__":
    sys.exit(main())
