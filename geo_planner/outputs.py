"""A run's output folder: the files the pipeline writes, and how they are written.

Every output name lives here (the CSV tables' names come from :func:`geo_planner.vocab.table_file`);
:mod:`geo_planner.results` reads the same files back. Writes are atomic (``io.atomic_write``).
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from . import __version__
from .atomic import atomic_write
from .functions import covered_column, nearest_column, present_functions, time_column
from .geocode import IMPRECISE_STATUS
from .io import write_rejections
from .vocab import IMPRECISE_LOCATION, table_file

if TYPE_CHECKING:
    from .run_result import RunResult

#: ``run.json``: parameters, versions, timings, counts and files of the run.
RUN_FILE: Final = "run.json"
#: The planner's map the pipeline writes.
MAP_FILE: Final = "map.html"
#: Maps the service draws on demand, per role (a viewer's shows members only as grid counts).
ROLE_MAP_FILES: Final = {"viewer": "map_viewer.html", "planner": "map_planner.html",
                         "admin": "map_planner.html"}
#: The extract's own base map (``basemap.py``): GeoJSON features and a MapLibre style for them.
BASEMAP_FILE: Final = "basemap.geojson"
BASEMAP_STYLE_FILE: Final = "basemap.style.json"
#: What a point query needs, precomputed per network node (``pointindex.py``).
POINT_INDEX_FILE: Final = "point_index.npz"
#: The run's station-siting instance, re-solved by the service with locks and bans (``reoptimise.py``).
SITING_INSTANCE_FILE: Final = "siting_instance.npz"
#: The printable report (``report.py``).
REPORT_HTML: Final = "report.html"
REPORT_PDF: Final = "report.pdf"
#: The decision-support tables (``decision/decide.py``).
DECISION_TABLES: Final = ("tradeoff", "sensitivity", "phased_plan")

#: Columns of ``members.csv``, in this order (then the planner's extra columns).
MEMBER_COLUMNS = [
    "id", "name", "status", "age", "branch_id", "address", "township", "community",
    "lon", "lat", "crs_in", "geocode_precision", "geocode_score", "geocode_match",
    "snap_m", "network_status",
    "walk_min_branch", "branch_status", "walk_min_station", "nearest_station_id", "station_status",
    "drive_min_hospital", "nearest_hospital_id", "hospital_status",
    "covered_station", "covered_branch", "covered_hospital",
    "dispersed", "dispersion_reason", "dispersion_note", "member_city", "member_county", "meeting_township",
    "recommendation_id", "recommendation_kind",
]


def _versions() -> dict[str, str]:
    """Versions of the libraries the answer depends on (from package metadata: importing osmnx
    only for its version took seconds when the networks came from the cache)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"geo_planner": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "pandas": pd.__version__}
    for name in ("scipy", "shapely", "osmnx", "highspy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - metadata missing
            pass
    from .admin import boundary_source

    out["admin_boundaries"] = boundary_source() or "none (nearest county seat)"
    return out


def members_table(members: pd.DataFrame) -> pd.DataFrame:
    """The ``members.csv`` columns: the documented ones first, then the planner's extra columns."""
    cols = [c for c in MEMBER_COLUMNS if c in members.columns]
    # 四就近 by function: times and nearest places after the station's, flags after the hospital's
    fns = present_functions(members.columns)
    times = [c for f in fns for c in (time_column(f), nearest_column(f)) if c in members]
    flags = [covered_column(f) for f in fns if covered_column(f) in members]
    for after, new in (("station_status", times), ("covered_hospital", flags)):
        at = cols.index(after) + 1 if after in cols else len(cols)
        cols[at:at] = new
    extra = [c for c in members.columns if c not in cols and c not in ("geometry", "source_row")]
    table = members[cols + extra].copy()
    for c in ("walk_min_branch", "walk_min_station", "drive_min_hospital", *map(time_column, fns)):
        if c in table:
            table[c] = table[c].round(2)
    return table


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` as UTF-8 CSV with BOM (Excel opens it in Chinese), atomically."""
    atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
    return path


def _write_tables(result: RunResult) -> dict[str, Path]:
    """Write the run's tables (:data:`geo_planner.vocab.RUN_TABLES`) that it produced; return name → path."""
    out = result.out_dir
    written = {"members": _write_csv(members_table(result.members), out / table_file("members"))}
    write_rejections(result.rejections, out / table_file("rejections"))
    written["rejections"] = out / table_file("rejections")
    # the accepted, geocoded facilities (WGS-84) — the service answers point questions from them
    facilities = {"branches": result.branches, "stations": result.stations, "hospitals": result.hospitals}
    for name, frame in facilities.items():
        if frame is not None:
            table = pd.DataFrame(frame.drop(columns=[c for c in ("geometry", "source_row") if c in frame]))
            written[name] = _write_csv(table, out / table_file(name))
    for name in ("coverage_by_area", "coverage_by_branch", "recommendations"):
        table = getattr(result, name)
        if table is not None:
            written[name] = _write_csv(table, out / table_file(name))
    if result.decision is not None:  # trade-off curve, sensitivity, phased plan (decision/decide.py)
        for name in DECISION_TABLES:
            written[name] = _write_csv(getattr(result.decision, name), out / table_file(name))
    return written


def _value_counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().items()}


def _run_counts(result: RunResult) -> dict[str, Any]:
    """The counts of ``run.json``: rows, networks, coverage, imprecise locations, dispersion reasons."""
    m, rej = result.members, result.rejections
    counts: dict[str, Any] = {
        "members": int(len(m)),
        "branches": int(len(result.branches)),
        "stations": int(len(result.stations)),
        "hospitals": int(len(result.hospitals)) if result.hospitals is not None else 0,
        "rejected_rows": int((rej["action"] == "rejected").sum()) if len(rej) else 0,
        "warnings": int((rej["action"] == "warning").sum()) if len(rej) else 0,
        "geocode_precision": _value_counts(m["geocode_precision"]),
        "network_status": _value_counts(m["network_status"]),
        "walk_nodes": result.walk.n_nodes,
        "walk_edges": result.walk.n_edges,
        "drive_nodes": result.drive.n_nodes if result.drive is not None else 0,
        "drive_edges": result.drive.n_edges if result.drive is not None else 0,
    }
    for col in ("covered_station", "covered_branch", "covered_hospital", "dispersed"):
        if col in m:
            counts[col] = int(m[col].sum())
    if "admin_source" in m:  # what decided each member's city and county (异地)
        counts["admin_source"] = _value_counts(m["admin_source"])
    imprecise = m["network_status"] == IMPRECISE_STATUS
    counts[IMPRECISE_LOCATION] = {
        "members": int(imprecise.sum()),
        "min_precision_for_times": result.scenario.geocode.min_precision_for_times,
        "by_precision": _value_counts(m.loc[imprecise, "geocode_precision"]),
        "by_township": _value_counts(m.loc[imprecise, "township"].fillna("").astype(str).replace("", "（未定位）")),
    }
    if "branch_status" in m:  # the own-branch search cut-off and who lies beyond it
        counts["branch_search_limit"] = {
            "limit_min": result.scenario.thresholds.branch_limit(),
            "members_beyond": int((m["branch_status"] == "beyond_limit").sum()),
        }
    if "dispersion_reason" in m:
        reasons = m["dispersion_reason"].str.split(";").explode()
        counts["dispersion_reasons"] = _value_counts(reasons[reasons != ""])
    counts.update(result.counts)
    if result.recommendations is not None:
        counts["recommendations"] = _value_counts(result.recommendations["kind"])
    return counts


def write_outputs(result: RunResult, *, started: datetime) -> None:
    """Write the run's CSV tables and ``run.json`` (with the counts), each atomically."""
    written = _write_tables(result)
    result.counts = _run_counts(result)
    result.files.update({k: str(v) for k, v in written.items()})
    result.files["run"] = str(result.out_dir / RUN_FILE)
    write_run_json(result, started=started)


def write_run_json(result: RunResult, *, started: datetime) -> None:
    """Write ``run.json`` (parameters, versions, timings, counts, files) atomically."""
    out = result.out_dir
    doc = {
        "scenario": json.loads(result.scenario.model_dump_json()),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "timings_s": result.timings,
        "counts": result.counts,
        "files": result.files,
    }
    atomic_write(
        out / RUN_FILE,
        lambda p: p.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8"),
    )
