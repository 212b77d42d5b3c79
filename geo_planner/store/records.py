"""What the store hands out: immutable records of a dataset and of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settings import LayerInput, Scenario
from ..vocab import LAYER_KINDS, RUN_STATUSES, LayerKind, RunStatus

__all__ = ["LAYER_KINDS", "RUN_STATUSES", "DatasetRecord", "LayerKind", "RunRecord", "RunStatus"]


@dataclass(frozen=True)
class DatasetRecord:
    """One uploaded layer and its import report.

    Attributes
    ----------
    id, kind, filename
        Dataset id (``ds_…``), layer kind and the file name as uploaded.
    path
        Where the file is stored.
    sheet, crs, encoding
        Reading options used (and reused by runs).
    size_bytes, sha256, created
        File size, content hash and upload time (UTC, ISO 8601).
    report
        ``info`` (format, encoding, sheet, header row, column map, counts) and ``rejections``
        (one dict per problem: ``file`` (the uploaded name), ``row``, ``field``, ``value``,
        ``reason``, ``action``).
    """

    id: str
    kind: str
    filename: str
    path: Path
    sheet: str | None
    crs: str
    encoding: str | None
    size_bytes: int
    sha256: str
    created: str
    report: dict[str, Any]

    @property
    def n_read(self) -> int:
        """Data rows read."""
        return int(self.report["info"].get("n_read", 0))

    @property
    def n_accepted(self) -> int:
        """Rows accepted."""
        return int(self.report["info"].get("n_accepted", 0))

    @property
    def n_rejected(self) -> int:
        """Rows rejected (a row may have several reasons)."""
        return int(self.report["info"].get("n_rejected", 0))

    @property
    def n_warnings(self) -> int:
        """Warnings (rows kept)."""
        return int(self.report["info"].get("n_warnings", 0))

    @property
    def columns(self) -> dict[str, str] | None:
        """The planner's corrections of the header match the import used (``None``: none)."""
        return dict(self.report["info"].get("column_override") or {}) or None

    def layer_input(self) -> LayerInput:
        """Return the :class:`~geo_planner.settings.LayerInput` that reads this dataset."""
        return LayerInput(path=self.path, sheet=self.sheet, crs=self.crs, encoding=self.encoding,  # type: ignore[arg-type]
                          columns=self.columns)


@dataclass(frozen=True)
class RunRecord:
    """One run: its request, validated scenario, state and (when done) counts.

    Attributes
    ----------
    status
        ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``.
    stage, progress
        Last stage reported by the pipeline and the fraction done (0–1).
    error
        Why a failed run failed: a library message (names file, row, field) or a generic one.
    request
        The scenario as submitted (inputs refer to dataset ids, OSM extracts by name).
    scenario
        The validated :class:`~geo_planner.settings.Scenario` (real paths) as JSON data.
    counts
        ``counts`` of ``run.json`` once done.
    origin
        ``api`` or ``demo``.
    claimed_by, heartbeat
        The worker executing (or that executed) the run (``host:pid:token``) and when it last
        said it was alive (UTC, ISO 8601); ``None`` before a worker claimed it.
    claims
        How many times a worker claimed the run (1 once started: a run is executed once).
    """

    id: str
    name: str
    status: str
    stage: str | None
    progress: float
    created: str
    started: str | None
    finished: str | None
    error: str | None
    request: dict[str, Any]
    scenario: dict[str, Any]
    counts: dict[str, Any]
    origin: str
    out_dir: Path = field(compare=False)
    claimed_by: str | None = None
    heartbeat: str | None = None
    claims: int = 0

    def scenario_model(self) -> Scenario:
        """Return the validated scenario."""
        return Scenario.model_validate(self.scenario)
