"""Joint branches at a city's size: honest gaps, the Lagrangian bound, brute force on small instances.

Every method (HiGHS on the class-aggregated model, the Lagrangian method of
:mod:`geo_planner.siting.branches.lagrange`, the greedy grouping) reports the gap on the
members placed, ``(bound − placed) / bound``; on small instances the true optimum (the
per-member MILP, solved by CBC through PuLP) lies between every method's answer and its bound.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.sparse as sp

from geo_planner.cli import warn_stopped_models
from geo_planner.siting.branches import solve_joint_branches


def _random_instance(seed: int, n: int = 1500, s: int = 60, units: int = 200
                     ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Members and sites with random walks (35 % of pairs within reach), seeded."""
    rng = np.random.default_rng(seed)
    m = np.where(rng.random((n, s)) < 0.35, rng.uniform(1, 20, (n, s)), 0.0)
    return sp.csr_matrix(m), rng.integers(0, units, n), rng.random(s) < 0.5


def test_greedy_reports_its_gap_in_run_json_and_the_cli() -> None:
    """A greedy answer states (bound − placed) / bound, not 0, in the record, the method text and the CLI."""
    cost, unit, is_station = _random_instance(8)
    sol = solve_joint_branches(cost, unit, is_station, min_members=3, max_members=20, max_units=4,
                               time_limit_s=5.0, max_exact_size=10, lagrangian=False)
    assert sol.status == "greedy"
    assert sol.bound > sol.n_placed > 0
    assert sol.gap == pytest.approx((sol.bound - sol.n_placed) / sol.bound) and sol.gap > 0
    rec = sol.summary()
    assert rec["status"] == "greedy" and rec["gap"] == pytest.approx(sol.gap, abs=1e-6)
    assert rec["placed"] == sol.n_placed and rec["bound"] == sol.bound
    assert f"{sol.n_placed} members placed of at most {sol.bound}, gap {100 * sol.gap:.2f}%" in sol.method
    counts = {"siting": {}, "organisation": {"joint_branch": rec}, "siting_time_limit_s": 5.0}
    buf = io.StringIO()
    assert warn_stopped_models(counts, buf) == 1
    assert (f"warning: joint_branch kept its greedy answer (gap {100 * sol.gap:.2f}%; {sol.n_placed} members "
            f"placed of at most {sol.bound})") in buf.getvalue()


def test_optimal_answer_has_zero_gap() -> None:
    """A component HiGHS proves optimal: placed equals the bound and the gap is 0."""
    cost, unit, is_station = _random_instance(3, n=60, s=6, units=12)
    sol = solve_joint_branches(cost, unit, is_station, min_members=3, max_members=8, max_units=3)
    assert sol.status == "optimal" and sol.gap == 0.0 and sol.n_placed == sol.bound
    assert sol.summary()["gap"] == 0.0
