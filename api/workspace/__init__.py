"""The planner's web workspace: Jinja2 templates, its own JavaScript and CSS, and MapLibre GL JS.

What lives here is presentation only — page templates (``templates/``), the pages' scripts and
styles (``static/``), the page texts in Chinese and English (:mod:`api.workspace.i18n`) and the
npm package list (``package.json`` / ``package-lock.json``) whose ``node_modules`` the service
serves (MapLibre GL JS; never from a CDN). Pages are rendered by :mod:`api.routers.workspace`
and read everything through the JSON API, like any other client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from geo_planner.vocab import LANGUAGES, Language

HERE: Final[Path] = Path(__file__).resolve().parent
TEMPLATES_DIR: Final[Path] = HERE / "templates"
STATIC_DIR: Final[Path] = HERE / "static"
#: MapLibre GL JS as npm installed it (``npm ci`` in this folder; ``scripts/run.sh`` runs it).
MAPLIBRE_DIST: Final[Path] = HERE / "node_modules" / "maplibre-gl" / "dist"
#: The files of MapLibre the pages load (the CSP build: its worker is a file of this service, not a blob).
MAPLIBRE_FILES: Final[tuple[str, ...]] = ("maplibre-gl-csp.js", "maplibre-gl-csp-worker.js", "maplibre-gl.css",
                                          "LICENSE.txt")
#: The cookie remembering the page language (not a secret).
LANG_COOKIE: Final[str] = "gp_lang"

#: Every template autoescapes: text from tables is always rendered as text.
templates = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, undefined=StrictUndefined)


def page_language(request: Request) -> Language:
    """The language of a page: ``?lang=`` first, then the ``gp_lang`` cookie, else Chinese."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGUAGES:
            return value  # type: ignore[return-value]
    return "zh"


def maplibre_installed() -> bool:
    """Whether ``npm ci`` has installed MapLibre GL JS next to this module."""
    return all((MAPLIBRE_DIST / name).is_file() for name in MAPLIBRE_FILES)
