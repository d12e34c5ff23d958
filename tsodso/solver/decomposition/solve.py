"""The decomposition solver: Lagrangian bound first, primal recovery, then B&B on top.

    solve(prob, labels, names=None, options=None, heuristics=(), callback=None,
          settings=None) -> DecompositionResult (a BnBResult with the Lagrangian's record)

1. Root relaxation (ECOS, the options' tolerances). Its duals of the coupling rows are the
   first multipliers (zeros if ECOS does not return OPTIMAL: still a valid bound).
2. Lagrangian bound at those multipliers (lagrangian.py), blocks solved to integrality by
   our B&B over ECOS. Computed before any heuristic, so the first bound comes early.
3. Primal recovery from the block point (integral in every block, coupling rows violated):
   (a) its integers fixed and the full continuous SOCP solved (solver/heuristics.fix_and_solve),
   (b) the user heuristics (the model's follower response) with the block point as guide.
   When no full-size solve is predicted to fit (large problems, `sequence` given): block by
   block (recovery.py), first `linked_recovery` from the `link` blocks' point (e.g. ADN-day
   blocks: battery cycles kept, the energies fixed, each hour alone), else hour by hour.
   Every candidate is certified (solver/heuristics.Certifier) before it becomes the incumbent.
4. Proximal bundle (bundle.py) for at most `settings.bundle_seconds` (and at most
   `bundle_fraction` of the time limit), stopping early when the bound reaches the pruning
   cutoff of the incumbent; recovery again from the best bundle point.
5. Branch-and-bound (solver/bnb.py) with root_bound = the best Lagrangian bound and, at every
   node, the Lagrangian bound at the best multipliers over the node's branching bounds: only
   the blocks whose bounds the branching decisions changed are re-solved (the others come from
   the cache), and a node whose Lagrangian bound reaches the cutoff is pruned without its ECOS
   solve. The tree's relaxations carry the Lagrangian cuts of the root and best multipliers
   (cuts.py), so their bounds start at the Lagrangian bound and combine with branching.

Status and gap come from the B&B's bookkeeping (bounds.py): "optimal" only with a proven gap.
`ecos_seconds`, `node_solves` and `inaccurate_solves` add the root, block, recovery and tree
solves; `lagrangian` holds the bound sequence (time-stamped, from the start of `solve`).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ...conic import ecos_adapter as ea
from ..bounds import rounded_root_bounds
from ..bnb import BnBResult, complementarity_pairs, solve as bnb_solve
from ..heuristics import Certifier, fix_and_solve, run_user_heuristics
from ..options import BnBOptions
from ..relax import NodeSolver
from .blocks import decompose
from .bundle import proximal_bundle
from .lagrangian import Lagrangian, LagrangianValue, block_options, run_block
from .multipliers import predict_monolithic_seconds, staged_duals
from .parallel import check_scheduler, make_pool
from .recovery import linked_recovery, sequential_recovery

__all__ = ["DecompositionSettings", "DecompositionResult", "solve", "ROOT_MODES", "RootBound",
           "decomposition_root_bound"]

ROOT_MODES = ("auto", "monolithic", "staged")
# full-size ECOS solves a full-problem recovery may take (fix-and-solve, then the user heuristics):
# 20 ADNs x 24 h, the follower response took 101 s = 8.1 x the predicted 12.4 s per solve
FULL_RECOVERY_SOLVES = 8

LOGGER = logging.getLogger("tsodso.decomposition")


@dataclass
class DecompositionSettings:
    """Settings of the decomposition layer (the B&B's own options stay in BnBOptions)."""

    # proximal bundle iterations after the root evaluation. Off by default, measured: from the
    # root ECOS duals, 10 iterations found no ascent (0 serious steps) on 1 ADN x 6 h from 10:00
    # with predicted increases of 1, 0.1 and 0.01 $, nor 15 on 1 ADN x 24 h (old default case):
    # the root duals are (near) optimal multipliers for the (ADN, hour) blocks here.
    bundle_iterations: int = 0
    bundle_seconds: float = 30.0        # and at most this long ...
    bundle_fraction: float = 0.1        # ... and at most this share of the time limit
    # Lagrangian node bounds inside the B&B. Off by default, measured: they pruned 0 of 13-39
    # nodes (1 ADN x 24 h, 2 ADNs x 6 h from 09:00) and cost 10-15 s of a 100-120 s run
    # (propagation fixes binaries of several blocks per node, so several blocks re-solve).
    node_bounds: bool = False
    cuts: bool = True                   # Lagrangian cuts (cuts.py) in the tree's relaxations
    recovery: bool = True               # primal recovery from block points
    workers: int = 1                    # block solves on this many local processes (parallel.py)
    scheduler: Optional[object] = None  # or on a dask.distributed cluster: "tcp://HOST:PORT" or a Client
    refine_fraction: float = 0.9        # share of the time left that the refined blocks may take
    # refinement only while the problem is small against the limit: a monolithic solve predicted
    # at most this share of it (5 ADNs x 24 h, 1.6 s of 120 s: 52,450.80 -> 52,456.89 $; 20 ADNs,
    # 46 s predicted then, 300 s: 24 hour blocks stopped at 9.9 s each, 212,076.24 $, below the
    # (ADN, hour) bound 212,192.25 $, after 113 s)
    refine_share: float = 0.02
    # after a staged first bound ("auto" only): the monolithic root relaxation and a Lagrangian
    # at its duals when its predicted solve is at most this share of the time left
    upgrade_share: float = 0.5
    # first multipliers (module doc, step 1): "monolithic" = the root relaxation's ECOS duals;
    # "staged" = block relaxations passed between the `stages` decompositions
    # (multipliers.staged_duals), no monolithic solve at all; "auto" = monolithic when its
    # predicted ECOS time (multipliers.predict_monolithic_seconds) is at most `root_share` of
    # the time limit and stages are given, else staged
    root: str = "auto"
    root_share: float = 0.1
    # full-size ECOS solves after the first multipliers (the full recovery, the tree): None =
    # when predicted to end before the deadline (multipliers.predict_monolithic_seconds); False =
    # never (recovery block by block over `sequence`, no tree search); True = always
    full_solves: Optional[bool] = None
    staged_share: float = 0.5          # of the time left that the staged passes may take
    # the linking blocks of the block-by-block recovery (solve's `link`): each block B&B at
    # most this long, and all of them at most `link_share` of the time left
    link_block_seconds: float = 2.0
    link_share: float = 0.25
    staged_passes: int = 2              # 1 ADN/2 ADNs x 4 h: 1 pass 1,194.89 $, 2 passes 1,210.006 $
                                        # (root duals: 1,210.015 $)
    # (0.6 left 2.5 s per block on 5 ADNs x 24 h: 52,434.33 $, below the (ADN, hour) bound; the
    # unlimited evaluation reaches 52,456.89 $ in 91 s, and the tree did not move the bound there)


@dataclass
class DecompositionResult(BnBResult):
    lagrangian: dict = field(default_factory=dict)
    # the best multipliers found (coupling rows of the decomposition, solve's `multipliers=`)
    multipliers: Optional[np.ndarray] = None


def _say(opts, msg):
    if opts.verbose:
        if opts.log_stream is not None:
            print(msg, file=opts.log_stream, flush=True)
        else:
            LOGGER.info(msg)


def solve(prob, labels, names=None, options=None, heuristics: Sequence[Callable] = (),
          callback: Optional[Callable] = None, settings: Optional[DecompositionSettings] = None,
          refine=None, stages=None, sequence=None, multipliers=None, link=None) -> DecompositionResult:
    """`refine`: optional (labels, names) of coarser blocks (fewer coupling rows, larger blocks),
    evaluated once at the root duals after the recovery, within the time limit (module doc, 4b).
    `stages`: optional [(labels, names, block indices or None for all)] for the staged
    multipliers (settings.root, multipliers.staged_duals). `sequence`: optional (labels, names)
    of blocks in order for the block-by-block recovery (recovery.py), used instead of the
    full-problem recovery when a full-size ECOS solve is predicted not to finish in time.
    `multipliers`: optional start multipliers (length = the decomposition's coupling rows, e.g.
    `result.multipliers` of an earlier run on the same problem, from a cache):
    used instead of the staged multipliers, and evaluated next to the monolithic root's duals;
    ignored (with a log line) if the length differs. Any vector gives a valid bound.
    `link`: optional (labels, names) of blocks that own every row spanning the `sequence`
    blocks (e.g. ADN-day blocks own the battery energy rows between hours): with `sequence`,
    the block-by-block recovery first evaluates the Lagrangian of these blocks (each block B&B
    limited, `settings.link_block_seconds`; its bound counts when it is higher) and recovers
    from their point with the linking variables fixed (recovery.linked_recovery), then
    re-solves the continuous problem with the recovered integers fixed when one full-size
    solve fits; the hour-by-hour `sequential_recovery` only if that finds nothing."""
    opts = BnBOptions.coerce(options)
    st = settings or DecompositionSettings()
    _check_root(st, stages)
    t0 = time.perf_counter()
    deadline = t0 + opts.time_limit if math.isfinite(opts.time_limit) else math.inf
    say = lambda m: _say(opts, m)          # noqa: E731
    dec = decompose(prob, labels, names)
    say(f"decomposition: {len(dec.blocks)} blocks, {dec.coupling_eq.size} coupling equality rows, "
        f"{dec.coupling_lp.size} coupling inequality rows dualised")
    pool = make_pool(dec, block_options(opts), st.workers, st.scheduler)
    if pool is not None:
        say(f"decomposition: block solves on {pool.workers} workers"
            + (f" (Dask, {st.scheduler})" if st.scheduler is not None else " (local processes)"))
    lag = Lagrangian(dec, block_options(opts), t0=t0, log=say, pool=pool,
                     deadline=deadline if math.isfinite(deadline) else None)
    try:
        return _solve(prob, dec, lag, opts, st, heuristics, callback, t0, deadline, say, refine, stages, sequence,
                      multipliers, link)
    finally:
        if pool is not None:
            pool.close()


def _root_bounds(prob, opts):
    """The B&B's root bounds (integer bounds rounded inwards)."""
    return rounded_root_bounds(prob, opts.int_tol)


def _warm_multipliers(dec, lam, say):
    """Given start multipliers as a float array, or None (absent, wrong length, not finite)."""
    if lam is None:
        return None
    lam = np.asarray(lam, float).reshape(-1)
    if lam.size != dec.n_multipliers or not np.all(np.isfinite(lam)):
        say(f"decomposition: given multipliers ignored ({lam.size} values for {dec.n_multipliers} "
            "coupling rows, or not finite)")
        return None
    lam = lam.copy()
    lam[dec.coupling_eq.size:] = np.maximum(lam[dec.coupling_eq.size:], 0.0)
    return lam


def _budget(deadline):
    """The ECOS time budget (s) of a full-size solve: what is left before the deadline."""
    return None if not math.isfinite(deadline) else max(deadline - time.perf_counter(), 0.0)


def _check_root(st, stages):
    if not isinstance(st.workers, int) or st.workers < 1:
        raise ValueError(f"decomposition workers {st.workers!r}: expected an integer >= 1")
    if isinstance(st.scheduler, str):
        check_scheduler(st.scheduler)
    if st.root not in ROOT_MODES:
        raise ValueError(f"decomposition root {st.root!r}: expected one of {ROOT_MODES}")
    if st.root == "staged" and not stages:
        raise ValueError("decomposition root 'staged' needs the stage decompositions (stages=)")


def _root_mode(st, stages, predicted, opts) -> str:
    """settings.root resolved: "staged" or "monolithic" (DecompositionSettings.root)."""
    _check_root(st, stages)
    if st.root == "auto":
        return "staged" if stages and predicted > st.root_share * opts.time_limit else "monolithic"
    return st.root


def _staged(prob, stages, lb, ub, st, opts, deadline, log=None):
    """(StagedDuals, z with zeros for the cone rows) over the `stages` (solve's argument)."""
    sdecs = []
    for s in stages:
        d = decompose(prob, s[0], s[1] if len(s) > 1 else None)
        w = s[2] if len(s) > 2 and s[2] is not None else range(len(d.blocks))
        sdecs.append((d, w))
    # the passes may take `staged_share` of the time left; stopped early they still give
    # multipliers (any multipliers give a valid bound), and the blocks need the rest
    now = time.perf_counter()
    stop = now + st.staged_share * (deadline - now) if math.isfinite(deadline) else math.inf
    sd = staged_duals(prob, sdecs, lb, ub, passes=st.staged_passes, tolerances=opts.ecos_tolerances,
                      deadline=stop, log=log)
    return sd, np.concatenate([sd.z, np.zeros(prob.G.shape[0] - prob.n_lp)])


def _solve(prob, dec, lag, opts, st, heuristics, callback, t0, deadline, say, refine=None, stages=None,
           sequence=None, warm=None, link=None):
    pairs = complementarity_pairs(prob)
    cert = Certifier(prob, opts, pairs)
    # full-size recovery solves under the time limit (relax.NodeSolver: a solve that cannot end by
    # the deadline is not started or is cut, status time_limit)
    node_solver = NodeSolver(prob, opts, deadline=deadline if math.isfinite(deadline) else None)
    best_x: List[Optional[np.ndarray]] = [None]
    best_obj = [math.inf]
    extra = dict(ecos=0.0, solves=0, inaccurate=0)
    sources: List[Tuple[float, str, float]] = []     # (seconds, recovery step, objective) per incumbent

    root_lb, root_ub = _root_bounds(prob, opts)

    def offer(x, source):
        if x is None:
            return False
        ok, _ = cert.check(x)
        if ok and prob.objective(x) < best_obj[0]:
            best_obj[0] = prob.objective(x)
            best_x[0] = np.array(x, float)
            sources.append((time.perf_counter() - t0, source, best_obj[0]))
            say(f"decomposition: incumbent {best_obj[0]:.9g} from {source} at {time.perf_counter() - t0:.2f} s")
            return True
        return False

    # 1. root relaxation and its duals, or the staged duals of block relaxations
    sol_y, sol_z = [None], [None]
    nnz = int(prob.A.nnz + prob.G.nnz)
    predicted = predict_monolithic_seconds(nnz)
    mode = _root_mode(st, stages, predicted, opts)
    say(f"decomposition: first multipliers {mode} (monolithic relaxation of {nnz} nonzeros predicted "
        f"{predicted:.3g} s; limit {opts.time_limit:.3g} s)")
    root_bound = -math.inf
    staged = sol = None
    if mode == "monolithic":
        tr = time.perf_counter()
        sol = ea.solve(prob, root_lb, root_ub, time_budget=_budget(deadline), **opts.ecos_tolerances)
        extra["ecos"] += time.perf_counter() - tr
        extra["solves"] += 1
        if sol.status == ea.OPTIMAL:
            root_bound = min(sol.objective, sol.dual_objective)
            lam0 = dec.multipliers_from_duals(sol.y, sol.z)
            sol_y[0], sol_z[0] = sol.y, sol.z
            say(f"decomposition: root relaxation {root_bound:.9g} ({time.perf_counter() - t0:.2f} s)")
        else:
            extra["inaccurate"] += 1
            lam0 = np.zeros(dec.n_multipliers)
            if sol.status == ea.TIME_BUDGET and stages:
                # the time limit would stop ECOS before it converges: staged multipliers instead
                mode = "staged"
            say(f"decomposition: root relaxation {sol.status}: multipliers "
                f"{'staged' if mode == 'staged' else 'start at 0'}")
    warm = _warm_multipliers(dec, warm, say)
    if mode == "staged" and warm is not None:
        # given multipliers instead of the staged ones; as global duals (coupling rows only) they
        # price the hour-by-hour recovery and the refinement as well
        mode = "given"
        lam0, warm = warm, None
        sol_y[0], sol_z[0] = dec.duals_from_multipliers(lam0)
    if mode == "staged":
        staged, zfull = _staged(prob, stages, root_lb, root_ub, st, opts, deadline, say)
        extra["ecos"] += staged.ecos_seconds
        extra["solves"] += staged.relaxations
        extra["inaccurate"] += staged.untrusted
        lam0 = dec.multipliers_from_duals(staged.y, zfull)
        sol_y[0], sol_z[0] = staged.y, zfull

    # 2. Lagrangian bound at the root duals (and at the given multipliers)
    v0 = lag.evaluate(lam0, root_lb, root_ub)
    if warm is not None:
        vw = lag.evaluate(warm, root_lb, root_ub)
        if vw.bound > v0.bound:
            v0 = vw
    best_lam = v0.lam

    seq_dec = [None]

    def full_fits(solves=1):
        # full-size ECOS solves are started only if predicted to end before the deadline
        if st.full_solves is not None:
            return bool(st.full_solves)
        return solves * predicted <= deadline - time.perf_counter()

    def recover(val: LagrangianValue, tag: str):
        xg = val.x if val.x is not None else val.x_guide
        if not st.recovery or xg is None or time.perf_counter() >= deadline:
            return
        found = False
        if full_fits(FULL_RECOVERY_SOLVES):
            y = fix_and_solve(prob, node_solver, xg, root_lb, root_ub, opts, pairs)
            found = offer(y, f"{tag}:fixed")
            for name, y in run_user_heuristics(heuristics, prob, xg, root_lb.copy(), root_ub.copy(), None,
                                               deadline if math.isfinite(deadline) else None):
                found = offer(y, f"{tag}:{name}") or found
        if found or sequence is None or (math.isfinite(best_obj[0]) and full_fits(FULL_RECOVERY_SOLVES)):
            if not found and not full_fits(FULL_RECOVERY_SOLVES):
                say(f"decomposition: no recovery ({tag}): a full-size solve is predicted {predicted:.3g} s")
            return
        # block by block (recovery.py): no full-size solve, or the full-size recovery found nothing
        if seq_dec[0] is None:
            seq_dec[0] = decompose(prob, sequence[0], sequence[1] if len(sequence) > 1 else None)
        if link is not None:
            found = linked(val, tag)
            if found:
                return
        y = sequential_recovery(prob, seq_dec[0], xg, root_lb, root_ub, opts, pairs, heuristics,
                                deadline, log=say, duals_eq=sol_y[0], duals_lp=sol_z[0])
        found = offer(y, f"{tag}:sequential")
        if not found and not full_fits(FULL_RECOVERY_SOLVES) and full_fits(2):
            # the hour-by-hour recovery found nothing: the integers fixed and one full-size solve
            # (no user heuristics: those take several full-size solves)
            y = fix_and_solve(prob, node_solver, xg, root_lb, root_ub, opts, pairs)
            offer(y, f"{tag}:fixed")

    def cutoff():
        if not math.isfinite(best_obj[0]):
            return math.inf
        return best_obj[0] - max(opts.abs_gap, opts.rel_gap * max(1.0, abs(best_obj[0])))

    def gap_met():
        return max([lag.best_bound] + [b for _, b in link_bounds]) >= cutoff()

    link_dec = [None]

    def linked(val: LagrangianValue, tag: str) -> bool:
        # the `link` blocks' Lagrangian at val's multipliers (the coupling rows they share),
        # each block B&B limited; their point holds the rows between the `sequence` blocks
        if link_dec[0] is None:
            link_dec[0] = decompose(prob, link[0], link[1] if len(link) > 1 else None)
        ld = link_dec[0]
        left = deadline - time.perf_counter()
        per = st.link_block_seconds
        if math.isfinite(left):
            per = min(per, st.link_share * left / max(1, len(ld.blocks)))
        y, z = dec.duals_from_multipliers(val.lam)
        llag = Lagrangian(ld, block_options(opts, time_limit=max(per, 1e-3)), t0=t0,
                          deadline=deadline if math.isfinite(deadline) else None)
        lv = llag.evaluate(ld.multipliers_from_duals(y, z), root_lb, root_ub)
        extra["ecos"] += llag.ecos_seconds
        extra["solves"] += llag.node_solves
        extra["inaccurate"] += llag.inaccurate_solves
        say(f"decomposition: linking blocks ({len(ld.blocks)}, {per:.2g} s each at most): bound "
            f"{lv.bound:.9g} in {lv.seconds:.2f} s")
        if lv.bound > lag.best_bound and lv.bound < math.inf:
            # a valid bound of the problem (every block's proven bound), from other blocks
            link_bounds.append((time.perf_counter() - t0, lv.bound))
        g = lv.x if lv.x is not None else lv.x_guide
        if g is None:
            return False
        g = g.copy()
        r = ld.reduced_costs(lv.lam)
        for k in lv.no_point:
            # a block without an incumbent in its limit (50 ADNs x 24 h, 1.4 s: 2 of 50 ADN days;
            # both found one within 15 s): again with 4x, then 16x the limit while time is left;
            # its relaxation point (fractional modes) would strand an hour of the recovery
            b = ld.blocks[k]
            res = None
            for f in (4.0, 16.0):
                lim = min(f * per, 0.5 * (deadline - time.perf_counter()))
                if lim <= 0:
                    break
                res = run_block(b.prob, k, r[b.cols], root_lb[b.cols], root_ub[b.cols],
                                block_options(opts, time_limit=lim))
                extra["ecos"] += res.ecos_seconds
                extra["solves"] += res.node_solves
                if res.x is not None:
                    g[b.cols] = res.x
                    break
            if res is not None:
                say(f"decomposition: linking block {b.name} without a point in {per:.2g} s: "
                    f"{'found one' if res.x is not None else 'none'} in {res.seconds:.1f} s more")
        y1 = linked_recovery(prob, seq_dec[0], g, root_lb, root_ub, opts, pairs, heuristics, deadline, log=say)
        found = offer(y1, f"{tag}:linked")
        if found and not gap_met() and full_fits(1):
            # the continuous problem with the recovered integers fixed (the linking values free;
            # 50 ADNs x 24 h: 512,609.78 -> 512,605.09 $ in 100 s, peak memory 463 -> 908 MB, so
            # only while the gap is not met)
            found = offer(fix_and_solve(prob, node_solver, best_x[0], root_lb, root_ub, opts, pairs),
                          f"{tag}:linked:fixed") or found
        return found

    link_bounds: List[Tuple[float, float]] = []

    # 3. primal recovery
    recover(v0, "lagrangian")

    # 3b. staged first (a bound in seconds), then the monolithic root's duals if its predicted
    # solve fits in `upgrade_share` of the time left (under the ECOS time budget): a second
    # Lagrangian bound at those multipliers, the better one counts
    if (mode == "staged" and st.root == "auto" and math.isfinite(deadline) and not gap_met()
            and predicted <= st.upgrade_share * (deadline - time.perf_counter())):
        tr = time.perf_counter()
        sol = ea.solve(prob, root_lb, root_ub, time_budget=_budget(deadline), **opts.ecos_tolerances)
        extra["ecos"] += time.perf_counter() - tr
        extra["solves"] += 1
        say(f"decomposition: monolithic root relaxation after the staged bound: {sol.status} "
            f"in {time.perf_counter() - tr:.1f} s")
        if sol.status == ea.OPTIMAL:
            root_bound = min(sol.objective, sol.dual_objective)
            sol_y[0], sol_z[0] = sol.y, sol.z
            v1 = lag.evaluate(dec.multipliers_from_duals(sol.y, sol.z), root_lb, root_ub)
            mode = "staged+monolithic"
            if not math.isfinite(best_obj[0]) and v1.trusted:
                recover(v1, "lagrangian-root")
        else:
            extra["inaccurate"] += 1

    # 4b. refinement: coarser blocks at the same root duals, each block B&B limited so that the
    # whole evaluation ends by `refine_fraction` of the time left; the blocks' proven best bounds
    # keep the value valid whether or not they finish
    ref_val = None
    ref_dec = None
    left = deadline - time.perf_counter()
    if (refine is not None and lam0 is not None and left > 0 and lag.best_bound < cutoff()
            and predicted <= st.refine_share * opts.time_limit):
        ref_dec = decompose(prob, refine[0], refine[1] if len(refine) > 1 else None)
        per_block = max(0.5, st.refine_fraction * left / max(1, len(ref_dec.blocks))) if math.isfinite(left) else math.inf
        ref_lag = Lagrangian(ref_dec, block_options(opts, time_limit=per_block), t0=t0)
        lam_r = ref_dec.multipliers_from_duals(sol_y[0], sol_z[0]) if sol_y[0] is not None else np.zeros(ref_dec.n_multipliers)
        ref_val = ref_lag.evaluate(lam_r, root_lb, root_ub)
        extra["ecos"] += ref_lag.ecos_seconds
        extra["solves"] += ref_lag.node_solves
        extra["inaccurate"] += ref_lag.inaccurate_solves
        say(f"decomposition: refined blocks ({len(ref_dec.blocks)}): bound {ref_val.bound:.9g} "
            f"in {ref_val.seconds:.2f} s ({per_block:.1f} s per block at most)")
        if ref_val.bound > lag.best_bound:
            lag.bound_history.append((time.perf_counter() - t0, ref_val.bound))
        recover(ref_val, "refined")

    # 4. bundle
    bres = None
    budget = min(st.bundle_seconds, st.bundle_fraction * opts.time_limit, deadline - time.perf_counter())
    if st.bundle_iterations > 0 and budget > 0 and lag.best is not None and lag.best_bound < cutoff():
        hint = 0.5 * (best_obj[0] - lag.best_bound) if math.isfinite(best_obj[0]) else None
        bres = proximal_bundle(lag, lag.best, time_limit=budget, max_iters=st.bundle_iterations,
                               target=cutoff(), gap_hint=hint, log=say)
        say(f"decomposition: bundle {bres.iterations} iterations ({bres.serious_steps} serious), "
            f"stopped by {bres.stop_reason}, bound {lag.best_bound:.9g}")
        if lag.best is not None and lag.best is not v0:
            recover(lag.best, "bundle")
    if lag.best is not None:
        best_lam = lag.best.lam

    # 5. B&B on top
    node_evals = dict(calls=0, pruned=0, seconds=0.0)

    ints = prob.integer

    def node_bound(lb, ub, cut):
        # only the integer bounds of the node: its continuous bounds are propagation results
        # (implied by its rows), and relaxing them to the root's keeps a valid bound while
        # the cache keys of the blocks untouched by branching stay the same
        t = time.perf_counter()
        lbi, ubi = root_lb.copy(), root_ub.copy()
        lbi[ints], ubi[ints] = lb[ints], ub[ints]
        val = lag.evaluate(best_lam, lbi, ubi, record=False)
        node_evals["calls"] += 1
        node_evals["seconds"] += time.perf_counter() - t
        if val.bound >= cut:
            node_evals["pruned"] += 1
        return val.bound

    tree_prob = prob
    n_cuts = 0
    if st.cuts:
        from .cuts import lagrangian_cuts, with_cuts
        import scipy.sparse as sp
        parts = [lagrangian_cuts(dec, v) for v in {id(v0): v0, id(lag.best): lag.best}.values()
                 if v is not None and v.trusted and v.block_bounds is not None]
        # (no cuts from the refined blocks: their rows span the TN/KKT variables too, and with
        # them 81 tree solves on 1 ADN x 24 h ended untrusted, 0 without)
        if parts:
            C = sp.vstack([p[0] for p in parts], format="csr")
            h = np.concatenate([p[1] for p in parts])
            tree_prob = with_cuts(prob, C, h)
            n_cuts = int(C.shape[0])
            say(f"decomposition: {n_cuts} Lagrangian cuts added to the tree's relaxations")

    t_tree = time.perf_counter()
    remaining = max(deadline - t_tree, 1e-3) if math.isfinite(deadline) else math.inf
    # the tree's first node is a full-size ECOS solve: started only if twice its predicted time
    # is left (50 ADNs x 24 h, 176 s left for a predicted 144 s at load 3: the root took 281 s,
    # the run 706 s for a 600 s limit); otherwise the B&B only takes the bound and the
    # incumbent (status from its bookkeeping)
    tree_skipped = not full_fits(2)
    if tree_skipped:
        say(f"decomposition: no tree search: its root solve is predicted {predicted:.3g} s, "
            f"{max(remaining, 0):.3g} s left")
        remaining = 1e-9
    ref_bound = ref_val.bound if ref_val is not None and ref_val.bound < math.inf else -math.inf
    link_bound = max((b for _, b in link_bounds), default=-math.inf)
    lb_floor = max(lag.best_bound, root_bound, ref_bound, link_bound)
    res = bnb_solve(tree_prob, replace(opts, time_limit=remaining), heuristics=heuristics, callback=callback,
                    root_bound=lb_floor, node_bound=node_bound if st.node_bounds else None,
                    start=best_x[0])
    off = t_tree - t0
    seconds = time.perf_counter() - t0
    bound_hist = sorted(lag.bound_history + link_bounds + [(t + off, b) for t, b in res.bound_history])
    mono, top = [], -math.inf
    for t, b in bound_hist:
        if b > top:
            top = b
            mono.append((t, b))
    inc_hist = [(t + off, v) for t, v in res.incumbent_history]
    ecos_s = extra["ecos"] + lag.ecos_seconds + node_solver.ecos_seconds + res.ecos_seconds
    info = dict(
        blocks=len(dec.blocks), multipliers=dec.n_multipliers, root_relaxation=root_bound,
        root_lagrangian=v0.bound, best_lagrangian=lag.best_bound,
        refined_bound=ref_val.bound if ref_val is not None else None,
        refined_blocks=len(ref_dec.blocks) if ref_dec is not None else 0, evaluations=lag.evaluations,
        block_solves=lag.block_solves, block_node_solves=lag.node_solves,
        block_inaccurate_solves=lag.inaccurate_solves, block_ecos_seconds=lag.ecos_seconds,
        bundle_iterations=bres.iterations if bres else 0, bundle_stop=bres.stop_reason if bres else None,
        bundle_seconds=bres.seconds if bres else 0.0, tree_start_seconds=off,
        node_bound_calls=node_evals["calls"], node_bound_pruned=node_evals["pruned"],
        node_bound_seconds=node_evals["seconds"], lagrangian_cuts=n_cuts,
        bound_history=list(lag.bound_history), root_mode=mode,
        predicted_root_seconds=predicted,
        staged_seconds=staged.seconds if staged is not None else None,
        staged_relaxations=staged.relaxations if staged is not None else 0, tree_skipped=tree_skipped,
        late_blocks=lag.late_blocks, link_bound=link_bound, incumbent_sources=list(sources))
    out = DecompositionResult(**{**res.__dict__,
                                 "seconds": seconds, "ecos_seconds": ecos_s, "other_seconds": seconds - ecos_s,
                                 "node_solves": res.node_solves + lag.node_solves + node_solver.calls + extra["solves"],
                                 "inaccurate_solves": (res.inaccurate_solves + lag.inaccurate_solves
                                                       + node_solver.inaccurate + extra["inaccurate"]),
                                 "bound_history": mono, "incumbent_history": inc_hist,
                                 "options": opts}, lagrangian=info,
                              multipliers=np.array(best_lam, float))
    say(f"decomposition: {out.status}, incumbent {out.objective:.9g}, bound {out.best_bound:.9g}, "
        f"gap {out.rel_gap:.3g}; Lagrangian {lag.evaluations} evaluations, {lag.block_solves} block B&B runs "
        f"({lag.inaccurate_solves} untrusted ECOS solves), node bounds pruned {node_evals['pruned']} of "
        f"{node_evals['calls']} nodes")
    return out


@dataclass
class RootBound:
    """The first Lagrangian bound alone (`decomposition_root_bound`)."""

    bound: float                     # proven lower bound (-inf if untrusted or not reached in time)
    seconds: float                   # wall clock, decomposition included
    root_mode: str                   # staged | monolithic
    staged_seconds: Optional[float]
    block_seconds: float
    blocks: int
    untrusted_blocks: int
    value: Optional[LagrangianValue] = None
    late_blocks: int = 0             # blocks started after the time limit (root relaxation only)


def decomposition_root_bound(prob, labels, names=None, stages=None, options=None,
                             settings: Optional[DecompositionSettings] = None) -> RootBound:
    """The root Lagrangian bound of `solve` (steps 1-2 only: no recovery, refinement or tree),
    for bounds of large instances (100-200 ADNs) where the monolithic root relaxation takes
    far longer than the blocks. `settings.root` picks the multipliers as in `solve` ("auto":
    staged when stages are given and the monolithic solve is predicted above `root_share` of
    the time limit). The staged passes take at most `staged_share` of the limit (stopped early,
    their duals so far are used: any multipliers give a valid bound); blocks started after the
    limit are solved at their root relaxation only (Lagrangian.deadline), so the limit is
    overshot by at most one small ECOS solve per remaining block. A bound is reported only if
    every block solve was trusted; otherwise -inf (never a guess)."""
    opts = BnBOptions.coerce(options)
    st = settings or DecompositionSettings()
    t0 = time.perf_counter()
    deadline = t0 + opts.time_limit if math.isfinite(opts.time_limit) else math.inf
    dec = decompose(prob, labels, names)
    lb, ub = _root_bounds(prob, opts)
    predicted = predict_monolithic_seconds(int(prob.A.nnz + prob.G.nnz))
    mode = _root_mode(st, stages, predicted, opts)
    staged_s = None
    if mode == "staged":
        sd, zfull = _staged(prob, stages, lb, ub, st, opts, deadline)
        staged_s = sd.seconds
        lam = dec.multipliers_from_duals(sd.y, zfull)
    else:
        sol = ea.solve(prob, lb, ub, time_budget=_budget(deadline), **opts.ecos_tolerances)
        lam = (dec.multipliers_from_duals(sol.y, sol.z) if sol.status == ea.OPTIMAL
               else np.zeros(dec.n_multipliers))
    pool = make_pool(dec, block_options(opts), st.workers, st.scheduler)
    try:
        lag = Lagrangian(dec, block_options(opts), t0=t0, pool=pool,
                         deadline=deadline if math.isfinite(deadline) else None)
        v = lag.evaluate(lam, lb, ub)
    finally:
        if pool is not None:
            pool.close()
    return RootBound(v.bound, time.perf_counter() - t0, mode, staged_s, v.seconds, len(dec.blocks),
                     len(v.untrusted_blocks), v, lag.late_blocks)
