"""The follower's KKT conditions (docs/model.md section 4), all hours at once (TN pu, k$/h).

Primal feasibility with explicit slacks (>= 0, bounded by `DualBounds`):
    s_fu = F - f,  s_fl = F + f,  s_gu = Gmax - g,  s_gl = g - Gmin
Dual feasibility: mu_u, mu_l, nu_u, nu_l in [0, M_t]; lambda (LMP), phi free.
Stationarity (Lagrangian f(g) + lambda'(D + P0 - E_g g + A f) + phi'(f - B theta) + ...):
    g_i:      2 c2_i g_i + c1_i - lambda_{bus(i)} + nu_u_i - nu_l_i = 0
    f_k:      lambda_from(k) - lambda_to(k) + phi_k + mu_u_k - mu_l_k = 0
    theta_b:  - sum_{k from b} b_k phi_k + sum_{k to b} b_k phi_k = 0        (b != ref)
so lambda_b = d(cost)/d(D_b) is the LMP (k$/h per pu; x10 = $/MWh at 100 MVA).
Complementarity pairs (dual, slack): (mu_u, s_fu), (mu_l, s_fl), (nu_u, s_gu), (nu_l, s_gl):
2|K| + 2|G| per hour, listed in `pairs` (variable indices) for branch mode, and in big-M mode
linearised with one binary each: dual <= M_t z, slack <= S_max (1 - z).
Aggregate cut (valid, see analysis/dual_bounds.py): sum of all inequality duals of hour t <= M_t.

Strong duality turns the leader's bilinear wholesale term into (per hour)
    sum_b lambda_b P0_b = 2 sum c2 g^2 + sum c1 g - sum_b lambda_b D_b
                          + sum_k F_k (mu_u + mu_l) + sum_g (Gmax nu_u - Gmin nu_l)
(`wholesale_terms`), exact whenever the KKT conditions hold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conic import ProblemBuilder
from ._kernels import assembly as asm
from .bigm import DualBounds
from .common import Rows, add_eq_rows, add_leq_rows
from .tn import TNData, TNVars


PAIR_KINDS = ("fu", "fl", "gu", "gl")
"""The follower's inequalities, in the one order every per-hour pair array uses:
fu: f <= F (line, upper) | fl: -f <= F (line, lower) | gu: g <= Gmax | gl: -g <= -Gmin."""


@dataclass(frozen=True)
class PairIndex:
    """Columns of a per-hour pair array (T, 2nk+2ng) laid out [fu | fl | gu | gl] (PAIR_KINDS).

    `pack(fu, fl, gu, gl)` builds one from its four parts (last axis), `split(a)` takes it
    apart, `per_line_gen(line, gen)` repeats a line and a generator vector as [line|line|gen|gen].
    """
    nk: int
    ng: int

    @classmethod
    def of(cls, d: TNData) -> "PairIndex":
        return cls(int(d.nk), int(d.ng))

    @property
    def size(self) -> int:
        return 2 * self.nk + 2 * self.ng

    def slice(self, kind: str) -> slice:
        nk, ng = self.nk, self.ng
        start = {"fu": 0, "fl": nk, "gu": 2 * nk, "gl": 2 * nk + ng}[kind]
        return slice(start, start + (nk if kind in ("fu", "fl") else ng))

    def pack(self, fu, fl, gu, gl) -> np.ndarray:
        return np.concatenate([np.asarray(fu), np.asarray(fl), np.asarray(gu), np.asarray(gl)], axis=-1)

    def split(self, a):
        a = np.asarray(a)
        return tuple(a[..., self.slice(k)] for k in PAIR_KINDS)

    def per_line_gen(self, line, gen) -> np.ndarray:
        return self.pack(line, line, gen, gen)


@dataclass
class KKTVars:
    lam: np.ndarray
    phi: np.ndarray
    mu_u: np.ndarray
    mu_l: np.ndarray
    nu_u: np.ndarray
    nu_l: np.ndarray
    s_fu: np.ndarray
    s_fl: np.ndarray
    s_gu: np.ndarray
    s_gl: np.ndarray
    pairs: np.ndarray      # (T*(2nk+2ng), 2) variable indices (dual, slack), hour-major
    z: np.ndarray          # (T, 2nk+2ng) binaries of big-M mode (T, 0) in branch mode

    @property
    def index(self) -> PairIndex:
        return PairIndex(self.mu_u.shape[1], self.nu_u.shape[1])

    @property
    def duals(self) -> np.ndarray:
        """(T, 2nk+2ng) column indices of the inequality duals [mu_u | mu_l | nu_u | nu_l]."""
        return self.index.pack(self.mu_u, self.mu_l, self.nu_u, self.nu_l)

    @property
    def slacks(self) -> np.ndarray:
        """(T, 2nk+2ng) column indices of the slacks [s_fu | s_fl | s_gu | s_gl]."""
        return self.index.pack(self.s_fu, self.s_fl, self.s_gu, self.s_gl)


def add_kkt(bld: ProblemBuilder, d: TNData, v: TNVars, bounds: DualBounds, mode: str = "bigm",
            fixed=None) -> KKTVars:
    """KKT rows of the follower. fixed: optional (T, 2nk+2ng) int array from
    kkt_presolve.fixed_pairs (0 = proved inactive: dual = 0, z = 0; 1 = proved active:
    slack = 0, z = 1; -1 = free); fixed statuses become variable bounds lb = ub."""
    if mode not in ("bigm", "branch"):
        raise ValueError(f"complementarity mode must be 'bigm' or 'branch', not {mode!r}")
    T, nb, nk, ng = d.T, d.nb, d.nk, d.ng
    M = bounds.dual_max_each.copy()                # (T, 2nk+2ng), analysis/dual_bounds.py: per-inequality bound
    fixed = -np.ones(M.shape, np.int8) if fixed is None else np.asarray(fixed)
    M[fixed == 0] = 0.0                            # proved inactive: dual = 0
    ix = PairIndex.of(d)
    M_fu, M_fl, M_gu, M_gl = ix.split(M)
    lam = bld.var("kkt.bus_lmp_kusd_per_puh", (T, nb))
    phi = bld.var("kkt.line_flow_def_dual_kusd_per_puh", (T, nk))
    mu_u = bld.var("kkt.line_max_dual_kusd_per_puh", (T, nk), 0.0, M_fu)
    mu_l = bld.var("kkt.line_min_dual_kusd_per_puh", (T, nk), 0.0, M_fl)
    nu_u = bld.var("kkt.gen_max_dual_kusd_per_puh", (T, ng), 0.0, M_gu)
    nu_l = bld.var("kkt.gen_min_dual_kusd_per_puh", (T, ng), 0.0, M_gl)
    smax = ix.per_line_gen(bounds.slack_line_max, bounds.slack_gen_max)
    smax_all = smax[None, :].repeat(T, 0)
    smax_all[fixed == 1] = 0.0                     # proved active: slack = 0
    S_fu, S_fl, S_gu, S_gl = ix.split(smax_all)
    s_fu = bld.var("kkt.line_max_slack_pu", (T, nk), 0.0, S_fu)
    s_fl = bld.var("kkt.line_min_slack_pu", (T, nk), 0.0, S_fl)
    s_gu = bld.var("kkt.gen_max_slack_pu", (T, ng), 0.0, S_gu)
    s_gl = bld.var("kkt.gen_min_slack_pu", (T, ng), 0.0, S_gl)
    tt = np.arange(T)[:, None]

    # primal feasibility with slacks: rows [fu | fl | gu | gl]
    rk = tt * nk + np.arange(nk)[None, :]
    rg = tt * ng + np.arange(ng)[None, :]
    pf = Rows(2 * T * nk + 2 * T * ng)
    o1, o2, o3 = T * nk, 2 * T * nk, 2 * T * nk + T * ng
    pf.add(rk, s_fu, 1.0); pf.add(rk, v.f, 1.0); pf.rhs[:o1] = np.tile(d.F_pu, T)
    pf.add(o1 + rk, s_fl, 1.0); pf.add(o1 + rk, v.f, -1.0); pf.rhs[o1:o2] = np.tile(d.F_pu, T)
    pf.add(o2 + rg, s_gu, 1.0); pf.add(o2 + rg, v.g, 1.0); pf.rhs[o2:o3] = np.tile(d.gmax_pu, T)
    pf.add(o3 + rg, s_gl, 1.0); pf.add(o3 + rg, v.g, -1.0); pf.rhs[o3:] = np.tile(-d.gmin_pu, T)
    add_eq_rows(bld, "kkt.primal_slack", pf)

    # stationarity: rows [g (T*ng) | f (T*nk) | theta (T*(nb-1))]
    st = Rows(T * ng + T * nk + T * (nb - 1))
    st.rhs[: T * ng] = np.tile(-d.c1, T)
    # triplets from the assembly kernel (kernels/assembly.py; Numba or its numpy twin)
    st.add(*asm.stationarity_triplets(d.c2, d.gen_bus, d.fr, d.to, d.b_pu, d.theta_col,
                                      v.g, lam, nu_u, nu_l, phi, mu_u, mu_l)[:3])
    add_eq_rows(bld, "kkt.stationarity", st)

    duals = ix.pack(mu_u, mu_l, nu_u, nu_l)        # (T, 2nk+2ng)
    slacks = ix.pack(s_fu, s_fl, s_gu, s_gl)
    npair = duals.shape[1]
    cut = Rows(T)                                  # sum_i s_i mu_i <= C_max - C_min (analysis/dual_bounds.py)
    cut.add(np.repeat(np.arange(T), npair), duals.reshape(-1), bounds.slack_each.reshape(-1))
    cut.rhs[:] = bounds.cost_gap
    add_leq_rows(bld, "kkt.dual_sum_cut", cut)

    if mode == "bigm":
        z = bld.var("kkt.pair_active", (T, npair), (fixed == 1).astype(float), (fixed != 0).astype(float),
                    integer=True)
        rp = tt * npair + np.arange(npair)[None, :]
        bm = Rows(2 * T * npair)
        bm.add(rp, duals, 1.0); bm.add(rp, z, -M)                    # dual <= M_i z
        bm.add(T * npair + rp, slacks, 1.0); bm.add(T * npair + rp, z, smax[None, :])
        bm.rhs[T * npair:] = np.tile(smax, T)                          # slack <= Smax (1 - z)
        add_leq_rows(bld, "kkt.bigm", bm)
    else:
        z = np.zeros((T, 0), np.int64)
    pairs = np.stack([duals.reshape(-1), slacks.reshape(-1)], axis=1)
    return KKTVars(lam, phi, mu_u, mu_l, nu_u, nu_l, s_fu, s_fl, s_gu, s_gl, pairs, z)


def wholesale_terms(d: TNData, v: TNVars, k: KKTVars, dt_h: float):
    """(cols, coefs) of sum_t dt * sum_b lambda_b P0_b by strong duality (k$)."""
    T = d.T
    cols = [v.tau, v.g, k.lam, k.mu_u, k.mu_l, k.nu_u, k.nu_l]
    coefs = [np.broadcast_to(2 * d.c2, (T, d.ng)), np.broadcast_to(d.c1, (T, d.ng)), -d.D_pu,
             np.broadcast_to(d.F_pu, (T, d.nk)), np.broadcast_to(d.F_pu, (T, d.nk)),
             np.broadcast_to(d.gmax_pu, (T, d.ng)), np.broadcast_to(-d.gmin_pu, (T, d.ng))]
    return ([np.asarray(c).reshape(-1) for c in cols],
            [dt_h * np.asarray(c, float).reshape(-1) for c in coefs])


def add_weak_duality_cuts(bld: ProblemBuilder, d: TNData, v: TNVars, k: KKTVars, pcc_bus: np.ndarray,
                          r_ref: np.ndarray, V_ref: np.ndarray) -> None:
    """Valid cuts: the follower's dual objective at reference demands is at most their cost.

    The KKT multipliers (lambda, mu, nu) with g from stationarity are feasible for the dual of
    the follower's QP for ANY right-hand side; by weak duality, at demand D + r (r = PCC
    demand per distinct PCC bus, TN pu) the dual objective is at most V(D + r):

        lambda'(D + E r) - sum_k F_k (mu_u + mu_l) - sum_g (Gmax nu_u - Gmin nu_l) - sum c2 g^2 <= V(D + E r)

    Linear with tau >= g^2 replacing g^2 (tau appears with coefficient -c2 on the left, so the
    cut is implied by its exact form). Equivalently lambda'P0 >= V(D+P0) - V(D+r) + lambda' E r:
    a subgradient inequality of the follower's convex value function; at a bilevel-feasible point
    it holds, while the big-M relaxation alone lets the LMPs drift far from any follower response.

    r_ref: (K, T, m) reference PCC demands; V_ref: (K, T) follower costs there (k$/h).
    """
    K, T = V_ref.shape
    cut = Rows(K * T)
    for j in range(K):
        rows = j * T + np.arange(T)[:, None]
        dem = d.D_pu.copy()
        np.add.at(dem.T, pcc_bus, r_ref[j].T)
        cut.add(rows, k.lam, dem)
        cut.add(rows, k.mu_u, -d.F_pu[None, :]); cut.add(rows, k.mu_l, -d.F_pu[None, :])
        cut.add(rows, k.nu_u, -d.gmax_pu[None, :]); cut.add(rows, k.nu_l, d.gmin_pu[None, :])
        cut.add(rows, v.tau, -d.c2[None, :])
        cut.rhs[j * T:(j + 1) * T] = V_ref[j]
    add_leq_rows(bld, "kkt.weak_duality_cut", cut)
