"""Inputs of the station siting models: the cost-matrix builder and the checks at the edge.

Every check collects all problems and raises one :class:`~geo_planner.errors.InputError`
naming the model, the row (weights: the 1-based data row, header included) and the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..errors import InputError, Problem

__all__ = ["Checked", "as_csr", "check_cost", "coverage_pattern", "sparse_cost_matrix", "validate"]


def sparse_cost_matrix(
    rows: npt.ArrayLike, cols: npt.ArrayLike, minutes: npt.ArrayLike, shape: tuple[int, int]
) -> sp.csr_array:
    """Build a p-median cost matrix from allowed pairs, keeping explicit zero costs.

    Parameters
    ----------
    rows, cols
        Member and site index of each allowed pair (no duplicated pair).
    minutes
        Travel time of each pair, minutes (``>= 0``; ``0`` is a valid, stored cost).
    shape
        ``(I, J)``.

    Returns
    -------
    scipy.sparse.csr_array
        Canonical CSR (sorted indices) whose stored entries are exactly the given pairs.

    Raises
    ------
    InputError
        If the arrays differ in length, an index is out of range or a pair is repeated.
    """
    r = np.asarray(rows, dtype=np.int64).ravel()
    c = np.asarray(cols, dtype=np.int64).ravel()
    m = np.asarray(minutes, dtype=np.float64).ravel()
    src = "sparse_cost_matrix"
    if not (len(r) == len(c) == len(m)):
        raise InputError(Problem(src, None, "rows/cols/minutes",
                                 "rows, cols and minutes must have equal length"))
    n_i, n_j = int(shape[0]), int(shape[1])
    if len(r) and (r.min() < 0 or r.max() >= n_i or c.min() < 0 or c.max() >= n_j):
        raise InputError(Problem(src, None, "rows/cols", f"index out of range for shape {shape}"))
    order = np.lexsort((c, r))
    r, c, m = r[order], c[order], m[order]
    if len(r) > 1 and np.any((r[1:] == r[:-1]) & (c[1:] == c[:-1])):
        raise InputError(Problem(src, None, "rows/cols", "a member–site pair is given twice"))
    indptr = np.zeros(n_i + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_i), out=indptr[1:])
    out = sp.csr_array((m, c, indptr), shape=(n_i, n_j))
    out.has_sorted_indices = True
    return out


def as_csr(matrix: object, model: str, field: str, problems: list[Problem]) -> sp.csr_array | None:
    """Copy ``matrix`` to canonical CSR, or add a problem and return ``None`` if it is not sparse 2-D."""
    if not (sp.issparse(matrix)):
        kind = type(matrix).__name__
        problems.append(Problem(model, None, field,
                                f"must be a scipy.sparse matrix of shape (members, sites), got {kind}; "
                                "build it with scipy.sparse.csr_array(...) (dense member × site "
                                "matrices are not accepted)"))
        return None
    if matrix.ndim != 2:  # type: ignore[union-attr]
        problems.append(Problem(model, None, field, "must be 2-dimensional (members, sites)"))
        return None
    csr = sp.csr_array(matrix, copy=True)
    if not csr.has_sorted_indices:
        csr.sort_indices()
    return csr


@dataclass(frozen=True, eq=False)
class Checked:
    """Validated inputs of a siting model.

    Attributes
    ----------
    matrix
        Copy of the member × site matrix as canonical CSR (sorted indices).
    weights
        Member weights (float, ``>= 0``).
    existing
        Boolean mask of existing sites.
    capacity
        Capacity per site, or ``None``.
    """

    matrix: sp.csr_array
    weights: np.ndarray
    existing: np.ndarray
    capacity: np.ndarray | None


def _check_weights(model: str, field: str, weights: npt.ArrayLike | None, n_i: int | None,
                   problems: list[Problem]) -> np.ndarray:
    if weights is None:
        return np.ones(n_i or 0, dtype=np.float64)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append(Problem(model, None, "weights", "must be numbers"))
        w = np.zeros(0)
    if w.ndim != 1:
        problems.append(Problem(model, None, "weights", f"must be 1-dimensional, got shape {w.shape}"))
        w = w.ravel()
    elif n_i is not None and len(w) != n_i:
        problems.append(Problem(model, None, "weights",
                                f"has {len(w)} values but {field} has {n_i} member rows"))
    bad = ~np.isfinite(w)
    if bad.any():
        problems.append(Problem(model, int(np.flatnonzero(bad)[0]) + 2, "weights",
                                f"{int(bad.sum())} weight(s) are NaN or infinite"))
    neg = w < 0
    if neg.any():
        problems.append(Problem(model, int(np.flatnonzero(neg)[0]) + 2, "weights",
                                f"{int(neg.sum())} weight(s) are negative; weights must be >= 0"))
    return w


def _check_existing(model: str, existing: npt.ArrayLike | None, n_j: int | None,
                    problems: list[Problem]) -> np.ndarray:
    ex = np.zeros(n_j or 0, dtype=bool)
    if existing is None:
        return ex
    e = np.asarray(existing)
    if e.ndim != 1 or (n_j is not None and len(e) != n_j):
        problems.append(Problem(model, None, "existing",
                                f"must be a boolean mask of length {n_j} (one per site), "
                                f"got shape {e.shape}"))
    elif e.dtype != bool and not np.isin(e, (0, 1)).all():
        problems.append(Problem(model, None, "existing",
                                "must be a boolean mask (True = existing site), not site indices"))
    else:
        ex = e.astype(bool)
    return ex


def _check_p(model: str, p: int | None, ex: np.ndarray, n_j: int | None, problems: list[Problem]) -> None:
    if p is None:
        return
    n_cand = int((~ex).sum())
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
        problems.append(Problem(model, None, "p", f"must be a non-negative integer, got {p!r}"))
    elif n_j is not None and p > n_cand:
        problems.append(Problem(model, None, "p",
                                f"asks for {p} new sites but only {n_cand} candidate sites are not "
                                f"already existing ({int(ex.sum())} existing of {n_j})"))


def _check_capacity(model: str, capacity: float | npt.ArrayLike | None, n_j: int | None,
                    problems: list[Problem]) -> np.ndarray | None:
    if capacity is None:
        return None
    c = np.asarray(capacity, dtype=np.float64)
    if c.ndim == 0:
        c = np.full(n_j or 0, float(c))
    if c.ndim != 1 or (n_j is not None and len(c) != n_j):
        problems.append(Problem(model, None, "capacity",
                                f"must be a scalar or have length {n_j} (one per site)"))
    elif not np.all(np.isfinite(c)) or np.any(c < 0):
        problems.append(Problem(model, None, "capacity", "must be finite and >= 0"))
    else:
        return c
    return None


def validate(
    model: str,
    matrix: object,
    field: str,
    weights: npt.ArrayLike | None,
    existing: npt.ArrayLike | None,
    p: int | None,
    capacity: float | npt.ArrayLike | None,
    time_limit_s: float,
    mip_gap: float,
    max_exact_size: int,
) -> Checked:
    """Check every input of a siting model, collect all problems and raise once.

    Raises
    ------
    InputError
        Listing every problem found (matrix, weights, existing, p, capacity, solver options).
    """
    problems: list[Problem] = []
    csr = as_csr(matrix, model, field, problems)
    n_i, n_j = csr.shape if csr is not None else (None, None)
    w = _check_weights(model, field, weights, n_i, problems)
    ex = _check_existing(model, existing, n_j, problems)
    _check_p(model, p, ex, n_j, problems)
    cap = _check_capacity(model, capacity, n_j, problems)
    if not time_limit_s > 0:
        problems.append(Problem(model, None, "time_limit_s", "must be > 0"))
    if not 0 <= mip_gap < 1:
        problems.append(Problem(model, None, "mip_gap", "must be in [0, 1)"))
    if not max_exact_size > 0:
        problems.append(Problem(model, None, "max_exact_size", "must be > 0"))
    if problems:
        raise InputError(problems)
    assert csr is not None
    return Checked(csr, w, ex, cap)


def coverage_pattern(csr: sp.csr_array, model: str) -> sp.csr_array:
    """Return the 0/1 pattern (bool data) of a coverage matrix; stored zeros are dropped."""
    data = csr.data
    if data.dtype != bool:
        if not np.all(np.isfinite(data)) or not np.isin(data, (0, 1)).all():
            raise InputError(Problem(model, None, "coverage",
                                     "must hold only 0/1 or booleans (got other values, e.g. travel "
                                     "times); threshold the travel times first"))
    out = sp.csr_array((data.astype(bool), csr.indices, csr.indptr), shape=csr.shape)
    out.eliminate_zeros()
    out.has_sorted_indices = True
    return out


def check_cost(csr: sp.csr_array, unassigned_penalty_min: float | None) -> sp.csr_array:
    """Check a p-median cost matrix (no pair twice, finite minutes >= 0) and the penalty.

    Returns the matrix as float64 CSR, stored entries (explicit zeros included) unchanged.
    """
    c = csr.astype(np.float64)
    if len(c.indices) > 1:
        same = (c.indices[1:] == c.indices[:-1])
        row_starts = np.zeros(len(c.indices), dtype=bool)
        row_starts[c.indptr[:-1][np.diff(c.indptr) > 0]] = True
        if np.any(same & ~row_starts[1:]):
            raise InputError(Problem("p_median", None, "cost", "a member–site pair is stored twice; "
                                     "call sum_duplicates() or build it with sparse_cost_matrix"))
    if c.nnz and (not np.all(np.isfinite(c.data)) or c.data.min() < 0):
        raise InputError(Problem("p_median", None, "cost", "travel minutes must be finite and >= 0 "
                                 "(leave unreachable pairs out of the sparse matrix instead of inf)"))
    if unassigned_penalty_min is not None and not (np.isfinite(unassigned_penalty_min)
                                                   and unassigned_penalty_min > 0):
        raise InputError(Problem("p_median", None, "unassigned_penalty_min", "must be finite and > 0"))
    return c
