"""Matching parsed addresses against a :class:`~geo_planner.geocode.gazetteer.Gazetteer`.

:class:`_Matcher` scores the distinct addresses of one :func:`geo_planner.geocode.geocode`
call with rapidfuzz, level by level, within the region the address names.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from .gazetteer import Gazetteer
from .parse import (
    _CJK,
    ParsedAddress,
    _canon_community,
    _canon_township,
    _digits,
    _division_cores,
    _region_core,
    parse_address,
)

logger = logging.getLogger(__name__)

#: Top candidates tied on score but farther apart than this (metres) make a level ambiguous.
_AMBIGUOUS_M: Final[dict[str, float]] = {
    "poi": 300.0,
    "street": 2000.0,
    "community": 1000.0,
    "township": 3000.0,
    "county": 20000.0,
}
#: Free-text POI names must match more closely than structured parts.
_POI_NAME_MIN_SCORE: Final = 85.0
_CONTEXT_BONUS: Final = 5.0
_NEAR_DIVISION_DEG: Final = 0.005  # ≈ 500 m


def _near_division(g: Gazetteer, county: str, city: str) -> NDArray[np.bool_]:
    """Entries within about 500 m of the county-level division(s) named ``county`` (core name)."""
    import shapely

    from ..admin import load_divisions

    n = len(g._names)
    div = load_divisions()
    if div is None:
        return np.zeros(n, dtype=bool)
    pick = np.array([_region_core(str(c)) == county for c in div.county], dtype=bool)
    if city:
        in_city = np.array([_region_core(str(c)) == city for c in div.city], dtype=bool)
        pick = pick & in_city if (pick & in_city).any() else pick
    if not pick.any():
        return np.zeros(n, dtype=bool)
    area = shapely.union_all(div.geoms[pick]).buffer(_NEAR_DIVISION_DEG)
    lon, lat = g._entries["lon"].to_numpy(), g._entries["lat"].to_numpy()
    return np.asarray(shapely.contains_xy(area, lon, lat), dtype=bool)


@dataclass(frozen=True)
class _Query:
    parsed: ParsedAddress
    from_default: bool  # region parts come from settings.default_region
    prov: str
    city: str
    county: str
    township: str  # canonical
    poi: str = ""  # the remainder without its building/unit/room detail (3栋2单元501室)
    alt_road: str = ""  # a road written without 路/街/巷 before a house number (估衣廊82号)
    alt_number: str = ""


#: Building, unit, room and "nearby" detail at the end of an address: never a place to match.
_BUILDING_TAIL_RE: Final = re.compile(
    r"(?:[0-9A-Za-z一二三四五六七八九十百零〇两甲乙丙丁-]+"
    r"(?:号楼|栋|幢|座|单元|室|层|楼|户|门|号院|号)"
    r"|[0-9]+[A-Za-z]?|[A-Za-z][0-9]+|-|附近|旁边|对面|楼上|楼下)+$"
)
_ALT_ROAD_RE: Final = re.compile(rf"^([{_CJK}0-9A-Za-z-]{{2,12}}?)([附甲乙丙]?[0-9]+(?:[-之][0-9]+)?[号號])")


def _strip_building(text: str) -> str:
    """花园小区3栋2单元501室 → 花园小区; 估衣廊82号附近 → 估衣廊82号 is left to the road rule."""
    for i in range(1, len(text)):
        if _BUILDING_TAIL_RE.fullmatch(text, i):
            return text[:i]
    return text


@dataclass(frozen=True)
class _Match:
    row: int  # gazetteer row, -1 when unmatched
    precision: str
    score: float


def _make_query(text: str, default: ParsedAddress | None) -> _Query:
    parsed = parse_address(text)
    from_default = False
    if default is not None and not parsed.has_region and default.has_region:
        parsed = ParsedAddress(
            province=default.province,
            city=default.city,
            county=default.county,
            township=parsed.township,
            community=parsed.community,
            road=parsed.road,
            number=parsed.number,
            poi=parsed.poi,
            raw=parsed.raw,
        )
        from_default = True
    alt_road = alt_number = ""
    m = _ALT_ROAD_RE.match(parsed.community + parsed.road + parsed.number + parsed.poi)
    if m and not m.group(1).isdigit() and m.group(1) != parsed.road:
        alt_road, alt_number = m.group(1), m.group(2)  # 估衣廊82号; 新街口转盘11号 (not 新街)
    return _Query(
        parsed=parsed,
        from_default=from_default,
        prov=_region_core(parsed.province),
        city=_region_core(parsed.city),
        county=_region_core(parsed.county),
        township=_canon_township(parsed.township),
        poi=_strip_building(parsed.poi),
        alt_road=alt_road,
        alt_number=alt_number,
    )


_Cands = tuple[NDArray[np.intp], NDArray[np.float32]]  # (positions within a level, scores)
_NO_CANDS: Final[_Cands] = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32))
_MAX_CELLS: Final = 20_000_000  # score-matrix cells per rapidfuzz call (80 MB of float32)


def _fuzzy(queries: list[str], choices: list[str], cutoff: float) -> dict[str, _Cands]:
    """Score each distinct query against all choices with rapidfuzz's ratio.

    Only the scores at or above ``cutoff`` are kept, as sparse (positions, scores) pairs,
    so memory stays proportional to the plausible candidates.
    """
    out: dict[str, _Cands] = {}
    distinct = sorted({q for q in queries if q})
    if not choices:
        return dict.fromkeys(distinct, _NO_CANDS)
    chunk_rows = max(1, _MAX_CELLS // len(choices))
    for start in range(0, len(distinct), chunk_rows):
        chunk = distinct[start : start + chunk_rows]
        scores = process.cdist(
            chunk, choices, scorer=fuzz.ratio, dtype=np.float32, score_cutoff=cutoff, workers=-1
        )
        for query, row in zip(chunk, scores, strict=True):
            pos = np.flatnonzero(row)
            out[query] = (pos, row[pos])
    return out


def _merge(*cands: _Cands) -> _Cands:
    """Union of candidate sets, keeping each position's best score."""
    pos = np.concatenate([c[0] for c in cands])
    if len(pos) == 0:
        return _NO_CANDS
    score = np.concatenate([c[1] for c in cands])
    order = np.lexsort((-score, pos))
    pos, score = pos[order], score[order]
    first = np.ones(len(pos), dtype=bool)
    first[1:] = pos[1:] != pos[:-1]
    return pos[first], score[first]


def _exact(index: dict[str, NDArray[np.intp]], *names: str) -> _Cands:
    """Candidates whose match name equals one of ``names`` (score 100)."""
    pos = [index[n] for n in dict.fromkeys(names) if n in index]
    if not pos:
        return _NO_CANDS
    found = np.unique(np.concatenate(pos))
    return found, np.full(len(found), 100.0, dtype=np.float32)


def _poi_texts(q: _Query) -> list[str]:
    """Texts matched against POI names: the remainder (without building detail), else the local part.

    The local part (东门街道办事处) is left out when it is only a road and number (上海路 is the
    road, not the metro station of that name) or only the community written (荷坳村 is the
    village, not the 荷坳 metro station).
    """
    p = q.parsed
    local = _strip_building(p.local)
    skip = {p.road, p.road + p.number, p.community}
    out = [t for t in dict.fromkeys((q.poi, local, p.poi, p.local)) if len(t) >= 2 and t not in skip]
    return out


class _Matcher:
    """Scores the distinct addresses of one :func:`geocode` call against a gazetteer."""

    def __init__(self, gaz: Gazetteer, queries: list[_Query], min_score: float) -> None:
        self.gaz = gaz
        self.queries = queries
        self.min_score = min_score
        cutoff = max(0.0, min_score - 2 * _CONTEXT_BONUS)
        p = [q.parsed for q in queries]
        texts = [t for q in queries for t in _poi_texts(q)] + [q.parsed.local for q in queries]
        self.poi_scores = _fuzzy(texts, gaz._raw_names["poi"], cutoff)
        self.poi_core_scores = _fuzzy(texts, gaz._poi_core, cutoff)
        self.street_scores = _fuzzy([x.road for x in p] + [q.alt_road for q in queries],
                                    gaz._match_names["street"], cutoff)
        self.community_scores = _fuzzy(
            [_canon_community(x.community) for x in p], gaz._match_names["community"], cutoff
        )
        self.township_scores = _fuzzy([q.township for q in queries], gaz._match_names["township"], cutoff)
        self._region_cache: dict[tuple[str, str, str], tuple[NDArray[np.bool_], NDArray[np.bool_]]] = {}

    # -- region check ---------------------------------------------------------------------

    def region(self, q: _Query) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Return the (allowed, confirmed) masks over all entries for the region written in ``q``."""
        key = (q.prov, q.city, q.county)
        hit = self._region_cache.get(key)
        if hit is not None:
            return hit
        g = self.gaz
        n = len(g._names)
        allowed = np.ones(n, dtype=bool)
        confirmed = np.zeros(n, dtype=bool)
        if q.prov:
            allowed &= (g._prov_core == "") | (g._prov_core == q.prov)
        tokens = [t for t in (q.city, q.county) if t]
        if tokens:
            known = (g._city_core != "") | (g._county_core != "")
            hits = np.zeros(n, dtype=bool)
            for t in tokens:
                hits |= (g._city_core == t) | (g._county_core == t)
            allowed &= ~known | hits
            confirmed = hits.copy()
            if q.county and (q.county in g._known_county or q.county in _division_cores()):
                # a real county written: must agree — or lie within 500 m of its boundary (a road
                # along a district line, 太平北路 in 玄武区 written as 秦淮区)
                near = _near_division(g, q.county, q.city)
                allowed &= (g._county_core == "") | (g._county_core == q.county) | near
        self._region_cache[key] = (allowed, confirmed)
        return allowed, confirmed

    # -- one level ------------------------------------------------------------------------

    def pick(self, q: _Query, level: str, cands: _Cands, threshold: float) -> tuple[int, float]:
        """Return the best row of ``level`` for ``q`` among ``cands``.

        ``(-1, best score)`` when the best is below ``threshold``; ``(-1, 0.0)`` when there
        is no allowed candidate or the best ones are far apart (ambiguous).
        """
        g = self.gaz
        cand, sims = cands
        if len(cand) == 0:
            return -1, 0.0
        rows = g._level_rows[level][cand]
        allowed, confirmed = self.region(q)
        ok = allowed[rows]
        if not ok.any():
            return -1, 0.0
        rows, score = rows[ok], sims[ok].astype(np.float64)
        if not q.from_default:
            score = score + _CONTEXT_BONUS * confirmed[rows]
        if q.township and level in ("poi", "street", "community"):
            ent = g._township[rows]
            known = ent != ""
            score = (
                score
                + _CONTEXT_BONUS * (known & (ent == q.township))
                - _CONTEXT_BONUS * (known & (ent != q.township))
            )
        score = np.clip(score, 0.0, 100.0)
        best = float(score.max())
        if best < threshold:
            return -1, best
        tied = rows[score >= best - 1e-9]
        if len(tied) > 1:
            spread = np.linalg.norm(g._xyz[tied] - g._xyz[tied[0]], axis=1).max()
            if spread > _AMBIGUOUS_M[level]:
                logger.debug(
                    "%r: %d equally good %s matches %.0f m apart", q.parsed.raw, len(tied), level, spread
                )
                return -1, 0.0  # ambiguous: not a near miss either
        return int(tied[0]), best

    def _core_cands(self, q: _Query, text: str) -> _Cands:
        """POI candidates matched without their region prefix (实验中学 ↔ 贵溪市实验中学).

        The prefix must be one of the regions the address names — unless it names none, so
        南京市人民政府 does not match 玄武区人民政府.
        """
        pos, score = self.poi_core_scores.get(text, _NO_CANDS)
        tokens = {t for t in (q.prov, q.city, q.county) if t}
        if not tokens or len(pos) == 0:
            return pos, score
        prefix = self.gaz._poi_prefix[pos]
        ok = (prefix == "") | np.isin(prefix, list(tokens))
        return pos[ok], score[ok]

    def _house_number(self, q: _Query, road: str, number: str) -> _Match | None:
        """Return the OSM address ``road`` + ``number`` (``addr:street``/``addr:housenumber``), if known."""
        rows = self.gaz._addr_index.get((road, _digits(number)), [])
        if not rows:
            return None
        pos = np.searchsorted(self.gaz._level_rows["poi"], rows)
        row, score = self.pick(q, "poi", (pos, np.full(len(pos), 100.0, dtype=np.float32)), self.min_score)
        return _Match(row, "poi", score) if row >= 0 else None

    def match(self, q: _Query) -> _Match:
        """Return the most specific acceptable match of one address."""
        found, near_miss = self._match_address(q)
        if found is None:
            found, near_area = self._match_area(q)
            near_miss = max(near_miss, near_area)
        return found if found is not None else _Match(-1, "unmatched", near_miss)

    def _match_address(self, q: _Query) -> tuple[_Match | None, float]:
        """Poi and street levels: house number on a road, POI names, the road (and the best score below)."""
        p = q.parsed
        near_miss = 0.0
        if p.road and p.number:
            found = self._house_number(q, p.road, p.number)
            if found is not None:
                return found, near_miss
        texts = _poi_texts(q)
        if texts:
            cands = _merge(*(self.poi_scores[t] for t in texts), *(self._core_cands(q, t) for t in texts))
            row, score = self.pick(q, "poi", cands, max(self.min_score, _POI_NAME_MIN_SCORE))
            if row >= 0:
                return _Match(row, "poi", score), near_miss
            near_miss = max(near_miss, score)
        if p.road:
            row, score = self.pick(q, "street", self.street_scores[p.road], self.min_score)
            if row >= 0:
                return _Match(row, "street", score), near_miss
            near_miss = max(near_miss, score)
        if q.alt_road:  # 估衣廊82号, 大学道63号: a road named without 路/街/巷, then a number
            found = self._house_number(q, q.alt_road, q.alt_number)
            if found is not None:
                return found, near_miss
            row, score = self.pick(q, "street", self.street_scores[q.alt_road],
                                   max(self.min_score, _POI_NAME_MIN_SCORE))
            if row >= 0:
                return _Match(row, "street", score), near_miss
        if p.road and p.number and not q.poi:  # a POI named with its address (植物咖啡馆慈悲路18号)
            text = p.local
            cands = _merge(self.poi_scores.get(text, _NO_CANDS), self._core_cands(q, text))
            row, score = self.pick(q, "poi", cands, max(self.min_score, _POI_NAME_MIN_SCORE))
            if row >= 0:
                return _Match(row, "poi", score), near_miss
        return None, near_miss

    def _match_area(self, q: _Query) -> tuple[_Match | None, float]:
        """Community, township and county levels (and the best score below the threshold)."""
        g = self.gaz
        p = q.parsed
        near_miss = 0.0
        if p.community:
            cands = self.community_scores[_canon_community(p.community)]
            row, score = self.pick(q, "community", cands, self.min_score)
            if row >= 0:
                return _Match(row, "community", score), near_miss
            near_miss = max(near_miss, score)
        elif p.poi or p.local:  # a bare place name such as 大岩苏家: exact names only
            bare = (q.poi, p.poi, _strip_building(p.local), p.local)
            cands = _exact(g._community_by_name, *(t for t in bare if t))
            row, score = self.pick(q, "community", cands, self.min_score)
            if row >= 0:
                return _Match(row, "community", score), near_miss
        if q.township:
            row, score = self.pick(q, "township", self.township_scores[q.township], self.min_score)
            if row >= 0:
                return _Match(row, "township", score), near_miss
            near_miss = max(near_miss, score)
        if not q.from_default:  # the default region is context, not evidence of a location
            for token in (q.county, q.city):
                if not token:
                    continue
                row, score = self.pick(q, "county", _exact(g._county_by_core, token), self.min_score)
                if row >= 0:
                    return _Match(row, "county", score), near_miss
        return None, near_miss
