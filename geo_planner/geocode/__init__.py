"""Offline geocoding of Chinese addresses against a gazetteer built from OSM extracts.

Planners' member tables give addresses such as 「江西省贵溪市雄石街道花园社区三栋」, often
partial (「雄石街道」, 「花园社区」), with full-width digits, and repeated many times. This
package

* splits an address into its administrative parts (:func:`parse_address`, in ``parse``),
* builds a :class:`Gazetteer` of named places, roads, POIs and house numbers from OSM
  extracts (WGS-84; records in ``records``, the table and its index in ``gazetteer``),
  each with the township / community / county it sits in, optionally completed by the
  county-level division centres shipped with the ``cpca`` package (``counties``),
* matches each distinct address against it with rapidfuzz, most specific level first
  (poi → street → community → township → county), disambiguated by the city, county and
  township written in the address (:func:`geocode` here, scoring in ``match``; levels in
  ``precision``),
* assigns points to their community / township (:func:`assign_admin_units`: the extract's
  boundary polygon where it holds one, else the nearest place node) and to their city and
  county-level division (:func:`assign_county`: boundary polygons of :mod:`geo_planner.admin`),
  both in ``admin_units``,
* and optionally asks an online geocoder (高德 / 天地图, off by default; ``online``) for what
  the offline pass could place only coarsely, caching the answers in SQLite.

An address that cannot be matched well enough is reported as ``unmatched`` with NaN
coordinates — never placed at a default point.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..settings import GeocodeSettings
from .admin_units import assign_admin_units, assign_county
from .counties import load_county_centres
from .elsewhere import national_divisions, place_in_division
from .gazetteer import ENTRY_COLUMNS, Gazetteer
from .match import _make_query, _Match, _Matcher, _Query
from .online import (
    AmapGeocoder,
    GeocodeCache,
    OnlineGeocoder,
    TiandituGeocoder,
    _online_lookup,
    online_geocoder_from_settings,
)
from .parse import ParsedAddress, _canon_community, _canon_township, normalise_address, parse_address
from .precision import _RANK, IMPRECISE_STATUS, PRECISIONS, Precision, precise_for_times

__all__ = [
    "ENTRY_COLUMNS",
    "PRECISIONS",
    "AmapGeocoder",
    "GeocodeCache",
    "Gazetteer",
    "OnlineGeocoder",
    "ParsedAddress",
    "Precision",
    "TiandituGeocoder",
    "IMPRECISE_STATUS",
    "assign_admin_units",
    "assign_county",
    "geocode",
    "precise_for_times",
    "load_county_centres",
    "national_divisions",
    "normalise_address",
    "online_geocoder_from_settings",
    "parse_address",
]

logger = logging.getLogger(__name__)

_OUTPUT_COLUMNS: Final = (
    "lon", "lat", "geocode_precision", "geocode_score", "geocode_match",
    "geocode_township", "geocode_community",
)  # fmt: skip
#: One output row: lon, lat, precision, score, matched name, township, community.
_Row = tuple[float, float, str, float, str, str, str]
_EMPTY: Final[_Row] = (math.nan, math.nan, "unmatched", 0.0, "", "", "")


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return value is pd.NA or value is pd.NaT


def geocode(
    addresses: Sequence[str | None],
    gazetteer: Gazetteer,
    settings: GeocodeSettings | None = None,
    *,
    cache: GeocodeCache | None = None,
    online: OnlineGeocoder | None = None,
) -> pd.DataFrame:
    """Geocode addresses against a gazetteer, most specific level first.

    Each distinct (normalised) address is parsed and matched once: a house number on a
    road or a POI name (poi), a road (street), a 社区/村 (community), a 街道/镇/乡
    (township), a written county-level division (county). Names are compared with
    rapidfuzz's ratio (0–100) on canonical forms (居委会 ≡ 社区, 街道办事处 ≡ 街道); a
    社区 never matches a 村 of the same name. Candidates outside the province / city /
    county written in the address (or ``settings.default_region`` when it has none) are
    excluded; agreement with that region and with the written township adds 5 points
    each, a different township takes 5 off; ties between far-apart places make the level
    ambiguous and the next coarser one is tried. Free-text POI names need at least 85.
    A score below ``settings.min_score`` leaves the address unmatched — unless it names a
    county or city of its own that the national table knows (a gazetteer built with the
    county centres): it is then placed at that division's centre at ``county`` / ``city``
    precision (:mod:`.elsewhere`; 「江西省南昌市红谷滩区丰和中大道1999号」 → 红谷滩区), as is
    an address naming only a city that the matcher took for a county of another name.

    If ``online`` is given, addresses left unmatched or coarser than "street" are sent to
    it (answers cached in ``cache`` under the service's name) and its answer is used when
    more precise.

    Parameters
    ----------
    addresses
        One address per member (None/NaN/blank allowed).
    gazetteer
        From :meth:`Gazetteer.from_osm`.
    settings
        ``min_score`` and ``default_region``; defaults when ``None``.
    cache
        Cache for online answers.
    online
        An online geocoder (see :func:`online_geocoder_from_settings`); none by default.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``addresses`` (RangeIndex) with columns ``lon``, ``lat`` (WGS-84, NaN
        when unmatched), ``geocode_precision`` (poi/street/community/township/county/
        city/unmatched), ``geocode_score`` (0–100; for unmatched rows the best score seen below
        the threshold, 0 if none), ``geocode_match`` (matched name, "" if none),
        ``geocode_township`` and ``geocode_community`` (as written in the address, else
        the matched place's context, else "").

    Raises
    ------
    GeocodeError
        If the online geocoder rejects its key.
    """
    settings = settings or GeocodeSettings()
    texts = ["" if _is_missing(value) else normalise_address(str(value)) for value in addresses]
    distinct = sorted({t for t in texts if t})
    default = parse_address(settings.default_region) if settings.default_region else None
    queries = [_make_query(t, default) for t in distinct]
    matcher = _Matcher(gazetteer, queries, settings.min_score)
    e = gazetteer.entries
    national = bool((e["source"] == "cpca").any())
    entries = {c: e[c].to_numpy(dtype=object) for c in ("name", "township", "community")}
    entries["lon"], entries["lat"] = e["lon"].to_numpy(), e["lat"].to_numpy()

    results: dict[str, _Row] = {}
    online_calls = 0
    for text, q in zip(distinct, queries, strict=True):
        row = _offline_row(q, matcher.match(q), entries)
        if national:  # a gazetteer built with the county table may place other divisions' addresses
            row = _elsewhere_row(q, row)
        if online is not None and _RANK[row[2]] > _RANK["street"]:
            row, called = _online_row(online, cache, settings, text, q, row)
            online_calls += called
        results[text] = row

    out = _results_frame([results.get(t, _EMPTY) if t else _EMPTY for t in texts])
    counts = out["geocode_precision"].value_counts().to_dict()
    logger.info(
        "geocoded %d addresses (%d distinct%s): %s",
        len(texts),
        len(distinct),
        f", {online_calls} online requests" if online is not None else "",
        counts,
    )
    return out


def _offline_row(q: _Query, m: _Match, entries: dict[str, NDArray[Any]]) -> _Row:
    """Build the output row of one address from its gazetteer match (township/community as written first)."""
    p = q.parsed
    township = q.township or (entries["township"][m.row] if m.row >= 0 else "")
    community = _canon_community(p.community) if p.community else ""
    if m.row < 0:
        return (math.nan, math.nan, "unmatched", round(m.score, 1), "", township, community)
    name = entries["name"][m.row]
    if m.precision == "community":
        community = name
    elif m.precision == "township":
        township = _canon_township(name)
    if not community and m.precision in ("poi", "street"):
        community = entries["community"][m.row]
    lon, lat = entries["lon"][m.row], entries["lat"][m.row]
    return (lon, lat, m.precision, round(m.score, 1), name, township, community)


def _elsewhere_row(q: _Query, row: _Row) -> _Row:
    """An address naming a division no extract holds: its county's (or city's) centre.

    Used when the address was left unmatched, or when it names a city but no county and the
    matcher took a county of another name (江西省南昌市 is not 南昌县). An address without a
    region of its own (the default region fills it) is never placed this way.
    """
    if q.from_default:
        return row
    wrong_county = (row[2] == "county" and not q.parsed.county and bool(q.parsed.city)
                    and str(row[4]) not in q.parsed.raw)
    if row[2] != "unmatched" and not wrong_county:
        return row
    hit = place_in_division(q.parsed)
    if hit is None:
        return row
    lon, lat, precision, label = hit
    return (lon, lat, precision, 100.0, label, q.township, "")


def _online_row(
    online: OnlineGeocoder,
    cache: GeocodeCache | None,
    settings: GeocodeSettings,
    text: str,
    q: _Query,
    row: _Row,
) -> tuple[_Row, int]:
    """Return ``row``, or the online answer when it is more precise, and the requests sent (0 or 1)."""
    full = (
        text
        if q.parsed.has_region or not settings.default_region
        else normalise_address(settings.default_region + text)
    )
    answer, called = _online_lookup(online, full, cache)
    if answer is None or _RANK.get(str(answer.get("precision")), 99) >= _RANK[row[2]]:
        return row, called
    label = f"{online.name}:{answer.get('match', '')}"
    return (
        float(answer["lon"]), float(answer["lat"]), str(answer["precision"]),
        float(answer.get("score", 90.0)), label, row[5], row[6],
    ), called  # fmt: skip


def _results_frame(rows: list[_Row]) -> pd.DataFrame:
    out = pd.DataFrame.from_records(rows, columns=list(_OUTPUT_COLUMNS))
    out["lon"] = out["lon"].astype(np.float64)
    out["lat"] = out["lat"].astype(np.float64)
    out["geocode_score"] = out["geocode_score"].astype(np.float64)
    for col in ("geocode_precision", "geocode_match", "geocode_township", "geocode_community"):
        out[col] = out[col].astype(object)
    return out
