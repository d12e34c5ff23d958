"""Reference problems with known optima for the branch-and-bound (cf. CVXPY's
tests/solver_test_helpers.py): small MILPs and MISOCPs, ECOS_BB failure cases, and bilevel
LPs in KKT form with complementarity pairs.

Every entry says where its expected value comes from: a published optimum, or a proof by
enumeration that the tests re-run (`enumerate()` of the entry, independent of any solver
code of ours except numpy). All problems are minimisations; a maximisation from the source
is negated, so `optimum` is in our (minimisation) units.

Tolerance (one for the library, used by the tests): |objective - optimum| <= 1e-5 *
max(1, |optimum|). Why: node solves run at ECOS tolerances 1e-8 and the B&B's default gap
is rel 1e-4, so tests run with a tighter gap (abs 1e-7, rel 1e-8) and 1e-5 leaves room for
ECOS's accuracy on the certified re-solve. x is checked (same tolerance) only where the
optimum is unique.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from tsodso.conic import ProblemBuilder

TOL = 1e-5
TEST_OPTIONS = dict(abs_gap=1e-7, rel_gap=1e-8, verbose=False)


@dataclass
class RefProblem:
    name: str
    source: str
    build: Callable[..., object]               # build(mode="bigm") -> ConicProblem
    status: str                                # expected: "optimal" or "infeasible"
    optimum: Optional[float] = None
    x: Dict[str, np.ndarray] = field(default_factory=dict)   # unique optimal values per block
    kind: str = "MILP"
    modes: tuple = ("bigm",)                   # complementarity modes to run
    enumerate: Optional[Callable[[], float]] = None   # independent proof of `optimum`
    options: dict = field(default_factory=dict)


def _leq(pb, name, rows):
    """rows: list of (dict col -> coef, rhs)."""
    r, c, v, rhs = [], [], [], []
    for i, (coefs, b) in enumerate(rows):
        for j, a in coefs.items():
            r.append(i); c.append(j); v.append(a)
        rhs.append(b)
    pb.add_leq(name, r, c, v, rhs)


def _eq(pb, name, rows):
    r, c, v, rhs = [], [], [], []
    for i, (coefs, b) in enumerate(rows):
        for j, a in coefs.items():
            r.append(i); c.append(j); v.append(a)
        rhs.append(b)
    pb.add_eq(name, r, c, v, rhs)


# ================================================================ MILPs
def wolsey_ip(mode="bigm"):
    """Wolsey, *Integer Programming* (Wiley 1998), the branch-and-bound example of ch. 7:

        max 4 x1 - x2  s.t.  7 x1 - 2 x2 <= 14,  x2 <= 3,  2 x1 - 2 x2 <= 3,  x in Z^2_+

    LP bound 59/7 at (20/7, 3); integer optimum 7 at (2, 1), unique (enumerate()).
    General integers, not binaries."""
    pb = ProblemBuilder()
    x = pb.var("x", 2, 0.0, np.inf, integer=True)
    pb.add_cost(x, [-4.0, 1.0])
    _leq(pb, "rows", [({x[0]: 7, x[1]: -2}, 14), ({x[1]: 1}, 3), ({x[0]: 2, x[1]: -2}, 3)])
    return pb.build()


def _enum_wolsey():
    best = np.inf
    for x1, x2 in itertools.product(range(10), range(4)):
        if 7 * x1 - 2 * x2 <= 14 and 2 * x1 - 2 * x2 <= 3:
            best = min(best, -4 * x1 + x2)
    return best


P01 = dict(w=[23, 31, 29, 44, 53, 38, 63, 85, 89, 82], p=[92, 57, 49, 68, 60, 43, 67, 84, 87, 72], cap=165,
           x=[1, 1, 1, 1, 0, 1, 0, 0, 0, 0], opt=309)
P02 = dict(w=[12, 7, 11, 8, 9], p=[24, 13, 23, 15, 16], cap=26, x=[0, 1, 1, 1, 0], opt=51)


def knapsack(data):
    def build(mode="bigm"):
        """0-1 knapsack: max p'x s.t. w'x <= cap (Burkardt's KNAPSACK_01 data set, FSU,
        after Kreher & Stinson, *Combinatorial Algorithms*, 1999, published optimum)."""
        n = len(data["w"])
        pb = ProblemBuilder()
        x = pb.binary("x", n)
        pb.add_cost(x, -np.asarray(data["p"], float))
        pb.add_leq("cap", np.zeros(n, int), x, data["w"], [data["cap"]])
        return pb.build()

    def enum():
        w, p = np.array(data["w"]), np.array(data["p"])
        best = 0
        for bits in itertools.product((0, 1), repeat=len(w)):
            b = np.array(bits)
            if w @ b <= data["cap"]:
                best = max(best, p @ b)
        return -float(best)
    return build, enum


def jeroslow(n):
    def build(mode="bigm"):
        """Jeroslow, "Trivial integer programs unsolvable by branch-and-bound", Math.
        Programming 6 (1974): min x0 s.t. x0 + 2 sum_i x_i = n (n odd), x binary. The LP
        bound is 0, the optimum 1 (parity), and plain B&B needs exponentially many nodes."""
        pb = ProblemBuilder()
        x = pb.binary("x", n + 1)
        pb.add_cost([x[0]], [1.0])
        pb.add_eq("parity", np.zeros(n + 1, int), x, [1.0] + [2.0] * n, [float(n)])
        return pb.build()
    return build


def ecos_pr174(mode="bigm"):
    """embotech/ecos PR #174 (ECOS_BB branched on an infeasible node), its C test case:
    max 10 x1 + 17 x2 s.t. x1 + x2 + s1 = 12, 5 x1 + 9 x2 + s2 = 90, x, s >= 0, x integer.
    Optimum 170 at x = (0, 10), unique (enumerate())."""
    pb = ProblemBuilder()
    s = pb.var("s", 2, 0.0, np.inf)
    x = pb.var("x", 2, 0.0, np.inf, integer=True)
    pb.add_cost(x, [-10.0, -17.0])
    _eq(pb, "rows", [({s[0]: 1, x[0]: 1, x[1]: 1}, 12), ({s[1]: 1, x[0]: 5, x[1]: 9}, 90)])
    return pb.build()


def _enum_pr174():
    return float(min(-10 * a - 17 * b for a in range(13) for b in range(13) if a + b <= 12 and 5 * a + 9 * b <= 90))


def ecos166_infeasible(mode="bigm"):
    """cvxpy issue #578 / embotech/ecos issue #166: min 0 s.t. 0 x <= -1 (2 rows), x in {0,1}^2.
    Infeasible; ECOS_BB reports exit 0 "Optimal branch and bound solution found"."""
    pb = ProblemBuilder()
    x = pb.binary("x", 2)
    pb.add_cost(x, [0.0, 0.0])
    pb.add_leq("zero_rows", [0, 1], [x[0], x[1]], [0.0, 0.0], [-1.0, -1.0])
    return pb.build()


def infeasible_parity(mode="bigm"):
    """Infeasible binary program whose LP relaxation is feasible: 2 x1 + 2 x2 + 2 x3 = 3
    (parity). Propagation cannot see it; B&B must exhaust the tree."""
    pb = ProblemBuilder()
    x = pb.binary("x", 3)
    pb.add_cost(x, [1.0, 1.0, 1.0])
    pb.add_eq("parity", [0, 0, 0], x, [2.0, 2.0, 2.0], [3.0])
    return pb.build()


def ecos_python12(mode="bigm"):
    """embotech/ecos-python issue #12 (ECOS_BB imposed the binary on the wrong variable):
    min x + y s.t. x >= 0.5, y = 0, x binary. Optimum 1 at (x, y) = (1, 0)."""
    pb = ProblemBuilder()
    y = pb.var("y", 1)
    x = pb.binary("x", 1)
    pb.add_cost([x[0], y[0]], [1.0, 1.0])
    _leq(pb, "x_min", [({x[0]: -1.0}, -0.5)])
    _eq(pb, "y_zero", [({y[0]: 1.0}, 0.0)])
    return pb.build()


# ================================================================ MISOCPs
def _square_epigraph(pb, name, col, shift, t):
    """t >= (x_col - shift)^2 as the SOC ||(2 (x - shift), t - 1)|| <= t + 1."""
    # s = const + M x: s0 = 1 + t, s1 = 2 x - 2 shift, s2 = t - 1
    pb.add_cones(name, [0, 1, 2], [t, col, t], [1.0, 2.0, 1.0], [1.0, -2.0 * shift, -1.0], 3)


def ecos92(mode="bigm"):
    """embotech/ecos issue #92: min (x - 0.2)^2 over integer x (ECOS_BB said unbounded).
    Optimum 0.04 at x = 0 (x = 1 gives 0.64). x is a free integer."""
    pb = ProblemBuilder()
    x = pb.var("x", 1, -np.inf, np.inf, integer=True)
    t = pb.var("t", 1, 0.0, np.inf)
    pb.add_cost(t, [1.0])
    _square_epigraph(pb, "sq", x[0], 0.2, t[0])
    return pb.build()


def ecos107(mode="bigm"):
    """embotech/ecos issue #107 (ECOS_BB segfault): y integer, A in {0,1}^{3x2}, A = 0,
    min (y - 0.2)^2. Optimum 0.04 at y = 0, A = 0."""
    pb = ProblemBuilder()
    y = pb.var("y", 1, -np.inf, np.inf, integer=True)
    A = pb.binary("A", (3, 2))
    t = pb.var("t", 1, 0.0, np.inf)
    pb.add_cost(t, [1.0])
    _eq(pb, "A_zero", [({int(a): 1.0}, 0.0) for a in A.ravel()])
    _square_epigraph(pb, "sq", y[0], 0.2, t[0])
    return pb.build()


def _ils_data():
    rng = np.random.default_rng(7)
    H = rng.normal(size=(6, 8))
    ytrue = (rng.random(8) < 0.5).astype(float)
    yobs = H @ ytrue + 0.8 * rng.normal(size=6)
    return H, yobs


def binary_least_squares(mode="bigm"):
    """min ||H z - y||_2 over z in {0,1}^8 (binary least squares / closest vector, a MISOCP
    with SOC t >= ||H z - y||). Data: numpy default_rng(7); optimum by enumeration of all
    256 points (enumerate())."""
    H, yobs = _ils_data()
    pb = ProblemBuilder()
    z = pb.binary("z", 8)
    t = pb.var("t", 1, 0.0, np.inf)
    pb.add_cost(t, [1.0])
    rows, cols, vals = [0], [t[0]], [1.0]
    for i in range(6):
        for j in range(8):
            rows.append(i + 1); cols.append(z[j]); vals.append(H[i, j])
    pb.add_cones("residual", rows, cols, vals, np.concatenate([[0.0], -yobs]), 7)
    return pb.build()


def _enum_ils():
    H, yobs = _ils_data()
    return float(min(np.linalg.norm(H @ np.array(b) - yobs) for b in itertools.product((0, 1), repeat=8)))


def _subset_data():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(10, 6))
    beta = np.array([1.5, 0.0, -2.0, 0.0, 0.0, 0.7])
    b = A @ beta + 0.3 * rng.normal(size=10)
    return A, b, 0.5, 10.0          # A, b, penalty per selected column, box |x| <= u


def best_subset(mode="bigm"):
    """Best-subset selection as a MISOCP (cf. Bertsimas, King & Mazumder, Ann. Stat. 2016):
    min ||A x - b||_2 + 0.5 sum z  s.t.  -10 z <= x <= 10 z,  z in {0,1}^6. Data:
    default_rng(3). Optimum by enumeration of the 64 supports with least squares on each
    (enumerate() asserts the box is inactive there)."""
    A, b, lam, u = _subset_data()
    m, n = A.shape
    pb = ProblemBuilder()
    x = pb.var("x", n, -u, u)
    z = pb.binary("z", n)
    t = pb.var("t", 1, 0.0, np.inf)
    pb.add_cost(t, [1.0])
    pb.add_cost(z, lam)
    _leq(pb, "on_hi", [({x[j]: 1.0, z[j]: -u}, 0.0) for j in range(n)])
    _leq(pb, "on_lo", [({x[j]: -1.0, z[j]: -u}, 0.0) for j in range(n)])
    rows, cols, vals = [0], [t[0]], [1.0]
    for i in range(m):
        for j in range(n):
            rows.append(i + 1); cols.append(x[j]); vals.append(A[i, j])
    pb.add_cones("residual", rows, cols, vals, np.concatenate([[0.0], -b]), m + 1)
    return pb.build()


def _enum_subset():
    A, b, lam, u = _subset_data()
    best = np.inf
    for bits in itertools.product((0, 1), repeat=A.shape[1]):
        S = np.flatnonzero(bits)
        if S.size:
            xs = np.linalg.lstsq(A[:, S], b, rcond=None)[0]
            assert np.all(np.abs(xs) < u)
            r = np.linalg.norm(A[:, S] @ xs - b)
        else:
            r = np.linalg.norm(b)
        best = min(best, r + lam * S.size)
    return float(best)


# cvxpy #946 (reconstructed, small): see docstring
_N946 = 4


def _data946():
    rng = np.random.default_rng(946)
    return np.abs(rng.normal(size=(_N946, _N946))), np.abs(rng.normal(size=_N946))


def cvxpy946(mode="bigm"):
    """cvxpy issue #946 ("ECOS_BB returns 'optimal' status, but very infeasible solution"):
    the issue's script, at number_of_edge = 4 instead of 10 so that enumeration proves the
    optimum. From the issue: F, G >= 0; y boolean (n x n); every column of y sums to 1;
    sum of all y >= n (ECOS_BB's answer violated this one); maximise
    log(1000 - F) + log(2000 - G). The issue's text is truncated in our copy after
    "one edge serve for max n base_station"; the rest is our reconstruction: every row sums
    to at most 2, F >= sum d_ij y_ij, G >= sum_ij u_i y_ij, with d, u the absolute values of
    standard normals (default_rng(946); the issue used unseeded randn; with signed data
    F = G = 0 is reachable and the instance is trivial). log is monotone, so we maximise the
    geometric mean t <= sqrt((1000 - F)(2000 - G)) (rotated SOC) instead: same maximisers,
    objective -t. Optimum by enumeration of the 4^4 column assignments."""
    d, u = _data946()
    n = _N946
    pb = ProblemBuilder()
    F = pb.var("F", 1, 0.0, np.inf)
    G = pb.var("G", 1, 0.0, np.inf)
    y = pb.binary("y", (n, n))
    t = pb.var("t", 1, 0.0, np.inf)
    pb.add_cost(t, [-1.0])
    _eq(pb, "one_server", [({int(y[i, j]): 1.0 for i in range(n)}, 1.0) for j in range(n)])
    _leq(pb, "total", [({int(v): -1.0 for v in y.ravel()}, -float(n))])
    _leq(pb, "capacity", [({int(y[i, j]): 1.0 for j in range(n)}, 2.0) for i in range(n)])
    fr = {int(y[i, j]): float(d[i, j]) for i in range(n) for j in range(n)}
    fr[int(F[0])] = -1.0
    gr = {int(y[i, j]): float(u[i]) for i in range(n) for j in range(n)}
    gr[int(G[0])] = -1.0
    _leq(pb, "F_def", [(fr, 0.0)])
    _leq(pb, "G_def", [(gr, 0.0)])
    # ||(2 t, (1000 - F) - (2000 - G))|| <= (1000 - F) + (2000 - G)
    pb.add_cones("geomean", [0, 0, 1, 2, 2], [F[0], G[0], t[0], F[0], G[0]],
                 [-1.0, -1.0, 2.0, -1.0, 1.0], [3000.0, 0.0, -1000.0], 3)
    pb.add_leq("F_cap", [0], [F[0]], [1.0], [1000.0])
    pb.add_leq("G_cap", [0], [G[0]], [1.0], [2000.0])
    return pb.build()


def _enum946():
    d, u = _data946()
    n = _N946
    best = np.inf
    for assign in itertools.product(range(n), repeat=n):      # column j -> row assign[j]
        if max(np.bincount(assign, minlength=n)) > 2:
            continue
        F = max(0.0, sum(d[assign[j], j] for j in range(n)))
        G = max(0.0, sum(u[assign[j]] for j in range(n)))
        best = min(best, -np.sqrt((1000 - F) * (2000 - G)))
    return float(best)


# ================================================================ bilevel LPs (KKT)
_M = 50.0


def _bard_follower(pb, x, y, mode):
    """Follower of Bard (1998): min_y y s.t. -x - y <= -3, -2x + y <= 0, 2x + y <= 12,
    3x - 2y <= 4, y >= 0, replaced by its KKT conditions:

        s_i = r_i - a_i x - b_i y >= 0,  lam_i >= 0,  mu >= 0 (dual of y >= 0),
        1 + sum_i lam_i b_i - mu = 0   (stationarity in y),
        pairs (lam_i, s_i) and (mu, y): lam_i s_i = 0, mu y = 0.

    mode "bigm": binaries w with lam <= M w, s <= M (1 - w), M = 50. Valid here: with
    x in [0, 10], y in [0, 20] every slack is <= 44 < 50, and at every follower optimum
    multipliers <= 1 exist (two active rows, 1-D y), so the big-M set contains a KKT point
    for every x; the big-M set is a subset of the KKT set, so the optimum is unchanged.
    Both modes declare the pairs (hints.complementarity_pairs)."""
    a = np.array([-1.0, -2.0, 2.0, 3.0])
    b = np.array([-1.0, 1.0, 1.0, -2.0])
    r = np.array([-3.0, 0.0, 12.0, 4.0])
    s = pb.var("slack", 4, 0.0, _M if mode == "bigm" else np.inf)
    lam = pb.var("lam", 4, 0.0, _M if mode == "bigm" else np.inf)
    mu = pb.var("mu", 1, 0.0, _M if mode == "bigm" else np.inf)
    _eq(pb, "slack_def", [({int(s[i]): 1.0, x: a[i], y: b[i]}, r[i]) for i in range(4)])
    st = {int(lam[i]): b[i] for i in range(4)}
    st[int(mu[0])] = -1.0
    _eq(pb, "stationarity", [(st, -1.0)])
    pairs = [(int(lam[i]), int(s[i])) for i in range(4)] + [(int(mu[0]), y)]
    if mode == "bigm":
        w = pb.binary("w", 5)
        duals = [int(v) for v in lam] + [int(mu[0])]
        prims = [int(v) for v in s] + [y]
        _leq(pb, "dual_on", [({duals[k]: 1.0, int(w[k]): -_M}, 0.0) for k in range(5)])
        _leq(pb, "slack_on", [({prims[k]: 1.0, int(w[k]): _M}, _M) for k in range(5)])
    pb.hints.complementarity_pairs = np.array(pairs, np.int64)


def bard_blp(mode="bigm"):
    """Linear bilevel program, Bard, *Practical Bilevel Optimization* (Kluwer 1998), ch. 5
    example: min_x x - 4y, y solving the follower of `_bard_follower`. Published optimum
    (x, y) = (4, 4), F = -12. Check: the follower's answer is y(x) = max(3 - x, (3x - 4)/2, 0)
    for x in [1, 4] (infeasible elsewhere), so F(x) = 5x - 12 on [1, 2] and 8 - 5x on
    [2, 4]: minimum -12 at x = 4, unique."""
    pb = ProblemBuilder()
    x = pb.var("x", 1, 0.0, 10.0)
    y = pb.var("y", 1, 0.0, 20.0)
    pb.add_cost([x[0], y[0]], [1.0, -4.0])
    _bard_follower(pb, int(x[0]), int(y[0]), mode)
    return pb.build()


def bard_blp_xy(mode="bigm"):
    """Same follower, leader min x - y (ours). From y(x) of `bard_blp`: F = 2x - 3 on [1, 2]
    and 2 - x/2 on [2, 4]: minimum -1 at (x, y) = (1, 2), unique. The high-point relaxation
    (follower optimality dropped) gives -3 at (3, 6), so complementarity must be enforced."""
    pb = ProblemBuilder()
    x = pb.var("x", 1, 0.0, 10.0)
    y = pb.var("y", 1, 0.0, 20.0)
    pb.add_cost([x[0], y[0]], [1.0, -1.0])
    _bard_follower(pb, int(x[0]), int(y[0]), mode)
    return pb.build()


def _enum_bard(cx, cy):
    xs = np.linspace(1.0, 4.0, 30001)
    ys = np.maximum.reduce([3 - xs, (3 * xs - 4) / 2, np.zeros_like(xs)])
    return float(np.min(cx * xs + cy * ys))


# ================================================================ the library
def library() -> List[RefProblem]:
    k1b, k1e = knapsack(P01)
    k2b, k2e = knapsack(P02)
    both = ("bigm", "branch")
    return [
        RefProblem("wolsey_ip", "Wolsey 1998, ch. 7 B&B example", wolsey_ip, "optimal", -7.0,
                   {"x": np.array([2.0, 1.0])}, enumerate=_enum_wolsey),
        RefProblem("knapsack_p01", "Burkardt KNAPSACK_01 P01 (Kreher & Stinson)", k1b, "optimal", -309.0,
                   {"x": np.array(P01["x"], float)}, enumerate=k1e),
        RefProblem("knapsack_p02", "Burkardt KNAPSACK_01 P02 (Kreher & Stinson)", k2b, "optimal", -51.0,
                   {"x": np.array(P02["x"], float)}, enumerate=k2e),
        RefProblem("jeroslow_7", "Jeroslow 1974, n = 7", jeroslow(7), "optimal", 1.0),
        RefProblem("ecos_pr174", "embotech/ecos PR #174", ecos_pr174, "optimal", -170.0,
                   {"x": np.array([0.0, 10.0])}, enumerate=_enum_pr174),
        RefProblem("ecos166_infeasible", "cvxpy #578 / embotech/ecos #166", ecos166_infeasible, "infeasible"),
        RefProblem("parity_infeasible", "ours (parity)", infeasible_parity, "infeasible"),
        RefProblem("ecos_python12", "embotech/ecos-python #12", ecos_python12, "optimal", 1.0,
                   {"x": np.array([1.0]), "y": np.array([0.0])}),
        RefProblem("ecos92", "embotech/ecos #92", ecos92, "optimal", 0.04, {"x": np.array([0.0])}, kind="MISOCP"),
        RefProblem("ecos107", "embotech/ecos #107", ecos107, "optimal", 0.04,
                   {"y": np.array([0.0]), "A": np.zeros((3, 2))}, kind="MISOCP"),
        RefProblem("binary_least_squares", "enumeration (2^8)", binary_least_squares, "optimal",
                   _enum_ils(), kind="MISOCP", enumerate=_enum_ils),
        RefProblem("best_subset", "Bertsimas et al. 2016 form; enumeration (2^6)", best_subset, "optimal",
                   _enum_subset(), kind="MISOCP", enumerate=_enum_subset),
        RefProblem("cvxpy946_n4", "cvxpy #946 (n = 4, reconstructed); enumeration (4^4)", cvxpy946, "optimal",
                   _enum946(), kind="MISOCP", enumerate=_enum946),
        RefProblem("bard_blp", "Bard 1998, ch. 5 linear BLPP", bard_blp, "optimal", -12.0,
                   {"x": np.array([4.0]), "y": np.array([4.0])}, kind="BLP-KKT", modes=both,
                   enumerate=lambda: _enum_bard(1.0, -4.0)),
        RefProblem("bard_blp_xy", "Bard 1998 follower, our leader; derived", bard_blp_xy, "optimal", -1.0,
                   {"x": np.array([1.0]), "y": np.array([2.0])}, kind="BLP-KKT", modes=both,
                   enumerate=lambda: _enum_bard(1.0, -1.0)),
    ]
