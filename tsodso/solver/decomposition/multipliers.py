"""Multipliers for the Lagrangian without the monolithic root relaxation (large problems).

The monolithic root relaxation (one ECOS solve of the whole problem) is the natural source
of the first multipliers (solve.py, step 1), but its cost grows faster than its size: ECOS
took 1,303 s on 50 ADNs x 24 h (1.26 M nonzeros, loaded machine) where 168 (ADN, hour) block
B&Bs take seconds. `staged_duals` builds multipliers from *block* relaxations instead:

    global duals (y of A, z of the LP rows of G), start 0
    for each stage (a Decomposition of the same problem and the blocks to relax):
        for each listed block k:
            lam = stage.multipliers_from_duals(y, z)       (the stage's coupling rows)
            solve the continuous relaxation of  min r_k(lam)' x_k  over X_k   (ECOS)
            y[rows owned by k] = its equality duals; z[LP rows owned by k] = its LP duals (>= 0)

A stage's blocks own rows that another stage dualises, so the stages pass duals to each other
(block coordinate passes over the partial Lagrangian duals). For a convex problem the
partial Lagrangian relaxation at optimal multipliers of its dualised rows is exact, so the
monolithic root's duals are a fixed point of the passes; the passes are a heuristic for
getting near it (measured, Lagrangian bound at 2 passes vs at the root duals: 5 ADNs x 24 h
52,448.66 vs 52,450.80 $; 2 ADNs x 4 h from 10:00 1,210.006 vs 1,210.015 $; but 1 ADN x 2 h
from 17:00 4,225.0 vs 4,630.4 $, converging slowly: 4,341.6 $ after 5 passes, 4,478.7 $ after
10; over-relaxation (omega 1.5, 1.8) made it worse), and nothing depends on how near: *any* multiplier vector (w >= 0) gives a
valid Lagrangian bound (lagrangian.py). A block relaxation that ECOS ends OPTIMAL_INACCURATE
gives its (inaccurate) duals; one without a point leaves its rows' duals as they were (still
valid multipliers, maybe poorer).

Each stage block is a fraction of the problem (e.g. one hour of every ADN: 1/24), and ECOS
time grows faster than linearly in the size, so a pass costs far less than the monolithic
solve; `predict_monolithic_seconds` is the model solve.py uses to decide whether that solve
can finish within its share of the time limit.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ...conic import ecos_adapter as ea
from ...conic import interrupt
from .blocks import Decomposition

__all__ = ["StagedDuals", "staged_duals", "predict_monolithic_seconds", "MONOLITHIC_REF"]

# ECOS seconds of one monolithic root relaxation of the DSO-led MISOCP (24 h, reltol 1e-6) against
# its nonzeros (A and G), idle machine, measured by the ECOS time-budget probe (conic/ecos_adapter.py
# docstring: seconds per iteration x iterations): 5 ADNs 129,816 nnz 30 x 0.054 = 1.6 s; 20 ADNs
# 462,096 nnz 37 x 0.335 = 12.4 s; 50 ADNs 1,256,256 nnz 49 x 2.93 = 144 s. Interpolated linearly
# in log-log, extrapolated with the last segment's exponent (2.45). Under load it is several times
# longer (50 ADNs: 1,303 s with retries at load 6-15).
MONOLITHIC_REF = ((129_816, 1.6), (462_096, 12.4), (1_256_256, 144.0))


def predict_monolithic_seconds(nnz: int, ref=MONOLITHIC_REF) -> float:
    """Predicted ECOS seconds of one monolithic relaxation with `nnz` nonzeros (MONOLITHIC_REF)."""
    lx = np.log([r[0] for r in ref])
    ly = np.log([r[1] for r in ref])
    x = math.log(max(int(nnz), 1))
    if x <= lx[0]:
        i = 0
    elif x >= lx[-1]:
        i = len(ref) - 2
    else:
        i = int(np.searchsorted(lx, x)) - 1
    slope = (ly[i + 1] - ly[i]) / (lx[i + 1] - lx[i])
    return float(math.exp(ly[i] + slope * (x - lx[i])))


@dataclass
class StagedDuals:
    y: np.ndarray                    # duals of the problem's equality rows (ECOS sign)
    z: np.ndarray                    # duals of the problem's LP rows (>= 0)
    relaxations: int                 # block relaxations solved
    untrusted: int                   # of them not OPTIMAL (inaccurate duals used, no duals: rows left as they were)
    seconds: float
    ecos_seconds: float
    complete: bool                   # every pass finished before the deadline


def _block_duals(blk, r, lb, ub, tol) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], float, bool]:
    p = replace(blk.prob, c=np.ascontiguousarray(r[blk.cols]))
    t = time.perf_counter()
    sol = ea.solve(p, lb[blk.cols], ub[blk.cols], **tol)
    dt = time.perf_counter() - t
    if sol.status not in (ea.OPTIMAL, ea.OPTIMAL_INACCURATE) or sol.y is None:
        return None, None, dt, False
    # OPTIMAL_INACCURATE duals are used too: multipliers need no accuracy to give a valid
    # bound (50 ADNs x 24 h: 5 of 172 stage relaxations were not optimal; leaving their rows'
    # duals as they were gave 510,869.16 $, below the monolithic relaxation's 511,940.39 $)
    return sol.y, sol.z[: blk.lp_rows.size], dt, sol.status == ea.OPTIMAL


def staged_duals(prob, stages: Sequence[Tuple[Decomposition, Sequence[int]]], lb=None, ub=None,
                 passes: int = 1, tolerances: Optional[dict] = None, deadline: float = math.inf,
                 log=None) -> StagedDuals:
    """Duals of every row from block relaxations (module docstring).

    stages: (decomposition, block indices to relax) in order; `passes` repeats the sequence,
    and a final pass over the first stage follows so that its duals see the later stages'.
    `deadline` (time.perf_counter()): no block relaxation is started after it.
    """
    t0 = time.perf_counter()
    lb = np.asarray(prob.lb if lb is None else lb, float)
    ub = np.asarray(prob.ub if ub is None else ub, float)
    tol = dict(tolerances or {})
    y = np.zeros(prob.n_eq)
    z = np.zeros(prob.n_lp)
    n = bad = 0
    ecos_s = 0.0
    seq: List[Tuple[Decomposition, Sequence[int]]] = list(stages) * max(1, passes)
    if len(stages) > 1:
        seq.append(stages[0])
    complete = True
    for dec, which in seq:
        # multipliers of this stage's coupling rows are read once per stage: its blocks are
        # independent given them (and could run in parallel)
        zz = np.concatenate([z, np.zeros(prob.G.shape[0] - prob.n_lp)])
        r = dec.reduced_costs(dec.multipliers_from_duals(y, zz))
        for k in which:
            if time.perf_counter() >= deadline or interrupt.requested():
                complete = False
                break
            blk = dec.blocks[k]
            yk, zk, dt, ok = _block_duals(blk, r, lb, ub, tol)
            n += 1
            ecos_s += dt
            bad += not ok
            if yk is None:
                continue
            y[blk.eq_rows] = yk
            z[blk.lp_rows] = np.maximum(zk, 0.0)
        if not complete:
            break
    out = StagedDuals(y=y, z=z, relaxations=n, untrusted=bad, seconds=time.perf_counter() - t0,
                      ecos_seconds=ecos_s, complete=complete)
    if log is not None:
        log(f"decomposition: staged duals from {n} block relaxations ({bad} not optimal) "
            f"in {out.seconds:.2f} s{'' if complete else ' (stopped at the deadline)'}")
    return out
