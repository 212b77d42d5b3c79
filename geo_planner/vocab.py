"""One home for the project's vocabularies: the codes every stage, export, map and route shares.

Each vocabulary is a ``Literal`` type (for type checkers and pydantic/OpenAPI) and a tuple of
its values (for loops and validation) derived from it, so the two cannot drift apart. People
see codes through the label tables here, in Chinese (``zh``) and English (``en``).

What lives elsewhere, on purpose: column names and headers of each table (``export``), the
geocoding precision ladder (``geocode``), the travel status codes (``travel``), and each siting
model's own name and label (its registry entry in ``siting``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Literal, Mapping, get_args

__all__ = [
    "ActorKind",
    "ACTOR_KINDS",
    "AUDIT_WHATS",
    "AuditWhat",
    "DEFAULT_FUNCTION_KINDS",
    "DispersionReason",
    "ExportFormat",
    "FORMATS",
    "FUNCTIONS",
    "FUNCTION_LABELS",
    "IMPRECISE_LOCATION",
    "KIND_LABELS",
    "LAYER_KINDS",
    "Language",
    "LANGUAGES",
    "LayerKind",
    "MEDIA_TYPES",
    "REASONS",
    "REASON_LABELS",
    "RECOMMENDATION_KINDS",
    "ROLES",
    "ROLE_RANK",
    "RUN_STATUSES",
    "RUN_TABLES",
    "RecommendationKind",
    "Role",
    "RunStatus",
    "StationFunction",
    "TABLES",
    "TERMINAL_STATUSES",
    "TableName",
    "UNKNOWN_KIND_FUNCTION",
    "UNVISITED_LABELS",
    "UNFINISHED_STATUSES",
    "UNVISITED_REASONS",
    "UnvisitedReason",
    "VISIT_STOPS",
    "VisitStop",
    "VALUE_LABELS",
    "table_file",
]

# --------------------------------------------------------------------------------------
# inputs

#: The four input layers a planner provides (members and branches required).
LayerKind = Literal["members", "branches", "stations", "hospitals"]
LAYER_KINDS: Final[tuple[LayerKind, ...]] = get_args(LayerKind)

# --------------------------------------------------------------------------------------
# 四就近: what a place is for

#: The four functions of 四就近 (就近学习、就近活动、就近服务、就近发挥作用): study, take part in
#: activities, get service and contribute close to home. A station (place) serves one or more.
StationFunction = Literal["study", "activity", "service", "contribution"]
FUNCTIONS: Final[tuple[StationFunction, ...]] = get_args(StationFunction)
#: What a station kind (类型) the ``[functions]`` mapping does not know counts as.
UNKNOWN_KIND_FUNCTION: Final[StationFunction] = "activity"
#: The default ``[functions]`` mapping: a word of a station's 类型 → the functions it serves.
#: A kind takes the entry it equals, else the longest word it contains (「桑榆红驿站」 → 驿站).
DEFAULT_FUNCTION_KINDS: Final[Mapping[str, tuple[StationFunction, ...]]] = MappingProxyType({
    "老年大学": ("study",), "分校": ("study",), "教学点": ("study",), "党校": ("study",),
    "驿站": ("activity",), "老党员之家": ("activity",), "活动中心": ("activity",), "活动室": ("activity",),
    "老干部服务中心": ("service",), "社区养老服务站": ("service",), "日间照料中心": ("service",),
    "志愿服务站": ("contribution",), "实践基地": ("contribution",),
})
FUNCTION_LABELS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    "zh": MappingProxyType({"study": "就近学习", "activity": "就近活动", "service": "就近服务",
                            "contribution": "就近发挥作用", "four_near": "四就近"}),
    "en": MappingProxyType({"study": "Study", "activity": "Activities", "service": "Service",
                            "contribution": "Contribution", "four_near": "All four functions"}),
})

# --------------------------------------------------------------------------------------
# who sees what

#: ``viewer`` sees aggregates only; ``planner`` sees members; ``admin`` also manages data.
Role = Literal["viewer", "planner", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
#: A role may do everything the roles before it may do.
ROLE_RANK: Final[Mapping[str, int]] = MappingProxyType({r: i for i, r in enumerate(ROLES)})
#: Who made a request: a person signed in (session or their own token), or a service token from the
#: configuration (``GEO_PLANNER_TOKENS`` / ``GEO_PLANNER_TOKENS_FILE``).
ActorKind = Literal["user", "service"]
ACTOR_KINDS: Final[tuple[ActorKind, ...]] = get_args(ActorKind)
#: What an audit record says was viewed or exported (member-level data, PIPL): the member table as a
#: download, a branch's dispersed members, the planner's map (member points), recommendations naming
#: members, a members table's import report (rejected rows quote the cells); the workspace's member
#: layer (homes), one member's details, the location review list, a members upload's problem rows (XLSX),
#: a home-visit plan, a comparison's member lists, a members upload's tolerant branch matches.
AuditWhat = Literal["members_export", "dispersed", "map", "recommendations", "recommendations_export",
                    "import_report", "member_layer", "member_details", "location_review", "problem_rows",
                    "visits", "compare_lists", "branch_matches"]
AUDIT_WHATS: Final[tuple[AuditWhat, ...]] = get_args(AuditWhat)

# --------------------------------------------------------------------------------------
# runs and their outputs

#: A run's life: queued → running → done | failed | cancelled.
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
RUN_STATUSES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"done", "failed", "cancelled"})
#: The statuses of a run not yet finished (a worker may still change it): queued, running.
UNFINISHED_STATUSES: Final[tuple[RunStatus, ...]] = tuple(s for s in RUN_STATUSES if s not in TERMINAL_STATUSES)

#: Tables a finished run writes as ``<name>.csv`` (``run.json``, ``map.html``, the report and
#: ``point_index.npz`` beside them).
RUN_TABLES: Final[tuple[str, ...]] = (
    "members", "rejections", "branches", "stations", "hospitals",
    "coverage_by_area", "coverage_by_branch", "recommendations",
    "tradeoff", "sensitivity", "phased_plan",
)


def table_file(name: str) -> str:
    """Return the file name of run table ``name`` (``members`` → ``members.csv``).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`RUN_TABLES`.
    """
    if name not in RUN_TABLES:
        raise ValueError(f"unknown run table {name!r}; one of {', '.join(RUN_TABLES)}")
    return f"{name}.csv"


# --------------------------------------------------------------------------------------
# exports

#: Tables a planner can export.
TableName = Literal[
    "members", "recommendations", "coverage_by_area", "coverage_by_branch", "branches",
    "tradeoff", "sensitivity", "phased_plan",
]
TABLES: Final[tuple[TableName, ...]] = get_args(TableName)
ExportFormat = Literal["xlsx", "csv", "geojson", "gpkg"]
FORMATS: Final[tuple[ExportFormat, ...]] = get_args(ExportFormat)
MEDIA_TYPES: Final[Mapping[str, str]] = MappingProxyType({
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
})
Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)

# --------------------------------------------------------------------------------------
# recommendations and dispersion

#: A member whose address is too coarse for travel times (``network_status``; ``[geocode]
#: min_precision_for_times``): counted, never timed. Also the count column of the coverage tables and
#: ``run.json``, and a reason a member is not visited.
IMPRECISE_LOCATION: Final = "imprecise_location"

#: What a recommendation proposes (the ``kind`` column of ``recommendations.csv``).
RecommendationKind = Literal[
    "new_station", "joint_branch", "transfer", "party_group", "remote_branch", "mobile_member"
]
RECOMMENDATION_KINDS: Final[tuple[RecommendationKind, ...]] = get_args(RecommendationKind)

#: Why a member counts as living dispersed (居住分散); a member may have several.
DispersionReason = Literal["remote", "cross_township", "far"]
REASONS: Final[tuple[DispersionReason, ...]] = get_args(DispersionReason)

KIND_LABELS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    "zh": MappingProxyType({
        "new_station": "新建驿站",
        "joint_branch": "联合党支部",
        "transfer": "就近参加活动",
        "party_group": "党小组",
        "remote_branch": "异地支部",
        "mobile_member": "流动党员",
    }),
    "en": MappingProxyType({
        "new_station": "New station",
        "joint_branch": "Joint branch",
        "transfer": "Take part nearby",
        "party_group": "Party group",
        "remote_branch": "Remote branch",
        "mobile_member": "Mobile member",
    }),
})

REASON_LABELS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    "zh": MappingProxyType({"remote": "异地居住", "cross_township": "跨街道(乡镇)居住", "far": "距支部过远"}),
    "en": MappingProxyType({
        "remote": "Lives in another city/county",
        "cross_township": "Lives in another township",
        "far": "Far from the branch",
    }),
})

# --------------------------------------------------------------------------------------
# home visits (visits/)

#: Why a selected member is not in a visit plan (``unvisited.csv``'s ``reason``).
UnvisitedReason = Literal[
    "imprecise_location", "remote", "no_location", "off_network", "unreachable", "outside_hours", "no_capacity",
]
UNVISITED_REASONS: Final[tuple[UnvisitedReason, ...]] = get_args(UnvisitedReason)
UNVISITED_LABELS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    "zh": MappingProxyType({
        "imprecise_location": "地址仅到乡镇或区县，未排入路线",
        "remote": "异地居住，由居住地安排",
        "no_location": "未定位",
        "off_network": "距道路过远",
        "unreachable": "从办公地点驾车不可达",
        "outside_hours": "往返加走访超出工作时段或时间窗",
        "no_capacity": "所给天数和车辆内排不下",
    }),
    "en": MappingProxyType({
        "imprecise_location": "Address only known to the township or county: not routed",
        "remote": "Lives in another city/county: visited there",
        "no_location": "No location",
        "off_network": "Too far from a road",
        "unreachable": "Not reachable by car from the office",
        "outside_hours": "Round trip and visit do not fit the working hours or the time window",
        "no_capacity": "Does not fit in the cars and days given",
    }),
})
#: What a row of ``visits.csv`` is: leaving the office, a home visit, back at the office.
VisitStop = Literal["depart", "visit", "return"]
VISIT_STOPS: Final[tuple[VisitStop, ...]] = get_args(VisitStop)

#: Coded values shown to people in Chinese, per column: ``VALUE_LABELS[column][value]``.
#: ``_status`` serves every travel-status column (``network_status``, ``branch_status`` …).
VALUE_LABELS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "kind": MappingProxyType(
            {
                **KIND_LABELS["zh"],
                # sensitivity.csv cases
                "base": "基准方案",
                "threshold": "步行标准",
                "life_circle": "生活圈层级(GB 50180-2018)",
                "threshold;life_circle": "步行标准/生活圈层级",
                "walk_speed": "步行速度",
                "geocode_uncertainty": "定位误差抽样",
            }
        ),
        "status": MappingProxyType({"lixiu": "离休", "tuixiu": "退休"}),
        "dispersion_reason": REASON_LABELS["zh"],
        "level": MappingProxyType({"township": "街道(乡镇)", "community": "社区(村)"}),
        "area_source": MappingProxyType({"table": "原表", "osm": "地图推断", "osm_boundary": "地图行政边界",
                                         "osm_place": "地图最近地名"}),
        "admin_source": MappingProxyType({"polygon": "行政区划边界", "nearest_seat": "最近县级驻地"}),
        "_status": MappingProxyType(
            {
                "ok": "正常",
                "off_network": "距道路过远",
                "unreachable": "路网不可达",
                "no_location": "未定位",
                "imprecise_location": "地址仅到乡镇或区县(不计时间)",
                "no_target": "无目标",
                "beyond_limit": "超过计算上限(未计具体时间)",
                "unknown_branch": "支部未识别",
                "outside_network": "在已加载路网范围外",
            }
        ),
    }
)
