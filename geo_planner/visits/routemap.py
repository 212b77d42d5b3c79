"""A map of one day's visit routes, drawn along the roads (Folium, offline like the run's maps).

One layer per car (visitor), its legs as the drive network's shortest paths
(:func:`.matrix.leg_lines`), the homes numbered in visiting order with their arrival times, the
office marked. Leaflet is inlined by :func:`geo_planner.maps.save_map`, no tiles by default.
Member names appear on it: a planner's page, like the visit sheets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import folium
import numpy as np
import pandas as pd

from ..maps import save_map
from ..maps.assets import add_tiles
from ..maps.elements import Display, Markers, MetricScale, html_text, icon_html, popup_html
from ..network import RoadNetwork
from ..settings import MapSettings
from .matrix import leg_lines
from .plan import VisitPlan

#: One colour per car of a day (repeats after ten).
CAR_COLORS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                     "#7f7f7f", "#bcbd22")
#: Names of a day's working spans (the default hours: morning, afternoon).
SPAN_NAMES: Final = {1: "上午", 2: "下午"}
#: Marker of the data attribution (the roads are OpenStreetMap's).
OSM_NOTE: Final = "路网 © OpenStreetMap contributors"


def day_map(
    plan: VisitPlan, drive: RoadNetwork, day: int, settings: MapSettings, *, title: str = "",
) -> folium.Map:
    """The routes of ``day`` (see the module docstring).

    Parameters
    ----------
    plan
        The visit plan.
    drive
        The drive network it was timed on.
    day
        The day (``visits.day``).
    settings
        ``[map]`` (tiles, language).
    title
        Shown at the top of the page.
    """
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=False, zoom_start=13,
                   location=[30.0, 115.0])
    m.add_child(MetricScale())
    m.options["max_zoom"] = 19
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    disp = Display(add_tiles(m, settings))
    rows = plan.visits.reset_index(drop=True)
    today = np.flatnonzero(rows["day"].to_numpy() == day)
    legs = [plan.legs[k] for k in today if plan.legs[k][0] >= 0]
    lines = dict(zip(legs, leg_lines(drive, plan.stops_snap, legs), strict=True))
    xs, ys = [], []
    visitors = sorted(set(rows["visitor"].iloc[today]))
    cars = {v: CAR_COLORS[n % len(CAR_COLORS)] for n, v in enumerate(visitors)}
    for (visitor, span), route in rows.iloc[today].groupby(["visitor", "span"], sort=True):
        color = cars[visitor]
        part = SPAN_NAMES.get(int(span), f"第{int(span)}段")
        group = folium.FeatureGroup(name=html_text(f"{visitor} 第{day}天{part}"), show=True)
        homes = []
        for k, row in route.iterrows():
            leg = plan.legs[int(k)]
            if leg[0] < 0:
                continue
            line = lines.get(leg)
            if line is not None:
                x, y = disp.xy(line[:, 0], line[:, 1])
                folium.PolyLine(np.column_stack([y, x]).tolist(), color=color, weight=4,
                                opacity=0.8).add_to(group)
                xs.append(x)
                ys.append(y)
            if row["stop"] == "visit":
                homes.append(_home_row(plan, row, leg[1], color, disp))
        group.add_child(Markers(homes))
        group.add_to(m)
    _office_markers(plan, rows.iloc[today], disp).add_to(m)
    if xs:
        x, y = np.concatenate(xs), np.concatenate(ys)
        m.fit_bounds([[float(y.min()), float(x.min())], [float(y.max()), float(x.max())]])
    folium.LayerControl(collapsed=False).add_to(m)
    head = html_text(title or f"第{day}天走访路线")
    m.get_root().html.add_child(folium.Element(
        f"<div id='gp-visits-title' style='position:fixed;top:8px;left:60px;z-index:1000;background:#fff;"
        f"padding:4px 10px;border-radius:4px;font:bold 15px sans-serif;box-shadow:0 0 4px rgba(0,0,0,.4)'>"
        f"{head}<div style='font:11px sans-serif'>{html_text(OSM_NOTE)}</div></div>"))
    return m


def _home_row(plan: VisitPlan, row: pd.Series, stop: int, color: str, disp: Display) -> list[object]:
    """Return a numbered badge at a visited home (a :class:`~geo_planner.maps.elements.Markers` row).

    Its popup holds the name, address, phone and times (escaped here, passed as JSON).
    """
    mid = str(row["member_id"])
    info = plan.members.loc[mid] if mid in plan.members.index else pd.Series(dtype=object)
    x, y = disp.xy([plan.stops_lon[stop]], [plan.stops_lat[stop]])
    pop = popup_html(html_text(info.get("name", mid)), [
        ("地址", html_text(info.get("address"))), ("联系电话", html_text(info.get("phone"))),
        ("预计到达", html_text(row["arrive"])), ("离开", html_text(row["leave"])),
        ("车程(分钟)", html_text(f"{row['drive_min']:.1f}")),
    ])
    tip = html_text(f"{row['order']}. {info.get('name', mid)} {row['arrive']}")
    return [float(y[0]), float(x[0]), icon_html(str(row["order"]), color, size=22), pop, tip, 22]


def _office_markers(plan: VisitPlan, rows: pd.DataFrame, disp: Display) -> folium.FeatureGroup:
    """The offices the day's cars leave from."""
    group = folium.FeatureGroup(name="办公地点", show=True)
    names = set(rows["office"])
    data = []
    for i, name in enumerate(plan.stop_ids[: plan.n_offices]):
        if name in names:
            x, y = disp.xy([plan.stops_lon[i]], [plan.stops_lat[i]])
            data.append([float(y[0]), float(x[0]), icon_html("局", "#333333", size=26, shape="4px"),
                         popup_html(html_text(name), []), html_text(name), 26])
    group.add_child(Markers(data))
    return group


def save_day_maps(plan: VisitPlan, drive: RoadNetwork, out_dir: Path, settings: MapSettings,
                  *, title: str = "") -> dict[int, Path]:
    """Write ``visits_day{N}.html`` for every day with a route; return ``{day: path}``."""
    out = {}
    for day in sorted({int(d) for d in plan.visits["day"]}):
        path = Path(out_dir) / f"visits_day{day}.html"
        save_map(day_map(plan, drive, day, settings, title=f"{title} 第{day}天走访路线".strip()), path)
        out[day] = path
    return out
