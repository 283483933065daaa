"""The deployment under test: the built-in mock on a free port, and whether a target answers."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from portal_mock.app import create_app
from portal_mock.paths import DEFAULT_FIXTURES
from portal_mock.settings import Settings

START_TIMEOUT = 30.0


class TargetError(Exception):
    """The target cannot be tested: the built-in mock did not start."""


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the ASGI ``app`` on a free port of ``host`` in a thread; yield its base URL.

    The socket is bound before the server starts, so the port is known and
    nobody else can take it in between. Leaving the block stops the server
    (running the app's lifespan shutdown) and waits for the thread.
    """
    sock = socket.create_server((host, 0))
    port = sock.getsockname()[1]
    # "error": a probe of malformed requests would otherwise log a warning per request.
    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"mock-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise TargetError(f"the server on {host}:{port} did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        sock.close()


@contextlib.contextmanager
def built_in_mock(spec: Path, api_key: str) -> Iterator[str]:
    """The mock with the sample links, over a store in a temporary directory; yield its URL."""
    with tempfile.TemporaryDirectory(prefix="portal-mock-contract-") as tmp:
        settings = Settings(
            host="127.0.0.1",
            port=0,
            db=Path(tmp) / "links.json",
            spec=spec,
            fixtures=DEFAULT_FIXTURES,
            api_keys=(api_key,),
        )
        try:
            app = create_app(settings)
        except Exception as exc:  # YAML, spec, fixtures, store: any failure is one message
            raise TargetError(f"cannot start the built-in mock: {exc}") from exc
        with serve_in_thread(app) as url:
            yield url


def reachability_problem(url: str, header: str, api_key: str, timeout: float = 10.0) -> str | None:
    """Why ``url`` cannot be tested with this key (unreachable, key refused), or None.

    ``url`` is the address of one GET operation; any HTTP answer but 401 will do.
    """
    request = urllib.request.Request(url, headers={header: api_key})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 401:
            return f"{url} refused the API key (401): pass the key it expects with --api-key"
        return None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"cannot reach {url}: {reason}"
