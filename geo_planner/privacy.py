"""What a viewer may see: aggregates, never a member.

Members' names, addresses and homes are personal data. A *viewer* role sees areas, branches
and recommendations with counts; these helpers strip member ids, names and addresses from
recommendation texts and move any recommended point that sits on a member's home to the
centre of its grid cell. Maps, exports and the API all go through here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: Grid cell (metres) used to aggregate members for viewers.
VIEWER_CELL_M = 500.0
#: The word that replaces a member's name, id or address in texts a viewer sees.
MEMBER_WORD = {"zh": "某成员", "en": "a member"}

FloatArray = NDArray[np.float64]


def str_col(df: pd.DataFrame, name: str, default: str = "") -> pd.Series:
    if name not in df.columns:
        return pd.Series(default, index=df.index, dtype="object")
    return df[name].astype("object").where(df[name].notna(), default).astype(str)


def lonlat(df: pd.DataFrame | None) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    if df is None or len(df) == 0 or "lon" not in df.columns or "lat" not in df.columns:
        empty = np.empty(0)
        return empty, empty, np.empty(0, dtype=bool)
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype="float64")
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype="float64")
    return lon, lat, np.isfinite(lon) & np.isfinite(lat)


def scrub(texts: pd.Series, words: Sequence[str], replacement: str) -> pd.Series:
    """Replace every occurrence of any of ``words`` (longest first) in ``texts``."""
    if texts.empty:
        return texts
    vocabulary = {w for w in words if w}
    lengths = sorted({len(w) for w in vocabulary})
    # find which words occur by hashing every substring of the known lengths (texts are
    # short, the vocabulary may hold every member of a city)
    present: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            for k in lengths:
                present.update(text[i : i + k] for i in range(len(text) - k + 1))
    words = sorted(vocabulary & present, key=len, reverse=True)
    if not words:
        return texts
    pattern = re.compile("|".join(re.escape(w) for w in words))
    return texts.map(lambda s: pattern.sub(replacement, s) if isinstance(s, str) else s)


def viewer_recommendations(
    recs: pd.DataFrame, members: pd.DataFrame | None, lang: str = "zh"
) -> pd.DataFrame:
    """Recommendations a viewer may see: no member ids, names or home points.

    Parameters
    ----------
    recs
        Recommendations (schema of ``siting/schema.py``).
    members
        The run's members (names, ids and addresses to scrub; homes to keep away from).
    lang
        Language of the replacement word.

    Returns
    -------
    pandas.DataFrame
        A copy without ``member_ids``, with texts scrubbed and home points moved.
    """
    out = recs.drop(columns=[c for c in ("member_ids",) if c in recs.columns]).copy()
    if members is None or len(members) == 0:
        return out
    words: list[str] = []
    if "name" in members.columns:
        words += [w for w in str_col(members, "name").tolist() if len(w) >= 2]
    if "id" in members.columns:
        words += [w for w in str_col(members, "id").tolist() if len(w) >= 3]
    if "address" in members.columns:
        words += [w for w in str_col(members, "address").tolist() if len(w) >= 4]
    repl = MEMBER_WORD.get(lang, MEMBER_WORD["zh"])
    for col in ("name", "site_name", "rationale_zh", "rationale_en", "rule"):
        if col in out.columns:
            out[col] = scrub(out[col].astype("object"), words, repl)
    # a point within 30 m of a member's home moves to the centre of its 500 m grid cell
    m_lon, m_lat, m_ok = lonlat(members)
    r_lon, r_lat, r_ok = lonlat(out)
    if m_ok.any() and r_ok.any():
        from scipy.spatial import cKDTree

        k = 111_320.0
        cos = math.cos(math.radians(float(np.nanmedian(m_lat[m_ok]))))
        tree = cKDTree(np.c_[m_lon[m_ok] * k * cos, m_lat[m_ok] * k])
        d, _ = tree.query(np.c_[r_lon[r_ok] * k * cos, r_lat[r_ok] * k])
        near = np.flatnonzero(r_ok)[d < 30.0]
        if near.size:
            dlat = VIEWER_CELL_M / k
            band = np.floor(r_lat[near])
            dlon = VIEWER_CELL_M / (k * np.cos(np.radians(np.minimum(np.abs(band) + 0.5, 89.0))))
            out.loc[out.index[near], "lon"] = (np.floor(r_lon[near] / dlon) + 0.5) * dlon
            out.loc[out.index[near], "lat"] = (np.floor(r_lat[near] / dlat) + 0.5) * dlat
    return out
