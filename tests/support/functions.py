"""Members planted on the real networks for the 四就近 function tests."""

from __future__ import annotations

import numpy as np

from geo_planner.travel import node_minutes_from


def nodes_of(net, extract):
    ex = net.extracts[extract]
    return np.unique(np.r_[net.edge_u[ex.edge_start:ex.edge_stop], net.edge_v[ex.edge_start:ex.edge_stop]])


def planted_members(net, extract, seed):
    """Three places far apart: an activity station A, a study place B and a place C serving both."""
    rng = np.random.default_rng(seed)
    nodes = nodes_of(net, extract)
    lon, lat = net.node_lon, net.node_lat

    def minutes_from(n):
        return node_minutes_from(net, net.snap(lon[[n]], lat[[n]]), direction="from")[0]

    for _ in range(50):
        a = int(rng.choice(nodes))
        ta = minutes_from(a)
        far = nodes[(ta[nodes] > 40) & np.isfinite(ta[nodes])]
        if far.size < 20:
            continue
        b = int(rng.choice(far))
        tb = minutes_from(b)
        both = far[(tb[far] > 40) & np.isfinite(tb[far])]
        if both.size:
            return a, b, int(rng.choice(both))
    raise AssertionError("no three nodes 40 minutes apart")

