"""Branch-and-bound over a `ConicProblem`: the search loop, and nothing else.

    solve(prob, options=None, heuristics=(), callback=None) -> BnBResult

The loop: take a node (nodes.NodeStore), propagate its bounds (presolve), solve its
relaxation (relax.NodeSolver), then prune, close, or branch (branching.select), running
heuristics (heuristics.*) and keeping the bounds (bounds.BoundTracker) and the log (log.BnBLog).

Problem contract: `prob.integer` are the integer variables (binaries for the model);
`prob.hints` (conic/hints.py `SolverHints`): optional complementarity pairs (a, b) (int (m, 2),
root bounds lb >= 0, requirement x_a * x_b = 0) with the mode the model declares for them
("branch": enforced only by branching; "bigm": by the model's binaries), implied binaries and
branch priorities. The mode is the declared one; an option that contradicts it is refused
(a model built for branching is never solved without branching). Nothing else is assumed.

Node outcomes:
* presolve proves infeasible, or ECOS certifies infeasible (exit 0/1 only) -> pruned.
* trusted relaxation with bound >= cutoff (bounds.prune_cutoff) -> pruned; its bound is kept
  in the tracker's floor so the reported best bound stays honest.
* trusted relaxation satisfying every integrality and complementarity requirement -> the
  integers (and the zero side of every pair, in branch mode) are fixed and the continuous
  problem re-solved; a certified point becomes a candidate incumbent and the node is closed
  when its own gap (candidate - node bound) is within tolerance; otherwise it is split.
* relaxation stopped by the time limit (relax.py "time_limit": every ECOS solve gets the time
  left as its budget, and no attempt starts that cannot finish) -> the node goes back to the
  open nodes unprocessed (its inherited bound stays in the best bound; a root stopped so
  gives no bound and nodes = 0), and the search ends with "time_limit".
* untrusted relaxation (no ECOS OPTIMAL after the retries) -> never pruned: the node keeps
  its parent's bound and is split (guided by the untrusted point only for the choice of the
  split); if nothing is left to split it is kept as "unresolved": its bound stays in the
  best bound, so the status cannot be "optimal" unless the incumbent later dominates that
  (trusted, inherited) bound.

Statuses: "optimal" only when the gap is proven within tolerance; "infeasible" when the
tree is exhausted without a feasible point and without unresolved nodes; "unresolved" when
the tree is exhausted with unresolved nodes; "feasible" when the tree is exhausted with an
incumbent but the gap is not within tolerance (numerical trouble); "time_limit",
"node_limit", "interrupted" (Ctrl-C or the callback) when a limit stopped the search, with
the best incumbent in x (None if there is none). There is no "unbounded": an ECOS
unboundedness answer is treated as untrusted (see relax.py), so a truly unbounded problem
ends "unresolved" or at a limit, never with a wrong claim.

`stop()` (default: conic/interrupt.py `requested`, i.e. SIGINT / SIGTERM under the CLI's
handlers) is checked between nodes, between heuristics and before every ECOS attempt; when
true the search ends with status "interrupted" and the incumbent (the node being solved
goes back to the open nodes, so the best bound stays valid).

The callback is called after every node with a dict (nodes, open_nodes, incumbent,
best_bound, abs_gap, rel_gap, seconds); returning True stops the search ("interrupted").
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..conic import interrupt
from .bounds import BoundTracker
from .branching import Pseudocosts, any_split, select
from .heuristics import Certifier, fix_and_solve, rounding_dive, run_user_heuristics
from .log import BnBLog
from .nodes import Node, NodeStore, child_changes
from .options import BnBOptions
from .presolve import Propagator
from .relax import NodeSolver
from .rounding import Rounder

__all__ = ["solve", "Search", "BnBResult", "complementarity_pairs"]

STATUSES = ("optimal", "feasible", "infeasible", "unresolved", "time_limit", "node_limit", "interrupted")


@dataclass
class BnBResult:
    status: str
    x: Optional[np.ndarray]
    objective: float                 # c'x + c0 of the incumbent (nan without one)
    best_bound: float                # proven lower bound (+inf if infeasible)
    abs_gap: float
    rel_gap: float
    stop_reason: str
    nodes: int                       # nodes processed (root = 1)
    node_solves: int                 # ECOS calls, retries and heuristics included
    inaccurate_solves: int           # ECOS calls that ended without a trusted status
    unresolved_nodes: int
    seconds: float
    ecos_seconds: float              # wall clock inside the ECOS adapter (data preparation included)
    other_seconds: float
    incumbent_history: List[Tuple[float, float]] = field(default_factory=list)
    bound_history: List[Tuple[float, float]] = field(default_factory=list)
    incumbent_source: Optional[str] = None
    rejected_candidates: int = 0
    options: Optional[BnBOptions] = None
    pseudocosts: Optional[dict] = None   # branching.Pseudocosts.state() at the end (a later warm start)

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


def complementarity_pairs(prob) -> np.ndarray:
    """prob.hints.complementarity_pairs as an int64 (m, 2) array, validated."""
    return prob.hints.pairs(prob.n, prob.lb)


def solve(prob, options=None, heuristics: Sequence[Callable] = (), callback: Optional[Callable] = None,
          root_bound: float = -math.inf, node_bound: Optional[Callable] = None,
          start: Optional[np.ndarray] = None, stop: Optional[Callable[[], bool]] = None,
          pseudocosts: Optional[dict] = None) -> BnBResult:
    """The search (module docstring). Hooks for a bounding method on top (decomposition/):

    root_bound   a proven lower bound on the whole problem (e.g. a Lagrangian bound): the
                 root node starts with it, so every node's bound is at least it.
    node_bound   callable(lb, ub, cutoff) -> a proven lower bound on the node's subproblem
                 with the bounds lb, ub of its branching decisions (before propagation), +inf
                 if it is infeasible; called before the node's ECOS solve: a value >= cutoff
                 prunes the node without that solve, any other raises the node's bound.
    start        a point offered as the first incumbent (certified like any other).
    stop         callable() -> True to stop (status "interrupted"); default: the process-wide
                 SIGINT / SIGTERM request of conic/interrupt.py.
    pseudocosts  observations of an earlier search of the same problem (`BnBResult.pseudocosts`,
                 branching.Pseudocosts.state()): the pseudo-costs start from them.
    """
    s = Search(prob, options, heuristics, callback, root_bound, node_bound, stop)
    if pseudocosts is not None:
        s.pseudo.load(pseudocosts)
    return s.run(start)


class Search:
    """One branch-and-bound search: its components, and the loop in small steps.

    run()            the loop: stop test, pop a node, `process` it; then the result
    process(node)    bounding hook, propagation, relaxation; `_untrusted` / `_trusted`
    _trusted(...)    prune, round, select; close a node whose candidate is within tolerance
                     (`_close_if_within`), split, or run a heuristic round first
    heuristic_round  rounding dive and the user heuristics (time-limited)
    branch / offer   children into the store; a point to the certifier and the bound tracker
    """

    def __init__(self, prob, options=None, heuristics: Sequence[Callable] = (),
                 callback: Optional[Callable] = None, root_bound: float = -math.inf,
                 node_bound: Optional[Callable] = None, stop: Optional[Callable[[], bool]] = None):
        opts = BnBOptions.coerce(options)
        self.opts = opts = replace(opts, complementarity=prob.hints.mode(opts.complementarity))
        self.stop_requested = interrupt.requested if stop is None else stop
        if not interrupt.active():
            interrupt.clear()            # library use: no stale request from an earlier call
        self.prob = prob
        self.heuristics, self.callback, self.node_bound = heuristics, callback, node_bound
        self.pairs = complementarity_pairs(prob)
        self.t0 = time.perf_counter()
        self.heur_seconds = [0.0]        # wall time of each heuristic round (dive + user hooks)
        self.tracker = BoundTracker(opts.abs_gap, opts.rel_gap, self.t0, floor=opts.gap_floor)
        # the time limit reaches every ECOS solve of the search (relax.py "time_limit"): a root
        # relaxation of 50 ADNs x 24 h (1.26 M nonzeros, ~150 s per ECOS attempt idle) ran
        # 1,303 s against a 30 s limit under load before solves had a budget
        self.solver = NodeSolver(prob, opts, self.t0 + opts.time_limit if math.isfinite(opts.time_limit) else None)
        self.out_of_time = False
        self.cert = Certifier(prob, opts, self.pairs)
        self.prop = Propagator(prob, opts.feas_tol, opts.int_tol) if opts.presolve else None
        self.rounder = Rounder(prob) if opts.rounding else None
        self.pseudo = Pseudocosts(opts.reliability)
        self.store = NodeStore(opts.node_selection, opts.dive_limit)
        size = dict(prob.size_report(), pairs=int(len(self.pairs)))
        self.log = BnBLog(opts, size, objective_unit=str(prob.meta.get("objective_unit", "")))
        self.log.header(opts)
        self.strict = replace(opts, int_tol=1e-12, comp_tol=1e-12)   # for splitting nearly-integral points
        self.root_lb = np.asarray(prob.lb, float).copy()
        self.root_ub = np.asarray(prob.ub, float).copy()
        if prob.integer.size:
            ii = prob.integer
            self.root_lb[ii] = np.ceil(self.root_lb[ii] - opts.int_tol)
            self.root_ub[ii] = np.floor(self.root_ub[ii] + opts.int_tol)
        empty = np.zeros(0, np.int64)
        self.store.push(Node(self.store.new_id(), 0, float(root_bound), empty, np.zeros(0), np.zeros(0)))
        self.unresolved = {}
        self.nodes = 0
        self.mark = " "

    # ---------------------------------------------------------------- bookkeeping
    def offer(self, x, source) -> Tuple[bool, bool]:
        """(certified, improved)"""
        ok, _ = self.cert.check(x)
        if not ok:
            return False, False
        tr = self.tracker
        improved = tr.offer(self.prob.objective(x), x, source)
        if improved:
            cut = tr.prune_cutoff()
            for n in self.store.prune(cut):
                tr.close(n.bound)
            for nid in [k for k, n in self.unresolved.items() if n.bound >= cut]:
                tr.close(self.unresolved.pop(nid).bound)
        return True, improved

    def open_min(self) -> float:
        m = self.store.min_bound()
        if self.unresolved:
            m = min(m, min(n.bound for n in self.unresolved.values()))
        return m

    def _within(self, obj: float, bound: float) -> bool:
        """A candidate of objective `obj` closes a node of bound `bound` (bounds.py's tolerance)."""
        return obj - bound <= self.tracker.tolerance(obj)

    def _close_if_within(self, y, bound, source) -> bool:
        """Offer y; True (the node is closed) if it is certified and within tolerance of bound."""
        ok, improved = self.offer(y, source)
        self.mark = "*" if improved else self.mark
        if ok and self._within(self.prob.objective(y), bound):
            self.tracker.close(bound)
            return True
        return False

    def _prune(self, bound) -> bool:
        """True (and the bound kept in the tracker's floor) if `bound` cannot beat the incumbent."""
        if bound >= self.tracker.prune_cutoff():
            self.tracker.close(bound)
            return True
        return False

    # ---------------------------------------------------------------- tree
    def branch(self, node, dec, lb, ub, bound, obj) -> None:
        kids = []
        for idx, nlb, nub, direction, dist in dec.children:
            clb, cub = lb.copy(), ub.copy()
            clb[idx] = np.maximum(clb[idx], nlb)
            cub[idx] = np.minimum(cub[idx], nub)
            if np.any(clb[idx] > cub[idx]):
                continue
            cidx, cl, cu = child_changes(node, clb, cub, self.root_lb, self.root_ub)
            child = Node(self.store.new_id(), node.depth + 1, bound, cidx, cl, cu, node.id,
                         branch=(dec.key, direction, float(dist), obj))
            self.store.push(child)
            kids.append(child)
        self.store.set_dive(kids[0].id if kids else None)

    def strong_oracle(self, lb, ub, node_obj):
        """Strong-branching oracle for branching.select: solves each child's relaxation."""
        prob, opts = self.prob, self.opts

        def strong(kids):
            gains = {}
            for idx, nlb, nub, direction, _ in kids:
                clb, cub = lb.copy(), ub.copy()
                clb[idx] = np.maximum(clb[idx], nlb)
                cub[idx] = np.minimum(cub[idx], nub)
                if np.any(clb[idx] > cub[idx]):
                    gains[direction] = math.inf
                    continue
                r = self.solver.solve(clb, cub)
                if r.status == "infeasible":
                    gains[direction] = math.inf
                elif r.status != "optimal":
                    return None                          # untrusted: no information
                elif self._prune(r.bound):
                    gains[direction] = math.inf          # the child cannot beat the incumbent
                else:
                    gains[direction] = r.objective - node_obj
                    if self.rounder is not None:
                        y, _ = self.rounder.round(r.x, clb, cub, opts.int_tol)
                        if select(prob, y, clb, cub, opts, self.pairs, None) is None:
                            y[prob.integer] = np.round(y[prob.integer]) + 0.0
                            self.offer(y, "strong")
            return gains
        return strong

    # ---------------------------------------------------------------- the loop
    def stop_reason(self) -> Optional[str]:
        """Update the bound, log a line, and say why the search stops now (None: go on)."""
        tr, opts = self.tracker, self.opts
        tr.update_bound(self.open_min())
        a_gap, r_gap = tr.gap()
        self.log.line(tr.elapsed(), self.nodes, len(self.store) + len(self.unresolved),
                      self.solver.ecos_seconds, tr.incumbent, tr.bound, r_gap, self.mark)
        self.mark = " "
        if self.callback is not None and self.nodes and self.callback(dict(
                nodes=self.nodes, open_nodes=len(self.store), incumbent=tr.incumbent, best_bound=tr.bound,
                abs_gap=a_gap, rel_gap=r_gap, seconds=tr.elapsed())):
            return "interrupted"
        if self.stop_requested():
            return "interrupted"
        if tr.converged():
            return "gap"
        if len(self.store) == 0:
            return "no_open_nodes"
        if tr.elapsed() >= opts.time_limit or self.out_of_time:
            return "time_limit"
        if self.nodes >= opts.node_limit:
            return "node_limit"
        return None

    def run(self, start: Optional[np.ndarray] = None) -> BnBResult:
        if start is not None:
            self.offer(np.asarray(start, float), "start")
        stop = None
        try:
            while True:
                stop = self.stop_reason()
                if stop is not None:
                    break
                node = self.store.pop()
                if self._prune(node.bound):
                    continue
                self.nodes += 1
                self.process(node)
        except KeyboardInterrupt:
            stop = "interrupted"
        return self.result(stop)

    def process(self, node) -> None:
        """One node: bounding hook, propagation, relaxation, then the trusted / untrusted step."""
        lb, ub = node.bounds(self.root_lb, self.root_ub)
        if self.node_bound is not None:
            nb = self.node_bound(lb, ub, self.tracker.prune_cutoff())
            if nb == math.inf:
                return                                # proven infeasible by the bounding method
            if self._prune(nb):
                return
            node.bound = max(node.bound, nb)
        if self.prop is not None and self.opts.presolve_passes:
            ok, lb, ub = self.prop.propagate(lb, ub, self.opts.presolve_passes)
            if not ok:
                return                                # proven infeasible by propagation
        res = self.solver.solve(lb, ub)
        if res.status in ("interrupted", "time_limit"):
            self.store.push(node)                     # still open: its bound stays in the best bound
            self.nodes -= 1
            self.out_of_time = res.status == "time_limit"
            return                                    # the loop head sees the stop request / time limit
        if res.status == "infeasible":
            return
        if res.status == "untrusted":
            self._untrusted(node, res, lb, ub)
        else:
            self._trusted(node, res, lb, ub)

    def _untrusted(self, node, res, lb, ub) -> None:
        """Never pruned: split (guided by the untrusted point if any), else keep as unresolved."""
        prob, opts, pairs = self.prob, self.opts, self.pairs
        node.untrusted_solves += 1
        dec = select(prob, res.x, lb, ub, opts, pairs, None) if res.x is not None else None
        dec = dec or any_split(prob, lb, ub, opts, pairs)
        if dec is None:
            self.unresolved[node.id] = node
        else:
            self.branch(node, dec, lb, ub, node.bound, math.nan)

    def _trusted(self, node, res, lb, ub) -> None:
        prob, opts, pairs = self.prob, self.opts, self.pairs
        bound = max(res.bound, node.bound)
        if node.branch is not None:
            key, direction, dist, parent_obj = node.branch
            self.pseudo.observe(key, direction, dist, res.objective - parent_obj)
        if self._prune(bound):
            return
        x = res.x
        if self.rounder is not None:
            x, _ = self.rounder.round(x, lb, ub, opts.int_tol)
        strong = (self.strong_oracle(lb, ub, res.objective)
                  if opts.strong_branching and node.depth <= opts.strong_depth else None)
        dec = select(prob, x, lb, ub, opts, pairs, self.pseudo, strong)
        if dec is not None and not dec.children:      # every child infeasible or cut off (closed)
            return
        if dec is None and self.rounder is not None:
            # integral after lock-based rounding: the point itself is the candidate
            y = x.copy()
            y[prob.integer] = np.round(y[prob.integer]) + 0.0
            if self._close_if_within(y, bound, "relaxation"):
                return
        if dec is None:
            y = fix_and_solve(prob, self.solver, x, lb, ub, opts, pairs)
            if y is not None and self._close_if_within(y, bound, "relaxation"):
                return
            dec = select(prob, x, lb, ub, self.strict, pairs, None) or any_split(prob, lb, ub, opts, pairs)
            if dec is None:
                # the relaxation was trusted: its bound stays valid for the unresolved node
                # (a Lagrangian block whose integers are all fixed and whose point the
                # certifier refused had best bound -inf, which made the whole Lagrangian
                # bound -inf on 5 ADNs x 24 h)
                node.bound = bound
                self.unresolved[node.id] = node
                return
        elif self._heuristic_round_due():
            self.heuristic_round(x, lb, ub)
            if self._prune(bound):
                return
        self.branch(node, dec, lb, ub, bound, res.objective)

    # ---------------------------------------------------------------- heuristics
    def _heuristic_round_due(self) -> bool:
        # a heuristic round is skipped when the last one would not fit in the time left
        # (5 ADNs x 24 h: a dive + follower response takes ~45 s, which overshot 300 s by 35 s)
        n, opts = self.nodes, self.opts
        return (n == 1 or (opts.heuristic_freq and n % opts.heuristic_freq == 0)) and (
            n == 1 or self.tracker.elapsed() + self.heur_seconds[-1] <= opts.time_limit)

    def heuristic_round(self, x, lb, ub) -> None:
        prob, opts = self.prob, self.opts
        t_heur = time.perf_counter()
        # the root round always starts, but no heuristic starts an ECOS solve after the
        # time limit (20 ADNs x 24 h with a 20 s limit: the unbounded root round took 255 s)
        deadline = self.t0 + opts.time_limit if math.isfinite(opts.time_limit) else None
        if opts.dive_rounds and prob.integer.size:
            y = rounding_dive(prob, self.solver, x, lb, ub, opts, self.pairs, deadline)
            if y is not None and self.offer(y, "dive")[1]:
                self.mark = "d"
        for name, y in run_user_heuristics(self.heuristics, prob, x, lb, ub, self.log, deadline):
            if self.stop_requested():
                break
            if self.offer(y, name)[1]:
                self.mark = "u"
        self.heur_seconds.append(time.perf_counter() - t_heur)

    # ---------------------------------------------------------------- the result
    def result(self, stop) -> BnBResult:
        tr, solver = self.tracker, self.solver
        tr.update_bound(self.open_min())
        a_gap, r_gap = tr.gap()
        has_x = tr.x is not None
        if stop == "gap":
            status = "optimal"
        elif stop == "no_open_nodes":
            if self.unresolved:
                status = "unresolved"
            elif has_x:
                status = "feasible"
            else:
                status, stop = "infeasible", "infeasible"
        else:
            status = stop
        seconds = tr.elapsed()
        result = BnBResult(
            status=status, x=tr.x, objective=tr.incumbent if has_x else math.nan,
            best_bound=tr.bound, abs_gap=a_gap, rel_gap=r_gap, stop_reason=stop, nodes=self.nodes,
            node_solves=solver.calls, inaccurate_solves=solver.inaccurate,
            unresolved_nodes=len(self.unresolved), seconds=seconds, ecos_seconds=solver.ecos_seconds,
            other_seconds=seconds - solver.ecos_seconds, incumbent_history=list(tr.incumbent_history),
            bound_history=list(tr.bound_history), incumbent_source=tr.incumbent_source,
            rejected_candidates=self.cert.rejected, options=self.opts, pseudocosts=self.pseudo.state())
        self.log.line(seconds, self.nodes, len(self.store) + len(self.unresolved), solver.ecos_seconds,
                      tr.incumbent, tr.bound, r_gap, force=True)
        self.log.summary(result)
        return result
