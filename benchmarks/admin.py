"""City / county of many members: boundary polygons against the nearest county seat.

Baseline (measured in the same run): the former rule, the nearest county-level seat from one
KD-tree query (``geocode.geometry._nearest`` over the gazetteer's county entries). geo_planner: the
point-in-polygon of :func:`geo_planner.admin.locate_divisions` (STRtree over the 2,891
division polygons). Points: ``N`` members spread over the three bundled extracts' cities
(南京 玄武/秦淮/鼓楼, 鹰潭 贵溪, 深圳 龙岗) and a ring around each. Also printed: how often
the two rules disagree on the *city* (the 异地 question), and the one-off loading time.

Run: ``python benchmarks/admin.py [N]`` (default 100,000).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_planner import admin  # noqa: E402
from geo_planner.crs import earth_xyz  # noqa: E402
from geo_planner.geocode import Gazetteer  # noqa: E402
from geo_planner.geocode.geometry import _nearest  # noqa: E402

CENTRES = [(118.785, 32.045), (117.222, 28.300), (114.215, 22.690)]


def main(n: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    k = rng.integers(0, len(CENTRES), n)
    c = np.asarray(CENTRES)[k]
    lon = c[:, 0] + rng.normal(0, 0.15, n)
    lat = c[:, 1] + rng.normal(0, 0.15, n)
    t0 = time.perf_counter()
    div = admin.load_divisions()
    t_load = time.perf_counter() - t0
    assert div is not None
    osm = ROOT / "data" / "osm"
    gaz = Gazetteer.from_osm([osm / "guixi_jiangxi.osm", osm / "nanjing_xuanwu.osm", osm / "shenzhen_longgang.osm"])

    seeds = np.flatnonzero(gaz._levels == "county")
    t0 = time.perf_counter()
    _, idx = _nearest(gaz._xyz[seeds], earth_xyz(lon, lat), 60_000.0)
    t_seed = time.perf_counter() - t0
    seed_city = np.asarray(gaz.entries.iloc[seeds]["city"].tolist() + [""], dtype=object)[idx]

    t0 = time.perf_counter()
    poly = admin.locate_divisions(lon, lat, div)
    t_poly = time.perf_counter() - t0

    both = (poly["city"].to_numpy() != "") & (seed_city != "")
    differ = both & (poly["city"].to_numpy() != seed_city)
    print(f"{n:,} points (machine shared with other work: compare the ratio, not the seconds)")
    print(f"  baseline nearest county seat (KD-tree): {t_seed:.3f} s")
    print(f"  geo_planner polygons (STRtree):          {t_poly:.3f} s  ratio {t_poly / t_seed:.1f}× the baseline")
    print(f"ROW|city/county of {n:,} points (polygons)|{t_poly:.3f}|{t_seed:.3f}|{t_poly / t_seed:.2f}|"
          "nearest county seat")
    print(f"  one-off polygon load: {t_load:.2f} s ({len(div.geoms)} divisions)")
    print(f"  city differs between the two rules for {differ.sum():,} of {both.sum():,} points "
          f"({differ.mean() * 100:.1f} %)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
