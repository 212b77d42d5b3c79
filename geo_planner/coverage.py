"""Coverage: who is inside the 15-minute life circle (四就近), summarised by area and branch.

A member is covered by a station when the walk to the nearest station is within
``station_walk_min`` (default 15), by the branch when the walk to the branch's meeting
place is within ``branch_walk_min`` (20), and by a hospital when the drive to the nearest
hospital is within ``hospital_drive_min`` (30). A missing time (off-network, unreachable,
no location) is *not covered* — and is counted separately so a gap in the data is never
mistaken for a gap in service.

Members whose address was placed only to a township or county (``network_status =
"imprecise_location"``, see ``[geocode] min_precision_for_times``) count in ``members`` of
their area but not in the coverage shares: ``share_covered_*`` is over the members with a
precise enough location, and ``imprecise_location`` says how many were left out.

Members beyond the own-branch search cut-off (``branch_status = "beyond_limit"``, see
``[thresholds] branch_search_limit_min``) have no exact walk to the branch but are known to
walk longer than the cut-off: they are not covered by the branch, are counted in
``beyond_limit_walk_branch`` (not in ``no_time_walk_branch``), and rank above every measured
walk in the median and 90th percentile — a percentile that falls among them is unknown
(blank), never a number the cut-off made too small.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from .functions import function_shares
from .geocode import Gazetteer, assign_admin_units
from .network import RoadNetwork
from .settings import Thresholds
from .travel import STATUS_BEYOND_LIMIT, time_to_assigned
from .vocab import IMPRECISE_LOCATION

log = logging.getLogger(__name__)

#: (time column, covered column, threshold attribute)
COVERAGE_RULES: tuple[tuple[str, str, str], ...] = (
    ("walk_min_station", "covered_station", "station_walk_min"),
    ("walk_min_branch", "covered_branch", "branch_walk_min"),
    ("drive_min_hospital", "covered_hospital", "hospital_drive_min"),
)
UNASSIGNED_AREA = "（未定位）"
#: Time columns that may be cut off, and their status column.
CUT_OFF_TIMES: dict[str, str] = {"walk_min_branch": "branch_status"}
#: Rank of a time known only to exceed its cut-off, in percentiles (above any measured time).
_ABOVE_LIMIT = 1e12


def member_coverage(members: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Per-member coverage flags.

    Parameters
    ----------
    members
        Needs the time columns of ``travel.member_travel_table``.
    thresholds
        Minutes.

    Returns
    -------
    pandas.DataFrame
        ``covered_station``, ``covered_branch``, ``covered_hospital`` (bool), aligned with
        ``members``; False where the time is missing.
    """
    out = pd.DataFrame(index=members.index)
    for time_col, cov_col, attr in COVERAGE_RULES:
        t = pd.to_numeric(members.get(time_col, pd.Series(np.nan, index=members.index)), errors="coerce")
        out[cov_col] = (t <= getattr(thresholds, attr)).fillna(False).astype(bool)
    return out


def fill_admin_units(members: pd.DataFrame, gazetteer: Gazetteer) -> pd.DataFrame:
    """Township and community per member: the table's own values, else from the OSM extracts.

    Returns a frame with ``township``, ``community`` and ``area_source`` aligned with
    ``members``: ``table`` when the table gave the township (and community), else what
    decided the township — ``osm_boundary`` (inside an OSM 街道/乡镇 boundary polygon),
    ``osm_place`` (nearest OSM place node) — or "" when nothing did (no location).
    """
    own_t = members.get("township", pd.Series("", index=members.index)).fillna("").astype(str)
    own_c = members.get("community", pd.Series("", index=members.index)).fillna("").astype(str)
    need = (own_t == "") | (own_c == "")
    out = pd.DataFrame({"township": own_t, "community": own_c, "area_source": "table"}, index=members.index)
    if need.any():
        sub = members.loc[need]
        osm = assign_admin_units(sub["lon"].to_numpy(dtype=float), sub["lat"].to_numpy(dtype=float), gazetteer)
        osm.index = sub.index
        fill_t = own_t[need] == ""
        fill_c = own_c[need] == ""
        out.loc[fill_t[fill_t].index, "township"] = osm.loc[fill_t[fill_t].index, "township"]
        out.loc[fill_c[fill_c].index, "community"] = osm.loc[fill_c[fill_c].index, "community"]
        src = np.where(fill_t.to_numpy(), osm["township_source"].to_numpy(dtype=object),
                       osm["community_source"].to_numpy(dtype=object))
        out.loc[need[need].index, "area_source"] = src
    return out


IMPRECISE = IMPRECISE_LOCATION


def _stats(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Members, share covered, median and 90th percentile per group (vectorised groupby).

    Shares are over the members with a precise enough location; ``imprecise_location``
    counts the others. With 四就近 functions (``covered_<function>`` columns):
    ``share_covered_<function>`` per function with a place and ``share_four_near``.
    """
    status = df["network_status"] if "network_status" in df else pd.Series("", index=df.index)
    imprecise = (status.astype(str) == IMPRECISE).to_numpy()
    df = df.assign(_imprecise=imprecise, _precise=~imprecise)
    g = df.groupby(keys, sort=True, dropna=False)
    size = g.size()
    n_precise = g["_precise"].sum()
    parts = [size.rename("members"), g["_imprecise"].sum().astype(int).rename(IMPRECISE)]
    for time_col, cov_col, _ in COVERAGE_RULES:
        short = time_col.replace("_min", "")  # walk_station, walk_branch, drive_hospital
        covered = df[cov_col].astype(bool).to_numpy() & ~imprecise
        hits = df.assign(_c=covered).groupby(keys, sort=True, dropna=False)["_c"].sum()
        share = (hits / n_precise.where(n_precise > 0)).round(4)
        parts.append(share.rename(f"share_{cov_col}"))
        times, beyond = _ranked_times(df, time_col)
        tg = df.assign(_t=times).groupby(keys, sort=True, dropna=False)["_t"]
        for name, fig in (("median", tg.median()), ("p90", tg.quantile(0.9))):
            parts.append(fig.where(fig < _ABOVE_LIMIT / 2).round(2).rename(f"{name}_{short}_min"))
        parts.append((size - tg.count()).rename(f"no_time_{short}"))
        if time_col in CUT_OFF_TIMES:
            n_beyond = df.assign(_b=beyond).groupby(keys, sort=True, dropna=False)["_b"].sum().astype(int)
            parts.append(n_beyond.rename(f"beyond_limit_{short}"))
    parts.extend(function_shares(df, keys, ~imprecise, n_precise))  # 四就近 by function
    return pd.concat(parts, axis=1).reset_index()


def _ranked_times(df: pd.DataFrame, time_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Times for percentiles: beyond-the-cut-off members rank above every measured time.

    Returns the times (NaN where unknown) and the beyond-the-cut-off mask.
    """
    t = pd.to_numeric(df[time_col], errors="coerce").to_numpy(dtype=np.float64, copy=True)
    status_col = CUT_OFF_TIMES.get(time_col)
    if status_col is None or status_col not in df:
        return t, np.zeros(t.shape[0], dtype=bool)
    beyond = (df[status_col].astype(str) == STATUS_BEYOND_LIMIT).to_numpy() & np.isnan(t)
    t[beyond] = _ABOVE_LIMIT
    return t, beyond


def summarize_by_area(members: pd.DataFrame) -> pd.DataFrame:
    """Coverage summary per 街道/乡镇 and per 社区/村 (``coverage_by_area.csv``).

    Parameters
    ----------
    members
        With ``township``, ``community``, the time and ``covered_*`` columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``level`` (``township``/``community``), ``area``, ``township``, ``members``,
        ``share_covered_station`` … ``p90_drive_hospital_min``; sorted with the worst
        station coverage first within each level.
    """
    df = members.copy()
    for col in ("township", "community"):
        df[col] = df[col].fillna("").astype(str).replace("", UNASSIGNED_AREA)
    t = _stats(df, ["township"]).assign(level="township", area=lambda x: x["township"])
    c = _stats(df, ["township", "community"]).assign(level="community", area=lambda x: x["community"])
    out = pd.concat([t, c], ignore_index=True)
    first = ["level", "area", "township", "members"]
    out = out[first + [c for c in out.columns if c not in first and c != "community"]]
    return out.sort_values(["level", "share_covered_station", "members"], ascending=[False, True, False],
                           kind="stable").reset_index(drop=True)


def summarize_by_branch(members: pd.DataFrame, branches: pd.DataFrame) -> pd.DataFrame:
    """Coverage summary per branch (``coverage_by_branch.csv``; dispersion columns join later)."""
    stats = _stats(members.assign(branch_id=members["branch_id"].astype(str)), ["branch_id"])
    info = branches[["id", "name"]].astype(str).rename(columns={"id": "branch_id", "name": "branch_name"})
    out = info.merge(stats, on="branch_id", how="left")
    out["members"] = out["members"].fillna(0).astype(int)
    return out


def point_coverage(
    walk: RoadNetwork,
    drive: RoadNetwork | None,
    lon: float,
    lat: float,
    *,
    stations: pd.DataFrame,
    branches: pd.DataFrame,
    hospitals: pd.DataFrame | None,
    thresholds: Thresholds,
    max_snap_m: float = 500.0,
) -> dict[str, Any]:
    """What serves one location: stations, branch meeting places and hospitals within the thresholds.

    Parameters
    ----------
    walk, drive
        Networks (``drive`` may be None).
    lon, lat
        WGS-84 degrees.
    stations, branches, hospitals
        Facility tables with ``id``, ``name``, ``lon``, ``lat``.
    thresholds
        Minutes.
    max_snap_m
        Off-network distance.

    Returns
    -------
    dict
        ``on_network``, ``snap_m``, and for each facility type a list of
        ``{"id", "name", "minutes"}`` within the threshold, nearest first.
    """
    p = walk.snap(np.array([lon], dtype=float), np.array([lat], dtype=float), max_snap_m=max_snap_m)
    out: dict[str, Any] = {
        "lon": lon, "lat": lat, "on_network": bool(p.on_network[0]),
        "snap_m": None if not p.on_network[0] else round(float(p.access_m[0]), 1),
    }

    def minutes_to(net: RoadNetwork | None, table: pd.DataFrame | None) -> np.ndarray:
        """Minutes from the point to every facility of ``table`` (one Dijkstra pass per chunk)."""
        if net is None or table is None or len(table) == 0:
            return np.empty(0)
        pt = p if net is walk else net.snap(np.array([lon], float), np.array([lat], float), max_snap_m=max_snap_m)
        fac = net.snap(table["lon"].to_numpy(dtype=float), table["lat"].to_numpy(dtype=float), max_snap_m=max_snap_m)
        n = len(table)
        minutes, _ = time_to_assigned(net, pt.subset(np.zeros(n, dtype=np.int64)), fac, np.arange(n))
        return minutes

    def within(table: pd.DataFrame | None, minutes: np.ndarray, limit: float) -> list[dict[str, Any]]:
        order = np.argsort(np.nan_to_num(minutes, nan=np.inf))
        return [
            {"id": str(table["id"].iloc[i]), "name": str(table["name"].iloc[i]), "minutes": round(float(minutes[i]), 2)}
            for i in order
            if np.isfinite(minutes[i]) and minutes[i] <= limit
        ]

    st_min = minutes_to(walk, stations)
    out["stations"] = within(stations, st_min, thresholds.station_walk_min)
    out["branches"] = within(branches, minutes_to(walk, branches), thresholds.branch_walk_min)
    out["hospitals"] = within(hospitals, minutes_to(drive, hospitals), thresholds.hospital_drive_min)
    # the nearest station is the fastest of the times just measured
    out["nearest_station_min"] = (
        round(float(np.nanmin(st_min)), 2) if st_min.size and np.isfinite(st_min).any() else None
    )
    return out
