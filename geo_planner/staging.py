"""Publish a run's outputs all at once: a run that is killed leaves the previous outputs intact.

:func:`run_staged` runs the pipeline into a hidden sibling folder (``.<out>.partial-…``) and,
only when every file is written, swaps it with the output folder::

    out/            the previous complete outputs (untouched while the run works)
    .out.partial-x  the new run's files, being written
    → rename out → .out.previous, rename .out.partial-x → out, delete .out.previous

A kill at any stage leaves ``out`` as it was (plus a stale partial folder, removed by the next
run); a kill between the two renames leaves ``.out.previous``, which the next run (or
:func:`recover_outputs`) renames back. The file paths recorded in ``run.json`` name the final
folder, not the staging one.

An output folder that also holds files a run does not write (``--out .``) is never swapped
away: the new outputs are moved in one by one instead, each move atomic, so a kill during
those moves leaves some outputs new and the others old.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .atomic import atomic_write
from .outputs import MAP_FILE, RUN_FILE
from .settings import Scenario

log = logging.getLogger(__name__)


def _partial_prefix(out: Path) -> str:
    """Name prefix of the staging folders of ``out``."""
    return f".{out.name}.partial-"


def _previous(out: Path) -> Path:
    """Where ``out`` is parked during the swap."""
    return out.parent / f".{out.name}.previous"


def recover_outputs(out_dir: Path | str) -> None:
    """Undo what an interrupted run left behind next to ``out_dir``.

    Restores ``.<out>.previous`` when the run was killed between the two renames of the
    swap, and removes stale ``.<out>.partial-…`` folders of killed runs.
    """
    out = Path(out_dir).resolve()
    prev = _previous(out)
    if prev.is_dir():
        if out.exists():
            shutil.rmtree(prev, ignore_errors=True)
        else:
            os.rename(prev, out)
            log.warning("%s restored from an interrupted run's swap", out)
    if out.parent.is_dir():
        for stale in out.parent.glob(_partial_prefix(out) + "*"):
            shutil.rmtree(stale, ignore_errors=True)


def discard_outputs(out_dir: Path | str) -> None:
    """Remove a run's outputs and every partial folder of it; leave an empty ``out_dir``."""
    out = Path(out_dir).resolve()
    recover_outputs(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _previous_outputs(out: Path) -> set[str]:
    """Names of the files the previous run wrote into ``out`` (from its ``run.json``)."""
    try:
        doc = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = doc.get("files") if isinstance(doc, dict) else None
    names = {RUN_FILE}
    for value in (files or {}).values() if isinstance(files, dict) else ():
        if isinstance(value, str) and Path(value).parent == out:
            names.add(Path(value).name)
    return names


def publish(work: Path, out: Path) -> None:
    """Replace ``out`` by the complete folder ``work`` (two renames on the same file system).

    If ``out`` also holds files a run does not write (``--out .`` or a folder of the planner's
    own files), it is never swapped away: the new outputs are moved in one by one
    (:func:`os.replace`, each atomic) and the other files stay untouched.
    """
    prev = _previous(out)
    if prev.exists():
        shutil.rmtree(prev)
    if out.exists():
        ours = {p.name for p in work.iterdir()}
        stale = _previous_outputs(out) - ours  # the last run wrote them, this one did not (report.pdf …)
        foreign = [p.name for p in out.iterdir() if p.name not in ours and p.name not in stale]
        if foreign:
            log.warning("%s holds other files (%s …): outputs replaced one by one, the others kept",
                        out, foreign[0])
            _move_in(work, out, stale)
            return
        os.rename(out, prev)
    os.rename(work, out)
    shutil.rmtree(prev, ignore_errors=True)


def _move_in(work: Path, out: Path, stale: set[str]) -> None:
    """Move each output of ``work`` into ``out``, remove the last run's ``stale`` outputs, drop ``work``."""
    for entry in work.iterdir():
        target = out / entry.name
        if entry.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(entry, target)
    for name in stale:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)


def _relocate(value: Any, work: str, out: str) -> Any:
    """Rewrite paths under ``work`` to ``out`` in a string, or in the values of a dict or list."""
    if isinstance(value, str) and value.startswith(work):
        return out + value[len(work):]
    if isinstance(value, dict):
        return {k: _relocate(v, work, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocate(v, work, out) for v in value]
    return value


def run_staged(
    scenario: Scenario,
    out_dir: Path | str,
    *,
    progress: Any = None,
    map_copy: Path | str | None = None,
    placements: Any = None,
) -> Any:
    """Run :func:`geo_planner.pipeline.run` into a staging folder and publish it at the end.

    Parameters
    ----------
    scenario, progress, placements
        As for :func:`geo_planner.pipeline.run`.
    out_dir
        The output folder; its previous content stays complete until the new one replaces it.
    map_copy
        Also copy the planner map here once the outputs are published.

    Returns
    -------
    geo_planner.run_result.RunResult
        With ``out_dir`` and ``files`` naming the published folder.
    """
    from .pipeline import run

    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_outputs(out)
    work = Path(tempfile.mkdtemp(prefix=_partial_prefix(out), dir=out.parent))
    try:
        result = run(scenario, work, progress=progress, placements=placements)
        doc_path = work / RUN_FILE
        if doc_path.is_file():
            doc = json.loads(doc_path.read_text(encoding="utf-8"))
            doc["files"] = _relocate(doc.get("files", {}), str(work), str(out))
            atomic_write(doc_path, lambda p: p.write_text(json.dumps(doc, ensure_ascii=False, indent=2),
                                                          encoding="utf-8"))
        publish(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    result.out_dir = out
    result.files = _relocate(dict(result.files), str(work), str(out))
    if map_copy is not None and (out / MAP_FILE).is_file():
        copy = Path(map_copy)
        atomic_write(copy, lambda p: shutil.copyfile(out / MAP_FILE, p))
        result.files["map_copy"] = str(copy)
    return result
