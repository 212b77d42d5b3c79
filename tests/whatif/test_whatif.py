"""What-if on a finished run equals a full re-run with the edited stations table.

Two extracts: the demo (贵溪 + 南京) and a seeded 龙岗 city (:mod:`geo_planner.citygen`). One
full re-run each, compared both ways: the run → the re-run (the edit) and the re-run → the run
(the edit undone), so adds, closes, a move and threshold changes are all checked against the
pipeline's own numbers, on both what-if paths (the bounded search from added stations, and the
closing path that measures the remaining stations again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo_planner.errors import InputError
from geo_planner.results import RunFolder, load_run
from geo_planner.settings import LayerInput, Scenario
from geo_planner.siting.plan import siting_members
from geo_planner.whatif import NewStation, WhatIfBase, prepare_whatif, what_if

from ..support.light import light

#: Seed of the stations the tests add (homes of members now outside the circle).
SEED = 20261207


@dataclass
class Case:
    """A run, an edit of its stations, the full re-run with that edit, and both runs prepared."""

    name: str
    run: object  # pipeline.RunResult
    base: WhatIfBase
    add: list[NewStation]
    close: list[str]
    threshold: float
    rerun: object
    rebase: WhatIfBase


def _prepare(result) -> WhatIfBase:  # noqa: ANN001
    folder = RunFolder(result.scenario, result.out_dir)
    return prepare_whatif(folder, folder.run_id, load_run(folder, folder.run_id))


def _light(scenario: Scenario) -> Scenario:
    """Less solver time and no PDF: coverage, equity and the p = 0 trade-off point do not depend on them."""
    return light(scenario, time_limit_s=4.0, decision_time_limit_s=4.0, new_stations=1)


def _rerun(result, add: list[NewStation], close: list[str], threshold: float, out: Path):  # noqa: ANN001
    """The pipeline once more, with the edited stations table (a CSV of id, name, lon, lat) and threshold."""
    from geo_planner.pipeline import run

    st = result.stations
    kept = st[~st["id"].astype(str).isin(close)][["id", "name", "lon", "lat"]]
    new = pd.DataFrame(
        {
            "id": [s.id for s in add],
            "name": [s.name for s in add],
            "lon": [s.lon for s in add],
            "lat": [s.lat for s in add],
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stations_edited.csv"
    pd.concat([kept, new], ignore_index=True).to_csv(
        path, index=False, encoding="utf-8", float_format="%.17g"
    )
    sc = result.scenario
    sc = sc.model_copy(
        update={
            "inputs": sc.inputs.model_copy(update={"stations": LayerInput(path=path)}),
            "thresholds": sc.thresholds.model_copy(update={"station_walk_min": threshold}),
        }
    )
    return run(_light(sc), out / "run")


def _uncovered_homes(result, base: WhatIfBase, k: int, rng: np.random.Generator) -> list[tuple[float, float]]:  # noqa: ANN001
    """``k`` seeded homes of considered members now outside the circle, far apart."""
    m = result.members
    idx = np.flatnonzero(base.considered & ~(base.minutes <= base.threshold_min))
    pick = rng.choice(idx, size=min(k, idx.size), replace=False)
    return [(float(m["lon"].iloc[i]), float(m["lat"].iloc[i])) for i in pick]


@pytest.fixture(scope="module")
def demo_case(demo_run, tmp_path_factory) -> Case:
    """Demo: the station serving most members moves to an uncovered home, one station is added, 12 min."""
    result = demo_run[0]
    base = _prepare(result)
    rng = np.random.default_rng(SEED)
    (lon1, lat1), (lon2, lat2) = _uncovered_homes(result, base, 2, rng)
    busiest = result.members["nearest_station_id"].astype(str).value_counts().index[0]
    name = str(result.stations.set_index("id").loc[busiest, "name"])
    add = [NewStation(lon1, lat1, name, busiest), NewStation(lon2, lat2, "建设路老年大学", "W1")]
    rerun = _rerun(result, add, [busiest], 12.0, tmp_path_factory.mktemp("whatif-demo"))
    return Case("demo", result, base, add, [busiest], 12.0, rerun, _prepare(rerun))


@pytest.fixture(scope="module")
def city_case(tmp_path_factory, cache_dir) -> Case:
    """龙岗 (seeded city, 1,200 members): two stations added, 10 min.

    What is proven here (the what-if equals a re-run) does not depend on the city's size: 1,200 members
    on 24 branches and 12 stations give both covered and uncovered members on the real 龙岗 roads.
    """
    from geo_planner.citygen import generate_city
    from geo_planner.pipeline import run
    from geo_planner.settings import load_scenario

    tmp = tmp_path_factory.mktemp("whatif-city")
    path = generate_city(
        tmp / "city",
        n_members=1200,
        n_branches=24,
        n_stations=12,
        n_hospitals=3,
        cache_dir=cache_dir,
        seed=SEED,
    )
    sc = load_scenario(path)
    sc = _light(sc.model_copy(update={"network": sc.network.model_copy(update={"cache_dir": cache_dir})}))
    result = run(sc, tmp / "run")
    base = _prepare(result)
    rng = np.random.default_rng(SEED)
    add = [
        NewStation(lon, lat, f"新驿站{k + 1}", f"W{k + 1}")
        for k, (lon, lat) in enumerate(_uncovered_homes(result, base, 2, rng))
    ]
    rerun = _rerun(result, add, [], 10.0, tmp / "rerun")
    return Case("longgang", result, base, add, [], 10.0, rerun, _prepare(rerun))


@pytest.fixture(params=["demo", "longgang"])
def case(request: pytest.FixtureRequest) -> Case:
    return request.getfixturevalue("demo_case" if request.param == "demo" else "city_case")


def _same_as_run(answer, result, threshold: float) -> None:  # noqa: ANN001
    """A what-if answer equals what a pipeline run computed with that stations table."""
    m = result.members
    expected = pd.to_numeric(m["walk_min_station"], errors="coerce").to_numpy(float)
    got = np.where(np.isfinite(answer.minutes), answer.minutes, np.nan)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=0, atol=1e-9)
    assert answer.covered.tolist() == m["covered_station"].astype(bool).tolist()
    fig = answer.figures
    assert fig["station_walk_min"] == threshold == result.scenario.thresholds.station_walk_min
    use = siting_members(m)
    assert fig["members_considered"] == int(use.sum())
    assert fig["covered_station"] == int((m["covered_station"].astype(bool) & use).sum())
    p0 = result.decision.tradeoff.iloc[0]
    assert p0["p"] == 0 and p0["status"] == "optimal"
    assert fig["coverage_share"] == p0["coverage_share"]
    assert fig["weighted_coverage_share"] == p0["weighted_coverage_share"]
    assert fig["equity"] == result.decision.equity["current"]
    by_area = result.coverage_by_area.set_index(["level", "township", "area"])["share_covered_station"]
    mine = {(r["level"], r["township"], r["area"]): r["coverage_share"] for r in fig["by_area"]}
    assert set(mine) == set(by_area.index)
    for key, share in mine.items():
        assert (share is None and pd.isna(by_area[key])) or share == by_area[key], key


def test_without_edits_the_answer_is_the_run(case: Case) -> None:
    answer = what_if(case.base)
    _same_as_run(answer, case.run, case.base.threshold_min)
    assert answer.figures["newly_covered"] == answer.figures["newly_uncovered"] == 0
    assert {k: answer.figures[k] for k in case.base.before} == case.base.before


def test_edit_equals_a_full_rerun(case: Case) -> None:
    answer = what_if(case.base, add=case.add, close=case.close, station_walk_min=case.threshold)
    _same_as_run(answer, case.rerun, case.threshold)
    fig = answer.figures
    was = case.run.members["covered_station"].astype(bool).to_numpy()
    now = case.rerun.members["covered_station"].astype(bool).to_numpy()
    assert fig["newly_covered"] == int((now & ~was).sum()) and fig["newly_uncovered"] == int(
        (was & ~now).sum()
    )
    assert sorted(fig["newly_covered_ids"]) == sorted(case.run.members["id"].astype(str)[now & ~was])
    assert [a["id"] for a in fig["added"]] == [s.id for s in case.add] and fig["closed"] == case.close
    areas = fig["service_areas"]["features"]
    assert [f["properties"]["id"] for f in areas] == [s.id for s in case.add]
    assert all(
        f["geometry"]["type"] in ("Polygon", "MultiPolygon") and f["properties"]["area_km2"] > 0
        for f in areas
    )
    # the search from the added stations only (no station closed) is bounded
    if not case.close:
        assert fig["dijkstra"]["searches"] == 1 and fig["dijkstra"]["sources"] == len(case.add)


def test_undoing_the_edit_equals_the_run(case: Case) -> None:
    """On the re-run: close the added stations (and move a moved one back) at the old threshold."""
    old = case.run.stations.set_index(case.run.stations["id"].astype(str))
    back = [
        NewStation(float(old.loc[i, "lon"]), float(old.loc[i, "lat"]), str(old.loc[i, "name"]), i)
        for i in case.close
    ]
    answer = what_if(
        case.rebase,
        add=back,
        close=[s.id for s in case.add],
        station_walk_min=case.base.threshold_min,
        service_areas=False,
    )
    _same_as_run(answer, case.run, case.base.threshold_min)
    assert answer.figures["service_areas"]["features"] == []


def test_bounded_search_equals_measuring_every_station_again(case: Case) -> None:
    """Adding stations (one bounded search) equals closing and re-adding a station with them."""
    st = case.run.stations
    first = str(st["id"].iloc[0])
    same = NewStation(float(st["lon"].iloc[0]), float(st["lat"].iloc[0]), "", first)
    added = [s for s in case.add if s.id not in case.close]
    fast = what_if(case.base, add=added, service_areas=False)
    full = what_if(case.base, add=[*added, same], close=[first], service_areas=False)
    assert fast.figures["dijkstra"]["limit_min"] is None or fast.figures["dijkstra"]["limit_min"] > 0
    np.testing.assert_array_equal(fast.minutes, full.minutes)
    assert (
        fast.figures["equity"] == full.figures["equity"]
        and fast.figures["by_area"] == full.figures["by_area"]
    )


def test_bad_input_names_the_field(demo_case: Case) -> None:
    base = demo_case.base
    with pytest.raises(InputError) as err:
        what_if(
            base,
            add=[NewStation(float("nan"), 28.3), NewStation(0.0, 0.0), NewStation(117.23, 28.29)],
            close=["S999"],
            station_walk_min=float("inf"),
        )
    fields = {p.field for p in err.value.problems}
    assert fields == {
        "station_walk_min",
        "close_stations[0]",
        "add_stations[0].lon,lat",
        "add_stations[1].lon,lat",
    }
    assert all(p.file == "request" for p in err.value.problems)
    # inside the network's box but far from every road of it (between 贵溪 and 南京)
    with pytest.raises(InputError, match=r"add_stations\[0\].*farther than"):
        what_if(base, add=[NewStation(117.9, 30.0)])
    with pytest.raises(InputError, match=r"add_stations\[1\]\.id"):
        what_if(base, add=[NewStation(117.23, 28.29, id="W1"), NewStation(117.231, 28.29, id="W1")])


def test_viewers_get_no_member_ids_and_no_small_cells(demo_case: Case) -> None:
    answer = what_if(demo_case.base, add=demo_case.add[-1:], role="viewer", service_areas=False)
    fig = answer.figures
    assert "newly_covered_ids" not in fig and "newly_uncovered_ids" not in fig
    for row in fig["by_area"]:
        assert row["members"] is None or row["members"] >= 5
        assert row["covered"] is None or row["covered"] == 0 or row["covered"] >= 5
    small = [r for r in fig["by_area"] if r["suppressed"]]
    assert small and all(r["coverage_share"] is None and r["before_share"] is None for r in small)


def test_reoptimise_on_the_runs_instance(demo_case: Case) -> None:
    """Without locks the run's own optimum comes back; locks are kept, bans left out, optimality said."""
    from geo_planner.decision.instance_file import load_siting_instance
    from geo_planner.outputs import SITING_INSTANCE_FILE
    from geo_planner.reoptimise import reoptimise

    run = demo_case.run
    inst = load_siting_instance(run.out_dir / SITING_INSTANCE_FILE)
    assert inst.cost.shape == (len(inst.member_ids), len(inst.candidates))
    siting = run.counts["siting"]
    p = run.scenario.siting.new_stations
    for model in ("mclp", "p_median"):
        res = reoptimise(demo_case.base, inst, model=model, p=p)
        assert res["optimal"] and res["status"] == "optimal" and len(res["sites"]) == p
        assert round(res["objective"], 4) == pytest.approx(siting[model]["objective"], abs=1e-3), model
    best = reoptimise(demo_case.base, inst, model="mclp", p=p)
    chosen = [s["id"] for s in best["sites"]]
    others = inst.candidates.loc[~inst.existing & ~inst.candidates["id"].isin(chosen), "id"].tolist()
    locked = reoptimise(demo_case.base, inst, model="mclp", p=p, lock=[others[0]], ban=chosen[:1])
    ids = [s["id"] for s in locked["sites"]]
    assert others[0] in ids and chosen[0] not in ids and len(ids) == p
    assert [s["locked"] for s in locked["sites"] if s["id"] == others[0]] == [True]
    assert locked["objective"] <= best["objective"] + 1e-9
    # the coverage of the plan is the what-if of its sites (exact walks)
    direct = what_if(
        demo_case.base,
        add=[NewStation(s["lon"], s["lat"], s["name"], s["id"]) for s in locked["sites"]],
        service_areas=False,
    ).figures
    assert locked["coverage"]["covered_station"] == direct["covered_station"]
    with pytest.raises(InputError) as err:
        reoptimise(demo_case.base, inst, model="lscp", p=1000, lock=["C9999"], ban=["?"])
    assert {p_.field for p_ in err.value.problems} == {"model", "p", "lock[0]", "ban[0]"}


def test_reoptimised_p_median_equals_p_median_on_the_edited_matrix(case: Case) -> None:
    """Locks and bans (the busiest existing station too) on the instance prepared once per run: the
    same optimum, proven, as ``p_median`` on the whole matrix with those columns edited."""
    from geo_planner.decision.instance_file import load_siting_instance
    from geo_planner.outputs import SITING_INSTANCE_FILE
    from geo_planner.reoptimise import model_matrix, reoptimise
    from geo_planner.siting.models.p_median import p_median

    inst = load_siting_instance(case.run.out_dir / SITING_INSTANCE_FILE)
    ids = inst.candidates["id"].astype(str)
    free = ids[~inst.existing].tolist()
    busiest = str(case.run.members["nearest_station_id"].astype(str).value_counts().index[0])
    assert busiest in set(ids[inst.existing])
    full = model_matrix(inst, "p_median")
    p = 2
    for lock, ban in (([], []), ([free[0]], []), ([], [busiest]), ([free[0]], [busiest, free[1]])):
        got = reoptimise(case.base, inst, model="p_median", p=p, lock=lock, ban=ban)
        locked, banned = ids.isin(lock).to_numpy(), ids.isin(ban).to_numpy()
        keep = np.flatnonzero(~banned)
        want = p_median(
            full[:, keep],
            inst.weights,
            p - int((locked & ~inst.existing).sum()),
            existing=(inst.existing | locked)[keep],
            time_limit_s=30.0,
        )
        assert got["optimal"] and want.status == "optimal", (lock, ban)
        assert got["objective"] == pytest.approx(want.objective, rel=1e-12), (lock, ban)
        ids_got = {s["id"] for s in got["sites"]}
        assert set(lock) <= ids_got and not set(ban) & ids_got
