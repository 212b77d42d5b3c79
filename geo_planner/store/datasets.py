"""Datasets: uploaded layers with their import reports (the dataset half of :class:`~geo_planner.store.Store`)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from pydantic import ValidationError

from ..errors import ConflictError, InputError, Problem
from ..settings import LayerInput
from ..vocab import TERMINAL_STATUSES
from .files import safe_filename
from .records import LAYER_KINDS, DatasetRecord
from .util import new_id, now

if TYPE_CHECKING:
    from ..io.problems import HeaderChoice

log = logging.getLogger(__name__)


class DatasetsMixin:
    """Import, list, get and delete datasets (needs ``self.db``, ``self.datasets_dir``, ``self.list_runs``)."""

    def import_dataset(
        self,
        kind: str,
        filename: str,
        source: Path | str,
        *,
        sheet: str | None = None,
        crs: str = "WGS84",
        encoding: str | None = None,
        branches_dataset: str | None = None,
        move: bool = False,
        columns: Mapping[str, str] | None = None,
    ) -> DatasetRecord:
        """Store an uploaded table as a dataset and record its import report.

        Parameters
        ----------
        kind
            ``members``, ``branches``, ``stations`` or ``hospitals``.
        filename
            The file name as the planner knows it (used in the report; folders stripped).
        source
            The file's bytes on disk (copied, or moved with ``move=True``).
        sheet, crs, encoding
            Reading options (see :class:`~geo_planner.settings.LayerInput`).
        branches_dataset
            For members: the branches dataset whose ids and names resolve each member's branch
            (unknown branches are rejected). Default: the latest branches dataset; without
            any, the branch check is skipped and the report says so.
        move
            Move ``source`` into the store instead of copying it.
        columns
            Corrections of the header match (``{header: field or "ignore"}``, see
            :class:`~geo_planner.settings.LayerInput`), kept with the dataset (its runs read the file
            with them). ``None``: the corrections last kept for a dataset of this kind with the same
            headers (:meth:`remembered_columns`), if any; ``{}``: none.

        Returns
        -------
        DatasetRecord

        Raises
        ------
        InputError
            If the kind or an option is invalid or the file is unusable as a whole (unreadable,
            empty, missing required columns, a column mapping naming a header the file lacks, an
            unknown field, or two headers on one field); nothing is stored then.
        NotFoundError
            If ``branches_dataset`` does not exist.
        """
        _check_options(kind, filename, sheet, crs, encoding)
        name = safe_filename(filename)
        ds_id = new_id("ds")
        folder = self.datasets_dir / ds_id  # type: ignore[attr-defined]
        folder.mkdir(parents=True)
        target = folder / name
        try:
            if move:
                shutil.move(str(source), target)
            else:
                shutil.copyfile(source, target)
            spec = LayerInput(path=target, sheet=sheet, crs=crs, encoding=encoding,  # type: ignore[arg-type]
                              columns=None if columns is None else dict(columns))
            report = self._import_report(kind, filename, target, spec, branches_dataset,
                                         remember=columns is None)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        data = target.read_bytes()
        rec = DatasetRecord(
            id=ds_id, kind=kind, filename=filename, path=target, sheet=sheet, crs=crs, encoding=encoding,
            size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), created=now(), report=report,
        )
        with self.db.begin() as con:  # type: ignore[attr-defined]
            con.execute(sa.text(
                "INSERT INTO datasets (id, kind, filename, stored_name, sheet, crs, encoding, size_bytes,"
                " sha256, created, report) VALUES (:id, :kind, :filename, :stored, :sheet, :crs, :encoding,"
                " :size, :sha, :created, :report)"),
                {"id": rec.id, "kind": kind, "filename": filename, "stored": name, "sheet": sheet, "crs": crs,
                 "encoding": encoding, "size": rec.size_bytes, "sha": rec.sha256, "created": rec.created,
                 "report": json.dumps(report, ensure_ascii=False)},
            )
        log.info("dataset %s (%s, %s): %d accepted, %d rejected", rec.id, kind, filename, rec.n_accepted,
                 rec.n_rejected)
        return rec

    def _import_report(
        self, kind: str, filename: str, target: Path, spec: LayerInput, branches_dataset: str | None,
        *, remember: bool,
    ) -> dict[str, Any]:
        """Read the stored file as a layer; return its import report (``info`` and ``rejections``).

        With ``remember``, a file whose headers are those of an earlier dataset with kept
        corrections is read again with them (the report's ``info`` names that dataset,
        ``column_override_from``).
        """
        from ..io import load_layer

        branches_frame = None
        notes: list[str] = []
        branches_ref = None
        if kind == "members":
            ref = self.get_dataset(branches_dataset) if branches_dataset else self.latest_dataset("branches")
            if ref is not None:
                if ref.kind != "branches":
                    raise InputError(Problem(filename, None, "branches_dataset",
                                             f"dataset {ref.id} holds {ref.kind}, not branches"))
                branches_frame = load_layer("branches", ref.layer_input()).frame
                branches_ref = ref.id
            else:
                notes.append("no branches dataset yet: members' branches were not checked "
                             "(the run checks them)")
        source = None
        try:
            try:
                layer = load_layer(kind, spec, branches=branches_frame)  # type: ignore[arg-type]
                headers = layer.info["headers"]
            except InputError:  # maybe a layout whose kept corrections make it readable
                if not remember:
                    raise
                layer, headers = None, _headers(spec)
            kept = self.remembered_columns(kind, headers) if remember and headers is not None else None
            if kept is not None:
                source, columns = kept
                layer = load_layer(kind, spec.model_copy(update={"columns": columns}),  # type: ignore[arg-type]
                                   branches=branches_frame)
                notes.append(f"the header corrections kept with dataset {source} (same headers) were applied")
            elif layer is None:
                layer = load_layer(kind, spec, branches=branches_frame)  # type: ignore[arg-type]  # raises again
        except InputError as exc:
            raise _renamed(exc, str(target), filename) from None
        info = {k: _jsonable(v) for k, v in layer.info.items() if k != "file"}
        info["column_override_from"] = source
        info["branches_dataset"] = branches_ref
        info["notes"] = notes
        rej = layer.rejections.copy()
        if "file" in rej:
            rej["file"] = filename
        return {"info": info, "rejections": _records(rej)}

    def remembered_columns(self, kind: str, headers: list[str]) -> tuple[str, dict[str, str]] | None:
        """The header corrections kept with the latest dataset of ``kind`` read with exactly these headers.

        Parameters
        ----------
        kind
            Layer kind.
        headers
            A file's headers as read, in order (``LayerResult.info["headers"]``).

        Returns
        -------
        tuple or None
            ``(dataset id, {header: field or "ignore"})``, or ``None`` when no dataset of this layout
            was uploaded with corrections (the latest one of the layout decides: corrections undone on
            a later upload stay undone).
        """
        for rec in self.list_datasets(kind):
            info = rec.report.get("info", {})
            if info.get("headers") == list(headers):
                return (rec.id, dict(rec.columns)) if rec.columns else None
        return None

    def header_choices(
        self, kind: str, path: Path | str, *, sheet: str | None = None, encoding: str | None = None,
    ) -> tuple[list[HeaderChoice], list[str], str | None]:
        """A file's headers with the fields an upload would give them, before it is uploaded.

        Parameters
        ----------
        kind
            Layer kind.
        path
            The file.
        sheet, encoding
            Its reading options.

        Returns
        -------
        choices : list of HeaderChoice
            Per header its automatic field and its field with the corrections remembered for this
            layout (:meth:`remembered_columns`).
        fields : list of str
            The fields of the layer.
        source : str or None
            The dataset whose corrections were applied.
        """
        from ..io.problems import column_choices

        choices, fields = column_choices(path, kind, sheet=sheet, encoding=encoding)
        kept = self.remembered_columns(kind, [c.header for c in choices])
        if kept is None:
            return choices, fields, None
        choices, fields = column_choices(path, kind, sheet=sheet, encoding=encoding, overrides=kept[1])
        return choices, fields, kept[0]

    def _dataset(self, row: Any) -> DatasetRecord:
        return DatasetRecord(
            id=row.id, kind=row.kind, filename=row.filename,
            path=self.datasets_dir / row.id / row.stored_name, sheet=row.sheet, crs=row.crs,  # type: ignore[attr-defined]
            encoding=row.encoding, size_bytes=row.size_bytes, sha256=row.sha256,
            created=row.created, report=json.loads(row.report),
        )

    def list_datasets(self, kind: str | None = None) -> list[DatasetRecord]:
        """Datasets, newest first (optionally of one kind)."""
        seq = self.db.seq  # type: ignore[attr-defined]
        with self.db.begin() as con:  # type: ignore[attr-defined]
            if kind:
                rows = con.execute(sa.text(f"SELECT * FROM datasets WHERE kind=:k ORDER BY created DESC, {seq} DESC"),
                                   {"k": kind})
            else:
                rows = con.execute(sa.text(f"SELECT * FROM datasets ORDER BY created DESC, {seq} DESC"))
            return [self._dataset(r) for r in rows.fetchall()]

    def latest_dataset(self, kind: str) -> DatasetRecord | None:
        """Return the most recent dataset of a kind, or ``None``."""
        found = self.list_datasets(kind)
        return found[0] if found else None

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        """One dataset.

        Raises
        ------
        NotFoundError
            If there is no such dataset.
        """
        return self._dataset(self._row("datasets", "dataset", dataset_id))  # type: ignore[attr-defined]

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its file.

        Raises
        ------
        NotFoundError
            If there is no such dataset.
        ConflictError
            If a queued or running run reads it (finished runs keep their own outputs).
        """
        self.get_dataset(dataset_id)
        for run in self.list_runs():  # type: ignore[attr-defined]
            if run.status not in TERMINAL_STATUSES and dataset_id in dataset_refs(run.request):
                raise ConflictError(f"dataset {dataset_id!r} is used by run {run.id!r} ({run.status}); "
                                    "wait until it has finished")
        with self.db.begin() as con:  # type: ignore[attr-defined]
            con.execute(sa.text("DELETE FROM datasets WHERE id=:id"), {"id": dataset_id})
        shutil.rmtree(self.datasets_dir / dataset_id, ignore_errors=True)  # type: ignore[attr-defined]
        log.info("dataset %s deleted", dataset_id)


def _check_options(kind: str, filename: str, sheet: str | None, crs: str, encoding: str | None) -> None:
    """Refuse an unknown layer kind or invalid reading options before anything is stored."""
    if kind not in LAYER_KINDS:
        raise InputError(Problem(filename, None, "kind",
                                 f"unknown layer {kind!r}; use one of {', '.join(LAYER_KINDS)}"))
    try:
        LayerInput(path=Path(filename), sheet=sheet, crs=crs, encoding=encoding)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise InputError([Problem(filename, None, ".".join(str(x) for x in e["loc"]) or None,
                                  f"invalid reading option: {e['msg']}") for e in exc.errors()]) from None


def _headers(spec: LayerInput) -> list[str] | None:
    """The file's headers as the importer reads them, or ``None`` when it cannot be read at all."""
    from ..io import read_table

    try:
        table, _info = read_table(spec.path, sheet=spec.sheet, encoding=spec.encoding)
    except (InputError, LookupError):
        return None
    return [str(c) for c in table.columns]


def _renamed(exc: InputError, stored: str, filename: str) -> InputError:
    """Return the same error with the stored path replaced by the uploaded file name."""
    if exc.problems:
        problems = [Problem(filename if p.file == stored else p.file, p.row, p.field,
                            p.reason.replace(stored, filename)) for p in exc.problems]
        return type(exc)(problems)
    return type(exc)(str(exc).replace(stored, filename))


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "item"):
        return v.item()
    return str(v)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.astype(object).where(df.notna(), None).to_dict(orient="records"):
        row = rec.get("row")
        if row is not None:
            try:
                rec["row"] = int(row)
            except (TypeError, ValueError):
                rec["row"] = None
        out.append({str(k): _jsonable(v) for k, v in rec.items()})
    return out


def dataset_refs(request: Mapping[str, Any]) -> set[str]:
    """The dataset ids a run request reads."""
    inputs = request.get("inputs") or {}
    refs = set()
    for ref in inputs.values():
        if isinstance(ref, dict) and "dataset" in ref:
            refs.add(str(ref["dataset"]))
        elif isinstance(ref, str):
            refs.add(ref)
    return refs
