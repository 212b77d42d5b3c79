"""The served map page in a real browser: headless Chromium (Debian's ``chromium`` package).

Chromium is driven through the Chrome DevTools Protocol over ``--remote-debugging-pipe``
(JSON messages separated by NUL bytes on file descriptors 3 and 4), so no websocket
client is needed. The test loads ``/runs/{id}/map?access_token=…`` as a planner and as a
viewer and checks that the Leaflet layers rendered (marker elements in the DOM, the layer
control with its overlays, vector layers drawn), that no JavaScript error was raised, that
no resource failed to load and that nothing was requested from outside the machine (the
service serves Leaflet itself; tiles are ``none``), then saves a screenshot under the test's
tmp folder and copies it to ``maps/``.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT
from .test_api import ApiServer, new_tokens, readable, start_demo_run

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--headless",
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
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """A headless Chromium driven over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path, log_path: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        log = open(log_path, "wb")  # noqa: SIM115 - kept by the child
        # bash puts our pipe ends on the descriptors Chromium reads (3) and writes (4)
        self.proc = subprocess.Popen(
            [
                shutil.which("bash") or "/bin/bash",
                "-c",
                f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}',
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._events.put(msg)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        self._next_id += 1
        mid = self._next_id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no answer to {method}")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def events(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - already gone
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass


class Page:
    """One tab, with every event it raised."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.log: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )

    def send(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def pump(self) -> None:
        self.log += [e for e in self.browser.events() if e.get("sessionId") == self.session]

    def goto(self, url: str, timeout: float = 60.0) -> None:
        self.pump()
        start = len(self.log)
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if any(e["method"] == "Page.loadEventFired" for e in self.log[start:]):
                return
            time.sleep(0.05)
        raise TimeoutError(f"page did not load: {url}")

    def evaluate(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        return value

    def js_errors(self) -> list[str]:
        self.pump()
        out = []
        for e in self.log:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                if "favicon.ico" not in p["entry"].get("url", ""):
                    out.append(p["entry"]["text"])
        return out

    def requests(self) -> list[str]:
        self.pump()
        return [e["params"]["request"]["url"] for e in self.log if e["method"] == "Network.requestWillBeSent"]

    def failed(self) -> list[str]:
        self.pump()
        ids = {
            e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in self.log
            if e["method"] == "Network.requestWillBeSent"
        }
        bad = [
            ids.get(e["params"]["requestId"], "?") for e in self.log if e["method"] == "Network.loadingFailed"
        ]
        bad += [
            e["params"]["response"]["url"]
            for e in self.log
            if e["method"] == "Network.responseReceived"
            and e["params"]["response"]["status"] >= 400
            and not e["params"]["response"]["url"].endswith("/favicon.ico")
        ]
        return bad

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(data)
        return data


LEAFLET_STATE = """(() => {
  const q = s => document.querySelectorAll(s).length;
  return {
    leaflet: typeof L === 'object' && typeof L.map === 'function',
    maps: q('.leaflet-container'),
    markers: q('.leaflet-marker-icon'),
    clusters: q('.marker-cluster'),
    layerControl: q('.leaflet-control-layers'),
    overlays: q('.leaflet-control-layers-overlays label'),
    vectors: q('.leaflet-overlay-pane path, .leaflet-overlay-pane canvas'),
    text: document.body ? document.body.innerText : ''
  };
})()"""
#: The state once the markers and the layer control are there, else null.
READY = f"(() => {{ const s = {LEAFLET_STATE}; return (s.markers > 0 && s.layerControl > 0) ? s : null; }})()"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        msg = (
            "!!! HEADLESS CHROMIUM NOT FOUND — THE MAP WAS NOT TESTED IN A BROWSER. "
            "Install it: apt-get update && apt-get install -y chromium !!!"
        )
        print(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    root = tmp_path_factory.mktemp("browser")
    server = ApiServer(root / "data", new_tokens(), cache_dir).start()
    try:
        _, run, _ = start_demo_run(server)
        yield server, run["id"]
    finally:
        server.stop()


@pytest.fixture()
def browser(chromium: str, tmp_path: Path):
    b = Browser(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        yield b
    finally:
        b.close()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_detector_sees_javascript_errors(browser):
    page = Page(browser)
    page.goto("data:text/html,<p>x</p><script>window.setTimeout(() => { notDefinedAnywhere(); }, 0)</script>")
    time.sleep(0.5)
    assert any("notDefinedAnywhere" in e for e in page.js_errors())


@pytest.mark.parametrize("role", ["planner", "viewer"])
def test_map_renders_in_chromium(served, browser, role, tmp_path):
    server, run_id = served
    url = f"{server.base_url}/runs/{run_id}/map?access_token={server.tokens[role]}"
    page = Page(browser)
    page.goto(url)
    state = page.wait_for(READY) or page.evaluate(LEAFLET_STATE)
    shot = tmp_path / f"map_{role}.png"
    data = page.screenshot(shot)
    maps_dir = ROOT / "maps"
    if maps_dir.is_dir():
        shutil.copyfile(shot, maps_dir / f"browser_map_{role}.png")
    assert state and state["leaflet"] and state["maps"] == 1, state
    assert state["markers"] > 0, state  # branch, station and hospital markers are DOM elements
    assert state["layerControl"] == 1 and state["overlays"] >= 3, state
    assert state["vectors"] > 0, state  # service areas / grid cells drawn
    assert page.js_errors() == []
    assert page.failed() == []
    outside = [u for u in page.requests() if not u.startswith((server.base_url, "data:", "about:", "blob:"))]
    assert outside == [], outside  # Leaflet comes from the service, tiles are "none": nothing from outside
    w, h = _png_size(data)
    assert (w, h) == (1280, 900) and len(data) > 10_000
    if role == "viewer":
        text = readable(page.evaluate("document.documentElement.outerHTML"))
        assert "M0001" not in text and "肖生林" not in text  # the first demo member
