"""Lagrangian bounds over the blocks of a `Decomposition` (blocks.py).

    L(lam) = c0 - y'b_c - w'h_c + sum_k v_k(lam),   v_k = min { r_k' x_k : x_k in X_k }

Each block minimum is solved to integrality by the package's own branch-and-bound
(solver/bnb.py) over ECOS. The value that counts as a bound uses each block's *proven* lower
bound (the block B&B's best bound, never its incumbent), so

    bound(lam) = c0 - y'b_c - w'h_c + sum_k  block_bound_k(lam)  <=  L(lam)  <=  optimum

for every lam with w >= 0, whatever lam is (a poor multiplier gives a weak bound, never a
wrong one). A block whose root relaxation ECOS does not solve to a trusted status has best
bound -inf, and so does the whole evaluation: an untrusted block solve never yields a bound.
A block proven infeasible (trusted certificate, as the B&B prunes nodes) makes the bound +inf:
the (sub)problem has no feasible point.

The block incumbents x_k assemble into a point x(lam) (feasible for every block, not for the
coupling rows) whose linearisation

    f(mu) = c'x(lam) + c0 + mu' g(lam),    g(lam) = (A_c x - b_c, G_c x - h_c)

lies above L everywhere (L is a minimum over x): the cutting-plane model of the bundle method
(bundle.py). `LagrangianValue.upper` = f(lam) is L(lam) up to the block B&B gaps.

Block results are cached on (block, reduced costs, block bounds): a branch-and-bound node that
changes the bounds of one block re-solves that block only. With a `deadline`, a block started
after it is solved at its root relaxation only (a valid, weaker block bound; one ECOS solve per
remaining block past the limit, measured ~10 ms each for (ADN, hour) blocks).
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..bnb import solve as bnb_solve
from ..options import BnBOptions
from .blocks import Decomposition

__all__ = ["BlockResult", "LagrangianValue", "Lagrangian", "block_options"]


def block_options(parent: Optional[BnBOptions] = None, **over) -> BnBOptions:
    """Options of a block B&B: the parent's ECOS tolerances, tight gaps, no log.

    rel_gap 1e-7 / abs_gap 1e-7 (objective units): each block's bound is within that of its
    minimum, so K blocks lose at most K * 1e-7 * max(1, |v_k|) of the Lagrangian value.
    """
    p = BnBOptions.coerce(parent)
    kw = dict(p.__dict__)
    kw.update(dict(rel_gap=1e-7, abs_gap=1e-7, verbose=False, time_limit=math.inf, node_limit=10**9,
                   log_stream=None))
    kw.update(over)
    return BnBOptions(**kw)


@dataclass
class BlockResult:
    k: int
    status: str                      # the block B&B's status
    bound: float                     # proven lower bound of the block minimum (-inf untrusted, +inf infeasible)
    value: float                     # r_k' x_k of the block incumbent (nan without one)
    x: Optional[np.ndarray]          # block incumbent (local indices)
    nodes: int
    node_solves: int
    inaccurate_solves: int
    ecos_seconds: float
    seconds: float
    cached: bool = False
    relax_bound: float = -math.inf   # the block's root relaxation bound (its B&B's first bound)
    x_guide: Optional[np.ndarray] = None   # x, or the block relaxation's point when there is no x


@dataclass
class LagrangianValue:
    lam: np.ndarray
    bound: float                     # proven lower bound on the (sub)problem
    upper: float                     # f(lam) at the assembled point (>= L(lam)); nan if a block has no point
    x: Optional[np.ndarray]          # assembled block incumbents (full length), None if a block has none
    subgradient: Optional[np.ndarray]
    primal_cost: float               # c'x + c0 of the assembled point (nan without one)
    blocks_solved: int               # block B&B runs (cache misses)
    untrusted_blocks: List[int] = field(default_factory=list)
    infeasible_blocks: List[int] = field(default_factory=list)
    seconds: float = 0.0
    block_bounds: Optional[np.ndarray] = None
    block_relax: Optional[np.ndarray] = None    # each block's continuous relaxation bound
    x_guide: Optional[np.ndarray] = None        # x, or with relaxation points where a block has none
    no_point: List[int] = field(default_factory=list)   # blocks without a B&B incumbent

    @property
    def trusted(self) -> bool:
        return self.bound > -math.inf


class Lagrangian:
    """Evaluates bound(lam) (module docstring) and keeps the best one, monotone and time-stamped."""

    def __init__(self, dec: Decomposition, options: Optional[BnBOptions] = None, t0: Optional[float] = None,
                 cache_size: int = 50000, log=None, pool=None, deadline: Optional[float] = None):
        self.dec = dec
        self.opts = options if options is not None else block_options()
        self.t0 = time.perf_counter() if t0 is None else t0
        self.best_bound = -math.inf
        self.best: Optional[LagrangianValue] = None
        self.bound_history: List[Tuple[float, float]] = []     # (seconds since t0, bound)
        self.evaluations = 0
        self.block_solves = 0
        self.node_solves = 0
        self.inaccurate_solves = 0
        self.ecos_seconds = 0.0
        self.block_seconds = 0.0
        self._cache: "OrderedDict[tuple, BlockResult]" = OrderedDict()
        self._cache_size = cache_size
        self.log = log
        self.pool = pool
        # time.perf_counter() seconds: blocks started after it are solved at their root only
        # (serial evaluation; a pool solves every block in full)
        self.deadline = deadline
        self.late_blocks = 0

    # ---------------------------------------------------------------- blocks
    def _key(self, k, cost, lb, ub):
        return (k, hash(cost.tobytes()), hash(lb.tobytes()), hash(ub.tobytes()))

    def solve_block(self, k: int, cost: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> BlockResult:
        key = self._key(k, cost, lb, ub)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return replace(hit, cached=True)
        blk = self.dec.blocks[k]
        late = self.deadline is not None and time.perf_counter() >= self.deadline
        # past the deadline: the block's root relaxation only (one ECOS solve, its bound is valid
        # and weaker), not cached (a later evaluation may solve the block in full)
        res = run_block(blk.prob, k, cost, lb, ub, replace(self.opts, node_limit=1) if late else self.opts)
        self._account(res)
        if late:
            self.late_blocks += 1
            return res
        self._cache[key] = res
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return res

    def _account(self, res: BlockResult):
        self.block_solves += 1
        self.node_solves += res.node_solves
        self.inaccurate_solves += res.inaccurate_solves
        self.ecos_seconds += res.ecos_seconds
        self.block_seconds += res.seconds

    # ---------------------------------------------------------------- L(lam)
    def evaluate(self, lam: np.ndarray, lb: Optional[np.ndarray] = None, ub: Optional[np.ndarray] = None,
                 record: bool = True) -> LagrangianValue:
        """bound(lam) over the problem with bounds lb, ub (default: the problem's own).

        `record`: the value counts towards the problem's best bound (only for the full
        problem's bounds; a B&B node's restricted value bounds that node only).
        """
        t = time.perf_counter()
        dec = self.dec
        prob = dec.prob
        lam = np.asarray(lam, float)
        m_eq = dec.coupling_eq.size
        if np.any(lam[m_eq:] < 0):
            raise ValueError("Lagrangian: multipliers of coupling inequality rows must be >= 0")
        lb = prob.lb if lb is None else lb
        ub = prob.ub if ub is None else ub
        r = dec.reduced_costs(lam)
        const = dec.dual_constant(lam)
        K = len(dec.blocks)
        jobs = []
        for blk in dec.blocks:
            c = blk.cols
            jobs.append((blk.k, np.ascontiguousarray(r[c]), np.ascontiguousarray(lb[c]), np.ascontiguousarray(ub[c])))
        results = self._solve_all(jobs)
        bounds = np.array([res.bound for res in results])
        untrusted = [res.k for res in results if res.bound == -math.inf or math.isnan(res.bound)]
        infeasible = [res.k for res in results if res.bound == math.inf]
        if infeasible:
            total = math.inf
        elif untrusted:
            total = -math.inf
        else:
            total = const + float(np.sum(bounds))
        x = None
        upper = primal = math.nan
        g = None
        if all(res.x is not None for res in results):
            x = np.zeros(prob.n)
            for blk, res in zip(dec.blocks, results):
                x[blk.cols] = res.x
            g = dec.subgradient(x)
            primal = prob.objective(x)
            upper = primal + float(lam @ g)
        guide = x
        if guide is None and all(res.x_guide is not None for res in results):
            guide = np.zeros(prob.n)
            for blk, res in zip(dec.blocks, results):
                guide[blk.cols] = res.x_guide
        val = LagrangianValue(lam=lam.copy(), bound=total, upper=upper, x=x, subgradient=g, x_guide=guide,
                              primal_cost=primal, blocks_solved=sum(not res.cached for res in results),
                              untrusted_blocks=untrusted, infeasible_blocks=infeasible,
                              seconds=time.perf_counter() - t, block_bounds=bounds,
                              block_relax=np.array([res.relax_bound for res in results]),
                              no_point=[res.k for res in results if res.x is None])
        self.evaluations += 1
        if record:
            self.record(val)
        return val

    def _solve_all(self, jobs) -> List[BlockResult]:
        if self.pool is None:
            return [self.solve_block(*job) for job in jobs]
        # cache first, then the misses on the pool (same results, same order as serial)
        out: List[Optional[BlockResult]] = [None] * len(jobs)
        miss = []
        for i, job in enumerate(jobs):
            key = self._key(*job)
            hit = self._cache.get(key)
            if hit is not None:
                out[i] = replace(hit, cached=True)
            else:
                miss.append(i)
        if miss:
            for i, res in zip(miss, self.pool.map_blocks([jobs[i] for i in miss])):
                self._account(res)
                self._cache[self._key(*jobs[i])] = res
                out[i] = res
        return out

    def record(self, val: LagrangianValue) -> bool:
        """Offer a full-problem value as the best bound (monotone). True if it improved."""
        if math.isnan(val.bound) or val.bound <= self.best_bound:
            return False
        self.best_bound = val.bound
        self.best = val
        el = time.perf_counter() - self.t0
        self.bound_history.append((el, val.bound))
        if self.log is not None:
            self.log(f"lagrangian bound {val.bound:.9g} at {el:.2f} s "
                     f"({val.blocks_solved} block solves, {val.seconds:.2f} s)")
        return True


def run_block(bprob, k, cost, lb, ub, opts) -> BlockResult:
    """One block minimum min cost'x over the block's set with bounds lb, ub, by our B&B."""
    t = time.perf_counter()
    p = replace(bprob, c=cost, lb=lb, ub=ub)
    res = bnb_solve(p, opts)
    if res.status == "infeasible":
        bound = math.inf
    else:
        bound = float(res.best_bound)
        if res.x is not None:
            bound = min(bound, float(res.objective))
    x = res.x
    guide = x
    if x is None and bound < math.inf:
        # no certified block point (e.g. every integer fixed and the point refused by the
        # certifier's 1e-6): the block's relaxation point guides primal recovery only
        # (LagrangianValue.x_guide); it never enters a bound or a cutting-plane model
        from ...conic import ecos_adapter as ea
        s = ea.solve(p, **opts.ecos_tolerances)
        guide = s.x
    finite = [b for _, b in res.bound_history if math.isfinite(b)]
    relax = finite[0] if finite else bound
    return BlockResult(k=k, status=res.status, bound=bound, value=float(res.objective) if x is not None else math.nan,
                       x=x, nodes=res.nodes, node_solves=res.node_solves,
                       inaccurate_solves=res.inaccurate_solves, ecos_seconds=res.ecos_seconds,
                       seconds=time.perf_counter() - t, relax_bound=min(relax, bound), x_guide=guide)
