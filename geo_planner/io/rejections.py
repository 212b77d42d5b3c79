"""Rejections and warnings: one line per problem, naming the file, row, field and reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..atomic import atomic_write

__all__ = ["REJECTION_COLUMNS", "BoolArray", "FloatArray", "Issues", "write_rejections"]

logger = logging.getLogger(__name__)

#: Columns of :attr:`~geo_planner.io.LayerResult.rejections` (and of the rejections CSV).
REJECTION_COLUMNS: Final[tuple[str, ...]] = ("file", "row", "field", "value", "reason", "action")

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

def write_rejections(rejections: pd.DataFrame, path: Path | str) -> None:
    """Write rejections/warnings as CSV in UTF-8 with a byte-order mark (Excel shows Chinese).

    Parameters
    ----------
    rejections
        A frame with :data:`REJECTION_COLUMNS` (as in :attr:`LayerResult.rejections`,
        possibly several layers concatenated); other columns are written after them.
    path
        Destination; written atomically (:func:`atomic_write`).

    Raises
    ------
    ValueError
        If a column of :data:`REJECTION_COLUMNS` is missing.
    """
    missing = [c for c in REJECTION_COLUMNS if c not in rejections.columns]
    if missing:
        raise ValueError(f"rejections frame lacks column(s) {', '.join(missing)}")
    ordered = rejections[[*REJECTION_COLUMNS, *(c for c in rejections.columns if c not in REJECTION_COLUMNS)]]

    def _write(tmp: Path) -> None:
        ordered.to_csv(tmp, index=False, encoding="utf-8-sig")

    atomic_write(path, _write)
    logger.info("wrote %d rejection/warning line(s) to %s", len(ordered), path)


_Text = str | pd.Series | NDArray[Any] | Callable[[BoolArray], Any]


class Issues:
    """Collects per-row rejections and warnings as small frames, built from boolean masks.

    ``field``, ``value`` and ``reason`` are a string (same for every row), a row-aligned
    Series/array, or a callable receiving the mask and returning the texts of the masked
    rows only — so messages are built for the few problem rows, not for every row.
    """

    def __init__(self, file: str, rows: NDArray[np.int64]) -> None:
        self.file = file
        self.rows = rows
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: BoolArray | pd.Series,
        field: _Text,
        value: _Text,
        reason: _Text,
        action: Literal["rejected", "warning"],
    ) -> None:
        """Record one issue for every row where ``mask`` is true."""
        m = np.asarray(mask, dtype=bool)
        if not m.any():
            return
        pos = np.flatnonzero(m)

        def pick(x: _Text) -> Any:
            if isinstance(x, str):
                return x
            if callable(x):
                return np.asarray(x(m), dtype=object)
            return np.asarray(x, dtype=object)[pos]

        self.parts.append(
            pd.DataFrame(
                {
                    "pos": pos,
                    "field": pick(field),
                    "value": pick(value),
                    "reason": pick(reason),
                    "action": action,
                }
            )
        )

    def add_file(self, field: str, reason: str, action: Literal["rejected", "warning"] = "warning") -> None:
        """Record one issue about the whole file (row left empty)."""
        self.parts.append(
            pd.DataFrame(
                {"pos": [-1], "field": [field], "value": [""], "reason": [reason], "action": [action]}
            )
        )

    def demote(self, since: int, note: str) -> None:
        """Turn the rejections recorded since ``self.parts[since]`` into warnings, ``note`` appended."""
        for i in range(since, len(self.parts)):
            part = self.parts[i]
            rej = part["action"] == "rejected"
            if rej.any():
                part = part.copy()
                part.loc[rej, "reason"] = part.loc[rej, "reason"].astype(str) + note
                part.loc[rej, "action"] = "warning"
                self.parts[i] = part

    def finish(self) -> tuple[pd.DataFrame, BoolArray]:
        """Return the rejections frame and the mask of rejected rows.

        Warnings about rows that are rejected anyway are dropped: a rejected row lists only
        why it was rejected (all the reasons).
        """
        rejected = np.zeros(len(self.rows), dtype=bool)
        if not self.parts:
            empty = pd.DataFrame({c: pd.Series(dtype=str) for c in REJECTION_COLUMNS})
            empty["row"] = empty["row"].astype("Int64")
            return empty, rejected
        allp = pd.concat(self.parts, ignore_index=True)
        is_rej = (allp["action"] == "rejected").to_numpy()
        rejected[allp.loc[is_rej, "pos"].to_numpy(dtype=np.int64)] = True
        pos = allp["pos"].to_numpy(dtype=np.int64)
        keep = is_rej | (pos < 0) | ~rejected[np.maximum(pos, 0)]
        allp = allp.loc[keep]
        pos = allp["pos"].to_numpy(dtype=np.int64)
        row = pd.array(np.where(pos >= 0, self.rows[np.maximum(pos, 0)], 0), dtype="Int64")
        row[pos < 0] = pd.NA
        out = pd.DataFrame(
            {
                "file": self.file,
                "row": row,
                "field": allp["field"].astype(str).to_numpy(),
                "value": allp["value"].astype(str).to_numpy(),
                "reason": allp["reason"].astype(str).to_numpy(),
                "action": allp["action"].to_numpy(),
                "_order": np.arange(len(allp)),
            }
        )
        out = out.sort_values(["row", "_order"], na_position="first", kind="stable").drop(columns="_order")
        return out.reset_index(drop=True), rejected
