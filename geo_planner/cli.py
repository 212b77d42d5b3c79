"""Command line: ``geo-planner run SCENARIO.toml --out DIR`` and friends."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import GeoPlannerError

log = logging.getLogger("geo_planner")

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data"


def _cmd_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .settings import load_scenario
    from .staging import run_staged as run  # a killed run leaves the previous outputs intact

    scenario = load_scenario(args.scenario)
    bar = tqdm(total=100, unit="%", desc="run", disable=args.quiet, bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}]")

    def progress(stage: str, done: float) -> None:
        bar.set_description(stage)
        bar.n = round(done * 100)
        bar.refresh()

    try:
        map_copy = None if args.no_map_copy else args.maps / f"{Path(args.out).resolve().name}.html"
        result = run(scenario, args.out, progress=progress, map_copy=map_copy)
    finally:
        bar.close()
    c = result.counts
    print(f"members: {c['members']} accepted, {c['rejected_rows']} rows rejected, {c['warnings']} warnings")
    for name, path in result.files.items():
        print(f"  {name:<22} {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import generate_demo

    path = generate_demo(args.out, args.osm, seed=args.seed)
    print(f"demo scenario written: {path}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from api.config import ApiSettings
    from api.main import serve, serve_demo

    settings = ApiSettings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    if args.demo:
        serve_demo(args.host, args.port, settings)
    else:
        serve(args.host, args.port, settings)
    return 0


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
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("serve", help="start the web service (map, JSON API, exports)")
    s.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--data-dir", type=Path, default=None, help="store folder (default $GEO_PLANNER_DATA_DIR or out/service)")
    s.add_argument("--demo", action="store_true", help="register the embedded demo, create local tokens, print the URL")
    s.set_defaults(func=_cmd_serve)

    d = sub.add_parser("demo", help="(re)generate the seeded demo scenario on the bundled OSM extracts")
    d.add_argument("--out", type=Path, default=DEFAULT_DATA / "demo")
    d.add_argument("--osm", type=Path, default=DEFAULT_DATA / "osm")
    d.add_argument("--seed", type=int, default=20261125)
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geo-planner`` console script."""
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
