"""The visit plan as a vehicle routing problem with time windows, solved by PyVRP.

Every (office, day, working span) is a vehicle type with the office's cars: a car leaves the
office at the span's start at the earliest and is back by its end, so the lunch break is kept
(the cars come back between the spans). Homes are *optional* clients with a prize larger than
any detour they can cause (prize-collecting): when everyone fits, everyone is visited; when not,
the plan visits as many as fit and the rest are left out, never a route past closing time. The
objective is the total drive time (seconds).

PyVRP (Wouters et al. 2024, hybrid genetic search) is a heuristic: it gives a feasible plan and
no bound, and the plan says so. :func:`nearest_neighbour` is the plan a person makes by hand
(always the nearest home that still fits), the benchmark's baseline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: Seconds standing in for "no route" in the solver's integer matrix (no feasible route uses it).
NO_ROUTE_S: Final = 10**8


@dataclass(frozen=True)
class Shift:
    """One vehicle type: cars of ``office`` on ``day`` in the span ``[start_s, end_s]`` (seconds of day)."""

    office: int
    day: int
    span: int
    start_s: int
    end_s: int
    cars: int


@dataclass(frozen=True)
class Instance:
    """What the solver needs: offices are stops ``0..n_offices-1``, homes the stops after them.

    Attributes
    ----------
    seconds
        ``(n, n)`` drive seconds between stops (``inf`` where there is no route).
    service_s
        Seconds at each home.
    early_s, late_s
        Per home, the span (seconds of the day) in which the visit must start.
    shifts
        The vehicle types.
    """

    seconds: NDArray[np.float64]
    n_offices: int
    service_s: NDArray[np.int64]
    early_s: NDArray[np.int64]
    late_s: NDArray[np.int64]
    shifts: tuple[Shift, ...]

    @property
    def n_homes(self) -> int:
        """Number of homes."""
        return int(self.service_s.shape[0])


@dataclass(frozen=True)
class Route:
    """One car's tour: its shift, the departure second and the homes (indices into the homes) in order."""

    shift: Shift
    depart_s: float
    homes: tuple[int, ...]


@dataclass(frozen=True)
class Solution:
    """The routes, the homes left out, and what the solver says of its answer."""

    routes: tuple[Route, ...]
    unplanned: NDArray[np.int64]
    status: str
    runtime_s: float
    iterations: int = 0
    notes: dict[str, object] = field(default_factory=dict)


def _int_matrix(seconds: NDArray[np.float64]) -> NDArray[np.int64]:
    """Round seconds up (the plan is never shorter than the times shown); no route: :data:`NO_ROUTE_S`."""
    out = np.where(np.isfinite(seconds), np.ceil(seconds), NO_ROUTE_S)
    return np.minimum(out, NO_ROUTE_S).astype(np.int64)


def fits_alone(inst: Instance) -> NDArray[np.bool_]:
    """Whether each home fits some shift on its own (out, wait for its window, visit, back in time)."""
    mat = _int_matrix(inst.seconds)
    o = inst.n_offices
    ok = np.zeros(inst.n_homes, dtype=bool)
    for sh in inst.shifts:
        out, back = mat[sh.office, o:], mat[o:, sh.office]
        start = np.maximum(sh.start_s + out, inst.early_s)
        ok |= (out < NO_ROUTE_S) & (back < NO_ROUTE_S) & (start <= inst.late_s) & (
            start + inst.service_s + back <= sh.end_s)
    return ok


def solve_vrptw(inst: Instance, *, time_limit_s: float, seed: int = 0) -> Solution:
    """Plan the visits with PyVRP (see the module docstring).

    Parameters
    ----------
    inst
        The instance; every home should fit a shift on its own (:func:`fits_alone`).
    time_limit_s
        PyVRP's run time (it also stops after 2,000 iterations without improvement).
    seed
        PyVRP's seed (the same seed and instance give the same plan).

    Returns
    -------
    Solution
    """
    import pyvrp
    from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

    if inst.n_homes == 0 or not inst.shifts:
        return Solution((), np.arange(inst.n_homes), "nothing to plan", 0.0)
    mat = _int_matrix(inst.seconds)
    o = inst.n_offices
    finite = mat[mat < NO_ROUTE_S]
    prize = int(3 * (finite.max() if finite.size else 0) + inst.service_s.max() + 1000)
    locations = [pyvrp.Location(x=float(i), y=0.0) for i in range(mat.shape[0])]
    depots = [pyvrp.Depot(location=i) for i in range(o)]
    clients = [
        pyvrp.Client(location=o + k, service_duration=int(inst.service_s[k]), tw_early=int(inst.early_s[k]),
                     tw_late=int(inst.late_s[k]), prize=prize, required=False)
        for k in range(inst.n_homes)
    ]
    types = [
        pyvrp.VehicleType(num_available=sh.cars, start_depot=sh.office, end_depot=sh.office,
                          tw_early=sh.start_s, tw_late=sh.end_s, unit_distance_cost=1, unit_duration_cost=0)
        for sh in inst.shifts
    ]
    data = pyvrp.ProblemData(locations=locations, clients=clients, depots=depots, vehicle_types=types,
                             distance_matrices=[mat], duration_matrices=[mat])
    stop = MultipleCriteria([MaxRuntime(time_limit_s), NoImprovement(2000)])
    res = pyvrp.solve(data, stop=stop, seed=seed, display=False, collect_stats=False)
    best = res.best
    routes = []
    for r in best.routes():
        homes = tuple(int(a.idx) for a in r.schedule() if a.is_client())
        if homes:
            routes.append(Route(inst.shifts[r.vehicle_type()], float(r.start_time()), homes))
    planned = np.zeros(inst.n_homes, dtype=bool)
    for r in routes:
        planned[list(r.homes)] = True
    status = "feasible" if best.is_feasible() else "infeasible"
    notes: dict[str, object] = {"solver": "PyVRP", "method": "hybrid genetic search (heuristic)",
                                "bound": None, "gap": None,
                                "bound_note": "PyVRP is a heuristic: it gives no bound"}
    return Solution(tuple(routes), np.flatnonzero(~planned), status, float(res.runtime),
                    int(res.num_iterations), notes)


def nearest_neighbour(inst: Instance, homes: NDArray[np.int64] | None = None) -> Solution:
    """The plan by hand: each car in turn drives to the nearest home that still fits, until none does.

    Parameters
    ----------
    inst
        The instance.
    homes
        The homes to plan (default all).

    Returns
    -------
    Solution
        Status ``nearest neighbour``.
    """
    mat = _int_matrix(inst.seconds)
    o = inst.n_offices
    left = np.zeros(inst.n_homes, dtype=bool)
    left[np.arange(inst.n_homes) if homes is None else homes] = True
    routes = []
    for sh in inst.shifts:
        for _car in range(sh.cars):
            if not left.any():
                break
            at, t, tour = sh.office, float(sh.start_s), []
            while True:
                cand = np.flatnonzero(left)
                drive = mat[at, o + cand]
                start = np.maximum(t + drive, inst.early_s[cand])
                ok = (drive < NO_ROUTE_S) & (start <= inst.late_s[cand]) & (
                    start + inst.service_s[cand] + mat[o + cand, sh.office] <= sh.end_s)
                if not ok.any():
                    break
                pick = int(np.flatnonzero(ok)[np.argmin(np.where(ok, drive, np.inf)[ok])])
                k = int(cand[pick])
                tour.append(k)
                left[k] = False
                t, at = float(start[pick] + inst.service_s[k]), o + k
            if tour:
                routes.append(Route(sh, float(sh.start_s), tuple(tour)))
    unplanned = np.flatnonzero(left)
    return Solution(tuple(routes), unplanned, "nearest neighbour", 0.0)


def drive_total_s(inst: Instance, sol: Solution) -> float:
    """Total drive seconds of a solution's routes (office → homes → office), from the float matrix."""
    o, total = inst.n_offices, 0.0
    for r in sol.routes:
        stops = [r.shift.office, *(o + k for k in r.homes), r.shift.office]
        total += float(inst.seconds[stops[:-1], stops[1:]].sum())
    return total
