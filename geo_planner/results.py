"""A finished run read back: its files, its tables, its road networks.

The pipeline writes a run's outputs into one folder (names in :mod:`geo_planner.outputs` and
:func:`geo_planner.vocab.table_file`); everything that reads them — the service's routes, the
benchmarks — goes through here rather than knowing file names, CSV quirks or how the
networks were built:

* :func:`load_run` — the run's scenario, facility tables, road networks (from the network
  cache, exactly as the pipeline built them: :func:`geo_planner.network.run_networks`) and its
  point index, as one immutable :class:`LoadedRun`;
* :func:`read_table` / :func:`optional_table` / :func:`table_for_role` — one table, with its
  flag columns parsed to booleans once, optionally as a role may see it (:mod:`geo_planner.privacy`);
* :func:`point_services`, :func:`dispersed_of_branch`, :func:`available_exports`,
  :func:`map_page` — the questions the service answers about a finished run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd

from .crs import M_PER_DEG_LON_EQUATOR, metres_per_degree
from .errors import InputError, NotFoundError, Problem
from .network import RoadNetwork, run_networks
from .outputs import BASEMAP_FILE, MAP_FILE, POINT_INDEX_FILE, REPORT_HTML, REPORT_PDF, ROLE_MAP_FILES
from .pointindex import PointIndex, build_point_index, load_point_index
from .privacy import exportable_tables, is_viewer, redact_for_role
from .settings import Scenario
from .vocab import FORMATS, FUNCTIONS, ExportFormat, Role, TableName, table_file

log = logging.getLogger(__name__)

#: Tables without coordinates: no GIS export formats.
NO_GEOMETRY_TABLES: Final = ("coverage_by_area", "coverage_by_branch", "tradeoff", "sensitivity")
#: Columns holding true/false flags (CSV writes them as ``True``/``False``; a blank is unknown).
FLAG_COLUMNS: Final = ("covered_station", "covered_branch", "covered_hospital",
                       *(f"covered_{f}" for f in FUNCTIONS), "dispersed", "flagged",
                       "suppressed", "existing")
#: Members' columns a planner sees in a branch's list of dispersed members.
DISPERSED_COLUMNS: Final = (
    "id", "name", "status", "age", "address", "township", "community", "lon", "lat", "walk_min_branch",
    "branch_status", "dispersion_reason", "dispersion_note", "member_city", "member_county",
    "meeting_township",
)
_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})


class RunSource(Protocol):
    """What this module needs of a store: a finished run's record, its files and its tables."""

    def finished_run(self, run_id: str) -> Any: ...  # noqa: D102

    def run_file(self, run_id: str, name: str) -> Path: ...  # noqa: D102

    def run_table(self, run_id: str, table: str) -> pd.DataFrame: ...  # noqa: D102


@dataclass(frozen=True)
class RunTables:
    """The accepted, geocoded facilities of a finished run (WGS-84 ``lon``/``lat``)."""

    branches: pd.DataFrame
    stations: pd.DataFrame
    hospitals: pd.DataFrame | None


@dataclass(frozen=True)
class LoadedRun:
    """A finished run in memory: what point questions and maps need."""

    run_id: str
    name: str
    scenario: Scenario
    tables: RunTables
    walk: RoadNetwork
    drive: RoadNetwork | None
    point_index: PointIndex


def parse_flags(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with its :data:`FLAG_COLUMNS` as booleans (nullable where a cell is blank).

    A CSV column of ``True``/``False`` with blanks reads back as text; this is the one place
    that turns it back into flags.
    """
    out = df
    for col in FLAG_COLUMNS:
        if col not in df.columns or pd.api.types.is_bool_dtype(df[col]):
            continue
        if pd.api.types.is_numeric_dtype(df[col]):  # 1/0 with blanks
            flags = df[col].astype("boolean")
        else:
            text = df[col].astype("string").str.strip().str.lower()
            flags = pd.Series(pd.NA, index=df.index, dtype="boolean")
            flags[text.isin(_TRUE).fillna(False).to_numpy(bool)] = True
            flags[text.isin(_FALSE).fillna(False).to_numpy(bool)] = False
        if out is df:
            out = df.copy()
        out[col] = flags
    return out


def read_table(store: RunSource, run_id: str, name: str) -> pd.DataFrame:
    """Read table ``name`` of a finished run, flag columns parsed (:func:`parse_flags`).

    Parameters
    ----------
    store
        The store holding the run.
    run_id
        The run.
    name
        One of :data:`geo_planner.vocab.RUN_TABLES`.

    Raises
    ------
    NotFoundError
        Unknown run or table, or the run has no such table.
    ConflictError
        The run is not finished.
    """
    return parse_flags(store.run_table(run_id, name))


def optional_table(store: RunSource, run_id: str, name: str) -> pd.DataFrame | None:
    """Read table ``name`` like :func:`read_table`; ``None`` when the run did not produce it."""
    store.finished_run(run_id)  # an unknown or unfinished run still answers 404/409
    return read_table(store, run_id, name) if has_table(store, run_id, name) else None


def table_for_role(store: RunSource, run_id: str, table: TableName, role: Role) -> pd.DataFrame:
    """Read an export table as ``role`` may see it (:func:`geo_planner.privacy.redact_for_role`).

    ``branches`` carries its coverage columns (``coverage_by_branch``) as in the exports; a
    viewer's recommendations are scrubbed of the run's member names, ids and homes.

    Raises
    ------
    PermissionDeniedError
        A viewer asking for ``members``.
    """
    members = language = None
    if table == "recommendations" and is_viewer(role):
        members = read_table(store, run_id, "members")
        language = store.finished_run(run_id).scenario_model().map.language
    if table == "members" and is_viewer(role):
        return redact_for_role(pd.DataFrame(), table, role)  # refused before anything is read
    df = _branches_with_coverage(store, run_id) if table == "branches" else read_table(store, run_id, table)
    return redact_for_role(df, table, role, members=members, language=language or "zh")


def _branches_with_coverage(store: RunSource, run_id: str) -> pd.DataFrame:
    """``branches`` joined with its coverage columns (those both tables carry, once)."""
    branches = read_table(store, run_id, "branches")
    cov = optional_table(store, run_id, "coverage_by_branch")
    if cov is None:
        return branches
    both = [c for c in cov.columns if c == "branch_name" or (c in branches.columns and c != "id")]
    cov = cov.drop(columns=both)
    return branches.merge(cov, left_on="id", right_on="branch_id", how="left").drop(columns="branch_id")


def has_table(store: RunSource, run_id: str, name: str) -> bool:
    """Whether the finished run produced table ``name``."""
    try:
        store.run_file(run_id, table_file(name))
    except NotFoundError:
        return False
    return True


def available_exports(store: RunSource, run_id: str, role: Role) -> list[tuple[TableName, ExportFormat]]:
    """Every ``(table, format)`` of a finished run that ``role`` may download.

    Tables the run produced and the role may see (:func:`geo_planner.privacy.exportable_tables`),
    in every format; no GIS format for tables without coordinates.
    """
    store.finished_run(run_id)
    return [(table, fmt) for table in exportable_tables(role) if has_table(store, run_id, table)
            for fmt in FORMATS if not (fmt in ("geojson", "gpkg") and table in NO_GEOMETRY_TABLES)]


def load_run(store: RunSource, run_id: str) -> LoadedRun:
    """Load a finished run: scenario, facility tables, road networks and point index.

    The networks come from the network cache on disk, built by the pipeline's own network stage
    (:func:`geo_planner.network.run_networks`); their snapping indexes are built here, so the
    first point query is as fast as the rest.

    Parameters
    ----------
    store
        The store holding the run.
    run_id
        The run.

    Returns
    -------
    LoadedRun

    Raises
    ------
    NotFoundError, ConflictError
        Unknown run; run not finished.
    """
    run = store.finished_run(run_id)
    scenario = run.scenario_model()
    tables = RunTables(
        branches=read_table(store, run_id, "branches"), stations=read_table(store, run_id, "stations"),
        hospitals=optional_table(store, run_id, "hospitals"),
    )
    walk, drive = run_networks(scenario)
    index = _point_index(store, run_id, scenario, tables, walk, drive)
    for road in (walk, drive):  # build the snapping indexes now (lazily built on first snap)
        if road is not None:
            road.snap(road.node_lon[:1], road.node_lat[:1])
    return LoadedRun(run_id=run_id, name=run.name, scenario=scenario, tables=tables, walk=walk, drive=drive,
                     point_index=index)


def _point_index(
    store: RunSource, run_id: str, scenario: Scenario, tables: RunTables, walk: RoadNetwork,
    drive: RoadNetwork | None,
) -> PointIndex:
    """Return the run's point index (written when the run finished), else built now (older runs)."""
    try:
        index = load_point_index(store.run_file(run_id, POINT_INDEX_FILE))
        if index.matches(walk, drive):
            return index
        log.warning("run %s: point index does not match its networks; rebuilding it", run_id)
    except (NotFoundError, InputError) as exc:
        log.info("run %s: %s; building the point index", run_id, exc)
    return build_point_index(walk, drive, stations=tables.stations, branches=tables.branches,
                             hospitals=tables.hospitals, thresholds=scenario.thresholds,
                             max_snap_m=scenario.network.max_snap_m)


def check_point_in_network(walk: RoadNetwork, lon: float, lat: float, margin_m: float) -> None:
    """Refuse a point outside the run's road network area (its extent plus ``margin_m`` metres).

    Raises
    ------
    InputError
        For a longitude or latitude that is not finite.
    NotFoundError
        For a point outside the area the run covers (named): the run holds nothing there.
    """
    x = np.asarray(walk.node_lon, dtype="float64")
    y = np.asarray(walk.node_lat, dtype="float64")
    if not (math.isfinite(lon) and math.isfinite(lat)) or x.size == 0:
        raise InputError(Problem("request", None, "lon,lat", "give finite WGS-84 degrees"))
    m_lon, m_lat = metres_per_degree(float(np.nanmean(y)))
    dlat, dlon = margin_m / m_lat, margin_m / max(0.01 * M_PER_DEG_LON_EQUATOR, float(m_lon))
    w, e, s, n = np.nanmin(x) - dlon, np.nanmax(x) + dlon, np.nanmin(y) - dlat, np.nanmax(y) + dlat
    if not (w <= lon <= e and s <= lat <= n):  # a well-formed question about a place the run does not hold: 404
        raise NotFoundError(
            f"({lon:g}, {lat:g}) lies outside this run's road network (lon {w:.4f}–{e:.4f}, "
            f"lat {s:.4f}–{n:.4f}); ask about a point inside it")


def point_services(run: LoadedRun, lon: float, lat: float) -> dict[str, Any]:
    """Tell what serves a location: the facilities within the run's thresholds, nearest first.

    Parameters
    ----------
    run
        The loaded run.
    lon, lat
        WGS-84 degrees, inside the run's road network area.

    Returns
    -------
    dict
        ``on_network``, ``snap_m``, ``stations``, ``branches``, ``hospitals`` (lists of
        ``{"id", "name", "minutes"}``) and ``nearest_station_min`` (``PointIndex.query``).

    Raises
    ------
    NotFoundError
        The point lies outside the run's road network area.
    """
    check_point_in_network(run.walk, lon, lat, run.scenario.network.max_snap_m)
    return run.point_index.query(run.walk, run.drive, lon, lat)


def dispersed_of_branch(store: RunSource, run_id: str, branch_id: str) -> tuple[str, int, pd.DataFrame]:
    """Return a branch's name, its number of members and its dispersed members (:data:`DISPERSED_COLUMNS`).

    Raises
    ------
    NotFoundError
        Unknown branch, or a run made before dispersion was computed.
    """
    branches = read_table(store, run_id, "branches")
    match = branches[branches["id"] == branch_id]
    if match.empty:
        raise NotFoundError(f"no branch {branch_id!r} in run {run_id!r}")
    members = read_table(store, run_id, "members")
    if "dispersed" not in members.columns:
        raise NotFoundError(f"run {run_id!r} has no dispersion results (made by an older version)")
    mine = members[members["branch_id"] == branch_id]
    dispersed = mine[mine["dispersed"].fillna(False).astype(bool)]
    columns = [c for c in DISPERSED_COLUMNS if c in dispersed.columns]
    return str(match["name"].iloc[0]), int(len(mine)), dispersed[columns]


def map_page(store: RunSource, run_id: str, role: Role, load: Callable[[], LoadedRun]) -> Path:
    """Return the map page ``role`` gets of a finished run, drawn now if it is not on disk yet.

    Planners get the pipeline's ``map.html``; a viewer gets a map with members only as grid
    counts (``maps.build_map(role="viewer")``). ``load`` gives the loaded run when a map must be drawn.
    """
    run = store.finished_run(run_id)
    if not is_viewer(role) and (run.out_dir / MAP_FILE).is_file():
        return Path(run.out_dir / MAP_FILE)
    path = Path(run.out_dir / ROLE_MAP_FILES[role])
    if path.is_file():
        return path
    from .basemap import read_basemap
    from .maps import build_map, save_map  # folium: only when a map is drawn

    loaded, sc = load(), run.scenario_model()
    base_file = Path(run.out_dir / BASEMAP_FILE)
    fmap = build_map(
        read_table(store, run_id, "members"), loaded.tables.branches, loaded.tables.stations,
        loaded.tables.hospitals, optional_table(store, run_id, "recommendations"),
        walk=loaded.walk, drive=loaded.drive, thresholds=sc.thresholds, settings=sc.map, role=role,
        coverage_by_area=optional_table(store, run_id, "coverage_by_area"), title=run.name,
        max_snap_m=sc.network.max_snap_m, basemap=read_basemap(base_file) if base_file.is_file() else None,
    )
    save_map(fmap, path)
    return path


def map_html(store: RunSource, run_id: str, role: Role, load: Callable[[], LoadedRun]) -> str:
    """Return the text of the map page ``role`` gets of a finished run (see :func:`map_page`)."""
    return map_page(store, run_id, role, load).read_text(encoding="utf-8")


def report_html(store: RunSource, run_id: str) -> str:
    """Return a finished run's ``report.html`` (aggregates only: every role may read it)."""
    return store.run_file(run_id, REPORT_HTML).read_text(encoding="utf-8")


def report_pdf(store: RunSource, run_id: str) -> bytes:
    """Return a finished run's ``report.pdf`` (``NotFoundError`` where no Chromium printed it)."""
    return store.run_file(run_id, REPORT_PDF).read_bytes()


def basemap_file(store: RunSource, run_id: str) -> Path:
    """The run's base map (``basemap.geojson``: OpenStreetMap data only, every role may read it).

    Raises
    ------
    NotFoundError, ConflictError
        Unknown run, a run from before base maps, or a run not finished.
    """
    return Path(store.run_file(run_id, BASEMAP_FILE))


def basemap_style_of(store: RunSource, run_id: str, data_url: str, glyphs_url: str) -> dict[str, Any]:
    """A MapLibre style for the run's base map, its source at ``data_url`` and glyphs at ``glyphs_url``."""
    from .basemap import basemap_style

    basemap_file(store, run_id)  # 404 for a run without a base map
    return basemap_style(data_url, glyphs_url=glyphs_url, name=str(store.finished_run(run_id).name))
@dataclass(frozen=True)
class _FolderRecord:
    """What :class:`RunFolder` answers for ``finished_run``: the run's name, folder and scenario."""

    name: str
    out_dir: Path
    scenario: Scenario

    def scenario_model(self) -> Scenario:
        """The scenario the run was made with."""
        return self.scenario


class RunFolder:
    """A pipeline's output folder read as a store of one finished run (benchmarks, tests, scripts).

    ``RunFolder(scenario, out_dir)`` answers :class:`RunSource` for the run id ``out_dir.name``
    with the same table reader as the service's store (:func:`geo_planner.store.files.read_table_csv`).
    """

    def __init__(self, scenario: Scenario, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.run_id = self.out_dir.name
        self._record = _FolderRecord(scenario.name, self.out_dir, scenario)

    def finished_run(self, run_id: str) -> _FolderRecord:
        """The run's record; :class:`NotFoundError` for another id."""
        if run_id != self.run_id:
            raise NotFoundError(f"no run {run_id!r} (this folder holds {self.run_id!r})")
        return self._record

    def run_file(self, run_id: str, name: str) -> Path:
        """Path of an output file of the run."""
        path = self.finished_run(run_id).out_dir / name
        if Path(name).name != name or not path.is_file():
            raise NotFoundError(f"run {run_id!r} has no {name}")
        return path

    def run_table(self, run_id: str, table: str) -> pd.DataFrame:
        """One table of the run, read as the store reads it."""
        from .store.files import read_table_csv

        return read_table_csv(self.run_file(run_id, table_file(table)))
