"""The p-median's candidate pairs in the layouts the Lagrangian stage and the swap search use.

Pairs sorted by (group, cost) make the pairs cheaper than any per-group threshold a prefix
of each group (one ``searchsorted`` finds them all); the same pairs sorted by site give each
open site's pairs as one slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Pairs", "fold_sites", "pad_sites", "pairs_of", "prefix_pairs", "served_cost", "sites_of"]


@dataclass(frozen=True, eq=False)
class Pairs:
    """The pairs of an instance sorted by (group, cost), with what the relaxation needs.

    Attributes
    ----------
    pg, py
        Group and site (``0 … n_y−1``) of each pair.
    wc
        Weighted cost ``w_g c_gj`` of each pair (non-decreasing within a group).
    goff
        Offsets of each group's pairs (``n_g + 1``).
    cap
        Upper bound of each multiplier: the group's weighted fallback ``w_g f_g``.
    key
        ``g + wc / cap``: increasing over all pairs, so one ``searchsorted`` finds every
        group's negative prefix.
    s_g, s_wc, soff
        Group and weighted cost of the pairs ordered by site, and each site's offsets into
        that order (``n_y + 1``).
    n_y
        Number of sites.
    """

    pg: np.ndarray
    py: np.ndarray
    wc: np.ndarray
    goff: np.ndarray
    cap: np.ndarray
    key: np.ndarray
    s_g: np.ndarray
    s_wc: np.ndarray
    soff: np.ndarray
    n_y: int

    @property
    def n_g(self) -> int:
        return int(self.cap.shape[0])


def pairs_of(pg: np.ndarray, py: np.ndarray, pv: np.ndarray, wg: np.ndarray, fallback: np.ndarray,
             n_y: int) -> Pairs:
    """Build :class:`Pairs` from pairs already sorted by (group, cost) (sites as ``0 … n_y−1``)."""
    n_g = wg.shape[0]
    wc = wg[pg] * pv
    cap = wg * fallback
    goff = np.zeros(n_g + 1, dtype=np.int64)
    goff[1:] = np.cumsum(np.bincount(pg, minlength=n_g))
    scale = np.where(cap > 0, cap, 1.0)
    key = pg + np.minimum(wc / scale[pg], 1.0 - 1e-12)
    # a stable sort of small integers is a radix sort in numpy (several times faster)
    by_site = np.argsort(py.astype(np.uint16) if n_y <= 2**16 else py, kind="stable")
    soff = np.zeros(n_y + 1, dtype=np.int64)
    soff[1:] = np.cumsum(np.bincount(py, minlength=n_y))
    return Pairs(pg, py, wc, goff, cap, key, pg[by_site], wc[by_site], soff, n_y)


def sites_of(pc: np.ndarray, n_j: int) -> np.ndarray:
    """The distinct sites of ``pc`` (columns ``0 … n_j−1``), sorted: ``np.unique(pc)`` by counting."""
    return np.flatnonzero(np.bincount(pc, minlength=n_j))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + k)`` for every start ``s`` and count ``k``."""
    total = int(counts.sum())
    return np.arange(total) + np.repeat(starts - (np.cumsum(counts) - counts), counts)


def served_cost(pr: Pairs, open_y: np.ndarray) -> np.ndarray:
    """Per group, the weighted cost of its cheapest open site, else its weighted fallback."""
    sites = np.flatnonzero(open_y)
    idx = _ranges(pr.soff[sites], pr.soff[sites + 1] - pr.soff[sites])
    cost = pr.cap.copy()
    np.minimum.at(cost, pr.s_g[idx], pr.s_wc[idx])
    return cost


def prefix_pairs(pr: Pairs, lam: np.ndarray) -> np.ndarray:
    """Indices of the pairs with ``wc < λ_g`` (approximately at ties, where they add ~0)."""
    scale = np.where(pr.cap > 0, pr.cap, 1.0)
    q = np.arange(pr.n_g) + lam / scale
    end = np.searchsorted(pr.key, q, side="left")
    return _ranges(pr.goff[:-1], end - pr.goff[:-1])


def pad_sites(start: np.ndarray, p: int) -> np.ndarray:
    """Exactly ``p`` sites: the mask ``start``, padded or cut in index order."""
    out = start.copy()
    k = int(out.sum())
    if k < p:
        out[np.flatnonzero(~out)[: p - k]] = True
    elif k > p:
        out[np.flatnonzero(out)[p:]] = False
    return out


def fold_sites(pg: np.ndarray, pc: np.ndarray, pv: np.ndarray, fallback: np.ndarray, close: np.ndarray,
          open_: np.ndarray, n_j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop closed sites; fold open ones into the fallback; keep pairs cheaper than it (order kept)."""
    is_open = np.zeros(n_j, dtype=bool)
    is_open[open_] = True
    gone = is_open.copy()
    gone[close] = True
    fb = fallback.copy()
    on = is_open[pc]
    np.minimum.at(fb, pg[on], pv[on])
    keep = ~gone[pc] & (pv < fb[pg])
    return pg[keep], pc[keep], pv[keep], fb
