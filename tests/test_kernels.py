"""Numba assembly kernels vs the numpy path: identical canonical CSC matrices.

Identity is checked on the canonical CSC (sum_duplicates + sort_indices): same shape, indptr
and indices exactly, data to 1e-15 absolute (the two paths may order triplets differently, so
a duplicate (row, col) could be summed in another order; no block here has duplicates, and
in practice the data agree bit for bit).

Feeders: random radial trees (1, 2, 7, 40 and 120 lines, some with r = 0 or x = 0 to check
explicit zeros) and the shipped 33-bus feeder. TNs: random meshed networks (2, 5, 30 and
80 buses, reference bus not always 0, some c2 = 0) and the shipped case30. Hours T = 1, 3, 24.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tsodso.formulation._kernels import assembly   # kernels/ (tsodso.kernels when installed)

TOL_DATA = 1e-15
HOURS = (1, 3, 24)
needs_numba = pytest.mark.skipif(not assembly.NUMBA_AVAILABLE, reason="numba not importable")


# ------------------------------------------------------------------------------ helpers
def canonical(rows, cols, vals, shape):
    M = sp.coo_matrix((vals, (rows, cols)), shape=shape).tocsc()
    M.sum_duplicates()
    M.sort_indices()
    return M


def assert_same_csc(A, B, what=""):
    assert A.shape == B.shape, what
    np.testing.assert_array_equal(A.indptr, B.indptr, err_msg=f"{what}: indptr")
    np.testing.assert_array_equal(A.indices, B.indices, err_msg=f"{what}: indices")
    np.testing.assert_allclose(A.data, B.data, rtol=0.0, atol=TOL_DATA, err_msg=f"{what}: data")


def random_tree(nl, rng):
    """Radial feeder with nl lines, buses 0..nl, lines oriented away from bus 0 (shuffled order)."""
    parent = np.array([rng.integers(0, j) for j in range(1, nl + 1)], np.int64)
    order = rng.permutation(nl)
    fr, to = parent[order], np.arange(1, nl + 1)[order]
    r = rng.uniform(0.001, 0.05, nl)
    x = rng.uniform(0.001, 0.05, nl)
    if nl > 2:
        r[0] = 0.0
        x[1] = 0.0
    line_into = -np.ones(nl + 1, np.int64)
    line_into[to] = np.arange(nl)
    return fr, to, r, x, line_into


def distflow_vars(T, nl, nb, rng):
    """Variable index arrays of one ADN, placed at a random offset (as inside a larger model)."""
    off = int(rng.integers(0, 1000))
    P = off + np.arange(T * nl).reshape(T, nl)
    Q = P + T * nl
    L = Q + T * nl
    V = L.max() + 1 + np.arange(T * nb).reshape(T, nb)
    pcc = V.max() + 1 + np.arange(T)
    return P, Q, L, V, pcc, int(pcc.max()) + 1


def distflow_shapes(T, nl):
    return {"balance_p": T * nl, "balance_q": T * nl, "voltage_drop": T * nl, "pcc": T,
            "branch_soc": 4 * T * nl}


def distflow_csc(args, T, nl, ncol, backend):
    r, c, v, ptr = assembly.distflow_triplets(*args, backend=backend)
    assert r.dtype == np.int64 and c.dtype == np.int64 and v.dtype == np.float64
    blocks = assembly.split_blocks(r, c, v, ptr, assembly.DISTFLOW_BLOCKS)
    return {k: canonical(*blocks[k], (m, ncol)) for k, m in distflow_shapes(T, nl).items()}


def random_tn(nb, rng):
    """Connected meshed TN: spanning tree plus extra lines; a random reference bus."""
    fr = [int(rng.integers(0, j)) for j in range(1, nb)]
    to = list(range(1, nb))
    for _ in range(nb // 2):
        a, b = rng.choice(nb, 2, replace=False) if nb > 1 else (0, 0)
        fr.append(int(a)); to.append(int(b))
    fr, to = np.array(fr, np.int64), np.array(to, np.int64)
    ng = max(1, nb // 2)
    gen_bus = rng.integers(0, nb, ng)
    c2 = rng.uniform(0.0, 0.1, ng)
    c2[0] = 0.0
    b_pu = 1.0 / rng.uniform(0.01, 0.3, fr.size)
    ref = int(rng.integers(0, nb))
    theta_col = -np.ones(nb, np.int64)
    nonref = np.array([b for b in range(nb) if b != ref], np.int64)
    theta_col[nonref] = np.arange(nonref.size)
    return c2, gen_bus, fr, to, b_pu, theta_col


def stationarity_vars(T, nb, nk, ng, rng):
    off = int(rng.integers(0, 1000))
    nxt = [off]

    def blk(n):
        a = nxt[0] + np.arange(T * n).reshape(T, n)
        nxt[0] += T * n
        return a
    g, lam, nu_u, nu_l = blk(ng), blk(nb), blk(ng), blk(ng)
    phi, mu_u, mu_l = blk(nk), blk(nk), blk(nk)
    return (g, lam, nu_u, nu_l, phi, mu_u, mu_l), nxt[0]


# ------------------------------------------------------------------------------ switch
def test_backend_switch():
    old = assembly.backend()
    try:
        assert assembly.set_backend("numpy") == old
        assert assembly.backend() == "numpy"
        with pytest.raises(ValueError):
            assembly.set_backend("cuda")
        with pytest.raises(ValueError):
            assembly.distflow_triplets(*([np.zeros(1)] * 10), backend="cuda")
    finally:
        assembly.set_backend(old)
    assert assembly.backend() == old


def test_env_var_disables_numba(monkeypatch):
    old = assembly.set_backend(None)
    try:
        monkeypatch.setenv("TSODSO_NUMBA", "0")
        assert assembly.backend() == "numpy"
    finally:
        assembly.set_backend(old)


def test_numba_is_the_default_when_importable_and_not_imported_before_use(monkeypatch):
    import subprocess
    import sys
    old = assembly.set_backend(None)
    try:
        monkeypatch.delenv("TSODSO_NUMBA", raising=False)
        assert assembly.backend() == ("numba" if assembly.NUMBA_AVAILABLE else "numpy")
    finally:
        assembly.set_backend(old)
    code = "import sys, tsodso.schemes.dso_led; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "importing tsodso must not import numba"


# ------------------------------------------------------------------------------ DistFlow
@needs_numba
@pytest.mark.parametrize("T", HOURS)
@pytest.mark.parametrize("nl", [1, 2, 7, 40, 120])
def test_distflow_random_tree(nl, T):
    rng = np.random.default_rng(100 * nl + T)
    fr, to, r, x, line_into = random_tree(nl, rng)
    P, Q, L, V, pcc, ncol = distflow_vars(T, nl, nl + 1, rng)
    args = (fr, to, r, x, line_into, P, Q, L, V, pcc)
    a = distflow_csc(args, T, nl, ncol, "numba")
    b = distflow_csc(args, T, nl, ncol, "numpy")
    for k in a:
        assert_same_csc(a[k], b[k], f"{k} nl={nl} T={T}")
    # explicit zero coefficients (r = 0 / x = 0) are kept by both paths
    assert sum(m.nnz for m in a.values()) == assembly.distflow_triplets(*args, backend="numba")[3][-1]


def _case_system(adns, hours):
    data = pytest.importorskip("tsodso.data")
    if not hasattr(data, "load_system"):
        from tsodso.data import builder as data     # load_system lives in the builder module
        if not hasattr(data, "load_system"):
            pytest.skip("tsodso.data.load_system not available yet (tsodso/data/builder.py)")
    return data.load_system(adns=adns, hours=hours)


@needs_numba
@pytest.mark.parametrize("T", HOURS)
def test_distflow_shipped_feeder_matches_add_distflow(T):
    """Kernel triplets == the rows add_distflow puts into the builder (numpy code of the layer)."""
    from tsodso.conic import ProblemBuilder
    from tsodso.formulation.distflow import add_distflow, close_p_balance, feeder_topology
    system = _case_system(1, T)
    adn = system.adns[0]
    old = assembly.set_backend("numpy")
    try:
        bld = ProblemBuilder()
        fv = add_distflow(bld, adn, T, "a")
        close_p_balance(bld, fv, "a")
        ref = bld.build()
    finally:
        assembly.set_backend(old)
    args = (adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu, feeder_topology(adn),
            fv.P, fv.Q, fv.l, fv.v, fv.pcc)
    for be in ("numba", "numpy"):
        got = distflow_csc(args, T, adn.n_line, ref.n, be)
        for name in ("balance_p", "balance_q", "voltage_drop", "pcc"):
            assert_same_csc(got[name], ref.A[ref.eq_blocks[f"a.{name}"]].tocsc(), f"{be} {name} T={T}")
        soc = ref.G[ref.cone_blocks["a.branch_soc"]].tocsc()
        assert_same_csc(got["branch_soc"], -soc, f"{be} branch_soc T={T}")   # G = -M of add_cones


# ------------------------------------------------------------------------------ stationarity
@needs_numba
@pytest.mark.parametrize("T", HOURS)
@pytest.mark.parametrize("nb", [2, 5, 30, 80])
def test_stationarity_random_tn(nb, T):
    rng = np.random.default_rng(7 * nb + T)
    tn = random_tn(nb, rng)
    c2, gen_bus, fr, to = tn[:4]
    vars_, ncol = stationarity_vars(T, nb, fr.size, gen_bus.size, rng)
    m = T * (gen_bus.size + fr.size + nb - 1)
    out = {}
    for be in ("numba", "numpy"):
        r, c, v, ptr = assembly.stationarity_triplets(*tn, *vars_, backend=be)
        assert ptr[-1] == r.size
        out[be] = canonical(r, c, v, (m, ncol))
    assert_same_csc(out["numba"], out["numpy"], f"stationarity nb={nb} T={T}")


# ------------------------------------------------------------------------------ whole model
def _build_both(system, T, mode):
    from tsodso.schemes.dso_led import build_dso_led
    out = {}
    old = assembly.backend()
    try:
        for be in ("numba", "numpy"):
            assembly.set_backend(be)
            # kkt_presolve only sets variable bounds (no assembly kernel involved): off here
            out[be] = build_dso_led(system, hours=T, complementarity=mode, kkt_presolve=False)[0]
    finally:
        assembly.set_backend(old)
    return out["numba"], out["numpy"]


@needs_numba
@pytest.mark.parametrize("T,mode", [(1, "bigm"), (3, "bigm"), (3, "branch")])
def test_build_dso_led_identical(T, mode):
    system = _case_system(2, 3)
    a, b = _build_both(system, T, mode)
    assert_same_csc(a.A, b.A, "A")
    assert_same_csc(a.G, b.G, "G")
    for f in ("c", "b", "h", "lb", "ub", "integer"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert a.c0 == b.c0 and a.n_lp == b.n_lp and a.cone_sizes == b.cone_sizes
    assert a.eq_blocks == b.eq_blocks and a.ineq_blocks == b.ineq_blocks
    assert a.cone_blocks == b.cone_blocks and a.var_blocks == b.var_blocks


@needs_numba
def test_build_dso_led_identical_24h():
    system = _case_system(2, 24)
    a, b = _build_both(system, 24, "bigm")
    assert_same_csc(a.A, b.A, "A")
    assert_same_csc(a.G, b.G, "G")
