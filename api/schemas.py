"""Pydantic models of every request and response: the OpenAPI document is the contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from geo_planner.settings import (
    BranchSettings,
    CRSName,
    DispersionSettings,
    FunctionKinds,
    GeocodeSettings,
    MapSettings,
    ReportSettings,
    SitingSettings,
    Thresholds,
    check_text_encoding,
)
from geo_planner.vocab import ExportFormat, LayerKind, RunStatus, StationFunction, TableName, UnvisitedReason
from geo_planner.vocab import VisitStop as VisitStopKind

ExportTable = TableName


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Open(BaseModel):
    """A table row: the documented columns, plus any column a newer pipeline adds."""

    model_config = ConfigDict(extra="allow")


# --------------------------------------------------------------------------- errors, health


class ProblemOut(_Out):
    """One problem: file (or ``request``), spreadsheet row, field and what to do."""

    file: str
    row: int | None = None
    field: str | None = None
    reason: str


class ErrorResponse(_Out):
    """Every error answer: a message and, for bad input, one entry per problem."""

    detail: str
    problems: list[ProblemOut] = []


class Health(_Out):
    """Liveness and version."""

    status: Literal["ok"] = "ok"
    version: str


# --------------------------------------------------------------------------- datasets


class RejectionOut(_Out):
    """A rejected row (``action = rejected``) or a warning (row kept)."""

    file: str
    row: int | None = Field(None, description="spreadsheet row (header = 1); empty for the whole file")
    field: str | None = None
    value: str | None = None
    reason: str
    action: Literal["rejected", "warning"] | str


class DatasetOut(_Out):
    """An uploaded layer and its import counts."""

    id: str
    kind: LayerKind
    filename: str
    format: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    crs: str
    size_bytes: int
    sha256: str
    created: str
    n_read: int | None = Field(description="data rows read (viewers, members: empty when 1–4)")
    accepted: int | None = Field(description="rows accepted (viewers, members: empty when 1–4)")
    rejected: int | None = Field(description="rows rejected (viewers, members: empty when 1–4)")
    warnings: int | None = Field(description="warnings, rows kept (viewers, members: empty when 1–4)")
    column_map: dict[str, str] = Field(default_factory=dict, description="header as written → meaning")
    column_override: dict[str, str] = Field(
        default_factory=dict, description="the corrections of the header match the import used "
        "(header → field or 'ignore'); runs read the file with them")
    column_override_from: str | None = Field(
        None, description="the earlier dataset (same headers) whose kept corrections were applied")
    branches_dataset: str | None = Field(None, description="members: the branches dataset checked against")
    notes: list[str] = []


class ImportReport(DatasetOut):
    """The import report: counts plus every rejected row and warning with file, row, field and reason."""

    rejections: list[RejectionOut] = []
    rejections_redacted: bool = Field(
        False, description="true when the caller's role may not see member-level rows (viewer on members)"
    )


class DatasetList(_Out):
    """Datasets, newest first."""

    datasets: list[DatasetOut]


class Deleted(_Out):
    """Confirmation of a deletion."""

    id: str
    deleted: bool = True


# --------------------------------------------------------------------------- runs


#: The text encodings a run's input may be read with (names as Python's codecs know them): the
#: schema lists them, so a request the schema allows names one that can be read.
TextEncodingName = Literal[
    "utf-8", "UTF-8", "utf-8-sig", "gb18030", "GB18030", "gbk", "GBK", "gb2312", "GB2312", "cp936",
    "big5", "Big5", "BIG5", "big5hkscs", "utf-16", "UTF-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252",
    "ascii",
]


class InputRef(_Out):
    """One input layer of a run: an uploaded dataset, optionally with other reading options."""

    dataset: str = Field(pattern=r"^ds_[A-Za-z0-9_]{1,80}$", examples=["ds_20261125_1a2b3c4d"],
                         description="dataset id (ds_…) from POST /datasets/{kind}")
    sheet: str | None = Field(None, max_length=255)
    crs: CRSName | None = None
    encoding: TextEncodingName | None = Field(None, description="a text encoding, e.g. gb18030")

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, v: str | None) -> str | None:
        return check_text_encoding(v)


class InputsRequest(_Out):
    """The four layers (hospitals optional)."""

    members: InputRef
    branches: InputRef
    stations: InputRef
    hospitals: InputRef | None = None


class NetworkRequest(_Out):
    """Road-network options; ``osm`` names extracts of the service's OSM folder."""

    osm: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        min_length=1, max_length=50, examples=[["guixi_jiangxi.osm"]]
    )
    walk_speed_kmh: float | None = Field(None, gt=0.5, le=10)
    max_snap_m: float | None = Field(None, gt=0, le=50_000)
    drive_fallback_speed_kmh: float | None = Field(None, gt=1, le=130)


class ScenarioRequest(_Out):
    """A scenario with the same keys as the TOML file; inputs refer to uploaded datasets."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "贵溪市 2026",
                    "network": {"osm": ["guixi_jiangxi.osm"]},
                    "inputs": {
                        "members": {"dataset": "ds_20261125_1a2b3c4d"},
                        "branches": {"dataset": "ds_20261125_5e6f7a8b"},
                        "stations": {"dataset": "ds_20261125_9c0d1e2f"},
                        "hospitals": {"dataset": "ds_20261125_3a4b5c6d"},
                    },
                    "geocode": {"default_region": "江西省贵溪市"},
                    "thresholds": {"station_walk_min": 15, "branch_walk_min": 20, "hospital_drive_min": 30},
                }
            ]
        },
    )

    name: str = Field("scenario", min_length=1, max_length=200)
    network: NetworkRequest
    inputs: InputsRequest
    geocode: GeocodeSettings = GeocodeSettings()
    thresholds: Thresholds = Thresholds()
    siting: SitingSettings = SitingSettings()
    branches: BranchSettings = BranchSettings()
    dispersion: DispersionSettings = DispersionSettings()
    map: MapSettings = MapSettings()
    report: ReportSettings = ReportSettings()
    functions: FunctionKinds | None = Field(
        None, description="四就近: station kind (类型) → functions it serves (study, activity, service, "
                          "contribution), added to the documented defaults")
    seed: int = Field(0, ge=0, le=2**32 - 1)


class RunSummary(_Open):
    """Counts from the run's ``run.json`` (aggregates only)."""

    members: int | None = None
    branches: int | None = None
    stations: int | None = None
    hospitals: int | None = None
    rejected_rows: int | None = None
    warnings: int | None = None
    covered_station: int | None = None
    covered_branch: int | None = None
    covered_hospital: int | None = None
    dispersed: int | None = None


class RunOut(_Out):
    """A run's state: status, stage and percent while running; summary once done."""

    id: str
    name: str
    status: RunStatus
    stage: str | None = None
    percent: float = Field(ge=0, le=100)
    created: str
    started: str | None = None
    finished: str | None = None
    error: str | None = Field(None, description="why a failed run failed")
    origin: str = Field(description="api or demo")
    inputs: dict[str, str] = Field(description="layer → dataset id")
    osm: list[str]
    thresholds: Thresholds | None = Field(None, description="the run's thresholds (empty if unreadable)")
    summary: RunSummary | None = None


class RunList(_Out):
    """Runs, newest first."""

    runs: list[RunOut]


# --------------------------------------------------------------------------- questions


class AreaRow(BaseModel):
    """Which 街道/乡镇 (``level = township``) or 社区/村 (``level = community``) a row of figures is about.

    The key of the what-if's and the comparison's rows by area (as ``coverage_by_area`` writes it: a
    township row names itself as its township; members without one are under ``（未定位）``).
    """

    level: Literal["township", "community"]
    area: str
    township: str


class AreaCoverage(_Open):
    """Coverage of one 街道/乡镇 (``level = township``) or 社区/村 (``level = community``)."""

    level: str
    area: str
    township: str | None = None
    members: int | None = Field(description="members; empty for viewers when fewer than 5 (suppressed)")
    suppressed: bool = Field(False, description="viewers: fewer than 5 members, no number shown")
    share_covered_station: float | None = None
    share_covered_branch: float | None = None
    share_covered_hospital: float | None = None
    share_four_near: float | None = Field(
        None, description="share covered for every 四就近 function with a place")


class CoverageByArea(_Out):
    """Coverage gaps by area, worst station coverage first within each level."""

    run_id: str
    area: str | None = None
    areas: list[AreaCoverage]


class BranchCoverage(_Open):
    """Coverage and dispersion of one branch."""

    branch_id: str
    branch_name: str | None = None
    members: int | None = Field(description="members; empty for viewers when fewer than 5 (suppressed)")
    suppressed: bool = Field(False, description="viewers: fewer than 5 members, no number shown")


class CoverageByBranch(_Out):
    """Coverage by branch."""

    run_id: str
    branches: list[BranchCoverage]


class FacilityWithin(_Out):
    """A facility reachable within the threshold, with the travel time."""

    id: str
    name: str
    minutes: float


class FunctionAtPoint(_Out):
    """One 四就近 function at a location: its places within its walking threshold, and the nearest."""

    threshold_min: float = Field(description="the function's walking threshold ([thresholds.functions])")
    nearest_min: float | None = Field(None, description="walk to the nearest place of the function; "
                                                          "empty when none is reachable")
    places: list[FacilityWithin] = Field(description="places serving the function within the threshold, "
                                                      "nearest first")


class PointCoverage(_Out):
    """What serves one location (stations and branch meeting places on foot, hospitals by car)."""

    run_id: str
    lon: float
    lat: float
    on_network: bool
    snap_m: float | None = Field(None, description="distance to the nearest road, metres")
    thresholds: Thresholds
    stations: list[FacilityWithin]
    branches: list[FacilityWithin]
    hospitals: list[FacilityWithin]
    nearest_station_min: float | None = None
    functions: dict[StationFunction, FunctionAtPoint] = Field(
        default_factory=dict, description="四就近 by function: only the functions the run has a place for")


class DispersedMember(_Open):
    """A member living dispersed from the branch (planner only)."""

    id: str
    name: str | None = None
    township: str | None = None
    community: str | None = None
    lon: float | None = None
    lat: float | None = None
    walk_min_branch: float | None = Field(
        None, description="walking minutes to the branch's meeting place; empty with branch_status "
                          "beyond_limit when longer than the search cut-off (dispersion_note: '> 120 min walk')")
    branch_status: str | None = Field(None, description="ok, beyond_limit, unreachable, off_network …")
    dispersion_reason: str | None = None
    dispersion_note: str | None = None


class DispersedMembers(_Out):
    """The dispersed members of one branch."""

    run_id: str
    branch_id: str
    branch_name: str | None = None
    members: int = Field(description="members of the branch in this run")
    dispersed: list[DispersedMember]


class Recommendation(_Open):
    """One recommendation (columns of ``geo_planner.siting.schema``); ``member_ids`` only for planners."""

    rec_id: str
    kind: str
    name: str | None = None
    lon: float | None = None
    lat: float | None = None
    site_id: str | None = None
    site_name: str | None = None
    member_ids: list[str] | None = None
    n_members: int | None = None
    branch_ids: list[str] = []
    city: str | None = None
    township: str | None = None
    before_min: float | None = None
    after_min: float | None = None
    max_after_min: float | None = None
    rule: str | None = None
    rationale_zh: str | None = None
    rationale_en: str | None = None
    method: str | None = None


class Recommendations(_Out):
    """Recommendations of a run."""

    run_id: str
    recommendations: list[Recommendation]


class PointGeometry(_Out):
    """GeoJSON Point (WGS-84 lon, lat)."""

    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float]


class Feature(_Out):
    """GeoJSON Feature."""

    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry | None
    properties: dict[str, Any]


class FeatureCollection(_Out):
    """GeoJSON FeatureCollection (RFC 7946, WGS-84)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]


class ExportLink(_Out):
    """One downloadable export."""

    table: ExportTable
    format: ExportFormat
    url: str


class ExportList(_Out):
    """Exports the caller may download for a run."""

    run_id: str
    exports: list[ExportLink]


def records(df: Any, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts (NaN → None, numpy scalars → Python)."""
    import pandas as pd

    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    clean = df.astype(object).where(pd.notna(df), None)
    out = []
    for rec in clean.to_dict(orient="records"):
        out.append({str(k): (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


# --------------------------------------------------------------------------- home visits


class VisitStop(_Out):
    """One row of a visit plan: a car leaving its office, a home visit, or the car back."""

    visitor: str = Field(description="the car (office name and number)")
    day: int
    order: int = Field(description="0 for the departure, then the homes in order, last the return")
    stop: VisitStopKind
    member_id: str | None = Field(None, description="the member visited (visits only)")
    arrive: str = Field(description="HH:MM, rounded to the minute")
    leave: str = Field(description="HH:MM")
    drive_min: float = Field(description="drive minutes from the previous stop (the run's drive network)")
    wait_min: float = Field(description="minutes waited for the member's time window")
    office: str
    span: int = Field(description="the working span of the day (1: morning, 2: afternoon with the default hours)")


class UnvisitedMember(_Out):
    """A selected member not in the plan, with the reason."""

    member_id: str
    name: str | None = None
    reason: UnvisitedReason


class RouteLine(_Out):
    """The roads one leg of a visit plan follows (to the stop of ``order`` from the one before)."""

    visitor: str
    day: int
    span: int
    order: int
    drive_min: float
    coordinates: list[list[float]] = Field(description="WGS-84 [lon, lat] pairs; empty without a route")


class VisitPlanOut(_Out):
    """A home-visit plan (planner only: names and homes)."""

    run_id: str
    summary: dict[str, Any] = Field(description="visits planned, drive minutes in total and per visitor, "
                                                "the solver's status, bound and gap (none: PyVRP is a heuristic)")
    visits: list[VisitStop]
    unvisited: list[UnvisitedMember]
    lines: list[RouteLine] | None = Field(None, description="with lines=true: the roads of every leg")
# --------------------------------------------------------------------------- what-if (geo_planner.whatif)


class _In(BaseModel):
    """A request body: unknown fields, NaN/Infinity, true/false for numbers refused (422 naming the field)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class StationAdd(_In):
    """A station to add (WGS-84 degrees; it must lie on the run's walking network)."""

    lon: float = Field(ge=-180, le=180, examples=[117.23])
    lat: float = Field(ge=-90, le=90, examples=[28.30])
    name: str = Field("", max_length=200, examples=["建设路老年大学"])
    id: str = Field("", max_length=64, description="default W1, W2 …")


class StationMove(_In):
    """A station of the run put elsewhere (closed and added at the new point under its id)."""

    id: str = Field(min_length=1, max_length=64, examples=["S03"])
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    name: str = Field("", max_length=200, description="default: the station's name")


class WhatIfRequest(_In):
    """Edits of the run's stations; every field optional (no edit: the run's own figures)."""

    add_stations: list[StationAdd] = Field(default_factory=list, max_length=50)
    close_stations: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=1000,
                                                                        examples=[["S03"]])
    move_stations: list[StationMove] = Field(default_factory=list, max_length=50)
    station_walk_min: float | None = Field(None, gt=0, le=240, description="default: the run's threshold")
    service_areas: bool = Field(True, description="draw each added station's service area (GeoJSON)")


class WhatIfEquity(_Out):
    """Equity of the considered members' walks (``geo_planner.decision.equity``)."""

    n: int
    n_unreachable: int
    gini: float | None
    share_beyond: float | None
    p90_min: float | None
    mean_min: float | None
    max_min: float | None


class WhatIfArea(_Out, AreaRow):
    """Coverage of one 街道 or 社区 (shares over members with a precise location)."""

    members: int | None
    covered: int | None
    coverage_share: float | None
    before_share: float | None
    change: float | None
    suppressed: bool


class WhatIfFigures(_Out):
    """Headline figures of one station set (members the station models consider)."""

    station_walk_min: float
    members_considered: int
    covered_station: int
    coverage_share: float | None
    weighted_coverage_share: float | None
    equity: WhatIfEquity


class WhatIfStation(_Out):
    """A station the what-if added (or a moved one at its new point)."""

    id: str
    name: str
    lon: float
    lat: float


class AreaFeatureCollection(_Out):
    """GeoJSON FeatureCollection of (Multi)Polygons (RFC 7946, WGS-84)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]


class WhatIfOut(WhatIfFigures):
    """The coverage of the edited station set, exactly as a full re-run would compute it."""

    run_id: str
    newly_covered: int
    newly_uncovered: int
    newly_covered_ids: list[str] = Field(default_factory=list, description="member ids (planners)")
    newly_uncovered_ids: list[str] = Field(default_factory=list, description="member ids (planners)")
    by_area: list[WhatIfArea]
    before: WhatIfFigures
    added: list[WhatIfStation]
    closed: list[str]
    service_areas: AreaFeatureCollection
    dijkstra: dict[str, Any] = Field(description="how the walks were measured: searches, sources, bound")
    elapsed_ms: float = Field(description="time the library took, milliseconds")


class OptimiseRequest(_In):
    """Re-solve the run's station model: ``p`` new stations in all, ``lock`` forced open, ``ban`` left out."""

    model: Literal["mclp", "p_median"] = "mclp"
    p: int = Field(3, ge=0, le=1000)
    lock: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=1000)
    ban: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=10000)
    time_limit_s: float = Field(10.0, gt=0, le=30, description="HiGHS's time limit, seconds (≤ 30)")


class OptimisedSite(WhatIfStation):
    """A site of the re-solved plan (``locked``: forced open by the request)."""

    locked: bool


class WhatIfCoverage(WhatIfFigures):
    """Coverage of the run's stations plus the chosen sites (exact walks, as ``/whatif`` computes them)."""

    newly_covered: int
    newly_uncovered: int
    newly_covered_ids: list[str] = Field(default_factory=list, description="member ids (planners)")
    newly_uncovered_ids: list[str] = Field(default_factory=list, description="member ids (planners)")
    by_area: list[WhatIfArea]
    before: WhatIfFigures
    added: list[WhatIfStation]
    closed: list[str]
    dijkstra: dict[str, Any]
    elapsed_ms: float


class OptimiseOut(_Out):
    """The re-solved plan: HiGHS's status (``optimal`` when proven), gap, sites and their coverage."""

    run_id: str
    model: Literal["mclp", "p_median"]
    p: int
    lock: list[str]
    ban: list[str]
    sites: list[OptimisedSite]
    status: str
    optimal: bool = Field(description="HiGHS proved the plan optimal (else see status and gap)")
    gap: float | None
    objective: float
    method: str
    message: str
    solve_ms: float
    coverage: WhatIfCoverage
    elapsed_ms: float


# --------------------------------------------------------------------------- comparing two runs (compare.py)


class CompareMembers(_Out):
    """Members of the two runs (viewers: a count of 1–4 people is empty)."""

    new: int | None
    gone: int | None
    moved: int | None = Field(description="home moved more than moved_m metres")
    branch_changed: int | None
    unchanged: int | None


class CompareMatched(_Out):
    """How the members were matched: by id, else by name and birth month."""

    id: int | None
    name_birth: int | None


class CompareArea(_Open, AreaRow):
    """One 街道 or 社区: members and share within the station threshold in each run."""

    before: float | None = None
    after: float | None = None
    change: float | None = None


class CompareCoverage(_Out):
    """Share of the considered members within the station threshold, before and after, and by area."""

    before: float | None
    after: float | None
    by_area: list[CompareArea]


class CompareOut(_Out):
    """What changed between two runs (``with`` is the earlier one)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    run_id: str
    with_: str = Field(alias="with")
    members: CompareMembers
    matched_by: CompareMatched
    note: str
    coverage: CompareCoverage
    moved_out_of_circle: int | None
    moved_into_circle: int | None
    moved_m: float
    lists: dict[str, list[dict[str, Any]]] | None = Field(
        None, description="planners: new, gone, moved, branch_changed and the work list (member rows)")
