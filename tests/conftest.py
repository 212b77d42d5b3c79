"""Shared fixtures: the bundled real OSM extracts and networks built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
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


@pytest.fixture(scope="session")
def planted() -> dict:
    return json.loads((DEMO / "planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, cache_dir):
    """The demo scenario run once per session: (RunResult, members.csv by id, out dir, progress calls)."""
    from geo_planner.pipeline import run
    from geo_planner.settings import load_scenario

    out = tmp_path_factory.mktemp("demo-run")
    scenario = load_scenario(DEMO / "scenario.toml")
    scenario = scenario.model_copy(update={"network": scenario.network.model_copy(update={"cache_dir": cache_dir})})
    stages = []
    result = run(scenario, out, progress=lambda s, f: stages.append((s, f)))
    members = pd.read_csv(out / "members.csv", dtype={"id": str, "branch_id": str}, encoding="utf-8-sig")
    return result, members.set_index("id", drop=False), out, stages


# --------------------------------------------------------------------------------------
# the real browser (Playwright on Debian's chromium; see tests/browser.py)


@pytest.fixture(scope="module")
def chromium_browser():
    """One headless Chromium per test module, driven by Playwright; skipped loudly when missing."""
    from .browser import MISSING, chromium_browser, find_chromium

    path = find_chromium()
    if path is None:
        print(MISSING.format(what="PAGE"))
        pytest.skip(MISSING.format(what="PAGE"))
    with chromium_browser(path) as browser:
        yield browser


@pytest.fixture()
def page(chromium_browser):
    """A fresh page (own context, 1280×900) recording its JavaScript errors and requests."""
    from .browser import new_page

    watched = new_page(chromium_browser)
    try:
        yield watched
    finally:
        watched.page.context.close()


# --------------------------------------------------------------------------- one hardened server


@pytest.fixture(scope="session")
def hardened_server(tmp_path_factory, cache_dir):
    """A live service (uvicorn on loopback) with a 2 MB upload limit, shared by the hardening,
    schemathesis tests: one server and one demo run for both."""
    from .test_api import new_tokens
    from .test_hardening import LimitedServer

    srv = LimitedServer(tmp_path_factory.mktemp("hardening") / "data", new_tokens(), cache_dir).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def hardened_demo(hardened_server):
    """The demo uploaded to :func:`hardened_server` and run there: reports, run, run id."""
    from .test_api import start_demo_run

    reports, run, _seen = start_demo_run(hardened_server)
    return {"reports": reports, "run": run, "run_id": run["id"]}
