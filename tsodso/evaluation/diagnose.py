"""Why is an instance infeasible? By constraint family, ADN and hour.

    explain_infeasible(system) -> str     one sentence (the CLI prints it; exit code 3)

Method (an elastic re-solve by families, on the continuous relaxation, with ECOS):
1. each ADN alone (`formulation.feeder.build_feeder_opf`: SOC-DistFlow + DER, integers
   relaxed), hour by hour. An hour whose relaxation ECOS certifies infeasible is infeasible
   for the whole model too (a relaxation of a restriction of it). The relaxation being
   feasible proves nothing, so ADNs and hours are only blamed on a certificate.
2. for an infeasible (ADN, hour): each family is lifted in turn (line current limits;
   bus voltage limits; BESS limits) and the relaxation re-solved; the families whose lifting
   restores feasibility are named. For the current limits, the lines whose current exceeds
   its limit in the lifted solution are named with the current needed and the limit.
3. no ADN infeasible alone: the coupling is blamed (the TN's DC-OPF and the PCC box, the
   KKT conditions of the follower, P2P across ADNs).
"""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional

import numpy as np

from ..conic import ecos_adapter as ea
from ..formulation.feeder import build_feeder_opf

__all__ = ["explain_infeasible", "adn_hour_status"]

MAX_LISTED = 3      # lines / hours named in the sentence


def _hour(adn, t):
    return replace(adn, load_p_mw=adn.load_p_mw[t:t + 1], load_q_mvar=adn.load_q_mvar[t:t + 1],
                   pv_avail_mw=adn.pv_avail_mw[t:t + 1])


def _solve(adn):
    prob, fv, _ = build_feeder_opf(adn, 1)
    sol = ea.solve(prob)
    return sol, prob, fv


def adn_hour_status(adn) -> str:
    """ECOS status of the relaxation of one single-hour ADN ("optimal", "infeasible", ...)."""
    return _solve(adn)[0].status


def _lift_current(a):
    return replace(a, line_imax_pu=np.full_like(np.asarray(a.line_imax_pu, float), np.inf))


def _lift_voltage(a):
    out = replace(a, vmin_pu=0.5, vmax_pu=1.5)
    if getattr(a, "bus_vmax_pu", None) is not None:
        out = replace(out, bus_vmax_pu=None)
    return out


def _lift_bess(a):
    z = np.zeros_like(np.asarray(a.bess_pmin_mw, float))
    return replace(a, bess_pmin_mw=z, bess_emin_mwh=z.copy())


FAMILIES = (("line current limits (imax)", _lift_current),
            ("bus voltage limits (vmin / vmax)", _lift_voltage),
            ("BESS minimum power / energy", _lift_bess))


def _current_detail(adn, hour_label) -> Optional[str]:
    sol, prob, fv = _solve(_lift_current(adn))
    if sol.status != ea.OPTIMAL:
        return None
    cur = np.sqrt(np.maximum(sol.x[fv.l[0]], 0.0))
    lim = np.asarray(adn.line_imax_pu, float)
    over = np.flatnonzero(cur > lim * (1 + 1e-6))
    over = over[np.argsort(-(cur[over] / lim[over]))][:MAX_LISTED]
    if over.size == 0:
        return None
    parts = [f"line {int(adn.line_from[j])}->{int(adn.line_to[j])} needs {cur[j]:.4g} pu > limit {lim[j]:.4g} pu"
             for j in over]
    return f"{hour_label}: " + "; ".join(parts) + " (bus indices of the feeder, root 0)"


def explain_infeasible(system) -> str:
    hours = list(getattr(system, "hours", None) or range(system.n_hours))
    findings: List[str] = []
    for a, adn in enumerate(system.adns):
        bad = []
        for t in range(system.n_hours):
            if adn_hour_status(_hour(adn, t)) == ea.INFEASIBLE:
                bad.append(t)
        if not bad:
            continue
        t = bad[0]
        one = _hour(adn, t)
        fams = [name for name, lift in FAMILIES if adn_hour_status(lift(one)) == ea.OPTIMAL]
        hl = ", ".join(f"{hours[k]:02d}:00" for k in bad[:MAX_LISTED]) + (" ..." if len(bad) > MAX_LISTED else "")
        msg = f"ADN {adn.name}: infeasible alone at hour(s) {hl} (ECOS certificate on its relaxation)"
        if fams:
            msg += "; feasible again when lifting: " + ", ".join(fams)
            if fams[0].startswith("line current"):
                d = _current_detail(one, f"{hours[t]:02d}:00")
                if d:
                    msg += f"; {d}"
        else:
            msg += "; no single family explains it (several limits conflict)"
        findings.append(msg)
    if findings:
        return " | ".join(findings)
    return ("every ADN is feasible alone (relaxations): the coupling is infeasible (the TN's "
            "DC-OPF and the PCC ranges, the follower's KKT conditions, or P2P across ADNs)")
