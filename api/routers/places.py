"""Named places of a run's extracts for the location review: a planner places a member by picking one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from geo_planner.placesearch import MAX_QUERY, PlacesCache, place_candidates, run_places

from ..deps import Planner, StoreDep
from ..schemas import records

router = APIRouter(prefix="/runs/{run_id}", tags=["layers"])


class Place(BaseModel):
    """A named place of the run's extracts (from the geocoder's own gazetteer)."""

    name: str
    precision: str = Field(description="the place's precision level: poi, street, community, township or county")
    kind: str = Field(description="what the extract calls it (quarter, village, town, road, poi …)")
    tag: str = Field(description="the OSM tag that made the entry")
    county: str
    township: str = Field(description="街道/乡镇 of the place")
    community: str = Field(description="社区/村 of the place")
    lon: float = Field(description="WGS-84 degrees")
    lat: float = Field(description="WGS-84 degrees")
    score: int = Field(description="how well the name matches the query, 0–100")


class Places(BaseModel):
    """The places best matching a query, best first."""

    run_id: str
    q: str
    places: list[Place]


def _cache(request: Request) -> PlacesCache:
    """The app's cache of runs' places (made on first use)."""
    cache = getattr(request.app.state, "places", None)
    if cache is None:
        cache = request.app.state.places = PlacesCache()
    return cache


@router.get("/places", response_model=Places, summary="Named places to place a member on (planner)")
def places(
    run_id: str,
    request: Request,
    store: StoreDep,
    role: Planner,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description="part of a 社区/村, 街道, road or POI name")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Places:
    """Search the offline gazetteer the run's geocoding used (its extracts' 社区/村, 街道/乡镇, roads and
    POIs) for a place to put a member on; pick one and send its point to ``PUT …/members/{id}/placement``."""
    df = place_candidates(run_places(store, run_id, _cache(request)), q, limit=limit)
    return Places(run_id=run_id, q=q, places=[Place(**r) for r in records(df)])
