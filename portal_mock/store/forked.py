"""Run one function in a forked child process: the snapshot writer of a background compaction.

Formatting 100,000 links into a snapshot is tens of milliseconds of Python.
On a thread of the server it holds the GIL, and requests queue behind it (a
shorter switch interval only bounds each wait). A forked child gets a frozen
copy-on-write image of the store's memory at no copying cost and formats it
on its own interpreter, while the server goes on. This is how Redis writes
its snapshots. Linux only: the child must die with its parent, or a
snapshot could be renamed into place after a restart that has moved on.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_MESSAGE_BYTES = 4096


def available() -> bool:
    return sys.platform == "linux"


def run_forked(work: Callable[[], int]) -> int:
    """``work()`` run in a child process; its result, or OSError with the child's reason.

    Call it from a thread that lives until it returns: the child is killed when
    that thread's process dies. The child touches only the files ``work``
    writes; it takes no lock another thread of the server may hold (no
    logging), and leaves with ``os._exit``, flushing nothing of the parent's.
    """
    parent = os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _child(parent, write, work)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not message.startswith(b"ok "):
        reason = message.decode("utf-8", "replace") or f"exit status {status}"
        raise OSError(f"the snapshot writer failed: {reason}")
    return int(message[3:])


def _child(parent: int, write: int, work: Callable[[], int]) -> None:
    code, message = 1, b""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)  # the parent died before the line above took effect
        # The server's requests come first: on a busy core the child takes only
        # the time they leave (a compaction may wait; a request should not).
        os.nice(19)
        # Collecting would only copy pages the child never writes to.
        gc.disable()
        message = b"ok %d" % work()
        code = 0
    except BaseException as exc:  # noqa: BLE001 - the parent reports it
        message = f"{type(exc).__name__}: {exc}".encode()
    finally:
        try:
            os.write(write, message[:_MESSAGE_BYTES])
        finally:
            os._exit(code)
