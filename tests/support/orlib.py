"""OR-Library-style p-median instances (shortest paths on a seeded random graph)."""

from __future__ import annotations

import numpy as np


def or_library_costs(n: int, m: int, seed: int, *, integer: bool = True) -> np.ndarray:
    """OR-Library-style p-median costs: shortest paths on a random connected graph of ``n`` nodes and
    ``m`` edges (a random spanning path plus random edges), lengths 1–100 (integers, or real-valued)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import shortest_path

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    a, b = rng.integers(0, n, 3 * m), rng.integers(0, n, 3 * m)
    keep = a != b
    u = np.r_[perm[:-1], a[keep][: m - n + 1]]
    v = np.r_[perm[1:], b[keep][: m - n + 1]]
    lengths = rng.integers(1, 101, len(u)).astype(float) if integer else rng.uniform(1, 100, len(u))
    return shortest_path(sp.coo_array((lengths, (u, v)), shape=(n, n)).tocsr(), directed=False)

