"""The real service app run inside the test process (Starlette's TestClient), with the interface of ApiServer.

:class:`InProcessServer` builds the application exactly as ``uvicorn api.main:create_app --factory`` does
(``api.main.create_app`` on an :class:`api.config.ApiSettings`), enters its lifespan once in
:meth:`InProcessServer.start` (the store is opened, interrupted runs are failed, the run queue's worker
starts) and leaves it in :meth:`InProcessServer.stop`. Requests go through httpx clients over the
TestClient's ASGI transport: no socket, no child process for the server, no uvicorn. Runs started
through the API still execute in the run queue's worker process (the real pipeline).

What needs a real socket or process (raw HTTP, uvicorn's access log, signals, the README's command)
stays on :class:`tests.support.servers.ApiServer`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

#: The loggers the service writes to (``api.*``: the app and its routers; ``geo_planner.*``: the library).
SERVICE_LOGGERS = ("api", "geo_planner")
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _LogRecords(logging.Handler):
    """Keep the service's log lines (formatted, with tracebacks) in memory."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never fail a request
            self.handleError(record)


class _SharedTransport(httpx.BaseTransport):
    """The started TestClient's transport, shared: closing a client leaves the app running."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass


def service_settings(data_dir: Path, tokens: dict[str, str], cache_dir: Path, **fields: Any):  # noqa: ANN201
    """The service's :class:`api.config.ApiSettings` for a test server: its folder, one service token per
    role (``{role: token}``), the network cache and ``fields``; nothing else. The test process's
    ``GEO_PLANNER_*`` environment is ignored, as ApiServer removes it from the child's environment."""
    from api.config import ApiSettings

    class ExplicitSettings(ApiSettings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,  # noqa: ANN001, ANN206
                                       dotenv_settings, file_secret_settings):
            return (init_settings,)

    return ExplicitSettings(data_dir=data_dir, cache_dir=cache_dir,
                            tokens=",".join(f"{tok}:{role}" for role, tok in tokens.items()), **fields)


class InProcessServer:
    """The service app in this process, its lifespan entered once; clients share its ASGI transport.

    Parameters
    ----------
    data_dir
        The service's data folder.
    tokens
        One token per role (``{"admin": …, "planner": …, "viewer": …}``), configured as service tokens.
    cache_dir
        The road-network cache folder.
    seed_demo
        Register the embedded demo at start-up when the store is empty.
    database_url
        PostgreSQL/PostGIS URL of the store (``None``: SQLite in ``data_dir``).
    **settings
        Further :class:`api.config.ApiSettings` fields (e.g. ``max_upload_mb``).
    """

    base_url = "http://testserver"

    def __init__(
        self,
        data_dir: Path,
        tokens: dict[str, str],
        cache_dir: Path,
        *,
        seed_demo: bool = False,
        database_url: str | None = None,
        **settings: Any,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.tokens = tokens
        self.cache_dir = Path(cache_dir)
        self.seed_demo = seed_demo
        self.settings = settings
        self._client: TestClient | None = None
        self._records = _LogRecords()
        self._levels: dict[str, int] = {}

    def store(self):  # noqa: ANN201 - geo_planner.store.Store, imported lazily
        """The server's store, opened anew (same data folder and database)."""
        from geo_planner.store import Store

        return Store(self.data_dir, self.database_url)

    def start(self) -> InProcessServer:
        """Build a fresh app on the data folder and run its start-up (as a new service process would)."""
        from api.main import create_app

        if self._client is not None:
            return self
        settings = service_settings(self.data_dir, self.tokens, self.cache_dir, database_url=self.database_url,
                                    seed_demo=self.seed_demo, **self.settings)
        self._listen()
        client = TestClient(create_app(settings), raise_server_exceptions=False)  # 500s as a client sees them
        try:
            client.__enter__()  # the lifespan's start-up; its shut-down in stop()
        except BaseException:
            self._unlisten()
            raise
        self._client = client
        return self

    def stop(self) -> None:
        """Run the app's shut-down (the run queue and the store are closed)."""
        if self._client is None:
            return
        try:
            self._client.__exit__(None, None, None)
        finally:
            self._client = None
            self._unlisten()

    def log(self) -> str:
        """The service's log lines since the first start (the app's and the library's loggers)."""
        return "\n".join(self._records.lines) + ("\n" if self._records.lines else "")

    def client(self, role: str | None = None, *, token: str | None = None) -> httpx.Client:
        """An httpx client of the started app: with ``role``'s token, a given ``token``, or anonymous."""
        if self._client is None:
            raise RuntimeError("the in-process server is not started")
        headers = {"user-agent": "testclient"}
        tok = token if token is not None else (self.tokens[role] if role else None)
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        return httpx.Client(base_url=self.base_url, headers=headers,
                            transport=_SharedTransport(self._client._transport), timeout=120.0)

    def _listen(self) -> None:
        for name in SERVICE_LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(self._records)

    def _unlisten(self) -> None:
        for name, level in self._levels.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self._records)
            logger.setLevel(level)
        self._levels.clear()
