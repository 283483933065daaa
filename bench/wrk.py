"""The native load generator: wrk on a core of its own, sending requests the bench computed.

At a few thousand requests a second a Python load generator can become the
bottleneck, so the side by side drives load with wrk (Debian's package). For
each run the bench writes a Lua script that holds that run's requests, built
by ``load.request_for`` (method, path, headers, JSON body), so wrk sends what
any other generator would; wrk cycles through them from each connection in
turn. The script counts every status in ``response()`` (wrk's own count,
"Non-2xx or 3xx responses", leaves 3xx out) and prints the run's numbers from
``done()`` as one JSON line, which ``run`` reads back.

wrk runs for a whole number of seconds, as many requests as the server
answers; one thread, so one Lua state walks the requests in order (a delete
run relies on that to send each id once).
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import load
import peers

CLIENT_CORE = 1
THREADS = 1
# Requests per Lua function: LuaJIT allows a function at most 65,536 constants.
CHUNK = 500
MARKER = "bench-result "
# A request wrk gives up on counts as an error ("timeout"); none should come near.
TIMEOUT = "10s"

# The driver, after the generated `requests` table: cycle through it, count
# statuses, print the numbers as JSON.
DRIVER = r"""
statuses = {}  -- global, so that done() can read it from each thread
local prepared, position, threads = {}, 0, {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for i, r in ipairs(requests) do
    prepared[i] = wrk.format(r[1], r[2], r[3], r[4])
  end
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, rates)
  local counts, cells = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  for status, n in pairs(counts) do
    cells[#cells + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'bench-result {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"connect error": %d, "read error": %d, "write error": %d, "timeout": %d, '
      .. '"wrk_status_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(cells, ", ")))
end
"""
SOCKET_ERRORS = ("connect error", "read error", "write error", "timeout")


@dataclass(frozen=True)
class Plan:
    """How hard and how long to load one operation (wrk counts whole seconds)."""

    # Where the Lua scripts and wrk's output go: the run's work folder.
    workdir: Path
    connections: int = 16
    duration: int = 10
    warmup: int = 2


def find() -> str | None:
    return shutil.which("wrk")


def version() -> str:
    """wrk's version line, such as ``wrk debian/4.1.0-3+b2 [epoll]``."""
    binary = find()
    if binary is None:
        return "not found"
    # `wrk -v` prints its version and the usage, and exits 1.
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()[0]
    return re.sub(r"\s*Copyright.*", "", first).strip()


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal, escaped byte by byte (so any UTF-8 survives)."""
    out = []
    for byte in text.encode():
        if byte in b'"\\':
            out.append("\\" + chr(byte))
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")  # three digits: a digit after it stays a digit
    return '"' + "".join(out) + '"'


def lua_request(request: load.Request) -> str:
    """One request as ``{method, path, headers, body}``, the arguments of ``wrk.format``."""
    headers = load.headers_for(request.body)
    cells = ", ".join(f"[{lua_string(name)}] = {lua_string(v)}" for name, v in headers.items())
    # json.dumps as the Python generators send bodies, so the bytes are the same.
    body = "nil" if request.body is None else lua_string(json.dumps(request.body))
    return f"{{{lua_string(request.method)}, {lua_string(request.path)}, {{{cells}}}, {body}}}"


def script(title: str, requests: Sequence[load.Request]) -> str:
    """The Lua script that sends ``requests`` in turn, over and over."""
    if not requests:
        raise ValueError(f"{title}: no requests to send")
    lines = [
        f"-- {title}: {len(requests)} requests, written by bench/wrk.py",
        "local requests = {}",
    ]
    for start in range(0, len(requests), CHUNK):
        # Each chunk in a function of its own, to stay under LuaJIT's constants limit.
        lines.append("for _, r in ipairs((function() return {")
        lines += [f"  {lua_request(r)}," for r in requests[start : start + CHUNK]]
        lines.append("} end)()) do requests[#requests + 1] = r end")
    return "\n".join([*lines, DRIVER])


def _children_cpu() -> float:
    """CPU time of the child processes waited for so far: wrk's, once it has ended."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk(url: str, lua: Path, connections: int, seconds: int) -> dict[str, Any]:
    """Run wrk on its core with the script ``lua``; the numbers its ``done()`` printed."""
    binary = find()
    if binary is None:
        raise RuntimeError("wrk is not on PATH")
    command = [binary, "-t", str(THREADS), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", TIMEOUT, "--latency", "-s", str(lua), url]
    done = subprocess.run(
        peers.pinned(command, CLIENT_CORE),
        capture_output=True,
        text=True,
        timeout=seconds + 300,
        check=False,
    )
    # Kept beside the script in the run's work folder, for a look while it runs.
    lua.with_suffix(".out").write_text(done.stdout + done.stderr, encoding="utf-8")
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            numbers: dict[str, Any] = json.loads(line.removeprefix(MARKER))
            return numbers
    tail = "\n  ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
    raise RuntimeError(f"wrk printed no results (exit {done.returncode}):\n  {tail}")


def _result(operation: str, numbers: dict[str, Any]) -> load.Result:
    statuses = Counter({str(code): int(n) for code, n in numbers["statuses"].items()})
    # The script counts what wrk counts: a disagreement means it did not run as meant.
    failed = sum(n for code, n in statuses.items() if int(code) >= 400)
    if sum(statuses.values()) != numbers["requests"] or failed != numbers["wrk_status_errors"]:
        raise RuntimeError(f"wrk's counts and the script's disagree: {numbers}")
    statuses.update({name: numbers[name] for name in SOCKET_ERRORS if numbers[name]})
    result = load.Result(operation, numbers["requests"], numbers["duration_us"] / 1e6)
    if result.requests:
        result.percentiles = {50: numbers["p50_us"] / 1e6, 99: numbers["p99_us"] / 1e6}
    result.statuses = statuses
    return result


def _load(
    server: peers.Server,
    operation: str,
    requests: Sequence[load.Request],
    plan: Plan,
    seconds: int,
    label: str,
) -> load.Result:
    """Load ``server`` with ``requests`` for ``seconds``; with the cores kept busy meanwhile.

    CPU use is recorded as cores busy during the run: the server's (its whole
    process tree), wrk's and the whole machine's (so that another process
    competing for the cores shows up in the report).
    """
    lua = plan.workdir / f"{server.name}-{label}.lua"
    lua.write_text(script(f"{server.name} {label}", requests), encoding="utf-8")
    cpu = server.memory.cpu_seconds(), _children_cpu(), load.busy_seconds()
    started = time.perf_counter()
    numbers = _wrk(server.url, lua, plan.connections, seconds)
    wall = time.perf_counter() - started
    result = _result(operation, numbers)
    result.server_cpu = (server.memory.cpu_seconds() - cpu[0]) / wall
    result.client_cpu = (_children_cpu() - cpu[1]) / wall
    result.machine_cpu = (load.busy_seconds() - cpu[2]) / wall
    return result


def warm_up(
    server: peers.Server, operation: str, requests: Sequence[load.Request], plan: Plan
) -> load.Result:
    """``plan.warmup`` seconds of ``requests``, not reported; an empty result without warm-up."""
    if not plan.warmup:
        return load.Result(operation)
    return _load(server, operation, requests, plan, plan.warmup, f"{operation}-warmup")


def run(
    server: peers.Server, operation: str, requests: Sequence[load.Request], plan: Plan
) -> load.Result:
    """The measured run: ``plan.duration`` seconds of ``requests``, cycled."""
    return _load(server, operation, requests, plan, plan.duration, operation)
