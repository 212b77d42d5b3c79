"""Schemathesis against the live service: no 5xx, answers match their schemas, codes documented.

A real ``uvicorn`` server on loopback with the demo run done (a copy of the hardened server's data,
so what fuzzing changes never reaches the other tests); schemathesis (its CLI, in a
child process) reads ``/openapi.json`` and sends generated requests — valid and invalid —
with a planner token and then an admin token, every check on except those needing
resources it cannot create (``use_after_free`` / ``ensure_resource_availability``: deletes
are left out so the demo run stays).

"A schema-valid request is accepted" (``positive_data_acceptance``) holds on every route: what the
schema allows the service takes, or answers as the check expects — 404 for a dataset, run or
sign-in link that does not exist, 409 for a state conflict. The schema states the rules it can
(sign-in codes, new usernames, display names and passwords by pattern; glyph ranges and text
encodings as lists; ``since`` as a date or date-time). On a few operations a schema-valid request
may also be answered 422, because the rule is one a JSON schema cannot state
(:data:`POSITIVE_DATA_EXEMPT`, one reason each): a file's content, cross-field scenario rules, and
values that must name things of the run in the path (points on its roads, its station and
candidate ids). Only 422 is added there; every other check still runs on them.

Path ids are pinned to real ones (the demo run, one of its datasets, a branch) so generated requests
reach the routes' own code, not only 404s. The run is bounded by ``--max-time``
(``GEO_PLANNER_SCHEMATHESIS_S``, default 45 s per token).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.servers import ApiServer

MAX_TIME_S = int(os.environ.get("GEO_PLANNER_SCHEMATHESIS_S", "45"))  # the examples phase alone took 23 s at load 12
EXCLUDED_CHECKS = "use_after_free,ensure_resource_availability"
#: Operations where a schema-valid request may also be answered 422 (``positive_data_acceptance``'s
#: expected statuses plus 422), each with the rule a JSON schema cannot state; every other answer the
#: check refuses (400, 410 …) and every other check stay as for any operation.
POSITIVE_DATA_EXEMPT: dict[str, str] = {
    "POST /datasets/{kind}": "the file's content: a readable table of the kind (a schema types it as bytes)",
    "POST /datasets/{kind}/sheets": "the file's content: a readable workbook or GeoPackage",
    "POST /datasets/{kind}/columns": "the file's content: a readable table whose headers can be shown",
    "POST /runs": "cross-field scenario rules (branch_search_limit_min > branch_walk_min, min ≤ max "
                  "branch members …) and rules on the datasets' content (new_stations ≤ accepted members)",
    "POST /runs/{run_id}/whatif": "a station must lie on the run's roads; closed or moved ids are the run's",
    "POST /runs/{run_id}/whatif/optimise": "locked and banned ids are the run's candidates, p at most "
                                           "their number; lock and ban disjoint",
    "POST /runs/{run_id}/visits": "an office on the run's roads, named with lon/lat or a site of the run; "
                                  "a span's start before its end",
}


#: schemathesis' default expected statuses of ``positive_data_acceptance``, and 422.
POSITIVE_WITH_422 = '["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]'


def schemathesis_config(run_id: str, dataset_id: str) -> str:
    """The TOML config: path ids pinned to real ones, 422 also expected where exempt."""
    lines = ["[parameters]", f'"path.run_id" = "{run_id}"', f'"path.dataset_id" = "{dataset_id}"',
             '"path.branch_id" = "B01"', ""]
    for name in POSITIVE_DATA_EXEMPT:
        lines += ["[[operations]]", f'include-name = "{name}"',
                  f"checks.positive_data_acceptance.expected-statuses = {POSITIVE_WITH_422}", ""]
    return "\n".join(lines)


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
    config.write_text(schemathesis_config(run["id"], reports["stations"]["id"]), encoding="utf-8")
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
