"""Named places to put a member on: a search over the offline gazetteer the geocoder uses.

On the workspace's location review list a planner may place a member by picking a named place
(a 社区/村, a 街道/乡镇, a road or a POI of the run's extracts) instead of clicking the map. The
candidates come from the same :class:`~geo_planner.geocode.gazetteer.Gazetteer` the run's
geocoding stage builds from the run's OSM extracts (the national county table, which holds no
place of the extracts, is left out), each with its precision level (``poi`` … ``county``), its
街道/社区/区县 context and a match score; the pick is kept as a manual placement
(:mod:`geo_planner.placements`). The geocoding stage keeps those places in the run's folder
(:data:`PLACES_FILE`, :func:`write_places`), so a search reads them instead of building the
gazetteer again (runs made before are searched on a gazetteer built from their extracts).
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from .atomic import atomic_write
from .errors import InputError, Problem
from .geocode.gazetteer import Gazetteer
from .geocode.precision import PRECISIONS

__all__ = ["CANDIDATE_COLUMNS", "PLACES_FILE", "PlacesCache", "place_candidates", "run_places", "searchable",
           "write_places"]

#: The run folder's file of the places a member may be put on (written by the geocoding stage).
PLACES_FILE: Final = "places.csv"

#: Columns of :func:`place_candidates`' answer.
CANDIDATE_COLUMNS: Final[tuple[str, ...]] = (
    "name", "precision", "kind", "tag", "county", "township", "community", "lon", "lat", "score",
)
#: Precision levels a planner may pick (finest first).
_LEVELS: Final[tuple[str, ...]] = ("poi", "street", "community", "township", "county")
_RANK: Final[dict[str, int]] = {p: i for i, p in enumerate(PRECISIONS)}
#: Longest query, characters.
MAX_QUERY: Final = 100


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


_PLACE_COLUMNS: Final = ("name", "level", "kind", "tag", "county", "township", "community", "lon", "lat")


def searchable(gaz: Gazetteer) -> pd.DataFrame:
    """The gazetteer's entries a member may be put on: the extracts' named places (no cpca county centre)."""
    e = gaz.entries
    return e.loc[e["level"].isin(_LEVELS) & (e["source"] != "cpca"), list(_PLACE_COLUMNS)].reset_index(drop=True)


def write_places(gaz: Gazetteer, out_dir: Path | str) -> Path:
    """Keep the gazetteer's searchable places in a run folder (:data:`PLACES_FILE`, UTF-8 CSV, atomic)."""
    path = Path(out_dir) / PLACES_FILE
    table = searchable(gaz)
    atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8"))
    return path


def read_places(path: Path | str) -> pd.DataFrame:
    """A run's :data:`PLACES_FILE` as written by :func:`write_places`."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    return df.assign(lon=pd.to_numeric(df["lon"]), lat=pd.to_numeric(df["lat"]))


def place_candidates(
    places: Gazetteer | pd.DataFrame, text: str, *, limit: int = 10, min_score: float = 70.0
) -> pd.DataFrame:
    """The gazetteer's named places that best match ``text``.

    An exact name scores 100, a name holding the query (or held by it, 2+ characters) 90–99 by
    how much of it the query covers, any other name rapidfuzz's ``WRatio``; ties go to the finer
    level. Entries of the national county table (``source = cpca``) are left out: they are not
    places of the run's extracts.

    Parameters
    ----------
    places
        The run's gazetteer, or its searchable places (:func:`searchable`, :func:`read_places`).
    text
        What the planner typed (a 社区/村, 街道, road or POI name, or part of one).
    limit
        Most candidates returned.
    min_score
        Lowest score kept (0–100).

    Returns
    -------
    pandas.DataFrame
        :data:`CANDIDATE_COLUMNS`, best first; ``precision`` is the entry's level, ``score`` a whole
        number, ``lon``/``lat`` WGS-84 rounded to 6 decimals (about 0.1 m).

    Raises
    ------
    InputError
        An empty query or one longer than :data:`MAX_QUERY` characters (field ``q``).
    """
    query = _norm(text or "")
    if not query or len(query) > MAX_QUERY:
        raise InputError(Problem("request", None, "q", f"type 1–{MAX_QUERY} characters of a place name"))
    e = searchable(places) if isinstance(places, Gazetteer) else places
    if e.empty:
        return pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
    names = [_norm(n) for n in e["name"].tolist()]
    fuzzy = process.cdist([query], names, scorer=fuzz.WRatio, dtype=np.float32, workers=1)[0].astype(np.float64)
    lengths = np.fromiter((len(n) for n in names), dtype=np.float64, count=len(names))
    holds = np.fromiter((query in n for n in names), dtype=bool, count=len(names))
    held = np.fromiter((len(n) >= 2 and n in query for n in names), dtype=bool, count=len(names))
    cover = np.where(holds, len(query) / np.maximum(lengths, 1), lengths / len(query))
    contain = np.where(holds | held, 90.0 + 9.0 * np.clip(cover, 0.0, 1.0), 0.0)
    exact = np.fromiter((n == query for n in names), dtype=bool, count=len(names))
    score = np.where(exact, 100.0, np.maximum(np.minimum(fuzzy, 99.0), contain))
    out = e.assign(score=np.round(score), _rank=e["level"].map(_RANK).to_numpy())
    out = out[out["score"] >= min_score]
    out = out.sort_values(["score", "_rank", "name"], ascending=[False, True, True], kind="stable")
    out = out.drop_duplicates(["name", "level", "lon", "lat"]).head(limit)
    out = out.rename(columns={"level": "precision"})
    out["lon"] = out["lon"].round(6)
    out["lat"] = out["lat"].round(6)
    out["score"] = out["score"].astype(int)
    return out[list(CANDIDATE_COLUMNS)].reset_index(drop=True)


class PlacesCache:
    """The searchable places of the last few runs or sets of extracts, made once each (thread-safe).

    Parameters
    ----------
    max_items
        Tables kept.
    """

    def __init__(self, max_items: int = 4) -> None:
        self.max_items = max_items
        self._items: OrderedDict[Hashable, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The table of ``key`` (``make()`` the first time)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            table = make()
            self._items[key] = table
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return table


def run_places(store: Any, run_id: str, cache: PlacesCache) -> pd.DataFrame:
    """The places a member of a run may be put on: the run's :data:`PLACES_FILE`, or (a run made before
    the file was kept) the searchable places of a gazetteer built from the run's OSM extracts.

    Parameters
    ----------
    store
        The service's store.
    run_id
        The run.
    cache
        Where tables are kept.

    Raises
    ------
    NotFoundError
        No such run.
    """
    run = store.get_run(run_id)
    path = Path(run.out_dir) / PLACES_FILE
    if path.is_file():
        return cache.get((str(path), path.stat().st_mtime_ns), lambda: read_places(path))
    scenario = run.scenario_model()
    osm = tuple(str(p) for p in scenario.network.osm)
    return cache.get(osm, lambda: searchable(Gazetteer.from_osm(list(osm),
                                                                cache_dir=scenario.network.resolved_cache_dir())))
