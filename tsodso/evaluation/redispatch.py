"""The TN outcome of a given set of PCC exchanges: one DC-OPF per hour (HiGHS QP, PTDF form).

    redispatch(system, pcc_import_mw) -> TNOutcome

Every scheme ends with PCC exchanges `P0[a, t]` (MW, import > 0). With them fixed, the TSO's
DC-OPF of hour t (docs/model.md section 4) is solved by `tsodso.evaluation.dcopf.solve_dcopf`:
dispatch `gen_mw` (T, ng), flows, the hour's cost (c2 g^2 + c1 g + c0, $/h) and the LMPs
`d cost / d demand` ($/MWh, (T, nb)). The schemes use it as
* tso-led: the re-dispatch of the realised exchanges (the actual TN outcome);
* centralised: the nodal prices of the co-optimised dispatch (the duals of its TN part: for
  fixed P0 the centralised TN sub-problem *is* this DC-OPF, so the dispatch must agree; the
  agreement is reported as a certificate);
* all: the same independent evaluation, so the TN metrics are comparable across schemes.
An hour whose DC-OPF is not solved to optimality keeps NaN and its HiGHS status.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from ..data.network import ptdf
from .dcopf import pcc_injection, solve_dcopf


@dataclass
class TNOutcome:
    gen_mw: np.ndarray            # (T, ng)
    flow_mw: np.ndarray           # (T, nk)
    lmp_usd_per_mwh: np.ndarray   # (T, nb)
    cost_usd_per_h: np.ndarray    # (T,) c2 g^2 + c1 g + c0
    statuses: List[str]

    @property
    def ok(self) -> bool:
        return all(s == "optimal" for s in self.statuses)


def redispatch(system, pcc_import_mw) -> TNOutcome:
    """Hour-by-hour DC-OPF of `system.tn` with the ADNs' PCC imports (A, T) MW as demand."""
    tn = system.tn
    P0 = np.asarray(pcc_import_mw, float)
    T = P0.shape[1]
    H = ptdf(tn)
    gen = np.full((T, tn.n_gen), np.nan)
    flow = np.full((T, tn.n_line), np.nan)
    lmp = np.full((T, tn.n_bus), np.nan)
    cost = np.full(T, np.nan)
    statuses = []
    for t in range(T):
        r = solve_dcopf(tn, np.asarray(tn.load_mw[t], float) + pcc_injection(system, P0[:, t]), H)
        statuses.append(r.status)
        if r.ok:
            gen[t], flow[t], lmp[t], cost[t] = r.gen_mw, r.flow_mw, r.lmp_usd_per_mwh, r.cost_usd_per_h
    return TNOutcome(gen, flow, lmp, cost, statuses)

