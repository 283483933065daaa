"""A throwaway PostgreSQL cluster for the tests, or the server PORTAL_MOCK_TEST_PG names.

initdb and pg_ctl (Debian's ``postgresql`` package) make a cluster in a
temporary folder, listening on 127.0.0.1 at a free port; it is stopped and
removed afterwards. PostgreSQL refuses to run as root, so under root (as CI
runs) it runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "PORTAL_MOCK_TEST_PG"


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"{name} not found: install PostgreSQL (Debian: apt-get install "
                           f"postgresql) or set {ENV} to a server's URL")  # fmt: skip
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class LocalCluster:
    """A cluster of this machine in a temporary folder, which a test may kill and start again."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="portal-mock-pg-"))
        self.data, self.port = self.folder / "data", _free_port()
        self.url = f"postgresql://portal@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(_binary("initdb"), "-D", str(self.data), "-U", "portal", "-A", "trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    @staticmethod
    def _run(*args: str) -> None:
        subprocess.run(_as_owner(list(args)), check=True, capture_output=True)

    def start(self) -> None:
        # fsync off: a commit still reaches the kernel before it returns, which a
        # killed server process cannot lose; only a power cut could.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "start")  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the server's postmaster, as a crash would end it; its backends follow."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def cluster() -> Iterator[str]:
    """The URL of a fresh cluster's ``postgres`` database, for as long as the block runs."""
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    local = LocalCluster()
    try:
        local.start()
        yield local.url
    finally:
        local.remove()


def fresh_database(url: str) -> str:
    """A URL of the server at ``url`` that sees nothing but a new, empty schema: a store
    of its own for one test, at a fraction of the cost of a new database."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
