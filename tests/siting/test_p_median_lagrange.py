"""The p-median's Lagrangian stage (bound, site fixing, swap search, branch and bound) against brute force.

Every optimum here is checked against an enumeration of all site sets, or against the
textbook pairs model (one variable per member–site pair) where enumeration is too large.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from geo_planner.siting.models.p_median.branch_and_bound import _dive, _Node, _split, lagrange_branch
from geo_planner.siting.models.p_median.enumeration import enumerate_p_median
from geo_planner.siting.models.p_median.lagrangian import (
    fix_sites,
    lagrange_reduce,
    lagrangian,
    restrict,
    slack_of,
)
from geo_planner.siting.models.p_median.radius_formulation import radius_p_median
from geo_planner.siting.models.p_median.sorted_pairs import pairs_of, served_cost, sites_of
from geo_planner.siting.models.p_median.swap_search import swap_search
from geo_planner.siting.stations import p_median, sparse_cost_matrix

from ..support.orlib import or_library_costs


def _graph(n: int, m: int, seed: int, *, integer: bool) -> np.ndarray:
    """Shortest paths on a random connected graph (lengths 1–100, or real-valued)."""
    return or_library_costs(n, m, seed, integer=integer)


def _sorted_pairs(d: np.ndarray, w: np.ndarray, fallback: np.ndarray):
    """All pairs cheaper than the fallback, sorted by (group, cost, site)."""
    g, j = np.nonzero(d < fallback[:, None])
    v = d[g, j]
    order = np.lexsort((j, v, g))
    return g[order], j[order], v[order]


def _model_cost(d: np.ndarray, w: np.ndarray, fallback: np.ndarray, sites) -> float:
    """Weighted cost of opening ``sites``: each member at its cheapest open site or its fallback."""
    cols = list(sites)
    best = np.minimum(d[:, cols].min(axis=1), fallback) if cols else fallback
    return float(w @ best)


def _all_optima(d: np.ndarray, w: np.ndarray, fallback: np.ndarray, p: int) -> tuple[float, list[set[int]]]:
    costs = {s: _model_cost(d, w, fallback, s) for s in itertools.combinations(range(d.shape[1]), p)}
    opt = min(costs.values())
    return opt, [set(s) for s, c in costs.items() if c <= opt + 1e-9 * max(opt, 1.0)]


def _small(seed: int, n: int = 14, *, integer: bool = False):
    d = _graph(n, 3 * n, seed, integer=integer)
    rng = np.random.default_rng(seed)
    w = rng.choice([1.0, 1.5, 2.0], size=n) if not integer else np.ones(n)
    fallback = np.full(n, 10 * d.max())
    return d, w, fallback


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("p", [2, 4, 7])
def test_fixing_never_removes_an_optimal_site(seed: int, p: int) -> None:
    # any multipliers give a valid bound; a site the reduced costs close (open) against a
    # cost just above the optimum is in no (every) optimal site set
    d, w, fallback = _small(seed)
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    pr = pairs_of(pg, pc, pv, w, fallback, d.shape[1])
    opt, optima = _all_optima(d, w, fallback, p)
    start = np.zeros(d.shape[1], dtype=bool)
    start[:p] = True
    lo = lagrangian(pr, p, start, max_iter=300)
    assert lo.bound <= opt + 1e-9 * opt
    assert lo.objective >= opt - 1e-9 * opt
    assert lo.objective == pytest.approx(float(served_cost(pr, lo.open_y).sum()))
    closed, opened = fix_sites(lo.rho, lo.bound, p, opt + 1e-7 * opt)
    for s in optima:
        assert not (closed[list(s)]).any()
        assert opened[np.flatnonzero(opened)].all() and set(np.flatnonzero(opened)) <= s
    for lam in (np.zeros(len(w)), w * fallback, lo.lam * 0.5):  # a bound at any multipliers
        from geo_planner.siting.models.p_median.lagrangian import _evaluate
        assert _evaluate(pr, lam, p, exact=True)[0] <= opt + 1e-9 * opt


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_swap_search_is_a_local_optimum(seed: int) -> None:
    d, w, fallback = _small(seed, n=12)
    p = 4
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    pr = pairs_of(pg, pc, pv, w, fallback, d.shape[1])
    start = np.zeros(12, dtype=bool)
    start[[0, 1, 2, 3]] = True
    open_y, cost = swap_search(pr, start, time_limit_s=10.0)
    assert open_y.sum() == p
    assert cost == pytest.approx(_model_cost(d, w, fallback, np.flatnonzero(open_y)))
    assert cost <= _model_cost(d, w, fallback, [0, 1, 2, 3]) + 1e-9
    inside, outside = np.flatnonzero(open_y), np.flatnonzero(~open_y)
    for r in inside:
        for i in outside:
            trial = set(inside) - {r} | {i}
            assert _model_cost(d, w, fallback, trial) >= cost - 1e-9 * cost


@pytest.mark.parametrize("seed", [8, 9, 10, 15, 16, 17])
@pytest.mark.parametrize("p", [1, 3, 6])
def test_branch_and_bound_alone_finds_the_enumerated_optimum(seed: int, p: int) -> None:
    # from a weak root (multipliers 0, a poor incumbent) the search must still prove the optimum
    d, w, fallback = _small(seed, n=13)
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    opt, optima = _all_optima(d, w, fallback, p)
    best = np.arange(p)
    ub = _model_cost(d, w, fallback, best)
    out = lagrange_branch(pg, pc, pv, w, fallback, d.shape[1], p, np.zeros(0, dtype=np.int64), np.zeros(len(w)),
                          -np.inf, ub, best, slack=lambda u: 1e-9 * max(u, 1.0), time_limit_s=60.0,
                          node_iterations=10)
    assert out.finished
    assert out.objective == pytest.approx(opt, rel=1e-9)
    assert set(out.chosen.tolist()) in optima or _model_cost(d, w, fallback, out.chosen) == pytest.approx(opt)


@pytest.mark.parametrize(("seed", "p", "integer"), [(11, 2, False), (12, 5, False), (13, 3, True), (14, 8, True)])
def test_radius_with_lagrangian_equals_enumeration(seed: int, p: int, integer: bool) -> None:
    d, w, fallback = _small(seed, n=14, integer=integer)
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    opt, _ = _all_optima(d, w, fallback, p)
    for lag in (True, False):
        out = radius_p_median(pg, pc, pv, w, fallback, d.shape[1], p, lagrangian=lag)
        assert out.status == "optimal"
        assert out.objective == pytest.approx(opt, rel=1e-9)
        assert _model_cost(d, w, fallback, out.chosen) == pytest.approx(opt, rel=1e-9)


@pytest.mark.parametrize(("n", "p", "seed", "cutoff", "n_existing"),
                         [(60, 2, 21, None, 0), (60, 5, 22, None, 3), (80, 15, 23, 50.0, 4), (90, 30, 24, None, 0),
                          (70, 40, 25, 40.0, 2)])
def test_p_median_with_lagrangian_equals_pairs_model(n, p, seed, cutoff, n_existing) -> None:
    # the whole p_median path (merging members, existing sites as fallbacks, a cut-off matrix,
    # members without a site) with and without the Lagrangian stage, and the textbook pairs model
    d = _graph(n, 4 * n, seed, integer=seed % 2 == 0)
    rng = np.random.default_rng(seed)
    w = rng.choice([1.0, 1.5, 2.0], size=n)
    allowed = np.ones_like(d, dtype=bool) if cutoff is None else d <= cutoff
    rows, cols = np.nonzero(allowed)
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    ex = None
    if n_existing:
        ex = np.zeros(n, dtype=bool)
        ex[rng.choice(n, n_existing, replace=False)] = True
    new = p_median(cost, w, p, existing=ex, formulation="radius")
    alone = p_median(cost, w, p, existing=ex, formulation="radius", lagrangian=False)
    pairs = p_median(cost, w, p, existing=ex, formulation="pairs")
    assert new.status == alone.status == pairs.status == "optimal"
    assert new.objective == pytest.approx(pairs.objective, rel=1e-9)
    assert alone.objective == pytest.approx(pairs.objective, rel=1e-9)
    assert new.covered_weight == pytest.approx(pairs.covered_weight, rel=1e-9)
    assert "Lagrangian relaxation fixed" in new.message


def test_time_limited_lagrangian_stage_reports_an_honest_gap() -> None:
    d = _graph(300, 6000, 31, integer=False)
    n = d.shape[0]
    w = np.ones(n)
    fallback = np.full(n, 10 * d.max())
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    out = radius_p_median(pg, pc, pv, w, fallback, n, 7, time_limit_s=0.3)
    assert len(out.chosen) == 7
    assert out.objective == pytest.approx(_model_cost(d, w, fallback, out.chosen))
    assert out.lower_bound <= out.objective
    if out.status != "optimal":
        assert out.status == "time_limit" and out.gap > 0


def test_sites_of_and_the_site_order_of_pairs() -> None:
    # the radix-sorted site order (sites < 2**16) and the general one give the same stable order
    rng = np.random.default_rng(41)
    for n_y in (7, 70_000):
        py = rng.integers(0, n_y, 500)
        pg = np.sort(rng.integers(0, 40, 500))
        pv = rng.uniform(1, 10, 500)
        assert np.array_equal(sites_of(py, n_y), np.unique(py))
        pr = pairs_of(pg, py, pv, np.ones(40), np.full(40, 100.0), n_y)
        order = np.argsort(py, kind="stable")
        assert np.array_equal(pr.s_g, pg[order]) and np.array_equal(pr.s_wc, pv[order])
        assert np.array_equal(np.diff(pr.soff), np.bincount(py, minlength=n_y))


@pytest.mark.parametrize("seed", [42, 43])
def test_ergodic_sites_are_shares_of_the_iterations(seed: int) -> None:
    d, w, fallback = _small(seed)
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    pr = pairs_of(pg, pc, pv, w, fallback, d.shape[1])
    start = np.zeros(d.shape[1], dtype=bool)
    start[:4] = True
    lo = lagrangian(pr, 4, start, max_iter=50)
    assert lo.y_avg.shape == (d.shape[1],)
    assert np.all((lo.y_avg >= 0) & (lo.y_avg <= 1))
    assert lo.y_avg.sum() == pytest.approx(4.0)  # every iteration chooses p sites
    assert np.allclose(lo.y_avg * lo.iterations, np.round(lo.y_avg * lo.iterations))


def _best_with(d: np.ndarray, w: np.ndarray, fallback: np.ndarray, p: int, *, must: set[int],
               never: set[int]) -> float:
    """Cheapest set of ``p`` sites containing ``must`` and avoiding ``never`` (enumerated)."""
    costs = [_model_cost(d, w, fallback, s) for s in itertools.combinations(range(d.shape[1]), p)
             if must <= set(s) and not never & set(s)]
    return min(costs, default=np.inf)


@pytest.mark.parametrize("seed", [44, 45, 46, 47, 48])
@pytest.mark.parametrize("iterations", [3, 30])
def test_split_bounds_hold_for_both_children(seed: int, iterations: int) -> None:
    # the children's bounds (parent multipliers, the branching decision applied) never exceed
    # the best solution inside the child, at converged and at barely started multipliers
    d, w, fallback = _small(seed, n=12)
    p = 4
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    pr = pairs_of(pg, pc, pv, w, fallback, d.shape[1])
    start = np.zeros(d.shape[1], dtype=bool)
    start[:p] = True
    lo = lagrangian(pr, p, start, max_iter=iterations)
    cand = np.arange(d.shape[1])
    closed, opened = _split(pg, pc, pv, fallback, p, np.zeros(0, dtype=np.int64), cand, lo)
    j = int(opened.branch_cols[0])
    assert opened.branch_open and not closed.branch_open and int(closed.branch_cols[0]) == j
    assert lo.bound <= min(closed.bound, opened.bound)
    tol = 1e-9 * _model_cost(d, w, fallback, [])
    assert closed.bound <= _best_with(d, w, fallback, p, must=set(), never={j}) + tol
    assert opened.bound <= _best_with(d, w, fallback, p, must={j}, never=set()) + tol
    # the children's instances: one site fewer to open, or the site gone
    g_o, c_o, _v, fb_o, p_o, op_o = opened.instance(d.shape[1])
    assert p_o == p - 1 and op_o.tolist() == [j] and j not in c_o and np.all(fb_o <= fallback)
    _g, c_c, _v, fb_c, p_c, op_c = closed.instance(d.shape[1])
    assert p_c == p and len(op_c) == 0 and j not in c_c and np.array_equal(fb_c, fallback)


@pytest.mark.parametrize("seed", [49, 50, 51])
def test_dive_returns_a_priced_solution_no_worse_than_the_start(seed: int) -> None:
    d, w, fallback = _small(seed, n=13)
    p = 5
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    best = np.arange(p)
    ub = _model_cost(d, w, fallback, best)
    root = _Node(pg, pc, pv, fallback, p, np.zeros(0, dtype=np.int64), np.zeros(len(w)), -np.inf)
    val, chosen, nodes = _dive(root, w, d.shape[1], ub, best, lambda u: 1e-9 * max(u, 1.0), (20, 2.0, 1),
                               time.perf_counter() + 30.0)
    assert nodes >= 1 and val <= ub
    assert len(chosen) <= p and val == pytest.approx(_model_cost(d, w, fallback, chosen))
    assert val >= _all_optima(d, w, fallback, p)[0] - 1e-9 * val


@pytest.mark.parametrize(("n", "p"), [(20, 3), (24, 4)])
def test_fixing_against_a_cutoff_above_the_optimum_keeps_an_optimal_site_set(n: int, p: int) -> None:
    # lagrange_reduce (rounds of fixing against its incumbent) and then restrict (fixing against
    # a cutoff just above the optimum): some optimal set keeps every site fixed open and only
    # free sites besides, on every seed, and the fixing is not idle
    fixed = 0
    for seed in range(60, 68):
        d, w, fallback = _small(seed, n=n, integer=seed % 2 == 0)
        pg, pc, pv = _sorted_pairs(d, w, fallback)
        opt, optima = _all_optima(d, w, fallback, p)
        start = np.zeros(n, dtype=bool)
        start[n - p:] = True  # a poor start
        red = lagrange_reduce(pg, pc, pv, w, fallback, n, p, start, slack=slack_of(w, pv, pg, fallback, 0.0),
                              time_limit_s=30.0, enum_work=0)  # the fixing itself, not the enumeration
        assert red.bound <= opt + 1e-9 * opt <= red.objective + 2e-9 * opt
        assert red.objective == pytest.approx(_model_cost(d, w, fallback, np.flatnonzero(red.best)))
        if red.rho is None:
            continue
        cut = opt * 1.003 + 0.5
        out = restrict(red, cut, n)
        free, opened = set(sites_of(out.pc, n).tolist()), set(out.opened.tolist())
        fixed += out.n_closed + len(opened)
        assert any(opened <= s and s - opened <= free for s in optima), seed
        assert out.p == p - len(opened)
    assert fixed > 0


@pytest.mark.parametrize("seed", [52, 53, 54, 55, 56, 57])
@pytest.mark.parametrize("p", [2, 5])
def test_reduce_never_fixes_away_a_better_solution(seed: int, p: int) -> None:
    # from a poor start, the rounds of fixing keep every solution cheaper than ``beat``: the
    # optimum is the incumbent or lies in the reduced instance (sites fixed open + p free ones)
    d, w, fallback = _small(seed, n=14, integer=seed % 2 == 0)
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    n = d.shape[1]
    opt, optima = _all_optima(d, w, fallback, p)
    start = np.zeros(n, dtype=bool)
    start[n - p:] = True
    red = lagrange_reduce(pg, pc, pv, w, fallback, n, p, start, slack=slack_of(w, pv, pg, fallback, 0.0),
                          time_limit_s=30.0, enum_work=0)  # the fixing itself, not the enumeration
    assert red.bound <= opt + 1e-9 * opt <= red.objective + 2e-9 * opt
    free = sites_of(red.pc, n)
    kept = [_model_cost(d, w, fallback, set(red.opened) | set(s))
            for s in itertools.combinations(free.tolist(), min(red.p, len(free)))]
    assert min(kept + [red.objective]) == pytest.approx(opt, rel=1e-9)


@pytest.mark.parametrize("seed", [70, 71, 72, 73])
@pytest.mark.parametrize("p", [1, 3, 6])
def test_enumeration_finds_the_optimum_of_brute_force(seed: int, p: int) -> None:
    # the enumeration that finishes small instances returns an optimal site set and its exact cost
    d, w, fallback = _small(seed, n=13, integer=seed % 2 == 0)
    pg, pc, pv = _sorted_pairs(d, w, fallback)
    opt, optima = _all_optima(d, w, fallback, p)
    chosen, obj = enumerate_p_median(pg, pc, pv, w, fallback, p)
    assert set(chosen.tolist()) in optima
    assert obj == pytest.approx(opt, rel=1e-12)
    assert obj == pytest.approx(_model_cost(d, w, fallback, chosen), rel=1e-12)


def test_reduce_stops_the_subgradient_once_the_rest_is_enumerable_and_proves_the_optimum() -> None:
    # instances too large to enumerate (by the work limit given) are bounded and fixed until
    # what is left is enumerable: every answer is then proven (bound = objective = brute force),
    # never in more subgradient iterations than the fixing rounds alone, in fewer overall
    n, p = 30, 4
    with_enum, alone = 0, 0
    for seed in range(74, 80):
        d, w, fallback = _small(seed, n=n, integer=seed % 2 == 0)
        pg, pc, pv = _sorted_pairs(d, w, fallback)
        opt, _ = _all_optima(d, w, fallback, p)
        slack = slack_of(w, pv, pg, fallback, 0.0)
        start = np.zeros(n, dtype=bool)
        start[n - p:] = True
        work = 0.5 * math.comb(n, p) * p * len(w)  # the whole instance is not enumerable
        red = lagrange_reduce(pg, pc, pv, w, fallback, n, p, start, slack=slack, time_limit_s=30.0,
                              enum_work=work)
        assert red.objective == pytest.approx(opt, rel=1e-9), seed
        assert red.bound >= red.objective - slack(red.objective) - 1e-9 * opt, seed
        assert red.bound <= opt + 1e-9 * opt, seed
        assert red.objective == pytest.approx(_model_cost(d, w, fallback, np.flatnonzero(red.best)), rel=1e-12)
        ref = lagrange_reduce(pg, pc, pv, w, fallback, n, p, start, slack=slack, time_limit_s=30.0, enum_work=0)
        assert red.iterations <= ref.iterations, seed
        with_enum, alone = with_enum + red.iterations, alone + ref.iterations
    assert with_enum < alone
