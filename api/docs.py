"""The API's documentation pages, served offline, and an OpenAPI document that tells the truth.

Swagger UI (``/docs``) and ReDoc (``/redoc``) load their JavaScript and CSS from this service
(the files shipped by the ``fastapi-offline`` package), so the pages work on an intranet with
no internet access and under the service's Content-Security-Policy (no remote script).

The generated OpenAPI document is corrected where FastAPI's defaults are wrong for this
service: every error answer (4xx) is JSON (:class:`api.schemas.ErrorResponse`), also on routes
whose success is an HTML page or a file; body-reading routes document 400 (malformed body)
and 413 (too large).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

#: Local asset files by the name they are served under (``/docs-assets/<name>``).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_ERROR_REF = "#/components/schemas/ErrorResponse"
_BODY_ERRORS = {
    "400": "malformed body (not JSON, broken multipart)",
    "413": "request body too large (uploads: GEO_PLANNER_MAX_UPLOAD_MB)",
}


def _asset_dir() -> Path | None:
    try:
        return Path(str(resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:  # pragma: no cover - dependency missing
        return None


def fix_openapi(doc: dict[str, Any]) -> dict[str, Any]:
    """Correct the generated document (see the module docstring); returns ``doc``."""
    for _path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            if method in ("post", "put", "patch") and "requestBody" in op:
                for code, text in _BODY_ERRORS.items():
                    responses.setdefault(code, {"description": text})
            for code, resp in responses.items():
                if not str(code).startswith("4"):
                    continue
                resp["content"] = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
                resp.setdefault("description", "error")
    return doc


def install(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc``, their local assets and the corrected ``/openapi.json`` to ``app``."""
    folder = _asset_dir()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            app.openapi_schema = fix_openapi(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — API",
            swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs-assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — API",
            redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
            redoc_favicon_url=f"{root}/docs-assets/favicon.png", with_google_fonts=False,
        )

    @app.get("/docs-assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media = ASSETS.get(name)
        path = folder / name if folder is not None and media else None
        if path is None or not path.is_file():
            return Response(b'{"detail": "no such asset", "problems": []}', status_code=404,
                            media_type="application/json")
        return Response(path.read_bytes(), media_type=media, headers={"Cache-Control": "public, max-age=86400"})
