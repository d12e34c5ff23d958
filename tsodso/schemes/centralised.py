"""Centralised (TSO-managed) scheme: one co-optimisation of the TN and all ADNs, the welfare reference.

docs/model.md section 5 ("the review's first model"): no bilevel, no KKT. One MISOCP over

    TN    DC-OPF primal of every hour with its limits (formulation/tn.py, `bounds=True`):
          nodal balance with the ADNs' PCC imports as demand, flow definition, |f| <= F,
          Gmin <= g <= Gmax, tau >= g^2 (rotated cone)
    ADNs  the same leader block as the DSO-led model (formulation/bilevel.py `add_leader`):
          SOC-DistFlow, PV, BESS with its binaries, settlement (grid / local pool / cross-ADN P2P
          with role, platform and exporter binaries), PCC import within the physical box
          [pcc_min, pcc_max] of the data (not the certified box of the DSO-led model: there is
          no follower whose duals need bounding)

minimising the **total cost** ($ over the horizon; model units k$):

    total = sum_t dt * sum_g (c2_g g_gt^2 + c1_g g_gt + c0_g)      TN generation cost
          + fees on grid, local-P2P and cross-ADN purchases           (use-of-system tariffs)
          + BESS degradation  deg * (p_ch + p_dis) dt
          + P2P platform cost  (per prosumer and hour it trades)
          + PV curtailment penalty  pen * (PVavail - p_pv) dt        (0 $/MWh in the default case)

Payments that are **transfers** between parties and are therefore *not* in the total:
* wholesale energy payments `LMP x P0` of the ADNs (users -> TSO/generators): the real cost
  of that energy is the generation cost, which is counted; the TSO's congestion rent is the
  difference, also a transfer;
* P2P energy payments between peers (local pool and cross-ADN): seller's revenue = buyer's
  payment;
* the tso-led deviation settlement (DSO -> TSO).
The use-of-system fees are kept (as in the DSO-led leader's cost, docs/model.md s.3: "a real cost
to users"): they stand for the cost of using the distribution / transmission network, which
the model has no other term for, and they make the settlement of the centralised solution
well defined (without them the P2P variables would be arbitrary). The same definition of the
total is applied to every scheme's outcome (`tsodso.evaluation.metrics.total_cost_usd`), so the
centralised optimum is a lower bound of every other scheme's total on the same data (each
other scheme's outcome is a feasible point of this problem).

The MISOCP is solved by our branch-and-bound (`tsodso.solver.solve`). The status is the B&B's:
"optimal" only when the B&B proves the gap. `warm_start`: solved results of other schemes
(tso-led, dso-led) whose outcomes are feasible points of this problem; their binaries are
mapped by block name (`adn0.*` of a tso-led DSO problem -> `adn{a}.*`; binaries a source
lacks, e.g. the cross-ADN exporter role of tso-led, are set to 0), fixed, and the continuous
rest is solved with ECOS: a MIP start the B&B certifies before it becomes the incumbent
(user heuristic "warm_start", run once, at the root). The nodal prices of the centralised dispatch are
the duals of its TN part for the optimal P0: they are obtained from an independent DC-OPF of
the centralised PCC exchanges (`redispatch`), whose dispatch and cost must agree with the
centralised one (certificate "dispatch", `evaluation.certificates`).
"""
from __future__ import annotations

import time

import numpy as np

from ..conic import ProblemBuilder
from ..conic.ecos_adapter import solve as ecos_solve
from ..formulation.bilevel import Layout, add_leader, add_leader_costs, binary_groups, pcc_injections
from ..evaluation.certificates import dispatch_certificate, soc_certificate
from ..evaluation.metrics import outcome_from_layout, total_cost_usd
from ..evaluation.readback import pcc_import_mw
from ..evaluation.redispatch import redispatch
from ..formulation.common import GAP_FLOOR, USD_PER_OBJ_UNIT
from ..formulation.tn import TNData, add_dcopf_primal, add_generation_cost
from ..solver import BnBOptions, solve as bnb_solve
from .result import SchemeResult

SCHEME = "centralised"


def build_centralised(system, hours: int | None = None):
    """The centralised MISOCP. Returns (problem, layout); `layout.kkt` is None."""
    T = system.n_hours if hours is None else int(hours)
    bld = ProblemBuilder()
    d = TNData.from_tn(system.tn, T)
    feeders, ders, settle, cross = add_leader(bld, system, T)
    tnv = add_dcopf_primal(bld, d, pcc_injections(system, feeders), bounds=True)
    add_generation_cost(bld, d, tnv, system.dt_h)
    add_leader_costs(bld, system, T, ders, settle, cross)
    lay = Layout(system=system, T=T, tn=d, tnv=tnv, feeders=feeders, ders=ders, settle=settle,
                 cross=cross, kkt=None, bounds=None, mode=SCHEME)
    lay.binary_groups = binary_groups(lay)
    bld.meta.update({"scheme": SCHEME, "objective_unit": "k$", "hours": T, "adns": system.n_adn})
    prob = bld.build()
    return prob, lay


def integer_start(prob, result) -> np.ndarray:
    """Values (0/1) of `prob`'s integer variables taken from another scheme's solved result."""
    vals = np.full(prob.n, np.nan)
    if result.scheme == "tso-led":
        sources = [(d.problem, d.x, ("adn0.", f"adn{d.adn}.")) for d in result.dsos]
    else:
        sources = [(result.problem, result.x, ("", ""))]
    for src, x, (old, new) in sources:
        for name in src.var_blocks:
            tgt = new + name[len(old):] if name.startswith(old) else name
            if tgt in prob.var_blocks and prob.var_blocks[tgt][1] == src.var_blocks[name][1]:
                vals[prob.index(tgt)] = src.get(x, name)
    out = np.round(vals[prob.integer])
    return np.where(np.isfinite(out), out, 0.0)


def make_warm_start(results):
    """B&B user heuristic: the first time it runs, solve with each result's binaries fixed and
    return the best of those points (lowest objective); later calls return None.

    Returning the first feasible start instead would let the order of `results` decide: on the
    default 5-ADN day the tso-led binaries (first) gave 160,661 $ while the dso-led ones give
    160,566 $, and the centralised incumbent stayed above a scheme it is the reference for.
    """
    done = []

    def warm_start(prob, x, lb, ub):
        if done:
            return None
        done.append(True)
        best, best_obj = None, np.inf
        ii = prob.integer
        for z in (integer_start(prob, r) for r in results if r is not None and r.x is not None):
            if np.any(z < lb[ii] - 1e-9) or np.any(z > ub[ii] + 1e-9):
                continue
            lo, hi = lb.copy(), ub.copy()
            lo[ii] = hi[ii] = z
            sol = ecos_solve(prob, lo, hi)
            if sol.x is not None and sol.status in ("optimal", "optimal_inaccurate"):
                obj = float(prob.c @ sol.x)
                if obj < best_obj:
                    best, best_obj = sol.x, obj
        return best
    return warm_start


def solve_centralised(system, time_limit: float = 600.0, rel_gap: float = 1e-4, certify: bool = True,
                      options: dict | None = None, warm_start=()) -> SchemeResult:
    """Build and solve the centralised MISOCP with our B&B; objective and bounds in $.

    `options`: extra `BnBOptions` fields (e.g. {"verbose": False}). Certificates (when a solution
    exists): "soc" (SOC exactness and AC sweep, `evaluation.certificates.soc_certificate`),
    "dispatch" (`evaluation.certificates.dispatch_certificate`) and "objective" (the total recomputed by `evaluation.metrics`).
    """
    t0 = time.perf_counter()
    prob, lay = build_centralised(system)
    t_build = time.perf_counter() - t0
    opts = BnBOptions(**{"time_limit": time_limit, "rel_gap": rel_gap, "gap_floor": GAP_FLOOR, **(options or {})})
    res = bnb_solve(prob, opts, heuristics=[make_warm_start(list(warm_start))] if warm_start else ())
    cert = {}
    if res.x is not None:
        tn_out = redispatch(system, pcc_import_mw(lay, res.x))
        lay.tn_outcome = tn_out
        if certify:
            out = outcome_from_layout(SCHEME, lay, res.x, res.x[lay.tnv.g] * lay.tn.base_mva,
                                      tn_out.lmp_usd_per_mwh)
            ours = prob.objective(res.x) * USD_PER_OBJ_UNIT
            recomputed = total_cost_usd(out)
            cert = {"soc": soc_certificate(lay, res.x), "dispatch": dispatch_certificate(lay, res.x, tn_out),
                    "objective": {"objective_usd": ours, "recomputed_usd": recomputed,
                                  "difference_usd": ours - recomputed}}
    return SchemeResult.from_bnb(SCHEME, res, prob, lay, t_build, cert)
