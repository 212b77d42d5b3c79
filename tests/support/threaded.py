"""The service (``create_app``) served by uvicorn on loopback from a thread of the test process.

For a test that needs a real socket (a browser drives the page) but not a process of its own: the
app is the real one on a real store in a temporary folder, served by real uvicorn; it starts in about
a second because the test process has imported the service already (a child process spends many
seconds importing it). The hardening, kill and convention tests keep their child process
(:mod:`tests.support.servers`): they are about the deployed process.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .inprocess import service_settings
from .servers import free_port

#: Seconds to wait for the server to answer.
START_TIMEOUT_S = 60.0


class ThreadedServer:
    """``uvicorn`` serving ``create_app(ApiSettings(...))`` on 127.0.0.1 in a daemon thread.

    Parameters
    ----------
    data_dir
        The service's data folder (store, uploads, runs).
    tokens
        One token per role, ``{role: token}``.
    cache_dir
        The road-network cache.
    **settings
        Further :class:`api.config.ApiSettings` fields.
    """

    def __init__(self, data_dir: Path, tokens: dict[str, str], cache_dir: Path, **settings: Any) -> None:
        self.data_dir = Path(data_dir)
        self.tokens = tokens
        self.cache_dir = Path(cache_dir)
        self.settings = settings
        self.base_url = ""
        self.app: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> ThreadedServer:
        """Serve the app; return once it has started (its lifespan done, the socket listening).

        Raises
        ------
        RuntimeError
            The server stopped or did not start within :data:`START_TIMEOUT_S`.
        """
        import uvicorn

        from api.main import create_app

        settings = service_settings(self.data_dir, self.tokens, self.cache_dir,
                                    **{"seed_demo": False, **self.settings})
        self.app = create_app(settings)
        port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn-{port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the threaded server on port {port} did not start")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def store(self) -> Any:
        """The app's own store (``geo_planner.store.Store``), open while the server runs."""
        return self.app.state.store

    def stop(self) -> None:
        """Ask uvicorn to shut down (the app's lifespan closes the store) and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
