"""Signing in and out: a password or a one-time link gives a session cookie; ``/auth/me`` says who.

Cookies (both ``SameSite=Strict``, ``Path=/``, ``Secure`` when the request came over HTTPS):

* ``gp_session`` — HttpOnly; the session id (the store keeps only its hash). A session ends on
  sign-out, when its user is disabled or gets a new password, and after ``session_idle_s``
  without a request.
* ``gp_csrf`` — readable by the page's script, which sends it back as ``X-CSRF-Token`` on every
  POST/PUT/PATCH/DELETE (see :mod:`api.deps`); bound to the session server-side.

Failed sign-ins are counted per username and per client address (:class:`LoginGuard`): after
``login_max_failures`` for one username, or ``login_max_failures_per_client`` from one address (an
office behind one NAT address shares it), within ``login_lockout_s`` seconds further attempts get 429
for that long.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from geo_planner.store import UserRecord

from ..account_schemas import LoginIn, Me, SignedOut
from ..deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, StoreDep
from ..schemas import ErrorResponse

router = APIRouter(prefix="/auth", tags=["auth"])

#: A one-time sign-in code as :meth:`geo_planner.store.Store.create_login_code` makes it
#: (``secrets.token_urlsafe(32)``: 43 URL-safe characters).
LoginCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{43}$", description="the one-time code of the link",
                                examples=["Abc_DEF-123xyzAbc_DEF-123xyzAbc_DEF-123xyz0"])]

#: The one answer to a wrong username, a wrong password and a disabled user.
BAD_LOGIN = "wrong username or password, or the account is disabled"


class LoginGuard:
    """Failed sign-ins per key (username, client address) within a sliding window, in memory.

    Parameters
    ----------
    max_failures
        Failures allowed per key within ``window_s``; the next attempt is refused.
    window_s
        Window and refusal time, seconds.
    max_failures_by_kind
        A different limit for the keys of one kind (the text before the key's first ``:``), e.g.
        ``{"client": 50}``: many people may sign in from one address.
    """

    def __init__(self, max_failures: int, window_s: float,
                 max_failures_by_kind: dict[str, int] | None = None) -> None:
        self.max_failures = max_failures
        self.by_kind = dict(max_failures_by_kind or {})
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Seconds until any of ``keys`` may try again (0: now)."""
        t = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._failures.get(key)
                if not q:
                    continue
                while q and t - q[0] > self.window_s:
                    q.popleft()
                if len(q) >= self.by_kind.get(key.split(":", 1)[0], self.max_failures):
                    wait = max(wait, self.window_s - (t - q[0]))
        return wait

    def failed(self, *keys: str) -> None:
        """Count a failure for each key."""
        t = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures[key].append(t)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of each key."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def set_session_cookies(response: Response, request: Request, session_id: str, csrf: str) -> None:
    """Set ``gp_session`` (HttpOnly) and ``gp_csrf`` (readable by the page), SameSite=Strict, Path=/."""
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="strict", secure=secure, path="/")
    response.headers["Cache-Control"] = "no-store"


def clear_session_cookies(response: Response, request: Request) -> None:
    """Expire both cookies in the browser."""
    secure = request.url.scheme == "https"
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", httponly=False, samesite="strict", secure=secure)


def me_of(user: UserRecord) -> Me:
    """Shape a user as :class:`Me`."""
    return Me(username=user.username, display_name=user.display_name, role=user.role)


@router.post("/login", response_model=Me, summary="Sign in with a username and password",
             responses={401: {"model": ErrorResponse, "description": BAD_LOGIN},
                        429: {"model": ErrorResponse, "description": "too many failed sign-ins; wait"}})
def login(body: LoginIn, request: Request, store: StoreDep) -> JSONResponse:
    """Check the password and open a session: sets the ``gp_session`` and ``gp_csrf`` cookies.

    A wrong password, an unknown username and a disabled account get the same 401; repeated
    failures (per username and per client) get 429 with ``Retry-After``.
    """
    guard: LoginGuard = request.app.state.login_guard
    keys = (f"user:{body.username.strip().lower()}", f"client:{request.client.host if request.client else '-'}")
    wait = guard.retry_after(*keys)
    if wait > 0:
        raise HTTPException(status_code=429, detail=f"too many failed sign-ins; try again in {wait:.0f} s",
                            headers={"Retry-After": str(max(1, round(wait)))})
    user = store.authenticate(body.username, body.password)
    if user is None:
        guard.failed(*keys)
        raise HTTPException(status_code=401, detail=BAD_LOGIN)
    guard.succeeded(keys[0])  # the user's count only: a good sign-in does not wipe an address's failures
    session_id, csrf = store.create_session(user.username)
    response = JSONResponse(me_of(user).model_dump(mode="json"))
    set_session_cookies(response, request, session_id, csrf)
    return response


@router.post("/logout", response_model=SignedOut, summary="Sign out (ends the session, clears the cookies)")
def logout(request: Request, store: StoreDep, principal: CurrentUser) -> JSONResponse:
    """End the session of the cookie (with the session cookie, ``X-CSRF-Token`` is needed, as on every POST)."""
    if principal.via == "session":
        store.end_session(request.cookies.get(SESSION_COOKIE, ""))
    response = JSONResponse(SignedOut().model_dump(mode="json"))
    clear_session_cookies(response, request)
    return response


@router.get("/me", response_model=Me, summary="Who is signed in",
            responses={401: {"model": ErrorResponse, "description": "not signed in"}})
def me(principal: CurrentUser) -> Me:
    """The caller: username, display name and role (401 when not signed in)."""
    return Me(username=principal.name, display_name=principal.display_name, role=principal.role,
              kind=principal.kind)


@router.get("/link/{code}", status_code=303, response_class=RedirectResponse,
            summary="Sign in with a one-time link (then go to /)",
            responses={303: {"description": "signed in: cookies set, redirected to /"},
                       404: {"model": ErrorResponse, "description": "no such link was ever made"},
                       410: {"model": ErrorResponse, "description": "the link was used or expired"}})
def link(code: LoginCode, request: Request, store: StoreDep) -> Response:
    """Exchange a one-time code for a session, once; answer 303 to ``/`` so no code stays in the address bar.

    The code dies when used (a second use, even a moment later, gets 410), when it expires
    (``login_link_ttl_s``) or when its user is disabled; a code never made is 404. The access log masks it.
    """
    user = store.redeem_login_code(code)
    if user is None:
        raise HTTPException(status_code=410, detail="this sign-in link was already used, has expired or belongs "
                                                    "to a disabled account; sign in with your password or ask "
                                                    "for a new link")
    session_id, csrf = store.create_session(user.username)
    response = RedirectResponse("/", status_code=303)
    set_session_cookies(response, request, session_id, csrf)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
