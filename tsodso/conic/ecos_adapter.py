"""ECOS adapter: apply -> solve -> invert, with one explicit status map.

apply   turns a `ConicProblem` plus (possibly node-tightened) bounds `lb, ub` into ECOS data:
        fixed variables (lb == ub) become equality rows appended to A; finite bounds become
        LP rows `-x_j <= -lb_j`, `x_j <= ub_j` placed after the model's LP rows and before
        the cones (ECOS wants every LP row before the cones).
solve   calls `ecos.solve`; the ECOS time is `info['timing']['runtime']`.
invert  maps x, the equality duals y and the inequality duals z back to the model's rows.

Dual sign convention (ECOS): the Lagrangian is  c'x + y'(Ax - b) + z'(Gx - h),  z in K*,
so stationarity reads  c + A'y + G'z = 0. For an equality row `a'x = b` the multiplier of
its right-hand side is -y (d objective / d b = -y).

Status map: ECOS exit flags 10, 11, 12 mean "close to optimal / infeasible / unbounded at
the reduced tolerances" and are *inaccurate*, never optimal. Callers that need a number
they can trust test `solution.status == OPTIMAL`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import scipy.sparse as sp

import ecos

from .problem import ConicProblem

__all__ = ["OPTIMAL", "INFEASIBLE", "UNBOUNDED", "OPTIMAL_INACCURATE", "INFEASIBLE_INACCURATE",
           "UNBOUNDED_INACCURATE", "STATUS_MAP", "ECOSDataError", "ConicSolution", "solve",
           "DEFAULT_TOLERANCES"]

OPTIMAL = "optimal"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
OPTIMAL_INACCURATE = "optimal_inaccurate"
INFEASIBLE_INACCURATE = "infeasible_inaccurate"
UNBOUNDED_INACCURATE = "unbounded_inaccurate"
MAX_ITERS = "max_iters"
NUMERICAL_ERROR = "numerical_error"
OUTSIDE_CONE = "outside_cone"
INTERRUPTED = "interrupted"
FATAL = "fatal"

# ECOS exit flag -> status (ecos.h: ECOS_OPTIMAL 0, ECOS_PINF 1, ECOS_DINF 2, ECOS_INACC_OFFSET
# 10, ECOS_MAXIT -1, ECOS_NUMERICS -2, ECOS_OUTCONE -3, ECOS_SIGINT -4, ECOS_FATAL -7).
STATUS_MAP = {
    0: OPTIMAL,
    1: INFEASIBLE,
    2: UNBOUNDED,
    10: OPTIMAL_INACCURATE,
    11: INFEASIBLE_INACCURATE,
    12: UNBOUNDED_INACCURATE,
    -1: MAX_ITERS,
    -2: NUMERICAL_ERROR,
    -3: OUTSIDE_CONE,
    -4: INTERRUPTED,
    -7: FATAL,
}

# ECOS defaults (ecos.h) written out so every run states its tolerances.
DEFAULT_TOLERANCES = dict(feastol=1e-8, abstol=1e-8, reltol=1e-8,
                          feastol_inacc=1e-4, abstol_inacc=5e-5, reltol_inacc=5e-5,
                          max_iters=100)


class ECOSDataError(ValueError):
    """Problem data that ECOS would mishandle (crash, hang or answer wrongly)."""


@dataclass
class ConicSolution:
    status: str
    exit_flag: int
    x: Optional[np.ndarray]
    objective: float                 # c'x + c0 (nan unless a point was returned)
    y: Optional[np.ndarray] = None   # duals of the model's equality rows (ECOS sign)
    z: Optional[np.ndarray] = None   # duals of the model's G rows (LP then cones)
    z_lb: Optional[np.ndarray] = None  # duals of finite lower bounds (>= 0), zeros elsewhere
    z_ub: Optional[np.ndarray] = None  # duals of finite upper bounds (>= 0), zeros elsewhere
    dual_objective: float = np.nan   # ECOS dcost + c0
    iterations: int = 0
    build_seconds: float = 0.0       # apply (data preparation), wall clock
    solve_seconds: float = 0.0       # ECOS runtime as ECOS reports it
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OPTIMAL


def _check_finite(name, arr):
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ECOSDataError(f"ECOS data: {name}[{i}] = {arr[i]} is not finite")


def apply(prob: ConicProblem, lb: Optional[np.ndarray] = None, ub: Optional[np.ndarray] = None):
    """ECOS data for `prob` with bounds `lb, ub` (defaults: the problem's own).

    Returns (data, inverse) where data holds c, G, h, dims, A, b and inverse what `invert`
    needs to map the answer back.
    """
    lb = prob.lb if lb is None else lb
    ub = prob.ub if ub is None else ub
    n = prob.n
    if np.any(lb > ub + 0.0):
        j = int(np.argmax(lb > ub))
        raise ECOSDataError(f"bounds cross at variable {j}: lb {lb[j]} > ub {ub[j]}")
    if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
        raise ECOSDataError("NaN in variable bounds")
    fixed = np.flatnonzero(lb == ub)
    free_l = np.flatnonzero(np.isfinite(lb) & (lb != ub))
    free_u = np.flatnonzero(np.isfinite(ub) & (lb != ub))
    nf, nl, nu = fixed.size, free_l.size, free_u.size

    A = prob.A
    b = prob.b
    if nf:
        Af = sp.csc_matrix((np.ones(nf), (np.arange(nf), fixed)), shape=(nf, n))
        A = sp.vstack([A, Af], format="csc")
        b = np.concatenate([b, lb[fixed]])
    Gb = sp.csc_matrix((np.concatenate([-np.ones(nl), np.ones(nu)]),
                        (np.arange(nl + nu), np.concatenate([free_l, free_u]))), shape=(nl + nu, n))
    hb = np.concatenate([-lb[free_l], ub[free_u]])
    G = sp.vstack([prob.G[: prob.n_lp], Gb, prob.G[prob.n_lp:]], format="csc")
    h = np.concatenate([prob.h[: prob.n_lp], hb, prob.h[prob.n_lp:]])
    if G.shape[0] == 0:
        raise ECOSDataError("ECOS needs at least one inequality or cone row; the problem has none")
    for name, arr in (("c", prob.c), ("b", b), ("h", h), ("A.data", A.data), ("G.data", G.data)):
        _check_finite(name, arr)
    if A.shape[0]:
        empty = np.flatnonzero(np.diff(A.tocsr().indptr) == 0)
        if empty.size:
            i = int(empty[0])
            raise ECOSDataError(f"equality row {i} of A is empty (rhs {b[i]}): ECOS's KKT "
                                "factorisation fails on rank-deficient A; remove the row")
    for M in (A, G):
        M.indices = M.indices.astype(np.int64, copy=False)
        M.indptr = M.indptr.astype(np.int64, copy=False)
    dims = {"l": int(prob.n_lp + nl + nu), "q": [int(q) for q in prob.cone_sizes], "e": 0}
    data = dict(c=np.asarray(prob.c, float), G=G, h=h, dims=dims,
                A=A if A.shape[0] else None, b=b if A.shape[0] else None)
    inverse = dict(n_eq=prob.n_eq, n_lp=prob.n_lp, nl=nl, nu=nu, free_l=free_l, free_u=free_u,
                   fixed=fixed, c0=prob.c0, n=n)
    return data, inverse


def invert(raw: dict, inverse: dict, build_seconds: float) -> ConicSolution:
    info = raw["info"]
    flag = int(info["exitFlag"])
    status = STATUS_MAP.get(flag, FATAL)
    n_lp, nl, nu, n = inverse["n_lp"], inverse["nl"], inverse["nu"], inverse["n"]
    x = np.asarray(raw["x"], float).copy()
    y = np.asarray(raw["y"], float)
    z = np.asarray(raw["z"], float)
    has_point = status in (OPTIMAL, OPTIMAL_INACCURATE, MAX_ITERS, NUMERICAL_ERROR)
    z_lb = np.zeros(n)
    z_ub = np.zeros(n)
    z_lb[inverse["free_l"]] = z[n_lp: n_lp + nl]
    z_ub[inverse["free_u"]] = z[n_lp + nl: n_lp + nl + nu]
    # fixed variables x_j = v_j: d objective / d v_j = -y_f (ECOS sign). A lower bound has
    # d obj / d lb = +z_lb, an upper bound d obj / d ub = -z_ub, so z_lb = (-y_f)_+, z_ub = (y_f)_+.
    yf = y[inverse["n_eq"]:]
    z_lb[inverse["fixed"]] += np.maximum(-yf, 0.0)
    z_ub[inverse["fixed"]] += np.maximum(yf, 0.0)
    timing = info.get("timing", {})
    return ConicSolution(
        status=status, exit_flag=flag,
        x=x if has_point else None,
        objective=float(info["pcost"] + inverse["c0"]) if has_point else np.nan,
        y=y[: inverse["n_eq"]].copy(),
        z=np.concatenate([z[:n_lp], z[n_lp + nl + nu:]]),
        z_lb=z_lb, z_ub=z_ub,
        dual_objective=float(info["dcost"] + inverse["c0"]),
        iterations=int(info.get("iter", 0)),
        build_seconds=build_seconds,
        solve_seconds=float(timing.get("runtime", np.nan)),
        info={k: v for k, v in info.items() if k != "timing"},
    )


def solve(prob: ConicProblem, lb=None, ub=None, verbose: bool = False, **tolerances) -> ConicSolution:
    """Solve the continuous relaxation of `prob` (integrality ignored) with ECOS."""
    t0 = time.perf_counter()
    data, inverse = apply(prob, lb, ub)
    opts = dict(DEFAULT_TOLERANCES)
    opts.update(tolerances)
    build = time.perf_counter() - t0
    raw = ecos.solve(data["c"], data["G"], data["h"], data["dims"], data["A"], data["b"],
                     verbose=verbose, **opts)
    return invert(raw, inverse, build)
