"""SOC relaxation of DistFlow (branch flow model) for one radial ADN, all hours at once.

For line l = (i, j) oriented away from the root (docs/model.md section 3; ADN pu):

    P_l - r_l l_l - sum_{k child of j} P_k + p_j = 0       (p_j: net injection at j, linear in DER)
    Q_l - x_l l_l - sum_{k child of j} Q_k + q_j = 0
    v_j - v_i + 2 (r_l P_l + x_l Q_l) - (r_l^2 + x_l^2) l_l = 0
    P_l^2 + Q_l^2 <= v_i l_l   as   ||(2 P_l, 2 Q_l, v_i - l_l)|| <= v_i + l_l
    v_min^2 <= v <= v_max^2,  0 <= l <= I_max^2,  v_0 = V0^2
    P0 - sum_{l out of 0} P_l = 0                           (P0: import from the TN, > 0 importing)

`v` and `l` are squared voltage and current magnitudes. The injection terms p_j (PV,
BESS) are added by the DER block through `FeederVars.p_rows` (a `Rows` on the P balance).
Loads are the constant right-hand side.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import ADN
from ._kernels import assembly as asm
from .common import Rows, add_eq_rows


@dataclass
class FeederVars:
    P: np.ndarray      # (T, nl) active flow at the sending end, pu
    Q: np.ndarray      # (T, nl)
    l: np.ndarray      # (T, nl) squared current
    v: np.ndarray      # (T, nbus) squared voltage
    pcc: np.ndarray    # (T,) import from the TN, pu on the ADN base
    p_rows: Rows       # P balance rows (row t*nl + line_into[j]) for injection terms
    line_into: np.ndarray  # (nbus,) line whose `to` is bus j, -1 for the root


def feeder_topology(adn: ADN):
    nb, nl = adn.n_bus, adn.n_line
    line_into = -np.ones(nb, np.int64)
    line_into[adn.line_to] = np.arange(nl)
    return line_into


def add_distflow(bld: ProblemBuilder, adn: ADN, T: int, prefix: str, pcc_bounds_pu=None) -> FeederVars:
    """Variables and rows of the SOC-DistFlow of `adn` for hours 0..T-1 (P balance left open)."""
    nb, nl = adn.n_bus, adn.n_line
    fr, to = np.asarray(adn.line_from, np.int64), np.asarray(adn.line_to, np.int64)
    r, x = np.asarray(adn.line_r_pu, float), np.asarray(adn.line_x_pu, float)
    line_into = feeder_topology(adn)
    inf = np.inf
    imax2 = np.where(np.isfinite(adn.line_imax_pu), np.asarray(adn.line_imax_pu, float) ** 2, inf)
    vlo = np.full(nb, adn.vmin_pu ** 2)
    vhi = np.full(nb, adn.vmax_pu ** 2)
    if getattr(adn, "bus_vmax_pu", None) is not None:      # voltage-rise rule (data layer)
        vhi = np.minimum(vhi, np.asarray(adn.bus_vmax_pu, float) ** 2)
    vlo[0] = vhi[0] = adn.v0_pu ** 2
    P = bld.var(f"{prefix}.line_p_pu", (T, nl))
    Q = bld.var(f"{prefix}.line_q_pu", (T, nl))
    L = bld.var(f"{prefix}.line_l_pu2", (T, nl), 0.0, imax2)
    V = bld.var(f"{prefix}.bus_v_pu2", (T, nb), vlo, vhi)
    lo, hi = (-inf, inf) if pcc_bounds_pu is None else pcc_bounds_pu
    pcc = bld.var(f"{prefix}.pcc_p_pu", (T,), lo, hi)

    load_p = np.asarray(adn.load_p_mw, float)[:T] / adn.base_mva
    load_q = np.asarray(adn.load_q_mvar, float)[:T] / adn.base_mva

    # the blocks' triplets from the assembly kernel (kernels/assembly.py; Numba or its numpy twin)
    blk = asm.split_blocks(*asm.distflow_triplets(fr, to, r, x, line_into, P, Q, L, V, pcc),
                           asm.DISTFLOW_BLOCKS)
    rows = {}
    for name, load in (("p", load_p), ("q", load_q)):
        rows[name] = Rows(T * nl).add(*blk[f"balance_{name}"])
        rows[name].rhs[:] = load[:, to].reshape(-1)   # net injection p_j = DER - load -> rhs = load_j
    add_eq_rows(bld, f"{prefix}.balance_q", rows["q"])
    bld.add_eq(f"{prefix}.voltage_drop", *blk["voltage_drop"], np.zeros(T * nl))
    bld.add_eq(f"{prefix}.pcc", *blk["pcc"], np.zeros(T))
    bld.add_cones(f"{prefix}.branch_soc", *blk["branch_soc"], np.zeros(4 * T * nl), 4)
    return FeederVars(P=P, Q=Q, l=L, v=V, pcc=pcc, p_rows=rows["p"], line_into=line_into)


def close_p_balance(bld: ProblemBuilder, fv: FeederVars, prefix: str):
    """Emit the active-power balance once every injection term has been added."""
    add_eq_rows(bld, f"{prefix}.balance_p", fv.p_rows)


def add_injection(fv: FeederVars, bus: np.ndarray, cols: np.ndarray, sign: float):
    """Add `sign * x[cols[t, i]]` to the net injection p_j at `bus[i]` (cols shape (T, n)).

    sign = +1 for generation (PV, discharge), -1 for consumption (charge)."""
    T = cols.shape[0]
    nl = fv.line_into.size - 1
    line = fv.line_into[np.asarray(bus, np.int64)]
    if np.any(line < 0):
        raise ValueError("injection at the root bus (bus 0) is not modelled")
    fv.p_rows.add(np.arange(T)[:, None] * nl + line[None, :], cols, sign)


def soc_gap(P, Q, L, V, line_from) -> np.ndarray:
    """v_i l_ij - P_ij^2 - Q_ij^2 per (hour, line), pu^2 (>= 0 up to solver tolerance; 0 = exact)."""
    return V[:, line_from] * L - P ** 2 - Q ** 2
