"""The planner's workspace pages (HTML, Chinese by default): sign-in, runs and new run, a run's result, upload.

Pages are rendered from :mod:`api.workspace`'s templates and get their data from the JSON API
in the browser (``fetch`` with the session cookie, or a bearer token for API clients). They
authenticate with the same dependencies as every route; a page asked for without a valid
principal answers a redirect to ``/login`` (``api.main``'s 401 handler looks for the
:data:`PAGE_TAG` on the route). MapLibre GL JS is served from the npm install in
``api/workspace/node_modules`` (never from a CDN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Path as PathParam, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from geo_planner.errors import NotFoundError
from geo_planner.scenario_form import form_sections
from geo_planner.vocab import LAYER_KINDS, ROLES

from ..deps import Admin, Planner, SettingsDep, StoreDep, Viewer
from ..workspace import MAPLIBRE_DIST, MAPLIBRE_FILES
from ..workspace.render import PAGE_TAG, render_page as _page

router = APIRouter(include_in_schema=False)
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    """The sign-in form: it posts to ``/auth/login`` and then goes to ``/``."""
    return _page(request, "login.html", None)


@router.get("/", response_class=HTMLResponse, tags=[PAGE_TAG])
def home(request: Request, settings: SettingsDep, role: Viewer) -> HTMLResponse:
    """The workspace: runs with status and headline figures, and the new-run form."""
    osm = sorted(p.name for p in Path(settings.osm_dir).iterdir()
                 if p.is_file() and p.suffix.lower() in (".osm", ".pbf", ".xml")) if settings.osm_dir.is_dir() else []
    return _page(request, "index.html", role, sections=form_sections(), osm_files=osm, layer_kinds=LAYER_KINDS)


@router.get("/workspace/runs/{run_id}", response_class=HTMLResponse, tags=[PAGE_TAG])
def run_page(
    run_id: Annotated[str, PathParam(max_length=100)], request: Request, store: StoreDep, role: Viewer
) -> HTMLResponse:
    """A run's result: headline figures, the map, the tables and the downloads."""
    rec = store.get_run(run_id)  # 404 for an unknown run
    return _page(request, "run.html", role, run_id=rec.id, run_name=rec.name)


@router.get("/workspace/upload", response_class=HTMLResponse, tags=[PAGE_TAG])
def upload_page(request: Request, role: Planner) -> HTMLResponse:
    """Drag the four tables onto the page; see each import report."""
    return _page(request, "upload.html", role, layer_kinds=LAYER_KINDS)


@router.get("/workspace/admin", response_class=HTMLResponse, tags=[PAGE_TAG])
def admin_page(request: Request, role: Admin) -> HTMLResponse:
    """Users (add, change role, disable, reset password) and the audit log with its CSV download (admins)."""
    return _page(request, "admin.html", role, roles=ROLES)


@router.get("/workspace/vendor/{name}")
def vendor_file(name: str) -> Response:
    """MapLibre GL JS (script, worker, style, licence) from the npm install: public, cacheable."""
    if name not in MAPLIBRE_FILES or not (MAPLIBRE_DIST / name).is_file():
        raise NotFoundError(f"no workspace library file {name!r}; run `npm ci` in api/workspace "
                            "(bash scripts/run.sh does it)")
    media = "text/css" if name.endswith(".css") else "text/plain" if name.endswith(".txt") else "text/javascript"
    return FileResponse(MAPLIBRE_DIST / name, media_type=f"{media}; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})
