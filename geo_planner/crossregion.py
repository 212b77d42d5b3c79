"""异地 across regions: members of one region living in another region's extracts, served there.

After a province's regions have run, :func:`geo_planner.province.resolve_cross_region` finds,
for each member flagged 异地 outside their own region's extracts, the *host* region whose
extracts hold their home. :func:`serve_in_host` then measures them on the host region's own
road networks and facilities — the way a 候鸟 member is actually served where they live:

* the walk to the host region's nearest station (桑榆红驿站 …) and the drive to its nearest
  hospital, with the statuses of the pipeline (an address known only to its township or county
  gets no time: ``imprecise_location``), and whether each is within the scenario's threshold;
* a 异地支部 recommendation for every home region's members clustering in one city of the host
  (at least ``min_branch_members``; split by county above ``max_branch_members``), meeting at the
  network medoid of its members on the host's walking network, with the host station nearest to
  that point as the suggested venue and the rationale.

The home region's own rows stay as they were (异地, no walk to the far branch); the host's
answers go to ``cross_region.csv`` and ``cross_region_branches.csv`` of the province.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .geocode import IMPRECISE_STATUS, precise_for_times
from .network import RoadNetwork, run_networks
from .organisation.medoid import network_medoid
from .organisation.records import finite_max, finite_median, min_en, min_zh
from .organisation.residence import split_by_residence
from .settings import Scenario
from .travel import nearest_facility

__all__ = ["HOST_COLUMNS", "BRANCH_COLUMNS", "serve_in_host"]

#: Columns :func:`serve_in_host` adds to each cross-region member.
HOST_COLUMNS = (
    "host_status", "host_snap_m",
    "host_station_id", "host_station_name", "host_walk_min_station", "host_station_status", "host_covered_station",
    "host_hospital_id", "host_hospital_name", "host_drive_min_hospital", "host_hospital_status",
    "host_covered_hospital",
)

#: Columns of ``cross_region_branches.csv`` (one 异地支部 per row).
BRANCH_COLUMNS = (
    "kind", "name", "home_region", "host_region", "city", "county", "n_members", "member_ids", "branch_ids",
    "lon", "lat", "meeting_on_network", "median_walk_min", "max_walk_min", "members_within_branch_walk",
    "venue_station_id", "venue_station_name", "venue_walk_min", "rule", "rationale_zh", "rationale_en",
)


def _facilities(host_dir: Path, table: str) -> pd.DataFrame | None:
    """A host region's geocoded facilities (its ``stations.csv`` / ``hospitals.csv``), or None."""
    path = host_dir / f"{table}.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path, dtype={"id": str, "name": str}, encoding="utf-8-sig")
    return df[df["lon"].notna() & df["lat"].notna()].reset_index(drop=True)


def _nearest(net: RoadNetwork | None, snap: Any, fac: pd.DataFrame | None, max_snap_m: float,
             limit_min: float, n: int) -> dict[str, np.ndarray]:
    """Nearest facility of one type per member: id, name, minutes, status, within the limit."""
    if net is None or fac is None or len(fac) == 0:
        return {"id": np.full(n, "", dtype=object), "name": np.full(n, "", dtype=object),
                "min": np.full(n, np.nan), "status": np.full(n, "no_target", dtype=object),
                "covered": np.zeros(n, dtype=bool)}
    fsnap = net.snap(fac["lon"].to_numpy(float), fac["lat"].to_numpy(float), max_snap_m=max_snap_m)
    res = nearest_facility(net, snap, fsnap)
    has = res.facility >= 0
    ids = np.where(has, fac["id"].to_numpy(dtype=object)[np.maximum(res.facility, 0)], "")
    names = np.where(has, fac["name"].fillna("").to_numpy(dtype=object)[np.maximum(res.facility, 0)], "")
    minutes = np.round(res.minutes, 2)
    return {"id": ids, "name": names, "min": minutes, "status": np.asarray(res.status, dtype=object),
            "covered": np.isfinite(minutes) & (minutes <= limit_min)}


def serve_in_host(
    host: str, scenario: Scenario, host_dir: Path | str, members: pd.DataFrame,
    *, walk: RoadNetwork | None = None, drive: RoadNetwork | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure members of other regions on the host region's networks and facilities.

    Parameters
    ----------
    host
        The host region's name.
    scenario
        The host region's scenario (its extracts, thresholds and branch rules).
    host_dir
        The host region's finished output folder (its ``stations.csv``, ``hospitals.csv``).
    members
        The cross-region members living in the host's extracts: ``id``, ``home_region``,
        ``branch_id``, ``lon``, ``lat``, ``geocode_precision``, ``member_city``, ``member_county``.
    walk, drive
        The host's networks when already loaded (else built or read from the network cache).

    Returns
    -------
    (members, branches)
        ``members`` with :data:`HOST_COLUMNS` added (same rows, same order); ``branches`` the
        异地支部 recommendations (:data:`BRANCH_COLUMNS`).
    """
    host_dir = Path(host_dir)
    if walk is None:
        walk, drive = run_networks(scenario)
    n = len(members)
    lon, lat = members["lon"].to_numpy(float), members["lat"].to_numpy(float)
    precise = precise_for_times(members["geocode_precision"].fillna("coordinates"),
                                scenario.geocode.min_precision_for_times)
    lon_t, lat_t = np.where(precise, lon, np.nan), np.where(precise, lat, np.nan)
    max_snap = scenario.network.max_snap_m
    wsnap = walk.snap(lon_t, lat_t, max_snap_m=max_snap)
    th = scenario.thresholds
    stations = _facilities(host_dir, "stations")
    st = _nearest(walk, wsnap, stations, max_snap, th.station_walk_min, n)
    dsnap = drive.snap(lon_t, lat_t, max_snap_m=max_snap) if drive is not None else None
    ho = _nearest(drive, dsnap, _facilities(host_dir, "hospitals"), max_snap, th.hospital_drive_min, n)
    imprecise = ~precise & np.isfinite(lon) & np.isfinite(lat)
    for d in (st, ho):
        d["status"][imprecise] = IMPRECISE_STATUS
    out = members.assign(
        host_status="ok", host_snap_m=np.where(wsnap.on_network, np.round(wsnap.access_m, 1), np.nan),
        host_station_id=st["id"], host_station_name=st["name"], host_walk_min_station=st["min"],
        host_station_status=st["status"], host_covered_station=st["covered"],
        host_hospital_id=ho["id"], host_hospital_name=ho["name"], host_drive_min_hospital=ho["min"],
        host_hospital_status=ho["status"], host_covered_hospital=ho["covered"],
    )
    branches = _remote_branches(host, scenario, walk, wsnap, out, precise, stations)
    return out, branches


def _remote_branches(host: str, scenario: Scenario, walk: RoadNetwork, wsnap: Any, m: pd.DataFrame,
                     precise: np.ndarray, stations: pd.DataFrame | None) -> pd.DataFrame:
    """异地支部 per (home region, city) with at least ``min_branch_members`` members living there.

    Each meets at its members' network medoid; the venues (the station nearest to each
    meeting point) come from one nearest-facility search for all of them.
    """
    rules = scenario.branches
    groups: list[tuple[str, str, str, np.ndarray]] = []
    located = m["lon"].notna() & m["lat"].notna()
    for (home, city), grp in m[located].groupby(["home_region", "member_city"], sort=True):
        if len(grp) < rules.min_branch_members:
            continue
        pos = m.index.get_indexer(grp.index)
        county = grp["member_county"].fillna("").astype(str).to_numpy(dtype=object)
        parts = split_by_residence(grp["lon"].to_numpy(float), grp["lat"].to_numpy(float), county,
                                   np.full(len(grp), "", dtype=object), rules.max_branch_members)
        groups += [(str(home), str(city), label, pos[part])
                   for part, label in zip(parts, _part_labels([county[p] for p in parts]), strict=True)]
    if not groups:
        return pd.DataFrame(columns=list(BRANCH_COLUMNS))
    lon, lat = m["lon"].to_numpy(float), m["lat"].to_numpy(float)
    medoids = [network_medoid(walk, wsnap.subset(g), lon[g], lat[g]) for *_, g in groups]
    # venues: meeting points off the network get none
    at = np.array([(md[0], md[1]) if md[3] else (np.nan, np.nan) for md in medoids], dtype=float)
    max_snap = scenario.network.max_snap_m
    venue = _nearest(walk, walk.snap(at[:, 0], at[:, 1], max_snap_m=max_snap), stations, max_snap, math.inf,
                     len(groups))
    rows = [_branch_row(host, home, city, label, m, g, np.where(precise[g], md[2], np.nan), md, scenario,
                        (str(venue["id"][k]), str(venue["name"][k]), float(venue["min"][k])))
            for k, ((home, city, label, g), md) in enumerate(zip(groups, medoids, strict=True))]
    return pd.DataFrame(rows, columns=list(BRANCH_COLUMNS))


def _part_labels(counties: list[np.ndarray]) -> list[str]:
    """Name the parts of one city's group: ``""`` when it is whole, else its county (when the
    part lies in one), numbered where the same name repeats: ``玄武区第1``, ``玄武区第2``, ``第3``."""
    if len(counties) == 1:
        return [""]
    base = []
    for c in counties:
        names = set(c.tolist()) - {""}
        base.append(names.pop() if len(names) == 1 else "")
    seen: dict[str, int] = {}
    out = []
    for b in base:
        seen[b] = seen.get(b, 0) + 1
        out.append(b if b and base.count(b) == 1 else f"{b}第{seen[b]}")
    return out


def _branch_row(host: str, home: str, city: str, label: str, m: pd.DataFrame, g: np.ndarray, minutes: np.ndarray,
                medoid: tuple[float, float, np.ndarray, bool], scenario: Scenario,
                venue: tuple[str, str, float]) -> dict[str, Any]:
    """One 异地支部 row: members ``g`` meeting at ``medoid`` (walks ``minutes``), the station ``venue`` near it."""
    mlon, mlat, _, on_net = medoid
    vid, vname, vmin = venue
    limit = scenario.thresholds.branch_walk_min
    med, top = finite_median(minutes), finite_max(minutes)
    within = int((minutes <= limit).sum())
    county = label.split("第")[0]
    src = sorted(set(m["branch_id"].astype(str).to_numpy()[g]))
    where_zh = (f"活动地点取成员步行网络中心点，步行中位{min_zh(med)}、最远{min_zh(top)}，{within}人在{limit:g}分钟内"
                if on_net else "活动地点取成员住址中心（不在步行路网上）")
    venue_zh = f"；就近可借用{vname}（距中心点步行{min_zh(vmin)}）" if vid else ""
    where_en = (f"meeting at the members' network medoid, median walk {min_en(med)}, longest {min_en(top)}, "
                f"{within} within {limit:g} min" if on_net else "meeting near the centre of their homes (off the walking network)")
    venue_en = f"; the nearest station, {vname}, is a {min_en(vmin)} walk from it" if vid else ""
    return {
        "kind": "remote_branch", "name": f"{home}{city}{label}异地支部", "home_region": home, "host_region": host,
        "city": city, "county": county, "n_members": int(g.size),
        "member_ids": ";".join(m["id"].astype(str).to_numpy()[g]), "branch_ids": ";".join(src),
        "lon": mlon, "lat": mlat, "meeting_on_network": bool(on_net),
        "median_walk_min": round(med, 2), "max_walk_min": round(top, 2), "members_within_branch_walk": within,
        "venue_station_id": vid, "venue_station_name": vname, "venue_walk_min": round(vmin, 2),
        "rule": (f"{scenario.branches.min_branch_members} ≤ {g.size} ≤ {scenario.branches.max_branch_members} "
                 f"members of {home} living in {city} ({host})"),
        "rationale_zh": (f"{home}有{g.size}名党员（原属{len(src)}个支部）长期居住在{city}{county}（{host}辖区），"
                         f"建议在当地成立异地党支部：{where_zh}{venue_zh}。"),
        "rationale_en": (f"{g.size} members of {home} ({len(src)} branches) live in {city}{county} "
                         f"({host}): form a remote branch there, {where_en}{venue_en}."),
    }
