"""The MILP master of the outer approximation: HiGHS over the linear rows plus cone tangents.

    Master(prob, threads=1)          variables, bounds, integrality, objective, A x = b and the
                                     linear rows of G (G_lp x <= h_lp) of the ConicProblem
    master.add_rows(C, d)            C x <= d (tangent cuts; rows are only ever added)
    master.solve(time_limit, rel_gap, cutoff, start) -> MasterResult

Why HiGHS (highspy) and not scipy.optimize.milp: the master grows by rows between solves and
is re-solved dozens of times; highspy keeps the model and adds rows incrementally, takes a
start solution and an objective cutoff, and its MIP solver separates its own cuts (the
flow-cover / MIR cuts on the linear rows that close most of the fixed-charge gap here).

The bound (strict, in objective units; `MasterResult.bound`):
* Every cut is valid for the MISOCP (tangents.py), so the master is a relaxation and a lower
  bound proven by HiGHS for the master is a lower bound of the MISOCP.
* kOptimal, kTimeLimit, kInterrupt, kSolutionLimit, kObjectiveBound, kObjectiveTarget,
  kIterationLimit, kMemoryLimit: HiGHS's `mip_dual_bound` (its proven MIP dual bound; -inf
  if it has none).
* kInfeasible: without a cutoff, the master (so the MISOCP) has no feasible point: +inf;
  with a cutoff B (`objective_bound`), no master point has objective below B: the bound is
  B - slack with slack = mip_rel_gap * max(1, |B|) + mip_abs_gap (more than the pruning
  tolerance HiGHS may apply against B).
* Whenever a cutoff B is set, the bound is capped at B - slack: nodes that HiGHS pruned
  against B are only known to lie above that.
* Whenever HiGHS has a point of objective p (its incumbent, a start solution included), the
  bound is capped at p - max(mip_rel_gap max(1, |p|), mip_abs_gap). HiGHS 1.16 prunes the
  nodes whose LP bound exceeds its optimality limit p - max(feastol, mip_rel_gap |p|,
  mip_abs_gap) (HighsMipSolverData::computeNewUpperLimit, HighsSearch's getOptimalityLimit
  tests) and, once the queue is empty, reports mip_dual_bound = p (HighsMipSolver:
  lower_bound = min(upper_bound, best open node)), more than those pruned nodes were shown
  to hold. HiGHS's feastol term there (mip_feasibility_tolerance, 1e-6 in objective units,
  1e-3 $ here) is accepted like its LP tolerances below.
* any other status (kUnbounded, kUnboundedOrInfeasible, kSolveError, kUnknown, ...): no
  bound (-inf) and no point.
Tolerances: HiGHS's own (read from the instance and logged): mip_feasibility_tolerance and
primal_feasibility_tolerance 1e-6, dual_feasibility_tolerance 1e-7 (HiGHS 1.16 defaults) on
rows scaled like ours (objective in k$, powers in pu); a master point is only a guide (the
incumbent comes from the ECOS re-solve and the certifier), and its bound is a bound of the
master with rows relaxed by those tolerances, as any MILP solver's is.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.sparse as sp

import highspy

from ...conic import interrupt

__all__ = ["Master", "MasterResult"]

_BOUND_STATUSES = ("kOptimal", "kTimeLimit", "kInterrupt", "kHighsInterrupt", "kSolutionLimit", "kObjectiveBound",
                   "kObjectiveTarget", "kIterationLimit", "kMemoryLimit")


@dataclass
class MasterResult:
    status: str                      # HiGHS model status name, e.g. "kOptimal"
    bound: float                     # proven lower bound of the master (module docstring)
    x: Optional[np.ndarray]          # HiGHS's best master point (None without one)
    objective: float                 # its objective (nan without one)
    nodes: int
    seconds: float
    cutoff: float
    stopped: bool = False            # interrupted because the monitor had enough (Master.solve)


class Master:
    def __init__(self, prob, log: bool = False, threads: int = 1, options: Optional[dict] = None):
        """`options`: further HiGHS options (name -> value; a refused one raises ValueError).
        `threads`: HiGHS's "threads" option (0 = HiGHS's choice). HiGHS has one task
        scheduler per process, sized by its first run; a run asking for another count fails at
        once (HighsStatus kError, model status kNotset; analysis/kkt_presolve.py). `solve` then
        resets the scheduler (Highs.resetGlobalScheduler, blocking: no other HiGHS run is in
        flight in this single-threaded solver) and runs again, once."""
        self.prob = prob
        h = self.h = highspy.Highs()
        h.setOptionValue("output_flag", bool(log))
        h.setOptionValue("threads", int(threads))
        for k, v in (options or {}).items():          # further HiGHS options (OASettings.highs_options)
            if h.setOptionValue(k, v) != highspy.HighsStatus.kOk:
                raise ValueError(f"HiGHS option {k!r} = {v!r} refused")
        inf = highspy.kHighsInf
        self._inf = inf
        n = prob.n
        lb = np.where(np.isfinite(prob.lb), prob.lb, -inf)
        ub = np.where(np.isfinite(prob.ub), prob.ub, inf)
        h.addVars(n, lb, ub)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(prob.c, float))
        h.changeObjectiveOffset(float(prob.c0))
        ii = np.asarray(prob.integer, np.int32)
        if ii.size:
            h.changeColsIntegrality(ii.size, ii, np.full(ii.size, highspy.HighsVarType.kInteger))
        if prob.n_eq:
            self._add(prob.A, prob.b, prob.b)
        if prob.n_lp:
            G = prob.G.tocsr()[: prob.n_lp]
            self._add(G, np.full(prob.n_lp, -inf), prob.h[: prob.n_lp])
        self._monitor = None               # the current run's monitor (solve)
        self._monitor_stopped = False
        self._run = dict(cutoff=math.inf, rel=0.0, abs=0.0)
        # HiGHS 1.16 never clears its callback input's user_interrupt between runs (only
        # Highs::setCallback does): a run after an interrupted one would stop at once. The first
        # interrupt callback of each run clears it (subscribed before interrupt.watch_highs, so a
        # stop request in the same callback still counts).
        self._fresh = False
        for name in ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt"):
            getattr(h, name).subscribe(self._clear_stale)
        h.cbMipImprovingSolution.subscribe(self._on_point)
        h.cbMipInterrupt.subscribe(self._on_check)
        self.base_rows = prob.n_eq + prob.n_lp
        self._new_rows = True
        self._saved = {}                   # option -> value before a run's own options changed it
        self.cut_rows = 0
        self.nodes = 0
        interrupt.watch_highs(h)
        self.tolerances = {k: self._opt(k) for k in ("mip_feasibility_tolerance", "primal_feasibility_tolerance",
                                                     "dual_feasibility_tolerance")}

    def _opt(self, name):
        v = self.h.getOptionValue(name)
        return v[1] if isinstance(v, tuple) else v

    def _clear_stale(self, event) -> None:
        if self._fresh:
            self._fresh = False
            event.interrupt(False)

    def _on_point(self, event) -> None:
        mon = self._monitor
        x = np.asarray(event.data_out.mip_solution, float)
        if mon is not None and x.shape == (self.prob.n,):    # HiGHS's point in the original space
            mon.point(x, float(event.data_out.objective_function_value))

    def _on_check(self, event) -> None:
        mon, run = self._monitor, self._run
        if mon is None or self._monitor_stopped:
            return
        d = event.data_out
        db = float(d.mip_dual_bound)
        if not math.isfinite(db):
            return
        bound = min(db, self._cap(run["cutoff"], run["rel"], run["abs"]),
                    self._point_cap(float(d.mip_primal_bound), run["rel"], run["abs"]))
        if mon.enough(bound):
            self._monitor_stopped = True
            event.interrupt()

    def _set_run_options(self, options: dict) -> None:
        for k in [k for k in self._saved if k not in options]:
            self.h.setOptionValue(k, self._saved.pop(k))
        for k, v in options.items():
            if k not in self._saved:
                got = self.h.getOptionValue(k)
                if isinstance(got, tuple) and got[0] != highspy.HighsStatus.kOk:
                    raise ValueError(f"HiGHS option {k!r} unknown")
                self._saved[k] = got[1] if isinstance(got, tuple) else got
            if self.h.setOptionValue(k, v) != highspy.HighsStatus.kOk:
                raise ValueError(f"HiGHS option {k!r} = {v!r} refused")

    def _add(self, M, lo, hi) -> None:
        M = sp.csr_matrix(M)
        M.sort_indices()
        if M.shape[0] == 0:
            return
        self.h.addRows(M.shape[0], np.asarray(lo, float), np.asarray(hi, float), M.nnz,
                       M.indptr[:-1].astype(np.int32), M.indices.astype(np.int32), M.data.astype(float))

    def add_rows(self, C, d) -> int:
        """Add the rows C x <= d; returns how many."""
        C = sp.csr_matrix(C)
        self._add(C, np.full(C.shape[0], -self._inf), d)
        self.cut_rows += C.shape[0]
        self._new_rows = self._new_rows or C.shape[0] > 0
        return C.shape[0]

    def solve(self, time_limit: float, rel_gap: float, abs_gap: float, cutoff: float = math.inf,
              start: Optional[np.ndarray] = None, target: float = -math.inf,
              options: Optional[dict] = None, monitor=None) -> MasterResult:
        """One HiGHS run: `rel_gap`, `abs_gap` are HiGHS's mip_rel_gap / mip_abs_gap (objective
        units), `cutoff` its objective_bound, `target` its objective_target (HiGHS stops at the
        first master point below it: kObjectiveTarget), `start` a start solution (full x),
        `options` further HiGHS options for this run only (the values before it are restored
        for runs without them). `monitor` (optional): `monitor.point(x, objective)` is called at
        each improving HiGHS point during the run, `monitor.enough(bound)` at HiGHS's limit
        checks with the bound the run would report if it stopped there (the rules above); True
        interrupts the run (model status kInterrupt, MasterResult.stopped True)."""
        h = self.h
        t0 = time.perf_counter()
        self._set_run_options(options or {})
        self._run = dict(cutoff=cutoff, rel=rel_gap, abs=abs_gap)
        self._monitor, self._monitor_stopped = monitor, False
        self._fresh = True
        # with the model unchanged since the last run (no new rows) HiGHS would return its last
        # status and point, stale under a new cutoff: clear it (new rows keep the LP basis)
        if not self._new_rows:
            h.clearSolver()
        self._new_rows = False
        h.setOptionValue("time_limit", float(max(time_limit, 1e-3)) if math.isfinite(time_limit) else self._inf)
        h.setOptionValue("mip_rel_gap", float(rel_gap))
        h.setOptionValue("mip_abs_gap", float(abs_gap))
        h.setOptionValue("objective_bound", float(cutoff) if math.isfinite(cutoff) else self._inf)
        h.setOptionValue("objective_target", float(target) if math.isfinite(target) else -self._inf)
        if start is not None:
            s = highspy.HighsSolution()
            s.col_value = [float(v) for v in start]
            s.value_valid = True
            h.setSolution(s)           # HiGHS checks it; an infeasible start is ignored
        try:
            ran = h.run()
            if ran == highspy.HighsStatus.kError and h.getModelStatus() == highspy.HighsModelStatus.kNotset:
                highspy.Highs.resetGlobalScheduler(True)   # sized by an earlier run with another count
                h.run()
        finally:
            self._monitor = None
        status = _status_name(h.getModelStatus())
        info = h.getInfo()
        nodes = int(info.mip_node_count) if info.mip_node_count >= 0 else 0
        self.nodes += nodes
        cap = self._cap(cutoff, rel_gap, abs_gap)
        x, obj = None, math.nan
        if status in _BOUND_STATUSES:
            db = float(info.mip_dual_bound)
            bound = db if math.isfinite(db) else -math.inf
            if int(info.primal_solution_status) == 2:        # kSolutionStatusFeasible
                x = np.asarray(h.getSolution().col_value, float)
                obj = float(info.objective_function_value)
                cap = min(cap, self._point_cap(obj, rel_gap, abs_gap))
            bound = min(bound, cap)
        elif status == "kInfeasible":
            bound = cap
        else:
            bound = -math.inf
        stopped = self._monitor_stopped and status in ("kInterrupt", "kHighsInterrupt")
        return MasterResult(status=status, bound=bound, x=x, objective=obj, nodes=nodes,
                            seconds=time.perf_counter() - t0, cutoff=cutoff, stopped=stopped)


    @staticmethod
    def _cap(limit, rel_gap, abs_gap) -> float:
        """limit - (rel_gap max(1, |limit|) + abs_gap); +inf for an infinite limit (module docstring)."""
        if not math.isfinite(limit):
            return math.inf
        return limit - (float(rel_gap) * max(1.0, abs(limit)) + float(abs_gap))

    @staticmethod
    def _point_cap(p, rel_gap, abs_gap) -> float:
        """The cap below a HiGHS point of objective p (module docstring)."""
        return p - max(float(rel_gap) * max(1.0, abs(p)), float(abs_gap))


def _status_name(ms) -> str:
    """The enum member's name ("kOptimal", ...)."""
    for k in sorted(dir(highspy.HighsModelStatus), key=lambda k: k.startswith("kHighs")):
        if k.startswith("k") and getattr(highspy.HighsModelStatus, k) == ms:
            return k
    return "kUnknown"
