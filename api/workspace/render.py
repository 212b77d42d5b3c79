"""Rendering a workspace page: its texts, role, language cookie and security headers (shared by the page routers)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from geo_planner.vocab import ROLE_RANK, Role

from ..security import workspace_csp
from . import LANG_COOKIE, page_language, templates
from .i18n import texts

#: Routes with this tag are pages: an unauthenticated request is redirected to ``/login``.
PAGE_TAG = "workspace-page"


def render_page(request: Request, template: str, role: Role | None, **context: Any) -> HTMLResponse:
    """Render a page with its texts, role and security headers; remember a ``?lang=`` choice."""
    lang = page_language(request)
    body = templates.get_template(template).render(
        request=request, lang=lang, t=texts(lang), role=role or "",
        planner=role is not None and ROLE_RANK[role] >= ROLE_RANK["planner"],
        admin=role == "admin", **context,
    )
    response = HTMLResponse(body, headers={"Cache-Control": "private, no-store", "Content-Security-Policy":
                                           workspace_csp(), "Referrer-Policy": "no-referrer"})
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return response
