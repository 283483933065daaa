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
import socket
import subprocess
import tempfile
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


@contextmanager
def cluster() -> Iterator[str]:
    """The URL of a fresh cluster's ``postgres`` database, for as long as the block runs."""
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    folder = Path(tempfile.mkdtemp(prefix="portal-mock-pg-"))
    data, port = folder / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = lambda *args: subprocess.run(_as_owner(list(args)), check=True, capture_output=True)  # noqa: E731
    try:
        run(_binary("initdb"), "-D", str(data), "-U", "portal", "-A", "trust", "-E", "UTF8",
            "--no-sync")  # fmt: skip
        # fsync off: a commit still reaches the kernel before it returns, which a
        # killed server process cannot lose; only a power cut could.
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off"
        run(_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
            "-w", "start")  # fmt: skip
        try:
            yield f"postgresql://portal@127.0.0.1:{port}/postgres"
        finally:
            run(_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(url: str) -> str:
    """A URL of the server at ``url`` that sees nothing but a new, empty schema: a store
    of its own for one test, at a fraction of the cost of a new database."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
