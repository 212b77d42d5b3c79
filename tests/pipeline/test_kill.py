"""A real ``geo-planner run`` killed (SIGKILL) at each stage leaves the previous outputs intact.

The command runs a light demo scenario (``tests/support/light.py``: a small roster on both extracts, no
sensitivity draws, no PDF) into an output folder once; then, for every stage of the pipeline, a new run of
the same command is started and killed with SIGKILL as soon as its progress shows that stage. After each
kill the folder holds exactly the previous outputs (same files, same bytes); a final run completes and
replaces them all at once. The commands are processes forked from a server that has imported the planner
once (``tests/support/forked_cli.py``), so that each run costs its stages, not the interpreter's start.
(The service restarted mid-run: ``tests/api/test_hardening.py::test_restart_mid_run…``.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from geo_planner.pipeline import STAGES

from ..support.forked_cli import ForkedCommand
from ..support.light import light_scenario, small_roster


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _command(scenario: Path, out: Path, log: Path, cache_dir: Path) -> ForkedCommand:
    return ForkedCommand(["run", str(scenario), "--out", str(out), "--no-map-copy"], log,
                         {"GEO_PLANNER_CACHE_DIR": str(cache_dir)})


def _run_and_kill_at(stage: str, scenario: Path, out: Path, log: Path, cache_dir: Path,
                     timeout: float = 240.0) -> bool:
    """Start the command, SIGKILL it when its progress shows ``stage``; True if it was killed there."""
    cmd = _command(scenario, out, log, cache_dir)
    try:
        # a terminal bar shows "stage: …", a log "run: stage …" (cli.StageLines)
        return cmd.wait_for((f"{stage}:", f"run: {stage} "), timeout)
    finally:
        cmd.kill()


@pytest.mark.slow
def test_cli_run_killed_at_each_stage_keeps_the_previous_outputs(tmp_path: Path, cache_dir: Path) -> None:
    work = tmp_path / "work"
    scenario = light_scenario(work, members=small_roster(work))
    runs = tmp_path / "runs"  # the output folder's parent: where a run's partial folder would stay behind
    out = runs / "out"
    # the previous outputs: a complete run of the same command
    first = _command(scenario, out, work / "first.log", cache_dir)
    assert first.wait(600) == 0, first.output()[-3000:]
    before = _snapshot(out)
    assert {"members.csv", "run.json", "map.html", "recommendations.xlsx", "report.html"} <= set(before)
    killed = []
    for stage, _share in STAGES:
        if _run_and_kill_at(stage, scenario, out, work / f"{stage}.log", cache_dir):
            killed.append(stage)
        # whatever the stage, the folder holds the previous run's outputs, byte for byte
        assert _snapshot(out) == before, stage
    assert len(killed) >= len(STAGES) - 2, killed  # a very short stage may be over before we see it
    # and the command runs again, replacing the outputs all at once
    again = _command(scenario, out, work / "again.log", cache_dir)
    assert again.wait(600) == 0, again.output()[-3000:]
    after = _snapshot(out)
    assert set(after) == set(before)
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert all(p.startswith(str(out.resolve())) for p in doc["files"].values()), doc["files"]
    assert after["members.csv"] == before["members.csv"]  # the same seeded scenario, the same answer
    assert after["run.json"] != before["run.json"]  # … from a new run
    leftovers = [p.name for p in runs.iterdir() if p.name != "out"]
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
