"""One typed settings object for a geo_planner run (a *scenario*).

A scenario is read from TOML (CLI) or JSON (API) with the same keys::

    [network]
    osm = ["data/osm/guixi_jiangxi.osm"]
    walk_speed_kmh = 4.0
    [inputs]
    members = "members.csv"
    branches = "branches.csv"
    stations = "stations.csv"
    hospitals = "hospitals.csv"

Relative paths resolve against the scenario file's folder. Settings are passed explicitly
to every stage; there is no module-level mutable state.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import Problem, ScenarioError
from .vocab import DEFAULT_FUNCTION_KINDS, FUNCTIONS, LAYER_KINDS, Language, StationFunction

log = logging.getLogger(__name__)

CRSName = Literal["WGS84", "GCJ02", "BD09"]

#: Environment variables a scenario may name (``geocode.online_key_env``): only the project's own.
KEY_ENV_PREFIX = "GEO_PLANNER_"
#: Longest file name (bytes, UTF-8) most file systems accept.
MAX_NAME_BYTES = 255


class _Model(BaseModel):
    # every number finite: ``inf``/``nan`` (as text, or 1e999 in JSON) never reach a stage or the store
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_text_encoding(name: str | None) -> str | None:
    """Return ``name`` if it is a known *text* encoding, else raise ``ValueError``.

    ``rot13``, ``hex``, ``zlib``, ``base64`` … are codecs Python knows but not text encodings of
    a file; a NUL or an overlong name is refused too.
    """
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip() or "\x00" in name or len(name) > 64:
        raise ValueError("give a text encoding name such as utf-8, gb18030 or gbk")
    try:
        info = codecs.lookup(name.strip())
    except LookupError:
        raise ValueError(f"unknown text encoding {name!r}; use e.g. utf-8, gb18030 or gbk") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding; use e.g. utf-8, gb18030 or gbk")
    return name.strip()


#: The one environment variable of the cache folder (the library's and the service's ``cache_dir``).
CACHE_ENV = "GEO_PLANNER_CACHE_DIR"
#: Its former name, still read (deprecated: a warning says to rename it).
_OLD_CACHE_ENV = "GEO_PLANNER_CACHE"


def default_cache_dir() -> Path:
    """Return the cache folder when the scenario names none.

    ``$GEO_PLANNER_CACHE_DIR``, else the deprecated ``$GEO_PLANNER_CACHE`` (with a warning), else
    ``~/.cache/geo_planner``.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    old = os.environ.get(_OLD_CACHE_ENV)
    if old:
        log.warning("%s is deprecated: set %s instead (the service reads it too)", _OLD_CACHE_ENV, CACHE_ENV)
        return Path(old)
    return Path.home() / ".cache" / "geo_planner"


class NetworkSettings(_Model):
    """Road-network options.

    Attributes
    ----------
    osm
        One or more OSM extracts (``.osm`` XML or ``.pbf``).
    walk_speed_kmh
        Walking speed of an elderly pedestrian, km/h (default 4.0).
    max_snap_m
        A point farther than this (metres) from every road is *off-network*: it gets no
        travel time and a flag instead of a wrong number.
    drive_fallback_speed_kmh
        Speed for road types osmnx cannot impute from ``maxspeed`` tags.
    cache_dir
        Where built networks are cached, keyed on the extracts' content hash.
        ``None`` means :func:`default_cache_dir` (``$GEO_PLANNER_CACHE_DIR`` or ``~/.cache/geo_planner``).
    """

    osm: list[Path] = Field(min_length=1)
    walk_speed_kmh: float = Field(4.0, gt=0.5, le=10)
    max_snap_m: float = Field(500.0, gt=0, le=50_000)
    drive_fallback_speed_kmh: float = Field(30.0, gt=1, le=130)
    cache_dir: Path | None = None

    def resolved_cache_dir(self) -> Path:
        """Return the cache folder to use (created on demand by the caller)."""
        if self.cache_dir is not None:
            return self.cache_dir
        return default_cache_dir()


class LayerInput(_Model):
    """One input table with its reading options.

    Attributes
    ----------
    path
        CSV, XLSX, GeoJSON or GeoPackage file.
    sheet
        Sheet (XLSX) or layer (GeoPackage) name; first one when ``None``.
    crs
        Coordinate system of the lon/lat columns when the file has no 坐标系 column
        (``WGS84``, ``GCJ02`` for 高德/腾讯, ``BD09`` for 百度).
    encoding
        Force a text encoding for CSV; detected when ``None``.
    columns
        Corrections of the automatic header match, ``{header as written: field}`` (a field of the
        layer, or ``"ignore"``: the header then means nothing and is kept as an extra column);
        headers not named keep their automatic field (:func:`geo_planner.io.match_columns`).
    """

    path: Path
    sheet: str | None = None
    crs: CRSName = "WGS84"
    encoding: str | None = None
    columns: dict[str, str] | None = None

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, v: str | None) -> str | None:
        return check_text_encoding(v)


class InputSettings(_Model):
    """The four layers of a scenario; hospitals are optional.

    ``placements`` (optional) is a file of members placed by hand (the service keeps one as
    ``<data dir>/placements.json``; :mod:`geo_planner.placements`): a run applies it before geocoding
    (``geocode_precision = manual``); ``geo-planner run --placements FILE`` overrides it.
    """

    members: LayerInput
    branches: LayerInput
    stations: LayerInput
    hospitals: LayerInput | None = None
    placements: Path | None = None

    @field_validator("placements", mode="before")
    @classmethod
    def _placements_path(cls, v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"path"}:  # a relative path resolved with the layers'
            return v["path"]
        return v

    @field_validator("members", "branches", "stations", "hospitals", mode="before")
    @classmethod
    def _path_shorthand(cls, v: Any) -> Any:
        if isinstance(v, (str, Path)):
            return {"path": v}
        return v


class GeocodeSettings(_Model):
    """Offline geocoding options.

    Attributes
    ----------
    min_score
        Matches scoring below this (0–100) are reported as unmatched, never placed.
    default_region
        Text prepended to addresses lacking province/city (e.g. ``江西省贵溪市``).
    online_provider
        ``None`` (default, offline only), ``amap`` (高德) or ``tianditu`` (天地图); needs a key.
    online_key_env
        Name of the environment variable holding the online geocoder key.
    min_precision_for_times
        The coarsest geocoding precision that still gets travel times (levels, finest first:
        ``poi`` < ``street`` < ``community`` < ``township`` < ``county``; default
        ``community``). Members placed more coarsely keep their point for maps and area
        counts but get no times (``network_status = "imprecise_location"``), are left out of
        coverage shares (counted apart) and of the siting models. Members given by
        coordinates are always precise enough.
    """

    min_score: float = Field(70.0, ge=0, le=100)
    default_region: str | None = None
    online_provider: Literal["amap", "tianditu"] | None = None
    online_key_env: str = Field("GEO_PLANNER_GEOCODER_KEY", pattern=r"^GEO_PLANNER_[A-Z0-9_]{1,64}$")
    min_precision_for_times: Literal["poi", "street", "community", "township", "county"] = "community"

    @field_validator("online_key_env", mode="before")
    @classmethod
    def _own_variable(cls, v: Any) -> Any:
        # a scenario must not make the service send an arbitrary server variable to a geocoder
        if isinstance(v, str) and not v.startswith(KEY_ENV_PREFIX):
            raise ValueError(f"must name one of the service's own variables ({KEY_ENV_PREFIX}…), got {v!r}")
        return v


class FunctionThresholds(_Model):
    """Walking minutes per 四就近 function (``[thresholds.functions]``); ``None``: ``station_walk_min``."""

    study: float | None = Field(None, gt=0, le=240)
    activity: float | None = Field(None, gt=0, le=240)
    service: float | None = Field(None, gt=0, le=240)
    contribution: float | None = Field(None, gt=0, le=240)


class Thresholds(_Model):
    """Coverage thresholds in minutes (the 15-minute life circle).

    Attributes
    ----------
    station_walk_min, branch_walk_min, hospital_drive_min
        A member is covered when the walk (drive) is within these minutes. ``branch_walk_min``
        is also the 远距离 (``far``) threshold of dispersion.
    branch_search_limit_min
        Cut-off of the own-branch walking searches (default 120): a member whose walk to the
        branch's meeting place is longer gets no time but ``branch_status = "beyond_limit"``,
        is far (远距离) and not covered, and reads ``> 120`` in maps and exports — beyond it
        the exact figure changes no decision, and the searches stop early. When given, it must
        exceed ``branch_walk_min``; the default is off where ``branch_walk_min`` reaches it.
        ``0`` (or ``null`` in JSON) measures every walk in full.
    functions
        Per-function walking thresholds (``[thresholds.functions]``, e.g. ``study = 20``),
        each defaulting to ``station_walk_min``.
    """

    station_walk_min: float = Field(15.0, gt=0, le=240)
    branch_walk_min: float = Field(20.0, gt=0, le=240)
    hospital_drive_min: float = Field(30.0, gt=0, le=480)
    branch_search_limit_min: float | None = Field(120.0, ge=0, le=10_000)
    functions: FunctionThresholds = FunctionThresholds()

    def function_walk_min(self, function: StationFunction) -> float:
        """The walking threshold of a 四就近 function, minutes (``station_walk_min`` unless set)."""
        value = getattr(self.functions, function)
        return float(self.station_walk_min if value is None else value)

    @model_validator(mode="after")
    def _limit_above_threshold(self) -> Thresholds:
        limit = self.branch_search_limit_min
        given = "branch_search_limit_min" in self.model_fields_set
        if given and limit and limit <= self.branch_walk_min:
            raise ValueError(f"branch_search_limit_min ({limit:g}) must exceed branch_walk_min "
                             f"({self.branch_walk_min:g}), the coverage and 远距离 threshold; 0 turns it off")
        return self

    def branch_limit(self) -> float | None:
        """The own-branch search cut-off in minutes, ``None`` when off (every walk measured)."""
        limit = self.branch_search_limit_min
        return limit if limit and limit > self.branch_walk_min else None


class SitingSettings(_Model):
    """Station-siting options.

    Attributes
    ----------
    new_stations
        ``p`` of the maximal covering and p-median models.
    target_coverage
        Share of member weight the set-covering model must reach.
    time_limit_s
        Time limit of the whole siting stage, seconds, set-up included: the station models and
        the joint-branch model share it (``siting/budget.py``, ``SHARES``); a model run on its own
        gets it whole.
    mip_gap
        Relative optimality gap at which HiGHS may stop.
    capacity
        Optional member weight a station can serve (``None``: uncapacitated; with the default
        weights, one ordinary member weighs 1).
    max_exact_size
        Above this many member×candidate pairs (after reduction) MCLP/LSCP use the greedy
        heuristic instead of the exact MILP (and say so).
    max_exact_pmedian_size
        The same limit for the p-median, whose assignment model grows much faster.
    lixiu_weight, age80_weight
        Member weights: 离休 members and members aged 80+ weigh more.
    tradeoff_max_p
        The trade-off curve (``tradeoff.csv``) runs the maximal covering model for
        ``p = 0 … tradeoff_max_p`` new stations.
    sensitivity_thresholds_min
        Walking thresholds re-solved in ``sensitivity.csv`` (minutes).
    life_circle_tiers_min
        The GB 50180-2018 life-circle tiers re-solved in ``sensitivity.csv`` (5/10/15 minutes).
    sensitivity_speed_factors
        Walking speeds re-solved, as factors of ``network.walk_speed_kmh`` (±20 %).
    sensitivity_draws
        Seeded draws moving imprecisely geocoded members within their uncertainty (0: none).
    stability_radius_m
        A recommended site also counts as chosen again "nearby" when a solve picks a site
        within this straight-line distance (metres).
    decision_time_limit_s
        Time budget, seconds, of the p-center, trade-off curve, sensitivity and phased plan together
        (each solve also at most ``time_limit_s``); solves it leaves no time for are skipped and say so.
    per_year, years
        Phased plan (``phased_plan.csv``): new stations a year and number of years.
    budget_per_year
        Optional budget a year, in the units of ``site_cost`` (``None``: only ``per_year`` limits).
    site_cost, site_costs
        Cost of one new station, and per-candidate overrides (``{"C0012": 3.0}``).
    function
        ``None`` (default): the station models site stations of any function. A 四就近
        function (``"study"``, ``"activity"``, ``"service"``, ``"contribution"``): only the
        existing places serving it are kept as sites, and coverage is measured to them with
        that function's threshold ("where should a 老年大学 teaching point go").
    """

    new_stations: int = Field(3, ge=0, le=1000)
    target_coverage: float = Field(0.95, gt=0, le=1)
    time_limit_s: float = Field(60.0, gt=0, le=86_400)
    mip_gap: float = Field(0.0, ge=0, lt=1)
    capacity: int | None = Field(None, gt=0, le=10_000_000)
    max_exact_size: int = Field(1_000_000, gt=0, le=10**10)
    max_exact_pmedian_size: int = Field(300_000, gt=0, le=10**10)
    lixiu_weight: float = Field(2.0, ge=0, le=100)
    age80_weight: float = Field(1.5, ge=0, le=100)
    tradeoff_max_p: int = Field(10, ge=0, le=200)
    sensitivity_thresholds_min: list[Annotated[float, Field(gt=0, le=240)]] = Field(
        default_factory=lambda: [10.0, 15.0, 20.0], max_length=20)
    life_circle_tiers_min: list[Annotated[float, Field(gt=0, le=240)]] = Field(
        default_factory=lambda: [5.0, 10.0, 15.0], max_length=20)
    sensitivity_speed_factors: list[Annotated[float, Field(gt=0, le=3)]] = Field(
        default_factory=lambda: [0.8, 1.2], max_length=20)
    sensitivity_draws: int = Field(20, ge=0, le=1000)
    stability_radius_m: float = Field(400.0, ge=0, le=100_000)
    decision_time_limit_s: float = Field(300.0, gt=0, le=86_400)
    per_year: int = Field(2, ge=1, le=1000)
    years: int = Field(3, ge=1, le=50)
    budget_per_year: float | None = Field(None, gt=0, le=1e12)
    site_cost: float = Field(1.0, gt=0, le=1e12)
    site_costs: dict[Annotated[str, Field(max_length=200)], Annotated[float, Field(gt=0, le=1e12)]] = Field(
        default_factory=dict, max_length=100_000)
    function: StationFunction | None = None

    @field_validator("sensitivity_thresholds_min", "life_circle_tiers_min", "sensitivity_speed_factors")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(not (x > 0) or x != x or x == float("inf") for x in v):
            raise ValueError("every value must be a positive, finite number")
        return v

    @field_validator("site_costs")
    @classmethod
    def _positive_costs(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not (0 < x < float("inf"))]
        if bad:
            raise ValueError(f"site costs must be positive and finite: {', '.join(bad[:5])}")
        return v


class BranchSettings(_Model):
    """Branch-reorganisation rules (from the branch work regulations)."""

    min_branch_members: int = Field(3, ge=1, le=10_000)
    max_branch_members: int = Field(50, ge=1, le=10_000)
    max_units_per_joint_branch: int = Field(5, ge=1, le=1000)
    dispersed_share_flag: float = Field(0.5, ge=0, le=1)
    party_group_min_members: int = Field(3, ge=1, le=10_000)
    #: Members of one unit living within this many minutes' walk of each other are a
    #: neighbourhood: they join the same joint branch or none (0 turns cohesion off).
    cohesion_min: float = Field(2.0, ge=0, le=60)
    #: Members of one unit whose homes are within this many metres in a straight line are
    #: neighbours too, however far the roads they snap to are apart (one building or
    #: courtyard next to an elevated road or a divided street; 0 turns it off).
    cohesion_same_place_m: float = Field(30.0, ge=0, le=500)
    #: Largest joint-branch model (columns, per spatial component) solved with HiGHS; larger
    #: components are solved by maximum flow over fixed units with a Lagrangian bound
    #: (run.json says so).
    joint_max_exact_size: int = Field(100_000, gt=0, le=10**10)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> BranchSettings:
        if self.min_branch_members > self.max_branch_members:
            raise ValueError(f"min_branch_members ({self.min_branch_members}) must not exceed "
                             f"max_branch_members ({self.max_branch_members})")
        return self


class DispersionSettings(_Model):
    """When a member counts as dispersed.

    Attributes
    ----------
    remote
        ``city`` (default): 异地 means living in another prefecture-level city than the
        branch's meeting place, or outside every loaded extract; for a meeting place in a
        county (县, 县级市, 旗) another county-level division also counts, while the urban
        districts (市辖区) of one city are one place. ``county``: any other county-level
        division (区 included) is 异地.
    """

    remote: Literal["city", "county"] = "city"


class MapSettings(_Model):
    """Folium map options: ``tiles`` is ``none`` (default), ``osm``, ``amap`` or ``tianditu``.

    ``none`` is the default because OpenStreetMap's tile servers are often unreachable inside
    China and a map without tiles works offline; the map then carries a note saying how to add
    a base map (``tianditu`` with a key in ``GEO_PLANNER_TIANDITU_KEY``, or ``osm`` abroad).
    """

    tiles: Literal["osm", "none", "amap", "tianditu"] = "none"
    language: Language = "zh"
    max_member_points: int = Field(20000, gt=0, le=10_000_000)


class ReportSettings(_Model):
    """The printable report (``report.html``): ``pdf`` also prints ``report.pdf`` with headless
    Chromium where it is installed."""

    pdf: bool = True


#: A span of the day, ``HH:MM-HH:MM`` (e.g. ``08:30-11:30``).
_SPAN = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*[-–~至]\s*([01]?\d|2[0-4]):([0-5]\d)\s*$")


def parse_span(text: str) -> tuple[int, int]:
    """Return ``(start, end)`` minutes after midnight of a span written ``HH:MM-HH:MM``.

    Raises
    ------
    ValueError
        Not that form, or the end is not after the start.
    """
    m = _SPAN.match(str(text))
    if m is None:
        raise ValueError(f"{text!r} is not a span of the day written HH:MM-HH:MM (e.g. 08:30-11:30)")
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    if end <= start or end > 24 * 60:
        raise ValueError(f"{text!r}: the end must come after the start, within one day")
    return start, end


def _spans_in_order(spans: list[str]) -> list[str]:
    parsed = [parse_span(s) for s in spans]
    if any(b[0] < a[1] for a, b in zip(parsed, parsed[1:])):
        raise ValueError("working hours must be in order and must not overlap (e.g. 08:30-11:30, 14:00-17:30)")
    return spans


class OfficeSettings(_Model):
    """One office the visitors set out from (``[[visits.offices]]``).

    Attributes
    ----------
    name
        Shown in the plan (``office``).
    lon, lat
        WGS-84 degrees; or ``site``, the id of one of the run's stations or branches.
    visitors
        Cars (each with its staff) leaving from this office.
    days
        Working days of the plan.
    hours
        Working spans of each day; a car returns to the office between them (lunch kept).
    """

    name: str = Field(min_length=1, max_length=100)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    site: str | None = Field(None, min_length=1, max_length=100)
    visitors: int = Field(1, ge=1, le=500)
    days: int = Field(1, ge=1, le=60)
    hours: list[str] = Field(default_factory=lambda: ["08:30-11:30", "14:00-17:30"], min_length=1, max_length=6)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        return _spans_in_order(v)

    @model_validator(mode="after")
    def _where(self) -> OfficeSettings:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or a site id")
        if (self.lon is None) == (self.site is None):
            raise ValueError("give the office's lon and lat, or the id of a station or branch (site), not both")
        return self


#: Who a visit plan selects (any of the rules given): ``all``; ``lixiu`` (离休); ``age`` (at least
#: ``min_age``); ``alone`` (独居, where the members' table says so); ``ids`` (``member_ids``);
#: ``far`` (flagged dispersed: far from their branch, another township, 异地); ``uncovered`` (no station
#: within the walking threshold).
#: Most car-shifts (visitors × days × working spans, all offices) one visit plan routes.
MAX_VISIT_ROUTES = 5_000

VisitRule = Literal["all", "lixiu", "age", "alone", "ids", "far", "uncovered"]


class VisitSettings(_Model):
    """Home visits (走访慰问, 上门服务) planned from a finished run (``[visits]``).

    Attributes
    ----------
    offices
        Where the cars leave from (at least one to plan).
    select, min_age, member_ids
        Who is visited: every member matching any of the rules (:data:`VisitRule`).
    duration_min
        Minutes spent at each home.
    window
        Optional span in which every visit must start (e.g. ``08:30-11:30``: mornings only).
    member_windows
        Optional span per member id (overrides ``window``).
    time_limit_s
        The routing solver's time limit.
    """

    offices: list[OfficeSettings] = Field(default_factory=list, max_length=100)
    select: list[VisitRule] = Field(default_factory=lambda: ["lixiu"], min_length=1)
    min_age: int = Field(80, ge=0, le=130)
    member_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list,
                                                                                 max_length=100_000)
    duration_min: float = Field(30.0, gt=0, le=480)
    window: str | None = None
    member_windows: dict[Annotated[str, Field(max_length=100)], str] = Field(default_factory=dict,
                                                                            max_length=100_000)
    time_limit_s: float = Field(5.0, gt=0, le=3600)

    @field_validator("window")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        if v is not None:
            parse_span(v)
        return v

    @field_validator("member_windows")
    @classmethod
    def _member_windows(cls, v: dict[str, str]) -> dict[str, str]:
        for span in v.values():
            parse_span(span)
        return v

    @model_validator(mode="after")
    def _routes(self) -> VisitSettings:
        routes = sum(o.visitors * o.days * len(o.hours) for o in self.offices)
        if routes > MAX_VISIT_ROUTES:
            raise ValueError(f"offices give {routes} car-shifts (visitors × days × working spans); plan at most "
                             f"{MAX_VISIT_ROUTES:,} at once")
        return self


class RunSettings(_Model):
    """How a scenario is executed.

    Attributes
    ----------
    scheduler
        Where the regions of a province scenario run: ``None`` (default) serially in this
        process, ``local`` on a ``dask.distributed.LocalCluster`` sized to the machine, or
        the address of an existing Dask scheduler (``tcp://HOST:PORT``). The CLI's
        ``--scheduler`` overrides it.
    """

    scheduler: str | None = None

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v: str | None) -> str | None:
        if v is None or v == "local" or re.fullmatch(r"(tcp|tls|inproc|ucx)://\S+", v):
            return v
        raise ValueError("scheduler must be 'local' or a Dask scheduler address such as tcp://HOST:PORT")


class RegionSettings(_Model):
    """One region (a county or city) of a province scenario: its extracts and its four tables.

    Attributes
    ----------
    name
        Unique name; the region's outputs go to ``OUT/regions/<name>/``.
    osm
        The region's OSM extract(s).
    inputs
        The region's four tables (as the top-level ``[inputs]`` of a one-city scenario).
    default_region
        Optional ``[geocode] default_region`` for this region's addresses (e.g. ``广东省深圳市龙岗区``).
    """

    name: str = Field(min_length=1, max_length=80)
    osm: list[Path] = Field(min_length=1)
    inputs: InputSettings
    default_region: str | None = None

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        if v.strip() != v or v in (".", "..") or any(c in v for c in '/\\:*?"<>|') or any(ord(c) < 32 for c in v):
            raise ValueError("a region name is used as a folder name: no slashes, colons, control characters "
                             "or surrounding spaces")
        return v


FunctionKinds = dict[Annotated[str, Field(min_length=1, max_length=100)],
                     Annotated[list[StationFunction], Field(min_length=1, max_length=len(FUNCTIONS))]]


def _default_function_kinds() -> dict[str, list[StationFunction]]:
    return {kind: list(fns) for kind, fns in DEFAULT_FUNCTION_KINDS.items()}


class Scenario(_Model):
    """A complete, validated scenario: every stage reads its options from here.

    ``functions`` maps a station kind (类型) to the 四就近 functions it serves (``[functions]``:
    ``"老干部活动中心" = ["activity", "study"]``); the scenario's entries are added to (and
    replace) :data:`geo_planner.vocab.DEFAULT_FUNCTION_KINDS`.
    """

    name: str = Field("scenario", min_length=1, max_length=200)
    network: NetworkSettings
    inputs: InputSettings
    geocode: GeocodeSettings = GeocodeSettings()
    thresholds: Thresholds = Thresholds()
    siting: SitingSettings = SitingSettings()
    branches: BranchSettings = BranchSettings()
    dispersion: DispersionSettings = DispersionSettings()
    map: MapSettings = MapSettings()
    report: ReportSettings = ReportSettings()
    run: RunSettings = RunSettings()
    functions: FunctionKinds = Field(default_factory=_default_function_kinds, max_length=1000)
    visits: VisitSettings = VisitSettings()
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @field_validator("functions", mode="before")
    @classmethod
    def _over_defaults(cls, v: Any) -> Any:
        # the scenario's kinds are added to the documented defaults; one function may be a string
        if not isinstance(v, dict):
            return v
        given = {k: ([f] if isinstance(f, str) else f) for k, f in v.items()}
        return {**_default_function_kinds(), **given}


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Resolve relative paths of ``network.osm`` and ``inputs.*`` against ``base``."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    net = out.get("network")
    if isinstance(net, dict):
        osm = net.get("osm")
        if isinstance(osm, (str, Path)):
            osm = [osm]
        if isinstance(osm, list):
            net["osm"] = [str((base / p).resolve()) if not Path(p).is_absolute() else p for p in osm]
        if net.get("cache_dir"):
            net["cache_dir"] = str((base / net["cache_dir"]).resolve())
    inputs = out.get("inputs")
    if isinstance(inputs, dict):
        for key, value in list(inputs.items()):
            if isinstance(value, (str, Path)):
                value = {"path": value}
            if isinstance(value, dict) and "path" in value:
                value = dict(value)
                p = Path(value["path"])
                value["path"] = str(p if p.is_absolute() else (base / p).resolve())
            inputs[key] = value
    return out


def scenario_from_dict(data: dict[str, Any], *, base_dir: Path | str = ".", source: str = "<scenario>") -> Scenario:
    """Validate a scenario dictionary (as parsed from TOML or JSON).

    Parameters
    ----------
    data
        The parsed scenario.
    base_dir
        Folder against which relative paths resolve.
    source
        Name used in error messages.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With one problem per invalid key.
    """
    try:
        return Scenario.model_validate(_resolve_paths(data, Path(base_dir)))
    except ValidationError as exc:
        problems = [
            Problem(source, None, ".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()
        ]
        raise ScenarioError(problems) from None


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path
        The scenario file; relative paths inside it resolve against its folder.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file is missing, not valid TOML, has invalid keys or names missing files.
    """
    path = Path(path)
    return scenario_from_file_data(read_toml(path), path)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML of a scenario file (``ScenarioError`` if missing or not valid TOML)."""
    if not path.is_file():
        raise ScenarioError(Problem(str(path), None, None, "scenario file not found"))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(Problem(str(path), None, None, f"not valid TOML: {exc}")) from None


def scenario_from_file_data(data: dict[str, Any], path: Path) -> Scenario:
    """Validate the parsed scenario file ``path`` and check that every file it names exists."""
    scenario = scenario_from_dict(data, base_dir=path.parent, source=str(path))
    missing = [
        Problem(str(path), None, field, f"file not found: {p}")
        for field, p in _scenario_files(scenario)
        if not Path(p).is_file()
    ]
    if missing:
        raise ScenarioError(missing)
    return scenario


def _scenario_files(s: Scenario) -> list[tuple[str, Path]]:
    files = [(f"network.osm[{i}]", p) for i, p in enumerate(s.network.osm)]
    for name in LAYER_KINDS:
        layer = getattr(s.inputs, name)
        if layer is not None:
            files.append((f"inputs.{name}", layer.path))
    return files
