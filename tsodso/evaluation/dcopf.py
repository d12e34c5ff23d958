"""The TSO's DC-OPF of one hour, solved by HiGHS' QP solver in PTDF form (independent of the MISOCP).

    solve_dcopf(tn, demand_mw)            -> DCOPFResult (dispatch, flows MW; LMPs $/MWh; cost $/h)
    pcc_injection(system, pcc_import_mw)  (A,) PCC imports -> (nb,) extra bus demand, MW
    generation_cost_usd_per_h(tn, gen_mw) (T,) sum_g c2 g^2 + c1 g + c0, $/h

LMPs are d(cost)/d(demand) at a bus; HiGHS' row dual of the nodal balance has that sign for a
minimisation (checked against finite differences in tests/test_data_calibration.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..data.network import ptdf
from ..data.system import System, Transmission

_VERBOSE = False


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


def generation_cost_usd_per_h(tn: Transmission, gen_mw) -> np.ndarray:
    """sum_g c2 g^2 + c1 g + c0 of a dispatch in MW, $/h: (T,) for gen_mw (T, ng), a scalar
    array for gen_mw (ng,)."""
    g = np.asarray(gen_mw, float)
    return (np.sum(tn.gen_c2_usd_per_mw2h * g ** 2 + tn.gen_c1_usd_per_mwh * g, axis=-1)
            + float(np.sum(tn.gen_c0_usd_per_h)))


def pcc_injection(system: System, pcc_import_mw: np.ndarray) -> np.ndarray:
    """(A,) PCC imports, MW (import > 0) -> (nb,) extra bus demand, MW."""
    d = np.zeros(system.tn.n_bus)
    np.add.at(d, [x.pcc_bus for x in system.adns], pcc_import_mw)
    return d


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
    return DCOPFResult("optimal", float(generation_cost_usd_per_h(tn, g)), g, flow, lmp)


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
