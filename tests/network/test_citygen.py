"""The seeded city generator behind ``benchmarks/city.py``: sizes, reproducibility, real roads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo_planner.citygen import generate_city
from geo_planner.settings import load_scenario


def test_city_is_seeded_and_sized(tmp_path: Path, cache_dir: Path) -> None:
    kw = {"n_members": 3000, "n_branches": 60, "n_stations": 12, "n_hospitals": 3, "cache_dir": cache_dir}
    a = generate_city(tmp_path / "a", seed=7, **kw)
    b = generate_city(tmp_path / "b", seed=7, **kw)
    for name in ("members", "branches", "stations", "hospitals"):
        assert (a.parent / f"{name}.csv").read_bytes() == (b.parent / f"{name}.csv").read_bytes()
    m = pd.read_csv(a.parent / "members.csv")
    br = pd.read_csv(a.parent / "branches.csv")
    assert len(m) == 3000 and m["id"].is_unique and len(br) == 60
    assert set(m["branch_id"]) <= set(br["id"]) and m["branch_id"].nunique() == 60
    assert len(pd.read_csv(a.parent / "stations.csv")) == 12
    sizes = m["branch_id"].value_counts()
    assert (sizes <= 6).sum() >= 6  # the small units (joint-branch material)
    # most members live in 龙岗, about 1 % in 贵溪/南京 (another city)
    in_city = m["lon"].between(114.0, 114.4) & m["lat"].between(22.5, 22.9)
    assert 0.95 < in_city.mean() < 1.0
    scenario = load_scenario(a)
    assert [p.name for p in scenario.network.osm][0] == "shenzhen_longgang.osm"
