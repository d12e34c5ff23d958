"""Primal recovery block by block, for problems whose full fixed-binary SOCP is too big.

solve.py's recovery fixes the integers of a block point and solves the whole continuous
problem (one ECOS solve of the full size), then the user heuristics (which also solve the
full problem). On 50 ADNs x 24 h that is a monolithic ECOS solve of ~1.2 M nonzeros (the root
relaxation of that size took 1,303 s). `sequential_recovery` recovers over the blocks of a
decomposition taken in order (e.g. the hours, whose only coupling is the battery energy
between consecutive hours):

    for t = 0, 1, ...:
        P_t = the problem's rows and cones whose variables lie in blocks 0..t, at least one
              in block t; the rows
              left out (they reach later blocks, e.g. the battery energy of hour t + 1) are
              priced into P_t's cost with the multipliers duals_eq, duals_lp (so hour t values the energy it
              leaves in the batteries instead of emptying them)
        fix every variable outside block t (blocks < t at their recovered values, blocks > t
        at the guide point: they appear in no row of P_t, only as constants of the cost)
        candidates for block t: fix_and_solve on P_t (integers rounded), then the user
        heuristics on P_t, each from the guide point and from P_t's continuous relaxation
        (relax-and-fix); keep the cheapest one that P_t's certifier accepts; if none: the same
        over the window of blocks t-1..t, then t-2..t (`max_back`; the earlier blocks'
        values are chosen again), the last window also by our B&B for a share of the time
        left (`block_seconds` at most)

Block t's free variables keep the bounds that propagation over the whole problem's linear rows
implies (so an hour does not leave the batteries where the later hours cannot reach the
cyclic end state). Every row of the problem lies in P_t for the first t that contains all its variables, so the
assembled point satisfies every row that its own hours' solves certified. ECOS sees only the
free (block t) variables (ecos_adapter eliminates fixed columns), so each solve is block sized.
The assembled point is returned uncertified: the caller certifies it on the full problem
before it may become an incumbent (an untrusted point never counts). Greedy in the order of
the blocks: a later block may be infeasible given the earlier choices; then None.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional, Sequence

import numpy as np
import scipy.sparse as sp
from dataclasses import replace

from ...conic import interrupt
from ..bnb import solve as bnb_solve
from ..heuristics import Certifier, fix_and_solve, run_user_heuristics
from ..presolve import Propagator
from ..relax import NodeSolver
from .blocks import Decomposition, _row_span

__all__ = ["sequential_recovery"]

PROP_TOL = 1e-9


def _spans(prob, labels):
    """Largest block label of every equality row, G row and cone (computed once)."""
    A = prob.A.tocsr()
    G = prob.G.tocsr()
    _, a_hi, _ = _row_span(A, labels)
    _, g_hi, _ = _row_span(G, labels)
    sizes = np.asarray(prob.cone_sizes, np.int64)
    starts = prob.n_lp + np.concatenate([[0], np.cumsum(sizes)])
    cone_hi = np.maximum.reduceat(g_hi[prob.n_lp:], starts[:-1] - prob.n_lp) if sizes.size else np.zeros(0)
    return A, G, a_hi, g_hi, cone_hi, starts


def _prefix_problem(prob, spans, t0, t, y=None, z=None):
    """The window problem of blocks t0..t: rows and cones of `prob` whose largest variable label
    lies in t0..t (same variables; the rows of earlier blocks hold only fixed variables, were
    certified when those were solved, and are left out so that the small residuals of those
    solves are not re-checked against ECOS's fixed-row test). With duals y (equality rows),
    z (LP rows): the rows left out because they reach later blocks are priced into the cost,
    c + A_out' y + G_out' z (their Lagrangian terms)."""
    A, G, a_hi, g_hi, cone_hi, starts = spans
    c = np.asarray(prob.c, float)
    if y is not None:
        c = c + A.T @ np.where(a_hi > t, y, 0.0)
    if z is not None:
        c = c + G[: prob.n_lp].T @ np.where(g_hi[: prob.n_lp] > t, np.maximum(z[: prob.n_lp], 0.0), 0.0)
    keep_eq = np.flatnonzero((a_hi >= t0) & (a_hi <= t))
    keep_lp = np.flatnonzero((g_hi[: prob.n_lp] >= t0) & (g_hi[: prob.n_lp] <= t))
    sizes = np.asarray(prob.cone_sizes, np.int64)
    keep_c = np.flatnonzero((cone_hi >= t0) & (cone_hi <= t))
    crow = (np.concatenate([np.arange(starts[c], starts[c + 1]) for c in keep_c])
            if keep_c.size else np.zeros(0, np.int64))
    grows = np.concatenate([keep_lp, crow]).astype(np.int64)
    Gt = G[grows].tocsc()
    At = A[keep_eq].tocsc()
    Gt.sort_indices()
    At.sort_indices()
    return replace(prob, c=c, A=At, b=prob.b[keep_eq].copy(), G=Gt, h=prob.h[grows].copy(), n_lp=int(keep_lp.size),
                   cone_sizes=[int(s) for s in sizes[keep_c]], eq_blocks={}, ineq_blocks={}, cone_blocks={})


def sequential_recovery(prob, dec: Decomposition, guide: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                        opts, pairs, heuristics: Sequence[Callable] = (), deadline: float = math.inf,
                        log=None, duals_eq=None, duals_lp=None, block_seconds: float = 20.0,
                        max_back: int = 2) -> Optional[np.ndarray]:
    """A point of `prob` assembled block by block from `guide` (module docstring), or None."""
    t0 = time.perf_counter()
    x = np.clip(np.asarray(guide, float), lb, ub)
    ii = prob.integer
    x[ii] = np.clip(np.round(x[ii]), lb[ii], ub[ii]) + 0.0
    labels = dec.labels
    pairs = np.zeros((0, 2), np.int64) if pairs is None else np.asarray(pairs, np.int64).reshape(-1, 2)
    pair_hi = labels[pairs].max(axis=1) if len(pairs) else np.zeros(0, np.int64)
    K = len(dec.blocks)
    spans = _spans(prob, labels)
    # bounds implied by the linear rows over the whole horizon (presolve.Propagator, continuous
    # bounds too, 2K + 2 sweeps): e.g. the battery energy an hour may end with and still reach
    # the cyclic end state through the later hours' charge limits
    # (row tolerance PROP_TOL, not the certifier's 1e-6: each derived bound is relaxed outwards by
    # it, and a block ending on a bound relaxed by 1e-6 left the next hour infeasible by that much
    # on 5 ADNs x 24 h: the cyclic battery state in hour 23)
    ok, plb, pub = Propagator(prob, PROP_TOL, opts.int_tol).propagate(lb, ub, 2 * K + 2, continuous=True)
    if ok:
        lb, ub = np.maximum(lb, plb), np.minimum(ub, pub)
    tl = deadline if math.isfinite(deadline) else None

    def attempt(t0_, t, use_bnb):
        """Candidates for the window of blocks t0_..t (all their variables free), cheapest first."""
        cols = np.concatenate([dec.blocks[k].cols for k in range(t0_, t + 1)])
        Pt = _prefix_problem(prob, spans, t0_, t, duals_eq, duals_lp)
        lbt, ubt = x.copy(), x.copy()
        lbt[cols], ubt[cols] = lb[cols], ub[cols]
        pt = pairs[(pair_hi <= t) & (pair_hi >= t0_)]
        cert = Certifier(Pt, opts, pt)
        ns = NodeSolver(Pt, opts)
        guides = [("guide", x)]
        rel = ns.solve(lbt, ubt)          # the window's relaxation given the earlier blocks' values
        if rel.x is not None and rel.status in ("optimal", "untrusted"):
            guides.append(("relaxation", rel.x))
        cands = []
        for gname, g in guides:
            y = fix_and_solve(Pt, ns, g, lbt, ubt, opts, pt)
            if y is not None:
                cands.append((f"{gname}:fixed", y))
            for name, y in run_user_heuristics(heuristics, Pt, g, lbt, ubt, None, tl):
                cands.append((f"{gname}:{name}", y))
        good = [(Pt.objective(y), name, y) for name, y in cands if cert.check(y)[0]]
        if not good and use_bnb and time.perf_counter() < deadline:
            # no rounding held: the window's own integers by our B&B, a share of the time left
            left = deadline - time.perf_counter()
            share = min(block_seconds, left / max(1, K - t)) if math.isfinite(left) else block_seconds
            res = bnb_solve(Pt, replace(opts, time_limit=max(share, 1e-3), rel_gap=max(opts.rel_gap, 1e-3),
                                        verbose=False, log_stream=None),
                            heuristics=heuristics, start=None, stop=interrupt.requested)
            if res.x is not None and cert.check(res.x)[0]:
                good = [(Pt.objective(res.x), "bnb", res.x)]
        why = f"relaxation {rel.status}; {len(cands)} candidates" + (f", {cert.last_reason}" if cands else "")
        return cols, sorted(good, key=lambda g: g[0]), why

    for t in range(K):
        good, why = [], ""
        # block t alone; on failure a window reaching back (the earlier blocks' continuous and
        # integer values re-chosen: e.g. hour 23 must end at the cyclic battery state, which a
        # minimum charge power makes unreachable from some hour-22 states), the B&B last
        for back in range(0, min(max_back, t) + 1):
            if time.perf_counter() >= deadline or interrupt.requested():
                return None
            cols, good, why = attempt(t - back, t, back == min(max_back, t))
            if good:
                break
        if not good:
            if log is not None:
                log(f"decomposition: sequential recovery stopped at block {dec.blocks[t].name} ({why})")
            return None
        x[cols] = good[0][2][cols]
    if log is not None:
        log(f"decomposition: sequential recovery over {K} blocks in {time.perf_counter() - t0:.2f} s")
    return x
