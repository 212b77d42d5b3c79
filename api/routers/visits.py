"""Home visits: plan the visits of a finished run's members (planners only: names and homes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from geo_planner.pipl import visit_people
from geo_planner.settings import VisitSettings
from geo_planner.visits.plan import route_lines
from geo_planner.visits.write import plan_for_run

from ..deps import NetworksDep, Planner, SettingsDep, StoreDep, audit
from ..schemas import VisitPlanOut, records

router = APIRouter(prefix="/runs/{run_id}", tags=["visits"])


# audit: member-level
@router.post("/visits", response_model=VisitPlanOut, summary="Plan home visits (planner)")
def plan_visits_route(
    run_id: str,
    request: Request,
    store: StoreDep,
    networks: NetworksDep,
    settings: SettingsDep,
    role: Planner,
    body: Annotated[VisitSettings | None,
                    Body(description="[visits] settings; default the run's scenario's")] = None,
    lines: Annotated[bool, Query(description="also the roads each leg follows (lines), for a map")] = False,
) -> VisitPlanOut:
    """Plan home visits (走访慰问) from the run: who (rules), from which offices, with how many cars and days.

    Routes on the run's drive network (the hospital analysis's times), solved by PyVRP with optional
    visits when not everyone fits; the unvisited come with the reason. The solver's time limit is
    cut to the service's ``visits_max_time_limit_s``. With ``lines=true`` the answer also holds the roads
    each leg follows (WGS-84), for drawing a day's route. Viewers get 403: the plan names members.
    """
    plan, drive = plan_for_run(store, run_id, networks.get(store, run_id), body,
                               max_time_limit_s=settings.visits_max_time_limit_s)
    audit(request, run_id, "visits", visit_people(plan.visits, plan.unvisited))
    ids = plan.visits["member_id"]
    visits = records(plan.visits.assign(member_id=ids.mask(ids == "")))
    return VisitPlanOut(run_id=run_id, summary=plan.summary, visits=visits,  # type: ignore[arg-type]
                        unvisited=records(plan.unvisited),  # type: ignore[arg-type]
                        lines=route_lines(plan, drive) if lines else None)  # type: ignore[arg-type]
