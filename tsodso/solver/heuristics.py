"""Primal heuristics. Every point they produce is certified by `Certifier.check` before it
may become the incumbent; no heuristic can make the search wrong, only slower.

1. fix_and_solve (integral-relaxation detection): when a relaxation point satisfies every
   integrality and complementarity requirement within tolerance, round the integers (an
   implied binary whose pair holds takes its consistent value, see branching.py), fix
   them (lb = ub = rounded), in branch mode fix the smaller side of every pair to 0, and
   re-solve the continuous problem with ECOS. Its point, with the fixed variables set
   exactly, is the candidate (also after an inaccurate ECOS status: feasibility is decided
   by the certificate below, not by ECOS's status).
2. rounding_dive: a relaxation point with fractional integers: fix the near-integral
   integers and the half of the fractional ones nearest to an integer, re-solve, repeat
   (`dive_rounds` times) until all are integral, then fix_and_solve.
3. user heuristics: `callable(prob, x_relax, lb, ub) -> x or None`, registered with
   `solve(..., heuristics=[...])`; exceptions in them are reported, not raised.

Certification (`Certifier.check`): every entry of `prob.residuals(x)` other than integrality
is <= feas_tol (absolute; a tolerance relative to max(|b|, |h|) let a model point with
LP residual 8e-6 through whose objective beat a trusted relaxation bound), integrality <= 1e-9 (integers are snapped
before the check), x within the root bounds up to the same tolerance, and every
complementarity pair satisfies min(x_a, x_b) <= comp_tol.
"""
from __future__ import annotations

import time
import traceback
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from ..conic import interrupt
from .branching import branch_fractional, implied_binaries, implied_rounding

__all__ = ["Certifier", "fix_and_solve", "rounding_dive", "run_user_heuristics"]


class Certifier:
    def __init__(self, prob, opts, pairs):
        self.prob = prob
        self.pairs = pairs
        self.tol = opts.feas_tol          # absolute, per row (as SCIP's feastol)
        self.comp_tol = opts.comp_tol
        self.rejected = 0
        self.last_reason = ""

    def check(self, x) -> Tuple[bool, str]:
        prob = self.prob
        x = np.asarray(x, float)
        if x.shape != (prob.n,) or not np.all(np.isfinite(x)):
            return self._no("shape or non-finite entries")
        res = prob.residuals(x)
        for k in ("eq", "lp", "cone", "bound"):
            if res[k] > self.tol:
                return self._no(f"{k} residual {res[k]:.3g} > {self.tol:.3g}")
        if res["integrality"] > 1e-9:
            return self._no(f"integrality {res['integrality']:.3g}")
        if self.pairs is not None and len(self.pairs):
            m = np.minimum(x[self.pairs[:, 0]], x[self.pairs[:, 1]])
            if m.max() > self.comp_tol:
                return self._no(f"complementarity {m.max():.3g} > {self.comp_tol:.3g}")
        return True, ""

    def _no(self, why):
        self.rejected += 1
        self.last_reason = why
        return False, why


def fix_and_solve(prob, node_solver, x, lb, ub, opts, pairs) -> Optional[np.ndarray]:
    """Round and fix the integers (and the zero side of pairs in branch mode), re-solve."""
    lb = lb.copy()
    ub = ub.copy()
    ints = prob.integer
    if ints.size:
        r = np.clip(np.round(x[ints]), lb[ints], ub[ints])
        lb[ints] = r
        ub[ints] = r
        j, v, _ = implied_rounding(x, implied_binaries(prob), opts.comp_tol)
        v = np.clip(v, lb[j], ub[j]) if j.size else v
        lb[j] = v
        ub[j] = v
    if opts.complementarity == "branch" and pairs is not None and len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        side = np.where(x[a] <= x[b], a, b)
        ub[side] = np.maximum(lb[side], 0.0)
        if np.any(lb[side] > 0):
            return None
    res = node_solver.solve(lb, ub)
    if res.x is None or res.status == "interrupted":   # infeasible, no point, or a stop request
        return None
    # An untrusted (inaccurate) answer is still a point: the Certifier decides, on the
    # residuals alone, whether it is feasible. Only bounds and pruning need a trusted status.
    y = res.x.copy()
    fixed = lb == ub
    y[fixed] = lb[fixed]
    if ints.size:
        y[ints] = np.round(y[ints]) + 0.0     # +0.0 turns -0.0 into 0.0
    return y


def _past(deadline) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def rounding_dive(prob, node_solver, x, lb, ub, opts, pairs, deadline=None) -> Optional[np.ndarray]:
    """`deadline` (time.perf_counter() seconds): no new ECOS solve is started after it, so a
    dive overshoots the time limit by at most one solve."""
    lb = lb.copy()
    ub = ub.copy()
    ints = prob.integer
    for _ in range(opts.dive_rounds):
        fr, f = branch_fractional(prob, x, opts.int_tol, opts.comp_tol)
        integral = np.setdiff1d(ints, fr)
        rx = np.round(x)
        j, v, _ = implied_rounding(x, implied_binaries(prob), opts.comp_tol)
        rx[j] = v
        r = np.clip(rx[integral], lb[integral], ub[integral])
        lb[integral] = r
        ub[integral] = r
        if fr.size == 0:
            break
        dist = np.minimum(f, 1 - f)
        order = np.argsort(dist)
        pick = fr[order[: max(1, fr.size // 2)]]
        r = np.clip(np.round(x[pick]), lb[pick], ub[pick])
        lb[pick] = r
        ub[pick] = r
        if _past(deadline):
            return None
        res = node_solver.solve(lb, ub)
        if res.x is None or res.status == "interrupted":
            return None
        x = res.x                       # guidance only; the final point is certified
    if _past(deadline):
        return None
    return fix_and_solve(prob, node_solver, x, lb, ub, opts, pairs)


def run_user_heuristics(hooks: Sequence[Callable], prob, x, lb, ub, log=None, deadline=None):
    """Yields (name, point) for every non-None answer of the user heuristics.

    `deadline` (time.perf_counter() seconds): hooks are not started after it, and a hook with
    a `deadline` attribute gets it set before its call (it should start no solve after it)."""
    for h in hooks:
        if _past(deadline) or interrupt.requested():   # time up, or Ctrl-C / SIGTERM
            return
        if hasattr(h, "deadline"):
            h.deadline = deadline
        name = getattr(h, "__name__", repr(h))
        try:
            y = h(prob, None if x is None else x.copy(), lb.copy(), ub.copy())
        except Exception:               # a user heuristic must not stop the search
            if log is not None:
                log.warning(f"heuristic {name} raised:\n{traceback.format_exc()}")
            continue
        if y is not None:
            yield name, np.asarray(y, float)
