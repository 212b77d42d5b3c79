"""Exceptions raised by geo_planner.

Every library error subclasses :class:`GeoPlannerError`; input errors also subclass
:class:`ValueError` so callers that already catch ``ValueError`` keep working.
Input errors always name the file, the row and the field concerned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class GeoPlannerError(Exception):
    """Base class of every error geo_planner raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    Attributes
    ----------
    file
        Path (or name) of the input file.
    row
        1-based data row number as a planner sees it in a spreadsheet (header is row 1,
        first data row is row 2), or ``None`` when the problem concerns the whole file.
    field
        Column concerned (as written in the file), or ``None``.
    reason
        Human-readable explanation of what is wrong and what to do.
    """

    file: str
    row: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.reason}"


class InputError(GeoPlannerError, ValueError):
    """An input file or value cannot be used.

    Parameters
    ----------
    problems
        One or more :class:`Problem` (all the problems found, raised once), or a message.
    """

    def __init__(self, problems: Problem | Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            message = problems
        else:
            self.problems = [problems] if isinstance(problems, Problem) else list(problems)
            shown = [str(p) for p in self.problems[:20]]
            more = len(self.problems) - len(shown)
            message = "; ".join(shown) + (f"; … and {more} more" if more > 0 else "")
        super().__init__(message)


class ScenarioError(InputError):
    """The scenario file (TOML/JSON) is malformed or refers to missing inputs."""


class CRSError(InputError):
    """Coordinates or a coordinate-system name cannot be interpreted."""


class GeocodeError(GeoPlannerError):
    """Geocoding failed for a reason other than an unmatched address (e.g. no gazetteer)."""


class NetworkError(GeoPlannerError):
    """The road network cannot be built or used (no roads in the extract, bad file)."""


class SolverError(GeoPlannerError):
    """An optimisation model could not be solved (infeasible, solver failure)."""


class NotFoundError(GeoPlannerError, KeyError):
    """A named object (dataset, run, branch, area) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "not found"


class PermissionDeniedError(GeoPlannerError):
    """The caller's role may not see or change the requested data."""


class ConflictError(GeoPlannerError):
    """The request conflicts with the current state (e.g. deleting a dataset a run uses)."""
