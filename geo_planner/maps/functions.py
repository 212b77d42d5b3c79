"""四就近 on the map: one layer per function with a place (study, activity, service, contribution).

Each layer shows the places serving one function (the stations table's ``functions`` column)
as badges of the function's colour and glyph, with how many members have that place as their
nearest of the function within its threshold (the small-cell rule for viewers). The layers are
hidden at first (the stations layer already shows every place); the legend names each one.
"""

from __future__ import annotations

import html

import folium
import pandas as pd

from ..functions import FUNCTIONS_COLUMN, nearest_column, served_from_text, time_column
from ..privacy import MIN_GROUP, small_count
from ..privacy import lonlat as _lonlat
from ..privacy import str_col as _str_col
from ..settings import Thresholds
from ..vocab import FUNCTION_LABELS, FUNCTIONS
from .canvas import Canvas
from .elements import Markers, html_text, icon_html, popup_html
from .legend import swatch_icon
from .style import FUNCTION_COLORS

__all__ = ["add_function_layers"]


def add_function_layers(
    c: Canvas, stations: pd.DataFrame | None, members: pd.DataFrame | None, thresholds: Thresholds
) -> None:
    """Draw one hidden layer per 四就近 function that has a place, each with a legend entry.

    Parameters
    ----------
    c
        The map being drawn.
    stations
        Stations with ``id``, ``name``, ``lon``/``lat`` and ``functions`` (nothing is drawn without it).
    members
        Members with ``walk_min_<function>`` and ``nearest_<function>_id`` (optional: reach counts).
    thresholds
        ``[thresholds.functions]``.
    """
    s_lon, s_lat, ok = _lonlat(stations)
    if stations is None or FUNCTIONS_COLUMN not in stations or not ok.any():
        return
    L = c.labels
    served = served_from_text(stations[FUNCTIONS_COLUMN])
    texts = stations[FUNCTIONS_COLUMN].fillna("").astype(str)
    drawn = False
    for f in FUNCTIONS:
        mask = served[f].to_numpy(bool) & ok
        if not mask.any():
            continue
        limit = thresholds.function_walk_min(f)
        fac = stations.loc[mask].reset_index(drop=True)
        name = L["fn_layer"].format(fn=FUNCTION_LABELS[c.lang][f], t=limit)
        reach = _reach(fac, members, f, limit)
        ids, names, kinds = _str_col(fac, "id"), _str_col(fac, "name"), _str_col(fac, "kind")
        fn_text = texts.loc[mask].reset_index(drop=True)
        x, y = c.disp.xy(s_lon[mask], s_lat[mask])
        data = []
        for i in range(len(fac)):
            rows = [(L["id"], html_text(ids.iloc[i]))]
            if kinds.iloc[i]:
                rows.append((L["kind"], html_text(kinds.iloc[i])))
            labels = [FUNCTION_LABELS[c.lang].get(p, p) for p in fn_text.iloc[i].split(";") if p]
            joined = "、".join(labels) if c.lang == "zh" else ", ".join(labels)
            rows.append((L["fn_functions"], html_text(joined)))
            if reach is not None:
                shown = int(reach.iloc[i]) if c.planner else small_count(int(reach.iloc[i]))
                shown_text = html_text(shown if shown is not None else f"<{MIN_GROUP}")
                rows.append((L["reach"].format(t=limit), shown_text))
            label = names.iloc[i] or ids.iloc[i]
            data.append([float(y[i]), float(x[i]), icon_html(L[f"glyph_{f}"], FUNCTION_COLORS[f], 20, "50%"),
                         popup_html(html_text(label), rows), html.escape(label), 20])
        group = folium.FeatureGroup(name=name, show=False)
        group.add_child(Markers(data))
        group.add_to(c.m)
        c.legend.append((swatch_icon(L[f"glyph_{f}"], FUNCTION_COLORS[f]), name))
        drawn = True
    if drawn:
        c.notes.append(L["fn_note"])


def _reach(fac: pd.DataFrame, members: pd.DataFrame | None, function: str, limit: float) -> pd.Series | None:
    """Members whose nearest place of ``function`` is this one, within ``limit`` minutes."""
    t_col, id_col = time_column(function), nearest_column(function)
    if members is None or t_col not in members or id_col not in members or "id" not in fac:
        return None
    t = pd.to_numeric(members[t_col], errors="coerce")
    near = members.loc[t <= limit, id_col].astype(str).value_counts()
    return fac["id"].astype(str).map(near).fillna(0).astype(int).reset_index(drop=True)
