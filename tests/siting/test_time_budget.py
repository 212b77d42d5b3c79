"""The one time budget of siting (``siting/budget.py``): its accounting, its table, and the siting stage's record.

No test here times anything: the budget's clock is a counter, or the tests read the accounting the
budget kept during the demo run (``run.json``'s ``siting_budget``) and check it adds up.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from geo_planner.settings import SitingSettings
from geo_planner.siting.budget import FRACTIONS, MIN_SHARE_S, OVERRUN, SHARES, TimeBudget, pending_weight


def _ticking(step_s: float = 1.0):
    """A clock on which every reading is ``step_s`` later than the one before."""
    ticks = itertools.count(0.0, step_s)
    return lambda: next(ticks)


class _Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_set_up_that_overruns_shrinks_what_the_models_get() -> None:
    clock = _Clock()
    budget = TimeBudget(20.0, name="siting", clock=clock)
    with budget.step("station_walks") as part:
        assert part.total_s == 20.0  # set-up may take all that is left, no more
        clock.now += 6.0
    weights = SHARES["siting"]
    todo = ["mclp", "lscp", "p_median"]
    first = budget.share(weights["mclp"], pending_weight(weights, todo, extra=weights["organisation"]))
    assert first == pytest.approx(14.0 / 5.0)  # what the set-up left, shared by weight
    with budget.step("mclp", first):
        clock.now += 1.0
    with budget.step("p_median", budget.share(1.0, 3.0)):
        clock.now += 30.0  # a model (or set-up) that overran: every part after it gets the minimum
    assert budget.spent and budget.share(2.0, 2.0) == MIN_SHARE_S
    with budget.step("organisation", budget.share(2.0, 2.0)) as org:
        assert org.total_s == MIN_SHARE_S
        org.note("the model had 0.05 s")
    budget.stop()
    clock.now += 99.0  # a stopped budget no longer counts
    rec = budget.record()
    assert rec["used_s"] == pytest.approx(37.0) and rec["limit_s"] == 20.0 and not rec["within_limit"]
    assert list(rec["parts"]) == ["station_walks", "mclp", "p_median", "organisation"]
    assert rec["parts"]["station_walks"]["used_s"] == pytest.approx(6.0)
    assert rec["parts"]["p_median"]["within_limit"] is False and rec["parts"]["mclp"]["within_limit"] is True
    assert rec["parts"]["organisation"]["notes"] == ["the model had 0.05 s"]
    assert rec["other_s"] == pytest.approx(0.0)
    json.dumps(rec)  # run.json takes it as it is


def test_repeated_parts_are_numbered_and_unaccounted_time_shown() -> None:
    budget = TimeBudget(10.0, clock=_ticking())
    for _ in range(3):
        with budget.step("component"):
            pass
    budget.stop()
    rec = budget.record()
    assert list(rec["parts"]) == ["component", "component 2", "component 3"]
    # every step used one tick; the readings between steps are the rest
    assert sum(p["used_s"] for p in rec["parts"].values()) + rec["other_s"] == pytest.approx(rec["used_s"])


def test_within_is_the_limit_plus_ten_percent() -> None:
    clock = _Clock()
    budget = TimeBudget(10.0, clock=clock)
    clock.now += 10.0 * (1 + OVERRUN)
    assert budget.within
    clock.now += 2 * MIN_SHARE_S
    assert not budget.within


def test_a_budget_of_zero_is_spent_and_bad_budgets_are_refused() -> None:
    assert TimeBudget(0.0).spent and TimeBudget(0.0).limit(5.0, 3) == MIN_SHARE_S
    with pytest.raises(ValueError, match="≥ 0"):
        TimeBudget(-1.0)
    with pytest.raises(ValueError, match="weight"):
        TimeBudget(1.0).share(2.0, 1.0)


def test_decision_weights_give_the_shares_it_always_had() -> None:
    """p-center 2/10 of the time, trade-off 3/8 of what is left, sensitivity 4/5, the phased plan the rest."""
    w = SHARES["decision"]
    order = list(w)
    fractions = [w[n] / pending_weight(w, order[k:]) for k, n in enumerate(order)]
    assert order == ["p_center", "tradeoff", "sensitivity", "phased_plan"]
    assert fractions == pytest.approx([2 / 10, 3 / 8, 4 / 5, 1.0])
    assert 0 < FRACTIONS["siting.reserve"] < 0.5 and 0 < FRACTIONS["organisation.joint_branch"] < 1


def test_station_models_run_as_parts_of_the_stage_budget() -> None:
    from scipy import sparse

    from geo_planner.siting.stations import plan_stations

    rng = np.random.default_rng(3)
    cost = sparse.csr_matrix(np.where(rng.random((60, 12)) < 0.3, rng.uniform(1, 30, (60, 12)), 0.0))
    cover = cost.copy()
    cover.data = (cover.data <= 15).astype(float)
    cover.eliminate_zeros()
    clock = _Clock()
    budget = TimeBudget(10.0, clock=clock)
    res = plan_stations(cover, None, SitingSettings(new_stations=2), cost=cost, budget=budget,
                        reserve=SHARES["siting"]["organisation"])
    parts = budget.record()["parts"]
    assert list(parts) == list(res) == ["mclp", "lscp", "p_median"]
    # the clock stood still: each model's limit is its weight of the whole, as the table says
    assert [p["limit_s"] for p in parts.values()] == pytest.approx([10 / 5, 10 / 4, 10 / 3], abs=1e-3)


def test_run_json_accounts_for_the_siting_stage(demo_run) -> None:
    """The demo's siting stage: the budget started with the stage, its parts add up, the limit was kept."""
    result, _, out, _ = demo_run
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    rec = doc["counts"]["siting_budget"]
    stage_s = doc["timings_s"]["siting"]
    assert rec["limit_s"] == result.scenario.siting.time_limit_s
    # the budget covers the stage from its first line to its last (set-up included)
    assert rec["used_s"] == pytest.approx(stage_s, abs=0.05) and rec["within_limit"]
    parts = rec["parts"]
    assert list(parts)[:2] == ["candidates", "station_walks"] and list(parts)[-1] == "organisation"
    assert {"mclp", "lscp", "p_median"} <= set(parts)
    assert sum(p["used_s"] for p in parts.values()) + rec["other_s"] == pytest.approx(rec["used_s"], abs=0.01)
    org = parts["organisation"]
    assert list(org["parts"]) == ["members", "transfer_walks", "joint_walks", "neighbourhood_blocks",
                                  "joint_branch", "rules"]
    jb = doc["counts"]["organisation"]["joint_branch"]
    # the model got the joint-branch share minus its own set-up, and said how long that was
    assert jb["model_limit_s"] == pytest.approx(org["parts"]["joint_branch"]["limit_s"], abs=1e-3)
    assert jb["model_limit_s"] == pytest.approx(
        max(MIN_SHARE_S, FRACTIONS["organisation.joint_branch"] * org["limit_s"] - jb["setup_s"]), abs=0.01)
    assert jb["status"] == "optimal" and "time_notes" not in jb
    assert doc["counts"]["decision"]["budget"]["limit_s"] == result.scenario.siting.decision_time_limit_s
