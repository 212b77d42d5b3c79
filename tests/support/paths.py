"""Where the bundled data lives: the repository, the OSM extracts, the demo."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "osm"
GUIXI = OSM / "guixi_jiangxi.osm"
NANJING = OSM / "nanjing_xuanwu.osm"
DEMO = ROOT / "data" / "demo"

