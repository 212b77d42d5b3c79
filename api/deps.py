"""Shared dependencies: settings, store, run queue, road networks in memory, and the caller's role.

Authentication: ``Authorization: Bearer <token>``; the token's role comes from the
configuration (:class:`api.config.ApiSettings`). Browsers cannot send that header when
they open a map page or a download link, so GET requests also accept
``?access_token=<token>`` (the service's access log masks it).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from geo_planner.errors import InputError, NotFoundError, PermissionDeniedError
from geo_planner.network import RoadNetwork, build_network
from geo_planner.pointindex import PointIndex, build_point_index, load_point_index
from geo_planner.settings import Scenario
from geo_planner.store import RunQueue, Store
from geo_planner.vocab import ROLE_RANK, Role

from .config import ApiSettings

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="a token configured with a role (viewer, planner, admin)")


def get_settings(request: Request) -> ApiSettings:
    """Return the service settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_store(request: Request) -> Store:
    """Return the persistent store."""
    return request.app.state.store  # type: ignore[no-any-return]


def get_queue(request: Request) -> RunQueue:
    """Return the run queue (one run at a time)."""
    return request.app.state.queue  # type: ignore[no-any-return]


def get_networks(request: Request) -> NetworkCache:
    """Return the road networks of recent runs, kept in memory."""
    return request.app.state.networks  # type: ignore[no-any-return]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def current_role(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    access_token: Annotated[
        str | None,
        Query(description="the bearer token, for GET links opened by a browser (map pages, downloads); "
                          "prefer the Authorization header elsewhere"),
    ] = None,
) -> Role:
    """Return the caller's role from the bearer token (header, or ``access_token`` on GET).

    Raises
    ------
    HTTPException
        401 without a token or with an unknown one.
    """
    token = credentials.credentials if credentials is not None else None
    if token is None and access_token:
        if request.method not in ("GET", "HEAD"):
            raise _unauthorized("send the token in the Authorization header (access_token is for GET links)")
        token = access_token
    if not token:
        raise _unauthorized("missing bearer token")
    role = role_for_token(request.app.state.tokens, token)
    if role is None:
        raise _unauthorized("unknown token")
    return role


def role_for_token(tokens: dict[str, Role], token: str) -> Role | None:
    """Return the role of ``token``, or ``None`` (constant-time comparison with every known token)."""
    role: Role | None = None
    given = token.encode("utf-8", "surrogatepass")
    for known, r in tokens.items():
        if hmac.compare_digest(known.encode("utf-8"), given):
            role = r
    return role


def require(minimum: Role) -> Callable[..., Role]:
    """Make a dependency admitting ``minimum`` and the roles above it (viewer < planner < admin)."""

    def check(role: Annotated[Role, Depends(current_role)]) -> Role:
        if ROLE_RANK[role] < ROLE_RANK[minimum]:
            raise PermissionDeniedError(f"this needs the {minimum} role; your token has the {role} role")
        return role

    check.__name__ = f"require_{minimum}"
    return check


Viewer = Annotated[Role, Depends(require("viewer"))]
Planner = Annotated[Role, Depends(require("planner"))]
Admin = Annotated[Role, Depends(require("admin"))]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


@dataclass(frozen=True)
class RunContext:
    """What a finished run needs to answer point questions and draw maps: networks and facilities."""

    scenario: Scenario
    walk: RoadNetwork
    drive: RoadNetwork | None
    branches: pd.DataFrame
    stations: pd.DataFrame
    hospitals: pd.DataFrame | None
    point_index: PointIndex | None = None


def _point_index(store: Store, run_id: str, ctx: RunContext) -> PointIndex:
    """The run's ``point_index.npz`` (written when the run finished), else built now (older runs)."""
    try:
        index = load_point_index(store.run_file(run_id, "point_index.npz"))
        if index.matches(ctx.walk, ctx.drive):
            return index
        log.warning("run %s: point index does not match its networks; rebuilding it", run_id)
    except (NotFoundError, InputError) as exc:
        log.info("run %s: %s; building the point index", run_id, exc)
    sc = ctx.scenario
    return build_point_index(ctx.walk, ctx.drive, stations=ctx.stations, branches=ctx.branches,
                             hospitals=ctx.hospitals, thresholds=sc.thresholds, max_snap_m=sc.network.max_snap_m)


def load_run_context(store: Store, run_id: str) -> RunContext:
    """Load a finished run's road networks (from the network cache on disk), facility tables and
    point index; the snapping indexes are built here, so the first point query is as fast as the rest."""
    run = store.finished_run(run_id)
    scenario = run.scenario_model()
    net = scenario.network
    opts: dict[str, Any] = {
        "walk_speed_kmh": net.walk_speed_kmh,
        "drive_fallback_speed_kmh": net.drive_fallback_speed_kmh,
        "cache_dir": net.resolved_cache_dir(),
    }
    try:
        hospitals: pd.DataFrame | None = store.run_table(run_id, "hospitals")
    except NotFoundError:
        hospitals = None
    walk = build_network(net.osm, "walk", **opts)
    drive = build_network(net.osm, "drive", **opts) if hospitals is not None else None
    ctx = RunContext(
        scenario=scenario, walk=walk, drive=drive, branches=store.run_table(run_id, "branches"),
        stations=store.run_table(run_id, "stations"), hospitals=hospitals,
    )
    ctx = dataclasses.replace(ctx, point_index=_point_index(store, run_id, ctx))
    for road in (walk, drive):  # build the snapping indexes now (lazily built on first snap)
        if road is not None:
            road.snap(road.node_lon[:1], road.node_lat[:1])
    return ctx


class NetworkCache:
    """The :class:`RunContext` of the most recently used runs, in memory (least recently used dropped)."""

    def __init__(self, max_items: int = 4) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, RunContext] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, store: Store, run_id: str) -> RunContext:
        """Return the run's context, loading it once even under concurrent requests."""
        with self._lock:
            if run_id in self._items:
                self._items.move_to_end(run_id)
                return self._items[run_id]
            lock = self._loading.setdefault(run_id, threading.Lock())
        with lock:
            with self._lock:
                if run_id in self._items:
                    return self._items[run_id]
            ctx = load_run_context(store, run_id)
            with self._lock:
                self._items[run_id] = ctx
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
                self._loading.pop(run_id, None)
            return ctx

    def drop(self, run_id: str) -> None:
        """Forget a run (deleted)."""
        with self._lock:
            self._items.pop(run_id, None)


NetworksDep = Annotated[NetworkCache, Depends(get_networks)]
