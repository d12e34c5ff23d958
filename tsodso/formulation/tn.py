"""Transmission network: DC optimal power flow blocks (docs/model.md section 4).

Per hour t, bus b, line k, generator g (TN pu, k$):

    min  sum_g c2_g g^2 + c1_g g
    s.t. sum_{g at b} g - sum_{k from b} f_k + sum_{k to b} f_k = D_b + sum_{a at b} P0_a   [lambda_b]
         f_k - (theta_from - theta_to) / x_k = 0                                            [phi_k]
         -F_k <= f_k <= F_k,   Gmin_g <= g <= Gmax_g,   theta_ref = 0 (theta_ref not a variable)

`g^2` enters through an epigraph `tau_g >= g^2`, the rotated cone ||(2 g, tau - 1)|| <= tau + 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import Transmission
from .common import USD_PER_OBJ_UNIT, Rows, add_eq_rows, lmp_usd_per_mwh


@dataclass
class TNData:
    """The TN in model units (pu on `base_mva`, k$), for hours `0..T-1`."""

    T: int
    nb: int
    nk: int
    ng: int
    ref: int
    base_mva: float
    fr: np.ndarray
    to: np.ndarray
    b_pu: np.ndarray          # 1 / x_k
    F_pu: np.ndarray
    gen_bus: np.ndarray
    gmin_pu: np.ndarray
    gmax_pu: np.ndarray
    c2: np.ndarray            # k$/h per pu^2
    c1: np.ndarray            # k$/h per pu
    D_pu: np.ndarray          # (T, nb)
    theta_col: np.ndarray     # (nb,) position of bus b in the theta block, -1 for the reference
    c0: float = 0.0           # k$/h, sum of the generators' constant costs

    @classmethod
    def from_tn(cls, tn: Transmission, hours: int | None = None) -> "TNData":
        T = tn.n_hours if hours is None else int(hours)
        base = tn.base_mva
        theta_col = -np.ones(tn.n_bus, np.int64)
        nonref = np.array([b for b in range(tn.n_bus) if b != tn.ref_bus], np.int64)
        theta_col[nonref] = np.arange(nonref.size)
        return cls(T=T, nb=tn.n_bus, nk=tn.n_line, ng=tn.n_gen, ref=int(tn.ref_bus), base_mva=base,
                   fr=np.asarray(tn.line_from, np.int64), to=np.asarray(tn.line_to, np.int64),
                   b_pu=1.0 / np.asarray(tn.line_x_pu, float),
                   F_pu=_finite_ratings(tn) / base,
                   gen_bus=np.asarray(tn.gen_bus, np.int64),
                   gmin_pu=np.asarray(tn.gen_pmin_mw, float) / base,
                   gmax_pu=np.asarray(tn.gen_pmax_mw, float) / base,
                   c2=np.asarray(tn.gen_c2_usd_per_mw2h, float) * base ** 2 / USD_PER_OBJ_UNIT,
                   c1=np.asarray(tn.gen_c1_usd_per_mwh, float) * base / USD_PER_OBJ_UNIT,
                   D_pu=np.asarray(tn.load_mw, float)[:T] / base, theta_col=theta_col,
                   c0=float(np.sum(tn.gen_c0_usd_per_h)) / USD_PER_OBJ_UNIT)


def unlimited_rating_mw(tn: Transmission) -> float:
    """A rating no DC flow can reach, MW: 2 x sum of Pmax, plus 1 %.

    With the PTDF H (|H_ki| <= 1), |f_k| <= sum_i |p_i| = total generation + total demand
    = 2 x total generation <= 2 sum Pmax, whatever the ADNs import. MATPOWER's rateA = 0
    (unlimited, `inf` in the data layer) becomes this finite value: the limit never binds
    (the model is unchanged), but every row and big-M bound stays finite (an inf rating made
    the robust-slack LP of analysis/dual_bounds.py fail: case118 as the TN)."""
    return 2.02 * float(np.sum(np.maximum(np.asarray(tn.gen_pmax_mw, float), 0.0))) + 1.0


def _finite_ratings(tn: Transmission) -> np.ndarray:
    r = np.asarray(tn.line_rate_mw, float)
    return np.where(np.isfinite(r), r, unlimited_rating_mw(tn)) if not np.all(np.isfinite(r)) else r


@dataclass
class TNVars:
    g: np.ndarray       # (T, ng)
    f: np.ndarray       # (T, nk)
    theta: np.ndarray   # (T, nb - 1)
    tau: np.ndarray     # (T, ng) epigraph of g^2


def add_dcopf_primal(bld: ProblemBuilder, d: TNData, injections=(), bounds: bool = True,
                     prefix: str = "tn") -> TNVars:
    """Variables, nodal balance, flow definition and the g^2 epigraph cones of all hours.

    injections: iterable of (bus, cols (T,), coef): the balance of `bus` gets demand
    `coef * x[cols[t]]` (e.g. an ADN's PCC import in its own pu, coef = S_adn / S_tn).
    bounds: put the line and generator limits on the variables (stand-alone OPF); the
    bilevel model instead writes them with explicit slacks (kkt.py).
    """
    T, nb, nk, ng = d.T, d.nb, d.nk, d.ng
    inf = np.inf
    g = bld.var(f"{prefix}.gen_p_pu", (T, ng), d.gmin_pu if bounds else -inf,
                d.gmax_pu if bounds else inf)
    f = bld.var(f"{prefix}.line_p_pu", (T, nk), -d.F_pu if bounds else -inf, d.F_pu if bounds else inf)
    th = bld.var(f"{prefix}.bus_theta_rad", (T, nb - 1))
    tau = bld.var(f"{prefix}.gen_p2_pu2", (T, ng), 0.0, inf)
    tt = np.arange(T)[:, None]

    # nodal balance, row t*nb + b
    bal = Rows(T * nb)
    bal.add(tt * nb + d.gen_bus[None, :], g, 1.0)
    bal.add(tt * nb + d.fr[None, :], f, -1.0)
    bal.add(tt * nb + d.to[None, :], f, 1.0)
    for bus, cols, coef in injections:
        bal.add(np.arange(T) * nb + int(bus), np.asarray(cols), -float(coef))
    bal.rhs[:] = d.D_pu.reshape(-1)
    add_eq_rows(bld, f"{prefix}.balance", bal)

    # flow definition f_k - b_k (theta_fr - theta_to) = 0, row t*nk + k
    fd = Rows(T * nk)
    rk = tt * nk + np.arange(nk)[None, :]
    fd.add(rk, f, 1.0)
    for ends, sign in ((d.fr, -1.0), (d.to, 1.0)):
        keep = d.theta_col[ends] >= 0
        fd.add(rk[:, keep], th[:, d.theta_col[ends[keep]]], sign * d.b_pu[keep][None, :])
    add_eq_rows(bld, f"{prefix}.flow_def", fd)

    # tau >= g^2:  (tau + 1, 2 g, tau - 1) in Q^3, cone rows 3*(t*ng + i) + {0,1,2}
    m = T * ng
    base = 3 * np.arange(m)
    rows = np.concatenate([base, base + 1, base + 2])
    cols = np.concatenate([tau.reshape(-1), g.reshape(-1), tau.reshape(-1)])
    vals = np.concatenate([np.ones(m), 2.0 * np.ones(m), np.ones(m)])
    const = np.tile([1.0, 0.0, -1.0], m)
    bld.add_cones(f"{prefix}.gen_p2_epigraph", rows, cols, vals, const, 3)
    return TNVars(g=g, f=f, theta=th, tau=tau)


def add_generation_cost(bld: ProblemBuilder, d: TNData, tnv: TNVars, dt_h: float = 1.0,
                        with_c0: bool = True) -> None:
    """sum_t dt (c2 g^2 + c1 g [+ c0]) in k$, through the epigraph tau >= g^2 (the follower's
    own objective is the same without c0 and dt)."""
    bld.add_cost(tnv.tau, np.broadcast_to(d.c2 * dt_h, tnv.tau.shape))
    bld.add_cost(tnv.g, np.broadcast_to(d.c1 * dt_h, tnv.g.shape))
    if with_c0:
        bld.c0 += d.c0 * d.T * dt_h


def build_dcopf(tn: Transmission, hours: int | None = None, pcc_import_mw=None):
    """Stand-alone DC-OPF of hours 0..T-1 as a conic problem (objective in k$).

    pcc_import_mw: optional (T, nb) extra demand in MW (e.g. ADN imports at their PCCs).
    Returns (problem, TNData).
    """
    d = TNData.from_tn(tn, hours)
    if pcc_import_mw is not None:
        d.D_pu = d.D_pu + np.asarray(pcc_import_mw, float)[: d.T] / d.base_mva
    prob, _ = build_follower_dcopf(d)
    return prob, d


def build_follower_dcopf(d: TNData, with_c0: bool = True):
    """The follower's DC-OPF of `d` (its demand D_pu, all its hours) alone: primal rows with
    the limits as bounds and the generation cost (k$; `with_c0=False`: the follower's own
    objective c2 g^2 + c1 g). Returns (problem, TNVars). The one builder of this model: the
    stand-alone OPF (`build_dcopf`) and the analysis layer's follower responses use it."""
    bld = ProblemBuilder()
    v = add_dcopf_primal(bld, d)
    add_generation_cost(bld, d, v, with_c0=with_c0)
    return bld.build(), v


def dcopf_readback(prob, sol, d: TNData) -> dict:
    """Dispatch (MW), flows (MW), LMPs ($/MWh) and cost ($) of a solved `build_dcopf` problem.

    LMP_b = d cost / d D_b = -y_b (ECOS sign, see ecos_adapter), converted to $/MWh.
    """
    y = sol.y[prob.eq_blocks["tn.balance"]].reshape(d.T, d.nb)
    return {
        "gen_p_mw": prob.get(sol.x, "tn.gen_p_pu") * d.base_mva,
        "line_p_mw": prob.get(sol.x, "tn.line_p_pu") * d.base_mva,
        "lmp_usd_per_mwh": lmp_usd_per_mwh(-y, d.base_mva),
        "cost_usd": sol.objective * USD_PER_OBJ_UNIT,
    }
