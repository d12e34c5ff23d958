"""Lock-based rounding of a relaxation point (SCIP's "trivial/simple rounding" idea).

A fractional integer variable is not a reason to branch if it can be moved to an integer
without making any row infeasible and without raising the objective: the relaxation point
then already contains an integer-feasible point of the same value ("integral in disguise").
Measured on the DSO-led model (1 ADN x 24 h root): 100 of 144 P2P role binaries and most
BESS on-binaries were fractional only because the power they gate was 0 (role 0.43 with no
buy and no sell); branching on them gains nothing, and a search that did so never moved its
best bound (170 nodes, bound = root bound).

`Rounder(prob).round(x, lb, ub, tol)` returns a copy of x in which every fractional integer
that can be moved is moved to floor or ceil, one variable at a time (row activities are
updated after each move, so two moves never use the same slack twice):

* a variable that appears in an equality row or in a cone row is never moved;
* direction: towards the nearer integer first, then the other one, but never a direction
  in which the objective rises (c_j * delta > 0);
* a move is accepted if no LP row of G it touches ends up more violated than
  max(its violation before the move, tol), and the new value is within [lb, ub].

The result is a point whose residuals are those of x (eq and cone rows untouched, LP rows
within tol) and whose objective is <= the objective of x. Whether it is integral is
reported; it is still certified by the caller before it becomes an incumbent.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["Rounder"]


class Rounder:
    def __init__(self, prob):
        self.prob = prob
        ints = np.asarray(prob.integer, np.int64)
        A = sp.csc_matrix(prob.A)
        G = sp.csc_matrix(prob.G)
        in_eq = np.diff(A.indptr)[ints] > 0 if ints.size else np.zeros(0, bool)
        cone = G[prob.n_lp:, :] if prob.G.shape[0] > prob.n_lp else sp.csc_matrix((0, prob.n))
        in_cone = np.diff(sp.csc_matrix(cone).indptr)[ints] > 0 if ints.size else np.zeros(0, bool)
        self.movable = np.zeros(prob.n, bool)
        self.movable[ints[~(in_eq | in_cone)]] = True
        self.Glp = sp.csc_matrix(G[: prob.n_lp, :])
        self.h = np.asarray(prob.h[: prob.n_lp], float)

    def round(self, x, lb, ub, int_tol: float = 1e-6, tol: float = 1e-9):
        """(x_rounded, n_moved): x with every movable fractional integer rounded if possible."""
        prob = self.prob
        x = np.array(x, float)
        ints = prob.integer
        if ints.size == 0:
            return x, 0
        v = x[ints]
        frac = ints[np.abs(v - np.round(v)) > int_tol]
        frac = frac[self.movable[frac]]
        if frac.size == 0:
            return x, 0
        slack = self.h - self.Glp @ x            # >= -tol on a feasible point
        Gp, Gi, Gx = self.Glp.indptr, self.Glp.indices, self.Glp.data
        c = prob.c
        moved = 0
        for j in frac:
            xj = x[j]
            lo, hi = np.floor(xj), np.ceil(xj)
            order = (lo, hi) if xj - lo <= hi - xj else (hi, lo)
            rows = Gi[Gp[j]:Gp[j + 1]]
            coef = Gx[Gp[j]:Gp[j + 1]]
            for target in order:
                d = target - xj
                if c[j] * d > 0 or target < lb[j] or target > ub[j]:
                    continue
                new = slack[rows] - coef * d
                if np.all(new >= np.minimum(slack[rows], 0.0) - tol):
                    slack[rows] = new
                    x[j] = target
                    moved += 1
                    break
        return x, moved
