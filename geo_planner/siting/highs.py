"""The one HiGHS wrapper of the siting models: a MILP as arrays in, an :class:`Outcome` out.

Every siting model (covering, p-median, p-center, phased plan, joint branches) builds its
model as arrays — column costs and bounds, a row-wise sparse constraint matrix, row bounds,
integrality — and passes it here. :func:`solve_milp` hands the arrays to HiGHS in one
``passModel`` call (no term-by-term model building), optionally gives it a feasible start,
runs it under a time limit and returns a frozen :class:`Outcome`. It never raises because the
solver found no solution: callers that need one call :func:`require_solution`.

Example::

    model = Milp(col_cost=c, col_lower=np.zeros(n), col_upper=np.ones(n), integer=True,
                 a=rows, row_lower=lo, row_upper=hi, maximize=True)
    out = solve_milp(model, label="mclp", time_limit_s=10.0, start=x0)
    x = require_solution(out)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from ..errors import SolverError

logger = logging.getLogger(__name__)

__all__ = ["Milp", "Outcome", "require_solution", "solve_milp"]


@dataclass(frozen=True, eq=False)
class Milp:
    """A mixed-integer linear programme as arrays (``row_lower <= a @ x <= row_upper``).

    Attributes
    ----------
    col_cost
        Objective coefficient per column.
    col_lower, col_upper
        Column bounds (``±inf`` allowed).
    integer
        Integrality: one flag per column (``1``/``True`` = integer), or one bool for all.
    a
        Constraint matrix, scipy.sparse of shape ``(rows, columns)``; passed row-wise as is
        (its CSR arrays, in their stored order).
    row_lower, row_upper
        Row bounds (``±inf`` allowed).
    maximize
        Maximise (``True``) or minimise the objective.
    offset
        Constant added to the objective (HiGHS reports objective values with it).
    """

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray | bool
    a: sp.sparray | sp.spmatrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    maximize: bool = False
    offset: float = 0.0

    @property
    def n_col(self) -> int:
        """Number of columns (variables)."""
        return int(len(self.col_cost))

    def integrality(self) -> np.ndarray:
        """Integrality flags as HiGHS takes them (int32, one per column)."""
        if isinstance(self.integer, (bool, np.bool_)):
            return np.full(self.n_col, 1 if self.integer else 0, dtype=np.int32)
        return np.ascontiguousarray(self.integer, dtype=np.int32)

    @property
    def is_mip(self) -> bool:
        """Whether any column is integer."""
        return bool(self.integrality().any())


@dataclass(frozen=True, eq=False)
class Outcome:
    """What HiGHS returned for one :class:`Milp`.

    Attributes
    ----------
    status
        ``"optimal"``, ``"time_limit"``, or HiGHS's model status in snake case
        (``"infeasible"``, ``"objective_target"`` …).
    x
        Column values of the best solution, or ``None`` when HiGHS has none.
    objective
        Objective of ``x`` (offset included); ``nan`` without a solution.
    bound
        Best proven bound on the optimum (MIP dual bound; an LP's optimum); ``nan`` if none.
    gap
        Relative MIP gap (``0.0`` for a solved LP); ``None`` when HiGHS reports none.
    runtime_s
        Seconds HiGHS ran (``run`` only, not the model passing).
    time_limit_s
        The time limit it was given, seconds.
    label
        The caller's name for the model (used in messages).
    """

    status: str
    x: np.ndarray | None
    objective: float
    bound: float
    gap: float | None
    runtime_s: float
    time_limit_s: float
    label: str = "model"

    @property
    def has_solution(self) -> bool:
        """Whether HiGHS returned a feasible solution."""
        return self.x is not None

    @property
    def stopped_by_time_limit(self) -> bool:
        """Whether HiGHS stopped at its time limit (the solution, if any, is not proven optimal)."""
        return self.status == "time_limit"


def _status_name(h: highspy.Highs, model_status: object) -> str:
    if model_status == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if model_status == highspy.HighsModelStatus.kTimeLimit:
        return "time_limit"
    return str(h.modelStatusToString(model_status)).lower().replace(" ", "_")


def _pass(h: highspy.Highs, model: Milp, label: str) -> None:
    a = model.a
    n_col, n_row = model.n_col, int(a.shape[0])
    if int(a.shape[1]) != n_col:
        raise ValueError(f"{label}: matrix has {a.shape[1]} columns but col_cost has {n_col}")
    status = h.passModel(
        n_col, n_row, int(a.nnz),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize),
        float(model.offset),
        np.ascontiguousarray(model.col_cost, dtype=np.float64),
        np.ascontiguousarray(model.col_lower, dtype=np.float64),
        np.ascontiguousarray(model.col_upper, dtype=np.float64),
        np.ascontiguousarray(model.row_lower, dtype=np.float64),
        np.ascontiguousarray(model.row_upper, dtype=np.float64),
        np.ascontiguousarray(a.indptr, dtype=np.int32),  # type: ignore[union-attr]
        np.ascontiguousarray(a.indices, dtype=np.int32),  # type: ignore[union-attr]
        np.ascontiguousarray(a.data, dtype=np.float64),  # type: ignore[union-attr]
        model.integrality(),
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"{label}: HiGHS rejected the model ({n_col} columns, {n_row} rows)")


def solve_milp(
    model: Milp,
    *,
    label: str,
    time_limit_s: float,
    mip_gap: float = 0.0,
    mip_abs_gap: float | None = None,
    presolve: bool = True,
    start: np.ndarray | None = None,
    objective_target: float | None = None,
) -> Outcome:
    """Pass a model to HiGHS as row-wise CSR arrays in one call, solve it, return the outcome.

    Parameters
    ----------
    model
        The MILP (or LP, when no column is integer).
    label
        Name used in log lines and error messages.
    time_limit_s
        HiGHS time limit, seconds (> 0).
    mip_gap
        Relative MIP gap at which HiGHS may stop.
    mip_abs_gap
        Absolute MIP gap (``None``: HiGHS's default, 1e-6).
    presolve
        ``False`` for models the caller already reduced (HiGHS's presolve then finds nothing
        and costs time) or too large for presolve to stop at the time limit.
    start
        A feasible value for **every** column (a partial start makes HiGHS solve a sub-MIP to
        complete it): HiGHS starts from it, so a time-limited solve never returns less.
    objective_target
        Stop as soon as the incumbent reaches this objective (status ``"objective_target"``).

    Returns
    -------
    Outcome
        With ``x = None`` when HiGHS found no feasible solution (see :func:`require_solution`).

    Raises
    ------
    SolverError
        If HiGHS rejects the model (inconsistent arrays).
    """
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if mip_abs_gap is not None:
        h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    h.setOptionValue("random_seed", 0)
    if not presolve:
        h.setOptionValue("presolve", "off")
    if objective_target is not None:
        h.setOptionValue("objective_target", float(objective_target))
    _pass(h, model, label)
    if start is not None:
        h.setSolution(model.n_col, np.arange(model.n_col, dtype=np.int32),
                      np.ascontiguousarray(start, dtype=np.float64))
    t0 = time.perf_counter()
    h.run()
    runtime = time.perf_counter() - t0
    return _outcome(h, model, label, runtime, float(time_limit_s))


def _outcome(h: highspy.Highs, model: Milp, label: str, runtime: float, time_limit_s: float) -> Outcome:
    info = h.getInfo()
    state = _status_name(h, h.getModelStatus())
    x = None
    if int(info.primal_solution_status) == 2:
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value) if x is not None else math.nan
    if model.is_mip:
        gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else math.nan
    else:
        solved = x is not None and state == "optimal"
        gap, bound = (0.0, objective) if solved else (None, math.nan)
    logger.info("%s: HiGHS %s in %.3f s (%d cols, %d rows, %d nz), objective %.6g, gap %s",
                label, state, runtime, model.n_col, model.a.shape[0], model.a.nnz, objective, gap)
    return Outcome(state, x, objective, bound, gap, runtime, time_limit_s, label)


def require_solution(outcome: Outcome) -> np.ndarray:
    """The outcome's column values; raise when HiGHS found none.

    Raises
    ------
    SolverError
        Naming the model, and what to change when the time limit came first.
    """
    if outcome.x is not None:
        return outcome.x
    if outcome.status == "time_limit":
        raise SolverError(f"{outcome.label}: HiGHS found no feasible solution within the time limit of "
                          f"{outcome.time_limit_s:g} s; raise time_limit_s or reduce the instance")
    raise SolverError(f"{outcome.label}: HiGHS could not solve the model (status: {outcome.status})")
