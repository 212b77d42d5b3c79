"""The scenario form of the web workspace, generated from the typed settings (:mod:`geo_planner.settings`).

Every setting a run request accepts gets one form field with its default, its bounds (from the
pydantic ``Field`` constraints: the browser checks them as the service will) and a one-line
explanation — in Chinese from :data:`EXPLAIN_ZH`, in English from the settings' own docstrings
(numpy ``Attributes`` sections and ``#:`` comments), so a new setting appears in the form without
touching it. The form is only a client: the request it builds is validated by the same model
as ``POST /runs`` (the service answers 422 with one problem per field).
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel

from .settings import (
    BranchSettings,
    DispersionSettings,
    GeocodeSettings,
    MapSettings,
    NetworkSettings,
    ReportSettings,
    SitingSettings,
    Thresholds,
)

#: The scenario's sections the form shows, in order: (key, model, Chinese title, English title).
SECTIONS: Final[tuple[tuple[str, type[BaseModel], str, str], ...]] = (
    ("thresholds", Thresholds, "覆盖标准（分钟）", "Coverage thresholds (minutes)"),
    ("network", NetworkSettings, "路网", "Road network"),
    ("siting", SitingSettings, "驿站选址", "Station siting"),
    ("branches", BranchSettings, "支部设置规则", "Branch rules"),
    ("dispersion", DispersionSettings, "居住分散", "Dispersion"),
    ("geocode", GeocodeSettings, "地址定位", "Geocoding"),
    ("map", MapSettings, "地图", "Map"),
    ("report", ReportSettings, "报告", "Report"),
)
#: Fields the form does not show: given elsewhere on the page (extracts, inputs) or server-side only.
SKIPPED: Final[frozenset[str]] = frozenset({"network.osm", "network.cache_dir"})

#: One-line explanations in Chinese (``section.field``); English comes from the docstrings.
EXPLAIN_ZH: Final[dict[str, str]] = {
    "thresholds.station_walk_min": "步行到驿站不超过该分钟数即算覆盖（15分钟生活圈）。",
    "thresholds.branch_walk_min": "步行到支部活动地点不超过该分钟数即算覆盖，也是“距支部过远”的标准。",
    "thresholds.hospital_drive_min": "驾车到定点医院不超过该分钟数即算覆盖。",
    "thresholds.branch_search_limit_min": "到本支部步行时间的计算上限，超过只记“超过上限”；0 表示全部精确计算。",
    "network.walk_speed_kmh": "老年人步行速度（公里/小时）。",
    "network.max_snap_m": "离最近道路超过该距离（米）的点视为不在路网上，不给出时间。",
    "network.drive_fallback_speed_kmh": "道路没有限速信息时采用的车速（公里/小时）。",
    "thresholds.functions": "按四就近功能（学习、活动、服务、贡献）分别设定步行分钟数；留空沿用驿站步行阈值。",
    "siting.function": "只为某一项四就近功能选址；留空表示按全部功能。",
    "branches.cohesion_same_place_m": "两名成员住处相距不超过该米数即视为同一地点（支部凝聚度计算）。",
    "siting.new_stations": "最大覆盖与 p-中位模型新建驿站的个数。",
    "siting.target_coverage": "集合覆盖模型需达到的覆盖比例（0–1）。",
    "siting.time_limit_s": "整个选址阶段（含准备计算）的时间上限（秒），各优化模型按比例分配。",
    "siting.mip_gap": "求解器可停止的相对最优间隙（0 为求最优）。",
    "siting.capacity": "每个驿站可服务的人数权重上限；留空表示不限。",
    "siting.max_exact_size": "成员×候选点对超过此数时最大覆盖/集合覆盖改用启发式算法。",
    "siting.max_exact_pmedian_size": "p-中位模型改用启发式算法的规模上限。",
    "siting.lixiu_weight": "离休干部的权重（高于普通成员）。",
    "siting.age80_weight": "80 岁以上成员的权重。",
    "siting.tradeoff_max_p": "权衡曲线计算新建 0 到该数个驿站的覆盖率。",
    "siting.sensitivity_thresholds_min": "敏感性分析中重新求解的步行标准（分钟，逗号分隔）。",
    "siting.life_circle_tiers_min": "GB 50180-2018 生活圈层级（5/10/15 分钟，逗号分隔）。",
    "siting.sensitivity_speed_factors": "敏感性分析中的步行速度倍数（逗号分隔）。",
    "siting.sensitivity_draws": "按定位误差随机移动成员位置的抽样次数（0 为不做）。",
    "siting.stability_radius_m": "重新选中该半径（米）内的替代点也算“附近再次选中”。",
    "siting.decision_time_limit_s": "p-中心、权衡曲线、敏感性和分期计划合计的时间预算（秒）。",
    "siting.per_year": "分期计划每年新建驿站数。",
    "siting.years": "分期计划年数。",
    "siting.budget_per_year": "每年预算（与建站成本同单位）；留空表示只按每年个数限制。",
    "siting.site_cost": "新建一个驿站的成本。",
    "siting.site_costs": "个别候选点的成本，JSON 格式，如 {\"C0012\": 3}。",
    "branches.min_branch_members": "成立支部的最少党员数（≥3 名正式党员）。",
    "branches.max_branch_members": "一个支部的人数上限（一般不超过 50 人）。",
    "branches.max_units_per_joint_branch": "一个联合党支部最多包含的单位数（一般不超过 5 个）。",
    "branches.dispersed_share_flag": "分散成员比例超过该值的支部被标出（0–1）。",
    "branches.party_group_min_members": "按居住地成立党小组的最少人数。",
    "branches.cohesion_min": "同一单位步行该分钟数内的成员视为邻里，一同编入或不编入联合支部（0 关闭）。",
    "branches.joint_max_exact_size": "联合支部模型用求解器精确求解的规模上限。",
    "dispersion.remote": "异地的判定：city 为另一地级市（县的支部另含其他县级区划），county 为任何其他县级区划。",
    "geocode.min_score": "地址匹配得分低于此值（0–100）视为未匹配，不予定位。",
    "geocode.default_region": "地址缺省省市时补在前面的文字，如“江西省贵溪市”。",
    "geocode.online_provider": "在线地理编码服务（默认不用，仅离线）。",
    "geocode.online_key_env": "保存在线地理编码密钥的服务环境变量名。",
    "geocode.min_precision_for_times": "仍计算出行时间的最粗定位精度；更粗的成员只计入地图和人数。",
    "map.tiles": "底图：none（离线，默认）、osm、amap、tianditu。",
    "map.language": "地图和导出的语言。",
    "map.max_member_points": "地图逐点显示成员的上限，超过改为网格人数。",
    "report.pdf": "同时用 Chromium 打印 PDF 报告。",
}


@dataclass(frozen=True)
class FormField:
    """One setting as a form field.

    Attributes
    ----------
    name
        ``section.field`` (the JSON path of the run request).
    input
        ``number``, ``integer``, ``text``, ``select``, ``checkbox``, ``list`` (comma-separated
        numbers) or ``json``.
    default
        The default as the field shows it (text; ``""`` for none).
    optional
        Whether an empty field is allowed (sent as ``null``).
    minimum, maximum, exclusive_min, exclusive_max
        Bounds of a number (``None``: unbounded).
    choices
        Options of a ``select``.
    explain_zh, explain_en
        One-line explanations.
    """

    name: str
    input: str
    default: str
    optional: bool
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False
    choices: tuple[str, ...] = ()
    explain_zh: str = ""
    explain_en: str = ""


@dataclass(frozen=True)
class FormSection:
    """A section of the scenario form (one settings model)."""

    key: str
    title_zh: str
    title_en: str
    fields: list[FormField] = field(default_factory=list)


def _sentence(text: str) -> str:
    """The first sentence of a docstring passage, without reST markup."""
    first = re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0]
    return first.replace("``", "").replace("*", "")


def _docs(model: type[BaseModel]) -> dict[str, str]:
    """First sentence per field from the model's numpy ``Attributes`` section and ``#:`` comments."""
    out: dict[str, str] = {}
    doc = inspect.getdoc(model) or ""
    if "Attributes" in doc:
        body = doc.split("Attributes", 1)[1].split("\n", 2)[-1]
        current: list[str] = []
        text: list[str] = []

        def flush() -> None:
            sentence = _sentence(" ".join(text))
            for name in current:
                out.setdefault(name, sentence)

        for line in body.splitlines():
            if line and not line.startswith(" "):
                if current:
                    flush()
                current = [n.strip() for n in line.split(",")]
                text = []
            elif line.strip():
                text.append(line.strip())
        if current:
            flush()
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):  # pragma: no cover - no source (frozen app)
        source = ""
    comment: list[str] = []
    for line in source.splitlines():
        s = line.strip()
        if s.startswith("#:"):
            comment.append(s[2:].strip())
            continue
        m = re.match(r"([a-z_][a-z0-9_]*)\s*:", s)
        if m and comment:
            out.setdefault(m.group(1), _sentence(" ".join(comment)))
        comment = []
    return out


def _kind(annotation: Any) -> tuple[str, bool, tuple[str, ...]]:
    """(input kind, optional, choices) of a field annotation."""
    optional = False
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        annotation = rest[0] if len(rest) == 1 else annotation
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "select", optional, tuple(str(a) for a in args)
    if origin is list:
        return "list", optional, ()
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "json", optional, ()
    if annotation is bool:
        return "checkbox", optional, ()
    if annotation is int:
        return "integer", optional, ()
    if annotation is float:
        return "number", optional, ()
    return "text", optional, ()


def _shown(value: Any) -> str:
    if isinstance(value, BaseModel):  # a nested table (``[thresholds.functions]``): its set keys, as JSON
        value = value.model_dump(exclude_none=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, dict):
        import json

        return json.dumps(value, ensure_ascii=False) if value else ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def form_sections() -> list[FormSection]:
    """The scenario form: every setting of :data:`SECTIONS` with default, bounds and explanations.

    Returns
    -------
    list of FormSection
        In display order; fields in the order of their model.
    """
    sections = []
    for key, model, title_zh, title_en in SECTIONS:
        docs = _docs(model)
        defaults = model.model_construct()
        fields = []
        for name, info in model.model_fields.items():
            path = f"{key}.{name}"
            if path in SKIPPED:
                continue
            kind, optional, choices = _kind(info.annotation)
            bounds: dict[str, Any] = {}
            for meta in info.metadata:
                for attr, target, exclusive in (("ge", "minimum", False), ("gt", "minimum", True),
                                                ("le", "maximum", False), ("lt", "maximum", True)):
                    v = getattr(meta, attr, None)
                    if v is not None:
                        bounds[target] = float(v)
                        bounds["exclusive_min" if target == "minimum" else "exclusive_max"] = exclusive
            default = getattr(defaults, name, None) if not info.is_required() else None
            fields.append(FormField(
                name=path, input=kind, default=_shown(default), optional=optional or default is None,
                choices=choices, explain_zh=EXPLAIN_ZH.get(path, ""), explain_en=docs.get(name, ""), **bounds,
            ))
        sections.append(FormSection(key=key, title_zh=title_zh, title_en=title_en, fields=fields))
    return sections
