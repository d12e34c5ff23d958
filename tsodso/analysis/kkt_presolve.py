"""Complementarity pairs that cannot switch anywhere in the admissible PCC box (proved by MILP).

For one hour the follower's KKT system is linear apart from complementarity (the QP's
stationarity 2 c2 g + c1 - lambda + nu_u - nu_l = 0 is linear), so the set of KKT points
for all PCC demands r in the box [r_lo, r_hi] is the feasible set of a small MILP: the
kkt.py rows of that hour with r a variable, the big-M binaries z of the KKT block (bounds of
analysis/dual_bounds.py, valid over the box) and no objective. For a set C of pairs that a sampled follower response never made
active,

    max  sum_{i in C} z_i   over that MILP  = 0

proves that no KKT point in the box has inequality i active with z_i = 1, i.e. every
follower optimum in the box has slack_i > 0 or the pair is degenerate with dual_i = 0:
dual_i = 0 and z_i = 0 are valid for every admissible leader decision. If the maximum is
positive, the pairs the MILP made active are removed from C and the MILP is solved again
(so one MILP per hour plus one per discovery). Symmetrically, for the pairs that were active
at every sample, min sum z_i = |C| proves them always active (slack_i = 0, z_i = 1).

Sampling: the follower (analysis.follower.follower_activity, ECOS) at the box's corners when there are few
distinct PCC buses (else its centre and 2m axis points), its centre, and `n_random` uniform
random points (seeded); a sample only proposes candidates, the MILP decides.

The MILPs are solved with HiGHS (highspy); a MILP that does not end optimal
(time limit, numerical trouble) proves nothing, and the pairs it was about stay free.
The result only removes pairs whose status is proved, so the model stays exact.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..conic import ProblemBuilder, interrupt
from ..formulation.bigm import DualBounds
from ..formulation.kkt import PairIndex, add_kkt
from ..formulation.tn import TNData, add_dcopf_primal
from .follower import follower_activity

__all__ = ["fixed_pairs"]


def _hour_model(d: TNData, t: int, buses, r_lo, r_hi, bounds: DualBounds):
    """(A_eq, b_eq, G, h, lb, ub, z_cols) of the hour-t KKT MILP (cones dropped)."""
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


def _solve(p, c, integrality, time_limit):
    """HiGHS MILP min c'x over the hour model; returns (proved, x).

    The objective is -sum z or +sum z over the candidates and z is integral, so the question
    "can any candidate flip?" is settled once the gap to the incumbent is below 1:
    mip_abs_gap = 0.5 stops there instead of proving the exact optimum.
    """
    import highspy
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_abs_gap", 0.5)
    h.setOptionValue("mip_rel_gap", 0.0)
    # No "threads" option: HiGHS has one global task scheduler per process, sized by the first
    # run; a later run asking for a different count fails at once (HighsStatus kError, model
    # status kNotset). With threads = 1 here, every MILP failed whenever another HiGHS run
    # (certificates, calibration: default threads) came first in the process: the presolve then
    # fixed nothing (4 of 4 MILPs failed in tests/test_kkt_presolve.py after test_schemes.py).
    # The default (0) adopts the scheduler that exists.
    A = sp.vstack([p.A, p.G[: p.n_lp]]).tocsc() if p.n_lp else sp.csc_matrix(p.A)
    lo = np.concatenate([p.b, np.full(p.n_lp, -highspy.kHighsInf)])
    hi = np.concatenate([p.b, p.h[: p.n_lp]])
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = p.n, A.shape[0]
    lp.col_cost_ = np.asarray(c, float)
    lp.col_lower_ = np.where(np.isfinite(p.lb), p.lb, -inf)
    lp.col_upper_ = np.where(np.isfinite(p.ub), p.ub, inf)
    lp.row_lower_, lp.row_upper_ = lo, hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                       for v in integrality]
    h.passModel(lp)
    interrupt.watch_highs(h)              # Ctrl-C / SIGTERM stop the MILP (model status kInterrupt)
    h.run()
    st = h.getModelStatus()
    if st != highspy.HighsModelStatus.kOptimal:
        return False, None
    return True, np.asarray(h.getSolution().col_value)


def fixed_pairs(d: TNData, buses, r_lo, r_hi, bounds: DualBounds, time_limit: float = 10.0,
                n_random: int = 24):
    """(T, 2nk+2ng) int8: 0 = proved always inactive, 1 = proved always active, -1 = free.

    r_lo, r_hi: (T, m) PCC demand box per distinct PCC bus (TN pu). Also returns statistics.
    """
    T = d.T
    npair = PairIndex.of(d).size
    out = -np.ones((T, npair), np.int8)
    stats = {"milps": 0, "milp_failures": 0, "fixed_inactive": 0, "fixed_active": 0}
    m = len(buses)
    if m <= 5:
        samples = [np.where([(k >> j) & 1 for j in range(m)], r_hi, r_lo) for k in range(2 ** m)]
    else:
        samples = [0.5 * (r_lo + r_hi)] + [
            np.where(np.arange(m)[None, :] == j, side, 0.5 * (r_lo + r_hi))
            for j in range(m) for side in (r_lo, r_hi)]
    samples.append(0.5 * (r_lo + r_hi))
    rng = np.random.default_rng(0)                 # more samples = fewer MILP discoveries
    samples += [r_lo + (r_hi - r_lo) * rng.random(r_lo.shape) for _ in range(n_random)]
    act = np.array([follower_activity(d, buses, s) for s in samples])   # (S, T, npair) 0/1 or nan
    for t in range(T):
        if interrupt.requested():          # stopped: the remaining pairs stay free (exact model)
            break
        a = act[:, t, :]
        a = a[np.all(np.isfinite(a), axis=1)]      # samples ECOS solved (a sample only proposes)
        if a.shape[0] == 0:
            continue
        p, k, v = _hour_model(d, t, buses, r_lo[t], r_hi[t], bounds)
        z = k.z.reshape(-1)
        integ = np.zeros(p.n, np.uint8)
        integ[z] = 1
        for target, cand in ((0, np.flatnonzero(a.max(axis=0) < 0.5)), (1, np.flatnonzero(a.min(axis=0) > 0.5))):
            cand = list(cand)
            while cand and not interrupt.requested():
                c = np.zeros(p.n)
                c[z[cand]] = -1.0 if target == 0 else 1.0      # max sum z  |  min sum z
                ok, xs = _solve(p, c, integ, time_limit)
                stats["milps"] += 1
                if not ok:
                    stats["milp_failures"] += 1
                    break
                zc = np.round(xs[z[cand]])
                flipped = [i for i, zz in zip(cand, zc) if zz != target]
                if not flipped:
                    out[t, cand] = target
                    break
                cand = [i for i in cand if i not in set(flipped)]
    stats["fixed_inactive"] = int((out == 0).sum())
    stats["fixed_active"] = int((out == 1).sum())
    return out, stats
