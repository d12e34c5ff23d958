"""Lagrangian cuts from the blocks, added to the full problem's relaxation.

For multipliers lam and block k with proven lower bound beta_k on min { r_k'x_k : x_k in X_k }
(lagrangian.py), every feasible point of the problem satisfies

    r_k(lam)' x_k >= beta_k                                                    (one LP row per block)

(x_k lies in X_k, the block's own rows, cones, bounds and integrality). Summed over the blocks
with the coupling rows they give c'x + c0 >= bound(lam), so the relaxation with these rows has
a bound of at least the Lagrangian bound; at a B&B node they combine with the branching
decisions (the Lagrangian cuts of issue 11). A cut is added only where integrality raised the
block's bound above its continuous relaxation (beta_k > relax_k + tol): otherwise the block's
own rows already imply it. Each row is scaled by 1 / max |coefficient| (measured on 1 ADN x
24 h: unscaled cuts on every block made the root ECOS solve end NUMERICAL_ERROR; scaled cuts
on the blocks where integrality matters solve OPTIMAL in one attempt, as fast as without).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Tuple

import numpy as np
import scipy.sparse as sp

from ...conic.problem import ConicProblem
from .blocks import Decomposition
from .lagrangian import LagrangianValue

__all__ = ["lagrangian_cuts", "with_cuts"]


def lagrangian_cuts(dec: Decomposition, val: LagrangianValue, tol: float = 1e-6) -> Tuple[sp.csr_matrix, np.ndarray]:
    """Rows C x <= h of the cuts -r_k'x_k <= -beta_k (scaled) of the blocks where integrality
    raised the bound by more than tol * max(1, |beta_k|)."""
    r = dec.reduced_costs(val.lam)
    rows, cols, vals, rhs = [], [], [], []
    for blk, beta, relax in zip(dec.blocks, val.block_bounds, val.block_relax):
        if not np.isfinite(beta) or beta - relax <= tol * max(1.0, abs(beta)):
            continue
        rk = r[blk.cols]
        nz = np.flatnonzero(rk)
        if nz.size == 0:
            continue
        s = 1.0 / np.max(np.abs(rk[nz]))
        i = len(rhs)
        rows.append(np.full(nz.size, i)); cols.append(blk.cols[nz]); vals.append(-rk[nz] * s)
        rhs.append(-beta * s)
    n = dec.prob.n
    if not rhs:
        return sp.csr_matrix((0, n)), np.zeros(0)
    C = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(rhs), n))
    return C, np.asarray(rhs, float)


def with_cuts(prob: ConicProblem, C, h) -> ConicProblem:
    """`prob` with the LP rows C x <= h appended after its LP rows (before the cones)."""
    if C.shape[0] == 0:
        return prob
    G = sp.vstack([prob.G[: prob.n_lp], sp.csr_matrix(C), prob.G[prob.n_lp:]], format="csc")
    G.sort_indices()
    hh = np.concatenate([prob.h[: prob.n_lp], h, prob.h[prob.n_lp:]])
    ineq = dict(prob.ineq_blocks)
    ineq["decomposition.lagrangian_cuts"] = slice(prob.n_lp, prob.n_lp + C.shape[0])
    cones = {k: slice(s.start + C.shape[0], s.stop + C.shape[0]) for k, s in prob.cone_blocks.items()}
    return replace(prob, G=G, h=hh, n_lp=prob.n_lp + C.shape[0], ineq_blocks=ineq, cone_blocks=cones)
