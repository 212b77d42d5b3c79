"""Place layers of the map: branches, stations and hospitals with their service areas, recommendations.

Counts shown to a viewer obey the small-cell rule (:mod:`geo_planner.privacy`): no count of
1–4 people, no share of fewer than 5, and recommendations without member ids or names (a
recommended point on a member's home is moved to its viewer grid cell's centre).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..network import RoadNetwork
from ..privacy import MIN_GROUP, small_count, viewer_recommendations
from ..privacy import lonlat as _lonlat
from ..privacy import str_col as _str_col
from .canvas import Canvas
from .elements import Display, LazyGeoJson, Markers, html_minutes, html_text, icon_html, popup_html, ramp
from .labels import KIND_GLYPH, kind_label
from .legend import swatch_area, swatch_icon, swatch_ramp
from .service_areas import service_areas
from .style import (
    BRANCH_COLOR,
    HOSPITAL_COLOR,
    KIND_COLORS,
    SHARE_COLORS,
    STATION_COLOR,
    UNKNOWN_KIND_COLOR,
)

__all__ = ["HOSPITALS", "STATIONS", "FacilityStyle", "add_branches", "add_facilities", "add_recommendations"]

#: Member ids listed in a recommendation's popup before "and n more".
_MAX_LISTED_IDS = 30


@dataclass(frozen=True)
class FacilityStyle:
    """How a kind of facility is drawn; the ``*_key`` fields are keys of :data:`~.labels.LABELS`."""

    key: str
    color: str
    area_opacity: float
    areas_key: str
    tip_key: str
    glyph_key: str
    extra_col: str
    round_badge: bool
    nearest_col: str
    time_col: str


STATIONS = FacilityStyle(
    "stations", STATION_COLOR, 0.18, "station_areas", "area_tip", "glyph_station", "kind", True,
    "nearest_station_id", "walk_min_station",
)
HOSPITALS = FacilityStyle(
    "hospitals", HOSPITAL_COLOR, 0.08, "hospital_areas", "area_tip_drive", "glyph_hospital", "level", False,
    "nearest_hospital_id", "drive_min_hospital",
)


# ----------------------------------------------------------------------------------- branches


def add_branches(c: Canvas, branches: pd.DataFrame | None, members: pd.DataFrame | None) -> None:
    """Draw branch meeting places as badges coloured by their share of dispersed members."""
    b_lon, b_lat, b_ok = _lonlat(branches)
    if branches is None or not b_ok.any():
        return
    L = c.labels
    br = branches.loc[b_ok]
    share = _branch_share(br, members)
    colors = ramp(SHARE_COLORS, share.fillna(0.0), 0.0, 1.0)
    colors = [col if pd.notna(s) else BRANCH_COLOR for col, s in zip(colors, share, strict=True)]
    counts = _branch_counts(br, members)
    x, y = c.disp.xy(b_lon[b_ok], b_lat[b_ok])
    group = folium.FeatureGroup(name=L["branches"], show=not c.city)
    names = _str_col(br, "name")
    ids = _str_col(br, "id")
    places = _str_col(br, "meeting_place")
    notes = br["flag_note"] if "flag_note" in br.columns and c.planner else pd.Series("", index=br.index)
    data = []
    for i in range(len(br)):
        label = names.iloc[i] or ids.iloc[i]
        rows = _branch_rows(c, ids.iloc[i], places.iloc[i], notes.iloc[i], counts, share, i)
        data.append([float(y[i]), float(x[i]), icon_html(L["glyph_branch"], colors[i], 20, "3px"),
                     popup_html(html_text(label), rows), html.escape(label), 20])
    group.add_child(Markers(data, label=L["branches"], color=BRANCH_COLOR, priority=3))
    group.add_to(c.m)
    c.extend(x, y)
    if share.notna().any():
        c.legend.append((swatch_ramp(SHARE_COLORS, "0%", "100%"), L["share_dispersed"]))
    c.legend.append((swatch_icon(L["glyph_branch"], BRANCH_COLOR, round_=False), L["branches"]))


def _branch_rows(
    c: Canvas, branch_id: str, place: str, note: object, counts: pd.Series | None, share: pd.Series, i: int
) -> list[tuple[str, str]]:
    """Return branch ``i``'s popup rows: id, place, members, share (small-cell rule for viewers), note."""
    L = c.labels
    rows = [(L["id"], html_text(branch_id))]
    if place:
        rows.append((L["meeting_place"], html_text(place)))
    # viewers: the small-cell rule (no count of 1–4 people, no share of fewer than 5)
    small = not c.planner and (counts is None or int(counts.iloc[i]) < MIN_GROUP)
    if counts is not None and not small:
        rows.append((L["n_members"], html_text(int(counts.iloc[i]))))
    if pd.notna(share.iloc[i]) and not small and (c.planner or _share_shown(share.iloc[i], counts.iloc[i])):
        rows.append((L["share"], f"{float(share.iloc[i]) * 100:.0f}%"))
    if isinstance(note, str) and note:
        rows.append(("", html_text(note)))
    return rows


def _branch_share(br: pd.DataFrame, members: pd.DataFrame | None) -> pd.Series:
    """``share_dispersed`` of each branch: the table's, else the members' mean of ``dispersed``."""
    if "share_dispersed" in br.columns:
        return pd.to_numeric(br["share_dispersed"], errors="coerce").reset_index(drop=True)
    if members is None or "branch_id" not in members.columns or "id" not in br.columns:
        return pd.Series(np.nan, index=range(len(br)))
    if "dispersed" in members.columns:
        flag = members["dispersed"].fillna(False).astype(bool)
    elif "dispersion_reason" in members.columns:
        flag = members["dispersion_reason"].fillna("").astype(str) != ""
    else:
        return pd.Series(np.nan, index=range(len(br)))
    share = flag.groupby(members["branch_id"].astype(str)).mean()
    return br["id"].astype(str).map(share).reset_index(drop=True)


def _share_shown(share: float, count: float | None) -> bool:
    """Whether a viewer may see a share: its numerator is 0 or at least ``MIN_GROUP`` people."""
    if count is None or not np.isfinite(float(count)):
        return False
    k = round(float(share) * float(count))
    return k == 0 or k >= MIN_GROUP


def _branch_counts(br: pd.DataFrame, members: pd.DataFrame | None) -> pd.Series | None:
    """Members of each branch (``None`` without members' ``branch_id`` or branches' ``id``)."""
    if members is None or "branch_id" not in members.columns or "id" not in br.columns:
        return None
    counts = members["branch_id"].astype(str).value_counts()
    return br["id"].astype(str).map(counts).fillna(0).astype(int).reset_index(drop=True)


# ----------------------------------------------------------------------- stations and hospitals


def add_facilities(
    c: Canvas,
    style: FacilityStyle,
    table: pd.DataFrame | None,
    members: pd.DataFrame | None,
    *,
    limit: float,
    net: RoadNetwork | None,
    given: gpd.GeoDataFrame | None,
    max_snap_m: float,
) -> None:
    """Draw facilities (:data:`STATIONS`, :data:`HOSPITALS`) and their ``limit``-minute service areas.

    The areas are ``given`` (row order of ``table``), else computed on ``net``; without
    either a note says they are not drawn.
    """
    f_lon, f_lat, f_ok = _lonlat(table)
    if table is None or not f_ok.any():
        return
    fac = table.loc[f_ok].reset_index(drop=True)
    names = _str_col(fac, "name")
    ids = _str_col(fac, "id")
    names = names.where(names != "", ids)
    areas = None
    if given is not None:
        areas = given.loc[f_ok].reset_index(drop=True) if len(given) == len(table) else given
    elif net is not None:
        areas = service_areas(net, f_lon[f_ok], f_lat[f_ok], limit, ids=ids.tolist(), max_snap_m=max_snap_m)
    L = c.labels
    area_name = L[style.areas_key].format(t=limit)
    if areas is not None and len(areas) == len(fac):
        group = folium.FeatureGroup(name=area_name, show=not c.city)
        _area_layer(areas, names, limit, L[style.tip_key], style, c.disp, group)
        group.add_to(c.m)
        c.legend.append((swatch_area(style.color, style.area_opacity), area_name))
    else:
        c.notes.append(f"{L[style.key]}{L['no_areas']}")
    x, y = c.disp.xy(f_lon[f_ok], f_lat[f_ok])
    _facility_markers(c, style, fac, names, x, y, _within_counts(fac, members, style, limit), limit)


def _facility_markers(
    c: Canvas,
    style: FacilityStyle,
    fac: pd.DataFrame,
    names: pd.Series,
    x: np.ndarray,
    y: np.ndarray,
    reach: pd.Series | None,
    limit: float,
) -> None:
    """Draw facility badges: id, kind or level, members within reach (small-cell rule for viewers)."""
    L = c.labels
    group = folium.FeatureGroup(name=L[style.key], show=True)
    glyph = L[style.glyph_key]
    priority = 1 if style.key == "stations" else 2
    ids = _str_col(fac, "id")
    extra = _str_col(fac, style.extra_col)
    shape = "50%" if style.round_badge else "4px"
    data = []
    for i in range(len(fac)):
        rows = [(L["id"], html_text(ids.iloc[i]))]
        if extra.iloc[i]:
            rows.append((L[style.extra_col], html_text(extra.iloc[i])))
        if reach is not None:
            shown = int(reach.iloc[i]) if c.planner else small_count(int(reach.iloc[i]))
            shown_text = html_text(shown if shown is not None else f"<{MIN_GROUP}")
            rows.append((L["reach"].format(t=limit), shown_text))
        data.append([float(y[i]), float(x[i]), icon_html(glyph, style.color, 22, shape),
                     popup_html(html_text(names.iloc[i]), rows), html.escape(names.iloc[i]), 22])
    group.add_child(Markers(data, label=L[style.key], color=style.color, priority=priority))
    group.add_to(c.m)
    c.extend(x, y)
    c.legend.append((swatch_icon(glyph, style.color, round_=style.round_badge), L[style.key]))


def _area_layer(
    areas: gpd.GeoDataFrame,
    names: pd.Series,
    limit: float,
    tip: str,
    style: FacilityStyle,
    disp: Display,
    group: folium.FeatureGroup,
) -> None:
    """Service-area polygons (one GeoJson) with a tooltip naming the facility."""
    keep = ~(areas.geometry.isna() | areas.geometry.is_empty).to_numpy()
    if not keep.any():
        return
    geoms = disp.geoms(np.asarray(areas.geometry.to_numpy()[keep]))
    geoms = shapely.set_precision(geoms, 1e-6)
    minutes = pd.to_numeric(areas.get("minutes", pd.Series(limit, index=areas.index)), errors="coerce")
    minutes = minutes.fillna(limit).to_numpy()[keep]
    labels = [
        html.escape(tip.format(name=n, t=float(t)))
        for n, t in zip(names.to_numpy()[keep], minutes, strict=True)
    ]
    path_style = {"color": style.color, "weight": 1, "fillColor": style.color, "fillOpacity": style.area_opacity}
    gdf = gpd.GeoDataFrame({"label": labels, "style": [path_style] * len(labels)}, geometry=list(geoms),
                           crs="EPSG:4326")
    group.add_child(LazyGeoJson(gdf))


def _within_counts(
    fac: pd.DataFrame, members: pd.DataFrame | None, style: FacilityStyle, limit: float
) -> pd.Series | None:
    """Members whose nearest facility is this one and within ``limit`` minutes."""
    id_col, time_col = style.nearest_col, style.time_col
    if members is None or id_col not in members.columns or time_col not in members.columns or "id" not in fac:
        return None
    t = pd.to_numeric(members[time_col], errors="coerce")
    near = members.loc[t <= limit, id_col].astype(str).value_counts()
    return fac["id"].astype(str).map(near).fillna(0).astype(int).reset_index(drop=True)


# ---------------------------------------------------------------------------- recommendations


def add_recommendations(
    c: Canvas, recommendations: pd.DataFrame | None, members: pd.DataFrame | None
) -> None:
    """Draw recommendations as badges by kind (a viewer's scrubbed by ``privacy.viewer_recommendations``)."""
    if recommendations is None or not len(recommendations):
        return
    recs = recommendations if c.planner else viewer_recommendations(recommendations, members, c.lang)
    r_lon, r_lat, r_ok = _lonlat(recs)
    if not r_ok.any():
        return
    recs = recs.loc[r_ok]
    x, y = c.disp.xy(r_lon[r_ok], r_lat[r_ok])
    kinds = _str_col(recs, "kind")
    sep = "：" if c.lang == "zh" else ": "
    rows: dict[str, list[list[object]]] = {}
    for i in range(len(recs)):
        row = recs.iloc[i]
        kind = kinds.iloc[i]
        label = kind_label(kind, c.lang)
        color = KIND_COLORS.get(kind, UNKNOWN_KIND_COLOR)
        icon = icon_html(KIND_GLYPH[c.lang].get(kind, "?"), color, 24, "6px")
        name = row.get("name", "")
        tip = label + (sep + str(name) if isinstance(name, str) and name else "")
        rows.setdefault(kind, []).append(
            [float(y[i]), float(x[i]), icon, _rec_popup(c, row, label), html.escape(tip), 24])
    # one layer per kind, so a planner can filter them; one badge engine places them all
    for kind, data in rows.items():
        label = kind_label(kind, c.lang)
        color = KIND_COLORS.get(kind, UNKNOWN_KIND_COLOR)
        count = f"（{len(data)}）" if c.lang == "zh" else f" ({len(data)})"
        group = folium.FeatureGroup(name=f"{c.labels['recommendations']}{sep}{label}{count}", show=True)
        group.add_child(Markers(data, max_width=400, label=label, color=color, priority=0))
        group.add_to(c.m)
        swatch = swatch_icon(KIND_GLYPH[c.lang].get(kind, "?"), color, round_=False)
        c.legend.append((swatch, label))
    c.extend(x, y)


def _rec_popup(c: Canvas, row: pd.Series, kind_text: str) -> str:
    """Return a recommendation's popup: kind, rationale, counts, minutes, site, branches, member ids."""
    L = c.labels
    rationale = row.get("rationale_en" if c.lang == "en" else "rationale_zh", "")
    if (not isinstance(rationale, str) or not rationale) and c.lang == "en":
        rationale = row.get("rationale_zh", "")
    rows = [(L["kind"], html_text(kind_text))]
    if isinstance(rationale, str) and rationale:
        rows.append((L["rationale"], html_text(rationale)))
    n_members = row.get("n_members")
    if n_members is not None and pd.notna(n_members):
        rows.append((L["n_members"], html_text(int(float(n_members)))))
    for col, key in (("before_min", "before"), ("after_min", "after"), ("max_after_min", "max_after")):
        if col in row.index:
            rows.append((L[key], html_minutes(row[col])))
    site = row.get("site_name", "")
    if isinstance(site, str) and site:
        rows.append((L["site"], html_text(site)))
    branch_ids = row.get("branch_ids", "")
    if isinstance(branch_ids, str) and branch_ids:
        rows.append((L["branch_ids"], html_text(branch_ids.replace(";", "、"))))
    ids = row.get("member_ids", "")
    if c.planner and isinstance(ids, str) and ids:
        parts = [p for p in ids.split(";") if p]
        shown = "、".join(parts[:_MAX_LISTED_IDS])
        if len(parts) > _MAX_LISTED_IDS:
            shown += " " + L["more"].format(n=len(parts))
        rows.append((L["member_ids"], html_text(shown)))
    rec_id = row.get("rec_id", "")
    name = row.get("name", "")
    head = f"{rec_id} {name}".strip() if isinstance(rec_id, str) else str(name)
    return popup_html(html_text(head or kind_text), rows)
