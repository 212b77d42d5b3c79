"""Shared dependencies: settings, store, run queue, loaded runs in memory, and the caller's role.

Authentication: ``Authorization: Bearer <token>``; the token's role comes from the
configuration (:class:`api.config.ApiSettings`). Browsers cannot send that header when
they open a map page or a download link, so GET requests also accept
``?access_token=<token>`` (the service's access log masks it).
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from geo_planner.errors import PermissionDeniedError
from geo_planner.outputs import SITING_INSTANCE_FILE
from geo_planner.results import LoadedRun, load_run
from geo_planner.siting.instance import SitingInstance
from geo_planner.siting.instance_file import load_siting_instance
from geo_planner.store import RunQueue, Store
from geo_planner.vocab import ROLE_RANK, Role
from geo_planner.whatif import WhatIfBase, prepare_whatif

from .config import ApiSettings

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


class NetworkCache:
    """The most recently used runs, loaded, in memory (least recently used dropped).

    A run is loaded by :func:`geo_planner.results.load_run`.
    """

    def __init__(self, max_items: int = 4) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, LoadedRun] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, store: Store, run_id: str) -> LoadedRun:
        """Return the loaded run, loading it once even under concurrent requests."""
        with self._lock:
            if run_id in self._items:
                self._items.move_to_end(run_id)
                return self._items[run_id]
            lock = self._loading.setdefault(run_id, threading.Lock())
        with lock:
            with self._lock:
                if run_id in self._items:
                    return self._items[run_id]
            ctx = load_run(store, run_id)
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


class WhatIfCache:
    """Runs prepared for what-ifs (:func:`geo_planner.whatif.prepare_whatif`), least recently used dropped.

    Each holds the loaded run of :class:`NetworkCache` plus its members' snaps and walks.
    """

    def __init__(self, networks: NetworkCache, max_items: int = 4) -> None:
        self.networks = networks
        self.max_items = max_items
        self._items: OrderedDict[str, WhatIfBase] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, store: Store, run_id: str) -> WhatIfBase:
        """Return the prepared run, preparing it once even under concurrent requests."""
        run = self.networks.get(store, run_id)
        with self._lock:
            base = self._items.get(run_id)
            if base is not None and base.run is run:
                self._items.move_to_end(run_id)
                return base
            lock = self._loading.setdefault(run_id, threading.Lock())
        with lock:
            with self._lock:
                base = self._items.get(run_id)
                if base is not None and base.run is run:
                    return base
            base = prepare_whatif(store, run_id, run)
            with self._lock:
                self._items[run_id] = base
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
                self._loading.pop(run_id, None)
            return base

    def instance(self, store: Store, run_id: str) -> SitingInstance:
        """Return the run's siting instance (read once per prepared run).

        Raises
        ------
        NotFoundError
            A run made before siting instances were kept (or one without candidate sites).
        """
        base = self.get(store, run_id)
        with self._lock:
            inst = base.memo.get("siting_instance")
        if inst is None:
            inst = load_siting_instance(store.run_file(run_id, SITING_INSTANCE_FILE))
            with self._lock:
                base.memo["siting_instance"] = inst
        return inst  # type: ignore[no-any-return]

    def drop(self, run_id: str) -> None:
        """Forget a run (deleted)."""
        with self._lock:
            self._items.pop(run_id, None)


def get_whatif(request: Request) -> WhatIfCache:
    """Return the runs prepared for what-ifs."""
    return request.app.state.whatif  # type: ignore[no-any-return]


WhatIfDep = Annotated[WhatIfCache, Depends(get_whatif)]
