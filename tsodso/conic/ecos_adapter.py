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
they can trust test `solution.status == OPTIMAL`. Exit flag -4 (ECOS caught a Ctrl-C) is
INTERRUPTED and sets the process-wide stop request (conic/interrupt.py).

Time budget (`solve(..., time_budget=S)`): ECOS's Python binding has no time limit and a
solve cannot be interrupted from Python (nor warm-started), so a budget is kept by capping
`max_iters`. The seconds per interior-point iteration come from the caller (`iter_seconds`,
e.g. `ConicSolution.iter_seconds` of an earlier solve of the same problem) or from a probe:
one ECOS call with max_iters = 1, whose solve time covers the initialisation (one KKT
factorisation and two solves) and one iteration, so tsolve / 2 estimates one iteration.
Measured (DSO-led 24-h roots, reltol 1e-6, idle machine): 5 ADNs probe 0.29 s, estimate 0.069
s/iteration, full solve 0.054 s/iteration over 30; 20 ADNs 1.35 s, 0.30 vs 0.335 over 37;
50 ADNs 8.7 s, 3.5 vs 2.93 over 49. The cap is
    max_iters' = min(max_iters, floor(BUDGET_SAFETY * (budget left - setup) / iter_seconds))
(budget left after apply and the probe; setup = ECOS's own setup time of the probe, or 0).
A call whose cap is below `min_iters` does not start ECOS at all (status TIME_BUDGET, no
point): a solve that cannot reach the iterations it needs would only spend the budget. A
capped solve that stops at its cap has status TIME_BUDGET (with ECOS's last point, for
guidance only): untrusted, never a bound, like MAX_ITERS. A cap at or above the requested
max_iters changes nothing: the same ECOS call as without a budget. The probe's iterations
are lost (ECOS has no warm start); the probe itself cannot be capped, so a budget shorter
than the probe is overshot by the probe (8.7 s at 50 ADNs idle).
"""
from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import scipy.sparse as sp

import ecos

from . import interrupt
from .problem import ConicProblem

__all__ = ["OPTIMAL", "INFEASIBLE", "UNBOUNDED", "OPTIMAL_INACCURATE", "INFEASIBLE_INACCURATE",
           "UNBOUNDED_INACCURATE", "TIME_BUDGET", "STATUS_MAP", "ECOSDataError", "ConicSolution", "solve",
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
TIME_BUDGET = "time_budget"        # not an ECOS flag: the call's time budget capped or skipped it

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


# An equality / LP row whose every variable is fixed is checked against this relative tolerance.
FIXED_ROW_TOL = 1e-9
COL_SCALE_MIN = 10.0     # |bound| above which a continuous column is scaled to unit range (apply)
BUDGET_SAFETY = 0.85     # share of the budget left that the capped iterations may take (module doc)
PROBE_ITERS = 1          # iterations of the calibration probe (its tsolve / (PROBE_ITERS + 1) per iteration)


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
    solve_seconds: float = 0.0       # ECOS runtime as ECOS reports it (the probe's included)
    info: dict = field(default_factory=dict)
    iter_seconds: float = np.nan     # seconds per ECOS iteration measured here (nan: no ECOS call)
    max_iters_cap: Optional[int] = None   # max_iters after the time budget (None: no budget)

    @property
    def ok(self) -> bool:
        return self.status == OPTIMAL


def _check_finite(name, arr):
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ECOSDataError(f"ECOS data: {name}[{i}] = {arr[i]} is not finite")


def apply(prob: ConicProblem, lb: Optional[np.ndarray] = None, ub: Optional[np.ndarray] = None,
          scale_columns: bool = True):
    """ECOS data for `prob` with bounds `lb, ub` (defaults: the problem's own).

    Column scaling (`scale_columns`): a continuous variable whose largest finite bound exceeds
    `COL_SCALE_MIN` in magnitude is passed to ECOS as x' = x / d with d that bound, so every
    variable ECOS sees has bounds within [-COL_SCALE_MIN, COL_SCALE_MIN] or [-1, 1]. Rows are not
    scaled, so equality/inequality/cone residuals and their duals are the same in both spaces;
    a bound row of x' is the bound row of x divided by d, so its multiplier is d times the
    original one (`invert` divides it back). Measured on the default case (5 ADNs x 24 h root):
    the 35 KKT duals with big-M bounds up to 556 left unfixed by the KKT presolve made ECOS
    take 98 iterations (3.5-4.4 s); scaled, 53 iterations (2.1-2.8 s), same optimum to 1e-8
    relative. Integer variables are never scaled.

    Fixed variables (lb == ub) are eliminated: their columns move to the right-hand sides and
    the objective constant (ECOS's KKT system degrades with many singleton equality rows,
    which deep B&B nodes and fix-and-solve heuristics produce). Rows left without entries are
    dropped when their right-hand side is satisfied (tolerance `FIXED_ROW_TOL`, relative) and
    make the problem trivially infeasible otherwise (`inverse['trivial']` says which row).

    Returns (data, inverse) where data holds c, G, h, dims, A, b and inverse what `invert`
    needs to map the answer back.
    """
    lb = prob.lb if lb is None else lb
    ub = prob.ub if ub is None else ub
    n = prob.n
    if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
        raise ECOSDataError("NaN in variable bounds")
    if np.any(lb > ub):
        j = int(np.argmax(lb > ub))
        raise ECOSDataError(f"bounds cross at variable {j}: lb {lb[j]} > ub {ub[j]}")
    for name, arr in (("c", prob.c), ("b", prob.b), ("h", prob.h), ("A.data", prob.A.data),
                      ("G.data", prob.G.data)):
        _check_finite(name, arr)
    fixed = np.flatnonzero(lb == ub)
    keep = np.flatnonzero(lb != ub)
    xF = lb[fixed]
    A_all, G_all = prob.A.tocsc(), prob.G.tocsc()
    b = prob.b - (A_all[:, fixed] @ xF if fixed.size else 0.0)
    h = prob.h - (G_all[:, fixed] @ xF if fixed.size else 0.0)
    c0 = prob.c0 + float(prob.c[fixed] @ xF)
    A = A_all[:, keep]
    G = G_all[:, keep]
    scale = np.ones(keep.size)
    if scale_columns and keep.size:
        lk, uk = lb[keep], ub[keep]
        mag = np.maximum(np.where(np.isfinite(lk), np.abs(lk), 0.0), np.where(np.isfinite(uk), np.abs(uk), 0.0))
        big = mag > COL_SCALE_MIN
        if prob.integer.size:
            big &= ~np.isin(keep, prob.integer)
        if np.any(big):
            scale[big] = mag[big]
            D = sp.diags(scale)
            A = (A @ D).tocsc()
            G = (G @ D).tocsc()
    trivial = None
    # equality rows without entries
    a_nnz = np.diff(A.tocsr().indptr) if A.shape[0] else np.zeros(0, int)
    a_rows = np.flatnonzero(a_nnz > 0)
    for i in np.flatnonzero(a_nnz == 0):
        if abs(b[i]) > FIXED_ROW_TOL * max(1.0, abs(prob.b[i])):
            trivial = f"equality row {i} violated by fixed variables (residual {b[i]:.3g})"
            break
    g_nnz = np.diff(G.tocsr().indptr) if G.shape[0] else np.zeros(0, int)
    lp_rows = np.flatnonzero(g_nnz[: prob.n_lp] > 0)
    for i in np.flatnonzero(g_nnz[: prob.n_lp] == 0):
        if h[i] < -FIXED_ROW_TOL * max(1.0, abs(prob.h[i])):
            trivial = trivial or f"inequality row {i} violated by fixed variables (residual {h[i]:.3g})"
    cone_rows = np.arange(prob.n_lp, G.shape[0])
    nk = keep.size
    lbk, ubk = lb[keep] / scale, ub[keep] / scale
    free_l = np.flatnonzero(np.isfinite(lbk))
    free_u = np.flatnonzero(np.isfinite(ubk))
    nl, nu = free_l.size, free_u.size
    Ar = A[a_rows]
    Gb = sp.csc_matrix((np.concatenate([-np.ones(nl), np.ones(nu)]),
                        (np.arange(nl + nu), np.concatenate([free_l, free_u]))), shape=(nl + nu, nk))
    hb = np.concatenate([-lbk[free_l], ubk[free_u]])
    parts = [G[lp_rows], Gb]
    hparts = [h[lp_rows], hb]
    dummy = lp_rows.size + nl + nu == 0 and cone_rows.size == 0 and nk > 0
    if dummy:   # ECOS needs at least one inequality row with an entry: 0 x_0 <= 1 (stored zero)
        dz = sp.csc_matrix((np.zeros(1), (np.zeros(1, int), np.zeros(1, int))), shape=(1, nk))
        parts.append(dz); hparts.append(np.ones(1))
    Gr = sp.vstack(parts + [G[cone_rows]], format="csc")
    if dummy and Gr.nnz == 0:   # vstack may drop the stored zero
        Gr = sp.csc_matrix((np.zeros(1), np.zeros(1, np.int64), np.r_[0, np.ones(nk, np.int64)]), shape=(1, nk))
    hr = np.concatenate(hparts + [h[cone_rows]])
    for M in (Ar, Gr):
        M.sort_indices()
        M.indices = M.indices.astype(np.int64, copy=False)
        M.indptr = M.indptr.astype(np.int64, copy=False)
    n_lp_red = lp_rows.size + nl + nu + int(dummy)
    dims = {"l": int(n_lp_red), "q": [int(q) for q in prob.cone_sizes], "e": 0}
    data = dict(c=np.asarray(prob.c[keep], float) * scale, G=Gr, h=hr, dims=dims,
                A=Ar if Ar.shape[0] else None, b=b[a_rows] if Ar.shape[0] else None)
    inverse = dict(n_eq=prob.n_eq, n_lp=prob.n_lp, nl=nl, nu=nu, free_l=keep[free_l],
                   free_u=keep[free_u], fixed=fixed, keep=keep, xF=xF, c0=c0, n=n,
                   a_rows=a_rows, lp_rows=lp_rows, n_lp_red=n_lp_red, n_cone=cone_rows.size,
                   trivial=trivial, prob=prob, scale=scale, scale_l=scale[free_l], scale_u=scale[free_u])
    return data, inverse


def invert(raw: dict, inverse: dict, build_seconds: float) -> ConicSolution:
    info = raw["info"]
    flag = int(info["exitFlag"])
    status = STATUS_MAP.get(flag, FATAL)
    n, keep, fixed = inverse["n"], inverse["keep"], inverse["fixed"]
    nl, nu = inverse["nl"], inverse["nu"]
    prob = inverse["prob"]
    xr = np.asarray(raw["x"], float)
    yr = np.asarray(raw["y"], float)
    zr = np.asarray(raw["z"], float)
    has_point = status in (OPTIMAL, OPTIMAL_INACCURATE, MAX_ITERS, NUMERICAL_ERROR)
    x = np.zeros(n)
    x[keep] = xr * inverse["scale"]
    x[fixed] = inverse["xF"]
    y = np.zeros(inverse["n_eq"])
    y[inverse["a_rows"]] = yr[: inverse["a_rows"].size]
    nlp = inverse["lp_rows"].size
    z = np.zeros(inverse["n_lp"] + inverse["n_cone"])
    z[inverse["lp_rows"]] = zr[:nlp]
    z[inverse["n_lp"]:] = zr[inverse["n_lp_red"]:]
    z_lb = np.zeros(n)
    z_ub = np.zeros(n)
    z_lb[inverse["free_l"]] = zr[nlp: nlp + nl] / inverse["scale_l"]
    z_ub[inverse["free_u"]] = zr[nlp + nl: nlp + nl + nu] / inverse["scale_u"]
    if fixed.size:
        # reduced cost r = c + A'y + G'z of an eliminated variable: stationarity with bound
        # multipliers, c + A'y + G'z - z_lb + z_ub = 0, gives z_lb = (r)_+, z_ub = (-r)_+.
        r = prob.c[fixed] + prob.A[:, fixed].T @ y + prob.G[:, fixed].T @ z
        z_lb[fixed] = np.maximum(r, 0.0)
        z_ub[fixed] = np.maximum(-r, 0.0)
    timing = info.get("timing", {})
    return ConicSolution(
        status=status, exit_flag=flag,
        x=x if has_point else None,
        objective=float(info["pcost"] + inverse["c0"]) if has_point else np.nan,
        y=y, z=z, z_lb=z_lb, z_ub=z_ub,
        dual_objective=float(info["dcost"] + inverse["c0"]),
        iterations=int(info.get("iter", 0)),
        build_seconds=build_seconds,
        solve_seconds=float(timing.get("runtime", np.nan)),
        info={k: v for k, v in info.items() if k != "timing"},
    )


def _ecos(data, verbose, opts):
    raw = ecos.solve(data["c"], data["G"], data["h"], data["dims"], data["A"], data["b"],
                     verbose=verbose, **opts)
    if raw["info"]["exitFlag"] == -4:
        # ECOS_SIGINT: ECOS's own SIGINT handler caught a Ctrl-C (Python's handler never saw
        # it). Under the CLI's handlers: record the stop request so the caller stops instead
        # of retrying; in library use: the usual KeyboardInterrupt (the B&B turns it into
        # status "interrupted"), so no stop request outlives the call.
        if not interrupt.active():
            raise KeyboardInterrupt
        interrupt.request(signal.SIGINT)
    return raw


def _iteration_seconds(raw) -> float:
    """ECOS's solve time per iteration, the initialisation counted as one (module doc)."""
    info = raw["info"]
    t = float(info.get("timing", {}).get("tsolve", np.nan))
    return t / (int(info.get("iter", 0)) + 1)


def solve(prob: ConicProblem, lb=None, ub=None, verbose: bool = False, time_budget: Optional[float] = None,
          iter_seconds: Optional[float] = None, min_iters: int = 1, **tolerances) -> ConicSolution:
    """Solve the continuous relaxation of `prob` (integrality ignored) with ECOS.

    `time_budget` (seconds of wall clock for this call, None = none): max_iters is capped so
    that ECOS ends within it (module doc, "Time budget"); `iter_seconds`: the caller's
    estimate of seconds per iteration for this problem (None: a probe measures it);
    `min_iters`: a call whose cap is below this does not start ECOS (status TIME_BUDGET)."""
    t0 = time.perf_counter()
    data, inverse = apply(prob, lb, ub)
    opts = dict(DEFAULT_TOLERANCES)
    opts.update(tolerances)
    build = time.perf_counter() - t0
    if inverse["trivial"] is not None:
        return ConicSolution(status=INFEASIBLE, exit_flag=1, x=None, objective=np.nan,
                             build_seconds=build, info={"infostring": inverse["trivial"]})
    if data["c"].size == 0:
        # every variable fixed: the point is feasible iff every cone row holds
        x = np.zeros(inverse["n"])
        x[inverse["fixed"]] = inverse["xF"]
        res = prob.residuals(x)
        ok = max(res["eq"], res["lp"], res["cone"]) <= 1e-9
        return ConicSolution(status=OPTIMAL if ok else INFEASIBLE, exit_flag=0 if ok else 1,
                             x=x if ok else None, objective=prob.objective(x) if ok else np.nan,
                             y=np.zeros(prob.n_eq), z=np.zeros(prob.G.shape[0]),
                             z_lb=np.zeros(prob.n), z_ub=np.zeros(prob.n),
                             dual_objective=prob.objective(x) if ok else np.nan,
                             build_seconds=build, info={"infostring": "all variables fixed"})
    cap = None
    probe_seconds = 0.0
    requested = int(opts.get("max_iters", DEFAULT_TOLERANCES["max_iters"]))
    if time_budget is not None and math.isfinite(time_budget):
        setup = 0.0
        known = iter_seconds is not None and math.isfinite(iter_seconds) and iter_seconds > 0
        if not known and time_budget - (time.perf_counter() - t0) > 0:
            raw = _ecos(data, verbose, dict(opts, max_iters=PROBE_ITERS))
            timing = raw["info"].get("timing", {})
            if int(raw["info"]["exitFlag"]) not in (-1, 10, 11, 12):
                # stopped by its own criteria before the cap (optimal, certificate, numerics,
                # Ctrl-C): ECOS is deterministic, so this is the uncapped call's answer
                sol = invert(raw, inverse, build)
                sol.iter_seconds = _iteration_seconds(raw)
                sol.max_iters_cap = requested
                return sol
            probe_seconds = float(timing.get("runtime", 0.0))
            setup = float(timing.get("tsetup", 0.0))
            iter_seconds, known = _iteration_seconds(raw), True
        left = time_budget - (time.perf_counter() - t0) - setup
        n_fit = int(math.floor(BUDGET_SAFETY * left / iter_seconds)) if known and left > 0 else 0
        cap = max(0, min(requested, n_fit))
        if cap < max(1, int(min_iters)):
            return ConicSolution(status=TIME_BUDGET, exit_flag=-1, x=None, objective=np.nan,
                                 build_seconds=build, solve_seconds=probe_seconds,
                                 iter_seconds=iter_seconds if known else np.nan, max_iters_cap=cap,
                                 info={"infostring": f"time budget {time_budget:.3g} s allows {cap} "
                                                     f"iterations (< {max(1, int(min_iters))}): not started"})
        opts["max_iters"] = cap
    raw = _ecos(data, verbose, opts)
    sol = invert(raw, inverse, build)
    sol.solve_seconds += probe_seconds
    sol.iter_seconds = _iteration_seconds(raw) if int(raw["info"].get("iter", 0)) > 0 else (
        iter_seconds if iter_seconds is not None else np.nan)
    sol.max_iters_cap = cap
    if cap is not None and cap < requested and sol.exit_flag in (-1, 10, 11, 12) and sol.iterations >= cap:
        # stopped at the budget's cap (ECOS reports MAX_ITERS, or an inaccurate status when its
        # reduced tolerances hold at the cap): untrusted, and the budget, not the data, stopped it
        sol.status = TIME_BUDGET
    return sol
