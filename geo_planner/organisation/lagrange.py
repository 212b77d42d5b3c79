"""Lagrangian relaxation of the joint-branch model: a proven bound on the members placed, and the units to try.

For a component too large for HiGHS to take whole (a city's: 20,000 blocks, 140 sites,
250,000 block–site pairs), the model of :mod:`geo_planner.organisation.joint` is relaxed
on the member count alone. With blocks *g* of ``s_g`` members, the assignment rows
``Σ_j x_gj ≤ 1`` get multipliers ``0 ≤ λ_g ≤ s_g`` and the capacity rows
``Σ_g s_g·x_gj ≤ M·y_j`` multipliers ``μ_j ≥ 0``; the minimum ``m·y_j ≤ Σ_g s_g·x_gj`` is
dropped (only removing a constraint). What is left falls apart by site: site *j* picks at
most *U* units and takes their blocks whose reduced profit is positive::

    L(λ, μ) = Σ_g λ_g + Σ_j ( μ_j·M + Σ_{the U largest h_jb} h_jb ),
    h_jb    = Σ_{g of unit b reaching j} s_g · max(0, 1 − λ_g / s_g − μ_j).

Every ``L(λ, μ)`` is an upper bound on the members any grouping places (it is the value of
a relaxation: constraints removed or priced), so the bound is proven whatever ``λ`` and
``μ`` are; :func:`lagrangian` lowers it by subgradient optimisation over ``λ`` (Polyak steps
towards the best grouping known, the step factor halved when the bound stalls), with each
site's ``μ_j`` the best of a fixed grid on ``[0, 1]`` at every iterate (``μ_j = 1`` gives the
site term ``M``, ``μ_j = 0`` the members of its *U* largest units: the bound starts at
``Σ_j min(M, members of the U largest units)``). The subgradient of block *g* is
``1 − (sites whose relaxed answer takes g)``.

The relaxed answers also say which units each site would take: the (site, unit) pairs the
relaxation chose in the last iterations (:attr:`LagrangeResult.keys`), with the greedy
grouping's, restrict the full model to a few units per site, which HiGHS then solves whole
(:func:`geo_planner.organisation.component.solve_component`): a feasible grouping of the
full model, measured against the Lagrangian bound.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["LagrangeResult", "lagrangian"]



@dataclass(frozen=True)
class LagrangeResult:
    """What :func:`lagrangian` proved and chose.

    Attributes
    ----------
    bound
        Upper bound on the members placed: ``⌊min L⌋`` over the iterates (proven).
    value
        The best ``L`` itself (members, fractional).
    start_value
        The bound before any iteration: ``Σ_j min(M, members of the U largest units reaching j)``
        (``L`` at ``λ = 0``).
    lam
        The multipliers of the best bound, per block.
    iterations
        Subgradient iterations run.
    runtime_s
        Seconds spent.
    """

    bound: int
    value: float
    start_value: float
    lam: np.ndarray
    iterations: int
    runtime_s: float


@dataclass(frozen=True)
class _Layout:
    """The pairs sorted by (site, unit) key, and the keys laid out per site in a padded table."""

    pb: np.ndarray  # block of each sorted pair
    ps: np.ndarray  # members of that block (float)
    psite: np.ndarray  # site of each sorted pair
    pkey: np.ndarray  # key index of each sorted pair
    key_start: np.ndarray  # first sorted pair of each key
    keys: np.ndarray  # site · n_units + unit, per key
    key_site: np.ndarray
    key_slot: np.ndarray  # position of the key in its site's row of the padded table
    width: int  # keys of the site with most of them
    n_sites: int


def _layout(pi: np.ndarray, pj: np.ndarray, unit: np.ndarray, size: np.ndarray, n_sites: int) -> _Layout:
    """Sort the pairs by (site, unit) and lay the keys out per site (vectorised)."""
    n_units = int(unit.max()) + 1
    key = pj * n_units + unit[pi]
    order = np.argsort(key, kind="stable")
    keys, key_start, pkey = np.unique(key[order], return_index=True, return_inverse=True)
    key_site = keys // n_units
    site_first = np.searchsorted(key_site, np.arange(n_sites))
    key_slot = np.arange(keys.size) - site_first[key_site]
    width = int(key_slot.max()) + 1 if keys.size else 1
    return _Layout(pi[order], size[pi[order]].astype(np.float64), pj[order], pkey.ravel(), key_start, keys,
                   key_site, key_slot, width, n_sites)


def _site_table(lay: _Layout, dens: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``h_jb`` at the sites' multipliers ``mu``, laid out per site (sites × width)."""
    v = np.maximum(dens - mu[lay.psite], 0.0) * lay.ps
    table = np.zeros((lay.n_sites, lay.width))
    table[lay.key_site, lay.key_slot] = np.bincount(lay.pkey, weights=v, minlength=lay.keys.size)
    return table


def _top_sum(table: np.ndarray, max_units: int) -> np.ndarray:
    """Per row (site), the sum of the ``max_units`` largest entries."""
    width = table.shape[-1]
    if width <= max_units:
        return table.sum(axis=-1)
    return np.partition(table, width - max_units, axis=-1)[..., width - max_units:].sum(axis=-1)


def _evaluate(lay: _Layout, dens: np.ndarray, mu: np.ndarray, max_members: int, max_units: int) -> np.ndarray:
    """The site terms of ``L`` for each row of capacity multipliers ``mu`` (rows × sites).

    ``dens`` is each sorted pair's reduced profit per member, ``1 − λ_g / s_g``.
    """
    return np.stack([r * max_members + _top_sum(_site_table(lay, dens, r), max_units) for r in mu])


def _relaxed_answer(lay: _Layout, dens: np.ndarray, mu: np.ndarray, max_members: int, max_units: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The blocks each site takes in the relaxation at its multiplier ``mu`` (ties broken towards taking).

    Units are ranked by ``h_jb`` just below ``mu`` (at ``mu`` itself a full site's ``h`` are
    all 0); the site takes its ``U`` best units' blocks of positive reduced profit above that
    level, most profitable first, while they fit in ``M``. Returns the keys taken (mask over
    keys) and the pairs taken (mask over the sorted pairs).
    """
    below = np.maximum(mu - 0.02, 0.0)
    table = _site_table(lay, dens, below)
    k = min(max_units, lay.width)
    pick = np.argpartition(-table, k - 1, axis=1)[:, :k]
    taken = np.zeros(table.shape, dtype=bool)
    np.put_along_axis(taken, pick, True, axis=1)
    taken &= table > 0
    key_taken = taken[lay.key_site, lay.key_slot]
    cand = np.flatnonzero(key_taken[lay.pkey] & (dens > below[lay.psite]))
    order = cand[np.argsort(lay.psite[cand] + 0.5 * (1.0 - dens[cand]))]  # by site, most profitable first
    site = lay.psite[order]
    csum = np.cumsum(lay.ps[order])
    first = np.searchsorted(site, site)  # first position of each site's run
    before = np.where(first > 0, csum[np.maximum(first - 1, 0)], 0.0)
    pair_taken = np.zeros(lay.pb.size, dtype=bool)
    pair_taken[order[csum - before <= max_members + 1e-9]] = True
    return key_taken, pair_taken


def lagrangian(
    pi: np.ndarray, pj: np.ndarray, unit: np.ndarray, size: np.ndarray, n_sites: int, *,
    max_members: int, max_units: int, target: float, time_limit_s: float, max_iter: int = 200,
    patience: int = 8, step0: float = 1.0,
) -> LagrangeResult:
    """Lower the Lagrangian bound on the members placed by subgradient optimisation.

    Parameters
    ----------
    pi, pj
        Block and site (local indices) of every block–site pair in reach.
    unit, size
        Unit code and members per block.
    n_sites
        Sites of the component.
    max_members, max_units
        *M* and *U* of the joint-branch rules.
    target
        Members placed by the best grouping known (the Polyak target); the iterations stop
        when the bound reaches it (the grouping is then proven optimal on the member count).
    time_limit_s
        Seconds the iterations may take (an iteration in progress is finished).
    max_iter, patience, step0
        At most ``max_iter`` iterations; the step factor starts at ``step0`` and is halved
        after ``patience`` iterations without a lower bound.

    Returns
    -------
    LagrangeResult
    """
    t0 = time.perf_counter()
    t_end = t0 + time_limit_s
    n_blocks = int(size.size)
    lay = _layout(pi, pj, unit, size, n_sites)
    s = size.astype(np.float64)
    reach = np.bincount(pi, minlength=n_blocks) > 0
    lam = np.zeros(n_blocks)
    step, stall, it = step0, 0, 0
    # at λ = 0: μ_j = 1 (the site term is M) where the U largest units fill the site, else 0:
    # L = Σ_j min(M, members of the U largest units reaching j), the bound with no iteration
    top0 = _top_sum(_site_table(lay, np.ones(lay.pb.size), np.zeros(n_sites)), max_units)
    mu = np.where(top0 >= max_members, 1.0, 0.0)
    start_val = float(np.minimum(top0, max_members).sum())
    best_val, best_lam = start_val, lam.copy()
    delta = np.full(n_sites, 0.25)
    last = time.perf_counter() - t0  # an iteration costs about as much as this set-up
    while it < max_iter and np.floor(best_val + 1e-9) > target and time.perf_counter() + last <= t_end:
        t_it = time.perf_counter()
        it += 1
        # each site's μ: the best of μ_j − δ_j, μ_j, μ_j + δ_j (a pattern search on a convex function)
        rows = np.clip(np.stack([mu - delta, mu, mu + delta]), 0.0, 1.0)
        dens = 1.0 - (lam / s)[lay.pb]
        phi = _evaluate(lay, dens, rows, max_members, max_units)
        pick = np.argmin(phi, axis=0)
        mu = rows[pick, np.arange(n_sites)]
        delta = np.where(pick == 1, np.maximum(delta / 2.0, 1e-3), np.minimum(delta * 1.5, 0.5))
        _, pair_taken = _relaxed_answer(lay, dens, mu, max_members, max_units)
        val = float(lam[reach].sum()) + float(phi[pick, np.arange(n_sites)].sum())
        if val < best_val - 1e-9:
            best_val, best_lam, stall = val, lam.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                step, stall = step / 2.0, 0
        if step < 1e-3:
            break
        sub = np.where(reach, 1.0, 0.0) - np.bincount(lay.pb[pair_taken], minlength=n_blocks)
        norm = float(sub @ sub)
        if norm == 0:  # the relaxed answer takes every block once: it is a grouping up to the minimum
            break
        lam = np.clip(lam - step * max(val - target, 1.0) / norm * sub, 0.0, s)
        last = time.perf_counter() - t_it
    runtime = time.perf_counter() - t0
    bound = int(np.floor(best_val + 1e-9))
    log.info("joint branches: Lagrangian bound %d members (%.1f; %.1f at the start) after %d iterations in "
             "%.2f s", bound, best_val, start_val, it, runtime)
    return LagrangeResult(bound, best_val, float(start_val), best_lam, it, runtime)
