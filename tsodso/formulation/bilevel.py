"""The DSO-led bilevel problem as one MISOCP (docs/model.md): the problem recipe.

    leader   (all DSOs, one aggregate):  SOC-DistFlow + DER + settlement per ADN, cross-ADN P2P
    follower (TSO, per hour):            DC-OPF primal + KKT (duals, stationarity, complementarity)
    objective (k$):  wholesale at LMP via strong duality + fees + BESS degradation
                     + P2P platform cost + PV curtailment penalty

`build_dso_led(system)` returns (ConicProblem, Layout). `Layout` keeps the index arrays of
every block so results and certificates read the solution back by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import System
from .bigm import DualBounds, ModelError, derive_dual_bounds
from .common import usd_per_mwh_to_obj, USD_PER_OBJ_UNIT
from .der import DERVars, add_der
from .distflow import FeederVars, add_distflow, close_p_balance
from .kkt import KKTVars, add_kkt, add_weak_duality_cuts, wholesale_terms
from .kkt_presolve import fixed_pairs
from .p2p import CrossVars, SettleVars, add_cross_adn, add_settlement
from .tn import TNData, TNVars, add_dcopf_primal, follower_cost


@dataclass
class Layout:
    system: System
    T: int
    tn: TNData
    tnv: TNVars
    feeders: List[FeederVars]
    ders: List[DERVars]
    settle: List[SettleVars]
    cross: CrossVars
    kkt: KKTVars | None
    bounds: DualBounds | None
    mode: str
    pcc_bus_distinct: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    binary_groups: dict = field(default_factory=dict)
    pcc_box_scale: np.ndarray = field(default_factory=lambda: np.ones(0))


def pcc_box(system: System, T: int, lo_mw=None, hi_mw=None):
    """Distinct PCC buses and the (T, m) box of their total ADN demand, TN pu."""
    lo_mw = system.pcc_min_mw[:, :T] if lo_mw is None else lo_mw
    hi_mw = system.pcc_max_mw[:, :T] if hi_mw is None else hi_mw
    pcc = np.array([a.pcc_bus for a in system.adns], np.int64)
    buses = np.unique(pcc)
    base = system.tn.base_mva
    lo = np.zeros((T, buses.size)); hi = np.zeros((T, buses.size))
    for a, b in enumerate(pcc):
        j = int(np.searchsorted(buses, b))
        lo[:, j] += lo_mw[a] / base
        hi[:, j] += hi_mw[a] / base
    return buses, lo, hi


def certified_pcc_bounds(system: System, d: TNData, T: int, shrink: float = 0.9, max_rounds: int = 40):
    """Per-ADN PCC bounds (A, T) in MW for which the KKT big-Ms are certified, and the bounds.

    Starts from the ADNs' physical bounds. In an hour where the follower cannot be certified
    strictly feasible over the whole box (some admissible schedule would leave the TN without a
    strictly feasible dispatch, so its duals are unbounded), that hour's box is shrunk by
    `shrink` towards its safest point until it is certified (the PCC box of docs/model.md
    section 3: the PCC schedules are bounded so that the follower always has a strictly
    feasible point). The safest point is the best of the box's lower corner, midpoint and
    upper corner by strict-feasibility slack (the slack is concave in the PCC demand); if even
    that point has no strictly feasible TN dispatch, the scenario is refused with a ModelError
    naming the hour. The imposed box is a restriction of the leader and is reported
    (`Layout.pcc_box_scale`, 1 = the physical box). `max_rounds` bounds the shrinks of each
    hour (0.9^40: 1.5 % of the physical box); it was a budget shared by all hours, which
    refused 1 ADN x 24 h seed 1 ("hour 21 ... robust slack -0.00365 pu"): that day needs 43
    shrinks spread over hours 16-21 (at most 15 in one hour) and is certified with them.
    """
    from .bigm import ptdf, robust_slack
    lo0 = np.array(system.pcc_min_mw[:, :T], float)
    hi0 = np.array(system.pcc_max_mw[:, :T], float)
    lo, hi = lo0.copy(), hi0.copy()
    centre = {}
    scale = np.ones(T)
    H = None
    rounds = np.zeros(T, np.int64)
    while True:
        buses, blo, bhi = pcc_box(system, T, lo, hi)
        try:
            return lo, hi, derive_dual_bounds(d, buses, blo, bhi), scale, buses
        except ModelError as e:
            t = int(str(e).split(":")[0].split()[-1])
        if rounds[t] >= max_rounds:
            break
        rounds[t] += 1
        if t not in centre:
            H = ptdf(d) if H is None else H
            cands = [lo0[:, t], 0.5 * (lo0[:, t] + hi0[:, t]), hi0[:, t]]
            slack = []
            for c in cands:
                _, rc, _ = pcc_box(system, T, np.repeat(c[:, None], T, 1), np.repeat(c[:, None], T, 1))
                slack.append(robust_slack(d, t, buses, rc[t], rc[t], H))
            k = int(np.argmax(slack))
            if not slack[k] > 1e-6:
                raise ModelError(
                    f"hour {t}: the TN has no strictly feasible DC-OPF dispatch at any of the ADNs' "
                    f"PCC schedules tried (lowest, middle and highest import; best slack "
                    f"{slack[k]:.3g} pu): TN load + ADN imports exceed what generation and line "
                    "ratings can serve with margin. Relieve the TN (ratings, generation) or the ADNs.")
            centre[t] = cands[k]
        scale[t] *= shrink
        lo[:, t] = centre[t] + scale[t] * (lo0[:, t] - centre[t])
        hi[:, t] = centre[t] + scale[t] * (hi0[:, t] - centre[t])
    buses, blo, bhi = pcc_box(system, T, lo, hi)
    return lo, hi, derive_dual_bounds(d, buses, blo, bhi), scale, buses


def reference_follower_costs(d: TNData, buses, lo, hi, n_interior: int = 3):
    """Reference PCC demands (box corners lo, hi and interior points) and the follower cost there.

    Returns r_ref (K, T, m) and V_ref (K, T) in k$/h; V from an ECOS solve of each hour's DC-OPF
    (a reference point whose OPF is not solved to OPTIMAL is dropped: a cut needs a true V).
    """
    fr = [lo, hi] + [lo + (hi - lo) * (i + 1) / (n_interior + 1) for i in range(n_interior)]
    r_ref, V_ref = [], []
    for r in fr:
        V = follower_cost(d, buses, r)
        if np.all(np.isfinite(V)):
            r_ref.append(r); V_ref.append(V)
    return np.array(r_ref), np.array(V_ref)


def add_leader(bld: ProblemBuilder, system: System, T: int, lo_mw=None, hi_mw=None):
    lo_mw = system.pcc_min_mw[:, :T] if lo_mw is None else lo_mw
    hi_mw = system.pcc_max_mw[:, :T] if hi_mw is None else hi_mw
    feeders, ders, settle = [], [], []
    for a, adn in enumerate(system.adns):
        p = f"adn{a}"
        box = (lo_mw[a] / adn.base_mva, hi_mw[a] / adn.base_mva)
        fv = add_distflow(bld, adn, T, p, pcc_bounds_pu=box)
        dv = add_der(bld, adn, fv, T, system.dt_h, p)
        close_p_balance(bld, fv, p)
        sv = add_settlement(bld, adn, dv, T, p)
        feeders.append(fv); ders.append(dv); settle.append(sv)
    cross = add_cross_adn(bld, system.adns, settle, T)
    return feeders, ders, settle, cross


def add_leader_costs(bld: ProblemBuilder, system: System, T: int, ders, settle, cross):
    """Fees, degradation, platform and curtailment costs (k$); the wholesale term is separate."""
    dt = system.dt_h
    for a, adn in enumerate(system.adns):
        S = adn.base_mva
        sv, dv = settle[a], ders[a]
        bld.add_cost(sv.buy_grid, usd_per_mwh_to_obj(system.fee_grid_usd_per_mwh, S, dt))
        bld.add_cost(sv.buy_loc, usd_per_mwh_to_obj(system.fee_local_usd_per_mwh, S, dt))
        deg = usd_per_mwh_to_obj(np.asarray(adn.bess_deg_usd_per_mwh, float), S, dt)
        bld.add_cost(dv.ch, np.broadcast_to(deg, dv.ch.shape))
        bld.add_cost(dv.dis, np.broadcast_to(deg, dv.dis.shape))
        if sv.trade.size:
            bld.add_cost(sv.trade, adn.platform_usd_per_h * dt / USD_PER_OBJ_UNIT)
        if adn.pv_curtail_usd_per_mwh > 0 and adn.pv_bus.size:
            pen = usd_per_mwh_to_obj(adn.pv_curtail_usd_per_mwh, S, dt)
            bld.add_cost(dv.pv, -pen)
            bld.c0 += float(pen * np.sum(np.asarray(adn.pv_avail_mw, float)[:T] / S))
    fee_x = np.asarray(system.fee_cross_usd_per_mwh, float)[cross.pairs[:, 0], cross.pairs[:, 1]]
    bld.add_cost(cross.x, np.broadcast_to(usd_per_mwh_to_obj(fee_x, cross.base_x, dt), cross.x.shape))


def pcc_injections(system: System, feeders):
    """(bus, cols, coef) terms that put each ADN's PCC import into the TN balance."""
    return [(adn.pcc_bus, fv.pcc, adn.base_mva / system.tn.base_mva)
            for adn, fv in zip(system.adns, feeders)]


def build_dso_led(system: System, hours: int | None = None, complementarity: str = "bigm",
                  weak_duality_cuts: bool = False, kkt_presolve: bool = True,
                  pcc_certified=None, presolved=None):
    """The single-level MISOCP of the DSO-led bilevel problem. Returns (problem, layout).

    `kkt_presolve` (default on) fixes the complementarity pairs proved not to switch anywhere
    in the certified PCC box (kkt_presolve.py; statistics in prob.meta["kkt_presolve"]).
    `weak_duality_cuts` (default off) adds the value-function cuts of `add_weak_duality_cuts`.
    They are valid but, measured, do not move the root bound (1 ADN x 24 h: 8293.930 $ with
    and without) and they break ECOS: once the KKT binaries are fixed the cut is tangent to
    the `tau >= g^2` cone at the follower's response, a point without strict complementarity,
    and every fixed-pattern solve on 1 ADN x 4 h ended NUMERICAL_ERROR (relgap 6e-3) with
    the cuts and OPTIMAL (20 iterations) without them.

    `pcc_certified` (the 5-tuple of `certified_pcc_bounds`) and `presolved` (the pair
    (fixed, stats) of `kkt_presolve.fixed_pairs` over that box) may be passed in, computed
    earlier for the same data (e.g. read from a warm-start cache by the caller); they are
    then used as they are, and nothing is recomputed.
    """
    T = system.n_hours if hours is None else int(hours)
    bld = ProblemBuilder()
    d = TNData.from_tn(system.tn, T)
    lo_mw, hi_mw, bounds, scale, buses = (certified_pcc_bounds(system, d, T) if pcc_certified is None
                                          else pcc_certified)
    _, lo, hi = pcc_box(system, T, lo_mw, hi_mw)
    feeders, ders, settle, cross = add_leader(bld, system, T, lo_mw, hi_mw)
    tnv = add_dcopf_primal(bld, d, pcc_injections(system, feeders), bounds=False)
    if not kkt_presolve:
        fixed, kp_stats = None, {"milps": 0, "fixed_inactive": 0, "fixed_active": 0}
    elif presolved is not None:
        fixed, kp_stats = presolved
    else:
        fixed, kp_stats = fixed_pairs(d, buses, lo, hi, bounds)
    kkt = add_kkt(bld, d, tnv, bounds, complementarity, fixed)
    if weak_duality_cuts:
        r_ref, V_ref = reference_follower_costs(d, buses, lo, hi)
        add_weak_duality_cuts(bld, d, tnv, kkt, buses, r_ref, V_ref)
    cols, coefs = wholesale_terms(d, tnv, kkt, system.dt_h)
    for c, v in zip(cols, coefs):
        bld.add_cost(c, v)
    add_leader_costs(bld, system, T, ders, settle, cross)
    lay = Layout(system=system, T=T, tn=d, tnv=tnv, feeders=feeders, ders=ders, settle=settle,
                 cross=cross, kkt=kkt, bounds=bounds, mode=complementarity, pcc_bus_distinct=buses,
                 pcc_box_scale=scale)
    lay.binary_groups = binary_groups(lay)
    bld.meta["kkt_presolve"] = kp_stats
    bld.meta.update({"scheme": "dso-led", "complementarity_mode": complementarity,
                     "objective_unit": "k$", "hours": T, "adns": system.n_adn})
    if complementarity == "branch":
        bld.meta["complementarity_pairs"] = kkt.pairs
    else:
        # z = 1 forces the slack to 0, z = 0 the dual (kkt.bigm rows): a relaxation point
        # that satisfies a pair needs no branching on its z (solver/branching.py)
        bld.meta["implied_binaries"] = np.column_stack([kkt.z.reshape(-1), kkt.pairs])
    prob = bld.build()
    # branch on the leader's binaries first; KKT binaries only where a pair is violated
    prio = np.zeros(prob.n)
    prio[np.asarray(prob.integer)] = 1.0
    if kkt.z.size:
        prio[kkt.z.reshape(-1)] = 0.0
    prob.meta["branch_priority"] = prio
    prob.meta["layout"] = lay
    return prob, lay


def binary_groups(lay: Layout) -> dict:
    """Counts of binaries by role: DER, P2P role, platform, cross-ADN role, KKT."""
    return {
        "der": int(sum(d.on_ch.size + d.on_dis.size for d in lay.ders)),
        "p2p_role": int(sum(s.role.size for s in lay.settle)),
        "p2p_platform": int(sum(s.trade.size for s in lay.settle)),
        "cross_role": int(lay.cross.exporter.size),
        "kkt": int(lay.kkt.z.size) if lay.kkt is not None else 0,
    }
