"""Writing files so that a reader never sees a half-written one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path | str, writer: Callable[[Path], None]) -> Path:
    """Write a file so that readers see either the old file or the complete new one.

    ``writer`` writes to a temporary path in a private folder next to ``path`` (same file
    system, same file name and extension, so writers that pick a format from the suffix
    work); the result is then moved over ``path`` with :func:`os.replace`.  On error the
    temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path
        Destination file; its parent folder is created when missing.
    writer
        Called once with the temporary path; must create that file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If ``writer`` returned without creating the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmp_dir / path.name
        writer(tmp)
        if not tmp.is_file():
            raise FileNotFoundError(f"writer did not create {tmp}")
        try:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        except OSError:  # pragma: no cover - fsync unsupported (some network file systems)
            pass
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def atomic_savez(path: Path | str, arrays: dict[str, object]) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` with :func:`atomic_write` (point index, siting instance).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import numpy as np

    def write(p: Path) -> None:
        with open(p, "wb") as fh:  # a file object: numpy adds no second ".npz" to the name
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    return atomic_write(path, write)
