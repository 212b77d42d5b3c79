"""What the organisation models did: run.json records, the CLI warning, components and time limits.

The demo run is the real pipeline (real networks, real HiGHS). Wall-clock targets live in
``benchmarks/city.py``; here the *reporting* of a stopped model is checked on instances HiGHS
cannot finish in the time it is given.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

from geo_planner.cli import warn_stopped_models
from geo_planner.organisation import solve_joint_branches
from geo_planner.pipeline import stopped_models

ORG_MODELS = ("joint_branch", "transfer", "remote_branch", "party_group")


def test_run_json_reports_every_model(demo_run) -> None:
    """Method, status, gap and runtime for the station models and every organisation model."""
    _, _, out, stages = demo_run
    counts = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    org = counts["organisation"]
    assert set(ORG_MODELS) <= set(org)
    for name in ORG_MODELS:
        rec = org[name]
        assert {"method", "status", "gap", "runtime_s"} <= set(rec), name
        assert rec["status"] in {"optimal", "time_limit", "greedy", "heuristic", "empty"}
        assert rec["runtime_s"] >= 0
    jb = org["joint_branch"]
    assert jb["method"] == "highs" and jb["status"] == "optimal" and jb["gap"] is not None
    assert jb["placed"] == jb["bound"] > 0 and jb["components"] >= 1
    for model in ("mclp", "lscp", "p_median"):
        assert {"method", "status", "gap", "runtime_s"} <= set(counts["siting"][model])
    assert counts["siting_time_limit_s"] == 60 and counts["models_stopped"] == []
    # progress inside the siting stage names the model running, and never goes back
    inside = [s for s, _ in stages if s.startswith("siting: ")]
    assert {"siting: mclp", "siting: lscp", "siting: p_median", "siting: joint branches"} <= set(inside)
    assert any(s.startswith("siting: joint branches, component 1 of ") for s in inside)
    fractions = [f for _, f in stages]
    assert all(b >= a - 1e-12 for a, b in zip(fractions, fractions[1:], strict=False))


def test_cli_warns_about_a_stopped_model(demo_run) -> None:
    """No warning for the demo (every model optimal); one line per model that stopped."""
    result, _, _, _ = demo_run
    buf = io.StringIO()
    assert warn_stopped_models(result.counts, buf) == 0 and buf.getvalue() == ""
    counts = json.loads(json.dumps(result.counts))
    counts["organisation"]["joint_branch"].update(status="time_limit", gap=0.125, placed=40, bound=44)
    counts["siting"]["p_median"].update(status="time_limit", gap=None)
    assert set(stopped_models(counts["siting"], counts["organisation"])) == {"joint_branch", "p_median"}
    assert warn_stopped_models(counts, buf) == 2
    text = buf.getvalue()
    assert "warning: joint_branch stopped at its time limit (gap 12.50%; 40 members placed of at most 44)" in text
    assert "warning: p_median stopped at its time limit (no bound from the solver)" in text
    assert "time_limit_s = 60 s" in text


def _clusters(n_clusters: int, per: int, sites: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Separate clusters of members and sites (no member reaches another cluster's sites)."""
    rng = np.random.default_rng(seed)
    blocks, units = [], []
    for c in range(n_clusters):
        n = per * (c + 1)  # clusters of different sizes
        m = np.where(rng.random((n, sites)) < 0.6, rng.uniform(1, 20, (n, sites)), 0.0)
        blocks.append(sp.csr_matrix(m))
        units.append(rng.integers(0, 12, n) + 100 * c)
    cost = sp.block_diag(blocks, format="csr")
    unit = np.concatenate(units)
    return cost, np.unique(unit, return_inverse=True)[1].ravel(), rng.random(cost.shape[1]) < 0.3


def test_components_are_solved_separately() -> None:
    """Three clusters: three components, largest first, each optimal; the bound is their sum."""
    cost, unit, is_station = _clusters(3, 12, 4, seed=3)
    sol = solve_joint_branches(cost, unit, is_station, min_members=3, max_members=8, max_units=3)
    assert len(sol.components) == 3 and sol.status == "optimal"
    assert [c.members for c in sol.components] == sorted((c.members for c in sol.components), reverse=True)
    assert sol.n_placed == sum(c.placed for c in sol.components) == sol.bound
    assert re.fullmatch(r"highs \(gap \d+\.\d\d%, 3 components\)", sol.method)
    # a joint branch never mixes clusters (they share no site)
    cluster = np.repeat([0, 1, 2], [12, 24, 36])
    site_cluster = np.repeat([0, 1, 2], 4)
    placed = sol.site >= 0
    assert (site_cluster[sol.site[placed]] == cluster[placed]).all()
    # the same grouping as solving each cluster alone
    for c, (lo, hi) in enumerate([(0, 12), (12, 36), (36, 72)]):
        alone = solve_joint_branches(cost[lo:hi][:, 4 * c:4 * c + 4], unit[lo:hi], is_station[4 * c:4 * c + 4],
                                     min_members=3, max_members=8, max_units=3)
        assert alone.n_placed == int(placed[lo:hi].sum())


@pytest.mark.parametrize("max_exact_size", [100_000, 10])
def test_a_stopped_model_says_so(max_exact_size: int) -> None:
    """Too little time (or a model above max_exact_size): a feasible answer, its status and its bound."""
    rng = np.random.default_rng(8)
    n, s = 1500, 60
    m = np.where(rng.random((n, s)) < 0.35, rng.uniform(1, 20, (n, s)), 0.0)
    unit = rng.integers(0, 200, n)
    sol = solve_joint_branches(sp.csr_matrix(m), unit, rng.random(s) < 0.5, min_members=3, max_members=20,
                               max_units=4, time_limit_s=0.3, max_exact_size=max_exact_size)
    assert sol.status in {"time_limit", "greedy"}
    assert sol.n_placed <= sol.bound <= min(n, s * 20)
    assert sol.n_placed >= sum(c.greedy_placed for c in sol.components) and sol.n_placed > 0
    assert ("time limit 0.3 s" in sol.method) or sol.method.startswith(("greedy", "flow over fixed units"))
    if max_exact_size == 10:  # too large for HiGHS: flow over fixed units (if it had time) and the Lagrangian bound
        assert sol.summary()["method"] in {"lagrangian", "greedy"}
        assert sol.method.startswith(("flow over fixed units, Lagrangian bound (not proved optimal", "greedy ("))
    for j in sol.open_sites:  # the answer keeps every rule
        g = sol.site == j
        assert 3 <= g.sum() <= 20 and np.unique(unit[g]).size <= 4 and (m[g, j] > 0).all()
    rec = sol.summary()
    assert rec["status"] == sol.status and rec["bound"] == sol.bound and rec["placed"] == sol.n_placed
