"""Price-taking DSO-led variant: the DSOs optimise at fixed reference LMPs, then the TSO clears.

The DSO-led scheme (schemes/dso_led.py) is a bilevel: the DSOs' leader sees how its PCC
exchanges move the LMPs (the TSO's DC-OPF as KKT conditions). This variant removes exactly
that, and nothing else:

Step 1 - reference prices
    lambda_ref (T, nb), $/MWh: the hour-by-hour DC-OPF (`redispatch`, HiGHS) with every ADN at
    its forecast PCC import (`schemes/forecast.py`, the scenario's `tso_led.forecast`:
    batteries idle, "dso" = the DSO's own sweep power flow, "naive" = load - PV). These are
    the prices a DSO would see in a day-ahead market before it bids.
Step 2 - the DSOs (one MISOCP, our B&B; the same leader block as DSO-led: every ADN's
    SOC-DistFlow, PV, BESS with its binaries, local and cross-ADN P2P with their binaries,
    PCC within the physical box) minimising
      sum_a sum_t lambda_ref[t, b(a)] P0_at dt + fees + degradation + platform + curtailment
    i.e. the DSO-led leader's objective with the LMPs fixed (no follower, no KKT).
Step 3 - the TSO clears the realised exchanges P0 (`redispatch`): dispatch, generation cost
    and the cleared LMPs, which settle the ADNs' PCC exchanges in the metrics.

Compared with DSO-led on the same system (evaluation/metrics.py `price_making`, reported by
report/tables.py beside the comparison):
    value of price-making = DSO bill (price-taking) - DSO bill (DSO-led), $ (> 0: moving the
    LMP at its own PCC saves the DSOs that much), and the change in generator rent
    sum_t sum_g (LMP_{bus(g),t} g_gt - cost_g(g_gt)) dt between the two.

Status: the B&B's ("optimal" only with a proven gap of the step-2 problem) and
"redispatch_failed" if an hour of step 1 or 3 is not optimal.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..conic import ProblemBuilder
from ..formulation.bilevel import Layout, add_leader, add_leader_costs, binary_groups
from ..formulation.common import USD_PER_OBJ_UNIT, usd_per_mwh_to_obj
from ..solver import BnBOptions, solve as bnb_solve
from ..evaluation.certificates import soc_certificate
from ..evaluation.metrics import dso_cost_usd, outcome_from_layout, total_cost_usd
from ..evaluation.readback import pcc_import_mw
from ..evaluation.redispatch import TNOutcome, redispatch
from .dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL
from .forecast import pcc_forecast
from .result import SchemeResult, finite_or_none

SCHEME = "price-taking"


def reference_lmps(system, T: int | None = None):
    """(T, nb) reference LMPs ($/MWh) and the TNOutcome of the forecast DC-OPF."""
    T = system.n_hours if T is None else int(T)
    fc = pcc_forecast(system, T)
    ref = redispatch(system, fc.net_load_mw)
    return ref.lmp_usd_per_mwh, ref


def build_price_taking(system, lmp_usd_per_mwh, hours: int | None = None):
    """The step-2 MISOCP at fixed LMPs (T, nb). Returns (problem, layout)."""
    T = system.n_hours if hours is None else int(hours)
    lmp = np.asarray(lmp_usd_per_mwh, float)
    if lmp.shape[0] < T or not np.all(np.isfinite(lmp[:T])):
        raise ValueError("price-taking: reference LMPs missing or not finite")
    bld = ProblemBuilder()
    feeders, ders, settle, cross = add_leader(bld, system, T)
    add_leader_costs(bld, system, T, ders, settle, cross)
    for adn, fv in zip(system.adns, feeders):
        bld.add_cost(fv.pcc, usd_per_mwh_to_obj(lmp[:T, adn.pcc_bus], adn.base_mva, system.dt_h))
    lay = Layout(system=system, T=T, tn=None, tnv=None, feeders=feeders, ders=ders, settle=settle,
                 cross=cross, kkt=None, bounds=None, mode=SCHEME)
    lay.binary_groups = binary_groups(lay)
    bld.meta.update({"scheme": SCHEME, "objective_unit": "k$", "hours": T, "adns": system.n_adn})
    prob = bld.build()
    return prob, lay


@dataclass
class PriceTakingResult(SchemeResult):
    """`SchemeResult` (objective = the DSOs' cost at the reference LMPs, $) plus the prices."""
    reference_lmp_usd_per_mwh: Optional[np.ndarray] = None   # (T, nb)
    reference_tn: Optional[TNOutcome] = None
    tn: Optional[TNOutcome] = None                            # the TSO's clearing of P0
    system: object = None

    def pcc_import_mw(self) -> np.ndarray:
        return pcc_import_mw(self.layout, self.x)

    def outcome(self):
        """The metrics' Outcome: realised dispatch, settlement at the cleared LMPs."""
        if self.x is None or self.tn is None:
            return None
        return outcome_from_layout(self.scheme, self.layout, self.x, self.tn.gen_mw, self.tn.lmp_usd_per_mwh)

    def certificate_row(self) -> dict:
        row = super().certificate_row()            # status, bound, gap, SOC exactness
        c = self.certificates or {}
        if "objective" in c:
            row["tn_check"] = ("objective recomputed at the reference LMPs minus ours, $ (TSO clears P0 by "
                               "HiGHS DC-OPF)")
            row["tn_check_value"] = finite_or_none(c["objective"]["difference_usd"])
        return row

    def summary(self) -> dict:
        out = super().summary()
        out["redispatch_all_solved"] = bool(self.tn.ok) if self.tn is not None else None
        out["reference_lmp_range_usd_per_mwh"] = (
            [finite_or_none(np.nanmin(self.reference_lmp_usd_per_mwh)),
             finite_or_none(np.nanmax(self.reference_lmp_usd_per_mwh))]
            if self.reference_lmp_usd_per_mwh is not None else None)
        return out


def solve_price_taking(system, time_limit: float = 600.0, rel_gap: float = 1e-4, certify: bool = True,
                       options: dict | None = None) -> PriceTakingResult:
    """Steps 1-3 of the module docstring; objective and bounds in $."""
    t0 = time.perf_counter()
    lmp, ref = reference_lmps(system)
    if not ref.ok:
        return PriceTakingResult(
            scheme=SCHEME, status="redispatch_failed", objective_usd=math.nan, best_bound_usd=math.nan,
            rel_gap=math.inf, abs_gap_usd=math.inf, stop_reason=f"reference DC-OPF statuses {ref.statuses}",
            nodes=0, node_solves=0, inaccurate_solves=0, build_seconds=time.perf_counter() - t0,
            solve_seconds=0.0, ecos_seconds=0.0, size={}, binaries={}, reference_lmp_usd_per_mwh=lmp,
            reference_tn=ref, system=system)
    prob, lay = build_price_taking(system, lmp)
    t_build = time.perf_counter() - t0
    opts = BnBOptions(**{**dict(time_limit=time_limit, rel_gap=rel_gap, ecos_reltol=NODE_RELTOL,
                                ecos_abstol=NODE_ABSTOL, ecos_feastol=NODE_FEASTOL), **(options or {})})
    res = bnb_solve(prob, opts)
    k = USD_PER_OBJ_UNIT
    out = PriceTakingResult(
        scheme=SCHEME, status=res.status, objective_usd=res.objective * k, best_bound_usd=res.best_bound * k,
        rel_gap=res.rel_gap, abs_gap_usd=res.abs_gap * k, stop_reason=res.stop_reason, nodes=res.nodes,
        node_solves=res.node_solves, inaccurate_solves=res.inaccurate_solves, build_seconds=t_build,
        solve_seconds=res.seconds, ecos_seconds=res.ecos_seconds, size=prob.size_report(),
        binaries=lay.binary_groups, x=res.x, problem=prob, layout=lay, bnb=res,
        reference_lmp_usd_per_mwh=lmp, reference_tn=ref, system=system)
    if res.x is not None:
        out.tn = redispatch(system, out.pcc_import_mw())
        if not out.tn.ok and out.status == "optimal":
            out.status, out.stop_reason = "redispatch_failed", f"re-dispatch statuses {out.tn.statuses}"
        if certify:
            # the objective at the reference LMPs, recomputed by the metrics with those prices
            o_ref = outcome_from_layout(SCHEME, lay, res.x, out.tn.gen_mw, lmp)
            recomputed = float(np.sum(dso_cost_usd(o_ref)["total"]))
            out.certificates = {
                "soc": soc_certificate(lay, res.x),
                "objective": {"objective_usd": out.objective_usd, "recomputed_usd": recomputed,
                              "difference_usd": out.objective_usd - recomputed},
                "redispatch_cost_usd": float(np.nansum(out.tn.cost_usd_per_h)) * system.dt_h,
                "total_cost_usd": total_cost_usd(out.outcome()) if out.tn.ok else None,
            }
    return out
