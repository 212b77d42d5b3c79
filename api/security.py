"""What stands between a hostile client and the routes: ASGI middleware and log masking.

* :class:`BodyGuard` — an upload is authenticated *before* its body is read (no token → 401,
  wrong role → 403, answered at once), and every request body is limited while it streams:
  a declared ``Content-Length`` over the limit is refused before a byte is read, a body that
  grows past it is cut off; both answer 413.
* :class:`SecurityHeaders` — ``X-Content-Type-Options: nosniff`` on every answer; HTML pages
  also get a Content-Security-Policy (scripts only from this service and the page's own
  inline scripts, no remote script ever; tiles only from the map's tile server) with
  ``frame-ancestors 'self'``.
* :class:`MethodsAllowed` — ``OPTIONS`` answers with every method of the path, and a 405's
  ``Allow`` lists them all (Starlette lists only the first route's).
* :func:`mask_tokens` — the access log never shows a token, however its name is spelt in the
  query string (``access%5Ftoken``, ``ACCESS_TOKEN``, repeated …): the query is parsed, not
  pattern-matched.

This module knows HTTP; it holds no analysis code.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: Query parameters whose values are secrets (compared after decoding, case-insensitively).
SECRET_PARAMS = frozenset({"access_token", "token", "api_key", "key"})
#: Largest JSON body (a scenario) accepted, bytes.
MAX_JSON_BYTES = 1024 * 1024


# --------------------------------------------------------------------------- log masking


def mask_query(query: str) -> str:
    """Return ``query`` (``a=1&access_token=…``) with the value of every secret parameter hidden."""
    parts = []
    for part in re.split(r"([&;])", query):
        if part in ("&", ";") or not part:
            parts.append(part)
            continue
        name, sep, _value = part.partition("=")
        try:
            decoded = unquote_plus(name).strip().lower()
        except Exception:  # noqa: BLE001 - a malformed name is masked rather than logged
            decoded = "access_token"
        parts.append(f"{name}=***" if decoded in SECRET_PARAMS or "token" in decoded else part)
    return "".join(parts)


#: Paths that carry a secret: the one-time sign-in link ``/auth/link/<code>``.
SECRET_PATH = re.compile(r"(/auth/link/)[^/?#\s\"]+", re.I)


def mask_tokens(text: str) -> str:
    """Hide secret query values in a request target or URL (``/runs/x/map?access%5Ftoken=…``), and the
    code of a one-time sign-in link (``/auth/link/<code>``)."""
    text = SECRET_PATH.sub(r"\1***", text)
    path, sep, query = text.partition("?")
    if not sep:
        return text
    fragment = ""
    if "#" in query:
        query, _, frag = query.partition("#")
        fragment = "#" + frag
    tail, space, rest = query.partition(" ")  # "GET /x?q HTTP/1.1"-style lines
    return f"{path}?{mask_query(tail)}{space}{rest}{fragment}"


class MaskTokens(logging.Filter):
    """A logging filter hiding tokens in every string argument and in the message itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(mask_tokens(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and ("?" in record.msg or "/auth/link/" in record.msg):
            record.msg = mask_tokens(record.msg)
        return True


# --------------------------------------------------------------------------- small ASGI helpers


async def send_json(send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> None:
    """Send a complete JSON answer and ask the server to close the connection."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
           (b"connection", b"close"), (b"x-content-type-options", b"nosniff")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class BodyTooLarge(HTTPException):
    """The request body grew past the limit while it streamed (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit / 1024 / 1024:g} MB; split the file or raise "
                              "GEO_PLANNER_MAX_UPLOAD_MB")


# --------------------------------------------------------------------------- body guard


class BodyGuard:
    """Authenticate uploads before reading them; limit every request body while it streams.

    Parameters
    ----------
    app
        The wrapped application.
    role_of
        ``role_of(token) -> role | None`` (configured tokens, constant-time, and users' tokens).
    session_role
        ``session_role(scope) -> role`` of a request without an ``Authorization`` header, by its
        session cookie (and CSRF header); ``(status, detail)`` when refused. ``None``: bearer only.
    upload_limit
        Largest upload body, bytes (``POST /datasets/…``).
    json_limit
        Largest other request body, bytes.
    upload_role
        Role needed to upload (``admin``); lower roles get 403 before the body is read.
    rank
        ``{role: rank}`` ordering the roles.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        role_of: Callable[[str], str | None],
        upload_limit: int,
        json_limit: int = MAX_JSON_BYTES,
        upload_role: str = "admin",
        rank: dict[str, int] | None = None,
        session_role: Callable[[Scope], str | tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.role_of = role_of
        self.session_role = session_role
        self.upload_limit = int(upload_limit)
        self.json_limit = int(json_limit)
        self.upload_role = upload_role
        self.rank = rank or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        upload = scope["method"] == "POST" and path.rstrip("/").startswith("/datasets/")
        headers = Headers(scope=scope)
        if upload:
            denied = self._check_uploader(headers, scope)
            if denied is not None:
                status, detail = denied
                extra = [("www-authenticate", "Bearer")] if status == 401 else []
                await send_json(send, status, {"detail": detail, "problems": []}, extra)
                return
        limit = self.upload_limit if upload else self.json_limit
        declared = headers.get("content-length")
        if declared is not None:
            try:
                n = int(declared)
            except ValueError:
                await send_json(send, 400, {"detail": "Content-Length is not a number", "problems": []})
                return
            if n > limit:
                await send_json(send, 413, {"detail": BodyTooLarge(limit).detail, "problems": []})
                return
        received = 0
        started = False
        tripped = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    tripped = True
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json(send, 413, {"detail": exc.detail, "problems": []})
        except Exception:
            if tripped and not started:  # a parser wrapped our signal in its own error
                await send_json(send, 413, {"detail": BodyTooLarge(limit).detail, "problems": []})
                return
            raise

    def _check_uploader(self, headers: Headers, scope: Scope) -> tuple[int, str] | None:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        role: str | None
        if not auth and self.session_role is not None and "gp_session=" in headers.get("cookie", ""):
            found = self.session_role(scope)
            if isinstance(found, tuple):
                return found
            role = found
        elif not auth:
            return 401, "missing bearer token (uploads need the Authorization header or a session)"
        elif scheme.lower() != "bearer" or not token.strip():
            return 401, "use Authorization: Bearer <token>"
        else:
            role = self.role_of(token.strip())
        if role is None:
            return 401, "unknown token"
        if self.rank.get(role, -1) < self.rank.get(self.upload_role, 0):
            return 403, f"this needs the {self.upload_role} role; your token has the {role} role"
        return None


# --------------------------------------------------------------------------- security headers

_TILE_URL = re.compile(r"""L\.tileLayer\(\s*["'](https?://[^"']+)["']""")
_REMOTE_SRC = re.compile(r"""<script[^>]+src=["'](https?://[^/"']+)""", re.I)


def csp_for_html(page: str | None = None) -> str:
    """The Content-Security-Policy of an HTML page of this service.

    Scripts and styles come from this service and the page's own inline code (folium writes
    its map as inline script); images may come from the map's tile server(s), read from the
    page's ``L.tileLayer`` calls — none when tiles are off. No remote script is ever allowed
    unless the page itself still links one (a library folium-offline does not ship).
    """
    img = ["'self'", "data:", "blob:"]
    script = ["'self'", "'unsafe-inline'"]
    if page:
        for url in _TILE_URL.findall(page):
            host = re.match(r"(https?://[^/]+)", url)
            if host:
                img.append(re.sub(r"\{[a-z]\}", "*", host.group(1)))
        script += sorted(set(_REMOTE_SRC.findall(page)))
    return "; ".join([
        "default-src 'self'",
        f"script-src {' '.join(dict.fromkeys(script))}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {' '.join(dict.fromkeys(img))}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def workspace_csp() -> str:
    """The Content-Security-Policy of the workspace's pages: nothing from outside this service.

    No inline script at all (the pages' scripts are files; data reaches them as JSON the
    browser never executes); MapLibre GL JS's worker is a file of this service (its CSP build)
    and its images and tiles are drawn from ``data:``/``blob:`` URLs it makes itself.
    """
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


class SecurityHeaders:
    """Add ``nosniff`` to every answer and a CSP (unless the route set one) to HTML answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", csp_for_html())
                    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                    headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, add_headers)


# --------------------------------------------------------------------------- OPTIONS and 405


class MethodsAllowed:
    """Answer ``OPTIONS`` with every method the path supports; make a 405's ``Allow`` complete.

    The methods come from the OpenAPI document (its path templates), so routers included in
    any way are seen; routes outside the document (``/docs``, assets) are GET/HEAD only.
    """

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.openapi = openapi
        self._table: list[tuple[re.Pattern[str], int, frozenset[str]]] | None = None

    def _paths(self) -> list[tuple[re.Pattern[str], int, frozenset[str]]]:
        if self._table is None:
            table = []
            for template, ops in self.openapi().get("paths", {}).items():
                # path parameters restricted to listed values or a pattern make a template specific
                constrained: dict[str, str] = {}
                for op in ops.values():
                    for prm in op.get("parameters", []) if isinstance(op, dict) else []:
                        schema = prm.get("schema") or {}
                        if prm.get("in") != "path":
                            continue
                        if schema.get("enum"):
                            constrained[prm["name"]] = "(?:" + "|".join(re.escape(str(v)) for v in schema["enum"]) + ")"
                        elif schema.get("pattern"):
                            constrained[prm["name"]] = "(?:" + schema["pattern"].lstrip("^").rstrip("$") + ")"
                pattern = ""
                for part in re.split(r"(\{[^}]+\})", template):
                    name = part[1:-1] if part.startswith("{") else None
                    if name is None:
                        pattern += re.escape(part)
                    else:
                        pattern += constrained.get(name, "[^/]+")
                enums = constrained
                methods = {m.upper() for m in ops if m.lower() in
                           ("get", "post", "put", "patch", "delete", "head", "options")}
                if "GET" in methods:
                    methods.add("HEAD")
                table.append((re.compile(pattern), len(enums), frozenset(methods)))
            self._table = table
        return self._table

    def methods(self, scope: Scope) -> list[str]:
        """Every method of the documented path matching the request's path (``OPTIONS`` included).

        Where two templates match (``/datasets/{kind}`` and ``/datasets/{dataset_id}``), the more
        specific one — a path parameter restricted to listed values — wins.
        """
        path = scope.get("path", "")
        matches = [(score, methods) for pattern, score, methods in self._paths() if pattern.fullmatch(path)]
        if not matches:
            return []
        best = max(score for score, _ in matches)
        found = set().union(*(methods for score, methods in matches if score == best))
        found.add("OPTIONS")
        return sorted(found)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = self.methods(scope)
        if allowed and scope["method"] not in allowed:
            # e.g. POST /datasets/ds_…: the path is a dataset's, which has no POST (not a 422 about
            # the {kind} route's parameter)
            await send_json(send, 405, {"detail": f"{scope['method']} is not allowed here; use "
                                                  f"{', '.join(allowed)}", "problems": []},
                            [("allow", ", ".join(allowed))])
            return
        if scope["method"] == "OPTIONS":
            if allowed:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(b"allow", ", ".join(allowed).encode()),
                                        (b"x-content-type-options", b"nosniff")]})
                await send({"type": "http.response.body", "body": b""})
                return

        async def fix_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = MutableHeaders(scope=message)
                allowed = self.methods(scope)
                if allowed:
                    headers["Allow"] = ", ".join(allowed)
            await send(message)

        await self.app(scope, receive, fix_allow)
