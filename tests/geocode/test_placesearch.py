"""Placing a member by a named place (issue #18, step 3): the search over the run's offline gazetteer, on the
贵溪 and the 南京 extracts (the same gazetteer the geocoder builds)."""

from __future__ import annotations

import pandas as pd
import pytest

from geo_planner.errors import InputError
from geo_planner.geocode.gazetteer import Gazetteer
from geo_planner.placesearch import (
    CANDIDATE_COLUMNS,
    PLACES_FILE,
    PlacesCache,
    place_candidates,
    read_places,
    searchable,
    write_places,
)

from ..support.paths import ROOT

OSM = [ROOT / "data" / "osm" / "guixi_jiangxi.osm", ROOT / "data" / "osm" / "nanjing_xuanwu.osm"]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_osm(OSM)


def test_a_community_and_a_township_of_guixi(gaz: Gazetteer) -> None:
    df = place_candidates(gaz, "花园社区")
    assert list(df.columns) == list(CANDIDATE_COLUMNS)
    top = df.iloc[0]
    assert (top["name"], top["precision"], top["township"], top["county"], top["score"]) == (
        "花园社区", "community", "花园街道", "贵溪市", 100)
    assert 28.2 < top["lat"] < 28.4 and 117.1 < top["lon"] < 117.3
    # part of a name: every place holding it, the finer level first among equal scores
    df = place_candidates(gaz, "花园")
    assert {"花园村", "花园社区", "花园街道"} <= set(df["name"])
    assert set(df.loc[df["name"] == "花园街道", "precision"]) == {"township"}
    assert (df["score"].diff().dropna() <= 0).all()  # best first


def test_a_poi_and_a_county_of_nanjing(gaz: Gazetteer) -> None:
    df = place_candidates(gaz, "八一医院")
    assert df.iloc[0]["name"] == "八一医院" and df.iloc[0]["precision"] == "poi" and df.iloc[0]["lat"] > 32
    df = place_candidates(gaz, "玄武", limit=3)
    assert len(df) == 3 and df.iloc[0]["name"] == "玄武区" and df.iloc[0]["precision"] == "county"


def test_only_the_extracts_places_and_a_clear_error(gaz: Gazetteer) -> None:
    # the national county table is the geocoder's context, not a place of the run's extracts
    assert place_candidates(gaz, "朝阳区").empty
    assert (gaz.entries["source"] == "cpca").any()
    assert place_candidates(gaz, "xyzxyz").empty
    with pytest.raises(InputError) as err:
        place_candidates(gaz, "   ")
    assert err.value.problems[0].field == "q"


def test_the_places_kept_in_a_run_folder_search_alike(gaz: Gazetteer, tmp_path) -> None:
    path = write_places(gaz, tmp_path)
    assert path.name == PLACES_FILE
    kept = read_places(path)
    assert len(kept) == len(searchable(gaz)) > 100 and not (kept["level"] == "").any()
    for q in ("花园社区", "八一医院", "玄武"):
        pd.testing.assert_frame_equal(place_candidates(kept, q), place_candidates(gaz, q), check_dtype=False)


def test_the_geocoding_stage_keeps_the_runs_places(demo_run) -> None:
    _result, _m, out, _stages = demo_run
    kept = read_places(out / PLACES_FILE)
    assert {"community", "township", "poi"} <= set(kept["level"])
    assert (kept["lat"] > 32).any() and (kept["lat"] < 29).any()  # 南京 and 贵溪


def test_the_cache_makes_once() -> None:
    cache = PlacesCache(max_items=1)
    calls = []

    def make(tag: str):
        calls.append(tag)
        return pd.DataFrame({"tag": [tag]})

    a = cache.get("a", lambda: make("a"))
    assert cache.get("a", lambda: make("x")) is a and calls == ["a"]
    b = cache.get("b", lambda: make("b"))
    assert b is not a and cache.get("a", lambda: make("a")) is not a and calls == ["a", "b", "a"]
