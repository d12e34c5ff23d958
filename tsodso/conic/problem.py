"""Standard-form conic problem in ECOS layout, with named variable and row blocks.

    minimise    c' x + c0
    subject to  A x = b                      (rows in named equality blocks)
                G x + s = h,  s in K         (K = R+^l  x  Q^{q_1} x ... x Q^{q_m})
                lb <= x <= ub                (kept as arrays; the solver adapter turns
                                              finite bounds into rows of G or A)
                x_j integer for j in `integer`

`Q^n = {(t, z) in R x R^{n-1} : ||z||_2 <= t}` is the second-order cone. The row order of
G is ECOS's: every linear inequality row first, then the cones in order.

Every block of the model is named: `var_blocks[name] = (slice, shape)` for variables,
`eq_blocks`, `ineq_blocks` and `cone_blocks` map a name to the rows of A, of the LP part of
G and of the cone part of G. `get(x, name)` reads a variable block back with its shape.

`ProblemBuilder` collects COO triplets per block; `build()` concatenates them once and
returns canonical CSC matrices (sorted indices, duplicates summed).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from .hints import SolverHints

__all__ = ["ConicProblem", "ProblemBuilder"]


@dataclass
class ConicProblem:
    """A built conic problem (see module docstring for the form)."""

    c: np.ndarray
    c0: float
    A: sp.csc_matrix
    b: np.ndarray
    G: sp.csc_matrix
    h: np.ndarray
    n_lp: int                       # number of linear inequality rows of G (ECOS dims['l'])
    cone_sizes: List[int]           # ECOS dims['q']
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray             # sorted int64 indices of integer variables
    var_blocks: Dict[str, Tuple[slice, tuple]] = field(default_factory=dict)
    eq_blocks: Dict[str, slice] = field(default_factory=dict)
    ineq_blocks: Dict[str, slice] = field(default_factory=dict)
    cone_blocks: Dict[str, slice] = field(default_factory=dict)   # rows of G (cone part)
    meta: dict = field(default_factory=dict)        # descriptive only (scheme, units, statistics)
    hints: SolverHints = field(default_factory=SolverHints)   # what the solver may use (hints.py)

    # ---------------------------------------------------------------- sizes
    @property
    def n(self) -> int:
        return self.c.shape[0]

    @property
    def n_eq(self) -> int:
        return self.A.shape[0]

    @property
    def n_cone_rows(self) -> int:
        return int(sum(self.cone_sizes))

    def size_report(self) -> dict:
        """Counts that describe the problem (used by `tsodso size`)."""
        return {
            "variables": self.n,
            "integers": int(self.integer.size),
            "continuous": int(self.n - self.integer.size),
            "eq_rows": self.n_eq,
            "ineq_rows": self.n_lp,
            "cones": len(self.cone_sizes),
            "cone_rows": self.n_cone_rows,
            "nnz_A": int(self.A.nnz),
            "nnz_G": int(self.G.nnz),
            "nnz": int(self.A.nnz + self.G.nnz),
        }

    # ---------------------------------------------------------------- readback
    def index(self, name: str) -> np.ndarray:
        """Global indices of variable block `name`, with the block's shape."""
        sl, shape = self.var_blocks[name]
        return np.arange(sl.start, sl.stop).reshape(shape)

    def get(self, x: np.ndarray, name: str) -> np.ndarray:
        """Values of variable block `name` in the vector `x`, with the block's shape."""
        sl, shape = self.var_blocks[name]
        return np.asarray(x[sl]).reshape(shape)

    def objective(self, x: np.ndarray) -> float:
        return float(self.c @ x + self.c0)

    def residuals(self, x: np.ndarray) -> dict:
        """Primal infeasibility of `x` (absolute, in the problem's own units).

        eq: max |A x - b|; lp: max (G x - h)_+ over LP rows; cone: max over cones of
        (||z|| - t)_+ with (t, z) = h - G x; bound: max violation of lb <= x <= ub;
        integrality: max distance of an integer variable to the nearest integer.
        """
        out = {"eq": 0.0, "lp": 0.0, "cone": 0.0, "bound": 0.0, "integrality": 0.0}
        if self.n_eq:
            out["eq"] = float(np.max(np.abs(self.A @ x - self.b)))
        s = self.h - self.G @ x
        if self.n_lp:
            out["lp"] = float(max(0.0, -np.min(s[: self.n_lp])))
        k = self.n_lp
        worst = 0.0
        for q in self.cone_sizes:
            t, z = s[k], s[k + 1: k + q]
            worst = max(worst, float(np.linalg.norm(z) - t))
            k += q
        out["cone"] = max(0.0, worst)
        out["bound"] = float(max(0.0, np.max(self.lb - x, initial=0.0), np.max(x - self.ub, initial=0.0)))
        if self.integer.size:
            xi = x[self.integer]
            out["integrality"] = float(np.max(np.abs(xi - np.round(xi))))
        return out


class ProblemBuilder:
    """Collects variable blocks and COO triplets of constraint blocks.

    Row indices passed to `add_eq`, `add_leq` and `add_cones` are local to the block
    (0..m-1); column indices are global variable indices (from `var`).
    """

    def __init__(self):
        self._n = 0
        self._lb: List[np.ndarray] = []
        self._ub: List[np.ndarray] = []
        self._int: List[np.ndarray] = []
        self.var_blocks: Dict[str, Tuple[slice, tuple]] = {}
        self._c: List[Tuple[np.ndarray, np.ndarray]] = []
        self.c0 = 0.0
        # (name, rows, cols, vals, rhs)
        self._eq: List[tuple] = []
        self._leq: List[tuple] = []
        # (name, rows, cols, vals, const, sizes): cone vector s = const + M x  ->  G = -M, h = const
        self._cone: List[tuple] = []
        self.meta: dict = {}
        self.hints = SolverHints()

    # ---------------------------------------------------------------- variables
    def var(self, name: str, shape, lb=-np.inf, ub=np.inf, integer: bool = False) -> np.ndarray:
        """Add a variable block; returns its global indices with `shape`."""
        if name in self.var_blocks:
            raise ValueError(f"variable block {name!r} defined twice")
        shape = (shape,) if np.isscalar(shape) else tuple(int(s) for s in shape)
        size = int(np.prod(shape)) if shape else 1
        idx = np.arange(self._n, self._n + size, dtype=np.int64)
        self.var_blocks[name] = (slice(self._n, self._n + size), shape)
        self._lb.append(np.broadcast_to(np.asarray(lb, float), shape).reshape(-1).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, float), shape).reshape(-1).copy())
        if integer:
            self._int.append(idx.copy())
        self._n += size
        return idx.reshape(shape)

    def binary(self, name: str, shape) -> np.ndarray:
        return self.var(name, shape, 0.0, 1.0, integer=True)

    @property
    def n(self) -> int:
        return self._n

    # ---------------------------------------------------------------- objective
    def add_cost(self, cols, vals) -> None:
        cols = np.asarray(cols, np.int64)
        vals = np.broadcast_to(np.asarray(vals, float), cols.shape).reshape(-1)
        self._c.append((cols.reshape(-1), vals.copy()))

    # ---------------------------------------------------------------- constraints
    @staticmethod
    def _trip(rows, cols, vals):
        rows, cols = np.broadcast_arrays(np.asarray(rows, np.int64), np.asarray(cols, np.int64))
        vals = np.broadcast_to(np.asarray(vals, float), rows.shape)
        return rows.reshape(-1).copy(), cols.reshape(-1).copy(), np.array(vals, float).reshape(-1)

    def add_eq(self, name: str, rows, cols, vals, rhs) -> None:
        """Block of equality rows  sum_j vals * x[cols] = rhs[rows]."""
        rhs = np.atleast_1d(np.asarray(rhs, float)).copy()
        self._eq.append((name, *self._trip(rows, cols, vals), rhs))

    def add_leq(self, name: str, rows, cols, vals, rhs) -> None:
        """Block of inequality rows  sum_j vals * x[cols] <= rhs[rows]."""
        rhs = np.atleast_1d(np.asarray(rhs, float)).copy()
        self._leq.append((name, *self._trip(rows, cols, vals), rhs))

    def add_cones(self, name: str, rows, cols, vals, const, size: int) -> None:
        """Block of second-order cones of equal `size`.

        The cone vector of local row r is  s_r = const[r] + sum vals * x[cols]  (over the
        triplets with that row); rows k*size .. (k+1)*size-1 form cone k: s_first >= ||s_rest||.
        """
        const = np.atleast_1d(np.asarray(const, float)).copy()
        if const.size % size:
            raise ValueError(f"cone block {name!r}: {const.size} rows is not a multiple of {size}")
        rows, cols, vals = self._trip(rows, cols, vals)
        self._cone.append((name, rows, cols, -vals, const, [size] * (const.size // size)))

    # ---------------------------------------------------------------- build
    def build(self) -> ConicProblem:
        n = self._n

        def stack(blocks, kind):
            names, off, R, C, V, rhs = {}, 0, [], [], [], []
            for blk in blocks:
                name, r, cc, v, h = blk[:5]
                if name in names:
                    raise ValueError(f"{kind} block {name!r} defined twice")
                m = h.size
                if r.size and (r.min() < 0 or r.max() >= m):
                    raise ValueError(f"{kind} block {name!r}: row index outside 0..{m - 1}")
                if cc.size and (cc.min() < 0 or cc.max() >= n):
                    raise ValueError(f"{kind} block {name!r}: column index outside 0..{n - 1}")
                names[name] = slice(off, off + m)
                R.append(r + off); C.append(cc); V.append(v); rhs.append(h)
                off += m
            cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
            M = sp.coo_matrix((cat(V, float), (cat(R, np.int64), cat(C, np.int64))), shape=(off, n))
            M = M.tocsc()
            M.sum_duplicates()
            M.sort_indices()
            return M, cat(rhs, float), names

        A, b, eq_blocks = stack(self._eq, "equality")
        Gl, hl, ineq_blocks = stack(self._leq, "inequality")
        Gq, hq, cone_blocks_local = stack(self._cone, "cone")
        G = sp.vstack([Gl, Gq], format="csc")
        G.sum_duplicates()
        G.sort_indices()
        cone_blocks = {k: slice(Gl.shape[0] + s.start, Gl.shape[0] + s.stop)
                       for k, s in cone_blocks_local.items()}
        cone_sizes: List[int] = []
        for blk in self._cone:
            cone_sizes.extend(blk[5])
        c = np.zeros(n)
        for cols, vals in self._c:
            np.add.at(c, cols, vals)
        lb = np.concatenate(self._lb) if self._lb else np.zeros(0)
        ub = np.concatenate(self._ub) if self._ub else np.zeros(0)
        if np.any(lb > ub):
            j = int(np.argmax(lb > ub))
            raise ValueError(f"variable {self.name_of(j)}: lower bound {lb[j]} > upper bound {ub[j]}")
        integer = np.sort(np.concatenate(self._int)) if self._int else np.zeros(0, np.int64)
        return ConicProblem(c=c, c0=float(self.c0), A=A, b=b, G=G, h=np.concatenate([hl, hq]),
                            n_lp=Gl.shape[0], cone_sizes=cone_sizes, lb=lb, ub=ub,
                            integer=integer.astype(np.int64), var_blocks=dict(self.var_blocks),
                            eq_blocks=eq_blocks, ineq_blocks=ineq_blocks,
                            cone_blocks=cone_blocks, meta=dict(self.meta),
                            hints=replace(self.hints))

    def name_of(self, j: int) -> str:
        for name, (sl, shape) in self.var_blocks.items():
            if sl.start <= j < sl.stop:
                return f"{name}{np.unravel_index(j - sl.start, shape) if shape else ''}"
        return f"x[{j}]"
