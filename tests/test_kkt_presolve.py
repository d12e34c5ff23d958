"""KKT presolve (analysis/kkt_presolve.py): pairs proved fixed over the PCC box.

Independent check: the follower (HiGHS QP via evaluation.dcopf.solve_dcopf, not the code
under test) at random admissible PCC schedules must never contradict a proved status.
"""
import numpy as np

from tsodso.data import load_system
from tsodso.evaluation.dcopf import solve_dcopf
from tsodso.analysis.certified_box import certified_pcc_bounds
from tsodso.formulation.bilevel import pcc_box
from tsodso.schemes.dso_led import build_dso_led
from tsodso.analysis.kkt_presolve import fixed_pairs
from tsodso.formulation.tn import TNData


def test_fixed_statuses_hold_at_random_admissible_schedules():
    system = load_system(adns=1, hours=2, seed=1, start=17)    # congested evening hours
    T = 2
    d = TNData.from_tn(system.tn, T)
    lo_mw, hi_mw, bounds, _, buses = certified_pcc_bounds(system, d, T)
    _, lo, hi = pcc_box(system, T, lo_mw, hi_mw)
    fixed, stats = fixed_pairs(d, buses, lo, hi, bounds)
    assert stats["milp_failures"] == 0
    assert (fixed >= 0).sum() > 0.9 * fixed.size           # most pairs cannot switch
    rng = np.random.default_rng(7)
    nk, ng = d.nk, d.ng
    tol = 1e-5
    for _ in range(10):
        u = rng.random()
        pcc_mw = lo_mw + (hi_mw - lo_mw) * u                  # (A, T) admissible schedule
        demand = np.array(system.tn.load_mw[:T], float)
        for a, adn in enumerate(system.adns):
            demand[:, adn.pcc_bus] += pcc_mw[a]
        for t in range(T):
            r = solve_dcopf(system.tn, demand[t])
            assert r.status == "optimal"
            f, g = r.flow_mw / 100.0, r.gen_mw / 100.0
            slack = np.concatenate([d.F_pu - f, f + d.F_pu, d.gmax_pu - g, g - d.gmin_pu])
            assert np.all(slack[fixed[t] == 1] <= tol), "a proved-active inequality has slack"
            # proved inactive: no KKT point in the box has slack 0 there (z = 1 would be
            # feasible for it, degenerate or not), so the QP optimum has a positive slack
            assert np.all(slack[fixed[t] == 0] > 1e-7), "a proved-inactive inequality binds"


def test_presolve_does_not_change_the_optimum():
    """Same instance solved by SCIP with and without the presolve: same optimum."""
    import pytest
    pytest.importorskip("pyscipopt")
    from tsodso.conic.scip import solve_scip
    system = load_system(adns=1, hours=2, seed=1, start=17)
    objs = []
    for kp in (True, False):
        prob, _ = build_dso_led(system, kkt_presolve=kp)
        r = solve_scip(prob, time_limit=120, gap=1e-7)
        assert r.status == "optimal"
        objs.append(r.objective)
    assert abs(objs[0] - objs[1]) <= 1e-5 * abs(objs[1])
