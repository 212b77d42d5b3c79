"""Geocoding precision levels, most specific first, and which of them are precise enough for travel times."""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..vocab import IMPRECISE_LOCATION

Precision = Literal["poi", "street", "community", "township", "county", "city", "unmatched"]
#: Precision levels, most specific first (``city``: an address naming only another city, placed at
#: its centre — :mod:`geo_planner.geocode.elsewhere`).
PRECISIONS: Final[tuple[str, ...]] = ("poi", "street", "community", "township", "county", "city", "unmatched")
_RANK: Final[dict[str, int]] = {p: i for i, p in enumerate(PRECISIONS)}
#: ``network_status`` of a member placed too coarsely for travel times.
IMPRECISE_STATUS: Final = IMPRECISE_LOCATION


def precise_for_times(precision: ArrayLike, min_precision: str = "community") -> NDArray[np.bool_]:
    """Whether each member's location is precise enough for travel times.

    Parameters
    ----------
    precision
        ``geocode_precision`` values: ``coordinates`` (given in the table: always precise
        enough), one of :data:`PRECISIONS`, or "" / NaN (treated as ``coordinates`` when the
        row has coordinates — the caller masks unlocated rows separately).
    min_precision
        The coarsest level that still gets times (``poi`` < ``street`` < ``community`` <
        ``township`` < ``county``).

    Returns
    -------
    numpy.ndarray of bool
        False for rows geocoded more coarsely than ``min_precision`` (and for ``unmatched``).

    Raises
    ------
    ValueError
        For an unknown ``min_precision``.
    """
    if min_precision not in _RANK or min_precision in ("unmatched", "city"):
        levels = ", ".join(PRECISIONS[:-2])
        raise ValueError(f"min_precision_for_times must be one of {levels}, not {min_precision!r}")
    values = pd.Series(np.asarray(precision, dtype=object).ravel()).fillna("").astype(str)
    rank = values.map(_RANK).fillna(-1).to_numpy()  # coordinates / "" → -1 (finer than poi)
    return rank <= _RANK[min_precision]
