"""Station planning: candidate sites, member weights, and the models' answers as recommendations.

Candidates are places a station could be hosted in — existing stations (always kept open),
OSM places named in the extract (community/quarter and village nodes, townhalls, schools,
community centres, libraries, parks, other public buildings) — plus road-network nodes in
areas no station reaches within the threshold (thinned to one per grid cell). Coverage
comes from ``travel.cost_matrix`` (sparse, cut off at the threshold); the models in
:mod:`geo_planner.siting.models` never see the road graph.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ..crs import local_xy
from ..geocode import Gazetteer, assign_admin_units
from ..network import RoadNetwork
from ..settings import Scenario
from ..travel import cost_matrix, nearest_facility
from ..vocab import IMPRECISE_LOCATION
from .budget import TimeBudget
from .models import get_model
from .result import SitingResult
from .schema import empty_recommendations, recommendation_row
from .stations import plan_stations

log = logging.getLogger(__name__)

#: OSM tags of places that could host an activity station.
HOST_TAGS = frozenset(
    {"amenity=townhall", "amenity=school", "amenity=community_centre", "amenity=social_facility",
     "amenity=library", "amenity=arts_centre", "amenity=college", "amenity=university",
     "leisure=park", "building=school", "building=office", "building=public", "office=government",
     "place=quarter", "place=village", "place=neighbourhood", "place=town"}
)


def member_weights(members: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Member weights: 离休 members and members aged 80+ weigh more (configurable)."""
    s = scenario.siting
    w = np.ones(len(members))
    if "status" in members:
        w *= np.where(members["status"].astype(str) == "lixiu", s.lixiu_weight, 1.0)
    if "age" in members:
        age = pd.to_numeric(members["age"], errors="coerce").to_numpy()
        w *= np.where(np.nan_to_num(age) >= 80, s.age80_weight, 1.0)
    return w


def station_candidates(
    stations: pd.DataFrame,
    gazetteer: Gazetteer,
    walk: RoadNetwork,
    *,
    station_walk_min: float,
    max_snap_m: float,
    grid_m: float = 200.0,
) -> pd.DataFrame:
    """Existing stations plus candidate host places and uncovered network nodes.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``name``, ``kind`` (``station``/``candidate``), ``source``
        (``existing``/``osm_place``/``network_node``), ``lon``, ``lat``, ``existing`` (bool);
        only sites on the network.
    """
    ex = pd.DataFrame({
        "id": stations["id"].astype(str), "name": stations["name"].astype(str), "kind": "station",
        "source": "existing", "lon": stations["lon"].astype(float), "lat": stations["lat"].astype(float),
        "existing": True,
    })
    e = gazetteer.entries
    hosts = e[e["tag"].isin(HOST_TAGS) & e["lon"].notna()].drop_duplicates(["name", "lon", "lat"])
    osm = pd.DataFrame({
        "id": [f"C{i + 1:04d}" for i in range(len(hosts))], "name": hosts["name"].astype(str).to_numpy(),
        "kind": "candidate", "source": "osm_place", "lon": hosts["lon"].to_numpy(float),
        "lat": hosts["lat"].to_numpy(float), "existing": False,
    })
    # network nodes beyond the threshold from every existing station, one per grid cell
    nodes = walk.snap(walk.node_lon, walk.node_lat, max_snap_m=max_snap_m)
    st = walk.snap(ex["lon"].to_numpy(), ex["lat"].to_numpy(), max_snap_m=max_snap_m)
    t = nearest_facility(walk, nodes, st).minutes
    far = np.flatnonzero(~(t <= station_walk_min))
    x, y = local_xy(walk.node_lon[far], walk.node_lat[far], np.nanmean(walk.node_lat))
    cell = np.c_[np.floor(x / grid_m), np.floor(y / grid_m)]
    _, first = np.unique(cell, axis=0, return_index=True)
    pick = far[np.sort(first)]
    net = pd.DataFrame({
        "id": [f"N{walk.node_osmid[i]}" for i in pick], "name": _node_names(walk, gazetteer, pick),
        "kind": "candidate", "source": "network_node", "lon": walk.node_lon[pick], "lat": walk.node_lat[pick],
        "existing": False,
    })
    cand = pd.concat([ex, osm, net], ignore_index=True)
    on = walk.snap(cand["lon"].to_numpy(), cand["lat"].to_numpy(), max_snap_m=max_snap_m).on_network
    on |= cand["existing"].to_numpy()  # existing stations stay, even off-network (they just cover no one)
    return cand[on].reset_index(drop=True)


def _node_names(walk: RoadNetwork, gazetteer: Gazetteer, nodes: np.ndarray) -> list[str]:
    """Readable names for network-node candidates: a street at the node and the nearest community."""
    named = walk.edge_name != ""
    ends = np.r_[walk.edge_u[named], walk.edge_v[named]]
    names = np.r_[walk.edge_name[named], walk.edge_name[named]]
    street = pd.Series(names, index=ends).groupby(level=0).first()
    units = assign_admin_units(walk.node_lon[nodes], walk.node_lat[nodes], gazetteer)
    out = []
    for k, n in enumerate(nodes):
        road = street.get(int(n), "")
        area = units["community"].iloc[k] or units["township"].iloc[k]
        label = f"{road}" if road else "无名道路"
        out.append(f"{label}·{area}附近" if area else f"{label}·节点{walk.node_osmid[n]}")
    return out


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.round(np.median(x), 2)) if x.size else float("nan")


def siting_members(members: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the members the station models consider (on the network, not remote).

    Remote members (异地) are left out: a station in their city is the remote branch's
    business, not the home city's station plan.
    """
    reason = members.get("dispersion_reason", pd.Series("", index=members.index)).fillna("").astype(str)
    return ((members["network_status"] == "ok") & ~reason.str.contains("remote")).to_numpy(bool)


def _station_costs(sub: pd.DataFrame, candidates: pd.DataFrame, walk: RoadNetwork, scenario: Scenario,
                   cost: Any) -> sparse.csr_matrix:
    """Member × candidate minutes cut off at 3× the threshold (from ``cost`` when given)."""
    cutoff = 3 * scenario.thresholds.station_walk_min
    if cost is None:
        max_snap = scenario.network.max_snap_m
        msnap = walk.snap(sub["lon"].to_numpy(float), sub["lat"].to_numpy(float), max_snap_m=max_snap)
        csnap = walk.snap(candidates["lon"].to_numpy(float), candidates["lat"].to_numpy(float), max_snap_m=max_snap)
        return cost_matrix(walk, msnap, csnap, cutoff)
    if cost.shape != (len(sub), len(candidates)):
        raise ValueError(f"cost matrix of shape {cost.shape} for {len(sub)} members × {len(candidates)} candidates")
    out = sparse.csr_matrix(cost, copy=True)
    if out.nnz and out.data.max() > cutoff + 1e-9:  # entries are minutes + 1e-9 (see cost_matrix)
        out.data[out.data > cutoff + 1e-9] = 0.0
        out.eliminate_zeros()
    return out


def recommend_stations(
    members: pd.DataFrame,
    candidates: pd.DataFrame,
    walk: RoadNetwork,
    scenario: Scenario,
    *,
    budget: TimeBudget | None = None,
    reserve: float = 0.0,
    progress: Callable[[str, float], None] | None = None,
    cost: Any = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run MCLP, LSCP and p-median and turn their new sites into recommendations.

    ``budget``, ``reserve`` and ``progress`` are passed to
    :func:`~geo_planner.siting.stations.plan_stations` (the stage's shared time limit).
    ``cost`` is the member × candidate walking minutes when already computed (the run's
    :func:`~geo_planner.decision.instance.siting_instance`: the same members and candidates, cut
    off at 3× the threshold or more); otherwise it is computed here.

    Remote members (异地) are left out: a station in their city is the remote branch's
    business, not the home city's station plan. So are members without a walking time —
    off the network, no location, or placed only to a township/county
    (``imprecise_location``, ``[geocode] min_precision_for_times``): a model must not place a
    station for a home known to ±10 km.

    Returns
    -------
    (recommendations, summary)
        ``new_station`` rows in the recommendations schema, and a per-model summary
        (objective, coverage before/after, method, status, gap, runtime) for ``run.json``.
    """
    thr = scenario.thresholds.station_walk_min
    use = siting_members(members)
    sub = members[use]
    if sub.empty or candidates.empty:
        return empty_recommendations(), {}
    cost = _station_costs(sub, candidates, walk, scenario, cost)
    cover = cost.copy()
    cover.data = (cover.data <= thr).astype(float)
    cover.eliminate_zeros()
    w = member_weights(sub, scenario)
    existing = candidates["existing"].to_numpy(bool)
    results = plan_stations(cover, w, scenario.siting, existing=existing, cost=cost, budget=budget,
                            reserve=reserve, progress=progress)
    before = sub["walk_min_station"].to_numpy(float)
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {
        "candidates": int(len(candidates)), "members_considered": int(len(sub)),
        "members_imprecise_excluded": int((members["network_status"] == IMPRECISE_LOCATION).sum()),
    }
    ids = sub["id"].astype(str).to_numpy()
    csr = cost.tocsr()
    for model, res in results.items():
        summary[model] = _summary(res)
        summary[model]["site_ids"] = candidates["id"].astype(str).iloc[res.selected].tolist()
        for j in res.selected:
            served = np.flatnonzero(res.member_site == j)
            if get_model(model).kind == "coverage":  # the members this site newly covers
                served = served[~(before[served] <= thr)]
            if served.size == 0:
                continue
            after = np.asarray(csr[served, j].todense()).ravel()
            c = candidates.iloc[int(j)]
            rows.append(_station_row(model, res, c, ids[served], before[served], after, thr))
    recs = pd.DataFrame(rows) if rows else empty_recommendations()
    return recs, summary


def _summary(res: SitingResult) -> dict[str, Any]:
    """A model's entry in ``run.json``: ``coverage_share`` is the members' share (as in ``tradeoff.csv``),
    ``weighted_coverage_share`` the weighted one (the objective of the covering models)."""
    n = int(res.member_site.size)
    covered = int((res.member_site >= 0).sum())
    return {
        "method": res.method, "status": res.status, "objective": round(float(res.objective), 4),
        "new_sites": int(res.selected.size), "coverage_share": round(covered / n, 4) if n else 0.0,
        "weighted_coverage_share": round(float(res.coverage_share), 4), "members_covered": covered,
        "covered_weight": round(float(res.covered_weight), 3), "total_weight": round(float(res.total_weight), 3),
        "coverable_weight": round(float(res.coverable_weight), 3),
        "gap": None if res.gap is None else round(float(res.gap), 6), "runtime_s": round(float(res.runtime_s), 3),
        "message": res.message,
    }


def _station_row(model: str, res: SitingResult, c: pd.Series, member_ids: np.ndarray, before: np.ndarray,
                 after: np.ndarray, thr: float) -> dict[str, Any]:
    n = int(member_ids.size)
    b, a = _median(before), _median(after)
    b_txt = "无法到达" if np.isnan(b) else f"{b:g} 分钟"
    b_en = "unreachable" if np.isnan(b) else f"{b:g} min"
    gap = "" if res.gap is None else f", gap {res.gap:.2%}"
    m = get_model(model)
    if m.kind == "cost":
        rule = f"{m.label_en}, {m.scope(res)}: minimises total weighted walk time (existing stations kept)"
        zh = f"按 {m.label_zh}模型，在{c['name']}新建驿站，{n} 名老干部的最近驿站将改为此处，步行中位时间由 {b_txt} 降至 {a:g} 分钟。"
        en = (f"{m.label_en}: a new station at {c['name']} becomes the nearest for {n} members; "
              f"median walk from {b_en} to {a:g} min.")
    else:
        rule = f"{m.label_en} ({m.scope(res)}): walk ≤ {thr:g} min; existing stations kept"
        zh = (f"按{m.label_zh}模型，在{c['name']}新建驿站，可使 {n} 名目前 {thr:g} 分钟步行范围内没有驿站的老干部"
              f"获得覆盖，步行中位时间由 {b_txt} 降至 {a:g} 分钟。")
        en = (f"{m.label_en.capitalize()}: a new station at {c['name']} brings {n} members without a station "
              f"within {thr:g} min into the {thr:g}-minute circle; median walk from {b_en} to {a:g} min.")
    return recommendation_row(
        kind="new_station", name=f"新建驿站（{c['name']}）", lon=float(c["lon"]), lat=float(c["lat"]),
        site_id=str(c["id"]), site_name=str(c["name"]), member_ids=";".join(member_ids),
        n_members=n, before_min=b, after_min=a,
        max_after_min=float(np.round(np.nanmax(after), 2)) if n else float("nan"),
        rule=rule, rationale_zh=zh, rationale_en=en, method=f"{model} · {res.method}{gap}",
    )
