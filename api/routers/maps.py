"""The map of a run as an HTML page, and the map's JavaScript/CSS served locally (no CDN needed).

Planners get the run's full map; a viewer gets an aggregated map built on demand with
``role="viewer"`` (members only as counts on a grid, never as points). Open the page in a
browser with ``?access_token=<token>``: a browser cannot add an Authorization header to a link.

The map pages folium writes load Leaflet and its plugins from public CDNs. A planner's
machine is often offline, so the service rewrites those links to ``/assets/…`` and serves
the same files from the ``folium-offline`` package (the resources of the installed folium
version, embedded). Assets need no token: they are public libraries.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from geo_planner.errors import NotFoundError
from geo_planner.pipl import map_people
from geo_planner.privacy import is_viewer
from geo_planner.results import map_html, report_html, report_pdf

from ..deps import NetworksDep, StoreDep, Viewer, audit
from ..schemas import ErrorResponse
from ..security import csp_for_html

log = logging.getLogger(__name__)

router = APIRouter(tags=["maps"])


@dataclass(frozen=True)
class Asset:
    """One JavaScript or CSS file of the map pages."""

    url: str
    name: str
    media_type: str
    body: bytes


class AssetTable:
    """CDN URL → local asset, loaded once (lazily: importing the resource table takes a second)."""

    def __init__(self) -> None:
        self._by_url: dict[str, Asset] | None = None
        self._by_name: dict[str, Asset] = {}

    def _load(self) -> dict[str, Asset]:
        if self._by_url is None:
            by_url: dict[str, Asset] = {}
            try:
                from offlinefolium.elements import _res as resources  # the folium resources, embedded
            except ImportError:  # pragma: no cover - dependency missing: pages keep their CDN links
                log.warning("folium-offline is not installed: map pages need internet access for Leaflet")
                resources = {}
            for url, text in resources.items():
                suffix = Path(url.split("?")[0]).suffix.lower()
                if suffix not in (".js", ".css"):
                    suffix = ".js"
                name = hashlib.sha256(url.encode()).hexdigest()[:16] + suffix
                media = "text/css; charset=utf-8" if suffix == ".css" else "text/javascript; charset=utf-8"
                by_url[url] = Asset(url=url, name=name, media_type=media, body=str(text).encode("utf-8"))
            self._by_name = {a.name: a for a in by_url.values()}
            self._by_url = by_url
        return self._by_url

    def localize(self, html: str, prefix: str) -> str:
        """Point the page's CDN ``src``/``href`` links at ``{prefix}/assets/…`` when the asset is known."""
        table = self._load()

        def swap(m: re.Match[str]) -> str:
            asset = table.get(m.group(2))
            return f"{m.group(1)}{prefix}/assets/{asset.name}{m.group(3)}" if asset else m.group(0)

        return re.sub(r'((?:src|href)=["\'])(https?://[^"\']+)(["\'])', swap, html)

    def get(self, name: str) -> Asset:
        """Return an asset by its local name."""
        self._load()
        asset = self._by_name.get(name)
        if asset is None:
            raise NotFoundError(f"no asset {name!r}")
        return asset


# audit: member-level (a planner's map shows every member's home)
@router.get(
    "/runs/{run_id}/map",
    response_class=HTMLResponse,
    summary="The run's map (HTML)",
    responses={200: {"content": {"text/html": {}}, "description": "a Leaflet map page"},
               404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def run_map(
    run_id: str, request: Request, store: StoreDep, networks: NetworksDep, role: Viewer
) -> HTMLResponse:
    """Return the interactive map.

    Members (planners) or member counts on a grid (viewers), branches, stations and hospitals
    with their service areas, dispersed members, recommendations. Open it in a browser as
    ``/runs/{run_id}/map?access_token=<token>``.
    """
    html = map_html(store, run_id, role, lambda: networks.get(store, run_id))
    if not is_viewer(role):
        audit(request, run_id, "map", map_people(store.get_run(run_id).counts))
    assets: AssetTable = request.app.state.assets
    page = assets.localize(html, request.scope.get("root_path", ""))
    headers = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
               "Content-Security-Policy": csp_for_html(page)}
    return HTMLResponse(page, headers=headers)


@router.get(
    "/runs/{run_id}/report",
    response_class=HTMLResponse,
    summary="The run's printable planner report (HTML)",
    responses={200: {"content": {"text/html": {}}, "description": "the self-contained report page"},
               404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def run_report(run_id: str, store: StoreDep, role: Viewer) -> HTMLResponse:
    """Return ``report.html`` (aggregates only, so every role may read it; see ``geo_planner.report``)."""
    page = report_html(store, run_id)
    return HTMLResponse(page, headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"})


@router.get(
    "/runs/{run_id}/report.pdf",
    response_class=Response,
    summary="The run's printable planner report (PDF, where Chromium printed it)",
    responses={200: {"content": {"application/pdf": {}}, "description": "the report as PDF"},
               404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def run_report_pdf(run_id: str, store: StoreDep, role: Viewer) -> Response:
    """Return ``report.pdf``; 404 when the run's machine had no Chromium to print it."""
    body = report_pdf(store, run_id)
    return Response(body, media_type="application/pdf", headers={"Cache-Control": "private, no-store"})


@router.get("/assets/{name}", include_in_schema=False)
def asset(name: str, request: Request) -> Response:
    """Serve a JavaScript or CSS file of the map pages (public, cacheable)."""
    a = request.app.state.assets.get(name)
    return Response(a.body, media_type=a.media_type, headers={"Cache-Control": "public, max-age=86400"})


