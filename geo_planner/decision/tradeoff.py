"""Trade-off curve: how much each extra station brings.

:func:`tradeoff_curve` solves the maximal covering model for ``p = 0 … N`` new stations;
every point is HiGHS's proven optimum (or says it is not) with its gap, and the marginal gain
of each extra site. Its point at ``p = new_stations`` is the run's maximal covering result.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..settings import SitingSettings
from ..siting.budget import TimeBudget
from .instance import SKIPPED, SitingInstance, fmt_gap, site_names, solve_mclp

__all__ = ["TRADEOFF_COLUMNS", "tradeoff_curve"]

TRADEOFF_COLUMNS = [
    "p", "coverage_share", "weighted_coverage_share", "members_covered", "covered_weight", "total_weight",
    "marginal_members", "marginal_weight", "marginal_share", "new_site_ids", "new_site_names", "status",
    "gap", "method",
]


def tradeoff_curve(inst: SitingInstance, settings: SitingSettings, *, budget: TimeBudget | None = None) -> pd.DataFrame:
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
        res = solve_mclp(inst, cover, p, settings, time_limit_s=limit)
        ids, names = site_names(inst, res.selected)
        covered = int((res.member_site >= 0).sum())
        rows.append({
            "p": p, "coverage_share": round(covered / n, 4) if n else 0.0,
            "weighted_coverage_share": round(float(res.coverage_share), 4), "members_covered": covered,
            "covered_weight": round(float(res.covered_weight), 3), "total_weight": round(float(res.total_weight), 3),
            "new_site_ids": ids, "new_site_names": names, "status": res.status, "gap": fmt_gap(res),
            "method": res.method,
        })
    df = pd.DataFrame(rows, columns=[c for c in TRADEOFF_COLUMNS if not c.startswith("marginal")])
    df["marginal_members"] = df["members_covered"].diff().fillna(0).astype("Int64")
    df["marginal_weight"] = df["covered_weight"].diff().fillna(0.0).round(3)
    df["marginal_share"] = df["weighted_coverage_share"].diff().fillna(0.0).round(4)
    return df[TRADEOFF_COLUMNS]
