"""The embedded demo as store records: its tables as datasets and a queued run of its scenario."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import Problem, ScenarioError
from .base import Store
from .records import RunRecord


def seed_demo(
    store: Store,
    demo_dir: Path | str,
    *,
    osm_dir: Path | str,
    cache_dir: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Register the embedded demo: its four tables as datasets and a queued run of its scenario.

    Parameters
    ----------
    store
        The store.
    demo_dir
        Folder with ``scenario.toml`` and the tables it names.
    osm_dir
        The installation's OSM folder; the scenario's extracts must be in it (by file name).
    cache_dir
        Network cache folder (``None``: library default).
    overrides
        Top-level scenario sections replaced (e.g. ``{"map": {"tiles": "none"}}``).

    Returns
    -------
    RunRecord
        The queued demo run (``origin == "demo"``).

    Raises
    ------
    ScenarioError
        If the demo scenario is missing or invalid.
    """
    demo = Path(demo_dir).resolve()
    path = demo / "scenario.toml"
    if not path.is_file():
        raise ScenarioError(Problem(str(path), None, None, "demo scenario not found"))
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    inputs = data.get("inputs", {})
    refs: dict[str, dict[str, Any]] = {}
    for kind in ("branches", "members", "stations", "hospitals"):  # branches first: members refer to them
        spec = inputs.get(kind)
        if spec is None:
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        file = (demo / spec["path"]).resolve()
        ds = store.import_dataset(
            kind, file.name, file, sheet=spec.get("sheet"), crs=spec.get("crs", "WGS84"),
            encoding=spec.get("encoding"), branches_dataset=refs.get("branches", {}).get("dataset"),
        )
        refs[kind] = {"dataset": ds.id}
    request = dict(data)
    request["inputs"] = refs
    net = dict(request.get("network", {}))
    osm = net.get("osm", [])
    net["osm"] = [Path(p).name for p in ([osm] if isinstance(osm, str) else osm)]
    request["network"] = net
    request.update(overrides or {})
    return store.create_run(request, osm_dir=osm_dir, cache_dir=cache_dir, origin="demo")


def demo_run(store: Store) -> RunRecord | None:
    """Return the most recent demo run, if any."""
    for run in store.list_runs():
        if run.origin == "demo":
            return run
    return None
