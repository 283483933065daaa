"""Run a command with the system clock moved to a given instant: ``fake_clock.py WHEN CMD...``.

The clock starts at WHEN (UTC, ``YYYY-MM-DD HH:MM:SS``) and ticks on, for the
command and every process it starts. It uses the libfaketime that the
``libfaketime`` package builds (Debian's 0.9.10 hangs Python's timed thread
waits); monotonic clocks are left alone so that timeouts still work.
"""

from __future__ import annotations

import os
import sys

import libfaketime


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: fake_clock.py 'YYYY-MM-DD HH:MM:SS' COMMAND [ARG...]")
    when, command = argv[0], argv[1:]
    _, additions = libfaketime.get_reload_information()
    environ = {
        **os.environ,
        **additions,
        "FAKETIME": f"@{when}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    os.execvpe(command[0], command, environ)


if __name__ == "__main__":
    main(sys.argv[1:])
