"""Typed arrays the formulation layer reads: the transmission network, the ADNs, the horizon.

Units are in the field names. Per-unit quantities say which base. Indices are 0-based
positions (never MATPOWER bus numbers) unless the name ends in `_id`.

Sign conventions
* `p_pcc` (in the formulation) is the ADN's import from the TN at its PCC, > 0 when importing.
* Loads are consumption (>= 0); PV availability is production (>= 0).
* Line orientation: ADN lines point away from the root (bus 0 = substation = PCC);
  TN lines point from `from_bus` to `to_bus` and flow `f = (theta_from - theta_to) / x`.

This module holds only types and small derived helpers; `tsodso.data.builder` fills them
from the case files and the scenario.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np


@dataclass
class Transmission:
    """DC model of the TN on `base_mva` (all pu fields on that base)."""

    base_mva: float
    bus_id: np.ndarray            # (nb,) MATPOWER bus numbers, for reporting only
    ref_bus: int                  # index of the angle reference bus
    load_mw: np.ndarray           # (T, nb) TN demand per hour, MW (without ADNs)
    line_from: np.ndarray         # (nk,) int bus index
    line_to: np.ndarray           # (nk,) int bus index
    line_x_pu: np.ndarray         # (nk,) series reactance, pu on base_mva (> 0)
    line_rate_mw: np.ndarray      # (nk,) thermal rating used as |f| <= rate, MW (> 0)
    gen_bus: np.ndarray           # (ng,) int bus index
    gen_pmin_mw: np.ndarray       # (ng,)
    gen_pmax_mw: np.ndarray       # (ng,)
    gen_c2_usd_per_mw2h: np.ndarray   # (ng,) quadratic cost coefficient, $/MW^2h
    gen_c1_usd_per_mwh: np.ndarray    # (ng,) linear cost coefficient, $/MWh
    gen_c0_usd_per_h: np.ndarray      # (ng,) constant cost, $/h (only added when committed)
    source: str = ""              # file the data came from

    @property
    def n_bus(self) -> int:
        return self.bus_id.size

    @property
    def n_line(self) -> int:
        return self.line_from.size

    @property
    def n_gen(self) -> int:
        return self.gen_bus.size

    @property
    def n_hours(self) -> int:
        return self.load_mw.shape[0]


@dataclass
class ADN:
    """One active distribution network (radial feeder) with its DER and P2P data.

    Impedances are pu on (`base_kv`, `base_mva`); powers in the formulation are pu on
    `base_mva` as well, energies in pu*h. The `*_mw` fields are the physical data.
    """

    name: str
    pcc_bus: int                  # TN bus index of the PCC
    base_kv: float
    base_mva: float
    # feeder, lines oriented away from bus 0 (the root/substation)
    line_from: np.ndarray         # (nl,) int, parent bus
    line_to: np.ndarray           # (nl,) int, child bus (each bus 1..nbus-1 is a `to` once)
    line_r_pu: np.ndarray         # (nl,)
    line_x_pu: np.ndarray         # (nl,)
    line_imax_pu: np.ndarray      # (nl,) current magnitude limit, pu (inf = none)
    v0_pu: float                  # root voltage magnitude, pu (fixed)
    vmin_pu: float
    vmax_pu: float
    load_p_mw: np.ndarray         # (T, nbus) active demand per hour, MW (bus 0: 0)
    load_q_mvar: np.ndarray       # (T, nbus) reactive demand per hour, Mvar
    # PV
    pv_bus: np.ndarray            # (npv,) bus index
    pv_avail_mw: np.ndarray       # (T, npv) available PV power, MW
    # BESS
    bess_bus: np.ndarray          # (nbess,)
    bess_emax_mwh: np.ndarray
    bess_emin_mwh: np.ndarray
    bess_e0_mwh: np.ndarray       # initial = final state of charge (cyclic)
    bess_pmax_mw: np.ndarray      # charge and discharge power limit
    bess_pmin_mw: np.ndarray      # minimum power when charging or discharging (0 = none)
    bess_eta_c: np.ndarray        # charge efficiency (0, 1]
    bess_eta_d: np.ndarray        # discharge efficiency (0, 1]
    bess_deg_usd_per_mwh: np.ndarray  # degradation cost per MWh of throughput (ch + dis)
    # P2P
    prosumer_bus: np.ndarray      # (npros,) buses that trade P2P (others settle with the grid)
    platform_usd_per_h: float     # fixed cost for a prosumer that trades P2P in an hour (0 = none)
    pv_curtail_usd_per_mwh: float = 0.0
    feeders_aggregated: int = 1   # number of identical 33-bus feeders this ADN stands for
    line_conductor: Optional[List[str]] = None  # (nl,) conductor type per line (None: rating rule without types)
    bus_vmax_pu: Optional[np.ndarray] = None    # (nbus,) per-bus voltage ceiling <= vmax_pu (voltage-rise rule), None = vmax_pu

    @property
    def n_bus(self) -> int:
        return self.load_p_mw.shape[1]

    @property
    def n_line(self) -> int:
        return self.line_from.size


@dataclass
class System:
    """The TN, the ADNs and the tariffs over `n_hours` hours of `dt_h` hours each.

    Every array here is derived from the scenario (the PCC box from the loads, PV and battery
    sizes, the TN scaling from the fleet, ...). Do not edit the fields in place: derive a
    changed system with `with_scenario`, which rebuilds everything from the scenario.
    `tsodso.solve` refuses a system whose fields no longer match its scenario.
    """

    tn: Transmission
    adns: List[ADN]
    dt_h: float
    fee_grid_usd_per_mwh: float       # distribution use-of-system fee on grid purchases
    fee_local_usd_per_mwh: float      # fee on local-pool P2P purchases
    fee_cross_usd_per_mwh: np.ndarray  # (A, A) fee on cross-ADN purchases a -> a' (incl. local fee); diag unused
    pcc_min_mw: np.ndarray            # (A, T) lowest PCC import the ADN's physics allows, MW (< 0 = export)
    pcc_max_mw: np.ndarray            # (A, T) highest PCC import the ADN's physics allows, MW
    seed: int = 0
    scenario: dict = field(default_factory=dict)   # the scenario as read, for provenance

    @property
    def n_hours(self) -> int:
        return self.tn.n_hours

    @property
    def n_adn(self) -> int:
        return len(self.adns)

    @property
    def hours(self) -> List[int]:
        """Clock hour (0..23) of each model hour: `hours[t] = (start + t) mod 24`."""
        return list(self.scenario.get("_hours", range(self.n_hours)))

    @property
    def start_hour(self) -> int:
        """Clock hour of the first model hour (0 = midnight)."""
        return int(self.hours[0]) if self.n_hours else 0

    def with_scenario(self, changes: Optional[dict] = None, **kw) -> "System":
        """A new System with scenario entries changed and every derived quantity rebuilt.

        `changes` maps dotted scenario keys to new values; keyword arguments do the same with
        `__` for the dots. Both forms, and earlier changes of this system, are combined:

            big = sys.with_scenario({"adn_defaults.bess.pmax_mw_per_feeder": [1.2, 1.2]})
            big = sys.with_scenario(adn_defaults__bess__pmax_mw_per_feeder=[1.2, 1.2])

        The instance (ADN count, hours, start hour, seed) is kept; the scenario keys are those
        of the scenario JSON (`cases/README.md`). A key naming no scenario object, or a value
        the builder rejects, raises `CaseError` naming it. The original system is unchanged.
        """
        from .builder import load_system
        b = self.scenario.get("_build")
        if b is None:
            raise ValueError("with_scenario: this System was not built by load_system (no "
                             "scenario['_build']); build it with tsodso.load_system")
        merged = {**b["overrides"], **dict(changes or {}),
                  **{k.replace("__", "."): v for k, v in kw.items()}}
        return load_system(self.scenario["_path"], adns=b["adns"], hours=b["hours"],
                           seed=b["seed"], start=b["start"], overrides=merged,
                           nested=bool(b.get("nested", False)))

