"""Texts of the map only: layer names, popup headers, notes and badge glyphs, in Chinese and English.

Codes shared with tables and the API (recommendation kinds, dispersion reasons) are labelled
by :mod:`geo_planner.vocab`; :func:`kind_label` and :func:`reason_label` look them up there.
"""

from __future__ import annotations

from typing import Final

from ..vocab import KIND_LABELS, REASON_LABELS, RECOMMENDATION_KINDS

__all__ = ["KIND_GLYPH", "LABELS", "kind_label", "reason_label"]

#: One-character badge of each recommendation kind.
KIND_GLYPH: Final[dict[str, dict[str, str]]] = {
    "zh": dict(zip(RECOMMENDATION_KINDS, ("新", "联", "转", "组", "异", "流"), strict=True)),
    "en": dict(zip(RECOMMENDATION_KINDS, ("N", "J", "T", "G", "R", "M"), strict=True)),
}

#: The map's texts per language; ``{…}`` fields are filled in with ``str.format``.
LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "members": "离退休干部",
        "members_large": "离退休干部（网格汇总）",
        "members_grid": "离退休干部分布（网格人数）",
        "heat": "离退休干部热力图",
        "dispersed": "居住分散的党员（按原因）",
        "branches": "党支部活动地点",
        "stations": "驿站（活动阵地）",
        "station_areas": "驿站步行{t:g}分钟服务范围",
        "hospitals": "定点医院",
        "hospital_areas": "医院驾车{t:g}分钟服务范围",
        "recommendations": "调整建议",
        "coverage": "分区覆盖情况",
        "legend": "图例",
        "share_dispersed": "支部居住分散比例",
        "member_point": "离退休干部（点击查看）",
        "cell": "网格人数",
        "cell_tip": "该网格 {n} 人",
        "suppressed": "为保护个人信息，成员按{cell:g}米网格汇总，少于{k}人的网格不显示（{n}人未显示）。",
        "suppressed_none": "为保护个人信息，成员按{cell:g}米网格汇总，少于{k}人的网格不显示。",
        "large": "成员超过{n}人，按{cell:g}米网格汇总显示。",
        "area_tip": "{name}：步行{t:g}分钟可达范围",
        "area_tip_drive": "{name}：驾车{t:g}分钟可达范围",
        "reach": "{t:g}分钟内可达人数",
        "kind": "类型",
        "id": "编号",
        "branch": "党支部",
        "meeting_place": "活动地点",
        "n_members": "人数",
        "share": "居住分散比例",
        "rationale": "理由",
        "before": "调整前(分钟)",
        "after": "调整后(分钟)",
        "max_after": "调整后最长(分钟)",
        "site": "场所",
        "branch_ids": "涉及党支部",
        "member_ids": "成员编号",
        "more": "等{n}人",
        "reason": "分散原因",
        "other_reason": "其他",
        "walk_branch": "步行至支部(分钟)",
        "beyond_limit": "超过计算上限",
        "walk_station": "步行至最近驿站(分钟)",
        "drive_hospital": "驾车至最近医院(分钟)",
        "level": "等级",
        "no_areas": "（未提供路网，未绘制服务范围）",
        "osm_note": "路网与服务范围数据 © OpenStreetMap 贡献者（ODbL）",
        "no_tiles": "底图取自本次分析所用的 OpenStreetMap 数据（无需联网）。如需天地图：方案中设 [map] tiles = "
                    "\"tianditu\" 并配置天地图密钥 GEO_PLANNER_TIANDITU_KEY。",
        "no_base": "未加载底图（未提供 OpenStreetMap 数据）。如需天地图：方案中设 [map] tiles = \"tianditu\" "
                   "并配置天地图密钥 GEO_PLANNER_TIANDITU_KEY。",
        "default_title": "离退休干部服务覆盖",
        "coverage_grid": "覆盖情况（网格：驿站步行{t:g}分钟内的比例）",
        "coverage_tip": "该网格 {n} 人，其中 {p} 步行{t:g}分钟内可达驿站",
        "coverage_share": "驿站步行可达比例",
        "base_landuse": "底图：建成区",
        "base_green": "底图：绿地",
        "base_water": "底图：水系",
        "base_buildings": "底图：建筑",
        "base_railways": "底图：铁路",
        "base_streets": "底图：街道",
        "base_boundaries": "底图：行政界线",
        "base_labels": "底图：路名与地名",
        "glyph_station": "站",
        "glyph_hospital": "医",
        "glyph_branch": "支",
        "hidden_rows": "另有{n}个区域人数少于{k}人，未列出。",
        "fn_layer": "四就近·{fn}场所（步行{t:g}分钟）",
        "fn_note": "四就近各功能图层默认隐藏，可在图层控件中打开；一处场所可承担多项功能。",
        "fn_functions": "承担功能",
        "glyph_study": "学",
        "glyph_activity": "活",
        "glyph_service": "服",
        "glyph_contribution": "献",
    },
    "en": {
        "members": "Retired cadres",
        "members_large": "Retired cadres (grid counts)",
        "members_grid": "Retired cadres (count per grid cell)",
        "heat": "Retired cadres heat map",
        "dispersed": "Dispersed party members (by reason)",
        "branches": "Branch meeting places",
        "stations": "Activity stations",
        "station_areas": "Stations: {t:g}-minute walk",
        "hospitals": "Designated hospitals",
        "hospital_areas": "Hospitals: {t:g}-minute drive",
        "recommendations": "Recommendations",
        "coverage": "Coverage by area",
        "legend": "Legend",
        "share_dispersed": "Share of dispersed members",
        "member_point": "Retired cadre (click for details)",
        "cell": "Members per cell",
        "cell_tip": "{n} members in this cell",
        "suppressed": "For privacy, members are counted on a {cell:g} m grid; cells with fewer than {k} are "
                      "hidden ({n} members not shown).",
        "suppressed_none": "For privacy, members are counted on a {cell:g} m grid; cells with fewer than {k} "
                           "are hidden.",
        "large": "More than {n} members: shown as counts on a {cell:g} m grid.",
        "area_tip": "{name}: {t:g}-minute walk",
        "area_tip_drive": "{name}: {t:g}-minute drive",
        "reach": "Members within {t:g} min",
        "kind": "Kind",
        "id": "ID",
        "branch": "Branch",
        "meeting_place": "Meeting place",
        "n_members": "Members",
        "share": "Share dispersed",
        "rationale": "Rationale",
        "before": "Before (min)",
        "after": "After (min)",
        "max_after": "Worst after (min)",
        "site": "Site",
        "branch_ids": "Branches involved",
        "member_ids": "Member ids",
        "more": "and {n} more",
        "reason": "Reason",
        "other_reason": "Other",
        "walk_branch": "Walk to branch (min)",
        "beyond_limit": "beyond the search limit",
        "walk_station": "Walk to nearest station (min)",
        "drive_hospital": "Drive to nearest hospital (min)",
        "level": "Level",
        "no_areas": "(no road network given: service areas not drawn)",
        "osm_note": "Roads and service areas © OpenStreetMap contributors (ODbL)",
        "no_tiles": "Base map drawn from the run's own OpenStreetMap extract (no network needed). For 天地图, "
                    "set [map] tiles = \"tianditu\" with a key in GEO_PLANNER_TIANDITU_KEY.",
        "no_base": "No base map (no OpenStreetMap extract given). For 天地图, set [map] tiles = \"tianditu\" "
                   "with a key in GEO_PLANNER_TIANDITU_KEY.",
        "default_title": "Retired cadres: service coverage",
        "coverage_grid": "Coverage (grid: share within a {t:g}-min walk of a station)",
        "coverage_tip": "{n} members in this cell, {p} within a {t:g}-min walk of a station",
        "coverage_share": "Share within walking reach of a station",
        "base_landuse": "Base map: built-up areas",
        "base_green": "Base map: green areas",
        "base_water": "Base map: water",
        "base_buildings": "Base map: buildings",
        "base_railways": "Base map: railways",
        "base_streets": "Base map: streets",
        "base_boundaries": "Base map: boundaries",
        "base_labels": "Base map: street and place names",
        "glyph_station": "S",
        "glyph_hospital": "H",
        "glyph_branch": "B",
        "hidden_rows": "{n} more areas with fewer than {k} members are not listed.",
        "fn_layer": "Close to home · {fn} ({t:g} min walk)",
        "fn_note": "The layers of the four functions are hidden at first: turn them on in the layer control; "
                   "one place may serve several functions.",
        "fn_functions": "Functions",
        "glyph_study": "L",
        "glyph_activity": "A",
        "glyph_service": "S",
        "glyph_contribution": "C",
    },
}


def reason_label(code: str, lang: str) -> str:
    """Label of a dispersion reason code (the code itself when unknown)."""
    return REASON_LABELS["en" if lang == "en" else "zh"].get(code, code)


def kind_label(code: str, lang: str) -> str:
    """Label of a recommendation kind (the code itself when unknown)."""
    return KIND_LABELS["en" if lang == "en" else "zh"].get(code, code)
