"""``geo-planner`` commands run through their console script's function in the test's process.

What a test checks of a command (its output, its exit code, what it writes) does not need a fresh
interpreter, whose start-up costs seconds; :func:`run_cli` calls :func:`geo_planner.cli.main` with the
command's own standard input, environment and output, as a shell would see them. A test that needs the
process itself (``python -m …``, signals) starts one.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import NamedTuple

import pytest


class Ran(NamedTuple):
    """A finished command: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, *, stdin: str = "",
            env: dict[str, str] | None = None) -> Ran:
    """Run ``geo-planner ARGV`` in this process with ``stdin``, and ``env`` as its only ``GEO_PLANNER_*``
    variables; argparse's usage errors come back as their exit code (2)."""
    from geo_planner.cli import main

    for key in [k for k in os.environ if k.startswith("GEO_PLANNER_")]:
        monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Ran(code, out.getvalue(), err.getvalue())
