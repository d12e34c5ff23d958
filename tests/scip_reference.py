"""Shared by the solver tests: a small DSO-led big-M instance and SCIP's proven optimum of it.

`scip_reference(adns, hours, seed, start)` builds the problem exactly as `tsodso solve` does
(`build_dso_led`, big-M complementarity, KKT presolve on) and solves it with SCIP (the
independent reference: conic/scip.py settings, 120 s, gap 1e-6). Only a proven SCIP status
(optimal or gap_limit) is accepted; anything else fails the calling test's fixture.
"""
from tsodso.conic.scip import solve_scip
from tsodso.data import load_system
from tsodso.schemes.dso_led import build_dso_led


def scip_reference(adns, hours, seed, start):
    """(prob, lay, ref): the instance, its layout and SCIP's proven result."""
    prob, lay = build_dso_led(load_system(adns=adns, hours=hours, seed=seed, start=start),
                              complementarity="bigm")
    ref = solve_scip(prob, time_limit=120, gap=1e-6)
    assert ref.status in ("optimal", "gap_limit"), ((adns, hours, seed, start), ref.status)
    return prob, lay, ref
