"""Service configuration (pydantic-settings): environment variables ``GEO_PLANNER_*`` or arguments.

| setting | environment | default |
|---|---|---|
| ``data_dir`` | ``GEO_PLANNER_DATA_DIR`` | ``./out/service`` (SQLite store, uploads, run outputs) |
| ``database_url`` | ``GEO_PLANNER_DATABASE_URL`` | none: records in SQLite; ``postgresql://user:pw@host:5432/db``: PostgreSQL/PostGIS |
| ``stale_after_s`` | ``GEO_PLANNER_STALE_AFTER_S`` | ``60``: a running run whose worker is silent this long is failed as interrupted |
| ``tokens`` | ``GEO_PLANNER_TOKENS`` | none: ``"tokA:admin,tokB:planner,tokC:viewer"`` |
| ``tokens_file`` | ``GEO_PLANNER_TOKENS_FILE`` | none: a JSON file ``{"token": "role"}`` |
| ``osm_dir`` | ``GEO_PLANNER_OSM_DIR`` | the bundled ``data/osm`` |
| ``demo_dir`` | ``GEO_PLANNER_DEMO_DIR`` | the bundled ``data/demo`` |
| ``cache_dir`` | ``GEO_PLANNER_CACHE_DIR`` | ``$GEO_PLANNER_CACHE`` or ``~/.cache/geo_planner`` |
| ``seed_demo`` | ``GEO_PLANNER_SEED_DEMO`` | ``true``: an empty store gets the demo datasets and run |
| ``visits_max_time_limit_s`` | ``GEO_PLANNER_VISITS_MAX_TIME_LIMIT_S`` | ``10``: longest routing solve of ``POST /runs/{id}/visits`` |

Tokens are never part of the code or the repository: give them in the environment or in a
file outside it (``serve_demo`` writes one with mode 600 under the data folder).
"""

from __future__ import annotations

import json
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
        out: dict[str, Role] = {}
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
                out[token] = role  # type: ignore[assignment]
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
                for token, role in data.items():
                    if not isinstance(role, str) or role not in ROLES or not str(token).strip():
                        problems.append(Problem(str(self.tokens_file), None, "role",
                                                f"an entry has role {role!r}; use one of {', '.join(ROLES)}"))
                        continue
                    out[str(token).strip()] = role  # type: ignore[assignment]
        if problems:
            raise InputError(problems)
        return out
