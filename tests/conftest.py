"""Shared fixtures: the bundled real OSM extracts and networks built from them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from .support.paths import DEMO, GUIXI, NANJING
from .support.postgres import PG_ENV, drop_database, new_database, no_postgres, pg_engine

# --------------------------------------------------------------------------- two workers (pytest-xdist)
# `scripts/run.sh test` runs the suite on two workers (`-n 2 --dist loadgroup`): a test module stays on one
# worker (its module fixtures are made once), and every module that uses the hardened server goes to the
# same worker as the others that do (one server, one demo run). Without xdist nothing here changes.


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for xdist's ``loadgroup``: by module, all modules of the hardened server in one group."""
    shared = {item.module.__name__ for item in items
              if "hardened_server" in getattr(item, "fixturenames", ())}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            module = item.module.__name__
            item.add_marker(pytest.mark.xdist_group("hardened-server" if module in shared else module))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The road-network cache of the session, one folder shared by the xdist workers (built once)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return tmp_path_factory.mktemp("network-cache")
    shared = tmp_path_factory.getbasetemp().parent / "network-cache"
    shared.mkdir(exist_ok=True)
    return shared


@contextmanager
def cache_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock on ``name`` in the cache folder (one worker builds, the other then reads)."""
    import fcntl

    with open(cache_dir / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def walk_net(cache_dir: Path):
    from geo_planner.network import build_network

    with cache_lock(cache_dir, "walk"):
        return build_network([GUIXI, NANJING], "walk", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def drive_net(cache_dir: Path):
    from geo_planner.network import build_network

    with cache_lock(cache_dir, "drive"):
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
# the real browser (Playwright on Debian's chromium; see tests/support/browser.py)


@pytest.fixture(scope="module")
def chromium_browser():
    """One headless Chromium per test module, driven by Playwright; skipped loudly when missing."""
    from geo_planner.report import find_chromium

    from .support.browser import MISSING, chromium_browser

    path = find_chromium()
    if path is None:
        print(MISSING.format(what="PAGE"))
        pytest.skip(MISSING.format(what="PAGE"))
    with chromium_browser(path) as browser:
        yield browser


@pytest.fixture()
def page(chromium_browser):
    """A fresh page (own context, 1280×900) recording its JavaScript errors and requests."""
    from .support.browser import new_page

    watched = new_page(chromium_browser)
    try:
        yield watched
    finally:
        watched.page.context.close()


# --------------------------------------------------------------------------- one hardened server


@pytest.fixture(scope="session")
def hardened_server(tmp_path_factory, cache_dir):
    """A live service (uvicorn on loopback) with a 2 MB upload limit, shared by the hardening, API and
    browser tests: one server and one demo run for all (schemathesis fuzzes a copy, :func:`fuzzed_server`)."""
    from .support.servers import LimitedServer, new_tokens

    srv = LimitedServer(tmp_path_factory.mktemp("hardening") / "data", new_tokens(), cache_dir).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def hardened_demo(hardened_server):
    """The demo uploaded to :func:`hardened_server` and run there: reports, run, run id."""
    from .support.servers import start_demo_run

    reports, run, _seen = start_demo_run(hardened_server)
    return {"reports": reports, "run": run, "run_id": run["id"]}


@pytest.fixture(scope="session")
def fuzzed_server(hardened_server, hardened_demo, tmp_path_factory, cache_dir):
    """A second live service on a copy of :func:`hardened_server`'s data (its demo run done), for schemathesis.

    Fuzzing signs in wrongly (the client's sign-in lockout), adds and changes users, places members
    and starts runs: the browser and API tests on the hardened server must not see any of that.
    The SQLite store is copied with SQLite's backup (consistent while the first server runs).
    """
    import shutil
    import sqlite3

    from .support.servers import LimitedServer, new_tokens

    src = hardened_server.data_dir
    dst = tmp_path_factory.mktemp("fuzzed") / "data"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("store.sqlite3*"))
    with sqlite3.connect(src / "store.sqlite3") as a, sqlite3.connect(dst / "store.sqlite3") as b:
        a.backup(b)
    srv = LimitedServer(dst, new_tokens(), cache_dir).start()
    yield srv
    srv.stop()


# --------------------------------------------------------------------------- the two stores


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable PostgreSQL server with PostGIS whose role may create databases."""
    import sqlalchemy as sa

    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        no_postgres(f"{PG_ENV} is not set")
    engine = pg_engine(url)
    try:
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        no_postgres(f"cannot connect to {engine.url.render_as_string(hide_password=True)}: "
                     f"{str(exc.orig).strip().splitlines()[0]}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The store a test module's server uses: ``None`` (SQLite in its data folder) or the URL of a
    fresh PostgreSQL/PostGIS database (dropped afterwards)."""
    if request.param == "sqlite":
        yield None
        return
    admin = request.getfixturevalue("postgres_url")
    url = new_database(admin)
    yield url
    drop_database(admin, url)


