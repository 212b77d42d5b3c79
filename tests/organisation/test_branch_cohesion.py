"""Neighbours of one branch stay together in the joint-branch model, on every bundled extract.

Planted on each real network (贵溪, 南京, 深圳龙岗): a neighbourhood *N* of 4 members of unit A
living at one spot between two stations S1 and S2 (both within reach of N), 3 members of unit B
who reach only S1 and 3 of unit C who reach only S2. A joint branch holds at most 5 members.
Without cohesion the model places all 10 by splitting N 2 + 2; with cohesion N stays together
and the model places 7 (N with nobody, B or C left out). Walking times are the real network's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from geo_planner.network import RoadNetwork, build_network
from geo_planner.organisation import cohesion_blocks, recommend_branches, solve_joint_branches
from geo_planner.settings import BranchSettings, Thresholds
from geo_planner.travel import cost_matrix

ROOT = Path(__file__).resolve().parents[2]


def _extract(name: str) -> Path:
    """A bundled extract: ``data/osm/`` first, else the shared copy next to the worktrees."""
    for cand in (ROOT / "data" / "osm" / name, ROOT.parent / "shared" / "data" / "osm" / name):
        if cand.exists():
            return cand
    pytest.skip(f"{name} is not bundled here")
    raise AssertionError  # pragma: no cover


EXTRACTS = ["guixi_jiangxi.osm", "nanjing_xuanwu.osm", "shenzhen_longgang.osm"]
T = 10.0  # branch_walk_min of the planted instance
RULES = BranchSettings(min_branch_members=3, max_branch_members=5, max_units_per_joint_branch=5,
                       cohesion_min=2.0)


@pytest.fixture(scope="module", params=EXTRACTS)
def net(request, cache_dir: Path) -> RoadNetwork:
    return build_network([_extract(request.param)], "walk", cache_dir=cache_dir)


def _node_minutes(net: RoadNetwork) -> np.ndarray:
    """All-pairs walking minutes between road nodes (the extracts have a few hundred nodes)."""
    return dijkstra(net.cost, directed=True) / 60.0


def _plant(net: RoadNetwork) -> dict[str, int]:
    """Find nodes N, S1, S2, B, C on the real network for the planted instance (1 min margins)."""
    t = _node_minutes(net)  # t[x, y]: walking minutes from node x to node y
    rng = np.random.default_rng(11)
    for n in rng.permutation(net.n_nodes)[:200]:
        both = np.flatnonzero(t[n] <= T - 1.0)
        for a in both:
            for b in both[t[a, both] > 6.0]:
                bb = np.flatnonzero((t[:, a] <= T - 1.0) & (t[:, b] > T + 1.0))
                cc = np.flatnonzero((t[:, b] <= T - 1.0) & (t[:, a] > T + 1.0))
                if bb.size and cc.size:
                    return {"N": int(n), "S1": int(a), "S2": int(b), "B": int(bb[0]), "C": int(cc[0])}
    pytest.fail("no planted configuration found on this network")
    raise AssertionError  # pragma: no cover


def _instance(net: RoadNetwork) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    p = _plant(net)
    far = int(np.argmax(np.hypot(net.node_lon - net.node_lon[p["N"]], net.node_lat - net.node_lat[p["N"]])))
    spots = ["N"] * 4 + ["B"] * 3 + ["C"] * 3
    units = ["A"] * 4 + ["B"] * 3 + ["C"] * 3
    jitter = np.arange(10) * 2e-6  # a few decimetres apart: neighbours
    members = pd.DataFrame({
        "id": [f"{u}{i}" for i, u in enumerate(units)], "branch_id": units,
        "lon": net.node_lon[[p[s] for s in spots]] + jitter, "lat": net.node_lat[[p[s] for s in spots]] + jitter,
        "walk_min_branch": 60.0, "network_status": "ok", "dispersed": True, "dispersion_reason": "far",
        "member_city": "本市",
    })
    branches = pd.DataFrame({"id": ["A", "B", "C"], "name": ["甲单位", "乙单位", "丙单位"],
                             "lon": net.node_lon[far], "lat": net.node_lat[far]})
    sites = pd.DataFrame({"id": ["S1", "S2"], "name": ["一号驿站", "二号驿站"], "kind": "station",
                          "lon": net.node_lon[[p["S1"], p["S2"]]], "lat": net.node_lat[[p["S1"], p["S2"]]]})
    return members, branches, sites


def _groups(recs: pd.DataFrame) -> list[set[str]]:
    joint = recs[recs["kind"] == "joint_branch"]
    return [set(s.split(";")) for s in joint["member_ids"]]


def test_planted_neighbourhood_stays_together(net: RoadNetwork) -> None:
    """With cohesion N's four members share one joint branch; without it they are split to place all 10."""
    members, branches, sites = _instance(net)
    n_ids = {"A0", "A1", "A2", "A3"}
    # the planted reachability holds on the real network
    snap = net.snap(members["lon"].to_numpy(), members["lat"].to_numpy())
    reach = cost_matrix(net, snap, net.snap(sites["lon"].to_numpy(), sites["lat"].to_numpy()), T).toarray() > 0
    assert reach[:4].all() and reach[4:7, 0].all() and not reach[4:7, 1].any()
    assert reach[7:, 1].all() and not reach[7:, 0].any()

    report: dict = {}
    recs, _ = recommend_branches(members, branches, sites, net, rules=RULES, thresholds=Thresholds(branch_walk_min=T),
                                 report=report)
    groups = _groups(recs)
    assert sum(len(g) for g in groups) == 7
    assert any(n_ids <= g for g in groups)  # N together …
    assert all(not (n_ids & g) or n_ids <= g for g in groups)  # … and never split
    jb = report["joint_branch"]
    assert jb["status"] == "optimal" and jb["placed"] == 7 and jb["bound"] == 7
    assert jb["neighbourhood_blocks"] == 3 and jb["blocks_split"] == 0

    loose = RULES.model_copy(update={"cohesion_min": 0.0})
    recs, _ = recommend_branches(members, branches, sites, net, rules=loose, thresholds=Thresholds(branch_walk_min=T))
    groups = _groups(recs)
    assert sum(len(g) for g in groups) == 10 and len(groups) == 2
    assert all(len(n_ids & g) == 2 for g in groups)  # the split cohesion forbids


def test_blocks_are_neighbours_of_one_unit(net: RoadNetwork) -> None:
    """Blocks link only members of one unit who walk to each other within cohesion_min."""
    rng = np.random.default_rng(5)
    k = rng.choice(net.n_nodes, 60)
    lon = net.node_lon[k] + rng.normal(0, 3e-5, 60)
    lat = net.node_lat[k] + rng.normal(0, 3e-5, 60)
    lon[:6], lat[:6] = lon[0] + np.arange(6) * 1e-5, lat[0]  # six of one unit next door to each other
    unit = np.r_[np.zeros(6, dtype=int), rng.integers(1, 5, 54)]
    snap = net.snap(lon, lat)
    block = cohesion_blocks(net, snap, unit, lon, lat, cohesion_min=2.0)
    assert (block[:6] >= 0).all() and np.unique(block[:6]).size == 1
    t = cost_matrix(net, snap, snap, 2.0).toarray()
    near = ((t > 0) | (t.T > 0)) & (unit[:, None] == unit[None, :])
    np.fill_diagonal(near, False)
    i, j = np.nonzero(near)
    assert (block[i] == block[j]).all() and (block[i] >= 0).all()  # neighbours share a block
    for b in np.unique(block[block >= 0]):
        assert np.unique(unit[block == b]).size == 1  # one unit per block
        assert (block == b).sum() >= 2


def test_solver_keeps_blocks_whole() -> None:
    """On a hand-made instance the model moves whole blocks, and splits only a block no site reaches."""
    # 6 members of unit 0 in two blocks of 3; 2 sites of capacity 4: blocks cannot share a site
    cost = sp.csr_matrix(np.array([[2.0, 3.0]] * 6))
    unit = np.zeros(6, dtype=int)
    sol = solve_joint_branches(cost, unit, np.ones(2, dtype=bool), min_members=3, max_members=4,
                               block=np.array([0, 0, 0, 1, 1, 1]))
    assert sol.n_placed == 6 and sol.open_sites.size == 2
    assert np.unique(sol.site[:3]).size == 1 and np.unique(sol.site[3:]).size == 1
    # a block whose members reach no common site is split into its members
    cost = sp.csr_matrix(np.array([[2.0, 0.0]] * 3 + [[0.0, 2.0]] * 3))
    sol = solve_joint_branches(cost, unit, np.ones(2, dtype=bool), min_members=3, max_members=4,
                               block=np.zeros(6, dtype=int))
    assert sol.blocks_split == 1 and sol.n_placed == 6
