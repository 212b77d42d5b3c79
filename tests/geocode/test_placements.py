"""Manual placements (geo_planner.placements): kept by member id and address text, applied before geocoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo_planner.errors import InputError
from geo_planner.geocode import precise_for_times
from geo_planner.placements import MANUAL_PRECISION, apply_placements, load_placements, put_placement


def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": ["M1", "M2", "M3"], "address": ["雄石街道", "城北社区8号", None],
                         "lon": [np.nan, np.nan, 118.78], "lat": [np.nan, np.nan, 32.04],
                         "geocode_precision": ["", "", "coordinates"], "geocode_score": [np.nan, np.nan, 100.0],
                         "geocode_match": ["", "", ""]})


def test_a_placement_applies_to_the_same_id_and_address_only(tmp_path: Path) -> None:
    path = tmp_path / "placements.json"
    put_placement(path, "M1", " 雄石街道 ", 117.2123456789, 28.29, "zhang")
    put_placement(path, "M2", "另一个地址", 117.3, 28.3, "zhang")  # the roster's address differs: not applied
    put_placement(path, "M3", "", 118.7812, 32.0412, "li")  # a blank address is a key too
    book = load_placements(path)
    assert len(book) == 3 and (path.stat().st_size > 0)
    df = frame()
    mask = apply_placements(df, book)
    assert mask.tolist() == [True, False, True]
    assert df.loc[0, "lon"] == pytest.approx(117.212346) and df.loc[0, "geocode_precision"] == MANUAL_PRECISION
    assert df.loc[2, "geocode_precision"] == MANUAL_PRECISION and df.loc[2, "lat"] == pytest.approx(32.0412)
    assert np.isnan(df.loc[1, "lon"]) and df.loc[1, "geocode_precision"] == ""
    # a second placement of the same member and address replaces the first
    put_placement(path, "M1", "雄石街道", 117.25, 28.31, "wang")
    again = load_placements(path)
    assert len(again) == 3 and again[("M1", "雄石街道")].by == "wang"
    # manual is precise enough for travel times at every level
    assert precise_for_times(["manual"], "poi").tolist() == [True]


def test_bad_points_and_bad_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "placements.json"
    with pytest.raises(InputError, match="lon"):
        put_placement(path, "M1", "x", 181.0, 28.0, "zhang")
    with pytest.raises(InputError, match="lat"):
        put_placement(path, "M1", "x", 117.0, float("nan"), "zhang")
    assert not path.exists()
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(InputError, match="placements.json"):
        load_placements(path)
