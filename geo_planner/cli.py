"""Command line: ``geo-planner run SCENARIO.toml --out DIR`` and friends.

``geo-planner serve …`` hands its arguments to the web service's own command line
(``api.main.main``, also installed as ``geo-planner-serve``): the library does not import the
web app, it only starts it when asked to.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from .bundled import data_dir
from .errors import GeoPlannerError, InputError, Problem
from .run_result import stopped_models

log = logging.getLogger("geo_planner")

#: The web service's command line (``serve``), in the ``api`` package installed alongside.
SERVE_MODULE = "api.main"


class StageLines:
    """The progress bar's stand-in when its output is not a terminal (a log file, CI, a pipe).

    It offers the part of ``tqdm``'s interface the CLI uses, but instead of redrawing a bar it
    writes one line each time the stage (the description) changes: ``run: network 12% 3.4 s``,
    so logs get a line per stage instead of hundreds of carriage-return redraws.
    """

    def __init__(self, file: TextIO, *, disable: bool = False) -> None:
        self.file = file
        self.disable = disable
        self.n: float = 0
        self.desc = ""
        self.postfix = ""
        self._shown: str | None = None
        self._t0 = time.monotonic()

    def set_description(self, desc: str) -> None:
        """Name the current stage (printed at the next :meth:`refresh` if it changed)."""
        self.desc = desc

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Extra text shown on the stage's line (not a new line by itself)."""
        self.postfix = s

    def refresh(self) -> None:
        """Write a line if the stage changed since the last line."""
        if self.disable or self.desc == self._shown:
            return
        self._shown = self.desc
        extra = f" ({self.postfix})" if self.postfix else ""
        print(f"run: {self.desc} {self.n:.0f}% {time.monotonic() - self._t0:.1f} s{extra}", file=self.file,
              flush=True)

    def update(self, n: float = 1) -> None:
        """Advance by ``n`` percent (a line only if the stage changed)."""
        self.n += n
        self.refresh()

    def write(self, s: str, file: TextIO | None = None) -> None:
        """A message on its own line (as ``tqdm.write``), to ``file`` or the progress output."""
        if not self.disable:
            print(s, file=file or self.file, flush=True)

    def close(self) -> None:
        """Nothing to clear (no bar was drawn)."""


def progress_bar(*, quiet: bool, file: TextIO | None = None) -> Any:
    """A ``tqdm`` bar on a terminal, else :class:`StageLines` (one line per stage).

    Parameters
    ----------
    quiet
        No progress output at all.
    file
        Where progress goes (default ``sys.stderr``, like ``tqdm``).
    """
    out = file if file is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    if callable(isatty) and isatty():
        from tqdm import tqdm

        return tqdm(total=100, unit="%", desc="run", disable=quiet, file=out,
                    bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}]")
    return StageLines(out, disable=quiet)


def _cmd_run_province(args: argparse.Namespace, province: Any) -> int:
    """A scenario with ``[[regions]]``: run the regions (serially or on Dask), one line per finished region."""
    from .province import run_province

    n = len(province.regions)
    finished: list[str] = []
    share: dict[str, float] = {}
    lock = threading.Lock()
    bar = progress_bar(quiet=args.quiet)

    def on_progress(name: str, text: str, fraction: float) -> None:
        with lock:  # called from Dask's event thread while the main thread waits for regions
            share[name] = fraction
            bar.set_description(f"{name}: {text}")
            bar.update(100.0 * sum(share.values()) / n - bar.n)

    def on_region(name: str, summary: dict[str, Any]) -> None:
        finished.append(name)
        what = (f"{summary.get('members', 0)} members, {summary.get('wall_s', 0):.1f} s"
                if summary["status"] == "ok" else f"FAILED: {summary['error']}")
        with lock:
            share[name] = 1.0
            if not args.quiet:  # tqdm.write prints even from a disabled bar
                bar.write(f"region {len(finished)}/{n} {name}: {summary['status']} ({what})",
                          file=sys.stderr)

    if args.verbose < 2:  # distributed logs every worker start/stop at INFO
        logging.getLogger("distributed").setLevel(logging.WARNING)
    scheduler = args.scheduler if args.scheduler is not None else province.run.scheduler
    if scheduler == "serial":
        scheduler = None
    try:
        table = run_province(province, args.out, scheduler=scheduler, on_region=on_region, on_progress=on_progress)
    finally:
        bar.close()
    failed = table[table["status"] != "ok"]
    print(f"regions: {n - len(failed)} ok, {len(failed)} failed; members: {int(table['members'].fillna(0).sum())}")
    for label, file in (("regions", "regions.csv"), ("cross-region members", "cross_region.csv"),
                        ("cross-region branches", "cross_region_branches.csv"), ("run", "run.json")):
        print(f"  {label:<22} {Path(args.out) / file}")
    return 0 if failed.empty else 1


def _cmd_run(args: argparse.Namespace) -> int:
    from .province import Province, load_plan
    from .staging import run_staged as run  # a killed run leaves the previous outputs intact

    scenario = load_plan(args.scenario)
    if isinstance(scenario, Province):
        return _cmd_run_province(args, scenario)
    bar = progress_bar(quiet=args.quiet)

    def progress(stage: str, done: float) -> None:
        bar.set_description(stage)
        bar.n = round(done * 100)
        bar.refresh()

    try:
        map_copy = None if args.no_map_copy else args.maps / f"{Path(args.out).resolve().name}.html"
        placements = None
        if args.placements is not None:  # overrides the scenario's inputs.placements
            from .placements import load_placements

            if not args.placements.is_file():
                raise InputError(Problem(str(args.placements), None, "placements", "file not found"))
            placements = load_placements(args.placements)
        result = run(scenario, args.out, progress=progress, map_copy=map_copy, placements=placements)
    finally:
        bar.close()
    c = result.counts
    print(f"members: {c['members']} accepted, {c['rejected_rows']} rows rejected, {c['warnings']} warnings")
    warn_stopped_models(c, sys.stderr)
    for name, path in result.files.items():
        print(f"  {name:<22} {path}")
    return 0


def warn_stopped_models(counts: dict[str, Any], file: TextIO) -> int:
    """Print a warning for every model of a run that stopped at its time limit; return how many.

    ``counts`` is ``run.json``'s ``counts`` (``RunResult.counts``).
    """
    stopped = stopped_models(counts.get("siting", {}), counts.get("organisation", {}))
    for model, rec in stopped.items():
        gap = rec.get("gap")
        how = f"gap {100 * gap:.2f}%" if isinstance(gap, (int, float)) else "no bound from the solver"
        if model == "joint_branch" and rec.get("bound") is not None:
            how += f"; {rec.get('placed')} members placed of at most {rec.get('bound')}"
        what = ("kept its greedy answer" if rec.get("status") == "greedy" else "stopped at its time limit")
        if model == "p_center":  # solved in the decision stage, under its own budget
            limit, within = "decision_time_limit_s", "[siting] decision_time_limit_s"
        else:
            limit = "time_limit_s"
            within = f"[siting] time_limit_s = {counts.get('siting_time_limit_s', float('nan')):g} s"
        print(f"warning: {model} {what} ({how}) within {within}: the answer is feasible but not proved "
              f"optimal; raise {limit} for a better one (see run.json)", file=file)
    return len(stopped)


def _cmd_visits(args: argparse.Namespace) -> int:
    from .settings import load_scenario
    from .visits.write import plan_run_dir

    plan, files = plan_run_dir(load_scenario(args.scenario), args.run, args.out)
    s = plan.summary
    print(f"visits: {s['visits_planned']} planned of {s['selected']} selected, {s['unvisited']} unvisited "
          f"{s['unvisited_by_reason']}; drive {s['drive_min_total']:.1f} min; solver {s['solver']['status']}")
    for name, path in files.items():
        print(f"  {name:<22} {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import generate_demo

    bundled = data_dir()
    path = generate_demo(args.out or bundled / "demo", args.osm or bundled / "osm", seed=args.seed)
    print(f"demo scenario written: {path}")
    return 0


def _serve(argv: list[str]) -> int:
    """Run the web service's own command line with ``argv`` (what follows ``serve``)."""
    try:
        app_cli = importlib.import_module(SERVE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in ("api", SERVE_MODULE):
            raise
        print("error: the web service (package 'api') is not installed with this geo_planner", file=sys.stderr)
        return 2
    return int(app_cli.main(argv))


def build_parser() -> argparse.ArgumentParser:
    """The ``geo-planner`` argument parser."""
    p = argparse.ArgumentParser(prog="geo-planner", description=__doc__)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write members.csv, rejections.csv, run.json …")
    r.add_argument("scenario", type=Path, help="scenario TOML file")
    r.add_argument("--out", type=Path, required=True, help="output folder")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.add_argument("--maps", type=Path, default=Path("maps"), help="folder for a copy of the run's map (default maps/)")
    r.add_argument("--no-map-copy", action="store_true", help="write the map only into the output folder")
    r.add_argument("--placements", type=Path, default=None,
                   help="members placed by hand (the service's <data dir>/placements.json), applied before "
                        "geocoding as geocode_precision = manual (default: the scenario's inputs.placements)")
    r.add_argument("--scheduler", default=None,
                   help="regions of a [[regions]] scenario: 'local' (a Dask LocalCluster sized to the machine), "
                        "tcp://HOST:PORT (an existing Dask cluster) or 'serial'; default [run] scheduler, else serial")
    r.set_defaults(func=_cmd_run)

    # parsed by the service itself (see _serve): listed here so that --help shows it
    sub.add_parser("serve", help="start the web service (map, JSON API, exports): geo-planner serve --help",
                   add_help=False)

    v = sub.add_parser("visits", help="plan home visits ([visits] of the scenario) from a finished run")
    v.add_argument("scenario", type=Path, help="the scenario TOML file the run was made from, with [visits]")
    v.add_argument("--run", type=Path, required=True, help="the run's output folder")
    v.add_argument("--out", type=Path, required=True, help="folder for visits.csv, unvisited.csv, visits.xlsx …")
    v.set_defaults(func=_cmd_visits)

    d = sub.add_parser("demo", help="(re)generate the seeded demo scenario on the bundled OSM extracts")
    d.add_argument("--out", type=Path, default=None, help="default: the bundled data's demo/ (geo_planner.bundled)")
    d.add_argument("--osm", type=Path, default=None, help="default: the bundled data's osm/")
    d.add_argument("--seed", type=int, default=20261125)
    d.set_defaults(func=_cmd_demo)

    from .accounts_cli import add_parsers  # users, audit: the service's accounts and audit log

    add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geo-planner`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first] == "serve":  # the service parses the rest
        return _serve(argv[first + 1:])
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except GeoPlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
