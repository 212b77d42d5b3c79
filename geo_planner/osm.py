"""One way into an OSM extract for every stage that reads it.

The road network (osmnx's XML reader) and the gazetteer (a streaming XML reader) both read
OSM XML. :func:`osm_xml` gives them the same file for any accepted extract:

* ``.osm`` / ``.xml`` — the file itself;
* ``.osm.bz2`` / ``.osm.gz`` — the file itself (both readers decompress while reading);
* ``.pbf`` / ``.osm.pbf`` — converted once to OSM XML with pyosmium, cached by content hash
  in the cache folder, so the network and the gazetteer read the very same converted file
  and a ``.pbf`` extract gives the same results as the XML it was made from.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Final

from .errors import InputError, Problem

__all__ = ["OSM_SUFFIXES", "file_sha256", "osm_xml"]

log = logging.getLogger(__name__)

#: File endings accepted as OSM extracts.
OSM_SUFFIXES: Final = (".osm", ".xml", ".osm.bz2", ".osm.gz", ".bz2", ".gz", ".pbf")


def file_sha256(path: Path | str) -> str:
    """Return the SHA-256 hex digest of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def osm_xml(path: Path | str, cache_dir: Path | str | None = None) -> Path:
    """Return an OSM XML file (possibly compressed) with the content of ``path``.

    Parameters
    ----------
    path
        An OSM extract: XML (``.osm``, optionally ``.bz2``/``.gz``) or PBF (``.pbf``).
    cache_dir
        Where a converted PBF is kept (``pbf-<hash>.osm``); the system's temporary folder
        when ``None``.

    Returns
    -------
    pathlib.Path
        ``path`` itself for XML, else the converted file.

    Raises
    ------
    InputError
        If the file is missing or a PBF cannot be read (names the file).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(Problem(str(p), None, None, "OSM extract not found"))
    if p.suffix.lower() != ".pbf":
        return p
    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - osmium is a declared dependency
        raise InputError(Problem(str(p), None, None, "reading .pbf needs the 'osmium' package")) from exc
    workdir = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir())
    out = workdir / f"pbf-{file_sha256(p)[:16]}.osm"
    if out.exists():
        return out
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir / f".{out.name}.{os.getpid()}.tmp.osm"
    if tmp.exists():
        tmp.unlink()
    try:
        with osmium.SimpleWriter(str(tmp)) as writer:
            for obj in osmium.FileProcessor(str(p)):
                writer.add(obj)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(Problem(str(p), None, None, f"cannot read the PBF extract: {exc}")) from None
    os.replace(tmp, out)
    log.info("%s: converted to OSM XML %s", p.name, out)
    return out
