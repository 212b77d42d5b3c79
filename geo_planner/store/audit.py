"""The audit log of member-level data (PIPL, 等保 2.0): who viewed or exported what, of which run, how many people.

A record holds the actor (a username, or a service token's name), the role, the time, the
run, what was viewed or exported (:data:`geo_planner.vocab.AUDIT_WHATS`), how many people it
concerned, a short non-personal detail (a table and format, a branch id) and the client's
address. Never a name, address, phone or ID number: the log itself holds no personal data.

This module is library code: it knows nothing about HTTP.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from ..atomic import atomic_write
from ..errors import InputError, Problem
from ..vocab import ACTOR_KINDS, AUDIT_WHATS
from .db import Database
from .files import chmod_private
from .util import now

#: Columns of the audit log, in the order of its CSV export.
AUDIT_COLUMNS = ("time", "actor", "actor_kind", "role", "run_id", "what", "n_people", "detail", "client")


@dataclass(frozen=True)
class AuditRecord:
    """One view or export of member-level data (see the module's docstring)."""

    time: str
    actor: str
    actor_kind: str
    role: str
    run_id: str | None
    what: str
    n_people: int
    detail: str | None
    client: str | None


def parse_since(text: str, source: str = "--since") -> str:
    """Return ``text`` (a date ``2026-12-07`` or an ISO 8601 time) as the log's UTC time format.

    Raises
    ------
    InputError
        Not a date or time.
    """
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(Problem(source, None, "since", f"{text!r} is not a date (2026-12-07) or an ISO 8601 "
                                 "time (2026-12-07T08:00:00+08:00)")) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC).isoformat(timespec="seconds")
    except OverflowError:  # year 1 east of UTC, year 9999 west of it: before or after every record
        edge = datetime.min if t.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC).isoformat(timespec="seconds")


class AuditMixin:
    """The audit log of a :class:`~geo_planner.store.Store`."""

    db: Database

    def audit(
        self,
        *,
        actor: str,
        actor_kind: str,
        role: str,
        what: str,
        n_people: int,
        run_id: str | None = None,
        detail: str | None = None,
        client: str | None = None,
    ) -> AuditRecord:
        """Write one audit record (and return it).

        Parameters
        ----------
        actor, actor_kind, role
            Who: a username (``user``) or a configured token's name (``service``), and the role used.
        what
            One of :data:`geo_planner.vocab.AUDIT_WHATS`.
        n_people
            How many people the data concerned.
        run_id, detail, client
            The run, a non-personal detail (table and format, branch id), the client's address.

        Raises
        ------
        ValueError
            An unknown ``what`` or ``actor_kind`` (a programming error: the vocabularies are fixed).
        """
        if what not in AUDIT_WHATS or actor_kind not in ACTOR_KINDS:
            raise ValueError(f"audit: unknown what {what!r} or actor kind {actor_kind!r}")
        rec = AuditRecord(time=now(), actor=actor, actor_kind=actor_kind, role=role, run_id=run_id, what=what,
                          n_people=int(n_people), detail=detail, client=client)
        cols = ", ".join(AUDIT_COLUMNS)
        with self.db.begin() as con:
            con.execute(sa.text(f"INSERT INTO audit ({cols}) VALUES ({', '.join(':' + c for c in AUDIT_COLUMNS)})"),
                        asdict(rec))
        return rec

    def audit_log(self, since: str | None = None, limit: int | None = None) -> list[AuditRecord]:
        """Audit records from ``since`` (UTC ISO 8601, see :func:`parse_since`) on, oldest first.

        Parameters
        ----------
        since
            Earliest time kept (``None``: all).
        limit
            Keep only the newest ``limit`` records.
        """
        where = "WHERE time >= :since" if since else ""
        order = f"ORDER BY time DESC, {self.db.seq} DESC"
        lim = f" LIMIT {int(limit)}" if limit is not None else ""
        with self.db.begin() as con:
            rows = con.execute(sa.text(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit {where} {order}{lim}"),
                               {"since": since} if since else {}).all()
        return [AuditRecord(**r._asdict()) for r in reversed(rows)]


def audit_csv_text(records: list[AuditRecord]) -> str:
    """The records as CSV text (UTF-8 with a BOM when written, so that Excel reads the Chinese)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(AUDIT_COLUMNS)
    for r in records:
        w.writerow(["" if v is None else v for v in asdict(r).values()])
    return buf.getvalue()


def write_audit_csv(records: list[AuditRecord], path: Path | str) -> Path:
    """Write the records to a CSV file atomically (mode 600: who looked at what is itself sensitive)."""

    def writer(tmp: Path) -> None:
        tmp.write_text(audit_csv_text(records), encoding="utf-8-sig")
        chmod_private(tmp, 0o600)

    return atomic_write(path, writer)
