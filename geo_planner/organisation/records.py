"""Organisation recommendations: their text (rule, rationale in Chinese and English), table and run records.

Rows are built by :func:`~geo_planner.siting.schema.recommendation_row` and numbered by
:func:`~geo_planner.siting.schema.number_recommendations`, as every producer's.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..settings import BranchSettings
from ..siting.schema import RECOMMENDATION_COLUMNS, empty_recommendations, number_recommendations
from .medoid import MEDOID_CANDIDATES

#: A recommendation row and its members' row positions.
Rec = tuple[dict[str, object], np.ndarray]


def finite_median(a: np.ndarray) -> float:
    """Median of the finite values (NaN when there are none)."""
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


def walk_median(a: np.ndarray) -> float:
    """Median walk where ``inf`` means "beyond the search cut-off" (ranks above every time).

    NaN (no time) is left out; the median is ``inf`` when it falls among the cut-off walks.
    """
    a = np.asarray(a, dtype=np.float64)
    a = a[~np.isnan(a)]
    return float(np.median(a)) if a.size else math.nan


def finite_max(a: np.ndarray) -> float:
    """Largest finite value (NaN when there are none)."""
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def mode(values: Sequence[str] | np.ndarray) -> str:
    """Most frequent non-empty text (the first seen on ties; ``""`` when none)."""
    counts = Counter(v for v in values if v)  # insertion order: first seen first
    return str(max(counts, key=counts.__getitem__)) if counts else ""  # max keeps the first of ties


def min_zh(x: float) -> str:
    """Minutes in Chinese text (``超过计算上限`` when ``inf``, ``无法步行到达`` when NaN)."""
    if np.isinf(x):
        return "超过计算上限"
    return f"{x:.0f}分钟" if np.isfinite(x) else "无法步行到达"


def min_en(x: float) -> str:
    """Minutes in English text (``beyond the search limit`` when ``inf``, ``not reachable on foot`` when NaN)."""
    if np.isinf(x):
        return "beyond the search limit"
    return f"{x:.0f} min" if np.isfinite(x) else "not reachable on foot"


def rule_record(method: str, recs: list[Rec], t0: float, *, exact: bool = False) -> dict[str, object]:
    """``run.json`` record of a rule-based organisation model.

    A meeting point chosen as the network medoid among *all* of a group's members is exact;
    among only the ``MEDOID_CANDIDATES`` nearest to the centre, it is a heuristic.
    """
    sizes = [g.size for _, g in recs]
    medoid_exact = all(n <= MEDOID_CANDIDATES for n in sizes)
    return {"method": method, "status": "optimal" if exact or medoid_exact else "heuristic", "gap": None,
            "runtime_s": round(time.perf_counter() - t0, 3), "rows": len(recs),
            "members": int(sum(sizes))}


def rule_members(n: int, rules: BranchSettings) -> str:
    """Return the ``rule`` text of a branch's size: ``3 ≤ n ≤ 50 members``."""
    return f"{rules.min_branch_members} ≤ {n} ≤ {rules.max_branch_members} members"


def tabulate(recs: list[Rec], ids: np.ndarray, index: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the recommendations table and the per-member assignment (see ``recommend_branches``).

    Rows are numbered ``R001…`` by :func:`~geo_planner.siting.schema.number_recommendations` (kind, then
    size); ``ids`` and ``index`` are the member ids and the members
    table's index, which the assignment keeps.
    """
    assignment = pd.DataFrame({"id": ids, "rec_id": "", "kind": ""}, index=index)
    if not recs:
        return empty_recommendations(), assignment
    table = pd.DataFrame([r for r, _ in recs], columns=list(RECOMMENDATION_COLUMNS))
    table["member_ids"] = [";".join(ids[g]) for _, g in recs]
    table = number_recommendations(table, larger_first=True)
    order = table.index.to_numpy()
    table = table.reset_index(drop=True)
    pos = np.concatenate([recs[i][1] for i in order])
    which = np.repeat(np.arange(len(order)), [recs[i][1].size for i in order])
    rec_col, kind_col = assignment["rec_id"].to_numpy(dtype=object), assignment["kind"].to_numpy(dtype=object)
    rec_col[pos] = table["rec_id"].to_numpy()[which]
    kind_col[pos] = table["kind"].to_numpy()[which]
    assignment["rec_id"], assignment["kind"] = rec_col, kind_col
    for col in ("before_min", "after_min", "max_after_min", "lon", "lat"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(np.float64)
    table["n_members"] = table["n_members"].astype(np.int64)
    return table, assignment
