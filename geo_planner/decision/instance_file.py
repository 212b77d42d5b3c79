"""The run's station-siting instance on disk (``siting_instance.npz``), re-solved without travel.

The pipeline builds one :class:`~geo_planner.decision.instance.SitingInstance` per run (members ×
candidates, walking minutes cut off at the decision stage's largest threshold) and releases it
after the decision stage; written here as plain arrays (no pickle), the service can re-solve the
station models on it later — with sites locked open or banned — without measuring one walk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..atomic import atomic_savez
from ..errors import InputError, Problem
from .instance import SitingInstance

__all__ = ["load_siting_instance", "save_siting_instance"]

_FORMAT = 1
#: Candidate columns kept (text columns, then numbers and flags).
_TEXT = ("id", "name", "kind", "source")
_NUMBERS = ("lon", "lat")


def save_siting_instance(inst: SitingInstance, path: Path | str) -> Path:
    """Write ``inst`` as an uncompressed ``.npz`` of plain arrays, atomically; return the path."""
    cost = sp.csr_array(inst.cost)
    cand = inst.candidates
    arrays: dict[str, np.ndarray] = {
        "format": np.array(_FORMAT),
        "member_ids": inst.member_ids.astype(str),
        "rows": inst.rows,
        "weights": inst.weights,
        "data": cost.data,
        "indices": cost.indices,
        "indptr": cost.indptr,
        "shape": np.array(cost.shape),
        "cutoff_min": np.array(inst.cutoff_min),
        "existing": inst.existing,
        "threshold_min": np.array(inst.threshold_min),
        "before_min": inst.before_min,
        "precision": inst.precision.astype(str),
        "lon": inst.lon,
        "lat": inst.lat,
    }
    for col in _TEXT:
        arrays[f"cand.{col}"] = (
            cand.get(col, pd.Series("", index=cand.index)).fillna("").astype(str).to_numpy(str)
        )
    for col in _NUMBERS:
        arrays[f"cand.{col}"] = cand[col].to_numpy(float)
    return atomic_savez(path, arrays)


def load_siting_instance(path: Path | str) -> SitingInstance:
    """Read an instance written by :func:`save_siting_instance`.

    Raises
    ------
    InputError
        Not a siting instance file of this format.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != _FORMAT:
                raise ValueError(f"format {int(z['format'])}, expected {_FORMAT}")
            shape = tuple(int(s) for s in z["shape"])
            cost = sp.csr_array((z["data"], z["indices"], z["indptr"]), shape=shape)
            existing = z["existing"].astype(bool)
            cand = pd.DataFrame({c: z[f"cand.{c}"].astype(object) for c in _TEXT})
            for c in _NUMBERS:
                cand[c] = z[f"cand.{c}"]
            cand["existing"] = existing
            return SitingInstance(
                member_ids=z["member_ids"].astype(str),
                rows=z["rows"],
                weights=z["weights"],
                cost=cost,
                cutoff_min=float(z["cutoff_min"]),
                candidates=cand,
                existing=existing,
                threshold_min=float(z["threshold_min"]),
                before_min=z["before_min"],
                precision=z["precision"],
                lon=z["lon"],
                lat=z["lat"],
            )
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(Problem(str(path), None, None, f"not a readable siting instance: {exc}")) from exc
