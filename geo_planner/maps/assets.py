"""What the map page loads: base-map tiles and the Leaflet files, inlined for offline use.

Tiles: ``none`` (the default: no tile requests, a note on the map says how to get a base map;
OpenStreetMap's tiles are often unreachable inside China), ``osm`` (OpenStreetMap), ``amap``
(高德, GCJ-02: every layer, polygons included, is shifted with :func:`geo_planner.crs.from_wgs84`)
and ``tianditu`` (天地图, CGCS2000 ≈ WGS-84, no shift; key from ``GEO_PLANNER_TIANDITU_KEY``).
"""

from __future__ import annotations

import html
import logging
import os
import re
from pathlib import Path
from typing import Final

import folium

from ..atomic import atomic_write
from ..errors import ScenarioError
from ..settings import MapSettings

__all__ = ["TIANDITU_KEY_ENV", "add_tiles", "inline_assets", "save_map"]

log = logging.getLogger(__name__)

#: Environment variable holding the 天地图 browser key.
TIANDITU_KEY_ENV: Final[str] = "GEO_PLANNER_TIANDITU_KEY"

#: Tile servers of the base maps that need more than folium's built-in name.
_TILES: Final[dict[str, dict[str, str]]] = {
    "amap": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; 高德地图 AutoNavi",
        "subdomains": "1234",
    },
    "tianditu": {
        "url": "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
               "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
               "&TILECOL={x}&tk={key}",
        "attr": "&copy; 天地图 Tianditu",
        "subdomains": "01234567",
    },
}


def add_tiles(m: folium.Map, settings: MapSettings) -> bool:
    """Add the base layer; return whether layers must be shifted to GCJ-02."""
    if settings.tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
        return False
    if settings.tiles == "amap":
        t = _TILES["amap"]
        folium.TileLayer(
            tiles=t["url"], attr=t["attr"], subdomains=t["subdomains"], name="高德地图" if
            settings.language == "zh" else "AMap", max_zoom=18, control=False,
        ).add_to(m)
        return True
    if settings.tiles == "tianditu":
        key = os.environ.get(TIANDITU_KEY_ENV, "").strip()
        if not key:
            raise ScenarioError(
                f"map.tiles = 'tianditu' needs a 天地图 key: set the environment variable {TIANDITU_KEY_ENV} "
                "(apply for a browser key at https://console.tianditu.gov.cn), or use tiles 'osm' or 'none'"
            )
        t = _TILES["tianditu"]
        note = "cva" if settings.language == "zh" else "eva"
        for layer, name, overlay in (("vec", "天地图", False), (note, "天地图注记", True)):
            folium.TileLayer(
                tiles=t["url"].replace("{layer}", layer).replace("{key}", key), attr=t["attr"],
                subdomains=t["subdomains"], name=name, max_zoom=18, overlay=overlay, control=False,
            ).add_to(m)
        return False
    return False  # "none": no tile layer at all, nothing is requested from a tile server


def _offline_resources() -> dict[str, str]:
    """Leaflet and plugin files by CDN URL from the ``folium-offline`` package, if installed."""
    try:
        from offlinefolium.elements import _res  # the resources of the matching folium version
    except ImportError:
        return {}
    return {str(k): str(v) for k, v in dict(_res).items()}


def _asset(url: str, assets_dir: Path | None, resources: dict[str, str]) -> tuple[str, str] | None:
    """Local copy of a script/stylesheet: ``(name, text)`` or ``None``.

    Looked up by file name in ``assets_dir``, then by URL in ``folium-offline``'s resources,
    then by file name among folium's own templates (the heat-map plugin).
    """
    name = url.split("?")[0].rsplit("/", 1)[-1]
    if assets_dir is not None and (assets_dir / name).is_file():
        return name, (assets_dir / name).read_text(encoding="utf-8")
    if url in resources:
        return name, resources[url]
    bundled = Path(folium.__file__).parent / "templates" / name
    if bundled.is_file():
        return name, bundled.read_text(encoding="utf-8")
    return None


def inline_assets(page: str, assets_dir: Path | str | None = None) -> tuple[str, list[str]]:
    """Replace the page's ``<script src>`` / stylesheet links by local copies, inline.

    A file is taken from ``assets_dir`` when its name (the last part of the URL, e.g.
    ``leaflet.js``, ``leaflet.css``, ``leaflet.markercluster.js``, ``MarkerCluster.css``,
    ``MarkerCluster.Default.css``) is there, else from the ``folium-offline`` package (the
    same files as folium's CDN links), else from folium's own package.  With every file
    found, the page needs no network at all when tiles are ``none``.

    Parameters
    ----------
    page
        HTML of a map (``m.get_root().render()``).
    assets_dir
        Optional folder holding JavaScript/CSS files (e.g. copied from the npm packages
        ``leaflet`` and ``leaflet.markercluster``); it wins over the packaged copies.

    Returns
    -------
    tuple
        The new page and the URLs that stayed remote (no local copy found).
    """
    folder = Path(assets_dir) if assets_dir is not None else None
    resources = _offline_resources()
    remote: list[str] = []

    def inline(match: re.Match[str], tag: str) -> str:
        url = match.group(1)
        found = _asset(url, folder, resources)
        if found is None:
            remote.append(url)
            return match.group(0)
        name, text = found
        text = text.replace(f"</{tag}", f"<\\/{tag}")
        return f"<{tag}>/* {html.escape(name)} */\n{text}\n</{tag}>"

    page = re.sub(r'<script src="(https?://[^"]+)"></script>', lambda m: inline(m, "script"), page)
    page = re.sub(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>', lambda m: inline(m, "style"), page)
    return page, remote


def save_map(
    m: folium.Map, path: Path | str, *, offline: bool = True, assets_dir: Path | str | None = None
) -> Path:
    """Write a map as a standalone HTML file, atomically.

    Parameters
    ----------
    m
        A map from :func:`build_map`.
    path
        Destination ``.html`` file; its folder is created.
    offline
        Inline Leaflet and its plugins (:func:`inline_assets`) so the page opens without a
        network (tiles aside); files without a local copy stay on their CDN, with a warning.
        ``False`` keeps folium's CDN links (a smaller page).
    assets_dir
        Optional folder of local asset files preferred over the packaged copies.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    page = m.get_root().render()
    if offline:
        page, remote = inline_assets(page, assets_dir)
        if remote:
            log.warning("map %s still loads %d file(s) from the network: %s", path, len(remote),
                        ", ".join(remote))
    return atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
