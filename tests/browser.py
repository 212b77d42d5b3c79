"""Playwright driving Debian's headless Chromium, shared by the map and the report browser tests.

The ``playwright`` wheel brings its own driver; no browser is ever downloaded: Chromium is the
system one (``/usr/bin/chromium`` from Debian's ``chromium`` package), started through
``executable_path`` with the flags the tests always used. :class:`WatchedPage` records what a
page did — JavaScript errors (uncaught exceptions and ``console.error``), every request, and
every request that failed or answered ≥ 400 — so a test can assert that nothing went wrong and
nothing was asked from outside the machine.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
