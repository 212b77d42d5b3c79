"""Instance reduction shared by the siting models.

Before a model is built its instance is made smaller without changing its optimum:

* identical member rows (same sites, and same minutes for cost models) are merged into one
  group whose weight is their sum (:func:`group_identical_rows`, hashed and verified exactly);
* candidate columns whose member set is contained in another's are dominated and dropped
  (:func:`dominated_columns`, covering models);
* groups that only one column covers are folded into that column's objective
  (:func:`fold_single_column_rows`);
* after an integer solve on groups, the counts are spread back to member rows
  (:func:`disaggregate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = [
    "CoverReduction",
    "PairReduction",
    "disaggregate",
    "dominated_columns",
    "drop_columns",
    "fold_single_column_rows",
    "group_identical_rows",
    "members_of_groups",
    "pair_counts",
    "pair_values",
    "reduce_cover",
    "reduce_pairs",
]

#: Upper bound on the work (sum of squared row lengths) spent looking for dominated columns.
DOMINANCE_WORK_LIMIT = 50_000_000
#: Seed of the random row-hash keys (only used to detect identical rows; verified exactly).
HASH_SEED = 20240611


def row_segment_sum(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum ``values`` over CSR row segments (empty rows give 0; wraps modulo 2**64 for uint64)."""
    cs = np.zeros(len(values) + 1, dtype=values.dtype)
    np.cumsum(values, out=cs[1:])
    return cs[indptr[1:]] - cs[indptr[:-1]]


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: every input bit affects every output bit (uint64, wraps)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def group_identical_rows(
    m: sp.csr_array, *, with_values: bool, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with identical pattern (and values, and ``extra`` per-row key).

    Rows are hashed with random 64-bit keys per column (vectorised), then the grouping is
    verified exactly; on the (astronomically unlikely) event of a collision, no rows merge.

    Returns
    -------
    group_of_row, representative
        ``group_of_row[i]`` is the group of row ``i``; ``representative[g]`` one row of group ``g``.
    """
    n = m.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(HASH_SEED)
    keys = [np.diff(m.indptr).astype(np.uint64)]
    for _ in range(2):
        r = rng.integers(1, np.iinfo(np.int64).max, size=m.shape[1], dtype=np.int64).astype(np.uint64)
        keys.append(row_segment_sum(r[m.indices], m.indptr))
    if with_values:
        # mix the float bits first: integer-valued costs have all-zero low mantissa bits, and a
        # plain product with the column key would then hash on a few high bits only
        bits = mix64((m.data.astype(np.float64) + 0.0).view(np.uint64))
        r = rng.integers(1, np.iinfo(np.int64).max, size=m.shape[1], dtype=np.int64).astype(np.uint64)
        keys.append(row_segment_sum(bits * r[m.indices], m.indptr))
    if extra is not None:
        keys.append((extra.astype(np.float64) + 0.0).view(np.uint64))
    key = np.stack(keys, axis=1)
    _, rep, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    # exact verification: every row equals its group's representative
    reps_of_rows = rep[inv]
    mr = m[reps_of_rows]
    ok = np.array_equal(mr.indptr, m.indptr) and np.array_equal(mr.indices, m.indices)
    if ok and with_values:
        ok = np.array_equal(mr.data, m.data)
    if ok and extra is not None:
        ok = np.array_equal(extra[reps_of_rows], extra)
    if not ok:  # pragma: no cover - hash collision
        logger.warning("row hash collision; identical rows are not merged")
        return np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    return inv.astype(np.int64), rep.astype(np.int64)


def dominated_columns(a: sp.csr_array) -> np.ndarray:
    """Boolean mask of columns whose row set is contained in another kept column's.

    Ties (identical columns) keep the lowest index. Skipped (all False) when the co-occurrence
    product would cost more than ``DOMINANCE_WORK_LIMIT``.
    """
    n_cols = a.shape[1]
    row_len = np.diff(a.indptr).astype(np.float64)
    if n_cols < 2 or float(row_len @ row_len) > DOMINANCE_WORK_LIMIT:
        return np.zeros(n_cols, dtype=bool)
    b = sp.csr_array((np.ones(a.nnz, dtype=np.int32), a.indices, a.indptr), shape=a.shape)
    s = (b.T @ b).tocoo()
    count = np.asarray(b.sum(axis=0)).ravel()
    r, c, v = s.row, s.col, s.data
    dom = (r != c) & (v == count[r]) & ((count[c] > count[r]) | ((count[c] == count[r]) & (c < r)))
    mask = np.zeros(n_cols, dtype=bool)
    mask[r[dom]] = True
    return mask


def members_of_groups(group_of_row: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Return rows sorted by group and the start offset of each group in that order."""
    order = np.argsort(group_of_row, kind="stable")
    start = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(group_of_row, minlength=n_groups), out=start[1:])
    return order, start


def disaggregate(
    pair_group: np.ndarray, pair_col: np.ndarray, counts: np.ndarray,
    order: np.ndarray, start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread integer pair counts of merged groups back to their member rows.

    Returns the local row ids (into the rows that were grouped) and their assigned columns.
    """
    counts = np.rint(counts).astype(np.int64)
    keep = counts > 0
    g = np.repeat(pair_group[keep], counts[keep])
    cols = np.repeat(pair_col[keep], counts[keep])
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    srt = np.argsort(g, kind="stable")
    g, cols = g[srt], cols[srt]
    first = np.searchsorted(g, g, side="left")
    rank = np.arange(len(g)) - first
    return order[start[g] + rank], cols


def fold_single_column_rows(a: sp.csr_array, wg: np.ndarray) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Move the weight of groups covered by exactly one column onto that column.

    Returns the remaining groups' matrix, their weights and the per-column bonus weight.
    """
    length = np.diff(a.indptr)
    single = length == 1
    bonus = np.bincount(a.indices[a.indptr[:-1][single]], weights=wg[single], minlength=a.shape[1])
    multi = np.flatnonzero(~single)
    return a[multi], wg[multi], bonus


def drop_columns(c: sp.csr_array, keep_col: np.ndarray) -> sp.csr_array:
    """Remove stored entries in columns where ``keep_col`` is False, keeping explicit zeros."""
    keep = keep_col[c.indices]
    row = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))[keep]
    indptr = np.zeros(c.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=c.shape[0]), out=indptr[1:])
    out = sp.csr_array((c.data[keep], c.indices[keep], indptr), shape=c.shape)
    out.has_sorted_indices = True
    return out


def pair_values(c: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Stored values at ``(rows[k], cols[k])``; the pairs must be stored, indices sorted."""
    n_j = np.int64(c.shape[1])
    keys = np.repeat(np.arange(c.shape[0], dtype=np.int64), np.diff(c.indptr)) * n_j + c.indices
    pos = np.searchsorted(keys, rows.astype(np.int64) * n_j + cols)
    return c.data[pos]


def pair_counts(a: sp.csr_array, group_of_row: np.ndarray, site_of_row: np.ndarray) -> np.ndarray:
    """Members per stored pair of the grouped matrix ``a`` for a member-level assignment.

    ``site_of_row`` holds local column indices (or -1); the pairs must be stored in ``a``.
    """
    ok = site_of_row >= 0
    n_j = np.int64(a.shape[1])
    keys = np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(a.indptr)) * n_j + a.indices
    pos = np.searchsorted(keys, group_of_row[ok].astype(np.int64) * n_j + site_of_row[ok])
    return np.bincount(pos, minlength=a.nnz).astype(np.float64)


@dataclass(frozen=True, eq=False)
class CoverReduction:
    """A covering instance reduced to what the model must decide.

    Attributes
    ----------
    a
        Member groups × useful candidate columns, 0/1 pattern (sorted indices).
    wg
        Weight of each group.
    col_map
        Input column of each column of ``a``.
    base_w
        Weight already covered by existing sites.
    n_dominated
        Candidate columns dropped as dominated.
    """

    a: sp.csr_array
    wg: np.ndarray
    col_map: np.ndarray
    base_w: float
    n_dominated: int


def reduce_cover(cov: sp.csr_array, w: np.ndarray, ex: np.ndarray, by_existing: np.ndarray,
                 n_cand_cover: np.ndarray) -> CoverReduction:
    """Reduce a covering instance to the members still to cover and the useful candidates.

    Members covered by an existing site, of weight 0 or covered by no candidate leave;
    identical rows are merged; empty and dominated candidate columns are dropped.
    """
    base_w = float(w[by_existing].sum())
    keep_rows = np.flatnonzero(~by_existing & (n_cand_cover > 0) & (w > 0))
    cand_idx = np.flatnonzero(~ex)
    sub = cov[keep_rows][:, cand_idx]
    sub.sort_indices()
    group, rep = group_identical_rows(sub, with_values=False)
    wg = np.bincount(group, weights=w[keep_rows], minlength=len(rep))
    a = sub[rep]
    a.sort_indices()
    col_nnz = np.diff(a.tocsc().indptr)
    useful = col_nnz > 0
    dominated = dominated_columns(a) & useful
    useful &= ~dominated
    col_map = cand_idx[np.flatnonzero(useful)]
    a = a[:, np.flatnonzero(useful)]
    a.sort_indices()
    return CoverReduction(a, wg, col_map, base_w, int(dominated.sum()))


@dataclass(frozen=True, eq=False)
class PairReduction:
    """An uncapacitated p-median reduced to its useful candidate pairs.

    Attributes
    ----------
    pg, pc, pv
        One entry per useful pair: member group, input site column, minutes. A pair is useful
        when its site is a candidate and cheaper than the group's fallback.
    wg
        Weight of each group (groups without a useful pair are left out: they keep their
        fallback whatever is opened).
    fallback
        Each group's cost when none of its candidates is open: its cheapest existing site,
        else the unassigned penalty.
    cand_cols
        Sorted candidate columns with a useful pair.
    """

    pg: np.ndarray
    pc: np.ndarray
    pv: np.ndarray
    wg: np.ndarray
    fallback: np.ndarray
    cand_cols: np.ndarray

    @property
    def n_g(self) -> int:
        """Number of member groups."""
        return int(len(self.wg))


def reduce_pairs(sub: sp.csr_array, w: np.ndarray, ex: np.ndarray, penalty: float) -> PairReduction:
    """Reduce a p-median instance to its useful candidate pairs (see :class:`PairReduction`).

    Identical member rows (same sites, same minutes) are merged; a candidate pair is kept
    when it beats the group's fallback.
    """
    group, rep = group_identical_rows(sub, with_values=True)
    n_g = len(rep)
    wg = np.bincount(group, weights=w, minlength=n_g)
    a = sub[rep]
    a.sort_indices()
    # fallback cost per group: its cheapest existing site, else the penalty
    ex_cost = np.where(ex[a.indices], a.data, np.inf)
    fallback = np.full(n_g, np.inf)
    nz = np.diff(a.indptr) > 0
    fallback[nz] = np.minimum.reduceat(ex_cost, a.indptr[:-1][nz])
    fallback = np.minimum(fallback, penalty)
    pair_group = np.repeat(np.arange(n_g), np.diff(a.indptr))
    keep = ~ex[a.indices] & (a.data < fallback[pair_group])
    pg, pc, pv = pair_group[keep], a.indices[keep].astype(np.int64), a.data[keep]
    # groups without a useful candidate pair keep their fallback whatever is opened
    active, pg = np.unique(pg, return_inverse=True)
    return PairReduction(pg.ravel(), pc, pv, wg[active], fallback[active], np.unique(pc))
