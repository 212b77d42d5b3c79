"""Colours of the map's layers (legend swatches use the same)."""

from __future__ import annotations

from typing import Final

from ..vocab import FUNCTIONS, REASONS, RECOMMENDATION_KINDS

__all__ = ["KIND_COLORS", "REASON_COLORS"]

#: Dispersed members by their main reason (the first of remote > cross_township > far).
REASON_COLORS: Final[dict[str, str]] = dict(zip(REASONS, ("#7b3294", "#e66101", "#d7191c"), strict=True))
OTHER_REASON_COLOR: Final[str] = "#777777"
#: Recommendation badges by kind.
KIND_COLORS: Final[dict[str, str]] = dict(
    zip(RECOMMENDATION_KINDS, ("#1a9641", "#2c7bb6", "#f4a582", "#4dac26", "#5e3c99", "#e7298a"), strict=True)
)
UNKNOWN_KIND_COLOR: Final[str] = "#333333"
STATION_COLOR: Final[str] = "#c2185b"
HOSPITAL_COLOR: Final[str] = "#1565c0"
MEMBER_COLOR: Final[str] = "#3182bd"
#: Branch badges without a known share of dispersed members.
BRANCH_COLOR: Final[str] = "#607d8b"
#: Ramp of a branch's share of dispersed members, 0 % → 100 %.
SHARE_COLORS: Final[tuple[str, str, str]] = ("#1a9850", "#fdae61", "#d73027")
#: Ramp of grid-cell member counts, fewest → most.
GRID_COLORS: Final[tuple[str, str, str]] = ("#ffffb2", "#fd8d3c", "#bd0026")
#: Ramp of a grid cell's share of members within walking reach of a station, 0 % → 100 %.
COVERAGE_COLORS: Final[tuple[str, str, str]] = ("#d7191c", "#fdae61", "#1a9641")
#: Badges of the places of each 四就近 function (study, activity, service, contribution).
FUNCTION_COLORS: Final[dict[str, str]] = dict(
    zip(FUNCTIONS, ("#6a3d9a", "#c2185b", "#00838f", "#ef6c00"), strict=True)
)
