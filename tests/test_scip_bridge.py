"""SCIP as an independent reference: on our matrices and on our CBF file it must agree with
ECOS on continuous problems and with a brute-force enumeration of the binaries (every
assignment solved by ECOS, best kept) on small MISOCPs.

Tolerance REL = 1e-5 relative (+1e-6 absolute). SCIP accepts bound, row and integrality
violations up to its feasibility tolerance 1e-6 (numerics/feastol): on seed 3 its point has
y = 0.999999036 and w3 = -1.5e-7 and is 3.7e-6 (2.2e-6 relative) below the exact optimum
with those values rounded, so 1e-6 relative would test SCIP's tolerance, not the bridge.
SCIP stops at the relative gap 1e-6 ("gap_limit") or proves optimality ("optimal"): both
are accepted as proven here (`proven`). ECOS runs at 1e-8.
"""
import itertools
import math

import numpy as np
import pytest

pytest.importorskip("pyscipopt")

from tsodso.conic import ecos_adapter as ea                       # noqa: E402
from tsodso.conic.cbf import read_cbf, write_cbf                  # noqa: E402
from tsodso.conic.ecos_bb import solve_ecos_bb                    # noqa: E402
from tsodso.conic.problem import ProblemBuilder                   # noqa: E402
from tsodso.conic.scip import solve_scip, solve_scip_file         # noqa: E402

REL = 1e-5
GAP = 1e-6


def proven(r):
    """SCIP proved the optimum to within GAP (its status is kept strict: see STATUS_MAP)."""
    return r.status == "optimal" or (r.status == "gap_limit" and r.gap <= GAP)


def close(a, b, rel=REL):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b)) + 1e-6


def misocp(seed: int, continuous: bool = False):
    """Random small MISOCP (5 binaries) that is feasible and bounded for every seed.

    min f'y + c'w + t + c0
    s.t. ||D w - d|| <= t                         (cone of size 4)
         ||(w2 - 1, 0.5 y4)|| <= 1.5 - 0.1 w3     (cone of size 3)
         w0 - w1 + 0.5 w2 - w3 = e                (equality)
         w_i <= 3 y_i (i < 4),  w0 + w1 <= 2 + 5 y4,  sum w >= 2,  y0 + .. + y3 <= 2
         0 <= w <= 10, y binary
    """
    rng = np.random.default_rng(seed)
    pb = ProblemBuilder()
    w = pb.var("w", 4, lb=0.0, ub=10.0)
    y = pb.var("y", 5, lb=0.0, ub=1.0, integer=not continuous)
    t = pb.var("t", 1)
    pb.add_cost(y, rng.uniform(0.1, 2.0, 5))
    pb.add_cost(w, rng.uniform(-1.0, 1.0, 4))
    pb.add_cost(t, 1.0)
    pb.c0 = float(rng.uniform(-5, 5))
    D = rng.normal(size=(3, 4))
    d = rng.normal(size=3)
    rows, cols, vals = [0], [t[0]], [1.0]
    for i in range(3):
        for j in range(4):
            rows.append(1 + i); cols.append(w[j]); vals.append(D[i, j])
    pb.add_cones("fit", rows, cols, vals, np.concatenate([[0.0], -d]), 4)
    pb.add_cones("side", [0, 1, 2], [w[3], w[2], y[4]], [-0.1, 1.0, 0.5], [1.5, -1.0, 0.0], 3)
    pb.add_eq("bal", [0] * 4, list(w), [1.0, -1.0, 0.5, -1.0], [float(rng.uniform(-0.5, 0.5))])
    r, c, v = [], [], []
    for i in range(4):                       # w_i - 3 y_i <= 0
        r += [i, i]; c += [w[i], y[i]]; v += [1.0, -3.0]
    r += [4, 4, 4]; c += [w[0], w[1], y[4]]; v += [1.0, 1.0, -5.0]
    r += [5] * 4; c += list(w); v += [-1.0] * 4
    r += [6] * 4; c += list(y[:4]); v += [1.0] * 4
    pb.add_leq("link", r, c, v, [0, 0, 0, 0, 2.0, -2.0, 2.0])
    return pb.build()


def brute_force(prob):
    """Best objective over every assignment of the integer (binary) variables, by ECOS."""
    ints = prob.integer
    best, best_x = math.inf, None
    for bits in itertools.product((0.0, 1.0), repeat=ints.size):
        lb, ub = prob.lb.copy(), prob.ub.copy()
        lb[ints] = ub[ints] = bits
        s = ea.solve(prob, lb=lb, ub=ub)
        if s.status == ea.INFEASIBLE:
            continue
        assert s.status == ea.OPTIMAL, s.status            # never decide on an inaccurate solve
        if s.objective < best:
            best, best_x = s.objective, s.x
    return best, best_x


# ------------------------------------------------------------------ continuous problems
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_continuous_scip_matrices_and_file_match_ecos(tmp_path, seed):
    prob = misocp(seed, continuous=True)
    ref = ea.solve(prob)
    assert ref.status == ea.OPTIMAL
    s = solve_scip(prob)
    assert proven(s), s.scip_status
    assert close(s.objective, ref.objective), (s.objective, ref.objective)
    assert max(prob.residuals(s.x).values()) <= 1e-5
    f = tmp_path / "p.cbf"
    write_cbf(prob, f)
    sf = solve_scip_file(f)
    assert proven(sf), sf.scip_status
    assert close(sf.objective, ref.objective), (sf.objective, ref.objective)
    assert sf.x.shape == (prob.n,)


def test_scip_reads_hand_written_qr_max_file(tmp_path):
    """SCIP's CBF path (QR as 2 u1 u2 >= ||w||^2, MAX) vs read_cbf + ECOS (QR -> Q, negated):
    hand-derived max x3 + 0.5 = 2.5 (see tests/test_cbf.py::HAND_WRITTEN)."""
    import importlib.util
    import pathlib
    spec = importlib.util.spec_from_file_location(
        "_test_cbf", pathlib.Path(__file__).with_name("test_cbf.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    f = tmp_path / "hand.cbf"
    f.write_text(mod.HAND_WRITTEN)
    sf = solve_scip_file(f)
    assert proven(sf), sf.scip_status
    assert close(sf.objective, 2.5)
    assert close(ea.solve(read_cbf(f)).objective, -2.5)


# ------------------------------------------------------------------ MISOCPs
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_misocp_scip_matches_brute_force(tmp_path, seed):
    prob = misocp(seed)
    best, best_x = brute_force(prob)
    assert math.isfinite(best)
    s = solve_scip(prob)
    assert proven(s), s.scip_status
    assert close(s.objective, best), (s.objective, best)
    assert prob.residuals(s.x)["integrality"] <= 1e-6 + 1e-9
    f = tmp_path / "p.cbf"
    write_cbf(prob, f)
    sf = solve_scip_file(f)
    assert proven(sf), sf.scip_status
    assert close(sf.objective, best), (sf.objective, best)
    # the exported file read back by our reader has the same MISOCP optimum
    q = read_cbf(f)
    assert close(brute_force(q)[0], best)


@pytest.mark.parametrize("seed", [0, 1])
def test_ecos_bb_strict_status(seed):
    """ECOS_BB (benchmark only): when it is reported optimal its point is feasible; record
    whether its value agrees with the brute force (ECOS_BB is known to be unreliable)."""
    prob = misocp(seed)
    best, _ = brute_force(prob)
    r = solve_ecos_bb(prob)
    if r.status == "optimal":
        assert max(r.residuals[k] for k in ("eq", "lp", "cone", "bound")) <= 1e-5
        assert close(r.objective, best, rel=1e-5), (r.objective, best)
    else:
        assert r.status in ("optimal_claimed_infeasible_point", "node_limit_feasible")


def test_infeasible_integer_program_cvxpy_578(tmp_path):
    """cvxpy #578 / ecos #166: min 0 s.t. 0 * y <= -1, y boolean: infeasible."""
    pb = ProblemBuilder()
    y = pb.binary("y", 2)
    pb.add_leq("impossible", [0, 1], [y[0], y[1]], [0.0, 0.0], [-1.0, -1.0])
    prob = pb.build()
    assert solve_scip(prob).status == "infeasible"
    f = tmp_path / "inf.cbf"
    write_cbf(prob, f)
    assert solve_scip_file(f).status == "infeasible"
    r = solve_ecos_bb(prob)
    assert r.status != "optimal"          # ecos 2.0.14 says infeasible; older versions "optimal"


def test_ecos_bb_time_limit_runs_in_child_process():
    """With a time limit ECOS_BB runs in a child process; a generous limit gives the same answer."""
    prob = misocp(1)
    direct, limited = solve_ecos_bb(prob), solve_ecos_bb(prob, time_limit=30.0)
    assert limited.status == direct.status
    assert close(limited.objective, direct.objective)
