"""The planner's workspace pages for comparing two runs and planning home visits, and the run's request.

Pages render :mod:`api.workspace` templates and get their data from the JSON API in the browser
(``/runs/{id}/compare``, ``/runs/{id}/visits``), like :mod:`api.routers.workspace`; a page asked for
without a principal is redirected to ``/login`` (:data:`api.workspace.render.PAGE_TAG`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path as PathParam, Request
from fastapi.responses import HTMLResponse

from ..deps import Planner, StoreDep, Viewer
from ..workspace.render import PAGE_TAG, render_page as _page

router = APIRouter(include_in_schema=False)

RunId = Annotated[str, PathParam(max_length=100)]


@router.get("/workspace/runs/{run_id}/compare/{with_id}", response_class=HTMLResponse, tags=[PAGE_TAG])
def compare_page(
    run_id: RunId, with_id: RunId, request: Request, store: StoreDep, role: Viewer
) -> HTMLResponse:
    """Two runs side by side (``with_id`` the earlier): members new, gone, moved, branch changed; coverage
    before/after, by area; the planner's work list and the XLSX download. (Path parameters, so the
    page's ``?lang=`` switch keeps them.)"""
    later, earlier = store.get_run(run_id), store.get_run(with_id)  # 404 for an unknown run
    return _page(request, "compare.html", role, run_id=later.id, run_name=later.name,
                 with_id=earlier.id, with_name=earlier.name)


@router.get("/workspace/runs/{run_id}/visits", response_class=HTMLResponse, tags=[PAGE_TAG])
def visits_page(run_id: RunId, request: Request, store: StoreDep, role: Planner) -> HTMLResponse:
    """Plan home visits from a run: the ``[visits]`` form, the visitor-day list, a day's route on the map."""
    rec = store.get_run(run_id)
    return _page(request, "visits.html", role, run_id=rec.id, run_name=rec.name)


@router.get("/runs/{run_id}/request", summary="The scenario a run was started with (planner)")
def run_request(run_id: RunId, store: StoreDep, role: Planner) -> dict[str, Any]:
    """The run's scenario as submitted (inputs are dataset ids): the what-if's "save as scenario" starts
    a new run from it with the edited stations."""
    return dict(store.get_run(run_id).request)
