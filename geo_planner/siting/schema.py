"""The one schema every recommendation follows (``recommendations.csv``, API, maps, exports).

Every producer (the station plan, the p-center of the decision stage, branch reorganisation) builds its rows
with :func:`recommendation_row`; :func:`number_recommendations` is the one numbering (``R001…``).
"""

from __future__ import annotations

import math

import pandas as pd

from ..vocab import RECOMMENDATION_KINDS, RecommendationKind  # noqa: F401 (re-exported)

#: Columns of the recommendations table, in order.
RECOMMENDATION_COLUMNS: tuple[str, ...] = (
    "rec_id",          # R001 … (grouped by kind, producer's order within a kind)
    "kind",            # one of RecommendationKind
    "name",            # proposed name, e.g. 城北社区联合党支部 / 新驿站（柏里村）
    "lon", "lat",      # WGS-84 point of the site / meeting place / cluster centre
    "site_id",         # id of the existing station / candidate / branch used, "" if none
    "site_name",       # its name
    "member_ids",      # semicolon-separated member ids
    "n_members",       # number of members concerned
    "branch_ids",      # semicolon-separated original branch ids involved
    "city", "township",
    "before_min",      # median minutes before (to the current branch / nearest station)
    "after_min",       # median minutes after (to the recommended place)
    "max_after_min",   # worst member's minutes after
    "rule",            # the rule satisfied, e.g. "3 ≤ members ≤ 50; ≤ 5 units; all ≤ 20 min walk"
    "rationale_zh",    # one sentence in Chinese
    "rationale_en",    # one sentence in English
    "method",          # highs / greedy / rule, with gap where relevant
    "stability",       # new stations: share of the sensitivity solves choosing the site again (else empty)
    "stability_nearby",  # … choosing it or a site within [siting] stability_radius_m
)

#: Columns a producer may leave out (filled with NaN by :func:`finalize_recommendations`).
OPTIONAL_COLUMNS: tuple[str, ...] = ("stability", "stability_nearby")


def empty_recommendations() -> pd.DataFrame:
    """An empty recommendations table with the right columns."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in RECOMMENDATION_COLUMNS})


def recommendation_row(**values: object) -> dict[str, object]:
    """Make a recommendation row: every column of the schema, ``""`` where ``values`` gives none.

    Parameters
    ----------
    **values
        Column → value; a column outside :data:`RECOMMENDATION_COLUMNS` is kept as given.

    Returns
    -------
    dict
        The row; an infinite number (a median beyond the search cut-off) is NaN: no number in the table.
    """
    row: dict[str, object] = {c: "" for c in RECOMMENDATION_COLUMNS}
    row.update(values)
    for key, value in row.items():
        if isinstance(value, float) and math.isinf(value):
            row[key] = math.nan
    return row


def number_recommendations(df: pd.DataFrame, *, larger_first: bool = False) -> pd.DataFrame:
    """Order recommendations by kind and number them ``R001…`` (the one numbering).

    Parameters
    ----------
    df
        Recommendation rows (any index).
    larger_first
        Within a kind, more members first; otherwise the producer's order (e.g. model, then size).

    Returns
    -------
    pandas.DataFrame
        The rows in :data:`~geo_planner.vocab.RECOMMENDATION_KINDS` order with ``rec_id`` set; the index is
        the input's, so a caller can follow each row back.
    """
    order = {k: i for i, k in enumerate(RECOMMENDATION_KINDS)}
    keys, ascending = ["_k"], [True]
    if larger_first:
        keys, ascending = ["_k", "n_members"], [True, False]
    df = df.assign(_k=df["kind"].map(order)).sort_values(keys, ascending=ascending, kind="stable")
    df = df.drop(columns="_k")
    df["rec_id"] = [f"R{i + 1:03d}" for i in range(len(df))]
    return df


def finalize_recommendations(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate recommendation frames, check columns, and number them R001… (:func:`number_recommendations`)."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return empty_recommendations()
    df = pd.concat(frames, ignore_index=True)
    for col in OPTIONAL_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df else float("nan")
    missing = [c for c in RECOMMENDATION_COLUMNS if c not in df.columns and c != "rec_id"]
    if missing:
        raise ValueError(f"recommendations lack columns {missing}")
    # group by kind; within a kind keep the producer's order (e.g. model, then size)
    df = number_recommendations(df).reset_index(drop=True)
    return df[list(RECOMMENDATION_COLUMNS)]
