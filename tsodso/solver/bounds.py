"""Bound bookkeeping: incumbent (primal bound), best bound (dual bound), gap, stop reason.

Done once and monotone, in the manner of MindtPy's `update_dual_bound`:
* the incumbent (objective of the best certified feasible point) never increases;
* the best bound never decreases; NaN updates are ignored; it is capped at the incumbent
  (a bound above the incumbent only means the tree is exhausted);
* both are time-stamped in `incumbent_history` and `bound_history` at every change.

The gap is computed here and nowhere else (minimisation):

    abs_gap = incumbent - best_bound                       (objective units; inf without incumbent)
    rel_gap = abs_gap / max(gap_floor, |incumbent|)        (gap_floor, objective units, keeps the
                                                            ratio meaningful for objectives near 0)

`gap_floor` (BnBOptions.gap_floor, default 1 objective unit) only matters when |incumbent| <
gap_floor; the schemes set it to 1 $ (1e-3 in their k$ objective), so a relative request is
never loosened on objectives of a few hundred $ (with a floor of 1 k$, 0.099 $ / 737.93 $ =
1.34e-4 passed as "within 1e-4"). The search has converged when abs_gap <= options.abs_gap
or rel_gap <= options.rel_gap, and only with an incumbent and a finite best bound: no
tolerance (not even rel_gap = inf) makes "no solution" or "no bound" optimal.
`prune_cutoff` is the matching node-pruning threshold: a node whose bound is >= cutoff
cannot improve the incumbent by more than the tolerance. Its bound is remembered in
`closed_floor` so that the reported best bound stays honest.
"""
from __future__ import annotations

import math
import time
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["BoundTracker", "STOP_REASONS", "gap", "tolerance"]

STOP_REASONS = ("gap", "infeasible", "time_limit", "node_limit", "interrupted", "no_open_nodes")


def gap(incumbent: float, bound: float, floor: float = 1.0) -> Tuple[float, float]:
    """(abs_gap, rel_gap) for minimisation; see the module docstring."""
    if not math.isfinite(incumbent):
        return math.inf, math.inf
    if bound == math.inf:                 # every node closed above the incumbent
        return 0.0, 0.0
    a = max(0.0, incumbent - bound)
    return a, a / max(floor, abs(incumbent))


def tolerance(obj: float, abs_tol: float, rel_tol: float, floor: float = 1.0) -> float:
    """The largest incumbent - bound accepted as converged at objective `obj`."""
    return max(abs_tol, rel_tol * max(floor, abs(obj)))


class BoundTracker:
    def __init__(self, abs_tol: float, rel_tol: float, t0: Optional[float] = None,
                 floor: float = 1.0):
        self.abs_tol = abs_tol
        self.rel_tol = rel_tol
        self.floor = floor
        self.t0 = time.perf_counter() if t0 is None else t0
        self.incumbent = math.inf
        self.x: Optional[np.ndarray] = None
        self.bound = -math.inf
        self.closed_floor = math.inf      # min bound of nodes closed without proof of exceeding the incumbent
        self.incumbent_history: List[Tuple[float, float]] = []
        self.bound_history: List[Tuple[float, float]] = []
        self.incumbent_source: Optional[str] = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    # ---------------------------------------------------------------- primal
    def offer(self, obj: float, x: np.ndarray, source: str = "") -> bool:
        """A certified feasible point; becomes the incumbent if strictly better."""
        if obj is None or not math.isfinite(obj) or obj >= self.incumbent:
            return False
        self.incumbent = float(obj)
        self.x = np.array(x, float, copy=True)
        self.incumbent_source = source
        self.incumbent_history.append((self.elapsed(), self.incumbent))
        if self.bound > self.incumbent:   # keep bound <= incumbent
            self.bound = self.incumbent
        return True

    # ---------------------------------------------------------------- dual
    def close(self, node_bound: float) -> None:
        """A node left the tree for a reason other than bound > incumbent (e.g. tolerance)."""
        if not math.isnan(node_bound):
            self.closed_floor = min(self.closed_floor, node_bound)

    def update_bound(self, open_min: float) -> float:
        """New best bound from the open nodes' minimum; monotone, NaN-safe, capped."""
        if math.isnan(open_min):
            return self.bound
        cand = min(open_min, self.closed_floor, self.incumbent)
        if cand > self.bound:
            self.bound = cand
            self.bound_history.append((self.elapsed(), self.bound))
        return self.bound

    # ---------------------------------------------------------------- gap
    def gap(self) -> Tuple[float, float]:
        return gap(self.incumbent, self.bound, self.floor)

    def tolerance(self, obj: float) -> float:
        return tolerance(obj, self.abs_tol, self.rel_tol, self.floor)

    def converged(self) -> bool:
        if not math.isfinite(self.incumbent) or math.isnan(self.bound) or self.bound == -math.inf:
            return False                  # optimal needs a solution and a finite bound
        a, r = self.gap()
        return a <= self.abs_tol or r <= self.rel_tol

    def prune_cutoff(self) -> float:
        """Nodes with bound >= this cannot beat the incumbent by more than the tolerance."""
        if not math.isfinite(self.incumbent):
            return math.inf
        return self.incumbent - self.tolerance(self.incumbent)


def rounded_root_bounds(prob, int_tol: float):
    """The problem's variable bounds (copies) with the integer ones rounded inwards:
    ceil(lb - int_tol) and floor(ub + int_tol) (the root bounds of every tree search)."""
    lb = np.asarray(prob.lb, float).copy()
    ub = np.asarray(prob.ub, float).copy()
    if prob.integer.size:
        ii = prob.integer
        lb[ii] = np.ceil(lb[ii] - int_tol)
        ub[ii] = np.floor(ub[ii] + int_tol)
    return lb, ub
