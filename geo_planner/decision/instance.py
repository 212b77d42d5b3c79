"""The run's station-siting instance the decision-support solves share.

:class:`SitingInstance` holds the same members, weights, candidates and sparse member × site
minutes as the run's station models (:func:`siting_instance`), cut off far enough that every
sensitivity case reads its coverage from it. ``[siting] decision_time_limit_s`` is shared
among the decision solves by the siting time budget (:class:`~geo_planner.siting.budget.TimeBudget`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..network import RoadNetwork
from ..settings import Scenario, SitingSettings
from ..siting.models.mclp import mclp
from ..siting.plan import member_weights, siting_members
from ..siting.result import SitingResult
from ..travel import cost_matrix

__all__ = [
    "GEOCODE_UNCERTAINTY_M",
    "SKIPPED",
    "SitingInstance",
    "after_minutes",
    "fmt_gap",
    "site_names",
    "siting_instance",
    "solve_mclp",
]

#: Radius (metres) within which a member geocoded at this precision may really live.
#: Coordinates typed into the table are taken as exact.
GEOCODE_UNCERTAINTY_M: dict[str, float] = {
    "coordinates": 0.0, "poi": 50.0, "street": 300.0, "community": 500.0, "township": 3000.0, "county": 10000.0,
}

#: Status of a solve the time budget left no time for.
SKIPPED = "skipped_time_budget"


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


def solve_mclp(inst: SitingInstance, cover: sp.csr_array, p: int, s: SitingSettings,
               weights: np.ndarray | None = None, time_limit_s: float | None = None) -> SitingResult:
    """Solve the maximal covering model on ``cover`` with the run's options.

    ``weights`` and ``time_limit_s`` override the instance's weights and ``settings.time_limit_s``.
    """
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


def site_names(inst: SitingInstance, cols: np.ndarray) -> tuple[str, str]:
    """Candidate ids and names of ``cols``, each joined with ``;``."""
    c = inst.candidates.iloc[np.asarray(cols, dtype=np.int64)]
    return ";".join(c["id"].astype(str)), ";".join(c["name"].astype(str))


def fmt_gap(res: SitingResult) -> float | None:
    """A result's gap rounded for a table (``None`` without one)."""
    return None if res.gap is None else round(float(res.gap), 6)
