"""``geo-planner`` commands in their own processes, forked from a server that has imported the planner once.

A test that starts the command many times (and kills it) would otherwise pay the interpreter's start and
the planner's imports every time. Here :mod:`multiprocessing`'s fork server imports them once; every command
is a fresh child process running :func:`geo_planner.cli.main` with its stdout and stderr in a file, and a
SIGKILL ends it as it ends ``python -m geo_planner.cli``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from pathlib import Path

#: What the fork server imports once: what the service's run queue preloads (the planner and the county
#: boundaries, :mod:`geo_planner.store.worker_preload`), the command line, and the readers a command uses.
PRELOAD = ["geo_planner.store.worker_preload", "geo_planner.cli", "geo_planner.province", "geo_planner.staging",
           "highspy", "openpyxl", "osmium", "pyogrio"]

_context = None


def _fork_context():  # noqa: ANN202 - multiprocessing.context.ForkServerContext
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _child(argv: list[str], log: str, env: dict[str, str]) -> None:
    """In the child: the environment of a fresh command, output to ``log``, then the command."""
    for key in [k for k in os.environ if k.startswith("GEO_PLANNER_")]:
        del os.environ[key]
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    from geo_planner.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class ForkedCommand:
    """One ``geo-planner`` command (``argv`` after the program name) in a forked child process."""

    def __init__(self, argv: list[str], log: Path, env: Mapping[str, str]) -> None:
        self.log = Path(log)
        self.proc: BaseProcess = _fork_context().Process(target=_child,
                                                         args=(list(argv), str(log), dict(env)))
        self.proc.start()

    def output(self) -> str:
        """What the command has written so far (stdout and stderr)."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def wait(self, timeout: float) -> int:
        """Wait for the command to end; its exit code (fails the test when it does not end in time)."""
        self.proc.join(timeout)
        if self.proc.exitcode is None:
            self.kill()
            raise AssertionError(f"the command did not end in {timeout} s:\n{self.output()[-3000:]}")
        return int(self.proc.exitcode)

    def kill(self) -> None:
        """SIGKILL the command and reap it."""
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join(30)

    def wait_for(self, text: str | tuple[str, ...], timeout: float) -> bool:
        """Wait until the output shows ``text`` (any of them); False if the command ended or time ran out."""
        wanted = (text,) if isinstance(text, str) else text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = self.proc.is_alive()
            seen = self.output()
            if any(t in seen for t in wanted):
                return True
            if not alive:
                return False
            time.sleep(0.005)
        return False
