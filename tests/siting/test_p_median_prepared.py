"""The p-median prepared once and solved with locks and bans equals ``p_median`` on the edited matrix.

Seeded OR-Library-style instances (shortest paths on random graphs, cut at a radius so the
matrix is sparse), with existing sites; every lock/ban case — a candidate locked open, a
candidate banned, an existing site banned (its members' fallback rows redone), both at once —
is solved both ways and must give the same optimum, proven, and the same minutes per member.
The real extracts (demo, 龙岗) are checked through the service's re-optimisation in
``tests/whatif/test_whatif.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geo_planner.siting.models.p_median import p_median
from geo_planner.siting.models.p_median.prepared import prepare_p_median, solve_prepared

from ..support.orlib import or_library_costs


def _instance(seed: int, n_members: int = 120, n_sites: int = 40, *, integer: bool = False):
    """Members are the first nodes, sites the last; pairs within a radius; a quarter of the sites existing."""
    d = or_library_costs(n_members + n_sites, 3 * (n_members + n_sites), seed, integer=integer)
    c = d[:n_members, n_members:]
    radius = np.quantile(c, 0.35)
    rows, cols = np.nonzero(c <= radius)
    cost = sp.csr_array((c[rows, cols] + 1e-9, (rows, cols)), shape=c.shape)
    rng = np.random.default_rng(seed)
    w = rng.choice([1.0, 1.0, 1.5, 2.0, 0.0], size=n_members)
    existing = np.zeros(n_sites, dtype=bool)
    existing[rng.choice(n_sites, n_sites // 4, replace=False)] = True
    return cost, w, existing


def _minutes(cost: sp.csr_array, site: np.ndarray) -> np.ndarray:
    """Minutes of each member to its assigned column (``nan``: unassigned)."""
    dense = cost.toarray()
    out = np.full(site.shape[0], np.nan)
    ok = site >= 0
    out[ok] = dense[np.flatnonzero(ok), site[ok]]
    return out


def _cases(existing: np.ndarray, fb_site: np.ndarray, rng: np.random.Generator):
    """(name, lock mask, ban mask): nothing, a lock, candidate bans, the busiest existing site banned, all."""
    n = existing.shape[0]
    cand = np.flatnonzero(~existing)
    busiest = np.bincount(fb_site[fb_site >= 0], minlength=n).argmax()  # the fallback of most members
    lock = np.zeros(n, dtype=bool)
    lock[rng.choice(cand, 1)] = True
    ban_c = np.zeros(n, dtype=bool)
    ban_c[rng.choice(cand[~lock[cand]], 3, replace=False)] = True
    ban_e = np.zeros(n, dtype=bool)
    ban_e[busiest] = True
    none = np.zeros(n, dtype=bool)
    yield "none", none, none
    yield "lock", lock, none
    yield "ban candidates", none, ban_c
    yield "ban an existing site", none, ban_e
    yield "lock and bans", lock, ban_c | ban_e


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("p", [1, 3, 6])
def test_prepared_solve_equals_p_median_on_the_edited_matrix(seed: int, p: int) -> None:
    cost, w, existing = _instance(seed, integer=seed % 2 == 0)
    prep = prepare_p_median(cost, w, existing)
    assert (prep.fb_site[prep.fb_site >= 0] >= 0).all() and existing[prep.fb_site[prep.fb_site >= 0]].all()
    rng = np.random.default_rng(seed)
    for name, lock, ban in _cases(existing, prep.fb_site, rng):
        keep = np.flatnonzero(~ban)
        n_new = p
        got = solve_prepared(prep, n_new, lock=lock, ban=ban, time_limit_s=20.0)
        want = p_median(cost[:, keep], w, n_new, existing=(existing | lock)[keep], time_limit_s=20.0)
        assert got.status == want.status == "optimal", name
        assert got.objective == pytest.approx(want.objective, rel=1e-12, abs=1e-9), name
        assert got.covered_weight == pytest.approx(want.covered_weight), name
        assert got.coverable_weight == pytest.approx(want.coverable_weight), name
        assert got.total_weight == pytest.approx(want.total_weight), name
        # every member walks the same minutes (ties between sites may name another column)
        np.testing.assert_allclose(
            _minutes(cost, got.member_site), _minutes(cost[:, keep], want.member_site), rtol=0, atol=1e-12
        )
        assert not ban[got.selected].any() and not existing[got.selected].any(), name
        assert len(got.selected) <= n_new, name
        assert set(np.flatnonzero(lock & ~ban)) <= set(got.existing.tolist()), name


def test_unreachable_members_and_penalty_as_p_median() -> None:
    # a member reaching only a banned site has no allowed site left; one reaching no existing
    # site is unassigned unless a new site serves it; both counted as p_median counts them
    cost = sp.csr_array(
        np.array(
            [
                [1.0, 0.0, 0.0, 0.0],  # only site 0 (a candidate, banned below)
                [0.0, 2.0, 3.0, 0.0],  # existing site 1, candidate 2
                [0.0, 0.0, 4.0, 5.0],  # no existing site: candidates 2, 3
                [0.0, 0.0, 0.0, 0.0],  # nothing in reach
            ]
        )
    )
    w = np.array([1.0, 2.0, 3.0, 1.0])
    existing = np.array([False, True, False, False])
    prep = prepare_p_median(cost, w, existing)
    ban = np.array([True, False, False, False])
    none = np.zeros(4, dtype=bool)
    for p in (1, 2):
        got = solve_prepared(prep, p, lock=none, ban=ban)
        want = p_median(cost[:, [1, 2, 3]], w, p, existing=existing[[1, 2, 3]])
        assert got.objective == pytest.approx(want.objective)
        assert got.coverable_weight == pytest.approx(want.coverable_weight) == 5.0
        assert got.covered_weight == pytest.approx(want.covered_weight)
        assert got.member_site.tolist()[0] == -1 and got.member_site.tolist()[3] == -1
