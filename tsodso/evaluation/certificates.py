"""Certificates computed from a DSO-led solution: checks anyone can rerun (docs/model.md section 6).

follower   Fix the leader's PCC schedule and solve each hour's DC-OPF with HiGHS' QP solver in
           PTDF form (`tsodso.evaluation.dcopf.solve_dcopf`): a different solver and a different
           formulation from the ECOS-based MISOCP. Compare cost ($/h), dispatch (MW) and LMPs
           ($/MWh). `follower_gap` = max over hours of |cost_ours - cost_highs| / max(1, cost_highs).
           LMPs can legitimately differ where the follower's duals are not unique (optimistic
           convention, docs/model.md s.1); dispatch and cost cannot.
soc        max over ADNs, hours, lines of v_i l_ij - P_ij^2 - Q_ij^2 (pu^2; 0 = exact), and the
           worst |V_sweep - sqrt(v)| (pu) against a backward/forward sweep AC power flow of the
           solution's net injections at the same root voltage.
bigm       whether any KKT dual sits at its big-M bound M_t or any slack at its bound (within
           `BIGM_TOL` relative): a solution with an active big-M may be cut off by the bound.
dispatch   (centralised) the co-optimised TN dispatch against the same independent DC-OPF of
           its own PCC exchanges: cost and dispatch must agree at the optimum.
clearing   (tso-led) the cleared LMPs against the independent DC-OPF of the published schedule.
objective  the leader objective recomputed by the physical definition of each cost (wholesale
           energy as sum_b LMP_b P0_b with the solution's own LMPs, fees, degradation, platform,
           curtailment), in $, and its difference from the MISOCP objective.
"""
from __future__ import annotations

import numpy as np

from ..data.radial_pf import radial_power_flow
from ..formulation.common import USD_PER_OBJ_UNIT
from ..formulation.distflow import soc_gap
from .dcopf import generation_cost_usd_per_h, pcc_injection, solve_dcopf
from .readback import lmp_usd_per_mwh, pcc_import_mw
from .redispatch import redispatch

BIGM_TOL = 1e-6


def follower_certificate(lay, x) -> dict:
    d, tn, T = lay.tn, lay.system.tn, lay.T
    P0 = pcc_import_mw(lay, x)
    g_ours = x[lay.tnv.g] * d.base_mva
    lmp_ours = lmp_usd_per_mwh(lay, x)
    cost_ours = generation_cost_usd_per_h(tn, g_ours)
    cost_ref = np.full(T, np.nan)
    dg = np.full(T, np.nan)
    dl = np.full(T, np.nan)
    statuses = []
    for t in range(T):
        r = solve_dcopf(tn, np.asarray(tn.load_mw[t], float) + pcc_injection(lay.system, P0[:, t]))
        statuses.append(r.status)
        if r.status != "optimal":
            continue
        cost_ref[t] = r.cost_usd_per_h
        dg[t] = np.max(np.abs(r.gen_mw - g_ours[t]))
        dl[t] = np.max(np.abs(r.lmp_usd_per_mwh - lmp_ours[t]))
    rel = np.abs(cost_ours - cost_ref) / np.maximum(1.0, np.abs(cost_ref))
    return {
        "solver": "HiGHS QP (PTDF form)",
        "statuses": statuses,
        "follower_gap": float(np.nanmax(rel)) if np.any(np.isfinite(rel)) else float("nan"),
        "cost_ours_usd": cost_ours, "cost_ref_usd": cost_ref,
        "max_dispatch_diff_mw": float(np.nanmax(dg)) if np.any(np.isfinite(dg)) else float("nan"),
        "max_lmp_diff_usd_per_mwh": float(np.nanmax(dl)) if np.any(np.isfinite(dl)) else float("nan"),
        "all_solved": all(s == "optimal" for s in statuses),
    }


def net_consumption_pu(lay, x, a) -> tuple:
    """(T, nbus) net active and reactive consumption (load - generation) of ADN a, ADN pu."""
    adn, dv = lay.system.adns[a], lay.ders[a]
    T, S = lay.T, adn.base_mva
    p = np.asarray(adn.load_p_mw, float)[:T] / S
    q = np.asarray(adn.load_q_mvar, float)[:T] / S
    p = p.copy()
    if adn.pv_bus.size:
        np.add.at(p.T, adn.pv_bus, -x[dv.pv].T)
    if adn.bess_bus.size:
        np.add.at(p.T, adn.bess_bus, (x[dv.ch] - x[dv.dis]).T)
    return p, q


def soc_certificate(lay, x) -> dict:
    worst_gap, worst_v = 0.0, 0.0
    for a, (adn, fv) in enumerate(zip(lay.system.adns, lay.feeders)):
        g = soc_gap(x[fv.P], x[fv.Q], x[fv.l], x[fv.v], adn.line_from)
        worst_gap = max(worst_gap, float(np.max(np.abs(g))))
        p, q = net_consumption_pu(lay, x, a)
        vm = np.sqrt(np.maximum(x[fv.v], 0.0))
        for t in range(lay.T):
            pf = radial_power_flow(adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu,
                                   p[t], q[t], v0_pu=adn.v0_pu)
            worst_v = max(worst_v, float(np.max(np.abs(pf.v_pu - vm[t]))))
    return {"soc_gap": worst_gap, "max_voltage_mismatch_pu": worst_v}


def bigm_certificate(lay, x) -> dict:
    k, b = lay.kkt, lay.bounds
    M = b.dual_max_each
    duals = x[k.duals]                             # (T, 2nk+2ng) [fu|fl|gu|gl]
    d_act = duals >= M * (1 - BIGM_TOL)
    smax = k.index.per_line_gen(b.slack_line_max, b.slack_gen_max)
    slacks = x[k.slacks]
    s_act = slacks >= smax[None, :] * (1 - BIGM_TOL)
    # Only the dual bounds M_i are artificial (analysis/dual_bounds.py); slack <= Smax (2F, Gmax - Gmin) is implied
    # by the other limit of the same line or generator, so a slack at Smax (a line at its
    # limit in the other direction) is physics, reported but not a big-M activity.
    return {"bigm_active": bool(d_act.any()),
            "dual_bound_active": int(d_act.sum()), "slack_bound_active": int(s_act.sum()),
            "max_dual_over_bound": float(np.max(duals / M)) if duals.size else 0.0}


def cost_breakdown_usd(lay, x) -> dict:
    """Leader cost by its physical definition, $ over the horizon."""
    sys, T, dt = lay.system, lay.T, lay.system.dt_h
    P0 = pcc_import_mw(lay, x)
    lmp = lmp_usd_per_mwh(lay, x)
    pcc = np.array([a.pcc_bus for a in sys.adns])
    per_adn = {"wholesale": np.sum(lmp[:, pcc].T * P0, axis=1) * dt}
    fees_grid, fees_loc, deg, plat, curt = [], [], [], [], []
    for a, adn in enumerate(sys.adns):
        S, sv, dv = adn.base_mva, lay.settle[a], lay.ders[a]
        fees_grid.append(sys.fee_grid_usd_per_mwh * x[sv.buy_grid].sum() * S * dt)
        fees_loc.append(sys.fee_local_usd_per_mwh * x[sv.buy_loc].sum() * S * dt)
        deg.append(float(np.sum(np.asarray(adn.bess_deg_usd_per_mwh) * (x[dv.ch] + x[dv.dis]).sum(axis=0))) * S * dt)
        plat.append(adn.platform_usd_per_h * x[sv.trade].sum() * dt if sv.trade.size else 0.0)
        cut = np.sum(np.asarray(adn.pv_avail_mw, float)[:T] - x[dv.pv] * S) * dt
        curt.append(adn.pv_curtail_usd_per_mwh * cut)
    cr = lay.cross
    fee_x = np.asarray(sys.fee_cross_usd_per_mwh, float)[cr.pairs[:, 0], cr.pairs[:, 1]]
    xs = x[cr.x] * cr.base_x * dt                       # (T, npairs) MWh
    fees_x = np.zeros(sys.n_adn)
    np.add.at(fees_x, cr.pairs[:, 1], (xs * fee_x[None, :]).sum(axis=0))
    per_adn.update({"fee_grid": np.array(fees_grid), "fee_local": np.array(fees_loc),
                    "fee_cross": fees_x, "degradation": np.array(deg), "platform": np.array(plat),
                    "curtailment": np.array(curt)})
    per_adn["total"] = sum(per_adn.values())
    return per_adn


def objective_certificate(lay, prob, x) -> dict:
    br = cost_breakdown_usd(lay, x)
    total = float(np.sum(br["total"]))
    ours = prob.objective(x) * USD_PER_OBJ_UNIT
    return {"objective_usd": ours, "recomputed_usd": total, "difference_usd": ours - total,
            "breakdown_usd": {k: float(np.sum(v)) for k, v in br.items()}}


def certify(lay, prob, x) -> dict:
    """All certificates of a DSO-led solution `x` of `prob` (built with layout `lay`)."""
    return {"follower": follower_certificate(lay, x), "soc": soc_certificate(lay, x),
            "bigm": bigm_certificate(lay, x), "objective": objective_certificate(lay, prob, x)}


def dispatch_certificate(lay, x, tn_out=None) -> dict:
    """The centralised TN dispatch against an independent DC-OPF of its own PCC exchanges.

    At the centralised optimum the TN part is optimal for its P0, so the HiGHS DC-OPF must give
    the same hourly cost ($/h) and dispatch (MW). `dispatch_gap` = max_t |cost_ours - cost_ref|
    / max(1, cost_ref); an incumbent that is not optimal may legitimately show a gap here.
    """
    sys = lay.system
    tn_out = redispatch(sys, pcc_import_mw(lay, x)) if tn_out is None else tn_out
    g = x[lay.tnv.g] * lay.tn.base_mva
    ours = generation_cost_usd_per_h(sys.tn, g)
    rel = np.abs(ours - tn_out.cost_usd_per_h) / np.maximum(1.0, np.abs(tn_out.cost_usd_per_h))
    return {"solver": "HiGHS QP (PTDF form)", "statuses": list(tn_out.statuses),
            "all_solved": tn_out.ok, "cost_ours_usd_per_h": ours, "cost_ref_usd_per_h": tn_out.cost_usd_per_h,
            "dispatch_gap": float(np.nanmax(rel)) if np.any(np.isfinite(rel)) else float("nan"),
            "max_dispatch_diff_mw": float(np.nanmax(np.abs(g - tn_out.gen_mw)))
            if np.any(np.isfinite(tn_out.gen_mw)) else float("nan")}


def clearing_certificate(system, clr) -> dict:
    """The cleared LMPs of a TSO clearing `clr` (schemes/tso_led.py `Clearing`) against an
    independent DC-OPF (HiGHS) of the published schedule.

    With the schedule fixed, each hour of the clearing is that hour's DC-OPF, so dispatch and
    LMPs must agree (LMPs up to dual degeneracy)."""
    ref = redispatch(system, clr.schedule_mw)
    return {"all_solved": ref.ok,
            "max_lmp_diff_usd_per_mwh": float(np.nanmax(np.abs(ref.lmp_usd_per_mwh - clr.lmp_usd_per_mwh))),
            "max_dispatch_diff_mw": float(np.nanmax(np.abs(ref.gen_mw - clr.gen_mw)))}
