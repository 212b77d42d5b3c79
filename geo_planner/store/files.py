"""Files of the store: safe names, private modes (umask 077, files 0600) and the output tables' CSV reader."""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from .. import vocab
from ..vocab import table_file

log = logging.getLogger(__name__)

#: The process umask while the service (or a run's worker) runs: files 0600, folders 0700.
PRIVATE_UMASK = 0o077

#: Tables a finished run can be asked for, and the file each is read from.
RUN_TABLES: Mapping[str, str] = MappingProxyType({name: table_file(name) for name in vocab.RUN_TABLES})
#: Columns read as text whatever they look like (ids must keep leading zeros).
TEXT_COLUMNS = (
    "id", "branch_id", "nearest_station_id", "nearest_hospital_id", "rec_id", "site_id", "member_ids",
    "branch_ids", "area", "township", "community", "name", "branch_name",
    "site_ids", "site_names", "new_site_ids", "new_site_names", "site_name",
)

_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def safe_filename(name: str, default: str = "upload") -> str:
    """Return a file name safe to store: no folders, no control or shell characters, ≤ 120 characters."""
    base = Path(str(name).replace("\\", "/")).name.strip()
    base = _SAFE_NAME.sub("_", base).strip("._") or default
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 110] + dot + ext[:9]) if dot else base[:120]
    return base


def read_table_csv(path: Path | io.StringIO) -> pd.DataFrame:
    """Read an output CSV (UTF-8 with BOM; or text in memory) with id-like columns kept as text."""
    head = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    dtype = {c: str for c in head if c in TEXT_COLUMNS}
    if isinstance(path, io.StringIO):
        path.seek(0)
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=dtype, keep_default_na=True)
    for c in dtype:
        df[c] = df[c].fillna("")
    return df


def is_file(path: Path) -> bool:
    """``path.is_file()`` that answers False instead of raising for names the OS refuses."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def private_files() -> None:
    """Make every file and folder this process creates private (umask 077).

    Member tables, run outputs and the SQLite store hold names and addresses: the service
    and each run's worker process call this at start, so nothing they write (by any library:
    pandas, openpyxl, sqlite, pyogrio) is readable by other users of the machine.
    """
    os.umask(PRIVATE_UMASK)


def chmod_private(path: Path, mode: int) -> None:
    """Set ``mode`` on ``path`` if it exists (a warning, not an error, when the OS refuses)."""
    try:
        if path.exists():
            os.chmod(path, mode)
    except OSError as exc:  # pragma: no cover - e.g. a folder owned by another user
        log.warning("cannot restrict %s to mode %o: %s", path, mode, exc)


def file_mode_600(path: Path, text: str) -> None:
    """Write a private file (mode 600 from its creation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
