"""HTML pieces of the report: bilingual texts, number formats, tables, figures, the style and script.

Both languages are in the page; :data:`SCRIPT` switches ``<html lang>`` and :data:`STYLE` shows
the matching one (and prints cleanly with ``@media print``).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SCRIPT", "STYLE", "count", "figure", "num", "page", "pct", "table", "tr"]


def tr(zh: str, en: str, tag: str = "span") -> str:
    """Return both texts, escaped, each in a ``tag`` of class ``zh``/``en`` (the page shows one)."""
    return f'<{tag} class="zh">{html.escape(zh)}</{tag}><{tag} class="en">{html.escape(en)}</{tag}>'


def pct(v: Any) -> str:
    """Format a share as a percentage with one decimal; "–" when missing."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{f:.1%}"


def num(v: Any, digits: int = 1) -> str:
    """Format a number with ``digits`` decimals; "–" when missing."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{f:.{digits}f}"


def count(v: Any) -> str:
    """Format a whole number of people, or "<5" where the small-cell rule left it empty."""
    return "<5" if v is None or pd.isna(v) else str(int(v))


def table(header: list[tuple[str, str]], rows: list[list[str]], cls: str = "") -> str:
    """Return a table with bilingual ``(zh, en)`` headers; the cells must already be HTML."""
    head = "".join(f"<th>{tr(zh, en)}</th>" for zh, en in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figure(src: str, zh: str, en: str, name: str) -> str:
    """Return a chart (a data URI) with a bilingual caption; ``name`` marks it for tests."""
    return (f'<figure><img class="chart" data-chart="{name}" src="{src}" alt="{html.escape(en)}">'
            f"<figcaption>{tr(zh, en)}</figcaption></figure>")


#: The page style: one language shown at a time, printable.
STYLE = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
 max-width:960px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;border-bottom:2px solid #b2182b;margin-top:1.6em}
html[lang=zh] .en{display:none} html[lang=en] .zh{display:none}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.6em 0} th,td{border:1px solid #ccc;padding:3px 6px;
 text-align:left;vertical-align:top} th{background:#f3f3f3}
.kpi{display:flex;flex-wrap:wrap;gap:.6em} .kpi div{border:1px solid #ddd;border-radius:6px;padding:.4em .8em;min-width:9em}
.kpi b{display:block;font-size:1.4em;color:#b2182b}
figure{margin:.8em 0;text-align:center} img.chart{max-width:100%} figcaption{font-size:.85em;color:#555}
.verdict{background:#fff7e6;border-left:4px solid #e08214;padding:.5em .8em}
.note{font-size:.8em;color:#666} #lang{float:right}
@media print{#lang{display:none} h2{break-before:auto} figure,table{break-inside:avoid} body{max-width:none}}
"""  # noqa: E501 (CSS lines as printed in the page)

#: The language button.
SCRIPT = """
document.getElementById('lang').addEventListener('click', function () {
  var h = document.documentElement; h.lang = (h.lang === 'zh') ? 'en' : 'zh';
});
"""



def page(title: str, lang: str, body: str) -> str:
    """Return the whole HTML document around ``body``, opening in language ``lang``."""
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>{body}<script>{SCRIPT}</script></body></html>")
