"""Next year's roster against the last run: the planner's work list as a workbook with Chinese headers.

"Update the roster" in the workspace uploads a new roster, runs it with the last run's other inputs
and settings, and compares the two runs (:func:`geo_planner.compare.compare_runs`). What the
planner then works through is written here: one sheet per list — the work list (members who moved
out of the 15-minute station circle or away from their branch), new members, members gone,
members who moved, members in another branch — with the Chinese headers of the exports
(:data:`geo_planner.export.labels.HEADERS`) and the reasons spelled out.
"""

from __future__ import annotations

import io
from typing import Any, Final

import pandas as pd

from .export.labels import header_label

__all__ = ["LIST_SHEETS", "worklist_workbook"]

#: List → sheet name, in the workbook's order.
LIST_SHEETS: Final[dict[str, str]] = {
    "work_list": "工作清单",
    "new": "新增成员",
    "gone": "减少成员",
    "moved": "搬家成员",
    "branch_changed": "转换支部",
}
#: Headers of the comparison's own columns.
_HEADERS: Final[dict[str, str]] = {
    "reason": "原因",
    "moved_m": "搬家距离(米)",
    "covered_before": "原住址在驿站步行圈内",
    "covered_after": "现住址在驿站步行圈内",
    "branch_before": "原党支部编号",
    "walk_min_station": "现步行至最近驿站(分钟)",
}
#: Work-list reasons in words.
_REASONS: Final[dict[str, str]] = {"station_circle": "搬出驿站步行圈", "branch": "远离所在党支部"}


def _zh(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    if "reason" in out:
        out["reason"] = out["reason"].astype(str).map(lambda r: "；".join(_REASONS.get(x, x) for x in r.split(",")))
    for col in ("covered_before", "covered_after"):
        if col in out:
            out[col] = out[col].map({True: "是", False: "否"})
    return out.rename(columns={c: _HEADERS.get(c) or header_label(c, "members") for c in out.columns})


def worklist_workbook(result: dict[str, Any]) -> bytes:
    """The planner's lists of a comparison as XLSX bytes, Chinese headers, one sheet per list.

    Parameters
    ----------
    result
        :func:`geo_planner.compare.compare_runs` for a planner (with ``lists``).

    Returns
    -------
    bytes
        The workbook: a summary sheet (``对比摘要``: the two runs, the counts) and the sheets of
        :data:`LIST_SHEETS`, header row frozen.

    Raises
    ------
    KeyError
        ``result`` has no member lists (a viewer's comparison).
    """
    lists = result["lists"]
    m = result["members"]
    summary = pd.DataFrame(
        [
            ("较早运行", result["with"]),
            ("较新运行", result["run_id"]),
            ("新增成员", m["new"]),
            ("减少成员", m["gone"]),
            ("搬家（超过100米）", m["moved"]),
            ("转换支部", m["branch_changed"]),
            ("搬出驿站步行圈", result["moved_out_of_circle"]),
            ("搬入驿站步行圈", result["moved_into_circle"]),
            ("工作清单人数", len(lists["work_list"])),
            ("说明", result.get("note") or ""),
        ],
        columns=["项目", "数值"],
    )
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        summary.to_excel(xl, sheet_name="对比摘要", index=False)
        xl.sheets["对比摘要"].freeze_panes = "A2"
        for key, sheet in LIST_SHEETS.items():
            _zh(lists[key]).to_excel(xl, sheet_name=sheet, index=False)
            xl.sheets[sheet].freeze_panes = "A2"
    return buf.getvalue()
