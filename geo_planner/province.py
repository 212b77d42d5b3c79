"""A province: many regions (counties or cities) run serially or in parallel on Dask.

A province scenario is an ordinary scenario TOML whose ``[network]`` has no ``osm`` and which
has no top-level ``[inputs]``; instead it lists its regions, each with its own extracts and
four tables, and shares every other setting (thresholds, rules, siting options)::

    name = "某省离退休干部服务覆盖"
    [run]
    scheduler = "local"            # or "tcp://10.0.0.5:8786"; omitted: serial in-process

    [[regions]]
    name = "贵溪"
    osm = ["osm/guixi_jiangxi.osm"]
    inputs = { members = "guixi/members.csv", branches = "guixi/branches.csv", stations = "guixi/stations.csv" }

    [[regions]]
    name = "龙岗"
    osm = ["osm/shenzhen_longgang.osm"]
    default_region = "广东省深圳市龙岗区"
    [regions.inputs]
    members = "longgang/members.csv"
    ...

:func:`run_province` runs each region with :func:`geo_planner.pipeline.run` (one Dask task per
region; a task is one process's whole pipeline, so a region's result does not depend on where
it ran), writes each region's outputs to ``OUT/regions/<name>/`` as the region finishes, and at
the end serves the members living in another region's extracts on that region's networks
(:mod:`geo_planner.crossregion`, one task per host region) and writes ``regions.csv`` (one row
per region), ``cross_region.csv`` (those members, with the host's nearest station and hospital),
``cross_region_branches.csv`` (异地支部 in host regions) and a province-level ``run.json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from .atomic import atomic_write
from .crossregion import BRANCH_COLUMNS, HOST_COLUMNS, serve_in_host
from .errors import GeoPlannerError, Problem, ScenarioError
from .settings import (
    RegionSettings,
    RunSettings,
    Scenario,
    _resolve_paths,
    _scenario_files,
    scenario_from_dict,
)
from .vocab import IMPRECISE_LOCATION, REASONS

log = logging.getLogger(__name__)

#: ``on_region(name, summary)`` is called in the client as each region finishes.
RegionFn = Callable[[str, dict[str, Any]], None]
#: ``on_progress(name, text, fraction)`` is called in the client as a region moves on: ``text``
#: is the pipeline's stage (and model) text, ``fraction`` the share of that region done (0–1).
RegionProgressFn = Callable[[str, str, float], None]

#: Dask event topic on which workers publish their regions' progress.
PROGRESS_TOPIC = "geo_planner.region_progress"
#: Least seconds between two progress events of one region (stage changes are always sent).
PROGRESS_EVERY_S = 0.5

#: Seconds to wait for an existing Dask scheduler (``--scheduler tcp://…``) before giving up.
CONNECT_TIMEOUT_S = 10.0


class SchedulerError(GeoPlannerError, ConnectionError):
    """The Dask scheduler named by ``--scheduler`` / ``[run] scheduler`` cannot be reached."""


@dataclass(frozen=True)
class Province:
    """A validated province scenario: its regions' scenarios, in the file's order."""

    name: str
    regions: tuple[tuple[str, Scenario], ...]
    run: RunSettings = field(default_factory=RunSettings)


def is_province(data: dict[str, Any]) -> bool:
    """Whether a parsed scenario document lists ``[[regions]]``."""
    return "regions" in data


def _region_problem(source: str, i: int, name: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    label = f"regions[{i}] ({name})" if name else f"regions[{i}]"
    return [
        Problem(source, None, f"{label}: {prefix}" + ".".join(str(p) for p in err["loc"]), err["msg"])
        for err in exc.errors()
    ]


def province_from_dict(data: dict[str, Any], *, base_dir: Path | str = ".", source: str = "<scenario>") -> Province:
    """Validate a province scenario (a scenario with ``[[regions]]``).

    Each region becomes a full :class:`~geo_planner.settings.Scenario`: the shared settings
    with the region's ``osm`` as ``network.osm`` and its ``inputs``; errors name the region.

    Raises
    ------
    ScenarioError
        One problem per invalid key, the region named (``regions[1] (龙岗): inputs.members``).
    """
    base = Path(base_dir)
    shared = {k: v for k, v in data.items() if k != "regions"}
    problems: list[Problem] = []
    regions = data.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, dict) for r in regions):
        raise ScenarioError(Problem(source, None, "regions", "[[regions]] must be a non-empty list of tables"))
    if "inputs" in shared:
        problems.append(Problem(source, None, "inputs", "a scenario with [[regions]] gives each region its own "
                                "inputs; remove the top-level [inputs]"))
    network = dict(shared.get("network") or {})
    if "osm" in network:
        problems.append(Problem(source, None, "network.osm", "a scenario with [[regions]] gives each region its own "
                                "osm extracts; remove network.osm"))
    try:
        run_settings = RunSettings.model_validate(shared.get("run") or {})
    except ValidationError as exc:
        problems += [Problem(source, None, "run." + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        run_settings = RunSettings()
    out: list[tuple[str, Scenario]] = []
    seen: set[str] = set()
    for i, reg in enumerate(regions):
        found = _region_scenario(i, reg, shared, network, base, source, seen, problems)
        if found is not None:
            out.append(found)
    if problems:
        raise ScenarioError(problems)
    return Province(str(shared.get("name", "province")), tuple(out), run_settings)


def _region_scenario(
    i: int, reg: dict[str, Any], shared: dict[str, Any], network: dict[str, Any], base: Path, source: str,
    seen: set[str], problems: list[Problem],
) -> tuple[str, Scenario] | None:
    """Validate region ``i`` into its full scenario; ``None`` (its problems added to ``problems``) if invalid."""
    name = str(reg.get("name", ""))
    reg = dict(reg)
    osm = reg.get("osm")
    if isinstance(osm, (str, Path)):
        osm = [osm]
    if isinstance(osm, list):
        reg["osm"] = [str(p if Path(p).is_absolute() else (base / p).resolve()) for p in osm]
    try:
        region = RegionSettings.model_validate(
            {**reg, "inputs": _resolve_paths({"inputs": reg.get("inputs")}, base)["inputs"]}
        )
    except ValidationError as exc:
        problems += _region_problem(source, i, name, exc)
        return None
    if region.name in seen:
        problems.append(Problem(source, None, f"regions[{i}] ({name}): name", "duplicate region name"))
        return None
    seen.add(region.name)
    geocode = dict(shared.get("geocode") or {})
    if region.default_region is not None:
        geocode["default_region"] = region.default_region
    doc = {
        **shared,
        "name": f"{shared.get('name', 'province')} · {region.name}",
        "network": {**network, "osm": [str(p) for p in region.osm]},
        "inputs": json.loads(region.inputs.model_dump_json()),
        "geocode": geocode,
    }
    try:
        scenario = scenario_from_dict(doc, base_dir=base, source=source)
    except ScenarioError as exc:
        problems += [Problem(p.file, p.row, f"regions[{i}] ({region.name}): {p.field}", p.reason)
                     for p in exc.problems]
        return None
    problems += [Problem(source, None, f"regions[{i}] ({region.name}): {f}", f"file not found: {p}")
                 for f, p in _scenario_files(scenario) if not Path(p).is_file()]
    return region.name, scenario


def load_plan(path: Path | str) -> Scenario | Province:
    """Read a scenario file: a :class:`Province` when it lists ``[[regions]]``, else a ``Scenario``.

    Raises
    ------
    ScenarioError
        Missing file, invalid TOML, invalid keys (naming the region) or missing input files.
    """
    from .settings import read_toml, scenario_from_file_data

    path = Path(path)
    data = read_toml(path)
    if not is_province(data):
        return scenario_from_file_data(data, path)
    return province_from_dict(data, base_dir=path.parent, source=str(path))


# --------------------------------------------------------------------------------------
# one region (runs in a Dask worker or in-process)


def _shares(m: pd.DataFrame) -> dict[str, Any]:
    status = m["network_status"].astype(str) if "network_status" in m else pd.Series("", index=m.index)
    precise = status != IMPRECISE_LOCATION
    row: dict[str, Any] = {"members": int(len(m)), IMPRECISE_LOCATION: int((~precise).sum())}
    for col in ("covered_station", "covered_branch", "covered_hospital"):
        if col in m:
            n = int(precise.sum())
            row[f"{col}_share"] = round(float(m.loc[precise, col].astype(bool).sum()) / n, 4) if n else np.nan
    row["dispersed"] = int(m["dispersed"].astype(bool).sum()) if "dispersed" in m else 0
    reasons = m.get("dispersion_reason", pd.Series("", index=m.index)).fillna("").astype(str).str.split(";").explode()
    for r in REASONS:
        row[f"dispersed_{r}"] = int((reasons == r).sum())
    return row


def _throttled(name: str, send: Callable[[dict[str, Any]], None]) -> Callable[[str, float], None]:
    """A pipeline progress callback sending ``{region, text, fraction}``: each new stage, else every
    :data:`PROGRESS_EVERY_S` seconds at most."""
    last = {"t": 0.0, "stage": ""}

    def progress(text: str, fraction: float) -> None:
        now = time.monotonic()
        stage = text.split(":", 1)[0]
        if stage == last["stage"] and now - last["t"] < PROGRESS_EVERY_S and fraction < 1.0:
            return
        last.update(t=now, stage=stage)
        send({"region": name, "text": text, "fraction": round(float(fraction), 4)})

    return progress


def _region_progress(name: str, on_progress: RegionProgressFn | None, publish: bool) -> Callable[[str, float], None] | None:
    """The progress callback of a region: to ``on_progress`` in-process, or as Dask events from a worker."""
    if publish:
        from distributed import get_worker

        worker = get_worker()
        return _throttled(name, lambda msg: worker.log_event(PROGRESS_TOPIC, msg))
    if on_progress is not None:
        return _throttled(name, lambda msg: on_progress(msg["region"], msg["text"], msg["fraction"]))
    return None


def run_region(
    name: str, scenario: Scenario, out_dir: Path | str, *,
    on_progress: RegionProgressFn | None = None, publish_progress: bool = False,
) -> dict[str, Any]:
    """Run one region's pipeline into ``out_dir`` and return its summary (never raises).

    Progress goes to ``on_progress`` (in-process), or with ``publish_progress`` (inside a Dask
    task) as events on :data:`PROGRESS_TOPIC`, which :func:`run_province` hands to its own
    ``on_progress`` in the client.

    Returns
    -------
    dict
        ``region``, ``status`` (``ok``/``failed``), ``error``, ``wall_s``, the counts of
        ``regions.csv``, ``timings`` (per stage, s) and ``remote`` (a small frame of the
        members flagged 异地 who live outside this region's extracts: id, lon, lat, branch_id).
    """
    from .staging import run_staged as run  # a killed or failed region keeps its previous outputs whole

    t0 = time.perf_counter()
    summary: dict[str, Any] = {"region": name, "status": "ok", "error": "", "out_dir": str(out_dir),
                               "worker_pid": os.getpid()}
    try:
        result = run(scenario, out_dir, progress=_region_progress(name, on_progress, publish_progress))
    except Exception as exc:  # reported in regions.csv; the other regions go on
        log.exception("region %s failed", name)
        summary.update(status="failed", error=f"{type(exc).__name__}: {exc}", wall_s=round(time.perf_counter() - t0, 3),
                       timings={}, remote=pd.DataFrame(columns=["id", "lon", "lat", "branch_id",
                                                                "geocode_precision"]))
        return summary
    m = result.members
    summary.update(_shares(m))
    recs = result.recommendations
    summary["recommendations"] = ({str(k): int(v) for k, v in recs["kind"].value_counts().items()}
                                  if recs is not None and len(recs) else {})
    note = m.get("dispersion_note", pd.Series("", index=m.index)).fillna("").astype(str)
    reason = m.get("dispersion_reason", pd.Series("", index=m.index)).fillna("").astype(str)
    outside = (reason == "remote") & note.str.contains("outside the loaded map extracts", regex=False)
    summary["remote"] = pd.DataFrame({
        "id": m.loc[outside, "id"].astype(str).to_numpy(),
        "lon": m.loc[outside, "lon"].to_numpy(dtype=float),
        "lat": m.loc[outside, "lat"].to_numpy(dtype=float),
        "branch_id": m.loc[outside, "branch_id"].astype(str).to_numpy(),
        "geocode_precision": m.loc[outside, "geocode_precision"].astype(str).to_numpy(),
    })
    summary["timings"] = dict(result.timings)
    summary["wall_s"] = round(time.perf_counter() - t0, 3)
    return summary


# --------------------------------------------------------------------------------------
# the province


def local_cluster_size(n_regions: int, *, cpus: int | None = None, memory_bytes: int | None = None) -> dict[str, Any]:
    """LocalCluster options for this machine: one single-threaded worker process per core.

    A region's pipeline is mostly single-threaded numpy/scipy and HiGHS, so processes (not
    threads) give the parallelism; no more workers than regions, memory split evenly.
    """
    import psutil

    cpus = cpus or os.cpu_count() or 1
    memory_bytes = memory_bytes or int(psutil.virtual_memory().total)
    n = max(1, min(cpus, n_regions))
    return {"n_workers": n, "threads_per_worker": 1, "processes": True, "memory_limit": int(memory_bytes * 0.9 / n)}


def _client(scheduler: str, n_regions: int, cluster_options: dict[str, Any] | None) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler == "local":
        opts = local_cluster_size(n_regions) | (cluster_options or {})
        cluster = LocalCluster(dashboard_address=None, **opts)
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S:g} s "
                             f"({type(exc).__name__}: {exc}); start one (`dask scheduler`) or use --scheduler local")


def run_province(
    province: Province,
    out_dir: Path | str,
    *,
    scheduler: str | None = None,
    on_region: RegionFn | None = None,
    on_progress: RegionProgressFn | None = None,
    cluster_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Run every region and write the province summary.

    Parameters
    ----------
    province
        From :func:`load_plan` / :func:`province_from_dict`.
    out_dir
        Output folder: ``regions/<name>/`` per region, ``regions.csv``, ``cross_region.csv``
        and ``run.json`` at the top.
    scheduler
        ``None`` (serial, in this process), ``local`` (a LocalCluster, closed at the end) or a
        Dask scheduler address. Defaults to ``province.run.scheduler``.
    on_region
        Called as ``on_region(name, summary)`` as each region finishes (in finishing order).
    on_progress
        Called as ``on_progress(name, text, fraction)`` as a region moves through its stages and
        models (from the workers' events on a Dask scheduler), in the client.
    cluster_options
        Overrides of :func:`local_cluster_size` for ``local`` (e.g. ``{"n_workers": 2}``).

    Returns
    -------
    pandas.DataFrame
        ``regions.csv`` as written (one row per region, in the file's order).
    """
    out = Path(out_dir).resolve()  # workers of a tcp:// cluster do not share our working directory
    out.mkdir(parents=True, exist_ok=True)
    scheduler = scheduler if scheduler is not None else province.run.scheduler
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    dirs = {name: out / "regions" / name for name, _ in province.regions}
    results: dict[str, dict[str, Any]] = {}

    def done(summary: dict[str, Any]) -> None:
        results[summary["region"]] = summary
        if on_region:
            on_region(summary["region"], summary)

    def finish(run_calls: Callable[[list[tuple[Any, ...]]], list[dict[str, Any]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
        # 异地 across regions: found in the host's extracts, then served on the host's networks
        return serve_cross_region(province, dirs, results, resolve_cross_region(province, results), run_calls)

    if scheduler is None:
        for name, scenario in province.regions:
            done(run_region(name, scenario, dirs[name], on_progress=on_progress))
        cross, branches = finish(lambda calls: [serve_host(*c) for c in calls])
    else:
        cross, branches = _run_on_dask(province, dirs, scheduler, cluster_options, done, on_progress, finish)

    table = regions_table(province, results, cross)
    atomic_write(out / "regions.csv", lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
    atomic_write(out / "cross_region.csv", lambda p: cross.to_csv(p, index=False, encoding="utf-8-sig"))
    atomic_write(out / "cross_region_branches.csv",
                 lambda p: branches.to_csv(p, index=False, encoding="utf-8-sig"))
    doc = {
        "province": province.name,
        "scheduler": scheduler or "serial",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - t0, 3),
        "regions": [
            {k: v for k, v in results[name].items() if k != "remote"} for name, _ in province.regions
        ],
        "cross_region_members": int(len(cross)),
        "cross_region_branches": int(len(branches)),
        "files": {"regions": str(out / "regions.csv"), "cross_region": str(out / "cross_region.csv"),
                  "cross_region_branches": str(out / "cross_region_branches.csv"),
                  **{f"regions/{n}": str(d) for n, d in dirs.items()}},
    }
    atomic_write(out / "run.json",
                 lambda p: p.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), encoding="utf-8"))
    return table


def _run_on_dask(
    province: Province, dirs: dict[str, Path], scheduler: str, cluster_options: dict[str, Any] | None,
    done: Callable[[dict[str, Any]], None], on_progress: RegionProgressFn | None,
    finish: Callable[[Callable[[list[tuple[Any, ...]]], list[dict[str, Any]]]], tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One Dask task per region; ``done(summary)`` as each finishes, progress events to ``on_progress``.

    Then, while the cluster is still up, returns ``finish(run_calls)``: ``run_calls`` runs
    :func:`serve_host` calls as Dask tasks (one per host region) and returns their results.
    """
    from distributed import as_completed

    client, cluster = _client(scheduler, len(province.regions), cluster_options)
    try:
        if on_progress is not None:
            client.subscribe_topic(PROGRESS_TOPIC, lambda event: on_progress(
                event[1]["region"], event[1]["text"], event[1]["fraction"]))
        futures = {client.submit(run_region, name, scenario, str(dirs[name]), key=f"region-{i}-{name}",
                                 publish_progress=on_progress is not None, pure=False): name
                   for i, (name, scenario) in enumerate(province.regions)}
        for fut in as_completed(list(futures)):
            name = futures[fut]
            try:
                done(fut.result())
            except Exception as exc:  # the worker itself died (memory, signal): report, keep the others
                done({"region": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                      "out_dir": str(dirs[name]), "timings": {}, "remote": pd.DataFrame()})

        def run_calls(calls: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
            futs = [client.submit(serve_host, *c, key=f"host-{c[0]}", pure=False) for c in calls]
            out = []
            for c, fut in zip(calls, futs, strict=True):
                try:
                    out.append(fut.result())
                except Exception as exc:  # the worker died: its members say so
                    out.append(_host_failed(c[0], c[3], exc))
            return out

        return finish(run_calls)
    finally:
        if on_progress is not None:
            client.unsubscribe_topic(PROGRESS_TOPIC)
        client.close()
        if cluster is not None:
            cluster.close()


def resolve_cross_region(province: Province, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Members flagged 异地 outside their own region's extracts, placed in the region whose extracts hold them.

    The first other region (in the file's order) whose extracts contain the member's home
    gives its city and county (that region's gazetteer, the same lookup the pipeline uses).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``home_region`` (where the member's branch is), ``branch_id``, ``lon``, ``lat``,
        ``host_region`` ("" when no region's extracts hold the home), ``member_city``,
        ``member_county``.
    """
    from .geocode import Gazetteer, assign_county

    cols = ["id", "home_region", "branch_id", "lon", "lat", "geocode_precision", "host_region", "member_city",
            "member_county"]
    frames = []
    for name, _ in province.regions:
        r = results.get(name, {}).get("remote")
        if r is not None and len(r):
            frames.append(r.assign(home_region=name))
    if not frames:
        return pd.DataFrame(columns=cols)
    rem = pd.concat(frames, ignore_index=True)
    if "geocode_precision" not in rem:
        rem["geocode_precision"] = "coordinates"
    rem = rem[rem["lon"].notna() & rem["lat"].notna()].reset_index(drop=True)
    rem["host_region"] = ""
    rem["member_city"] = ""
    rem["member_county"] = ""
    lon, lat = rem["lon"].to_numpy(dtype=float), rem["lat"].to_numpy(dtype=float)
    for name, scenario in province.regions:
        todo = (rem["host_region"] == "") & (rem["home_region"] != name)
        if not todo.any():
            continue
        gaz = Gazetteer.from_osm(scenario.network.osm, cache_dir=scenario.network.resolved_cache_dir())
        inside = todo.to_numpy() & np.asarray(gaz.in_extents(lon, lat), dtype=bool)
        if not inside.any():
            continue
        loc = assign_county(lon[inside], lat[inside], gaz)
        rem.loc[inside, "host_region"] = name
        rem.loc[inside, "member_city"] = loc["city"].to_numpy()
        rem.loc[inside, "member_county"] = loc["county"].to_numpy()
    return rem[cols]


def _host_failed(host: str, members: pd.DataFrame, exc: BaseException) -> dict[str, Any]:
    """The result of a host region whose service pass failed: its members say why, no times."""
    return {"host": host, "error": f"{type(exc).__name__}: {exc}",
            "members": members.assign(host_status=f"failed: {type(exc).__name__}: {exc}"),
            "branches": pd.DataFrame(columns=list(BRANCH_COLUMNS))}


def serve_host(host: str, scenario: Scenario, host_dir: str, members: pd.DataFrame) -> dict[str, Any]:
    """Serve one host region's cross-region members (:func:`geo_planner.crossregion.serve_in_host`; never raises)."""
    try:
        served, branches = serve_in_host(host, scenario, host_dir, members)
    except Exception as exc:  # reported on the members' rows; the province goes on
        log.exception("serving cross-region members in %s failed", host)
        return _host_failed(host, members, exc)
    return {"host": host, "error": "", "members": served, "branches": branches}


def serve_cross_region(
    province: Province, dirs: dict[str, Path], results: dict[str, dict[str, Any]], cross: pd.DataFrame,
    run_calls: Callable[[list[tuple[Any, ...]]], list[dict[str, Any]]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Serve every cross-region member in their host region: one :func:`serve_host` call per host.

    Returns
    -------
    (members, branches)
        ``cross`` with :data:`~geo_planner.crossregion.HOST_COLUMNS` (same rows and order;
        ``host_status`` is ``outside_all_regions`` or ``host region failed`` where no host
        served them) and the 异地支部 recommended in host regions.
    """
    scenarios = dict(province.regions)
    cross = cross.assign(_row=np.arange(len(cross)))  # member ids may repeat across regions
    ok = {n for n, r in results.items() if r.get("status") == "ok"}
    calls = [(h, scenarios[h], str(dirs[h]), cross[cross["host_region"] == h].reset_index(drop=True))
             for h in dict.fromkeys(cross["host_region"]) if h and h in ok]
    outs = run_calls(calls) if calls else []
    served = {o["host"]: o for o in outs}
    rest = cross[~cross["host_region"].isin(list(served))]
    rest = rest.assign(host_status=np.where(rest["host_region"] == "", "outside_all_regions", "host region failed"))
    members = pd.concat([rest, *(o["members"] for o in outs)], ignore_index=True)
    members = members.sort_values("_row", kind="stable").drop(columns="_row").reset_index(drop=True)
    for c in HOST_COLUMNS:
        if c not in members:
            members[c] = np.nan
    branches = [o["branches"] for o in outs if len(o["branches"])]
    return (members[[*cross.columns.drop("_row"), *HOST_COLUMNS]],
            pd.concat(branches, ignore_index=True) if branches else pd.DataFrame(columns=list(BRANCH_COLUMNS)))


def regions_table(province: Province, results: dict[str, dict[str, Any]], cross: pd.DataFrame) -> pd.DataFrame:
    """One row per region: members, coverage shares, dispersed by reason, recommendations by kind,
    status, error and timings, remote members living here (from other regions)."""
    kinds = sorted({k for r in results.values() for k in r.get("recommendations", {})})
    stages = list(dict.fromkeys(s for r in results.values() for s in r.get("timings", {})))
    rows = []
    for name, _ in province.regions:
        r = results.get(name, {"status": "not run", "error": ""})
        row: dict[str, Any] = {"region": name, "status": r["status"], "error": r.get("error", "")}
        for key in ("members", IMPRECISE_LOCATION, "covered_station_share", "covered_branch_share",
                    "covered_hospital_share", "dispersed", *(f"dispersed_{x}" for x in REASONS)):
            row[key] = r.get(key, np.nan)
        recs = r.get("recommendations", {})
        for k in kinds:
            row[f"recommendations_{k}"] = recs.get(k, 0) if r["status"] == "ok" else np.nan
        here = cross[cross["host_region"] == name] if len(cross) else cross
        row["remote_living_here"] = int(len(here))
        row["remote_living_here_from"] = "; ".join(
            f"{k}:{v}" for k, v in here["home_region"].value_counts().sort_index().items()) if len(here) else ""
        mine = cross[cross["home_region"] == name] if len(cross) else cross
        row["remote_outside_all_regions"] = int((mine["host_region"] == "").sum()) if len(mine) else 0
        row["wall_s"] = r.get("wall_s", np.nan)
        for s in stages:
            row[f"time_{s}_s"] = r.get("timings", {}).get(s, np.nan)
        row["out_dir"] = r.get("out_dir", "")
        rows.append(row)
    return pd.DataFrame(rows)
