"""Split a `ConicProblem` into block subproblems by a per-variable block label.

    labels[j] = k  (k = 0..K-1) puts variable j into block k.

A row (equality row of A, LP row of G) whose nonzero columns all lie in one block belongs to
that block; every other row is a *coupling* row and is dualised by the Lagrangian
(lagrangian.py). A second-order cone must lie in one block (its rows cannot be dualised
one by one): a cone spanning blocks is a `ValueError` naming the cone. Rows without any
nonzero are coupling rows (they only add their right-hand side to the dual term).

With multipliers y (coupling equality rows, free) and w >= 0 (coupling LP rows), ECOS's
sign convention (Lagrangian c'x + y'(Ax - b) + w'(Gx - h)):

    L(y, w) = c0 - y'b_c - w'h_c + sum_k  min { r_k' x_k : x_k in X_k }
    r = c + A_c' y + G_c' w              (reduced costs; block k reads r[cols_k])

and X_k is block k's own rows, cones, bounds and integrality. For every (y, w >= 0),
L(y, w) is a lower bound on the problem's optimum (weak duality), provided each block
minimum is replaced by a proven lower bound on it.

Solver hints carried into the blocks (conic/hints.py, the B&B's contract):
`complementarity_pairs` and `implied_binaries` (their variables must lie in one block, else
`ValueError`), `branch_priority` (sliced).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import List

import numpy as np
import scipy.sparse as sp

from ...conic.problem import ConicProblem

__all__ = ["Block", "Decomposition", "decompose"]


@dataclass
class Block:
    """One block subproblem: the variables `cols` (global indices) and the rows it owns."""

    k: int
    cols: np.ndarray                 # global variable indices, sorted
    prob: ConicProblem               # its rows over its own variables; c = the problem's c[cols], c0 = 0
    eq_rows: np.ndarray              # global rows of A owned by the block
    lp_rows: np.ndarray              # global LP rows of G owned by the block
    cones: np.ndarray                # global cone indices owned by the block
    name: str = ""

    @property
    def n(self) -> int:
        return int(self.cols.size)


@dataclass
class Decomposition:
    prob: ConicProblem
    labels: np.ndarray
    blocks: List[Block]
    coupling_eq: np.ndarray          # global rows of A that are dualised
    coupling_lp: np.ndarray          # global LP rows of G that are dualised
    A_c: sp.csr_matrix               # A[coupling_eq]
    b_c: np.ndarray
    G_c: sp.csr_matrix               # G[coupling_lp]
    h_c: np.ndarray
    block_of_var: np.ndarray = field(default=None)   # = labels
    local_index: np.ndarray = field(default=None)    # position of variable j inside its block

    @property
    def n_multipliers(self) -> int:
        return int(self.coupling_eq.size + self.coupling_lp.size)

    def split(self, lam: np.ndarray):
        """(y, w) = the equality and inequality parts of a multiplier vector."""
        m = self.coupling_eq.size
        return lam[:m], lam[m:]

    def reduced_costs(self, lam: np.ndarray) -> np.ndarray:
        y, w = self.split(lam)
        return self.prob.c + self.A_c.T @ y + self.G_c.T @ w

    def dual_constant(self, lam: np.ndarray) -> float:
        y, w = self.split(lam)
        return float(self.prob.c0 - y @ self.b_c - w @ self.h_c)

    def subgradient(self, x: np.ndarray) -> np.ndarray:
        """Coupling residuals (A_c x - b_c, G_c x - h_c) at a point: a supergradient of L."""
        return np.concatenate([self.A_c @ x - self.b_c, self.G_c @ x - self.h_c])

    def multipliers_from_duals(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Multipliers of the coupling rows read from full-problem ECOS duals (y of A, z of G)."""
        w = np.maximum(np.asarray(z, float)[self.coupling_lp], 0.0)
        return np.concatenate([np.asarray(y, float)[self.coupling_eq], w])

    def duals_from_multipliers(self, lam: np.ndarray):
        """(y, z) over all rows of A and G with the multipliers on the coupling rows, 0 elsewhere."""
        y = np.zeros(self.prob.n_eq)
        z = np.zeros(self.prob.G.shape[0])
        m = self.coupling_eq.size
        y[self.coupling_eq] = lam[:m]
        z[self.coupling_lp] = lam[m:]
        return y, z

    def n_ineq_multipliers(self) -> int:
        return int(self.coupling_lp.size)


def _row_span(M: sp.csr_matrix, labels: np.ndarray):
    """Per row: (min label, max label, nnz) over its stored nonzeros (-1, -1, 0 when empty)."""
    M = M.tocsr()
    M.eliminate_zeros()
    nnz = np.diff(M.indptr)
    lo = np.full(M.shape[0], -1, np.int64)
    hi = np.full(M.shape[0], -1, np.int64)
    ne = np.flatnonzero(nnz > 0)
    if ne.size:
        lab = labels[M.indices]
        starts = M.indptr[ne]
        lo[ne] = np.minimum.reduceat(lab, starts)
        hi[ne] = np.maximum.reduceat(lab, starts)
    return lo, hi, nnz


def _sub(M: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> sp.csc_matrix:
    out = M[rows][:, cols].tocsc()
    out.sort_indices()
    return out


def decompose(prob: ConicProblem, labels, names=None) -> Decomposition:
    """Blocks and coupling rows of `prob` for the per-variable block `labels` (see module doc)."""
    labels = np.asarray(labels, np.int64).reshape(-1)
    if labels.shape != (prob.n,):
        raise ValueError(f"block labels: {labels.size} labels for {prob.n} variables")
    if labels.size and labels.min() < 0:
        j = int(np.argmin(labels))
        raise ValueError(f"block labels: variable {j} has label {labels[j]} < 0")
    K = int(labels.max()) + 1 if labels.size else 0

    A = prob.A.tocsr()
    G = prob.G.tocsr()
    a_lo, a_hi, a_nnz = _row_span(A, labels)
    eq_own = np.where((a_nnz > 0) & (a_lo == a_hi), a_lo, -1)
    Glp = G[: prob.n_lp]
    g_lo, g_hi, g_nnz = _row_span(Glp, labels)
    lp_own = np.where((g_nnz > 0) & (g_lo == g_hi), g_lo, -1)

    # cones: one block each
    Gq = G[prob.n_lp:]
    q_lo, q_hi, q_nnz = _row_span(Gq, labels)
    sizes = np.asarray(prob.cone_sizes, np.int64)
    cone_of_row = np.repeat(np.arange(sizes.size), sizes)
    cone_own = np.full(sizes.size, -1, np.int64)
    has = q_nnz > 0
    if np.any(has):
        big = np.iinfo(np.int64).max
        lo_c = np.full(sizes.size, big)
        hi_c = np.full(sizes.size, -1)
        np.minimum.at(lo_c, cone_of_row[has], q_lo[has])
        np.maximum.at(hi_c, cone_of_row[has], q_hi[has])
        bad = np.flatnonzero((hi_c >= 0) & (lo_c != hi_c))
        if bad.size:
            c = int(bad[0])
            raise ValueError(f"block labels: cone {c} spans blocks {int(lo_c[c])} and {int(hi_c[c])}; "
                             "every cone must lie in one block")
        cone_own = np.where(hi_c >= 0, lo_c, -1)
    if np.any(cone_own < 0):
        c = int(np.flatnonzero(cone_own < 0)[0])
        raise ValueError(f"block labels: cone {c} has no variable (constant cone)")

    hints = prob.hints
    pair_meta = {}
    for key, p in (("complementarity_pairs", hints.pairs(prob.n)), ("implied_binaries", hints.implied(prob.n))):
        if p.size == 0:
            continue
        lab = labels[p]
        bad = np.flatnonzero(lab.min(axis=1) != lab.max(axis=1))
        if bad.size:
            raise ValueError(f"block labels: {key} row {int(bad[0])} = {tuple(p[bad[0]])} spans blocks")
        pair_meta[key] = p
    prio = hints.priority(prob.n)

    local = np.zeros(prob.n, np.int64)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=K)
    starts = np.concatenate([[0], np.cumsum(counts)])
    for k in range(K):
        cols = order[starts[k]: starts[k + 1]]
        local[cols] = np.arange(cols.size)

    # rows per block, grouped once
    def groups(own, K):
        o = np.argsort(own, kind="stable")
        cnt = np.bincount(own[own >= 0], minlength=K)
        first = np.searchsorted(own[o], 0)
        st = first + np.concatenate([[0], np.cumsum(cnt)])
        return [o[st[k]: st[k + 1]] for k in range(K)]

    eq_g, lp_g, cone_g = groups(eq_own, K), groups(lp_own, K), groups(cone_own, K)
    cone_start = np.concatenate([[0], np.cumsum(sizes)]) + prob.n_lp
    is_int = np.zeros(prob.n, bool)
    is_int[prob.integer] = True
    blocks = []
    for k in range(K):
        cols = order[starts[k]: starts[k + 1]]
        er, lr, cn = eq_g[k], lp_g[k], cone_g[k]
        crow = (np.concatenate([np.arange(cone_start[c], cone_start[c] + sizes[c]) for c in cn])
                if cn.size else np.zeros(0, np.int64))
        Ak = _sub(A, er, cols)
        Gk = _sub(G, np.concatenate([lr, crow]).astype(np.int64), cols)
        bm = {}
        for key, p in pair_meta.items():
            sel = p[labels[p[:, 0]] == k] if p.size else p
            bm[key] = local[sel] if sel.size else np.zeros((0, p.shape[1]), np.int64)
        bh = replace(hints, **bm, branch_priority=None if prio is None else prio[cols])
        bp = ConicProblem(
            c=np.asarray(prob.c[cols], float).copy(), c0=0.0, A=Ak, b=prob.b[er].copy(), G=Gk,
            h=prob.h[np.concatenate([lr, crow]).astype(np.int64)].copy(), n_lp=int(lr.size),
            cone_sizes=[int(s) for s in sizes[cn]], lb=prob.lb[cols].copy(), ub=prob.ub[cols].copy(),
            integer=np.flatnonzero(is_int[cols]).astype(np.int64), hints=bh)
        nm = names[k] if names is not None else f"block{k}"
        blocks.append(Block(k=k, cols=cols, prob=bp, eq_rows=er, lp_rows=lr, cones=cn, name=nm))

    ceq = np.flatnonzero(eq_own < 0)
    clp = np.flatnonzero(lp_own < 0)
    return Decomposition(prob=prob, labels=labels, blocks=blocks, coupling_eq=ceq, coupling_lp=clp,
                         A_c=A[ceq].tocsr(), b_c=prob.b[ceq].copy(), G_c=Glp[clp].tocsr(),
                         h_c=prob.h[clp].copy(), block_of_var=labels, local_index=local)
