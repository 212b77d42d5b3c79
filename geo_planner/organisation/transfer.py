"""Transfers (就近参加活动, 一方隶属、多方管理): dispersed members join a nearer branch's activities.

A dispersed, non-remote member left out of every joint branch but within ``branch_walk_min``
of **another** branch's meeting place is sent to the nearest such branch. There is one row
per target branch, listing every member sent there (a secretary receives one list);
membership stays with the original branch, which is why the target's size is not checked.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..network import RoadNetwork
from ..siting.schema import recommendation_row
from ..travel import cost_matrix
from .inputs import Members, Places
from .records import Rec, finite_max, finite_median, min_en, min_zh, mode, walk_median


def _nearest_other_branch(
    minutes: sparse.csr_matrix, own_branch: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per member, the nearest branch other than its own (ties: the lower branch row).

    Returns ``(member row, branch, minutes)`` of the members with such a branch, sorted by
    branch (stable), without sorting the pairs.
    """
    bm = sparse.csr_matrix(minutes)
    bm.sort_indices()
    rows = np.repeat(np.arange(bm.shape[0]), np.diff(bm.indptr))
    val = np.where(bm.indices == own_branch[rows], np.inf, bm.data)
    has = np.diff(bm.indptr) > 0
    row_min = np.full(bm.shape[0], np.inf)
    row_min[has] = np.minimum.reduceat(val, bm.indptr[:-1][has])
    at_min = np.flatnonzero((val == row_min[rows]) & np.isfinite(val))
    at_min = at_min[np.r_[True, rows[at_min][1:] != rows[at_min][:-1]]] if at_min.size else at_min
    r, c, v = rows[at_min], bm.indices[at_min].astype(np.int64), val[at_min]
    order = np.argsort(c, kind="stable")
    return r[order], c[order], v[order]


def _transfer_row(
    m: Members, g: np.ndarray, t: np.ndarray, branches: Places, b: int, limit_min: float
) -> Rec:
    """Make the row sending members ``g`` (walking ``t`` minutes) to branch ``b``."""
    b_med, a_med, a_max = walk_median(m.before[g]), finite_median(t), finite_max(t)
    return (recommendation_row(
        kind="transfer", name=f"就近参加{branches.name[b]}活动", lon=branches.lon[b], lat=branches.lat[b],
        site_id=branches.ids[b], site_name=branches.name[b], n_members=int(g.size),
        branch_ids=";".join(sorted(set(m.branch[g]))), city=branches.city[b] or mode(m.city[g]),
        township=branches.township[b] or mode(m.township[g]),
        before_min=b_med, after_min=a_med, max_after_min=a_max,
        rule=(f"every member ≤ {limit_min:g} min walk to {branches.ids[b]}'s meeting place; "
              "membership unchanged"),
        rationale_zh=(f"{g.size}名居住分散党员到原支部步行中位{min_zh(b_med)}，到{branches.name[b]}"
                      f"活动地点不超过{a_max:.0f}分钟（中位{a_med:.0f}分钟），建议就近参加该支部活动，"
                      f"组织关系保留在原支部（一方隶属、多方管理）。"),
        rationale_en=(f"{g.size} dispersed members (median walk to their branch {min_en(b_med)}) live "
                      f"within {a_max:.0f} min of {branches.ids[b]}'s meeting place (median "
                      f"{a_med:.0f} min): they take part in its activities and keep their membership "
                      f"(belong to one, take part in many)."),
        method="rule",
    ), g)


def transfer_recs(
    m: Members, rest: np.ndarray, branches: Places, walk: RoadNetwork, *, limit_min: float,
    max_snap_m: float, minutes: sparse.csr_matrix | None = None,
) -> list[Rec]:
    """One row per target branch: members of ``rest`` within reach of another branch's meeting place.

    ``minutes`` (optional) is the ``rest × branches`` walking-minute matrix cut off at
    ``limit_min``, when it was measured already.
    """
    if rest.size == 0 or branches.ids.size == 0:
        return []
    if minutes is None:
        minutes = cost_matrix(walk, m.snap.subset(rest), branches.snap(walk, max_snap_m), limit_min)
    r, c, v = _nearest_other_branch(minutes, m.branch_pos[rest])
    bounds = np.flatnonzero(np.r_[True, c[1:] != c[:-1], True]) if c.size else np.zeros(1, dtype=np.int64)
    return [_transfer_row(m, rest[r[k0:k1]], v[k0:k1], branches, int(c[k0]), limit_min)
            for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True)]
