"""A small DSO-led instance solved by SCIP (independent solver) from our matrices; the
certificates computed from SCIP's point must pass (issue 3).

Tolerances: SCIP accepts constraint violations up to its feasibility tolerance 1e-6, which
enters the complementarity products (duals up to M_t ~ 1e2) and hence the strong-duality
wholesale term: the objective recomputed from LMP x P0 is compared at 1e-4 relative.
"""
import numpy as np
import pytest

pytest.importorskip("pyscipopt")

from tsodso.conic.scip import solve_scip
from tsodso.data import load_system
from tsodso.formulation.bilevel import build_dso_led
from tsodso.report.certificates import certify


def test_scip_solution_of_small_instance_passes_certificates():
    system = load_system(adns=1, hours=4, seed=0)
    prob, lay = build_dso_led(system)
    r = solve_scip(prob, time_limit=120, gap=1e-6)
    assert r.status == "optimal"
    c = certify(lay, prob, r.x)
    assert c["follower"]["all_solved"]
    assert c["follower"]["follower_gap"] < 1e-6
    assert c["follower"]["max_dispatch_diff_mw"] < 1e-3
    assert c["soc"]["soc_gap"] < 1e-5
    assert c["soc"]["max_voltage_mismatch_pu"] < 1e-5
    assert not c["bigm"]["bigm_active"]
    o = c["objective"]
    assert o["recomputed_usd"] == pytest.approx(o["objective_usd"], rel=1e-4)
    assert o["objective_usd"] == pytest.approx(r.objective * 1000.0, rel=1e-9)
