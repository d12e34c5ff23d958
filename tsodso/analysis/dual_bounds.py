"""Valid bounds on the follower's inequality duals, derived from the data (no guessed constants).

The result is a `formulation.bigm.DualBounds` (the big-M values the KKT block writes).

Argument (stated once, used for every big-M of the KKT block). For one hour, let x_hat be a
point that satisfies the follower's equalities and every inequality g_i(x) <= 0 with slack
g_i(x_hat) <= -delta (delta > 0). For any KKT multipliers (lambda, mu >= 0) at an optimal
solution, strong duality (Slater holds at x_hat) gives

    V = min_x L(x, lambda, mu) <= L(x_hat, lambda, mu) = f(x_hat) + sum_i mu_i g_i(x_hat)
      <= f(x_hat) - delta sum_i mu_i,

hence  sum_i mu_i <= (f(x_hat) - V) / delta <= (C_max - C_min) / delta  =: M,
with C_max = sum_g max over [Gmin, Gmax] of the cost and C_min = sum_g its minimum.
So each dual mu_i <= M, and the aggregate sum_i mu_i <= M is a valid cut too.

Sharper, with the same point: if x_hat has slack s_i >= delta on inequality i, the same chain
gives  sum_i s_i mu_i <= f(x_hat) - V <= C_max - C_min,  hence  mu_i <= (C_max - C_min) / s_i
per inequality, and the weighted sum is the cut. Inequalities far from binding (most
generator limits and lines) get a small bound; only the near-binding ones keep the large
one. (1 ADN, hours 17-18, seed 1: the uniform bound was 7,156 and 10,992 for every dual.)

The point x_hat must exist for EVERY PCC schedule the leader may choose. We find one by an
affinely adjustable robust LP: the PCC demand r lies in the box [r_lo, r_hi] (from the ADNs'
physical PCC bounds, which the model imposes as constraints), r = c + W u with |u|_inf <= 1,
and the generation policy g(u) = g0 + Gamma u with flows f(u) = PTDF (E_g g(u) - D - E_pcc r(u)):

    max delta  s.t.  sum_g g0 = sum D + sum c,   sum_g Gamma[:, j] = w_j,
                     g0 +- |Gamma| 1 within [Gmin + delta, Gmax - delta],
                     f0 +- |Fmat| 1  within [-F + delta, F - delta]
(|.| by auxiliary variables). delta* > 0 certifies strict feasibility with slack delta* over
the whole box. An affine policy is a restriction, so delta* <= 0 does not prove the box
unsafe; for such an hour the exact minimum over the box's vertices is computed instead
(`vertex_slack`), and only if that is <= 0 (or there are too many PCC buses to enumerate)
does the model refuse to build (ModelError): some admissible PCC schedule then leaves the
follower without a strictly feasible point and its duals are unbounded.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..data.network import ptdf_matrix
from ..formulation.bigm import DualBounds, ModelError
from ..formulation.kkt import PAIR_KINDS
from ..formulation.tn import TNData


def ptdf_of(d: TNData) -> np.ndarray:
    """(nk, nb) DC power transfer distribution factors of the model's TN, reference bus as slack."""
    return ptdf_matrix(d.nb, d.fr, d.to, d.b_pu, d.ref)


def cost_range(d: TNData):
    """(C_min, C_max) of sum_g c2 g^2 + c1 g over the box [Gmin, Gmax] (k$/h)."""
    c = lambda g: d.c2 * g ** 2 + d.c1 * g
    with np.errstate(divide="ignore", invalid="ignore"):
        gv = np.where(d.c2 > 0, -d.c1 / (2 * d.c2), d.gmin_pu)
    gv = np.clip(np.nan_to_num(gv, nan=0.0), d.gmin_pu, d.gmax_pu)
    cmin = np.minimum(np.minimum(c(d.gmin_pu), c(d.gmax_pu)), c(gv))
    cmax = np.maximum(c(d.gmin_pu), c(d.gmax_pu))
    return float(cmin.sum()), float(cmax.sum())


def robust_slack(d: TNData, t: int, pcc_bus: np.ndarray, r_lo: np.ndarray, r_hi: np.ndarray,
                 H: np.ndarray | None = None, detail: bool = False):
    """delta* of the affinely adjustable robust LP of the module docstring for hour t.

    detail=True returns (delta*, s) with s (2nk+2ng,) the worst-case slack over the box of each
    inequality [f <= F | -f <= F | g <= Gmax | -g <= -Gmin] under the optimal policy (>= delta*).
    """
    H = ptdf_of(d) if H is None else H
    ng, nk = d.ng, d.nk
    m = pcc_bus.size
    c = 0.5 * (r_lo + r_hi)
    w = 0.5 * (r_hi - r_lo)
    Hg = H[:, d.gen_bus]                                  # (nk, ng)
    Hp = H[:, pcc_bus]                                    # (nk, m)
    D = d.D_pu[t]
    fconst = -H @ D - Hp @ c                              # f0 = Hg g0 + fconst
    Fconst = -Hp * w[None, :]                             # Fmat = Hg Gamma + Fconst
    # variable vector: [g0 (ng), Gamma (ng*m), Ag (ng*m), Af (nk*m), delta]
    n = ng + 2 * ng * m + nk * m + 1
    iG = ng + np.arange(ng * m).reshape(ng, m)
    iAg = ng + ng * m + np.arange(ng * m).reshape(ng, m)
    iAf = ng + 2 * ng * m + np.arange(nk * m).reshape(nk, m)
    idl = n - 1
    Aeq = sp.lil_matrix((1 + m, n)); beq = np.zeros(1 + m)
    Aeq[0, :ng] = 1.0; beq[0] = D.sum() + c.sum()
    for j in range(m):
        Aeq[1 + j, iG[:, j]] = 1.0; beq[1 + j] = w[j]
    rows, rhs = [], []
    ineq_row = {}                                          # (kind, i) -> row of the inequality

    def row(entries, b, key=None):
        r = np.zeros(n)
        for idx, val in entries:
            np.add.at(r, np.atleast_1d(idx), val)
        if key is not None:
            ineq_row[key] = len(rows)
        rows.append(r); rhs.append(b)

    for i in range(ng):
        for j in range(m):   # |Gamma_ij| <= Ag_ij
            row([(iG[i, j], 1.0), (iAg[i, j], -1.0)], 0.0)
            row([(iG[i, j], -1.0), (iAg[i, j], -1.0)], 0.0)
        row([(i, 1.0), (iAg[i], 1.0), (idl, 1.0)], d.gmax_pu[i], ("gu", i))
        row([(i, -1.0), (iAg[i], 1.0), (idl, 1.0)], -d.gmin_pu[i], ("gl", i))
    for k in range(nk):
        for j in range(m):   # |Hg[k] Gamma[:, j] + Fconst[k, j]| <= Af_kj
            row([(iG[:, j], Hg[k]), (iAf[k, j], -1.0)], -Fconst[k, j])
            row([(iG[:, j], -Hg[k]), (iAf[k, j], -1.0)], Fconst[k, j])
        row([(np.arange(ng), Hg[k]), (iAf[k], 1.0), (idl, 1.0)], d.F_pu[k] - fconst[k], ("fu", k))
        row([(np.arange(ng), -Hg[k]), (iAf[k], 1.0), (idl, 1.0)], d.F_pu[k] + fconst[k], ("fl", k))
    cost = np.zeros(n); cost[idl] = -1.0
    bounds = [(None, None)] * (ng + ng * m) + [(0, None)] * (ng * m + nk * m) + [(None, 1.0)]
    res = linprog(cost, A_ub=sp.csr_matrix(np.array(rows)), b_ub=np.array(rhs),
                  A_eq=Aeq.tocsr(), b_eq=beq, bounds=bounds, method="highs")
    if res.status != 0:
        return (-np.inf, None) if detail else -np.inf
    delta = float(res.x[idl])
    if not detail:
        return delta
    order = [(kind, i) for kind in PAIR_KINDS for i in range(nk if kind in ("fu", "fl") else ng)]
    sl = np.maximum(res.slack[[ineq_row[key] for key in order]], 0.0) + delta
    return delta, sl


def vertex_slack(d: TNData, t: int, pcc_bus: np.ndarray, r_lo: np.ndarray, r_hi: np.ndarray,
                 H: np.ndarray | None = None, max_buses: int = 10, detail: bool = False):
    """Exact min over the box of delta(r) = max slack of a point feasible at demand r.

    delta(r) is the optimal value of an LP whose right-hand side is affine in r, so it is
    concave in r and its minimum over the box is attained at a vertex: enumerate the 2^m
    vertices (m <= max_buses, else -inf = not certified). detail=True also returns the
    per-inequality slack valid over the box: a point of the box is a convex combination of
    vertices, and the same combination of the vertices' points has, on each inequality, at
    least the smallest of their slacks.
    """
    m = pcc_bus.size
    if m > max_buses:
        return (-np.inf, None) if detail else -np.inf
    H = ptdf_of(d) if H is None else H
    worst, each = np.inf, None
    for k in range(2 ** m):
        r = np.where([(k >> j) & 1 for j in range(m)], r_hi, r_lo)
        dv, sv = robust_slack(d, t, pcc_bus, r, r, H, detail=True)
        worst = min(worst, dv)
        if worst <= 0:
            break
        each = sv if each is None else np.minimum(each, sv)
    return (worst, each) if detail else worst


def derive_dual_bounds(d: TNData, pcc_bus: np.ndarray, r_lo: np.ndarray, r_hi: np.ndarray,
                       memo: dict | None = None) -> DualBounds:
    """Bounds for every hour; r_lo, r_hi: (T, m) PCC demand box per distinct PCC bus, TN pu.

    The affine-policy slack is tried first (one LP per hour); where it cannot certify an hour,
    the exact vertex enumeration decides (2^m LPs, m distinct PCC buses). `memo` (a dict kept
    by the caller for the same d and pcc_bus) holds each hour's result by its box, so a caller
    that changes a few hours' boxes (certified_box.py shrinks one hour at a time) recomputes
    those hours only; the result is the same as without it.
    """
    H = ptdf_of(d)
    cmin, cmax = cost_range(d)
    memo = {} if memo is None else memo
    delta, each = np.zeros(d.T), [None] * d.T
    for t in range(d.T):
        key = (t, np.asarray(r_lo[t], float).tobytes(), np.asarray(r_hi[t], float).tobytes())
        if key not in memo:
            dt, et = robust_slack(d, t, pcc_bus, r_lo[t], r_hi[t], H, detail=True)
            if not dt > 1e-6:
                dt, et = vertex_slack(d, t, pcc_bus, r_lo[t], r_hi[t], H, detail=True)
            memo[key] = (dt, et)
        delta[t], each[t] = memo[key]
    bad = np.flatnonzero(~(delta > 1e-6))
    if bad.size:
        t = int(bad[0])
        raise ModelError(
            f"hour {t}: cannot certify that the TN DC-OPF keeps a strictly feasible point for every "
            f"PCC schedule in the ADNs' admissible box (robust slack {delta[t]:.3g} pu); the KKT "
            "big-M bounds would not be valid. Narrow pcc_min_mw/pcc_max_mw or relieve the TN.", hour=t)
    return DualBounds(delta_pu=delta, dual_max=(cmax - cmin) / delta,
                      slack_line_max=2.0 * d.F_pu, slack_gen_max=d.gmax_pu - d.gmin_pu,
                      slack_each=np.maximum(np.array(each), delta[:, None]), cost_gap=cmax - cmin)
