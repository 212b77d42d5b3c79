"""Service configuration (pydantic-settings): environment variables ``GEO_PLANNER_*`` or arguments.

| setting | environment | default |
|---|---|---|
| ``data_dir`` | ``GEO_PLANNER_DATA_DIR`` | ``./out/service`` (SQLite store, uploads, run outputs) |
| ``database_url`` | ``GEO_PLANNER_DATABASE_URL`` | none: records in SQLite; ``postgresql://user:pw@host:5432/db``: PostgreSQL/PostGIS |
| ``stale_after_s`` | ``GEO_PLANNER_STALE_AFTER_S`` | ``60``: a running run whose worker is silent this long is failed as interrupted |
| ``tokens`` | ``GEO_PLANNER_TOKENS`` | none: ``"tokA:admin,etl=tokB:planner,tokC:viewer"`` (service accounts; ``name=`` optional) |
| ``tokens_file`` | ``GEO_PLANNER_TOKENS_FILE`` | none: a JSON file ``{"token": "role"}`` or ``{"token": {"role": …, "name": …}}`` |
| ``session_idle_s`` | ``GEO_PLANNER_SESSION_IDLE_S`` | ``1800``: a browser session unused this long is over |
| ``login_link_ttl_s`` | ``GEO_PLANNER_LOGIN_LINK_TTL_S`` | ``3600``: a one-time sign-in link unused this long is dead |
| ``login_max_failures`` | ``GEO_PLANNER_LOGIN_MAX_FAILURES`` | ``5`` failed sign-ins for one username … |
| ``login_max_failures_per_client`` | ``GEO_PLANNER_LOGIN_MAX_FAILURES_PER_CLIENT`` | … or ``50`` from one address … |
| ``login_lockout_s`` | ``GEO_PLANNER_LOGIN_LOCKOUT_S`` | … within ``300`` s refuse further attempts for that long (429) |
| ``osm_dir`` | ``GEO_PLANNER_OSM_DIR`` | the bundled ``data/osm`` |
| ``demo_dir`` | ``GEO_PLANNER_DEMO_DIR`` | the bundled ``data/demo`` |
| ``cache_dir`` | ``GEO_PLANNER_CACHE_DIR`` | ``~/.cache/geo_planner``; the library reads the same variable (``GEO_PLANNER_CACHE``, its former name, still works with a deprecation warning) |
| ``seed_demo`` | ``GEO_PLANNER_SEED_DEMO`` | ``true``: an empty store gets the demo datasets and run |
| ``visits_max_time_limit_s`` | ``GEO_PLANNER_VISITS_MAX_TIME_LIMIT_S`` | ``10``: longest routing solve of ``POST /runs/{id}/visits`` |

Tokens are never part of the code or the repository: give them in the environment or in a
file outside it (``serve_demo`` writes one with mode 600 under the data folder). Each configured
token is a *service account*: the audit log names it by its ``name`` or, without one, by
``service-<first 6 hex digits of the token's SHA-256>`` (stable, and no secret). People sign in
with their own accounts (``geo-planner users``) and get their own tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo_planner.bundled import data_dir
from geo_planner.errors import InputError, Problem
from geo_planner.store import parse_database_url
from geo_planner.vocab import ROLES, Role


class ApiSettings(BaseSettings):
    """Settings of the geo_planner service."""

    model_config = SettingsConfigDict(env_prefix="GEO_PLANNER_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)  # a database URL may hold a password

    data_dir: Path = Field(Path("out/service"), description="store folder: SQLite file, uploads, run outputs")
    database_url: str | None = Field(None, description="postgresql://user:password@host:port/dbname: records "
                                     "in PostgreSQL/PostGIS (None: SQLite in data_dir)")
    stale_after_s: float = Field(60.0, ge=10, le=86400, description="a running run whose worker has not "
                                 "said it is alive for this long is failed as interrupted, seconds")
    tokens: str | None = Field(None, description='tokens and roles: "tokA:admin,tokB:planner,tokC:viewer"')
    tokens_file: Path | None = Field(None, description='JSON file {"token": "role"} (keep it mode 600)')
    osm_dir: Path = Field(default_factory=lambda: data_dir() / "osm",
                          description="folder of the OSM extracts runs may name (default: the bundled ones)")
    demo_dir: Path = Field(default_factory=lambda: data_dir() / "demo", description="the embedded demo scenario")
    cache_dir: Path | None = Field(None, description="road-network cache folder (None: library default)")
    seed_demo: bool = Field(True, description="register the demo datasets and run when the store is empty")
    max_upload_mb: float = Field(200.0, gt=0, description="largest accepted upload, MB")
    max_networks: int = Field(4, ge=1, description="runs whose road networks are kept in memory")
    session_idle_s: float = Field(1800.0, gt=0, le=7 * 86400, description="a browser session unused this "
                                  "long ends (sign in again), seconds")
    login_link_ttl_s: float = Field(3600.0, gt=0, le=7 * 86400, description="a one-time sign-in link not "
                                    "used within this time is dead, seconds")
    login_max_failures: int = Field(5, ge=1, description="failed sign-ins for one username before further "
                                    "attempts are refused for login_lockout_s")
    login_max_failures_per_client: int = Field(50, ge=1, description="failed sign-ins from one client address "
                                               "(an office behind one NAT address shares it) before its "
                                               "attempts are refused for login_lockout_s")
    login_lockout_s: float = Field(300.0, gt=0, description="window and refusal time of failed sign-ins, s")
    visits_max_time_limit_s: float = Field(10.0, gt=0, le=3600, description="longest routing solver run a "
                                           "POST /runs/{id}/visits may ask for (a larger time_limit_s is cut)")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            parse_database_url(v, source="GEO_PLANNER_DATABASE_URL")
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return v.strip()

    def token_roles(self) -> dict[str, Role]:
        """Return the configured ``{token: role}`` (environment and file merged).

        Raises
        ------
        InputError
            If an entry is malformed or names an unknown role (the service refuses to start).
        """
        return {token: role for token, (_name, role) in self.token_accounts().items()}

    def token_accounts(self) -> dict[str, tuple[str, Role]]:
        """Return the configured service accounts ``{token: (name, role)}`` (environment and file merged).

        A name comes from ``name=token:role`` (environment) or ``{"role": …, "name": …}`` (file), else it
        is :func:`service_name` of the token.

        Raises
        ------
        InputError
            If an entry is malformed or names an unknown role (the service refuses to start).
        """
        out: dict[str, tuple[str, Role]] = {}
        problems: list[Problem] = []
        if self.tokens:
            for i, item in enumerate(p.strip() for p in self.tokens.split(",")):
                if not item:
                    continue
                token, sep, role = item.rpartition(":")
                token, role = token.strip(), role.strip()
                if not sep or not token or role not in ROLES:
                    problems.append(Problem("GEO_PLANNER_TOKENS", None, f"entry {i + 1}",
                                            f"expected token:role with role one of {', '.join(ROLES)}"))
                    continue
                name, token = split_name(token)
                out[token] = (name or service_name(token), role)  # type: ignore[assignment]
        if self.tokens_file is not None:
            try:
                data = json.loads(Path(self.tokens_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(Problem(str(self.tokens_file), None, None,
                                         f"cannot read the tokens file: {type(exc).__name__}")) from None
            if not isinstance(data, dict):
                problems.append(Problem(str(self.tokens_file), None, None,
                                        'expected a JSON object {"token": "role"}'))
            else:
                for token, value in data.items():
                    role, name = (value.get("role"), value.get("name")) if isinstance(value, dict) else (value, None)
                    if not isinstance(role, str) or role not in ROLES or not str(token).strip():
                        problems.append(Problem(str(self.tokens_file), None, "role",
                                                f"an entry has role {role!r}; use one of {', '.join(ROLES)}"))
                        continue
                    if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
                        problems.append(Problem(str(self.tokens_file), None, "name",
                                                "a name is 1–64 letters, digits or _ . -, starting with a letter"))
                        continue
                    token = str(token).strip()
                    out[token] = (name or service_name(token), role)  # type: ignore[assignment]
        if problems:
            raise InputError(problems)
        return out


#: A service account's name in ``name=token:role``.
_NAME = re.compile(r"[A-Za-z][\w.-]{0,63}")


def split_name(entry: str) -> tuple[str | None, str]:
    """Split ``name=token`` into ``(name, token)``; ``(None, entry)`` when there is no name.

    A token that itself holds ``=`` (base64 padding: ``abc==``) is kept whole: the part after the
    first ``=`` must not start with another ``=``.
    """
    name, sep, token = entry.partition("=")
    if sep and _NAME.fullmatch(name.strip()) and token.strip() and not token.startswith("="):
        return name.strip(), token.strip()
    return None, entry


def service_name(token: str) -> str:
    """The stable, non-secret name of an unnamed service token: ``service-<first 6 hex of its SHA-256>``."""
    return "service-" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:6]
