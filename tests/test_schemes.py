"""Centralised and TSO-led schemes on small instances of the default case.

Instances: the default scenario with the window moved to the evening (hours 17-19 / 18-19:
PV tails, peak load, congested line 21-22), where our B&B and SCIP both finish in seconds.
Tolerances: the B&B stops at rel_gap 1e-4 (its default), SCIP at 1e-6, so the two optima
agree to 1e-4 relative; costs recomputed from the same vector agree to ECOS' accuracy (1e-6
relative); physical checks (charge x discharge, cross-ADN volumes) at 1e-7 pu, the interior-
point solver's distance to a bound.
"""
import numpy as np
import pytest

from tsodso.data import legacy_scenario_path, load_system
from tsodso.schemes.result import scheme_outcome
from tsodso.evaluation.metrics import compute_metrics, dso_cost_usd, total_cost_usd
from tsodso.schemes.centralised import build_centralised, integer_start, make_warm_start, solve_centralised
from tsodso.schemes.tso_led import clear_tso, solve_tso_led, virtual_battery

QUIET = {"verbose": False}


@pytest.fixture(scope="module")
def evening():
    """1 ADN x 3 h from 17:00 and its centralised and tso-led solutions."""
    s = load_system(legacy_scenario_path(), adns=1, hours=3, seed=0, start=17)   # pinned vs SCIP on the pre-issue-12 case
    return s, solve_centralised(s, time_limit=60, options=QUIET), solve_tso_led(s, time_limit=60, options=QUIET)


@pytest.fixture(scope="module")
def two_adns():
    s = load_system(adns=2, hours=2, seed=0, start=18)
    return s, solve_centralised(s, time_limit=60, options=QUIET), solve_tso_led(s, time_limit=60, options=QUIET)


@pytest.mark.parametrize("case", ["evening", "two_adns"])
def test_centralised_matches_scip(case, request):
    pytest.importorskip("pyscipopt")
    from tsodso.conic.scip import solve_scip
    system, res, _ = request.getfixturevalue(case)
    assert res.status == "optimal"
    prob, _ = build_centralised(system)
    ref = solve_scip(prob, time_limit=60, gap=1e-6)
    assert ref.status in ("optimal", "gap_limit")
    assert res.objective_usd == pytest.approx(ref.objective * 1000.0, rel=1e-4)
    assert res.best_bound_usd <= ref.objective * 1000.0 * (1 + 1e-6)


@pytest.mark.parametrize("case", ["evening", "two_adns"])
def test_centralised_certificates(case, request):
    _, res, _ = request.getfixturevalue(case)
    c = res.certificates
    assert c["soc"]["soc_gap"] < 1e-6
    assert c["soc"]["max_voltage_mismatch_pu"] < 1e-6
    assert c["dispatch"]["all_solved"] and c["dispatch"]["dispatch_gap"] < 1e-6
    # the objective is the metrics' total cost: generation + fees + degradation + platform + curtailment
    assert c["objective"]["recomputed_usd"] == pytest.approx(c["objective"]["objective_usd"], rel=1e-6)


@pytest.mark.parametrize("case", ["evening", "two_adns"])
def test_centralised_is_the_welfare_reference(case, request):
    """The tso-led outcome is feasible in the centralised problem: its total cannot be lower."""
    _, cen, tso = request.getfixturevalue(case)
    assert cen.status == "optimal" and tso.status == "optimal"
    t_tso = total_cost_usd(tso.outcome())
    assert cen.best_bound_usd <= t_tso * (1 + 1e-6)
    assert cen.objective_usd <= t_tso * (1 + 1e-4)


def test_tso_clearing_schedule_and_prices(evening):
    system, _, tso = evening
    clr = tso.clearing
    assert clr.status == "optimal"
    vb = virtual_battery(system.adns[0])
    assert vb.pmax_mw == pytest.approx(float(np.sum(system.adns[0].bess_pmax_mw)))
    dev = clr.schedule_mw - clr.forecast_net_load_mw
    assert np.all(np.abs(dev) <= vb.pmax_mw + 1e-6)
    assert np.allclose(dev, clr.vb_charge_mw - clr.vb_discharge_mw, atol=1e-6)
    cert = tso.certificates["clearing"]
    assert cert["all_solved"]
    assert cert["max_dispatch_diff_mw"] < 1e-3
    assert cert["max_lmp_diff_usd_per_mwh"] < 1e-2
    # independent recomputation gives the same clearing
    again = clear_tso(system)
    assert np.allclose(again.lmp_usd_per_mwh, clr.lmp_usd_per_mwh, atol=1e-6)


@pytest.mark.parametrize("case", ["evening", "two_adns"])
def test_tso_led_dso_solutions_are_physical(case, request):
    _, _, tso = request.getfixturevalue(case)
    for d in tso.dsos:
        x, dv, sv = d.x, d.layout.ders[0], d.layout.settle[0]
        assert d.status == "optimal"
        assert np.all(np.minimum(x[dv.ch], x[dv.dis]) <= 1e-7)            # no simultaneous charge/discharge
        assert np.all(np.round(x[dv.on_ch]) + np.round(x[dv.on_dis]) <= 1)
        assert np.all(np.abs(x[sv.buy_x]) <= 1e-7) and np.all(np.abs(x[sv.sell_x]) <= 1e-7)   # no cross-ADN P2P
        assert np.all(np.minimum(x[d.dev_up], x[d.dev_dn]) <= 1e-7)
    P0 = tso.pcc_import_mw()
    assert np.allclose(np.abs(P0 - tso.clearing.schedule_mw) * tso.system.dt_h, tso.deviation_mwh(), atol=1e-6)
    assert all(s["soc_gap"] < 1e-6 for s in tso.certificates["soc"])
    assert tso.tn.ok


@pytest.mark.parametrize("case", ["evening", "two_adns"])
def test_tso_led_objective_is_the_dso_bills(case, request):
    """Sum of the DSO objectives = wholesale at the cleared LMP + fees + ... + deviation penalty."""
    _, _, tso = request.getfixturevalue(case)
    bill = dso_cost_usd(tso.outcome())
    assert float(np.sum(bill["total"])) == pytest.approx(tso.objective_usd, rel=1e-6)
    # a loss-free schedule is not tracked exactly: the feeders' losses make some deviation
    assert float(np.sum(bill["deviation"])) > 0


def test_metrics_of_each_scheme_are_consistent(two_adns):
    """Energy balance of every ADN from the metrics: import - export = load + losses - PV + net charge."""
    system, cen, tso = two_adns
    for name, res in (("centralised", cen), ("tso-led", tso)):
        o = scheme_outcome(name, res)
        m = compute_metrics(o)
        per = m["per_adn"]
        dt = system.dt_h
        load = np.array([a.load_p_mw.sum() for a in system.adns]) * dt
        charge = np.array([float(np.sum(o.adn_x[a][o.ders[a].ch] - o.adn_x[a][o.ders[a].dis])) * adn.base_mva * dt
                           for a, adn in enumerate(system.adns)])
        net = per["energy_imported_mwh"] - per["energy_exported_mwh"]
        assert net == pytest.approx(load + per["losses_mwh"] - per["pv_energy_mwh"] + charge, abs=1e-5)
        assert np.all((0 <= per["self_sufficiency"]) & (per["self_sufficiency"] <= 1))
        vmin, vmax = system.adns[0].vmin_pu, system.adns[0].vmax_pu
        assert vmin - 1e-6 <= m["system"]["v_min_pu"] <= m["system"]["v_max_pu"] <= vmax + 1e-6
        assert m["system"]["tso_generation_cost_usd"] > 0


@pytest.mark.parametrize("case", ["evening", "two_adns"])
def test_tso_led_binaries_are_a_centralised_mip_start(case, request):
    """The tso-led binaries, fixed in the centralised problem, give a point no worse than tso-led."""
    system, _, tso = request.getfixturevalue(case)
    prob, _ = build_centralised(system)
    z = integer_start(prob, tso)
    assert set(np.unique(z)) <= {0.0, 1.0}
    x = make_warm_start([tso])(prob, None, prob.lb.copy(), prob.ub.copy())
    assert x is not None
    assert np.array_equal(np.round(x[prob.integer]), z)
    res = prob.residuals(x)
    assert max(res["eq"], res["lp"], res["cone"], res["bound"]) < 1e-6
    assert prob.objective(x) * 1000.0 <= total_cost_usd(tso.outcome()) * (1 + 1e-6)


def test_tso_led_without_a_dso_solution_is_reported(monkeypatch):
    """A DSO whose B&B finds no point: the scheme reports the DSO's status and has no outcome."""
    from tsodso.schemes.result import certificate_row
    from tsodso.schemes import tso_led

    real = tso_led.solve_dso_tracking

    def no_point(*args, **kw):
        d = real(*args, **kw)
        d.x, d.status = None, "time_limit"
        d.bnb.stop_reason = "time_limit"
        return d

    monkeypatch.setattr(tso_led, "solve_dso_tracking", no_point)
    res = tso_led.solve_tso_led(load_system(adns=1, hours=1, seed=0), time_limit=10, options=QUIET)
    assert res.status == "time_limit" and "DSO 0: time_limit" in res.stop_reason
    assert res.x is None and res.outcome() is None and scheme_outcome("tso-led", res) is None
    assert res.summary()["dso_statuses"] == ["time_limit"]
    assert certificate_row("tso-led", res)["soc_gap"] is None


def test_warm_start_returns_the_best_start_not_the_first(evening):
    """Given several schemes' binaries, the MIP start is the best point among them, whatever
    their order (a start with every P2P platform binary on pays the platform fee everywhere)."""
    import types
    system, cen, _ = evening
    prob, _ = build_centralised(system)
    name = next(n for n in cen.problem.var_blocks if n.endswith("p2p_trade"))
    x_bad = cen.x.copy()
    x_bad[cen.problem.index(name)] = 1.0
    bad = types.SimpleNamespace(scheme="centralised", problem=cen.problem, x=x_bad)
    one = lambda r: make_warm_start([r])(prob, None, prob.lb.copy(), prob.ub.copy())   # noqa: E731
    x_worse, x_best = one(bad), one(cen)
    assert prob.objective(x_best) < prob.objective(x_worse) - 1e-6
    for order in ([bad, cen], [cen, bad]):
        x = make_warm_start(order)(prob, None, prob.lb.copy(), prob.ub.copy())
        assert prob.objective(x) == pytest.approx(prob.objective(x_best), rel=1e-9)
    heuristic = make_warm_start([cen])
    assert heuristic(prob, None, prob.lb.copy(), prob.ub.copy()) is not None
    assert heuristic(prob, None, prob.lb.copy(), prob.ub.copy()) is None     # runs once
