"""Comparing two runs: a seeded roster pair with planted changes, counted exactly; viewers see no member.

The demo run (session fixture) is "last year"; "this year" is the pipeline run once more on the
demo roster with planted changes: members gone, new, moved (> 100 m), moved a little (< 100 m:
not a move), in another branch, and renumbered (matched by name and birth month, and said so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from geo_planner.compare import compare_runs, comparison_workbook
from geo_planner.errors import InputError, NotFoundError
from geo_planner.results import RunFolder

from ..support.light import light
from ..support.rosters import PLANTED, plant_roster_changes


class TwoRuns:
    """Two pipeline output folders answered as one store (the library's ``RunSource``)."""

    def __init__(self, *folders: RunFolder) -> None:
        self.folders = {f.run_id: f for f in folders}

    def _folder(self, run_id: str) -> RunFolder:
        if run_id not in self.folders:
            raise NotFoundError(f"no run {run_id!r}")
        return self.folders[run_id]

    def finished_run(self, run_id: str) -> Any:  # noqa: D102
        return self._folder(run_id).finished_run(run_id)

    def run_file(self, run_id: str, name: str) -> Path:  # noqa: D102
        return self._folder(run_id).run_file(run_id, name)

    def run_table(self, run_id: str, table: str) -> pd.DataFrame:  # noqa: D102
        return self._folder(run_id).run_table(run_id, table)


@dataclass
class Pair:
    store: TwoRuns
    before: str
    after: str
    planted: dict[str, list[str]]


@pytest.fixture(scope="module")
def pair(demo_run, tmp_path_factory) -> Pair:
    from geo_planner.pipeline import run
    from geo_planner.settings import LayerInput

    result, _members, out, _stages = demo_run
    tmp = tmp_path_factory.mktemp("compare")
    roster, planted = plant_roster_changes(set(result.members["id"].astype(str)), tmp)
    sc = result.scenario
    # the comparison reads members, coverage and areas: no PDF, no draws, short solver budgets
    sc = light(sc, time_limit_s=4.0, decision_time_limit_s=4.0, new_stations=1)
    sc = sc.model_copy(update={"inputs": sc.inputs.model_copy(update={"members": LayerInput(path=roster)})})
    later = run(sc, tmp / "this-year")
    store = TwoRuns(RunFolder(result.scenario, out), RunFolder(sc, later.out_dir))
    return Pair(store, out.name, later.out_dir.name, planted)


def test_counts_equal_the_planted_changes(pair: Pair) -> None:
    res = compare_runs(pair.store, pair.after, pair.before, role="planner")
    n_before = len(pair.store.run_table(pair.before, "members"))
    p = PLANTED
    assert res["members"] == {
        "new": p["new"],
        "gone": p["gone"],
        "moved": p["moved"],
        "branch_changed": p["branch"],
        "unchanged": n_before - p["gone"] - p["moved"] - p["branch"],
    }
    assert res["matched_by"] == {"id": n_before - p["gone"] - p["renumbered"], "name_birth": p["renumbered"]}
    assert str(p["renumbered"]) in res["note"] and "name and birth" in res["note"]
    lists = res["lists"]
    assert sorted(lists["new"]["id"]) == sorted(pair.planted["new"])
    assert sorted(lists["gone"]["id"]) == sorted(pair.planted["gone"])
    assert sorted(lists["branch_changed"]["id"]) == sorted(pair.planted["branch"])
    moved = lists["moved"]
    assert sorted(moved["id"]) == sorted(pair.planted["moved"])
    assert (moved["moved_m"] > 300).all() and (moved["moved_m"] < 450).all()
    # the circle: moves in and out are the moved members whose coverage flag changed
    flips = moved["covered_before"] != moved["covered_after"]
    assert res["moved_out_of_circle"] + res["moved_into_circle"] == int(flips.sum())
    assert set(lists["work_list"]["id"]) >= set(
        moved.loc[moved["covered_before"] & ~moved["covered_after"], "id"]
    )
    cov = res["coverage"]
    assert 0 < cov["before"] <= 1 and 0 < cov["after"] <= 1
    assert {"level", "township", "area", "before", "after", "change"} <= set(cov["by_area"].columns)


def test_viewers_get_aggregates_only(pair: Pair) -> None:
    res = compare_runs(pair.store, pair.after, pair.before, role="viewer")
    assert "lists" not in res
    assert res["members"]["new"] == PLANTED["new"] and res["members"]["branch_changed"] == PLANTED["branch"]
    assert res["matched_by"]["name_birth"] is None  # 3 people: a count a viewer does not see
    text = str(res)
    ids = set(pair.store.run_table(pair.before, "members")["id"].astype(str))
    assert not any(i in text for i in ids)


def test_workbook_has_a_sheet_per_part(pair: Pair, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    res = compare_runs(pair.store, pair.after, pair.before, role="planner")
    path = tmp_path / "compare.xlsx"
    path.write_bytes(comparison_workbook(res))
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == [
        "members",
        "coverage",
        "by_area",
        "new",
        "gone",
        "moved",
        "branch_changed",
        "work_list",
    ]
    viewer = load_workbook(
        __import__("io").BytesIO(
            comparison_workbook(compare_runs(pair.store, pair.after, pair.before, role="viewer"))
        ),
        read_only=True,
    )
    assert viewer.sheetnames == ["members", "coverage", "by_area"]


def test_a_run_is_not_compared_with_itself(pair: Pair) -> None:
    with pytest.raises(InputError, match="with"):
        compare_runs(pair.store, pair.after, pair.after, role="planner")
    with pytest.raises(NotFoundError):
        compare_runs(pair.store, pair.after, "nope", role="planner")


def test_difference_map_members_are_coded_as_the_comparison_counts(pair: Pair) -> None:
    from geo_planner.compare_map import CHANGE_CODES, difference_members

    res = compare_runs(pair.store, pair.after, pair.before, role="planner")
    layer = difference_members(pair.store, pair.after, pair.before)
    after = pair.store.run_table(pair.after, "members")
    before = pair.store.run_table(pair.before, "members")
    placed = lambda df: int((df["lon"].notna() & df["lat"].notna()).sum())  # noqa: E731
    assert layer["n"] + layer["unplaced"] == len(after) + res["members"]["gone"]
    assert layer["n"] == placed(after) + placed(before[before["id"].astype(str).isin(pair.planted["gone"])])
    assert len(layer["id"]) == len(layer["lon"]) == len(layer["lat"]) == len(layer["change"]) == layer["n"]
    counts = layer["counts"]
    assert list(counts) == list(CHANGE_CODES) and sum(counts.values()) == layer["n"]
    code = dict(zip(layer["id"], layer["change"], strict=False))
    # planted: the new members are new, the gone ones gone (drawn at their old homes)
    assert {code[i] for i in pair.planted["new"]} <= {4, 5}
    assert counts["new_covered"] + counts["new_uncovered"] == res["members"]["new"]
    assert [code[i] for i in pair.planted["gone"]] == [6] * len(pair.planted["gone"]) == [6] * counts["gone"]
    # a matched member's code is its coverage flag before and after (renumbered members by name + birth)
    moved = res["lists"]["moved"].set_index("id")
    for i, row in moved.iterrows():
        want = {(True, True): 0, (False, False): 1, (False, True): 2, (True, False): 3}
        assert code[str(i)] == want[(bool(row["covered_before"]), bool(row["covered_after"]))], i
    flag = dict(zip(after["id"].astype(str), after["covered_station"].fillna(False).astype(bool), strict=False))
    assert all(flag[i] == (c in (0, 2, 4)) for i, c in code.items() if c != 6)
    assert counts["newly_uncovered"] >= res["moved_out_of_circle"] and counts["newly_covered"] >= res["moved_into_circle"]


def test_difference_map_areas_for_planners_and_viewers(pair: Pair) -> None:
    from geo_planner.compare_map import difference_areas
    from geo_planner.siting.plan import siting_members

    full = difference_areas(pair.store, pair.after, pair.before, role="planner")
    for run_id, side in ((pair.before, "members_before"), (pair.after, "members_after")):
        m = pair.store.run_table(run_id, "members")
        use = siting_members(m) & m["lon"].notna().to_numpy() & m["lat"].notna().to_numpy()
        assert sum(f["properties"][side] for f in full["features"]) == int(use.sum())
    for f in full["features"]:
        p = f["properties"]
        if p["before"] is not None and p["after"] is not None:
            assert p["change"] == pytest.approx(p["after"] - p["before"], abs=1e-4)
    assert any(f["properties"]["change"] not in (None, 0.0) for f in full["features"])
    viewer = difference_areas(pair.store, pair.after, pair.before, role="viewer")
    assert 0 < len(viewer["features"]) < len(full["features"])  # small cells left out
    by_cell = {str(f["geometry"]["coordinates"]): f["properties"] for f in full["features"]}
    for f in viewer["features"]:
        p, q = f["properties"], by_cell[str(f["geometry"]["coordinates"])]
        assert "members_before" not in p and "members_after" not in p
        for side in ("before", "after"):
            assert p[side] is None or (q[f"members_{side}"] >= 5 and p[side] == round(q[side], 2))
        assert p["change"] is None or p["change"] == pytest.approx(round(p["after"] - p["before"], 2))
    hidden = viewer["properties"]["suppressed"]
    assert hidden is None or hidden >= 5
    ids = set(pair.store.run_table(pair.after, "members")["id"].astype(str))
    assert not any(i in str(viewer) for i in ids if len(i) > 3)
