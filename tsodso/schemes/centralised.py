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
total is applied to every scheme's outcome (`tsodso.report.metrics.total_cost_usd`), so the
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
centralised one (certificate "dispatch").
"""
from __future__ import annotations

import time

import numpy as np

from ..conic import ProblemBuilder
from ..conic.ecos_adapter import solve as ecos_solve
from ..formulation.bilevel import Layout, add_leader, add_leader_costs, binary_groups, pcc_injections
from ..formulation.common import GAP_FLOOR, USD_PER_OBJ_UNIT
from ..formulation.tn import TNData, add_dcopf_primal
from ..solver import BnBOptions, solve as bnb_solve
from .dso_led import SchemeResult
from .redispatch import generation_cost_usd_per_h, redispatch

SCHEME = "centralised"


def add_generation_cost(bld: ProblemBuilder, d: TNData, tnv, tn, dt_h: float):
    """sum_t dt (c2 g^2 + c1 g + c0) in k$, through the epigraph tau >= g^2."""
    bld.add_cost(tnv.tau, np.broadcast_to(d.c2 * dt_h, tnv.tau.shape))
    bld.add_cost(tnv.g, np.broadcast_to(d.c1 * dt_h, tnv.g.shape))
    bld.c0 += float(np.sum(tn.gen_c0_usd_per_h)) * d.T * dt_h / USD_PER_OBJ_UNIT


def build_centralised(system, hours: int | None = None):
    """The centralised MISOCP. Returns (problem, layout); `layout.kkt` is None."""
    T = system.n_hours if hours is None else int(hours)
    bld = ProblemBuilder()
    d = TNData.from_tn(system.tn, T)
    feeders, ders, settle, cross = add_leader(bld, system, T)
    tnv = add_dcopf_primal(bld, d, pcc_injections(system, feeders), bounds=True)
    add_generation_cost(bld, d, tnv, system.tn, system.dt_h)
    add_leader_costs(bld, system, T, ders, settle, cross)
    lay = Layout(system=system, T=T, tn=d, tnv=tnv, feeders=feeders, ders=ders, settle=settle,
                 cross=cross, kkt=None, bounds=None, mode=SCHEME)
    lay.binary_groups = binary_groups(lay)
    bld.meta.update({"scheme": SCHEME, "objective_unit": "k$", "hours": T, "adns": system.n_adn})
    prob = bld.build()
    prob.meta["layout"] = lay
    return prob, lay


def dispatch_certificate(lay, x, tn_out=None) -> dict:
    """The centralised TN dispatch against an independent DC-OPF of its own PCC exchanges.

    At the centralised optimum the TN part is optimal for its P0, so the HiGHS DC-OPF must give
    the same hourly cost ($/h) and dispatch (MW). `dispatch_gap` = max_t |cost_ours - cost_ref|
    / max(1, cost_ref); an incumbent that is not optimal may legitimately show a gap here.
    """
    from ..report.certificates import pcc_import_mw
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
    exists): "soc" (SOC exactness and AC sweep, `report.certificates.soc_certificate`),
    "dispatch" (above) and "objective" (the total recomputed by `report.metrics`).
    """
    from ..report.certificates import pcc_import_mw, soc_certificate
    from ..report.metrics import outcome_from_layout, total_cost_usd
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
    k = USD_PER_OBJ_UNIT
    return SchemeResult(
        scheme=SCHEME, status=res.status, objective_usd=res.objective * k,
        best_bound_usd=res.best_bound * k, rel_gap=res.rel_gap, abs_gap_usd=res.abs_gap * k,
        stop_reason=res.stop_reason, nodes=res.nodes, node_solves=res.node_solves,
        inaccurate_solves=res.inaccurate_solves, build_seconds=t_build, solve_seconds=res.seconds,
        ecos_seconds=res.ecos_seconds, size=prob.size_report(), binaries=lay.binary_groups,
        certificates=cert, x=res.x, problem=prob, layout=lay, bnb=res)
