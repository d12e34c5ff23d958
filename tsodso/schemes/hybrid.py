"""Hybrid (TSO-DSO hybrid-managed) scheme: the DSOs validate the bids, the TSO dispatches.

The review's "TSO-DSO hybrid-managed model" (seeds/002, s.II.B): the TSO dispatches the DER
centrally without seeing the distribution networks; each DSO validates the DER bids first so
that whatever the TSO dispatches keeps its network intact. Built on the tso-led scheme
(schemes/tso_led.py, whose docstring defines steps 2 and 3 and the virtual battery). Units:
MW, MWh, $; P0 / S > 0 = import from the TN at the PCC (< 0 = export), MW.

Step 1 - DSO validation (`pcc_envelope`: our conic core + ECOS, two solves per ADN)
    The interval [lo_at, hi_at] (MW) of PCC exchange ADN a can realise without violating its
    network limits. The model is the ADN's own continuous leader block for the hour: SOC-DistFlow
    with the line current (I_max) and voltage (Vmin, Vmax) limits and the physical PCC box
    (`system.pcc_min_mw`/`pcc_max_mw`), PV 0 <= p_pv <= PVavail, BESS 0 <= p_ch, p_dis <= Pmax;
    BESS binaries relaxed (which drops the inverter minimum and the charge-xor-discharge rule:
    the net BESS injection then spans [-Pmax, Pmax], as with the binaries) and the energy
    coupling across hours ignored (no SOC limits, no cyclic condition), so the hours separate and
    one solve over all T hours gives every hour's extreme. The P2P settlement is left out: it is
    accounting that does not restrict the physical flows.
      lo_at = min P0_t                       (PV and discharge as high as the network takes)
      hi_at = P0_t at max sum_t (charge - PV) - eps sum_t P0_t   (eps = 0.05)
    lo is the plain minimum of P0 over the block. hi differs from the plain maximum of P0 on
    purpose: maximising P0 over the SOC relaxation is where the relaxation is inexact (it
    inflates the squared currents, i.e. invents losses, up to the ratings: the plain maximum is
    1.8..2.6 MW above this hi on the default 5 ADN x 24 h case, at SOC gaps up to 2 pu^2), so hi is the import at the largest DER
    withdrawal (charge - PV) the network admits, with the loss-minimal, exact power flow there
    (the eps term; SOC gap <= 1e-7, reported by `envelope_certificate`). Both ends are therefore
    realisable operating points (an AC sweep reproduces them, tests/test_hybrid.py).
    Why not `analysis.certified_box.certified_pcc_bounds`: that is the DSO-led big-M box, i.e. the
    *physical* box pcc_min/max (load - PV - Pmax .. (load + Pmax)(1 + loss margin), no network
    limits) shrunk where the TN follower cannot be certified; it is not the network-validated
    envelope (at 11:00 the physical box of the first ADN starts at -4.7 MW, i.e. export, where
    the feeder's ratings allow at best +1.1 MW of import).

    Validated bids: the tso-led aggregate (forecast net load N_at + one virtual battery per ADN)
    with lo_at <= S_at <= hi_at. Since N_at counts PV at full availability, a range above
    N_at + Pmax can only be met if the TSO withholds PV the network cannot take: the validated
    bid therefore also carries a PV-withholding variable 0 <= w_at <= sum_k PVavail_kt,
    S_at = N_at + c_at - d_at + w_at, priced at the ADN's PV curtailment penalty (0 $/MWh in
    the default case).

Step 2 - TSO dispatch: the tso-led clearing (`tso_led.clear_tso(pcc_range_mw=(lo, hi))`):
    schedule S and cleared LMPs. If it is not solved (the ranges cannot be met), `solve_hybrid`
    raises a ModelError naming the ADN and hour (`diagnose_clearing`).

Step 3 - DSO tracking and TN re-dispatch: exactly tso-led steps 2 and 3 (same deviation penalty
    `tso_led.DEVIATION_PENALTY_USD_PER_MWH` on |P0 - S|, settlement at the cleared LMP, no
    cross-ADN P2P, `solve_dso_tracking` / `redispatch`).

How it differs from tso-led: only step 1. The schedule the TSO publishes respects each ADN's
network: PV that line ratings would curtail is not scheduled for export or self-supply, and
battery charging a saturated feeder cannot carry is not scheduled, so the DSOs' tracking
deviations and penalties shrink. Measured (seed 0, default case; deviation MWh / DSO bills $ /
total cost $, hybrid vs tso-led):
    1 ADN x 3 h from 11:00    5.52 vs 16.23 / 833.08 vs 1,035.26 / 3,288.44 both
    2 ADNs x 2 h from 11:00   7.42 vs 19.85 / 1,351.50 vs 1,584.80 / 5,295.82 both
    2 ADNs x 3 h from 12:00  11.12 vs 28.05 / 2,022.31 vs 2,339.85 / 7,884.44 both
    1 ADN x 3 h from 17:00    1.03 both / 1,814.41 both / 4,360.04 both (no range binds)
The midday range starts at +1.1 MW of import where the forecast is -2.9 MW. The total cost does
not move on these windows: the DSOs realise the same exchanges under either schedule (the
deviation penalty is linear in |P0 - S|, and their optimum sits on the network limit either
way), so the smaller deviation payments are a transfer from the TSO back to the DSOs. The
ranges ignore the batteries' energy coupling (as specified), so a range end that needs a full
hour of discharge in every hour is not always reachable and some deviation remains.

Result (`HybridResult`, a `TSOLedResult` with scheme "hybrid" and the envelope): same
objective, bound, status and metrics rules as tso-led; certificates add "envelope".
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from typing import List, Optional

import numpy as np

from ..conic import ProblemBuilder
from ..conic.ecos_adapter import OPTIMAL, OPTIMAL_INACCURATE, solve as ecos_solve
from .forecast import pcc_forecast
from ..formulation.bigm import ModelError
from ..formulation.distflow import add_distflow, add_injection, close_p_balance, soc_gap
from .tso_led import DEVIATION_PENALTY_USD_PER_MWH, TSOLedResult, solve_tso_led, virtual_battery

SCHEME = "hybrid"
SOLVED = (OPTIMAL, OPTIMAL_INACCURATE)
HI_LOSS_WEIGHT = 0.05     # eps of the hi objective (loss-minimal flow at the largest withdrawal)


# ------------------------------------------------------------------------------ step 1
@dataclass
class PCCEnvelope:
    """The DSOs' validated PCC ranges, MW (import > 0), and the operating points attaining them."""
    lo_mw: np.ndarray                 # (A, T)
    hi_mw: np.ndarray                 # (A, T)
    statuses: List[tuple]             # per ADN (ECOS status of the lo solve, of the hi solve)
    points: List[dict]                # per ADN {"lo"|"hi": {"pv_mw" (T, npv), "bess_net_mw" (T, nbess)}}
    soc_gap: np.ndarray               # (A,) max |v l - P^2 - Q^2| at the two points, pu^2
    seconds: float = 0.0


def _envelope_model(system, a: int, hours):
    """ADN a's envelope model over `hours` (indices into the horizon), the PCC box included."""
    adn = system.adns[a]
    hours = np.asarray(hours, np.int64)
    adn = replace(adn, load_p_mw=np.asarray(adn.load_p_mw)[hours], load_q_mvar=np.asarray(adn.load_q_mvar)[hours],
                  pv_avail_mw=np.asarray(adn.pv_avail_mw)[hours])
    T, S = hours.size, adn.base_mva
    bld = ProblemBuilder()
    box = (system.pcc_min_mw[a, hours] / S, system.pcc_max_mw[a, hours] / S)
    fv = add_distflow(bld, adn, T, "env", pcc_bounds_pu=box)
    pv = bld.var("env.pv_p_pu", (T, adn.pv_bus.size), 0.0, adn.pv_avail_mw / S)
    pm = np.asarray(adn.bess_pmax_mw, float) / S
    ch = bld.var("env.bess_ch_pu", (T, adn.bess_bus.size), 0.0, pm)
    dis = bld.var("env.bess_dis_pu", (T, adn.bess_bus.size), 0.0, pm)
    if adn.pv_bus.size:
        add_injection(fv, adn.pv_bus, pv, 1.0)
    if adn.bess_bus.size:
        add_injection(fv, adn.bess_bus, dis, 1.0)
        add_injection(fv, adn.bess_bus, ch, -1.0)
    close_p_balance(bld, fv, "env")
    prob = bld.build()
    ends = {"lo": ((fv.pcc, 1.0),), "hi": ((ch, -1.0), (pv, 1.0), (fv.pcc, HI_LOSS_WEIGHT))}
    return prob, fv, pv, ch, dis, ends


def _envelope_end(system, a: int, hours, end: str):
    """One end ("lo" | "hi") of ADN a's range over `hours`: (status, P0 MW, point, SOC gap)."""
    adn = system.adns[a]
    S = adn.base_mva
    prob, fv, pv, ch, dis, ends = _envelope_model(system, a, hours)
    prob.c = np.zeros(prob.n)
    for cols, v in ends[end]:
        prob.c[cols.reshape(-1)] = v
    sol = ecos_solve(prob)
    if sol.status not in SOLVED or sol.x is None:
        return sol.status, None, None, np.nan
    x = sol.x
    g = float(np.max(np.abs(soc_gap(x[fv.P], x[fv.Q], x[fv.l], x[fv.v], adn.line_from))))
    return sol.status, x[fv.pcc] * S, {"pv_mw": x[pv] * S, "bess_net_mw": (x[dis] - x[ch]) * S}, g


def pcc_envelope(system, hours: int | None = None) -> PCCEnvelope:
    """Step 1 of the module docstring for every ADN: one ECOS solve per ADN and end over all
    hours (they separate); an end ECOS does not solve to OPTIMAL over all hours (seen on 24 h)
    is solved again hour by hour. ECOS' "optimal_inaccurate" is accepted (seen once on the
    default 5 x 24 h case: relative gap 9e-8 against ECOS' 1e-8, P0 equal to 1e-8 MW to the
    OPTIMAL answer of a nearby eps); `envelope_certificate` checks every end by an AC sweep."""
    t0 = time.perf_counter()
    T = system.n_hours if hours is None else int(hours)
    A = system.n_adn
    val = {"lo": np.full((A, T), np.nan), "hi": np.full((A, T), np.nan)}
    statuses, points, gaps = [], [], np.zeros(A)
    for a in range(A):
        st, pts = [], {}
        for end in ("lo", "hi"):
            status, p0, pt, g = _envelope_end(system, a, np.arange(T), end)
            if status not in SOLVED:
                per = [_envelope_end(system, a, [t], end) for t in range(T)]
                bad = [r[0] for r in per if r[0] not in SOLVED]
                status = bad[0] if bad else per[0][0]
                if not bad:
                    p0 = np.concatenate([r[1] for r in per])
                    pt = {k: np.concatenate([r[2][k] for r in per]) for k in per[0][2]}
                    g = max(r[3] for r in per)
            st.append(status)
            if status in SOLVED:
                val[end][a], pts[end], gaps[a] = p0, pt, max(gaps[a], g)
        statuses.append(tuple(st)); points.append(pts)
    return PCCEnvelope(val["lo"], val["hi"], statuses, points, gaps, time.perf_counter() - t0)


def envelope_certificate(system, env: PCCEnvelope) -> dict:
    """AC check of the envelope's ends: an independent sweep power flow (data/radial_pf.py) of
    each end's DER point must give the same PCC import and respect the voltage and current
    limits (then that end is a realisable operating point, i.e. the range is not too wide)."""
    from ..data.radial_pf import radial_power_flow
    worst_p, worst_viol = 0.0, 0.0
    for a, adn in enumerate(system.adns):
        S, T = adn.base_mva, env.lo_mw.shape[1]
        for end, target in (("lo", env.lo_mw[a]), ("hi", env.hi_mw[a])):
            pt = env.points[a].get(end)
            if pt is None:
                return {"all_solved": False}
            p = np.asarray(adn.load_p_mw, float)[:T].copy()
            np.add.at(p.T, adn.pv_bus, -pt["pv_mw"].T)
            np.add.at(p.T, adn.bess_bus, -pt["bess_net_mw"].T)
            for t in range(T):
                pf = radial_power_flow(adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu,
                                       p[t] / S, np.asarray(adn.load_q_mvar, float)[t] / S, v0_pu=adn.v0_pu)
                worst_p = max(worst_p, abs(pf.p_head_pu * S - target[t]))
                vmax = adn.vmax_pu if adn.bus_vmax_pu is None else adn.bus_vmax_pu
                viol = max(float(np.max(pf.v_pu - vmax)), float(np.max(adn.vmin_pu - pf.v_pu)),
                           float(np.max(pf.i_pu - adn.line_imax_pu)))
                worst_viol = max(worst_viol, viol)
    return {"all_solved": True, "max_soc_gap": float(np.max(env.soc_gap)),
            "max_ac_pcc_diff_mw": worst_p, "max_ac_limit_violation_pu": worst_viol}


# ------------------------------------------------------------------------------ step 2 check
def diagnose_clearing(system, env: PCCEnvelope, status: str) -> str:
    """Why the bounded clearing failed, naming the ADN and hour where that can be pinned down."""
    T = env.lo_mw.shape[1]
    fc = pcc_forecast(system, T)
    N = fc.net_load_mw
    hours = system.scenario.get("_hours", list(range(T))) if isinstance(system.scenario, dict) else list(range(T))
    for a, adn in enumerate(system.adns):
        pm = virtual_battery(adn).pmax_mw
        pv = fc.pv_mw[a]
        lo_b = np.maximum(N[a] - pm, fc.lo_mw[a])              # what the validated bid can schedule
        hi_b = np.minimum(N[a] + pv + pm, fc.hi_mw[a])
        for t in range(T):
            if not (np.isfinite(env.lo_mw[a, t]) and np.isfinite(env.hi_mw[a, t])):
                return (f"ADN {adn.name} (index {a}), hour {t} (clock {hours[t]}:00): the DSO validation "
                        f"was not solved ({env.statuses[a]}), so its PCC range is unknown")
            if env.lo_mw[a, t] > hi_b[t] + 1e-9 or env.hi_mw[a, t] < lo_b[t] - 1e-9:
                return (f"ADN {adn.name} (index {a}), hour {t} (clock {hours[t]}:00): validated PCC range "
                        f"[{env.lo_mw[a, t]:.3f}, {env.hi_mw[a, t]:.3f}] MW does not meet what its bid can "
                        f"schedule [{lo_b[t]:.3f}, {hi_b[t]:.3f}] MW (forecast net load +- virtual battery, "
                        "PV withheld)")
        need_ch = np.maximum(env.lo_mw[a] - hi_b + pm, 0.0)     # charging the range forces, MW
        need_dis = np.maximum(lo_b + pm - env.hi_mw[a], 0.0)
        vb = virtual_battery(adn)
        room = vb.emax_mwh - vb.emin_mwh
        e_ch, e_dis = np.sum(need_ch) * vb.eta_c * system.dt_h, np.sum(need_dis) * system.dt_h / vb.eta_d
        if max(e_ch, e_dis) > room + 1e-9:
            t = int(np.argmax(np.maximum(need_ch, need_dis)))
            return (f"ADN {adn.name} (index {a}), hour {t} (clock {hours[t]}:00) and others: the validated "
                    f"PCC ranges force {np.sum(need_ch):.3f} MWh of charging / {np.sum(need_dis):.3f} MWh of "
                    f"discharging, more than the virtual battery's {room:.3f} MWh energy range")
    return (f"the TSO clearing with the validated PCC ranges ended ECOS {status}: the TN (generation, "
            "line ratings) cannot serve the ranges; no single ADN/hour range is empty")


# ------------------------------------------------------------------------------ result
@dataclass
class HybridResult(TSOLedResult):
    """`TSOLedResult` of the bounded clearing, plus the DSOs' validated PCC ranges."""
    envelope: Optional[PCCEnvelope] = None

    def summary(self) -> dict:
        out = super().summary()
        if self.envelope is not None and self.clearing is not None:
            S = self.clearing.schedule_mw
            tol = 1e-6
            out["envelope_binding_hours"] = int(np.sum((S <= self.envelope.lo_mw + tol)
                                                       | (S >= self.envelope.hi_mw - tol)))
            w = self.clearing.pv_withheld_mw
            out["pv_withheld_mwh"] = float(np.sum(w)) * self.system.dt_h if w is not None else None
        return out


def solve_hybrid(system, time_limit: float = 600.0, rel_gap: float = 1e-4, options: dict | None = None,
                 deviation_penalty_usd_per_mwh: float = DEVIATION_PENALTY_USD_PER_MWH,
                 certify: bool = True) -> HybridResult:
    """Steps 1-3 of the module docstring. `options`: extra BnBOptions fields for the DSO solves.

    Raises ModelError when the validated ranges make the TSO clearing infeasible."""
    t0 = time.perf_counter()
    env = pcc_envelope(system)
    if not (np.all(np.isfinite(env.lo_mw)) and np.all(np.isfinite(env.hi_mw))):
        raise ModelError(f"hybrid scheme: {diagnose_clearing(system, env, 'not run')}")
    res = solve_tso_led(system, time_limit=max(1.0, time_limit - (time.perf_counter() - t0)), rel_gap=rel_gap,
                        deviation_penalty_usd_per_mwh=deviation_penalty_usd_per_mwh, certify=certify,
                        options=options, pcc_range_mw=(env.lo_mw, np.maximum(env.hi_mw, env.lo_mw)),
                        scheme=SCHEME)
    if res.clearing.status != OPTIMAL:
        raise ModelError(f"hybrid scheme: {diagnose_clearing(system, env, res.clearing.status)}")
    out = HybridResult(**{f.name: getattr(res, f.name) for f in fields(TSOLedResult)}, envelope=env)
    out.build_seconds += env.seconds
    if certify and out.certificates:
        out.certificates["envelope"] = envelope_certificate(system, env)
    out.wall_seconds = time.perf_counter() - t0
    return out
