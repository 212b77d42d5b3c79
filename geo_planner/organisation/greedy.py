"""The joint-branch greedy grouping: the models' starting solution and their fallback.

:func:`greedy_joint` repeatedly opens the site taking the most unplaced members of its
``max_units`` largest units (see the model in :mod:`geo_planner.organisation.joint`);
:func:`top_units_per_site` is the same count for every site at once, which also decides
which sites can ever host a joint branch.
"""

from __future__ import annotations

import heapq
import logging
import time

import numpy as np

log = logging.getLogger(__name__)


def top_units_per_site(
    pj: np.ndarray, unit_of_pair: np.ndarray, n_units: int, max_units: int, n_sites: int
) -> np.ndarray:
    """For every site, the members reachable from its ``max_units`` largest units.

    Parameters
    ----------
    pj, unit_of_pair
        Site and unit (``0 … n_units − 1``) of every member–site pair.
    n_units, max_units, n_sites
        Number of units, units one joint branch may draw from, number of sites.

    Returns
    -------
    numpy.ndarray
        Per site, the pairs of its ``max_units`` largest units (float).
    """
    keys, inverse = np.unique(pj * n_units + unit_of_pair, return_inverse=True)
    counts = np.bincount(inverse.ravel(), minlength=keys.size)
    key_site = keys // n_units
    order = np.lexsort((-counts, key_site))  # by site, then largest unit first
    s_sorted = key_site[order]
    new_site = np.r_[True, s_sorted[1:] != s_sorted[:-1]] if s_sorted.size else np.empty(0, dtype=bool)
    start = np.maximum.accumulate(np.where(new_site, np.arange(s_sorted.size), 0))
    keep_key = np.empty(key_site.size, dtype=bool)
    keep_key[order] = (np.arange(s_sorted.size) - start) < max_units
    return np.bincount(key_site[keep_key], weights=counts[keep_key], minlength=n_sites)


def greedy_joint(
    pi: np.ndarray, pj: np.ndarray, pt: np.ndarray, unit: np.ndarray, is_station: np.ndarray,
    *, n_members: int, min_members: int, max_members: int, max_units: int,
    size: np.ndarray | None = None, deadline: float | None = None,
) -> np.ndarray:
    """Greedy grouping: open the site taking the most unplaced members of its largest units.

    ``pi`` indexes *blocks* of ``size`` members (1 each by default) that must stay together.
    A site's value (members of its ``max_units`` largest units still unplaced, at most
    ``max_members``) only falls as blocks are placed, so the sites sit in a heap with their
    last known value and only the top one is re-evaluated (lazy greedy): the site opened is
    the one with the highest current value (ties: a station, then the lower index), as in a
    full scan. Stops early (with what it has placed, a feasible grouping) at ``deadline``
    (``time.perf_counter()``). Returns the site per block (``-1`` when not placed).
    """
    n_sites = is_station.shape[0]
    size = np.ones(n_members, dtype=np.int64) if size is None else np.asarray(size, dtype=np.int64)
    n_units = int(unit.max()) + 1 if unit.size else 1
    site_of = np.full(n_members, -1, dtype=np.int64)
    if pi.size == 0:
        return site_of
    keys, key_of_pair = np.unique(pj * n_units + unit[pi], return_inverse=True)
    key_of_pair = key_of_pair.ravel()
    key_ptr = np.searchsorted(keys // n_units, np.arange(n_sites + 1))  # keys sorted by site, then unit
    w = size[pi].astype(np.float64)
    counts = np.bincount(key_of_pair, weights=w, minlength=keys.size)
    by_block = np.argsort(pi, kind="stable")
    block_ptr = np.r_[0, np.cumsum(np.bincount(pi, minlength=n_members))]
    by_site = np.lexsort((pt, pj))  # per site, shortest walk first
    site_ptr = np.r_[0, np.cumsum(np.bincount(pj, minlength=n_sites))]
    rank = np.lexsort((np.arange(n_sites), ~is_station))  # ties: a station first, then the lower index
    tie = np.empty(n_sites, dtype=np.int64)
    tie[rank] = np.arange(n_sites)

    def value(j: int) -> tuple[float, np.ndarray]:
        c = counts[key_ptr[j]:key_ptr[j + 1]]
        top = np.argsort(-c, kind="stable")[:max_units]
        return min(float(c[top].sum()), float(max_members)), top

    heap = [(-value(j)[0], int(tie[j]), j) for j in range(n_sites) if key_ptr[j + 1] > key_ptr[j]]
    heap = [h for h in heap if -h[0] >= min_members]
    heapq.heapify(heap)
    opened = 0
    while heap:
        if deadline is not None and opened and time.perf_counter() > deadline:
            log.info("joint branches: greedy start stopped at its time share (%d sites opened)", opened)
            break
        neg, t, j = heapq.heappop(heap)
        v, top = value(j)
        if v < min_members:
            continue  # values only fall: this site never opens
        if v < -neg - 1e-9:
            heapq.heappush(heap, (-v, t, j))
            continue
        units = keys[key_ptr[j]:key_ptr[j + 1]][top] % n_units
        mine = by_site[site_ptr[j]:site_ptr[j + 1]]
        mine = mine[(site_of[pi[mine]] < 0) & np.isin(unit[pi[mine]], units)]
        fits = np.cumsum(size[pi[mine]]) <= max_members  # shortest walks first, while they fit
        take = pi[mine[fits]]
        if size[take].sum() < min_members:  # the blocks do not pack: never try this site again
            continue
        site_of[take] = j
        opened += 1
        gone = np.concatenate([by_block[block_ptr[b]:block_ptr[b + 1]] for b in take])
        np.subtract.at(counts, key_of_pair[gone], w[gone])
    return site_of
