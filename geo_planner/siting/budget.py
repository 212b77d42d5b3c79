"""One time limit for a whole siting stage, shared out among its models.

``[siting] time_limit_s`` bounds the **stage**: the station models (MCLP, LSCP, p-median)
and the organisation models (joint branches, one per spatial component) together. A
:class:`TimeBudget` is started when the stage starts; before each model runs it hands out
that model's share of the time *left*, so time a fast model does not use goes to the ones
after it::

    budget = TimeBudget(60.0)
    limit = budget.share(weight=1.0, pending=5.0)   # this model weighs 1 of the 5 still to run

Every model stops at its share (HiGHS's own ``time_limit``, and the model's pre- and
post-processing counted against it), so the stage ends within the limit plus the work that
is not a model (cost matrices, rules), which the benchmark reports separately.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: The smallest share a model gets (seconds), even when the budget is spent: enough for HiGHS
#: to return the heuristic start it was given.
MIN_SHARE_S = 0.05


@dataclass
class TimeBudget:
    """Seconds left of a stage's time limit.

    Parameters
    ----------
    total_s
        The stage's time limit, seconds (> 0).
    """

    total_s: float
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        if not self.total_s > 0:
            raise ValueError(f"time budget must be > 0 s, got {self.total_s!r}")

    @property
    def elapsed_s(self) -> float:
        """Seconds since the budget started."""
        return time.perf_counter() - self.started

    @property
    def left_s(self) -> float:
        """Seconds left (never below 0)."""
        return max(0.0, self.total_s - self.elapsed_s)

    def share(self, weight: float = 1.0, pending: float = 1.0) -> float:
        """The time limit for the next model: ``left × weight / pending`` (at least ``MIN_SHARE_S``).

        Parameters
        ----------
        weight
            The next model's weight.
        pending
            Sum of the weights of every model still to run, this one included.
        """
        if not (weight > 0 and pending >= weight):
            raise ValueError(f"need 0 < weight ({weight}) ≤ pending ({pending})")
        return max(MIN_SHARE_S, self.left_s * weight / pending)

    def deadline(self) -> float:
        """``time.perf_counter()`` value at which the budget is spent."""
        return self.started + self.total_s
