"""The DSO-led bilevel problem as one MISOCP (docs/model.md): the problem recipe.

    leader   (all DSOs, one aggregate):  SOC-DistFlow + DER + settlement per ADN, cross-ADN P2P
    follower (TSO, per hour):            DC-OPF primal + KKT (duals, stationarity, complementarity)
    objective (k$):  wholesale at LMP via strong duality + fees + BESS degradation
                     + P2P platform cost + PV curtailment penalty

`build_dso_led_model(system, box, ...)` returns (ConicProblem, Layout); it only writes rows:
the certified PCC box, the dual bounds, the KKT presolve and the reference follower costs are
inputs computed by the analysis layer (`tsodso.analysis.analyse_dso_led`);
`tsodso.schemes.dso_led.build_dso_led(system)` runs both. `Layout` keeps the index arrays of
every block so results and certificates read the solution back by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import System
from .bigm import CertifiedPCCBox, DualBounds
from .common import usd_per_mwh_to_obj, USD_PER_OBJ_UNIT
from .der import DERVars, add_der
from .distflow import FeederVars, add_distflow, close_p_balance
from .kkt import KKTVars, add_kkt, add_weak_duality_cuts, wholesale_terms
from .p2p import CrossVars, SettleVars, add_cross_adn, add_settlement
from .tn import TNData, TNVars, add_dcopf_primal


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


NO_PRESOLVE = {"milps": 0, "fixed_inactive": 0, "fixed_active": 0}


def add_wholesale_cost(bld: ProblemBuilder, d: TNData, tnv: TNVars, kkt: KKTVars, dt_h: float) -> None:
    """sum_t dt sum_b lambda_b P0_b (k$), linear by strong duality (kkt.py `wholesale_terms`)."""
    for c, v in zip(*wholesale_terms(d, tnv, kkt, dt_h)):
        bld.add_cost(c, v)


def build_dso_led_model(system: System, box: CertifiedPCCBox, hours: int | None = None,
                        complementarity: str = "bigm", presolved=None, reference_costs=None):
    """The single-level MISOCP of the DSO-led bilevel problem (model.md). Returns (problem, layout).

    Inputs computed by the analysis layer (`tsodso.analysis.analyse_dso_led`), used as given:
    `box` the certified PCC box and its dual bounds; `presolved` = (fixed, stats) of the KKT
    presolve or None; `reference_costs` = (r_ref, V_ref) for the weak-duality cuts or None.
    """
    T = system.n_hours if hours is None else int(hours)
    bld = ProblemBuilder()
    d = TNData.from_tn(system.tn, T)
    # leader (s.3): per ADN SOC-DistFlow, DER, settlement; cross-ADN P2P; PCC within the box
    feeders, ders, settle, cross = add_leader(bld, system, T, box.lo_mw, box.hi_mw)
    # follower (s.4): DC-OPF primal with the PCC imports as demand, limits through KKT slacks
    tnv = add_dcopf_primal(bld, d, pcc_injections(system, feeders), bounds=False)
    # follower optimality: duals, stationarity, complementarity (big-M or branch pairs)
    fixed, kp_stats = (None, dict(NO_PRESOLVE)) if presolved is None else presolved
    kkt = add_kkt(bld, d, tnv, box.bounds, complementarity, fixed)
    if reference_costs is not None:
        add_weak_duality_cuts(bld, d, tnv, kkt, box.buses, *reference_costs)
    # objective (k$): wholesale at the LMPs by strong duality + the leader's other costs
    add_wholesale_cost(bld, d, tnv, kkt, system.dt_h)
    add_leader_costs(bld, system, T, ders, settle, cross)
    lay = Layout(system=system, T=T, tn=d, tnv=tnv, feeders=feeders, ders=ders, settle=settle,
                 cross=cross, kkt=kkt, bounds=box.bounds, mode=complementarity,
                 pcc_bus_distinct=box.buses, pcc_box_scale=box.scale)
    lay.binary_groups = binary_groups(lay)
    bld.meta["kkt_presolve"] = kp_stats
    bld.meta.update({"scheme": "dso-led",
                     "objective_unit": "k$", "hours": T, "adns": system.n_adn})
    bld.hints.complementarity_mode = complementarity
    if complementarity == "branch":
        bld.hints.complementarity_pairs = kkt.pairs
    else:
        # z = 1 forces the slack to 0, z = 0 the dual (kkt.bigm rows): a relaxation point
        # that satisfies a pair needs no branching on its z (solver/branching.py)
        bld.hints.implied_binaries = np.column_stack([kkt.z.reshape(-1), kkt.pairs])
    prob = bld.build()
    # branch on the leader's binaries first; KKT binaries only where a pair is violated
    prio = np.zeros(prob.n)
    prio[np.asarray(prob.integer)] = 1.0
    if kkt.z.size:
        prio[kkt.z.reshape(-1)] = 0.0
    prob.hints.branch_priority = prio
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
