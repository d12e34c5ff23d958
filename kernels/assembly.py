"""Assembly kernels: COO triplets of the per-hour repeated blocks, on raw arrays.

Two blocks are repeated once per hour (and, for DistFlow, once per ADN):

* `distflow_triplets`   the SOC-DistFlow of one radial ADN over T hours
                        (tsodso/formulation/distflow.py, `add_distflow`);
* `stationarity_triplets`  the follower's KKT stationarity rows over T hours
                        (tsodso/formulation/kkt.py, `add_kkt`).

Each has a Numba kernel (`_distflow_numba`, `_stationarity_numba`) and a pure-numpy twin
(`_distflow_numpy`, `_stationarity_numpy`, the vectorised code of the formulation
layer) with the same signature and the same output:

    rows, cols, vals, ptr      int64 (nnz,), int64 (nnz,), float64 (nnz,), int64 (nblock + 1,)

Triplets ptr[k]:ptr[k+1] belong to block k; rows are local to that block (0..m_k - 1),
columns are the global variable indices passed in. The kernel counts the triplets exactly
first, then fills preallocated arrays. The triplet ORDER of the two paths may differ; the
canonical CSC (sum_duplicates + sort_indices) of the two is identical (tests/test_kernels.py).
Explicit zero coefficients (e.g. r_l = 0, c2_g = 0) are emitted by both paths, so even the
sparsity patterns agree.

Backend switch: `backend()` is "numba" unless the environment variable TSODSO_NUMBA=0 is
set or numba cannot be imported (then a warning is issued once and "numpy" is used);
`set_backend("numpy" | "numba")` changes it at run time; every public function also takes
`backend=` to override it for one call. numba is imported, and each kernel compiled
(`cache=True`: loaded from numba's on-disk cache after the first compile, so the compile is
paid once per install), only when the numba path is first used, not at import. Measured
(bench/README.md, bench_build.py): both paths take the same time on 1-200 ADNs (1 ADN 0.21 /
0.22 s, 200 ADNs 1.40 / 1.23 s for numba / numpy); the numba path costs a process 0.2-0.3 s to
import numba and load the cached kernels, and the first run after an install 2-3.5 s to
compile them.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

__all__ = ["DISTFLOW_BLOCKS", "STATIONARITY_BLOCKS", "NUMBA_AVAILABLE", "backend", "set_backend",
           "distflow_triplets", "stationarity_triplets", "split_blocks"]

# block order of the `ptr` array of each kernel
DISTFLOW_BLOCKS = ("balance_p", "balance_q", "voltage_drop", "pcc", "branch_soc")
STATIONARITY_BLOCKS = ("stationarity",)   # rows [g (T*ng) | f (T*nk) | theta (T*(nb-1))]

_NUMBA = None          # the numba module once imported, False when it cannot be imported
_NUMBA_ERROR = ""
_JIT = {}              # kernel name -> numba dispatcher, compiled on first use
_BACKEND = None


def _numba():
    """numba, imported on first use; None if it cannot be imported (reason in _NUMBA_ERROR)."""
    global _NUMBA, _NUMBA_ERROR
    if _NUMBA is None:
        try:
            import numba
            _NUMBA = numba
        except Exception as exc:  # noqa: BLE001 - any import failure means: use numpy
            _NUMBA = False
            _NUMBA_ERROR = f"{type(exc).__name__}: {exc}"
    return _NUMBA or None


def __getattr__(name):
    if name == "NUMBA_AVAILABLE":          # numba importable (imports it: tests, not the build path)
        return _numba() is not None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jit(fn):
    """`fn` as a numba.njit(cache=True, nogil=True) dispatcher, built on first use."""
    d = _JIT.get(fn.__name__)
    if d is None:
        d = _JIT[fn.__name__] = _numba().njit(cache=True, nogil=True)(fn)
    return d


def _default_backend() -> str:
    if os.environ.get("TSODSO_NUMBA", "1").strip() == "0":
        return "numpy"
    if _numba() is None:
        warnings.warn(f"tsodso.kernels: numba not importable ({_NUMBA_ERROR}); "
                      "using the numpy assembly path", RuntimeWarning, stacklevel=3)
        return "numpy"
    return "numba"


def backend() -> str:
    """The active assembly backend, "numba" or "numpy"."""
    global _BACKEND
    if _BACKEND is None:
        _BACKEND = _default_backend()
    return _BACKEND


def set_backend(name: str | None) -> str:
    """Select "numba" or "numpy" (None: back to the environment default). Returns the old one."""
    global _BACKEND
    old = backend()
    if name is None:
        _BACKEND = None
        return old
    if name not in ("numba", "numpy"):
        raise ValueError(f"assembly backend must be 'numba' or 'numpy', not {name!r}")
    if name == "numba" and _numba() is None:
        raise RuntimeError(f"numba backend requested but numba is not importable ({_NUMBA_ERROR})")
    _BACKEND = name
    return old


def _pick(name):
    b = backend() if name is None else name
    if b not in ("numba", "numpy"):
        raise ValueError(f"assembly backend must be 'numba' or 'numpy', not {b!r}")
    if b == "numba" and _numba() is None:
        raise RuntimeError(f"numba backend requested but numba is not importable ({_NUMBA_ERROR})")
    return b


def split_blocks(rows, cols, vals, ptr, names):
    """{name: (rows, cols, vals)} views of the triplets of each block."""
    return {n: (rows[ptr[k]:ptr[k + 1]], cols[ptr[k]:ptr[k + 1]], vals[ptr[k]:ptr[k + 1]])
            for k, n in enumerate(names)}


def _i64(a):
    return np.ascontiguousarray(a, dtype=np.int64)


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


# ============================================================================ DistFlow
def _distflow_numba(line_from, line_to, r_pu, x_pu, line_into, P, Q, L, V, pcc):
    """SOC-DistFlow triplets of one radial ADN, hours t = 0..T-1, line l = (i, j) = (fr_l, to_l).

    Row of line l at hour t: t*nl + l; parent line of l: k = line_into[i] (none if i = 0).

        balance_p  (row t*nl+l):  P_l - r_l L_l - sum_{m: fr_m = j} P_m          (= load_p_j)
                   i.e. +1 P[t,l], -r_l L[t,l] on row l, and -1 P[t,l] on row k if i != 0
        balance_q  (row t*nl+l):  Q_l - x_l L_l - sum_{m: fr_m = j} Q_m          (= load_q_j)
        voltage_drop (t*nl+l):    V_j - V_i + 2 r_l P_l + 2 x_l Q_l - (r_l^2 + x_l^2) L_l
        pcc        (row t):       pcc_t - sum_{l: fr_l = 0} P_l
        branch_soc (cone c = t*nl+l, rows 4c..4c+3):
                   (V_i + L_l, 2 P_l, 2 Q_l, V_i - L_l)      i.e. ||(2P, 2Q, V_i - L)|| <= V_i + L

    P, Q, L: (T, nl) and V: (T, nb), pcc: (T,) global variable indices (int64).
    Returns rows, cols, vals (block-local rows) and ptr over DISTFLOW_BLOCKS.
    """
    T, nl = P.shape
    n_child = 0
    n_head = 0
    for l in range(nl):
        if line_from[l] != 0:
            n_child += 1
        else:
            n_head += 1
    nb_bal = T * (2 * nl + n_child)
    ptr = np.empty(6, np.int64)
    ptr[0] = 0
    ptr[1] = nb_bal
    ptr[2] = ptr[1] + nb_bal
    ptr[3] = ptr[2] + T * 5 * nl
    ptr[4] = ptr[3] + T * (1 + n_head)
    ptr[5] = ptr[4] + T * 6 * nl
    nnz = ptr[5]
    rows = np.empty(nnz, np.int64)
    cols = np.empty(nnz, np.int64)
    vals = np.empty(nnz, np.float64)
    kp = ptr[0]
    kq = ptr[1]
    kv = ptr[2]
    ke = ptr[3]
    kc = ptr[4]
    for t in range(T):
        base = t * nl
        # pcc row t
        rows[ke] = t
        cols[ke] = pcc[t]
        vals[ke] = 1.0
        ke += 1
        for l in range(nl):
            i = line_from[l]
            j = line_to[l]
            row = base + l
            r = r_pu[l]
            x = x_pu[l]
            p = P[t, l]
            q = Q[t, l]
            c_l = L[t, l]
            vi = V[t, i]
            # balances: own row
            rows[kp] = row; cols[kp] = p; vals[kp] = 1.0
            rows[kp + 1] = row; cols[kp + 1] = c_l; vals[kp + 1] = -r
            kp += 2
            rows[kq] = row; cols[kq] = q; vals[kq] = 1.0
            rows[kq + 1] = row; cols[kq + 1] = c_l; vals[kq + 1] = -x
            kq += 2
            if i != 0:
                prow = base + line_into[i]
                rows[kp] = prow; cols[kp] = p; vals[kp] = -1.0
                kp += 1
                rows[kq] = prow; cols[kq] = q; vals[kq] = -1.0
                kq += 1
            else:
                rows[ke] = t; cols[ke] = p; vals[ke] = -1.0
                ke += 1
            # voltage drop
            rows[kv] = row; cols[kv] = V[t, j]; vals[kv] = 1.0
            rows[kv + 1] = row; cols[kv + 1] = vi; vals[kv + 1] = -1.0
            rows[kv + 2] = row; cols[kv + 2] = p; vals[kv + 2] = 2.0 * r
            rows[kv + 3] = row; cols[kv + 3] = q; vals[kv + 3] = 2.0 * x
            rows[kv + 4] = row; cols[kv + 4] = c_l; vals[kv + 4] = -(r * r + x * x)
            kv += 5
            # rotated cone rows 4c .. 4c+3
            c4 = 4 * row
            rows[kc] = c4; cols[kc] = vi; vals[kc] = 1.0
            rows[kc + 1] = c4; cols[kc + 1] = c_l; vals[kc + 1] = 1.0
            rows[kc + 2] = c4 + 1; cols[kc + 2] = p; vals[kc + 2] = 2.0
            rows[kc + 3] = c4 + 2; cols[kc + 3] = q; vals[kc + 3] = 2.0
            rows[kc + 4] = c4 + 3; cols[kc + 4] = vi; vals[kc + 4] = 1.0
            rows[kc + 5] = c4 + 3; cols[kc + 5] = c_l; vals[kc + 5] = -1.0
            kc += 6
    return rows, cols, vals, ptr


def _distflow_numpy(line_from, line_to, r_pu, x_pu, line_into, P, Q, L, V, pcc):
    """Same as `_distflow_numba`, vectorised numpy (the code of `add_distflow`)."""
    T, nl = P.shape
    fr, to, r, x = line_from, line_to, r_pu, x_pu
    tt = np.arange(T)[:, None]
    rl = tt * nl + np.arange(nl)[None, :]
    child_row = tt * nl + line_into[fr][None, :]
    not_root = fr != 0
    parts = []
    for F, imp in ((P, r), (Q, x)):
        nr = int(not_root.sum())
        parts.append((np.concatenate([rl.reshape(-1), rl.reshape(-1), child_row[:, not_root].reshape(-1)]),
                      np.concatenate([F.reshape(-1), L.reshape(-1), F[:, not_root].reshape(-1)]),
                      np.concatenate([np.ones(T * nl), np.broadcast_to(-imp[None, :], (T, nl)).reshape(-1),
                                      -np.ones(T * nr)])))
    rr = np.tile(rl.reshape(-1), 5)
    parts.append((rr,
                  np.concatenate([V[:, to].reshape(-1), V[:, fr].reshape(-1), P.reshape(-1),
                                  Q.reshape(-1), L.reshape(-1)]),
                  np.concatenate([np.ones(T * nl), -np.ones(T * nl),
                                  np.broadcast_to(2.0 * r[None, :], (T, nl)).reshape(-1),
                                  np.broadcast_to(2.0 * x[None, :], (T, nl)).reshape(-1),
                                  np.broadcast_to(-(r ** 2 + x ** 2)[None, :], (T, nl)).reshape(-1)])))
    head = np.flatnonzero(fr == 0)
    parts.append((np.concatenate([np.arange(T), np.repeat(np.arange(T), head.size)]),
                  np.concatenate([pcc, P[:, head].reshape(-1)]),
                  np.concatenate([np.ones(T), -np.ones(T * head.size)])))
    m = T * nl
    c4 = 4 * np.arange(m)
    vi = V[:, fr].reshape(-1)
    Lf, Pf, Qf = L.reshape(-1), P.reshape(-1), Q.reshape(-1)
    parts.append((np.concatenate([c4, c4, c4 + 1, c4 + 2, c4 + 3, c4 + 3]),
                  np.concatenate([vi, Lf, Pf, Qf, vi, Lf]),
                  np.concatenate([np.ones(m), np.ones(m), 2 * np.ones(m), 2 * np.ones(m),
                                  np.ones(m), -np.ones(m)])))
    ptr = np.zeros(len(parts) + 1, np.int64)
    ptr[1:] = np.cumsum([p[0].size for p in parts])
    return (np.concatenate([p[0] for p in parts]).astype(np.int64),
            np.concatenate([p[1] for p in parts]).astype(np.int64),
            np.concatenate([p[2] for p in parts]).astype(np.float64), ptr)


def distflow_triplets(line_from, line_to, r_pu, x_pu, line_into, P, Q, L, V, pcc, backend=None):
    """Triplets of the SOC-DistFlow blocks of one ADN (see `_distflow_numba` for the rows).

    line_from, line_to (nl,) bus indices, lines oriented away from bus 0; r_pu, x_pu (nl,);
    line_into (nb,) the line whose `to` is bus j (-1 for the root); P, Q, L (T, nl), V (T, nb),
    pcc (T,) global variable indices. Returns (rows, cols, vals, ptr) over DISTFLOW_BLOCKS.
    """
    fn = _jit(_distflow_numba) if _pick(backend) == "numba" else _distflow_numpy
    return fn(_i64(line_from), _i64(line_to), _f64(r_pu), _f64(x_pu), _i64(line_into),
              _i64(P), _i64(Q), _i64(L), _i64(V), _i64(pcc))


# ============================================================================ KKT stationarity
def _stationarity_numba(c2, gen_bus, line_from, line_to, b_pu, theta_col, g, lam, nu_u, nu_l,
                        phi, mu_u, mu_l):
    """Follower stationarity triplets, hours t = 0..T-1 (rows [g | f | theta], TN pu).

        row t*ng + i                 (g_i):     2 c2_i g_i - lam_{bus(i)} + nu_u_i - nu_l_i    (= -c1_i)
        row T*ng + t*nk + k          (f_k):     lam_fr(k) - lam_to(k) + phi_k + mu_u_k - mu_l_k (= 0)
        row T*(ng+nk) + t*(nb-1) + theta_col[b]  (theta_b, b != ref):
                 - sum_{k: fr_k = b} b_k phi_k + sum_{k: to_k = b} b_k phi_k                    (= 0)

    g, nu_u, nu_l: (T, ng); lam: (T, nb); phi, mu_u, mu_l: (T, nk) global variable indices;
    theta_col (nb,) column of bus b in the theta block, -1 for the reference bus.
    Returns rows, cols, vals, ptr over STATIONARITY_BLOCKS.
    """
    T, ng = g.shape
    nk = phi.shape[1]
    nb = lam.shape[1]
    n_theta = 0
    for k in range(nk):
        if theta_col[line_from[k]] >= 0:
            n_theta += 1
        if theta_col[line_to[k]] >= 0:
            n_theta += 1
    nnz = T * (4 * ng + 5 * nk + n_theta)
    rows = np.empty(nnz, np.int64)
    cols = np.empty(nnz, np.int64)
    vals = np.empty(nnz, np.float64)
    of = T * ng
    ot = of + T * nk
    n = 0
    for t in range(T):
        for i in range(ng):
            row = t * ng + i
            rows[n] = row; cols[n] = g[t, i]; vals[n] = 2.0 * c2[i]
            rows[n + 1] = row; cols[n + 1] = lam[t, gen_bus[i]]; vals[n + 1] = -1.0
            rows[n + 2] = row; cols[n + 2] = nu_u[t, i]; vals[n + 2] = 1.0
            rows[n + 3] = row; cols[n + 3] = nu_l[t, i]; vals[n + 3] = -1.0
            n += 4
        for k in range(nk):
            row = of + t * nk + k
            a = line_from[k]
            b = line_to[k]
            rows[n] = row; cols[n] = lam[t, a]; vals[n] = 1.0
            rows[n + 1] = row; cols[n + 1] = lam[t, b]; vals[n + 1] = -1.0
            rows[n + 2] = row; cols[n + 2] = phi[t, k]; vals[n + 2] = 1.0
            rows[n + 3] = row; cols[n + 3] = mu_u[t, k]; vals[n + 3] = 1.0
            rows[n + 4] = row; cols[n + 4] = mu_l[t, k]; vals[n + 4] = -1.0
            n += 5
            if theta_col[a] >= 0:
                rows[n] = ot + t * (nb - 1) + theta_col[a]; cols[n] = phi[t, k]; vals[n] = -b_pu[k]
                n += 1
            if theta_col[b] >= 0:
                rows[n] = ot + t * (nb - 1) + theta_col[b]; cols[n] = phi[t, k]; vals[n] = b_pu[k]
                n += 1
    ptr = np.empty(2, np.int64)
    ptr[0] = 0
    ptr[1] = nnz
    return rows, cols, vals, ptr


def _stationarity_numpy(c2, gen_bus, line_from, line_to, b_pu, theta_col, g, lam, nu_u, nu_l,
                        phi, mu_u, mu_l):
    """Same as `_stationarity_numba`, vectorised numpy (the code of `add_kkt`)."""
    T, ng = g.shape
    nk = phi.shape[1]
    nb = lam.shape[1]
    tt = np.arange(T)[:, None]
    rg = np.broadcast_to(tt * ng + np.arange(ng)[None, :], (T, ng))
    rk = np.broadcast_to(tt * nk + np.arange(nk)[None, :], (T, nk))
    of = T * ng
    ot = of + T * nk
    R, C, V = [], [], []

    def add(r, c, v):
        r, c = np.broadcast_arrays(r, c)
        R.append(r.reshape(-1)); C.append(c.reshape(-1))
        V.append(np.array(np.broadcast_to(v, r.shape), float).reshape(-1))

    add(rg, g, 2.0 * c2[None, :])
    add(rg, lam[:, gen_bus], -1.0)
    add(rg, nu_u, 1.0); add(rg, nu_l, -1.0)
    add(of + rk, lam[:, line_from], 1.0); add(of + rk, lam[:, line_to], -1.0)
    add(of + rk, phi, 1.0); add(of + rk, mu_u, 1.0); add(of + rk, mu_l, -1.0)
    for ends, sign in ((line_from, -1.0), (line_to, 1.0)):
        keep = theta_col[ends] >= 0
        add(ot + tt * (nb - 1) + theta_col[ends[keep]][None, :], phi[:, keep], sign * b_pu[keep][None, :])
    rows = np.concatenate(R).astype(np.int64)
    return rows, np.concatenate(C).astype(np.int64), np.concatenate(V), \
        np.array([0, rows.size], np.int64)


def stationarity_triplets(c2, gen_bus, line_from, line_to, b_pu, theta_col, g, lam, nu_u, nu_l,
                          phi, mu_u, mu_l, backend=None):
    """Triplets of the KKT stationarity rows (see `_stationarity_numba` for the rows).

    c2 (ng,) k$/h per pu^2; gen_bus (ng,); line_from, line_to, b_pu = 1/x (nk,); theta_col (nb,);
    variable index arrays as in `_stationarity_numba`. Returns (rows, cols, vals, ptr).
    """
    fn = _jit(_stationarity_numba) if _pick(backend) == "numba" else _stationarity_numpy
    return fn(_f64(c2), _i64(gen_bus), _i64(line_from), _i64(line_to), _f64(b_pu), _i64(theta_col),
              _i64(g), _i64(lam), _i64(nu_u), _i64(nu_l), _i64(phi), _i64(mu_u), _i64(mu_l))
