"""Shared fixtures: the bundled real OSM extracts and networks built from them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from .support.cache import cache_lock
from .support.paths import DEMO, GUIXI, NANJING
from .support.postgres import PG_ENV, drop_database, new_database, no_postgres, pg_engine

# --------------------------------------------------------------------------- two workers (pytest-xdist)
# `scripts/run.sh test` runs the suite on two workers (`-n 2 --dist loadfile`): a test module stays on one
# worker (its module fixtures are made once); modules are handed out longest first (tests/support/schedule.py).
# Without xdist nothing here changes.


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - xdist's types
    """``--dist loadfile`` with the longest modules first (:class:`tests.support.schedule.LongestFirst`)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from .support.schedule import LongestFirst

    return LongestFirst(config, log)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The road-network cache of the session, one folder shared by the xdist workers (built once)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return tmp_path_factory.mktemp("network-cache")
    shared = tmp_path_factory.getbasetemp().parent / "network-cache"
    shared.mkdir(exist_ok=True)
    return shared


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
def demo_run(cache_dir):
    """The demo scenario run once per session: (RunResult, members.csv by id, out dir, progress calls).

    Run by the first xdist worker that asks, into the session's shared cache; the result is kept
    pickled beside its outputs and the other worker reads it (the demo run takes ~15–40 s).
    """
    import pickle

    from geo_planner.pipeline import run
    from geo_planner.settings import load_scenario

    folder = cache_dir / "demo-run"
    kept = folder / "result.pickle"
    with cache_lock(cache_dir, "demo-run"):
        if kept.exists():
            result, stages = pickle.loads(kept.read_bytes())
        else:
            scenario = load_scenario(DEMO / "scenario.toml")
            scenario = scenario.model_copy(
                update={"network": scenario.network.model_copy(update={"cache_dir": cache_dir})})
            stages = []
            result = run(scenario, folder / "out", progress=lambda s, f: stages.append((s, f)))
            kept.write_bytes(pickle.dumps((result, stages), protocol=pickle.HIGHEST_PROTOCOL))
    out = folder / "out"
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
def served_demo(cache_dir):
    """The demo uploaded and run through the API once per session: (data folder to copy, its reports and run).

    See :func:`tests.support.servers.served_demo`; servers start on copies of the folder.
    """
    from .support.servers import served_demo

    return served_demo(cache_dir)


@pytest.fixture(scope="session")
def hardened_server(tmp_path_factory, cache_dir, served_demo):
    """A live service (uvicorn on loopback) with a 2 MB upload limit and the demo run done, shared by the
    hardening, API and browser tests of a worker (schemathesis fuzzes its own copy, :func:`fuzzed_server`)."""
    from .support.servers import LimitedServer, copy_data, new_tokens

    data = copy_data(served_demo[0], tmp_path_factory.mktemp("hardening") / "data")
    srv = LimitedServer(data, new_tokens(), cache_dir).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def hardened_demo(served_demo):
    """The demo's upload reports, finished run and run id on :func:`hardened_server` (and :func:`fuzzed_server`)."""
    return served_demo[1]


@pytest.fixture(scope="session")
def fuzzed_server(tmp_path_factory, cache_dir, served_demo):
    """A live service like :func:`hardened_server` on its own copy of the served demo, for schemathesis.

    Fuzzing signs in wrongly (the client's sign-in lockout), adds and changes users, places members
    and starts runs: the browser and API tests on the hardened server must not see any of that.
    """
    from .support.servers import LimitedServer, copy_data, new_tokens

    data = copy_data(served_demo[0], tmp_path_factory.mktemp("fuzzed") / "data")
    srv = LimitedServer(data, new_tokens(), cache_dir).start()
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


