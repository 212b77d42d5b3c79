"""Shared fixtures: the bundled real OSM extracts and networks built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OSM = ROOT / "data" / "osm"
GUIXI = OSM / "guixi_jiangxi.osm"
NANJING = OSM / "nanjing_xuanwu.osm"
DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("network-cache")


@pytest.fixture(scope="session")
def walk_net(cache_dir: Path):
    from geo_planner.network import build_network

    return build_network([GUIXI, NANJING], "walk", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def drive_net(cache_dir: Path):
    from geo_planner.network import build_network

    return build_network([GUIXI, NANJING], "drive", cache_dir=cache_dir)
