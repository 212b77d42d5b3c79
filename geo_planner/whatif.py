"""What-if on a finished run: the coverage of an edited station set, exactly, in a fraction of a second.

A planner's questions after a run — "and with a station at the 老年大学 on 建设路?", "and if the
花园社区 驿站 closes?", "and with a 10-minute circle?" — are answered on the run as it sits in
memory (:class:`WhatIfBase`: its networks, every member's snapped position and walk to the
current stations), **exactly** as a full re-run with the edited stations table would answer
them (same members, same snaps, same arithmetic), without running the pipeline again:

* **add** stations (by lon/lat): one multi-source Dijkstra on the reversed walking graph from the
  new stations' virtual nodes, bounded by the longest current walk (a node farther than that from
  the new stations cannot shorten anyone's walk), then ``min(current, new)`` for every member with
  numpy — the same minimum the full run's one Dijkstra over all stations takes, because adding a
  time to a minimum distributes over it (floating-point addition is monotone);
* **close** stations (by id; a **move** is a close plus an add): the walk to the nearest of the
  remaining stations is not a minimum of anything kept, so it is measured again with the full
  run's own function (:func:`geo_planner.travel.nearest_facility`, one Dijkstra over the
  remaining and added stations, no snapping);
* a **threshold** change only re-reads the walks against the new limit.

The answer (:class:`WhatIfResult`) is the run's own figures for the edited set: members
considered by the station models (on the network, not remote), those covered, the coverage share
and the weighted share (离休, 80+: :func:`geo_planner.siting.plan.member_weights`), members newly
covered / uncovered, coverage by 街道/社区 (the rule of ``coverage_by_area``: shares over members
with a precise location), equity (:func:`geo_planner.decision.equity.equity_figures`) and the service
area of each added station (GeoJSON). Bad input raises :class:`~geo_planner.errors.InputError`
with one problem per field (a point off the network, an unknown station id, a non-finite number).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components, dijkstra

from .coverage import IMPRECISE, UNASSIGNED_AREA
from .decision.equity import equity_figures
from .errors import InputError, Problem
from .network import Snap
from .privacy import MIN_GROUP, is_viewer
from .results import LoadedRun, RunSource, read_table
from .siting.plan import member_weights, siting_members
from .travel import (
    STATUS_OK,
    _augmented_reverse,
    _combine,
    _pairs_on_same_edge,
    _same_edge_seconds,
    nearest_facility,
)
from .vocab import Role

log = logging.getLogger(__name__)

__all__ = ["NewStation", "WhatIfBase", "WhatIfResult", "prepare_whatif", "what_if"]

#: Where an input error of a what-if request points (``Problem.file``).
REQUEST = "request"
#: Prefix of the ids given to added stations that come without one.
NEW_ID_PREFIX = "W"


@dataclass(frozen=True)
class NewStation:
    """A station added in a what-if (WGS-84 degrees); ``id`` defaults to ``W1``, ``W2`` …."""

    lon: float
    lat: float
    name: str = ""
    id: str = ""


@dataclass(frozen=True, eq=False)
class WhatIfBase:
    """A finished run prepared for what-ifs (built once per run, a second or so for 56,000 members).

    Attributes
    ----------
    run
        The loaded run (networks, facility tables, scenario).
    member_ids
        Ids of all the run's members (``members.csv`` order).
    snap
        Every member's position on the walking network; members without a walk in the run
        (off the network, no location, placed only to a township) are off it here too.
    considered
        Members the station models consider (on the network, not remote): the headline figures.
    precise
        Members with a precise enough location (the denominators of the shares by area).
    weights
        Member weights (0 outside ``considered``).
    station_ids, station_snap
        The run's stations and where they meet the network.
    minutes
        Each member's walk to the nearest current station (``inf``: no time), exactly as the run measured it.
    part, limit_s
        Weakly connected part of the walking network of each road node, and per part the bound of
        an added station's search, seconds: the longest current walk of a member in that part
        (``inf`` when one of them reaches no station). A node farther than that from the new
        station cannot shorten anyone's walk; members in other parts cannot reach it at all.
    township, community, area_names
        Area codes of each member (``township`` indexes ``area_names[0]``, ``community`` ``area_names[1]``,
        whose entries are ``(township, community)``).
    before
        The run's own figures (:func:`what_if` without edits), for before/after.
    memo
        What a caller keeps with the prepared run (the service: its siting instance, read once).
    """

    run: LoadedRun
    member_ids: np.ndarray
    snap: Snap
    considered: np.ndarray
    precise: np.ndarray
    weights: np.ndarray
    station_ids: np.ndarray
    station_snap: Snap
    minutes: np.ndarray
    part: np.ndarray
    limit_s: np.ndarray
    township: np.ndarray
    community: np.ndarray
    area_names: tuple[np.ndarray, np.ndarray]
    before: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold_min(self) -> float:
        """The run's station walking threshold, minutes."""
        return float(self.run.scenario.thresholds.station_walk_min)


@dataclass(frozen=True, eq=False)
class WhatIfResult:
    """The coverage of an edited station set (see :func:`what_if`).

    ``figures`` is the JSON-ready answer; ``minutes`` and ``covered`` are per member (aligned
    with :attr:`WhatIfBase.member_ids`), for tests and maps.
    """

    figures: dict[str, Any]
    minutes: np.ndarray
    covered: np.ndarray


def prepare_whatif(store: RunSource, run_id: str, run: LoadedRun) -> WhatIfBase:
    """Prepare a loaded run for what-ifs: members snapped, walks to the current stations measured.

    The members are snapped as the run snapped them (the points of ``members.csv``; members
    the run gave no walk keep none) and their walk to the nearest station is measured with the
    run's own function, so every later answer starts from the run's exact numbers.

    Parameters
    ----------
    store
        The store holding the run.
    run_id
        The run.
    run
        The run loaded (:func:`geo_planner.results.load_run`).

    Returns
    -------
    WhatIfBase
    """
    members = read_table(store, run_id, "members")
    return whatif_base(run, members)


def whatif_base(run: LoadedRun, members: pd.DataFrame) -> WhatIfBase:
    """Build a :class:`WhatIfBase` from a loaded run and its members table (``members.csv``)."""
    walk, sc = run.walk, run.scenario
    max_snap = sc.network.max_snap_m
    status = members.get("network_status", pd.Series(STATUS_OK, index=members.index)).fillna("").astype(str)
    timed = (status == STATUS_OK).to_numpy()
    lon = np.where(timed, pd.to_numeric(members["lon"], errors="coerce").to_numpy(float), np.nan)
    lat = np.where(timed, pd.to_numeric(members["lat"], errors="coerce").to_numpy(float), np.nan)
    snap = walk.snap(lon, lat, max_snap_m=max_snap)
    stations = run.tables.stations
    st_snap = walk.snap(stations["lon"].to_numpy(float), stations["lat"].to_numpy(float), max_snap_m=max_snap)
    minutes = _as_inf(nearest_facility(walk, snap, st_snap).minutes)
    considered = siting_members(members.assign(network_status=status))
    weights = np.where(considered, member_weights(members, sc), 0.0)
    twp = (
        members.get("township", pd.Series("", index=members.index))
        .fillna("")
        .astype(str)
        .replace("", UNASSIGNED_AREA)
    )
    com = (
        members.get("community", pd.Series("", index=members.index))
        .fillna("")
        .astype(str)
        .replace("", UNASSIGNED_AREA)
    )
    t_code, t_names = pd.factorize(twp.to_numpy(), sort=True)
    pairs = pd.MultiIndex.from_arrays([twp.to_numpy(), com.to_numpy()])
    c_code, c_names = pd.factorize(pairs, sort=True)
    n_parts, part = connected_components(walk.cost, directed=True, connection="weak")
    on = np.flatnonzero(snap.on_network)
    worst = np.zeros(n_parts)
    np.maximum.at(worst, part[walk.edge_u[snap.edge[on]]], minutes[on] * 60.0)  # inf stays inf
    limit_s = worst * (1 + 1e-9) + 1e-3  # minutes → seconds may round down: a margin
    base = WhatIfBase(
        run=run,
        member_ids=members["id"].astype(str).to_numpy(),
        snap=snap,
        considered=considered,
        precise=(status != IMPRECISE).to_numpy(),
        weights=weights,
        station_ids=stations["id"].astype(str).to_numpy(),
        station_snap=st_snap,
        minutes=minutes,
        part=part,
        limit_s=limit_s,
        township=t_code,
        community=c_code,
        area_names=(np.asarray(t_names, dtype=object), np.asarray(list(c_names), dtype=object)),
    )
    _check_against_table(base, members)
    before = _figures(base, minutes, base.threshold_min)
    before.pop("by_area")
    base.before.update(before)
    return base


def _as_inf(minutes: np.ndarray) -> np.ndarray:
    out = np.asarray(minutes, dtype=float).copy()
    out[np.isnan(out)] = np.inf
    return out


def _check_against_table(base: WhatIfBase, members: pd.DataFrame) -> None:
    """Warn when the walks measured now differ from the run's (``members.csv`` keeps 2 decimals)."""
    if "walk_min_station" not in members:
        return
    table = pd.to_numeric(members["walk_min_station"], errors="coerce").to_numpy(float)
    now = np.round(np.where(np.isfinite(base.minutes), base.minutes, np.nan), 2)
    same = (np.isnan(table) & np.isnan(now)) | (np.abs(table - now) <= 0.0101)
    if not same.all():
        log.warning(
            "run %s: %d members' walks to the stations differ from members.csv (first: %s)",
            base.run.run_id,
            int((~same).sum()),
            base.member_ids[~same][:3].tolist(),
        )


# --------------------------------------------------------------------------- the edit


def what_if(
    base: WhatIfBase,
    *,
    add: Sequence[NewStation] = (),
    close: Sequence[str] = (),
    move: Sequence[NewStation] = (),
    station_walk_min: float | None = None,
    role: Role = "planner",
    service_areas: bool = True,
) -> WhatIfResult:
    """Coverage of the run's stations with ``close`` removed and ``add`` added, at ``station_walk_min``.

    Parameters
    ----------
    base
        The run prepared by :func:`prepare_whatif`.
    add
        Stations to add (WGS-84); each must lie within ``[network] max_snap_m`` of a road.
    close
        Ids of the run's stations to close.
    move
        Stations of the run (by ``id``) put elsewhere: closed, and added at the new point under
        the same id (and name, unless one is given).
    station_walk_min
        The walking threshold, minutes (default: the run's).
    role
        ``viewer``: areas of fewer than ``privacy.MIN_GROUP`` members show no figures, and no member ids.
    service_areas
        Draw each added station's service area (GeoJSON).

    Returns
    -------
    WhatIfResult
        ``figures``: ``members_considered``, ``covered_station``, ``coverage_share``,
        ``weighted_coverage_share``, ``newly_covered``, ``newly_uncovered`` (all members with a
        walk), ``by_area``, ``equity``, ``before`` (the run's own figures), ``added``,
        ``closed``, ``service_areas`` (a FeatureCollection), ``station_walk_min``,
        ``dijkstra`` (how the walks were measured), ``elapsed_ms``; planners also get
        ``newly_covered_ids`` / ``newly_uncovered_ids``.

    Raises
    ------
    InputError
        One problem per bad field: ``station_walk_min`` not a positive finite number,
        ``add_stations[i]`` not finite or farther than ``max_snap_m`` from every road,
        ``close_stations[i]`` / ``move_stations[i]`` not a station of the run.
    """
    t0 = time.perf_counter()
    thr, keep, added, new = _checked(base, add, close, move, station_walk_min)
    minutes, how = _walks(base, keep, added)
    covered = minutes <= thr
    out = _figures(base, minutes, thr, role=role)
    was = base.minutes <= base.threshold_min
    newly, lost = covered & ~was, was & ~covered
    out.update(
        {
            "newly_covered": int(newly.sum()),
            "newly_uncovered": int(lost.sum()),
            "before": base.before,
            "added": [{"id": s.id, "name": s.name, "lon": s.lon, "lat": s.lat} for s in new],
            "closed": [str(i) for i in base.station_ids[~keep]],
            "dijkstra": how,
        }
    )
    if not is_viewer(role):
        out["newly_covered_ids"] = base.member_ids[newly].tolist()
        out["newly_uncovered_ids"] = base.member_ids[lost].tolist()
    out["service_areas"] = _service_areas(base, new, thr) if service_areas and new else _features([])
    out["elapsed_ms"] = round((time.perf_counter() - t0) * 1000.0, 1)
    return WhatIfResult(figures=out, minutes=minutes, covered=covered)


def _checked(
    base: WhatIfBase,
    add: Sequence[NewStation],
    close: Sequence[str],
    move: Sequence[NewStation],
    station_walk_min: float | None,
) -> tuple[float, np.ndarray, Snap, list[NewStation]]:
    """Check the request (every problem at once); return threshold, kept stations, added snaps, stations."""
    problems: list[Problem] = []
    thr = base.threshold_min if station_walk_min is None else station_walk_min
    if not (isinstance(thr, (int, float)) and math.isfinite(thr) and thr > 0):
        problems.append(
            Problem(REQUEST, None, "station_walk_min", f"{thr!r} is not a positive number of minutes")
        )
    keep, moved = _closed(base, close, move, problems)
    asked = [(f"add_stations[{k}]", s) for k, s in enumerate(add)] + moved
    new, fields = _opened(base, asked, keep, problems)
    max_snap = base.run.scenario.network.max_snap_m
    added = base.run.walk.snap(
        np.array([s.lon for s in new], float), np.array([s.lat for s in new], float), max_snap_m=max_snap
    )
    for k in np.flatnonzero(~added.on_network):
        problems.append(
            Problem(
                REQUEST,
                None,
                f"{fields[k]}.lon,lat",
                f"({new[k].lon:g}, {new[k].lat:g}) is farther than {max_snap:g} m from every road of "
                "this run's walking network; put the station on a road",
            )
        )
    if problems:
        raise InputError(problems)
    return float(thr), keep, added, new


def _closed(
    base: WhatIfBase, close: Sequence[str], move: Sequence[NewStation], problems: list[Problem]
) -> tuple[np.ndarray, list[tuple[str, NewStation]]]:
    """Return the stations kept (closed and moved ones off) and the moved ones at their new points."""
    keep = np.ones(base.station_ids.size, dtype=bool)
    known = pd.Index(base.station_ids)
    names = base.run.tables.stations["name"].fillna("").astype(str).to_numpy()
    moved: list[tuple[str, NewStation]] = []
    asked = [(f"close_stations[{k}]", sid, None) for k, sid in enumerate(close)]
    asked += [(f"move_stations[{k}].id", s.id, s) for k, s in enumerate(move)]
    for field_name, sid, target in asked:
        pos = known.get_indexer([str(sid)])[0]
        if pos < 0:
            sample = ", ".join(base.station_ids[:5].tolist())
            reason = f"no station {sid!r} in this run (its stations: {sample}…)"
            problems.append(Problem(REQUEST, None, field_name, reason))
            continue
        keep[pos] = False
        if target is not None:
            station = NewStation(target.lon, target.lat, target.name or names[pos], str(sid))
            moved.append((field_name.removesuffix(".id"), station))
    return keep, moved


def _opened(
    base: WhatIfBase, asked: list[tuple[str, NewStation]], keep: np.ndarray, problems: list[Problem]
) -> tuple[list[NewStation], list[str]]:
    """Return the stations to open (finite points; ids ``W1``… when none given) and each one's field."""
    new: list[NewStation] = []
    fields: list[str] = []
    taken = set(base.station_ids[keep].tolist())
    for name, s in asked:
        if not (math.isfinite(s.lon) and math.isfinite(s.lat)):
            reason = f"({s.lon}, {s.lat}) is not a finite WGS-84 point"
            problems.append(Problem(REQUEST, None, f"{name}.lon,lat", reason))
            continue
        sid = s.id or _free_id(taken)
        if sid in taken:
            reason = f"station id {sid!r} is already open in this run"
            problems.append(Problem(REQUEST, None, f"{name}.id", reason))
        taken.add(sid)
        new.append(NewStation(lon=float(s.lon), lat=float(s.lat), name=s.name or sid, id=sid))
        fields.append(name)
    return new, fields


def _free_id(taken: set[str]) -> str:
    k = 1
    while f"{NEW_ID_PREFIX}{k}" in taken:
        k += 1
    return f"{NEW_ID_PREFIX}{k}"


def _join(a: Snap, b: Snap) -> Snap:
    return Snap(
        np.r_[a.edge, b.edge],
        np.r_[a.frac, b.frac],
        np.r_[a.access_m, b.access_m],
        np.r_[a.on_network, b.on_network],
        np.r_[a.located, b.located],
    )


def _walks(base: WhatIfBase, keep: np.ndarray, added: Snap) -> tuple[np.ndarray, dict[str, Any]]:
    """Every member's walk to the nearest station of the edited set, minutes (``inf``: none)."""
    walk = base.run.walk
    n_added = int(added.edge.shape[0])
    if keep.all():
        if n_added == 0:
            return base.minutes.copy(), {"searches": 0, "limit_min": None}
        new, limit_s = _added_walks(base, added)
        return np.minimum(base.minutes, new), {
            "searches": 1,
            "sources": n_added,
            "limit_min": None if not math.isfinite(limit_s) else round(limit_s / 60.0, 2),
        }
    # a closed station: the remaining and added stations measured again, as the run measures them
    fac = _join(base.station_snap.subset(np.flatnonzero(keep)), added)
    minutes = _as_inf(nearest_facility(walk, base.snap, fac).minutes)
    return minutes, {"searches": 1, "sources": int(fac.on_network.sum()), "limit_min": None}


def _added_walks(base: WhatIfBase, added: Snap) -> tuple[np.ndarray, float]:
    """Return walks to the nearest added station (exact where they could beat a walk now) and the bound."""
    walk = base.run.walk
    limit_s = float(base.limit_s[base.part[walk.edge_u[added.edge[added.on_network]]]].max())
    graph, virt = _augmented_reverse(walk, added)
    dist = dijkstra(graph, directed=True, indices=virt[virt >= 0], min_only=True, limit=limit_s)
    on = np.flatnonzero(base.snap.on_network)
    sub = base.snap.subset(on)
    e = sub.edge
    secs, _ = _combine(walk, sub, dist[walk.edge_u[e]], dist[walk.edge_v[e]])
    pm, pf = _pairs_on_same_edge(sub, added)
    if pm.size:
        np.minimum.at(secs, pm, _same_edge_seconds(walk, sub, added, pm, pf))
    out = np.full(base.snap.edge.shape[0], np.inf)
    out[on] = secs / 60.0
    return out, limit_s


# --------------------------------------------------------------------------- the figures


def _share(num: float, den: float) -> float | None:
    return round(float(num) / float(den), 4) if den > 0 else None


def _figures(base: WhatIfBase, minutes: np.ndarray, thr: float, *, role: Role = "planner") -> dict[str, Any]:
    """Headline figures, equity and coverage by area of one set of walks."""
    covered = minutes <= thr
    cons = base.considered
    w = base.weights
    eq = equity_figures(minutes[cons], thr)
    return {
        "station_walk_min": thr,
        "members_considered": int(cons.sum()),
        "covered_station": int((covered & cons).sum()),
        "coverage_share": _share((covered & cons).sum(), cons.sum()),
        "weighted_coverage_share": _share(float(w[covered & cons].sum()), float(w[cons].sum())),
        "equity": {
            k: eq[k] for k in ("n", "n_unreachable", "gini", "share_beyond", "p90_min", "mean_min", "max_min")
        },
        "by_area": _by_area(base, covered, role),
    }


def _by_area(base: WhatIfBase, covered: np.ndarray, role: Role) -> list[dict[str, Any]]:
    """Coverage per 街道 and 社区 as ``coverage_by_area`` counts it (shares over precise locations)."""
    was = base.minutes <= base.threshold_min
    rows: list[dict[str, Any]] = []
    viewer = is_viewer(role)
    for level, code, names in (
        ("township", base.township, base.area_names[0]),
        ("community", base.community, base.area_names[1]),
    ):
        k = len(names)
        members = np.bincount(code, minlength=k)
        precise = np.bincount(code, weights=base.precise, minlength=k)
        hit = np.bincount(code, weights=covered & base.precise, minlength=k)
        hit0 = np.bincount(code, weights=was & base.precise, minlength=k)
        for i in range(k):
            twp, area = (names[i], names[i]) if level == "township" else names[i]
            share, before = _share(hit[i], precise[i]), _share(hit0[i], precise[i])
            small = viewer and members[i] < MIN_GROUP
            rows.append(
                {
                    "level": level,
                    "area": str(area),
                    "township": str(twp),
                    "members": None if small else int(members[i]),
                    "covered": None if small or (viewer and 0 < hit[i] < MIN_GROUP) else int(hit[i]),
                    "coverage_share": None if small else share,
                    "before_share": None if small else before,
                    "change": None if small or share is None or before is None else round(share - before, 4),
                    "suppressed": bool(small),
                }
            )
    rows.sort(
        key=lambda r: (
            r["level"] != "township",
            math.inf if r["coverage_share"] is None else r["coverage_share"],
            -(r["members"] or 0),
        )
    )
    return rows


def _features(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _service_areas(base: WhatIfBase, new: list[NewStation], thr: float) -> dict[str, Any]:
    """Each added station's service area (network isochrone at ``thr``), as GeoJSON."""
    from .maps.service_areas import service_areas

    areas = service_areas(
        base.run.walk,
        [s.lon for s in new],
        [s.lat for s in new],
        thr,
        ids=[s.id for s in new],
        max_snap_m=base.run.scenario.network.max_snap_m,
    )
    areas["name"] = [s.name for s in new]
    return json.loads(areas.to_json(drop_id=True))
