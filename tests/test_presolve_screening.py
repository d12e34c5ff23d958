"""KKT presolve shortcuts (analysis/kkt_presolve.py) against a direct check by SCIP.

The critical-region proof (step 0: one linear solve per hour), the primal screening (step 1:
LPs per pair, with the tightened slack big-Ms) and the merged active/inactive MILP (step 2)
must fix exactly what the plain MILP fixes, and SCIP (not our code, not HiGHS) must confirm on
every hour's KKT MILP that (a) no KKT point in the box flips a fixed pair and (b) every pair
left free really takes both values at some KKT point in the box, so nothing provable was
left free: the result is the strongest one, pair by pair.
"""
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from tsodso.analysis.certified_box import certified_pcc_bounds
from tsodso.analysis.dual_bounds import ptdf_of
from tsodso.analysis.kkt_presolve import _hour_model, _knapsack_max, _screen, _screen_ptdf, fixed_pairs
from tsodso.data import load_system
from tsodso.formulation.bilevel import pcc_box
from tsodso.formulation.tn import TNData


def _instance(hours, start, seed=1, derate=None):
    """1 ADN; derate = (line, factor) scales that line's rating (a line always congested)."""
    system = load_system(adns=1, hours=hours, seed=seed, start=start)
    d = TNData.from_tn(system.tn, hours)
    if derate is not None:
        d.F_pu = d.F_pu.copy()
        d.F_pu[derate[0]] *= derate[1]
    box = certified_pcc_bounds(system, d, hours)
    _, lo, hi = pcc_box(system, hours, box.lo_mw, box.hi_mw)
    return d, box, lo, hi


# congested evening (screen + MILP), midday, night (both hours by the region proof, nothing
# active) and night with line 28 derated to 40 % (region proof with that line always at -F)
CASES = [((2, 17), None), ((2, 10), None), ((2, 0), None), ((2, 0), (28, 0.4))]


@pytest.mark.parametrize("window,derate", CASES)
def test_shortcuts_fix_what_the_plain_milp_fixes(window, derate):
    d, box, lo, hi = _instance(*window, derate=derate)
    fast, s1 = fixed_pairs(d, box.buses, lo, hi, box.bounds)
    plain, s0 = fixed_pairs(d, box.buses, lo, hi, box.bounds, screen=False, region=False)
    assert s1["milp_failures"] == 0 and s0["milp_failures"] == 0
    assert s0["screened"] == 0 and s0["region_hours"] == 0
    assert s1["screened"] + 94 * s1["region_hours"] > 0.5 * fast.size    # most pairs without a MILP
    np.testing.assert_array_equal(fast, plain)
    if window[1] == 0:                                  # night: both hours by the region proof
        assert s1["region_hours"] == 2 and s1["milps"] == 0
    if derate is not None:                              # its active pair (line 28, -f <= F) fixed 1
        assert np.all(fast[:, d.nk + 28] == 1)


@pytest.mark.parametrize("window,derate", [CASES[0], CASES[3]])
def test_fixed_and_free_pairs_confirmed_by_scip(window, derate):
    pytest.importorskip("pyscipopt")
    from tsodso.conic.scip import solve_scip
    d, box, lo, hi = _instance(*window, derate=derate)
    fixed, stats = fixed_pairs(d, box.buses, lo, hi, box.bounds)
    assert stats["milp_failures"] == 0
    for t in range(d.T):
        p, k, _ = _hour_model(d, t, box.buses, lo[t], hi[t], box.bounds)
        milp = replace(p, G=sp.csc_matrix(p.G[: p.n_lp]), h=p.h[: p.n_lp], cone_sizes=[])
        z = k.z.reshape(-1)

        def best(cols, sign):
            c = np.zeros(p.n)
            c[z[cols]] = sign
            r = solve_scip(replace(milp, c=c), time_limit=60, gap=0.0)
            assert r.status == "optimal", (t, r.status)
            return sign * r.objective                     # sign -1: max sum z; sign +1: min sum z
        zero, one, free = (np.flatnonzero(fixed[t] == s) for s in (0, 1, -1))
        assert best(zero, -1.0) < 0.5, f"hour {t}: SCIP sets a pair fixed inactive active"
        if one.size:
            assert best(one, 1.0) > one.size - 0.5, f"hour {t}: SCIP frees a pair fixed active"
        for i in free:
            assert best([i], -1.0) > 0.5 and best([i], 1.0) < 0.5, f"hour {t}: pair {i} cannot switch"


def test_knapsack_matches_linprog():
    from scipy.optimize import linprog
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 9))
        a = rng.normal(size=(4, n))
        l = rng.normal(size=n)
        u = l + rng.random(n) * 2
        total = l.sum() + rng.random() * (u - l).sum()
        got = _knapsack_max(a, l, u, total)
        for k in range(4):
            r = linprog(-a[k], A_eq=np.ones((1, n)), b_eq=[total], bounds=list(zip(l, u)), method="highs")
            assert r.status == 0 and abs(-r.fun - got[k]) <= 1e-9 * (1 + abs(got[k]))
    assert _knapsack_max(a, l, u, u.sum() + 1.0) is None


def test_closed_form_screen_is_within_the_lp_screen():
    d, box, lo, hi = _instance(2, 17)
    H = ptdf_of(d)
    for t in range(d.T):
        p, k, _ = _hour_model(d, t, box.buses, lo[t], hi[t], box.bounds)
        pre = _screen_ptdf(d, t, box.buses, lo[t], hi[t], H)
        lp, _, _ = _screen(p, k, 10.0)
        assert pre.sum() > 0.6 * pre.size
        assert not np.any(pre & ~lp), "the relaxation screened a pair the LP does not"


def test_dual_bounds_memo_recomputes_changed_hours_only_and_agrees():
    from tsodso.analysis import dual_bounds as db
    d, box, lo, hi = _instance(3, 16)
    memo = {}
    first = db.derive_dual_bounds(d, box.buses, lo, hi, memo)
    lo2 = lo.copy()
    lo2[1] = 0.5 * (lo[1] + hi[1])                      # one hour's box shrunk
    calls = []
    orig = db.robust_slack
    try:
        db.robust_slack = lambda *a, **k: calls.append(a[1]) or orig(*a, **k)
        again = db.derive_dual_bounds(d, box.buses, lo2, hi, memo)
    finally:
        db.robust_slack = orig
    assert calls == [1]
    fresh = db.derive_dual_bounds(d, box.buses, lo2, hi)
    for f in ("delta_pu", "dual_max", "slack_each"):
        np.testing.assert_array_equal(getattr(again, f), getattr(fresh, f))
    np.testing.assert_array_equal(first.slack_each[[0, 2]], fresh.slack_each[[0, 2]])
