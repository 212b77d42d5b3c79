"""Exports: result tables as XLSX (Chinese headers), CSV (UTF-8 with BOM), GeoJSON or GeoPackage downloads."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from geo_planner.errors import NotFoundError
from geo_planner.export import export_table
from geo_planner.pipl import export_audit_what, people_in
from geo_planner.privacy import personal_export_requested
from geo_planner.results import available_exports, table_for_role
from geo_planner.vocab import FORMATS, MEDIA_TYPES, TABLES, Language

from ..deps import StoreDep, Viewer, audit
from ..schemas import ErrorResponse, ExportLink, ExportList

router = APIRouter(prefix="/runs/{run_id}/exports", tags=["exports"])


@router.get("", response_model=ExportList, summary="Exports available to the caller")
def list_exports(run_id: str, request: Request, store: StoreDep, role: Viewer) -> ExportList:
    """Every table and format the caller may download (viewers: no members table)."""
    base = str(request.url_for("download_export", run_id=run_id, filename="x")).rsplit("/", 1)[0]
    links = [ExportLink(table=t, format=f, url=f"{base}/{t}.{f}")
             for t, f in available_exports(store, run_id, role)]
    return ExportList(run_id=run_id, exports=links)


# audit: member-level (members; a planner's recommendations name members)
@router.get(
    "/{filename}",
    response_class=FileResponse,
    summary="Download a table",
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "the file"},
               403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
def download_export(
    run_id: str,
    filename: str,
    request: Request,
    store: StoreDep,
    role: Viewer,
    language: Annotated[
        Language, Query(description="zh: Chinese headers and values; en: column names")
    ] = "zh",
    personal: Annotated[
        bool, Query(description="members table, planners: 身份证号 and phone numbers unmasked (recorded)")
    ] = False,
) -> FileResponse:
    """Download ``{table}.{format}``.

    Tables: ``members`` (planners), ``recommendations``, ``coverage_by_area``,
    ``coverage_by_branch``, ``branches`` as ``xlsx``, ``csv``, ``geojson`` or ``gpkg``. Browsers may
    pass ``?access_token=``. A viewer's recommendations carry counts, not member ids. In the
    members table 身份证号 and phone numbers are masked unless ``personal=true`` (recorded).
    """
    table, _, fmt = filename.rpartition(".")
    if table not in TABLES or fmt not in FORMATS:
        raise NotFoundError(f"no export {filename!r}: use {{table}}.{{format}} with table one of "
                            f"{', '.join(TABLES)} and format one of {', '.join(FORMATS)}")
    run = store.finished_run(run_id)
    df = table_for_role(store, run_id, table, role)  # type: ignore[arg-type]  (viewers: no members)
    unmasked = personal and table == "members"
    if unmasked:  # hook for the audit log of personal-data exports
        personal_export_requested(run_id, table, role, filename)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=store.data_dir))
    try:
        path = export_table(df, tmp / filename, table=table, fmt=fmt, language=language,  # type: ignore[arg-type]
                            branch_limit_min=run.scenario_model().thresholds.branch_limit(), personal=unmasked)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    what = export_audit_what(table, role)
    if what is not None:
        audit(request, run_id, what, people_in(df, table),
              detail=f"{filename} personal=true" if unmasked else filename)
    safe_name = "".join(ch for ch in run.name if ch not in '\\/:*?"<>|').strip() or run_id
    return FileResponse(
        path, media_type=MEDIA_TYPES[fmt], filename=f"{safe_name}_{filename}",
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )
