"""Playwright driving Debian's headless Chromium, shared by the map and the report browser tests.

The ``playwright`` wheel brings its own driver; no browser is ever downloaded: Chromium is the
system one (``/usr/bin/chromium`` from Debian's ``chromium`` package), started through
``executable_path`` with the flags the tests always used. :class:`WatchedPage` records what a
page did — JavaScript errors (uncaught exceptions and ``console.error``), every request, and
every request that failed or answered ≥ 400 — so a test can assert that nothing went wrong and
nothing was asked from outside the machine. :class:`Browser` is a workspace session signed in as a
planner or viewer would be (cookies, never a token in a URL), with its screenshots going to ``docs/screenshots``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .paths import ROOT
from .servers import ApiServer

#: Chromium's flags (Playwright adds ``--headless`` and its own automation switches).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1280,900",
]
VIEWPORT = {"width": 1280, "height": 900}
MISSING = (
    "!!! HEADLESS CHROMIUM NOT FOUND — THE {what} WAS NOT TESTED IN A BROWSER. "
    "Install it: apt-get update && apt-get install -y chromium !!!"
)


class WatchedPage:
    """A Playwright page with its JavaScript errors, requests and failed requests recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.bad: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        page.on("request", lambda req: self.urls.append(req.url))
        page.on("requestfailed", lambda req: self.bad.append(f"{req.url} ({req.failure})"))
        page.on("response", self._response)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and "favicon.ico" not in (msg.location or {}).get("url", ""):
            self.errors.append(msg.text)

    def _response(self, resp: Any) -> None:
        if resp.status >= 400 and not resp.url.endswith("/favicon.ico"):
            self.bad.append(f"{resp.url} ({resp.status})")

    def goto(self, url: str, timeout_s: float = 60.0) -> None:
        """Open ``url`` and wait for its load event."""
        self.page.goto(url, wait_until="load", timeout=timeout_s * 1000)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression."""
        return self.page.evaluate(expression)

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        """The first truthy value of ``expression`` within ``timeout_s``, else ``None``."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            return self.page.wait_for_function(expression, timeout=timeout_s * 1000, polling=100).json_value()
        except PlaywrightTimeout:
            return None

    def settle(self, ms: int = 300) -> None:
        """Let timers and pending events run."""
        self.page.wait_for_timeout(ms)

    def screenshot(self, path: Path) -> bytes:
        """Save a PNG of the viewport to ``path`` and return its bytes."""
        return self.page.screenshot(path=str(path), type="png")


@contextmanager
def chromium_browser(executable: str) -> Iterator[Any]:
    """A headless Playwright ``Browser`` on the system Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any) -> WatchedPage:
    """A fresh context and page (1280×900, scale 1) with everything it does recorded."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    return WatchedPage(context.new_page())


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


SHOTS = ROOT / "docs" / "screenshots"


class Browser:
    """A page signed in with a session cookie (never a bearer token), with dialogs, responses and the
    requests' headers recorded."""

    def __init__(self, chromium: Any, server: ApiServer, state: dict[str, Any] | None = None) -> None:
        self.server = server
        self.context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1, accept_downloads=True,
                                            storage_state=state)
        self.page = WatchedPage(self.context.new_page())
        self.dialogs: list[str] = []
        self.bodies: dict[str, str] = {}
        self.sent: list[tuple[str, str, dict[str, str]]] = []  # (method, url, headers)
        self.page.page.on("dialog", self._dialog)
        self.page.page.on("response", self._body)
        self.page.page.on("request", lambda r: self.sent.append((r.method, r.url, r.headers)))
        self.downloads: set[str] = set()  # a download ends its request with ERR_ABORTED: that is no failure
        self.page.page.on("download", lambda d: self.downloads.add(d.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _body(self, resp: Any) -> None:
        if "json" in (resp.headers.get("content-type") or "") and resp.status == 200:
            try:
                self.bodies[resp.url] = resp.text()
            except Exception:  # noqa: BLE001 - a body gone with a navigation
                pass

    def goto(self, path: str) -> None:
        self.page.goto(self.server.base_url + path)

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Poll ``expression`` until truthy (the pages' CSP forbids Playwright's eval-based waiting)."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.page.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            self.page.page.wait_for_timeout(100)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.page.screenshot(path=str(SHOTS / name), type="png")

    def writes(self) -> list[tuple[str, str, dict[str, str]]]:
        """The state-changing requests the pages sent to the service with a session (the sign-in itself has none)."""
        return [r for r in self.sent if r[0] not in ("GET", "HEAD", "OPTIONS") and r[1].startswith(self.server.base_url)
                and r[1] != self.server.base_url + "/auth/login"]

    def check_clean(self, allow: tuple[str, ...] = ()) -> None:
        """No JavaScript error, no failed request (but ``allow``), nothing off the machine, no dialog, no
        element from the roster; no bearer token sent, every write with the CSRF header of the cookie."""
        bad = [b for b in self.page.bad if not any(a in b for a in allow)
               and not (b.endswith("(net::ERR_ABORTED)") and b.split(" ")[0] in self.downloads)]
        codes = {a.rsplit("(", 1)[-1].rstrip(")") for a in allow}
        errors = [e for e in self.page.errors
                  if not (e.startswith("Failed to load resource") and any(f"status of {c} " in e for c in codes))]
        assert bad == [] and errors == [], (bad, errors)
        outside = [u for u in self.page.urls if not u.startswith((self.server.base_url, "data:", "blob:", "about:"))]
        assert outside == [], outside
        assert not [u for u in self.page.urls if "access_token" in u]  # no token in a URL
        assert not [u for _m, u, h in self.sent if "authorization" in {k.lower() for k in h}]  # no bearer token
        csrf = {c["name"]: c["value"] for c in self.context.cookies()}.get("gp_csrf")
        for method, url, headers in self.writes():
            assert csrf and headers.get("x-csrf-token") == csrf, (method, url)
        assert self.dialogs == []  # the roster's script never ran
        assert self.js("document.querySelectorAll('img[src=\"x\"], script:not([src]):not([type])').length") == 0

    def close(self) -> None:
        self.context.close()

