"""What-if on a finished run: the coverage of an edited station set (``geo_planner.whatif``)."""

from __future__ import annotations

from fastapi import APIRouter

from geo_planner.reoptimise import reoptimise
from geo_planner.whatif import NewStation, what_if

from ..deps import Planner, StoreDep, WhatIfDep
from ..schemas import OptimiseOut, OptimiseRequest, WhatIfOut, WhatIfRequest

router = APIRouter(prefix="/runs/{run_id}", tags=["what-if"])


@router.post(
    "/whatif", response_model=WhatIfOut, summary="What if stations were added, closed or moved (planner)"
)
def whatif(run_id: str, body: WhatIfRequest, store: StoreDep, cache: WhatIfDep, role: Planner) -> WhatIfOut:
    """Coverage of the run's stations with the edits, exactly as a full re-run would compute it.

    Add stations by lon/lat, close them by id, move them (close + add under the same id), or
    change the walking threshold; the answer is computed on the run in memory (its networks and
    every member's walk to the current stations): a bounded search from the added stations, or
    the remaining stations measured again when one closes. Members newly covered / uncovered
    come with their ids (member-level data: planners only). A point off the run's roads, an
    unknown station id or a non-finite number is a 422 naming the field.
    """
    base = cache.get(store, run_id)
    res = what_if(
        base,
        add=[NewStation(s.lon, s.lat, s.name, s.id) for s in body.add_stations],
        close=body.close_stations,
        move=[NewStation(s.lon, s.lat, s.name, s.id) for s in body.move_stations],
        station_walk_min=body.station_walk_min,
        role=role,
        service_areas=body.service_areas,
    )
    return WhatIfOut(run_id=run_id, **res.figures)


@router.post(
    "/whatif/optimise",
    response_model=OptimiseOut,
    summary="Re-solve the station model with sites locked or banned (planner)",
)
def optimise(
    run_id: str, body: OptimiseRequest, store: StoreDep, cache: WhatIfDep, role: Planner
) -> OptimiseOut:
    """Re-solve maximal covering or p-median on the run's siting instance (no walk measured again).

    ``p`` new stations in all, the ``lock`` candidates among them; ``ban`` candidates are left out
    (a banned existing station is closed). The answer says whether HiGHS proved the plan optimal
    (else its status and gap) and gives the coverage with the chosen sites, as ``/whatif`` does.
    """
    base = cache.get(store, run_id)
    out = reoptimise(
        base,
        cache.instance(store, run_id),
        model=body.model,
        p=body.p,
        lock=body.lock,
        ban=body.ban,
        time_limit_s=body.time_limit_s,
        role=role,
    )
    return OptimiseOut(run_id=run_id, **out)
