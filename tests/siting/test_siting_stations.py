"""Tests of the station-siting models against PySAL spopt (PuLP/CBC) on the same instances."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist
from spopt.locate import LSCP, MCLP, PMedian

from geo_planner.errors import InputError
from geo_planner.settings import SitingSettings
from geo_planner.siting.stations import (
    SitingResult,
    greedy_mclp,
    lscp,
    mclp,
    p_median,
    plan_stations,
    sparse_cost_matrix,
)

from ..support.orlib import or_library_costs

RADIUS = 1.6  # km, on a 10 km × 10 km plane

# spopt builds its models with PuLP APIs that PuLP 3 deprecates; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning")


def _instance(seed: int, n_members: int, n_sites: int) -> tuple[np.ndarray, np.ndarray]:
    """Clustered members and uniform candidate sites on a plane; returns (distances, weights)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(1, 9, size=(8, 2))
    members = centres[rng.integers(0, 8, n_members)] + rng.normal(0, 0.9, size=(n_members, 2))
    sites = rng.uniform(0, 10, size=(n_sites, 2))
    weights = rng.choice([1.0, 1.5, 2.0, 3.0], size=n_members)
    return cdist(members, sites), weights


def _existing(n_sites: int, k: int, seed: int) -> np.ndarray:
    mask = np.zeros(n_sites, dtype=bool)
    mask[np.random.default_rng(seed).choice(n_sites, k, replace=False)] = True
    return mask


def _cbc() -> pulp.LpSolver:
    return pulp.PULP_CBC_CMD(msg=False)


def _check_result(res: SitingResult, n_members: int) -> None:
    assert res.member_site.shape == (n_members,)
    assert np.all(np.diff(res.selected) > 0)
    assert not res.selected.flags.writeable and not res.member_site.flags.writeable
    assert res.total_weight > 0
    assert res.coverage_share == pytest.approx(res.covered_weight / res.total_weight)


@pytest.mark.parametrize("n_existing", [0, 4])
def test_mclp_matches_spopt(n_existing: int) -> None:
    d, w = _instance(1, 350, 55)
    ex = _existing(55, n_existing, 7)
    p = 5
    cov = sp.csr_array(d <= RADIUS)
    ours = mclp(cov, w, p, existing=ex if n_existing else None)
    ref = MCLP.from_cost_matrix(d, w, RADIUS, p_facilities=p + n_existing,
                                predefined_facilities_arr=ex.astype(int) if n_existing else None)
    ref = ref.solve(_cbc())
    assert ours.method == "highs" and ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective), rel=1e-9)
    _check_result(ours, 350)
    assert len(ours.selected) == p and not np.any(ex[ours.selected])
    # member_site: an open site that covers the member, exactly for the covered members
    covered = ours.member_site >= 0
    assert ours.covered_weight == pytest.approx(w[covered].sum())
    open_mask = ex.copy()
    open_mask[ours.selected] = True
    assert np.all(open_mask[ours.member_site[covered]])
    assert np.all(d[np.flatnonzero(covered), ours.member_site[covered]] <= RADIUS)
    assert not np.any((d[~covered][:, open_mask] <= RADIUS).any(axis=1))


@pytest.mark.parametrize("n_existing", [0, 3])
def test_lscp_matches_spopt(n_existing: int) -> None:
    d, w = _instance(2, 300, 45)
    ex = _existing(45, n_existing, 8)
    coverable = (d <= RADIUS).any(axis=1)
    ours = lscp(sp.csr_array(d <= RADIUS), w, 1.0, existing=ex if n_existing else None)
    # spopt needs every client coverable: give it the coverable ones (our target is relative to them)
    ref = LSCP.from_cost_matrix(d[coverable], RADIUS,
                                predefined_facilities_arr=ex.astype(int) if n_existing else None)
    ref = ref.solve(_cbc())
    assert ours.status == "optimal"
    assert ours.objective + n_existing == pytest.approx(pulp.value(ref.problem.objective))
    assert ours.objective == len(ours.selected)
    assert ours.covered_weight == pytest.approx(w[coverable].sum())
    assert ours.coverable_weight == pytest.approx(w[coverable].sum())
    if not coverable.all():
        assert "beyond the threshold" in ours.message
    _check_result(ours, 300)


def test_lscp_partial_target_agrees_with_mclp() -> None:
    d, w = _instance(3, 300, 45)
    cov = sp.csr_array(d <= RADIUS)
    target = 0.8
    res = lscp(cov, w, target)
    k = int(res.objective)
    assert res.covered_weight >= target * res.coverable_weight - 1e-9
    assert mclp(cov, w, k).covered_weight >= target * res.coverable_weight - 1e-9
    assert mclp(cov, w, k - 1).covered_weight < target * res.coverable_weight


@pytest.mark.parametrize("n_existing", [0, 3])
def test_p_median_matches_spopt(n_existing: int) -> None:
    d, w = _instance(4, 200, 40)
    ex = _existing(40, n_existing, 9)
    p = 4
    rows, cols = np.nonzero(np.ones_like(d, dtype=bool))  # cutoff large enough: every pair allowed
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    ours = p_median(cost, w, p, existing=ex if n_existing else None)
    ref = PMedian.from_cost_matrix(d, w, p_facilities=p + n_existing,
                                   predefined_facilities_arr=ex.astype(int) if n_existing else None)
    ref = ref.solve(_cbc())
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective), rel=1e-7)
    assert len(ours.selected) == p
    assert np.all(ours.member_site >= 0) and ours.coverage_share == pytest.approx(1.0)
    # each member goes to its nearest open site
    open_idx = ours.open_sites
    assert np.allclose(d[np.arange(200), ours.member_site], d[:, open_idx].min(axis=1))
    _check_result(ours, 200)


def test_p_median_unreachable_members_and_explicit_zero_cost() -> None:
    # member 0: site 0 at 0 min (explicit zero); member 1: only site 1; member 2: no allowed site
    cost = sparse_cost_matrix([0, 0, 1], [0, 1, 1], [0.0, 4.0, 2.0], (3, 2))
    assert cost.nnz == 3
    res = p_median(cost, [1.0, 1.0, 5.0], 1)
    assert res.selected.tolist() == [1]  # serves both reachable members
    assert res.member_site.tolist() == [1, 1, -1]
    assert res.objective == pytest.approx(6.0)
    assert res.covered_weight == pytest.approx(2.0) and res.total_weight == pytest.approx(7.0)
    both = p_median(cost, [1.0, 1.0, 5.0], 2)
    assert both.member_site.tolist() == [0, 1, -1] and both.objective == pytest.approx(2.0)


def test_planted_cluster_is_selected() -> None:
    rng = np.random.default_rng(5)
    members = rng.uniform(0, 10, size=(300, 2))
    sites = rng.uniform(0, 10, size=(50, 2))
    cluster = np.array([30.0, 30.0]) + rng.normal(0, 0.2, size=(20, 2))  # far from everything
    members = np.vstack([members, cluster])
    sites = np.vstack([sites, [[30.0, 30.0]]])
    w = np.concatenate([np.ones(300), np.full(20, 50.0)])
    cov = sp.csr_array(cdist(members, sites) <= RADIUS)
    res = mclp(cov, w, 1)
    assert res.selected.tolist() == [50]
    assert np.all(res.member_site[300:] == 50)
    assert res.objective == pytest.approx(1000.0 + cov[:300, [50]].sum())


@pytest.mark.parametrize("n_existing", [0, 3])
def test_capacity_limits_load(n_existing: int) -> None:
    d, w = _instance(6, 300, 45)
    ex = _existing(45, n_existing, 10)
    cov = sp.csr_array(d <= RADIUS)
    p, cap = 4, 25.0
    free = mclp(cov, w, p, existing=ex)
    capped = mclp(cov, w, p, existing=ex, capacity=cap)
    assert capped.method == "highs" and capped.site_load is not None
    assert capped.site_load.shape == (45,)
    assert np.all(capped.site_load <= cap + 1e-9)
    assert capped.objective <= free.objective + 1e-9
    assert capped.objective < free.objective  # capacity is below the demand here
    served = capped.member_site >= 0
    assert capped.objective == pytest.approx(w[served].sum()) == pytest.approx(capped.site_load.sum())
    assert np.all(d[np.flatnonzero(served), capped.member_site[served]] <= RADIUS)
    assert set(np.unique(capped.member_site[served])) <= set(capped.open_sites.tolist())
    # the greedy path respects the capacity too, and does no better than the optimum
    heur = mclp(cov, w, p, existing=ex, capacity=cap, max_exact_size=10)
    assert heur.method == "greedy" and heur.site_load is not None
    assert np.all(heur.site_load <= cap + 1e-9) and heur.objective <= capped.objective + 1e-9


def test_p_median_capacity() -> None:
    d, w = _instance(11, 150, 30)
    ex = _existing(30, 2, 12)
    rows, cols = np.nonzero(d <= 3.0)
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    cap = 60.0
    free = p_median(cost, w, 3, existing=ex)
    capped = p_median(cost, w, 3, existing=ex, capacity=cap)
    assert capped.status == "optimal" and capped.site_load is not None
    assert np.all(capped.site_load <= cap + 1e-9)
    assert free.site_load is None
    assert capped.site_load.max() == pytest.approx(cap)  # the capacity binds
    assigned = capped.member_site >= 0
    assert capped.covered_weight == pytest.approx(capped.site_load.sum()) == pytest.approx(w[assigned].sum())
    assert np.all(np.isin(capped.member_site[assigned], capped.open_sites))
    trip = d[np.flatnonzero(assigned), capped.member_site[assigned]]
    assert capped.objective == pytest.approx(float(w[assigned] @ trip))
    # serving no more weight than the uncapacitated model, and never cheaper for the same weight
    assert capped.covered_weight <= free.covered_weight + 1e-9
    if capped.covered_weight == pytest.approx(free.covered_weight):
        assert capped.objective >= free.objective - 1e-6


def test_greedy_used_above_max_exact_size() -> None:
    d, w = _instance(7, 400, 60)
    cov = sp.csr_array(d <= RADIUS)
    exact = mclp(cov, w, 6)
    greedy = mclp(cov, w, 6, max_exact_size=10)
    assert greedy.method == "greedy" and greedy.status == "heuristic" and greedy.gap is None
    assert "greedy" in greedy.message and "max_exact_size=10" in greedy.message
    assert (1 - 1 / math.e) * exact.objective <= greedy.objective <= exact.objective + 1e-9
    assert greedy_mclp(cov, w, 6).objective == pytest.approx(greedy.objective)
    # set covering and p-median heuristics: feasible and no better than the optimum
    lx, lg = lscp(cov, w, 0.9), lscp(cov, w, 0.9, max_exact_size=10)
    assert lg.method == "greedy" and lg.objective >= lx.objective
    assert lg.covered_weight >= 0.9 * lg.coverable_weight - 1e-9
    rows, cols = np.nonzero(d <= 5.0)
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    px, pg = p_median(cost, w, 5), p_median(cost, w, 5, max_exact_size=10)
    assert pg.method == "greedy" and pg.objective >= px.objective - 1e-6
    assert pg.objective <= 1.1 * px.objective


def test_reductions_do_not_change_the_answer() -> None:
    d, w = _instance(8, 200, 40)
    cov = d <= RADIUS
    # duplicate every member with half the weight: same optimum as the original
    dup = sp.csr_array(np.vstack([cov, cov]))
    a = mclp(sp.csr_array(cov), w, 4)
    b = mclp(dup, np.concatenate([w / 2, w / 2]), 4)
    assert a.objective == pytest.approx(b.objective)
    # a duplicated candidate column must not change the optimum either
    c = mclp(sp.csr_array(np.hstack([cov, cov[:, :5]])), w, 4)
    assert c.objective == pytest.approx(a.objective)


def test_p_larger_than_useful_sites_and_zero_p() -> None:
    cov = sp.csr_array(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=bool))
    res = mclp(cov, [1.0, 2.0, 4.0], 3)
    assert res.selected.tolist() == [0, 1] and res.objective == 3.0
    assert "only 2 of p=3" in res.message
    none = mclp(cov, [1.0, 2.0, 4.0], 0, existing=[True, False, False])
    assert none.selected.size == 0 and none.objective == 1.0 and none.member_site.tolist() == [0, -1, -1]


def test_result_is_immutable() -> None:
    res = mclp(sp.csr_array(np.eye(3, dtype=bool)), None, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.objective = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.member_site[0] = 5


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: mclp(c, np.ones(4), 1), "weights"),  # wrong length
        (lambda c: mclp(c, [1.0, -2.0, 1.0], 1), "weights"),
        (lambda c: mclp(c, [1.0, np.nan, 1.0], 1), "weights"),
        (lambda c: mclp(c, None, 1, existing=[True, False]), "existing"),
        (lambda c: mclp(c, None, 3, existing=[True, False, False]), "p"),
        (lambda c: mclp(c, None, 1, capacity=[1.0, 2.0]), "capacity"),
        (lambda c: mclp(c.toarray(), None, 1), "coverage"),
        (lambda c: mclp(c * 7.5, None, 1), "coverage"),
        (lambda c: lscp(c, None, 1.5), "target_coverage"),
        (lambda c: p_median(c * -1.0, None, 1), "cost"),
        (lambda c: p_median(c, np.ones(2), 1), "weights"),
    ],
)
def test_bad_input_raises_input_error(call, field: str) -> None:  # noqa: ANN001
    cov = sp.csr_array(np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=np.float64))
    with pytest.raises(InputError) as info:
        call(cov)
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_all_problems_reported_at_once() -> None:
    cov = sp.csr_array(np.eye(3, dtype=bool))
    with pytest.raises(InputError) as info:
        mclp(cov, [1.0, -1.0], 9, existing=[1, 0])
    fields = {p.field for p in info.value.problems}
    assert {"weights", "existing", "p"} <= fields


def test_plan_stations_uses_settings() -> None:
    d, w = _instance(9, 200, 40)
    rows, cols = np.nonzero(d <= 4.0)
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    settings = SitingSettings(new_stations=3, target_coverage=0.9, time_limit_s=20)
    out = plan_stations(sp.csr_array(d <= RADIUS), w, settings, cost=cost)
    assert set(out) == {"mclp", "lscp", "p_median"}
    assert len(out["mclp"].selected) == 3 and len(out["p_median"].selected) == 3
    assert out["lscp"].covered_weight >= 0.9 * out["lscp"].coverable_weight - 1e-9
    assert "p_median" not in plan_stations(sp.csr_array(d <= RADIUS), w, settings)


def _graph_costs(n: int, m: int, seed: int) -> np.ndarray:
    """OR-Library-style costs: shortest paths on a random connected graph, integer lengths 1–100."""
    return or_library_costs(n, m, seed)


@pytest.mark.parametrize(("n", "p", "seed", "cutoff", "n_existing"),
                         [(80, 3, 1, None, 0), (80, 12, 2, None, 0), (120, 8, 3, 60.0, 2), (100, 25, 4, 45.0, 0)])
def test_radius_formulation_equals_pairs_formulation(n, p, seed, cutoff, n_existing) -> None:
    # the radius (covering) model and the textbook pairs model prove the same optimum, on complete
    # graphs and on cut-off instances with existing sites, weights and members without a site
    d = _graph_costs(n, 4 * n, seed)
    rng = np.random.default_rng(seed)
    w = rng.choice([1.0, 1.5, 2.0], size=n)
    allowed = np.ones_like(d, dtype=bool) if cutoff is None else d <= cutoff
    rows, cols = np.nonzero(allowed)
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    ex = _existing(n, n_existing, seed) if n_existing else None
    radius = p_median(cost, w, p, existing=ex, formulation="radius")
    pairs = p_median(cost, w, p, existing=ex, formulation="pairs")
    assert radius.status == "optimal" and pairs.status == "optimal"
    assert radius.objective == pytest.approx(pairs.objective, rel=1e-9)
    assert radius.covered_weight == pytest.approx(pairs.covered_weight, rel=1e-9)
    assert "radius formulation" in radius.message
    _check_result(radius, n)


def test_radius_formulation_respects_its_time_limit() -> None:
    d = _graph_costs(300, 6000, 9)
    rows, cols = np.nonzero(np.ones_like(d, dtype=bool))
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    t0 = time.perf_counter()
    res = p_median(cost, None, 4, time_limit_s=1.0)
    assert time.perf_counter() - t0 < 1.0 * 1.1 + 1.5  # the limit, plus building the instance
    assert len(res.selected) == 4
    if res.status != "optimal":  # stopped by the limit: says so, with a gap
        assert res.status == "time_limit" and res.gap is not None and res.gap > 0
        assert "time limit" in res.message


@pytest.mark.parametrize("seed", [405, 990])
def test_identical_rows_hash_separates_integer_costs(seed) -> None:
    # integer-valued minutes have all-zero low mantissa bits: distinct rows must stay distinct
    # (no spurious "collision" that silently turns off the merging of identical members)
    from geo_planner.siting.reduce import group_identical_rows

    d = _graph_costs(300, 6000, seed)
    d = np.r_[d, d[:7]]  # seven exact duplicates to merge
    rows, cols = np.nonzero(np.ones_like(d, dtype=bool))
    group, rep = group_identical_rows(sparse_cost_matrix(rows, cols, d[rows, cols], d.shape), with_values=True)
    assert len(rep) == 300
    np.testing.assert_array_equal(group[300:], group[:7])
