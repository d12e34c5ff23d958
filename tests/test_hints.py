"""The typed model -> solver contract (conic/hints.py): the solver takes the complementarity mode
the model declares, and refuses an option that contradicts it.

bard_blp_xy (tests/reference_problems.py): Bard's linear bilevel program with the leader
min x - y, optimum -1 at (1, 2); its high-point relaxation (pairs not enforced) gives -3, so a
solve that does not enforce the pairs cannot reach -1 by accident.
"""
from __future__ import annotations

import numpy as np
import pytest

import reference_problems as rpl
from tsodso.conic import SolverHints
from tsodso.data import load_system
from tsodso.schemes.dso_led import build_dso_led
from tsodso.solver import solve


def test_declared_branch_mode_is_used_without_an_option():
    prob = rpl.bard_blp_xy("branch")
    prob.hints.complementarity_mode = "branch"
    res = solve(prob, dict(rpl.TEST_OPTIONS))          # no complementarity option given
    assert res.status == "optimal"
    assert abs(res.objective - (-1.0)) <= 1e-6        # published/enumerated optimum (rpl)


def test_option_contradicting_the_declared_mode_is_refused():
    prob = rpl.bard_blp_xy("branch")
    prob.hints.complementarity_mode = "branch"
    with pytest.raises(ValueError, match="built for 'branch'"):
        solve(prob, dict(rpl.TEST_OPTIONS, complementarity="bigm"))


def test_undeclared_mode_follows_the_option():
    assert SolverHints().mode(None) == "bigm"
    assert SolverHints().mode("branch") == "branch"
    with pytest.raises(ValueError, match="complementarity_mode"):
        SolverHints(complementarity_mode="sos1").mode(None)


@pytest.mark.parametrize("mode", ["bigm", "branch"])
def test_dso_led_builder_declares_its_mode(mode):
    prob, lay = build_dso_led(load_system(adns=1, hours=1, seed=0), complementarity=mode,
                              kkt_presolve=False)
    h = prob.hints
    assert h.complementarity_mode == mode
    npair = lay.kkt.pairs.shape[0]
    if mode == "branch":
        assert h.complementarity_pairs.shape == (npair, 2) and h.implied_binaries.size == 0
    else:
        assert h.implied_binaries.shape == (npair, 3) and h.complementarity_pairs.size == 0
    assert h.priority(prob.n) is not None and np.all(h.priority(prob.n)[prob.integer] >= 0)
    assert "layout" not in prob.meta                    # meta is descriptive only
