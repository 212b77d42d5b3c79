"""The map's fixed panels: the legend with its swatches and notes, the coverage table, title and style."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Final

import pandas as pd

from ..export import header_label
from ..privacy import MIN_GROUP, small_cell_rule
from ..vocab import Language, Role
from .elements import html_minutes, html_text
from .labels import LABELS

__all__ = [
    "PAGE_STYLE", "coverage_panel", "legend_html", "swatch_area", "swatch_dot", "swatch_icon", "swatch_ramp",
    "title_html",
]

#: Rows of the coverage table (the worst-covered areas first, as ``coverage_by_area`` is sorted).
COVERAGE_ROWS: Final[int] = 30
#: Styles of badges and popups, in the page's ``<head>``.
PAGE_STYLE: Final[str] = (
    "<meta charset='utf-8'><style>.gp-icon{background:none;border:none}"
    ".gp-pop{font-size:12px}.gp-pop th{text-align:left;padding-right:6px;white-space:nowrap;"
    "vertical-align:top}</style>"
)


def legend_html(title: str, entries: list[tuple[str, str]], notes: list[str], extra: str = "") -> str:
    """Return the legend box: ``(swatch HTML, label)`` entries, notes, then ``extra`` HTML."""
    rows = "".join(
        f"<div style='display:flex;align-items:center;margin:2px 0'>"
        f"<span style='display:inline-block;margin-right:6px'>{sw}</span>"
        f"<span>{html.escape(lab)}</span></div>"
        for sw, lab in entries
    )
    note = "".join(
        f"<div style='margin-top:4px;color:#555;font-size:11px'>{html.escape(n)}</div>" for n in notes
    )
    return (
        "<div id='gp-legend' class='gp-legend' style='position:fixed;bottom:24px;left:10px;z-index:1000;"
        "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
        "box-shadow:0 1px 5px rgba(0,0,0,.4);"
        "font:12px/1.35 \"Microsoft YaHei\",\"PingFang SC\",\"Noto Sans CJK SC\",sans-serif;max-width:300px;"
        "max-height:70vh;overflow:auto'>"
        f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>{rows}{note}{extra}</div>"
    )


def swatch_dot(color: str) -> str:
    """Return a round dot (a member point)."""
    return (f"<span style='display:inline-block;width:12px;height:12px;border-radius:50%;background:{color};"
            "border:1px solid #fff;box-shadow:0 0 2px #000'></span>")


def swatch_icon(glyph: str, color: str, round_: bool = True) -> str:
    """Return a badge with a glyph, round or square (a facility or recommendation marker)."""
    radius = "50%" if round_ else "3px"
    return (f"<span style='display:inline-block;width:18px;height:18px;line-height:18px;"
            f"border-radius:{radius};"
            f"background:{color};color:#fff;font-weight:bold;text-align:center;font-size:11px'>"
            f"{html.escape(glyph)}</span>")


def swatch_area(color: str, opacity: float) -> str:
    """Return a filled box (a service area), more opaque than the area itself to stay visible."""
    return (f"<span style='display:inline-block;width:18px;height:12px;background:{color};"
            f"opacity:{max(opacity * 2.5, 0.35):.2f};border:1px solid {color}'></span>")


def swatch_ramp(colors: Sequence[str], lo: str, hi: str) -> str:
    """Return a colour ramp between the texts ``lo`` and ``hi``."""
    grad = ",".join(colors)
    return (f"<span style='font-size:10px'>{html.escape(lo)}</span>"
            f"<span style='display:inline-block;width:70px;height:10px;margin:0 4px;"
            f"background:linear-gradient(to right,{grad})'></span>"
            f"<span style='font-size:10px'>{html.escape(hi)}</span>")


def title_html(title: str) -> str:
    """Return the title box at the top of the map."""
    return (
        "<div id='gp-title' style='position:fixed;top:10px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:rgba(255,255,255,.93);padding:4px 14px;border-radius:6px;"
        "box-shadow:0 1px 5px rgba(0,0,0,.4);font:bold 16px \"Microsoft YaHei\",\"PingFang SC\","
        f"sans-serif'>{html.escape(title)}</div>"
    )


def coverage_panel(
    coverage: pd.DataFrame, lang: Language, role: Role, title: str
) -> str:
    """Return a collapsible table of the worst-covered areas (viewer: areas of < 5 members hidden)."""
    df = coverage.copy()
    if "level" in df.columns and (df["level"] == "township").any():
        df = df[df["level"] == "township"]
    name_col = next((c for c in ("area", "township", "community", "city", "name") if c in df.columns), None)
    if name_col is None or df.empty:
        return ""
    size_col = next((c for c in ("members", "n_members") if c in df.columns), None)
    hidden = 0
    if role == "viewer" and size_col is not None:
        small = pd.to_numeric(df[size_col], errors="coerce").fillna(0) < MIN_GROUP
        hidden = int(small.sum())
        df = small_cell_rule(df[~small], size_col=size_col)
    candidates = (size_col, "share_covered_station", "median_walk_station_min", "share_covered_branch",
                  "share_covered_hospital")
    wanted = [c for c in candidates if c is not None and c in df.columns]
    head = "".join(
        f"<th style='padding:0 4px'>{html.escape(header_label(c, 'coverage_by_area', lang))}</th>"
        for c in [name_col, *wanted]
    )
    body = []
    for _, row in df.head(COVERAGE_ROWS).iterrows():
        cells = [f"<td>{html_text(row[name_col])}</td>"]
        cells += [f"<td style='text-align:right;padding:0 4px'>{_cell_text(c, row[c])}</td>" for c in wanted]
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if hidden:
        note = (f"<div style='color:#555;font-size:11px'>"
                f"{html.escape(LABELS[lang]['hidden_rows'].format(n=hidden, k=MIN_GROUP))}</div>")
    return (f"<details style='margin-top:6px'><summary style='cursor:pointer;font-weight:bold'>"
            f"{html.escape(title)}</summary><table style='font-size:11px;border-collapse:collapse'>"
            f"<tr>{head}</tr>{''.join(body)}</table>{note}</details>")



def _cell_text(column: str, value: Any) -> str:
    """Format a coverage table value: shares in whole per cent, minutes with one decimal, counts whole."""
    if column.startswith("share_"):
        return "—" if pd.isna(value) else f"{float(value) * 100:.0f}%"
    if column.endswith("_min"):
        return html_minutes(value)
    return html_text(int(value) if pd.notna(value) and float(value).is_integer() else value)
