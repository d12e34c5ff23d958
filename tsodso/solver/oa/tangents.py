"""Tangent (gradient) cuts of the second-order cones of a `ConicProblem`.

Cone k of the problem is  s = h_k - G_k x,  s = (t, z),  ||z||_2 <= t  (conic/problem.py).
For any unit vector u (||u||_2 <= 1 suffices) Cauchy-Schwarz gives u'z <= ||z|| <= t, so

    u'(h_z - G_z x) <= h_t - G_t x      i.e.      (G_t - u'G_z) x <= h_t - u'h_z

holds for every x in the cone: a globally valid linear row, whatever point u came from.
At a point x* with z* != 0, u = z*/||z*|| gives the tangent of the cone at x* (the gradient
cut of ||z|| - t); it cuts x* off exactly when ||z*|| > t*. With z* = 0 the row is t >= 0.

Entries of u with |u_i| < `U_DROP` are set to 0 (the row stays valid: the shorter u still
has norm <= 1), so rows are not cluttered with coefficients that only carry rounding noise.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp

__all__ = ["ConeIndex", "U_DROP"]

U_DROP = 1e-9


class ConeIndex:
    """The cone rows of a problem, with vectorised violation and tangent-row computation."""

    def __init__(self, prob):
        self.prob = prob
        self.sizes = np.asarray(prob.cone_sizes, np.int64)
        self.m = int(self.sizes.size)
        self.start = prob.n_lp + (np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
                                  if self.m else np.zeros(0, np.int64))
        rows = prob.G.shape[0] - prob.n_lp
        # cone number of every cone row (local, 0..rows-1) and whether it is the t row
        self.owner = np.repeat(np.arange(self.m), self.sizes)
        self.is_t = np.zeros(rows, bool)
        self.is_t[self.start - prob.n_lp] = True
        self.Gc = prob.G.tocsr()[prob.n_lp:]
        self.hc = prob.h[prob.n_lp:]

    def slack(self, x) -> np.ndarray:
        """s = h - G x over the cone rows."""
        return self.hc - self.Gc @ np.asarray(x, float)

    def violation(self, x) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(||z|| - t, t, ||z||) per cone at x (positive first entry = x outside the cone)."""
        s = self.slack(x)
        nz = np.sqrt(np.bincount(self.owner[~self.is_t], weights=s[~self.is_t] ** 2, minlength=self.m))
        t = s[self.is_t]
        return nz - t, t, nz

    def tangents(self, x, cones: Optional[np.ndarray] = None) -> Tuple[sp.csr_matrix, np.ndarray]:
        """Tangent rows C x <= d of the cones `cones` (default all; in increasing cone order,
        duplicates dropped) at the point x."""
        s = self.slack(x)
        if cones is None:
            cones = np.arange(self.m)
        cones = np.asarray(cones, np.int64)
        if cones.size == 0:
            return sp.csr_matrix((0, self.prob.n)), np.zeros(0)
        _, _, nz = self.violation(x)
        sel = np.zeros(self.m, bool)
        sel[cones] = True
        local = np.flatnonzero(sel[self.owner])                  # cone rows of the chosen cones
        own = self.owner[local]
        denom = nz[own]
        w = np.where(self.is_t[local], 1.0,
                     -np.divide(s[local], denom, out=np.zeros(local.size), where=denom > 0))
        w[np.abs(w) < U_DROP] = 0.0
        new_id = np.cumsum(sel) - 1                               # cone -> row of the cut block
        W = sp.csr_matrix((w, (new_id[own], local)), shape=(int(sel.sum()), self.Gc.shape[0]))
        C = (W @ self.Gc).tocsr()
        d = W @ self.hc
        C.eliminate_zeros()
        return C, np.asarray(d, float)
