"""Re-solve a finished run's station model with sites locked open or banned, without measuring a walk.

The run's siting instance (``siting_instance.npz``: members × candidate sites, walking minutes,
weights — :mod:`geo_planner.decision.instance_file`) is solved again by the run's own models
(maximal covering or p-median, HiGHS, the run's options) with:

* ``p`` new stations in all, of which the ``lock`` candidates (opened whatever the model says);
* ``ban`` candidates left out (an existing station banned is closed).

The answer says whether HiGHS proved the choice optimal (and the gap when it did not), and
gives the coverage of the run's stations plus the chosen sites as :func:`geo_planner.whatif.what_if`
computes it — exact walks, not the instance's cut-off minutes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .decision.instance import SitingInstance
from .errors import InputError, Problem
from .siting.models.mclp import mclp
from .siting.models.p_median.model import p_median
from .siting.models.p_median.prepared import prepare_p_median, solve_prepared
from .siting.result import SitingResult
from .vocab import Role
from .whatif import REQUEST, NewStation, WhatIfBase, what_if

__all__ = ["OPTIMISE_MODELS", "reoptimise"]

OptimiseModel = Literal["mclp", "p_median"]
#: The models that can be re-solved with locks and bans.
OPTIMISE_MODELS: tuple[OptimiseModel, ...] = ("mclp", "p_median")
#: Cut-off of the p-median's walks, in thresholds (as the run's station plan: ``siting/plan.py``).
P_MEDIAN_CUTOFF = 3.0


def reoptimise(
    base: WhatIfBase,
    inst: SitingInstance,
    *,
    model: str,
    p: int,
    lock: Sequence[str] = (),
    ban: Sequence[str] = (),
    time_limit_s: float = 10.0,
    role: Role = "planner",
) -> dict[str, Any]:
    """Solve ``model`` for ``p`` new stations on the run's instance, ``lock`` forced open, ``ban`` left out.

    Parameters
    ----------
    base
        The run prepared for what-ifs (:func:`geo_planner.whatif.prepare_whatif`).
    inst
        The run's siting instance (:func:`geo_planner.decision.instance_file.load_siting_instance`).
    model
        ``mclp`` (most weight within the threshold) or ``p_median`` (least weighted walk).
    p
        New stations in all, the locked ones included.
    lock, ban
        Candidate ids (``candidates`` of the instance; existing station ids for ``ban``).
    time_limit_s
        HiGHS's time limit; a solve it stops says so (``optimal`` False, the gap).
    role
        Passed to :func:`~geo_planner.whatif.what_if` (viewers: no member ids, small cells hidden).

    Returns
    -------
    dict
        ``model``, ``p``, ``lock``, ``ban``, ``sites`` (id, name, lon, lat, locked), ``status``,
        ``optimal``, ``gap``, ``objective``, ``method``, ``message``, ``solve_ms``, ``coverage``
        (the what-if figures of the run's stations plus the sites) and ``elapsed_ms``.

    Raises
    ------
    InputError
        Unknown model, ``p`` out of range, unknown or conflicting ids (one problem per field).
    """
    t0 = time.perf_counter()
    cand = inst.candidates
    ids = cand["id"].astype(str).to_numpy()
    locked, banned = _checked(model, p, lock, ban, ids, inst.existing)
    n_new = p - int((locked & ~inst.existing).sum())
    s = base.run.scenario.siting
    res, picked = _solve(
        inst,
        model,
        locked,
        banned,
        n_new,
        s.capacity,
        time_limit_s,
        s.mip_gap,
        s.max_exact_size if model == "mclp" else s.max_exact_pmedian_size,
        base.memo,
    )
    chosen = np.union1d(picked, np.flatnonzero(locked & ~inst.existing)).astype(np.int64)
    rows = cand.iloc[chosen]
    sites = [
        {
            "id": str(r.id),
            "name": str(r.name),
            "lon": float(r.lon),
            "lat": float(r.lat),
            "locked": bool(locked[j]),
        }
        for j, r in zip(chosen, rows.itertuples(), strict=True)
    ]
    closed = [str(i) for i in ids[banned & inst.existing]]
    cover = what_if(
        base,
        add=[NewStation(x["lon"], x["lat"], x["name"], x["id"]) for x in sites],
        close=[c for c in closed if c in set(base.station_ids)],
        role=role,
        service_areas=False,
    )
    figures = {k: v for k, v in cover.figures.items() if k != "service_areas"}
    return {
        "model": model,
        "p": p,
        "lock": list(map(str, lock)),
        "ban": list(map(str, ban)),
        "sites": sites,
        "status": res.status,
        "optimal": res.status == "optimal",
        "gap": None if res.gap is None else float(res.gap),
        "objective": float(res.objective),
        "method": res.method,
        "message": res.message,
        "solve_ms": round(res.runtime_s * 1000.0, 1),
        "coverage": figures,
        "elapsed_ms": round((time.perf_counter() - t0) * 1000.0, 1),
    }


def _checked(
    model: str, p: int, lock: Sequence[str], ban: Sequence[str], ids: np.ndarray, existing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the locked and banned candidates; every problem of the request raised at once."""
    problems: list[Problem] = []
    if model not in OPTIMISE_MODELS:
        problems.append(
            Problem(REQUEST, None, "model", f"{model!r} is not one of {', '.join(OPTIMISE_MODELS)}")
        )
    index = pd.Index(ids)
    masks = {"lock": np.zeros(ids.size, bool), "ban": np.zeros(ids.size, bool)}
    for name, given in (("lock", lock), ("ban", ban)):
        pos = index.get_indexer([str(i) for i in given])
        for k in np.flatnonzero(pos < 0):
            problems.append(
                Problem(
                    REQUEST,
                    None,
                    f"{name}[{k}]",
                    f"{given[k]!r} is not a candidate site of this run (see its recommendations)",
                )
            )
        masks[name][pos[pos >= 0]] = True
    both = masks["lock"] & masks["ban"]
    if both.any():
        problems.append(
            Problem(REQUEST, None, "lock,ban", f"locked and banned at once: {', '.join(ids[both][:5])}")
        )
    n_lock = int((masks["lock"] & ~existing).sum())
    n_open = int((~existing & ~masks["ban"]).sum())
    if not (isinstance(p, (int, np.integer)) and n_lock <= p <= n_open):
        problems.append(
            Problem(
                REQUEST,
                None,
                "p",
                f"{p!r}: give a whole number from {n_lock} (the locked sites) "
                f"to {n_open} (the candidates not banned)",
            )
        )
    if problems:
        raise InputError(problems)
    return masks["lock"], masks["ban"]


def model_matrix(inst: SitingInstance, model: str) -> sp.csr_matrix:
    """Return the instance's matrix as ``model`` reads it: coverage within the threshold, or walks to 3× it.

    The run's own rules (``siting/plan.py``); entries are minutes + 1e-9 (``travel.cost_matrix``),
    so no true zero is dropped.
    """
    cut = sp.csr_matrix(inst.cost, copy=True)
    limit = inst.threshold_min if model == "mclp" else P_MEDIAN_CUTOFF * inst.threshold_min + 1e-9
    cut.data = np.where(cut.data <= limit, cut.data, 0.0)
    cut.eliminate_zeros()
    if model == "mclp":
        cut.data = np.ones_like(cut.data)
    return cut


def _p_median_matrix(inst: SitingInstance) -> sp.csr_matrix | sp.csr_array:
    """The instance's matrix as the p-median reads it; the stored one itself when nothing lies beyond the cut-off."""
    limit = P_MEDIAN_CUTOFF * inst.threshold_min + 1e-9
    if inst.cost.nnz == 0 or float(inst.cost.data.max()) <= limit:
        return inst.cost
    return model_matrix(inst, "p_median")


def _solve(
    inst: SitingInstance,
    model: str,
    locked: np.ndarray,
    banned: np.ndarray,
    n_new: int,
    capacity: Any,
    time_limit_s: float,
    mip_gap: float,
    max_exact_size: int,
    memo: dict[str, Any],
) -> tuple[SitingResult, np.ndarray]:
    """One solve of ``model`` without the ``banned`` columns, ``locked`` ones open (the run's own models).

    Returns the result and its new sites as columns of the whole instance. The uncapacitated
    p-median is solved on the instance prepared once per run
    (:mod:`~geo_planner.siting.models.p_median.prepared`: fallbacks and useful pairs kept).
    """
    if model == "p_median" and capacity is None:
        key = "reoptimise.p_median.prepared"
        if key not in memo or memo[key][0] is not inst:  # once per prepared run and instance
            memo[key] = (inst, prepare_p_median(_p_median_matrix(inst), inst.weights, inst.existing))
        res = solve_prepared(memo[key][1], n_new, lock=locked, ban=banned, time_limit_s=time_limit_s,
                             mip_gap=mip_gap, max_exact_size=max_exact_size)
        return res, res.selected
    key = f"reoptimise.{model}"
    if key not in memo or memo[key][0] is not inst:  # once per prepared run, instance and model
        memo[key] = (inst, model_matrix(inst, model))
    full = memo[key][1]
    keep = np.flatnonzero(~banned)
    cut = full if keep.size == inst.cost.shape[1] else full[:, keep]
    solve = mclp if model == "mclp" else p_median
    res = solve(
        cut,
        inst.weights,
        n_new,
        existing=(inst.existing | locked)[keep],
        capacity=capacity,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        max_exact_size=max_exact_size,
    )
    return res, keep[res.selected]
