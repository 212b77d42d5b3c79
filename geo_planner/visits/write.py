"""A visit plan's files, and the plan made from a finished run's output folder.

* ``visits.csv`` — one row per departure, home visit and return (:data:`.plan.VISIT_COLUMNS`);
* ``unvisited.csv`` — every selected member not visited, with the reason;
* ``visits.xlsx`` — one printable sheet per visitor and day, Chinese headers (序号, 姓名, 地址,
  联系电话, 预计到达, 停留, 备注): personal data, for planners only;
* ``visits.json`` — the figures (visits planned, drive minutes, the solver's status, bound, gap);
* ``visits_day{N}.html`` — each day's routes on the road network (:mod:`.routemap`).

Every file is written atomically (:func:`geo_planner.atomic.atomic_write`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from ..atomic import atomic_write
from ..errors import InputError, Problem
from ..network import RoadNetwork, build_network
from ..settings import Scenario, VisitSettings
from ..vocab import UNVISITED_LABELS
from .plan import VisitPlan, plan_visits
from .routemap import SPAN_NAMES

if TYPE_CHECKING:
    from ..results import LoadedRun, RunSource

log = logging.getLogger(__name__)

VISITS_CSV: Final = "visits.csv"
UNVISITED_CSV: Final = "unvisited.csv"
VISITS_XLSX: Final = "visits.xlsx"
VISITS_JSON: Final = "visits.json"
#: The printed sheet's columns.
SHEET_HEADERS: Final = ("序号", "姓名", "地址", "联系电话", "预计到达", "停留", "备注")


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    return atomic_write(path, lambda p: frame.to_csv(p, index=False, encoding="utf-8-sig"))


def write_plan(
    plan: VisitPlan, out_dir: Path | str, drive: RoadNetwork | None = None, *,
    scenario: Scenario | None = None, title: str = "",
) -> dict[str, Path]:
    """Write a plan's files into ``out_dir`` (created); the maps only when ``drive`` is given.

    Returns
    -------
    dict
        ``{name: path}`` of the files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"visits": _csv(plan.visits, out / VISITS_CSV)}
    unvisited = plan.unvisited.assign(reason_zh=plan.unvisited["reason"].map(UNVISITED_LABELS["zh"]))
    files["unvisited"] = _csv(unvisited, out / UNVISITED_CSV)
    files["xlsx"] = atomic_write(out / VISITS_XLSX, lambda p: write_sheets(plan, p, title=title))
    if drive is not None:
        from ..settings import MapSettings
        from .routemap import save_day_maps  # folium: only when maps are drawn

        settings = scenario.map if scenario is not None else MapSettings()
        for day, path in save_day_maps(plan, drive, out, settings, title=title).items():
            files[f"map_day{day}"] = path
    summary = {**plan.summary, "files": {k: p.name for k, p in files.items()}}
    files["json"] = atomic_write(out / VISITS_JSON, lambda p: p.write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"))
    return files


def sheet_rows(plan: VisitPlan, visitor: str, day: int) -> list[list[Any]]:
    """The printed rows of one visitor's day: departures and returns, then the homes numbered."""
    rows: list[list[Any]] = []
    route = plan.visits[(plan.visits["visitor"] == visitor) & (plan.visits["day"] == day)]
    n = 0
    for _, r in route.iterrows():
        span = SPAN_NAMES.get(int(r["span"]), f"第{int(r['span'])}段")
        if r["stop"] != "visit":
            what = f"{span}从{r['office']}出发" if r["stop"] == "depart" else f"{span}返回{r['office']}"
            rows.append(["", what, "", "", r["arrive"], "", f"车程 {r['drive_min']:.1f} 分钟"
                         if r["stop"] == "return" else ""])
            continue
        n += 1
        known = r["member_id"] in plan.members.index
        m = plan.members.loc[r["member_id"]] if known else pd.Series(dtype=object)
        note = [f"车程 {r['drive_min']:.1f} 分钟"]
        if r["wait_min"] > 0:
            note.append(f"等候 {r['wait_min']:.0f} 分钟")
        if m.get("status") == "lixiu":
            note.append("离休")
        stay = f"{plan.summary['visit_min']:g} 分钟"
        rows.append([n, _text(m.get("name")), _text(m.get("address")), _text(m.get("phone")), r["arrive"],
                     stay, "；".join(note)])
    return rows


def _text(value: Any) -> str:
    missing = value is None or value is pd.NA or (isinstance(value, float) and value != value)
    return "" if missing else str(value)


def write_sheets(plan: VisitPlan, path: Path, *, title: str = "") -> None:
    """Write ``visits.xlsx``: a printable sheet per visitor-day.

    A title row, the header repeated on every page, A4 landscape fitted to the page width.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    keys = plan.visits[["day", "visitor"]].drop_duplicates().sort_values(["day", "visitor"])
    for day, visitor in keys.itertuples(index=False):
        ws = wb.create_sheet(_sheet_name(f"第{day}天-{visitor}", wb.sheetnames))
        ws.append([f"{title}走访安排 第{day}天 {visitor}".strip()])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(SHEET_HEADERS))
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append(list(SHEET_HEADERS))
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.border = box
            cell.alignment = Alignment(horizontal="center")
        for row in sheet_rows(plan, visitor, int(day)):
            ws.append([_cell(v) for v in row])
            for cell in ws[ws.max_row]:
                cell.border = box
                cell.alignment = Alignment(wrap_text=True, vertical="center")
        for col, width in zip("ABCDEFG", (6, 12, 36, 15, 10, 8, 26), strict=True):
            ws.column_dimensions[col].width = width
        ws.print_title_rows = "1:2"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.freeze_panes = "A3"
    if not wb.sheetnames:
        wb.create_sheet("无走访").append(["本计划没有排入任何走访"])
    wb.save(path)


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not value[1:2].isdigit():
        return "'" + value
    return value


def _sheet_name(name: str, taken: list[str]) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31]
    k = 2
    out = clean
    while out in taken:
        out = f"{clean[:28]}~{k}"
        k += 1
    return out


def read_run_members(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The members, stations and branches a run wrote into ``run_dir`` (flags parsed).

    Raises
    ------
    InputError
        ``run_dir`` holds no ``members.csv`` (not a finished run's folder).
    """
    from ..results import parse_flags

    path = Path(run_dir) / "members.csv"
    if not path.is_file():
        raise InputError(Problem(str(path), None, None,
                                 "not found: give the output folder of a finished run"))
    text = {"id": str, "branch_id": str, "phone": str, "nearest_station_id": str}
    members = parse_flags(pd.read_csv(path, encoding="utf-8-sig", dtype=text, keep_default_na=True))
    tables = []
    for name in ("stations", "branches"):
        p = Path(run_dir) / f"{name}.csv"
        tables.append(pd.read_csv(p, encoding="utf-8-sig", dtype={"id": str}) if p.is_file() else None)
    return members, tables[0], tables[1]


def drive_network(scenario: Scenario) -> RoadNetwork:
    """The run's drive network, as the pipeline builds it (from the network cache when it is there)."""
    net = scenario.network
    return build_network(net.osm, "drive", walk_speed_kmh=net.walk_speed_kmh,
                         drive_fallback_speed_kmh=net.drive_fallback_speed_kmh,
                         cache_dir=net.resolved_cache_dir())


def plan_run_dir(
    scenario: Scenario, run_dir: Path | str, out_dir: Path | str, *, settings: VisitSettings | None = None,
    drive: RoadNetwork | None = None,
) -> tuple[VisitPlan, dict[str, Path]]:
    """Plan the visits of the run in ``run_dir`` (made from ``scenario``) and write them into ``out_dir``.

    ``settings`` defaults to the scenario's ``[visits]``; ``drive`` to the run's drive network.
    """
    members, stations, branches = read_run_members(Path(run_dir))
    drive = drive if drive is not None else drive_network(scenario)
    plan = plan_visits(members, drive, settings or scenario.visits, stations=stations, branches=branches,
                       max_snap_m=scenario.network.max_snap_m, seed=scenario.seed,
                       source=str(Path(run_dir) / "members.csv"))
    return plan, write_plan(plan, out_dir, drive, scenario=scenario, title=scenario.name)


def plan_for_run(
    store: RunSource, run_id: str, loaded: LoadedRun, settings: VisitSettings | None = None, *,
    max_time_limit_s: float | None = None,
) -> tuple[VisitPlan, RoadNetwork]:
    """Plan the visits of a finished run in the service's store (what ``POST /runs/{id}/visits`` calls).

    Parameters
    ----------
    store
        The store holding the run (:class:`geo_planner.results.RunSource`).
    run_id
        The run.
    loaded
        The loaded run (:class:`geo_planner.results.LoadedRun`: scenario, facilities, networks).
    settings
        ``[visits]``; default the run's scenario's.
    max_time_limit_s
        The solver's time limit is cut to this (the service's bound on one request).

    Returns
    -------
    (VisitPlan, RoadNetwork)
        The plan and the drive network it was timed on (for :func:`.plan.route_lines`).

    Raises
    ------
    InputError
        No office given, unknown site or member ids (see :func:`plan_visits`).
    """
    from ..results import read_table

    settings = settings or loaded.scenario.visits
    if max_time_limit_s is not None and settings.time_limit_s > max_time_limit_s:
        settings = settings.model_copy(update={"time_limit_s": max_time_limit_s})
    members = read_table(store, run_id, "members")
    drive = loaded.drive if loaded.drive is not None else drive_network(loaded.scenario)
    plan = plan_visits(members, drive, settings, stations=loaded.tables.stations,
                       branches=loaded.tables.branches, max_snap_m=loaded.scenario.network.max_snap_m,
                       seed=loaded.scenario.seed, source=f"run {run_id}: members.csv")
    return plan, drive
