"""What the upload page asks besides the upload itself: a file's sheets, its headers and their fields, and the
problem rows of an import."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from geo_planner.errors import InputError, PermissionDeniedError, Problem
from geo_planner.export.xlsx import write_xlsx
from geo_planner.io.aliases import field_labels
from geo_planner.io.problems import (
    BRANCH_MATCH_COLUMNS,
    MATCH_HOW,
    PROBLEM_COLUMNS,
    branch_matches,
    list_sheets,
    problem_rows,
)
from geo_planner.privacy import member_rows_visible
from geo_planner.store import DatasetRecord, Store
from geo_planner.vocab import MEDIA_TYPES

from ..deps import Admin, DatasetId, SettingsDep, StoreDep, Viewer, audit
from ..schemas import ErrorResponse, LayerKind
from ..security import BodyTooLarge

router = APIRouter(prefix="/datasets", tags=["datasets"])


class HeaderField(BaseModel):
    """One header of a file and the field it becomes."""

    header: str = Field(description="as written in the file")
    auto: str | None = Field(description="the field the importer's header match gives it (null: none)")
    field: str | None = Field(description="the field with the kept corrections of this layout (null: none)")


class Columns(BaseModel):
    """A file's headers and their fields, before the upload (send corrections as the upload's ``columns``)."""

    filename: str
    headers: list[HeaderField]
    fields: list[str] = Field(description="the fields of the layer (a correction may also be 'ignore')")
    labels: dict[str, str] = Field(description="a Chinese label per field (its first accepted header)")
    remembered_from: str | None = Field(None, description="the dataset whose kept corrections are shown")


class Sheets(BaseModel):
    """The worksheets (XLSX) or layers (GeoPackage) of a file; empty for CSV and GeoJSON."""

    filename: str
    sheets: list[str]


@router.post("/{kind}/sheets", response_model=Sheets, summary="List a file's sheets before uploading it (admin)")
# the token is checked (api.security.BodyGuard) before the body is read, and the body's size while it streams
def file_sheets(
    kind: LayerKind,
    file: Annotated[UploadFile, File(description="the XLSX workbook or GeoPackage")],
    store: StoreDep,
    settings: SettingsDep,
    role: Admin,
) -> Sheets:
    """Read the file's worksheet (layer) names; nothing is stored."""
    filename = file.filename or f"{kind}.xlsx"
    limit = int(settings.max_upload_mb * 1024 * 1024)
    with tempfile.NamedTemporaryFile(dir=store.data_dir, prefix=".sheets-") as tmp:
        _receive(file, tmp, limit)
        try:
            sheets = list_sheets(tmp.name)
        except Exception as exc:  # an unreadable workbook: say which file
            raise InputError(Problem(filename, None, None, f"cannot read the file's sheets: {type(exc).__name__}")) \
                from exc
    return Sheets(filename=filename, sheets=sheets)


def _receive(file: UploadFile, tmp: Any, limit: int) -> None:
    """Copy the upload's body into ``tmp``, refusing it past ``limit`` bytes."""
    size = 0
    while chunk := file.file.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        tmp.write(chunk)
    tmp.flush()


@router.post("/{kind}/columns", response_model=Columns,
             summary="A file's headers and the fields the upload would give them (admin)")
# the token is checked (api.security.BodyGuard) before the body is read, and the body's size while it streams
def file_columns(
    kind: LayerKind,
    file: Annotated[UploadFile, File(description="the table (CSV, XLSX, GeoJSON or GeoPackage)")],
    store: StoreDep,
    settings: SettingsDep,
    role: Admin,
    sheet: Annotated[str | None, Form(description="XLSX sheet / GeoPackage layer (default: first)")] = None,
    encoding: Annotated[str | None, Form(description="force a CSV text encoding (default: detected)")] = None,
) -> Columns:
    """Read the file's headers and match them as the import does; nothing is stored. A header's
    ``field`` includes the corrections kept with the latest upload of the same headers."""
    filename = file.filename or f"{kind}.csv"
    limit = int(settings.max_upload_mb * 1024 * 1024)
    suffix = FilePath(filename).suffix.lower()  # readers judge some formats by the extension, as an upload's
    suffix = suffix if suffix in (".csv", ".txt", ".xlsx", ".geojson", ".json", ".gpkg") else ""
    with tempfile.NamedTemporaryFile(dir=store.data_dir, prefix=".columns-", suffix=suffix) as tmp:
        _receive(file, tmp, limit)
        try:
            choices, fields, source = store.header_choices(kind, tmp.name, sheet=sheet or None,
                                                           encoding=encoding or None)
        except InputError as exc:
            raise InputError([Problem(filename if p.file == tmp.name else p.file, p.row, p.field,
                                      p.reason.replace(tmp.name, filename)) for p in exc.problems]
                             or str(exc).replace(tmp.name, filename)) from None
        except LookupError as exc:  # an unknown encoding name
            raise InputError(Problem(filename, None, "encoding",
                                     f"unknown text encoding {encoding!r}")) from exc
    return Columns(filename=filename, headers=[HeaderField(header=c.header, auto=c.auto, field=c.field)
                                               for c in choices],
                   fields=fields, labels=field_labels(kind), remembered_from=source)


# audit: member-level (for a members dataset: the rows hold names, addresses, phones)
@router.get(
    "/{dataset_id}/problems.xlsx",
    response_class=FileResponse,
    summary="The rejected and warned rows of an upload, as written, with the reasons (XLSX)",
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}}, "description": "the workbook"},
               403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
def problems_xlsx(dataset_id: DatasetId, request: Request, store: StoreDep, role: Viewer) -> FileResponse:
    """Every row the import rejected or warned about, with row number, field, value, reason and action
    first and then the row's own cells: fix them and upload the file again (viewers: not for members)."""
    rec = store.get_dataset(dataset_id)
    if not member_rows_visible(rec.kind, role):
        raise PermissionDeniedError("a viewer may not see the rows of a members table")
    df = problem_rows(rec.path, rec.report.get("rejections", []), sheet=rec.sheet, encoding=rec.encoding)
    if rec.kind == "members":
        audit(request, None, "problem_rows", int(df[PROBLEM_COLUMNS["row"]].nunique(dropna=True)), detail=rec.id)
    return _xlsx_download(df, store, rec, "问题行")


def _xlsx_download(df: pd.DataFrame, store: Store, rec: DatasetRecord, sheet: str) -> FileResponse:
    """``df`` as a workbook named ``<upload's stem>_<sheet>.xlsx``, written in a temporary folder of the data
    folder that is removed once the answer is sent (or at once when writing fails)."""
    tmp = FilePath(tempfile.mkdtemp(prefix=".xlsx-", dir=store.data_dir))
    try:
        path = tmp / "table.xlsx"
        write_xlsx(df, path, sheet)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stem = FilePath(rec.filename).stem or rec.kind
    return FileResponse(path, media_type=MEDIA_TYPES["xlsx"], filename=f"{stem}_{sheet}.xlsx",
                        background=BackgroundTask(shutil.rmtree, tmp, True))


class BranchMatch(BaseModel):
    """A member whose branch was matched by a tolerant name (a warning of the import), for review."""

    row: int = Field(description="spreadsheet row of the member")
    member_id: str
    member_name: str
    branch_written: str = Field(description="the branch as the roster writes it")
    branch_matched: str = Field(description="the branch of the branches table it was matched to")
    branch_id: str
    how: str = Field(description="key: the same name without region, 干部/离退休 and ordinals; fuzzy: by similarity")
    score: int = Field(description="0–100")


class BranchMatches(BaseModel):
    """The members dataset's branches matched by a tolerant name."""

    dataset_id: str
    matches: list[BranchMatch]


def _branch_matches(rec: Any, role: Any) -> Any:
    """The dataset's tolerant branch matches (a viewer may not see a members table's rows)."""
    if not member_rows_visible(rec.kind, role):
        raise PermissionDeniedError("a viewer may not see the rows of a members table")
    return branch_matches(rec.path, rec.report.get("rejections", []), sheet=rec.sheet, encoding=rec.encoding,
                          columns=rec.columns)


# audit: member-level (members' ids and names)
@router.get("/{dataset_id}/branch-matches", response_model=BranchMatches,
            summary="Members whose branch was matched by a tolerant name, for review (not viewers)",
            responses={403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}})
def branch_match_list(dataset_id: DatasetId, request: Request, store: StoreDep, role: Viewer) -> BranchMatches:
    """Every member whose branch as written was matched to a branch by its name without the region,
    干部/离退休 and ordinals, or by similarity: the member, the branch as written, the branch matched, how
    and the score (an empty list for other layers)."""
    rec = store.get_dataset(dataset_id)
    df = _branch_matches(rec, role)
    if len(df):
        audit(request, None, "branch_matches", len(df), detail=rec.id)
    return BranchMatches(dataset_id=rec.id, matches=[BranchMatch(**r) for r in df.to_dict(orient="records")])


# audit: member-level (members' ids and names)
@router.get(
    "/{dataset_id}/branch-matches.xlsx",
    response_class=FileResponse,
    summary="The tolerant branch matches of a members upload (XLSX, not viewers)",
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}}, "description": "the workbook"},
               403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
def branch_match_xlsx(dataset_id: DatasetId, request: Request, store: StoreDep, role: Viewer) -> FileResponse:
    """The list of ``GET /datasets/{id}/branch-matches`` as a workbook with Chinese headers."""
    rec = store.get_dataset(dataset_id)
    df = _branch_matches(rec, role)
    audit(request, None, "branch_matches", len(df), detail=rec.id)
    df = df.assign(how=df["how"].map(lambda h: MATCH_HOW.get(h, {}).get("zh", h))).rename(columns=BRANCH_MATCH_COLUMNS)
    return _xlsx_download(df, store, rec, "支部模糊匹配")
