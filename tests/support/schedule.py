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
    "tests/api/test_store_pg.py": 257,
    "tests/workspace/test_workspace.py": 241,
    "tests/api/test_api.py": 236,
    "tests/pipeline/test_kill.py": 214,
    "tests/workspace/test_workspace_whatif.py": 157,
    "tests/api/test_accounts.py": 146,
    "tests/pipeline/test_province.py": 140,
    "tests/whatif/test_whatif.py": 136,
    "tests/api/test_schemathesis.py": 99,
    "tests/geocode/test_precision_pbf.py": 76,
    "tests/analysis/test_coverage_dispersion.py": 67,
    "tests/io/test_column_mapping.py": 66,
    "tests/workspace/test_browser.py": 65,
    "tests/api/test_hardening.py": 63,
    "tests/api/test_whatif_api.py": 47,
    "tests/io/test_importers_fuzz.py": 47,
    "tests/workspace/test_workspace_basemap.py": 45,
    "tests/pipeline/test_pipeline.py": 35,
    "tests/whatif/test_compare.py": 34,
    "tests/geocode/test_cli_placements.py": 21,
    "tests/pipeline/test_results.py": 20,
    "tests/outputs/test_basemap.py": 19,
    "tests/decision/test_decision.py": 18,
    "tests/outputs/test_maps.py": 17,
    "tests/siting/test_siting_stations.py": 15,
    "tests/analysis/test_functions_siting.py": 14,
    "tests/api/test_conventions.py": 13,
    "tests/visits/test_visits.py": 12,
    "tests/organisation/test_siting_branches.py": 11,
    "tests/outputs/test_report_fonts.py": 10,
    "tests/siting/test_p_median_lagrange.py": 9,
    "tests/analysis/test_functions.py": 7,
    "tests/geocode/test_crossregion.py": 6,
    "tests/siting/test_siting_plan.py": 6,
    "tests/api/test_contract.py": 6,
    "tests/organisation/test_joint_exact.py": 5,
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
