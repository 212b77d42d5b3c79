"""The one place that knows the order of the stages.

``run(scenario, out_dir)`` loads the four layers, geocodes rows that only have an
address, builds the walking and driving networks, measures travel times and writes::

    members.csv      one row per accepted member (WGS-84 lon/lat, precision, times)
    rejections.csv   every rejected row and every warning (file, row, field, reason)
    run.json         parameters, versions, per-stage timings and counts

Later stages (coverage, dispersion, siting, maps, exports) hang off the same result.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
from .coverage import fill_admin_units, member_coverage, summarize_by_area, summarize_by_branch
from .dispersion import branch_dispersion, classify_members
from .export import export_table
from .geocode import IMPRECISE_STATUS, PRECISIONS, Gazetteer, assign_admin_units, geocode, precise_for_times
from .atomic import atomic_write
from .io import LayerResult, load_layer, write_rejections
from .maps import build_map, save_map
from .network import RoadNetwork, build_network
from .settings import Scenario
from .siting.branches import recommend_branches
from .siting.decision import DecisionResult, add_stability, decide
from .siting.budget import MIN_SHARE_S, TimeBudget
from .siting.plan import recommend_stations, station_candidates
from .siting.schema import finalize_recommendations
from .pointindex import build_point_index, save_point_index
from .travel import member_travel_table

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]

#: Stages in order, with their rough share of a run's time (for progress reporting).
STAGES: tuple[tuple[str, float], ...] = (
    ("load", 0.05),
    ("geocode", 0.10),
    ("network", 0.45),
    ("travel", 0.20),
    ("coverage", 0.05),
    ("dispersion", 0.05),
    ("siting", 0.10),
    ("decision", 0.03),
    ("maps", 0.04),
    ("export", 0.01),
    ("report", 0.02),
)

#: Weight of the organisation models in the siting stage's time budget (each station model weighs 1).
ORGANISATION_WEIGHT = 2.0
#: Share of the siting time limit kept for the rule-based steps after the joint-branch model
#: (transfers, remote branches, party groups, the recommendation table).
ORGANISATION_RESERVE = 0.05

MEMBER_COLUMNS = [
    "id", "name", "status", "age", "branch_id", "address", "township", "community",
    "lon", "lat", "crs_in", "geocode_precision", "geocode_score", "geocode_match",
    "snap_m", "network_status",
    "walk_min_branch", "branch_status", "walk_min_station", "nearest_station_id", "station_status",
    "drive_min_hospital", "nearest_hospital_id", "hospital_status",
    "covered_station", "covered_branch", "covered_hospital",
    "dispersed", "dispersion_reason", "dispersion_note", "member_city", "member_county", "meeting_township",
    "recommendation_id", "recommendation_kind",
]


@dataclass
class RunResult:
    """What a run produced (tables are WGS-84)."""

    scenario: Scenario
    out_dir: Path
    members: pd.DataFrame
    branches: pd.DataFrame
    stations: pd.DataFrame
    hospitals: pd.DataFrame | None
    rejections: pd.DataFrame
    walk: RoadNetwork
    drive: RoadNetwork | None
    gazetteer: Gazetteer
    coverage_by_area: pd.DataFrame | None = None
    coverage_by_branch: pd.DataFrame | None = None
    recommendations: pd.DataFrame | None = None
    decision: DecisionResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


class _Progress:
    def __init__(self, fn: ProgressFn | None) -> None:
        self.fn = fn
        self.done = 0.0
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        share = dict(STAGES).get(name, 0.0)
        if self.fn:
            self.fn(name, self.done)
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.done = min(1.0, self.done + share)
        log.info("stage %s done in %.2f s", name, self.timings[name])
        if self.fn:
            self.fn(name, self.done)

    def step(self, name: str, text: str, fraction: float) -> None:
        """Report progress inside stage ``name``: ``"name: text"`` at ``fraction`` (0–1) of the stage."""
        if self.fn:
            share = dict(STAGES).get(name, 0.0)
            self.fn(f"{name}: {text}", min(1.0, self.done + share * max(0.0, min(1.0, fraction))))


def _geocode_layer(
    layer: LayerResult, kind: str, gaz: Gazetteer, scenario: Scenario
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing coordinates from addresses; report what could not be placed.

    Members without a match are kept (no location, no time, a warning row); facilities
    without a location are rejected, because nothing can be measured to them.
    """
    df = layer.frame.copy()
    df["geocode_precision"] = np.where(df["lon"].notna() & df["lat"].notna(), "coordinates", "")
    df["geocode_score"] = np.where(df["geocode_precision"] == "coordinates", 100.0, np.nan)
    df["geocode_match"] = ""
    need = df["lon"].isna() | df["lat"].isna()
    problems = []
    if need.any():
        addr = df.loc[need, "address"].fillna("").astype(str).tolist() if "address" in df else [""] * int(need.sum())
        if kind == "branches" and "meeting_place" in df:
            place = df.loc[need, "meeting_place"].fillna("").astype(str).tolist()
            addr = [a or p for a, p in zip(addr, place, strict=True)]
        res = geocode(addr, gaz, scenario.geocode)
        idx = df.index[need]
        if kind == "members":
            res = _refine_from_area_columns(res, df.loc[idx], gaz, scenario)
        for col in ("lon", "lat"):
            df.loc[idx, col] = res[col].to_numpy()
        df.loc[idx, "geocode_precision"] = res["geocode_precision"].to_numpy()
        df.loc[idx, "geocode_score"] = res["geocode_score"].to_numpy()
        df.loc[idx, "geocode_match"] = res["geocode_match"].to_numpy()
        for col, src in (("township", "geocode_township"), ("community", "geocode_community")):
            if col in df:
                blank = df.loc[idx, col].fillna("").astype(str) == ""
                df.loc[idx[blank.to_numpy()], col] = res.loc[blank.to_numpy(), src].to_numpy()
        unmatched = df.loc[idx, "geocode_precision"] == "unmatched"
        for i in idx[unmatched.to_numpy()]:
            problems.append(
                {
                    "file": str(layer.info.get("file", "")),
                    "row": int(df.loc[i, "source_row"]),
                    "field": "address",
                    "value": str(df.loc[i, "address"]) if "address" in df else "",
                    "reason": "address could not be geocoded offline; no location and no travel time",
                    "action": "warning" if kind == "members" else "rejected",
                }
            )
        if kind == "members":  # placed, but too coarsely for travel times: say which, so it can be fixed
            level = scenario.geocode.min_precision_for_times
            coarse = ~precise_for_times(df.loc[idx, "geocode_precision"], level) & ~unmatched.to_numpy()
            for i in idx[coarse]:
                problems.append(
                    {
                        "file": str(layer.info.get("file", "")),
                        "row": int(df.loc[i, "source_row"]),
                        "field": "address",
                        "value": str(df.loc[i, "address"]) if "address" in df else "",
                        "reason": f"address placed only to its {df.loc[i, 'geocode_precision']} "
                                  f"({df.loc[i, 'geocode_match']}): shown on the map, no travel time "
                                  f"(min_precision_for_times = {level})",
                        "action": "warning",
                    }
                )
        if kind != "members":
            df = df.drop(index=idx[unmatched.to_numpy()])
    return df, pd.DataFrame(problems, columns=["file", "row", "field", "value", "reason", "action"])


def _refine_from_area_columns(
    res: pd.DataFrame, rows: pd.DataFrame, gaz: Gazetteer, scenario: Scenario
) -> pd.DataFrame:
    """Where an address is too coarse for travel times, try the table's own 街道 + 社区 columns.

    A member written as 「贵溪市雄石街道」 whose 所在社区 column says 城北社区 is placed at that
    community when the gazetteer knows it; the finer of the two answers is kept.
    """
    if "community" not in rows:
        return res
    level = scenario.geocode.min_precision_for_times
    town = rows["township"].fillna("").astype(str) if "township" in rows else pd.Series("", index=rows.index)
    comm = rows["community"].fillna("").astype(str)
    coarse = ~precise_for_times(res["geocode_precision"], level) & (comm != "").to_numpy()
    if not coarse.any():
        return res
    alt = geocode((town + comm)[coarse].tolist(), gaz, scenario.geocode)
    rank = {p: i for i, p in enumerate(PRECISIONS)}
    better = alt["geocode_precision"].map(rank).to_numpy() < res.loc[coarse, "geocode_precision"].map(rank).to_numpy()
    out = res.copy()
    target = np.flatnonzero(coarse)[better]
    for col in ("lon", "lat", "geocode_precision", "geocode_score", "geocode_match"):
        out.loc[target, col] = alt.loc[better, col].to_numpy()
    if len(target):
        log.info("%d members placed from their 街道/社区 columns instead of a coarser address", len(target))
    return out


def _versions() -> dict[str, str]:
    """Versions of the libraries the answer depends on (from package metadata: importing osmnx
    only for its version took seconds when the networks came from the cache)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"geo_planner": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "pandas": pd.__version__}
    for name in ("scipy", "shapely", "osmnx", "highspy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - metadata missing
            pass
    from .admin import boundary_source

    out["admin_boundaries"] = boundary_source() or "none (nearest county seat)"
    return out


def run(
    scenario: Scenario,
    out_dir: Path | str,
    *,
    progress: ProgressFn | None = None,
    map_copy: Path | str | None = None,
) -> RunResult:
    """Run every stage of a scenario and write the result files.

    Parameters
    ----------
    scenario
        A validated scenario (``settings.load_scenario``).
    out_dir
        Folder for the outputs (created).
    progress
        Called as ``progress(stage, fraction_done)`` at each stage boundary.
    map_copy
        Also write the planner map here (the CLI writes one under ``maps/``).

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        If an input file is unusable as a whole (empty, missing required columns).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prog = _Progress(progress)
    started = datetime.now(timezone.utc)
    cache = scenario.network.resolved_cache_dir()
    rejections: list[pd.DataFrame] = []

    with prog.stage("load"):
        ref = date.today()
        branches_l = load_layer("branches", scenario.inputs.branches, reference_date=ref)
        stations_l = load_layer("stations", scenario.inputs.stations, reference_date=ref)
        hospitals_l = (
            load_layer("hospitals", scenario.inputs.hospitals, reference_date=ref)
            if scenario.inputs.hospitals is not None
            else None
        )
        members_l = load_layer("members", scenario.inputs.members, branches=branches_l.frame, reference_date=ref)
        layers = {"branches": branches_l, "stations": stations_l, "members": members_l}
        if hospitals_l is not None:
            layers["hospitals"] = hospitals_l
        for layer in layers.values():
            rejections.append(layer.rejections)
        if len(members_l.frame) == 0:
            raise InputError(f"{scenario.inputs.members.path}: no member row could be accepted; see rejections")

    with prog.stage("geocode"):
        gaz = Gazetteer.from_osm(scenario.network.osm, cache_dir=cache)
        frames: dict[str, pd.DataFrame] = {}
        for kind, layer in layers.items():
            frames[kind], rej = _geocode_layer(layer, kind, gaz, scenario)
            rejections.append(rej)

    with prog.stage("network"):
        net_opts = {
            "walk_speed_kmh": scenario.network.walk_speed_kmh,
            "drive_fallback_speed_kmh": scenario.network.drive_fallback_speed_kmh,
            "cache_dir": cache,
        }
        walk = build_network(scenario.network.osm, "walk", **net_opts)
        drive = build_network(scenario.network.osm, "drive", **net_opts) if "hospitals" in frames else None

    with prog.stage("travel"):
        members = frames["members"]
        # members placed only to their township/county keep their point but get no time
        precise = precise_for_times(members["geocode_precision"], scenario.geocode.min_precision_for_times)
        imprecise = ~precise & members["lon"].notna().to_numpy() & members["lat"].notna().to_numpy()
        timed = members.copy()
        timed.loc[imprecise, ["lon", "lat"]] = np.nan
        times = member_travel_table(
            walk, drive, timed, frames["branches"], frames["stations"], frames.get("hospitals"),
            max_snap_m=scenario.network.max_snap_m,
        )
        for col in [c for c in times.columns if c.endswith("_status")]:
            times.loc[imprecise, col] = IMPRECISE_STATUS
        members = pd.concat([members, times], axis=1)

    with prog.stage("coverage"):
        units = fill_admin_units(members, gaz)
        members[["township", "community", "area_source"]] = units
        members = pd.concat([members, member_coverage(members, scenario.thresholds)], axis=1)
        by_area = summarize_by_area(members)
        by_branch = summarize_by_branch(members, frames["branches"])

    with prog.stage("dispersion"):
        disp = classify_members(members, frames["branches"], gaz, branch_walk_min=scenario.thresholds.branch_walk_min,
                                remote_rule=scenario.dispersion.remote)
        members = pd.concat([members, disp], axis=1)
        bd = branch_dispersion(members, flag_share=scenario.branches.dispersed_share_flag)
        by_branch = by_branch.merge(bd, on="branch_id", how="left")
        # branches carry their dispersion shares (map colours, branches.csv)
        branches_out = frames["branches"].merge(bd.rename(columns={"branch_id": "id"}), on="id", how="left")

    with prog.stage("siting"):
        cands = station_candidates(
            frames["stations"], gaz, walk, station_walk_min=scenario.thresholds.station_walk_min,
            max_snap_m=scenario.network.max_snap_m,
        )
        # one time limit for the stage, shared out among its models (siting/budget.py)
        budget = TimeBudget(scenario.siting.time_limit_s)
        station_recs, siting_summary = recommend_stations(
            members, cands, walk, scenario, budget=budget, reserve=ORGANISATION_WEIGHT,
            progress=lambda text, f: prog.step("siting", text, 0.6 * f),
        )
        # meeting places for joint branches: existing stations first, then OSM host places
        sites = cands[cands["source"] != "network_node"].assign(
            kind=lambda d: np.where(d["existing"], "station", "candidate")
        )
        organisation: dict[str, Any] = {}
        # an imprecise address (a township/county centre) never becomes a meeting point or a walk
        coarse = (members["network_status"] == IMPRECISE_STATUS).to_numpy()
        org_members = members.assign(lon=members["lon"].mask(coarse), lat=members["lat"].mask(coarse))
        branch_recs, _ = recommend_branches(
            org_members, frames["branches"], sites, walk, rules=scenario.branches, thresholds=scenario.thresholds,
            max_snap_m=scenario.network.max_snap_m,
            time_limit_s=max(budget.left_s - ORGANISATION_RESERVE * budget.total_s, 10 * MIN_SHARE_S),
            report=organisation, progress=lambda text, f: prog.step("siting", text, 0.6 + 0.4 * f),
        )
        stopped = stopped_models(siting_summary, organisation)
        for model, rec in stopped.items():
            log.warning("%s stopped (%s) within the siting time limit of %g s: %s", model, rec.get("status"),
                        scenario.siting.time_limit_s, rec.get("message", ""))
        recs = finalize_recommendations([station_recs, branch_recs])
        members = members.join(_member_recommendations(recs), on="id")
        if len(recs):
            units = assign_admin_units(recs["lon"].to_numpy(float), recs["lat"].to_numpy(float), gaz)
            blank = recs["township"].fillna("").astype(str) == ""
            recs.loc[blank, "township"] = units.loc[blank.to_numpy(), "township"].to_numpy()

    with prog.stage("decision"):
        # p-center, equity, trade-off curve, sensitivity and the phased plan (siting/decision.py)
        decision = decide(members, cands, walk, scenario, siting_summary) if siting_summary else None
        if decision is not None:
            for model, fig in decision.equity.items():
                if isinstance(siting_summary.get(model), dict):
                    siting_summary[model]["equity"] = fig
            siting_summary["p_center"] = decision.summary["p_center"]
            siting_summary["current"] = {"equity": decision.equity["current"]}
            by_area = by_area.merge(decision.equity_by_area, on=["level", "area", "township"], how="left")
            recs, members = _with_decision(recs, members, decision, gaz)

    with prog.stage("maps"):
        fmap = build_map(
            members, branches_out, frames["stations"], frames.get("hospitals"), recs, walk=walk, drive=drive,
            thresholds=scenario.thresholds, settings=scenario.map, role="planner", coverage_by_area=by_area,
            title=scenario.name, max_snap_m=scenario.network.max_snap_m,
        )
        map_files = [out / "map.html"] + ([Path(map_copy)] if map_copy else [])
        for path in map_files:
            save_map(fmap, path)

    with prog.stage("export"):
        exports = {}
        for fmt in ("xlsx", "geojson", "gpkg"):
            exports[f"recommendations_{fmt}"] = export_table(
                recs, out / f"recommendations.{fmt}", table="recommendations", fmt=fmt  # type: ignore[arg-type]
            )
        exports["coverage_by_area_xlsx"] = export_table(by_area, out / "coverage_by_area.xlsx", table="coverage_by_area")
        exports["coverage_by_branch_xlsx"] = export_table(
            by_branch, out / "coverage_by_branch.xlsx", table="coverage_by_branch"
        )
        exports["members_xlsx"] = export_table(members_table(members), out / "members.xlsx", table="members")
        if decision is not None:
            for name in ("tradeoff", "sensitivity", "phased_plan"):
                exports[f"{name}_xlsx"] = export_table(getattr(decision, name), out / f"{name}.xlsx", table=name)
        # what a point query needs (per node: nearest facility and those within the threshold)
        exports["point_index"] = save_point_index(
            build_point_index(walk, drive, stations=frames["stations"], branches=frames["branches"],
                              hospitals=frames.get("hospitals"), thresholds=scenario.thresholds,
                              max_snap_m=scenario.network.max_snap_m),
            out / "point_index.npz")

    rej = pd.concat([r for r in rejections if len(r)], ignore_index=True) if any(len(r) for r in rejections) else (
        pd.DataFrame(columns=["file", "row", "field", "value", "reason", "action"])
    )
    result = RunResult(
        scenario=scenario, out_dir=out, members=members, branches=branches_out,
        stations=frames["stations"], hospitals=frames.get("hospitals"), rejections=rej,
        walk=walk, drive=drive, gazetteer=gaz, timings=prog.timings,
        coverage_by_area=by_area, coverage_by_branch=by_branch, recommendations=recs, decision=decision,
        counts={"siting": siting_summary, "organisation": organisation, "candidates": int(len(cands)),
                "siting_time_limit_s": float(scenario.siting.time_limit_s),
                "models_stopped": sorted(stopped_models(siting_summary, organisation))},  # p-center too
    )
    if decision is not None:
        result.counts["decision"] = {k: v for k, v in decision.summary.items() if k != "p_center"}
    result.files.update({k: str(v) for k, v in exports.items()})
    result.files.update({f"map{'' if i == 0 else '_copy'}": str(p) for i, p in enumerate(map_files)})
    write_outputs(result, started=started)
    with prog.stage("report"):
        from .report import write_report

        result.files.update({k: str(v) for k, v in write_report(result).items()})
    result.timings = prog.timings
    write_run_json(result, started=started)
    if progress:
        progress("done", 1.0)
    return result


def _with_decision(
    recs: pd.DataFrame, members: pd.DataFrame, decision: DecisionResult, gaz: Gazetteer
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the p-center's new stations and every new station's stability to the recommendations.

    The p-center rows join the other new stations, so the recommendations are numbered again
    and members' ``recommendation_id`` follows.
    """
    is_station = recs["kind"] == "new_station"
    pc = decision.pcenter_recommendations
    if len(pc):
        units = assign_admin_units(pc["lon"].to_numpy(float), pc["lat"].to_numpy(float), gaz)
        pc = pc.assign(township=units["township"].to_numpy())
    stations = add_stability(pd.concat([recs[is_station], pc], ignore_index=True), decision)
    recs = finalize_recommendations([stations, recs[~is_station]])
    cols = ["recommendation_id", "recommendation_kind"]
    members = members.drop(columns=[c for c in cols if c in members]).join(_member_recommendations(recs), on="id")
    return recs, members


def stopped_models(siting: dict[str, Any], organisation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The station and organisation models that stopped at their time limit (or fell back to greedy).

    Parameters
    ----------
    siting, organisation
        The ``counts["siting"]`` and ``counts["organisation"]`` records of ``run.json``.

    Returns
    -------
    dict
        Model name → its record, for every model whose ``status`` is ``time_limit`` or ``greedy``.
    """
    out: dict[str, dict[str, Any]] = {}
    for group in (siting, organisation):
        for name, rec in (group or {}).items():
            if isinstance(rec, dict) and rec.get("status") in ("time_limit", "greedy"):
                out[name] = rec
    return out


def _member_recommendations(recs: pd.DataFrame) -> pd.DataFrame:
    """Each member's branch recommendation (joint branch, transfer, party group, remote branch …).

    Station recommendations are left out: a member can be served by new sites of several models.
    """
    org = recs[recs["kind"] != "new_station"]
    cols = ["recommendation_id", "recommendation_kind"]
    if org.empty:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="id"))
    pairs = org.assign(id=org["member_ids"].str.split(";")).explode("id")
    pairs = pairs[pairs["id"].fillna("") != ""].drop_duplicates("id")
    return pairs.set_index("id")[["rec_id", "kind"]].set_axis(cols, axis=1)


def members_table(members: pd.DataFrame) -> pd.DataFrame:
    """The ``members.csv`` columns: the documented ones first, then the planner's extra columns."""
    cols = [c for c in MEMBER_COLUMNS if c in members.columns]
    extra = [c for c in members.columns if c not in cols and c not in ("geometry", "source_row")]
    table = members[cols + extra].copy()
    for c in ("walk_min_branch", "walk_min_station", "drive_min_hospital"):
        if c in table:
            table[c] = table[c].round(2)
    return table


def write_outputs(result: RunResult, *, started: datetime) -> None:
    """Write ``members.csv``, ``rejections.csv`` and ``run.json`` atomically."""
    out = result.out_dir
    table = members_table(result.members)
    atomic_write(out / "members.csv", lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
    write_rejections(result.rejections, out / "rejections.csv")
    written = {"members": out / "members.csv", "rejections": out / "rejections.csv"}
    # the accepted, geocoded facilities (WGS-84) — the service answers point questions from them
    facilities = {"branches": result.branches, "stations": result.stations, "hospitals": result.hospitals}
    for name, frame in facilities.items():
        if frame is not None:
            table = pd.DataFrame(frame.drop(columns=[c for c in ("geometry", "source_row") if c in frame]))
            atomic_write(out / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False, encoding="utf-8-sig"))
            written[name] = out / f"{name}.csv"
    for name in ("coverage_by_area", "coverage_by_branch", "recommendations"):
        table = getattr(result, name)
        if table is not None:
            path = out / f"{name}.csv"
            atomic_write(path, lambda p, t=table: t.to_csv(p, index=False, encoding="utf-8-sig"))
            written[name] = path
    if result.decision is not None:  # trade-off curve, sensitivity, phased plan (siting/decision.py)
        for name in ("tradeoff", "sensitivity", "phased_plan"):
            path = out / f"{name}.csv"
            table = getattr(result.decision, name)
            atomic_write(path, lambda p, t=table: t.to_csv(p, index=False, encoding="utf-8-sig"))
            written[name] = path
    m = result.members
    counts: dict[str, Any] = {
        "members": int(len(m)),
        "branches": int(len(result.branches)),
        "stations": int(len(result.stations)),
        "hospitals": int(len(result.hospitals)) if result.hospitals is not None else 0,
        "rejected_rows": int((result.rejections["action"] == "rejected").sum()) if len(result.rejections) else 0,
        "warnings": int((result.rejections["action"] == "warning").sum()) if len(result.rejections) else 0,
        "geocode_precision": {str(k): int(v) for k, v in m["geocode_precision"].value_counts().items()},
        "network_status": {str(k): int(v) for k, v in m["network_status"].value_counts().items()},
        "walk_nodes": result.walk.n_nodes,
        "walk_edges": result.walk.n_edges,
        "drive_nodes": result.drive.n_nodes if result.drive is not None else 0,
        "drive_edges": result.drive.n_edges if result.drive is not None else 0,
    }
    for col in ("covered_station", "covered_branch", "covered_hospital", "dispersed"):
        if col in m:
            counts[col] = int(m[col].sum())
    if "admin_source" in m:  # what decided each member's city and county (异地)
        counts["admin_source"] = {str(k): int(v) for k, v in m["admin_source"].value_counts().items()}
    imprecise = m["network_status"] == IMPRECISE_STATUS
    counts["imprecise_location"] = {
        "members": int(imprecise.sum()),
        "min_precision_for_times": result.scenario.geocode.min_precision_for_times,
        "by_precision": {str(k): int(v) for k, v in m.loc[imprecise, "geocode_precision"].value_counts().items()},
        "by_township": {str(k): int(v) for k, v in
                        m.loc[imprecise, "township"].fillna("").astype(str).replace("", "（未定位）").value_counts().items()},
    }
    if "dispersion_reason" in m:
        reasons = m["dispersion_reason"].str.split(";").explode()
        counts["dispersion_reasons"] = {str(k): int(v) for k, v in reasons[reasons != ""].value_counts().items()}
    counts.update(result.counts)
    if result.recommendations is not None:
        counts["recommendations"] = {str(k): int(v) for k, v in result.recommendations["kind"].value_counts().items()}
    result.counts = counts
    result.files.update({k: str(v) for k, v in written.items()})
    result.files["run"] = str(out / "run.json")
    write_run_json(result, started=started)


def write_run_json(result: RunResult, *, started: datetime) -> None:
    """Write ``run.json`` (parameters, versions, timings, counts, files) atomically."""
    out = result.out_dir
    doc = {
        "scenario": json.loads(result.scenario.model_dump_json()),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "timings_s": result.timings,
        "counts": result.counts,
        "files": result.files,
    }
    atomic_write(
        out / "run.json",
        lambda p: p.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8"),
    )
