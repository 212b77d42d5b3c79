"""An independent networkx reference for point-to-point network times.

Members and facilities are inserted into a networkx DiGraph as real nodes that split the
edges they snapped to (the textbook construction), then networkx's Dijkstra runs on it.
geo_planner's vectorised virtual-node arithmetic must agree with this.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np

from geo_planner.network import RoadNetwork, Snap


def split_graph(net: RoadNetwork, snaps: dict[str, Snap]) -> nx.DiGraph:
    """Road graph (seconds) with every snapped point inserted as node ``(label, i)``."""
    G = nx.DiGraph()
    c = net.cost.tocoo()
    G.add_weighted_edges_from(zip(c.row.tolist(), c.col.tolist(), c.data.tolist()))
    by_edge = defaultdict(list)
    for label, s in snaps.items():
        for i in np.flatnonzero(s.on_network):
            by_edge[int(s.edge[i])].append((float(s.frac[i]), (label, int(i)), float(s.access_m[i])))
    for e, pts in by_edge.items():
        pts.sort()
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        fw, bw = float(net.edge_fwd_s[e]), float(net.edge_bwd_s[e])
        seq = [(0.0, u)] + [(t, ("road", name)) for t, name, _ in pts] + [(1.0, v)]
        for (ta, a), (tb, b) in zip(seq[:-1], seq[1:]):
            if np.isfinite(fw):
                G.add_edge(a, b, weight=(tb - ta) * fw)
            if np.isfinite(bw):
                G.add_edge(b, a, weight=(tb - ta) * bw)
        for _, name, acc in pts:
            G.add_edge(name, ("road", name), weight=acc / net.speed_mps)
            G.add_edge(("road", name), name, weight=acc / net.speed_mps)
    return G
