"""Node solve: the continuous relaxation with ECOS, statuses handled strictly.

Only ECOS's OPTIMAL is trusted. The attempts, in order, stop at the first trusted answer:

    0  the options' tolerances and max_iters
    1  row equilibration (every row of A, every LP row of G, every cone of G scaled by
       1 / its largest |coefficient|; a positive scale per cone keeps the cone)
    2  as 1 with max_iters x 5
    3  as 2 with feastol / abstol / reltol 10x looser (still ECOS's OPTIMAL at those tolerances)

(Order measured on a 2-ADN x 2 h model instance: every untrusted first attempt stayed
untrusted with 5x the iterations and became OPTIMAL after equilibration.)

`options.retries` limits the attempts after the first. Outcomes (`NodeResult.status`):

* "optimal": x and a bound. The node bound is min(pcost, dcost): ECOS's dual cost is a
  lower bound up to its residuals; taking the smaller of the two never overstates it.
* "infeasible": ECOS's certificate of primal infeasibility (exit 1) -> the node is pruned.
  INFEASIBLE_INACCURATE (11) is retried like any untrusted status.
* ECOS's certificate of dual infeasibility (exit 2, "unbounded") is retried like an
  inaccurate status: it proves nothing a B&B can use (no bound, no pruning), and ECOS
  returns it wrongly on some infeasible nodes (ecos_pr174 with x1 >= 4, x2 >= 8: exit 2 at
  tolerance 1e-8, exit 1 "primal infeasible" at 1e-7).
* "interrupted": ECOS exit -4 (its own SIGINT handler caught Ctrl-C) or a stop request
  (conic/interrupt.py) before an attempt: no retry; the caller stops, the node stays open.
* "time_limit": the solver's `deadline` (time.perf_counter() seconds, None = none) stopped
  the attempts before a trusted answer: an attempt is given the time left as its ECOS time
  budget (conic/ecos_adapter.py: max_iters capped from the measured seconds per iteration),
  and an attempt is not started when the time left allows fewer iterations than it needs
  (the first: MIN_ITERS; a retry: as many as the attempt before it ran, it repeats the same
  interior-point path on a rescaled or looser problem). x is the last point, if any (guidance
  only); the caller keeps the node open (its bound stays the inherited one).
* "untrusted": nothing trusted after every attempt. The caller must not prune on it; x is
  the last point ECOS returned (may be None), usable for branching decisions only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
import scipy.sparse as sp

from ..conic import ecos_adapter as ea
from ..conic import interrupt

__all__ = ["NodeResult", "NodeSolver", "equilibrate", "MIN_ITERS"]

# fewest ECOS iterations a first attempt is started with under a deadline: the DSO-led
# relaxations need 30-53 (5 ADNs x 24 h root: 30 at reltol 1e-6; 50 ADNs: 49), fewer cannot
# give a trusted answer on them and would only spend the time left
MIN_ITERS = 10


@dataclass
class NodeResult:
    status: str                        # optimal | infeasible | untrusted | interrupted | time_limit
    x: Optional[np.ndarray]
    objective: float                   # c'x + c0 (nan unless optimal)
    bound: float                       # valid lower bound (nan unless optimal)
    attempts: int                      # ECOS calls made
    inaccurate: int                    # of which ended with an untrusted status
    ecos_seconds: float
    ecos_statuses: tuple = ()


def equilibrate(prob):
    """A copy of `prob` with every row scaled by 1/max|coef| (cones: one factor per cone)."""
    def row_scale(M):
        if M.shape[0] == 0:
            return np.ones(0)
        mx = np.asarray(abs(M).max(axis=1).todense()).ravel()
        return np.where(mx > 0, 1.0 / np.where(mx > 0, mx, 1.0), 1.0)

    sa = row_scale(prob.A.tocsr())
    G = prob.G.tocsr()
    sg = row_scale(G)
    k = prob.n_lp
    for q in prob.cone_sizes:                  # one factor per cone
        sg[k: k + q] = sg[k: k + q].min()
        k += q
    A = sp.diags(sa) @ prob.A
    Gs = sp.diags(sg) @ prob.G
    return replace(prob, A=sp.csc_matrix(A), b=prob.b * sa, G=sp.csc_matrix(Gs), h=prob.h * sg)


class NodeSolver:
    """Solves node relaxations of one problem; counts and times every ECOS call."""

    def __init__(self, prob, options, deadline: Optional[float] = None):
        self.prob = prob
        self.opts = options
        self.deadline = deadline         # time.perf_counter() seconds; None = no time limit
        self.iter_seconds = None         # largest measured seconds per ECOS iteration (under a deadline)
        self._scaled = None
        self.calls = 0
        self.inaccurate = 0
        self.ecos_seconds = 0.0

    def _left(self):
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def _fits(self, left, iters) -> bool:
        """Could `iters` iterations run in `left` seconds (unknown speed: yes, the adapter probes)?"""
        return left > 0 and (self.iter_seconds is None or iters * self.iter_seconds <= left)

    def _attempts(self):
        o = self.opts
        base = o.ecos_tolerances
        more = dict(base, max_iters=5 * o.ecos_max_iters)
        loose = dict(more, feastol=10 * o.ecos_feastol, abstol=10 * o.ecos_abstol, reltol=10 * o.ecos_reltol)
        plan = [(False, base), (True, base), (True, more), (True, loose)]
        return plan[: 1 + o.retries]

    def _scaled_prob(self):
        if self._scaled is None:
            self._scaled = equilibrate(self.prob)
        return self._scaled

    def _all_fixed(self, lb, ub) -> NodeResult:
        """Every variable fixed: no ECOS call, the point is evaluated exactly."""
        x = lb.astype(float).copy()
        prob = self.prob
        scale = max(np.max(np.abs(prob.b), initial=0.0), np.max(np.abs(prob.h), initial=0.0))
        res = prob.residuals(x)
        if max(res["eq"], res["lp"], res["cone"]) <= self.opts.feas_tol * (1.0 + scale):
            obj = prob.objective(x)
            return NodeResult("optimal", x, obj, obj, 0, 0, 0.0, ("all_fixed",))
        return NodeResult("infeasible", None, np.nan, np.nan, 0, 0, 0.0, ("all_fixed",))

    def _with_dummy_row(self, prob):
        """ECOS needs one inequality row: append the redundant LP row 0'x <= 1."""
        G = sp.vstack([prob.G[: prob.n_lp], sp.csc_matrix((1, prob.n)), prob.G[prob.n_lp:]], format="csc")
        h = np.concatenate([prob.h[: prob.n_lp], [1.0], prob.h[prob.n_lp:]])
        return replace(prob, G=G, h=h, n_lp=prob.n_lp + 1)

    def solve(self, lb, ub) -> NodeResult:
        if np.all(lb == ub):
            return self._done(self._all_fixed(lb, ub))
        needs_row = (self.prob.G.shape[0] == 0
                     and not np.any((np.isfinite(lb) | np.isfinite(ub)) & (lb != ub)))
        attempts = inacc = 0
        secs = 0.0
        statuses = []
        last_x = None
        need = MIN_ITERS
        for scaled, tol in self._attempts():
            if interrupt.requested():          # Ctrl-C / SIGTERM: no (more) attempts
                return self._done(NodeResult("interrupted", last_x, np.nan, np.nan, attempts, inacc,
                                             secs, tuple(statuses)))
            left = self._left()
            if left is not None and not self._fits(left, need):
                statuses.append("not started (deadline)")
                return self._done(NodeResult("time_limit", last_x, np.nan, np.nan, attempts, inacc,
                                             secs, tuple(statuses)))
            prob = self._scaled_prob() if scaled else self.prob
            if needs_row:
                prob = self._with_dummy_row(prob)
            t0 = time.perf_counter()
            budget = {} if left is None else dict(time_budget=self.deadline - t0, iter_seconds=self.iter_seconds,
                                                  min_iters=min(need, tol.get("max_iters", need)))
            try:
                sol = ea.solve(prob, lb, ub, **budget, **tol)
                status, x = sol.status, sol.x
                if left is not None and np.isfinite(sol.iter_seconds):
                    self.iter_seconds = max(self.iter_seconds or 0.0, float(sol.iter_seconds))
            except ea.ECOSDataError:
                raise
            except Exception as exc:           # ECOS crashed: treat as untrusted
                sol, status, x = None, f"error: {exc}", None
            dt = time.perf_counter() - t0
            secs += dt
            attempts += 1
            statuses.append(status)
            if status == ea.OPTIMAL:
                bound = min(sol.objective, sol.dual_objective) if np.isfinite(sol.dual_objective) else sol.objective
                return self._done(NodeResult("optimal", x, sol.objective, bound, attempts, inacc, secs, tuple(statuses)))
            if status == ea.INFEASIBLE:
                return self._done(NodeResult("infeasible", None, np.nan, np.nan, attempts, inacc, secs, tuple(statuses)))
            if status == ea.INTERRUPTED:       # ECOS caught Ctrl-C (exit -4): a stop, not a bad solve
                return self._done(NodeResult("interrupted", x, np.nan, np.nan, attempts, inacc, secs, tuple(statuses)))
            inacc += 1
            if x is not None:
                last_x = x
            if status == ea.TIME_BUDGET:       # the deadline capped or skipped it: no retry
                return self._done(NodeResult("time_limit", last_x, np.nan, np.nan, attempts, inacc,
                                             secs, tuple(statuses)))
            if sol is not None:
                need = max(need, sol.iterations)
        return self._done(NodeResult("untrusted", last_x, np.nan, np.nan, attempts, inacc, secs, tuple(statuses)))

    def _done(self, res: NodeResult) -> NodeResult:
        self.calls += res.attempts
        self.inaccurate += res.inaccurate
        self.ecos_seconds += res.ecos_seconds
        return res
