"""Manual placements: a planner's correction of a member's location, kept and applied to later runs.

On the workspace's location review list a planner places a member whose address was matched only
to a township or county (or not at all) by clicking the map. The correction is kept in the
service's data folder (``<data dir>/placements.json``, written atomically) keyed by the member's
id **and** the address text as written: when the roster's address for that member changes, the old
correction no longer applies (the new address is geocoded again and shows up for review if
coarse). At the geocoding stage of every later run a member with a kept correction gets its point,
``geocode_precision = manual``, score 100 and ``geocode_match = 手工标注``, and is not geocoded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import atomic_write
from .errors import InputError, NotFoundError, Problem

#: The file of kept placements in a service's data folder.
PLACEMENTS_FILE = "placements.json"
#: ``geocode_precision`` of a member placed by hand (precise enough for travel times).
MANUAL_PRECISION = "manual"
#: ``geocode_match`` of a member placed by hand.
MANUAL_MATCH = "手工标注"

_lock = threading.Lock()


@dataclass(frozen=True)
class Placement:
    """One member placed by hand.

    Attributes
    ----------
    member_id, address
        The key: the member's id and the address text as written in the roster.
    lon, lat
        The point (WGS-84).
    by
        Who placed it (a username or service token name; never personal data of the member).
    time
        When (UTC, ISO 8601).
    """

    member_id: str
    address: str
    lon: float
    lat: float
    by: str
    time: str


def _key(member_id: object, address: object) -> tuple[str, str]:
    return str(member_id).strip(), "" if address is None or address != address else str(address).strip()


def load_placements(path: Path | str) -> dict[tuple[str, str], Placement]:
    """Read the kept placements (an absent file: none).

    Raises
    ------
    InputError
        The file is not a placements file (names the file and the entry).
    """
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        rows = json.loads(p.read_text(encoding="utf-8"))["placements"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(Problem(str(p), None, "placements", f"not a placements file: {exc}")) from exc
    out: dict[tuple[str, str], Placement] = {}
    for i, r in enumerate(rows):
        try:
            pl = Placement(str(r["member_id"]), str(r["address"]), float(r["lon"]), float(r["lat"]),
                           str(r.get("by", "")), str(r.get("time", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(Problem(str(p), i + 1, "placements", f"bad placement entry: {exc}")) from exc
        out[_key(pl.member_id, pl.address)] = pl
    return out


def check_point(lon: float, lat: float) -> None:
    """Refuse a point outside WGS-84 longitude/latitude ranges (or not finite).

    Raises
    ------
    InputError
        Naming the field.
    """
    if not (np.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InputError(Problem("request", None, "lon", f"longitude {lon} is not in -180…180"))
    if not (np.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InputError(Problem("request", None, "lat", f"latitude {lat} is not in -90…90"))


def put_placement(path: Path | str, member_id: str, address: str, lon: float, lat: float, by: str) -> Placement:
    """Keep (or replace) the placement of ``member_id`` with ``address``; written atomically.

    Raises
    ------
    InputError
        A point outside WGS-84 ranges, or a blank member id.
    """
    check_point(lon, lat)
    if not str(member_id).strip():
        raise InputError(Problem("request", None, "member_id", "a placement needs the member's id"))
    mid, addr = _key(member_id, address)
    pl = Placement(mid, addr, round(float(lon), 6), round(float(lat), 6), by,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))
    with _lock:
        book = load_placements(path)
        book[(mid, addr)] = pl
        doc = {"placements": [asdict(v) for v in book.values()]}
        atomic_write(Path(path), lambda p: p.write_text(json.dumps(doc, ensure_ascii=False, indent=1),
                                                        encoding="utf-8"))
    return pl


def apply_placements(members: pd.DataFrame, placements: Mapping[tuple[str, str], Placement]) -> pd.Series:
    """Put kept placements on a members frame, in place; return the mask of the rows placed.

    A row is placed when its ``id`` and its ``address`` (as written) match a kept placement:
    its ``lon``/``lat`` become the point, ``geocode_precision`` ``manual``, ``geocode_score`` 100
    and ``geocode_match`` 手工标注.
    """
    if not placements or "id" not in members:
        return pd.Series(False, index=members.index)
    addr = members["address"] if "address" in members else pd.Series("", index=members.index)
    keys = [_key(i, a) for i, a in zip(members["id"].to_numpy(), addr.to_numpy(), strict=True)]
    found = [placements.get(k) for k in keys]
    mask = pd.Series([f is not None for f in found], index=members.index)
    if mask.any():
        hit = [f for f in found if f is not None]
        idx = members.index[mask.to_numpy()]
        members.loc[idx, "lon"] = [f.lon for f in hit]
        members.loc[idx, "lat"] = [f.lat for f in hit]
        members.loc[idx, "geocode_precision"] = MANUAL_PRECISION
        members.loc[idx, "geocode_score"] = 100.0
        members.loc[idx, "geocode_match"] = MANUAL_MATCH
    return mask


def place_run_member(store: Any, run_id: str, member_id: str, lon: float, lat: float, by: str) -> Placement:
    """Keep a placement for a member of a finished run, keyed by the id and the run's address text.

    Parameters
    ----------
    store
        The service's store (its ``data_dir`` holds :data:`PLACEMENTS_FILE`).
    run_id, member_id
        The run and the member (``id``) being placed.
    lon, lat
        The point clicked (WGS-84).
    by
        Who placed it.

    Raises
    ------
    NotFoundError
        No such member in the run.
    InputError
        A point outside WGS-84 ranges.
    """
    from .results import read_table

    members = read_table(store, run_id, "members")
    row = members[members["id"].astype(str) == str(member_id)]
    if row.empty:
        raise NotFoundError(f"run {run_id} has no member {member_id!r}")
    address = row["address"].iloc[0] if "address" in row else ""
    return put_placement(Path(store.data_dir) / PLACEMENTS_FILE, str(member_id), address, lon, lat, by)
