"""The siting model seam: the registry, the models' own attributes, and the one HiGHS wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geo_planner.errors import SolverError
from geo_planner.settings import SitingSettings
from geo_planner.siting.highs import Milp, require_solution, solve_milp
from geo_planner.siting.models import MODELS, StationData, get_model, station_plan_models
from geo_planner.siting.models.p_center import p_center
from geo_planner.siting.stations import mclp, plan_stations, sparse_cost_matrix


def _instance(seed: int = 3, n: int = 120, m: int = 25) -> tuple[sp.csr_array, sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    members, sites = rng.uniform(0, 6, (n, 2)), rng.uniform(0, 6, (m, 2))
    d = np.hypot(*(members[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) * 12.0  # minutes
    rows, cols = np.nonzero(d <= 45.0)
    cost = sparse_cost_matrix(rows, cols, d[rows, cols], d.shape)
    cover = sp.csr_array((np.ones(int((d <= 15.0).sum())), np.nonzero(d <= 15.0)), shape=d.shape)
    existing = np.zeros(m, bool)
    existing[:2] = True
    return cover, cost, existing


def test_registry_lists_every_model_with_its_labels_and_needs() -> None:
    assert list(MODELS) == ["mclp", "lscp", "p_median", "p_center"]
    for name, model in MODELS.items():
        assert model.name == name and model.label_zh and model.label_en
        assert model.kind in ("coverage", "cost", "center")
    assert get_model("p_median").needs_cost_matrix and not get_model("mclp").needs_cost_matrix
    assert [m.name for m in station_plan_models(has_cost=False)] == ["mclp", "lscp"]
    assert [m.name for m in station_plan_models(has_cost=True)] == ["mclp", "lscp", "p_median"]
    with pytest.raises(KeyError, match="registered: mclp, lscp, p_median, p_center"):
        get_model("p_centre")


def test_plan_runs_the_registered_models_with_their_settings() -> None:
    cover, cost, existing = _instance()
    settings = SitingSettings(new_stations=3, target_coverage=0.9)
    out = plan_stations(cover, None, settings, existing=existing, cost=cost)
    assert list(out) == ["mclp", "lscp", "p_median"]
    direct = mclp(cover, None, 3, existing=existing, time_limit_s=settings.time_limit_s)
    np.testing.assert_array_equal(out["mclp"].selected, direct.selected)
    assert out["mclp"].objective == direct.objective
    assert out["lscp"].coverage_share >= 0.9 * out["lscp"].coverable_weight / out["lscp"].total_weight - 1e-9


def test_p_center_through_the_registry_equals_the_function() -> None:
    _, cost, existing = _instance(seed=5)
    settings = SitingSettings(new_stations=3)
    via = get_model("p_center").solve(StationData(None, None, existing, cost), settings, time_limit_s=30.0)
    direct = p_center(cost, 3, existing=existing, time_limit_s=7.5, total_time_limit_s=30.0)
    assert via.radius_min == direct.radius_min and via.served == direct.served
    np.testing.assert_array_equal(via.selected, direct.selected)


def test_highs_wrapper_solves_a_knapsack_and_reports_bound_and_gap() -> None:
    # max 5a + 4b + 3c  s.t.  2a + 3b + c <= 4,  a, b, c binary  ->  a = c = 1, objective 8
    model = Milp(col_cost=np.array([5.0, 4.0, 3.0]), col_lower=np.zeros(3), col_upper=np.ones(3),
                 integer=True, a=sp.csr_array(np.array([[2.0, 3.0, 1.0]])), row_lower=np.array([-np.inf]),
                 row_upper=np.array([4.0]), maximize=True)
    out = solve_milp(model, label="knapsack", time_limit_s=10.0, start=np.array([0.0, 1.0, 1.0]))
    assert out.status == "optimal" and not out.stopped_by_time_limit and out.has_solution
    np.testing.assert_allclose(require_solution(out), [1.0, 0.0, 1.0])
    assert out.objective == pytest.approx(8.0) and out.bound == pytest.approx(8.0)
    assert out.gap == pytest.approx(0.0)
    lp = solve_milp(Milp(model.col_cost, model.col_lower, model.col_upper, False, model.a, model.row_lower,
                         model.row_upper, maximize=True), label="knapsack LP", time_limit_s=10.0)
    assert lp.status == "optimal" and lp.gap == 0.0 and lp.bound == pytest.approx(lp.objective)
    assert lp.objective == pytest.approx(5.0 + 3.0 + 4.0 / 3.0)


def test_highs_wrapper_names_an_infeasible_model() -> None:
    model = Milp(col_cost=np.ones(1), col_lower=np.zeros(1), col_upper=np.ones(1), integer=True,
                 a=sp.csr_array(np.array([[1.0]])), row_lower=np.array([2.0]), row_upper=np.array([np.inf]))
    out = solve_milp(model, label="impossible", time_limit_s=5.0)
    assert out.x is None and out.status == "infeasible" and np.isnan(out.objective)
    with pytest.raises(SolverError, match="impossible: HiGHS could not solve the model"):
        require_solution(out)
