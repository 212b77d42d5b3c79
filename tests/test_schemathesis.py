"""Schemathesis against the live service: no 5xx, answers match their schemas, codes documented.

A real ``uvicorn`` server on loopback with the demo run done (a copy of the hardened server's data,
so what fuzzing changes never reaches the other tests); schemathesis (its CLI, in a
child process) reads ``/openapi.json`` and sends generated requests — valid and invalid —
with a planner token and then an admin token, every check on except those needing
resources it cannot create (``use_after_free`` / ``ensure_resource_availability``: deletes
are left out so the demo run stays) and ``positive_data_acceptance``. A scenario naming
datasets that do not exist and a point outside the run's roads are answered 404, as that
check expects; what it still finds are rules a JSON schema cannot state — cross-field
scenario rules (``branch_search_limit_min`` must exceed ``branch_walk_min``), text encodings
Python does not know, empty or unreadable uploads — answered 422 with the field named. Path ids are pinned to real ones (the demo run, one
of its datasets, a branch) so generated requests reach the routes' own code, not only 404s.
The run is bounded by ``--max-time`` (``GEO_PLANNER_SCHEMATHESIS_S``, default 30 s per token).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_api import ApiServer

MAX_TIME_S = int(os.environ.get("GEO_PLANNER_SCHEMATHESIS_S", "30"))
EXCLUDED_CHECKS = "positive_data_acceptance,use_after_free,ensure_resource_availability"


def _schemathesis() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("schemathesis")
    if found:
        return [found]
    pytest.skip("schemathesis is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def served(fuzzed_server: ApiServer, hardened_demo: dict, tmp_path_factory: pytest.TempPathFactory):
    return fuzzed_server, hardened_demo["reports"], hardened_demo["run"], tmp_path_factory.mktemp("st")


@pytest.mark.slow
@pytest.mark.parametrize("role", ["planner", "admin"])
def test_schemathesis_finds_nothing(served, role: str) -> None:
    srv, reports, run, root = served
    config = root / f"schemathesis-{role}.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.run_id" = "{run["id"]}"\n'
        f'"path.dataset_id" = "{reports["stations"]["id"]}"\n'
        '"path.branch_id" = "B01"\n',
        encoding="utf-8",
    )
    cmd = [
        *_schemathesis(), "--config-file", str(config), "run", f"{srv.base_url}/openapi.json",
        "-H", f"Authorization: Bearer {srv.tokens[role]}",
        "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
        "--exclude-method", "DELETE", "--exclude-path-regex", "/cancel$",
        "--max-time", str(MAX_TIME_S), "--workers", "1", "--seed", "20261202",
        "--generation-database", "none", "--no-color", "--request-timeout", "60",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_TIME_S * 3 + 120, cwd=root)
    out = proc.stdout + proc.stderr
    (root / f"schemathesis-{role}.out").write_text(out, encoding="utf-8")
    generated = re.search(r"(\d+) generated", out)
    print(f"\nschemathesis ({role}): {generated.group(0) if generated else '?'}")
    assert proc.returncode == 0, out[-6000:]
    assert generated and int(generated.group(1)) > 100, out[-2000:]
    # the server never answered 5xx (its log has no unhandled error)
    assert "unhandled error" not in srv.log(), srv.log()[-4000:]
    # the demo run survived the fuzzing: still listed and done
    with srv.client("viewer") as viewer:
        assert viewer.get(f"/runs/{run['id']}").json()["status"] == "done"
