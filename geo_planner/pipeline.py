"""The one place that knows the order of the stages.

``run(scenario, out_dir)`` loads the four layers, geocodes rows that only have an
address, builds the walking and driving networks, measures travel times and writes::

    members.csv      one row per accepted member (WGS-84 lon/lat, precision, times)
    rejections.csv   every rejected row and every warning (file, row, field, reason)
    run.json         parameters, versions, per-stage timings and counts

Later stages (coverage, dispersion, siting, maps, exports) hang off the same result; each stage
is one ``_stage_…`` step, the network stage is :func:`geo_planner.network.run_networks` (a finished run's
networks are loaded back with it), the result type lives in ``run_result.py``, and the file names and writers
live in ``outputs.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .basemap import build_basemap, write_basemap, write_style
from .coverage import fill_admin_units, member_coverage, summarize_by_area, summarize_by_branch
from .decision.decide import DecisionResult, add_stability, decide
from .decision.instance import siting_instance
from .decision.instance_file import save_siting_instance
from .dispersion import branch_dispersion, classify_members, mark_outside_network
from .errors import InputError, Problem
from .export import export_table
from .functions import FUNCTIONS_COLUMN, function_counts, function_coverage, functions_text, served_from_text
from .functions import station_functions as kinds_to_functions
from .geocode import IMPRECISE_STATUS, PRECISIONS, Gazetteer, assign_admin_units, geocode, precise_for_times
from .io import LayerResult, load_layer
from .maps import build_map, save_map
from .network import RoadNetwork, run_networks
from .organisation import recommend_branches
from .outputs import (
    BASEMAP_FILE,
    BASEMAP_STYLE_FILE,
    DECISION_TABLES,
    MAP_FILE,
    POINT_INDEX_FILE,
    SITING_INSTANCE_FILE,
    members_table,
    write_outputs,
    write_run_json,
)
from .placements import Placement, apply_placements, load_placements
from .placesearch import write_places
from .pointindex import build_point_index, save_point_index
from .run_result import RunResult, stopped_models
from .settings import Scenario
from .siting.budget import FRACTIONS, MIN_SHARE_S, SHARES, TimeBudget
from .siting.function import siting_view
from .siting.plan import recommend_stations, station_candidates
from .siting.schema import finalize_recommendations
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

#: Columns of ``rejections.csv``: every rejected row and every warning.
REJECTION_COLUMNS = ["file", "row", "field", "value", "reason", "action"]

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
    layer: LayerResult, kind: str, gaz: Gazetteer, scenario: Scenario,
    placements: Mapping[tuple[str, str], Placement] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing coordinates from addresses; report what could not be placed.

    Members without a match are kept (no location, no time, a warning row); facilities
    without a location are rejected, because nothing can be measured to them. Members placed by
    hand (``placements``, keyed by id and address text) get their point and ``manual`` first.
    """
    df = layer.frame.copy()
    df["geocode_precision"] = np.where(df["lon"].notna() & df["lat"].notna(), "coordinates", "")
    df["geocode_score"] = np.where(df["geocode_precision"] == "coordinates", 100.0, np.nan)
    df["geocode_match"] = ""
    if kind == "members" and placements:
        df["geocode_score"] = df["geocode_score"].astype(float)
        df["geocode_match"] = df["geocode_match"].astype(object)
        apply_placements(df, placements)
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
        written = df.loc[idx, "address"].fillna("").astype(str) != "" if "address" in df else unmatched & False
        for i in idx[(unmatched & written).to_numpy()]:  # a blank address was warned about when loaded
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
    return df, pd.DataFrame(problems, columns=REJECTION_COLUMNS)


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


@dataclass
class _State:
    """What the stages of one run hand each other (filled in stage by stage)."""

    scenario: Scenario
    out: Path
    prog: _Progress
    layers: dict[str, LayerResult] = field(default_factory=dict)
    rejections: list[pd.DataFrame] = field(default_factory=list)
    gaz: Gazetteer | None = None
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    placements: Mapping[tuple[str, str], Placement] | None = None
    walk: RoadNetwork | None = None
    drive: RoadNetwork | None = None
    members: pd.DataFrame | None = None
    by_area: pd.DataFrame | None = None
    by_branch: pd.DataFrame | None = None
    branches_out: pd.DataFrame | None = None
    cands: pd.DataFrame | None = None
    recs: pd.DataFrame | None = None
    siting_summary: dict[str, Any] = field(default_factory=dict)
    organisation: dict[str, Any] = field(default_factory=dict)
    siting_budget: TimeBudget | None = None
    decision: DecisionResult | None = None
    map_files: list[Path] = field(default_factory=list)
    basemap_counts: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Path] = field(default_factory=dict)
    unknown_kinds: int = 0


def _stage_load(st: _State) -> None:
    """Read the four layers (members checked against the branches)."""
    inputs, ref = st.scenario.inputs, date.today()
    branches = load_layer("branches", inputs.branches, reference_date=ref)
    stations = load_layer("stations", inputs.stations, reference_date=ref)
    hospitals = load_layer("hospitals", inputs.hospitals, reference_date=ref) if inputs.hospitals is not None else None
    members = load_layer("members", inputs.members, branches=branches.frame, reference_date=ref)
    st.layers = {"branches": branches, "stations": stations, "members": members}
    if hospitals is not None:
        st.layers["hospitals"] = hospitals
    st.rejections.extend(layer.rejections for layer in st.layers.values())
    if len(members.frame) == 0:
        raise InputError(f"{inputs.members.path}: no member row could be accepted; see rejections")


def _stage_geocode(st: _State) -> None:
    """Place rows that only have an address (offline gazetteer of the scenario's OSM extracts)."""
    st.gaz = Gazetteer.from_osm(st.scenario.network.osm, cache_dir=st.scenario.network.resolved_cache_dir())
    for kind, layer in st.layers.items():
        st.frames[kind], rej = _geocode_layer(layer, kind, st.gaz, st.scenario, st.placements)
        st.rejections.append(rej)
    write_places(st.gaz, st.out)  # the places the workspace's review may put a member on


def _stage_travel(st: _State) -> None:
    """Walking and driving minutes from every precisely placed member to its facilities."""
    members = st.frames["members"]
    # members placed only to their township/county keep their point but get no time
    precise = precise_for_times(members["geocode_precision"], st.scenario.geocode.min_precision_for_times)
    imprecise = ~precise & members["lon"].notna().to_numpy() & members["lat"].notna().to_numpy()
    timed = members.copy()
    timed.loc[imprecise, ["lon", "lat"]] = np.nan
    # what each station is for (四就近): its kind through [functions]; unknown kinds warned, counted as activity
    stations = st.frames["stations"]
    served, warn = kinds_to_functions(stations, st.scenario.functions,
                                      file=str(st.layers["stations"].info.get("file", "")))
    st.rejections.append(warn)
    st.unknown_kinds = len(warn)
    st.frames["stations"] = stations.assign(**{FUNCTIONS_COLUMN: functions_text(served).to_numpy()})
    times = member_travel_table(
        st.walk, st.drive, timed, st.frames["branches"], st.frames["stations"], st.frames.get("hospitals"),
        max_snap_m=st.scenario.network.max_snap_m, branch_limit_min=st.scenario.thresholds.branch_limit(),
        station_functions=served,
    )
    for col in [c for c in times.columns if c.endswith("_status")]:
        times.loc[imprecise, col] = IMPRECISE_STATUS
    st.members = pd.concat([members, times], axis=1)


def _stage_coverage(st: _State) -> None:
    """Admin units, coverage flags, and the summaries by area and by branch."""
    members = st.members
    members[["township", "community", "area_source"]] = fill_admin_units(members, st.gaz)
    members = pd.concat([members, member_coverage(members, st.scenario.thresholds),
                         function_coverage(members, st.scenario.thresholds)], axis=1)
    st.by_area = summarize_by_area(members)
    st.by_branch = summarize_by_branch(members, st.frames["branches"])
    st.members = members


def _stage_dispersion(st: _State) -> None:
    """Dispersed members and each branch's dispersion shares."""
    sc = st.scenario
    disp = classify_members(st.members, st.frames["branches"], st.gaz, branch_walk_min=sc.thresholds.branch_walk_min,
                            remote_rule=sc.dispersion.remote, branch_limit_min=sc.thresholds.branch_limit())
    outside = disp.pop("outside_extract")  # outside the extracts, in the branch's city: not 异地
    st.members = mark_outside_network(pd.concat([st.members, disp], axis=1), outside)
    bd = branch_dispersion(st.members, flag_share=sc.branches.dispersed_share_flag)
    st.by_branch = st.by_branch.merge(bd, on="branch_id", how="left")
    # branches carry their dispersion shares (map colours, branches.csv)
    st.branches_out = st.frames["branches"].merge(bd.rename(columns={"branch_id": "id"}), on="id", how="left")


def _stage_siting(st: _State) -> None:
    """New stations, then the organisation (joint branches, transfers …) within one time budget.

    The budget (``siting/budget.py``) starts with the stage: the set-up (candidates, the member ×
    candidate walks) counts against it, so set-up that overruns shrinks what the models get.
    """
    sc, members, prog = st.scenario, st.members, st.prog
    st.siting_budget = budget = TimeBudget(sc.siting.time_limit_s, name="siting")
    weights = SHARES["siting"]
    # [siting] function: the station models see only that function's places, times and threshold
    view = siting_view(members, st.frames["stations"], sc)
    with budget.step("candidates"):
        st.cands = cands = station_candidates(
            view.stations, st.gaz, st.walk, station_walk_min=view.scenario.thresholds.station_walk_min,
            max_snap_m=sc.network.max_snap_m,
        )
    # one member × candidate matrix for the station models and the decision stage
    with budget.step("station_walks"):
        st.instance = siting_instance(view.members, cands, st.walk, view.scenario) if len(cands) else None
    station_recs, st.siting_summary = recommend_stations(
        view.members, cands, st.walk, view.scenario, budget=budget, reserve=weights["organisation"],
        progress=lambda text, f: prog.step("siting", text, 0.6 * f),
        cost=st.instance.cost if st.instance is not None else None,
    )
    station_recs = view.label(station_recs)
    if view.function is not None and st.siting_summary:
        st.siting_summary["function"] = view.function
    # meeting places for joint branches: existing stations first (of every function), then OSM host places
    sites = view.branch_sites(cands)
    # an imprecise address (a township/county centre) never becomes a meeting point or a walk
    coarse = (members["network_status"] == IMPRECISE_STATUS).to_numpy()
    org_members = members.assign(lon=members["lon"].mask(coarse), lat=members["lat"].mask(coarse))
    # the organisation takes what is left but the reserve for the steps after it
    org_limit = max(budget.left_s - FRACTIONS["siting.reserve"] * budget.total_s, 10 * MIN_SHARE_S)
    with budget.step("organisation", org_limit) as org:
        branch_recs, _ = recommend_branches(
            org_members, st.frames["branches"], sites, st.walk, rules=sc.branches, thresholds=sc.thresholds,
            max_snap_m=sc.network.max_snap_m, budget=org,
            report=st.organisation, progress=lambda text, f: prog.step("siting", text, 0.6 + 0.4 * f),
        )
    for model, rec in stopped_models(st.siting_summary, st.organisation).items():
        log.warning("%s stopped (%s) within the siting time limit of %g s: %s", model, rec.get("status"),
                    sc.siting.time_limit_s, rec.get("message", ""))
    recs = finalize_recommendations([station_recs, branch_recs])
    st.members = members.join(_member_recommendations(recs), on="id")
    if len(recs):
        units = assign_admin_units(recs["lon"].to_numpy(float), recs["lat"].to_numpy(float), st.gaz)
        blank = recs["township"].fillna("").astype(str) == ""
        recs.loc[blank, "township"] = units.loc[blank.to_numpy(), "township"].to_numpy()
    st.recs = recs
    budget.stop()


def _stage_decision(st: _State) -> None:
    """p-center, equity, trade-off curve, sensitivity and the phased plan (decision/decide.py)."""
    summary = st.siting_summary
    inst, st.instance = st.instance, None  # not kept past this stage (its cost matrix is the largest array)
    if not summary:
        return
    # [siting] function: the members, places and threshold as the station models saw them
    view = siting_view(st.members, st.frames["stations"], st.scenario)
    if inst is not None:  # kept on disk: the service re-solves the station models on it (reoptimise.py)
        st.exports["siting_instance"] = save_siting_instance(inst, st.out / SITING_INSTANCE_FILE)
    st.decision = decision = decide(view.members, st.cands, st.walk, view.scenario, summary, instance=inst)
    for model, fig in decision.equity.items():
        if isinstance(summary.get(model), dict):
            summary[model]["equity"] = fig
    summary["p_center"] = decision.summary["p_center"]
    summary["current"] = {"equity": decision.equity["current"]}
    st.by_area = st.by_area.merge(decision.equity_by_area, on=["level", "area", "township"], how="left")
    st.recs, st.members = _with_decision(st.recs, st.members, decision, st.gaz)


def _stage_maps(st: _State, map_copy: Path | str | None) -> None:
    """The extract's own base map (``basemap.geojson`` and its style), the planner's map (``map.html``)."""
    sc = st.scenario
    base = build_basemap(sc.network.osm)
    st.exports["basemap"] = write_basemap(base, st.out / BASEMAP_FILE)
    st.exports["basemap_style"] = write_style(st.out / BASEMAP_STYLE_FILE, BASEMAP_FILE)
    st.basemap_counts = {"features": base.counts(), "not_drawn": base.skipped,
                         "bytes": (st.out / BASEMAP_FILE).stat().st_size}
    fmap = build_map(
        st.members, st.branches_out, st.frames["stations"], st.frames.get("hospitals"), st.recs, walk=st.walk,
        drive=st.drive, thresholds=sc.thresholds, settings=sc.map, role="planner", coverage_by_area=st.by_area,
        title=sc.name, max_snap_m=sc.network.max_snap_m, basemap=base.features,
    )
    st.map_files = [st.out / MAP_FILE] + ([Path(map_copy)] if map_copy else [])
    for path in st.map_files:
        save_map(fmap, path)


def _stage_export(st: _State) -> None:
    """Spreadsheets and GIS files of the result tables, and the point index the service answers from."""
    out, recs, exports = st.out, st.recs, st.exports
    for fmt in ("xlsx", "geojson", "gpkg"):
        exports[f"recommendations_{fmt}"] = export_table(
            recs, out / f"recommendations.{fmt}", table="recommendations", fmt=fmt  # type: ignore[arg-type]
        )
    exports["coverage_by_area_xlsx"] = export_table(st.by_area, out / "coverage_by_area.xlsx", table="coverage_by_area")
    exports["coverage_by_branch_xlsx"] = export_table(
        st.by_branch, out / "coverage_by_branch.xlsx", table="coverage_by_branch"
    )
    exports["members_xlsx"] = export_table(members_table(st.members), out / "members.xlsx", table="members",
                                           branch_limit_min=st.scenario.thresholds.branch_limit())
    if st.decision is not None:
        for name in DECISION_TABLES:
            exports[f"{name}_xlsx"] = export_table(getattr(st.decision, name), out / f"{name}.xlsx", table=name)
    # what a point query needs (per node: nearest facility and those within the threshold)
    sc = st.scenario
    exports["point_index"] = save_point_index(
        build_point_index(st.walk, st.drive, stations=st.frames["stations"], branches=st.frames["branches"],
                          hospitals=st.frames.get("hospitals"), thresholds=sc.thresholds,
                          max_snap_m=sc.network.max_snap_m),
        out / POINT_INDEX_FILE)


def _result(st: _State) -> RunResult:
    """Assemble the run's result from the stages' state."""
    parts = [r for r in st.rejections if len(r)]
    rej = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECTION_COLUMNS)
    sc = st.scenario
    result = RunResult(
        scenario=sc, out_dir=st.out, members=st.members, branches=st.branches_out,
        stations=st.frames["stations"], hospitals=st.frames.get("hospitals"), rejections=rej,
        walk=st.walk, drive=st.drive, gazetteer=st.gaz, timings=st.prog.timings,
        coverage_by_area=st.by_area, coverage_by_branch=st.by_branch, recommendations=st.recs,
        decision=st.decision,
        counts={"siting": st.siting_summary, "organisation": st.organisation, "candidates": int(len(st.cands)),
                "siting_time_limit_s": float(sc.siting.time_limit_s),
                "models_stopped": sorted(stopped_models(st.siting_summary, st.organisation)),  # p-center too
                "basemap": st.basemap_counts},
    )
    if st.siting_budget is not None:  # where the siting stage's time went (siting/budget.py)
        result.counts["siting_budget"] = st.siting_budget.record()
    served = served_from_text(st.frames["stations"][FUNCTIONS_COLUMN])
    result.counts["coverage"] = {
        "functions": function_counts(st.members, served, sc.thresholds, st.unknown_kinds)}
    if st.decision is not None:
        result.counts["decision"] = {k: v for k, v in st.decision.summary.items() if k != "p_center"}
    result.files.update({k: str(v) for k, v in st.exports.items()})
    result.files.update({f"map{'' if i == 0 else '_copy'}": str(p) for i, p in enumerate(st.map_files)})
    return result


def run(
    scenario: Scenario,
    out_dir: Path | str,
    *,
    progress: ProgressFn | None = None,
    map_copy: Path | str | None = None,
    placements: Mapping[tuple[str, str], Placement] | None = None,
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
    placements
        Members placed by hand (:func:`geo_planner.placements.load_placements`), applied before geocoding;
        ``None``: the scenario's ``inputs.placements`` file, if it names one.

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
    if placements is None and scenario.inputs.placements is not None:  # the scenario's own file
        if not Path(scenario.inputs.placements).is_file():
            raise InputError(Problem(str(scenario.inputs.placements), None, "inputs.placements",
                                     "placements file not found"))
        placements = load_placements(scenario.inputs.placements)
    st = _State(scenario=scenario, out=out, prog=_Progress(progress), placements=placements)
    started = datetime.now(timezone.utc)
    steps: tuple[tuple[str, Callable[[], None]], ...] = (
        ("load", lambda: _stage_load(st)),
        ("geocode", lambda: _stage_geocode(st)),
        ("network", lambda: _stage_network(st)),
        ("travel", lambda: _stage_travel(st)),
        ("coverage", lambda: _stage_coverage(st)),
        ("dispersion", lambda: _stage_dispersion(st)),
        ("siting", lambda: _stage_siting(st)),
        ("decision", lambda: _stage_decision(st)),
        ("maps", lambda: _stage_maps(st, map_copy)),
        ("export", lambda: _stage_export(st)),
    )
    for name, step in steps:
        with st.prog.stage(name):
            step()
    result = _result(st)
    write_outputs(result, started=started)
    with st.prog.stage("report"):
        from .report import write_report

        result.files.update({k: str(v) for k, v in write_report(result).items()})
    result.timings = st.prog.timings
    write_run_json(result, started=started)
    if progress:
        progress("done", 1.0)
    return result


def _stage_network(st: _State) -> None:
    """The road networks (:func:`run_networks`)."""
    st.walk, st.drive = run_networks(st.scenario)


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


