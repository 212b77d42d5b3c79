"""Precomputed answers for "what serves this point", so a point query is a snap and a lookup.

When a run finishes, for each facility type (stations and branch meeting places on foot,
hospitals by car) the index stores, for every road node:

* the minutes to the **nearest** facility and which one it is (one multi-source Dijkstra on
  the reversed graph, ``min_only``), and
* the minutes to **every** facility within the type's threshold (one cut-off Dijkstra per
  chunk of facilities), as a sparse node × facility matrix.

The same two lookups are kept per 四就近 function that has a place (layers ``study``,
``activity``, ``service``, ``contribution``: the stations serving it, per the stations table's
``functions`` column, with the function's threshold ``[thresholds.functions]``).

A point on edge ``(u, v)`` at fraction ``t`` then needs, for facility ``f``::

    access + min(t·bwd + D[u, f],  (1−t)·fwd + D[v, f],  along the edge when f is on it)

which is exact within the threshold: a trip of at most the threshold leaves the edge through
a node whose own time is at most the threshold, and that node's entry is stored. The same
arithmetic on the nearest-facility arrays gives the nearest station at any distance. The
answers equal :func:`geo_planner.coverage.point_coverage` (full Dijkstras per query).

The index is written next to a run's outputs (``point_index.npz``, arrays only, no pickle)
and kept in memory by the service with the run's networks.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from .atomic import atomic_savez
from .errors import InputError, Problem
from .functions import FUNCTIONS_COLUMN, served_from_text
from .network import RoadNetwork, Snap
from .settings import Thresholds
from .travel import _augmented_reverse, _part
from .vocab import FUNCTIONS

log = logging.getLogger(__name__)

__all__ = ["FacilityLayer", "PointIndex", "build_point_index", "load_point_index", "save_point_index"]

#: Layers of a point index: (name, network, threshold attribute of :class:`Thresholds`).
LAYERS = (("stations", "walk", "station_walk_min"), ("branches", "walk", "branch_walk_min"),
          ("hospitals", "drive", "hospital_drive_min"))
_FORMAT = 3  # 2: the networks' fingerprint; 3: layers per 四就近 function (older indexes are rebuilt)


@dataclass(frozen=True)
class FacilityLayer:
    """One facility type's precomputed times.

    Attributes
    ----------
    ids, names
        Facility ids and names (strings), in table order.
    limit_min
        Threshold of the type, minutes: ``within`` holds every node–facility time up to it.
    within
        CSR ``(n_nodes, n_facilities)`` of seconds from the node to the facility, stored only
        up to ``limit_min`` (values offset by 1e-9 s so a zero stays stored).
    nearest_s, nearest_fac
        Seconds from each node to its nearest facility (``inf`` if none) and that facility
        (``-1``).
    edge, frac, access_m
        Where each facility snapped (``edge == -1``: off-network), for trips along one edge.
    """

    ids: np.ndarray
    names: np.ndarray
    limit_min: float
    within: sparse.csr_matrix
    nearest_s: np.ndarray
    nearest_fac: np.ndarray
    edge: np.ndarray
    frac: np.ndarray
    access_m: np.ndarray


@dataclass(frozen=True)
class PointIndex:
    """Per-node lookups of a finished run (see the module docstring)."""

    n_walk_nodes: int
    n_drive_nodes: int
    max_snap_m: float
    layers: dict[str, FacilityLayer]
    fingerprint: str = ""

    def matches(self, walk: RoadNetwork, drive: RoadNetwork | None) -> bool:
        """Whether the index was built on these very networks (same nodes, places and travel costs)."""
        return self.fingerprint == network_fingerprint(walk, drive)


    def query(self, walk: RoadNetwork, drive: RoadNetwork | None, lon: float, lat: float) -> dict[str, Any]:
        """What serves one location, from the lookups (same result as ``point_coverage``).

        Parameters
        ----------
        walk, drive
            The run's networks (the index was built on them).
        lon, lat
            WGS-84 degrees.

        Returns
        -------
        dict
            ``lon``, ``lat``, ``on_network``, ``snap_m``, ``stations``, ``branches``,
            ``hospitals`` (lists of ``{"id", "name", "minutes"}`` within the threshold,
            nearest first), ``nearest_station_min``, and ``functions``: per 四就近 function
            with a place, ``{"threshold_min", "nearest_min", "places"}`` (places within its
            threshold, nearest first; ``nearest_min`` at any distance, ``None`` when unreachable).
        """
        x, y = np.array([lon], dtype=float), np.array([lat], dtype=float)
        pw = walk.snap(x, y, max_snap_m=self.max_snap_m)
        out: dict[str, Any] = {
            "lon": lon, "lat": lat, "on_network": bool(pw.on_network[0]),
            "snap_m": None if not pw.on_network[0] else round(float(pw.access_m[0]), 1),
        }
        pd_ = None
        for name, mode, _ in LAYERS:
            layer = self.layers.get(name)
            if layer is None or (mode == "drive" and drive is None):
                out[name] = []
                continue
            net = walk if mode == "walk" else drive
            assert net is not None
            if mode == "walk":
                p = pw
            else:
                pd_ = pd_ or drive.snap(x, y, max_snap_m=self.max_snap_m)  # type: ignore[union-attr]
                p = pd_
            out[name] = _within(net, p, layer)
        st = self.layers.get("stations")
        near = _nearest_seconds(walk, pw, st) if st is not None else np.inf
        out["nearest_station_min"] = round(float(near) / 60.0, 2) if np.isfinite(near) else None
        out["functions"] = {}
        for f in FUNCTIONS:  # 四就近: only the functions that have a place
            layer = self.layers.get(f)
            if layer is None:
                continue
            near = _nearest_seconds(walk, pw, layer)
            out["functions"][f] = {"threshold_min": layer.limit_min, "places": _within(walk, pw, layer),
                                   "nearest_min": round(float(near) / 60.0, 2) if np.isfinite(near) else None}
        return out


def network_fingerprint(walk: RoadNetwork, drive: RoadNetwork | None) -> str:
    """A digest of the networks' nodes, coordinates and travel costs (a few ms on 64k nodes).

    Two networks with the same number of nodes but other roads or speeds get other digests, so
    an index is never used on a network it was not built on.
    """
    h = hashlib.blake2b(digest_size=16)
    for net in (walk, drive):
        if net is None:
            h.update(b"none")
            continue
        for arr in (net.node_osmid, net.node_lon, net.node_lat, net.cost.indptr, net.cost.indices, net.cost.data):
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()



def _point_terms(net: RoadNetwork, p: Snap) -> tuple[int, int, int, float, float, float] | None:
    if not p.on_network[0]:
        return None
    e = int(p.edge[0])
    t = float(p.frac[0])
    acc = float(p.access_m[0]) / net.speed_mps
    via_u = float(_part(np.array([t]), net.edge_bwd_s[[e]])[0])
    via_v = float(_part(np.array([1.0 - t]), net.edge_fwd_s[[e]])[0])
    return e, int(net.edge_u[e]), int(net.edge_v[e]), acc, via_u, via_v


def _along(net: RoadNetwork, e: int, t: float, layer: FacilityLayer) -> tuple[np.ndarray, np.ndarray]:
    """Facilities on edge ``e`` and the seconds from fraction ``t`` to each along the edge (+ their access)."""
    on = np.flatnonzero(layer.edge == e)
    if on.size == 0:
        return on, np.empty(0)
    tf = layer.frac[on]
    secs = np.where(tf >= t, _part(tf - t, np.full(on.size, net.edge_fwd_s[e])),
                    _part(t - tf, np.full(on.size, net.edge_bwd_s[e])))
    return on, secs + layer.access_m[on] / net.speed_mps


def _within(net: RoadNetwork, p: Snap, layer: FacilityLayer) -> list[dict[str, Any]]:
    terms = _point_terms(net, p)
    if terms is None:
        return []
    e, u, v, acc, via_u, via_v = terms
    w = layer.within
    fu, su = w.indices[w.indptr[u]:w.indptr[u + 1]], w.data[w.indptr[u]:w.indptr[u + 1]] + via_u
    fv, sv = w.indices[w.indptr[v]:w.indptr[v + 1]], w.data[w.indptr[v]:w.indptr[v + 1]] + via_v
    fe, se = _along(net, e, float(p.frac[0]), layer)
    fac = np.concatenate([fu, fv, fe]).astype(np.int64)
    secs = np.concatenate([su, sv, se])
    if fac.size == 0:
        return []
    best = np.full(layer.ids.shape[0], np.inf)
    np.minimum.at(best, fac, secs)
    minutes = (best + acc) / 60.0
    keep = np.flatnonzero(np.isfinite(minutes) & (minutes <= layer.limit_min))
    keep = keep[np.argsort(minutes[keep], kind="stable")]
    return [{"id": str(layer.ids[i]), "name": str(layer.names[i]), "minutes": round(float(minutes[i]), 2)}
            for i in keep]


def _nearest_seconds(net: RoadNetwork, p: Snap, layer: FacilityLayer) -> float:
    terms = _point_terms(net, p)
    if terms is None:
        return np.inf
    e, u, v, acc, via_u, via_v = terms
    best = min(via_u + layer.nearest_s[u], via_v + layer.nearest_s[v])
    _, se = _along(net, e, float(p.frac[0]), layer)
    if se.size:
        best = min(best, float(se.min()))
    return best + acc


def _layer(net: RoadNetwork, table: pd.DataFrame, limit_min: float, max_snap_m: float,
           chunk: int = 128) -> FacilityLayer:
    lon = table["lon"].to_numpy(dtype="float64")
    lat = table["lat"].to_numpy(dtype="float64")
    fac = net.snap(lon, lat, max_snap_m=max_snap_m)
    n = net.n_nodes
    nearest_s = np.full(n, np.inf)
    nearest_fac = np.full(n, -1, dtype=np.int64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    if fac.on_network.any():
        graph, virt = _augmented_reverse(net, fac)
        ok = np.flatnonzero(virt >= 0)
        dist, _pred, src = dijkstra(graph, directed=True, indices=virt[ok], min_only=True,
                                    return_predecessors=True)
        fac_of_virtual = np.full(graph.shape[0], -1, dtype=np.int64)
        fac_of_virtual[virt[ok]] = ok
        nearest_s = dist[:n].copy()
        reached = src[:n] >= 0
        nearest_fac[reached] = fac_of_virtual[src[:n][reached]]
        limit_s = limit_min * 60.0
        for start in range(0, ok.shape[0], chunk):
            block = ok[start:start + chunk]
            d = dijkstra(graph, directed=True, indices=virt[block], limit=limit_s)[:, :n]
            k, node = np.nonzero(np.isfinite(d))
            rows.append(node)
            cols.append(block[k])
            vals.append(d[k, node] + 1e-9)
    within = sparse.csr_matrix(
        (np.concatenate(vals) if vals else np.empty(0),
         (np.concatenate(rows) if rows else np.empty(0, np.int64),
          np.concatenate(cols) if cols else np.empty(0, np.int64))),
        shape=(n, len(table)))
    within.sort_indices()
    return FacilityLayer(
        ids=table["id"].astype(str).to_numpy().astype(str),
        names=table["name"].fillna("").astype(str).to_numpy().astype(str) if "name" in table
        else np.full(len(table), "", dtype=str),
        limit_min=float(limit_min), within=within, nearest_s=nearest_s, nearest_fac=nearest_fac,
        edge=fac.edge.copy(), frac=np.nan_to_num(fac.frac), access_m=np.nan_to_num(fac.access_m))


def build_point_index(
    walk: RoadNetwork,
    drive: RoadNetwork | None,
    *,
    stations: pd.DataFrame,
    branches: pd.DataFrame,
    hospitals: pd.DataFrame | None,
    thresholds: Thresholds,
    max_snap_m: float,
) -> PointIndex:
    """Precompute the per-node lookups of a run (a few cut-off Dijkstras per facility type).

    Parameters
    ----------
    walk, drive
        The run's networks (``drive`` may be None when there are no hospitals).
    stations, branches, hospitals
        Accepted facility tables with ``id``, ``name``, ``lon``, ``lat`` (WGS-84); a
        ``functions`` column of the stations (``study;activity``) adds a layer per function.
    thresholds
        Minutes: each type's lookups are complete up to its threshold (a function's up to
        ``[thresholds.functions]``).
    max_snap_m
        Off-network distance, metres.

    Returns
    -------
    PointIndex
    """
    layers = {
        "stations": _layer(walk, stations, thresholds.station_walk_min, max_snap_m),
        "branches": _layer(walk, branches, thresholds.branch_walk_min, max_snap_m),
    }
    if drive is not None and hospitals is not None and len(hospitals):
        layers["hospitals"] = _layer(drive, hospitals, thresholds.hospital_drive_min, max_snap_m)
    if FUNCTIONS_COLUMN in stations:  # one layer per 四就近 function with a place
        served = served_from_text(stations[FUNCTIONS_COLUMN])
        for f in FUNCTIONS:
            mask = served[f].to_numpy(bool)
            if mask.any():
                layers[f] = _layer(walk, stations[mask], thresholds.function_walk_min(f), max_snap_m)
    return PointIndex(n_walk_nodes=walk.n_nodes, n_drive_nodes=drive.n_nodes if drive is not None else 0,
                      max_snap_m=float(max_snap_m), layers=layers, fingerprint=network_fingerprint(walk, drive))


def save_point_index(index: PointIndex, path: Path | str) -> Path:
    """Write the index as a ``.npz`` of plain arrays (atomically)."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(_FORMAT), "n_walk_nodes": np.array(index.n_walk_nodes),
        "n_drive_nodes": np.array(index.n_drive_nodes), "max_snap_m": np.array(index.max_snap_m),
        "layers": np.array(sorted(index.layers), dtype=str), "fingerprint": np.array(index.fingerprint),
    }
    for name, lay in index.layers.items():
        w = lay.within
        arrays.update({
            f"{name}.ids": lay.ids, f"{name}.names": lay.names, f"{name}.limit_min": np.array(lay.limit_min),
            f"{name}.indptr": w.indptr, f"{name}.indices": w.indices, f"{name}.data": w.data,
            f"{name}.shape": np.array(w.shape), f"{name}.nearest_s": lay.nearest_s,
            f"{name}.nearest_fac": lay.nearest_fac, f"{name}.edge": lay.edge, f"{name}.frac": lay.frac,
            f"{name}.access_m": lay.access_m,
        })
    return atomic_savez(path, arrays)


def load_point_index(path: Path | str) -> PointIndex:
    """Read an index written by :func:`save_point_index` (no pickled objects are read).

    Raises
    ------
    InputError
        If the file is not a point index of this format.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != _FORMAT:
                raise ValueError(f"format {int(z['format'])}, expected {_FORMAT}")
            layers = {}
            for name in z["layers"].tolist():
                shape = tuple(int(s) for s in z[f"{name}.shape"])
                layers[name] = FacilityLayer(
                    ids=z[f"{name}.ids"], names=z[f"{name}.names"], limit_min=float(z[f"{name}.limit_min"]),
                    within=sparse.csr_matrix((z[f"{name}.data"], z[f"{name}.indices"], z[f"{name}.indptr"]),
                                             shape=shape),
                    nearest_s=z[f"{name}.nearest_s"], nearest_fac=z[f"{name}.nearest_fac"],
                    edge=z[f"{name}.edge"], frac=z[f"{name}.frac"], access_m=z[f"{name}.access_m"])
            return PointIndex(n_walk_nodes=int(z["n_walk_nodes"]), n_drive_nodes=int(z["n_drive_nodes"]),
                              max_snap_m=float(z["max_snap_m"]), layers=layers, fingerprint=str(z["fingerprint"]))
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(Problem(str(path), None, None, f"not a readable point index: {exc}")) from exc
