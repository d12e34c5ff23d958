"""The platform rows of prosumers with PV below their load (formulation/p2p.py
`add_platform_pv_cuts`, docs/model.md s.3 "Platform cuts").

* validity, from first principles: for every row and every value of its prosumer's two
  binaries (role z, platform w), the largest left side minus right side over the LP
  relaxation of the rest of the model (SOC cones dropped, every other integer relaxed to
  [0, 1], the cut rows themselves removed) is <= 0. That relaxation contains every feasible
  point of the MISOCP with those two binaries, so no feasible point violates the row.
  Solved by scipy's HiGHS (linprog), not by our code; tolerance 1e-7 pu.
* SCIP (independent solver) on a window where the rows exist: the same optimum with and
  without them (1e-6 relative, SCIP gap 1e-7).
* strength: the ECOS root relaxation of 1 ADN x 24 h rises (measured 7,566.08 -> 7,570.31 $).
"""
import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from tsodso.conic.ecos_adapter import solve as ecos_solve
from tsodso.data import load_system
from tsodso.schemes.dso_led import build_dso_led

CUT = "p2p_platform_pv"


def _cut_rows(prob):
    """[(block name, LP row indices of G)] of the platform PV cuts."""
    return [(k, np.arange(s.start, s.stop)) for k, s in prob.ineq_blocks.items() if k.endswith(CUT)]


def _without_cuts(prob):
    """The same problem without the cut rows (LP rows of G removed, block slices shifted)."""
    drop = np.concatenate([r for _, r in _cut_rows(prob)])
    keep = np.setdiff1d(np.arange(prob.G.shape[0]), drop)
    G = sp.csr_matrix(prob.G)[keep].tocsc()

    def shift(s):
        a = int(np.searchsorted(keep, s.start))
        b = int(np.searchsorted(keep, s.stop))
        return slice(a, b)

    ineq = {k: shift(s) for k, s in prob.ineq_blocks.items() if not k.endswith(CUT)}
    cones = {k: shift(s) for k, s in prob.cone_blocks.items()}
    return dataclasses.replace(prob, G=G, h=prob.h[keep], n_lp=prob.n_lp - drop.size,
                               ineq_blocks=ineq, cone_blocks=cones)


def _window(adns, hours, start):
    return build_dso_led(load_system(adns=adns, hours=hours, start=start))


@pytest.fixture(scope="module")
def evening():
    """2 ADNs x 3 h from 16:00: PV below load at 17 prosumer-hours (1 + 3 + 4 and 1 + 4 + 4)."""
    return _window(2, 3, 16)


def test_cut_rows_exist_where_pv_is_below_load(evening):
    prob, lay = evening
    total = 0
    for a, adn in enumerate(lay.system.adns):
        S = adn.base_mva
        pros = np.asarray(adn.prosumer_bus)
        T = lay.T
        load = np.asarray(adn.load_p_mw, float)[:T][:, pros] / S
        A = np.zeros_like(load)
        for i, bus in enumerate(np.asarray(adn.pv_bus)):
            A[:, pros == bus] += np.asarray(adn.pv_avail_mw, float)[:T, i][:, None] / S
        expected = int(((A > 1e-9) & (A < load - 1e-9)).sum())
        s = prob.ineq_blocks.get(f"adn{a}.{CUT}")
        assert (0 if s is None else s.stop - s.start) == expected
        total += expected
    assert total == 17


def test_every_cut_row_is_valid_for_each_value_of_its_binaries(evening):
    prob, lay = evening
    base = _without_cuts(prob)
    G = sp.csr_matrix(prob.G)
    A_ub = sp.csr_matrix(base.G)[: base.n_lp]
    b_ub = base.h[: base.n_lp]
    lb, ub = prob.lb.copy(), prob.ub.copy()
    names = {}
    for a in range(len(lay.system.adns)):
        names[f"adn{a}.{CUT}"] = (prob.index(f"adn{a}.p2p_role"), prob.index(f"adn{a}.p2p_trade"))
    checked = 0
    for name, rows in _cut_rows(prob):
        Z, W = names[name]
        for r in rows:
            row = G.getrow(r)
            cols = row.indices
            w_col = [c for c in cols if c in set(W.reshape(-1))]
            assert len(w_col) == 1
            t, j = map(int, np.argwhere(W == w_col[0])[0])
            z_col = int(Z[t, j])
            for z in (0.0, 1.0):
                for w in (0.0, 1.0):
                    l2, u2 = lb.copy(), ub.copy()
                    l2[[z_col, w_col[0]]] = [z, w]
                    u2[[z_col, w_col[0]]] = [z, w]
                    res = linprog(-row.toarray().ravel(), A_ub=A_ub, b_ub=b_ub, A_eq=prob.A, b_eq=prob.b,
                                  bounds=np.column_stack([l2, u2]), method="highs")
                    if res.status == 2:          # no point with these binaries: nothing to cut off
                        continue
                    assert res.status == 0, res.message
                    assert -res.fun - prob.h[r] <= 1e-7, (name, t, j, z, w, -res.fun, prob.h[r])
                    checked += 1
    assert checked >= 8


def test_scip_optimum_is_the_same_with_and_without_the_cuts(evening):
    pytest.importorskip("pyscipopt")
    from tsodso.conic.scip import solve_scip
    prob, _ = evening
    a = solve_scip(prob, time_limit=120, gap=1e-7)
    b = solve_scip(_without_cuts(prob), time_limit=120, gap=1e-7)
    assert a.status == "optimal" and b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def test_cuts_raise_the_root_relaxation_of_one_adn_day():
    prob, _ = build_dso_led(load_system(adns=1))
    from tsodso.schemes.dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL
    tol = dict(reltol=NODE_RELTOL, abstol=NODE_ABSTOL, feastol=NODE_FEASTOL)
    with_cuts = ecos_solve(prob, prob.lb, prob.ub, **tol)
    without = ecos_solve(_without_cuts(prob), prob.lb, prob.ub, **tol)
    assert with_cuts.status == "optimal" and without.status == "optimal"
    # measured 7,570.31 vs 7,566.08 $ (objective in k$)
    assert prob.objective(with_cuts.x) >= prob.objective(without.x) + 2e-3
