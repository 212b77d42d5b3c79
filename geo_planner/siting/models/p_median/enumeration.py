"""Exact p-median by enumeration, for the small instances the Lagrangian fixing leaves.

Once reduced-cost fixing has closed and opened all but a handful of sites, the rest is cheaper
to enumerate than to bound: every choice of the ``p`` sites left among the ``n`` free ones is
priced exactly (each group's weighted cost of its cheapest open site, else its fallback), in
vectorised chunks of a dense groups × free-sites matrix. :func:`enumerable` says whether an
instance is that small (``C(n, p) · p · groups`` below :data:`ENUM_WORK`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["ENUM_WORK", "enumerable", "enumerate_p_median"]

#: Most element operations an enumeration may cost (about 0.1 s of numpy).
ENUM_WORK = 20_000_000
#: Elements of one chunk of the (groups × choices × p) gather.
_CHUNK = 2_000_000


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a @ b`` without a BLAS call (OpenBLAS's threads cost milliseconds on a busy machine)."""
    return float(np.einsum("i,i->", a, b))


def _work(n_sites: int, p: int, n_groups: int) -> float:
    """Element operations of enumerating ``p`` of ``n_sites`` over ``n_groups`` groups."""
    if p <= 0 or p >= n_sites:
        return 0.0
    return float(math.comb(n_sites, p)) * p * max(n_groups, 1)


def enumerable(n_sites: int, p: int, n_groups: int, work: float = ENUM_WORK) -> bool:
    """True when every choice of ``p`` of ``n_sites`` sites can be priced within ``work`` operations."""
    return work > 0 and _work(n_sites, p, n_groups) <= work


def enumerate_p_median(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
                       p: int) -> tuple[np.ndarray, float]:
    """The exact optimum of an uncapacitated p-median given as pairs, by pricing every choice.

    Parameters
    ----------
    pg, pc, pv
        Group, site column and cost of each pair (no pair twice).
    wg, fallback
        Weight and fallback cost of each group.
    p
        Sites to open among the distinct sites of ``pc``.

    Returns
    -------
    chosen, objective
        The sorted site columns of a cheapest choice (lowest columns first on ties) and its
        total weighted cost (fallbacks included).
    """
    sites = np.unique(pc)
    base = _dot(wg, fallback)
    if p <= 0 or sites.shape[0] == 0:
        return sites[:0].astype(np.int64), base
    if p >= sites.shape[0]:
        cost = fallback.copy()
        np.minimum.at(cost, pg, pv)
        return sites.astype(np.int64), _dot(wg, cost)
    groups, g = np.unique(pg, return_inverse=True)
    y = np.searchsorted(sites, pc)
    cap = fallback[groups]
    d = np.repeat(cap[:, None], sites.shape[0], axis=1)  # weighted later: (groups × free sites)
    np.minimum.at(d, (g.ravel(), y), pv)
    w = wg[groups]
    rest = base - _dot(w, cap)  # groups without a free pair keep their fallback
    best_obj, best = np.inf, None
    per = max(1, _CHUNK // max(groups.shape[0] * p, 1))
    combos = itertools.combinations(range(sites.shape[0]), p)
    while True:
        chunk = np.array(list(itertools.islice(combos, per)), dtype=np.int64)
        if chunk.shape[0] == 0:
            break
        cost = np.einsum("g,gk->k", w, d[:, chunk].min(axis=2))  # (choices,); no BLAS threads
        k = int(np.argmin(cost))
        if cost[k] < best_obj:
            best_obj, best = float(cost[k]), chunk[k]
    assert best is not None
    return sites[best].astype(np.int64), rest + best_obj
