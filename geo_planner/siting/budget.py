"""The one time-budget type of siting, and the one table of how a stage's time is shared.

``[siting] time_limit_s`` bounds the **siting stage** as a whole, from its first line: the
set-up (station candidates, the member × candidate walking minutes, the joint-branch walks
and neighbourhood blocks), the station models (MCLP, LSCP, p-median), the organisation
models (joint branches, one per spatial component) and the rules after them (transfers,
remote branches, party groups). ``[siting] decision_time_limit_s`` bounds the decision stage
(p-center, trade-off curve, sensitivity, phased plan) the same way.

A :class:`TimeBudget` is started when its stage starts. Every part of the stage runs as a
:meth:`TimeBudget.step`, which hands out a child budget (the part's limit) and records the
seconds the part used, so the budget's own accounting says where the time went
(:meth:`TimeBudget.record`, written to ``run.json``). Set-up that overruns shrinks what the
models after it get; a part whose share is spent gets ``MIN_SHARE_S`` and answers with what it
has (its record says so)::

    budget = TimeBudget(60.0, name="siting")
    with budget.step("candidates"):                          # set-up: counted, not limited
        cands = station_candidates(...)
    weights = SHARES["siting"]
    with budget.step("mclp", budget.share(weights["mclp"], pending_weight(weights, todo))) as part:
        mclp(..., time_limit_s=part.total_s)    # todo: the parts not yet run, mclp included

How a stage's time is shared is one table, :data:`SHARES` (the weights of the parts that
share the time *left*: a part gets ``left × weight / pending``, so time a fast part does not
use goes to the ones after it), and :data:`FRACTIONS` (how a part divides its own time among
its steps: the joint-branch model inside the organisation, the p-median's stages).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

log = logging.getLogger(__name__)

__all__ = ["FRACTIONS", "MIN_SHARE_S", "OVERRUN", "SHARES", "TimeBudget", "pending_weight"]

#: The smallest share a model gets (seconds), even when the budget is spent: enough for HiGHS
#: to return the heuristic start it was given.
MIN_SHARE_S: Final = 0.05

#: A stage keeps its limit when it ends within ``(1 + OVERRUN) × limit`` (issue #22: +10 %).
OVERRUN: Final = 0.10

#: How a stage's time is shared among its parts: weights of the parts that share the time
#: left, in the order they run (each gets ``left × weight / pending``, ``pending`` the weights
#: of the parts not yet run, its own included).
SHARES: Final[Mapping[str, Mapping[str, float]]] = {
    # the station models weigh 1 each; the organisation (joint branches and the rules) 2
    "siting": {"mclp": 1.0, "lscp": 1.0, "p_median": 1.0, "capacitated_mclp": 1.0,
               "capacitated_p_median": 1.0, "organisation": 2.0},
    # [siting] decision_time_limit_s
    "decision": {"p_center": 2.0, "tradeoff": 3.0, "sensitivity": 4.0, "phased_plan": 1.0},
}

#: How a part divides its own time (fractions of the part's limit, or of the time it has left).
FRACTIONS: Final[Mapping[str, float]] = {
    # of the siting stage's limit, kept for the steps after the organisation's models (the
    # recommendation table, the admin units of the recommendations)
    "siting.reserve": 0.05,
    # of the organisation's limit: the joint-branch model with its set-up (walks, blocks); the
    # rules (transfers, remote branches, party groups) take the rest
    "organisation.joint_branch": 0.9,
    # of the joint-branch share: when less is left after the members and the transfer walks,
    # only the existing stations are candidate meeting places (fewer walks, a smaller model)
    "organisation.setup_floor": 0.1,
    # of a large component's time left after its flow: the Lagrangian bound (the walks the rest)
    "joint_component.lagrange": 0.4,
    # of the time left for the walks' model (shortest walks with the sites and units fixed): HiGHS
    # overran its limit on it by up to 2× under load, the rest is slack
    "joint_component.walks": 0.5,
    # of the p-median's limit: its Lagrangian stage; of the time left: the Lagrangian branch
    # and bound, then the kernel heuristic
    "p_median.lagrange": 0.25,
    "p_median.branch": 0.8,
    "p_median.kernel": 0.2,
}


def pending_weight(shares: Mapping[str, float], names: Iterable[str], *, extra: float = 0.0) -> float:
    """Sum of the weights of ``names`` in ``shares`` (1 for a name not in the table), plus ``extra``."""
    return sum(float(shares.get(n, 1.0)) for n in names) + extra


@dataclass
class TimeBudget:
    """Seconds of a stage (or of one of its parts), and what each part used of them.

    Parameters
    ----------
    total_s
        The limit, seconds (≥ 0; 0 is a budget spent from the start).
    name
        What the budget is for (``"siting"``, ``"organisation"``, a model's name).
    clock
        The clock, seconds (``time.perf_counter``).

    Attributes
    ----------
    parts
        One child budget per :meth:`step`, in the order they ran.
    stopped
        Clock value when the budget's step ended (``None`` while it runs).
    notes
        What the part had to give up for lack of time (e.g. "the joint-branch model got 0.05 s
        after a set-up of 12.3 s: greedy grouping"); :meth:`record` lists them.
    """

    total_s: float
    name: str = "stage"
    clock: Callable[[], float] = time.perf_counter
    started: float = field(default=-1.0)
    parts: list[TimeBudget] = field(default_factory=list)
    stopped: float | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.total_s >= 0:
            raise ValueError(f"time budget must be ≥ 0 s, got {self.total_s!r}")
        if self.started < 0:
            self.started = self.clock()

    @property
    def elapsed_s(self) -> float:
        """Seconds since the budget started (until it stopped)."""
        return (self.clock() if self.stopped is None else self.stopped) - self.started

    @property
    def left_s(self) -> float:
        """Seconds left (never below 0)."""
        return max(0.0, self.total_s - self.elapsed_s)

    @property
    def spent(self) -> bool:
        """True once no time is left."""
        return self.left_s <= 0.0

    def deadline(self) -> float:
        """Clock value at which the budget is spent."""
        return self.started + self.total_s

    def share(self, weight: float = 1.0, pending: float = 1.0) -> float:
        """The time limit for the next part: ``left × weight / pending`` (at least ``MIN_SHARE_S``).

        Parameters
        ----------
        weight
            The next part's weight (:data:`SHARES`).
        pending
            Sum of the weights of every part still to run, this one included.
        """
        if not (weight > 0 and pending >= weight):
            raise ValueError(f"need 0 < weight ({weight}) ≤ pending ({pending})")
        return max(MIN_SHARE_S, self.left_s * weight / pending)

    def limit(self, cap_s: float, pending: int = 1) -> float:
        """Time limit of the next of ``pending`` equal solves: ``min(cap, left / pending)``, ≥ ``MIN_SHARE_S``."""
        return max(MIN_SHARE_S, min(cap_s, self.left_s / max(pending, 1)))

    def part(self, weight: float, pending: float, name: str = "part") -> TimeBudget:
        """A child budget of ``left × weight / pending`` seconds (may be 0), started now, recorded as a part."""
        child = TimeBudget(max(self.left_s * weight / pending, 0.0), name=name, clock=self.clock)
        self.parts.append(child)
        return child

    @contextmanager
    def step(self, name: str, limit_s: float | None = None) -> Iterator[TimeBudget]:
        """Run one part of the stage: a child budget of ``limit_s`` (default: all the time left).

        The child is recorded in :attr:`parts` with the seconds it used, whether or not the part
        kept to it (set-up cannot stop half-way; the parts after it get less).
        """
        child = TimeBudget(max(self.left_s if limit_s is None else float(limit_s), 0.0), name=name,
                           clock=self.clock)
        self.parts.append(child)
        try:
            yield child
        finally:
            child.stop()

    def stop(self) -> None:
        """Freeze :attr:`elapsed_s` (the part is over)."""
        if self.stopped is None:
            self.stopped = self.clock()

    def note(self, text: str) -> None:
        """Record what the part gave up for lack of time (also logged)."""
        self.notes.append(text)
        log.warning("%s: %s", self.name, text)

    @property
    def within(self) -> bool:
        """True when the part used at most ``(1 + OVERRUN) ×`` its limit (or ``MIN_SHARE_S`` more)."""
        return self.elapsed_s <= (1 + OVERRUN) * self.total_s + MIN_SHARE_S

    def record(self) -> dict[str, Any]:
        """The accounting for ``run.json``: limit, seconds used, kept or not, the parts and notes."""
        out: dict[str, Any] = {"limit_s": round(self.total_s, 3), "used_s": round(self.elapsed_s, 3),
                               "within_limit": self.within}
        if self.parts:
            parts: dict[str, Any] = {}
            for p in self.parts:  # a name that repeats (one part per component …) is numbered
                key, k = p.name, 1
                while key in parts:
                    k += 1
                    key = f"{p.name} {k}"
                parts[key] = p.record()
            out["parts"] = parts
            out["other_s"] = round(max(self.elapsed_s - sum(p.elapsed_s for p in self.parts), 0.0), 3)
        if self.notes:
            out["notes"] = list(self.notes)
        return out
