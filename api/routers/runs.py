"""Runs: create one from a scenario (it runs in the background), follow its progress, read its summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from geo_planner.errors import ConflictError
from geo_planner.privacy import run_counts_for_role, run_error_for_role
from geo_planner.settings import Thresholds
from geo_planner.store import RunQueue, RunRecord
from geo_planner.vocab import TERMINAL_STATUSES, Role

from ..deps import Admin, NetworksDep, Planner, SettingsDep, StoreDep, Viewer, get_queue
from ..schemas import Deleted, RunList, RunOut, RunSummary, ScenarioRequest

router = APIRouter(prefix="/runs", tags=["runs"])


def run_out(rec: RunRecord, role: Role) -> RunOut:
    """Shape a run record (a viewer sees that a run failed, not the library's message)."""
    inputs = {}
    for key, ref in (rec.request.get("inputs") or {}).items():
        if isinstance(ref, dict) and "dataset" in ref:
            inputs[key] = str(ref["dataset"])
        elif isinstance(ref, str):
            inputs[key] = ref
    osm = (rec.request.get("network") or {}).get("osm") or []
    return RunOut(
        id=rec.id, name=rec.name, status=rec.status, stage=rec.stage,  # type: ignore[arg-type]
        percent=round(100.0 * rec.progress, 1), created=rec.created, started=rec.started,
        finished=rec.finished, error=run_error_for_role(rec.error, role), origin=rec.origin, inputs=inputs,
        osm=[str(o) for o in ([osm] if isinstance(osm, str) else osm)],
        thresholds=_thresholds(rec),
        summary=_summary(rec, role),
    )


def _thresholds(rec: RunRecord) -> Thresholds | None:
    """Return the run's thresholds; None for a record an older version stored with unusable numbers."""
    try:
        return Thresholds.model_validate(rec.scenario.get("thresholds", {}))
    except ValueError:
        return None


def _summary(rec: RunRecord, role: Role) -> RunSummary | None:
    """Return the run's counts as the role may read them (privacy.run_counts_for_role)."""
    if rec.status != "done" or not rec.counts:
        return None
    return RunSummary.model_validate(run_counts_for_role(rec.counts, role))


@router.post("", response_model=RunOut, status_code=202, summary="Start a run (planner)")
def create_run(
    body: ScenarioRequest,
    store: StoreDep,
    settings: SettingsDep,
    queue: Annotated[RunQueue, Depends(get_queue)],
    role: Planner,
) -> RunOut:
    """Start a run.

    Validate the scenario (inputs are dataset ids, ``network.osm`` names extracts of the service's
    OSM folder), queue it and answer at once; follow it with ``GET /runs/{id}``. Runs execute one at a time.
    """
    request = body.model_dump(mode="json", exclude_none=True)
    rec = store.create_run(request, osm_dir=settings.osm_dir, cache_dir=settings.cache_dir)
    queue.submit(rec.id)
    return run_out(rec, role)


@router.get("", response_model=RunList, summary="List runs")
def list_runs(store: StoreDep, role: Viewer) -> RunList:
    """List runs, newest first."""
    return RunList(runs=[run_out(r, role) for r in store.list_runs()])


@router.get("/{run_id}", response_model=RunOut, summary="A run's status, progress and summary")
def get_run(run_id: str, store: StoreDep, role: Viewer) -> RunOut:
    """Status (queued, running, done, failed), current stage and percent; the counts once done."""
    return run_out(store.get_run(run_id), role)


@router.post("/{run_id}/cancel", response_model=RunOut, summary="Cancel a queued or running run (planner)")
def cancel_run(
    run_id: str, store: StoreDep, queue: Annotated[RunQueue, Depends(get_queue)], role: Planner
) -> RunOut:
    """Cancel a run that is queued or running.

    It ends as ``cancelled``: a running run's worker is stopped and whatever it had written is
    removed (outputs appear all at once, so nothing half-written is ever visible). A finished
    run answers 409.
    """
    store.cancel_run(run_id, "cancelled by a planner")
    queue.cancel(run_id)
    store.discard_outputs(run_id)
    return run_out(store.get_run(run_id), role)


@router.delete("/{run_id}", response_model=Deleted, summary="Delete a run (admin)")
def delete_run(
    run_id: str, store: StoreDep, networks: NetworksDep, queue: Annotated[RunQueue, Depends(get_queue)],
    role: Admin,
) -> Deleted:
    """Delete the run and its outputs; a queued or running run is cancelled first."""
    if store.get_run(run_id).status not in TERMINAL_STATUSES:
        try:
            store.cancel_run(run_id, "cancelled and deleted by an admin")
        except ConflictError:
            pass  # it finished meanwhile: delete it all the same
        queue.cancel(run_id)
    store.delete_run(run_id)
    networks.drop(run_id)
    return Deleted(id=run_id)
