"""Where a request of each kind spends its time in our app, profiled in-process with pyinstrument.

    python bench/profiling.py      # writes bench/results/profile.md

The ASGI app runs in this process (no server, no sockets) over a store file
seeded with the 24 sample links, and each operation is sent many times so the
sampling profiler sees enough of it. Connexion runs synchronous handlers in a
thread pool, which a profiler of one thread cannot see into, so while
profiling the handlers are called inline; the ms/request column is timed
without that change, as the app is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame

import load
from data import SPEC, fixtures, write_store_snapshot

RESULTS = Path(__file__).resolve().parent / "results"
# Operation and how many requests to profile; create last, so the others see the 24 links.
RUNS = {"list": 200, "get": 600, "update": 400, "create": 400}
STORE, REQUEST, RESPONSE = "store", "request validation", "response validation"
SECURITY, JSON, HANDLER = "API key check", "JSON (de)serialisation", "handler"
LAYERS = "HTTP layers (Connexion, Starlette, the direct route)"
OTHER = "other (event loop, bench driver)"
CATEGORIES = (STORE, REQUEST, RESPONSE, SECURITY, JSON, HANDLER, LAYERS, OTHER)
DIRECT_CHECKS = {"_arguments": REQUEST, "_json_body": REQUEST, "_off_spec": RESPONSE}
STORE_FILES = ("/portal_mock/store/",)
STORE_FILES += ("/tinydb/", "/filelock/")
VALIDATION_FILES = ("/connexion/validators/", "/jsonschema/", "/portal_mock/validation.py")
Scope = dict[str, Any]
App = Callable[..., Any]


def category(current: str, frame: Frame) -> str:
    """The category of ``frame``'s time, given the category of its caller.

    Everything the store calls (JSON files included) is store time; response
    validation starts where Connexion's middleware wraps ``send``; the JSON
    module's time is serialisation wherever it is called from, including the
    re-parse of each response for its validation.
    """
    path = (frame.file_path or "").replace("\\", "/")
    if current == STORE or any(marker in path for marker in STORE_FILES):
        return STORE
    if "/json/" in path or path.endswith(("/connexion/jsonifier.py", "/portal_mock/jsonbody.py")):
        return JSON
    if path.endswith("/response_validation.py") and frame.function == "wrapped_send":
        return RESPONSE
    if path.endswith("/portal_mock/fast_path.py") and frame.function in DIRECT_CHECKS:
        return DIRECT_CHECKS[frame.function]
    if current == RESPONSE:
        return RESPONSE
    if any(marker in path for marker in VALIDATION_FILES):
        return REQUEST
    if path.endswith(("/connexion/security.py", "/portal_mock/auth.py")):
        return SECURITY
    if "/handlers/" in path or path.endswith("/portal_mock/credentials.py"):
        return HANDLER
    if current == OTHER and ("/connexion/" in path or "/starlette/" in path):
        return LAYERS
    return current


def tally(frame: Frame, current: str, totals: Counter[str], hot: Counter[str]) -> None:
    """Add each frame's own time (its time less its children's) to its category."""
    here = category(current, frame)
    own = frame.time - sum(child.time for child in frame.children)
    totals[here] += own
    # pyinstrument files a frame's own time under a synthetic "[self]" child.
    named = frame.parent if frame.is_synthetic and frame.parent else frame
    if own > 0:
        hot[f"{named.function} ({Path(named.file_path or '?').name})"] += own
    for child in frame.children:
        tally(child, here, totals, hot)


async def request(app: App, state: Scope, method: str, target: str, body: Any) -> int:
    """Send one request straight to the ASGI app; return its status."""
    path, _, query = target.partition("?")
    payload = b"" if body is None else json.dumps(body).encode()
    headers = [(b"host", b"127.0.0.1"), (b"x-api-key", b"dev-key")]
    if body is not None:
        headers += [(b"content-type", b"application/json")]
        headers += [(b"content-length", str(len(payload)).encode())]
    scope = {
        **{"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http"},
        **{"method": method, "path": path, "raw_path": path.encode(), "root_path": ""},
        **{"query_string": query.encode(), "headers": headers, "state": dict(state)},
        **{"client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)},
    }
    done = asyncio.Event()
    messages = [{"type": "http.request", "body": payload, "more_body": False}]
    status = 0

    async def receive() -> Scope:
        if messages:
            return messages.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Scope) -> None:
        nonlocal status
        status = message.get("status", status)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return status


@contextlib.asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[Scope]:
    """Run the app's lifespan (it opens and closes the store); yield its state."""
    state: Scope = {}
    inbox: asyncio.Queue[Scope] = asyncio.Queue()
    outbox: asyncio.Queue[Scope] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    try:
        yield state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def send_many(app: App, state: Scope, operation: str, count: int, first: int) -> None:
    target = load.Target("", load.SPEC_DIALECT, [link["_id"] for link in fixtures()])
    for seq in range(first, first + count):
        method, path, body = load.request_for(operation, target, seq)
        status = await request(app, state, method, path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}")


@contextlib.contextmanager
def handlers_inline() -> Any:
    """Call sync handlers in the event loop's thread, where the profiler can see them."""
    import connexion.decorators.main as decorators

    async def inline(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    original = decorators.run_in_threadpool
    decorators.run_in_threadpool = inline
    try:
        yield
    finally:
        decorators.run_in_threadpool = original


async def measure(app: App) -> dict[str, tuple[float, Counter[str], Counter[str]]]:
    """For each operation: ms/request as served, time per category and hot functions."""
    found = {}
    async with lifespan(app) as state:
        for n, (operation, count) in enumerate(RUNS.items()):
            first = n * 100_000
            await send_many(app, state, operation, count // 5, first)  # warm-up
            started = time.perf_counter()
            await send_many(app, state, operation, count, first + count)
            per_request = (time.perf_counter() - started) / count * 1000
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            with handlers_inline():
                profiler.start()
                await send_many(app, state, operation, count, first + 2 * count)
                profiler.stop()
            totals: Counter[str] = Counter()
            hot: Counter[str] = Counter()
            root = profiler.last_session.root_frame() if profiler.last_session else None
            if root is not None:
                tally(root, OTHER, totals, hot)
            found[operation] = (per_request, totals, hot)
    return found


def render(found: dict[str, tuple[float, Counter[str], Counter[str]]], info: dict[str, str]) -> str:
    lines = ["# Where a request's time goes", ""]
    lines += [f"- {key}: {info[key]}" for key in ("date", "commit", "python", "python packages")]
    lines += [
        "- data: the 24 sample links on a store file; requests as in the bench "
        f"({', '.join(f'{op} x{n}' for op, n in RUNS.items())})",
        "",
        "Share of each operation's profiled time (pyinstrument, in-process, no sockets). "
        "ms/request is timed in-process as served (handlers in the thread pool); "
        "HTTP parsing and the socket are not included.",
        "",
        "| operation | ms/request | " + " | ".join(CATEGORIES) + " |",
        "|---|--:|" + "--:|" * len(CATEGORIES),
    ]
    for operation, (per_request, totals, _) in found.items():
        whole = sum(totals.values()) or 1.0
        shares = " | ".join(f"{100 * totals[name] / whole:.0f}%" for name in CATEGORIES)
        lines.append(f"| {operation} | {per_request:.2f} | {shares} |")
    lines += ["", "Functions with the most own time, as a share of the operation's time:", ""]
    for operation, (_, totals, hot) in found.items():
        whole = sum(totals.values()) or 1.0
        top = ", ".join(f"{name} {100 * t / whole:.0f}%" for name, t in hot.most_common(6))
        lines.append(f"- **{operation}**: {top}")
    return "\n".join(lines) + "\n"


def write(workdir: Path) -> Path:
    """Profile the app over a fresh store in ``workdir``; write and return profile.md."""
    # As the CLI does: Connexion imports Starlette's test client, which warns.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import report
    from portal_mock.app import create_app
    from portal_mock.settings import Settings

    db = workdir / "profile.json"
    write_store_snapshot(db, fixtures())
    app = create_app(Settings(db=db, spec=SPEC, fixtures=None))
    found = asyncio.run(measure(app))
    path = RESULTS / "profile.md"
    RESULTS.mkdir(exist_ok=True)
    path.write_text(render(found, report.machine_info({})), encoding="utf-8")
    return path


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="portal-mock-profile-") as tmp:
        print(write(Path(tmp)).read_text(encoding="utf-8"))
