"""The result every station siting model returns, and the names the models share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp

__all__ = ["Method", "ModelName", "PMedianFormulation", "SitingResult", "SparseMatrix"]

SparseMatrix = sp.sparray | sp.spmatrix
ModelName = Literal["mclp", "lscp", "p_median"]
Method = Literal["highs", "greedy"]
PMedianFormulation = Literal["radius", "pairs"]

#: Relative tolerance on weights when checking targets.
REL_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class SitingResult:
    """Immutable outcome of a siting model.

    Attributes
    ----------
    model
        ``"mclp"`` (maximal covering), ``"lscp"`` (set covering) or ``"p_median"``.
    method
        ``"highs"`` (exact MILP) or ``"greedy"`` (heuristic, used above ``max_exact_size``).
    status
        ``"optimal"``; ``"time_limit"`` (a feasible, not proven optimal solution — see
        ``gap``); ``"heuristic"`` for the greedy method.
    selected
        Sorted indices (columns of the input matrix) of the **new** sites to open.
    objective
        Covered weight (mclp), number of new sites (lscp) or total weighted travel minutes
        of the assigned members (p_median).
    covered_weight
        Weight of members covered (mclp/lscp) or assigned to an open site (p_median),
        existing sites included; with a capacity, the weight actually served.
    total_weight
        Weight of all members.
    coverage_share
        ``covered_weight / total_weight`` (0 when the total weight is 0).
    gap
        Relative MIP gap reported by HiGHS; ``None`` for the greedy method.
    runtime_s
        Wall-clock seconds of the whole call (validation, reduction, solve, report).
    member_site
        One entry per input member (aligned with the rows): the open site covering /
        serving it, or ``-1``. Without capacity an existing site is preferred, then the
        lowest-indexed new site (mclp/lscp) or the cheapest open site (p_median).
    message
        Human-readable summary (reductions, unreachable members, heuristic warning).
    coverable_weight
        Weight of members that at least one site (existing or candidate) can cover / reach.
    existing
        Sorted indices of the existing (always open) sites.
    site_load
        With a capacity: weight served per site (length ``J``, 0 for closed sites);
        otherwise ``None``.
    """

    model: ModelName
    method: Method
    status: str
    selected: np.ndarray
    objective: float
    covered_weight: float
    total_weight: float
    coverage_share: float
    gap: float | None
    runtime_s: float
    member_site: np.ndarray
    message: str
    coverable_weight: float = 0.0
    existing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    site_load: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("selected", "member_site", "existing", "site_load"):
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def open_sites(self) -> np.ndarray:
        """Sorted indices of every open site (existing and new)."""
        return np.union1d(self.existing, self.selected)
