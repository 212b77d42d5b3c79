"""People who sign in: users, browser sessions, one-time sign-in codes and per-user API tokens.

Accounts are people, not shared tokens. A user has a username, a display name, a role
(viewer, planner, admin), a password kept only as an argon2id hash (argon2-cffi) and a
disabled flag. Secrets handed to a browser or a client — session ids, CSRF tokens, one-time
codes, API tokens — are random (:mod:`secrets`, 256 bits) and kept only as SHA-256 hashes,
so a copy of the database signs nobody in.

This module is library code: it knows nothing about HTTP (the service's cookies and
headers are in ``api.deps`` and ``api.routers.auth``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ConflictError, InputError, NotFoundError, Problem
from ..vocab import ROLES, Role
from .db import Database, rowcount
from .util import now

#: A username: letters (any script), digits and ``_ . @ -``, 1–64 characters.
USERNAME_RE = re.compile(r"^[\w.@-]{1,64}$")
#: Fewest characters of a password.
MIN_PASSWORD = 10
#: Prefix of the API tokens issued to users (tells them apart from configured service tokens).
USER_TOKEN_PREFIX = "gpu_"

#: argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a few tenths of a second on a
#: busy office server; a stored hash made with other parameters is re-hashed at the next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user is unknown, so that a wrong username takes as long as a wrong password."""
    return _hasher.hash(secrets.token_hex(16))


def secret_hash(secret: str) -> str:
    """SHA-256 (hex) of a random secret (session id, CSRF token, code, API token)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class UserRecord:
    """One person who may sign in (never their password or its hash).

    Attributes
    ----------
    username, display_name, role
        Sign-in name, the name shown (e.g. 张科长), viewer / planner / admin.
    disabled
        A disabled user cannot sign in; their sessions and tokens stop working at once.
    created, updated
        UTC, ISO 8601.
    """

    username: str
    display_name: str
    role: Role
    disabled: bool
    created: str
    updated: str


def _user(row: Any) -> UserRecord:
    return UserRecord(username=row.username, display_name=row.display_name, role=row.role,
                      disabled=bool(row.disabled), created=row.created, updated=row.updated)


def check_username(username: str, source: str = "username") -> str:
    """Return ``username`` stripped, or raise :class:`InputError` naming ``source``."""
    name = (username or "").strip()
    if not USERNAME_RE.fullmatch(name):
        raise InputError(Problem(source, None, "username", "1–64 letters, digits or _ . @ - (no spaces)"))
    return name


def check_display_name(display_name: str, source: str = "display_name") -> str:
    """Return the display name stripped; :class:`InputError` if empty, longer than 100 or with control characters."""
    name = (display_name or "").strip()
    if not name or len(name) > 100 or any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise InputError(Problem(source, None, "display_name", "1–100 characters, no control characters"))
    return name


def check_role(role: str, source: str = "role") -> Role:
    """Return ``role`` if it is one of :data:`geo_planner.vocab.ROLES`, else raise :class:`InputError`."""
    if role not in ROLES:
        raise InputError(Problem(source, None, "role", f"{role!r} is not a role; use one of {', '.join(ROLES)}"))
    return role  # type: ignore[return-value]


def check_password(password: str, source: str = "password") -> str:
    """Return ``password`` if it is long enough, else raise :class:`InputError` (the value is never echoed)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InputError(Problem(source, None, "password", f"at least {MIN_PASSWORD} characters"))
    if password != password.strip() or "\n" in password:
        raise InputError(Problem(source, None, "password", "no leading or trailing spaces or line breaks"))
    return password


def _pw(password: str) -> bytes:
    """The password as bytes for argon2 (a lone surrogate a JSON body may carry is kept, not an error)."""
    return (password or "").encode("utf-8", "surrogatepass")


def new_password() -> str:
    """A random password (about 120 bits) for demo users and resets."""
    return secrets.token_urlsafe(15)


class AccountsMixin:
    """Users, sessions, one-time codes and user tokens of a :class:`~geo_planner.store.Store`."""

    db: Database

    # ------------------------------------------------------------------ users

    def add_user(self, username: str, display_name: str, role: str, password: str) -> UserRecord:
        """Create a user.

        Raises
        ------
        InputError
            Bad username, role or password (too short).
        ConflictError
            The username is taken.
        """
        username = check_username(username)
        role = check_role(role)
        check_password(password)
        display = check_display_name(display_name or username)
        stamp = now()
        with self.db.begin() as con:
            if con.execute(sa.text("SELECT 1 FROM users WHERE username=:u"), {"u": username}).first():
                raise ConflictError(f"user {username!r} exists")
            con.execute(sa.text("INSERT INTO users (username, display_name, role, password_hash, disabled, "
                                "created, updated) VALUES (:u, :d, :r, :h, 0, :t, :t)"),
                        {"u": username, "d": display, "r": role, "h": _hasher.hash(_pw(password)), "t": stamp})
        return self.get_user(username)

    def get_user(self, username: str) -> UserRecord:
        """Return a user; :class:`NotFoundError` when unknown."""
        if not USERNAME_RE.fullmatch(username or ""):
            raise NotFoundError(f"user {username!r} not found")
        with self.db.begin() as con:
            row = con.execute(sa.text("SELECT * FROM users WHERE username=:u"), {"u": username}).first()
        if row is None:
            raise NotFoundError(f"user {username!r} not found")
        return _user(row)

    def list_users(self) -> list[UserRecord]:
        """Every user, by username."""
        with self.db.begin() as con:
            rows = con.execute(sa.text("SELECT * FROM users ORDER BY username")).all()
        return [_user(r) for r in rows]

    def has_users(self) -> bool:
        """Tell whether any user exists."""
        with self.db.begin() as con:
            return con.execute(sa.text("SELECT 1 FROM users LIMIT 1")).first() is not None

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> UserRecord:
        """Change a user; arguments left ``None`` keep their value.

        Disabling a user or setting a new password ends their sessions; disabling also stops their
        tokens (checked on every request) and unused sign-in codes.

        Raises
        ------
        NotFoundError, InputError
        """
        sets: dict[str, Any] = {}
        if display_name is not None:
            sets["display_name"] = check_display_name(display_name)
        if role is not None:
            sets["role"] = check_role(role)
        if disabled is not None:
            sets["disabled"] = 1 if disabled else 0
        if password is not None:
            sets["password_hash"] = _hasher.hash(_pw(check_password(password)))
        self.get_user(username)
        sets["updated"] = now()
        assignments = ", ".join(f"{k}=:{k}" for k in sets)  # keys are the literals above
        with self.db.begin() as con:
            con.execute(sa.text(f"UPDATE users SET {assignments} WHERE username=:username"),
                        {**sets, "username": username})
            if disabled or password is not None or role is not None:
                con.execute(sa.text("DELETE FROM sessions WHERE username=:u"), {"u": username})
            if disabled:  # the user's links die (410 Gone, as a used one; purged with them a day later)
                con.execute(sa.text("UPDATE login_links SET used=:t WHERE username=:u AND used IS NULL"),
                            {"u": username, "t": time.time()})
        return self.get_user(username)

    def authenticate(self, username: str, password: str) -> UserRecord | None:
        """Return the user if ``password`` is theirs and they are not disabled, else ``None``.

        An unknown username costs the same argon2 verification as a wrong password.
        """
        name = (username or "").strip()
        row = None
        if USERNAME_RE.fullmatch(name):  # anything else is no username (and never reaches the database)
            with self.db.begin() as con:
                row = con.execute(sa.text("SELECT * FROM users WHERE username=:u"), {"u": name}).first()
        stored = row.password_hash if row is not None and row.password_hash else _dummy_hash()
        try:
            _hasher.verify(stored, _pw(password))
            ok = row is not None and bool(row.password_hash)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row.disabled:
            return None
        if _hasher.check_needs_rehash(stored):
            with self.db.begin() as con:
                con.execute(sa.text("UPDATE users SET password_hash=:h WHERE username=:u"),
                            {"h": _hasher.hash(_pw(password)), "u": row.username})
        return _user(row)

    def _active_user(self, con: sa.Connection, username: str) -> UserRecord | None:
        row = con.execute(sa.text("SELECT * FROM users WHERE username=:u"), {"u": username}).first()
        if row is None or row.disabled:
            return None
        return _user(row)

    def _require_active(self, con: sa.Connection, username: str) -> UserRecord:
        """Return the active user ``username``; :class:`NotFoundError` when unknown or disabled."""
        user = self._active_user(con, username)
        if user is None:
            raise NotFoundError(f"user {username!r} not found or disabled")
        return user

    # ------------------------------------------------------------------ sessions

    def create_session(self, username: str) -> tuple[str, str]:
        """Open a session for an active user; return ``(session id, CSRF token)`` (both shown once).

        Raises
        ------
        NotFoundError
            Unknown or disabled user.
        """
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        t = time.time()
        with self.db.begin() as con:
            self._require_active(con, username)
            con.execute(sa.text("INSERT INTO sessions (id_hash, username, csrf_hash, created, last_seen) "
                                "VALUES (:i, :u, :c, :t, :t)"),
                        {"i": secret_hash(sid), "u": username, "c": secret_hash(csrf), "t": t})
        return sid, csrf

    def session_user(self, session_id: str, idle_s: float) -> tuple[UserRecord, str] | None:
        """Return ``(user, CSRF token hash)`` of a live session and mark it used now; ``None`` if unknown,
        idle longer than ``idle_s`` seconds (it is then deleted) or its user is disabled."""
        h = secret_hash(session_id)
        t = time.time()
        with self.db.begin() as con:
            row = con.execute(sa.text("SELECT * FROM sessions WHERE id_hash=:i"), {"i": h}).first()
            if row is None:
                return None
            if t - float(row.last_seen) > idle_s:
                con.execute(sa.text("DELETE FROM sessions WHERE id_hash=:i"), {"i": h})
                return None
            user = self._active_user(con, row.username)
            if user is None:
                return None
            if t - float(row.last_seen) > min(30.0, idle_s / 10):  # not a write on every request
                con.execute(sa.text("UPDATE sessions SET last_seen=:t WHERE id_hash=:i"), {"t": t, "i": h})
        return user, str(row.csrf_hash)

    def end_session(self, session_id: str) -> bool:
        """Delete a session (sign-out); tell whether it existed."""
        with self.db.begin() as con:
            return rowcount(con.execute(sa.text("DELETE FROM sessions WHERE id_hash=:i"),
                                        {"i": secret_hash(session_id)})) > 0

    def purge_sessions(self, idle_s: float) -> int:
        """Delete sessions idle longer than ``idle_s`` and used or expired codes; return sessions deleted."""
        t = time.time()
        with self.db.begin() as con:
            n = rowcount(con.execute(sa.text("DELETE FROM sessions WHERE last_seen < :c"), {"c": t - idle_s}))
            con.execute(sa.text("DELETE FROM login_links WHERE expires < :t OR used IS NOT NULL"), {"t": t - 86400})
        return n

    # ------------------------------------------------------------------ one-time sign-in codes

    def create_login_code(self, username: str, ttl_s: float) -> str:
        """Make a one-time sign-in code for an active user, valid ``ttl_s`` seconds; return it (shown once).

        Raises
        ------
        NotFoundError
            Unknown or disabled user.
        """
        code = secrets.token_urlsafe(32)
        t = time.time()
        with self.db.begin() as con:
            self._require_active(con, username)
            con.execute(sa.text("INSERT INTO login_links (code_hash, username, created, expires) "
                                "VALUES (:h, :u, :t, :e)"),
                        {"h": secret_hash(code), "u": username, "t": t, "e": t + ttl_s})
        return code

    def redeem_login_code(self, code: str) -> UserRecord | None:
        """Use a one-time code: return its user the first time (unexpired, user active), ``None`` ever after.

        Raises
        ------
        NotFoundError
            No such code was ever made (a used or expired one gives ``None``).
        """
        h = secret_hash(code)
        t = time.time()
        with self.db.begin() as con:
            row = con.execute(sa.text("SELECT * FROM login_links WHERE code_hash=:h"), {"h": h}).first()
            if row is None:
                raise NotFoundError("no such sign-in link; sign in with your password or ask for a new link")
            # the guarded UPDATE makes the code single-use even when two requests race
            won = rowcount(con.execute(sa.text("UPDATE login_links SET used=:t WHERE code_hash=:h "
                                               "AND used IS NULL AND expires >= :t"), {"t": t, "h": h}))
            if won != 1:
                return None
            return self._active_user(con, row.username)

    # ------------------------------------------------------------------ API tokens of users

    def issue_token(self, username: str, name: str | None = None) -> str:
        """Issue a bearer token to an active user; return it (shown once, stored hashed).

        Parameters
        ----------
        username
            The owner: requests with the token act as this user, with the user's current role.
        name
            What the token is for (e.g. ``etl-script``), listed with the user's tokens.
        """
        token = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.begin() as con:
            self._require_active(con, username)
            con.execute(sa.text("INSERT INTO api_tokens (token_hash, username, name, created) "
                                "VALUES (:h, :u, :n, :t)"),
                        {"h": secret_hash(token), "u": username, "n": (name or "api").strip()[:64] or "api",
                         "t": now()})
        return token

    def token_user(self, token: str) -> UserRecord | None:
        """The active user a bearer token was issued to, or ``None``."""
        if not token.startswith(USER_TOKEN_PREFIX):
            return None
        with self.db.begin() as con:
            row = con.execute(sa.text("SELECT username FROM api_tokens WHERE token_hash=:h"),
                              {"h": secret_hash(token)}).first()
            return None if row is None else self._active_user(con, row.username)

    def list_tokens(self, username: str) -> list[dict[str, str]]:
        """A user's tokens: name and creation time (never the token)."""
        with self.db.begin() as con:
            rows = con.execute(sa.text("SELECT name, created FROM api_tokens WHERE username=:u ORDER BY created"),
                               {"u": username}).all()
        return [{"name": r.name, "created": r.created} for r in rows]

    def revoke_tokens(self, username: str) -> int:
        """Revoke every token of a user; return how many."""
        with self.db.begin() as con:
            return rowcount(con.execute(sa.text("DELETE FROM api_tokens WHERE username=:u"), {"u": username}))
