"""Validation of the stand-alone network models against published values (`tsodso validate`).

* TN DC-OPF of MATPOWER case30 with its own costs (one hour, nominal load), built through the
  conic core and solved by ECOS: published 565.21 $/h (MATPOWER/PYPOWER rundcopf). Compared with
  HiGHS' QP solver on the PTDF form of the same problem (cost, dispatch, LMPs).
* SOC-DistFlow of the 33-bus Baran-Wu feeder at nominal load and V0 = 1.0 pu, minimising the
  substation import: published AC power flow losses 202.68 kW and minimum voltage 0.91309 pu
  at bus 18; the SOC gap max(v_i l_ij - P_ij^2 - Q_ij^2) must be ~0.
"""
from __future__ import annotations

import os

import numpy as np

from .conic.ecos_adapter import solve
from .data import feeder_from_case, read_case, transmission_from_case
from .data.builder import case_dir
from .evaluation.dcopf import solve_dcopf
from .data.system import ADN
from .formulation.distflow import soc_gap
from .formulation.feeder import build_feeder_opf
from .formulation.tn import build_dcopf, dcopf_readback

PUBLISHED = {"case30_dcopf_usd_per_h": 565.21, "case33bw_losses_kw": 202.68,
             "case33bw_vmin_pu": 0.91309, "case33bw_vmin_bus": 18}


def case30_dcopf() -> dict:
    tn = transmission_from_case(read_case(os.path.join(case_dir(), "case30.m")))
    prob, d = build_dcopf(tn, hours=1)
    sol = solve(prob)
    out = dcopf_readback(prob, sol, d)
    ref = solve_dcopf(tn, np.asarray(tn.load_mw[0], float))
    return {"status": sol.status, "cost_usd_per_h": float(out["cost_usd"]),
            "published_usd_per_h": PUBLISHED["case30_dcopf_usd_per_h"],
            "highs_cost_usd_per_h": float(ref.cost_usd_per_h),
            "max_dispatch_diff_mw": float(np.max(np.abs(out["gen_p_mw"][0] - ref.gen_mw))),
            "max_lmp_diff_usd_per_mwh": float(np.max(np.abs(out["lmp_usd_per_mwh"][0] - ref.lmp_usd_per_mwh))),
            "max_flow_diff_mw": float(np.max(np.abs(out["line_p_mw"][0] - ref.flow_mw))),
            "lmp_usd_per_mwh": out["lmp_usd_per_mwh"][0], "gen_p_mw": out["gen_p_mw"][0],
            "ecos_seconds": sol.solve_seconds}


def baran_wu_feeder_adn(v0_pu: float = 1.0) -> ADN:
    f = feeder_from_case(read_case(os.path.join(case_dir(), "case33bw.m")))
    e, ei = np.zeros(0), np.zeros(0, np.int64)
    return ADN(name="case33bw", pcc_bus=0, base_kv=f.base_kv, base_mva=f.base_mva,
               line_from=f.line_from, line_to=f.line_to, line_r_pu=f.line_r_pu,
               line_x_pu=f.line_x_pu, line_imax_pu=np.full(f.line_from.size, np.inf),
               v0_pu=v0_pu, vmin_pu=0.0, vmax_pu=2.0,
               load_p_mw=f.load_p_mw[None, :], load_q_mvar=f.load_q_mvar[None, :],
               pv_bus=ei, pv_avail_mw=np.zeros((1, 0)), bess_bus=ei, bess_emax_mwh=e,
               bess_emin_mwh=e, bess_e0_mwh=e, bess_pmax_mw=e, bess_pmin_mw=e, bess_eta_c=e,
               bess_eta_d=e, bess_deg_usd_per_mwh=e, prosumer_bus=ei, platform_usd_per_h=0.0)


def baran_wu_distflow() -> dict:
    adn = baran_wu_feeder_adn()
    prob, fv, _ = build_feeder_opf(adn, 1)
    sol = solve(prob)
    x = sol.x
    vm = np.sqrt(x[fv.v][0])
    losses_kw = (x[fv.pcc][0] * adn.base_mva - adn.load_p_mw.sum()) * 1000.0
    gap = soc_gap(x[fv.P], x[fv.Q], x[fv.l], x[fv.v], adn.line_from)
    return {"status": sol.status, "losses_kw": float(losses_kw),
            "published_losses_kw": PUBLISHED["case33bw_losses_kw"],
            "vmin_pu": float(vm.min()), "vmin_bus": int(np.argmin(vm)) + 1,
            "published_vmin_pu": PUBLISHED["case33bw_vmin_pu"],
            "soc_gap_max": float(np.max(np.abs(gap))), "v_pu": vm, "ecos_seconds": sol.solve_seconds}
