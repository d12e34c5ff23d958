"""KKT presolve shortcuts (analysis/kkt_presolve.py) against a direct check by SCIP.

The primal screening (step 1: one LP per pair) and the merged active/inactive MILP (step 2)
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
from tsodso.analysis.kkt_presolve import _hour_model, fixed_pairs
from tsodso.data import load_system
from tsodso.formulation.bilevel import pcc_box
from tsodso.formulation.tn import TNData


def _instance(hours, start, seed=1):
    system = load_system(adns=1, hours=hours, seed=seed, start=start)
    d = TNData.from_tn(system.tn, hours)
    box = certified_pcc_bounds(system, d, hours)
    _, lo, hi = pcc_box(system, hours, box.lo_mw, box.hi_mw)
    return d, box, lo, hi


@pytest.mark.parametrize("hours,start", [(2, 17), (2, 10)])    # congested evening, midday
def test_screening_and_merged_milp_fix_what_the_plain_milp_fixes(hours, start):
    d, box, lo, hi = _instance(hours, start)
    fast, s1 = fixed_pairs(d, box.buses, lo, hi, box.bounds)
    plain, s0 = fixed_pairs(d, box.buses, lo, hi, box.bounds, screen=False)
    assert s1["milp_failures"] == 0 and s0["milp_failures"] == 0
    assert s0["screened"] == 0 and s1["screened"] > 0.5 * fast.size   # most pairs decided by LP
    np.testing.assert_array_equal(fast, plain)


def test_fixed_and_free_pairs_confirmed_by_scip():
    pytest.importorskip("pyscipopt")
    from tsodso.conic.scip import solve_scip
    d, box, lo, hi = _instance(2, 17)
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
