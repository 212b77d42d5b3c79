"""The :class:`Gazetteer`: named places, roads, POIs and house numbers with their admin context.

Built from OSM extracts (:meth:`Gazetteer.from_osm`, records from
:mod:`geo_planner.geocode.records`) or from a table; it also holds the matching index
that :mod:`geo_planner.geocode.match` reads.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..crs import earth_xyz
from ..errors import GeocodeError, InputError, Problem
from ..osm import osm_xml
from .counties import _empty_centres, load_county_centres
from .geometry import _nearest
from .parse import _canon_community, _canon_township, _digits, _region_core
from .precision import PRECISIONS
from .records import _COMMUNITY_SEED_KINDS, _TOWNSHIP_SEED_KINDS, _records_from_osm

logger = logging.getLogger(__name__)

#: Columns of :attr:`Gazetteer.entries`.
ENTRY_COLUMNS: Final[tuple[str, ...]] = (
    "name",  # the name as written in the source
    "kind",  # place value (city/town/quarter/village…), road, poi, address, admin_level=N, county_centre
    "level",  # county/township/community/street/poi (or prefecture: context only, never a match)
    "lon",
    "lat",  # WGS-84 degrees
    "province",
    "city",  # prefecture-level city
    "county",  # county-level division (区/县/县级市)
    "township",  # nearest place=town/suburb (街道/镇/乡)
    "community",  # nearest place=quarter/village/neighbourhood (社区/村)
    "street",  # addr:street
    "housenumber",  # addr:housenumber
    "tag",  # the OSM tag that made the entry, e.g. amenity=hospital
    "source",  # file name, or "cpca"
    "osm_id",  # node/123, way/456, relation/789 ("" for non-OSM entries)
)
_TEXT_COLUMNS: Final = tuple(c for c in ENTRY_COLUMNS if c not in ("lon", "lat"))


def _region_prefixes(*names: str) -> list[str]:
    """Full and core forms of region names, longest first."""
    forms = {form for n in names for form in (n, _region_core(n))} - {""}
    return sorted(forms, key=len, reverse=True)


def _strip_region_prefix(name: str, prefixes: Sequence[str]) -> tuple[str, str]:
    """Split 贵溪市实验中学 into (实验中学, 贵溪) when 贵溪市 is one of the entry's region names.

    Returns the name without its leading region names and the core of the last (most
    specific) one stripped ("" when none).
    """
    stripped = ""
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if p and name.startswith(p) and len(name) - len(p) >= 2:
                name, stripped = name[len(p) :], p
                changed = True
                break
    return name, _region_core(stripped)


class Gazetteer:
    """Named places, roads, POIs and house numbers with WGS-84 points and admin context.

    Build one with :meth:`from_osm`, or pass a table with the :data:`ENTRY_COLUMNS`
    (at least ``name``, ``level``, ``lon``, ``lat``) — for instance a department's own
    list of 社区 with coordinates.

    Parameters
    ----------
    entries
        The gazetteer table; missing text columns are filled with "".
    areas
        Township/community boundary polygons (``name``, ``level`` — ``township`` or
        ``community`` —, ``geometry`` as shapely polygons in WGS-84), used before the nearest
        place node by :func:`assign_admin_units`.
    extents
        The loaded extracts' extents ``(min lon, min lat, max lon, max lat)``: a point
        outside all of them lives outside the loaded map (see :meth:`in_extents`).

    Raises
    ------
    GeocodeError
        If required columns are missing or the table is empty.
    """

    def __init__(
        self,
        entries: pd.DataFrame,
        *,
        areas: pd.DataFrame | None = None,
        extents: Sequence[tuple[float, float, float, float]] = (),
    ) -> None:
        missing = [c for c in ("name", "level", "lon", "lat") if c not in entries.columns]
        if missing:
            raise GeocodeError(f"gazetteer table lacks column(s) {', '.join(missing)}")
        table = entries.reset_index(drop=True).copy()
        for col in _TEXT_COLUMNS:
            if col not in table.columns:
                table[col] = ""
            table[col] = table[col].fillna("").astype(str)
        table["lon"] = pd.to_numeric(table["lon"], errors="coerce").astype(np.float64)
        table["lat"] = pd.to_numeric(table["lat"], errors="coerce").astype(np.float64)
        table = table[table["lon"].notna() & table["lat"].notna() & (table["name"] != "")]
        table = table.reset_index(drop=True)
        if table.empty:
            raise GeocodeError("the gazetteer has no named entries with coordinates")
        extra = [c for c in table.columns if c not in ENTRY_COLUMNS]
        self._entries = table[list(ENTRY_COLUMNS) + extra]
        self._areas = (
            areas.reset_index(drop=True) if areas is not None and len(areas)
            else pd.DataFrame({"name": pd.Series(dtype=object), "level": pd.Series(dtype=object),
                               "geometry": pd.Series(dtype=object)})
        )
        self._extents = np.asarray(list(extents), dtype=np.float64).reshape(-1, 4)
        self._build_index()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_osm(
        cls,
        paths: Sequence[Path | str] | Path | str,
        *,
        counties: bool = True,
        community_max_m: float = 2000.0,
        township_max_m: float = 8000.0,
        county_max_m: float = 60000.0,
        cache_dir: Path | str | None = None,
    ) -> Gazetteer:
        """Build a gazetteer from OSM extracts (WGS-84).

        Entries: ``place=*`` nodes/areas (city/county → county level, town/suburb →
        township, quarter/village/neighbourhood → community), administrative boundaries at
        their label or admin-centre node, named roads (one entry per road name and county:
        the middle vertex of its longest way, so the point lies on the road), named POIs
        (nodes; areas at their centroid) and ``addr:street`` + ``addr:housenumber``
        addresses (poi level). Each entry gets the nearest township and community seed
        (see :func:`assign_admin_units`) and its county, prefecture and province (nearest
        county-level place or county centre; ``addr:district`` / ``addr:city`` /
        ``addr:province`` tags override).

        Parameters
        ----------
        paths
            One or more ``.osm`` (optionally ``.gz``/``.bz2``) or ``.pbf`` files; a PBF is
            converted once by :func:`geo_planner.osm.osm_xml` (the same file the road
            network reads), so both give identical gazetteers.
        counties
            Add the county-level centres of :func:`load_county_centres` (when cpca is
            installed) as county-level entries, and use them for the region context.
        community_max_m, township_max_m
            Context assignment radii, metres.
        county_max_m
            Farthest county seed used as an entry's county context, metres.
        cache_dir
            Where converted PBF files are kept (the system's temporary folder if ``None``).

        Returns
        -------
        Gazetteer

        Raises
        ------
        InputError
            If a file is missing, is not OSM XML or is an unreadable PBF.
        GeocodeError
            When nothing named was found.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        problems: list[Problem] = []
        for p in paths:
            path = Path(p)
            if not path.is_file():
                problems.append(Problem(str(path), None, None, "OSM file not found"))
        if problems:
            raise InputError(problems)
        records: list[dict[str, Any]] = []
        areas: list[dict[str, Any]] = []
        extents: list[tuple[float, float, float, float]] = []
        for p in paths:
            recs, found, extent = _records_from_osm(osm_xml(p, cache_dir), source=Path(p).name)
            records.extend(recs)
            areas.extend(found)
            if all(math.isfinite(v) for v in extent):
                extents.append(extent)
        if not records:
            raise GeocodeError(f"no named places, roads or POIs in {', '.join(str(p) for p in paths)}")
        raw = pd.DataFrame.from_records(records)
        centres = load_county_centres() if counties else _empty_centres()
        table = _add_context(raw, centres, community_max_m, township_max_m, county_max_m)
        if counties and not centres.empty:
            cc = centres[centres["level"] == "county"]
            county_rows = pd.DataFrame(
                {
                    "name": cc["name"], "kind": "county_centre", "level": "county", "lon": cc["lon"],
                    "lat": cc["lat"], "province": cc["province"], "city": cc["city"], "county": cc["name"],
                    "township": "", "community": "", "street": "", "housenumber": "",
                    "tag": "adcode=" + cc["adcode"], "source": "cpca", "osm_id": "",
                }
            )  # fmt: skip
            table = pd.concat([table, county_rows], ignore_index=True)
        gaz = cls(table, areas=pd.DataFrame.from_records(areas) if areas else None, extents=extents)
        logger.info(
            "gazetteer: %d entries (%s) from %d file(s)",
            len(gaz.entries),
            ", ".join(f"{k} {v}" for k, v in gaz.entries["level"].value_counts().items()),
            len(paths),
        )
        return gaz

    # -- accessors ------------------------------------------------------------------------

    @property
    def entries(self) -> pd.DataFrame:
        """The gazetteer table (see :data:`ENTRY_COLUMNS`)."""
        return self._entries

    @property
    def areas(self) -> pd.DataFrame:
        """Township/community boundary polygons read from the extracts (may be empty)."""
        return self._areas

    @property
    def extents(self) -> NDArray[np.float64]:
        """The extracts' extents, one ``(min lon, min lat, max lon, max lat)`` row each."""
        return self._extents

    def in_extents(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies inside the extent of a loaded extract.

        ``True`` for every finite point when no extent is known (a gazetteer built from a
        table); ``False`` for NaN.
        """
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        finite = np.isfinite(x) & np.isfinite(y)
        if len(self._extents) == 0:
            return finite
        e = self._extents
        inside = (
            (x[:, None] >= e[None, :, 0]) & (y[:, None] >= e[None, :, 1])
            & (x[:, None] <= e[None, :, 2]) & (y[:, None] <= e[None, :, 3])
        )
        return finite & inside.any(axis=1)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        counts = self._entries["level"].value_counts().to_dict()
        return f"Gazetteer({len(self)} entries: {counts})"

    # -- matching index -----------------------------------------------------------------

    def _build_index(self) -> None:
        e = self._entries
        self._names = e["name"].to_numpy(dtype=object)
        self._levels = e["level"].to_numpy(dtype=object)
        self._xyz = earth_xyz(e["lon"].to_numpy(), e["lat"].to_numpy())
        self._prov_core = np.array([_region_core(v) for v in e["province"]], dtype=object)
        self._city_core = np.array([_region_core(v) for v in e["city"]], dtype=object)
        self._county_core = np.array([_region_core(v) for v in e["county"]], dtype=object)
        self._township = np.array([_canon_township(v) for v in e["township"]], dtype=object)
        self._level_rows: dict[str, NDArray[np.intp]] = {
            lvl: np.flatnonzero(self._levels == lvl) for lvl in PRECISIONS[:-1]
        }
        kinds = e["kind"].to_numpy(dtype=object)
        match_name = self._names.copy()
        for row in self._level_rows["community"]:
            match_name[row] = _canon_community(self._names[row], kinds[row])
        for row in self._level_rows["township"]:
            match_name[row] = _canon_township(self._names[row])
        for row in self._level_rows["county"]:
            match_name[row] = _region_core(self._names[row])
        self._match_name = match_name
        self._raw_names = {lvl: self._names[rows].tolist() for lvl, rows in self._level_rows.items()}
        self._match_names = {lvl: match_name[rows].tolist() for lvl, rows in self._level_rows.items()}
        poi = e.iloc[self._level_rows["poi"]]
        split = [
            _strip_region_prefix(n, _region_prefixes(p, c, k))
            for n, p, c, k in zip(poi["name"], poi["province"], poi["city"], poi["county"], strict=True)
        ]
        self._poi_core = [core for core, _ in split]
        self._poi_prefix = np.array([prefix for _, prefix in split], dtype=object)
        self._addr_index: dict[tuple[str, str], list[int]] = {}
        has_addr = (e["street"] != "") & (e["housenumber"] != "")
        for row in np.flatnonzero(has_addr.to_numpy()):
            key = (e["street"].iat[row], _digits(e["housenumber"].iat[row]))
            self._addr_index.setdefault(key, []).append(int(row))
        self._community_by_name = _positions_by_name(self._raw_names["community"])
        self._county_by_core = _positions_by_name(self._match_names["county"])
        self._known_county = frozenset(self._county_core[self._county_core != ""].tolist())
        self._known_city = frozenset(self._city_core[self._city_core != ""].tolist())
        self._community_seeds = np.flatnonzero(np.isin(kinds, _COMMUNITY_SEED_KINDS))
        self._township_seeds = np.flatnonzero(np.isin(kinds, _TOWNSHIP_SEED_KINDS))


def _positions_by_name(names: list[str]) -> dict[str, NDArray[np.intp]]:
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    return {k: np.asarray(v, dtype=np.intp) for k, v in groups.items()}


def _add_context(
    raw: pd.DataFrame,
    centres: pd.DataFrame,
    community_max_m: float,
    township_max_m: float,
    county_max_m: float,
) -> pd.DataFrame:
    """Give raw OSM records their county/prefecture/province and township/community context."""
    table = raw.copy()
    xyz = earth_xyz(table["lon"].to_numpy(), table["lat"].to_numpy())
    _county_context(table, xyz, centres, county_max_m)
    _tag_context(table)
    _place_context(table, xyz, community_max_m, township_max_m)
    # one road entry per (source, name, county): the longest way's middle vertex
    roads = table["kind"] == "road"
    longest = (
        table[roads]
        .sort_values("_length_m", ascending=False, kind="stable")
        .drop_duplicates(["source", "name", "county"])
    )
    table = pd.concat([table[~roads], longest]).sort_index(kind="stable")
    table = table.drop_duplicates(["name", "level", "lon", "lat"])
    return table[list(ENTRY_COLUMNS)].reset_index(drop=True)


def _county_context(
    table: pd.DataFrame, xyz: NDArray[np.float64], centres: pd.DataFrame, county_max_m: float
) -> None:
    """Set ``county``, ``city`` and ``province`` of every record, in place.

    Boundary polygons decide where they cover the record; elsewhere the nearest county seed
    (OSM county-level places and county centres). OSM ``place=city`` records that name a
    prefecture-level city become level ``prefecture`` (context only, never a match).
    """
    prefectures = centres[centres["level"] == "prefecture"]
    county_names = set(centres.loc[centres["level"] == "county", "name"])
    pref_names = set(prefectures["name"]) - county_names
    is_pref = (table["level"] == "county") & table["name"].isin(pref_names)
    table.loc[is_pref, "level"] = "prefecture"

    # county seeds: OSM county-level places + county centres; each with prefecture/province
    cc = centres[centres["level"] == "county"].reset_index(drop=True)
    cc_xyz = earth_xyz(cc["lon"].to_numpy(), cc["lat"].to_numpy()) if len(cc) else np.empty((0, 3))
    osm_seed = table[table["level"] == "county"]
    seed_name = osm_seed["name"].tolist() + cc["name"].tolist()
    seed_city = [""] * len(osm_seed) + cc["city"].tolist()
    seed_prov = [""] * len(osm_seed) + cc["province"].tolist()
    osm_seed_xyz = xyz[osm_seed.index.to_numpy()]
    for i, (name, pt) in enumerate(zip(osm_seed["name"], osm_seed_xyz, strict=True)):
        same = np.flatnonzero(cc["name"].to_numpy() == name) if len(cc) else np.empty(0, dtype=np.intp)
        if len(same):
            j = same[np.argmin(np.linalg.norm(cc_xyz[same] - pt, axis=1))]
            seed_city[i], seed_prov[i] = cc.at[j, "city"], cc.at[j, "province"]
    seed_xyz = np.vstack([osm_seed_xyz, cc_xyz]) if len(seed_name) else np.empty((0, 3))
    _, idx = _nearest(seed_xyz, xyz, county_max_m)
    for col, values in (("county", seed_name), ("city", seed_city), ("province", seed_prov)):
        table[col] = np.asarray(values + [""], dtype=object)[idx]  # idx -1 → ""

    # boundary polygons decide where they cover the entry (the nearest seat errs near a line)
    from ..admin import locate_divisions

    poly = locate_divisions(table["lon"].to_numpy(), table["lat"].to_numpy())
    found = (poly["county"] != "").to_numpy()
    for col in ("county", "city", "province"):
        table.loc[found, col] = poly.loc[found, col].to_numpy()

    # prefecture-level places: their own city
    table.loc[is_pref, "city"] = table.loc[is_pref, "name"]
    table.loc[table["level"] == "county", "county"] = table.loc[table["level"] == "county", "name"]


def _tag_context(table: pd.DataFrame) -> None:
    """``addr:*`` tags override the region context, in place; each file's majority fills what is unknown."""
    district = table["_addr_district"]
    has_district = district.str.contains(r"(?:区|县|旗|市)$", regex=True)
    table.loc[has_district, "county"] = district[has_district]
    for col, tag in (("city", "_addr_city"), ("province", "_addr_province")):
        tagged = table[tag] != ""
        differs = tagged & (table[tag].map(_region_core) != table[col].map(_region_core))
        table.loc[differs, col] = table.loc[differs, tag]
        for source, group in table[tagged].groupby("source"):
            majority = Counter(group[tag].map(_region_core)).most_common(1)[0][0]
            fill = (table["source"] == source) & (table[col] == "")
            table.loc[fill, col] = majority


def _place_context(
    table: pd.DataFrame, xyz: NDArray[np.float64], community_max_m: float, township_max_m: float
) -> None:
    """Set ``township`` and ``community`` in place: the nearest place node of each (Voronoi)."""
    kinds = table["kind"].to_numpy(dtype=object)
    for col, seed_kinds, max_m in (
        ("community", _COMMUNITY_SEED_KINDS, community_max_m),
        ("township", _TOWNSHIP_SEED_KINDS, township_max_m),
    ):
        seeds = np.flatnonzero(np.isin(kinds, seed_kinds))
        _, nidx = _nearest(xyz[seeds], xyz, max_m)
        names = np.asarray(table["name"].to_numpy(dtype=object)[seeds].tolist() + [""], dtype=object)
        table[col] = np.where(nidx >= 0, names[nidx], "")
    lvl = table["level"]
    table.loc[lvl == "township", "township"] = table.loc[lvl == "township", "name"].map(_canon_township)
    table.loc[lvl == "township", "community"] = ""
    table.loc[lvl == "community", "community"] = table.loc[lvl == "community", "name"]
    above = lvl.isin(["county", "prefecture"])
    table.loc[above, ["township", "community"]] = ""
