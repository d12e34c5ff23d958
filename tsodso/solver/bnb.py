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

__all__ = ["solve", "BnBResult", "complementarity_pairs"]

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

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


def complementarity_pairs(prob) -> np.ndarray:
    """prob.hints.complementarity_pairs as an int64 (m, 2) array, validated."""
    return prob.hints.pairs(prob.n, prob.lb)


def solve(prob, options=None, heuristics: Sequence[Callable] = (), callback: Optional[Callable] = None,
          root_bound: float = -math.inf, node_bound: Optional[Callable] = None,
          start: Optional[np.ndarray] = None, stop: Optional[Callable[[], bool]] = None) -> BnBResult:
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
    """
    opts = BnBOptions.coerce(options)
    opts = replace(opts, complementarity=prob.hints.mode(opts.complementarity))
    stop_requested = interrupt.requested if stop is None else stop
    if not interrupt.active():
        interrupt.clear()            # library use: no stale request from an earlier call
    pairs = complementarity_pairs(prob)
    t0 = time.perf_counter()
    heur_seconds = [0.0]             # wall time of each heuristic round (dive + user hooks)
    tracker = BoundTracker(opts.abs_gap, opts.rel_gap, t0, floor=opts.gap_floor)
    solver = NodeSolver(prob, opts)
    cert = Certifier(prob, opts, pairs)
    prop = Propagator(prob, opts.feas_tol, opts.int_tol) if opts.presolve else None
    rounder = Rounder(prob) if opts.rounding else None
    pseudo = Pseudocosts(opts.reliability)
    store = NodeStore(opts.node_selection, opts.dive_limit)
    size = dict(prob.size_report(), pairs=int(len(pairs)))
    log = BnBLog(opts, size, objective_unit=str(prob.meta.get("objective_unit", "")))
    log.header(opts)
    strict = replace(opts, int_tol=1e-12, comp_tol=1e-12)   # for splitting nearly-integral points

    root_lb = np.asarray(prob.lb, float).copy()
    root_ub = np.asarray(prob.ub, float).copy()
    if prob.integer.size:
        ii = prob.integer
        root_lb[ii] = np.ceil(root_lb[ii] - opts.int_tol)
        root_ub[ii] = np.floor(root_ub[ii] + opts.int_tol)
    empty = np.zeros(0, np.int64)
    store.push(Node(store.new_id(), 0, float(root_bound), empty, np.zeros(0), np.zeros(0)))
    unresolved = {}
    nodes = 0
    stop = None
    mark = " "

    def offer(x, source) -> Tuple[bool, bool]:
        """(certified, improved)"""
        ok, _ = cert.check(x)
        if not ok:
            return False, False
        improved = tracker.offer(prob.objective(x), x, source)
        if improved:
            cut = tracker.prune_cutoff()
            for n in store.prune(cut):
                tracker.close(n.bound)
            for nid in [k for k, n in unresolved.items() if n.bound >= cut]:
                tracker.close(unresolved.pop(nid).bound)
        return True, improved

    def open_min():
        m = store.min_bound()
        if unresolved:
            m = min(m, min(n.bound for n in unresolved.values()))
        return m

    def branch(node, dec, lb, ub, bound, obj):
        kids = []
        for idx, nlb, nub, direction, dist in dec.children:
            clb, cub = lb.copy(), ub.copy()
            clb[idx] = np.maximum(clb[idx], nlb)
            cub[idx] = np.minimum(cub[idx], nub)
            if np.any(clb[idx] > cub[idx]):
                continue
            cidx, cl, cu = child_changes(node, clb, cub, root_lb, root_ub)
            child = Node(store.new_id(), node.depth + 1, bound, cidx, cl, cu, node.id,
                         branch=(dec.key, direction, float(dist), obj))
            store.push(child)
            kids.append(child)
        store.set_dive(kids[0].id if kids else None)

    def make_strong(lb, ub, node_obj):
        """Strong-branching oracle for branching.select: solves each child's relaxation."""
        def strong(kids):
            gains = {}
            for idx, nlb, nub, direction, _ in kids:
                clb, cub = lb.copy(), ub.copy()
                clb[idx] = np.maximum(clb[idx], nlb)
                cub[idx] = np.minimum(cub[idx], nub)
                if np.any(clb[idx] > cub[idx]):
                    gains[direction] = math.inf
                    continue
                r = solver.solve(clb, cub)
                if r.status == "infeasible":
                    gains[direction] = math.inf
                elif r.status != "optimal":
                    return None                          # untrusted: no information
                elif r.bound >= tracker.prune_cutoff():
                    gains[direction] = math.inf          # the child cannot beat the incumbent
                    tracker.close(r.bound)               # its bound stays in the floor
                else:
                    gains[direction] = r.objective - node_obj
                    if rounder is not None:
                        y, _ = rounder.round(r.x, clb, cub, opts.int_tol)
                        if select(prob, y, clb, cub, opts, pairs, None) is None:
                            y[prob.integer] = np.round(y[prob.integer]) + 0.0
                            offer(y, "strong")
            return gains
        return strong

    if start is not None:
        offer(np.asarray(start, float), "start")
    try:
        while True:
            tracker.update_bound(open_min())
            a_gap, r_gap = tracker.gap()
            log.line(tracker.elapsed(), nodes, len(store) + len(unresolved), solver.ecos_seconds,
                     tracker.incumbent, tracker.bound, r_gap, mark)
            mark = " "
            if callback is not None and nodes and callback(dict(
                    nodes=nodes, open_nodes=len(store), incumbent=tracker.incumbent, best_bound=tracker.bound,
                    abs_gap=a_gap, rel_gap=r_gap, seconds=tracker.elapsed())):
                stop = "interrupted"
                break
            if stop_requested():
                stop = "interrupted"
                break
            if tracker.converged():
                stop = "gap"
                break
            if len(store) == 0:
                stop = "no_open_nodes"
                break
            if tracker.elapsed() >= opts.time_limit:
                stop = "time_limit"
                break
            if nodes >= opts.node_limit:
                stop = "node_limit"
                break

            node = store.pop()
            if node.bound >= tracker.prune_cutoff():
                tracker.close(node.bound)
                continue
            nodes += 1
            lb, ub = node.bounds(root_lb, root_ub)
            if node_bound is not None:
                nb = node_bound(lb, ub, tracker.prune_cutoff())
                if nb == math.inf:
                    continue                          # proven infeasible by the bounding method
                if nb >= tracker.prune_cutoff():
                    tracker.close(nb)
                    continue
                node.bound = max(node.bound, nb)
            if prop is not None and opts.presolve_passes:
                ok, lb, ub = prop.propagate(lb, ub, opts.presolve_passes)
                if not ok:
                    continue                          # proven infeasible by propagation
            res = solver.solve(lb, ub)
            if res.status == "interrupted":
                store.push(node)                      # still open: its bound stays in the best bound
                nodes -= 1
                continue                              # the loop head sees the stop request
            if res.status == "infeasible":
                continue
            if res.status == "untrusted":
                node.untrusted_solves += 1
                dec = select(prob, res.x, lb, ub, opts, pairs, None) if res.x is not None else None
                dec = dec or any_split(prob, lb, ub, opts, pairs)
                if dec is None:
                    unresolved[node.id] = node
                else:
                    branch(node, dec, lb, ub, node.bound, math.nan)
                continue

            # ---------------------------------------------------------- trusted relaxation
            bound = max(res.bound, node.bound)
            if node.branch is not None:
                key, direction, dist, parent_obj = node.branch
                pseudo.observe(key, direction, dist, res.objective - parent_obj)
            if bound >= tracker.prune_cutoff():
                tracker.close(bound)
                continue
            x = res.x
            if rounder is not None:
                x, _ = rounder.round(x, lb, ub, opts.int_tol)
            strong = (make_strong(lb, ub, res.objective)
                      if opts.strong_branching and node.depth <= opts.strong_depth else None)
            dec = select(prob, x, lb, ub, opts, pairs, pseudo, strong)
            if dec is not None and not dec.children:      # every child infeasible or cut off (closed)
                continue
            if dec is None and rounder is not None:
                # integral after lock-based rounding: the point itself is the candidate
                y = x.copy()
                y[prob.integer] = np.round(y[prob.integer]) + 0.0
                ok, improved = offer(y, "relaxation")
                mark = "*" if improved else mark
                if ok and prob.objective(y) - bound <= tracker.tolerance(prob.objective(y)):
                    tracker.close(bound)
                    continue
            if dec is None:
                y = fix_and_solve(prob, solver, x, lb, ub, opts, pairs)
                if y is not None:
                    ok, improved = offer(y, "relaxation")
                    mark = "*" if improved else mark
                    if ok:
                        oy = prob.objective(y)
                        if oy - bound <= tracker.tolerance(oy):
                            tracker.close(bound)
                            continue
                dec = select(prob, x, lb, ub, strict, pairs, None) or any_split(prob, lb, ub, opts, pairs)
                if dec is None:
                    unresolved[node.id] = node
                    continue
            elif (nodes == 1 or (opts.heuristic_freq and nodes % opts.heuristic_freq == 0)) and (
                    nodes == 1 or tracker.elapsed() + heur_seconds[-1] <= opts.time_limit):
                # a heuristic round is skipped when the last one would not fit in the time left
                # (5 ADNs x 24 h: a dive + follower response takes ~45 s, which overshot 300 s by 35 s)
                t_heur = time.perf_counter()
                # the root round always starts, but no heuristic starts an ECOS solve after the
                # time limit (20 ADNs x 24 h with a 20 s limit: the unbounded root round took 255 s)
                deadline = t0 + opts.time_limit if math.isfinite(opts.time_limit) else None
                if opts.dive_rounds and prob.integer.size:
                    y = rounding_dive(prob, solver, x, lb, ub, opts, pairs, deadline)
                    if y is not None and offer(y, "dive")[1]:
                        mark = "d"
                for name, y in run_user_heuristics(heuristics, prob, x, lb, ub, log, deadline):
                    if stop_requested():
                        break
                    if offer(y, name)[1]:
                        mark = "u"
                heur_seconds.append(time.perf_counter() - t_heur)
                if bound >= tracker.prune_cutoff():
                    tracker.close(bound)
                    continue
            branch(node, dec, lb, ub, bound, res.objective)
    except KeyboardInterrupt:
        stop = "interrupted"

    tracker.update_bound(open_min())
    a_gap, r_gap = tracker.gap()
    has_x = tracker.x is not None
    if stop == "gap":
        status = "optimal"
    elif stop == "no_open_nodes":
        if unresolved:
            status = "unresolved"
        elif has_x:
            status = "feasible"
        else:
            status, stop = "infeasible", "infeasible"
    else:
        status = stop
    seconds = tracker.elapsed()
    result = BnBResult(
        status=status, x=tracker.x, objective=tracker.incumbent if has_x else math.nan,
        best_bound=tracker.bound, abs_gap=a_gap, rel_gap=r_gap, stop_reason=stop, nodes=nodes,
        node_solves=solver.calls, inaccurate_solves=solver.inaccurate, unresolved_nodes=len(unresolved),
        seconds=seconds, ecos_seconds=solver.ecos_seconds, other_seconds=seconds - solver.ecos_seconds,
        incumbent_history=list(tracker.incumbent_history), bound_history=list(tracker.bound_history),
        incumbent_source=tracker.incumbent_source, rejected_candidates=cert.rejected, options=opts)
    log.line(seconds, nodes, len(store) + len(unresolved), solver.ecos_seconds, tracker.incumbent,
             tracker.bound, r_gap, force=True)
    log.summary(result)
    return result
