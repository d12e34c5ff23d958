"""ECOS adapter: reference problems with hand-derived optima, statuses, bounds, duals, data checks.

Tolerances: ECOS runs at feastol = abstol = reltol = 1e-8 (DEFAULT_TOLERANCES); objectives
are compared at TOL = 1e-6 absolute (two orders above the solver tolerance on problems whose
data are O(1)). Finite differences use a step of 1e-3 on problems whose optimal value is
affine (LP) or smooth with bounded curvature (SOCP) in the perturbed right-hand side, so the
difference quotient matches the dual to FD_TOL = 1e-4.
"""
import math

import numpy as np
import pytest

from tsodso.conic import ecos_adapter as ea
from tsodso.conic.problem import ProblemBuilder

TOL = 1e-6
FD_TOL = 1e-4


# ----------------------------------------------------------------- reference problems
def lp_two_vars(rhs=(4.0, 6.0)):
    """min -x - y  s.t.  x + 2y <= 4,  3x + y <= 6,  x, y >= 0.

    Hand-derived: both rows bind at the vertex x = 8/5, y = 6/5; objective -14/5.
    Row duals (d obj / d rhs) are -(2/5, 1/5): solve [1 3; 2 1] u = [1; 1] -> u = (2/5, 1/5).
    """
    pb = ProblemBuilder()
    x = pb.var("xy", 2, lb=0.0)
    pb.add_cost(x, [-1.0, -1.0])
    pb.add_leq("rows", [0, 0, 1, 1], [x[0], x[1], x[0], x[1]], [1.0, 2.0, 3.0, 1.0], list(rhs))
    return pb.build()


def socp_distance(b=0.0, c0=0.0):
    """min t + c0  s.t.  ||(x1 - 1, x2 - 2)|| <= t,  x1 + x2 = b.

    Hand-derived: distance from (1, 2) to the line x1 + x2 = b is |3 - b| / sqrt(2), so the
    optimum is (3 - b)/sqrt(2) + c0 for b < 3 and d obj / d b = -1/sqrt(2).
    """
    pb = ProblemBuilder()
    x = pb.var("x", 2)
    t = pb.var("t", 1)
    pb.add_cost(t, 1.0)
    pb.c0 = c0
    pb.add_eq("line", [0, 0], [x[0], x[1]], [1.0, 1.0], [b])
    # cone vector (t, x1 - 1, x2 - 2)
    pb.add_cones("dist", [0, 1, 2], [t[0], x[0], x[1]], [1.0, 1.0, 1.0], [0.0, -1.0, -2.0], 3)
    return pb.build()


# ----------------------------------------------------------------- optima
def test_lp_known_optimum():
    s = ea.solve(lp_two_vars())
    assert s.status == ea.OPTIMAL and s.ok
    assert s.objective == pytest.approx(-14 / 5, abs=TOL)
    np.testing.assert_allclose(s.x, [8 / 5, 6 / 5], atol=TOL)
    # G-row duals z >= 0 with d obj / d h = -z
    np.testing.assert_allclose(s.z, [2 / 5, 1 / 5], atol=TOL)
    assert s.build_seconds >= 0.0 and s.solve_seconds >= 0.0


def test_socp_known_optimum_with_constant():
    s = ea.solve(socp_distance(b=0.0, c0=10.0))
    assert s.status == ea.OPTIMAL
    assert s.objective == pytest.approx(3 / math.sqrt(2) + 10.0, abs=TOL)
    # closest point on x1 + x2 = 0 to (1, 2) is (-1/2, 1/2)
    np.testing.assert_allclose(s.x[:2], [-0.5, 0.5], atol=1e-5)
    assert s.dual_objective == pytest.approx(s.objective, abs=TOL)


def test_infeasible_lp():
    pb = ProblemBuilder()
    x = pb.var("x", 1, lb=1.0)
    pb.add_cost(x, 1.0)
    pb.add_leq("cap", [0], [x[0]], [1.0], [0.0])          # x <= 0 and x >= 1
    s = ea.solve(pb.build())
    assert s.status == ea.INFEASIBLE
    assert s.x is None and math.isnan(s.objective)


def test_unbounded_lp():
    pb = ProblemBuilder()
    x = pb.var("x", 1, lb=0.0)
    pb.add_cost(x, -1.0)                                    # min -x, x >= 0
    s = ea.solve(pb.build())
    assert s.status == ea.UNBOUNDED
    assert not s.ok


# ----------------------------------------------------------------- status map
ECOS_EXIT_FLAGS = (0, 1, 2, 10, 11, 12, -1, -2, -3, -4, -7)   # ecos.h


def test_status_map_complete_and_strict():
    assert set(ECOS_EXIT_FLAGS) <= set(ea.STATUS_MAP)
    for flag in (10, 11, 12):
        assert ea.STATUS_MAP[flag] != ea.OPTIMAL
    assert ea.STATUS_MAP[10] == ea.OPTIMAL_INACCURATE
    assert [f for f, s in ea.STATUS_MAP.items() if s == ea.OPTIMAL] == [0]


@pytest.mark.parametrize("flag", ECOS_EXIT_FLAGS + (99,))
def test_invert_never_calls_inaccurate_optimal(flag):
    prob = lp_two_vars()
    data, inverse = ea.apply(prob)
    m = data["G"].shape[0]
    raw = {"x": np.zeros(prob.n), "y": np.zeros(0), "z": np.zeros(m), "s": np.zeros(m),
           "info": {"exitFlag": flag, "pcost": 0.0, "dcost": 0.0, "iter": 3,
                    "timing": {"runtime": 0.0}}}
    sol = ea.invert(raw, inverse, 0.0)
    assert sol.ok == (flag == 0)
    assert sol.status == ea.STATUS_MAP.get(flag, ea.FATAL)


# ----------------------------------------------------------------- bounds
def test_bounds_fixed_lower_only_upper_only():
    """min x1 - x2 + x3 with x1 >= 2 (lb only), x2 <= 3 (ub only), x3 = 1.5 (fixed).

    Hand-derived optimum 2 - 3 + 1.5 = 0.5. Bound duals: raising lb1 or the fixed value of
    x3 by d raises the objective by d (z_lb = 1); raising ub2 by d lowers it by d (z_ub = 1).
    """
    pb = ProblemBuilder()
    x1 = pb.var("x1", 1, lb=2.0)
    x2 = pb.var("x2", 1, ub=3.0)
    x3 = pb.var("x3", 1, lb=1.5, ub=1.5)
    pb.add_cost([x1[0], x2[0], x3[0]], [1.0, -1.0, 1.0])
    prob = pb.build()
    s = ea.solve(prob)
    assert s.status == ea.OPTIMAL
    assert s.objective == pytest.approx(0.5, abs=TOL)
    np.testing.assert_allclose(s.x, [2.0, 3.0, 1.5], atol=TOL)
    np.testing.assert_allclose(s.z_lb, [1.0, 0.0, 1.0], atol=TOL)
    np.testing.assert_allclose(s.z_ub, [0.0, 1.0, 0.0], atol=TOL)
    # node-tightened bounds override the problem's own
    s2 = ea.solve(prob, lb=np.array([2.5, -np.inf, 1.5]), ub=np.array([np.inf, 2.0, 1.5]))
    assert s2.objective == pytest.approx(2.5 - 2.0 + 1.5, abs=TOL)


def test_fixed_variable_dual_sign_matches_finite_difference():
    pb = ProblemBuilder()
    x = pb.var("x", 1, lb=1.0, ub=1.0)
    y = pb.var("y", 1, lb=0.0)
    pb.add_cost([x[0], y[0]], [3.0, 1.0])
    pb.add_leq("link", [0, 0], [x[0], y[0]], [1.0, -1.0], [0.0])    # y >= x
    prob = pb.build()
    s = ea.solve(prob)
    d = 1e-3
    up = ea.solve(prob, lb=np.array([1 + d, 0.0]), ub=np.array([1 + d, np.inf]))
    slope = (up.objective - s.objective) / d                        # = 4
    assert slope == pytest.approx(4.0, abs=FD_TOL)
    assert s.z_lb[0] - s.z_ub[0] == pytest.approx(slope, abs=FD_TOL)


# ----------------------------------------------------------------- dual sign convention
def test_equality_duals_match_finite_difference_socp():
    base = ea.solve(socp_distance(b=0.0))
    d = 1e-3
    up = ea.solve(socp_distance(b=d))
    dn = ea.solve(socp_distance(b=-d))
    fd = (up.objective - dn.objective) / (2 * d)
    assert fd == pytest.approx(-1 / math.sqrt(2), abs=FD_TOL)
    # module docstring: d objective / d b = -y
    assert -base.y[0] == pytest.approx(fd, abs=FD_TOL)


def test_equality_duals_match_finite_difference_lp():
    """min x + 2y s.t. x + y = 3, x - y = b (b = 1), x, y >= 0: x = (3+b)/2, y = (3-b)/2,
    objective (9 - b)/2, so d obj / d (3, b) = (3/2, -1/2)."""
    def build(r1, r2):
        pb = ProblemBuilder()
        v = pb.var("v", 2, lb=0.0)
        pb.add_cost(v, [1.0, 2.0])
        pb.add_eq("rows", [0, 0, 1, 1], [v[0], v[1], v[0], v[1]], [1.0, 1.0, 1.0, -1.0], [r1, r2])
        return pb.build()
    s = ea.solve(build(3.0, 1.0))
    assert s.objective == pytest.approx(4.0, abs=TOL)
    d = 1e-3
    fd = [(ea.solve(build(3.0 + d, 1.0)).objective - s.objective) / d,
          (ea.solve(build(3.0, 1.0 + d)).objective - s.objective) / d]
    np.testing.assert_allclose(fd, [1.5, -0.5], atol=FD_TOL)
    np.testing.assert_allclose(-s.y, fd, atol=FD_TOL)


# ----------------------------------------------------------------- data ECOS mishandles
def test_nan_data_rejected():
    prob = lp_two_vars()
    prob.c = prob.c.copy()
    prob.c[1] = np.nan
    with pytest.raises(ea.ECOSDataError, match=r"c\[1\].*not finite"):
        ea.solve(prob)
    prob = lp_two_vars()
    prob.h = prob.h.copy()
    prob.h[0] = np.inf
    with pytest.raises(ea.ECOSDataError, match="not finite"):
        ea.solve(prob)
    with pytest.raises(ea.ECOSDataError, match="NaN"):
        ea.solve(lp_two_vars(), lb=np.array([np.nan, 0.0]))


def test_empty_equality_rows_dropped_or_infeasible():
    # ECOS's KKT factorisation fails on an empty (rank-deficient) row of A: the adapter drops a
    # row 0 = 0 and reports a row 0 = 1 as infeasible without calling ECOS.
    for rhs, status in ((0.0, ea.OPTIMAL), (1.0, ea.INFEASIBLE)):
        pb = ProblemBuilder()
        x = pb.var("x", 2, lb=0.0)
        pb.add_cost(x, [1.0, 1.0])
        pb.add_eq("rows", [0, 0], [x[0], x[1]], [1.0, 1.0], [1.0, rhs])   # row 1 has no entries
        sol = ea.solve(pb.build())
        assert sol.status == status
        if status == ea.OPTIMAL:
            assert sol.objective == pytest.approx(1.0, abs=1e-7)


def test_fixed_variables_eliminated_exactly():
    # min x0 + 2 x1 + 3 x2, x0 + x1 + x2 = 2, x >= 0, x2 fixed at 0.5: optimum x0 = 1.5 -> 3.0
    pb = ProblemBuilder()
    x = pb.var("x", 3, lb=0.0, ub=10.0)
    pb.add_cost(x, [1.0, 2.0, 3.0])
    pb.add_eq("sum", [0, 0, 0], x, 1.0, [2.0])
    prob = pb.build()
    lb, ub = prob.lb.copy(), prob.ub.copy()
    lb[2] = ub[2] = 0.5
    sol = ea.solve(prob, lb, ub)
    assert sol.status == ea.OPTIMAL
    assert sol.objective == pytest.approx(3.0, abs=1e-7)
    assert sol.x[2] == 0.5
    # d obj / d x2 = 3 - 1 = 2 > 0: the lower-bound multiplier of the fixed variable is 2
    assert sol.z_lb[2] == pytest.approx(2.0, abs=1e-6) and sol.z_ub[2] == pytest.approx(0.0, abs=1e-9)
    lb[:] = ub[:] = [1.0, 0.5, 0.5]      # all fixed and feasible
    assert ea.solve(prob, lb, ub).objective == pytest.approx(3.5)
    lb[:] = ub[:] = [1.0, 1.0, 1.0]      # all fixed, violates the equality
    assert ea.solve(prob, lb, ub).status == ea.INFEASIBLE


def test_crossing_bounds_rejected():
    with pytest.raises(ea.ECOSDataError, match="bounds cross"):
        ea.solve(lp_two_vars(), lb=np.array([1.0, 0.0]), ub=np.array([0.5, np.inf]))


def test_column_scaling_keeps_point_and_bound_duals():
    """The same problem with large bounds (lb1 = 200, ub2 = 500, so both columns are scaled by
    `apply`) solved with and without column scaling: same point, same objective and bound
    duals equal to their hand-derived values (z_lb1 = 1, z_ub2 = 1: d obj / d bound), i.e.
    `invert` divides the scaled bound multipliers back. Optimum 200 - 500 = -300; a
    coupling row x1 + x2 <= 1000 stays slack (dual 0)."""
    pb = ProblemBuilder()
    x1 = pb.var("x1", 1, lb=200.0, ub=900.0)
    x2 = pb.var("x2", 1, lb=0.0, ub=500.0)
    pb.add_cost([x1[0], x2[0]], [1.0, -1.0])
    pb.add_leq("couple", [0, 0], [x1[0], x2[0]], [1.0, 1.0], [1000.0])
    prob = pb.build()
    data, inv = ea.apply(prob)
    assert np.all(inv["scale"] == [900.0, 500.0])
    assert np.all(ea.apply(prob, scale_columns=False)[1]["scale"] == 1.0)
    s = ea.solve(prob)
    assert s.status == ea.OPTIMAL
    assert s.objective == pytest.approx(-300.0, abs=1e-5)
    np.testing.assert_allclose(s.x, [200.0, 500.0], atol=1e-5)
    np.testing.assert_allclose(s.z_lb, [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(s.z_ub, [0.0, 1.0], atol=1e-6)
    assert s.z[0] == pytest.approx(0.0, abs=1e-6)
    # stationarity of the original (unscaled) problem: c + G'z - z_lb + z_ub = 0
    r = prob.c + prob.G.T @ s.z - s.z_lb + s.z_ub
    np.testing.assert_allclose(r, 0.0, atol=1e-6)
