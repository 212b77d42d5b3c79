"""What a viewer may see: aggregates, never a member.

Members' names, addresses and homes are personal data. A *viewer* role sees areas, branches
and recommendations with counts; these helpers strip member ids, names and addresses from
recommendation texts and move any recommended point that sits on a member's home to the
centre of its grid cell. Maps, exports and the API all go through here: every rule of the
form "a viewer sees …" lives in this module (the API's routes only call it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .crs import M_PER_DEG_LAT, local_xy, metres_per_degree
from .errors import PermissionDeniedError
from .vocab import IMPRECISE_LOCATION, ROLES, TABLES, Role, TableName

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
        A copy without ``member_ids``, with texts scrubbed, home points moved and the small-cell
        rule applied (:func:`small_recommendations`).
    """
    out = small_recommendations(recs.drop(columns=[c for c in ("member_ids",) if c in recs.columns]), lang)
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
    # a point within 30 m of a member's home moves to the centre of its viewer grid cell
    m_lon, m_lat, m_ok = lonlat(members)
    r_lon, r_lat, r_ok = lonlat(out)
    if m_ok.any() and r_ok.any():
        from scipy.spatial import cKDTree

        lat0 = float(np.nanmedian(m_lat[m_ok]))
        tree = cKDTree(np.c_[local_xy(m_lon[m_ok], m_lat[m_ok], lat0)])
        d, _ = tree.query(np.c_[local_xy(r_lon[r_ok], r_lat[r_ok], lat0)])
        near = np.flatnonzero(r_ok)[d < 30.0]
        if near.size:
            cells = grid_cells(r_lon[near], r_lat[near])
            dlon, dlat = grid_cell_size(cells[:, 0])
            out.loc[out.index[near], "lon"] = (cells[:, 1] + 0.5) * dlon
            out.loc[out.index[near], "lat"] = (cells[:, 2] + 0.5) * dlat
    return out


# --------------------------------------------------------------------------- the viewer grid

def grid_cell_size(band: NDArray[Any], cell_m: float = VIEWER_CELL_M) -> tuple[FloatArray, float]:
    """Cell width and height in degrees of the fixed grid of about ``cell_m`` metres.

    Parameters
    ----------
    band
        Whole-degree latitude band of each cell (``floor(lat)``).
    cell_m
        Cell size, metres.

    Returns
    -------
    tuple
        Width in degrees of longitude per cell (it depends only on the band, so a point falls
        in the same cell on every map) and the height in degrees of latitude.
    """
    lat_mid = np.minimum(np.abs(band) + 0.5, 89.0)
    m_lon, m_lat = metres_per_degree(lat_mid)
    return cell_m / m_lon, cell_m / float(M_PER_DEG_LAT)


def grid_cells(lon: FloatArray, lat: FloatArray, cell_m: float = VIEWER_CELL_M) -> NDArray[np.int64]:
    """Cell of each point on the fixed lon/lat grid anchored at 0°/0° (maps, recommendations).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees, finite.
    cell_m
        Cell size, metres.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` integers: latitude band, column and row; cell ``(b, i, j)`` spans
        longitudes ``i·w … (i+1)·w`` and latitudes ``j·h … (j+1)·h`` (:func:`grid_cell_size`).
    """
    band = np.floor(lat)
    dlon, dlat = grid_cell_size(band, cell_m)
    iy = np.floor(lat / dlat).astype(np.int64)
    ix = np.floor(lon / dlon).astype(np.int64)
    return np.stack([band.astype(np.int64), ix, iy], axis=1)


# --------------------------------------------------------------------------- the small-cell rule

#: Fewest people a number shown to a viewer may describe (counts of 1–4 are suppressed, and
#: no statistic — share, median, percentile — is shown for a group of fewer people).
MIN_GROUP = 5
#: What a suppressed recommendation text says instead.
SUPPRESSED_TEXT = {
    "zh": f"涉及人数少于{MIN_GROUP}人，详情仅供规划人员查看。",
    "en": f"Fewer than {MIN_GROUP} members concerned; details for planners only.",
}
#: Recommendation kinds whose place is a public site (a station), not where a few members live.
_PUBLIC_SITE_KINDS = ("new_station",)


#: Count columns of the summary tables not named ``n_…``/``no_time_…``/``beyond_limit_…``.
_COUNT_COLUMNS = frozenset({IMPRECISE_LOCATION})


def _is_count_column(name: str) -> bool:
    return name.startswith(("n_", "no_time_", "beyond_limit_")) or name in _COUNT_COLUMNS


def small_cell_rule(df: pd.DataFrame, *, size_col: str = "members", min_group: int = MIN_GROUP) -> pd.DataFrame:
    """Apply the viewer's small-cell rule to a summary table (areas, branches).

    * a row describing fewer than ``min_group`` people shows no number at all (its size, shares,
      medians, percentiles and counts become empty) and ``suppressed`` is true;
    * in the other rows every count of 1 to ``min_group - 1`` people (``n_…``, ``no_time_…``,
      ``beyond_limit_…``)
      is emptied, and so is a share whose numerator is such a count;
    * where exactly one community of a township is suppressed, the next smallest one is too, so
      that its size cannot be recovered from the township's total (secondary suppression);
    * texts that quote counts (``flag_note``) are emptied where a number was suppressed.

    Parameters
    ----------
    df
        ``coverage_by_area``, ``coverage_by_branch`` or a branches table with ``size_col``.
    size_col
        The column holding the number of people each row describes.
    min_group
        Smallest group shown (default :data:`MIN_GROUP`).

    Returns
    -------
    pandas.DataFrame
        A copy with numeric columns as floats (NaN where suppressed) and a ``suppressed`` column.
    """
    out = df.copy()
    if len(out) == 0:
        out["suppressed"] = pd.Series(dtype=bool)
        return out
    if size_col in out.columns:
        size = pd.to_numeric(out[size_col], errors="coerce")
    else:  # size unknown: counts are still checked, shares (numerator unknown) are not shown
        size = pd.Series(np.nan, index=out.index)
    small = (size < min_group).fillna(False).to_numpy(dtype=bool, copy=True)
    if {"level", "township"} <= set(out.columns):  # secondary suppression among communities
        comm = (out["level"].astype(str) == "community").to_numpy()
        town = out["township"].astype(str).to_numpy()
        for t in np.unique(town[comm]):
            rows = np.flatnonzero(comm & (town == t))
            if small[rows].sum() == 1 and len(rows) > 1:
                rest = rows[~small[rows]]
                small[rest[np.argmin(size.to_numpy()[rest])]] = True
    numeric = [c for c in out.columns
               if c != "suppressed" and pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])]
    touched = small.copy()
    for c in numeric:
        values = pd.to_numeric(out[c], errors="coerce").astype("float64")
        hide = small.copy()
        if _is_count_column(c):
            hide |= ((values >= 1) & (values < min_group)).to_numpy()
        elif c.startswith("share_"):
            k = (values * size).round()
            hide |= ((k >= 1) & (k < min_group)).to_numpy() | (size.isna() & (values > 0)).to_numpy()
        touched |= hide
        out[c] = _masked(values, hide, integer=pd.api.types.is_integer_dtype(df[c]))
    if "flagged" in out.columns:
        out["flagged"] = out["flagged"].astype("object").where(~small, None)
    for c in ("flag_note",):
        if c in out.columns:
            out[c] = out[c].astype("object").where(~touched, None)
    out["suppressed"] = small
    return out


def share_change_cells(cells: pd.DataFrame, *, min_group: int = MIN_GROUP) -> tuple[pd.DataFrame, int | None]:
    """The small-cell rule for map cells with a coverage share in two runs (the comparison's map).

    ``cells`` has ``members_before``, ``covered_before``, ``members_after``, ``covered_after``,
    ``before``, ``after`` and ``change``. A side's share describing fewer than ``min_group``
    people, or whose numerator is 1 to ``min_group - 1`` covered people, is emptied; the change
    is shown only where both sides are; a cell with neither side shown is left out. Shares are
    rounded to whole per cent (the change is that of the rounded shares).

    Returns
    -------
    cells, suppressed
        The cells kept (without the count columns) and the later run's members in the cells
        left out, when that count is at least ``min_group`` (else ``None``).
    """
    out = cells.copy()
    shown = {}
    for side in ("before", "after"):
        n, k = out[f"members_{side}"].to_numpy(), out[f"covered_{side}"].to_numpy()
        shown[side] = (n >= min_group) & ~((k >= 1) & (k < min_group))
        out[side] = np.where(shown[side], np.round(out[side].to_numpy(float), 2), np.nan)
    out["change"] = np.where(shown["before"] & shown["after"], np.round(out["after"] - out["before"], 2), np.nan)
    keep = shown["before"] | shown["after"]
    hidden = int(out.loc[~keep, "members_after"].sum())
    out = out.loc[keep].drop(columns=["members_before", "covered_before", "members_after", "covered_after"])
    return out.reset_index(drop=True), small_count(hidden, min_group) if hidden else None


def small_recommendations(recs: pd.DataFrame, lang: str = "zh", *, min_group: int = MIN_GROUP) -> pd.DataFrame:
    """Apply the small-cell rule to recommendations a viewer sees.

    A recommendation concerning fewer than ``min_group`` members shows no count, no minutes,
    no rule or rationale (a generic text instead) and no city or township; its point is kept
    only for a new station (a public site), otherwise emptied.
    """
    out = recs.copy()
    if "n_members" not in out.columns or len(out) == 0:
        return out
    n = pd.to_numeric(out["n_members"], errors="coerce")
    small = ((n >= 0) & (n < min_group)).fillna(False).to_numpy(dtype=bool)
    if not small.any():
        return out
    for c in ("n_members", "before_min", "after_min", "max_after_min", "stability", "stability_nearby"):
        if c in out.columns:
            values = pd.to_numeric(out[c], errors="coerce").astype("float64")
            out[c] = _masked(values, small, integer=c == "n_members")
    for c in ("rule", "city", "township"):
        if c in out.columns:
            out[c] = out[c].astype("object").where(~small, None)
    for c, key in (("rationale_zh", "zh"), ("rationale_en", "en")):
        if c in out.columns:
            out[c] = out[c].astype("object").where(~small, SUPPRESSED_TEXT[key])
    if "kind" in out.columns:
        private = small & ~out["kind"].astype(str).isin(_PUBLIC_SITE_KINDS).to_numpy()
        for c in ("lon", "lat"):
            if c in out.columns:
                out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64").where(~private)
        if "name" in out.columns:
            out["name"] = out["name"].astype("object").where(~private, None)
    return out


def _masked(values: pd.Series, hide: NDArray[np.bool_] | pd.Series, *, integer: bool) -> pd.Series:
    """``values`` emptied where ``hide``; integer columns stay integers (nullable ``Int64``)."""
    kept = values.where(~np.asarray(hide, dtype=bool))
    if integer and (kept.dropna() % 1 == 0).all():
        return kept.round().astype("Int64")
    return kept


def small_count(value: float | int | None, min_group: int = MIN_GROUP) -> int | None:
    """A count a viewer may see: ``None`` for 1 to ``min_group - 1`` (and for a missing value)."""
    if value is None or not np.isfinite(float(value)):
        return None
    v = int(value)
    return None if 0 < v < min_group else v


#: Decision-support tables: a count of people and the figures that follow from it.
SMALL_COUNT_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "tradeoff": {"marginal_members": ("marginal_weight", "marginal_share")},
    "phased_plan": {"new_members": ("new_weight",)},
}


def small_counts(df: pd.DataFrame, groups: dict[str, tuple[str, ...]], *, min_group: int = MIN_GROUP) -> pd.DataFrame:
    """Empty every count of 1 to ``min_group - 1`` people, and the figures derived from it.

    Parameters
    ----------
    df
        A table with count columns (e.g. ``tradeoff``: ``marginal_members``).
    groups
        Count column → the columns that follow from the same people (weights, shares).
    min_group
        Smallest group shown (default :data:`MIN_GROUP`).

    Returns
    -------
    pandas.DataFrame
        A copy with those cells empty.
    """
    out = df.copy()
    for count, derived in groups.items():
        if count not in out.columns:
            continue
        values = pd.to_numeric(out[count], errors="coerce")
        hide = ((values >= 1) & (values < min_group)).to_numpy()
        for c in (count, *derived):
            if c in out.columns:
                col = pd.to_numeric(out[c], errors="coerce").astype("float64")
                out[c] = _masked(col, hide, integer=pd.api.types.is_integer_dtype(df[c]))
    return out


#: Cumulative counts a viewer could difference into a hidden small gain: viewers get shares only.
_VIEWER_DROPPED: dict[str, tuple[str, ...]] = {"tradeoff": ("members_covered", "covered_weight", "total_weight")}
#: Shares a viewer sees rounded to whole per cent.
_VIEWER_ROUNDED: dict[str, tuple[str, ...]] = {
    "tradeoff": ("coverage_share", "weighted_coverage_share", "marginal_share"),
    "phased_plan": ("year_coverage_share", "year_weighted_share", "horizon_optimum_share"),
    "sensitivity": ("coverage_share", "weighted_coverage_share", "base_sites_coverage_share"),
}


def viewer_decision_table(df: pd.DataFrame, table: str, *, min_group: int = MIN_GROUP) -> pd.DataFrame:
    """A decision-support table (``tradeoff``, ``phased_plan``, ``sensitivity``) as a viewer sees it.

    Counts of 1 to ``min_group - 1`` people and what follows from them are emptied
    (:data:`SMALL_COUNT_GROUPS`), cumulative counts are dropped and shares rounded to whole per
    cent, so that a small gain cannot be recovered by subtracting two rows; the number of
    members moved in a geocoding draw is a count too.
    """
    out = small_counts(df, SMALL_COUNT_GROUPS.get(table, {}), min_group=min_group)
    out = out.drop(columns=[c for c in _VIEWER_DROPPED.get(table, ()) if c in out.columns])
    for c in _VIEWER_ROUNDED.get(table, ()):
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce").round(2)
    if table == "sensitivity" and {"kind", "value"} <= set(out.columns):
        draw = out["kind"].astype(str).str.contains("geocode").to_numpy()
        v = pd.to_numeric(out["value"], errors="coerce")
        out["value"] = v.where(~(draw & ((v >= 1) & (v < min_group)).to_numpy()))
    return out


# --------------------------------------------------------------------------- each role's view


def redact_for_role(
    df: pd.DataFrame, table: TableName, role: Role, *, members: pd.DataFrame | None = None,
    language: str = "zh",
) -> pd.DataFrame:
    """Remove what the role may not see from a result table.

    A *viewer* (e.g. a leader looking at the overview) never sees a single member:
    members tables are refused; recommendations lose their ``member_ids`` and, given the
    run's ``members``, their texts are scrubbed of member names, ids and addresses and any
    point on a member's home moves to its grid cell's centre (``privacy.viewer_recommendations``).
    Planners and admins see everything.

    Parameters
    ----------
    df
        The table (canonical column names).
    table
        Which table it is.
    role
        ``viewer``, ``planner`` or ``admin``.
    members
        The run's members, needed to scrub recommendations for a viewer.
    language
        Language of the word replacing a member in scrubbed texts.

    Returns
    -------
    pandas.DataFrame
        A copy the role may see.

    Raises
    ------
    PermissionDeniedError
        If a viewer asks for the members table.
    ValueError
        If ``role`` or ``table`` is unknown.
    """
    _check_table(table)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role != "viewer":
        return df.copy()
    if table == "members":
        raise PermissionDeniedError(
            "role 'viewer' may not see individual members; use the coverage summaries or ask a planner"
        )
    if table == "recommendations":
        return viewer_recommendations(df, members, language)
    out = df.drop(columns=[c for c in ("member_ids",) if c in df.columns])
    if table in ("coverage_by_area", "coverage_by_branch", "branches"):
        out = small_cell_rule(out)  # no count under 5, no statistic of fewer than 5 people
    if table in ("tradeoff", "phased_plan", "sensitivity"):  # no gain of one site for 1–4 people, even by subtraction
        out = viewer_decision_table(out, table)
    return out


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; use one of {', '.join(TABLES)}")


def is_viewer(role: str) -> bool:
    """Whether ``role`` sees aggregates only (the viewer role).

    Raises
    ------
    ValueError
        If ``role`` is not one of :data:`geo_planner.vocab.ROLES`.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role == "viewer"


def exportable_tables(role: Role) -> tuple[TableName, ...]:
    """Return the export tables ``role`` may download (a viewer: every table but ``members``)."""
    return tuple(t for t in TABLES if not (is_viewer(role) and t == "members"))


def member_rows_visible(kind: str, role: Role) -> bool:
    """Whether ``role`` may see the rows of a ``kind`` layer (a viewer never sees a member's row)."""
    return not (is_viewer(role) and kind == "members")


def count_for_role(kind: str, role: Role) -> Callable[[Any], int | None]:
    """How a row count of a ``kind`` dataset is shown to ``role``.

    A viewer sees no count of 1–4 member rows (:func:`small_count`); other counts are shown as they are.
    """
    return small_count if not member_rows_visible(kind, role) else _as_int


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


#: What a viewer reads instead of a failed run's error (the library's message may quote a member's row).
VIEWER_RUN_ERROR = "the run failed; a planner can see why"
#: Parts of ``run.json``'s counts a viewer does not get: the models' messages quote member weights of a few people.
PLANNER_ONLY_COUNTS = ("siting",)


def run_error_for_role(error: str | None, role: Role) -> str | None:
    """Return a run's error message as ``role`` may read it."""
    return VIEWER_RUN_ERROR if error and is_viewer(role) else error


def run_counts_for_role(counts: Mapping[str, Any], role: Role) -> dict[str, Any]:
    """Return a run's counts (``run.json``) as ``role`` may read them.

    For a viewer: no count of 1–4 people anywhere (nested too) and none of :data:`PLANNER_ONLY_COUNTS`.
    """
    if not is_viewer(role):
        return dict(counts)
    return {k: _small_nested(v) for k, v in counts.items() if k not in PLANNER_ONLY_COUNTS}


def _small_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _small_nested(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return small_count(value)
    return value


#: Personal data of a member beyond name and address (PIPL): masked in planners' exports unless the
#: planner asks for them in the export (viewers never see a member row at all).
PERSONAL_COLUMNS: tuple[str, ...] = ("id_number", "phone")


def mask_text(value: str, keep_head: int, keep_tail: int) -> str:
    """``value`` with all but its first ``keep_head`` and last ``keep_tail`` characters as ``*``."""
    if len(value) <= keep_head + keep_tail:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]


def mask_personal(df: pd.DataFrame) -> pd.DataFrame:
    """Mask the :data:`PERSONAL_COLUMNS` of a members table.

    身份证号 keeps its first 6 (the county of issue) and last 4 characters
    (``360681********123X``), a phone number its first 3 and last 4 digits (``138****5678``).

    Parameters
    ----------
    df
        A members table (canonical column names); other tables pass unchanged.

    Returns
    -------
    pandas.DataFrame
        A copy with those columns masked (empty cells stay empty).
    """
    out = df.copy()
    for col, head, tail in (("id_number", 6, 4), ("phone", 3, 4)):
        if col in out.columns:
            text = out[col].fillna("").astype(str).replace({"nan": ""})
            out[col] = [mask_text(v, head, tail) if v else "" for v in text]
    return out


def personal_export_requested(run_id: str, table: str, role: str, filename: str) -> None:
    """Hook called when a planner exports members with 身份证号 and phone numbers unmasked.

    The 等保 audit log (recording who exported personal data, when and what) is kept by the
    service's audit module; until it is wired here this logs the request at WARNING level on the
    ``geo_planner.audit`` logger, so nothing unmasked leaves without a trace.
    """
    import logging

    logging.getLogger("geo_planner.audit").warning(
        "personal data exported unmasked: run %s, table %s, file %s, role %s", run_id, table, filename, role)

