"""Writing result tables for people and for GIS: XLSX, CSV, GeoJSON and GeoPackage.

Planners open results in Excel or WPS, so by default the headers are Chinese
(:data:`HEADERS`), coded values are translated (``new_station`` → 新建驿站, ``lixiu`` →
离休, ``True`` → 是) and:

* **XLSX** (openpyxl, streaming): bold header row frozen (``A2``), auto-filter, column widths
  from the content (CJK characters count double, capped), text cells stay text (a value
  such as ``=HYPERLINK(…)`` or ``001`` is never turned into a formula or a number);
* **CSV**: UTF-8 with a byte-order mark, so Excel shows Chinese; text cells starting with
  ``=``, ``+``, ``-`` or ``@`` that are not numbers get a leading apostrophe, so a
  spreadsheet never runs them as formulas;
* **GeoJSON / GeoPackage**: one point per row from ``lon``/``lat`` (WGS-84, EPSG:4326;
  rows without coordinates keep a null geometry), the layer named after the table.

``language="en"`` keeps the canonical column names documented in the README (``id``,
``walk_min_branch``…) and the coded values, which is also what scripts want.
Semicolon-joined lists (``member_ids``, ``branch_ids``) always stay strings.

Every file is written atomically (:func:`geo_planner.io.atomic_write`).
:func:`redact_for_role` removes what a *viewer* may not see before a table leaves the
library (the API calls it).
"""

from __future__ import annotations

import logging
import math
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from .errors import InputError, PermissionDeniedError
from .io import atomic_write
from .privacy import small_cell_rule, viewer_decision_table, viewer_recommendations
from .vocab import FORMATS, ROLES, TABLES, VALUE_LABELS, ExportFormat, Language, Role, TableName
from .zhformat import dates_zh

__all__ = [
    "HEADERS",
    "VALUE_LABELS",
    "ExportFormat",
    "Language",
    "Role",
    "TableName",
    "export_table",
    "header_label",
    "redact_for_role",
    "translate_frame",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# header tables

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
_SHEET_NAMES: Final[Mapping[str, str]] = MappingProxyType(
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

#: Excel's limit on the characters of one cell.
XLSX_CELL_MAX: Final[int] = 32767
_WIDTH_MIN: Final[float] = 6.0
_WIDTH_MAX: Final[float] = 60.0
_WIDE_CHARS = r"[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f" \
    r"\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
_WIDE_RE = re.compile(_WIDE_CHARS)
_FORMULA_CHARS: Final[str] = "=+-@\t\r"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _check_table(table: str) -> None:
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
    _check_table(table)
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


def translate_frame(df: pd.DataFrame, table: TableName, language: Language = "zh") -> pd.DataFrame:
    """Rename headers and translate coded values for people to read.

    In ``zh``, dates (:data:`DATE_COLUMNS`) are written the Chinese way (``1948年10月5日``);
    text that is not a date stays as it was.

    Parameters
    ----------
    df
        A result table with canonical column names.
    table
        Which table it is (headers differ: a member's ``name`` is 姓名, a branch's 支部名称).
    language
        ``zh``: Chinese headers and values; ``en``: unchanged canonical names and values.

    Returns
    -------
    pandas.DataFrame
        A new frame (``geometry`` is left untouched and keeps its name).
    """
    _check_table(table)
    out = pd.DataFrame(df.drop(columns="geometry", errors="ignore")).copy()
    if language == "en":
        return out
    if language != "zh":
        raise ValueError(f"unknown language {language!r}; use 'zh' or 'en'")
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


# --------------------------------------------------------------------------------------
# redaction


def redact_for_role(
    df: pd.DataFrame, table: TableName, role: Role, *, members: pd.DataFrame | None = None,
    language: str = "zh",
) -> pd.DataFrame:
    """Remove what the role may not see from a result table.

    A *viewer* (e.g. a leader looking at the overview) never sees a single member:
    members tables are refused; recommendations lose their ``member_ids`` and, given the
    run's ``members``, their texts are scrubbed of member names, ids and addresses and any
    point on a member's home moves to its grid cell's centre (``privacy.viewer_recommendations``).
    Planners and admins see everything.

    Parameters
    ----------
    df
        The table (canonical column names).
    table
        Which table it is.
    role
        ``viewer``, ``planner`` or ``admin``.
    members
        The run's members, needed to scrub recommendations for a viewer.
    language
        Language of the word replacing a member in scrubbed texts.

    Returns
    -------
    pandas.DataFrame
        A copy the role may see.

    Raises
    ------
    PermissionDeniedError
        If a viewer asks for the members table.
    ValueError
        If ``role`` or ``table`` is unknown.
    """
    _check_table(table)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role != "viewer":
        return df.copy()
    if table == "members":
        raise PermissionDeniedError(
            "role 'viewer' may not see individual members; use the coverage summaries or ask a planner"
        )
    if table == "recommendations":
        return viewer_recommendations(df, members, language)
    out = df.drop(columns=[c for c in ("member_ids",) if c in df.columns])
    if table in ("coverage_by_area", "coverage_by_branch", "branches"):
        out = small_cell_rule(out)  # no count under 5, no statistic of fewer than 5 people
    if table in ("tradeoff", "phased_plan", "sensitivity"):  # no gain of one site for 1–4 people, even by subtraction
        out = viewer_decision_table(out, table)
    return out


# --------------------------------------------------------------------------------------
# writers


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is None:
        suffix = path.suffix.lower().lstrip(".")
        fmt = {"json": "geojson", "xls": "xlsx"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise ValueError(
            f"{path}: cannot tell the export format from {path.suffix!r}; "
            f"pass fmt= one of {', '.join(FORMATS)} or use that extension"
        )
    return fmt


def _display_width(values: list[Any]) -> float:
    """Widest cell of a column in Excel width units: CJK characters count double."""
    widest = 0
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        text = v if isinstance(v, str) else str(v)
        widest = max(widest, len(text) + len(_WIDE_RE.findall(text)))
    return float(widest)


def _column_widths(frame: pd.DataFrame) -> list[float]:
    """Column widths from header and content (a sample of large tables), capped."""
    sample = frame if len(frame) <= 2000 else frame.sample(2000, random_state=0)
    out = []
    for i, col in enumerate(frame.columns):
        width = max(_WIDTH_MIN, _display_width([str(col)]), _display_width(sample.iloc[:, i].tolist()))
        out.append(float(min(_WIDTH_MAX, width + 2.0)))
    return out


def _sheet_title(name: str) -> str:
    """Return an Excel-legal sheet name (at most 31 characters, no ``[ ] : * ? /`` or backslash)."""
    clean = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "Sheet1"
    return clean[:31]


def _cell_text(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(value) > XLSX_CELL_MAX:
        n_items = value.count(";") + 1
        tail = f"…(截断，共{n_items}项，完整内容见CSV)"
        log.warning("XLSX cell of %d characters truncated to Excel's limit of %d", len(value), XLSX_CELL_MAX)
        value = value[: XLSX_CELL_MAX - len(tail)] + tail
    return value


def _write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    """Write one sheet of a workbook.

    openpyxl builds the workbook (styled header, frozen pane, widths, filter); the data rows
    are streamed into the sheet's XML column-wise.

    openpyxl spends ~10 µs per cell (a city's 34,000 members × 40 columns would take 15 s);
    the rows here are plain SpreadsheetML (inline strings, numbers, booleans) built with one
    string operation per cell, and read back by openpyxl/Excel/WPS like any other sheet.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet))
    ws.freeze_panes = "A2"
    for i, w in enumerate(_column_widths(frame), start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    if len(frame.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    header = []
    for col in frame.columns:
        cell = WriteOnlyCell(ws, value=_cell_text(str(col)))
        cell.data_type = "s"
        cell.font, cell.fill, cell.alignment = bold, fill, centre
        header.append(cell)
    ws.append(header)
    wb.save(path)
    if len(frame) == 0 or frame.shape[1] == 0:
        return

    row_numbers = [str(r) for r in range(2, len(frame) + 2)]
    columns = [
        _xlsx_cells(frame.iloc[:, i], get_column_letter(i + 1), row_numbers) for i in range(frame.shape[1])
    ]
    by_row = zip(row_numbers, zip(*columns, strict=True), strict=True)
    rows = "".join(f'<row r="{r}">{"".join(cells)}</row>' for r, cells in by_row)
    sheet_name = "xl/worksheets/sheet1.xml"
    tmp = path.with_name(path.name + ".rows")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            level = 6
            if item.filename == sheet_name:
                xml = data.decode("utf-8")
                cut = xml.index("</sheetData>")
                data = (xml[:cut] + rows + xml[cut:]).encode("utf-8")
                level = 1  # repetitive XML: fast compression is nearly as small
            dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
    os.replace(tmp, path)


#: One ``str.translate`` escapes XML and drops the control characters XML 1.0 forbids.
_XML_TABLE: Final[dict[int, str | None]] = {
    **{c: None for c in (*range(0, 9), 11, 12, *range(14, 32))},
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
}


def _xml_text(values: list[str]) -> list[str]:
    """Texts made safe for an XML text node, cut to Excel's cell limit."""
    return [
        (_cell_text(v) if len(v) > XLSX_CELL_MAX else v).translate(_XML_TABLE) for v in values
    ]


def _xlsx_cells(s: pd.Series, letter: str, rows: list[str]) -> list[str]:
    """Return the SpreadsheetML ``<c>`` elements of one column.

    Numbers stay numbers, NaN is an empty cell, everything else is text (an ``=…`` typed
    by a planner is text, never a formula).
    """
    missing = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        flags = ["1" if v else "0" for v in s.fillna(False).astype(bool)]
        cells = [f'<c r="{letter}{r}" t="b"><v>{v}</v></c>' for r, v in zip(rows, flags, strict=True)]
    elif pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        missing = missing | ~np.isfinite(values)
        if pd.api.types.is_integer_dtype(s.dtype):
            text = [str(v) for v in s.astype("object").tolist()]
        else:
            text = [repr(v) for v in values.tolist()]
        cells = [f'<c r="{letter}{r}"><v>{v}</v></c>' for r, v in zip(rows, text, strict=True)]
    else:
        raw = s.astype("object").where(~missing, "")
        text = _xml_text([v if isinstance(v, str) else str(v) for v in raw])
        missing = missing | np.array([t == "" for t in text], dtype=bool)
        cells = [
            f'<c r="{letter}{r}" t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>'
            for r, t in zip(rows, text, strict=True)
        ]
    if missing.any():
        for i in np.flatnonzero(missing):
            cells[i] = ""
    return cells


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula (not to numbers)."""
    out = frame.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        values = s.astype("object").tolist()
        risky = [
            j for j, v in enumerate(values)
            if isinstance(v, str) and v != "" and v[0] in _FORMULA_CHARS and _NUMBER.match(v.strip()) is None
        ]
        if risky:
            for j in risky:
                values[j] = "'" + values[j]
            out.isetitem(i, pd.Series(values, index=s.index, dtype="object"))
    return out


def _geo_frame(df: pd.DataFrame, table: str, language: Language) -> Any:
    import geopandas as gpd

    if "lon" in df.columns and "lat" in df.columns:
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype="float64")
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype="float64")
        geom = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
        ok = np.isfinite(lon) & np.isfinite(lat)
        geom = gpd.GeoSeries(geom, index=df.index, crs="EPSG:4326").where(ok, None)
    elif isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
        geom = df.geometry if df.crs is None else df.geometry.to_crs("EPSG:4326")
        if df.crs is None:
            geom = geom.set_crs("EPSG:4326")
    else:
        raise InputError(
            f"table '{table}' has no lon/lat columns and no geometry; export it as xlsx or csv instead"
        )
    attrs = translate_frame(df, table, language)  # type: ignore[arg-type]
    for i in range(attrs.shape[1]):
        s = attrs.iloc[:, i]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            # mixed Python objects cannot be typed by the driver: keep text as text
            attrs.isetitem(i, s.map(lambda v: None if _is_missing(v) else str(v)).astype("object"))
    attrs.columns = [str(c) for c in attrs.columns]
    return gpd.GeoDataFrame(attrs, geometry=geom.to_numpy(), crs="EPSG:4326")


def export_table(
    df: pd.DataFrame,
    path: Path | str,
    *,
    table: TableName,
    fmt: ExportFormat | None = None,
    language: Language = "zh",
    sheet_name: str | None = None,
) -> Path:
    """Write a result table as XLSX, CSV, GeoJSON or GeoPackage.

    Parameters
    ----------
    df
        The table with canonical column names (``lon``/``lat`` in WGS-84 for the
        GIS formats; a GeoDataFrame without lon/lat is written with its own geometry).
    path
        Destination file; its parent folder is created.
    table
        Which table it is: ``members``, ``recommendations``, ``coverage_by_area``,
        ``coverage_by_branch`` or ``branches``; chooses the header translations, the
        default sheet name and the GIS layer name.
    fmt
        ``xlsx``, ``csv``, ``geojson`` or ``gpkg``; from the extension when ``None``
        (``.json`` counts as GeoJSON).
    language
        ``zh`` (Chinese headers and values, the default) or ``en`` (canonical names).
    sheet_name
        XLSX sheet name; a Chinese name of the table by default (the table name in English).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the format, table or language is unknown.
    InputError
        If a GIS format is asked for a table without coordinates.
    """
    _check_table(table)
    if language not in ("zh", "en"):
        raise ValueError(f"unknown language {language!r}; use 'zh' or 'en'")
    path = Path(path)
    kind = _format_of(path, fmt)
    if kind in ("geojson", "gpkg"):
        gdf = _geo_frame(df, table, language)
        driver = "GeoJSON" if kind == "geojson" else "GPKG"

        def write_geo(p: Path) -> None:
            gdf.to_file(p, driver=driver, layer=table, engine="pyogrio")

        return atomic_write(path, write_geo)
    frame = translate_frame(df, table, language)
    if kind == "csv":
        safe = _csv_safe(frame)
        return atomic_write(path, lambda p: safe.to_csv(p, index=False, encoding="utf-8-sig"))
    sheet = sheet_name or (_SHEET_NAMES[table] if language == "zh" else table)
    return atomic_write(path, lambda p: _write_xlsx(frame, p, sheet))
