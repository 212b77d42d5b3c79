"""The usual ways to start things work: ``uvicorn api.main:app``, ``fastapi run api/main.py``,
``python -m geo_planner``.

The servers are real processes on loopback, configured only through the ``GEO_PLANNER_*``
environment (the module-level ``app`` is built by ``create_app()`` from it), and must answer
``/health`` and an authenticated route.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..support.paths import ROOT
from ..support.servers import START_TIMEOUT_S, ApiServer, free_port, new_tokens


def _serve_until_healthy(argv: list[str], env: dict[str, str], log_path: Path, base: str) -> None:
    """Start ``argv``, wait for ``/health``, check an authenticated route, then stop it."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"{base}/health", timeout=2).status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        text = log_path.read_text(encoding="utf-8", errors="replace")
        assert status == 200, text[-3000:]
        health = httpx.get(f"{base}/health", timeout=5).json()
        assert health["version"]
        assert httpx.get(f"{base}/datasets", timeout=5).status_code == 401  # tokens from the environment
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _env(tmp_path: Path, cache_dir: Path) -> dict[str, str]:
    return ApiServer(tmp_path / "svc", new_tokens(), cache_dir).env()


def test_uvicorn_module_level_app(tmp_path: Path, cache_dir: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    _serve_until_healthy(argv, _env(tmp_path, cache_dir), tmp_path / "uvicorn.log", f"http://127.0.0.1:{port}")
    assert (tmp_path / "svc").is_dir()  # GEO_PLANNER_DATA_DIR was read from the environment


@pytest.mark.skipif(importlib.util.find_spec("fastapi_cli") is None,
                    reason="fastapi-cli is not installed (it pulls uvicorn[standard]; see README)")
def test_fastapi_run(tmp_path: Path, cache_dir: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "fastapi", "run", "api/main.py", "--host", "127.0.0.1", "--port", str(port)]
    _serve_until_healthy(argv, _env(tmp_path, cache_dir), tmp_path / "fastapi.log", f"http://127.0.0.1:{port}")


def test_python_m_geo_planner(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    ok = subprocess.run([sys.executable, "-m", "geo_planner", "--help"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0 and "run" in ok.stdout and "serve" in ok.stdout, ok.stderr
    missing = tmp_path / "missing.toml"
    bad = subprocess.run([sys.executable, "-m", "geo_planner", "run", str(missing), "--out", str(tmp_path / "o")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and str(missing) in bad.stderr and "not found" in bad.stderr, bad.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_progress_is_a_bar_on_a_terminal_and_lines_in_a_log(tty: bool) -> None:
    from geo_planner.cli import StageLines, progress_bar
    from geo_planner.pipeline import STAGES

    out: io.StringIO = _Terminal() if tty else io.StringIO()
    bar = progress_bar(quiet=False, file=out)
    assert isinstance(bar, StageLines) != tty
    done = 0.0
    for name, share in STAGES:  # the pipeline reports each stage at its start and its end
        for frac in (done, done + share):
            bar.set_description(name)
            bar.n = round(frac * 100)
            bar.refresh()
        done += share
    bar.close()
    text = out.getvalue()
    if tty:
        assert text.count("\r") > len(STAGES)  # redrawn in place
    else:
        assert [ln.split()[1] for ln in text.splitlines()] == [name for name, _ in STAGES]
    quiet = io.StringIO()
    silent = progress_bar(quiet=True, file=quiet)
    silent.set_description("load")
    silent.refresh()
    silent.close()
    assert quiet.getvalue() == ""
