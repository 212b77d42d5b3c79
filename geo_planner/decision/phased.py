"""Phased plan: what to build this year and next, under a budget, existing stations locked.

:func:`phased_plan` solves one multi-period MILP maximising the coverage summed over the
years with nested openings; when a nested plan exists that is optimal at every horizon this
finds it (its sum equals the sum of the horizon optima, the largest possible), otherwise it
keeps horizons optimal earliest first and says at which horizon and by how much the plan
falls short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..settings import SitingSettings
from ..siting.budget import TimeBudget
from ..siting.highs import Milp, solve_milp
from .instance import SitingInstance

__all__ = ["PHASED_COLUMNS", "phased_plan"]

PHASED_COLUMNS = [
    "year", "order", "site_id", "site_name", "lon", "lat", "cost", "new_members", "new_weight", "member_ids",
    "year_coverage_share", "year_weighted_share", "horizon_optimum_share", "optimal_at_horizon", "status", "gap",
    "note",
]


@dataclass(frozen=True)
class _Reduced:
    cover: sp.csr_array      # groups × useful candidate columns
    weight: np.ndarray       # weight per group
    cols: np.ndarray         # candidate columns kept
    base_weight: float       # weight covered by existing stations
    total_weight: float


def _reduce(inst: SitingInstance) -> _Reduced:
    cov = inst.cover(inst.threshold_min)
    by_existing = (cov @ inst.existing.astype(float)) > 0
    cand = np.flatnonzero(~inst.existing)
    a = cov[np.flatnonzero(~by_existing)][:, cand].tocsr()
    w = inst.weights[~by_existing]
    has = np.diff(a.indptr) > 0
    a, w = a[np.flatnonzero(has)].tocsr(), w[has]
    useful = np.flatnonzero(np.asarray(a.sum(axis=0)).ravel() > 0)
    a = a[:, useful].tocsr()
    a.sort_indices()
    groups: dict[bytes, int] = {}
    gid = np.empty(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        key = a.indices[a.indptr[i]:a.indptr[i + 1]].tobytes()
        gid[i] = groups.setdefault(key, len(groups))
    first = np.unique(gid, return_index=True)[1]
    g = a[first].tocsr()
    gw = np.bincount(gid, weights=w, minlength=len(groups))
    return _Reduced(g, gw, cand[useful], float(inst.weights[by_existing].sum()), float(inst.weights.sum()))


def _solve_phases(red: _Reduced, years: int, per_year: int, costs: np.ndarray, budget: float | None,
                  targets: dict[int, float], time_limit_s: float, mip_gap: float,
                  ) -> tuple[str, np.ndarray, float | None]:
    """Multi-period maximal covering with nested openings; returns (status, y[years, J], gap).

    Variables per year ``k``: ``y_jk`` (binary, site ``j`` open by year ``k``) and ``z_gk``
    (share of group ``g`` covered). ``targets[k]`` forces the covered weight of year ``k``.
    """
    n_g, n_j = red.cover.shape
    K = years
    ny, nz = n_j * K, n_g * K
    n_col = ny + nz

    def yi(k: int) -> np.ndarray:
        return k * n_j + np.arange(n_j)

    def zi(k: int) -> np.ndarray:
        return ny + k * n_g + np.arange(n_g)

    rows: list[sp.csr_array] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    a = red.cover
    for k in range(K):
        # z_gk − Σ_j a_gj y_jk ≤ 0
        blk = sp.hstack([sp.csr_array((n_g, k * n_j)), -a, sp.csr_array((n_g, (K - k - 1) * n_j + k * n_g)),
                         sp.identity(n_g, format="csr"), sp.csr_array((n_g, (K - k - 1) * n_g))], format="csr")
        rows.append(sp.csr_array(blk))
        lo.append(np.full(n_g, -np.inf))
        hi.append(np.zeros(n_g))
        # openings this year: Σ_j (y_jk − y_j,k−1) ≤ per_year (and ≤ budget in cost)
        for coef, cap in ((np.ones(n_j), float(per_year)), (costs, budget)):
            if cap is None:
                continue
            r = np.zeros(n_col)
            r[yi(k)] = coef
            if k:
                r[yi(k - 1)] = -coef
            rows.append(sp.csr_array(r[None, :]))
            lo.append(np.array([-np.inf]))
            hi.append(np.array([cap]))
        if k + 1 < K:  # nested: y_jk ≤ y_j,k+1
            nest = sp.hstack([sp.csr_array((n_j, k * n_j)), sp.identity(n_j), -sp.identity(n_j),
                              sp.csr_array((n_j, (K - k - 2) * n_j + nz))], format="csr")
            rows.append(sp.csr_array(nest))
            lo.append(np.full(n_j, -np.inf))
            hi.append(np.zeros(n_j))
        if k in targets:
            r = np.zeros(n_col)
            r[zi(k)] = red.weight
            rows.append(sp.csr_array(r[None, :]))
            lo.append(np.array([targets[k] - 1e-6 * max(1.0, targets[k])]))
            hi.append(np.array([np.inf]))
    mat = sp.csr_array(sp.vstack(rows, format="csr"))
    eps = 1e-4 * max(float(red.weight.min(initial=1.0)), 1e-6) / max(n_j * K, 1)
    obj = np.r_[np.full(ny, -eps), np.tile(red.weight, K)]
    integer = np.r_[np.ones(ny, dtype=np.int32), np.zeros(nz, dtype=np.int32)]
    model = Milp(obj, np.zeros(n_col), np.ones(n_col), integer, mat, np.concatenate(lo), np.concatenate(hi),
                 maximize=True)
    out = solve_milp(model, label="phased plan", time_limit_s=time_limit_s, mip_gap=mip_gap)
    if out.status == "infeasible":
        return "infeasible", np.zeros((K, n_j), bool), None
    if out.x is None:
        return ("time_limit_no_solution" if out.stopped_by_time_limit else out.status), np.zeros((K, n_j), bool), None
    y = out.x[:ny].reshape(K, n_j) > 0.5
    return ("optimal" if out.status == "optimal" else "time_limit"), y, out.gap


def _covered_weight(red: _Reduced, open_cols: np.ndarray) -> float:
    return float(red.weight[(red.cover @ open_cols.astype(float)) > 0].sum())


def phased_plan(
    inst: SitingInstance,
    settings: SitingSettings,
    *,
    budget: TimeBudget | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Order openings year by year under a budget, existing stations locked.

    Parameters
    ----------
    inst
        The run's siting instance.
    settings
        ``per_year`` new sites a year, ``years``, optional ``budget_per_year`` with
        ``site_cost`` (default cost of a site) and ``site_costs`` (per candidate id).
    budget
        Optional time budget shared by the solves (each also at most ``time_limit_s``).

    Returns
    -------
    (table, summary)
        ``phased_plan.csv`` (:data:`PHASED_COLUMNS`, one row per opening; a year with nothing
        worth opening gets one row without a site) and a summary with each horizon's optimum,
        whether the plan reaches it, the solver statuses and the method.

    Notes
    -----
    The horizon-``k`` optimum is the best coverage of any ``k·per_year`` sites (within
    ``k·budget_per_year``), solved on its own. A nested plan reaching every horizon optimum
    maximises the coverage summed over the years; so the plan is the sum-maximising one, and
    when it misses a horizon's optimum the horizons are forced to their optimum earliest first
    while a nested plan still exists. The table says, per year, whether its horizon is optimal.
    """
    t0 = time.perf_counter()
    K, P = settings.years, settings.per_year
    red = _reduce(inst)
    ids = inst.candidates["id"].astype(str).to_numpy()
    costs = np.array([settings.site_costs.get(ids[c], settings.site_cost) for c in red.cols], dtype=float)
    money = settings.budget_per_year
    solves_left = [2 * K + 1]

    def tl() -> float:
        solves_left[0] = max(solves_left[0] - 1, 1)
        return settings.time_limit_s if budget is None else budget.limit(settings.time_limit_s, solves_left[0])

    prob = _Phases(red, K, P, costs, money, settings.mip_gap, tl)
    horizon, h_status = _horizons(prob)
    status, y, gap, notes = _nested_plan(prob, horizon)
    rows, optimal_all = _rows(inst, prob, y, horizon, h_status, status, gap)
    total = red.total_weight
    table = pd.DataFrame(rows, columns=PHASED_COLUMNS)
    summary = {
        "years": K, "per_year": P, "budget_per_year": money, "status": status,
        "gap": None if gap is None else round(gap, 6), "optimal_at_every_horizon": optimal_all,
        "horizon_optimum_share": [round((red.base_weight + h) / total, 4) if total else 0.0 for h in horizon],
        "year_weighted_share": table.groupby("year")["year_weighted_share"].first().round(4).tolist(),
        "notes": notes, "runtime_s": round(time.perf_counter() - t0, 3),
        "method": "multi-period maximal covering MILP (HiGHS), nested openings, coverage summed over years",
    }
    return table, summary


@dataclass(frozen=True, eq=False)
class _Phases:
    red: _Reduced
    years: int
    per_year: int
    costs: np.ndarray            # cost of each reduced column
    money: float | None          # budget per year
    mip_gap: float
    time_limit: Callable[[], float]  # time limit of the next solve

    def solve(self, years: int, per_year: int, money: float | None,
              targets: dict[int, float]) -> tuple[str, np.ndarray, float | None]:
        return _solve_phases(self.red, years, per_year, self.costs, money, targets, self.time_limit(),
                             self.mip_gap)


def _horizons(prob: _Phases) -> tuple[list[float], list[str]]:
    """Each horizon's optimum (weight the best ``k·per_year`` sites newly cover) and its status."""
    red, K, P, money = prob.red, prob.years, prob.per_year, prob.money
    horizon: list[float] = []
    h_status: list[str] = []
    for k in range(1, K + 1):
        if red.cover.shape[1] == 0:
            horizon.append(0.0)
            h_status.append("optimal")
            continue
        st, y, _ = prob.solve(1, k * P, None if money is None else k * money, {})
        horizon.append(_covered_weight(red, y[0]) if y.size else 0.0)
        h_status.append(st)
    return horizon, h_status


def _nested_plan(prob: _Phases, horizon: list[float]) -> tuple[str, np.ndarray, float | None, list[str]]:
    """The nested plan maximising the summed coverage, horizons forced to their optimum earliest first."""
    red, K, P, money = prob.red, prob.years, prob.per_year, prob.money
    notes: list[str] = []
    if red.cover.shape[1] == 0:
        return "optimal", np.zeros((K, 0), bool), 0.0, notes
    status, y, gap = prob.solve(K, P, money, {})
    got = [_covered_weight(red, y[k]) for k in range(K)]
    short = [k for k in range(K) if got[k] < horizon[k] - 1e-6]
    if short:  # force horizons to their optimum, earliest first, while a nested plan exists
        targets: dict[int, float] = {}
        for k in range(K):
            trial = {**targets, k: horizon[k]}
            st2, y2, g2 = prob.solve(K, P, money, trial)
            if st2 in ("optimal", "time_limit"):
                targets, status, y, gap = trial, st2, y2, g2
            elif st2 != "infeasible":
                notes.append(f"year {k + 1}: forcing the horizon optimum was not decided ({st2})")
    return status, y, gap, notes


def _rows(inst: SitingInstance, prob: _Phases, y: np.ndarray, horizon: list[float], h_status: list[str],
          status: str, gap: float | None) -> tuple[list[dict[str, Any]], bool]:
    """The table's rows (one per opening) and whether every horizon is optimal."""
    red, K, P, costs = prob.red, prob.years, prob.per_year, prob.costs
    n_j = red.cover.shape[1]
    total = red.total_weight
    n = len(inst.member_ids)
    cov_full = inst.cover(inst.threshold_min)
    rows: list[dict[str, Any]] = []
    prev_open = inst.existing.copy()
    prev_cov = (cov_full @ prev_open.astype(float)) > 0
    optimal_all = True
    for k in range(K):
        opened = red.cols[y[k] & ~(y[k - 1] if k else np.zeros(n_j, bool))] if n_j else np.zeros(0, np.int64)
        now_open = prev_open.copy()
        now_open[opened] = True
        cov = (cov_full @ now_open.astype(float)) > 0
        cw = red.base_weight + (_covered_weight(red, y[k]) if n_j else 0.0)
        opt_k = red.base_weight + horizon[k]
        is_opt = bool(cw >= opt_k - 1e-6) and h_status[k] == "optimal" and status == "optimal"
        optimal_all &= is_opt
        note = "" if is_opt else (
            f"below the best {(k + 1) * P} sites ({opt_k / total:.2%}) by {(opt_k - cw) / total:.2%}: no nested plan "
            "reaches every horizon's optimum" if cw < opt_k - 1e-6 else f"solver status {status}/{h_status[k]}")
        common = {
            "year": k + 1, "year_coverage_share": round(float(cov.sum()) / n, 4) if n else 0.0,
            "year_weighted_share": round(cw / total, 4) if total else 0.0,
            "horizon_optimum_share": round(opt_k / total, 4) if total else 0.0, "optimal_at_horizon": is_opt,
            "status": status, "gap": None if gap is None else round(gap, 6),
        }
        rows.extend(_year_rows(inst, red, costs, cov_full, opened, cov & ~prev_cov, common, note))
        prev_open, prev_cov = now_open, cov
    return rows, optimal_all


def _year_rows(inst: SitingInstance, red: _Reduced, costs: np.ndarray, cov_full: sp.csr_array,
               opened: np.ndarray, newly: np.ndarray, common: dict[str, Any], note: str) -> list[dict[str, Any]]:
    """One year's openings; who each newly serves: the first of the year's sites (cheapest first) covering them."""
    n = len(inst.member_ids)
    order = opened[np.argsort(costs[np.searchsorted(red.cols, opened)], kind="stable")] if opened.size else opened
    taken = np.zeros(n, bool)
    if order.size == 0:
        return [{**common, "order": 0, "site_id": "", "site_name": "", "lon": None, "lat": None, "cost": 0.0,
                 "new_members": 0, "new_weight": 0.0, "member_ids": "",
                 "note": (note + "; " if note else "") + "no further site adds coverage this year"}]
    rows = []
    for o, j in enumerate(order):
        mine = newly & ~taken & (cov_full[:, [j]].toarray().ravel() > 0)
        taken |= mine
        c = inst.candidates.iloc[int(j)]
        rows.append({**common, "order": o + 1, "site_id": str(c["id"]), "site_name": str(c["name"]),
                     "lon": float(c["lon"]), "lat": float(c["lat"]),
                     "cost": float(costs[np.searchsorted(red.cols, j)]), "new_members": int(mine.sum()),
                     "new_weight": round(float(inst.weights[mine].sum()), 3),
                     "member_ids": ";".join(inst.member_ids[mine]), "note": note})
    return rows
