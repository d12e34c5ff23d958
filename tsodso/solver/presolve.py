"""Node presolve: activity-based bound propagation on the linear rows.

Rows used: every equality row of A (as lo = hi = b) and every LP row of G (G_i x <= h_i,
lo = -inf). Cone rows are not used. For a row lo <= a'x <= hi with bounds lb <= x <= ub,

    minact = sum_j min(a_j lb_j, a_j ub_j),   maxact = sum_j max(a_j lb_j, a_j ub_j)

* infeasible if minact > hi + tol or maxact < lo - tol  (tol = feas_tol * (1 + |rhs|));
* for a_j > 0:  x_j <= (hi - (minact - a_j lb_j)) / a_j,  x_j >= (lo - (maxact - a_j ub_j)) / a_j
  (mirrored for a_j < 0), where an infinite residual activity gives no bound.

Safety: a derived bound is relaxed by `tol / |a_j|` before use, integer bounds are rounded
inwards only after adding `int_tol` (floor(ub + int_tol)), bounds beyond +-1e9 are ignored,
and a tightening smaller than 1e-9 * (1 + |bound|) is dropped (no creeping). Tightened
bounds of *continuous* variables are used for propagation and infeasibility detection but
returned only for integer variables by default (`continuous=False`): extra bound rows make
ECOS problems larger and can hurt its accuracy.

Vectorised over the CSR nonzeros (numpy), `passes` sweeps per call.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Propagator"]

_BIG = 1e9


class Propagator:
    def __init__(self, prob, feas_tol: float = 1e-6, int_tol: float = 1e-6):
        rows = []
        lo, hi = [], []
        if prob.n_eq:
            rows.append(prob.A)
            lo.append(prob.b)
            hi.append(prob.b)
        if prob.n_lp:
            rows.append(prob.G[: prob.n_lp])
            lo.append(np.full(prob.n_lp, -np.inf))
            hi.append(prob.h[: prob.n_lp])
        n = prob.n
        if rows:
            M = sp.vstack(rows, format="csr")
        else:
            M = sp.csr_matrix((0, n))
        M.sum_duplicates()
        M.eliminate_zeros()
        self.M = M
        self.lo = np.concatenate(lo) if lo else np.zeros(0)
        self.hi = np.concatenate(hi) if hi else np.zeros(0)
        self.row_of = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
        self.col = M.indices.astype(np.int64)
        self.a = M.data.astype(float)
        self.m = M.shape[0]
        self.n = n
        self.is_int = np.zeros(n, bool)
        self.is_int[prob.integer] = True
        self.feas_tol = feas_tol
        self.int_tol = int_tol
        rhs = np.maximum(np.abs(np.nan_to_num(self.lo, neginf=0.0)), np.abs(np.nan_to_num(self.hi, posinf=0.0)))
        self.row_tol = feas_tol * (1.0 + rhs)

    def _activities(self, lb, ub):
        a, j, r, m = self.a, self.col, self.row_of, self.m
        lo_c = np.where(a > 0, a * lb[j], a * ub[j])     # contribution to minact
        hi_c = np.where(a > 0, a * ub[j], a * lb[j])     # contribution to maxact
        lo_inf = ~np.isfinite(lo_c)
        hi_inf = ~np.isfinite(hi_c)
        lo_fin = np.where(lo_inf, 0.0, lo_c)
        hi_fin = np.where(hi_inf, 0.0, hi_c)
        minact = np.bincount(r, lo_fin, m)
        maxact = np.bincount(r, hi_fin, m)
        n_lo_inf = np.bincount(r, lo_inf.astype(float), m)
        n_hi_inf = np.bincount(r, hi_inf.astype(float), m)
        return lo_fin, hi_fin, lo_inf, hi_inf, minact, maxact, n_lo_inf, n_hi_inf

    def propagate(self, lb, ub, passes: int = 3, continuous: bool = False):
        """Returns (feasible, lb, ub); lb, ub are new arrays (inputs untouched)."""
        lb0, ub0 = lb, ub
        lb = lb.astype(float, copy=True)
        ub = ub.astype(float, copy=True)
        if np.any(lb > ub + self.feas_tol * (1 + np.abs(lb))):
            return False, lb0, ub0
        if self.m == 0:
            return True, lb0, ub0
        a, j, r = self.a, self.col, self.row_of
        for _ in range(passes):
            lo_fin, hi_fin, lo_inf, hi_inf, minact, maxact, nli, nhi = self._activities(lb, ub)
            minact_all = np.where(nli > 0, -np.inf, minact)
            maxact_all = np.where(nhi > 0, np.inf, maxact)
            if np.any(minact_all > self.hi + self.row_tol) or np.any(maxact_all < self.lo - self.row_tol):
                return False, lb0, ub0
            # residual activities without the own term
            res_min = np.where(nli[r] - lo_inf > 0, -np.inf, minact[r] - lo_fin)
            res_max = np.where(nhi[r] - hi_inf > 0, np.inf, maxact[r] - hi_fin)
            tol = self.row_tol[r] / np.abs(a)
            with np.errstate(invalid="ignore", divide="ignore"):
                from_hi = (self.hi[r] - res_min) / a + np.where(a > 0, tol, -tol)   # a>0: upper; a<0: lower
                from_lo = (self.lo[r] - res_max) / a + np.where(a > 0, -tol, tol)   # a>0: lower; a<0: upper
            new_ub = np.full(self.n, np.inf)
            new_lb = np.full(self.n, -np.inf)
            up_cand = np.where(a > 0, from_hi, from_lo)
            lo_cand = np.where(a > 0, from_lo, from_hi)
            up_cand = np.where(np.isfinite(up_cand) & (np.abs(up_cand) < _BIG), up_cand, np.inf)
            lo_cand = np.where(np.isfinite(lo_cand) & (np.abs(lo_cand) < _BIG), lo_cand, -np.inf)
            np.minimum.at(new_ub, j, up_cand)
            np.maximum.at(new_lb, j, lo_cand)
            ii = self.is_int
            new_ub[ii] = np.floor(new_ub[ii] + self.int_tol)
            new_lb[ii] = np.ceil(new_lb[ii] - self.int_tol)
            eps = 1e-9 * (1.0 + np.abs(ub))
            tighten_u = new_ub < ub - np.where(np.isfinite(ub), eps, 0.0)
            eps = 1e-9 * (1.0 + np.abs(lb))
            tighten_l = new_lb > lb + np.where(np.isfinite(lb), eps, 0.0)
            if not (tighten_u.any() or tighten_l.any()):
                break
            ub = np.where(tighten_u, new_ub, ub)
            lb = np.where(tighten_l, new_lb, lb)
            cross = lb > ub
            if np.any(cross):
                gapv = lb - ub
                if np.any(gapv[cross] > self.feas_tol * (1 + np.abs(lb[cross]))) or np.any(cross & ii):
                    return False, lb0, ub0
                mid = 0.5 * (lb + ub)
                lb = np.where(cross, mid, lb)
                ub = np.where(cross, mid, ub)
        if not continuous:
            keep = self.is_int
            lb = np.where(keep, lb, lb0)
            ub = np.where(keep, ub, ub0)
        return True, lb, ub
