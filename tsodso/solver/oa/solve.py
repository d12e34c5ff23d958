"""Outer approximation: a HiGHS MILP master over tangent cuts, ECOS for every conic solve.

    solve(prob, options=None, heuristics=(), callback=None, settings=None, stop=None,
          start_heuristics=()) -> OAResult

1. Root relaxation (ECOS through relax.NodeSolver, strict statuses). A trusted answer is the
   first lower bound; its point is where the first tangents are taken.
2. Primal recovery at the root point: solver/heuristics.fix_and_solve (integers rounded and
   fixed, the continuous SOCP re-solved by ECOS), and, if OASettings.root_user_heuristics,
   the user heuristics where that gives no certified point (otherwise only if the first
   master ends without a point and no incumbent exists); `start_heuristics` (cached points)
   run here once. Every candidate is certified (heuristics.Certifier) before it becomes the
   incumbent.
3. Master (master.py): the linear rows, the integrality, and the tangent of every cone at the
   root point (tangents.py; valid for the whole MISOCP, so the master is a relaxation).
3b. Lagrangian cuts (`blocks` given and OASettings.lagrangian_cuts): the problem split into
   the given blocks (solver/decomposition: coupling rows dualised at the root relaxation's
   ECOS duals, each block solved by our B&B over ECOS, its proven best bound beta_k), the
   Lagrangian value is a lower bound; each block where integrality raised the bound gives
   the row r_k'x_k >= beta_k (decomposition/cuts.py), valid for the MISOCP, added to the
   master. They carry the blocks' exact conic integer hulls into the linear master.
   Measured on 5 ADNs x 24 h with hour blocks (the dso-led scheme's choice): 24 blocks in
   29 s, Lagrangian 52,456.88 $ (root relaxation 52,447.40 $), 12 cuts; a 120 s master at
   the same tangents: bound 52,459.37 $ with them, 52,457.61 $ without.
4. Rounds until the gap is proven, the time is up or a stop is requested:
   * the master is solved by HiGHS with the time left (less twice the longest re-solve so far,
     so that its last point can still be re-solved), the incumbent as start solution and
     the objective cutoff B = incumbent - 0.4 tol (tol = the options' gap tolerance at the
     incumbent, bounds.tolerance) and its gap tolerances at 0.2 tol (OASettings): its proven
     bound (master.py, capped at B - slack) raises the best bound; "no master point below B"
     proves incumbent - bound <= 0.8 tol; after a master that HiGHS closed (kOptimal) at a
     point below incumbent - 0.9 tol, a proof round: B = incumbent - 0.9 tol, gaps 0.04 tol,
     HiGHS's primal heuristics off (OASettings.proof_rounds), proving 0.98 tol;
   * at the master's point: fix_and_solve, and the user heuristics where it gives no
     certified point (OASettings.user_heuristics); the first master gets at most
     `first_round_share` of the time limit, so that an incumbent and the tangents at its
     re-solve come early;
   * tangents at the master point's violated cones (||z|| - t > cone_tol x max(1, t)) and at
     the ECOS point of the fixed-integer SOCP (its active cones), added to the master;
   * during the HiGHS run (OASettings.inflight, `_Monitor`): each improving master point below
     the cutoff is re-solved at once (its tangents added after the run), and the run is
     interrupted as soon as the bound it would report proves the gap against the incumbent
     (the bound itself is only ever taken from the finished run, master.py's rules).
   A round that adds no cut and finds no better incumbent cannot change the next master:
   the search stops ("feasible" with the gap it has; stop_reason "stalled").

Bound bookkeeping and the gap are solver/bounds.py's (monotone, time-stamped, capped at the
incumbent); statuses are solver/bnb.py's: "optimal" only when incumbent (certified) and bound
are within the options' abs_gap / rel_gap; "time_limit", "interrupted", "node_limit" (the
root relaxation counts as node 1, each master as one more) keep the best point;
"infeasible" when a trusted master (or ECOS's certificate at the root) proves there is none.

Complementarity: the master has no disjunctions beyond the integers, so a problem whose
hints declare complementarity pairs in "branch" mode is refused (build it in "bigm" mode).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from ...conic import ecos_adapter as ea, interrupt
from ..bnb import BnBResult, complementarity_pairs
from ..bounds import BoundTracker, gap, rounded_root_bounds
from ..heuristics import Certifier, fix_and_solve, run_user_heuristics
from ..log import BnBLog
from ..options import BnBOptions
from ..relax import NodeSolver
from ..decomposition.blocks import decompose
from ..decomposition.cuts import lagrangian_cuts
from ..decomposition.lagrangian import Lagrangian, block_options
from .master import Master
from .tangents import ConeIndex

__all__ = ["OASettings", "OAResult", "solve"]

# master statuses after which having no (new) master point is no failure: a limit, or no point
# below the cutoff (the bound says what that proves)
_NO_POINT_OK = ("kTimeLimit", "kInfeasible", "kInterrupt", "kHighsInterrupt", "kObjectiveBound",
                "kSolutionLimit", "kIterationLimit", "kMemoryLimit", "kOptimal")


# HiGHS 1.16's primal heuristics, off in proof rounds (OASettings.proof_highs_options). With an
# objective bound below every master point they only search: on 5 ADNs x 24 h, cutoff at
# incumbent - 0.9 tol, 20 sub-MIPs took 58 of the round's 69 s and it processed 0 nodes.
_PROOF_HIGHS_OPTIONS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_rens": False,
                        "mip_heuristic_run_rins": False, "mip_heuristic_run_root_reduced_cost": False,
                        "mip_heuristic_run_feasibility_jump": False}


@dataclass
class OASettings:
    """Settings of the outer approximation (the gap, time and ECOS settings are BnBOptions')."""

    # with an incumbent of gap tolerance tol (bounds.tolerance): the master's cutoff is
    # incumbent - cutoff_share x tol and HiGHS's mip_abs_gap = master_gap_share x tol, its
    # mip_rel_gap = master_gap_share x tol / max(1, |cutoff|); a master that finds no point
    # below the cutoff then proves incumbent - bound <= (cutoff_share + 2 master_gap_share) tol
    # = 0.8 tol. Without an incumbent: mip_rel_gap = first_gap_share x rel_gap.
    cutoff_share: float = 0.4
    master_gap_share: float = 0.2
    # a master stops at its first point below incumbent - target_share x tol (HiGHS
    # objective_target), to re-solve it at once rather than prove the master's optimum first;
    # None = off. Off by default, measured on 1 ADN x 24 h (load 3-4): on, a master stopped at
    # 7.58228 after 7.6 s, its re-solve did not improve the incumbent, and the proof round took
    # 26 s (50.1 s in all); off, 19.3 s
    target_share: Optional[float] = None
    # the user heuristics: "fallback" = at a point (root relaxation, master) whose
    # fixed-integer re-solve gave no certified point; "always"; "never". Measured: the DSO-led
    # follower response costs 21 s at the 5-ADN root (load 4-5) for 52,499.38 $, where the first
    # master's re-solve gives 52,466.19 $
    user_heuristics: str = "fallback"
    # also at the root relaxation point (as user_heuristics says); when off, they still run there
    # if the first master ends without a point and no incumbent exists
    root_user_heuristics: bool = False
    # the first master runs at most this share of the time limit, so that its point (re-solved
    # by ECOS) gives an incumbent and tangents early
    first_round_share: float = 0.4
    threads: int = 1                   # HiGHS threads (1: as SCIP's reference runs; 0 = HiGHS's choice)
    highs_options: dict = field(default_factory=dict)   # further HiGHS options, e.g. {"mip_heuristic_effort": 0.01}
    # proof rounds: a round with an incumbent whose previous master ended kOptimal (HiGHS
    # closed it within its round) at a point below the proof cutoff (so the master has points
    # there for HiGHS to find and close) uses proof_cutoff_share / proof_gap_share in place of
    # cutoff_share / master_gap_share, and proof_highs_options over highs_options (default:
    # HiGHS's primal heuristics off; a point below the cutoff is still re-solved). "No master
    # point below the cutoff" then proves incumbent - bound <= 0.98 tol, and HiGHS has more to
    # prune and no sub-MIPs to run. Measured (load 3.4, 1 ADN x 24 h): solve 15.3 s vs 21.0 s
    # (proof cutoff, heuristics on) and 27.0 s (0.4 / 0.2). Not otherwise: on 5 ADNs x 24 h
    # (first master point 52,462.02 $, above the proof cutoff 52,461.06 $; HiGHS's tree stalls
    # at 52,457 $, below the 52,459 $ a proof needs) a proof round found no point and ended at
    # 0.0164 % (120 s) / 0.0156 % (300 s) vs 0.0156 % / 0.013 % for the 0.4 / 0.2 rounds,
    # whose points just below the cutoff improve the incumbent. proof_rounds=False: never.
    # Lagrangian cuts from the blocks (module docstring 3b; only when solve() gets `blocks`):
    # each block's B&B runs at most lagrangian_block_seconds, and blocks started after
    # lagrangian_share x time limit are solved at their root only (a valid, weaker bound)
    lagrangian_cuts: bool = True
    lagrangian_block_seconds: float = 10.0
    lagrangian_share: float = 0.3
    proof_rounds: bool = True
    # ... and only when the previous master's final point, re-solved, exceeded its master
    # objective (the outer approximation's error there) by at most this share of tol: with a
    # larger error the master's optimum moves once the point's tangents are in, and a proof
    # round against the cutoff is a bet on an inaccurate master
    proof_oa_error_share: float = 0.5
    proof_cutoff_share: float = 0.9
    proof_gap_share: float = 0.04
    proof_highs_options: dict = field(default_factory=lambda: dict(_PROOF_HIGHS_OPTIONS))
    # without an incumbent the master only has to propose integers: HiGHS mip_rel_gap = this x rel_gap
    first_gap_share: float = 1.0
    # during a master run: re-solve each improving HiGHS point below the cutoff at once and stop
    # the run as soon as its bound proves the gap against the (possibly new) incumbent
    inflight: bool = True
    cone_tol: float = 1e-7             # a cone is violated at a master point if ||z|| - t > cone_tol x max(1, t)
    active_tol: float = 1e-5           # a cone is active at an ECOS point if t - ||z|| <= active_tol x max(1, t)
    master_log: bool = False           # HiGHS's own log to stdout

    def __post_init__(self):
        if self.user_heuristics not in ("fallback", "always", "never"):
            raise ValueError(f"OASettings.user_heuristics = {self.user_heuristics!r}: expected "
                             "'fallback', 'always' or 'never'")
        for c, g, names in ((self.cutoff_share, self.master_gap_share, "cutoff_share + 2 master_gap_share"),
                            (self.proof_cutoff_share, self.proof_gap_share,
                             "proof_cutoff_share + 2 proof_gap_share")):
            if not (c >= 0 and g >= 0 and c + 2 * g < 1):
                raise ValueError(f"OASettings: {names} = {c + 2 * g:g} must be in [0, 1) "
                                 "(a master without a point below the cutoff must prove the gap)")
        if not 0 < self.first_round_share <= 1:
            raise ValueError(f"OASettings.first_round_share = {self.first_round_share!r}: expected (0, 1]")


class _Monitor:
    """A master run's in-flight hooks (Master.solve's `monitor`). Each improving HiGHS point
    below the cutoff is re-solved at once (fixed integers, ECOS; a certified point becomes the
    incumbent; points and re-solves are kept for the tangents after the run), and the run is
    stopped as soon as the bound it would report proves the gap against the incumbent.
    Measured on 24 h, load 2.6-3.4 (single runs; 1-ADN repeats vary by ~3 s): 2 ADNs 62.3 s vs
    119.8 s without the monitor (the second master's points re-solved at once gave the
    incumbent its bound then proved); re-solving only points within the gap tolerance of the
    run's bound 87.5 s; 1 ADN 19.4 / 17.9 s vs 14.6 / 17.6 s without (11 re-solves in the proof
    round), stop test alone 17.8 / 17.5 s; 5 ADNs unchanged at 120 s (the first incumbent at
    37 s instead of 50 s)."""

    def __init__(self, run, cutoff, tag):
        self.run, self.cutoff, self.tag = run, cutoff, tag
        self.points = []                   # (master point, its fixed-integer ECOS point or None, certified)

    def point(self, x, obj) -> None:
        run = self.run
        if not (obj < self.cutoff and time.perf_counter() < run.deadline) or run.stop():
            return
        y = run.recover(x, self.tag)
        self.points.append((x, y, run.last_certified))

    def enough(self, bound) -> bool:
        tr = self.run.tracker
        if not math.isfinite(tr.incumbent):
            return False
        a, r = gap(tr.incumbent, max(bound, tr.bound), tr.floor)
        return a <= tr.abs_tol or r <= tr.rel_tol


@dataclass
class OAResult(BnBResult):
    oa: dict = field(default_factory=dict)           # JSON-serialisable run statistics
    lagrangian_rows: Optional[tuple] = None          # (C, d) of the Lagrangian cuts C x <= d (3b), or None


def solve(prob, options=None, heuristics: Sequence[Callable] = (), callback: Optional[Callable] = None,
          settings: Optional[OASettings] = None, stop: Optional[Callable[[], bool]] = None,
          start_heuristics: Sequence[Callable] = (), blocks=None) -> OAResult:
    """`heuristics`: user heuristics (callable(prob, x, lb, ub) -> x or None), run as
    OASettings.user_heuristics says; `start_heuristics`: the same kind, run once at the root
    relaxation point (cheap ones: e.g. a cached incumbent); `stop`: callable() -> True to stop
    (default: the process-wide SIGINT / SIGTERM request of conic/interrupt.py); `blocks`:
    (labels, names) of decomposition.blocks.decompose for the Lagrangian cuts (3b), or None."""
    opts = BnBOptions.coerce(options)
    mode = prob.hints.mode(opts.complementarity)
    pairs = complementarity_pairs(prob)
    if mode == "branch" and len(pairs):
        raise ValueError("method 'oa': the problem declares complementarity pairs in 'branch' mode; "
                         "the MILP master needs them enforced by binaries (build it with complementarity='bigm')")
    st = settings or OASettings()
    run = _Run(prob, opts, st, pairs, heuristics, callback, interrupt.requested if stop is None else stop,
               start_heuristics, blocks)
    if not interrupt.active():
        interrupt.clear()
    try:
        reason = run.loop()
    except KeyboardInterrupt:
        reason = "interrupted"
    return run.result(reason)


class _Run:
    def __init__(self, prob, opts, st, pairs, heuristics, callback, stop, start_heuristics=(), blocks=None):
        self.prob, self.opts, self.st, self.pairs = prob, opts, st, pairs
        self.blocks = blocks
        self.lagrangian = {}
        self.lagrangian_rows = None
        self.last_certified = False        # the Certifier's verdict on the last recover()'s point
        self.heuristics, self.callback, self.stop = heuristics, callback, stop
        self.start_heuristics = start_heuristics
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + opts.time_limit if math.isfinite(opts.time_limit) else math.inf
        self.tracker = BoundTracker(opts.abs_gap, opts.rel_gap, self.t0, floor=opts.gap_floor)
        self.cert = Certifier(prob, opts, pairs)
        self.solver = NodeSolver(prob, opts, deadline=self.deadline if math.isfinite(self.deadline) else None)
        self.cones = ConeIndex(prob)
        self.master: Optional[Master] = None
        self.x0: Optional[np.ndarray] = None
        self.resolve_seconds = 0.0        # longest fixed-integer re-solve so far (reserved at the deadline)
        size = dict(prob.size_report(), pairs=int(len(pairs)))
        self.log = BnBLog(opts, size, objective_unit=str(prob.meta.get("objective_unit", "")))
        self.log.message("outer approximation (solver/oa), in the B&B's table: nodes = HiGHS master nodes over "
                         "all rounds, left = 0; a line after the root, each master round and each new incumbent")
        self.log.header(opts)
        self.rounds = 0
        self.n_proof = 0
        self.master_seconds = 0.0
        self.master_statuses = []
        self.cuts = 0
        self.log_rows = []
        self.lb, self.ub = rounded_root_bounds(prob, opts.int_tol)

    # ---------------------------------------------------------------- helpers
    def say(self, msg):
        self.log.message(msg)

    def usd(self, v) -> str:
        """An objective value in the log's display unit (solver/log.py: $ for a k$ model)."""
        return f"{self.log._num(v).strip()} {self.log.unit}".rstrip()

    def table(self, mark=" ", force=False):
        tr = self.tracker
        self.log.line(tr.elapsed(), self.master.nodes if self.master else 0, 0, self.solver.ecos_seconds,
                      tr.incumbent, tr.bound, tr.gap()[1], mark, force=force)

    def elapsed(self):
        return time.perf_counter() - self.t0

    def offer(self, x, source, certified: Optional[bool] = None) -> bool:
        """`certified`: the Certifier's verdict on x if already known (not checked again)."""
        if x is None:
            return False
        ok = self.cert.check(x)[0] if certified is None else certified
        if not ok:
            return False
        improved = self.tracker.offer(self.prob.objective(x), x, source)
        if improved:
            self.table("u" if source.split(":")[-1] not in ("fixed",) else "*")
            self.say(f"oa: incumbent {self.usd(self.tracker.incumbent)} from {source} at {self.elapsed():.2f} s")
        return improved

    def run_hooks(self, hooks, x, tag):
        if hooks and time.perf_counter() < self.deadline:
            dl = self.deadline if math.isfinite(self.deadline) else None
            for name, z in run_user_heuristics(hooks, self.prob, x, self.lb.copy(), self.ub.copy(), None, dl):
                self.offer(z, f"{tag}:{name}")

    def recover(self, x, tag):
        """Certified candidates from the guide point x; returns the fixed-integer ECOS point (or None)."""
        t = time.perf_counter()
        y = fix_and_solve(self.prob, self.solver, x, self.lb, self.ub, self.opts, self.pairs)
        self.resolve_seconds = max(self.resolve_seconds, time.perf_counter() - t)
        ok = self.last_certified = y is not None and self.cert.check(y)[0]
        self.offer(y, f"{tag}:fixed", certified=ok)
        mode = self.st.user_heuristics
        users = mode == "always" or (mode == "fallback" and not ok)
        if users and (tag != "root" or self.st.root_user_heuristics):
            self.run_hooks(self.heuristics, x, tag)
        return y

    def add_cuts(self, x, which) -> int:
        if x is None or self.cones.m == 0:
            return 0
        viol, t, _ = self.cones.violation(x)
        scale = np.maximum(1.0, np.abs(t))
        if which == "violated":
            sel = np.flatnonzero(viol > self.st.cone_tol * scale)
        elif which == "active":
            sel = np.flatnonzero(-viol <= self.st.active_tol * scale)
        else:
            sel = np.arange(self.cones.m)
        if sel.size == 0:
            return 0
        C, d = self.cones.tangents(x, sel)
        k = self.master.add_rows(C, d)
        self.cuts += k
        return k

    def stop_reason(self) -> Optional[str]:
        tr = self.tracker
        a_gap, r_gap = tr.gap()
        if self.callback is not None and self.rounds and self.callback(dict(
                nodes=self.master.nodes if self.master else 0, open_nodes=0, incumbent=tr.incumbent,
                best_bound=tr.bound, abs_gap=a_gap, rel_gap=r_gap, seconds=tr.elapsed())):
            return "interrupted"
        if self.stop():
            return "interrupted"
        if tr.bound == math.inf and tr.x is None:
            return "infeasible"
        if tr.converged():
            return "gap"
        if time.perf_counter() >= self.deadline:
            return "time_limit"
        if 1 + self.rounds >= self.opts.node_limit:     # the root relaxation is node 1, a master round one more
            return "node_limit"
        return None

    # ---------------------------------------------------------------- the loop
    def loop(self) -> str:
        opts, st, tr = self.opts, self.st, self.tracker
        root = self.solver.solve(self.lb, self.ub)
        if root.status in ("interrupted", "time_limit"):
            return root.status
        if root.status == "infeasible":
            tr.update_bound(math.inf)
            return "infeasible"
        x0 = self.x0 = root.x
        if root.status == "optimal":
            tr.update_bound(root.bound)
            self.say(f"oa: root relaxation {self.usd(root.bound)} ({self.elapsed():.2f} s)")
            self.table(force=True)
        else:
            self.say(f"oa: root relaxation untrusted ({root.ecos_statuses}): no bound from it")
        self.run_hooks(self.start_heuristics, x0, "start")
        y0 = self.recover(x0, "root") if x0 is not None else None
        self.master = Master(self.prob, log=st.master_log, threads=st.threads, options=st.highs_options)
        self.say(f"oa: master {self.prob.n} columns, {self.master.base_rows} linear rows, "
                 f"{len(self.prob.integer)} integers; HiGHS tolerances {self.master.tolerances}")
        n0 = self.add_cuts(x0, "all") + self.add_cuts(y0, "active") + self.add_cuts(tr.x, "active")
        self.say(f"oa: {n0} tangent cuts at the root points ({self.elapsed():.2f} s)")
        if self.blocks is not None and st.lagrangian_cuts and root.status == "optimal" and not tr.converged():
            self.add_lagrangian_cuts()
        while True:
            reason = self.stop_reason()
            if reason is not None:
                return reason
            reason = self.round()
            if reason is not None:
                return reason

    def add_lagrangian_cuts(self) -> None:
        """Module docstring 3b: the Lagrangian at the root duals, its bound, its cuts."""
        st, opts, tr = self.st, self.opts, self.tracker
        t = time.perf_counter()
        sol = ea.solve(self.prob, self.lb, self.ub, **opts.ecos_tolerances)   # the duals
        if sol.status != ea.OPTIMAL:
            self.say(f"oa: no Lagrangian cuts: the root relaxation's duals are untrusted ({sol.status})")
            return
        labels, names = self.blocks
        dec = decompose(self.prob, labels, names)
        share = st.lagrangian_share * opts.time_limit if math.isfinite(opts.time_limit) else math.inf
        deadline = min(self.deadline, t + share)
        lag = Lagrangian(dec, block_options(opts, time_limit=st.lagrangian_block_seconds), t0=self.t0,
                         deadline=deadline if math.isfinite(deadline) else None)
        val = lag.evaluate(dec.multipliers_from_duals(sol.y, sol.z), self.lb, self.ub)
        n = 0
        C = d = None
        if math.isfinite(val.bound):
            tr.update_bound(val.bound)
            if val.block_bounds is not None:
                C, d = lagrangian_cuts(dec, val)
                n = self.master.add_rows(C, d)
        self.lagrangian = dict(blocks=len(dec.blocks), bound=val.bound, cuts=n, seconds=time.perf_counter() - t,
                               block_ecos_seconds=lag.ecos_seconds, late_blocks=lag.late_blocks,
                               untrusted_blocks=len(val.untrusted_blocks))
        self.lagrangian_rows = (C, d)
        self.say(f"oa: Lagrangian over {len(dec.blocks)} blocks at the root duals: bound {self.usd(val.bound)}, "
                 f"{n} cuts ({time.perf_counter() - t:.2f} s; {lag.late_blocks} blocks at their root only, "
                 f"{len(val.untrusted_blocks)} untrusted)")
        self.table(force=True)
        if val.x is not None and time.perf_counter() < self.deadline:
            # the blocks' points are exact (conic) at integer solutions of their blocks: the
            # tangents there (and at the fixed-integer re-solve) shape the master where its
            # integer points lie
            y = self.recover(val.x, "lagrangian")
            k = self.add_cuts(val.x, "all") + self.add_cuts(y, "active")
            self.say(f"oa: {k} tangent cuts at the Lagrangian blocks' point and its re-solve")

    def round(self) -> Optional[str]:
        opts, st, tr = self.opts, self.st, self.tracker
        self.rounds += 1
        inc = tr.incumbent
        tol = tr.tolerance(inc) if math.isfinite(inc) else math.inf
        last = self.log_rows[-1] if self.log_rows else None
        proof = (st.proof_rounds and math.isfinite(inc) and last is not None
                 and last["status"] == "kOptimal"
                 and last["master_objective"] < inc - st.proof_cutoff_share * tol
                 and last.get("resolved_objective", math.inf) - last["master_objective"]
                 <= st.proof_oa_error_share * tol)
        share = st.proof_gap_share if proof else st.master_gap_share
        if math.isfinite(inc):
            cutoff = inc - (st.proof_cutoff_share if proof else st.cutoff_share) * tol
            rel, absg = share * tol / max(1.0, abs(cutoff)), share * tol
        else:
            cutoff, rel, absg = math.inf, st.first_gap_share * opts.rel_gap, share * max(opts.abs_gap, 1e-9)
        target = (inc - st.target_share * tol if st.target_share is not None and math.isfinite(inc)
                  else -math.inf)
        left = self.deadline - time.perf_counter()
        if left > 4 * self.resolve_seconds:
            left -= 2 * self.resolve_seconds       # time for the re-solve of its last point
        if self.rounds == 1 and math.isfinite(opts.time_limit):
            left = min(left, st.first_round_share * opts.time_limit)
        mon = _Monitor(self, cutoff, f"oa{self.rounds}") if st.inflight else None
        m = self.master.solve(left, rel, absg, cutoff=cutoff, start=tr.x, target=target,
                              options=st.proof_highs_options if proof else None, monitor=mon)
        self.n_proof += proof
        self.master_seconds += m.seconds
        self.master_statuses.append(m.status)
        before = tr.bound
        if m.status == "kInfeasible" and not math.isfinite(cutoff):
            tr.update_bound(math.inf)                  # the relaxation has no point: nor has the MISOCP
            return "infeasible"
        if m.bound > -math.inf:
            tr.update_bound(m.bound)
        if m.status in ("kInterrupt", "kHighsInterrupt") and not m.stopped:
            return "interrupted"
        self.say(f"oa: round {self.rounds}{' (proof)' if proof else ''}: master {m.status} in {m.seconds:.2f} s "
                 f"({m.nodes} nodes), "
                 f"bound {self.usd(m.bound)}, master point {self.usd(m.objective)}, "
                 f"cutoff {self.usd(cutoff)}, {self.cuts} cuts, at {self.elapsed():.2f} s")
        self.table(force=True)
        self.log_rows.append(dict(round=self.rounds, proof=proof, cutoff_incumbent=inc, seconds=self.elapsed(),
                                  status=m.status,
                                  master_seconds=m.seconds, nodes=m.nodes, bound=m.bound,
                                  master_objective=m.objective, cutoff=cutoff, best_bound=tr.bound,
                                  incumbent=tr.incumbent, cuts=self.cuts))
        # a master point at or above the cutoff is HiGHS's copy of the start (the incumbent)
        x = m.x if m.x is not None and m.objective < cutoff else None
        seen = mon.points if mon is not None else []
        k_seen = sum(self.add_cuts(p, "violated") + self.add_cuts(q, "active") for p, q, _ in seen)
        if tr.converged():
            return None
        for p, q, certified in seen:
            if x is not None and certified and np.array_equal(x, p):
                self._resolved(q)
                break
        if x is not None and any(np.array_equal(x, p) for p, _, _ in seen):
            # re-solved during the run already: its cuts are in
            return "stalled" if (k_seen == 0 and tr.incumbent >= inc and tr.bound <= before
                                 and time.perf_counter() < self.deadline) else None
        if (x is None and self.rounds == 1 and tr.x is None and not self.st.root_user_heuristics
                and self.x0 is not None and m.status not in ("kInterrupt", "kHighsInterrupt")):
            # the first master gave no point (large problems): the user heuristics at the root
            # relaxation point after all, so that a run does not end without any incumbent
            self.run_hooks(self.heuristics, self.x0, "root")
        if x is None:
            if m.status not in _NO_POINT_OK:
                return "master_failed"
            if m.status in ("kTimeLimit", "kInterrupt", "kHighsInterrupt"):
                return None                            # the loop's stop test says why
            return "stalled" if tr.bound <= before else None
        y = self.recover(x, f"oa{self.rounds}")
        if self.last_certified:
            self._resolved(y)
        k = k_seen + self.add_cuts(x, "violated") + self.add_cuts(y, "active")
        if (k == 0 and tr.incumbent >= inc and tr.bound <= before
                and time.perf_counter() < self.deadline):
            return "stalled"
        return None

    def _resolved(self, y) -> None:
        """Record the certified fixed-integer re-solve y of this round's final master point."""
        row = self.log_rows[-1]
        row["resolved_objective"] = self.prob.objective(y)
        self.say(f"oa: round {self.rounds}: master point {self.usd(row['master_objective'])} re-solved at "
                 f"{self.usd(row['resolved_objective'])}")

    # ---------------------------------------------------------------- result
    def result(self, reason) -> OAResult:
        tr, solver = self.tracker, self.solver
        a_gap, r_gap = tr.gap()
        has_x = tr.x is not None
        if reason == "gap":
            status = "optimal"
        elif reason == "infeasible":
            status = "infeasible" if not has_x else "optimal"
        elif reason in ("stalled", "master_failed"):
            status = "feasible" if has_x else "unresolved"
        else:
            status = reason
        if status == "optimal" and not tr.converged():      # never claim what the gap does not show
            status = "feasible"
        seconds = tr.elapsed()
        info = dict(rounds=self.rounds, proof_rounds=self.n_proof, cuts=self.cuts, master_seconds=self.master_seconds,
                    master_nodes=self.master.nodes if self.master else 0, master_statuses=list(self.master_statuses),
                    master_tolerances=self.master.tolerances if self.master else {}, log=list(self.log_rows),
                    lagrangian=dict(self.lagrangian))
        res = OAResult(status=status, x=tr.x, objective=tr.incumbent if has_x else math.nan,
                       best_bound=tr.bound, abs_gap=a_gap, rel_gap=r_gap, stop_reason=reason,
                       nodes=info["master_nodes"], node_solves=solver.calls, inaccurate_solves=solver.inaccurate,
                       unresolved_nodes=0, seconds=seconds, ecos_seconds=solver.ecos_seconds,
                       other_seconds=seconds - solver.ecos_seconds,
                       incumbent_history=list(tr.incumbent_history), bound_history=list(tr.bound_history),
                       incumbent_source=tr.incumbent_source, rejected_candidates=self.cert.rejected,
                       options=self.opts, oa=info, lagrangian_rows=self.lagrangian_rows)
        self.table(force=True)
        self.say(f"oa: {self.rounds} master rounds ({self.master_seconds:.1f} s, statuses "
                 f"{', '.join(self.master_statuses) or '-'}), {self.cuts} tangent cuts")
        self.log.summary(res)
        return res
