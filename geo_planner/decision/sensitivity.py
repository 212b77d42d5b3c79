"""Sensitivity: whether the maximal covering answer holds under other assumptions.

:func:`sensitivity` re-solves the maximal covering model under other walking thresholds
(10/15/20 minutes and the GB 50180-2018 life-circle tiers 5/10/15), walking speeds ±20 % and
members moved within their geocoding uncertainty (seeded draws); a recommended site's
*stability* is the share of those solves that choose it again (or a site near it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..crs import local_xy, metres_per_degree
from ..network import RoadNetwork
from ..settings import Scenario
from ..travel import cost_matrix
from ..siting.budget import TimeBudget
from .instance import GEOCODE_UNCERTAINTY_M, SKIPPED, SitingInstance, fmt_gap, site_names, solve_mclp

__all__ = ["SENSITIVITY_COLUMNS", "sensitivity"]

SENSITIVITY_COLUMNS = [
    "scenario", "kind", "value", "threshold_min", "walk_speed_kmh", "draw", "site_ids", "site_names",
    "coverage_share", "weighted_coverage_share", "base_sites_coverage_share", "base_sites_kept", "status", "gap",
]


def _moved_costs(inst: SitingInstance, walk: RoadNetwork, draws: int, seed: int, max_snap_m: float,
                 ) -> tuple[list[sp.csr_array], np.ndarray]:
    """Cost matrices with imprecisely geocoded members moved within their uncertainty, one per draw.

    Each moved member is placed uniformly in the disc of its precision's radius
    (:data:`GEOCODE_UNCERTAINTY_M`) around its geocoded point; all draws are snapped and
    measured in one ``cost_matrix`` call (one Dijkstra pass per site for every draw).
    Rows of each matrix: the fixed members first, then the moved ones (the returned order).
    """
    radius = np.array([GEOCODE_UNCERTAINTY_M.get(p, 0.0) for p in inst.precision])
    moved = np.flatnonzero(radius > 0)
    fixed = np.flatnonzero(radius <= 0)
    order = np.r_[fixed, moved]
    if moved.size == 0 or draws == 0:
        return [], order
    rng = np.random.default_rng(seed)
    m = moved.size
    ang = rng.uniform(0, 2 * np.pi, (draws, m))
    dist = radius[moved] * np.sqrt(rng.uniform(0, 1, (draws, m)))
    m_lon, m_lat = metres_per_degree(inst.lat[moved])
    lon = (inst.lon[moved] + dist * np.cos(ang) / m_lon).ravel()
    lat = (inst.lat[moved] + dist * np.sin(ang) / m_lat).ravel()
    snap = walk.snap(lon, lat, max_snap_m=max_snap_m)
    csnap = walk.snap(inst.candidates["lon"].to_numpy(float), inst.candidates["lat"].to_numpy(float),
                      max_snap_m=max_snap_m)
    block = sp.csr_array(cost_matrix(walk, snap, csnap, inst.cutoff_min))
    head = inst.cost[fixed]
    out = []
    for d in range(draws):
        mat = sp.csr_array(sp.vstack([head, block[d * m:(d + 1) * m]], format="csr"))
        mat.sort_indices()
        out.append(mat)
    return out, order


def sensitivity(
    inst: SitingInstance,
    walk: RoadNetwork,
    scenario: Scenario,
    *,
    base_sites: np.ndarray,
    extra_sites: dict[str, np.ndarray] | None = None,
    budget: TimeBudget | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Re-solve the maximal covering model under other thresholds, speeds and member positions.

    Parameters
    ----------
    inst
        The run's siting instance.
    walk
        The walking network (to re-measure members moved within their geocoding uncertainty).
    scenario
        ``siting.sensitivity_thresholds_min`` (threshold and life-circle cases),
        ``siting.sensitivity_speed_factors`` (speed cases, e.g. 0.8 and 1.2),
        ``siting.sensitivity_draws`` (geocoding draws, seeded by ``scenario.seed``).
    base_sites
        Columns of the run's maximal covering sites.
    extra_sites
        Other models' sites (``{"lscp": cols, …}``) whose stability is reported too.
    budget
        Optional time budget; cases it leaves no time for are listed with status
        ``skipped_time_budget`` and left out of the stability shares.

    Returns
    -------
    (table, summary)
        ``sensitivity.csv`` (:data:`SENSITIVITY_COLUMNS`, the base case first) and a summary:
        ``stability`` (site id → share of the non-base solves choosing it), ``verdict_zh/en``.

    Notes
    -----
    A walking speed ``v·f`` divides every walk time by ``f`` (network legs and the access leg
    alike), so coverage at threshold ``T`` equals coverage of the original times within
    ``T·f``: no new shortest paths are needed. The life-circle tiers of GB 50180-2018 are
    5/10/15-minute walks; a 5-minute tier with ``p`` new sites mostly shows how far from a
    5-minute circle the city is.
    """
    s = scenario.siting
    thr = inst.threshold_min
    n = len(inst.member_ids)
    base_set = set(int(j) for j in np.asarray(base_sites, dtype=np.int64))
    base_open = inst.existing.copy()
    base_open[list(base_set)] = True
    cases, moved_costs, order, moved_any = _cases(inst, walk, scenario)
    rows: list[dict[str, Any]] = []
    chosen: list[set[int]] = []
    for n_case, case in enumerate(cases):
        if budget is not None and budget.spent:
            rows.append({"scenario": case["scenario"], "kind": case["kind"], "value": case["value"],
                         "threshold_min": case["thr"], "walk_speed_kmh": case["speed"], "draw": case["draw"],
                         "site_ids": "", "site_names": "", "status": SKIPPED})
            continue
        cost, weights = inst.cost, inst.weights
        if case["draw"] is not None:
            cost, weights = moved_costs[case["draw"] - 1], inst.weights[order]
        cover = inst.cover(case["limit"], cost)
        limit = None if budget is None else budget.limit(s.time_limit_s, len(cases) - n_case)
        res = solve_mclp(inst, cover, min(s.new_stations, int((~inst.existing).sum())), s, weights,
                         time_limit_s=limit)
        ids, names = site_names(inst, res.selected)
        sel = set(int(j) for j in res.selected)
        base_cov = (cover @ base_open.astype(float)) > 0
        rows.append({
            "scenario": case["scenario"], "kind": case["kind"], "value": case["value"],
            "threshold_min": case["thr"], "walk_speed_kmh": case["speed"], "draw": case["draw"],
            "site_ids": ids, "site_names": names,
            "coverage_share": round(int((res.member_site >= 0).sum()) / n, 4) if n else 0.0,
            "weighted_coverage_share": round(float(res.coverage_share), 4),
            "base_sites_coverage_share": round(float(weights[base_cov].sum() / weights.sum()), 4)
            if weights.sum() > 0 else 0.0,
            "base_sites_kept": len(sel & base_set), "status": res.status, "gap": fmt_gap(res),
        })
        if case["kind"] != "base" and not (case["kind"].startswith("threshold") and case["value"] == thr):
            chosen.append(sel)
    table = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    stability, nearby = _stability(inst, s.stability_radius_m, chosen, base_set, extra_sites)
    zh, en = _verdict(inst, s.stability_radius_m, base_set, nearby)
    summary = {"cases": len(cases), "solves": int((table["status"] != SKIPPED).sum()),
               "members_moved_per_draw": moved_any,
               "stability": stability, "stability_nearby": nearby, "stability_radius_m": s.stability_radius_m,
               "verdict_zh": zh, "verdict_en": en,
               "statuses": {str(k): int(v) for k, v in table["status"].value_counts().items()}}
    return table, summary


def _cases(inst: SitingInstance, walk: RoadNetwork, scenario: Scenario,
           ) -> tuple[list[dict[str, Any]], list[sp.csr_array], np.ndarray, int]:
    """The base case, threshold and life-circle cases, speed cases and geocoding draws.

    Returns the cases, the draws' cost matrices, the row order of those matrices and the
    number of members moved per draw.
    """
    s = scenario.siting
    thr = inst.threshold_min
    speed = scenario.network.walk_speed_kmh
    cases: list[dict[str, Any]] = [{"scenario": "base", "kind": "base", "value": thr, "limit": thr, "thr": thr,
                                    "speed": speed, "draw": None}]
    life = set(s.life_circle_tiers_min)
    for t in sorted(set(s.sensitivity_thresholds_min) | life):
        kind = "threshold" if t in s.sensitivity_thresholds_min else "life_circle"
        if kind == "threshold" and t in life:
            kind = "threshold;life_circle"
        cases.append({"scenario": f"threshold_{t:g}min", "kind": kind, "value": t, "limit": t, "thr": t,
                      "speed": speed, "draw": None})
    for f in s.sensitivity_speed_factors:
        cases.append({"scenario": f"speed_{(f - 1) * 100:+.0f}%", "kind": "walk_speed", "value": f, "limit": thr * f,
                      "thr": thr, "speed": round(speed * f, 3), "draw": None})
    moved_any = int(sum(GEOCODE_UNCERTAINTY_M.get(p, 0.0) > 0 for p in inst.precision))
    moved_costs, order = _moved_costs(inst, walk, s.sensitivity_draws, scenario.seed, scenario.network.max_snap_m)
    for d in range(len(moved_costs)):
        cases.append({"scenario": f"geocode_draw_{d + 1:02d}", "kind": "geocode_uncertainty", "value": moved_any,
                      "limit": thr, "thr": thr, "speed": speed, "draw": d + 1})
    return cases, moved_costs, order, moved_any


def _stability(inst: SitingInstance, radius_m: float, chosen: list[set[int]], base_set: set[int],
               extra_sites: dict[str, np.ndarray] | None,
               ) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Share of the solves choosing each site again: exactly, and it or a site within ``radius_m``."""
    sites = set(base_set)
    for cols in (extra_sites or {}).values():
        sites |= set(int(j) for j in cols)
    ids = inst.candidates["id"].astype(str).to_numpy()
    lon = inst.candidates["lon"].to_numpy(float)
    lat = inst.candidates["lat"].to_numpy(float)

    def near(j: int) -> set[int]:
        dx, dy = local_xy(lon - lon[j], lat - lat[j], lat[j])
        return set(np.flatnonzero(np.hypot(dx, dy) <= radius_m).tolist()) | {j}

    def share(hits: int) -> float | None:
        return round(hits / len(chosen), 4) if chosen else None

    stability = {str(ids[j]): share(sum(j in c for c in chosen)) for j in sorted(sites)}
    nearby = {str(ids[j]): share(sum(bool(near(j) & c) for c in chosen)) for j in sorted(sites)}
    return stability, nearby


def _verdict(inst: SitingInstance, radius_m: float, base_set: set[int],
             nearby: dict[str, float | None]) -> tuple[str, str]:
    """One sentence (zh, en) on whether the recommended sites hold."""
    ids = inst.candidates["id"].astype(str).to_numpy()
    base_ids = [str(ids[j]) for j in sorted(base_set)]
    weak = [i for i in base_ids if nearby.get(i) is not None and (nearby[i] or 0.0) < 0.5]
    r = f"{radius_m:g}"
    if not base_ids:
        return "最大覆盖模型未推荐新站点。", "The maximal covering model recommends no new site."
    if weak:
        names = "、".join(inst.candidates.set_index("id").loc[weak, "name"].astype(str))
        zh = (f"{len(base_ids)} 个推荐站点中有 {len(weak)} 个（{names}）在不足半数的情形中被再次选中（含 {r} 米内的替代点），"
              "其选址对参数较敏感，建议实地核查后再定；其余站点结论稳健。")
        en = (f"{len(weak)} of the {len(base_ids)} recommended sites ({', '.join(weak)}) are chosen again (or a site "
              f"within {r} m) in fewer than half of the cases: sensitive to the assumptions, check on site first.")
        return zh, en
    low = min(nearby[i] or 0.0 for i in base_ids)
    zh = f"全部 {len(base_ids)} 个推荐站点（或其 {r} 米内的替代点）在至少 {low:.0%} 的情形中被再次选中，结论稳健。"
    en = (f"All {len(base_ids)} recommended sites (or a site within {r} m) are chosen again in at least "
          f"{low:.0%} of the cases: the answer holds.")
    return zh, en
