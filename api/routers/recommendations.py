"""Recommendations (new stations, joint branches, transfers, party groups …) as JSON or GeoJSON."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from geo_planner.pipl import member_ids
from geo_planner.privacy import is_viewer
from geo_planner.results import table_for_role
from geo_planner.store import Store
from geo_planner.vocab import Role

from ..deps import StoreDep, Viewer, audit
from ..schemas import Feature, FeatureCollection, PointGeometry, Recommendation, Recommendations, records

router = APIRouter(prefix="/runs/{run_id}", tags=["recommendations"])


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    return [p for p in str(value).split(";") if p]


#: Runs' recommendations as a role sees them, most recently used last: ``(run folder, viewer?)`` → the list.
#: A viewer's are scrubbed of the run's member names, ids and addresses (about 1 s for a city, on every visit
#: of the result page before); a finished run's recommendations never change, and a deleted run is refused
#: by ``finished_run`` before this is looked at.
_MEMO: OrderedDict[tuple[str, bool], list[Recommendation]] = OrderedDict()
_MEMO_RUNS = 8
_MEMO_LOCK = threading.Lock()


def _recommendations(store: Store, run_id: str, role: Role, kind: str | None) -> list[Recommendation]:
    key = (str(store.finished_run(run_id).out_dir), is_viewer(role))
    with _MEMO_LOCK:
        recs = _MEMO.get(key)
        if recs is not None:
            _MEMO.move_to_end(key)
    if recs is None:
        recs = _make_recommendations(store, run_id, role)
        with _MEMO_LOCK:
            _MEMO[key] = recs
            while len(_MEMO) > _MEMO_RUNS:
                _MEMO.popitem(last=False)
    return [r for r in recs if r.kind == kind] if kind else list(recs)


def _make_recommendations(store: Store, run_id: str, role: Role) -> list[Recommendation]:
    # a viewer gets no member ids, names or homes in them (privacy.viewer_recommendations)
    df = table_for_role(store, run_id, "recommendations", role)
    out = []
    for r in records(df):
        if "member_ids" in r:
            r["member_ids"] = _split(r["member_ids"])
        r["branch_ids"] = _split(r.get("branch_ids"))
        for col in ("site_id", "site_name", "name", "city", "township", "rule", "method"):
            if r.get(col) is not None:
                r[col] = str(r[col])
        out.append(Recommendation(**r))
    return out


# audit: member-level (for planners: member ids and names in the rationales)
@router.get(
    "/recommendations",
    response_model=Recommendations | FeatureCollection,
    summary="Recommendations (JSON or GeoJSON)",
    responses={200: {"content": {"application/geo+json": {}}}},
)
def recommendations(
    run_id: str,
    request: Request,
    store: StoreDep,
    role: Viewer,
    format: Annotated[Literal["json", "geojson"], Query(description="json (default) or geojson")] = "json",
    kind: Annotated[str | None, Query(description="only this kind, e.g. new_station, joint_branch")] = None,
) -> Any:
    """Recommendations of the run.

    Each recommendation with its place, the members concerned (ids for planners; counts for viewers),
    minutes before and after, the rule satisfied and a rationale in Chinese and English.
    """
    recs = _recommendations(store, run_id, role, kind)
    if not is_viewer(role):
        audit(request, run_id, "recommendations", len(member_ids(r.member_ids or [] for r in recs)),
              detail=f"{format}{' ' + kind if kind else ''}")
    if format == "json":
        return Recommendations(run_id=run_id, recommendations=recs)
    features = []
    for rec in recs:
        props = rec.model_dump(exclude_none=False)
        lon, lat = props.pop("lon", None), props.pop("lat", None)
        geom = PointGeometry(coordinates=(lon, lat)) if lon is not None and lat is not None else None
        features.append(Feature(geometry=geom, properties=props))
    fc = FeatureCollection(features=features)
    return JSONResponse(fc.model_dump(mode="json"), media_type="application/geo+json")
