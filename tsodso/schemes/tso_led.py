"""TSO-led (conventional top-down) scheme: the TSO clears first, each DSO then tracks (docs/model.md s.5).

Step 1 - TSO clearing (one continuous SOCP over all hours, our conic core + ECOS)
    The TSO's DC-OPF of every hour (formulation/tn.py, with limits) in which ADN a is an
    aggregate at its PCC bus:
      forecast net load   N_at (MW), schemes/forecast.py: "naive" = sum_j load_jt - sum_k PVavail_kt
                          (PV at full availability, batteries idle, feeder losses ignored); "dso"
                          = each DSO's own sweep power flow (losses, forecast curtailment) with its
                          export / import limits lo_at <= S_at <= hi_at. Scenario key
                          `tso_led.forecast` (absent = "naive")
      flexibility         one virtual battery per ADN built from the ADN's BESS data:
                          power 0 <= c_at, d_at <= sum_i Pmax_i, energy sum Emin <= e_at <= sum Emax,
                          e_at = e_a,t-1 + eta_c c_at dt - d_at dt / eta_d, e_a,-1 = e_a,T-1 = sum E0,
                          eta = the power-weighted mean of the units' efficiencies, degradation
                          cost = the capacity-weighted mean $/MWh on c + d (no binaries, no
                          inverter minimum: the TSO does not see them)
      PCC schedule        S_at = N_at + c_at - d_at  (MW, import > 0)
    minimising generation cost + virtual-battery degradation. The schedule S and the LMPs
    (nodal-balance duals, $/MWh, `d cost / d demand`) are published. The TSO does not see the
    feeders (losses, voltages, currents), the BESS binaries, PV curtailment or P2P.

Step 2 - each DSO alone (its own MISOCP, our B&B, all its binaries kept)
    ADN a's leader block (formulation/bilevel.py `add_leader` on a one-ADN system: SOC-DistFlow,
    PV, BESS with on-binaries and inverter minimum, settlement with the local P2P pool, role and
    platform binaries; PCC within the physical box) minimising its users' bill:
      sum_t LMP_{b(a),t} P0_t dt                       energy at the cleared LMP
      + pen * sum_t (dev+_t + dev-_t) dt,  P0_t - S_at = dev+_t - dev-_t,  dev+- >= 0
      + fees (grid, local P2P) + BESS degradation + platform + curtailment
    Tracking rule: the whole exchange is settled at the cleared LMP (schedule and deviation
    alike), and every MWh of deviation from the schedule, either direction, additionally pays
    `deviation_penalty_usd_per_mwh` (default 20 $/MWh, about 40-50 % of the default LMPs; a
    parameter). A loss-free schedule cannot be tracked exactly, so every DSO pays some penalty.
    Cross-ADN P2P is *not available*: in the top-down scheme no one coordinates the DSOs with
    each other (cross-ADN trades need a system-level market, which is what DSO-led adds). The
    one-ADN model has no trading partner, so its cross-ADN purchases and sales are 0 by the
    cross-ADN balance, and its exporter binaries are fixed to 0.
    The DSOs are solved one after the other; each B&B gets the time left of `time_limit` divided
    by the number of DSOs still to solve (at least 1 s), so time one DSO does not need goes to
    the next.

Step 3 - actual TN outcome
    The realised exchanges P0 (A, T) are re-dispatched hour by hour by an independent DC-OPF
    (`evaluation.redispatch`, HiGHS): realised generation cost and real-time LMPs. The metrics use
    the re-dispatch for the TN (generation cost) and the cleared LMPs for the ADNs' settlement.

Result (`TSOLedResult`): objective = sum of the DSOs' own objectives (what was optimised, $),
best bound = the sum of their proven bounds (valid: the DSO problems are independent), gap from
these two; status "optimal" only if the clearing is ECOS-optimal, every DSO's B&B says
"optimal" and every re-dispatch hour is optimal; otherwise the first failing part's status
("clearing_failed", the DSO B&B status such as "time_limit", or "redispatch_failed").
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import List, Optional

import numpy as np

from ..conic import ProblemBuilder
from ..conic.ecos_adapter import OPTIMAL, solve as ecos_solve
from ..formulation.bilevel import Layout, add_leader, add_leader_costs, binary_groups
from ..conic import interrupt
from ..formulation.common import GAP_FLOOR, USD_PER_OBJ_UNIT, Rows, add_eq_rows, lmp_usd_per_mwh, usd_per_mwh_to_obj
from ..formulation.tn import TNData, add_dcopf_primal, add_generation_cost
from ..solver import BnBOptions, solve as bnb_solve
from ..evaluation.certificates import clearing_certificate, soc_certificate
from ..evaluation.dcopf import generation_cost_usd_per_h
from ..evaluation.metrics import Outcome
from ..evaluation.readback import adn_pcc_import_mw
from ..evaluation.redispatch import TNOutcome, redispatch
from .result import SchemeResult, base_certificate_row, finite_or_none
from .forecast import PCCForecast, pcc_forecast

SCHEME = "tso-led"
DEVIATION_PENALTY_USD_PER_MWH = 20.0


# ------------------------------------------------------------------------------ step 1
@dataclass
class VirtualBattery:
    """Aggregate flexibility of one ADN as the TSO sees it (MW, MWh)."""
    pmax_mw: float
    emin_mwh: float
    emax_mwh: float
    e0_mwh: float
    eta_c: float
    eta_d: float
    deg_usd_per_mwh: float


def virtual_battery(adn) -> VirtualBattery:
    pmax = np.asarray(adn.bess_pmax_mw, float)
    emax = np.asarray(adn.bess_emax_mwh, float)
    if pmax.size == 0 or pmax.sum() <= 0:
        return VirtualBattery(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0)
    w = pmax / pmax.sum()
    wc = emax / emax.sum() if emax.sum() > 0 else w
    return VirtualBattery(float(pmax.sum()), float(np.sum(adn.bess_emin_mwh)), float(emax.sum()),
                          float(np.sum(adn.bess_e0_mwh)), float(w @ np.asarray(adn.bess_eta_c, float)),
                          float(w @ np.asarray(adn.bess_eta_d, float)),
                          float(wc @ np.broadcast_to(np.asarray(adn.bess_deg_usd_per_mwh, float), emax.shape)))


@dataclass
class Clearing:
    status: str                     # ECOS status of the clearing SOCP
    schedule_mw: np.ndarray         # (A, T) PCC schedule S, import > 0
    forecast_net_load_mw: np.ndarray  # (A, T) N
    lmp_usd_per_mwh: np.ndarray     # (T, nb) cleared LMPs
    gen_mw: np.ndarray              # (T, ng)
    cost_usd: float                 # generation + virtual-battery degradation, $
    vb_charge_mw: np.ndarray        # (A, T)
    vb_discharge_mw: np.ndarray     # (A, T)
    vb_energy_mwh: np.ndarray       # (A, T)
    virtual_batteries: List[VirtualBattery] = field(default_factory=list)
    seconds: float = 0.0
    pv_withheld_mw: Optional[np.ndarray] = None   # (A, T), only with `pcc_range_mw` (hybrid)
    forecast: Optional[PCCForecast] = None        # the ADNs' PCC forecast (mode, N, limits)


def clear_tso(system, hours: int | None = None, pcc_range_mw=None, forecast: str | None = None) -> Clearing:
    """Step 1: the TSO's multi-hour DC-OPF with each ADN as forecast net load + virtual battery.

    `pcc_range_mw` = (lo, hi), arrays (A, >= T) in MW (import > 0): the DSOs' validated PCC
    ranges (schemes/hybrid.py). When given, lo <= S <= hi is imposed and each ADN's bid gets a
    PV-withholding variable 0 <= w_at <= sum_k PVavail_kt (S = N + c - d + w; priced at the ADN's
    PV curtailment penalty), since a range above the forecast net load can only be met by PV the
    network cannot take. None (default) = the tso-led clearing, unchanged.
    `forecast`: "dso" | "naive" | None (= the scenario's `tso_led.forecast`, default "naive"):
    the ADNs' PCC forecast (schemes/forecast.py); with "dso" the DSOs' export and import
    limits bound the schedule as well.
    """
    t0 = time.perf_counter()
    T = system.n_hours if hours is None else int(hours)
    A, dt, base = system.n_adn, system.dt_h, system.tn.base_mva
    d = TNData.from_tn(system.tn, T)
    fc = pcc_forecast(system, T, forecast)
    N = fc.net_load_mw
    vbs = [virtual_battery(adn) for adn in system.adns]
    bld = ProblemBuilder()
    pm = np.array([v.pmax_mw for v in vbs]) / base
    ch = bld.var("vb.charge_pu", (T, A), 0.0, pm)
    dis = bld.var("vb.discharge_pu", (T, A), 0.0, pm)
    e = bld.var("vb.energy_puh", (T, A), np.array([v.emin_mwh for v in vbs]) / base,
                np.array([v.emax_mwh for v in vbs]) / base)
    lo, hi = fc.lo_mw.T / base, fc.hi_mw.T / base       # DSO limits (+-inf: naive forecast)
    if pcc_range_mw is None:
        sched = bld.var("vb.pcc_schedule_pu", (T, A), lo, hi)
    else:
        rlo, rhi = (np.asarray(v, float)[:, :T].T / base for v in pcc_range_mw)
        lo, hi = np.maximum(lo, rlo), np.minimum(hi, rhi)
        if np.any(lo > hi):          # validated range outside the DSO's forecast limits: no schedule
            nan = np.full((A, T), np.nan)
            return Clearing("primal_infeasible", nan, N, np.full((T, d.nb), np.nan), np.full((T, d.ng), np.nan),
                            math.nan, nan, nan, nan, vbs, time.perf_counter() - t0, forecast=fc)
        sched = bld.var("vb.pcc_schedule_pu", (T, A), lo, hi)
        pv_av = fc.pv_mw.T / base
        wh = bld.var("vb.pv_withheld_pu", (T, A), 0.0, pv_av)
        pen = np.array([adn.pv_curtail_usd_per_mwh for adn in system.adns])
        bld.add_cost(wh, np.broadcast_to(usd_per_mwh_to_obj(pen, base, dt), wh.shape))
    inj = [(adn.pcc_bus, sched[:, a], 1.0) for a, adn in enumerate(system.adns)]
    tnv = add_dcopf_primal(bld, d, inj, bounds=True)
    add_generation_cost(bld, d, tnv, dt)
    deg = np.array([v.deg_usd_per_mwh for v in vbs])
    bld.add_cost(ch, np.broadcast_to(usd_per_mwh_to_obj(deg, base, dt), ch.shape))
    bld.add_cost(dis, np.broadcast_to(usd_per_mwh_to_obj(deg, base, dt), dis.shape))

    r = np.arange(T)[:, None] * A + np.arange(A)[None, :]
    sd = Rows(T * A)                                   # S - c + d (- w) = N
    sd.add(r, sched, 1.0); sd.add(r, ch, -1.0); sd.add(r, dis, 1.0)
    if pcc_range_mw is not None:
        sd.add(r, wh, -1.0)
    sd.rhs[:] = (N.T / base).reshape(-1)
    add_eq_rows(bld, "vb.schedule", sd)
    eb = Rows(T * A + A)                               # energy balance, then cyclic rows
    eta_c = np.array([v.eta_c for v in vbs]); eta_d = np.array([v.eta_d for v in vbs])
    e0 = np.array([v.e0_mwh for v in vbs]) / base
    eb.add(r, e, 1.0); eb.add(r[1:], e[:-1], -1.0)
    eb.add(r, ch, -eta_c[None, :] * dt); eb.add(r, dis, (dt / eta_d)[None, :])
    eb.rhs[:A] = e0
    eb.add(T * A + np.arange(A), e[T - 1], 1.0)
    eb.rhs[T * A:] = e0
    add_eq_rows(bld, "vb.energy", eb)
    prob = bld.build()
    sol = ecos_solve(prob)
    nan = lambda *s: np.full(s, np.nan)      # noqa: E731
    if sol.status != OPTIMAL or sol.x is None:
        return Clearing(sol.status, nan(A, T), N, nan(T, d.nb), nan(T, d.ng), math.nan,
                        nan(A, T), nan(A, T), nan(A, T), vbs, time.perf_counter() - t0, forecast=fc)
    x = sol.x
    y = sol.y[prob.eq_blocks["tn.balance"]].reshape(T, d.nb)
    lmp = lmp_usd_per_mwh(-y, base) / dt               # d cost / d demand (ECOS sign), $/MWh
    return Clearing(OPTIMAL, x[sched].T * base, N, lmp, x[tnv.g] * base, sol.objective * USD_PER_OBJ_UNIT,
                    x[ch].T * base, x[dis].T * base, x[e].T * base, vbs, time.perf_counter() - t0,
                    None if pcc_range_mw is None else x[wh].T * base, forecast=fc)


# ------------------------------------------------------------------------------ step 2
@dataclass
class DSOTracking:
    """One DSO's problem and its B&B answer (objective and bound in $)."""
    adn: int
    status: str
    objective_usd: float
    best_bound_usd: float
    rel_gap: float
    x: Optional[np.ndarray]
    problem: object
    layout: Layout
    dev_up: np.ndarray              # (T,) variable indices, ADN pu
    dev_dn: np.ndarray
    bnb: object
    build_seconds: float


def one_adn_system(system, a: int):
    """`system` restricted to ADN a (its PCC box; no cross-ADN partner)."""
    return replace(system, adns=[system.adns[a]], pcc_min_mw=system.pcc_min_mw[a:a + 1],
                   pcc_max_mw=system.pcc_max_mw[a:a + 1], fee_cross_usd_per_mwh=np.zeros((1, 1)))


def build_dso_tracking(system, a: int, lmp_usd_per_mwh, schedule_mw, penalty_usd_per_mwh: float,
                       hours: int | None = None):
    """Step 2 model of ADN a. Returns (problem, layout, dev_up, dev_dn)."""
    T = system.n_hours if hours is None else int(hours)
    sub = one_adn_system(system, a)
    adn, dt = sub.adns[0], system.dt_h
    S = adn.base_mva
    bld = ProblemBuilder()
    feeders, ders, settle, cross = add_leader(bld, sub, T)
    add_leader_costs(bld, sub, T, ders, settle, cross)
    fv = feeders[0]
    lmp = np.asarray(lmp_usd_per_mwh, float)[:T, adn.pcc_bus]
    bld.add_cost(fv.pcc, usd_per_mwh_to_obj(lmp, S, dt))
    up = bld.var("adn0.dev_up_pu", (T,), 0.0, np.inf)
    dn = bld.var("adn0.dev_dn_pu", (T,), 0.0, np.inf)
    dev = Rows(T)                                       # P0 - up + dn = S / S_a
    dev.add(np.arange(T), fv.pcc, 1.0); dev.add(np.arange(T), up, -1.0); dev.add(np.arange(T), dn, 1.0)
    dev.rhs[:] = np.asarray(schedule_mw, float)[:T] / S
    add_eq_rows(bld, "adn0.deviation", dev)
    pen = usd_per_mwh_to_obj(penalty_usd_per_mwh, S, dt)
    bld.add_cost(up, pen); bld.add_cost(dn, pen)
    bld.meta.update({"scheme": "tso-led-dso", "adn": a, "objective_unit": "k$", "hours": T})
    prob = bld.build()
    prob.lb[cross.exporter.reshape(-1)] = 0.0           # no cross-ADN trading partner
    prob.ub[cross.exporter.reshape(-1)] = 0.0
    lay = Layout(system=sub, T=T, tn=None, tnv=None, feeders=feeders, ders=ders, settle=settle,
                 cross=cross, kkt=None, bounds=None, mode="tso-led-dso")
    lay.binary_groups = binary_groups(lay)
    return prob, lay, up, dn


def solve_dso_tracking(system, a, clearing: Clearing, penalty_usd_per_mwh, time_limit, rel_gap,
                       options=None) -> DSOTracking:
    t0 = time.perf_counter()
    prob, lay, up, dn = build_dso_tracking(system, a, clearing.lmp_usd_per_mwh, clearing.schedule_mw[a],
                                           penalty_usd_per_mwh, clearing.schedule_mw.shape[1])
    tb = time.perf_counter() - t0
    opts = BnBOptions(**{"time_limit": time_limit, "rel_gap": rel_gap, "gap_floor": GAP_FLOOR, **(options or {})})
    res = bnb_solve(prob, opts)
    k = USD_PER_OBJ_UNIT
    return DSOTracking(a, res.status, res.objective * k, res.best_bound * k, res.rel_gap, res.x, prob, lay,
                       up, dn, res, tb)


# ------------------------------------------------------------------------------ result
@dataclass
class TSOLedResult(SchemeResult):
    """`SchemeResult` fields (objective = sum of the DSOs' objectives, best bound = sum of their
    bounds, counts summed over the DSO solves; `x` = the list of per-DSO solution vectors, None
    unless every DSO has one; `problem`, `layout`, `bnb` unused) plus the three steps."""
    penalty_usd_per_mwh: float = DEVIATION_PENALTY_USD_PER_MWH
    clearing: Optional[Clearing] = None
    dsos: List[DSOTracking] = field(default_factory=list)
    tn: Optional[TNOutcome] = None           # re-dispatch of the realised exchanges
    system: object = None
    wall_seconds: float = 0.0

    def pcc_import_mw(self) -> np.ndarray:
        return adn_pcc_import_mw([d.layout.feeders[0] for d in self.dsos],
                                 [d.layout.system.adns[0] for d in self.dsos], [d.x for d in self.dsos])

    def deviation_mwh(self) -> np.ndarray:
        """(A, T) |P0 - S| per hour, MWh."""
        return np.array([(d.x[d.dev_up] + d.x[d.dev_dn]) * d.layout.system.adns[0].base_mva
                         for d in self.dsos]) * self.system.dt_h

    def outcome(self):
        """The metrics' `Outcome` (None without a complete solution)."""
        if self.x is None or self.tn is None:
            return None
        dsos = self.dsos
        return Outcome(scheme=self.scheme, system=self.system, T=dsos[0].layout.T, adn_x=[d.x for d in dsos],
                       feeders=[d.layout.feeders[0] for d in dsos], ders=[d.layout.ders[0] for d in dsos],
                       settle=[d.layout.settle[0] for d in dsos], gen_mw=self.tn.gen_mw,
                       lmp_usd_per_mwh=self.clearing.lmp_usd_per_mwh, cross=None, cross_x=None,
                       deviation_usd=self.penalty_usd_per_mwh * self.deviation_mwh().sum(axis=1))

    def certificate_row(self) -> dict:
        """Flat certificates: the worst SOC exactness over the DSO problems and the clearing check."""
        row = base_certificate_row(self)
        c = self.certificates or {}
        socs = c.get("soc") or []
        if socs:
            row["soc_gap"] = max(s["soc_gap"] for s in socs)
            row["max_voltage_mismatch_pu"] = max(s["max_voltage_mismatch_pu"] for s in socs)
        if "clearing" in c:
            row["tn_check"] = "clearing LMP vs HiGHS DC-OPF of the schedule, max abs. difference $/MWh"
            row["tn_check_value"] = finite_or_none(c["clearing"]["max_lmp_diff_usd_per_mwh"])
        return row

    def summary(self) -> dict:
        return {"scheme": self.scheme, "status": self.status, "objective": finite_or_none(self.objective_usd),
                "best_bound": finite_or_none(self.best_bound_usd), "gap": finite_or_none(self.rel_gap), "objective_unit": "$",
                "stop_reason": self.stop_reason, "nodes": self.nodes, "node_solves": self.node_solves,
                "inaccurate_solves": self.inaccurate_solves,
                "seconds": round(self.build_seconds + self.solve_seconds, 3),
                "clearing_status": self.clearing.status, "dso_statuses": [d.status for d in self.dsos],
                "deviation_penalty_usd_per_mwh": self.penalty_usd_per_mwh,
                "forecast": self.clearing.forecast.mode if self.clearing.forecast is not None else None,
                "redispatch_all_solved": bool(self.tn.ok) if self.tn is not None else None,
                "size": self.size, "binaries": self.binaries}


def _sum_dicts(ds):
    out = {}
    for d in ds:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def solve_tso_led(system, time_limit: float = 600.0, rel_gap: float = 1e-4,
                  deviation_penalty_usd_per_mwh: float = DEVIATION_PENALTY_USD_PER_MWH,
                  certify: bool = True, options: dict | None = None, pcc_range_mw=None,
                  scheme: str = SCHEME, forecast: str | None = None) -> TSOLedResult:
    """Steps 1-3 of the module docstring. `options`: extra BnBOptions fields for the DSO solves.
    `pcc_range_mw`, `scheme`: the hybrid scheme's validated PCC ranges (`clear_tso`) and name.
    `forecast`: the ADNs' PCC forecast, "dso" | "naive" | None = the scenario's (`clear_tso`)."""
    t0 = time.perf_counter()
    T = system.n_hours
    clr = clear_tso(system, T, pcc_range_mw, forecast)
    dsos: List[DSOTracking] = []
    if clr.status == OPTIMAL:
        deadline = t0 + time_limit
        for a in range(system.n_adn):           # the time left, shared by the DSOs still to solve
            if interrupt.requested():           # Ctrl-C / SIGTERM: no more DSO solves
                break
            per = max(1.0, (deadline - time.perf_counter()) / (system.n_adn - a))
            dsos.append(solve_dso_tracking(system, a, clr, deviation_penalty_usd_per_mwh, per, rel_gap, options))
    res = TSOLedResult(
        scheme=scheme, status="", objective_usd=math.nan, best_bound_usd=math.nan, rel_gap=math.inf,
        abs_gap_usd=math.inf, stop_reason="", nodes=sum(d.bnb.nodes for d in dsos),
        node_solves=sum(d.bnb.node_solves for d in dsos),
        inaccurate_solves=sum(d.bnb.inaccurate_solves for d in dsos),
        build_seconds=clr.seconds + sum(d.build_seconds for d in dsos),
        solve_seconds=sum(d.bnb.seconds for d in dsos), ecos_seconds=sum(d.bnb.ecos_seconds for d in dsos),
        size=_sum_dicts([d.problem.size_report() for d in dsos]),
        binaries=_sum_dicts([d.layout.binary_groups for d in dsos]),
        penalty_usd_per_mwh=float(deviation_penalty_usd_per_mwh), clearing=clr, dsos=dsos, tn=None,
        system=system)
    if clr.status != OPTIMAL:
        res.status, res.stop_reason = "clearing_failed", f"TSO clearing: ECOS {clr.status}"
        if interrupt.requested():
            res.status, res.stop_reason = "interrupted", "interrupted"
        return res
    if len(dsos) < system.n_adn:                # stopped between DSO solves: no complete schedule
        res.status = "interrupted"
        res.stop_reason = f"interrupted after {len(dsos)} of {system.n_adn} DSO solves"
        return res
    bad = [d for d in dsos if d.status != "optimal"]
    xs = [d.x for d in dsos]
    res.x = None if not xs or any(v is None for v in xs) else xs
    if res.x is not None:
        res.tn = redispatch(system, res.pcc_import_mw())
        res.objective_usd = float(sum(d.objective_usd for d in dsos))
        res.best_bound_usd = float(sum(d.best_bound_usd for d in dsos))
        res.abs_gap_usd = res.objective_usd - res.best_bound_usd
        res.rel_gap = res.abs_gap_usd / max(1.0, abs(res.objective_usd))
    if bad:
        res.status = bad[0].status
        res.stop_reason = "; ".join(f"DSO {d.adn}: {d.status} ({d.bnb.stop_reason})" for d in bad)
    elif not res.tn.ok:
        res.status, res.stop_reason = "redispatch_failed", f"re-dispatch statuses {res.tn.statuses}"
    else:
        res.status, res.stop_reason = "optimal", "gap"
    if certify and res.tn is not None:
        res.certificates = {
            "soc": [soc_certificate(d.layout, d.x) for d in dsos],
            "clearing": clearing_certificate(system, clr),
            "redispatch_cost_usd": float(np.nansum(res.tn.cost_usd_per_h)) * system.dt_h,
            "cleared_generation_cost_usd": float(np.sum(generation_cost_usd_per_h(system.tn, clr.gen_mw))) * system.dt_h,
        }
    res.wall_seconds = time.perf_counter() - t0
    return res
