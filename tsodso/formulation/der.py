"""Distributed energy resources of one ADN: PV with curtailment, BESS with binaries (docs/model.md s.3).

PV (per site, hour):   0 <= p_pv <= PVavail_t
BESS (per unit, hour; pu on the ADN base, energy pu*h):
    e_t = e_{t-1} + eta_c p_ch dt - p_dis dt / eta_d,   e_{-1} = e_0,  e_{T-1} = e_0 (cyclic)
    E_min <= e_t <= E_max
    Pmin on_ch <= p_ch <= Pmax on_ch,  Pmin on_dis <= p_dis <= Pmax on_dis,  on_ch + on_dis <= 1
The docs/model.md binary u_t (charge mode) is `on_ch`; `on_dis` is the separate discharge
on-binary that the inverter minimum power needs. With Pmin = 0 the pair reduces to docs/model.md's
p_ch <= Pmax u, p_dis <= Pmax (1 - u).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import ADN
from .common import Rows, add_eq_rows, add_leq_rows
from .distflow import FeederVars, add_injection


@dataclass
class DERVars:
    pv: np.ndarray        # (T, npv)
    ch: np.ndarray        # (T, nbess)
    dis: np.ndarray       # (T, nbess)
    soc: np.ndarray       # (T, nbess) energy at the end of hour t
    on_ch: np.ndarray     # (T, nbess) binary
    on_dis: np.ndarray    # (T, nbess) binary


def add_der(bld: ProblemBuilder, adn: ADN, fv: FeederVars, T: int, dt_h: float, prefix: str) -> DERVars:
    S = adn.base_mva
    pv_av = np.asarray(adn.pv_avail_mw, float)[:T] / S
    pv = bld.var(f"{prefix}.pv_p_pu", (T, adn.pv_bus.size), 0.0, pv_av)
    if adn.pv_bus.size:
        add_injection(fv, adn.pv_bus, pv, 1.0)  # balance row: P - r l - sum P_child + p_j = load_j

    nbs = adn.bess_bus.size
    pmax = np.asarray(adn.bess_pmax_mw, float) / S
    pmin = np.asarray(adn.bess_pmin_mw, float) / S
    ch = bld.var(f"{prefix}.bess_ch_pu", (T, nbs), 0.0, pmax)
    dis = bld.var(f"{prefix}.bess_dis_pu", (T, nbs), 0.0, pmax)
    soc = bld.var(f"{prefix}.bess_e_puh", (T, nbs), np.asarray(adn.bess_emin_mwh) / S,
                  np.asarray(adn.bess_emax_mwh) / S)
    on_ch = bld.binary(f"{prefix}.bess_on_ch", (T, nbs))
    on_dis = bld.binary(f"{prefix}.bess_on_dis", (T, nbs))
    if nbs == 0:
        return DERVars(pv, ch, dis, soc, on_ch, on_dis)
    add_injection(fv, adn.bess_bus, dis, 1.0)
    add_injection(fv, adn.bess_bus, ch, -1.0)

    eta_c, eta_d = np.asarray(adn.bess_eta_c, float), np.asarray(adn.bess_eta_d, float)
    e0 = np.asarray(adn.bess_e0_mwh, float) / S
    # energy balance, row t*nbs + i:  e_t - e_{t-1} - eta_c dt ch + dt/eta_d dis = 0  (e_{-1} = e0)
    r = np.arange(T)[:, None] * nbs + np.arange(nbs)[None, :]
    eb = Rows(T * nbs)
    eb.add(r, soc, 1.0)
    eb.add(r[1:], soc[:-1], -1.0)
    eb.add(r, ch, -eta_c[None, :] * dt_h)
    eb.add(r, dis, (dt_h / eta_d)[None, :])
    eb.rhs[:nbs] = e0
    add_eq_rows(bld, f"{prefix}.bess_energy", eb)
    cyc = Rows(nbs)
    cyc.add(np.arange(nbs), soc[T - 1], 1.0)
    cyc.rhs[:] = e0
    add_eq_rows(bld, f"{prefix}.bess_cyclic", cyc)

    # mode and minimum power, rows k*T*nbs + r for the 5 kinds k
    m = T * nbs
    lim = Rows(5 * m)
    lim.add(r, ch, 1.0); lim.add(r, on_ch, -pmax[None, :])              # ch <= Pmax on_ch
    lim.add(m + r, ch, -1.0); lim.add(m + r, on_ch, pmin[None, :])      # ch >= Pmin on_ch
    lim.add(2 * m + r, dis, 1.0); lim.add(2 * m + r, on_dis, -pmax[None, :])
    lim.add(3 * m + r, dis, -1.0); lim.add(3 * m + r, on_dis, pmin[None, :])
    lim.add(4 * m + r, on_ch, 1.0); lim.add(4 * m + r, on_dis, 1.0)     # not both
    lim.rhs[4 * m:] = 1.0
    add_leq_rows(bld, f"{prefix}.bess_mode", lim)
    return DERVars(pv, ch, dis, soc, on_ch, on_dis)
