"""Primal recovery block by block, for problems whose full fixed-binary SOCP is too big.

solve.py's recovery fixes the integers of a block point and solves the whole continuous
problem (one ECOS solve of the full size), then the user heuristics (which also solve the
full problem). On 50 ADNs x 24 h that is a monolithic ECOS solve of ~1.2 M nonzeros (the root
relaxation of that size took 1,303 s). `linked_recovery` (its docstring; used first) fixes the
states that link the blocks at a guide that satisfies the linking rows and solves the blocks
independently. `sequential_recovery` recovers over the blocks of a
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
        values are chosen again); in each window that fails, a guide from our B&B over the
        integers adjacent to the linking variables only (`_linking`), and in the last window
        our B&B over all its integers, each for a share of the time left (`block_seconds`)

Block t's free variables keep the bounds that propagation over the whole problem's linear rows
implies (so an hour does not leave the batteries where the later hours cannot reach the
cyclic end state). Every row of the problem lies in P_t for the first t that contains all its variables, so the
assembled point satisfies every row that its own hours' solves certified. ECOS sees only the
free (block t) variables (ecos_adapter eliminates fixed columns), so each solve is block sized.
The assembled point is returned uncertified: the caller certifies it on the full problem
before it may become an incumbent (an untrusted point never counts). Greedy in the order of
the blocks: a later block may be infeasible given the earlier choices; then None.

Measured on 5 ADNs x 24 h (recovery forced hour by hour): hour 23 must bring each battery back
to its cyclic state e0 in one hour, but a battery that is on charges at least eta_c Pmin (0.0171
pu h here) and discharges at least Pmin / eta_d: a state within that of e0 (0.0038 pu h short on
one battery, 0.0018 over on another) cannot reach it (our B&B proves hour 23 infeasible), and
interval propagation cannot see this gap. The rounding heuristics and our B&B over the whole
window (hundreds of nodes, no model heuristic) found no point; what works is a guide from our
B&B over only the integers next to the linking variables (the battery modes; the other
integers and the complementarity relaxed), from which the heuristics round the rest: hours
22-23 then complete (recovery over 24 hours in 12 s, incumbent 52,609.97 $, 0.31 % above the
Lagrangian bound; the full-problem recovery reaches 52,495.62 $). 1 ADN x 24 h: 7,586.92 $.
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

__all__ = ["sequential_recovery", "improve_by_blocks", "linked_recovery"]

PROP_TOL = 1e-9
SHRINK = 1e-4


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


def _rows_problem(prob, spans, keep_eq, keep_lp, keep_c):
    """`prob` with only the given equality rows, LP rows and cones (same variables)."""
    A, G, _, _, _, starts = spans
    sizes = np.asarray(prob.cone_sizes, np.int64)
    crow = (np.concatenate([np.arange(starts[c], starts[c + 1]) for c in keep_c])
            if keep_c.size else np.zeros(0, np.int64))
    grows = np.concatenate([keep_lp, crow]).astype(np.int64)
    Gt = G[grows].tocsc()
    At = A[keep_eq].tocsc()
    Gt.sort_indices()
    At.sort_indices()
    return replace(prob, A=At, b=prob.b[keep_eq].copy(), G=Gt, h=prob.h[grows].copy(), n_lp=int(keep_lp.size),
                   cone_sizes=[int(s) for s in sizes[keep_c]], eq_blocks={}, ineq_blocks={}, cone_blocks={})


def _touching_problem(prob, spans, lo_spans, t):
    """The rows and cones of `prob` that hold a variable of block t (its own and the linking
    ones on both sides), with the problem's own cost: block t re-optimised with every other
    block fixed keeps the whole point feasible."""
    _, _, a_hi, g_hi, cone_hi, _ = spans
    a_lo, g_lo = lo_spans
    keep_eq = np.flatnonzero((a_lo <= t) & (a_hi >= t))
    keep_lp = np.flatnonzero((g_lo[: prob.n_lp] <= t) & (g_hi[: prob.n_lp] >= t))
    return _rows_problem(prob, spans, keep_eq, keep_lp, np.flatnonzero(cone_hi == t))   # a cone lies in one block


def improve_by_blocks(prob, dec: Decomposition, x: np.ndarray, opts, pairs, heuristics: Sequence[Callable] = (),
                      deadline: float = math.inf, log=None, passes: int = 3) -> np.ndarray:
    """Up to `passes` passes (until one gains nothing) over the blocks of a feasible point x: each block re-optimised with the others
    fixed (its integers kept: fix-and-solve; re-rounded: the user heuristics), a candidate
    kept if the block's rows certify it and the objective drops. Returns a point no worse."""
    t0 = time.perf_counter()
    labels = dec.labels
    spans = _spans(prob, labels)
    a_lo = _row_span(spans[0], labels)[0]
    g_lo = _row_span(spans[1], labels)[0]
    x = np.array(x, float)
    start = best = prob.objective(x)
    lb0, ub0 = np.asarray(prob.lb, float), np.asarray(prob.ub, float)
    order = [t for _ in range(passes) for t in range(len(dec.blocks))]
    last_gain = -1
    for i, t in enumerate(order):
        if time.perf_counter() >= deadline or interrupt.requested():
            break
        if t == 0 and i > 0:
            if last_gain < 0:
                break                        # a whole pass without a gain
            last_gain = -1
        cols = dec.blocks[t].cols
        P = _touching_problem(prob, spans, (a_lo, g_lo), t)
        lbt, ubt = x.copy(), x.copy()
        lbt[cols], ubt[cols] = lb0[cols], ub0[cols]
        cert = Certifier(P, opts, pairs)
        cands = [fix_and_solve(P, NodeSolver(P, opts), x, lbt, ubt, opts, pairs)]
        cands += [y for _, y in run_user_heuristics(heuristics, P, x, lbt, ubt, None,
                                                    deadline if math.isfinite(deadline) else None)]
        for _, _, z in _certified(P, cert, x, cols, [("", y) for y in cands if y is not None])[:1]:
            v = prob.objective(z)
            if v < best - 1e-9 * max(1.0, abs(best)):
                x, best, last_gain = z, v, t
    if log is not None:
        log(f"decomposition: block-by-block improvement {start:.9g} -> {best:.9g} "
            f"in {time.perf_counter() - t0:.2f} s")
    return x


def _prefix_problem(prob, spans, t0, t, y=None, z=None):
    """The window problem of blocks t0..t: rows and cones of `prob` whose largest variable label
    lies in t0..t (same variables; the rows of earlier blocks hold only fixed variables, were
    certified when those were solved, and are left out so that the small residuals of those
    solves are not re-checked against ECOS's fixed-row test). With duals y (equality rows),
    z (LP rows): the rows left out because they reach later blocks are priced into the cost,
    c + A_out' y + G_out' z (their Lagrangian terms)."""
    A, G, a_hi, g_hi, cone_hi, _ = spans
    c = np.asarray(prob.c, float)
    if y is not None:
        c = c + A.T @ np.where(a_hi > t, y, 0.0)
    if z is not None:
        c = c + G[: prob.n_lp].T @ np.where(g_hi[: prob.n_lp] > t, np.maximum(z[: prob.n_lp], 0.0), 0.0)
    keep_eq = np.flatnonzero((a_hi >= t0) & (a_hi <= t))
    keep_lp = np.flatnonzero((g_hi[: prob.n_lp] >= t0) & (g_hi[: prob.n_lp] <= t))
    return replace(_rows_problem(prob, spans, keep_eq, keep_lp, np.flatnonzero((cone_hi >= t0) & (cone_hi <= t))),
                   c=c)


def _compact(P, cols, x, lb, ub, comp_tol):
    """P over the variables `cols` only, every other variable at x (moved to the right-hand
    sides): a problem of the window's size for our B&B (no full-length vectors per node).
    Complementarity pairs inside the window are kept; a pair with one variable outside whose
    value is above comp_tol fixes its other variable to 0. Returns the subproblem."""
    n = P.n
    out = np.ones(n, bool)
    out[cols] = False
    xo = np.where(out, x, 0.0)
    A = P.A.tocsc()
    G = P.G.tocsc()
    b = P.b - A @ xo
    h = P.h - G @ xo
    loc = np.full(n, -1, np.int64)
    loc[cols] = np.arange(cols.size)
    lbc, ubc = lb[cols].copy(), ub[cols].copy()
    hints = P.hints
    pairs = hints.pairs(n)
    keep = []
    for a_, b_ in pairs:
        ia, ib = loc[a_], loc[b_]
        if ia >= 0 and ib >= 0:
            keep.append((ia, ib))
        elif ia >= 0 and x[b_] > comp_tol:
            lbc[ia] = ubc[ia] = 0.0
        elif ib >= 0 and x[a_] > comp_tol:
            lbc[ib] = ubc[ib] = 0.0
    imp = hints.implied(n)
    imp = loc[imp][np.all(loc[imp] >= 0, axis=1)] if imp.size else np.zeros((0, 3), np.int64)
    prio = hints.priority(n)
    is_int = np.zeros(n, bool)
    is_int[P.integer] = True
    sub_h = replace(hints, complementarity_pairs=np.asarray(keep, np.int64).reshape(-1, 2),
                    implied_binaries=imp, branch_priority=None if prio is None else prio[cols])
    Ac = A[:, cols].tocsc()
    Gc = G[:, cols].tocsc()
    Ac.sort_indices()
    Gc.sort_indices()
    return replace(P, c=np.asarray(P.c, float)[cols].copy(), c0=float(P.c0 + P.c @ xo), A=Ac, b=b, G=Gc, h=h,
                   lb=lbc, ub=ubc, integer=np.flatnonzero(is_int[cols]).astype(np.int64), hints=sub_h,
                   var_blocks={})


def _linking(prob, spans, labels):
    """(linking, adjacent): continuous variables of the rows that span blocks (e.g. the battery
    energy, charge, discharge), and the integers that share a linear row with one of them (e.g.
    the battery modes, through Pmin on <= p <= Pmax on)."""
    A, G, a_hi, g_hi = spans[0], spans[1], spans[2], spans[3]
    rows_of = []
    linking = np.zeros(prob.n, bool)
    for M, hi in ((A, a_hi), (G[: prob.n_lp], g_hi[: prob.n_lp])):
        Mc = M.tocsr()
        lo_lab = np.full(Mc.shape[0], -1, np.int64)
        nz = np.diff(Mc.indptr) > 0
        if nz.any():
            lo_lab[nz] = np.minimum.reduceat(labels[Mc.indices], Mc.indptr[:-1][nz])
        linking[Mc[np.flatnonzero(nz & (lo_lab < hi))].indices] = True
        rows_of.append(Mc)
    linking[prob.integer] = False
    adjacent = np.zeros(prob.n, bool)
    for Mc in rows_of:
        hit = (Mc @ linking.astype(float)) != 0          # rows with a linking variable
        # (an exact cancellation to 0 would only miss an integer, never add a wrong one)
        adjacent[Mc[np.flatnonzero(hit)].indices] = True
    is_int = np.zeros(prob.n, bool)
    is_int[prob.integer] = True
    return linking, adjacent & is_int


def _certified(P, cert, x, cols, cands):
    """[(objective, name, z)] cheapest first: each candidate y projected onto the free
    variables, z = x with z[cols] = y[cols], kept if `cert` accepts z. (A heuristic may move
    fixed variables too: the follower response's platform consolidation drops the platform
    binaries of every hour; ranked unprojected, those moves won its candidates 0.49 k$ per hour
    on 5 ADNs x 24 h that the assembled point never had.)"""
    out = []
    for name, y in cands:
        z = x.copy()
        z[cols] = y[cols]
        if cert.check(z)[0]:
            out.append((P.objective(z), name, z))
    return sorted(out, key=lambda g: g[0])


def _start(prob, guide, lb, ub, pairs):
    """(guide within the bounds, integers rounded; the pairs as an (m, 2) int64 array)."""
    x = np.clip(np.asarray(guide, float), lb, ub)
    ii = prob.integer
    x[ii] = np.clip(np.round(x[ii]), lb[ii], ub[ii]) + 0.0
    return x, np.zeros((0, 2), np.int64) if pairs is None else np.asarray(pairs, np.int64).reshape(-1, 2)


def _block_bnb(P, cols, x, lb, ub, opts, cert, block_seconds, deadline, blocks_left):
    """Our B&B over the integers of `cols` (every other variable at x) for a share of the time
    left (at most block_seconds, the time left over `blocks_left` blocks); its point if `cert`
    accepts it, else None. (On the window's variables only: a node then costs a window-sized
    ECOS solve; the model heuristics index the full problem and cannot run there.)"""
    left = deadline - time.perf_counter()
    share = min(block_seconds, left / max(1, blocks_left)) if math.isfinite(left) else block_seconds
    sub = _compact(P, cols, x, lb, ub, opts.comp_tol)
    res = bnb_solve(sub, replace(opts, time_limit=max(share, 1e-3), rel_gap=max(opts.rel_gap, 1e-3),
                                 verbose=False, log_stream=None), stop=interrupt.requested)
    if res.x is None:
        return None
    y = x.copy()
    y[cols] = res.x
    return y if cert.check(y)[0] else None


def sequential_recovery(prob, dec: Decomposition, guide: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                        opts, pairs, heuristics: Sequence[Callable] = (), deadline: float = math.inf,
                        log=None, duals_eq=None, duals_lp=None, block_seconds: float = 20.0,
                        max_back: int = 2, improve: bool = True) -> Optional[np.ndarray]:
    """A point of `prob` assembled block by block from `guide` (module docstring), or None."""
    t0 = time.perf_counter()
    x, pairs = _start(prob, guide, lb, ub, pairs)
    labels = dec.labels
    pair_hi = labels[pairs].max(axis=1) if len(pairs) else np.zeros(0, np.int64)
    K = len(dec.blocks)
    spans = _spans(prob, labels)
    linking, adjacent = _linking(prob, spans, labels)
    # bounds implied by the linear rows over the whole horizon (presolve.Propagator, continuous
    # bounds too, 2K + 2 sweeps): e.g. the battery energy an hour may end with and still reach
    # the cyclic end state through the later hours' charge limits
    # (row tolerance PROP_TOL, not the certifier's 1e-6: each derived bound is relaxed outwards by
    # it, and a block ending on a bound relaxed by 1e-6 left the next hour infeasible by that much
    # on 5 ADNs x 24 h: the cyclic battery state in hour 23)
    ok, plb, pub = Propagator(prob, PROP_TOL, opts.int_tol).propagate(lb, ub, 2 * K + 2, continuous=True)
    if ok:
        # a block that ends exactly on a propagated bound leaves the next block no slack (5 ADNs
        # x 24 h: hour 22 ended its battery at e0 - eta Pmax, and every hour-23 solve then came
        # back infeasible from ECOS); so a bound that propagation tightened is moved inwards by
        # SHRINK of the interval's width (continuous variables of rows that span blocks only,
        # e.g. the battery energy; a restriction: every point is still certified)
        cont = linking.copy()
        width = np.where(np.isfinite(pub - plb), pub - plb, 0.0)
        d = SHRINK * width
        tl = cont & (plb > lb) & np.isfinite(plb) & (width > 1e-7)
        tu = cont & (pub < ub) & np.isfinite(pub) & (width > 1e-7)
        lb = np.where(tl, plb + d, np.maximum(lb, plb))
        ub = np.where(tu, pub - d, np.minimum(ub, pub))
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
        good = _certified(Pt, cert, x, cols, cands)
        if not good and time.perf_counter() < deadline and np.any(adjacent[cols]):
            # a guide whose integers next to the linking variables (e.g. battery modes) are
            # integral and consistent with them: our B&B over those integers only (the others
            # and the complementarity relaxed), then the heuristics round the rest from it
            sub = _compact(Pt, cols, x, lbt, ubt, opts.comp_tol)
            loc_int = np.flatnonzero(adjacent[cols])
            sub = replace(sub, integer=loc_int.astype(np.int64),
                          hints=replace(sub.hints, complementarity_pairs=np.zeros((0, 2), np.int64),
                                        complementarity_mode=None, implied_binaries=np.zeros((0, 3), np.int64)))
            left = deadline - time.perf_counter()
            share = min(block_seconds, left / max(1, K - t)) if math.isfinite(left) else block_seconds
            r = bnb_solve(sub, replace(opts, time_limit=max(0.5 * share, 1e-3), rel_gap=max(opts.rel_gap, 1e-3),
                                       verbose=False, log_stream=None),
                          stop=interrupt.requested)
            if r.x is not None:
                g = x.copy()
                g[cols] = r.x
                y = fix_and_solve(Pt, ns, g, lbt, ubt, opts, pt)
                if y is not None:
                    cands.append(("linking-bnb:fixed", y))
                for name, y in run_user_heuristics(heuristics, Pt, g, lbt, ubt, None, tl):
                    cands.append((f"linking-bnb:{name}", y))
                good = _certified(Pt, cert, x, cols, cands)
        if not good and use_bnb and time.perf_counter() < deadline:
            # no rounding held: the window's own integers by our B&B, a share of the time left
            y = _block_bnb(Pt, cols, x, lbt, ubt, opts, cert, block_seconds, deadline, K - t)
            if y is not None:
                good = [(Pt.objective(y), "bnb", y)]
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
            if log is not None:
                log(f"decomposition: sequential recovery, block {dec.blocks[t].name} from "
                    f"{dec.blocks[t - back].name}: nothing certified ({why})")
        if not good:
            if log is not None:
                log(f"decomposition: sequential recovery stopped at block {dec.blocks[t].name} ({why})")
            return None
        x[cols] = good[0][2][cols]
    if log is not None:
        log(f"decomposition: sequential recovery over {K} blocks in {time.perf_counter() - t0:.2f} s")
    if improve:
        x = improve_by_blocks(prob, dec, x, opts, pairs, heuristics, deadline, log)
    return x


def linked_recovery(prob, dec: Decomposition, guide: np.ndarray, lb: np.ndarray, ub: np.ndarray, opts, pairs,
                    heuristics: Sequence[Callable] = (), deadline: float = math.inf, log=None,
                    block_seconds: float = 20.0) -> Optional[np.ndarray]:
    """A point of `prob` from a guide that satisfies the rows spanning the blocks of `dec`
    (e.g. the battery energy rows between hours, held by ADN-day block solutions):

        the *states*: every variable of a row spanning blocks whose block is below the row's
        last block (e.g. the battery energy e_{t-1} in hour t's row e_t = e_{t-1} + eta_c
        p_c,t - p_d,t / eta_d), fixed at the guide; then every row with a free variable
        has all its free variables in its last block, and the blocks are independent:
        block t = the rows whose last block is t (its own, and the spanning rows ending in
        it, e.g. hour t's battery row with e_{t-1} and e_t fixed: p_c,t, p_d,t and the modes
        stay free to match them), every other variable fixed
        candidates for block t: fix_and_solve (integers of the guide), the user heuristics,
        each from the guide and from block t's relaxation; if none is certified on block t's
        rows, our B&B over block t's free integers for a share of the time left

    A block cannot strand a later one (nothing links them once the states are fixed),
    unlike `sequential_recovery`, whose hour 23 must reach the cyclic battery state from
    wherever hour 22 ended. The price: the linking values (the battery trajectory) are the
    guide's, not re-optimised; the caller may re-solve the continuous problem with the
    assembled integers fixed. Returns the assembled point uncertified (the caller certifies it
    on the full problem), or None (a row over states only violated at the guide, or a block
    without a certified candidate)."""
    t0 = time.perf_counter()
    x, pairs = _start(prob, guide, lb, ub, pairs)
    ii = prob.integer
    labels = dec.labels
    spans = _spans(prob, labels)
    A, G, a_hi, g_hi, cone_hi, _ = spans
    a_lo = _row_span(A, labels)[0]
    g_lo = _row_span(G, labels)[0][: prob.n_lp]
    g_hi = g_hi[: prob.n_lp]
    link = np.zeros(prob.n, bool)           # the states
    for M, lo, hi in ((A, a_lo, a_hi), (G[: prob.n_lp].tocsr(), g_lo, g_hi)):
        S = M[np.flatnonzero(lo != hi)]
        row_hi = np.repeat(hi[lo != hi], np.diff(S.indptr))
        link[S.indices[labels[S.indices] < row_hi]] = True
    # a state within feas_tol of a bound is moved onto it: an interior-point value such as an
    # energy 1e-9 above an empty battery would otherwise carry its noise into the fixed rows
    # (ECOS tests rows over fixed variables at 1e-9); the rows over states only are checked
    # after the move
    cont = link.copy()
    cont[ii] = False
    for bnd in (lb, ub):
        near = cont & np.isfinite(bnd) & (np.abs(x - bnd) <= opts.feas_tol)
        x[near] = bnd[near]
    # rows with a free variable stay in their block's problem; the others (the spanning rows
    # and the block rows over linking variables only, e.g. a cyclic end state) hold only
    # fixed variables from here on: checked once at the guide with the certifier's tolerance
    # (ECOS would test them against its much tighter fixed-row tolerance)
    free = (~link).astype(float)
    eq_free = (abs(A) @ free) > 0
    lp_free = (abs(G[: prob.n_lp]) @ free) > 0
    r_eq = np.abs(A[~eq_free] @ x - prob.b[~eq_free]).max(initial=0.0)
    r_lp = np.maximum(G[: prob.n_lp][~lp_free] @ x - prob.h[: prob.n_lp][~lp_free], 0.0).max(initial=0.0)
    if max(r_eq, r_lp) > opts.feas_tol:
        if log is not None:
            log(f"decomposition: linked recovery: the guide violates rows over linking variables only "
                f"(equality {r_eq:.3g}, inequality {r_lp:.3g} > {opts.feas_tol:.3g})")
        return None
    pair_lab = labels[pairs].max(axis=1) if len(pairs) else np.zeros(0, np.int64)
    K = len(dec.blocks)
    tl = deadline if math.isfinite(deadline) else None
    for t in range(K):
        if time.perf_counter() >= deadline or interrupt.requested():
            return None
        blk = dec.blocks[t]
        cols = blk.cols[~link[blk.cols]]
        P = _rows_problem(prob, spans, np.flatnonzero((a_hi == t) & eq_free),
                          np.flatnonzero((g_hi == t) & lp_free), np.flatnonzero(cone_hi == t))
        lbt, ubt = x.copy(), x.copy()
        lbt[cols], ubt[cols] = lb[cols], ub[cols]
        pt = pairs[pair_lab == t]
        cert = Certifier(P, opts, pt)
        ns = NodeSolver(P, opts)
        cands = []

        def add(name, g):
            y = fix_and_solve(P, ns, g, lbt, ubt, opts, pt)
            if y is not None:
                cands.append((name + ":fixed", y))
            for hname, y in run_user_heuristics(heuristics, P, g, lbt, ubt, None, tl):
                cands.append((f"{name}:{hname}", y))

        add("guide", x)
        good = _certified(P, cert, x, cols, cands)
        if not good:
            rel = ns.solve(lbt, ubt)
            if rel.x is not None and rel.status in ("optimal", "untrusted"):
                add("relaxation", rel.x)
            good = _certified(P, cert, x, cols, cands)
        if not good and time.perf_counter() < deadline and np.isin(cols, ii).any():
            y = _block_bnb(P, cols, x, lbt, ubt, opts, cert, block_seconds, deadline, K - t)
            if y is not None:
                good = [(P.objective(y), "bnb", y)]
        if not good:
            if log is not None:
                log(f"decomposition: linked recovery: block {blk.name}: nothing certified "
                    f"({len(cands)} candidates{', ' + cert.last_reason if cands else ''})")
            return None
        x[cols] = good[0][2][cols]
    if log is not None:
        log(f"decomposition: linked recovery over {K} blocks in {time.perf_counter() - t0:.2f} s")
    return x
