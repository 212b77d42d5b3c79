"""p-center against brute force on small instances; equity figures against direct formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from geo_planner.decision.equity import equity_figures, gini
from geo_planner.errors import InputError
from geo_planner.siting.models.p_center import p_center, radius_of


def _brute(dense: np.ndarray, p: int, existing: np.ndarray) -> tuple[float, int]:
    """Exhaustive p-center with outliers: most members served, then shortest longest walk."""
    cands = np.flatnonzero(~existing)
    best: tuple[int, float] = (-1, np.inf)
    for k in range(p + 1):
        for combo in itertools.combinations(cands, k):
            open_ = existing.copy()
            open_[list(combo)] = True
            d = np.min(np.where(open_[None, :], dense, np.inf), axis=1)
            served = int(np.isfinite(d).sum())
            radius = float(d[np.isfinite(d)].max()) if served else np.nan
            if served > best[0] or (served == best[0] and radius < best[1]):
                best = (served, radius)
    return best[1], best[0]


@pytest.mark.parametrize("seed", range(8))
def test_p_center_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_i, n_j = int(rng.integers(8, 16)), int(rng.integers(5, 9))
    dense = np.round(rng.uniform(0, 30, (n_i, n_j)), 2)
    cutoff = 20.0 if seed % 2 else 40.0  # with a cut-off some members may be unservable
    dense[dense > cutoff] = np.inf
    if seed == 3:
        dense[0, 0] = 0.0  # an explicit zero-minute pair counts
    existing = np.zeros(n_j, bool)
    existing[: seed % 3] = True
    p = int(rng.integers(1, 4))
    r, c = np.nonzero(np.isfinite(dense))
    cost = sp.csr_array((dense[r, c], (r, c)), shape=(n_i, n_j))
    if seed == 3:  # keep the explicit zero stored
        cost = sp.csr_array((dense[r, c] + 0.0, (r, c)), shape=(n_i, n_j))
        assert cost.nnz == r.size
    res = p_center(cost, p, existing=existing)
    radius, served = _brute(dense, p, existing)
    assert res.status == "optimal"
    assert res.served == served
    assert res.radius_min == pytest.approx(radius, abs=1e-9)
    assert res.selected.size <= p
    open_ = existing.copy()
    open_[res.selected] = True
    assert radius_of(cost, open_) == (pytest.approx(radius, abs=1e-9), served)
    assert np.all(res.member_minutes[res.member_site >= 0] <= radius + 1e-9)


def test_p_center_rejects_bad_input() -> None:
    cost = sp.csr_array(np.array([[1.0, 2.0]]))
    with pytest.raises(InputError, match="p = 3"):
        p_center(cost, 3)
    with pytest.raises(InputError, match="sparse"):
        p_center(np.array([[1.0]]), 1)  # type: ignore[arg-type]


def test_gini_and_equity_figures() -> None:
    x = np.array([1.0, 2.0, 3.0, 10.0])
    pairs = np.abs(x[:, None] - x[None, :]).sum()
    assert gini(x) == pytest.approx(pairs / (2 * x.size**2 * x.mean()))
    assert gini(np.zeros(3)) == 0.0
    assert gini(np.full(5, 7.0)) == pytest.approx(0.0)
    fig = equity_figures(np.array([5.0, 10.0, 16.0, 20.0, np.inf, np.nan, 1, 2, 3, 4]), 15.0)
    assert fig["n"] == 10 and fig["n_unreachable"] == 2
    assert fig["share_beyond"] == pytest.approx(0.4)
    assert fig["p90_min"] is None  # 20 % unreachable: the 90th percentile is not a number
    fig = equity_figures(np.arange(1.0, 11.0), 15.0)
    assert fig["p90_min"] == 9.0 and fig["share_beyond"] == 0.0 and fig["max_min"] == 10.0
    with pytest.raises(ValueError):
        gini(np.array([-1.0]))


@pytest.mark.parametrize("seed", [0, 1])
def test_nearest_open_matches_dense_argmin(seed):
    # nearest open site per member (ties: lowest index) equals a dense argmin, empty rows included
    import scipy.sparse as sp

    from geo_planner.siting.models.p_center import _nearest_open

    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((200, 30)) < 0.15, rng.integers(1, 6, (200, 30)).astype(float), 0.0)
    dense[:10] = 0.0  # members with no site in reach
    cost = sp.csr_array(dense)
    open_mask = rng.random(30) < 0.5
    site, best = _nearest_open(cost, open_mask)
    full = np.where((dense > 0) & open_mask, dense, np.inf)
    want_best = full.min(axis=1)
    want_site = np.where(np.isfinite(want_best), full.argmin(axis=1), -1)
    np.testing.assert_array_equal(best, want_best)
    np.testing.assert_array_equal(site, want_site)


def test_p_center_with_existing_sites_and_empty_rows_matches_brute_force() -> None:
    # members already served by an existing site, and members out of every site's reach (trailing
    # empty rows), leave the exact answer unchanged
    rng = np.random.default_rng(11)
    dense = np.where(rng.random((40, 9)) < 0.35, rng.integers(1, 30, (40, 9)).astype(float), np.inf)
    dense[-5:] = np.inf
    existing = np.zeros(9, bool)
    existing[[0, 4]] = True
    r, c = np.nonzero(np.isfinite(dense))
    res = p_center(sp.csr_array((dense[r, c], (r, c)), shape=dense.shape), 2, existing=existing)
    radius, served = _brute(dense, 2, existing)
    assert res.status == "optimal" and served <= 35
    assert (res.radius_min, res.served) == (pytest.approx(radius, abs=1e-9), served)
