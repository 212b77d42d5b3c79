"""Decision support around the station models: trade-off curve, sensitivity, phased plan, equity.

One answer to one objective does not defend a plan in a meeting. Around the maximal covering
model of :mod:`geo_planner.siting.models.mclp` this module answers the questions a 老干部局 is
asked:

* **How much does each extra station bring?** :func:`tradeoff_curve` solves the maximal
  covering model for ``p = 0 … N`` new stations; every point is HiGHS's proven optimum (or
  says it is not) with its gap, and the marginal gain of each extra site.
* **Does the answer hold?** :func:`sensitivity` re-solves under other walking thresholds
  (10/15/20 minutes and the GB 50180-2018 life-circle tiers 5/10/15), walking speeds ±20 %
  and members moved within their geocoding uncertainty (seeded draws); a recommended site's
  *stability* is the share of those solves that choose it again.
* **What to build this year and next?** :func:`phased_plan` orders openings year by year
  under a budget (sites per year, optional cost per site) with existing stations locked. It
  solves one multi-period MILP maximising the coverage summed over the years with nested
  openings; when a nested plan exists that is optimal at every horizon this finds it (its sum
  equals the sum of the horizon optima, the largest possible), otherwise it keeps horizons
  optimal earliest first and says at which horizon and by how much the plan falls short.
* **Who is left out, and how unequally?** :func:`after_minutes` gives members' walks after a
  model's new sites, for :mod:`geo_planner.equity`.

Everything works on a :class:`SitingInstance`: the same members, weights, candidates and
sparse member × site minutes as the run's station models (``siting_instance``), so the
curve's point at ``p = new_stations`` is the run's maximal covering result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..network import RoadNetwork
from ..settings import Scenario, SitingSettings
from ..travel import cost_matrix
from .highs import Milp, solve_milp
from .models import StationData, get_model
from .models.mclp import mclp
from .plan import member_weights, siting_members
from .result import SitingResult

log = logging.getLogger(__name__)

__all__ = [
    "GEOCODE_UNCERTAINTY_M",
    "Budget",
    "SitingInstance",
    "after_minutes",
    "phased_plan",
    "sensitivity",
    "siting_instance",
    "tradeoff_curve",
]

#: Radius (metres) within which a member geocoded at this precision may really live.
#: Coordinates typed into the table are taken as exact.
GEOCODE_UNCERTAINTY_M: dict[str, float] = {
    "coordinates": 0.0, "poi": 50.0, "street": 300.0, "community": 500.0, "township": 3000.0, "county": 10000.0,
}

TRADEOFF_COLUMNS = [
    "p", "coverage_share", "weighted_coverage_share", "members_covered", "covered_weight", "total_weight",
    "marginal_members", "marginal_weight", "marginal_share", "new_site_ids", "new_site_names", "status",
    "gap", "method",
]
SENSITIVITY_COLUMNS = [
    "scenario", "kind", "value", "threshold_min", "walk_speed_kmh", "draw", "site_ids", "site_names",
    "coverage_share", "weighted_coverage_share", "base_sites_coverage_share", "base_sites_kept", "status", "gap",
]
PHASED_COLUMNS = [
    "year", "order", "site_id", "site_name", "lon", "lat", "cost", "new_members", "new_weight", "member_ids",
    "year_coverage_share", "year_weighted_share", "horizon_optimum_share", "optimal_at_horizon", "status", "gap",
    "note",
]


#: Status of a solve the time budget left no time for.
SKIPPED = "skipped_time_budget"


@dataclass
class Budget:
    """Seconds left for the decision-support solves (``[siting] decision_time_limit_s``).

    Every solve gets at most ``time_limit_s`` and at most its share of the time left; once the
    budget is spent the remaining solves are skipped and say so (status ``skipped_time_budget``).
    """

    total_s: float
    started: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        """Seconds left (never below 0)."""
        return max(0.0, self.total_s - (time.perf_counter() - self.started))

    @property
    def spent(self) -> bool:
        """True once no time is left."""
        return self.left() <= 0.0

    def limit(self, cap_s: float, pending: int = 1) -> float:
        """Time limit of the next solve: ``min(cap, left / pending)``, at least 0.05 s."""
        return max(0.05, min(cap_s, self.left() / max(pending, 1)))

    def part(self, weight: float, pending: float) -> Budget:
        """Return a budget of ``left × weight / pending`` seconds for one step."""
        return Budget(max(self.left() * weight / pending, 0.0))


@dataclass(frozen=True, eq=False)
class SitingInstance:
    """The station-siting instance of a run (rows: members considered; columns: candidates).

    Attributes
    ----------
    member_ids
        Ids of the members considered (on the network, not remote).
    rows
        Their positions in the run's members table.
    weights
        Member weights (离休, 80+).
    cost
        Sparse CSR minutes, member × candidate, cut off at ``cutoff_min``.
    cutoff_min
        Pairs slower than this are not stored.
    candidates
        The candidate table (``id``, ``name``, ``lon``, ``lat``, ``existing``…).
    existing
        Boolean mask of existing stations among the candidates.
    threshold_min
        The station walking threshold of the run.
    before_min
        Current walk to the nearest station (``inf`` when unreachable).
    precision
        Geocoding precision of each member.
    lon, lat
        Member coordinates (WGS-84).
    """

    member_ids: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    cost: sp.csr_array
    cutoff_min: float
    candidates: pd.DataFrame
    existing: np.ndarray
    threshold_min: float
    before_min: np.ndarray
    precision: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    def cover(self, limit_min: float, cost: sp.csr_array | None = None) -> sp.csr_array:
        """Boolean coverage at ``limit_min`` minutes (stored pairs within the limit)."""
        c = self.cost if cost is None else cost
        keep = c.data <= limit_min
        rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))[keep]
        return sp.csr_array((np.ones(int(keep.sum())), (rows, c.indices[keep])), shape=c.shape)

    def site_columns(self, ids: list[str]) -> np.ndarray:
        """Column indices of candidate ids (unknown ids are ignored)."""
        pos = pd.Series(np.arange(len(self.candidates)), index=self.candidates["id"].astype(str).to_numpy())
        pos = pos[~pos.index.duplicated()]
        return np.array([int(pos[i]) for i in ids if i in pos.index], dtype=np.int64)


def siting_instance(
    members: pd.DataFrame,
    candidates: pd.DataFrame,
    walk: RoadNetwork,
    scenario: Scenario,
) -> SitingInstance:
    """Build the run's siting instance (the same members and candidates as ``recommend_stations``).

    The cost matrix is cut off at the largest of 3× the threshold (the station models' cut-off),
    the sensitivity thresholds and tiers, and the threshold times the largest speed factor, so
    every sensitivity case reads its coverage from this one matrix.
    """
    s = scenario.siting
    thr = scenario.thresholds.station_walk_min
    use = siting_members(members)
    rows = np.flatnonzero(use)
    sub = members.iloc[rows]
    # a speed factor f covers within thr·f of the base minutes (see ``sensitivity``)
    cutoff = max(3 * thr, *s.sensitivity_thresholds_min, *s.life_circle_tiers_min,
                 thr * max(s.sensitivity_speed_factors, default=1.0))
    msnap = walk.snap(sub["lon"].to_numpy(float), sub["lat"].to_numpy(float), max_snap_m=scenario.network.max_snap_m)
    csnap = walk.snap(candidates["lon"].to_numpy(float), candidates["lat"].to_numpy(float),
                      max_snap_m=scenario.network.max_snap_m)
    cost = sp.csr_array(cost_matrix(walk, msnap, csnap, cutoff))
    cost.sort_indices()
    before = pd.to_numeric(sub["walk_min_station"], errors="coerce").to_numpy(float)
    prec = sub.get("geocode_precision", pd.Series("coordinates", index=sub.index)).fillna("").astype(str)
    return SitingInstance(
        member_ids=sub["id"].astype(str).to_numpy(), rows=rows, weights=member_weights(sub, scenario), cost=cost,
        cutoff_min=float(cutoff), candidates=candidates.reset_index(drop=True),
        existing=candidates["existing"].to_numpy(bool), threshold_min=float(thr),
        before_min=np.where(np.isnan(before), np.inf, before), precision=prec.to_numpy(),
        lon=sub["lon"].to_numpy(float), lat=sub["lat"].to_numpy(float),
    )


def _mclp(inst: SitingInstance, cover: sp.csr_array, p: int, s: SitingSettings,
          weights: np.ndarray | None = None, time_limit_s: float | None = None) -> SitingResult:
    return mclp(cover, inst.weights if weights is None else weights, p, existing=inst.existing,
                capacity=s.capacity, time_limit_s=s.time_limit_s if time_limit_s is None else time_limit_s,
                mip_gap=s.mip_gap, max_exact_size=s.max_exact_size)


def after_minutes(inst: SitingInstance, new_sites: np.ndarray) -> np.ndarray:
    """Members' walk to the nearest station once ``new_sites`` (columns) are open.

    The current time (exact, from ``travel``) is kept unless a new site is nearer.
    """
    out = inst.before_min.copy()
    cols = np.asarray(new_sites, dtype=np.int64)
    if cols.size:
        sub = inst.cost[:, cols].tocsr()
        if sub.nnz:
            nearest = np.full(sub.shape[0], np.inf)
            rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
            np.minimum.at(nearest, rows, sub.data)
            out = np.minimum(out, nearest)
    return out


def _names(inst: SitingInstance, cols: np.ndarray) -> tuple[str, str]:
    c = inst.candidates.iloc[np.asarray(cols, dtype=np.int64)]
    return ";".join(c["id"].astype(str)), ";".join(c["name"].astype(str))


def _fmt_gap(res: SitingResult) -> float | None:
    return None if res.gap is None else round(float(res.gap), 6)


# ----------------------------------------------------------------------------- trade-off curve


def tradeoff_curve(inst: SitingInstance, settings: SitingSettings, *, budget: Budget | None = None) -> pd.DataFrame:
    """Coverage for ``p = 0 … N`` new stations, each point a maximal covering optimum.

    Parameters
    ----------
    inst
        The run's siting instance.
    settings
        ``tradeoff_max_p`` is ``N`` (capped at the number of candidates); time limit, gap,
        capacity and size limit as for the run's models.
    budget
        Optional time budget shared by the points; points it leaves no time for are listed
        with status ``skipped_time_budget`` and no figures.

    Returns
    -------
    pandas.DataFrame
        :data:`TRADEOFF_COLUMNS`: coverage share (members) and weighted share (the objective),
        marginal gain of the ``p``-th site, the sites, HiGHS status and gap.
    """
    cover = inst.cover(inst.threshold_min)
    n_cand = int((~inst.existing).sum())
    top = min(settings.tradeoff_max_p, n_cand)
    rows: list[dict[str, Any]] = []
    n = len(inst.member_ids)
    for p in range(top + 1):
        if budget is not None and budget.spent:
            rows.append({"p": p, "total_weight": round(float(inst.weights.sum()), 3), "new_site_ids": "",
                         "new_site_names": "", "status": SKIPPED, "method": ""})
            continue
        limit = None if budget is None else budget.limit(settings.time_limit_s, top + 1 - p)
        res = _mclp(inst, cover, p, settings, time_limit_s=limit)
        ids, names = _names(inst, res.selected)
        covered = int((res.member_site >= 0).sum())
        rows.append({
            "p": p, "coverage_share": round(covered / n, 4) if n else 0.0,
            "weighted_coverage_share": round(float(res.coverage_share), 4), "members_covered": covered,
            "covered_weight": round(float(res.covered_weight), 3), "total_weight": round(float(res.total_weight), 3),
            "new_site_ids": ids, "new_site_names": names, "status": res.status, "gap": _fmt_gap(res),
            "method": res.method,
        })
    df = pd.DataFrame(rows, columns=[c for c in TRADEOFF_COLUMNS if not c.startswith("marginal")])
    df["marginal_members"] = df["members_covered"].diff().fillna(0).astype("Int64")
    df["marginal_weight"] = df["covered_weight"].diff().fillna(0.0).round(3)
    df["marginal_share"] = df["weighted_coverage_share"].diff().fillna(0.0).round(4)
    return df[TRADEOFF_COLUMNS]


# ----------------------------------------------------------------------------- sensitivity


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
    k = np.cos(np.radians(inst.lat[moved]))
    lon = (inst.lon[moved] + dist * np.cos(ang) / (111_320.0 * k)).ravel()
    lat = (inst.lat[moved] + dist * np.sin(ang) / 110_540.0).ravel()
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
    budget: Budget | None = None,
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
    speed = scenario.network.walk_speed_kmh
    n = len(inst.member_ids)
    base_set = set(int(j) for j in np.asarray(base_sites, dtype=np.int64))
    base_open = inst.existing.copy()
    base_open[list(base_set)] = True
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
        res = _mclp(inst, cover, min(s.new_stations, int((~inst.existing).sum())), s, weights, time_limit_s=limit)
        ids, names = _names(inst, res.selected)
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
            "base_sites_kept": len(sel & base_set), "status": res.status, "gap": _fmt_gap(res),
        })
        if case["kind"] != "base" and not (case["kind"].startswith("threshold") and case["value"] == thr):
            chosen.append(sel)
    table = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    sites = set(base_set)
    for cols in (extra_sites or {}).values():
        sites |= set(int(j) for j in cols)
    ids = inst.candidates["id"].astype(str).to_numpy()
    lon = inst.candidates["lon"].to_numpy(float)
    lat = inst.candidates["lat"].to_numpy(float)

    def near(j: int) -> set[int]:
        dx = (lon - lon[j]) * 111_320.0 * np.cos(np.radians(lat[j]))
        dy = (lat - lat[j]) * 110_540.0
        return set(np.flatnonzero(np.hypot(dx, dy) <= s.stability_radius_m).tolist()) | {j}

    def share(hits: int) -> float | None:
        return round(hits / len(chosen), 4) if chosen else None

    stability = {str(ids[j]): share(sum(j in c for c in chosen)) for j in sorted(sites)}
    nearby = {str(ids[j]): share(sum(bool(near(j) & c) for c in chosen)) for j in sorted(sites)}
    base_ids = [str(ids[j]) for j in sorted(base_set)]
    weak = [i for i in base_ids if nearby.get(i) is not None and (nearby[i] or 0.0) < 0.5]
    r = f"{s.stability_radius_m:g}"
    if not base_ids:
        zh, en = "最大覆盖模型未推荐新站点。", "The maximal covering model recommends no new site."
    elif weak:
        names = "、".join(inst.candidates.set_index("id").loc[weak, "name"].astype(str))
        zh = (f"{len(base_ids)} 个推荐站点中有 {len(weak)} 个（{names}）在不足半数的情形中被再次选中（含 {r} 米内的替代点），"
              "其选址对参数较敏感，建议实地核查后再定；其余站点结论稳健。")
        en = (f"{len(weak)} of the {len(base_ids)} recommended sites ({', '.join(weak)}) are chosen again (or a site "
              f"within {r} m) in fewer than half of the cases: sensitive to the assumptions, check on site first.")
    else:
        low = min(nearby[i] or 0.0 for i in base_ids)
        zh = f"全部 {len(base_ids)} 个推荐站点（或其 {r} 米内的替代点）在至少 {low:.0%} 的情形中被再次选中，结论稳健。"
        en = (f"All {len(base_ids)} recommended sites (or a site within {r} m) are chosen again in at least "
              f"{low:.0%} of the cases: the answer holds.")
    summary = {"cases": len(cases), "solves": int((table["status"] != SKIPPED).sum()),
               "members_moved_per_draw": moved_any,
               "stability": stability, "stability_nearby": nearby, "stability_radius_m": s.stability_radius_m,
               "verdict_zh": zh, "verdict_en": en,
               "statuses": {str(k): int(v) for k, v in table["status"].value_counts().items()}}
    return table, summary


# ----------------------------------------------------------------------------- phased plan


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
    budget: Budget | None = None,
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
    n_j = red.cover.shape[1]
    ids = inst.candidates["id"].astype(str).to_numpy()
    costs = np.array([settings.site_costs.get(ids[c], settings.site_cost) for c in red.cols], dtype=float)
    money = settings.budget_per_year
    gap_opt = settings.mip_gap
    solves_left = [2 * K + 1]

    def tl() -> float:
        solves_left[0] = max(solves_left[0] - 1, 1)
        return settings.time_limit_s if budget is None else budget.limit(settings.time_limit_s, solves_left[0])
    horizon: list[float] = []
    h_status: list[str] = []
    for k in range(1, K + 1):
        if n_j == 0:
            horizon.append(0.0)
            h_status.append("optimal")
            continue
        st, y, _ = _solve_phases(red, 1, k * P, costs, None if money is None else k * money, {}, tl(), gap_opt)
        horizon.append(_covered_weight(red, y[0]) if y.size else 0.0)
        h_status.append(st)
    notes: list[str] = []
    if n_j == 0:
        status, y, gap = "optimal", np.zeros((K, 0), bool), 0.0
    else:
        status, y, gap = _solve_phases(red, K, P, costs, money, {}, tl(), gap_opt)
        got = [_covered_weight(red, y[k]) for k in range(K)]
        short = [k for k in range(K) if got[k] < horizon[k] - 1e-6]
        if short:  # force horizons to their optimum, earliest first, while a nested plan exists
            targets: dict[int, float] = {}
            for k in range(K):
                trial = {**targets, k: horizon[k]}
                st2, y2, g2 = _solve_phases(red, K, P, costs, money, trial, tl(), gap_opt)
                if st2 in ("optimal", "time_limit"):
                    targets, status, y, gap = trial, st2, y2, g2
                elif st2 != "infeasible":
                    notes.append(f"year {k + 1}: forcing the horizon optimum was not decided ({st2})")
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
        newly = cov & ~prev_cov
        # who each opening newly serves: the first of this year's sites (cheapest first) covering them
        order = opened[np.argsort(costs[np.searchsorted(red.cols, opened)], kind="stable")] if opened.size else opened
        taken = np.zeros(n, bool)
        if order.size == 0:
            rows.append({**common, "order": 0, "site_id": "", "site_name": "", "lon": None, "lat": None, "cost": 0.0,
                         "new_members": 0, "new_weight": 0.0, "member_ids": "",
                         "note": (note + "; " if note else "") + "no further site adds coverage this year"})
        for o, j in enumerate(order):
            mine = newly & ~taken & (cov_full[:, [j]].toarray().ravel() > 0)
            taken |= mine
            c = inst.candidates.iloc[int(j)]
            rows.append({**common, "order": o + 1, "site_id": str(c["id"]), "site_name": str(c["name"]),
                         "lon": float(c["lon"]), "lat": float(c["lat"]),
                         "cost": float(costs[np.searchsorted(red.cols, j)]), "new_members": int(mine.sum()),
                         "new_weight": round(float(inst.weights[mine].sum()), 3),
                         "member_ids": ";".join(inst.member_ids[mine]), "note": note})
        prev_open, prev_cov = now_open, cov
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


# ----------------------------------------------------------------------------- all together


@dataclass
class DecisionResult:
    """Everything the decision-support step adds to a run.

    Attributes
    ----------
    tradeoff, sensitivity, phased_plan
        The ``tradeoff.csv``, ``sensitivity.csv`` and ``phased_plan.csv`` tables.
    pcenter_recommendations
        ``new_station`` rows of the p-center model (recommendations schema, without ``rec_id``).
    equity
        ``{"current": figures, "mclp": figures, …}`` (:func:`geo_planner.equity.equity_figures`).
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


def _pcenter_rows(inst: SitingInstance, res: Any, radius_before: float) -> list[dict[str, Any]]:
    thr = inst.threshold_min
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
        rows.append({
            "kind": "new_station", "name": f"新建驿站（{c['name']}）", "lon": float(c["lon"]), "lat": float(c["lat"]),
            "site_id": str(c["id"]), "site_name": str(c["name"]), "member_ids": ";".join(inst.member_ids[served]),
            "n_members": int(served.size), "branch_ids": "", "city": "", "township": "", "before_min": b,
            "after_min": a, "max_after_min": float(np.round(after.max(), 2)),
            "rule": (f"p-center, p = {res.selected.size}: minimises the longest walk of any member served "
                     f"(existing stations kept); longest walk {res.radius_min:.1f} min"),
            "rationale_zh": (f"按 p-中心模型（使步行最远的老干部尽量近），在{c['name']}新建驿站，{served.size} 名老干部的"
                             f"最近驿站将改为此处，步行中位时间由 {b_zh} 降至 {a:g} 分钟；该方案服务的 {res.served} 名老干部中"
                             f"最长步行时间由 {rb_zh} 降至 {res.radius_min:.1f} 分钟（覆盖标准 {thr:g} 分钟）。"),
            "rationale_en": (f"p-center: a new station at {c['name']} becomes the nearest for {served.size} members; "
                             f"median walk from {b_en} to {a:g} min; among the {res.served} members the plan serves, "
                             f"the longest walk falls from {rb_en} to {res.radius_min:.1f} min."),
            "method": f"p_center · highs, {res.solves} covering solves{gap}",
        })
    return rows


def decide(
    members: pd.DataFrame,
    candidates: pd.DataFrame,
    walk: RoadNetwork,
    scenario: Scenario,
    models: dict[str, Any],
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

    Returns
    -------
    DecisionResult
    """
    from ..equity import equity_by_area, equity_figures

    t0 = time.perf_counter()
    s = scenario.siting
    thr = scenario.thresholds.station_walk_min
    inst = siting_instance(members, candidates, walk, scenario)
    timings: dict[str, float] = {}
    budget = Budget(s.decision_time_limit_s)

    # p-center on the station models' cut-off (3× the threshold)
    t = time.perf_counter()
    pc_cost = inst.cost.copy()
    pc_cost.data = np.where(pc_cost.data <= 3 * thr, pc_cost.data, np.nan)
    keep = ~np.isnan(pc_cost.data)
    rows_of = np.repeat(np.arange(pc_cost.shape[0]), np.diff(pc_cost.indptr))
    pc_cost = sp.csr_array((pc_cost.data[keep], (rows_of[keep], pc_cost.indices[keep])), shape=pc_cost.shape)
    p = min(s.new_stations, int((~inst.existing).sum()))
    pc = get_model("p_center").solve(StationData(None, None, inst.existing, pc_cost), s,
                                     time_limit_s=budget.part(2, 10).total_s)
    # the longest current walk of the members the p-center serves (exact times, not cut off)
    served_pc = pc.member_site >= 0
    radius_before = float(inst.before_min[served_pc].max()) if served_pc.any() else float("nan")
    timings["p_center"] = time.perf_counter() - t

    # members' minutes now and after each model; equity over members with a network position
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
    by_area = equity_by_area(members, minutes, thr, population=population)

    t = time.perf_counter()
    curve = tradeoff_curve(inst, s, budget=budget.part(3, 8))
    timings["tradeoff"] = time.perf_counter() - t
    t = time.perf_counter()
    base = site_cols.get("mclp", np.zeros(0, np.int64))
    sens, sens_summary = sensitivity(inst, walk, scenario, base_sites=base,
                                     extra_sites={k: v for k, v in site_cols.items() if k != "mclp"},
                                     budget=budget.part(4, 5))
    timings["sensitivity"] = time.perf_counter() - t
    t = time.perf_counter()
    phased, phased_summary = phased_plan(inst, s, budget=budget.part(1, 1))
    timings["phased_plan"] = time.perf_counter() - t

    pc_rows = _pcenter_rows(inst, pc, radius_before)
    at_p = curve[curve["p"] == p]
    summary = {
        "p_center": {
            "method": "highs (binary search on the radius over maximal covering solves)", "status": pc.status,
            "new_sites": int(pc.selected.size),
            "site_ids": inst.candidates["id"].astype(str).iloc[pc.selected].tolist(),
            "radius_min": None if not np.isfinite(pc.radius_min) else round(pc.radius_min, 2),
            "radius_before_min": None if not np.isfinite(radius_before) else round(radius_before, 2),
            "served": pc.served, "members_considered": pc.n_members, "solves": pc.solves,
            "cutoff_min": 3 * thr, "runtime_s": round(pc.runtime_s, 3), "message": pc.message,
            "equity": equity["p_center"],
        },
        "tradeoff": {
            "max_p": int(curve["p"].max()) if len(curve) else 0,
            "coverage_at_new_stations": None if at_p.empty else float(at_p["weighted_coverage_share"].iloc[0]),
            "statuses": {str(k): int(v) for k, v in curve["status"].value_counts().items()},
        },
        "sensitivity": sens_summary,
        "phased_plan": phased_summary,
        "equity_current": equity["current"],
        "timings_s": {k: round(v, 3) for k, v in timings.items()} | {"total": round(time.perf_counter() - t0, 3)},
    }
    log.info("decision support done in %.2f s", time.perf_counter() - t0)
    return DecisionResult(
        tradeoff=curve, sensitivity=sens, phased_plan=phased,
        pcenter_recommendations=pd.DataFrame(pc_rows), equity=equity, equity_by_area=by_area, summary=summary,
        stability=sens_summary["stability"], stability_nearby=sens_summary["stability_nearby"], minutes=minutes,
    )


def add_stability(recs: pd.DataFrame, result: DecisionResult) -> pd.DataFrame:
    """Put the sensitivity stability of each new-station recommendation into ``stability`` / ``stability_nearby``."""
    out = recs.copy()
    is_station = out.get("kind", pd.Series(dtype=object)) == "new_station"
    site = out.get("site_id", pd.Series("", index=out.index)).astype(str)
    for col, values in (("stability", result.stability), ("stability_nearby", result.stability_nearby)):
        out[col] = np.where(is_station, site.map(lambda i, v=values: v.get(i)).astype(float), np.nan)
    return out
