"""The map being drawn, shared by the layer steps of :func:`geo_planner.maps.build_map`."""

from __future__ import annotations

from dataclasses import dataclass, field

import folium
import numpy as np
from numpy.typing import NDArray

from ..vocab import Language
from .elements import Display
from .labels import LABELS

__all__ = ["Canvas"]

FloatArray = NDArray[np.float64]


@dataclass
class Canvas:
    """A folium map with what its layers add to the legend, the notes and the first view.

    Attributes
    ----------
    m
        The map.
    disp
        Converts WGS-84 to the tiles' coordinates.
    lang
        Language of the texts.
    planner
        Whether the reader sees members (``planner``/``admin``) or aggregates only (``viewer``).
    legend
        ``(swatch HTML, label)`` entries, in drawing order.
    notes
        Sentences under the legend.
    bounds_lon, bounds_lat
        Display coordinates of everything drawn, for the first view.
    branch_limit_min
        The own-branch search cut-off of the run (a member beyond it reads ``> 120``).
    has_base
        Whether the extract's own base map is drawn.
    city
        More members than ``MapSettings.max_member_points``: the first view shows the coverage
        picture (members as a grid coloured by coverage, stations, recommendations), the other
        layers start switched off.
    """

    m: folium.Map
    disp: Display
    lang: Language
    planner: bool
    legend: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bounds_lon: list[FloatArray] = field(default_factory=list)
    bounds_lat: list[FloatArray] = field(default_factory=list)
    branch_limit_min: float | None = None
    has_base: bool = False
    city: bool = False

    @property
    def labels(self) -> dict[str, str]:
        """The map's texts in :attr:`lang`."""
        return LABELS[self.lang]

    def extend(self, x: FloatArray, y: FloatArray) -> None:
        """Take display points ``x``/``y`` into the first view's bounds."""
        self.bounds_lon.append(x)
        self.bounds_lat.append(y)
