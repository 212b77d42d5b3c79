"""The persistent store: datasets and runs in SQLite (default) or PostgreSQL/PostGIS, files in a data folder.

| module | what |
|---|---|
| :mod:`.base` | :class:`Store`: datasets, runs, run outputs |
| :mod:`.datasets`, :mod:`.runs`, :mod:`.scenario` | its dataset half, its run half (queue state, claims), run requests |
| :mod:`.db`, :mod:`.sqlite`, :mod:`.postgres` | the engine, and what differs between the two backends |
| :mod:`.tables` | the record tables' columns, once for both backends |
| :mod:`.queue` | :class:`RunQueue` and :func:`execute_run`: claiming and executing runs |
| :mod:`.records` | :class:`DatasetRecord`, :class:`RunRecord` |
| :mod:`.files` | safe file names, private file modes, the output tables' reader |
| :mod:`.demo` | the embedded demo as records |
| :mod:`.accounts`, :mod:`.audit` | users, sessions, one-time codes, user tokens; the audit log of member-level data |
"""

from .accounts import UserRecord, new_password
from .audit import AuditRecord, audit_csv_text, parse_since, write_audit_csv
from .base import Store
from .db import parse_database_url
from .demo import demo_run, seed_demo
from .files import (
    PRIVATE_UMASK,
    RUN_TABLES,
    file_mode_600,
    private_files,
    read_table_csv,
    safe_filename,
)
from .queue import RunQueue, execute_run
from .records import LAYER_KINDS, DatasetRecord, LayerKind, RunRecord, RunStatus

__all__ = [
    "AuditRecord", "UserRecord", "audit_csv_text", "new_password", "parse_since", "write_audit_csv",
    "LAYER_KINDS", "PRIVATE_UMASK", "RUN_TABLES", "DatasetRecord", "LayerKind", "RunQueue", "RunRecord",
    "RunStatus", "Store", "demo_run", "execute_run", "file_mode_600", "parse_database_url", "private_files",
    "read_table_csv", "safe_filename", "seed_demo",
]
