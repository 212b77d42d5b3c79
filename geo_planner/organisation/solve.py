"""The joint-branch models' HiGHS call, over the shared wrapper :mod:`geo_planner.siting.highs`.

The joint-branch code builds its models as row blocks (:func:`assemble`) and calls
:func:`run_highs`: columns ≥ 0 with an upper bound each, one row-wise CSR matrix with row
bounds, all-integer or all-continuous columns, a full warm start, an absolute MIP gap (the
relative gap is 0), no presolve on models too large for it to stop at the time limit.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..siting.highs import Milp, Outcome, solve_milp

__all__ = ["PRESOLVE_MAX_COLUMNS", "Outcome", "RowBlock", "assemble", "run_highs"]

#: Above this many columns HiGHS runs without presolve: on the city benchmark (319k columns)
#: its presolve ran for minutes without looking at the time limit.
PRESOLVE_MAX_COLUMNS = 50_000

#: A row block of a model: ``(row, col, value, lower, upper)`` — the entries with rows
#: numbered from 0 within the block, and the block's row bounds.
RowBlock = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def assemble(blocks: list[RowBlock], n_col: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Stack row blocks ``(row, col, value, lower, upper)`` into one CSR matrix and its row bounds."""
    offsets = np.cumsum([0] + [b[3].size for b in blocks])
    rows = np.concatenate([b[0] + off for b, off in zip(blocks, offsets[:-1], strict=True)])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks])
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(int(offsets[-1]), n_col))
    return a, np.concatenate([b[3] for b in blocks]), np.concatenate([b[4] for b in blocks])


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
    n_col = int(col_cost.shape[0])
    a = sparse.csr_matrix(a)
    a.sort_indices()
    model = Milp(col_cost=col_cost, col_lower=np.zeros(n_col), col_upper=col_upper, integer=integer, a=a,
                 row_lower=row_lo, row_upper=row_hi, maximize=maximize)
    # HiGHS's presolve does not stop at the time limit on large models: off above PRESOLVE_MAX_COLUMNS
    return solve_milp(model, label=label, time_limit_s=max(time_limit_s, 0.01), mip_gap=0.0,
                      mip_abs_gap=mip_abs_gap, presolve=n_col <= PRESOLVE_MAX_COLUMNS, start=start)
