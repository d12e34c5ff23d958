"""Calibration check: does a case exercise the bilevel? (independent of the formulation layer)

With every ADN at its forecast net load (load - PV available, batteries idle, losses ignored)
each hour's TN DC-OPF (QP, the case's quadratic costs) is solved with HiGHS (`highspy`), and
per hour we report the binding lines, the LMP at each PCC bus and dLMP/dMW at each PCC by a
central finite difference (+-`step` MW of extra import at that PCC alone). `check_corners`
solves the DC-OPF with all ADNs at pcc_min (resp. pcc_max) simultaneously, or at every vertex
of the PCC box, and reports infeasible hours.

    python -m tsodso.data.calibration [--adns N] [--seed S] [--vertices]

LMPs are computed as d(cost)/d(demand) at a bus; HiGHS' row dual of the nodal balance
`sum g - sum f_out + sum f_in = D` has that sign for a minimisation (checked against the
finite difference in the tests).
"""
from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .system import System, Transmission

_VERBOSE = False
BIND_TOL_MW = 1e-4   # a line binds when |f| >= rate - tol (HiGHS primal tolerance is 1e-7 pu)


@dataclass
class DCOPFResult:
    status: str                 # "optimal" or HiGHS model status string
    cost_usd_per_h: float
    gen_mw: np.ndarray
    flow_mw: np.ndarray
    lmp_usd_per_mwh: np.ndarray  # (nb,)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def ptdf(tn: Transmission) -> np.ndarray:
    """(nk, nb) DC power transfer distribution factors, slack = reference bus:
    f = PTDF @ (injection), f_k = (theta_f - theta_t) / x_k * base."""
    nb, nk = tn.n_bus, tn.n_line
    Af = np.zeros((nk, nb))
    Af[np.arange(nk), tn.line_from] = 1.0
    Af[np.arange(nk), tn.line_to] = -1.0
    Bf = Af / tn.line_x_pu[:, None]
    B = Af.T @ Bf
    keep = np.arange(nb) != tn.ref_bus
    X = np.zeros((nb, nb))
    X[np.ix_(keep, keep)] = np.linalg.inv(B[np.ix_(keep, keep)])
    return Bf @ X


def solve_dcopf(tn: Transmission, demand_mw: np.ndarray, H: Optional[np.ndarray] = None
                ) -> DCOPFResult:
    """min sum c2 g^2 + c1 g + c0 s.t. sum g = sum D (dual lam), |PTDF (C g - D)| <= rate
    (duals y_k), Gmin <= g <= Gmax. Solved by HiGHS' QP solver in PTDF form (ng variables).

    LMP_b = d cost / d D_b = lam + sum_k y_k PTDF_kb (HiGHS row duals are d obj / d bound; a
    demand increase at b shifts both bounds of line row k by PTDF_kb); checked against finite
    differences in the tests. Line rows are added lazily (solve, add the lines whose flow
    exceeds the rating, re-solve): with all 41 nearly-degenerate rows HiGHS' active-set QP
    solver sometimes stops with a spurious "non-convex" status; the lazy active set avoids
    it and gives the same optimum (a relaxation whose solution is feasible is optimal).
    `demand_mw` (nb,) includes the ADNs' PCC imports.
    """
    H = ptdf(tn) if H is None else H
    nb, ng, nk = tn.n_bus, tn.n_gen, tn.n_line
    Hg = H[:, tn.gen_bus]                       # (nk, ng)
    Hg = np.where(np.abs(Hg) < 1e-12, 0.0, Hg)
    fd = H @ demand_mw                          # flow caused by demand (withdrawal)
    rate = tn.line_rate_mw
    active: List[int] = []
    for _ in range(nk + 1):
        st, g, dual = _qp(tn, Hg, fd, demand_mw, active)
        if st != "optimal":
            return DCOPFResult(st, np.nan, np.full(ng, np.nan), np.full(nk, np.nan),
                               np.full(nb, np.nan))
        flow = Hg @ g - fd
        viol = [k for k in range(nk) if k not in active and abs(flow[k]) > rate[k] * (1 + 1e-9)]
        if not viol:
            break
        active.extend(viol)
    y = np.zeros(nk)
    y[active] = dual[1:]
    lmp = dual[0] + H.T @ y
    obj = float(np.sum(tn.gen_c2_usd_per_mw2h * g ** 2 + tn.gen_c1_usd_per_mwh * g)
                + np.sum(tn.gen_c0_usd_per_h))
    return DCOPFResult("optimal", obj, g, flow, lmp)


def _qp(tn, Hg, fd, demand_mw, lines):
    import highspy

    ng = tn.n_gen
    h = highspy.Highs()
    h.setOptionValue("output_flag", _VERBOSE)
    h.addVars(ng, tn.gen_pmin_mw.astype(float), tn.gen_pmax_mw.astype(float))
    allg = np.arange(ng, dtype=np.int32)
    h.changeColsCost(ng, allg, tn.gen_c1_usd_per_mwh.astype(float))
    tot = float(np.sum(demand_mw))
    h.addRow(tot, tot, ng, allg, np.ones(ng))
    for k in lines:
        nz = np.nonzero(Hg[k])[0].astype(np.int32)
        h.addRow(float(-tn.line_rate_mw[k] + fd[k]), float(tn.line_rate_mw[k] + fd[k]),
                 nz.size, nz, Hg[k, nz].astype(float))
    q = 2.0 * tn.gen_c2_usd_per_mw2h              # HiGHS objective: c'x + 0.5 x'Qx
    if np.any(q > 0):
        h.passHessian(ng, ng, highspy.HessianFormat.kTriangular,
                      np.arange(ng + 1, dtype=np.int32), allg, q.astype(float))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return h.modelStatusToString(h.getModelStatus()), None, None
    sol = h.getSolution()
    return "optimal", np.array(sol.col_value), np.array(sol.row_dual)


def pcc_injection(system: System, pcc_mw: np.ndarray) -> np.ndarray:
    """(A,) PCC imports -> (nb,) extra bus demand."""
    d = np.zeros(system.tn.n_bus)
    np.add.at(d, [x.pcc_bus for x in system.adns], pcc_mw)
    return d


def forecast_net_load_mw(system: System) -> np.ndarray:
    """(A, T) load - PV available, batteries idle, losses ignored."""
    return np.array([x.load_p_mw.sum(axis=1) - x.pv_avail_mw.sum(axis=1) for x in system.adns])


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
    from .builder import load_system
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
