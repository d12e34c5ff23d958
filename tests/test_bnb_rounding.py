"""Lock-based rounding (solver/rounding.py) and implied binaries (solver/branching.py)."""
import numpy as np

from tsodso.conic import ProblemBuilder
from tsodso.solver import BnBOptions, solve
from tsodso.solver.branching import branch_fractional, implied_rounding
from tsodso.solver.rounding import Rounder


def _gated_problem():
    """min -p + 0 z  s.t. p <= 2 z (LP row), p <= 0.5 (bound), z binary; and w = 1 (eq row) with
    binary u in it. The relaxation optimum has p = 0.5, z anywhere in [0.25, 1]."""
    b = ProblemBuilder()
    p = b.var("p", (1,), 0.0, 0.5)
    z = b.binary("z", (1,))
    u = b.binary("u", (1,))
    w = b.var("w", (1,), 0.0, 2.0)
    b.add_cost(p, -1.0)
    b.add_leq("gate", [0, 0], np.array([p[0], z[0]]), [1.0, -2.0], [0.0])
    b.add_eq("fix", [0, 0], np.array([w[0], u[0]]), [1.0, 1.0], [1.0])
    return b.build(), p, z, u, w


def test_rounder_moves_a_free_binary_but_not_one_in_an_equality_row():
    prob, p, z, u, w = _gated_problem()
    x = np.zeros(prob.n)
    x[p], x[z], x[u], x[w] = 0.5, 0.4, 0.5, 0.5
    y, moved = Rounder(prob).round(x, prob.lb, prob.ub)
    assert moved == 1
    assert y[z[0]] == 1.0                 # down to 0 would violate p <= 2 z; up is free (c = 0)
    assert y[u[0]] == 0.5                 # in an equality row: never moved
    assert prob.residuals(y)["lp"] <= 1e-12


def test_rounder_never_raises_the_objective():
    b = ProblemBuilder()
    z = b.binary("z", (1,))
    b.add_cost(z, 1.0)
    prob = b.build()
    x = np.array([0.7])
    y, moved = Rounder(prob).round(x, prob.lb, prob.ub)
    assert moved == 1 and y[0] == 0.0     # up would cost +0.3, down is free and feasible


def test_gated_problem_is_solved_at_the_root_without_branching():
    prob, p, z, u, w = _gated_problem()
    r = solve(prob, BnBOptions(verbose=False))
    assert r.status == "optimal"
    assert abs(r.objective + 0.5) < 1e-7
    assert r.nodes == 1


def test_implied_binary_is_not_a_branching_candidate_when_its_pair_holds():
    b = ProblemBuilder()
    dual = b.var("dual", (2,), 0.0, 10.0)
    slack = b.var("slack", (2,), 0.0, 10.0)
    zz = b.binary("z", (2,))
    prob = b.build()
    prob.hints.implied_binaries = np.column_stack([zz, dual, slack])
    x = np.zeros(prob.n)
    x[dual] = [3.0, 2.0]
    x[slack] = [0.0, 1.0]                 # pair 0 holds (slack 0), pair 1 is violated
    x[zz] = [0.3, 0.6]
    ints, _ = branch_fractional(prob, x, 1e-6, 1e-6)
    assert list(ints) == [zz[1]]
    j, v, sat = implied_rounding(x, prob.hints.implied_binaries, 1e-6)
    assert list(j) == [zz[0]] and list(v) == [1.0] and list(sat) == [True, False]


def test_strong_branching_keeps_every_reference_optimum():
    import reference_problems as rpl
    for rp in rpl.library():
        if rp.status != "optimal":
            continue
        for mode in rp.modes:
            res = solve(rp.build(mode), dict(rpl.TEST_OPTIONS, complementarity=mode, strong_branching=4))
            assert res.status == "optimal", rp.name
            assert abs(res.objective - rp.optimum) <= rpl.TOL * max(1, abs(rp.optimum)), rp.name
