"""Proximal bundle method for the Lagrangian dual  max_{lam: w >= 0} L(lam)  (lagrangian.py).

Cutting-plane model from the evaluated points lam_i (assembled block incumbents x_i):

    m(lam) = min_i  f_i(lam),   f_i(lam) = c'x_i + c0 + lam' g_i,   g_i = coupling residual at x_i

(each f_i >= L everywhere, so m >= L). Master problem at the stability centre lam^:

    max  m(lam) - (u / 2) ||lam - lam^||^2     s.t.  w >= 0

written for ECOS as  min -r + (u/2) t  s.t.  r - g_i'lam <= c'x_i + c0 (every cut i),
-w <= 0, and the rotated cone ||(2 (lam - lam^), t - 1)|| <= t + 1 (t >= ||lam - lam^||^2).
The candidate lam+ is evaluated; with the predicted increase delta = r - L(lam^):

* serious step when L(lam+) >= L(lam^) + m_serious * delta: the centre moves to lam+ and u
  halves if the step achieved more than half the prediction;
* null step otherwise: the cut at lam+ enriches the model and u grows by 1.5.

Stops when delta <= tol * max(1, |L(lam^)|) (the model cannot promise more), at the time or
iteration limit, or when the bound reaches `target` (e.g. the B&B's pruning cutoff). Every
evaluation goes through `Lagrangian.evaluate`, so the reported bound is the best proven one
seen (monotone), not the model value. Cuts whose master dual is zero are dropped once the
bundle holds `max_cuts`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ...conic import ProblemBuilder, interrupt
from ...conic import ecos_adapter as ea
from .lagrangian import Lagrangian, LagrangianValue

__all__ = ["BundleResult", "proximal_bundle"]


@dataclass
class BundleResult:
    best: LagrangianValue
    iterations: int
    serious_steps: int
    stop_reason: str                 # tolerance | time_limit | iterations | target | master | no_point
    seconds: float
    master_seconds: float


def _master(cuts: List[LagrangianValue], centre: np.ndarray, u: float, n_eq: int):
    """(lam+, predicted model value r, cut duals) or None if ECOS does not solve the master."""
    p = centre.size
    bld = ProblemBuilder()
    lo = np.full(p, -np.inf)
    lo[n_eq:] = 0.0
    lam = bld.var("lam", (p,), lo, np.inf)
    r = bld.var("r", (1,))
    t = bld.var("t", (1,), 0.0, np.inf)
    nc = len(cuts)
    G = np.array([c.subgradient for c in cuts])              # (nc, p)
    a = np.array([c.primal_cost for c in cuts])
    rows = np.concatenate([np.repeat(np.arange(nc), p), np.arange(nc)])
    cols = np.concatenate([np.tile(lam, nc), np.repeat(r, nc)])
    vals = np.concatenate([-G.reshape(-1), np.ones(nc)])
    bld.add_leq("cuts", rows, cols, vals, a)
    crow = np.concatenate([[0], 1 + np.arange(p), [p + 1]])
    ccol = np.concatenate([t, lam, t])
    cval = np.concatenate([[1.0], 2.0 * np.ones(p), [1.0]])
    const = np.concatenate([[1.0], -2.0 * centre, [-1.0]])
    bld.add_cones("prox", crow, ccol, cval, const, p + 2)
    bld.add_cost(r, -1.0)
    bld.add_cost(t, 0.5 * u)
    prob = bld.build()
    sol = ea.solve(prob, reltol=1e-9, abstol=1e-10, feastol=1e-9, max_iters=200)
    if sol.status not in (ea.OPTIMAL, ea.OPTIMAL_INACCURATE) or sol.x is None:
        return None
    x = sol.x
    lam_new = x[lam].copy()
    lam_new[n_eq:] = np.maximum(lam_new[n_eq:], 0.0)
    # the model value at lam+, recomputed exactly from the cuts
    model = float(np.min(a + G @ lam_new))
    return lam_new, model, np.asarray(sol.z[:nc], float)


def proximal_bundle(lag: Lagrangian, start: LagrangianValue, time_limit: float = math.inf,
                    max_iters: int = 50, target: float = math.inf, tol: float = 1e-7,
                    m_serious: float = 0.1, max_cuts: int = 40, u0: Optional[float] = None,
                    gap_hint: Optional[float] = None, log=None) -> BundleResult:
    """Improve the Lagrangian bound from the evaluated point `start` (module docstring).

    u0: initial proximal weight; default ||g0||^2 / (2 delta0) with delta0 = gap_hint (the
    increase one expects, e.g. half of incumbent - bound) or 1e-3 max(1, |L0|).
    """
    t0 = time.perf_counter()
    n_eq = lag.dec.coupling_eq.size
    if start.x is None or start.subgradient is None or not start.trusted:
        return BundleResult(start, 0, 0, "no_point", 0.0, 0.0)
    centre = start
    cuts = [start]
    g0 = start.subgradient
    gn = float(g0 @ g0)
    d0 = gap_hint if (gap_hint is not None and gap_hint > 0) else 1e-3 * max(1.0, abs(start.bound))
    u = u0 if u0 is not None else max(gn / (2.0 * d0), 1e-12)
    it = serious = 0
    master_s = 0.0
    stop = "iterations"
    best = start
    while it < max_iters:
        if best.bound >= target:
            stop = "target"
            break
        if time.perf_counter() - t0 >= time_limit:
            stop = "time_limit"
            break
        if interrupt.requested():        # SIGINT / SIGTERM: the B&B on top stops as well
            stop = "interrupted"
            break
        tm = time.perf_counter()
        out = _master(cuts, centre.lam, u, n_eq)
        master_s += time.perf_counter() - tm
        if out is None:
            stop = "master"
            break
        lam_new, model, duals = out
        delta = model - centre.bound
        if delta <= tol * max(1.0, abs(centre.bound)):
            stop = "tolerance"
            break
        val = lag.evaluate(lam_new)
        it += 1
        if val.bound > best.bound:
            best = val
        if val.x is None or not val.trusted:
            stop = "no_point"
            break
        kind = "null"
        if val.bound >= centre.bound + m_serious * delta:
            kind = "serious"
            serious += 1
            if val.bound - centre.bound >= 0.5 * delta:
                u *= 0.5
            centre = val
        else:
            u *= 1.5
        if log is not None:
            log(f"bundle it {it:3d} {kind:7s} L {val.bound:.9g} centre {centre.bound:.9g} "
                f"pred {model:.9g} u {u:.3g} cuts {len(cuts)} ({val.seconds:.2f} s)")
        # bundle management: keep active cuts (dual > 0) once the bundle is full
        if len(cuts) >= max_cuts:
            keep = [c for c, d in zip(cuts, duals) if d > 1e-9]
            cuts = keep[-(max_cuts - 1):] if keep else cuts[-(max_cuts - 1):]
        cuts.append(val)
    return BundleResult(best, it, serious, stop, time.perf_counter() - t0, master_s)
