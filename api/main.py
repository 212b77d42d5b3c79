r"""The FastAPI application: ``create_app(settings)``, ``serve`` and ``serve_demo``.

Start it with::

    GEO_PLANNER_TOKENS="tokA:admin,tokB:planner,tokC:viewer" \\
        uvicorn api.main:create_app --factory --host 127.0.0.1 --port 8000

or ``geo-planner-serve --demo`` (:func:`main` → :func:`serve_demo`, the README's main command): it
creates the demo users, generates local tokens when none are configured, registers the embedded
demo, prints where the passwords and tokens files are and a one-time sign-in link, and serves.
OpenAPI docs are at ``/docs``.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_planner import __version__
from geo_planner.errors import (
    ConflictError,
    GeoPlannerError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from geo_planner.store import RunQueue, Store, demo_run, file_mode_600, private_files, seed_demo
from geo_planner.vocab import ROLE_RANK

from . import docs
from .config import ApiSettings
from .deps import NetworkCache, WhatIfCache, session_role, token_role
from .routers import (
    admin, auth, basemap, compare, coverage, datasets, exports, layers, maps, recommendations, runs, uploads, visits, whatif, workspace,
    workspace_plan, places,
)
from .routers.auth import LoginGuard
from .schemas import ErrorResponse, Health, ProblemOut
from .workspace import STATIC_DIR
from .security import BodyGuard, MaskTokens, MethodsAllowed, SecurityHeaders, mask_tokens

log = logging.getLogger(__name__)

#: The one table mapping library errors to HTTP status codes (first match wins).
ERROR_STATUS: tuple[tuple[type[GeoPlannerError], int], ...] = (
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InputError, 422),
)
GENERIC_ERROR = "internal error; the service log has the details"
#: Bytes a multipart upload may carry besides the file itself (boundaries, part headers, form fields).
MULTIPART_OVERHEAD = 64 * 1024

DESCRIPTION = """
Service coverage of retired cadres (离退休干部): upload the four tables, run a scenario on the
real road network, then ask where the 15-minute circle has gaps, what serves a point, which
members live dispersed, what to change — as JSON, GeoJSON, maps and spreadsheets.

**Authentication.** Every route but `/health` and `/auth/login` needs a bearer token
(`Authorization: Bearer <token>`: a service account's, or one issued to a user) or the session
cookie `gp_session` that `POST /auth/login` sets (then every POST/PUT/PATCH/DELETE also sends
`X-CSRF-Token` with the value of the `gp_csrf` cookie). Roles: **viewer** (aggregates only:
areas, branches, recommendations with counts, grid maps), **planner** (also member-level data;
starts runs), **admin** (also uploads, deletes, users and the audit log). No credentials → 401,
a role too low → 403. Every view or export of member-level data is written to the audit log.

**Links opened by a browser** (the map page, downloads) cannot carry a header: GET routes also
accept `?access_token=<token>`. Treat such links like passwords.
"""


def _error_response(exc: GeoPlannerError) -> JSONResponse:
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            problems = [ProblemOut(file=p.file, row=p.row, field=p.field, reason=p.reason)
                        for p in getattr(exc, "problems", [])]
            body = ErrorResponse(detail=str(exc), problems=problems)
            return JSONResponse(body.model_dump(mode="json"), status_code=status)
    log.error("unhandled library error: %s", exc, exc_info=exc)
    return JSONResponse(ErrorResponse(detail=GENERIC_ERROR).model_dump(), status_code=500)


_mask = mask_tokens


def _install_log_masking() -> None:
    """Mask tokens in the access log and in the server's own error lines."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskTokens) for f in logger.filters):
            logger.addFilter(MaskTokens())


def _seed_demo_once(store: Store, queue: RunQueue, settings: ApiSettings) -> None:
    """Register the demo if the store is empty (one worker does it when several start together)."""
    with store.exclusive("seed-demo"):
        if not store.is_empty():
            return
        try:
            run = seed_demo(store, settings.demo_dir, osm_dir=settings.osm_dir, cache_dir=settings.cache_dir)
            queue.submit(run.id)
            log.info("demo registered: run %s", run.id)
        except Exception:  # the service is still useful without the demo
            log.exception("could not register the demo")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store, fail runs a crash left running, resume queued ones, seed the demo; stop the worker."""
    settings: ApiSettings = app.state.settings
    _install_log_masking()
    private_files()  # personal data: every file this process writes is 0600, folders 0700
    store = Store(settings.data_dir, settings.database_url)
    app.state.store = store
    app.state.token_accounts = settings.token_accounts()
    app.state.tokens = {token: role for token, (_name, role) in app.state.token_accounts.items()}
    app.state.login_guard = LoginGuard(settings.login_max_failures, settings.login_lockout_s,
                                       {"client": settings.login_max_failures_per_client})
    if not app.state.tokens and not store.has_users():
        log.warning("no tokens configured (GEO_PLANNER_TOKENS, GEO_PLANNER_TOKENS_FILE) and no users "
                    "(geo-planner users add): every request gets 401")
    queue = RunQueue(store.data_dir, database_url=settings.database_url, stale_after_s=settings.stale_after_s)
    app.state.queue = queue
    app.state.networks = NetworkCache(settings.max_networks)
    app.state.whatif = WhatIfCache(app.state.networks, settings.max_networks)
    app.state.assets = maps.AssetTable()
    store.purge_sessions(settings.session_idle_s)  # sessions over and codes used while the service was down
    resumed = store.recover(settings.stale_after_s)
    queue.start()
    for run_id in resumed:
        queue.submit(run_id)
    if settings.seed_demo:
        _seed_demo_once(store, queue, settings)
    log.info("geo_planner service ready; data folder %s, records in %s", store.data_dir, store.db.describe())
    try:
        yield
    finally:
        queue.close()
        store.close()


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings
        Service settings; ``None`` reads them from the ``GEO_PLANNER_*`` environment.

    Returns
    -------
    fastapi.FastAPI
    """
    app = FastAPI(
        title="geo_planner",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings = settings or ApiSettings()
    app.state.tokens = {}
    app.state.token_accounts = {}
    upload_limit = int(settings.max_upload_mb * 1024 * 1024) + MULTIPART_OVERHEAD
    app.add_middleware(
        BodyGuard, role_of=lambda token: token_role(app, token), upload_limit=upload_limit,
        upload_role="admin", rank=ROLE_RANK, session_role=session_role,
    )
    app.add_middleware(MethodsAllowed, openapi=lambda: app.openapi())
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(GeoPlannerError)
    async def library_error(request: Request, exc: GeoPlannerError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [ProblemOut(file="request", field=".".join(str(x) for x in e.get("loc", ())) or None,
                               reason=str(e.get("msg", "invalid")))
                    for e in exc.errors()]
        detail = "; ".join(f"{p.field}: {p.reason}" for p in problems[:10]) or "invalid request"
        body = ErrorResponse(detail=f"invalid request: {detail}", problems=problems)
        return JSONResponse(body.model_dump(mode="json"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and workspace.PAGE_TAG in getattr(request.scope.get("route"), "tags", ()):
            return RedirectResponse("/login", status_code=303)  # a workspace page: sign in first
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        body = ErrorResponse(detail=detail)
        return JSONResponse(body.model_dump(mode="json"), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, _mask(str(request.url.path)), exc_info=exc)
        return JSONResponse(ErrorResponse(detail=GENERIC_ERROR).model_dump(), status_code=500)

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness (no token)")
    def health() -> Health:
        return Health(version=__version__)

    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorResponse, "description": "no or unknown token"},
        403: {"model": ErrorResponse, "description": "the token's role may not do this"},
        404: {"model": ErrorResponse, "description": "no such dataset, run, table or area"},
        409: {"model": ErrorResponse, "description": "the run is not finished, or the object is in use"},
        422: {"model": ErrorResponse, "description": "invalid request: one problem per field"},
    }
    for module in (datasets, uploads, runs, coverage, recommendations, maps, exports, layers, auth, admin, basemap,
                   visits, whatif, compare, places):
        app.include_router(module.router, responses=errors)
    app.include_router(workspace.router)  # the workspace's pages (HTML)
    app.include_router(workspace_plan.router)  # comparison and home-visits pages, a run's request
    app.mount("/workspace/static", StaticFiles(directory=STATIC_DIR), name="workspace-static")
    docs.install(app)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, settings: ApiSettings | None = None) -> None:
    """Run the service with uvicorn until interrupted.

    Parameters
    ----------
    host, port
        Where to listen (loopback by default: member data stays on this machine).
    settings
        Service settings (``None``: from the environment).
    """
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def local_tokens(data_dir: Path) -> tuple[Path, dict[str, str]]:
    """Return this machine's tokens file (``<data_dir>/tokens.json``, mode 600), made with random tokens.

    Returns
    -------
    (path, {role: token})
    """
    import json

    path = Path(data_dir) / "tokens.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        by_role = {role: token for token, role in data.items()}
        if {"viewer", "planner", "admin"} <= set(by_role):
            return path, by_role
    path.parent.mkdir(parents=True, exist_ok=True)
    by_role = {role: secrets.token_urlsafe(24) for role in ("admin", "planner", "viewer")}
    file_mode_600(path, json.dumps({t: r for r, t in by_role.items()}, indent=2) + "\n")
    return path, by_role


def serve_demo(host: str = "127.0.0.1", port: int = 8000, settings: ApiSettings | None = None) -> None:
    """Serve the embedded demo: demo users, API tokens, demo datasets and run, a one-time sign-in link.

    The demo users (admin, planner, viewer; :mod:`api.demo_accounts`) get random passwords,
    written to ``<data_dir>/demo_users.json`` (mode 600). Without configured tokens, random API
    tokens are written to ``<data_dir>/tokens.json`` (mode 600) for scripts. Neither is printed:
    the console (often a shared log) gets where the files are and, as its last line, a one-time
    sign-in link for the demo admin (a code exchanged once for a session cookie, then dead). The
    demo run starts in the background; its map is ready when the run is done.

    Parameters
    ----------
    host, port
        Where to listen.
    settings
        Service settings (``None``: from the environment).
    """
    from .demo_accounts import demo_users, sign_in_link

    settings = settings or ApiSettings()
    private_files()
    store = Store(settings.data_dir, settings.database_url)
    tokens: dict[str, str] = {}
    if not settings.tokens and settings.tokens_file is None:
        path, tokens = local_tokens(store.data_dir)
        settings = settings.model_copy(update={"tokens_file": path})
    users_file = demo_users(store)
    run = demo_run(store)
    if run is None:
        if store.is_empty():
            run = seed_demo(store, settings.demo_dir, osm_dir=settings.osm_dir, cache_dir=settings.cache_dir)
        # the lifespan resumes the queued demo run
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    out = sys.stdout
    print(f"geo_planner service — data folder {store.data_dir}", file=out)
    print(f"demo users (admin, planner, viewer) and passwords: {users_file} (mode 600)", file=out)
    if tokens:  # stdout often ends up in a shared log: tokens stay in the file
        print(f"API tokens for scripts (admin, planner, viewer): {settings.tokens_file} (mode 600)", file=out)
    print(f"API docs:           {base}/docs", file=out)
    if run is not None:
        print(f"the demo map (once signed in): {base}/runs/{run.id}/map", file=out)
    minutes = round(settings.login_link_ttl_s / 60)
    print(f"sign in (one-time link, valid {minutes} min): {sign_in_link(store, base, settings.login_link_ttl_s)}",
          file=out)
    out.flush()
    store.close()
    serve(host, port, settings)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the service's command line (``geo-planner-serve``, ``geo-planner serve``)."""
    p = argparse.ArgumentParser(prog="geo-planner serve", description="Start the geo_planner web service "
                                "(map, JSON API, exports); settings from the GEO_PLANNER_* environment.")
    p.add_argument("--host", default=os.environ.get("GEO_PLANNER_HOST", "127.0.0.1"),
                   help="listen address (default: loopback only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GEO_PLANNER_PORT", "8000")))
    p.add_argument("--data-dir", type=Path, default=None,
                   help="store folder (default $GEO_PLANNER_DATA_DIR or out/service)")
    p.add_argument("--demo", action="store_true",
                   help="register the embedded demo, create demo users and local tokens, print a one-time "
                        "sign-in link")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``geo-planner-serve`` (and of ``geo-planner serve``): serve until interrupted.

    Returns
    -------
    int
        0 after a clean shutdown, 2 when the settings are unusable.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = ApiSettings(**({"data_dir": args.data_dir} if args.data_dir else {}))
        if args.demo:
            serve_demo(args.host, args.port, settings)
        else:
            serve(args.host, args.port, settings)
    except GeoPlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def __getattr__(name: str) -> Any:
    """``app``: the application built by :func:`create_app` from the ``GEO_PLANNER_*`` environment.

    Built on first access (so importing ``create_app`` never reads the environment), which is
    what ``uvicorn api.main:app`` and ``fastapi run api/main.py`` ask for.
    """
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "app"})
