"""Siting for one 四就近 function (``[siting] function = "study"``).

"Where should a 老年大学 teaching point go?" is the station plan asked about one function: only
the existing places serving it are sites already open, a member's current walk is the walk to
the nearest place of that function (``walk_min_<function>``), and coverage is measured with the
function's threshold (``[thresholds.functions]``, default ``station_walk_min``). The station
models, the siting instance and the decision stage read the run through a :class:`SitingView`,
so none of them needs to know about functions: the view's members carry the function's time as
``walk_min_station`` and its scenario the function's threshold as ``station_walk_min``.
Without a function the view is the run itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..functions import FUNCTIONS_COLUMN, served_from_text, station_functions, time_column
from ..settings import Scenario
from ..vocab import FUNCTION_LABELS, StationFunction

__all__ = ["SitingView", "siting_view"]


@dataclass(frozen=True)
class SitingView:
    """The run as the station models see it, for one function or for any.

    Attributes
    ----------
    members
        The run's members; with a function, ``walk_min_station`` is the walk to its nearest place.
    stations
        The existing places the models keep open (with a function: those serving it).
    others
        Existing stations not serving the function (empty without one): still meeting places
        for joint branches.
    scenario
        The run's scenario; with a function, ``thresholds.station_walk_min`` is its threshold.
    function
        The function asked for, ``None`` for stations of any function.
    """

    members: pd.DataFrame
    stations: pd.DataFrame
    others: pd.DataFrame
    scenario: Scenario
    function: StationFunction | None

    def branch_sites(self, candidates: pd.DataFrame) -> pd.DataFrame:
        """Meeting places for joint branches: the candidates that are places, and every other station."""
        sites = candidates[candidates["source"] != "network_node"]
        if len(self.others):
            o = self.others
            other = pd.DataFrame({
                "id": o["id"].astype(str), "name": o["name"].astype(str), "kind": "station",
                "source": "existing", "lon": o["lon"].astype(float), "lat": o["lat"].astype(float),
                "existing": True,
            })
            sites = pd.concat([sites, other], ignore_index=True)
        return sites.assign(kind=lambda d: np.where(d["existing"], "station", "candidate"))

    def label(self, recs: pd.DataFrame) -> pd.DataFrame:
        """New-station recommendations saying which function they were sited for."""
        if self.function is None or recs.empty:
            return recs
        zh, en = FUNCTION_LABELS["zh"][self.function], FUNCTION_LABELS["en"][self.function]
        thr = self.scenario.thresholds.station_walk_min
        return recs.assign(
            rationale_zh="【" + zh + "】" + recs["rationale_zh"].astype(str),
            rationale_en=f"[{en}] " + recs["rationale_en"].astype(str),
            rule=(f"function {self.function} (≤ {thr:g} min to a place serving it): "
                  + recs["rule"].astype(str)),
        )


def siting_view(members: pd.DataFrame, stations: pd.DataFrame, scenario: Scenario) -> SitingView:
    """The run as the station models see it under ``[siting] function``.

    Parameters
    ----------
    members
        The run's members (with ``walk_min_<function>`` for every function that has a place).
    stations
        The run's stations (``functions`` column, else their kinds through ``[functions]``).
    scenario
        The run's scenario.

    Returns
    -------
    SitingView
        Without a function: the members, stations and scenario unchanged.
    """
    function = scenario.siting.function
    if function is None:
        return SitingView(members, stations, stations.iloc[:0], scenario, None)
    if FUNCTIONS_COLUMN in stations:
        served = served_from_text(stations[FUNCTIONS_COLUMN])
    else:
        served = station_functions(stations, scenario.functions)[0]
    mask = served[function].to_numpy(bool)
    thr = scenario.thresholds.function_walk_min(function)
    blank = pd.Series(np.nan, index=members.index)
    own = pd.to_numeric(members.get(time_column(function), blank), errors="coerce")
    view_members = members.assign(walk_min_station=own.to_numpy(float))
    view_scenario = scenario.model_copy(
        update={"thresholds": scenario.thresholds.model_copy(update={"station_walk_min": thr})})
    return SitingView(view_members, stations[mask], stations[~mask], view_scenario, function)
