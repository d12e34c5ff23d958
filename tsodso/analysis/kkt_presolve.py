"""Complementarity pairs that cannot switch anywhere in the admissible PCC box (proved by LP and MILP).

For one hour the follower's KKT system is linear apart from complementarity (the QP's
stationarity 2 c2 g + c1 - lambda + nu_u - nu_l = 0 is linear), so the set of KKT points
for all PCC demands r in the box [r_lo, r_hi] is the feasible set of a small MILP: the
kkt.py rows of that hour with r a variable, the big-M binaries z of the KKT block (bounds of
analysis/dual_bounds.py, valid over the box) and no objective.

Step 0, one critical region (no LP, no MILP). If every sampled follower response of the hour
has the same active set A, solve the hour's KKT equalities with slack_i = 0 for i in A and
dual_i = 0 for i not in A: a square linear system in (g, f, theta, lambda, phi, duals,
slacks) whose right-hand side is affine in r, so its solution is x(r) = x0 + X1 r (one sparse LU
solve). If the system is nonsingular (condition number below REGION_MAX_COND) and over the
whole box (exact minimum of an affine function over a box) every slack outside A exceeds
SCREEN_MARGIN_PU and every dual in A exceeds REGION_DUAL_MARGIN, then x(r) is a KKT point for
every r in the box; the follower's cost is strictly convex in g (all c2 > 0, required), so g,
hence f and theta and every slack, are the same at every optimum, and the nonsingular system
leaves one multiplier vector. So at every follower optimum in the box the inequalities
outside A have slack > 0 (fixed 0) and those in A have a positive dual (fixed 1), exactly what
the MILP of step 2 would prove for these candidates; the hour needs neither LP nor MILP.

Step 1, primal screening (one LP per inequality, no binaries). Inequality i can be active at a
KKT point only if its slack can be 0 at some PRIMAL feasible point of the hour (DC balance,
flow definition, line and generator limits, r in the box). If

    min slack_i  over the primal rows of the hour model  >  SCREEN_MARGIN_PU (1e-6 pu)

then slack_i > 0 at every follower optimum in the box: z_i = 0 and dual_i = 0 are valid for
every admissible leader decision. The primal set contains every KKT point, so a pair fixed
here is one the MILP would fix too (measured: the same fixed pairs,
tests/test_presolve_screening.py); it only saves the MILP its binary. The margin is 10x HiGHS'
primal feasibility tolerance (1e-7) and equal to the MILP's feasibility tolerance (1e-6): a
slack the MILP could set to 0 within its tolerance is not screened. Most pairs are screened
before any LP by the same test on a relaxation solved in closed form (`_screen_ptdf`: PTDF
flows over the generator and PCC boxes, the other lines' limits dropped). For each pair not
screened, a second LP gives max slack_i over the same set; + the margin, it replaces the big-M
2F / Gmax - Gmin of `slack_i <= S (1 - z_i)` in the hour's MILP (valid at every KKT point;
it tightens the MILP's relaxation only: 1 ADN x 24 h, hours 7-22, 5.6 -> 4.5 s of MILP).

Step 2, one MILP per hour for the rest. For the set C0 of unscreened pairs that a sampled
follower response never made active and the set C1 of pairs active at every sample,

    max  sum_{i in C0} z_i + sum_{i in C1} (1 - z_i)   over that MILP  = 0

proves that no KKT point in the box has an inequality of C0 active with z_i = 1 (every follower
optimum in the box has slack_i > 0 or the pair is degenerate with dual_i = 0: dual_i = 0 and
z_i = 0 are valid), nor an inequality of C1 with z_i = 0 (dual_i = 0 there; so slack_i = 0,
z_i = 1 at every optimum). The screened pairs enter this MILP with z_i = 0 and dual_i = 0
(valid by step 1: it removes no KKT point). If the maximum is positive, the pairs the MILP
flipped are removed from C0 / C1 and the same HiGHS model is solved again with the new
objective (one MILP per hour plus one per discovery). Which pairs end fixed does not depend on
this order: a removed pair was flipped at a KKT point of the box, a kept one is proved, so
C0 and C1 end as exactly their pairs that cannot flip (the two were separate MILPs before;
one MILP decides both).

Sampling: the follower (analysis.follower.follower_activity, ECOS) at the box's corners when there are few
distinct PCC buses (else its centre and 2m axis points), its centre, and `n_random` uniform
random points (seeded); a sample only proposes candidates, the LP / MILP decides.

The LPs and MILPs are solved with HiGHS (highspy); an LP or MILP that does not end optimal
(time limit, numerical trouble) proves nothing, and the pairs it was about stay free.
The result only removes pairs whose status is proved, so the model stays exact.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..conic import ProblemBuilder, interrupt
from ..formulation.bigm import DualBounds
from ..formulation.kkt import PairIndex, add_kkt
from ..formulation.tn import TNData, add_dcopf_primal
from .dual_bounds import ptdf_of
from .follower import follower_activity

__all__ = ["fixed_pairs", "SCREEN_MARGIN_PU", "REGION_DUAL_MARGIN", "REGION_MAX_COND"]

SCREEN_MARGIN_PU = 1e-6
"""Primal screening: a pair is fixed inactive only if its slack's minimum exceeds this (TN pu)."""
REGION_DUAL_MARGIN = 1e-6
"""Critical-region proof: a dual counts as positive only above this (k$/h per pu)."""
REGION_MAX_COND = 1e10
"""Critical-region proof: the KKT system of the active set must be this well conditioned
(1-norm condition number, scipy's onenormest of the inverse; the residual is checked as well)."""
_PRIMAL_ROWS = ("tn.balance", "tn.flow_def", "kkt.primal_slack")
_NO_HEURISTICS = ("mip_heuristic_run_feasibility_jump", "mip_heuristic_run_rins",
                  "mip_heuristic_run_rens", "mip_heuristic_run_root_reduced_cost")


def _hour_model(d: TNData, t: int, buses, r_lo, r_hi, bounds: DualBounds):
    """(problem, KKTVars, TNVars) of the hour-t KKT MILP (cones dropped)."""
    one = TNData(**{**d.__dict__, "T": 1, "D_pu": d.D_pu[t:t + 1]})
    sl = slice(t, t + 1)
    b1 = DualBounds(delta_pu=bounds.delta_pu[sl], dual_max=bounds.dual_max[sl],
                    slack_each=bounds.slack_each[sl], cost_gap=bounds.cost_gap,
                    slack_line_max=bounds.slack_line_max, slack_gen_max=bounds.slack_gen_max)
    bld = ProblemBuilder()
    r = bld.var("r", (1, len(buses)), r_lo[None, :], r_hi[None, :])
    v = add_dcopf_primal(bld, one, [(b, r[:, j], 1.0) for j, b in enumerate(buses)], bounds=False)
    k = add_kkt(bld, one, v, b1, "bigm")
    p = bld.build()
    return p, k, v


def _highs(A, row_lo, row_hi, lb, ub, time_limit, integrality=None):
    """A quiet highspy.Highs holding  row_lo <= A x <= row_hi, lb <= x <= ub  (zero cost),
    with the stop request watched. `integrality`: 0/1 per column (1 = integer) or None (LP).

    No "threads" option: HiGHS has one global task scheduler per process, sized by the first
    run; a later run asking for a different count fails at once (HighsStatus kError, model
    status kNotset). With threads = 1 here, every MILP failed whenever another HiGHS run
    (certificates, calibration: default threads) came first in the process: the presolve then
    fixed nothing (4 of 4 MILPs failed in tests/test_kkt_presolve.py after test_schemes.py).
    The default (0) adopts the scheduler that exists.
    """
    import highspy
    inf = highspy.kHighsInf
    A = sp.csc_matrix(A)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.zeros(A.shape[1])
    lp.col_lower_ = np.where(np.isfinite(lb), lb, -inf)
    lp.col_upper_ = np.where(np.isfinite(ub), ub, inf)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    if integrality is not None:
        lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                           for v in integrality]
    h.passModel(lp)
    interrupt.watch_highs(h)              # Ctrl-C / SIGTERM stop the run (model status kInterrupt)
    return h


def _run(h, c):
    """Set the objective min c'x, run; (proved, x): proved only when HiGHS ends optimal."""
    import highspy
    c = np.asarray(c, float)
    h.changeColsCost(c.size, np.arange(c.size, dtype=np.int32), c)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return False, None
    return True, np.asarray(h.getSolution().col_value)


def _knapsack_max(a, l, u, total):
    """max a_k'y  s.t.  sum(y) = total, l <= y <= u, for each row a_k of a (K, n): the greedy
    fill in order of decreasing coefficient is optimal (an LP with one equality row). (K,)
    values, or None if the row sum cannot reach `total` within the bounds."""
    rem = total - l.sum()
    if rem < 0 or rem > (u - l).sum():
        return None
    order = np.argsort(-a, axis=1)
    cap = (u - l)[order]
    before = np.cumsum(cap, axis=1) - cap
    fill = np.clip(rem - before, 0.0, cap)
    return a @ l + np.sum(np.take_along_axis(a, order, axis=1) * fill, axis=1)


def _screen_ptdf(d: TNData, t: int, buses, r_lo, r_hi, H) -> np.ndarray:
    """(npair,) bool: the pairs step 1 screens already without the other lines' limits.

    With the PTDF H, f_k = H_k (E_g g - D - E_pcc r) and sum g = sum D + sum r; over the
    generator box and the PCC box alone (the line limits dropped: a relaxation, so its slack
    minimum is a lower bound of the LP's) max f_k, min f_k, max g_i, min g_i are continuous
    knapsacks in y = (g, -r), solved exactly by `_knapsack_max`. A pair whose slack minimum
    exceeds SCREEN_MARGIN_PU here is screened without an LP (1 ADN x 24 h: 74 of the about 79
    pairs per hour the LPs screen, never one they do not)."""
    npair = PairIndex.of(d).size
    D = d.D_pu[t]
    buses = np.asarray(buses, np.int64)
    l = np.concatenate([d.gmin_pu, -np.asarray(r_hi, float)])
    u = np.concatenate([d.gmax_pu, -np.asarray(r_lo, float)])
    a = np.hstack([H[:, d.gen_bus], H[:, buses]])                  # (nk, ng + m)
    e = np.hstack([np.eye(d.ng), np.zeros((d.ng, buses.size))])
    fmax, fmin = _knapsack_max(a, l, u, D.sum()), _knapsack_max(-a, l, u, D.sum())
    gmax, gmin = _knapsack_max(e, l, u, D.sum()), _knapsack_max(-e, l, u, D.sum())
    if fmax is None or fmin is None or gmax is None or gmin is None:
        return np.zeros(npair, bool)
    base = -H @ D
    slack_min = PairIndex.of(d).pack(d.F_pu - (fmax + base), d.F_pu + (base - fmin),
                                     d.gmax_pu - gmax, -gmin - d.gmin_pu)
    return slack_min > SCREEN_MARGIN_PU


def _screen(p, k, time_limit, pre=None):
    """Step 1 on the hour model `p`: (screened, slack_hi, lps). screened (npair,) bool: the
    pairs whose slack exceeds SCREEN_MARGIN_PU at every primal feasible point (one
    warm-started LP per pair; an LP not ending optimal screens nothing). slack_hi (npair,): for
    the others, max slack_i over the same points + SCREEN_MARGIN_PU (one more LP each; inf where
    not computed), a valid big-M for `slack_i <= S (1 - z_i)` at every KKT point, tighter than
    the 2F / Gmax - Gmin of the model (the MILP's relaxation, not its KKT points, changes).
    `pre` (npair,) bool: pairs already screened by `_screen_ptdf` (no LP for them)."""
    rows = np.concatenate([np.arange(p.A.shape[0])[p.eq_blocks[b]] for b in _PRIMAL_ROWS])
    A = p.A[rows].tocsc()
    cols = np.flatnonzero(np.diff(A.indptr) > 0)                 # r, g, f, theta, slacks
    A = A[:, cols]
    h = _highs(A, p.b[rows], p.b[rows], p.lb[cols], p.ub[cols], time_limit)
    pos = -np.ones(p.n, np.int64)
    pos[cols] = np.arange(cols.size)
    slacks = pos[k.slacks.reshape(-1)]
    out = np.zeros(slacks.size, bool) if pre is None else np.array(pre, bool)
    hi = np.full(slacks.size, np.inf)
    c = np.zeros(cols.size)
    lps = 0
    for i, j in enumerate(slacks):
        for sign in (1.0, -1.0) if not out[i] else ():                   # min slack_i, then (unscreened) max slack_i
            if interrupt.requested():
                return out, hi, lps
            c[j] = sign
            ok, x = _run(h, c)
            c[j] = 0.0
            lps += 1
            if sign > 0:
                out[i] = ok and x[j] > SCREEN_MARGIN_PU
                if out[i]:
                    break
            elif ok:
                hi[i] = x[j] + SCREEN_MARGIN_PU
    return out, hi, lps


def _region(d: TNData, p, k, active, r_lo, r_hi):
    """True if the box lies in the critical region of the active set `active` ((npair,) bool)
    of the hour model `p` (step 0 of the module docstring): then every follower optimum in
    the box has exactly these inequalities active, with positive duals."""
    if not np.all(d.c2 > 0):
        return False                                 # uniqueness of g needs a strictly convex cost
    duals, slacks = k.duals.reshape(-1), k.slacks.reshape(-1)
    A = p.A.tocsc()
    rcol = p.index("r").reshape(-1)
    zero = np.concatenate([slacks[active], duals[~active]])
    used = np.flatnonzero(np.diff(A.indptr) > 0)
    unk = np.setdiff1d(used, np.concatenate([rcol, zero]))
    if unk.size != A.shape[0]:
        return False
    M = sp.csc_matrix(A[:, unk])
    try:                  # sparse LU (SuperLU, one thread: a dense LAPACK LU of this 241 x 241
        lu = spla.splu(M)  # system took 34 ms on the loaded 2-core machine, SuperLU ~1 ms)
    except RuntimeError:                                          # exactly singular
        return False
    inv = spla.LinearOperator(M.shape, matvec=lu.solve, rmatvec=lambda y: lu.solve(y, trans="T"))
    cond = abs(M).sum(axis=0).max() * spla.onenormest(inv)       # 1-norm condition estimate
    if not cond < REGION_MAX_COND:
        return False
    rhs = np.column_stack([p.b, -A[:, rcol].toarray()])          # x_unk = x0 + X1 r
    X = lu.solve(rhs)
    if not np.all(np.abs(M @ X - rhs) <= 1e-9 * (1.0 + np.abs(rhs))):      # LU's accuracy
        return False
    pos = -np.ones(p.n, np.int64)
    pos[unk] = np.arange(unk.size)

    def box_min(cols):                              # exact min over the box of x0 + X1 r
        x0, X1 = X[pos[cols], 0], X[pos[cols], 1:]
        return x0 + np.minimum(X1 * r_lo[None, :], X1 * r_hi[None, :]).sum(axis=1)
    return bool(np.all(box_min(slacks[~active]) > SCREEN_MARGIN_PU)
                and np.all(box_min(duals[active]) > REGION_DUAL_MARGIN))


def _milp(p, k, screened, time_limit, slack_hi=None):
    """The hour's KKT MILP as a HiGHS model, the screened pairs with z = 0 and dual = 0, the
    slack big-Ms lowered to `slack_hi` (npair,) where that is smaller (see `_screen`), and
    HiGHS' stopping rule for it: the objective (sum of +-z over candidates) is integral, so
    the question "can any candidate flip?" is settled once the gap to the incumbent is below 1:
    mip_abs_gap = 0.5 stops there instead of proving the exact optimum."""
    z = k.z.reshape(-1)
    lb, ub = p.lb.copy(), p.ub.copy()
    ub[z[screened]] = 0.0
    ub[k.duals.reshape(-1)[screened]] = 0.0
    integ = np.zeros(p.n, np.uint8)
    integ[z] = 1
    G, h_lp = sp.csr_matrix(p.G[: p.n_lp]), p.h[: p.n_lp].copy()
    if slack_hi is not None:                       # rows  slack_i + S_i z_i <= S_i  of kkt.bigm
        npair = z.size
        for i in np.flatnonzero(np.isfinite(slack_hi)):
            r = p.ineq_blocks["kkt.bigm"].start + npair + i
            at = G.indptr[r] + np.flatnonzero(G.indices[G.indptr[r]:G.indptr[r + 1]] == z[i])
            if at.size == 1 and slack_hi[i] < h_lp[r]:
                G.data[at[0]] = h_lp[r] = slack_hi[i]
    A = sp.vstack([p.A, G]) if p.n_lp else p.A
    lo = np.concatenate([p.b, np.full(p.n_lp, -np.inf)])
    hi = np.concatenate([p.b, h_lp])
    h = _highs(A, lo, hi, lb, ub, time_limit, integ)
    h.setOptionValue("mip_abs_gap", 0.5)
    h.setOptionValue("mip_rel_gap", 0.0)
    # The MILP has to prove a bound; an incumbent (any KKT point: no flip) comes from the
    # tree's integral node LPs. HiGHS' primal heuristics (sub-MIPs RINS / RENS above all) took
    # half the time: 1 ADN x 24 h, the 16 MILPs of hours 7-22, 3.0 -> 1.4 s, 846 -> 840 nodes,
    # the same proofs. Options a highspy lacks are skipped (the defaults are then used).
    for name in _NO_HEURISTICS:
        try:
            h.setOptionValue(name, False)
        except Exception:  # noqa: BLE001 - an older highspy without the option
            pass
    return h


def fixed_pairs(d: TNData, buses, r_lo, r_hi, bounds: DualBounds, time_limit: float = 10.0,
                n_random: int = 4, screen: bool = True, region: bool = True):
    """(T, 2nk+2ng) int8: 0 = proved always inactive, 1 = proved always active, -1 = free.

    r_lo, r_hi: (T, m) PCC demand box per distinct PCC bus (TN pu). Also returns statistics:
    milps (run), milp_failures (not optimal: proved nothing), fixed_inactive, fixed_active,
    region_hours (hours decided by step 0), screened (fixed inactive by the primal LPs of
    step 1, included in fixed_inactive), screen_lps. `region=False` / `screen=False` skip
    step 0 / 1 (every pair then goes to the MILP, as before these steps; for the comparison in
    tests/test_presolve_screening.py).
    `time_limit` (s) applies to each LP and MILP.
    """
    T = d.T
    npair = PairIndex.of(d).size
    out = -np.ones((T, npair), np.int8)
    stats = {"milps": 0, "milp_failures": 0, "fixed_inactive": 0, "fixed_active": 0,
             "region_hours": 0, "screened": 0, "screen_lps": 0}
    m = len(buses)
    if m <= 5:
        samples = [np.where([(k >> j) & 1 for j in range(m)], r_hi, r_lo) for k in range(2 ** m)]
    else:
        samples = [0.5 * (r_lo + r_hi)] + [
            np.where(np.arange(m)[None, :] == j, side, 0.5 * (r_lo + r_hi))
            for j in range(m) for side in (r_lo, r_hi)]
    samples.append(0.5 * (r_lo + r_hi))
    # more samples = fewer MILP discoveries; measured on 1, 2 and 5 ADNs x 24 h: 0, 4 and 24
    # random samples give the same fixed pairs with the same 24 MILPs (4 is the default)
    rng = np.random.default_rng(0)
    samples += [r_lo + (r_hi - r_lo) * rng.random(r_lo.shape) for _ in range(n_random)]
    act = np.array([follower_activity(d, buses, s) for s in samples])   # (S, T, npair) 0/1 or nan
    H = None                                       # PTDF, for the LP-free part of step 1
    for t in range(T):
        if interrupt.requested():          # stopped: the remaining pairs stay free (exact model)
            break
        a = act[:, t, :]
        a = a[np.all(np.isfinite(a), axis=1)]      # samples ECOS solved (a sample only proposes)
        if a.shape[0] == 0:
            continue
        p, k, v = _hour_model(d, t, buses, r_lo[t], r_hi[t], bounds)
        never, always = a.max(axis=0) < 0.5, a.min(axis=0) > 0.5
        if region and np.all(never | always) and _region(d, p, k, always, r_lo[t], r_hi[t]):
            out[t] = always                        # one active set at every sample, proved everywhere
            stats["region_hours"] += 1
            continue
        screened, slack_hi = np.zeros(npair, bool), None
        if screen:
            H = ptdf_of(d) if H is None else H
            screened, slack_hi, n_lp = _screen(p, k, time_limit, _screen_ptdf(d, t, buses, r_lo[t], r_hi[t], H))
            stats["screen_lps"] += n_lp
            screened &= never                      # a sample saw it active: leave it to the MILP
            stats["screened"] += int(screened.sum())
            out[t, screened] = 0
        c0 = list(np.flatnonzero(never & ~screened))
        c1 = list(np.flatnonzero(always))
        if not (c0 or c1):
            continue
        z = k.z.reshape(-1)
        h = _milp(p, k, screened, time_limit, slack_hi)
        while (c0 or c1) and not interrupt.requested():
            c = np.zeros(p.n)
            c[z[c0]] = -1.0                        # max z over C0 ...
            c[z[c1]] = 1.0                         # ... and 1 - z over C1
            ok, xs = _run(h, c)
            stats["milps"] += 1
            if not ok:
                stats["milp_failures"] += 1
                break
            f0 = set(i for i in c0 if np.round(xs[z[i]]) != 0)
            f1 = set(i for i in c1 if np.round(xs[z[i]]) != 1)
            if not (f0 or f1):
                out[t, c0] = 0
                out[t, c1] = 1
                break
            c0 = [i for i in c0 if i not in f0]
            c1 = [i for i in c1 if i not in f1]
    stats["fixed_inactive"] = int((out == 0).sum())
    stats["fixed_active"] = int((out == 1).sum())
    return out, stats
