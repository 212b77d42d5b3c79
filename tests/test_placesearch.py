"""Placing a member by a named place (issue #18, step 3): the search over the run's offline gazetteer, on the
贵溪 and the 南京 extracts (the same gazetteer the geocoder builds)."""

from __future__ import annotations

import pytest

from geo_planner.errors import InputError
from geo_planner.geocode.gazetteer import Gazetteer
from geo_planner.placesearch import CANDIDATE_COLUMNS, GazetteerCache, place_candidates

from .conftest import ROOT

OSM = [ROOT / "data" / "osm" / "guixi_jiangxi.osm", ROOT / "data" / "osm" / "nanjing_xuanwu.osm"]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return GazetteerCache().get(OSM)


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


def test_the_cache_builds_once() -> None:
    cache = GazetteerCache(max_items=1)
    a = cache.get(OSM[:1])
    assert cache.get(OSM[:1]) is a
    b = cache.get(OSM[1:])
    assert b is not a and cache.get(OSM[1:]) is b
