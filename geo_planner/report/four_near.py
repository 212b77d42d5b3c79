"""The report's 四就近 table: by 街道/乡镇, the share of members close to each function's places.

One column per function that has a place (就近学习、就近活动、就近服务、就近发挥作用, each within
its own threshold) and the share close to **all** of them (四就近). Aggregates only: townships of
fewer than :data:`~.charts.SMALL_CELL` members are not listed (the small-cell rule), and a function
without any place gets no column rather than a column of zeros; a share that stands for 1 to 4
people reads ``<5`` (no statistic of fewer than five people).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..functions import FOUR_NEAR, share_column
from ..vocab import FUNCTION_LABELS, FUNCTIONS, IMPRECISE_LOCATION
from .charts import SMALL_CELL, shown_areas
from .page import count, pct, table, tr

if TYPE_CHECKING:
    from ..run_result import RunResult

__all__ = ["four_near"]


def four_near(result: RunResult) -> list[str]:
    """Return the 四就近 table by township (nothing when the run has no function with a place).

    Parameters
    ----------
    result
        A finished run (``coverage_by_area`` with ``share_covered_<function>`` and ``share_four_near``).

    Returns
    -------
    list of str
        HTML pieces: a heading, a sentence on the thresholds, the table and a note on hidden townships.
    """
    by_area = result.coverage_by_area
    if by_area is None or share_column(FOUR_NEAR) not in by_area:
        return []
    fns = [f for f in FUNCTIONS if share_column(f) in by_area]
    shown, hidden = shown_areas(by_area)
    shown = shown.sort_values(share_column(FOUR_NEAR), kind="stable")
    thr = result.scenario.thresholds
    zh, en = FUNCTION_LABELS["zh"], FUNCTION_LABELS["en"]
    header = [("街道(乡镇)", "township"), ("人数", "members")]
    header += [(f"{zh[f]}（{thr.function_walk_min(f):g}分钟）", f"{en[f]} ({thr.function_walk_min(f):g} min)")
               for f in fns]
    header.append(("四就近（各项均可达）", "all functions"))
    rows = []
    for _, r in shown.iterrows():
        precise = float(r["members"]) - float(r.get(IMPRECISE_LOCATION, 0) or 0)
        cells = [_share(r[share_column(f)], precise) for f in [*fns, FOUR_NEAR]]
        rows.append([html.escape(str(r["area"])), count(r["members"]), *cells])
    missing = [f for f in FUNCTIONS if f not in fns]
    lead_zh = "按场所类型（类型→功能对照见方案 [functions]），各街道离退休干部步行可达各类场所的比例；"
    lead_en = ("Share of members per township within walking reach of a place of each function "
               "(station kinds map to functions through [functions]); ")
    if missing:
        lead_zh += "本次没有" + "、".join(zh[f] for f in missing) + "的场所，不计入四就近。"
        lead_en += "no place serves " + ", ".join(en[f].lower() for f in missing) + ": not part of the four."
    else:
        lead_zh += "四项功能均有场所。"
        lead_en += "every function has a place."
    title = tr("四就近：就近学习、活动、服务、发挥作用", "Close to home: study, activities, service, contribution")
    parts = [f"<h3>{title}</h3>", f'<p class="note">{tr(lead_zh, lead_en)}</p>',
             table(header, rows, "four-near")]
    if hidden:
        note = tr(f"另有 {hidden} 个街道(乡镇)不足 {SMALL_CELL} 人，不单独列出。",
                  f"{hidden} townships with fewer than {SMALL_CELL} members are not shown.")
        parts.append(f'<p class="note">{note}</p>')
    return parts


def _share(value: object, precise: float) -> str:
    """A share in per cent, or ``<5`` when it stands for 1 to 4 people (the small-cell rule)."""
    try:
        people = round(float(value) * precise)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return pct(value)
    return "&lt;5" if 1 <= people < SMALL_CELL else pct(value)
