"""One way into an OSM extract for every stage that reads it.

The road network (osmnx's XML reader) and the gazetteer (:func:`read_elements`, the one
streaming reader of OSM XML here) both read OSM XML. :func:`osm_xml` gives them the same
file for any accepted extract:

* ``.osm`` / ``.xml`` — the file itself;
* ``.osm.bz2`` / ``.osm.gz`` — the file itself (both readers decompress while reading);
* ``.pbf`` / ``.osm.pbf`` — converted once to OSM XML with pyosmium, cached by content hash
  in the cache folder, so the network and the gazetteer read the very same converted file
  and a ``.pbf`` extract gives the same results as the XML it was made from.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import logging
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, cast

import numpy as np
from numpy.typing import NDArray

from .errors import InputError, Problem

__all__ = [
    "OSM_SUFFIXES", "OsmElement", "assemble_rings", "file_sha256", "osm_xml", "read_elements", "way_coords",
]

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


@dataclass
class OsmElement:
    """A tagged node, way or relation of an OSM XML file (see :func:`read_elements`)."""

    kind: str  # node / way / relation
    osm_id: str
    tags: dict[str, str]
    lon: float = math.nan
    lat: float = math.nan
    refs: tuple[str, ...] = ()
    members: tuple[tuple[str, str, str], ...] = ()  # (type, ref, role)


def _open_osm(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if path.suffix == ".bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    return path.open("rb")


def read_elements(
    path: Path,
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[str, ...]], list[OsmElement]]:
    """Stream an OSM XML file (optionally ``.gz``/``.bz2``), one element at a time.

    Parameters
    ----------
    path
        An OSM XML file, e.g. from :func:`osm_xml`.

    Returns
    -------
    tuple
        Every node's ``(lon, lat)`` by id, every way's node ids by id, and the elements
        that carry tags (:class:`OsmElement`), in file order.

    Raises
    ------
    InputError
        If the file is not valid OSM XML or cannot be read (names the file).
    """
    coords: dict[str, tuple[float, float]] = {}
    way_refs: dict[str, tuple[str, ...]] = {}
    tagged: list[OsmElement] = []
    try:
        with _open_osm(path) as fh:
            for _, elem in ET.iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag not in ("node", "way", "relation"):
                    continue
                osm_id = elem.get("id", "")
                tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                if tag == "node":
                    lon, lat = float(elem.get("lon", "nan")), float(elem.get("lat", "nan"))
                    coords[osm_id] = (lon, lat)
                    if tags:
                        tagged.append(OsmElement("node", osm_id, tags, lon=lon, lat=lat))
                elif tag == "way":
                    refs = tuple(nd.get("ref", "") for nd in elem.iter("nd"))
                    way_refs[osm_id] = refs
                    if tags:
                        tagged.append(OsmElement("way", osm_id, tags, refs=refs))
                else:
                    members = tuple(
                        (m.get("type", ""), m.get("ref", ""), m.get("role", "")) for m in elem.iter("member")
                    )
                    if tags:
                        tagged.append(OsmElement("relation", osm_id, tags, members=members))
                elem.clear()
    except ET.ParseError as exc:
        raise InputError(Problem(str(path), None, None, f"not valid OSM XML: {exc}")) from None
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read OSM file: {exc}")) from None
    return coords, way_refs, tagged


def way_coords(refs: Sequence[str], coords: dict[str, tuple[float, float]]) -> NDArray[np.float64]:
    """``(n, 2)`` lon/lat of the nodes of ``refs`` that the file holds (others skipped)."""
    pts = [coords[r] for r in refs if r in coords]
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


def assemble_rings(ways: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Join multipolygon member ways end to end into closed rings (open leftovers dropped)."""
    rings: list[tuple[str, ...]] = []
    open_parts = [list(w) for w in ways if len(w) >= 2]
    while open_parts:
        ring = open_parts.pop(0)
        grown = True
        while ring[0] != ring[-1] and grown:
            grown = False
            for i, part in enumerate(open_parts):
                if part[0] == ring[-1]:
                    ring += part[1:]
                elif part[-1] == ring[-1]:
                    ring += part[-2::-1]
                elif part[-1] == ring[0]:
                    ring = part[:-1] + ring
                elif part[0] == ring[0]:
                    ring = part[:0:-1] + ring
                else:
                    continue
                open_parts.pop(i)
                grown = True
                break
        if len(ring) >= 4 and ring[0] == ring[-1]:
            rings.append(tuple(ring))
    return rings
