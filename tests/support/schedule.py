"""How the suite is shared between pytest-xdist's workers: a module per worker, the longest first.

``scripts/run.sh test`` runs ``pytest -n 2 --dist loadfile``: every test module stays on one worker
(its module fixtures — servers, browsers, runs — are made once). xdist hands out the modules in
collection order, which puts the longest (the workspace's browser tests, the what-if and pipeline
runs) at the end, where one worker finishes them alone. :class:`LongestFirst` hands them out longest
first instead (the greedy rule that keeps two workers' loads within one module of each other),
using the seconds each module took in a full run of the suite (``MODULE_SECONDS``); a module not in
the table counts half a second per test.

(``--dist loadgroup`` is not used: with pytest 9 xdist's ``@group`` suffix on test ids no longer
takes effect, and every test was scheduled on its own, each module's fixtures made on both workers.)
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

#: Seconds per module in a full run on two workers (``pytest --durations=0``; setup + call + teardown).
#: Only the order matters; refresh after large changes with ``python -m tests.support.schedule junit.xml``.
MODULE_SECONDS: dict[str, float] = {
    "tests/api/test_store_pg.py": 140,
    "tests/api/test_api.py": 112,
    "tests/workspace/test_workspace.py": 103,
    "tests/api/test_schemathesis.py": 97,
    "tests/workspace/test_workspace_whatif.py": 84,
    "tests/api/test_hardening.py": 49,
    "tests/pipeline/test_province.py": 42,
    "tests/whatif/test_whatif.py": 38,
    "tests/api/test_accounts.py": 28,
    "tests/pipeline/test_kill.py": 23,
    "tests/geocode/test_precision_pbf.py": 20,
    "tests/workspace/test_workspace_basemap.py": 18,
    "tests/api/test_whatif_api.py": 15,
    "tests/io/test_importers_fuzz.py": 14,
    "tests/pipeline/test_pipeline.py": 13,
    "tests/workspace/test_browser.py": 12,
    "tests/outputs/test_basemap.py": 11,
    "tests/api/test_conventions.py": 11,
    "tests/whatif/test_compare.py": 8,
    "tests/io/test_column_mapping.py": 8,
    "tests/analysis/test_functions_siting.py": 7,
    "tests/api/test_contract.py": 7,
    "tests/siting/test_siting_stations.py": 7,
    "tests/outputs/test_maps.py": 6,
    "tests/visits/test_visits.py": 6,
    "tests/geocode/test_cli_placements.py": 6,
}

#: Seconds per test of a module missing from :data:`MODULE_SECONDS`.
PER_TEST_S = 0.5


class LongestFirst(LoadFileScheduling):
    """xdist's ``loadfile`` scheduling with the modules handed out longest first."""

    _ordered = False

    def _assign_work_unit(self, node) -> None:  # noqa: ANN001 - xdist's WorkerController
        if not self._ordered:  # the work queue (module → its tests) is complete at the first assignment
            weight = {m: MODULE_SECONDS.get(m, PER_TEST_S * len(tests)) for m, tests in self.workqueue.items()}
            ordered = sorted(self.workqueue.items(), key=lambda item: -weight[item[0]])
            self.workqueue.clear()
            self.workqueue.update(ordered)
            self._ordered = True
        super()._assign_work_unit(node)


def module_seconds(junit_xml: str) -> dict[str, float]:
    """Seconds per test module from a JUnit XML report (``pytest --junitxml=F -o junit_duration_report=total``)."""
    import xml.etree.ElementTree as ET

    seconds: dict[str, float] = {}
    for case in ET.parse(junit_xml).iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        seconds[module] = seconds.get(module, 0.0) + float(case.get("time", 0.0))
    return seconds


if __name__ == "__main__":  # python -m tests.support.schedule junit.xml: the table to paste above
    import sys

    for module, s in sorted(module_seconds(sys.argv[1]).items(), key=lambda kv: -kv[1]):
        if s >= 5:
            print(f'    "{module}": {s:.0f},')
