"""Build walking and driving road networks from OpenStreetMap extracts on disk.

The network is loaded offline with osmnx (``graph_from_xml``; ``.pbf`` extracts are first
converted to XML by :func:`geo_planner.osm.osm_xml`), filtered to the ways a mode may use, reduced to its
largest connected component per extract, simplified, and turned into flat arrays:

* a directed sparse matrix of edge costs in **seconds** (parallel edges keep the cheapest),
* one *geometry edge* per road segment, with its shape in metres (a local UTM zone per
  extract), its length, and the cost of travelling it forwards and backwards (``inf``
  where a one-way street forbids it). Points are snapped onto these edges, not only onto
  the nearest node.

Walking ignores one-way restrictions and moves at an elderly pace (default 4 km/h);
driving respects them and uses osmnx's imputed speeds and travel times. Built networks
are cached on disk, keyed on the content hash of the extracts and the options that
change the result, so a second run skips the build (:mod:`geo_planner.network_cache`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from scipy import sparse

from .errors import InputError, NetworkError
from .network_cache import cache_key, load_cached, save_cached
from .osm import osm_xml
from .segment_index import SegmentIndex

if TYPE_CHECKING:
    from .settings import Scenario

log = logging.getLogger(__name__)

Mode = Literal["walk", "drive"]

#: ``highway`` values a pedestrian cannot use (motorways, construction, proposals…).
WALK_EXCLUDED = frozenset(
    {"motorway", "motorway_link", "trunk_link", "construction", "proposed", "planned", "abandoned",
     "razed", "raceway", "bus_guideway", "platform", "no", "corridor", "elevator", "escalator"}
)
#: ``highway`` values a car cannot use (the osmnx ``drive`` filter).
DRIVE_EXCLUDED = frozenset(
    {"footway", "pedestrian", "steps", "path", "cycleway", "bridleway", "track", "corridor", "elevator",
     "escalator", "construction", "proposed", "planned", "abandoned", "razed", "raceway", "bus_guideway",
     "platform", "no", "busway", "via_ferrata"}
)
#: ``service`` values excluded from driving (parking aisles, driveways, private roads).
DRIVE_EXCLUDED_SERVICE = frozenset({"parking", "parking_aisle", "driveway", "private", "emergency_access"})
_NO = frozenset({"no", "private"})
_EXTRA_WAY_TAGS = ("foot", "motor_vehicle", "motorcar", "area", "service", "access")


@dataclass(frozen=True)
class Extract:
    """One OSM extract's part of a network: its projection, its range of edges and its extent."""

    path: str
    crs: str  # a local UTM zone, e.g. "EPSG:32650"
    edge_start: int
    edge_stop: int
    bounds_lonlat: tuple[float, float, float, float]


@dataclass(frozen=True)
class Snap:
    """Where points meet the network.

    Attributes
    ----------
    edge
        Index of the geometry edge each point snapped to (``-1`` when off-network).
    frac
        Position along that edge from its ``u`` end, 0–1.
    access_m
        Straight-line distance from the point to the edge, metres (``nan`` when off-network).
    on_network
        False where the point is farther than ``max_snap_m`` from every road, or invalid.
    located
        False where the input point had no coordinates (NaN).
    """

    edge: np.ndarray
    frac: np.ndarray
    access_m: np.ndarray
    on_network: np.ndarray
    located: np.ndarray

    def subset(self, rows: np.ndarray) -> Snap:
        """Return the snaps of the given rows (index array or boolean mask)."""
        return Snap(self.edge[rows], self.frac[rows], self.access_m[rows], self.on_network[rows],
                    self.located[rows])


@dataclass(frozen=True)
class RoadNetwork:
    """A mode-specific road network as flat arrays (see the module docstring).

    Attributes
    ----------
    mode
        ``"walk"`` or ``"drive"``.
    speed_mps
        Walking speed (metres per second), used for off-network access in both modes.
    node_osmid, node_lon, node_lat
        Nodes (OSM id and WGS-84 coordinates).
    cost
        Directed ``n × n`` CSR matrix of travel seconds.
    edge_u, edge_v
        Node indices of each geometry edge; its shape runs from ``u`` to ``v``.
    edge_length_m
        Edge lengths, metres.
    edge_fwd_s, edge_bwd_s
        Seconds to travel the whole edge ``u→v`` and ``v→u`` (``inf`` when forbidden).
    edge_geom
        Edge shapes in the local metric CRS of their extract.
    edge_name
        Street names (``""`` when unnamed).
    extracts
        The extracts the network was built from.
    """

    mode: Mode
    speed_mps: float
    node_osmid: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    cost: sparse.csr_matrix
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_fwd_s: np.ndarray
    edge_bwd_s: np.ndarray
    edge_geom: np.ndarray
    edge_name: np.ndarray
    extracts: tuple[Extract, ...]
    _trees: dict[int, SegmentIndex] = field(default_factory=dict, repr=False, compare=False)
    #: Derived arrays computed once per network on demand (e.g. the reversed cost graph), never pickled.
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_trees"] = {}  # spatial indexes are rebuilt on demand, never pickled
        state["_memo"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        # a network pickled before a derived-data field existed gets it empty
        self.__dict__.update({"_trees": {}, "_memo": {}, **state})

    def reversed(self) -> RoadNetwork:
        """Return the same roads with every arc turned round (travel *to* a point becomes travel *from* it).

        The geometry is shared, and so is the snapping index.
        """
        return dataclasses.replace(
            self, cost=self.cost.T.tocsr(), edge_fwd_s=self.edge_bwd_s, edge_bwd_s=self.edge_fwd_s,
            _trees=self._trees, _memo={},
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_osmid.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of geometry edges (road segments)."""
        return int(self.edge_u.shape[0])

    def _index(self, i: int) -> SegmentIndex:
        index = self._trees.get(i)
        if index is None:
            ex = self.extracts[i]
            index = SegmentIndex(self.edge_geom[ex.edge_start : ex.edge_stop])
            self._trees[i] = index
        return index

    def snap(self, lon: np.ndarray, lat: np.ndarray, *, max_snap_m: float = 500.0) -> Snap:
        """Snap WGS-84 points onto their nearest road edge (vectorised).

        Parameters
        ----------
        lon, lat
            WGS-84 coordinates (degrees); NaN marks a point without a location.
        max_snap_m
            Points farther than this from every edge are off-network.

        Returns
        -------
        Snap
            Aligned with the input arrays.
        """
        lon = np.asarray(lon, dtype="float64")
        lat = np.asarray(lat, dtype="float64")
        n = lon.shape[0]
        best_edge = np.full(n, -1, dtype=np.int64)
        best_dist = np.full(n, np.inf)
        best_frac = np.full(n, np.nan)
        located = np.isfinite(lon) & np.isfinite(lat)
        valid = np.flatnonzero(located)
        for i, ex in enumerate(self.extracts):
            if valid.size == 0:
                break
            x, y = _to_metric(ex.crs).transform(lon[valid], lat[valid])
            edge, frac, dist = self._index(i).nearest(np.asarray(x), np.asarray(y), max_snap_m)
            better = dist < best_dist[valid]
            rows = valid[better]
            best_edge[rows] = edge[better] + ex.edge_start
            best_dist[rows] = dist[better]
            best_frac[rows] = frac[better]
        on = np.isfinite(best_dist) & (best_dist <= max_snap_m)
        best_edge[~on] = -1
        best_dist[~on] = np.nan
        best_frac[~on] = np.nan
        return Snap(edge=best_edge, frac=np.clip(best_frac, 0.0, 1.0), access_m=best_dist, on_network=on,
                    located=located)

    def edge_midpoints_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Return WGS-84 midpoints of every edge (used to seed candidate sites)."""
        from pyproj import Transformer

        lon = np.empty(self.n_edges)
        lat = np.empty(self.n_edges)
        for ex in self.extracts:
            sl = slice(ex.edge_start, ex.edge_stop)
            mid = shapely.line_interpolate_point(self.edge_geom[sl], 0.5, normalized=True)
            tr = Transformer.from_crs(ex.crs, "EPSG:4326", always_xy=True)
            lon[sl], lat[sl] = tr.transform(shapely.get_x(mid), shapely.get_y(mid))
        return lon, lat


_local = threading.local()


def _to_metric(crs: str):  # noqa: ANN202 - pyproj.Transformer
    """Return the WGS-84 → ``crs`` transformer, made once per thread.

    pyproj transformers are not shared between threads; creating one costs more than
    snapping a single point.
    """
    from pyproj import Transformer

    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    tr = cache.get(crs)
    if tr is None:
        tr = cache[crs] = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return tr


@contextmanager
def _osmnx_way_tags() -> Iterator[None]:
    """Temporarily ask osmnx to keep the way tags the mode filters need."""
    import osmnx as ox

    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(old + list(_EXTRA_WAY_TAGS)))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = old


def _osm_xml(path: Path, cache_dir: Path | str | None) -> Path:
    """Return the extract as OSM XML (a ``.pbf`` converted once by :func:`geo_planner.osm.osm_xml`)."""
    try:
        return osm_xml(path, cache_dir)
    except InputError as exc:
        raise NetworkError(str(exc)) from None


def _first(value: object) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _osmid_key(value: object) -> str:
    if isinstance(value, list):
        return ",".join(sorted(str(x) for x in value))
    return str(value)


def _allowed(mode: Mode, d: dict) -> bool:
    hw = _first(d.get("highway"))
    if not hw:
        return False  # buildings, landuse and other non-road ways
    if _first(d.get("area")) == "yes":
        return False
    if mode == "walk":
        if hw in WALK_EXCLUDED or _first(d.get("foot")) in _NO:
            return False
        return _first(d.get("access")) != "no" or _first(d.get("foot")) in {"yes", "designated", "permissive"}
    if hw in DRIVE_EXCLUDED or _first(d.get("service")) in DRIVE_EXCLUDED_SERVICE:
        return False
    return not any(_first(d.get(key)) in _NO for key in ("access", "motor_vehicle", "motorcar"))


def _load_graph(xml: Path, mode: Mode, fallback_kmh: float):  # noqa: ANN202 - osmnx MultiDiGraph
    import networkx as nx
    import osmnx as ox

    with _osmnx_way_tags():
        try:
            G = ox.graph_from_xml(xml, bidirectional=(mode == "walk"), simplify=False, retain_all=True)
        except Exception as exc:
            raise NetworkError(f"{xml}: osmnx could not read the extract: {exc}") from exc
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not _allowed(mode, d)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    if len(G) == 0:
        raise NetworkError(f"{xml}: the extract has no roads usable for {mode}")
    comps = nx.weakly_connected_components(G)
    G = G.subgraph(max(comps, key=len)).copy()
    G = ox.simplify_graph(G)
    if mode == "drive":
        G = ox.add_edge_speeds(G, fallback=fallback_kmh)
        G = ox.add_edge_travel_times(G)
    return G


def _graph_arrays(G, mode: Mode, speed_mps: float, path: str):  # noqa: ANN001, ANN202
    """Turn one extract's osmnx graph into node and geometry-edge arrays."""
    import osmnx as ox

    nodes, edges = ox.convert.graph_to_gdfs(G, nodes=True, edges=True)
    crs = str(nodes.estimate_utm_crs())
    edges_m = edges.to_crs(crs)
    u = edges.index.get_level_values(0).to_numpy()
    v = edges.index.get_level_values(1).to_numpy()
    length = edges["length"].to_numpy(dtype="float64")
    if mode == "drive":
        secs = edges["travel_time"].to_numpy(dtype="float64")
    else:
        secs = length / speed_mps
    geoms = edges_m.geometry.to_numpy()
    names = np.array([_first(x) for x in edges.get("name", [""] * len(edges))], dtype=object)
    osmids = [_osmid_key(x) for x in edges.get("osmid", [0] * len(edges))]
    # One geometry edge per physical segment: a two-way street appears as u→v and v→u with
    # the same shape (reversed). Key segments by their unordered ends and rounded length.
    a, b = np.minimum(u, v), np.maximum(u, v)
    rlen = np.round(length)
    order = np.lexsort((secs, rlen, b, a))
    seen: dict[tuple[int, int, str, float], int] = {}
    geo_idx: list[int] = []
    fwd: list[float] = []
    bwd: list[float] = []
    for i in order:  # one pass over the extract's edges at build time (not a hot path)
        key = (int(a[i]), int(b[i]), osmids[i], float(rlen[i]))
        j = seen.get(key)
        if j is None:
            seen[key] = len(geo_idx)
            geo_idx.append(int(i))
            fwd.append(float(secs[i]))
            bwd.append(np.inf)
            continue
        first = geo_idx[j]
        if u[first] == u[i] and v[first] == v[i]:
            fwd[j] = min(fwd[j], float(secs[i]))
        else:
            bwd[j] = min(bwd[j], float(secs[i]))
    gi = np.asarray(geo_idx, dtype=np.int64)
    fwd_a, bwd_a = np.asarray(fwd), np.asarray(bwd)
    if mode == "walk":  # walking ignores one-way rules: every segment can be walked both ways
        bwd_a = np.where(np.isinf(bwd_a), fwd_a, bwd_a)
    return {
        "crs": crs,
        "node_osmid": nodes.index.to_numpy(dtype=np.int64),
        "node_lon": nodes["x"].to_numpy(dtype="float64"),
        "node_lat": nodes["y"].to_numpy(dtype="float64"),
        "dir_u": u,
        "dir_v": v,
        "dir_s": secs,
        "geo_u": u[gi],
        "geo_v": v[gi],
        "geo_len": length[gi],
        "geo_fwd": fwd_a,
        "geo_bwd": bwd_a,
        "geo_geom": geoms[gi],
        "geo_name": names[gi],
        "bounds": tuple(float(x) for x in nodes.total_bounds),
        "path": path,
    }


def _assemble(parts: list[dict], mode: Mode, speed_mps: float) -> RoadNetwork:
    node_osmid = np.concatenate([p["node_osmid"] for p in parts])
    if np.unique(node_osmid).shape[0] != node_osmid.shape[0]:
        # Overlapping extracts share OSM nodes: keep them apart per extract so each extract's
        # component stays internally consistent (OSM ids are only labels here).
        log.warning("extracts overlap; shared OSM nodes are kept once per extract")
    offsets = np.cumsum([0] + [p["node_osmid"].shape[0] for p in parts])
    idx_maps = []
    for p, off in zip(parts, offsets[:-1], strict=True):
        idx_maps.append({int(o): int(off + k) for k, o in enumerate(p["node_osmid"])})

    def remap(arr: np.ndarray, m: dict[int, int]) -> np.ndarray:
        return np.fromiter((m[int(x)] for x in arr), dtype=np.int64, count=arr.shape[0])

    rows, cols, data = [], [], []
    edge_arrays: dict[str, list[np.ndarray]] = {
        k: [] for k in ("u", "v", "len", "fwd", "bwd", "geom", "name")
    }
    extracts = []
    start = 0
    for p, m in zip(parts, idx_maps, strict=True):
        rows.append(remap(p["dir_u"], m))
        cols.append(remap(p["dir_v"], m))
        data.append(p["dir_s"])
        edge_arrays["u"].append(remap(p["geo_u"], m))
        edge_arrays["v"].append(remap(p["geo_v"], m))
        edge_arrays["len"].append(p["geo_len"])
        edge_arrays["fwd"].append(p["geo_fwd"])
        edge_arrays["bwd"].append(p["geo_bwd"])
        edge_arrays["geom"].append(p["geo_geom"])
        edge_arrays["name"].append(p["geo_name"])
        stop = start + p["geo_u"].shape[0]
        extracts.append(Extract(p["path"], p["crs"], start, stop, p["bounds"]))
        start = stop
    n = int(offsets[-1])
    cost = csr_min(np.concatenate(rows), np.concatenate(cols), np.concatenate(data), (n, n))
    cat = {k: np.concatenate(v) for k, v in edge_arrays.items()}
    return RoadNetwork(
        mode=mode,
        speed_mps=speed_mps,
        node_osmid=node_osmid,
        node_lon=np.concatenate([p["node_lon"] for p in parts]),
        node_lat=np.concatenate([p["node_lat"] for p in parts]),
        cost=cost,
        edge_u=cat["u"],
        edge_v=cat["v"],
        edge_length_m=cat["len"],
        edge_fwd_s=cat["fwd"],
        edge_bwd_s=cat["bwd"],
        edge_geom=cat["geom"],
        edge_name=cat["name"],
        extracts=tuple(extracts),
    )


def min_per_key(*keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Positions of the smallest ``values`` of each distinct key, the keys sorted (first key major).

    One ``lexsort`` with the values as the last tie-break, then the first of each run: the
    idiom behind :func:`csr_min` and the same-edge merges of :mod:`geo_planner.travel`.
    """
    order = np.lexsort((values, *reversed(keys)))
    first = np.ones(order.shape[0], dtype=bool)
    if order.size > 1:
        first[1:] = np.logical_or.reduce([k[order][1:] != k[order][:-1] for k in keys])
    return order[first]


def csr_min(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """Build a CSR matrix where duplicate ``(row, col)`` entries keep their **minimum**.

    scipy sums duplicates; for a graph, parallel arcs must keep the cheapest instead.
    """
    keep = min_per_key(rows, cols, values=data)
    return sparse.csr_matrix((data[keep], (rows[keep], cols[keep])), shape=shape)


def build_network(
    paths: Sequence[Path | str],
    mode: Mode,
    *,
    walk_speed_kmh: float = 4.0,
    drive_fallback_speed_kmh: float = 30.0,
    cache_dir: Path | str | None = None,
) -> RoadNetwork:
    """Build (or load from cache) the road network of one or more OSM extracts.

    Parameters
    ----------
    paths
        OSM XML (``.osm``/``.xml``) or PBF (``.pbf``) extracts. Each extract keeps its own
        largest connected component, so extracts of different cities form separate islands
        (members of one city cannot reach facilities of another: their time is missing).
    mode
        ``"walk"`` (one-way ignored, ``walk_speed_kmh``) or ``"drive"`` (one-way respected,
        osmnx speeds and travel times).
    walk_speed_kmh
        Walking speed in km/h; also the pace of the off-network access leg when driving.
    drive_fallback_speed_kmh
        Speed for road types without any ``maxspeed`` tag in the extract.
    cache_dir
        Folder for the cache; ``None`` disables caching.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    NetworkError
        If a file is missing, unreadable, or has no usable roads.
    """
    if mode not in ("walk", "drive"):
        raise NetworkError(f"unknown mode {mode!r}; use 'walk' or 'drive'")
    paths = [Path(p) for p in paths]
    if not paths:
        raise NetworkError("no OSM extract given")
    for p in paths:
        if not p.is_file():
            raise NetworkError(f"{p}: OSM extract not found")
    speed_mps = walk_speed_kmh * 1000.0 / 3600.0
    cache_file = None
    if cache_dir is not None:
        key = cache_key(paths, mode, walk_speed_kmh=walk_speed_kmh, fallback_kmh=drive_fallback_speed_kmh)
        cache_file = Path(cache_dir) / f"network-{mode}-{key}.pkl"
        net = load_cached(cache_file)
        if isinstance(net, RoadNetwork):
            log.info("network %s loaded from cache %s", mode, cache_file)
            return net
    parts = []
    for p in paths:
        G = _load_graph(_osm_xml(p, cache_dir), mode, drive_fallback_speed_kmh)
        parts.append(_graph_arrays(G, mode, speed_mps, str(p)))
        log.info("%s: %s network with %d nodes, %d edges", p.name, mode, len(G), G.number_of_edges())
    net = _assemble(parts, mode, speed_mps)
    if cache_file is not None:
        save_cached(net, cache_file)
    return net


def run_networks(scenario: Scenario) -> tuple[RoadNetwork, RoadNetwork | None]:
    """Build (or load from the cache) the road networks of a scenario: the pipeline's network stage.

    The walking network always; the driving network only when the scenario has hospitals
    (nothing else is measured by car). The pipeline and :func:`geo_planner.results.load_run`
    both build a run's networks here, so a finished run gets back exactly the networks it was
    measured on.

    Parameters
    ----------
    scenario
        The run's scenario (``network`` settings; ``inputs.hospitals`` decides the driving network).

    Returns
    -------
    (walk, drive)
        ``drive`` is ``None`` without hospitals.
    """
    net = scenario.network
    opts: dict[str, Any] = {
        "walk_speed_kmh": net.walk_speed_kmh,
        "drive_fallback_speed_kmh": net.drive_fallback_speed_kmh,
        "cache_dir": net.resolved_cache_dir(),
    }
    walk = build_network(net.osm, "walk", **opts)
    drive = build_network(net.osm, "drive", **opts) if scenario.inputs.hospitals is not None else None
    return walk, drive
