"""The joint-branch models' HiGHS call: a model from numpy arrays in, an :class:`Outcome` out.

This is the seam to the shared HiGHS wrapper of :mod:`geo_planner.siting`: the joint-branch
code needs only :func:`run_highs` (columns ≥ 0 with an upper bound each, one row-wise CSR
matrix with row bounds, all-integer or all-continuous columns, a full warm start, an
absolute MIP gap) and reads the state, solution, relative gap, objective and dual bound of
its :class:`Outcome`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from ...errors import SolverError

log = logging.getLogger(__name__)

#: Above this many columns HiGHS runs without presolve: on the city benchmark (319k columns)
#: its presolve ran for minutes without looking at the time limit.
PRESOLVE_MAX_COLUMNS = 50_000

#: A row block of a model: ``(row, col, value, lower, upper)`` — the entries with rows
#: numbered from 0 within the block, and the block's row bounds.
RowBlock = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    """What HiGHS returned for one model.

    Attributes
    ----------
    state
        ``optimal``, ``time_limit`` or HiGHS's model status in lower case with ``_``.
    x
        Column values of the best solution (``None`` when HiGHS has none).
    gap
        Relative MIP gap (0 for a solved LP; ``None`` when HiGHS gave none).
    runtime_s
        Seconds HiGHS ran.
    objective
        Objective of ``x`` (NaN without a solution).
    bound
        MIP dual bound (the objective for a solved LP; NaN when unknown).
    """

    state: str
    x: np.ndarray | None
    gap: float | None
    runtime_s: float
    objective: float = math.nan
    bound: float = math.nan


def assemble(blocks: list[RowBlock], n_col: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Stack row blocks ``(row, col, value, lower, upper)`` into one CSR matrix and its row bounds."""
    offsets = np.cumsum([0] + [b[3].size for b in blocks])
    rows = np.concatenate([b[0] + off for b, off in zip(blocks, offsets[:-1], strict=True)])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks])
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(int(offsets[-1]), n_col))
    return a, np.concatenate([b[3] for b in blocks]), np.concatenate([b[4] for b in blocks])


def _new_highs(n_col: int, time_limit_s: float, mip_abs_gap: float) -> highspy.Highs:
    """Make a silent, seeded HiGHS with the time limit and gaps (no presolve on large models)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.01)))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    h.setOptionValue("random_seed", 0)
    if n_col > PRESOLVE_MAX_COLUMNS:  # HiGHS's presolve does not stop at the time limit on large models
        h.setOptionValue("presolve", "off")
    return h


def _read_outcome(h: highspy.Highs, integer: bool, runtime: float) -> Outcome:
    """Read the state, solution, gap, objective and bound HiGHS reports after ``run``."""
    model_status = h.getModelStatus()
    info = h.getInfo()
    if model_status == highspy.HighsModelStatus.kOptimal:
        state = "optimal"
    elif model_status == highspy.HighsModelStatus.kTimeLimit:
        state = "time_limit"
    else:
        state = h.modelStatusToString(model_status).lower().replace(" ", "_")
    x = None
    if int(info.primal_solution_status) == 2:
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    gap = float(info.mip_gap) if integer and np.isfinite(info.mip_gap) else None
    objective = float(info.objective_function_value) if x is not None else math.nan
    bound = float(info.mip_dual_bound) if integer and np.isfinite(info.mip_dual_bound) else math.nan
    if not integer and x is not None:
        gap, bound = 0.0, objective
    return Outcome(state, x, gap, runtime, objective, bound)


def run_highs(
    label: str, col_cost: np.ndarray, col_upper: np.ndarray, integer: bool, a: sparse.csr_matrix,
    row_lo: np.ndarray, row_hi: np.ndarray, *, maximize: bool, time_limit_s: float,
    start: np.ndarray | None = None, mip_abs_gap: float = 1e-6,
) -> Outcome:
    """Pass a model to HiGHS as one row-wise CSR matrix, warm-start and solve it.

    Parameters
    ----------
    label
        Names the model in log lines and errors.
    col_cost, col_upper
        Objective coefficient and upper bound per column (every lower bound is 0).
    integer
        Every column integer (else every column continuous).
    a, row_lo, row_hi
        Constraint matrix (rows × columns) and row bounds (±inf for none).
    maximize
        Maximise (else minimise) the objective.
    time_limit_s
        HiGHS's time limit, seconds (at least 0.01).
    start
        A value for *every* column, or ``None`` (a partial start would make HiGHS solve a
        sub-MIP to complete it).
    mip_abs_gap
        Absolute MIP gap at which HiGHS stops (its relative gap is 0).

    Returns
    -------
    Outcome

    Raises
    ------
    SolverError
        If HiGHS rejects the model.
    """
    n_col, n_row = col_cost.shape[0], a.shape[0]
    a = sparse.csr_matrix(a)
    a.sort_indices()
    h = _new_highs(n_col, time_limit_s, mip_abs_gap)
    status = h.passModel(
        int(n_col), int(n_row), int(a.nnz),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize), 0.0,
        np.ascontiguousarray(col_cost, dtype=np.float64), np.zeros(n_col),
        np.ascontiguousarray(col_upper, dtype=np.float64),
        np.ascontiguousarray(row_lo, dtype=np.float64), np.ascontiguousarray(row_hi, dtype=np.float64),
        np.ascontiguousarray(a.indptr, dtype=np.int32), np.ascontiguousarray(a.indices, dtype=np.int32),
        np.ascontiguousarray(a.data, dtype=np.float64), np.full(n_col, 1 if integer else 0, dtype=np.int32),
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"{label}: HiGHS rejected the model ({n_col} columns, {n_row} rows)")
    if start is not None:
        h.setSolution(int(n_col), np.arange(n_col, dtype=np.int32),
                      np.ascontiguousarray(start, dtype=np.float64))
    log.debug("%s: HiGHS starts (%d cols, %d rows, %d nz, time limit %.3g s)", label, n_col, n_row, a.nnz,
              time_limit_s)
    t0 = time.perf_counter()
    h.run()
    out = _read_outcome(h, integer, time.perf_counter() - t0)
    log.info("%s: HiGHS %s in %.3f s (%d cols, %d rows, %d nz), objective %.6g, gap %s", label, out.state,
             out.runtime_s, n_col, n_row, a.nnz, out.objective, out.gap)
    return out
