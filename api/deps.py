"""Shared dependencies: settings, store, run queue, loaded runs in memory, the caller and the audit.

Authentication — a request is authenticated by EITHER

* a bearer token, ``Authorization: Bearer <token>`` (or ``?access_token=<token>`` on GET: a
  browser cannot add a header to a link; the access log masks it): a *service account*
  configured in :class:`api.config.ApiSettings` (``GEO_PLANNER_TOKENS``/``_FILE``), or a token
  issued to a user (``geo-planner users token``), who then acts with their current role; OR
* the session cookie ``gp_session`` set by ``POST /auth/login`` or a one-time link
  (:mod:`api.routers.auth`). A state-changing request (POST, PUT, PATCH, DELETE) with the cookie
  must carry the header ``X-CSRF-Token`` equal to the cookie ``gp_csrf`` (and to the token
  bound to the session server-side); bearer requests need no CSRF token.

Every route gets the caller as a :class:`Principal` (:data:`CurrentUser`), or only the role
(:data:`Viewer`, :data:`Planner`, :data:`Admin`: at least that role).

Audit (PIPL) — a route that answers member-level data (names, addresses, homes, member ids)
calls :func:`audit` once, after it has the data, and carries the comment
``# audit: member-level`` above its decorator::

    # audit: member-level
    @router.get("/runs/{run_id}/members")
    def members(run_id: str, request: Request, store: StoreDep, role: Planner) -> ...:
        df = ...
        audit(request, run_id, "members_export", len(df), detail="members.xlsx")
        return ...

``what`` is one of :data:`geo_planner.vocab.AUDIT_WHATS`; ``detail`` must never hold personal data.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from geo_planner.decision.instance import SitingInstance
from geo_planner.decision.instance_file import load_siting_instance
from geo_planner.errors import PermissionDeniedError
from geo_planner.outputs import SITING_INSTANCE_FILE
from geo_planner.results import LoadedRun, load_run
from geo_planner.store import RunQueue, Store
from geo_planner.store.accounts import secret_hash
from geo_planner.vocab import ROLE_RANK, ActorKind, AuditWhat, Role
from geo_planner.whatif import WhatIfBase, prepare_whatif

from .config import ApiSettings

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="a token configured with a role (viewer, planner, admin), "
                                                   "or one issued to a user; browsers use the session cookie")
#: The session cookie (HttpOnly) and the CSRF cookie (readable by the page's script).
SESSION_COOKIE = "gp_session"
CSRF_COOKIE = "gp_csrf"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing (no CSRF token needed).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """Who made a request, for the role checks and the audit log.

    Attributes
    ----------
    name
        A username, or a service token's name (``etl`` or ``service-1a2b3c``).
    display_name
        The name shown (a user's display name; a service token's name).
    role
        viewer, planner or admin.
    kind
        ``user`` (a person: session or their own token) or ``service`` (a configured token).
    via
        ``session`` or ``token``.
    """

    name: str
    display_name: str
    role: Role
    kind: ActorKind
    via: str


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


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    access_token: Annotated[
        str | None,
        Query(description="the bearer token, for GET links opened by a browser (map pages, downloads); "
                          "prefer the Authorization header elsewhere"),
    ] = None,
) -> Principal:
    """Return the caller: from the bearer token (header, or ``access_token`` on GET), else the session cookie.

    Raises
    ------
    HTTPException
        401 without credentials, with an unknown token or a session that is over; 403 when a
        state-changing request with the session cookie lacks the matching ``X-CSRF-Token``.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = credentials.credentials if credentials is not None else None
    if token is None and access_token:
        if request.method not in ("GET", "HEAD"):
            raise _unauthorized("send the token in the Authorization header (access_token is for GET links)")
        token = access_token
    if token:
        principal = principal_for_token(request, token)
        if principal is None:
            raise _unauthorized("unknown token")
    else:
        principal = _session_principal(request)
    request.state.principal = principal
    return principal


def principal_for_token(request: Request, token: str) -> Principal | None:
    """The service account or user a bearer token belongs to, or ``None``."""
    account = account_for_token(request.app.state.token_accounts, token)
    if account is not None:
        name, role = account
        return Principal(name=name, display_name=name, role=role, kind="service", via="token")
    user = request.app.state.store.token_user(token)
    if user is None:
        return None
    return Principal(name=user.username, display_name=user.display_name, role=user.role, kind="user", via="token")


def _session_principal(request: Request) -> Principal:
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        raise _unauthorized("sign in, or send a bearer token")
    settings: ApiSettings = request.app.state.settings
    found = request.app.state.store.session_user(sid, settings.session_idle_s)
    if found is None:
        raise _unauthorized("the session is over (signed out, idle too long or disabled); sign in again")
    user, csrf_hash = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (sent and cookie and hmac.compare_digest(sent.encode(), cookie.encode())
                and hmac.compare_digest(secret_hash(sent), csrf_hash)):
            raise HTTPException(status_code=403, detail=f"missing or wrong {CSRF_HEADER} header: send the value "
                                                        f"of the {CSRF_COOKIE} cookie")
    return Principal(name=user.username, display_name=user.display_name, role=user.role, kind="user",
                     via="session")


def token_role(app: Any, token: str) -> Role | None:
    """The role of a bearer token (configured or a user's), for middleware that runs before the routes."""
    account = account_for_token(app.state.token_accounts, token)
    if account is not None:
        return account[1]
    user = app.state.store.token_user(token) if getattr(app.state, "store", None) is not None else None
    return None if user is None else user.role


def session_role(scope: Scope) -> Role | tuple[int, str]:
    """The role of a request by its session cookie and CSRF header (uploads are checked before their
    body is read: see :class:`api.security.BodyGuard`); ``(status, detail)`` when refused."""
    request = Request(scope)
    try:
        return current_principal(request, None, None).role
    except HTTPException as exc:
        return exc.status_code, str(exc.detail)


def current_role(principal: Annotated[Principal, Depends(current_principal)]) -> Role:
    """Return the caller's role (see :func:`current_principal`)."""
    return principal.role


def account_for_token(accounts: dict[str, tuple[str, Role]], token: str) -> tuple[str, Role] | None:
    """Return ``(name, role)`` of a configured token, or ``None`` (constant-time comparison with every one)."""
    found: tuple[str, Role] | None = None
    given = token.encode("utf-8", "surrogatepass")
    for known, account in accounts.items():
        if hmac.compare_digest(known.encode("utf-8"), given):
            found = account
    return found


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

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Role:
        role = principal.role
        if ROLE_RANK[role] < ROLE_RANK[minimum]:
            raise PermissionDeniedError(f"this needs the {minimum} role; "
                                        f"{'your token has' if principal.via == 'token' else 'you have'} the {role} role")
        return role

    check.__name__ = f"require_{minimum}"
    return check


def audit(request: Request, run_id: str | None, what: AuditWhat, n_people: int, detail: str | None = None) -> None:
    """Record that the caller viewed or exported member-level data (PIPL audit log).

    Parameters
    ----------
    request
        The request (its caller was set by the route's role dependency).
    run_id
        The run whose data it is (``None`` for an uploaded dataset's report).
    what
        One of :data:`geo_planner.vocab.AUDIT_WHATS`.
    n_people
        How many people the answer concerns.
    detail
        Non-personal detail: a table and format, a branch id, a dataset id. Never a name or address.
    """
    p: Principal | None = getattr(request.state, "principal", None)
    if p is None:  # a route without a role dependency: a programming error, never silently skipped
        raise RuntimeError("audit() needs the caller: give the route a Viewer/Planner/Admin dependency")
    client = request.client.host if request.client else None
    request.app.state.store.audit(actor=p.name, actor_kind=p.kind, role=p.role, what=what, n_people=n_people,
                                  run_id=run_id, detail=detail, client=client)


Viewer = Annotated[Role, Depends(require("viewer"))]
Planner = Annotated[Role, Depends(require("planner"))]
Admin = Annotated[Role, Depends(require("admin"))]
CurrentUser = Annotated[Principal, Depends(current_principal)]
StoreDep = Annotated[Store, Depends(get_store)]
#: A dataset id in a path (the datasets and uploads routers).
DatasetId = Annotated[str, Path(pattern=r"^ds_[A-Za-z0-9_]{1,80}$", description="dataset id (ds_…)")]
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
