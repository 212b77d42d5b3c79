"""Seeded generator of a city-sized scenario on the bundled OSM extracts (for benchmarks and tests).

A *city* here is what the source material describes: tens of thousands of retirees in hundreds
of branches with about a hundred stations. Everything about people, branches, stations and
hospitals is **synthetic** (marked so in every file); the roads are real OpenStreetMap data
(© OpenStreetMap contributors, ODbL).

How members are placed (all homes on real road edges, 5–25 m off the road):

* each branch meets at a random point of the main extract; a share of its members (drawn per
  branch between 50 % and 90 %) lives within ``near_m`` of the meeting place;
* the others live anywhere in the main extract (they become *far* / *cross_township*);
* ``small_unit_share`` of the branches are small units (1–6 members) whose members live
  together in a few shared neighbourhoods far from their branches — joint-branch material;
* ``remote_share`` of the members live in the other extracts (another city: 异地).

Coordinates are WGS-84 (no geocoding needed), so a run measures the stages after it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_write
from .network import build_network
from .roadpoints import RoadPointSampler

log = logging.getLogger(__name__)

SYNTHETIC = "合成数据(synthetic)"

#: Bundled extracts, by file name, and the region used for addresses.
REGIONS = {
    "shenzhen_longgang.osm": "广东省深圳市龙岗区",
    "guixi_jiangxi.osm": "江西省贵溪市",
    "nanjing_xuanwu.osm": "江苏省南京市",
}


def bundled_extract(name: str, root: Path | None = None) -> Path:
    """Path of a bundled extract: ``data/osm/NAME``, else the shared copy ``../shared/data/osm/NAME``.

    Raises
    ------
    FileNotFoundError
        If neither exists.
    """
    root = root or Path(__file__).resolve().parent.parent
    for cand in (root / "data" / "osm" / name, root.parent / "shared" / "data" / "osm" / name):
        if cand.exists():
            return cand
    raise FileNotFoundError(f"bundled extract {name} not found under data/osm/ or ../shared/data/osm/")


def generate_city(
    out_dir: Path | str,
    *,
    n_members: int = 56_000,
    n_branches: int = 800,
    n_stations: int = 100,
    n_hospitals: int = 10,
    main: Path | None = None,
    others: list[Path] | None = None,
    seed: int = 20261202,
    small_unit_share: float = 0.15,
    remote_share: float = 0.01,
    near_m: float = 600.0,
    time_limit_s: float = 60.0,
    cache_dir: Path | None = None,
) -> Path:
    """Write a city scenario (members/branches/stations/hospitals CSV and ``scenario.toml``).

    Parameters
    ----------
    out_dir
        Folder to write into (created).
    n_members, n_branches, n_stations, n_hospitals
        Sizes of the four tables.
    main
        The city's extract (default: the bundled 深圳龙岗 extract).
    others
        Extracts of other cities where remote members live (default: 贵溪 and 南京).
    seed
        Random seed: the same seed gives the same tables.
    small_unit_share
        Share of branches that are small units (1–6 members) living in shared neighbourhoods.
    remote_share
        Share of members living in the other extracts.
    near_m
        Radius (metres) around the meeting place where a branch's core members live.
    time_limit_s
        ``[siting] time_limit_s`` written into the scenario.
    cache_dir
        Network cache folder.

    Returns
    -------
    Path
        The written ``scenario.toml``.
    """
    if n_branches < 1 or n_members < n_branches or n_stations < 1:
        raise ValueError("need n_members ≥ n_branches ≥ 1 and n_stations ≥ 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    main = main or bundled_extract("shenzhen_longgang.osm")
    others = others if others is not None else [bundled_extract("guixi_jiangxi.osm"),
                                                bundled_extract("nanjing_xuanwu.osm")]
    rng = np.random.default_rng(seed)  # every draw below, in this order, makes the city
    extracts = [main, *others]
    net = build_network(extracts, "walk", cache_dir=cache_dir)
    samplers = [RoadPointSampler(net, k, rng) for k in range(len(extracts))]
    city = samplers[0]
    region = REGIONS.get(Path(main).name, "")

    sizes, n_small = _branch_sizes(n_members, n_branches, small_unit_share, rng)
    b_lon, b_lat = city.anywhere(n_branches)  # meeting places
    lon, lat = _member_homes(city, sizes, n_small, b_lon, b_lat, near_m, rng)
    _move_remote(samplers, lon, lat, remote_share, rng)
    branches = pd.DataFrame({
        "id": [f"B{i + 1:04d}" for i in range(n_branches)],
        "name": [f"{region}第{i + 1}离退休干部党支部" for i in range(n_branches)],
        "lon": b_lon, "lat": b_lat, "crs": "WGS84", "note": SYNTHETIC,
    })
    tables = {
        "members": _members_table(lon, lat, np.repeat(branches["id"].to_numpy(dtype=object), sizes), rng),
        "branches": branches,
        **_facility_tables(city, n_stations, n_hospitals),
    }
    for name, df in tables.items():
        atomic_write(out / f"{name}.csv", lambda p, d=df: d.to_csv(p, index=False, encoding="utf-8"))
    text = _scenario_toml(extracts, region, seed, n_members, n_branches, n_stations, time_limit_s)
    atomic_write(out / "scenario.toml", lambda p: p.write_text(text, encoding="utf-8"))
    log.info("city written to %s: %d members, %d branches, %d stations", out, n_members, n_branches,
             n_stations)
    return out / "scenario.toml"


def _branch_sizes(
    n_members: int, n_branches: int, small_unit_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Draw members per branch (log-normal sizes, small units of 1–6 members last).

    Returns the sizes and the number of small units.
    """
    n_small = int(round(small_unit_share * n_branches))
    small_sizes = rng.integers(1, 7, n_small)
    n_big = n_branches - n_small
    left = n_members - int(small_sizes.sum())
    if n_big == 0 or left < n_big:
        raise ValueError("too few members for the branches")
    big = rng.lognormal(0.0, 0.6, n_big)
    big_sizes = np.maximum(1, np.floor(big / big.sum() * left).astype(np.int64))
    diff = left - int(big_sizes.sum())
    if diff > 0:
        np.add.at(big_sizes, rng.integers(0, n_big, diff), 1)
    else:
        big_sizes[int(np.argmax(big_sizes))] += diff
    return np.r_[big_sizes, small_sizes].astype(np.int64), n_small


def _member_homes(
    city: RoadPointSampler,
    sizes: np.ndarray,
    n_small: int,
    b_lon: np.ndarray,
    b_lat: np.ndarray,
    near_m: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the homes of every member, branch after branch: a core near the meeting place, the rest anywhere.

    The small units (the last ``n_small`` branches) live together in shared neighbourhoods
    (about four units per neighbourhood).
    """
    n_members, n_branches = int(sizes.sum()), len(sizes)
    n_big = n_branches - n_small
    lon = np.empty(n_members)
    lat = np.empty(n_members)
    start = np.r_[0, np.cumsum(sizes)]
    n_hoods = max(1, n_small // 4)
    hood_lon, hood_lat = city.anywhere(n_hoods)
    hood_of_small = rng.integers(0, n_hoods, n_small)
    for b in range(n_branches):
        lo_, hi_ = start[b], start[b + 1]
        n = hi_ - lo_
        if b >= n_big:
            h = hood_of_small[b - n_big]
            lon[lo_:hi_], lat[lo_:hi_] = city.near(hood_lon[h], hood_lat[h], n, 250.0)
            continue
        k = rng.binomial(n, rng.uniform(0.5, 0.9))
        lon[lo_:lo_ + k], lat[lo_:lo_ + k] = city.near(b_lon[b], b_lat[b], k, near_m)
        lon[lo_ + k:hi_], lat[lo_ + k:hi_] = city.anywhere(n - k)
    return lon, lat


def _move_remote(
    samplers: list[RoadPointSampler],
    lon: np.ndarray,
    lat: np.ndarray,
    remote_share: float,
    rng: np.random.Generator,
) -> None:
    """Move ``remote_share`` of the members to the other extracts (retirees living in another city)."""
    n_members = len(lon)
    remote = np.flatnonzero(rng.random(n_members) < remote_share) if len(samplers) > 1 else np.empty(0, int)
    if remote.size:
        where = rng.integers(1, len(samplers), remote.size)
        for k in range(1, len(samplers)):
            sel = remote[where == k]
            if sel.size:
                lon[sel], lat[sel] = samplers[k].anywhere(sel.size)


def _members_table(
    lon: np.ndarray, lat: np.ndarray, branch_ids: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Build the members table, rows in random order as a planner's table would be; 3 % 离休 (aged 90–99)."""
    n_members = len(lon)
    ids = np.array([f"M{i + 1:06d}" for i in range(n_members)], dtype=object)
    order = rng.permutation(n_members)
    lixiu = rng.random(n_members) < 0.03
    age = np.where(lixiu, rng.integers(90, 100, n_members), rng.integers(60, 95, n_members))
    return pd.DataFrame({
        "id": ids[order], "name": [f"成员{i}" for i in order],
        "status": np.where(lixiu, "离休", "退休")[order],
        "age": age[order], "branch_id": branch_ids[order],
        "lon": lon[order], "lat": lat[order], "crs": "WGS84", "note": SYNTHETIC,
    })


def _facility_tables(city: RoadPointSampler, n_stations: int, n_hospitals: int) -> dict[str, pd.DataFrame]:
    """Build the stations and hospitals tables: anywhere on the city's roads."""
    s_lon, s_lat = city.anywhere(n_stations)
    stations = pd.DataFrame({
        "id": [f"S{i + 1:03d}" for i in range(n_stations)],
        "name": [f"第{i + 1}桑榆红驿站" for i in range(n_stations)], "kind": "桑榆红驿站",
        "lon": s_lon, "lat": s_lat, "capacity": 60, "crs": "WGS84", "note": SYNTHETIC,
    })
    h_lon, h_lat = city.anywhere(n_hospitals)
    hospitals = pd.DataFrame({
        "id": [f"H{i + 1:02d}" for i in range(n_hospitals)],
        "name": [f"第{i + 1}定点医院" for i in range(n_hospitals)],
        "lon": h_lon, "lat": h_lat, "crs": "WGS84", "note": SYNTHETIC,
    })
    return {"stations": stations, "hospitals": hospitals}


def _scenario_toml(
    extracts: list[Path], region: str, seed: int, n_members: int, n_branches: int, n_stations: int,
    time_limit_s: float,
) -> str:
    """Return the city's ``scenario.toml`` (absolute paths of the extracts)."""
    osm = ", ".join(f'"{Path(p).resolve().as_posix()}"' for p in extracts)
    return f"""# City-sized synthetic scenario (seed {seed}) on real OpenStreetMap roads (geo_planner.citygen).
name = "合成城市（{n_members}名成员，{n_branches}个支部，{n_stations}个驿站）"
seed = {seed}

[network]
osm = [{osm}]

[inputs]
members = "members.csv"
branches = "branches.csv"
stations = "stations.csv"
hospitals = "hospitals.csv"

[geocode]
default_region = "{region}"

[siting]
new_stations = 10
time_limit_s = {time_limit_s:g}
"""
