"""Calibration check: does a case exercise the bilevel? (independent of the formulation layer)

With every ADN at its forecast net load (load - PV available, batteries idle, losses ignored)
each hour's TN DC-OPF (QP, the case's quadratic costs) is solved with HiGHS (`highspy`,
`tsodso.evaluation.dcopf`), and per hour we report the binding lines, the LMP at each PCC bus
and dLMP/dMW at each PCC by a central finite difference (+-`step` MW of extra import at that
PCC alone). `check_corners` solves the DC-OPF with all ADNs at pcc_min (resp. pcc_max)
simultaneously, or at every vertex of the PCC box, and reports infeasible hours.

    python -m tsodso.evaluation.calibration [--adns N] [--seed S] [--vertices]
"""
from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..data.network import forecast_net_load_mw
from ..data.system import System
from .dcopf import pcc_injection, solve_dcopf

BIND_TOL_MW = 1e-4   # a line binds when |f| >= rate - tol (HiGHS primal tolerance is 1e-7 pu)


@dataclass
class HourReport:
    hour: int
    cost_usd_per_h: float
    binding_lines: List[str]      # "f-t" MATPOWER numbers
    pcc_lmp: np.ndarray           # (A,)
    pcc_dlmp_dmw: np.ndarray      # (A,)
    gens_at_limit: List[int]


def calibrate(system: System, step_mw: float = 0.5) -> List[HourReport]:
    tn = system.tn
    ids = tn.bus_id
    pcc = np.array([x.pcc_bus for x in system.adns])
    net = forecast_net_load_mw(system)
    out = []
    for t in range(system.n_hours):
        base_d = tn.load_mw[t] + pcc_injection(system, net[:, t])
        r = solve_dcopf(tn, base_d)
        if not r.ok:
            out.append(HourReport(t, np.nan, [], np.full(pcc.size, np.nan),
                                  np.full(pcc.size, np.nan), []))
            continue
        bind = [f"{ids[tn.line_from[k]]}-{ids[tn.line_to[k]]}" for k in range(tn.n_line)
                if abs(r.flow_mw[k]) >= tn.line_rate_mw[k] - BIND_TOL_MW]
        slope = np.zeros(pcc.size)
        for a in range(pcc.size):
            e = np.zeros(tn.n_bus)
            e[pcc[a]] = step_mw
            up, dn = solve_dcopf(tn, base_d + e), solve_dcopf(tn, base_d - e)
            slope[a] = (up.lmp_usd_per_mwh[pcc[a]] - dn.lmp_usd_per_mwh[pcc[a]]) / (2 * step_mw)
        atlim = [g for g in range(tn.n_gen)
                 if r.gen_mw[g] >= tn.gen_pmax_mw[g] - 1e-4 or r.gen_mw[g] <= tn.gen_pmin_mw[g] + 1e-4]
        out.append(HourReport(t, r.cost_usd_per_h, bind, r.lmp_usd_per_mwh[pcc], slope, atlim))
    return out


def check_corners(system: System, vertices: bool = False, hours: Optional[List[int]] = None):
    """Hours and corners where the DC-OPF is infeasible. Corners: all ADNs at pcc_min, all at
    pcc_max; with `vertices=True` every vertex of the box (2^A, only for small A).
    The feasible injection set is convex, so all vertices feasible => the whole box is."""
    tn = system.tn
    A = system.n_adn
    bad = []
    hours = range(system.n_hours) if hours is None else hours
    if vertices:
        corners = list(itertools.product((0, 1), repeat=A))
    else:
        corners = [(0,) * A, (1,) * A]
    for t in hours:
        for c in corners:
            c = np.array(c)
            p = np.where(c == 1, system.pcc_max_mw[:, t], system.pcc_min_mw[:, t])
            r = solve_dcopf(tn, tn.load_mw[t] + pcc_injection(system, p))
            if not r.ok:
                bad.append((t, tuple(int(v) for v in c), r.status))
    return bad


def main(argv=None) -> int:
    from ..data.builder import load_system
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=None)
    ap.add_argument("--adns", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vertices", action="store_true", help="check every vertex of the PCC box")
    args = ap.parse_args(argv)
    s = load_system(args.scenario, adns=args.adns, seed=args.seed)
    ids = s.tn.bus_id
    print(f"sigma = {s.scenario['_sigma']:.4f}; ADNs:")
    for a, x in enumerate(s.adns):
        print(f"  {x.name}: PCC bus {ids[x.pcc_bus]}, k = {x.feeders_aggregated}, "
              f"peak load {x.load_p_mw.sum(1).max():.2f} MW, PV {x.pv_avail_mw.sum(1).max():.2f} MW, "
              f"BESS {x.bess_pmax_mw.sum():.2f} MW / {x.bess_emax_mwh.sum():.2f} MWh, "
              f"pcc range [{s.pcc_min_mw[a].min():.2f}, {s.pcc_max_mw[a].max():.2f}] MW")
    rep = calibrate(s)
    names = " ".join(f"{ids[x.pcc_bus]:>6d}" for x in s.adns)
    print(f"hour  cost$/h   LMP at PCC bus {names}   dLMP/dMW at PCC   binding lines")
    for r in rep:
        print(f"{r.hour:4d} {r.cost_usd_per_h:9.1f}  "
              + " ".join(f"{v:6.2f}" for v in r.pcc_lmp) + "   "
              + " ".join(f"{v:6.3f}" for v in r.pcc_dlmp_dmw) + "   " + ",".join(r.binding_lines))
    bad = check_corners(s, vertices=args.vertices)
    print("corner check:", "all feasible" if not bad else bad)
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
