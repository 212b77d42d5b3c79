"""Datasets: upload a layer (the answer is its import report), list, get, delete."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from geo_planner.errors import InputError, Problem
from geo_planner.pipl import rejected_rows
from geo_planner.privacy import count_for_role, member_rows_visible
from geo_planner.settings import CRSName
from geo_planner.store import DatasetRecord
from geo_planner.vocab import Role

from ..deps import Admin, DatasetId, SettingsDep, StoreDep, Viewer, audit
from ..schemas import DatasetList, DatasetOut, Deleted, ImportReport, LayerKind, RejectionOut
from ..security import BodyTooLarge

router = APIRouter(prefix="/datasets", tags=["datasets"])

#: A dataset id (``ds_…``): never one of the layer kinds, so ``/datasets/{kind}`` and
#: ``/datasets/{dataset_id}`` cannot be confused.


COLUMNS_HELP = (
    'corrections of the header match, a JSON object {"header as written": "field"} with a field of the '
    'layer or "ignore" (kept as an extra column); headers not named keep their automatic field. '
    "Omitted: the corrections kept with the latest upload of a file with the same headers; {}: none"
)


def column_overrides(text: str | None, filename: str) -> dict[str, str] | None:
    """The ``columns`` form field read as ``{header: field}`` (``None`` when absent).

    Raises
    ------
    InputError
        If it is not a JSON object of strings (naming the file and the field).
    """
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InputError(Problem(filename, None, "columns", 'not a JSON object of header → field texts, '
                                 'e.g. {"人员姓名": "name", "备注": "ignore"}'))
    return {str(k): v for k, v in value.items()}


def dataset_out(rec: DatasetRecord, role: Role = "admin") -> DatasetOut:
    """Shape a dataset record (a viewer sees no count of 1–4 member rows: small-cell rule)."""
    info = rec.report.get("info", {})
    count = count_for_role(rec.kind, role)
    return DatasetOut(
        id=rec.id, kind=rec.kind, filename=rec.filename, format=info.get("format"),  # type: ignore[arg-type]
        encoding=info.get("encoding"), sheet=info.get("sheet") or rec.sheet, crs=rec.crs,
        size_bytes=rec.size_bytes, sha256=rec.sha256, created=rec.created, n_read=count(rec.n_read),
        accepted=count(rec.n_accepted), rejected=count(rec.n_rejected), warnings=count(rec.n_warnings),
        column_map={str(k): str(v) for k, v in (info.get("column_map") or {}).items()},
        column_override={str(k): str(v) for k, v in (info.get("column_override") or {}).items()},
        column_override_from=info.get("column_override_from"),
        branches_dataset=info.get("branches_dataset"), notes=list(info.get("notes") or []),
    )


def import_report(rec: DatasetRecord, role: Role, request: Request | None = None) -> ImportReport:
    """Shape the import report; member-level rejected rows are hidden from viewers.

    A members table's report quotes the rejected rows' cells (names, addresses): shown to a
    planner or an admin, it is written to the audit log (``request`` given).
    """
    redacted = not member_rows_visible(rec.kind, role)
    if request is not None and rec.kind == "members" and not redacted and rec.report.get("rejections"):
        audit(request, None, "import_report", rejected_rows(rec.report["rejections"]), detail=rec.id)
    rows = [] if redacted else [
        RejectionOut(**{k: (None if v is None else (v if k == "row" else str(v))) for k, v in r.items()
                        if k in RejectionOut.model_fields})
        for r in rec.report.get("rejections", [])
    ]
    return ImportReport(**dataset_out(rec, role).model_dump(), rejections=rows, rejections_redacted=redacted)


# audit: member-level (a members table's rejected rows)
@router.post("/{kind}", response_model=ImportReport, status_code=201, summary="Upload a layer (admin)")
# the token is checked (api.security.BodyGuard) before the body is read, and the body's size while it streams
def upload_dataset(
    kind: LayerKind,
    request: Request,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, GB18030…), XLSX, GeoJSON or GeoPackage")],
    store: StoreDep,
    settings: SettingsDep,
    role: Admin,
    sheet: Annotated[str | None, Form(description="XLSX sheet / GeoPackage layer (default: first)")] = None,
    crs: Annotated[CRSName, Form(description="coordinate system of rows without a 坐标系 column")] = "WGS84",
    encoding: Annotated[str | None, Form(description="force a CSV text encoding (default: detected)")] = None,
    branches_dataset: Annotated[
        str | None, Form(description="members: branches dataset to check branches against (default: latest)")
    ] = None,
    columns: Annotated[str | None, Form(description=COLUMNS_HELP)] = None,
) -> ImportReport:
    """Store the file and answer with its import report.

    ``columns`` corrects the header match (see ``POST /datasets/{kind}/columns`` for a file's
    headers and their fields); it is kept with the dataset, and an upload without it gets the
    corrections last kept for a file with the same headers. The report gives the rows accepted, and every rejected row or warning with the file, row,
    field and reason. The token is checked before the body is read; a body larger than
    ``GEO_PLANNER_MAX_UPLOAD_MB`` is refused while it streams (413).
    """
    filename = file.filename or f"{kind}.csv"
    overrides = column_overrides(columns, filename)
    limit = int(settings.max_upload_mb * 1024 * 1024)
    with tempfile.NamedTemporaryFile(dir=store.data_dir, prefix=".upload-", delete=False) as tmp:
        tmp_path = FilePath(tmp.name)
        size = 0
        try:
            while chunk := file.file.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                tmp.write(chunk)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    try:
        if size == 0:
            raise InputError(Problem(filename, None, None, "the uploaded file is empty"))
        rec = store.import_dataset(kind, filename, tmp_path, sheet=sheet or None, crs=crs,
                                   encoding=encoding or None, branches_dataset=branches_dataset or None,
                                   move=True, columns=overrides)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return import_report(rec, role, request)


@router.get("", response_model=DatasetList, summary="List datasets")
def list_datasets(store: StoreDep, role: Viewer, kind: LayerKind | None = None) -> DatasetList:
    """Datasets, newest first, with their import counts."""
    return DatasetList(datasets=[dataset_out(d, role) for d in store.list_datasets(kind)])


# audit: member-level (a members table's rejected rows)
@router.get("/{dataset_id}", response_model=ImportReport, summary="A dataset and its import report")
def get_dataset(dataset_id: DatasetId, request: Request, store: StoreDep, role: Viewer) -> ImportReport:
    """Return the import report (a viewer sees the counts of a members table, not its rows)."""
    return import_report(store.get_dataset(dataset_id), role, request)


@router.delete("/{dataset_id}", response_model=Deleted, summary="Delete a dataset (admin)")
def delete_dataset(dataset_id: DatasetId, store: StoreDep, role: Admin) -> Deleted:
    """Delete the dataset and its file (refused while a queued or running run reads it)."""
    store.delete_dataset(dataset_id)
    return Deleted(id=dataset_id)


