"""On-disk cache of built road networks, keyed on the extracts' content and the options that change them."""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

from .atomic import atomic_write
from .osm import file_sha256

__all__ = ["CACHE_VERSION", "cache_key", "load_cached", "save_cached"]

log = logging.getLogger(__name__)

#: Bump when the cached structure changes, so stale caches are rebuilt.
CACHE_VERSION = 4


def cache_key(paths: Sequence[Path | str], mode: str, *, walk_speed_kmh: float, fallback_kmh: float) -> str:
    """Key a built network on the extracts' content and the options that change it."""
    h = hashlib.sha256(f"v{CACHE_VERSION}|{mode}|{walk_speed_kmh:.6f}|{fallback_kmh:.6f}".encode())
    for p in paths:
        h.update(file_sha256(p).encode())
    return h.hexdigest()[:32]


def load_cached(cache_file: Path) -> object | None:
    """Return the object pickled in ``cache_file``; ``None`` when it is missing or unreadable.

    A corrupt cache is rebuilt by the caller, not fatal.
    """
    if not cache_file.exists():
        return None
    try:
        with open(cache_file, "rb") as fh:
            return pickle.load(fh)
    except Exception:
        log.warning("ignoring unreadable network cache %s", cache_file)
        return None


def save_cached(obj: object, cache_file: Path) -> None:
    """Pickle ``obj`` to ``cache_file`` atomically (:func:`~geo_planner.atomic.atomic_write`)."""

    def dump(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)

    atomic_write(cache_file, dump)
