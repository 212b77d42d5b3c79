"""A home-visit plan from a finished run's members and drive network.

:func:`plan_visits` selects the members (:mod:`.select`), snaps the offices and the homes to the
drive network, times every pair of stops (:func:`.matrix.drive_seconds`: the hospital analysis's
times), sets apart who cannot be routed (with the reason), and routes the rest with PyVRP
(:mod:`.solve`). The answer is an immutable :class:`VisitPlan`: ``visits`` (one row per departure,
home visit and return, in order), ``unvisited`` (each selected member not visited, with the reason)
and ``summary`` (the figures of ``visits.json``). Every selected member is in exactly one of the two.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..network import RoadNetwork, Snap
from ..settings import VisitSettings, parse_span
from .matrix import drive_seconds, leg_lines
from .select import select_members, unroutable_reason
from .solve import Instance, Shift, Solution, drive_total_s, fits_alone, solve_vrptw

log = logging.getLogger(__name__)

#: Columns of ``visits.csv``, in this order.
VISIT_COLUMNS: Final = ("visitor", "day", "order", "stop", "member_id", "arrive", "leave", "drive_min",
                        "wait_min", "office", "span")
#: Columns of ``unvisited.csv``.
UNVISITED_COLUMNS: Final = ("member_id", "name", "reason")
#: Most homes one plan routes (the drive-time matrix holds every pair: 5,000² × 8 bytes = 200 MB).
MAX_HOMES: Final = 5_000
#: Member columns the printed sheets and the map show (those the run has).
MEMBER_DETAIL: Final = ("id", "name", "address", "phone", "status", "age", "lon", "lat")


@dataclass(frozen=True)
class Offices:
    """The offices resolved to coordinates, with their cars, days and working spans."""

    names: tuple[str, ...]
    lon: np.ndarray
    lat: np.ndarray
    shifts: tuple[Shift, ...]


@dataclass(frozen=True)
class VisitPlan:
    """A visit plan (see the module docstring).

    Attributes
    ----------
    visits, unvisited
        The two tables (:data:`VISIT_COLUMNS`, :data:`UNVISITED_COLUMNS`).
    summary
        Visits planned, drive minutes in total and per visitor, the solver's status, bound and gap.
    members
        The selected members' details (:data:`MEMBER_DETAIL`), indexed by ``id``.
    stops_lon, stops_lat, stops_snap, stop_ids, n_offices
        The routed stops (``n_offices`` offices first, then homes): where they are, their snaps on the drive
        network and their ids (office name or member id), for drawing the routes.
    instance, solution
        What the solver was given (the homes that fit a shift on their own) and its answer.
    legs
        Per row of ``visits``, the ``(from, to)`` stop indices of its leg (``(-1, -1)`` for departures).
    """

    visits: pd.DataFrame
    unvisited: pd.DataFrame
    summary: dict[str, Any]
    members: pd.DataFrame
    stops_lon: np.ndarray
    stops_lat: np.ndarray
    stops_snap: Snap
    stop_ids: tuple[str, ...]
    legs: tuple[tuple[int, int], ...]
    n_offices: int
    instance: Instance
    solution: Solution


def resolve_offices(
    settings: VisitSettings, stations: pd.DataFrame | None = None, branches: pd.DataFrame | None = None,
) -> Offices:
    """The offices of ``[visits] offices`` with coordinates (a ``site`` is a station's or branch's id).

    Raises
    ------
    InputError
        No office, or a site id the run does not hold (every such office named).
    """
    if not settings.offices:
        raise InputError(Problem("[visits]", None, "offices",
                                 "name at least one office the cars leave from (name with lon/lat, or site)"))
    sites = pd.concat([t[["id", "lon", "lat"]] for t in (stations, branches) if t is not None and "id" in t],
                      ignore_index=True) if any(t is not None for t in (stations, branches)) else None
    problems, lon, lat, shifts = [], [], [], []
    for i, off in enumerate(settings.offices):
        x, y = off.lon, off.lat
        if off.site is not None:
            hit = None if sites is None else sites[sites["id"].astype(str) == off.site]
            if hit is None or hit.empty or not np.isfinite(float(hit["lon"].iloc[0])):
                problems.append(Problem("[visits]", None, f"offices[{i}].site",
                                        f"no located station or branch {off.site!r} in this run"))
                x = y = math.nan
            else:
                x, y = float(hit["lon"].iloc[0]), float(hit["lat"].iloc[0])
        lon.append(x)
        lat.append(y)
        spans = [parse_span(h) for h in off.hours]
        shifts += [Shift(i, d + 1, s, a * 60, b * 60, off.visitors) for d in range(off.days)
                   for s, (a, b) in enumerate(spans)]
    if problems:
        raise InputError(problems)
    return Offices(tuple(o.name for o in settings.offices), np.array(lon, float), np.array(lat, float),
                   tuple(shifts))


def _windows(ids: pd.Series, settings: VisitSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per member, the span (seconds of the day) in which the visit must start."""
    default = parse_span(settings.window) if settings.window else (0, 24 * 60)
    spans = [parse_span(settings.member_windows[i]) if i in settings.member_windows else default
             for i in ids.astype(str)]
    arr = np.array(spans, dtype=np.int64).reshape(-1, 2) * 60
    return arr[:, 0], arr[:, 1]


def plan_visits(
    members: pd.DataFrame,
    drive: RoadNetwork,
    settings: VisitSettings,
    *,
    stations: pd.DataFrame | None = None,
    branches: pd.DataFrame | None = None,
    max_snap_m: float = 500.0,
    seed: int = 0,
    source: str = "members.csv",
) -> VisitPlan:
    """Plan the home visits of a run's members (see the module docstring).

    Parameters
    ----------
    members
        The run's members (``members.csv``, flags parsed).
    drive
        The run's drive network.
    settings
        ``[visits]``.
    stations, branches
        The run's facility tables (for offices given by ``site``).
    max_snap_m
        The run's ``[network] max_snap_m``.
    seed
        The solver's seed.
    source
        The members' file, named in errors.

    Returns
    -------
    VisitPlan

    Raises
    ------
    InputError
        No office, an unknown site or member id, an office away from every drivable road.
    """
    t0 = time.perf_counter()
    offices = resolve_offices(settings, stations, branches)
    members = members.reset_index(drop=True)
    chosen = members[select_members(members, settings, source).to_numpy(bool)].reset_index(drop=True)
    reason = unroutable_reason(chosen)
    routed = chosen[reason.eq("").to_numpy(bool)].reset_index(drop=True)
    if len(routed) > MAX_HOMES:
        raise InputError(Problem("[visits]", None, "select",
                                 f"{len(routed):,} members to route; plan at most {MAX_HOMES:,} homes "
                                 "at once (narrow the rules or split by office)"))
    lon = np.r_[offices.lon, pd.to_numeric(routed["lon"], errors="coerce").to_numpy(float)]
    lat = np.r_[offices.lat, pd.to_numeric(routed["lat"], errors="coerce").to_numpy(float)]
    snap = drive.snap(lon, lat, max_snap_m=max_snap_m)
    off_road = np.flatnonzero(~snap.on_network[: len(offices.names)])
    if off_road.size:
        raise InputError([Problem("[visits]", None, f"offices[{i}]",
                                  f"{offices.names[i]!r} lies more than {max_snap_m:g} m from every "
                                  "drivable road of this run") for i in off_road])
    seconds = drive_seconds(drive, snap)
    t_matrix = time.perf_counter() - t0
    early, late = _windows(routed["id"], settings)
    o = len(offices.names)
    inst = Instance(seconds, o, np.full(len(routed), int(round(settings.duration_min * 60)), np.int64),
                    early, late, offices.shifts)
    reach = np.isfinite(seconds[:o, o:]).any(axis=0) & np.isfinite(seconds[o:, :o]).any(axis=1)
    fits = fits_alone(inst)
    why = np.where(~snap.on_network[o:], "off_network", np.where(~reach, "unreachable",
                                                                 np.where(~fits, "outside_hours", "")))
    todo = np.flatnonzero(why == "")
    sub = Instance(seconds[np.ix_(np.r_[np.arange(o), o + todo], np.r_[np.arange(o), o + todo])], o,
                   inst.service_s[todo], early[todo], late[todo], offices.shifts)
    sol = solve_vrptw(sub, time_limit_s=settings.time_limit_s, seed=seed)
    why[todo[sol.unplanned]] = "no_capacity"
    visits, legs = _visit_rows(sub, sol, offices.names, routed["id"].astype(str).to_numpy()[todo], todo + o)
    unvisited = _unvisited(chosen, reason, routed, why)
    summary = _summary(sub, sol, visits, unvisited, len(chosen), settings, t_matrix, time.perf_counter() - t0)
    detail = chosen[[c for c in MEMBER_DETAIL if c in chosen.columns]].copy()
    detail["id"] = detail["id"].astype(str)
    return VisitPlan(visits, unvisited, summary, detail.set_index("id", drop=False), lon, lat, snap,
                     tuple(offices.names) + tuple(routed["id"].astype(str)), legs, o, sub, sol)


def clock(seconds: float) -> str:
    """``HH:MM`` of a second of the day, rounded to the minute."""
    m = int(round(seconds / 60.0))
    return f"{m // 60:02d}:{m % 60:02d}"


def _visit_rows(
    inst: Instance, sol: Solution, office_names: tuple[str, ...], member_ids: np.ndarray,
    stop_of_home: np.ndarray,
) -> tuple[pd.DataFrame, tuple[tuple[int, int], ...]]:
    """The rows of ``visits.csv`` (times from the float drive seconds) and each row's leg in plan stops."""
    o = inst.n_offices
    rows: list[dict[str, Any]] = []
    legs: list[tuple[int, int]] = []
    car: dict[tuple[int, int, int], int] = {}
    for r in sorted(sol.routes, key=lambda r: (r.shift.office, r.shift.day, r.shift.span)):
        key = (r.shift.office, r.shift.day, r.shift.span)
        car[key] = car.get(key, 0) + 1
        visitor = f"{office_names[r.shift.office]}-{car[key]}"
        base = {"visitor": visitor, "day": r.shift.day, "office": office_names[r.shift.office],
                "span": r.shift.span + 1}
        t, at, at_plan = r.depart_s, r.shift.office, r.shift.office
        rows.append({**base, "order": 0, "stop": "depart", "member_id": "", "arrive": clock(t),
                     "leave": clock(t), "drive_min": 0.0, "wait_min": 0.0})
        legs.append((-1, -1))
        for n, k in enumerate(r.homes, start=1):
            drive = float(inst.seconds[at, o + k])
            arrive = t + drive
            start = max(arrive, float(inst.early_s[k]))
            t = start + float(inst.service_s[k])
            rows.append({**base, "order": n, "stop": "visit", "member_id": member_ids[k],
                         "arrive": clock(arrive), "leave": clock(t), "drive_min": round(drive / 60.0, 1),
                         "wait_min": round((start - arrive) / 60.0, 1)})
            legs.append((at_plan, int(stop_of_home[k])))
            at, at_plan = o + k, int(stop_of_home[k])
        drive = float(inst.seconds[at, r.shift.office])
        rows.append({**base, "order": len(r.homes) + 1, "stop": "return", "member_id": "",
                     "arrive": clock(t + drive), "leave": clock(t + drive),
                     "drive_min": round(drive / 60.0, 1), "wait_min": 0.0})
        legs.append((at_plan, r.shift.office))
    frame = pd.DataFrame(rows, columns=list(VISIT_COLUMNS))
    frame["day"] = frame["day"].astype("int64")
    return frame, tuple(legs)


def _unvisited(
    chosen: pd.DataFrame, reason: pd.Series, routed: pd.DataFrame, why: np.ndarray,
) -> pd.DataFrame:
    """Every selected member not visited, with the reason."""
    unrouted = reason.ne("").to_numpy(bool)
    early = chosen.loc[unrouted, ["id", "name"]].assign(reason=reason[unrouted].to_numpy())
    late = routed.loc[why != "", ["id", "name"]].assign(reason=why[why != ""])
    out = pd.concat([early, late], ignore_index=True).rename(columns={"id": "member_id"})
    out["member_id"] = out["member_id"].astype(str)
    return out[list(UNVISITED_COLUMNS)]


def _summary(
    inst: Instance, sol: Solution, visits: pd.DataFrame, unvisited: pd.DataFrame, selected: int,
    settings: VisitSettings, t_matrix: float, t_total: float,
) -> dict[str, Any]:
    """The figures of ``visits.json`` (drive minutes to 0.1, as the drive times allow)."""
    per = visits.groupby("visitor")["drive_min"].sum().round(1)
    return {
        "selected": int(selected),
        "visits_planned": int((visits["stop"] == "visit").sum()),
        "unvisited": int(len(unvisited)),
        "unvisited_by_reason": {str(k): int(v) for k, v in unvisited["reason"].value_counts().items()},
        "drive_min_total": round(drive_total_s(inst, sol) / 60.0, 1),
        "drive_min_per_visitor": {str(k): float(v) for k, v in per.items()},
        "routes": len(sol.routes),
        "visit_min": settings.duration_min,
        "solver": {"status": sol.status, "runtime_s": round(sol.runtime_s, 2), "iterations": sol.iterations,
                   "time_limit_s": settings.time_limit_s, **sol.notes},
        "times_s": {"matrix": round(t_matrix, 2), "total": round(t_total, 2)},
        "times_note": "drive times of the run's drive network (as the hospital analysis), home access legs "
                      "walked at the network's pace; clock times rounded to the minute",
    }


def route_lines(plan: VisitPlan, drive: RoadNetwork, day: int | None = None) -> list[dict[str, Any]]:
    """Return the roads each leg of the plan follows, for drawing (a planner's map or page).

    Parameters
    ----------
    plan
        The plan.
    drive
        The drive network it was timed on.
    day
        Only this day (default every day).

    Returns
    -------
    list of dict
        Per leg (a row of ``visits`` after a departure): ``visitor``, ``day``, ``span``, ``order``, ``drive_min``
        and ``coordinates`` (WGS-84 ``[lon, lat]`` pairs along the roads; empty when there is no route).
    """
    rows = plan.visits.reset_index(drop=True)
    keep = [k for k, leg in enumerate(plan.legs) if leg[0] >= 0 and (day is None or int(rows["day"][k]) == day)]
    lines = leg_lines(drive, plan.stops_snap, [plan.legs[k] for k in keep])
    out = []
    for k, line in zip(keep, lines, strict=True):
        r = rows.iloc[k]
        coords = [] if line is None else np.round(line, 6).tolist()
        out.append({"visitor": str(r["visitor"]), "day": int(r["day"]), "span": int(r["span"]),
                    "order": int(r["order"]), "drive_min": float(r["drive_min"]), "coordinates": coords})
    return out
