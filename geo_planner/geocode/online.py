"""Optional online geocoders (高德, 天地图; off by default) and the SQLite cache of their answers."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import httpx

from ..errors import GeocodeError
from ..settings import GeocodeSettings
from .counties import _gcj02_to_wgs84
from .parse import normalise_address, parse_address

logger = logging.getLogger(__name__)


@runtime_checkable
class OnlineGeocoder(Protocol):
    """An online geocoding service.

    ``geocode`` returns ``None`` when the service found nothing usable, else a dict with
    ``lon``, ``lat`` (WGS-84), ``precision`` (one of :data:`PRECISIONS`), ``score``
    (0–100) and ``match`` (the service's formatted address).
    """

    name: str

    def geocode(self, address: str) -> dict[str, Any] | None:
        """Geocode one address."""
        ...


_AMAP_LEVELS: Final[dict[str, str]] = {
    "门牌号": "poi", "单元号": "poi", "楼栋": "poi", "兴趣点": "poi", "公交站台、地铁站": "poi",
    "公交站台": "poi", "地铁站": "poi", "道路": "street", "道路交叉路口": "street", "村庄": "community",
    "热点商圈": "community", "乡镇": "township", "区县": "county", "开发区": "county",
}  # fmt: skip
_TIANDITU_LEVELS: Final[dict[str, str]] = {
    "门址": "poi", "门牌号": "poi", "兴趣点": "poi", "POI": "poi", "道路": "street", "村庄": "community",
    "乡镇": "township", "区县": "county",
}  # fmt: skip
_AMAP_BAD_KEY: Final = frozenset({"10001", "10002", "10003", "10004", "10005", "10009", "10044"})


class _HttpGeocoder:
    name = "online"
    score = 90.0  # services that report no score get this one

    def __init__(self, key: str, *, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        if not key:
            raise GeocodeError(f"{type(self).__name__} needs an API key")
        self._key = key
        self._timeout_s = timeout_s
        self._client = client

    def build_request(self, address: str) -> httpx.Request:  # pragma: no cover - overridden
        raise NotImplementedError

    def parse_response(self, payload: dict[str, Any]) -> dict[str, Any] | None:  # pragma: no cover
        raise NotImplementedError

    def geocode(self, address: str) -> dict[str, Any] | None:
        """Query the service for one address (``None`` when nothing usable was found).

        Raises
        ------
        GeocodeError
            When the service rejects the key or quota, so a batch stops at once.
        """
        request = self.build_request(address)
        try:
            if self._client is not None:
                response = self._client.send(request)
            else:
                with httpx.Client(timeout=self._timeout_s) as client:
                    response = client.send(request)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("%s geocoder failed for %r: %s", self.name, address, exc)
            return None
        return self.parse_response(payload)


class AmapGeocoder(_HttpGeocoder):
    """高德 (AMap) REST geocoding API v3; answers are GCJ-02 and converted to WGS-84.

    Parameters
    ----------
    key
        The Web-service key.
    city
        Optional city restriction (name or adcode; not a county-level city).
    timeout_s
        HTTP timeout, seconds.
    client
        An ``httpx.Client`` to reuse (tests pass a mock transport).
    """

    name = "amap"
    url = "https://restapi.amap.com/v3/geocode/geo"

    def __init__(
        self,
        key: str,
        *,
        city: str | None = None,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(key, timeout_s=timeout_s, client=client)
        self._city = city

    def build_request(self, address: str) -> httpx.Request:
        """Return the GET request for ``address`` (not sent)."""
        params = {"key": self._key, "address": address, "output": "JSON"}
        if self._city:
            params["city"] = self._city
        return httpx.Request("GET", self.url, params=params)

    def parse_response(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Turn an API answer into a result dict (WGS-84), or ``None``."""
        if str(payload.get("status")) != "1":
            code = str(payload.get("infocode", ""))
            if code in _AMAP_BAD_KEY:
                raise GeocodeError(f"高德 geocoder refused the key: {payload.get('info', code)}")
            logger.warning("高德 geocoder error %s: %s", code, payload.get("info"))
            return None
        geocodes = payload.get("geocodes") or []
        if not geocodes:
            return None
        first = geocodes[0]
        precision = _AMAP_LEVELS.get(str(first.get("level", "")))
        try:
            gx, gy = (float(v) for v in str(first.get("location", "")).split(","))
        except ValueError:
            return None
        if precision is None:
            return None
        x, y = _gcj02_to_wgs84(gx, gy)
        return {
            "lon": float(x),
            "lat": float(y),
            "precision": precision,
            "score": self.score,
            "match": str(first.get("formatted_address", "")),
        }


class TiandituGeocoder(_HttpGeocoder):
    """天地图 geocoder (CGCS2000, used as WGS-84 — they differ by centimetres).

    Parameters
    ----------
    key
        The server key (``tk``).
    timeout_s
        HTTP timeout, seconds.
    client
        An ``httpx.Client`` to reuse.
    """

    name = "tianditu"
    url = "https://api.tianditu.gov.cn/geocoder"

    def build_request(self, address: str) -> httpx.Request:
        """Return the GET request for ``address`` (not sent)."""
        ds = json.dumps({"keyWord": address}, ensure_ascii=False)
        return httpx.Request("GET", self.url, params={"ds": ds, "tk": self._key})

    def parse_response(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Turn an API answer into a result dict, or ``None``."""
        if str(payload.get("status")) != "0":
            message = str(payload.get("msg", ""))
            if "key" in message.lower() or "权限" in message:
                raise GeocodeError(f"天地图 geocoder refused the key: {message}")
            logger.warning("天地图 geocoder error: %s", message)
            return None
        loc = payload.get("location") or {}
        precision = _TIANDITU_LEVELS.get(str(loc.get("level", "")))
        try:
            x, y = float(loc["lon"]), float(loc["lat"])
        except (KeyError, TypeError, ValueError):
            return None
        if precision is None:
            return None
        score = loc.get("score")
        return {
            "lon": x,
            "lat": y,
            "precision": precision,
            "score": float(score) if score is not None else self.score,
            "match": str(loc.get("keyWord", "")),
        }


def online_geocoder_from_settings(settings: GeocodeSettings) -> OnlineGeocoder | None:
    """Build the online geocoder the settings ask for.

    Parameters
    ----------
    settings
        ``online_provider`` (``None``, ``amap`` or ``tianditu``) and ``online_key_env``.

    Returns
    -------
    OnlineGeocoder or None
        ``None`` when no provider is set (the default: offline only).

    Raises
    ------
    GeocodeError
        If a provider is set but the key environment variable is empty.
    """
    provider = settings.online_provider
    if provider is None:
        return None
    key = os.environ.get(settings.online_key_env, "").strip()
    if not key:
        raise GeocodeError(
            f"online geocoder '{provider}' is configured but the environment variable "
            f"{settings.online_key_env} holding its key is empty"
        )
    if provider == "amap":
        region = parse_address(settings.default_region or "")
        return AmapGeocoder(key, city=region.city if region.city and not region.county else None)
    return TiandituGeocoder(key)


class GeocodeCache:
    """SQLite cache of geocoding answers keyed on (provider, normalised address).

    Negative answers (``None``) are cached too, so an address the service cannot place is
    not asked again.

    Parameters
    ----------
    path
        The database file (created with its folder if missing).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS geocode_cache ("
                " provider TEXT NOT NULL, address TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL,"
                " PRIMARY KEY (provider, address))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30.0)

    def lookup(self, provider: str, address: str) -> tuple[bool, dict[str, Any] | None]:
        """Return ``(found, result)``; ``result`` may be ``None`` for a cached miss."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT result FROM geocode_cache WHERE provider = ? AND address = ?",
                (provider, normalise_address(address)),
            ).fetchone()
        if row is None:
            return False, None
        return True, json.loads(row[0])

    def get(self, provider: str, address: str) -> dict[str, Any] | None:
        """Return the cached result (``None`` when absent or a cached miss)."""
        return self.lookup(provider, address)[1]

    def put(self, provider: str, address: str, result: dict[str, Any] | None) -> None:
        """Store a result (or a miss) for ``address``."""
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT OR REPLACE INTO geocode_cache (provider, address, result, created)"
                " VALUES (?, ?, ?, ?)",
                (provider, normalise_address(address), json.dumps(result, ensure_ascii=False), time.time()),
            )

    def __len__(self) -> int:
        with closing(self._connect()) as con:
            return int(con.execute("SELECT COUNT(*) FROM geocode_cache").fetchone()[0])


def _online_lookup(
    online: OnlineGeocoder, address: str, cache: GeocodeCache | None
) -> tuple[dict[str, Any] | None, int]:
    provider = getattr(online, "name", type(online).__name__)
    if cache is not None:
        found, result = cache.lookup(provider, address)
        if found:
            return result, 0
    result = online.geocode(address)
    if cache is not None:
        cache.put(provider, address, result)
    return result, 1
