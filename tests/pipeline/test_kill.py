"""A real ``geo-planner run`` killed (SIGKILL) at each stage leaves the previous outputs intact.

The command runs the demo scenario into an output folder once; then, for every stage of the
pipeline, a new run of the same command is started and killed with SIGKILL as soon as its
progress bar shows that stage. After each kill the folder holds exactly the previous outputs
(same files, same bytes); a final run completes and replaces them all at once.
(The service restarted mid-run: ``tests/api/test_hardening.py::test_restart_mid_run…``.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geo_planner.pipeline import STAGES

from ..support.paths import DEMO, ROOT

CLI = "import sys; from geo_planner.cli import main; sys.exit(main(sys.argv[1:]))"


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _command(out: Path) -> list[str]:
    return [sys.executable, "-c", CLI, "run", str(DEMO / "scenario.toml"), "--out", str(out), "--no-map-copy"]


def _env(cache_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_PLANNER_")}
    env.update({"GEO_PLANNER_CACHE_DIR": str(cache_dir), "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")})
    return env


def _run_and_kill_at(stage: str, out: Path, cache_dir: Path, timeout: float = 240.0) -> bool:
    """Start the command, SIGKILL it when the progress bar shows ``stage``; True if it was killed there."""
    proc = subprocess.Popen(_command(out), cwd=ROOT, env=_env(cache_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                chunk = proc.stderr.read(65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                seen += chunk
                # a terminal bar shows "stage: …", a log "run: stage …" (cli.StageLines)
                if f"{stage}:".encode() in seen or f"run: {stage} ".encode() in seen:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    return True
            else:
                time.sleep(0.005)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stderr.close()


@pytest.mark.slow
def test_cli_run_killed_at_each_stage_keeps_the_previous_outputs(
    tmp_path: Path, cache_dir: Path, demo_run
) -> None:
    # the previous outputs: the session's demo run (the same scenario), copied
    out = tmp_path / "out"
    shutil.copytree(demo_run[2], out)
    before = _snapshot(out)
    assert {"members.csv", "run.json", "map.html", "recommendations.xlsx"} <= set(before)
    killed = []
    for stage, _share in STAGES:
        if _run_and_kill_at(stage, out, cache_dir):
            killed.append(stage)
        # whatever the stage, the folder holds the previous run's outputs, byte for byte
        assert _snapshot(out) == before, stage
    assert len(killed) >= len(STAGES) - 2, killed  # a very short stage may be over before we see it
    # and the command runs again, replacing the outputs all at once
    again = subprocess.run(_command(out), cwd=ROOT, env=_env(cache_dir), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    after = _snapshot(out)
    assert set(after) == set(before)
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert all(p.startswith(str(out.resolve())) for p in doc["files"].values()), doc["files"]
    assert after["members.csv"] == before["members.csv"]  # the same seeded scenario, the same answer
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "out"]
    assert leftovers == [], leftovers  # no partial folder of the killed runs stays behind


def test_publish_never_deletes_other_files(tmp_path: Path) -> None:
    """``--out .`` or a folder of the planner's own files: outputs replaced, the rest kept."""
    from geo_planner.staging import publish, recover_outputs

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.docx").write_bytes(b"the planner's own file")
    (out / "members.csv").write_text("old", encoding="utf-8")
    work = tmp_path / ".mine.partial-1"
    work.mkdir()
    (work / "members.csv").write_text("new", encoding="utf-8")
    (work / "run.json").write_text("{}", encoding="utf-8")
    publish(work, out)
    assert sorted(p.name for p in out.iterdir()) == ["members.csv", "notes.docx", "run.json"]
    assert (out / "members.csv").read_text(encoding="utf-8") == "new"
    assert (out / "notes.docx").read_bytes() == b"the planner's own file"
    assert not work.exists()
    # a folder of outputs only is swapped whole; a swap cut in the middle is undone by the next run
    work = tmp_path / ".runs.partial-2"
    work.mkdir()
    (work / "run.json").write_text("{}", encoding="utf-8")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "run.json").write_text("old", encoding="utf-8")
    publish(work, runs)
    assert (runs / "run.json").read_text(encoding="utf-8") == "{}"
    prev = tmp_path / ".runs.previous"
    runs.rename(prev)  # as if killed between the two renames
    recover_outputs(runs)
    assert (runs / "run.json").read_text(encoding="utf-8") == "{}" and not prev.exists()


def test_publish_drops_the_previous_runs_outputs_the_new_run_did_not_write(tmp_path: Path) -> None:
    """A stale report.pdf (Chromium missing this time) never stands beside the new run.json."""
    from geo_planner.staging import publish

    for other in (False, True):  # a folder of outputs only (swapped whole), and one with the planner's files
        out = tmp_path / f"out{int(other)}"
        out.mkdir()
        old = {"members": str(out / "members.csv"), "report_pdf": str(out / "report.pdf")}
        (out / "run.json").write_text(json.dumps({"files": old}), encoding="utf-8")
        (out / "members.csv").write_text("old", encoding="utf-8")
        (out / "report.pdf").write_bytes(b"%PDF old")
        if other:
            (out / "notes.docx").write_bytes(b"the planner's own file")
        work = tmp_path / f".out{int(other)}.partial-1"
        work.mkdir()
        (work / "members.csv").write_text("new", encoding="utf-8")
        (work / "run.json").write_text(json.dumps({"files": {"members": str(out / "members.csv")}}), encoding="utf-8")
        publish(work, out)
        names = sorted(p.name for p in out.iterdir())
        assert names == (["members.csv", "notes.docx", "run.json"] if other else ["members.csv", "run.json"]), names
        assert (out / "members.csv").read_text(encoding="utf-8") == "new"
