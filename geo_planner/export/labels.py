"""What a person reads: Chinese headers per table, labels of coded values, sheet names.

:data:`HEADERS` holds the Chinese header of every canonical column, per table (a member's
``name`` is 姓名, a branch's 支部名称); coded values (``new_station``, ``lixiu``, ``True``)
get their labels from :data:`geo_planner.vocab.VALUE_LABELS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pandas as pd

from ..travel import STATUS_BEYOND_LIMIT
from ..vocab import TABLES, VALUE_LABELS, Language, TableName
from ..zhformat import dates_zh

__all__ = ["DATE_COLUMNS", "HEADERS", "SHEET_NAMES", "beyond_limit_cells", "check_table", "header_label",
           "translate_frame"]

_COMMON: Final[dict[str, str]] = {
    "id": "编号",
    "name": "名称",
    "lon": "经度",
    "lat": "纬度",
    "lon_in": "原经度",
    "lat_in": "原纬度",
    "crs_in": "原坐标系",
    "source_row": "原表行号",
    "address": "地址",
    "city": "城市",
    "county": "县(区)",
    "township": "街道(乡镇)",
    "community": "社区(村)",
    "area": "区域",
    "level": "区域层级",
    "area_source": "区域来源",
    "admin_source": "城市区县判定依据",
    "unit": "单位",
    "phone": "联系电话",
    "geocode_precision": "定位精度",
    "geocode_score": "定位匹配分",
    "geocode_match": "定位匹配地名",
    "snap_m": "距道路(米)",
    "network_status": "路网状态",
    "branch_id": "党支部编号",
    "branch_name": "党支部名称",
    "meeting_township": "活动地点所在街道(乡镇)",
    "members": "人数",
    "suppressed": "少于5人不公开",
    "n_members": "人数",
    "n_dispersed": "居住分散人数",
    "share_dispersed": "居住分散比例",
    "n_remote": "异地居住人数",
    "n_cross_township": "跨街道(乡镇)居住人数",
    "n_far": "距支部过远人数",
    "n_in_township": "居住在活动地点所在街道人数",
    "share_in_township": "居住在活动地点所在街道比例",
    "flagged": "需关注",
    "flag_note": "说明",
    "imprecise_location": "地址仅到乡镇或区县人数(不计入覆盖率)",
    "share_covered_station": "驿站步行覆盖率",
    "share_covered_branch": "支部步行覆盖率",
    "share_covered_hospital": "医院驾车覆盖率",
    "median_walk_station_min": "步行至最近驿站中位数(分钟)",
    "p90_walk_station_min": "步行至最近驿站90%分位(分钟)",
    "no_time_walk_station": "无驿站步行时间人数",
    "median_walk_branch_min": "步行至支部中位数(分钟)",
    "p90_walk_branch_min": "步行至支部90%分位(分钟)",
    "no_time_walk_branch": "无支部步行时间人数",
    "beyond_limit_walk_branch": "步行至支部超过计算上限人数",
    "median_drive_hospital_min": "驾车至最近医院中位数(分钟)",
    "p90_drive_hospital_min": "驾车至最近医院90%分位(分钟)",
    "no_time_drive_hospital": "无医院驾车时间人数",
    "covered_station": "驿站步行可达",
    "covered_branch": "支部步行可达",
    "covered_hospital": "医院驾车可达",
    "walk_min_branch": "步行至支部(分钟)",
    "walk_min_station": "步行至最近驿站(分钟)",
    "drive_min_hospital": "驾车至最近医院(分钟)",
    "nearest_station_id": "最近驿站",
    "nearest_hospital_id": "最近医院",
    "dispersed": "居住分散",
    "dispersion_reason": "分散原因",
    "dispersion_note": "分散说明",
}

#: 四就近 by function: the place each function is served at, for the headers of its columns.
_FUNCTION_PLACES: Final[dict[str, str]] = {"study": "学习场所", "activity": "活动场所", "service": "服务场所",
                                           "contribution": "发挥作用场所"}
_COMMON.update({
    **{f"walk_min_{f}": f"步行至最近{p}(分钟)" for f, p in _FUNCTION_PLACES.items()},
    **{f"nearest_{f}_id": f"最近{p}" for f, p in _FUNCTION_PLACES.items()},
    **{f"covered_{f}": f"{p}步行可达" for f, p in _FUNCTION_PLACES.items()},
    **{f"share_covered_{f}": f"{p}步行覆盖率" for f, p in _FUNCTION_PLACES.items()},
    "share_four_near": "四就近覆盖率(各项均可达)",
})

_PER_TABLE: Final[dict[str, dict[str, str]]] = {
    "members": {
        "id": "编号",
        "name": "姓名",
        "status": "离退休类别",
        "age": "年龄",
        "birth": "出生年月",
        # ``branch`` is the branch as the planner typed it; 所在党支部 would clash with
        # 党支部编号 (both are read back as the member's branch), so it gets its own name
        "branch": "原填党支部",
        "unit": "原工作单位",
        "id_number": "身份证号",
        "address": "家庭住址",
        "township": "所在街道",
        "community": "所在社区",
        "is_party_member": "是否党员",
        "branch_status": "支部时间状态",
        "station_status": "驿站时间状态",
        "hospital_status": "医院时间状态",
        "member_city": "居住城市",
        "member_county": "居住县(区)",
    },
    "recommendations": {
        "rec_id": "建议编号",
        "kind": "类型",
        "name": "名称",
        "site_id": "场所编号",
        "site_name": "场所名称",
        "member_ids": "成员编号",
        "n_members": "人数",
        "branch_ids": "涉及党支部编号",
        "before_min": "调整前(分钟)",
        "after_min": "调整后(分钟)",
        "max_after_min": "调整后最长(分钟)",
        "rule": "依据",
        "rationale_zh": "理由",
        "rationale_en": "理由(英文)",
        "method": "计算方法",
        "stability": "稳定性(再次入选比例)",
        "stability_nearby": "稳定性(含附近替代点)",
    },
    "tradeoff": {
        "p": "新建驿站数",
        "coverage_share": "覆盖率(人数)",
        "weighted_coverage_share": "覆盖率(加权)",
        "members_covered": "覆盖人数",
        "covered_weight": "覆盖权重",
        "total_weight": "总权重",
        "marginal_members": "新增覆盖人数",
        "marginal_weight": "新增覆盖权重",
        "marginal_share": "新增覆盖率(加权)",
        "new_site_ids": "新建站点编号",
        "new_site_names": "新建站点名称",
        "status": "求解状态",
        "gap": "最优性差距",
        "method": "计算方法",
    },
    "sensitivity": {
        "scenario": "情形",
        "kind": "类别",
        "value": "参数值",
        "threshold_min": "步行标准(分钟)",
        "walk_speed_kmh": "步行速度(公里/小时)",
        "draw": "抽样序号",
        "site_ids": "选中站点编号",
        "site_names": "选中站点名称",
        "coverage_share": "覆盖率(人数)",
        "weighted_coverage_share": "覆盖率(加权)",
        "base_sites_coverage_share": "原推荐站点覆盖率(加权)",
        "base_sites_kept": "原推荐站点再次入选数",
        "status": "求解状态",
        "gap": "最优性差距",
    },
    "phased_plan": {
        "year": "年度",
        "order": "序号",
        "site_id": "站点编号",
        "site_name": "站点名称",
        "cost": "费用",
        "new_members": "新增覆盖人数",
        "new_weight": "新增覆盖权重",
        "member_ids": "新增覆盖成员编号",
        "year_coverage_share": "当年累计覆盖率(人数)",
        "year_weighted_share": "当年累计覆盖率(加权)",
        "horizon_optimum_share": "同等站点数最优覆盖率(加权)",
        "optimal_at_horizon": "是否达到该年最优",
        "status": "求解状态",
        "gap": "最优性差距",
        "note": "说明",
    },
    "coverage_by_area": {"members": "离退休干部人数", **{
        f"{model}_{fig}": f"{label}{fig_label}"
        for model, label in (("current", "现状"), ("mclp", "最大覆盖方案"), ("lscp", "集合覆盖方案"),
                             ("p_median", "p-中位方案"), ("p_center", "p-中心方案"))
        for fig, fig_label in (("gini", "步行时间基尼系数"), ("share_beyond", "超出步行标准比例"),
                               ("p90_min", "步行时间90%分位(分钟)"))
    }},
    "coverage_by_branch": {"members": "党员人数"},
    "branches": {
        "id": "支部编号",
        "name": "支部名称",
        "meeting_place": "活动地点",
        "n_members": "党员人数",
        "members": "党员人数",
    },
}

#: Chinese header per canonical column, per table: ``HEADERS[table][column]``. Read-only.
#: Columns not listed keep their own name (a planner's extra columns are already theirs).
HEADERS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {t: MappingProxyType({**_COMMON, **_PER_TABLE.get(t, {})}) for t in TABLES}
)

_STATUS_COLUMNS: Final[frozenset[str]] = frozenset(
    {"network_status", "branch_status", "station_status", "hospital_status"}
)
#: Default XLSX sheet name of each table in Chinese exports.
SHEET_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "members": "离退休干部",
        "recommendations": "调整建议",
        "coverage_by_area": "分区覆盖",
        "coverage_by_branch": "支部覆盖",
        "branches": "党支部",
        "tradeoff": "新增站点效益曲线",
        "sensitivity": "敏感性分析",
        "phased_plan": "分年度建设计划",
    }
)


def check_table(table: str) -> None:
    """Raise ``ValueError`` unless ``table`` is one of :data:`~geo_planner.vocab.TABLES`."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; use one of {', '.join(TABLES)}")


def header_label(column: str, table: str, language: Language = "zh") -> str:
    """Return the header a person sees for ``column`` of ``table``.

    Parameters
    ----------
    column
        Canonical column name.
    table
        One of :data:`TABLES`.
    language
        ``zh`` (Chinese header from :data:`HEADERS`) or ``en`` (the canonical name).

    Returns
    -------
    str
        The header; unknown columns keep their own name.
    """
    check_table(table)
    if language == "en":
        return column
    return HEADERS[table].get(column, column)


def _translate_values(series: pd.Series, column: str) -> pd.Series:
    """Chinese labels of coded values (vectorised ``map`` per column); other values unchanged."""
    if column in _STATUS_COLUMNS:
        labels: Mapping[str, str] | None = VALUE_LABELS["_status"]
    else:
        labels = VALUE_LABELS.get(column)
    if labels is not None:
        text = series.astype("object")
        if column == "dispersion_reason":  # ";"-joined codes, e.g. "cross_township;far"
            def join(v: object) -> object:
                if not isinstance(v, str):
                    return v
                return "；".join(labels.get(p, p) for p in v.split(";") if p)

            return text.map(join)
        return text.map(lambda v: labels.get(v, v) if isinstance(v, str) else v)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.map({True: "是", False: "否"}).astype("object")
    return series


#: Columns holding dates: written ``2026年12月1日`` in Chinese exports (ISO in English ones).
DATE_COLUMNS: frozenset[str] = frozenset({"birth"})


def beyond_limit_cells(df: pd.DataFrame, branch_limit_min: float | None) -> pd.DataFrame:
    """The walk to the branch of members beyond the search cut-off as text (``> 120``), not a blank.

    Other cells keep their numbers; without the limit the cell says the status label.
    """
    if "walk_min_branch" not in df.columns or "branch_status" not in df.columns:
        return df
    t = pd.to_numeric(df["walk_min_branch"], errors="coerce")
    beyond = (df["branch_status"].astype(str) == STATUS_BEYOND_LIMIT) & t.isna()
    if not beyond.any():
        return df
    text = f"> {branch_limit_min:g}" if branch_limit_min else VALUE_LABELS["_status"][STATUS_BEYOND_LIMIT]
    out = df.copy()
    out["walk_min_branch"] = t.astype("object").where(~beyond, text)
    return out


def translate_frame(
    df: pd.DataFrame, table: TableName, language: Language = "zh", *, branch_limit_min: float | None = None,
    beyond_as_text: bool = True,
) -> pd.DataFrame:
    """Rename headers and translate coded values for people to read.

    In ``zh``, dates (:data:`DATE_COLUMNS`) are written the Chinese way (``1948年10月5日``);
    text that is not a date stays as it was; a walk beyond the own-branch search cut-off reads
    ``> 120`` (:func:`beyond_limit_cells`) when ``beyond_as_text``.

    Parameters
    ----------
    df
        A result table with canonical column names.
    table
        Which table it is (headers differ: a member's ``name`` is 姓名, a branch's 支部名称).
    language
        ``zh``: Chinese headers and values; ``en``: unchanged canonical names and values.
    branch_limit_min
        The run's own-branch search cut-off (``[thresholds] branch_search_limit_min``), minutes.
    beyond_as_text
        Write beyond-the-cut-off walks as text (spreadsheets); ``False`` keeps the column
        numeric (GIS attributes; the status column says why the time is missing).

    Returns
    -------
    pandas.DataFrame
        A new frame (``geometry`` is left untouched and keeps its name).
    """
    check_table(table)
    out = pd.DataFrame(df.drop(columns="geometry", errors="ignore")).copy()
    if language == "en":
        return out
    if language != "zh":
        raise ValueError(f"unknown language {language!r}; use 'zh' or 'en'")
    if beyond_as_text:
        out = beyond_limit_cells(out, branch_limit_min)
    for col in out.columns:
        out[col] = _translate_values(out[col], str(col))
        if col in DATE_COLUMNS:  # 1948-10-05 → 1948年10月5日
            out[col] = dates_zh(out[col])
    names = {c: header_label(str(c), table, "zh") for c in out.columns}
    # a translated header must not collide with another column's name
    seen: dict[str, int] = {}
    for n in names.values():
        seen[n] = seen.get(n, 0) + 1
    for c, n in list(names.items()):
        if seen[n] > 1 and n != c:
            names[c] = f"{n}({c})"
    return out.rename(columns=names)
