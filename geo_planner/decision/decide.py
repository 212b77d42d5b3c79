"""Decision support around the station models: p-center, equity, and where the rest lives.

One answer to one objective does not defend a plan in a meeting. Around the maximal covering
model (:mod:`geo_planner.siting.models.mclp`) the decision step answers the questions a
老干部局 is asked; :func:`decide` runs them all for one run:

* **How much does each extra station bring?** :mod:`geo_planner.decision.tradeoff`.
* **Does the answer hold?** :mod:`geo_planner.decision.sensitivity` (thresholds, life-circle
  tiers, walking speeds, geocoding draws; site stability).
* **What to build this year and next?** :mod:`geo_planner.decision.phased`.
* **Who is left out, and how unequally?** the p-center (registered model ``p_center``) and
  :func:`~geo_planner.decision.instance.after_minutes` for :mod:`geo_planner.decision.equity`.

Everything works on a :class:`~geo_planner.decision.instance.SitingInstance`: the same members,
weights, candidates and sparse member × site minutes as the run's station models, so the
curve's point at ``p = new_stations`` is the run's maximal covering result.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..network import RoadNetwork
from ..settings import Scenario, SitingSettings
from ..siting.models import StationData, get_model
from ..siting.models.p_center import PCenterResult
from ..siting.budget import SHARES, TimeBudget, pending_weight
from ..siting.schema import recommendation_row
from .equity import equity_by_area, equity_figures
from .instance import (
    GEOCODE_UNCERTAINTY_M,
    SKIPPED,
    SitingInstance,
    after_minutes,
    siting_instance,
)
from .phased import PHASED_COLUMNS, phased_plan
from .sensitivity import SENSITIVITY_COLUMNS, sensitivity
from .tradeoff import TRADEOFF_COLUMNS, tradeoff_curve

log = logging.getLogger(__name__)

__all__ = [
    "GEOCODE_UNCERTAINTY_M",
    "PHASED_COLUMNS",
    "SENSITIVITY_COLUMNS",
    "SKIPPED",
    "TRADEOFF_COLUMNS",
    "DecisionResult",
    "SitingInstance",
    "add_stability",
    "after_minutes",
    "decide",
    "phased_plan",
    "sensitivity",
    "siting_instance",
    "tradeoff_curve",
]


@dataclass
class DecisionResult:
    """Everything the decision-support step adds to a run.

    Attributes
    ----------
    tradeoff, sensitivity, phased_plan
        The ``tradeoff.csv``, ``sensitivity.csv`` and ``phased_plan.csv`` tables.
    pcenter_recommendations
        ``new_station`` rows of the p-center model (recommendations schema, ``rec_id`` empty until numbered).
    equity
        ``{"current": figures, "mclp": figures, …}`` (:func:`geo_planner.decision.equity.equity_figures`).
    equity_by_area
        Equity columns to join onto ``coverage_by_area`` (keys ``level``, ``area``, ``township``).
    summary
        For ``run.json``: p-center, sensitivity and phased-plan summaries, curve figures.
    stability, stability_nearby
        Site id → share of the sensitivity solves choosing it again (exactly / within the radius).
    minutes
        Members' walk minutes per model, aligned with the run's members (for charts).
    """

    tradeoff: pd.DataFrame
    sensitivity: pd.DataFrame
    phased_plan: pd.DataFrame
    pcenter_recommendations: pd.DataFrame
    equity: dict[str, Any]
    equity_by_area: pd.DataFrame
    summary: dict[str, Any]
    stability: dict[str, float | None]
    stability_nearby: dict[str, float | None]
    minutes: dict[str, np.ndarray]


def _pcenter_rows(inst: SitingInstance, res: PCenterResult, radius_before: float) -> list[dict[str, Any]]:
    """The p-center's ``new_station`` recommendations (members it brings nearer)."""
    thr = inst.threshold_min
    m = get_model("p_center")  # its labels, as every station model's rows take them from the registry
    rows = []
    gap = "" if res.status == "optimal" else " (time limit: radius not proven minimal)"
    for j in res.selected:
        served = np.flatnonzero((res.member_site == j) & (res.member_minutes < inst.before_min))
        if served.size == 0:
            continue
        c = inst.candidates.iloc[int(j)]
        before, after = inst.before_min[served], res.member_minutes[served]
        b = float(np.round(np.median(before), 2)) if np.isfinite(before).all() else float("nan")
        a = float(np.round(np.median(after), 2))
        b_zh = f"{b:g} 分钟" if np.isfinite(b) else "部分无法到达"
        b_en = f"{b:g} min" if np.isfinite(b) else "partly unreachable"
        rb_zh = f"{radius_before:.1f} 分钟" if np.isfinite(radius_before) else "无法到达（部分成员路网不通）"
        rb_en = f"{radius_before:.1f} min" if np.isfinite(radius_before) else "unreachable (some members)"
        rows.append(recommendation_row(
            kind="new_station", name=f"新建驿站（{c['name']}）", lon=float(c["lon"]), lat=float(c["lat"]),
            site_id=str(c["id"]), site_name=str(c["name"]), member_ids=";".join(inst.member_ids[served]),
            n_members=int(served.size), before_min=b, after_min=a, max_after_min=float(np.round(after.max(), 2)),
            rule=(f"{m.label_en}, p = {res.selected.size}: minimises the longest walk of any member served "
                  f"(existing stations kept); longest walk {res.radius_min:.1f} min"),
            rationale_zh=(f"按 {m.label_zh}模型（使步行最远的老干部尽量近），在{c['name']}新建驿站，{served.size} 名老干部的"
                          f"最近驿站将改为此处，步行中位时间由 {b_zh} 降至 {a:g} 分钟；该方案服务的 {res.served} 名老干部中"
                          f"最长步行时间由 {rb_zh} 降至 {res.radius_min:.1f} 分钟（覆盖标准 {thr:g} 分钟）。"),
            rationale_en=(f"{m.label_en}: a new station at {c['name']} becomes the nearest for {served.size} members; "
                          f"median walk from {b_en} to {a:g} min; among the {res.served} members the plan serves, "
                          f"the longest walk falls from {rb_en} to {res.radius_min:.1f} min."),
            method=f"{m.name} · highs, {res.solves} covering solves{gap}",
        ))
    return rows


def decide(
    members: pd.DataFrame,
    candidates: pd.DataFrame,
    walk: RoadNetwork,
    scenario: Scenario,
    models: dict[str, Any],
    instance: SitingInstance | None = None,
) -> DecisionResult:
    """p-center, equity, trade-off curve, sensitivity and phased plan of one run.

    Parameters
    ----------
    members
        The run's members (with ``walk_min_station``, ``township``, ``community``, ``network_status``).
    candidates
        The station candidates the run's models used.
    walk
        Walking network.
    scenario
        The run's scenario.
    models
        The run's per-model summary from ``recommend_stations`` (each with ``site_ids``).
    instance
        The run's :func:`~geo_planner.decision.instance.siting_instance` when the siting stage
        already built it (its cost matrix is the station models'); built here otherwise.

    Returns
    -------
    DecisionResult
    """
    t0 = time.perf_counter()
    s = scenario.siting
    thr = scenario.thresholds.station_walk_min
    inst = instance if instance is not None else siting_instance(members, candidates, walk, scenario)
    timings: dict[str, float] = {}
    budget = TimeBudget(s.decision_time_limit_s, name="decision")
    t = time.perf_counter()
    with _part(budget, "p_center") as part:
        p, pc, radius_before = _p_center(inst, s, part)
    timings["p_center"] = time.perf_counter() - t
    site_cols, minutes, equity, by_area = _equity(members, inst, models, pc, thr)

    t = time.perf_counter()
    with _part(budget, "tradeoff") as part:
        curve = tradeoff_curve(inst, s, budget=part)
    timings["tradeoff"] = time.perf_counter() - t
    t = time.perf_counter()
    base = site_cols.get("mclp", np.zeros(0, np.int64))
    with _part(budget, "sensitivity") as part:
        sens, sens_summary = sensitivity(inst, walk, scenario, base_sites=base,
                                         extra_sites={k: v for k, v in site_cols.items() if k != "mclp"},
                                         budget=part)
    timings["sensitivity"] = time.perf_counter() - t
    t = time.perf_counter()
    with _part(budget, "phased_plan") as part:
        phased, phased_summary = phased_plan(inst, s, budget=part)
    timings["phased_plan"] = time.perf_counter() - t
    budget.stop()

    pc_rows = _pcenter_rows(inst, pc, radius_before)
    at_p = curve[curve["p"] == p]
    summary = {
        "p_center": {**_pcenter_summary(inst, pc, radius_before), "equity": equity["p_center"]},
        "tradeoff": {
            "max_p": int(curve["p"].max()) if len(curve) else 0,
            "coverage_at_new_stations": None if at_p.empty else float(at_p["weighted_coverage_share"].iloc[0]),
            "statuses": {str(k): int(v) for k, v in curve["status"].value_counts().items()},
        },
        "sensitivity": sens_summary,
        "phased_plan": phased_summary,
        "equity_current": equity["current"],
        "timings_s": {k: round(v, 3) for k, v in timings.items()} | {"total": round(time.perf_counter() - t0, 3)},
        "budget": budget.record(),
    }
    log.info("decision support done in %.2f s", time.perf_counter() - t0)
    return DecisionResult(
        tradeoff=curve, sensitivity=sens, phased_plan=phased,
        pcenter_recommendations=pd.DataFrame(pc_rows), equity=equity, equity_by_area=by_area, summary=summary,
        stability=sens_summary["stability"], stability_nearby=sens_summary["stability_nearby"], minutes=minutes,
    )


def _part(budget: TimeBudget, name: str) -> AbstractContextManager[TimeBudget]:
    """One decision solve as a step of ``budget``: ``left × weight / pending`` (``SHARES["decision"]``)."""
    weights = SHARES["decision"]
    order = list(weights)
    share = budget.left_s * weights[name] / pending_weight(weights, order[order.index(name):])
    return budget.step(name, share)


def _p_center(inst: SitingInstance, s: SitingSettings, budget: TimeBudget) -> tuple[int, PCenterResult, float]:
    """Solve the p-center on the station models' cut-off (3× the threshold).

    Returns ``p``, the result and the longest current walk of the members it serves (exact
    times, not cut off).
    """
    thr = inst.threshold_min
    pc_cost = inst.cost.copy()
    pc_cost.data = np.where(pc_cost.data <= 3 * thr, pc_cost.data, np.nan)
    keep = ~np.isnan(pc_cost.data)
    rows_of = np.repeat(np.arange(pc_cost.shape[0]), np.diff(pc_cost.indptr))
    pc_cost = sp.csr_array((pc_cost.data[keep], (rows_of[keep], pc_cost.indices[keep])), shape=pc_cost.shape)
    p = min(s.new_stations, int((~inst.existing).sum()))
    pc = get_model("p_center").solve(StationData(None, None, inst.existing, pc_cost), s,
                                     time_limit_s=budget.total_s)
    served_pc = pc.member_site >= 0
    radius_before = float(inst.before_min[served_pc].max()) if served_pc.any() else float("nan")
    return p, pc, radius_before


def _equity(members: pd.DataFrame, inst: SitingInstance, models: dict[str, Any], pc: PCenterResult, thr: float,
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any], pd.DataFrame]:
    """Each model's sites, members' minutes now and after each model, equity figures and by area."""
    current = pd.to_numeric(members["walk_min_station"], errors="coerce").to_numpy(float)
    current = np.where(np.isnan(current), np.inf, current)
    # the members the station models consider (on the network, not remote): remote members are
    # the remote branch's business, and no station plan of this city changes their walk
    population = np.zeros(len(members), bool)
    population[inst.rows] = True
    site_cols = {m: inst.site_columns(list(v.get("site_ids", []))) for m, v in models.items()
                 if isinstance(v, dict) and "site_ids" in v}
    site_cols["p_center"] = np.asarray(pc.selected, dtype=np.int64)
    minutes: dict[str, np.ndarray] = {"current": current}
    for model, cols in site_cols.items():
        after = current.copy()
        after[inst.rows] = after_minutes(inst, cols)
        minutes[model] = after
    equity = {k: equity_figures(v[population], thr) for k, v in minutes.items()}
    return site_cols, minutes, equity, equity_by_area(members, minutes, thr, population=population)


def _pcenter_summary(inst: SitingInstance, pc: PCenterResult, radius_before: float) -> dict[str, Any]:
    """The p-center's record for ``run.json`` (without its equity figures)."""
    return {
        "method": "highs (binary search on the radius over maximal covering solves)", "status": pc.status,
        "new_sites": int(pc.selected.size),
        "site_ids": inst.candidates["id"].astype(str).iloc[pc.selected].tolist(),
        "radius_min": None if not np.isfinite(pc.radius_min) else round(pc.radius_min, 2),
        "radius_before_min": None if not np.isfinite(radius_before) else round(radius_before, 2),
        "served": pc.served, "members_considered": pc.n_members, "solves": pc.solves,
        "cutoff_min": 3 * inst.threshold_min, "runtime_s": round(pc.runtime_s, 3), "message": pc.message,
    }


def add_stability(recs: pd.DataFrame, result: DecisionResult) -> pd.DataFrame:
    """Put the sensitivity stability of each new-station recommendation into ``stability`` / ``stability_nearby``."""
    out = recs.copy()
    is_station = out.get("kind", pd.Series(dtype=object)) == "new_station"
    site = out.get("site_id", pd.Series("", index=out.index)).astype(str)
    for col, values in (("stability", result.stability), ("stability_nearby", result.stability_nearby)):
        out[col] = np.where(is_station, site.map(lambda i, v=values: v.get(i)).astype(float), np.nan)
    return out
