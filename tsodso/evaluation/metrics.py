"""Metrics of a scheme's outcome, per ADN and for the system (docs/model.md section 6, issue 5).

Every scheme hands its solution to the metrics as an `Outcome`: per ADN the solution vector and
the index arrays of its blocks (formulation/distflow.py `FeederVars`, der.py `DERVars`, p2p.py
`SettleVars`), the cross-ADN trades, the realised TN dispatch and the settlement LMPs. Notation
below: ADN a with base S_a (MVA), hours t with length dt (h), x the ADN's solution vector.

Exchange and prices
* `pcc_import_mw` (A, T): P0_at = x[pcc] S_a, MW, > 0 = import from the TN.
* `lmp_pcc_usd_per_mwh` (A, T): the settlement LMP of hour t at ADN a's PCC bus, $/MWh (which
  LMP settles is the scheme's choice, see `Outcome.lmp_usd_per_mwh`).
* `energy_imported_mwh` (A,): sum_t max(P0_at, 0) dt;  `energy_exported_mwh`: sum_t max(-P0_at, 0) dt.

Costs ($ over the horizon)
* `tso_generation_cost_usd`: sum_t dt sum_g (c2 g^2 + c1 g + c0) of the realised dispatch.
* `dso_cost_usd` (dict of (A,) arrays): the bill of ADN a's users, by item:
    wholesale    sum_t LMP_{b(a),t} P0_at dt               (energy at the PCC, settlement LMP)
    fee_grid     fee_grid * sum_{t,j} b_grid_jt S_a dt      (use-of-system fee on grid purchases)
    fee_local    fee_local * sum_{t,j} b_loc_jt S_a dt
    fee_cross    sum_t sum_{a'} fee_x[a', a] x_{a'->a,t} dt (fee on ADN a's cross-ADN purchases)
    degradation  sum_{t,i} deg_i (p_ch + p_dis)_it S_a dt
    platform     platform_usd_per_h * (number of prosumer-hours trading P2P) dt
    curtailment  pv_curtail_usd_per_mwh * curtailment_mwh
    deviation    scheme-specific extra payments (tso-led: schedule-deviation penalty), else 0
    total        the sum of the above
* `total_cost_usd`: tso_generation_cost + sum_a (fee_grid + fee_local + fee_cross + degradation
  + platform + curtailment). Wholesale payments, P2P payments between peers and deviation
  settlements are transfers and are excluded (schemes/centralised.py explains the choice);
  this is the objective of the centralised scheme.

* `generator_rent_usd` (system): sum_t dt sum_g (LMP_{bus(g),t} g_gt - cost_g(g_gt)), the
  generators' revenue at the settlement LMPs minus their cost (`price_making` compares it
  between dso-led and price-taking).

Batteries (all units of an ADN together)
* `bess_throughput_mwh` (A,): sum_{t,i} (p_ch + p_dis) S_a dt (charged + discharged energy at the
  terminals).
* `bess_cycles` (A,): equivalent full cycles = throughput / (2 sum_i Emax_i) (one full cycle
  charges and discharges the nominal capacity once); 0 where an ADN has no BESS.
* `bess_soc_mwh` (A, T): stored energy at the end of each hour, MWh.

Local energy use
* `pv_energy_mwh` (A,): PV energy produced, sum_t p_pv S_a dt; `curtailment_mwh` (A,):
  sum_t (PVavail - p_pv) S_a dt.
* `self_consumption` (A,): share of the ADN's PV energy used inside the ADN,
  sum_t max(0, pv_t - exp_t) / sum_t pv_t with pv_t the PV output and exp_t = max(-P0_t, 0)
  (MW). Exports are attributed to PV first, so this is a lower bound where a battery exports;
  NaN with no PV energy.
* `self_sufficiency` (A,): share of the ADN's load met by local generation,
  sum_t min(load_t, max(0, load_t - imp_t)) / sum_t load_t with imp_t = max(P0_t, 0): imports
  are attributed to the load first (a lower bound where imports charge a battery or cover losses).
* System values of the two shares take the same sums over all ADNs.

P2P, losses, voltages
* `p2p_local_mwh` (A,): energy traded in ADN a's local pool, sum_{t,j} b_loc_jt S_a dt
  (= the sells, by the pool balance).
* `p2p_cross_import_mwh`, `p2p_cross_export_mwh` (A,): cross-ADN purchases and sales of ADN a,
  sum b_x S_a dt and sum s_x S_a dt. System `p2p_cross_mwh` = total traded = sum of imports.
* `losses_mwh` (A,): feeder active losses sum_{t,l} r_l l_lt S_a dt (the DistFlow loss term;
  equal to P0 - net consumption by the active balance).
* `v_min_pu`, `v_max_pu` (A, T): min / max over buses of sqrt(v) (pu) per hour (the root,
  fixed at v0, included); `voltage_range_pu` per ADN = (min_t v_min, max_t v_max).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .dcopf import generation_cost_usd_per_h
from .readback import adn_pcc_import_mw

SYSTEM_KEYS = ("total_cost_usd", "dso_cost_usd", "tso_generation_cost_usd", "energy_imported_mwh",
               "energy_exported_mwh", "bess_throughput_mwh", "bess_cycles", "pv_energy_mwh",
               "self_consumption", "self_sufficiency", "p2p_local_mwh", "p2p_cross_mwh", "losses_mwh",
               "v_min_pu", "v_max_pu", "curtailment_mwh", "generator_rent_usd")
ADN_KEYS = ("dso_cost_usd", "lmp_mean_usd_per_mwh", "energy_imported_mwh", "energy_exported_mwh",
            "bess_throughput_mwh", "bess_cycles", "pv_energy_mwh", "self_consumption",
            "self_sufficiency", "p2p_local_mwh", "p2p_cross_import_mwh", "p2p_cross_export_mwh",
            "losses_mwh", "v_min_pu", "v_max_pu", "curtailment_mwh")
UNITS = {"total_cost_usd": "$", "dso_cost_usd": "$", "tso_generation_cost_usd": "$",
         "lmp_mean_usd_per_mwh": "$/MWh", "energy_imported_mwh": "MWh", "energy_exported_mwh": "MWh",
         "bess_throughput_mwh": "MWh", "bess_cycles": "cycles", "pv_energy_mwh": "MWh",
         "self_consumption": "share", "self_sufficiency": "share", "p2p_local_mwh": "MWh",
         "p2p_cross_mwh": "MWh", "p2p_cross_import_mwh": "MWh", "p2p_cross_export_mwh": "MWh",
         "losses_mwh": "MWh", "v_min_pu": "pu", "v_max_pu": "pu", "curtailment_mwh": "MWh",
         "generator_rent_usd": "$"}


@dataclass
class Outcome:
    """One scheme's solution as the metrics read it.

    adn_x[a] is the vector that feeders[a], ders[a], settle[a] index (one shared vector for a
    joint model, one vector per DSO problem for tso-led); cross/cross_x the cross-ADN trades
    (None = no cross-ADN trading in this scheme). gen_mw (T, ng) is the realised TN dispatch,
    lmp_usd_per_mwh (T, nb) the prices that settle the ADNs' PCC exchanges.
    """

    scheme: str
    system: object
    T: int
    adn_x: List[np.ndarray]
    feeders: list
    ders: list
    settle: list
    gen_mw: np.ndarray
    lmp_usd_per_mwh: np.ndarray
    cross: object = None
    cross_x: Optional[np.ndarray] = None
    deviation_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_adn(self) -> int:
        return len(self.feeders)


def outcome_from_layout(scheme, lay, x, gen_mw, lmp_usd_per_mwh) -> Outcome:
    """Outcome of a joint model (DSO-led or centralised layout) with solution vector x."""
    A = len(lay.feeders)
    return Outcome(scheme=scheme, system=lay.system, T=lay.T, adn_x=[x] * A, feeders=lay.feeders,
                   ders=lay.ders, settle=lay.settle, gen_mw=np.asarray(gen_mw, float),
                   lmp_usd_per_mwh=np.asarray(lmp_usd_per_mwh, float), cross=lay.cross, cross_x=x)


def _adns(o: Outcome):
    for a, adn in enumerate(o.system.adns):
        yield a, adn, o.adn_x[a]


def _per_adn(o: Outcome, fn) -> np.ndarray:
    return np.array([fn(a, adn, x) for a, adn, x in _adns(o)], float)


def _energy(o, adn, x, cols) -> float:
    """sum of x[cols] in ADN pu, as MWh."""
    return float(np.sum(x[cols])) * adn.base_mva * o.system.dt_h


# ------------------------------------------------------------------------------ exchange, prices
def pcc_import_mw(o: Outcome) -> np.ndarray:
    return adn_pcc_import_mw(o.feeders, o.system.adns, o.adn_x).reshape(o.n_adn, o.T)


def lmp_pcc_usd_per_mwh(o: Outcome) -> np.ndarray:
    pcc = np.array([adn.pcc_bus for adn in o.system.adns], np.int64)
    return np.asarray(o.lmp_usd_per_mwh, float)[:, pcc].T


def energy_imported_mwh(o: Outcome) -> np.ndarray:
    return np.sum(np.maximum(pcc_import_mw(o), 0.0), axis=1) * o.system.dt_h


def energy_exported_mwh(o: Outcome) -> np.ndarray:
    return np.sum(np.maximum(-pcc_import_mw(o), 0.0), axis=1) * o.system.dt_h


# ------------------------------------------------------------------------------ costs
def tso_generation_cost_usd(o: Outcome) -> float:
    return float(np.sum(generation_cost_usd_per_h(o.system.tn, o.gen_mw))) * o.system.dt_h


def _cross_volumes(o: Outcome):
    """(T, npairs) cross-ADN trades in MWh per hour, and the pairs; (None, None) without trading."""
    if o.cross is None or o.cross.pairs.size == 0:
        return None, None
    return o.cross_x[o.cross.x] * o.cross.base_x * o.system.dt_h, o.cross.pairs


def dso_cost_usd(o: Outcome) -> dict:
    sys = o.system
    dt = sys.dt_h
    P0 = pcc_import_mw(o)
    lmp = lmp_pcc_usd_per_mwh(o)
    out = {"wholesale": np.sum(lmp * P0, axis=1) * dt,
           "fee_grid": sys.fee_grid_usd_per_mwh * _per_adn(o, lambda a, adn, x: _energy(o, adn, x, o.settle[a].buy_grid)),
           "fee_local": sys.fee_local_usd_per_mwh * _per_adn(o, lambda a, adn, x: _energy(o, adn, x, o.settle[a].buy_loc))}
    fee_x = np.zeros(o.n_adn)
    xs, pairs = _cross_volumes(o)
    if xs is not None:
        fee = np.asarray(sys.fee_cross_usd_per_mwh, float)[pairs[:, 0], pairs[:, 1]]
        np.add.at(fee_x, pairs[:, 1], (xs * fee[None, :]).sum(axis=0))
    out["fee_cross"] = fee_x

    def degradation(a, adn, x):
        dv = o.ders[a]
        per_unit = (x[dv.ch] + x[dv.dis]).sum(axis=0) * adn.base_mva * dt
        return float(np.sum(np.asarray(adn.bess_deg_usd_per_mwh, float) * per_unit))

    out["degradation"] = _per_adn(o, degradation)
    out["platform"] = _per_adn(o, lambda a, adn, x: adn.platform_usd_per_h * dt * float(np.sum(x[o.settle[a].trade])))
    out["curtailment"] = np.array([adn.pv_curtail_usd_per_mwh for adn in sys.adns]) * curtailment_mwh(o)
    dev = np.asarray(o.deviation_usd, float)
    out["deviation"] = dev if dev.size == o.n_adn else np.zeros(o.n_adn)
    out["total"] = sum(out.values())
    return out


REAL_COST_ITEMS = ("fee_grid", "fee_local", "fee_cross", "degradation", "platform", "curtailment")


def price_making(dso_led: dict, price_taking: dict) -> dict:
    """Value of price-making from two `compute_metrics` system dicts on the same system ($):
    value = DSO bill (price-taking) - DSO bill (dso-led) (> 0: moving the LMPs at their own
    PCCs saves the DSOs that much); generator rent change = rent (dso-led) - rent
    (price-taking); battery throughput of both (MWh)."""
    d, p = dso_led, price_taking
    return {"value_usd": p["dso_cost_usd"] - d["dso_cost_usd"],
            "dso_bill_dso_led_usd": d["dso_cost_usd"], "dso_bill_price_taking_usd": p["dso_cost_usd"],
            "generator_rent_change_usd": d["generator_rent_usd"] - p["generator_rent_usd"],
            "generator_rent_dso_led_usd": d["generator_rent_usd"],
            "generator_rent_price_taking_usd": p["generator_rent_usd"],
            "total_cost_change_usd": d["total_cost_usd"] - p["total_cost_usd"],
            "bess_throughput_dso_led_mwh": d["bess_throughput_mwh"],
            "bess_throughput_price_taking_mwh": p["bess_throughput_mwh"]}


def generator_rent_usd(o: Outcome) -> float:
    """Generators' rent, $: sum_t dt sum_g (LMP_{bus(g),t} g_gt - (c2 g^2 + c1 g + c0)_gt), the
    dispatch paid at the outcome's settlement LMPs minus its cost."""
    tn = o.system.tn
    g = np.asarray(o.gen_mw, float)[:o.T]
    lmp = np.asarray(o.lmp_usd_per_mwh, float)[:o.T][:, np.asarray(tn.gen_bus)]
    return float(np.sum(lmp * g) * o.system.dt_h) - tso_generation_cost_usd(o)


def total_cost_usd(o: Outcome, dso: dict | None = None) -> float:
    dso = dso_cost_usd(o) if dso is None else dso
    return tso_generation_cost_usd(o) + float(sum(np.sum(dso[k]) for k in REAL_COST_ITEMS))


# ------------------------------------------------------------------------------ batteries, PV
def bess_throughput_mwh(o: Outcome) -> np.ndarray:
    return _per_adn(o, lambda a, adn, x: _energy(o, adn, x, o.ders[a].ch) + _energy(o, adn, x, o.ders[a].dis))


def bess_capacity_mwh(o: Outcome) -> np.ndarray:
    return np.array([float(np.sum(adn.bess_emax_mwh)) for adn in o.system.adns])


def bess_cycles(o: Outcome) -> np.ndarray:
    cap = bess_capacity_mwh(o)
    thr = bess_throughput_mwh(o)
    return np.divide(thr, 2 * cap, out=np.zeros_like(thr), where=cap > 0)


def bess_soc_mwh(o: Outcome) -> np.ndarray:
    return np.array([np.sum(x[o.ders[a].soc], axis=1) * adn.base_mva for a, adn, x in _adns(o)]).reshape(o.n_adn, o.T)


def pv_output_mw(o: Outcome) -> np.ndarray:
    return np.array([np.sum(x[o.ders[a].pv], axis=1) * adn.base_mva for a, adn, x in _adns(o)]).reshape(o.n_adn, o.T)


def pv_available_mw(o: Outcome) -> np.ndarray:
    return np.array([np.sum(np.asarray(adn.pv_avail_mw, float)[:o.T], axis=1) for adn in o.system.adns]).reshape(o.n_adn, o.T)


def load_mw(o: Outcome) -> np.ndarray:
    return np.array([np.sum(np.asarray(adn.load_p_mw, float)[:o.T], axis=1) for adn in o.system.adns]).reshape(o.n_adn, o.T)


def pv_energy_mwh(o: Outcome) -> np.ndarray:
    return np.sum(pv_output_mw(o), axis=1) * o.system.dt_h


def curtailment_mwh(o: Outcome) -> np.ndarray:
    return np.sum(pv_available_mw(o) - pv_output_mw(o), axis=1) * o.system.dt_h


def _pv_used_mw(o: Outcome) -> np.ndarray:
    return np.maximum(0.0, pv_output_mw(o) - np.maximum(-pcc_import_mw(o), 0.0))


def _load_local_mw(o: Outcome) -> np.ndarray:
    L = load_mw(o)
    return np.minimum(L, np.maximum(0.0, L - np.maximum(pcc_import_mw(o), 0.0)))


def _share(num, den):
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.full(np.shape(den), np.nan), where=den > 1e-12)


def self_consumption(o: Outcome) -> np.ndarray:
    return _share(_pv_used_mw(o).sum(axis=1), pv_output_mw(o).sum(axis=1))


def self_sufficiency(o: Outcome) -> np.ndarray:
    return _share(_load_local_mw(o).sum(axis=1), load_mw(o).sum(axis=1))


# ------------------------------------------------------------------------------ P2P, losses, voltage
def p2p_local_mwh(o: Outcome) -> np.ndarray:
    return _per_adn(o, lambda a, adn, x: _energy(o, adn, x, o.settle[a].buy_loc))


def p2p_cross_import_mwh(o: Outcome) -> np.ndarray:
    return _per_adn(o, lambda a, adn, x: _energy(o, adn, x, o.settle[a].buy_x))


def p2p_cross_export_mwh(o: Outcome) -> np.ndarray:
    return _per_adn(o, lambda a, adn, x: _energy(o, adn, x, o.settle[a].sell_x))


def p2p_local_mw(o: Outcome) -> np.ndarray:
    """(A, T) local-pool volume per hour, MW."""
    return np.array([np.sum(x[o.settle[a].buy_loc], axis=1) * adn.base_mva for a, adn, x in _adns(o)]).reshape(o.n_adn, o.T)


def p2p_cross_net_import_mw(o: Outcome) -> np.ndarray:
    """(A, T) cross-ADN purchases minus sales per hour, MW."""
    return np.array([np.sum(x[o.settle[a].buy_x] - x[o.settle[a].sell_x], axis=1) * adn.base_mva
                     for a, adn, x in _adns(o)]).reshape(o.n_adn, o.T)


def losses_mwh(o: Outcome) -> np.ndarray:
    return _per_adn(o, lambda a, adn, x: float(np.sum(x[o.feeders[a].l] * np.asarray(adn.line_r_pu, float)[None, :]))
                    * adn.base_mva * o.system.dt_h)


def voltage_envelope_pu(o: Outcome):
    """(v_min, v_max), each (A, T): min / max over buses of sqrt(v), pu."""
    vm = [np.sqrt(np.maximum(x[o.feeders[a].v], 0.0)) for a, _, x in _adns(o)]
    return (np.array([v.min(axis=1) for v in vm]).reshape(o.n_adn, o.T),
            np.array([v.max(axis=1) for v in vm]).reshape(o.n_adn, o.T))


# ------------------------------------------------------------------------------ all together
def compute_metrics(o: Outcome) -> dict:
    """{"system": {key: float}, "per_adn": {key: (A,) array}, "series": {name: (A, T) array},
    "dso_cost_breakdown_usd": {item: (A,) array}} with the keys of SYSTEM_KEYS / ADN_KEYS."""
    dso = dso_cost_usd(o)
    vmin, vmax = voltage_envelope_pu(o)
    P0 = pcc_import_mw(o)
    lmp = lmp_pcc_usd_per_mwh(o)
    per = {
        "dso_cost_usd": dso["total"], "lmp_mean_usd_per_mwh": lmp.mean(axis=1),
        "energy_imported_mwh": energy_imported_mwh(o), "energy_exported_mwh": energy_exported_mwh(o),
        "bess_throughput_mwh": bess_throughput_mwh(o), "bess_cycles": bess_cycles(o),
        "pv_energy_mwh": pv_energy_mwh(o), "self_consumption": self_consumption(o),
        "self_sufficiency": self_sufficiency(o), "p2p_local_mwh": p2p_local_mwh(o),
        "p2p_cross_import_mwh": p2p_cross_import_mwh(o), "p2p_cross_export_mwh": p2p_cross_export_mwh(o),
        "losses_mwh": losses_mwh(o), "v_min_pu": vmin.min(axis=1), "v_max_pu": vmax.max(axis=1),
        "curtailment_mwh": curtailment_mwh(o),
    }
    cap = bess_capacity_mwh(o).sum()
    sysm = {
        "total_cost_usd": total_cost_usd(o, dso), "dso_cost_usd": float(dso["total"].sum()),
        "tso_generation_cost_usd": tso_generation_cost_usd(o),
        "bess_cycles": float(per["bess_throughput_mwh"].sum() / (2 * cap)) if cap > 0 else 0.0,
        "self_consumption": float(_share(_pv_used_mw(o).sum(), pv_output_mw(o).sum())),
        "self_sufficiency": float(_share(_load_local_mw(o).sum(), load_mw(o).sum())),
        "p2p_cross_mwh": float(per["p2p_cross_import_mwh"].sum()),
        "v_min_pu": float(vmin.min()), "v_max_pu": float(vmax.max()),
        "generator_rent_usd": generator_rent_usd(o),
    }
    for k in ("energy_imported_mwh", "energy_exported_mwh", "bess_throughput_mwh", "pv_energy_mwh",
              "p2p_local_mwh", "losses_mwh", "curtailment_mwh"):
        sysm[k] = float(per[k].sum())
    series = {"pcc_import_mw": P0, "lmp_pcc_usd_per_mwh": lmp, "bess_soc_mwh": bess_soc_mwh(o),
              "p2p_local_mw": p2p_local_mw(o), "p2p_cross_net_import_mw": p2p_cross_net_import_mw(o),
              "v_min_pu": vmin, "v_max_pu": vmax}
    return {"system": {k: sysm[k] for k in SYSTEM_KEYS}, "per_adn": {k: per[k] for k in ADN_KEYS},
            "series": series, "dso_cost_breakdown_usd": dso}
