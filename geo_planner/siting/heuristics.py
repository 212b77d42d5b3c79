"""Heuristics of the siting models: greedy starts, interchange, capacity-respecting assignment.

They give the exact models their warm start (HiGHS then never returns less) and answer alone
above ``max_exact_size`` (the result then says ``method == "greedy"``). Also the rules that
turn a set of open sites into one site per member.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
import scipy.sparse as sp

__all__ = [
    "assign_cheapest_first",
    "celf",
    "cheapest_open_site",
    "cover_interchange",
    "first_open_site",
    "greedy_capacitated_cover",
    "greedy_interchange",
    "prune_redundant",
]


def first_open_site(cov: sp.csr_array, open_mask: np.ndarray, existing: np.ndarray) -> np.ndarray:
    """For each row, an open covering site: an existing one first, else the lowest index."""
    n_i, n_j = cov.shape
    order = np.concatenate([np.flatnonzero(existing & open_mask), np.flatnonzero(~existing & open_mask)])
    out = np.full(n_i, -1, dtype=np.int64)
    if len(order) == 0:
        return out
    rank = np.full(n_j, np.iinfo(np.int64).max, dtype=np.int64)
    rank[order] = np.arange(len(order))
    vals = rank[cov.indices]
    big = np.iinfo(np.int64).max
    has = np.diff(cov.indptr) > 0
    best = np.full(n_i, big, dtype=np.int64)
    if has.any():
        best[has] = np.minimum.reduceat(vals, cov.indptr[:-1][has])
    ok = best < big
    out[ok] = order[best[ok]]
    return out


def celf(a_csc: sp.csc_array, wg: np.ndarray, *, p: int | None, need: float | None) -> list[int]:
    """Lazy greedy maximal coverage on a (groups × columns) pattern.

    Stops after ``p`` columns, when the covered weight reaches ``need``, or when no column
    adds weight. Returns the chosen columns in the order chosen.
    """
    n_cols = a_csc.shape[1]
    covered = np.zeros(a_csc.shape[0], dtype=bool)
    gains = np.asarray(a_csc.T @ wg).ravel() if n_cols else np.zeros(0)
    heap = [(-float(g), int(j), 0) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    got = 0.0
    step = 0
    while heap:
        if p is not None and len(chosen) >= p:
            break
        if need is not None and got >= need:
            break
        neg, j, stamp = heapq.heappop(heap)
        if stamp != step:
            rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
            g = float(wg[rows][~covered[rows]].sum())
            if g > 0:
                heapq.heappush(heap, (-g, j, step))
            continue
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        covered[rows] = True
        got += -neg
        chosen.append(j)
        step += 1
    return chosen


def prune_redundant(a_csc: sp.csc_array, wg: np.ndarray, chosen: list[int], need: float) -> list[int]:
    """Drop chosen columns (latest first) whose removal keeps the covered weight >= need."""
    count = np.zeros(a_csc.shape[0], dtype=np.int64)
    for j in chosen:
        count[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] += 1
    got = float(wg[count > 0].sum())
    kept = list(chosen)
    for j in reversed(chosen):
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        loss = float(wg[rows][count[rows] == 1].sum())
        if got - loss >= need:
            count[rows] -= 1
            got -= loss
            kept.remove(j)
    return kept


def cover_interchange(
    a_csc: sp.csc_array, wg: np.ndarray, chosen: list[int], *, time_budget_s: float, max_passes: int = 20
) -> np.ndarray:
    """Improve a set of columns for maximal coverage by single swaps (first improvement).

    For each chosen column, the weight only it covers is compared with the best weight any
    other column would add once it is removed (one sparse product per trial).
    """
    t_end = time.perf_counter() + time_budget_s
    chosen = list(chosen)
    if not chosen or len(chosen) >= a_csc.shape[1]:
        return np.asarray(sorted(chosen), dtype=np.int64)
    a_t = a_csc.T.tocsr().astype(np.float64)  # columns × groups
    count = np.zeros(a_csc.shape[0], dtype=np.int64)
    for j in chosen:
        count[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] += 1
    in_set = np.zeros(a_csc.shape[1], dtype=bool)
    in_set[chosen] = True
    tol = 1e-9 * max(float(wg.sum()), 1.0)
    for _ in range(max_passes):
        improved = False
        for pos in range(len(chosen)):
            s = chosen[pos]
            rows_s = a_csc.indices[a_csc.indptr[s]:a_csc.indptr[s + 1]]
            loss = float(wg[rows_s][count[rows_s] == 1].sum())
            count[rows_s] -= 1
            gains = a_t @ np.where(count == 0, wg, 0.0)
            gains[in_set] = -np.inf
            k = int(np.argmax(gains))
            if gains[k] > loss + tol:
                in_set[s], in_set[k] = False, True
                chosen[pos] = k
                count[a_csc.indices[a_csc.indptr[k]:a_csc.indptr[k + 1]]] += 1
                improved = True
            else:
                count[rows_s] += 1
            if time.perf_counter() > t_end:
                return np.asarray(sorted(chosen), dtype=np.int64)
        if not improved:
            break
    return np.asarray(sorted(chosen), dtype=np.int64)

def greedy_capacitated_cover(
    sub: sp.csr_array, w: np.ndarray, cap: np.ndarray, is_cand: np.ndarray, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy capacitated covering on member rows.

    Existing sites serve first; then, ``p`` times, open the candidate that can serve most
    unserved weight (``min(capacity, unserved covered weight)``). A site serves its unserved
    members with fewest options first, heaviest first, while capacity remains.
    """
    csc = sub.tocsc()
    n_rows = sub.shape[0]
    options = np.diff(sub.indptr)
    site = np.full(n_rows, -1, dtype=np.int64)

    def serve(j: int) -> None:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        rows = rows[site[rows] < 0]
        rows = rows[np.lexsort((-w[rows], options[rows]))]
        left = cap[j]
        for r in rows:
            if w[r] <= left + 1e-12:
                site[r] = j
                left -= w[r]

    for j in np.flatnonzero(~is_cand):
        serve(int(j))
    chosen: list[int] = []
    is_open = ~is_cand.copy()
    for _ in range(p):
        unserved = np.where(site < 0, w, 0.0)
        gains = np.minimum(np.asarray(csc.T @ unserved).ravel(), cap)
        gains[is_open] = -1.0
        j = int(np.argmax(gains)) if len(gains) else -1
        if j < 0 or gains[j] <= 0:
            break
        is_open[j] = True
        chosen.append(j)
        serve(j)
    return np.asarray(chosen, dtype=np.int64), site

def cheapest_open_site(c: sp.csr_array, open_mask: np.ndarray) -> np.ndarray:
    """Per member, the open allowed site of least cost (lowest index on ties), or -1."""
    n_i = c.shape[0]
    vals = np.where(open_mask[c.indices], c.data, np.inf)
    out = np.full(n_i, -1, dtype=np.int64)
    nz = np.flatnonzero(np.diff(c.indptr) > 0)
    if len(nz) == 0:
        return out
    row_best = np.full(n_i, np.inf)
    row_best[nz] = np.minimum.reduceat(vals, c.indptr[:-1][nz])
    row_of = np.repeat(np.arange(n_i), np.diff(c.indptr))
    pos = np.flatnonzero(np.isfinite(vals) & (vals == row_best[row_of]))
    # entries are sorted by (row, column): the first hit of a row is its lowest-index cheapest site
    first = np.ones(len(pos), dtype=bool)
    first[1:] = row_of[pos[1:]] != row_of[pos[:-1]]
    out[row_of[pos[first]]] = c.indices[pos[first]]
    return out

def greedy_interchange(
    pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
    n_g: int, n_j: int, p: int, time_limit_s: float,
) -> np.ndarray:
    """Greedy addition then one-site interchange for the p-median (vectorised over pairs)."""
    t_end = time.perf_counter() + time_limit_s
    wp = wg[pg]

    def assign_cost(open_mask: np.ndarray) -> np.ndarray:
        cur = fallback.copy()
        on = open_mask[pc]
        np.minimum.at(cur, pg[on], pv[on])
        return cur

    def gains(cur: np.ndarray, open_mask: np.ndarray) -> np.ndarray:
        g = np.bincount(pc, weights=wp * np.maximum(0.0, cur[pg] - pv), minlength=n_j)
        g[open_mask] = -1.0
        return g

    open_mask = np.zeros(n_j, dtype=bool)
    cur = fallback.copy()
    chosen: list[int] = []
    for _ in range(p):
        g = gains(cur, open_mask)
        if time.perf_counter() >= t_end:  # out of time: the best remaining sites by current gain
            rest = np.argsort(-g, kind="stable")[: p - len(chosen)]
            rest = rest[g[rest] > 0]
            open_mask[rest] = True
            chosen.extend(int(j) for j in rest)
            cur = assign_cost(open_mask)
            break
        j = int(np.argmax(g))
        if g[j] <= 0:
            break
        open_mask[j] = True
        chosen.append(j)
        cur = assign_cost(open_mask)
    total = float(wg @ cur)
    improved = True
    while improved and time.perf_counter() < t_end:
        improved = False
        for s in list(chosen):
            trial = open_mask.copy()
            trial[s] = False
            cur_wo = assign_cost(trial)
            g = gains(cur_wo, trial)
            g[s] = -1.0
            j = int(np.argmax(g))
            new_total = float(np.einsum("i,i->", wg, cur_wo)) - float(g[j])  # no BLAS call per swap
            if new_total < total - 1e-9 * max(abs(total), 1.0):
                trial[j] = True
                open_mask = trial
                chosen[chosen.index(s)] = j
                total = float(np.einsum("i,i->", wg, assign_cost(open_mask)))
                improved = True
            if time.perf_counter() >= t_end:
                break
    return np.asarray(sorted(chosen), dtype=np.int64)

def assign_cheapest_first(
    sub: sp.csr_array, w: np.ndarray, cap: np.ndarray, open_mask: np.ndarray
) -> np.ndarray:
    """Assign rows to open sites, cheapest pair first, while the site has capacity left."""
    row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    on = open_mask[sub.indices]
    pr, pcol, pv = row_of[on], sub.indices[on], sub.data[on]
    order = np.lexsort((pcol, pr, pv))
    left = cap.astype(np.float64).copy()
    site = np.full(sub.shape[0], -1, dtype=np.int64)
    for k in order:
        r, j = pr[k], pcol[k]
        if site[r] < 0 and w[r] <= left[j] + 1e-12:
            site[r] = j
            left[j] -= w[r]
    return site
