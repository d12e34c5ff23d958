"""The follower's KKT block and the strong-duality identity (issue 3).

For fixed PCC schedules, the DC-OPF optimum and its duals (from a stand-alone solve; LMPs also
cross-checked against HiGHS) must satisfy every row of the bilevel model's KKT block, and the
strong-duality expression of the wholesale term must equal sum_b LMP_b P0_b.
"""
import numpy as np
import pytest

from tsodso.conic.ecos_adapter import solve
from tsodso.data import load_system
from tsodso.evaluation.dcopf import solve_dcopf
from tsodso.schemes.dso_led import build_dso_led
from tsodso.formulation.kkt import wholesale_terms
from tsodso.formulation.tn import build_dcopf


@pytest.fixture(scope="module")
def model():
    system = load_system(adns=2, hours=3, seed=0)
    prob, lay = build_dso_led(system)
    return system, prob, lay


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_dcopf_optimum_satisfies_kkt_block(model, frac):
    system, prob, lay = model
    T, d = lay.T, lay.tn
    lo = system.pcc_min_mw[:, :T]; hi = system.pcc_max_mw[:, :T]
    P0 = lo + frac * (hi - lo)                                       # (A, T) MW
    inj = np.zeros((T, d.nb))
    for a, adn in enumerate(system.adns):
        inj[:, adn.pcc_bus] += P0[a]
    sp, _ = build_dcopf(system.tn, hours=T, pcc_import_mw=inj)
    sol = solve(sp, feastol=1e-10, abstol=1e-10, reltol=1e-10)
    assert sol.status in ("optimal", "optimal_inaccurate")
    assert sol.info["relgap"] < 1e-8
    x = np.zeros(prob.n)
    for a, (adn, fv) in enumerate(zip(system.adns, lay.feeders)):
        x[fv.pcc] = P0[a] / adn.base_mva
    g = sp.get(sol.x, "tn.gen_p_pu"); f = sp.get(sol.x, "tn.line_p_pu")
    x[lay.tnv.g] = g; x[lay.tnv.f] = f
    x[lay.tnv.theta] = sp.get(sol.x, "tn.bus_theta_rad")
    x[lay.tnv.tau] = g ** 2
    k = lay.kkt
    x[k.lam] = -sol.y[sp.eq_blocks["tn.balance"]].reshape(T, d.nb)
    x[k.phi] = sol.y[sp.eq_blocks["tn.flow_def"]].reshape(T, d.nk)
    fi, gi = sp.index("tn.line_p_pu"), sp.index("tn.gen_p_pu")
    x[k.mu_u] = sol.z_ub[fi]; x[k.mu_l] = sol.z_lb[fi]
    x[k.nu_u] = sol.z_ub[gi]; x[k.nu_l] = sol.z_lb[gi]
    x[k.s_fu] = d.F_pu - f; x[k.s_fl] = d.F_pu + f
    x[k.s_gu] = d.gmax_pu - g; x[k.s_gl] = g - d.gmin_pu
    r = prob.A @ x - prob.b
    # 1e-5 (k$/h per pu, LMPs ~3.5): the stand-alone solve reaches 2 c2 g through the dual of
    # the g^2 epigraph cone, which an interior-point method satisfies to ~1e-6 relative.
    for name in ("kkt.stationarity", "kkt.primal_slack", "tn.balance", "tn.flow_def"):
        assert np.max(np.abs(r[prob.eq_blocks[name]])) < 1e-5, name
    # complementarity holds at the optimum
    pr = k.pairs
    assert np.max(np.minimum(x[pr[:, 0]], x[pr[:, 1]])) < 1e-6
    # LMPs agree with HiGHS (independent solver, PTDF form), $/MWh
    for t in range(T):
        ref = solve_dcopf(system.tn, system.tn.load_mw[t] + inj[t])
        assert ref.status == "optimal"
        assert np.max(np.abs(x[k.lam][t] * 1000 / d.base_mva - ref.lmp_usd_per_mwh)) < 1e-3
    # strong duality: the linear expression equals the bilinear sum_b LMP_b P0_b (k$)
    cols, coefs = wholesale_terms(d, lay.tnv, k, system.dt_h)
    W = sum(float(np.sum(x[c] * v)) for c, v in zip(cols, coefs))
    bil = sum(float(np.sum(x[k.lam][:, adn.pcc_bus] * P0[a] / d.base_mva)) for a, adn in enumerate(system.adns))
    assert W == pytest.approx(bil, rel=1e-5)   # same 1e-6-level dual accuracy as above
