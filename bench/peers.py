"""Start, watch and stop the servers under test: our mock, Prism's mock and json-server.

Every server listens on 127.0.0.1 on a free port, writes its output to a log
file in the run's work folder, runs in its own session (so a Ctrl-C reaches
only the bench, which then stops it) and is stopped by PID, together with any
process it started, however the run ends. Given a core, a server is started
under ``taskset``, so it and every process or thread it starts stay on that core.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from data import API_KEY, COLLECTION, SPEC

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
NPM_PEERS = {"@stoplight/prism-cli": "5.14.2", "json-server": "0.17.4"}
START_TIMEOUT = 600.0
_LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")


def npm_versions() -> dict[str, str]:
    """The installed version of each npm peer, or ``missing``."""
    versions = {}
    for name in NPM_PEERS:
        manifest = PEERS_DIR / "node_modules" / name / "package.json"
        installed = json.loads(manifest.read_text()) if manifest.is_file() else {}
        versions[name] = installed.get("version", "missing")
    return versions


def install_npm_peers() -> dict[str, str]:
    """Install the pinned npm peers into ``bench/.peers`` unless they are there already."""
    if npm_versions() != NPM_PEERS:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not on PATH")
        specs = [f"{name}@{version}" for name, version in NPM_PEERS.items()]
        flags = ["--no-audit", "--no-fund", "--save-exact"]
        command = [npm, "install", "--prefix", str(PEERS_DIR), *flags, *specs]
        subprocess.run(command, check=True, timeout=600, stdout=subprocess.DEVNULL)
    return npm_versions()


def pinned(command: list[str], core: int | None) -> list[str]:
    """``command`` run under ``taskset -c core`` (its children inherit the core), or as is."""
    if core is None:
        return command
    taskset = shutil.which("taskset")
    if taskset is None:
        raise RuntimeError("taskset is not on PATH (Debian: apt-get install util-linux)")
    return [taskset, "-c", str(core), *command]


def free_port() -> int:
    # Another process could take the port before the peer binds it; on a
    # bench machine that race is rare, and the start-up check catches it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class MemorySampler(threading.Thread):
    """Tracks the peak memory of a process and all its descendants, as PSS.

    PSS (proportional set size) counts a page shared by n processes as 1/n
    of it in each: a forked snapshot writer shares the server's pages until
    either changes them, and summed RSS counted those pages twice. Where the
    platform has no PSS, RSS. ``peak_rss`` covers the whole life of the
    process; ``window_peak`` only the time since the last ``start_window()``.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak_rss = 0
        self.window_peak = 0

    def tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self._root, *self._root.children(recursive=True)]
        return []

    def sample(self) -> None:
        total = 0
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                total += _memory(process)
        self.peak_rss = max(self.peak_rss, total)
        self.window_peak = max(self.window_peak, total)

    def start_window(self) -> None:
        self.window_peak = 0
        self.sample()

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far by the whole tree."""
        total = 0.0
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()


def _memory(process: psutil.Process) -> int:
    if sys.platform == "linux":
        return int(process.memory_full_info().pss)
    return int(process.memory_info().rss)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""
    memory: MemorySampler = field(init=False)

    def __post_init__(self) -> None:
        self.memory = MemorySampler(self.process.pid)
        self.memory.start()


def _wait_for_banner(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline and server.process.poll() is None:
        found = _LISTENING.search(server.log.read_bytes())
        if found:
            server.url = found.group(1).decode()
            return
        time.sleep(0.05)
    _failed(server)


def _wait_for_http(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline and server.process.poll() is None:
        probe = urllib.request.Request(f"{server.url}/{COLLECTION}", headers={"X-API-Key": API_KEY})
        try:
            urllib.request.urlopen(probe, timeout=5).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    _failed(server)


def _failed(server: Server) -> None:
    # The log lives in the run's temporary folder, gone once the run ends.
    tail = server.log.read_text(errors="replace").strip().splitlines()[-5:]
    raise RuntimeError(f"{server.name} did not start:\n  " + "\n  ".join(tail))


def stop(server: Server) -> None:
    """Stop the server's process tree by PID: SIGTERM to each, SIGKILL to any left after 10 s."""
    server.memory.sample()
    server.memory.stop()
    processes = server.memory.tree()
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=10)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    server.process.wait(timeout=10)


@contextlib.contextmanager
def serving(
    name: str,
    command: list[str],
    workdir: Path,
    wait: Callable[[Server, float], None],
    core: int | None = None,
) -> Iterator[Server]:
    """Run ``command`` (on ``core``) until the block ends, however it ends; yield it answering."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            pinned(command, core),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, log)
    try:
        wait(server, time.monotonic() + START_TIMEOUT)
        yield server
    finally:
        stop(server)


def _compile_like_an_install() -> None:
    """Write our modules' bytecode, as pip does when it installs the package: a checkout
    run with PYTHONDONTWRITEBYTECODE set (as CI images often are) otherwise compiles
    every module from source at each start, a tenth of a second of it here."""
    import compileall

    import handlers
    import portal_mock

    for package in (portal_mock, handlers):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def ours(
    db: Path, workdir: Path, core: int | None = None
) -> contextlib.AbstractContextManager[Server]:
    """Our mock on the store file ``db``, as ``portal-mock serve`` runs it, without access log."""
    _compile_like_an_install()
    command = [sys.executable, "-m", "portal_mock", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--db", str(db), "--spec", str(SPEC), "--no-fixtures", "--log-level", "warning"]
    return serving("ours", command, workdir, _wait_for_banner, core)


def _wait_for_http_at(port: int) -> Callable[[Server, float], None]:
    def wait(server: Server, deadline: float) -> None:
        server.url = f"http://127.0.0.1:{port}"
        _wait_for_http(server, deadline)

    return wait


def _node_peer(
    name: str, command: list[str], workdir: Path, core: int | None
) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    command = [*command, "--port", str(port)]
    return serving(name, command, workdir, _wait_for_http_at(port), core)


def prism(workdir: Path, core: int | None = None) -> contextlib.AbstractContextManager[Server]:
    """Prism's static mock of the same spec; request log at warnings only, like ours."""
    binary = PEERS_DIR / "node_modules" / ".bin" / "prism"
    command = [str(binary), "mock", str(SPEC), "--host", "127.0.0.1", "--verboseLevel", "warn"]
    return _node_peer("prism", command, workdir, core)


def json_server(
    db: Path, workdir: Path, core: int | None = None
) -> contextlib.AbstractContextManager[Server]:
    """json-server 0.17 on ``db`` with ``_id`` as its id field and no request log."""
    binary = PEERS_DIR / "node_modules" / ".bin" / "json-server"
    command = [str(binary), str(db), "--host", "127.0.0.1", "--id", "_id", "--quiet"]
    return _node_peer("json-server", command, workdir, core)
