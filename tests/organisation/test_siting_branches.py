"""Branch reorganisation on the seeded demo (real 贵溪/南京 roads, real HiGHS) and on hand-made instances.

Planted answers (``data/demo/planted.json``): the four small units' members around 城北社区 come
back in one joint branch; the 8 members in 南京 form one remote branch; the 2 in 深圳 are
mobile members. Every joint branch, transfer and party group is checked against the rules,
with walking times recomputed independently through ``geo_planner.travel``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pulp
import pytest
import scipy.sparse as sp

from geo_planner.errors import InputError
from geo_planner.network import RoadNetwork
from geo_planner.organisation import recommend_branches, solve_joint_branches
from geo_planner.settings import BranchSettings, Thresholds
from geo_planner.siting.schema import RECOMMENDATION_COLUMNS, finalize_recommendations
from geo_planner.travel import cost_matrix, time_to_assigned

from ..support.paths import DEMO

RULES = BranchSettings()
THRESHOLDS = Thresholds()
T = THRESHOLDS.branch_walk_min
TOL = 1e-6  # minutes


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def planted() -> dict:
    """Load the demo's planted answers."""
    return json.loads((DEMO / "planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo(demo_run):
    """The demo scenario through the real pipeline (travel times on the real networks), run once per session."""
    return demo_run[0]


@pytest.fixture(scope="module")
def members(demo) -> pd.DataFrame:
    """Return the demo members with the dispersion stage's columns."""
    assert {"dispersed", "dispersion_reason", "member_city"} <= set(demo.members.columns)
    return demo.members


@pytest.fixture(scope="module")
def sites(demo) -> pd.DataFrame:
    """Existing stations plus the extracts' communities and townships as candidate places."""
    st = demo.stations
    places = demo.gazetteer.entries
    places = places[places["level"].isin(["community", "township"])].reset_index(drop=True)
    stations = pd.DataFrame({"id": st["id"], "name": st["name"], "kind": "station", "lon": st["lon"],
                             "lat": st["lat"]})
    candidates = pd.DataFrame({"id": [f"C{i:03d}" for i in range(len(places))], "name": places["name"],
                               "kind": "candidate", "lon": places["lon"], "lat": places["lat"]})
    return pd.concat([stations, candidates], ignore_index=True)


@pytest.fixture(scope="module")
def result(members, demo, sites, walk_net):
    """Run the recommendations once for the module; also return their seconds."""
    t0 = time.perf_counter()
    recs, assignment = recommend_branches(members, demo.branches, sites, walk_net, rules=RULES,
                                          thresholds=THRESHOLDS)
    return recs, assignment, time.perf_counter() - t0


def _ids(cell: str) -> list[str]:
    return [x for x in str(cell).split(";") if x]


def _minutes_to(
    walk: RoadNetwork, members: pd.DataFrame, ids: list[str], lon: float, lat: float
) -> np.ndarray:
    """Recompute the members' walking minutes to one point with travel.time_to_assigned."""
    m = members.set_index("id").loc[ids]
    snap = walk.snap(m["lon"].to_numpy(dtype=float), m["lat"].to_numpy(dtype=float), max_snap_m=500.0)
    target = walk.snap(np.array([lon]), np.array([lat]), max_snap_m=500.0)
    minutes, _ = time_to_assigned(walk, snap, target, np.zeros(len(ids), dtype=np.int64))
    return minutes


# --------------------------------------------------------------------------- the demo


def test_schema_and_assignment(result, members) -> None:
    """Rows follow the schema and the finalize order; every member is in one recommendation at most."""
    recs, assignment, seconds = result
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert set(recs["kind"]) <= {"joint_branch", "transfer", "party_group", "remote_branch", "mobile_member"}
    assert {"joint_branch", "transfer", "party_group", "remote_branch", "mobile_member"} <= set(recs["kind"])
    # numbered in the order finalize_recommendations gives
    again = finalize_recommendations([recs.assign(rec_id="")])
    assert again["rec_id"].tolist() == recs["rec_id"].tolist()
    assert again["name"].tolist() == recs["name"].tolist()
    assert (recs["n_members"] == recs["member_ids"].map(lambda s: len(_ids(s)))).all()
    assert recs["rationale_zh"].str.len().gt(10).all() and recs["rationale_en"].str.len().gt(10).all()
    assert recs["rule"].str.len().gt(0).all()
    joint = recs[recs["kind"] == "joint_branch"]
    assert joint["method"].str.fullmatch(r"highs \(gap \d+\.\d\d%(, \d+ components)?\)").all()
    assert (recs.loc[recs["kind"] != "joint_branch", "method"].str.startswith("rule")).all()
    # one assignment row per member, agreeing with the member lists
    assert assignment.index.equals(members.index) and list(assignment.columns) == ["id", "rec_id", "kind"]
    listed = recs.assign(mid=recs["member_ids"].map(_ids)).explode("mid")
    assert not listed["mid"].duplicated().any()  # nobody is in two recommendations
    got = assignment[assignment["rec_id"] != ""].set_index("id")
    assert len(got) == len(listed)
    expect = listed.set_index("mid")
    assert (got["rec_id"] == expect.loc[got.index, "rec_id"]).all()
    assert (got["kind"] == expect.loc[got.index, "kind"]).all()
    assert seconds < 45


def test_planted_joint_branch(result, planted, members, sites, walk_net) -> None:
    """The four small units around 城北社区 come back in one joint branch within 20 min."""
    recs, _, _ = result
    want = set(planted["joint_branch"]["member_ids"])
    hits = recs[recs["member_ids"].map(lambda s: bool(want & set(_ids(s))))]
    assert len(hits) == 1, hits[["kind", "name", "member_ids"]]
    rec = hits.iloc[0]
    ids = _ids(rec["member_ids"])
    assert rec["kind"] == "joint_branch" and want <= set(ids) and rec["name"].endswith("联合党支部")
    assert RULES.min_branch_members <= len(ids) <= RULES.max_branch_members
    assert members.set_index("id").loc[ids, "branch_id"].nunique() <= RULES.max_units_per_joint_branch
    site = sites.set_index("id").loc[rec["site_id"]]
    assert (rec["lon"], rec["lat"]) == (site["lon"], site["lat"])
    minutes = _minutes_to(walk_net, members, ids, site["lon"], site["lat"])
    assert np.isfinite(minutes).all() and minutes.max() <= T + TOL
    assert rec["max_after_min"] == pytest.approx(minutes.max(), abs=1e-6)
    assert rec["after_min"] == pytest.approx(np.median(minutes), abs=1e-6)


def test_every_joint_branch_meets_the_rules(result, members, sites, walk_net) -> None:
    """3–50 members, ≤ 5 units, every member ≤ 20 min walk (recomputed)."""
    recs, _, _ = result
    joint = recs[recs["kind"] == "joint_branch"]
    assert len(joint) >= 2
    by_id = members.set_index("id")
    site_of = sites.set_index("id")
    for rec in joint.itertuples():
        ids = _ids(rec.member_ids)
        units = set(by_id.loc[ids, "branch_id"])
        assert RULES.min_branch_members <= len(ids) <= RULES.max_branch_members, rec.name
        assert len(units) <= RULES.max_units_per_joint_branch and set(_ids(rec.branch_ids)) == units
        assert by_id.loc[ids, "dispersed"].all()
        assert not by_id.loc[ids, "dispersion_reason"].str.contains("remote").any()
        s = site_of.loc[rec.site_id]
        minutes = _minutes_to(walk_net, members, ids, s["lon"], s["lat"])
        assert np.isfinite(minutes).all() and minutes.max() <= T + TOL, rec.name
        assert f"{len(ids)} ≤ {RULES.max_branch_members} members" in rec.rule
        before = by_id.loc[ids, "walk_min_branch"].to_numpy(dtype=float, copy=True)
        # a walk beyond the search cut-off is longer than every measured one, not a missing one
        before[(by_id.loc[ids, "branch_status"] == "beyond_limit").to_numpy()] = np.inf
        median = np.median(before[~np.isnan(before)])
        assert (rec.before_min == pytest.approx(median)) if np.isfinite(median) else np.isnan(rec.before_min)
    # existing stations are preferred to candidate places
    assert (joint["site_id"].map(site_of["kind"]) == "station").sum() >= 1


def test_transfers_go_to_the_nearest_other_branch(result, members, demo, walk_net) -> None:
    """Transferred members reach the target's meeting place in time; it is the nearest."""
    recs, _, _ = result
    transfer = recs[recs["kind"] == "transfer"]
    assert len(transfer) >= 1
    br = demo.branches.reset_index(drop=True)
    b_snap = walk_net.snap(br["lon"].to_numpy(dtype=float), br["lat"].to_numpy(dtype=float), max_snap_m=500.0)
    by_id = members.set_index("id")
    for rec in transfer.itertuples():
        ids = _ids(rec.member_ids)
        target = br.index[br["id"] == rec.site_id][0]
        assert rec.site_id not in set(by_id.loc[ids, "branch_id"])
        minutes = _minutes_to(walk_net, members, ids, br.loc[target, "lon"], br.loc[target, "lat"])
        assert np.isfinite(minutes).all() and minutes.max() <= T + TOL
        # nearest other branch within the threshold
        m = by_id.loc[ids]
        snap = walk_net.snap(m["lon"].to_numpy(dtype=float), m["lat"].to_numpy(dtype=float), max_snap_m=500.0)
        full = cost_matrix(walk_net, snap, b_snap, T).toarray()
        full[full == 0] = np.inf
        own = pd.Index(br["id"]).get_indexer(m["branch_id"])
        full[np.arange(len(ids)), own] = np.inf
        assert (full.argmin(axis=1) == target).all()


def test_planted_remote_branch_and_mobile_members(result, planted, members, walk_net) -> None:
    """南京's 8 members form a remote branch at their medoid; 深圳's 2 are mobile."""
    recs, _, _ = result
    nanjing = set(planted["remote_cluster"]["member_ids"])
    rb = recs[(recs["kind"] == "remote_branch") & (recs["city"] == "南京市")]
    assert len(rb) == 1
    rec = rb.iloc[0]
    assert nanjing <= set(_ids(rec["member_ids"])) and rec["name"] == "南京市异地支部"
    assert set(_ids(rec["branch_ids"])) == set(members.set_index("id").loc[list(nanjing), "branch_id"])
    # the meeting point is the member with the least total walk from the others
    ids = _ids(rec["member_ids"])
    m = members.set_index("id").loc[ids]
    totals = [np.nansum(_minutes_to(walk_net, members, ids, lo, la))
              for lo, la in zip(m["lon"], m["lat"], strict=True)]
    best = int(np.argmin(totals))
    assert (rec["lon"], rec["lat"]) == pytest.approx((m["lon"].iloc[best], m["lat"].iloc[best]))
    minutes = _minutes_to(walk_net, members, ids, rec["lon"], rec["lat"])
    assert rec["after_min"] == pytest.approx(np.median(minutes))
    assert np.isnan(rec["before_min"])  # their branches cannot be reached on foot

    shenzhen = set(planted["off_network"]["member_ids"])
    mm = recs[recs["kind"] == "mobile_member"]
    assert len(mm) == 1
    rec = mm.iloc[0]
    assert set(_ids(rec["member_ids"])) == shenzhen and rec["city"] == "深圳市" and rec["n_members"] == 2
    assert "流动党员" in rec["rationale_zh"] and "mobile party members" in rec["rationale_en"]
    assert np.isnan(rec["after_min"])


def test_party_groups(result, members) -> None:
    """Party groups split large branches by residence area, each with enough members."""
    recs, _, _ = result
    pg = recs[recs["kind"] == "party_group"]
    assert len(pg) >= 2
    by_id = members.set_index("id")
    for branch, groups in pg.groupby("branch_ids"):
        assert len(groups) >= 2  # only when a branch spans two areas or more
        for rec in groups.itertuples():
            ids = _ids(rec.member_ids)
            assert (by_id.loc[ids, "branch_id"] == branch).all()
            assert rec.n_members >= RULES.party_group_min_members
            assert rec.name.startswith(f"{branch}第") and "党小组（" in rec.name
        assert groups["n_members"].sum() >= 2 * RULES.min_branch_members


# --------------------------------------------------------------------------- hand-made instances


def _one_site(n_sites: int, units: list[int], minutes: float = 5.0) -> sp.csr_matrix:
    """Every member reaches every site in ``minutes``."""
    return sp.csr_matrix(np.full((len(units), n_sites), minutes))


# 7 members next to the sites: unit A has 2 of them, units B–F one each.
UNITS_7 = [0, 0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("n_sites", "max_units", "placed", "groups"),
    [
        (1, 5, 6, 1),  # one joint branch may take 5 units: A's 2 + 4 singles; one member is left out
        (1, 6, 7, 1),  # without the unit bound everybody fits
        (2, 5, 7, 2),  # two sites: 3 + 4 members, each from ≤ 5 units
        (2, 2, 3, 1),  # ≤ 2 units: only A's 2 + one single reach 3 members; the 4 singles cannot
    ],
)
def test_unit_bound_binds(n_sites: int, max_units: int, placed: int, groups: int) -> None:
    """The unit bound decides the optimum on hand-checked instances."""
    unit = np.array(UNITS_7)
    sol = solve_joint_branches(_one_site(n_sites, UNITS_7), unit, np.ones(n_sites, dtype=bool),
                               min_members=3, max_members=50, max_units=max_units, threshold_min=20)
    assert sol.n_placed == placed and sol.open_sites.size == groups
    assert sol.method == "highs (gap 0.00%)"
    for j in sol.open_sites:
        g = sol.site == j
        assert 3 <= g.sum() <= 50 and np.unique(unit[g]).size <= max_units
    if max_units >= 2:
        assert (sol.site[:2] >= 0).all()  # unit A's two members are never the ones left out


def test_stations_preferred_and_walks_shortened() -> None:
    """Among equal placements a station wins, then the shorter walk."""
    # 4 members of 2 units; site 0 a candidate (2 min), site 1 a station (6 min), site 2 a station (4 min)
    cost = sp.csr_matrix(np.array([[2.0, 6.0, 4.0]] * 4))
    sol = solve_joint_branches(cost, np.array([0, 0, 1, 1]), np.array([False, True, True]), threshold_min=20)
    assert sol.n_placed == 4 and sol.open_sites.tolist() == [2]
    assert np.allclose(sol.minutes, 4.0)
    # beyond the threshold a pair does not count
    sol = solve_joint_branches(cost, np.array([0, 0, 1, 1]), np.array([False, True, True]), threshold_min=3)
    assert sol.open_sites.tolist() == [0]


def _pulp_max_members(cost: np.ndarray, unit: np.ndarray, m: int, big_m: int, u_max: int) -> int:
    """Solve the per-member binary model of the module docstring (members only) with CBC."""
    n, s = cost.shape
    pairs = [(i, j) for i in range(n) for j in range(s) if cost[i, j] > 0]
    prob = pulp.LpProblem("joint", pulp.LpMaximize)
    x = {p: pulp.LpVariable(f"x_{p[0]}_{p[1]}", cat="Binary") for p in pairs}
    y = {j: pulp.LpVariable(f"y_{j}", cat="Binary") for j in range(s)}
    z = {(j, b): pulp.LpVariable(f"z_{j}_{b}", cat="Binary") for j in range(s) for b in set(unit.tolist())}
    prob += pulp.lpSum(x.values())
    for i in range(n):
        prob += pulp.lpSum(x[p] for p in pairs if p[0] == i) <= 1
    for (i, j), v in x.items():
        prob += v <= z[j, int(unit[i])]
    for j in range(s):
        here = [x[p] for p in pairs if p[1] == j]
        prob += pulp.lpSum(z[j, b] for b in set(unit.tolist())) <= u_max * y[j]
        prob += pulp.lpSum(here) >= m * y[j]
        prob += pulp.lpSum(here) <= big_m * y[j]
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    return int(round(pulp.value(prob.objective) or 0))


@pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning")  # PuLP 3 deprecates its own API
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_aggregated_model_matches_the_per_member_model(seed: int) -> None:
    """The class-aggregated model places as many members as the per-member MILP (CBC)."""
    rng = np.random.default_rng(seed)
    n, s = 40, 6
    members_xy = rng.uniform(0, 3, (n, 2))
    sites_xy = rng.uniform(0, 3, (s, 2))
    minutes = np.hypot(*(members_xy[:, None, :] - sites_xy[None, :, :]).transpose(2, 0, 1)) * 12
    # coarse times, so that many members are interchangeable
    minutes = np.where(minutes <= 20, np.minimum(np.round(minutes / 5) * 5 + 1, 20), 0.0)
    unit = rng.integers(0, 9, n)
    sol = solve_joint_branches(sp.csr_matrix(minutes), unit, rng.random(s) < 0.5, min_members=3,
                               max_members=8, max_units=3, threshold_min=20)
    assert sol.n_placed == _pulp_max_members(minutes, unit, 3, 8, 3)
    for j in sol.open_sites:
        g = sol.site == j
        assert 3 <= g.sum() <= 8 and np.unique(unit[g]).size <= 3 and (minutes[g, j] > 0).all()


def test_unit_bound_on_the_real_network(walk_net) -> None:
    """7 dispersed members at one station from 6 small units, their branches far away."""
    station = (117.2031649, 28.2895714)  # 北街社区枫叶驿站
    far_away = (117.2397850, 28.2907838)  # 花园社区: far more than 20 minutes' walk
    rng = np.random.default_rng(7)
    lon = station[0] + rng.uniform(-2e-4, 2e-4, 7)
    lat = station[1] + rng.uniform(-2e-4, 2e-4, 7)
    members = pd.DataFrame({
        "id": [f"X{i}" for i in range(7)], "branch_id": [f"U{u}" for u in UNITS_7], "lon": lon,
        "lat": lat, "township": "雄石街道", "community": "北街社区", "walk_min_branch": 60.0,
        "network_status": "ok", "dispersed": True, "dispersion_reason": "cross_township;far",
        "member_city": "贵溪市",
    })
    branches = pd.DataFrame({"id": [f"U{u}" for u in range(6)], "lon": far_away[0], "lat": far_away[1],
                             "name": [f"单位{u}退休党支部" for u in range(6)]})
    sites = pd.DataFrame({"id": ["S03"], "name": ["北街社区枫叶驿站"], "kind": ["station"],
                          "lon": [station[0]], "lat": [station[1]]})
    recs, assignment = recommend_branches(members, branches, sites, walk_net, rules=RULES,
                                          thresholds=THRESHOLDS)
    joint = recs[recs["kind"] == "joint_branch"]
    assert len(joint) == 1 and joint.iloc[0]["n_members"] == 6
    assert joint.iloc[0]["name"] == "北街社区联合党支部"
    assert "5 ≤ 5 units" in joint.iloc[0]["rule"]
    assert {"X0", "X1"} <= set(_ids(joint.iloc[0]["member_ids"]))
    assert (assignment["kind"] == "joint_branch").sum() == 6 and (assignment["kind"] == "").sum() == 1
    assert set(recs["kind"]) == {"joint_branch"}  # the left-out member has no branch within 20 min


def test_input_errors_name_the_problem(walk_net) -> None:
    """Missing columns, duplicate ids and bad site kinds are reported together."""
    members = pd.DataFrame({"id": ["A", "A"], "branch_id": ["B", "B"], "lon": [117.2] * 2, "lat": [28.3] * 2})
    branches = pd.DataFrame({"id": ["B"], "name": ["b"], "lon": [117.2], "lat": [28.3]})
    sites = pd.DataFrame({"id": ["S"], "name": ["s"], "kind": ["shop"], "lon": [117.2], "lat": [28.3]})
    with pytest.raises(InputError) as err:
        recommend_branches(members, branches, sites, walk_net, rules=RULES, thresholds=THRESHOLDS)
    text = str(err.value)
    assert "dispersion_reason" in text and "member_city" in text
    assert "duplicate ids: A" in text and "'kind'" in text
    with pytest.raises(InputError, match="max_units"):
        solve_joint_branches(sp.csr_matrix((2, 2)), np.zeros(2, dtype=int), np.ones(2, dtype=bool),
                             max_units=0)
