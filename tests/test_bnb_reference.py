"""The branch-and-bound on the reference-problem library (tests/reference_problems.py).

Checks, separately: the stated optimum against its independent proof (enumeration); our
status and objective (tolerance `reference_problems.TOL`, reasoned there); x where the
optimum is unique; certified feasibility of the returned point; both complementarity modes
agree; SCIP (through tsodso.conic.scip) agrees.
"""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from reference_problems import TEST_OPTIONS, TOL, library  # noqa: E402

from tsodso.solver import solve  # noqa: E402

LIB = library()
CASES = [(rp, mode) for rp in LIB for mode in rp.modes]


def _close(a, b):
    return abs(a - b) <= TOL * max(1.0, abs(b))


@pytest.mark.parametrize("rp", [rp for rp in LIB if rp.enumerate], ids=lambda rp: rp.name)
def test_stated_optimum_matches_its_proof(rp):
    assert _close(rp.enumerate(), rp.optimum)


@pytest.mark.parametrize("rp,mode", CASES, ids=[f"{rp.name}-{m}" for rp, m in CASES])
def test_reference_problem(rp, mode):
    prob = rp.build(mode)
    res = solve(prob, dict(TEST_OPTIONS, complementarity=mode, **rp.options))
    assert res.status == rp.status, (res.status, res.stop_reason)
    if rp.status == "infeasible":
        assert res.x is None and math.isnan(res.objective)
        assert res.best_bound == math.inf
        return
    assert _close(res.objective, rp.optimum), (res.objective, rp.optimum)
    assert res.best_bound <= res.objective + 1e-12
    assert res.abs_gap <= TEST_OPTIONS["abs_gap"] or res.rel_gap <= TEST_OPTIONS["rel_gap"]
    # the point is feasible (residuals in the problem's units) and complementary
    r = prob.residuals(res.x)
    assert max(r["eq"], r["lp"], r["cone"], r["bound"]) <= 1e-6 * (1 + max(np.abs(prob.b).max(initial=0),
                                                                          np.abs(prob.h).max(initial=0)))
    assert r["integrality"] == 0.0
    pairs = prob.hints.complementarity_pairs
    if pairs.size:
        assert np.max(np.minimum(res.x[pairs[:, 0]], res.x[pairs[:, 1]])) <= 1e-6
    for name, val in rp.x.items():
        np.testing.assert_allclose(prob.get(res.x, name), val, atol=TOL * max(1.0, np.abs(val).max()))


@pytest.mark.parametrize("rp", [rp for rp in LIB if len(rp.modes) > 1], ids=lambda rp: rp.name)
def test_complementarity_modes_agree(rp):
    objs = [solve(rp.build(m), dict(TEST_OPTIONS, complementarity=m)).objective for m in rp.modes]
    assert _close(objs[0], objs[1])


@pytest.mark.parametrize("rp", LIB, ids=lambda rp: rp.name)
def test_scip_agrees(rp):
    pytest.importorskip("pyscipopt")
    scip = pytest.importorskip("tsodso.conic.scip")
    prob = rp.build("bigm")          # SCIP sees the big-M binaries, not the pairs
    ref = scip.solve_scip(prob, time_limit=20, gap=1e-9)
    if rp.status == "infeasible":
        assert ref.status == "infeasible"
        return
    assert ref.status == "optimal"
    # SCIP's own feasibility tolerance is 1e-6 (absolute, per row): allow it on top of ours
    assert abs(ref.objective - rp.optimum) <= TOL * max(1.0, abs(rp.optimum)) + 1e-5
