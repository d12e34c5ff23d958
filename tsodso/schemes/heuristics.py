"""Model-aware primal heuristic for the DSO-led MISOCP (plugged into the generic B&B's hook).

Given a relaxation point x:
1. leader binaries are rounded consistently with the continuous values they gate: first the
   BESS on-binaries from the charge/discharge powers (one mode at most) and a re-solve, then
   from that point the P2P roles (sells vs buys), platform binaries (P2P volume) and
   cross-ADN roles (exports vs imports);
2. the continuous problem with those binaries fixed and the KKT left free is solved with
   ECOS; if every complementarity pair holds, that point (KKT binaries set from it) is the
   candidate;
3. otherwise the follower's optimal response to that PCC schedule is computed hour by hour
   (an independent DC-OPF); its complementarity pattern (which dual, which slack is zero) is
   fixed (big-M mode: KKT binaries; branch mode: zero upper bounds) and the problem solved
   again. The B&B certifies every candidate (residuals, integrality, complementarity)
   before it becomes the incumbent.
"""
from __future__ import annotations

import numpy as np

from ..conic.ecos_adapter import solve as ecos_solve
from ..formulation.tn import TNData, add_dcopf_primal
from ..conic import ProblemBuilder

ACTIVE_TOL = 1e-7
PAIR_TOL = 1e-7      # a pair (dual, slack) holds if min(dual, slack) <= this (B&B comp_tol is 1e-6)


def _fix(lb, ub, idx, val):
    idx = np.asarray(idx)
    val = np.broadcast_to(np.asarray(val, float), idx.shape).reshape(-1)
    idx = idx.reshape(-1)
    ok = (val >= lb[idx] - 1e-9) & (val <= ub[idx] + 1e-9)
    lb[idx[ok]] = val[ok]
    ub[idx[ok]] = val[ok]
    return bool(ok.all())


def follower_pattern(lay, x):
    """(T, 2nk+2ng) bool: True where the follower's inequality is active (dual may be > 0)."""
    d = lay.tn
    P0 = np.array([x[fv.pcc] * adn.base_mva / d.base_mva for fv, adn in zip(lay.feeders, lay.system.adns)])
    D = d.D_pu.copy()
    np.add.at(D.T, [a.pcc_bus for a in lay.system.adns], P0)
    one = TNData(**{**d.__dict__, "D_pu": D})
    bld = ProblemBuilder()
    v = add_dcopf_primal(bld, one)
    bld.add_cost(v.tau, np.broadcast_to(one.c2, v.tau.shape))
    bld.add_cost(v.g, np.broadcast_to(one.c1, v.g.shape))
    prob = bld.build()
    sol = ecos_solve(prob, reltol=1e-9, abstol=1e-10)
    if sol.x is None:
        return None
    g, f = sol.x[v.g], sol.x[v.f]
    tol = 1e-6
    act = np.concatenate([f >= d.F_pu - tol, f <= -d.F_pu + tol,
                          g >= d.gmax_pu - tol, g <= d.gmin_pu + tol], axis=1)
    return act


def make_follower_response_heuristic(lay):
    def heuristic(prob, x, lb, ub):
        lb, ub = lb.copy(), ub.copy()
        for dv in lay.ders:
            ch, dis = x[dv.ch], x[dv.dis]
            on_c = (ch > 1e-6) & (ch >= dis)
            on_d = (dis > 1e-6) & ~on_c
            _fix(lb, ub, dv.on_ch, on_c.astype(float))
            _fix(lb, ub, dv.on_dis, on_d.astype(float))
        # the BESS modes change the prosumers' positions (minimum power): re-solve before the
        # P2P roles are read (rounding both from one point was infeasible on 5 ADN x 24 h)
        sol = ecos_solve(prob, lb, ub, reltol=1e-6, abstol=1e-7)
        heuristic.last_status = "bess:" + sol.status
        if sol.x is None or sol.status not in ("optimal", "optimal_inaccurate"):
            return None
        x = sol.x
        for adn, sv in zip(lay.system.adns, lay.settle):
            gcol = np.asarray(adn.prosumer_bus, np.int64) - 1
            p2p = x[sv.sell_loc] + x[sv.sell_x] + x[sv.buy_loc] + x[sv.buy_x]
            sells = x[sv.sell_grid][:, gcol] + x[sv.sell_loc] + x[sv.sell_x]
            buys = x[sv.buy_grid][:, gcol] + x[sv.buy_loc] + x[sv.buy_x]
            _fix(lb, ub, sv.role, (sells > buys).astype(float))
            if sv.trade.size:
                _fix(lb, ub, sv.trade, (p2p > 1e-7).astype(float))
        cr = lay.cross
        A = cr.exporter.shape[1]
        xs = x[cr.x]
        exp = np.zeros((xs.shape[0], A)); imp = np.zeros((xs.shape[0], A))
        for j, (a, b) in enumerate(cr.pairs):
            exp[:, a] += xs[:, j]; imp[:, b] += xs[:, j]
        _fix(lb, ub, cr.exporter, (exp > imp).astype(float))
        k = lay.kkt
        # stage A: leader binaries fixed, KKT free (most pairs are fixed by the KKT presolve,
        # the rest are usually satisfied by the relaxation): if every pair holds, done
        sol = ecos_solve(prob, lb, ub, reltol=1e-6, abstol=1e-7)
        heuristic.last_status = "A:" + sol.status
        if sol.x is None or sol.status not in ("optimal", "optimal_inaccurate"):
            return None
        y = sol.x
        duals = np.concatenate([k.mu_u, k.mu_l, k.nu_u, k.nu_l], axis=1)
        slacks = np.concatenate([k.s_fu, k.s_fl, k.s_gu, k.s_gl], axis=1)
        if np.all(np.minimum(y[duals], y[slacks]) <= PAIR_TOL):
            if k.z.size:
                y = y.copy()
                y[k.z] = (y[slacks] <= y[duals]).astype(float)
            return y
        # stage B: the follower's own response at stage A's PCC schedule fixes the pattern
        act = follower_pattern(lay, y)
        if act is None:
            return None
        if k.z.size:
            _fix(lb, ub, k.z, act.astype(float))
        ub[duals[~act]] = 0.0
        lb[duals[~act]] = 0.0
        ub[slacks[act]] = 0.0
        lb[slacks[act]] = 0.0
        sol = ecos_solve(prob, lb, ub, reltol=1e-7)
        heuristic.last_status = sol.status
        if sol.status not in ("optimal", "optimal_inaccurate") or sol.x is None:
            return None
        return sol.x
    heuristic.__name__ = "follower_response"
    return heuristic
