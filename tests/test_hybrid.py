"""The hybrid (DSO-validated, TSO-dispatched) scheme, schemes/hybrid.py.

Windows of the legacy case (cases/legacy_scenario.json: the pre-issue-12 default, pinned): midday (11:00-12:59, PV beyond what the feeder's line ratings
can export, so the validated ranges bind) and evening (18:00-19:59, no PV, the tso-led
schedule strictly inside the ranges). Tolerances: 1e-6 MW for range membership and for the AC
sweep of the range ends (ECOS' accuracy on these well-scaled problems is ~1e-8 MW); 1e-5 MW
between ECOS and SCIP optima, SCIP run with feasibility tolerance 1e-9 (at its default 1e-6
it over-satisfies the cones by 4e-5 pu of objective).
"""
import numpy as np
import pytest

from tsodso.data import legacy_scenario_path, load_system
from tsodso.data.network import forecast_net_load_mw
from tsodso.data.radial_pf import radial_power_flow
from tsodso.formulation.bigm import ModelError
from tsodso.experiments import compare as C
from tsodso.report import outputs, tables
from tsodso.schemes import hybrid as H
from tsodso.schemes.centralised import solve_centralised
from tsodso.schemes.tso_led import clear_tso, solve_tso_led

QUIET = {"verbose": False}
TOL = 1e-6


@pytest.fixture(scope="module")
def midday():
    s = load_system(legacy_scenario_path(), adns=1, hours=2, seed=0, start=11)
    return (s, H.pcc_envelope(s), solve_tso_led(s, time_limit=60, options=QUIET),
            H.solve_hybrid(s, time_limit=60, options=QUIET), solve_centralised(s, time_limit=60, options=QUIET))


@pytest.fixture(scope="module")
def evening():
    s = load_system(legacy_scenario_path(), adns=1, hours=2, seed=0, start=18)
    return s, solve_tso_led(s, time_limit=60, options=QUIET), H.solve_hybrid(s, time_limit=60, options=QUIET)


def _inside(p0, env):
    return np.all(p0 >= env.lo_mw - TOL) and np.all(p0 <= env.hi_mw + TOL)


def test_envelope_contains_every_realised_exchange(midday):
    """tso-led's and the centralised optimum's P0 are physical exchanges: inside [lo, hi]."""
    from tsodso.evaluation.readback import pcc_import_mw
    s, env, tso, hyb, cen = midday
    assert all(st == ("optimal", "optimal") for st in env.statuses)
    assert tso.status == cen.status == "optimal"
    assert _inside(tso.pcc_import_mw(), env)
    assert _inside(pcc_import_mw(cen.layout, cen.x), env)
    assert _inside(hyb.pcc_import_mw(), env)
    # the range is a network limit, not the loose physical box: at midday it starts well above
    # the forecast net load (PV at full availability would overload the lines)
    N = forecast_net_load_mw(s)
    assert np.all(env.lo_mw > N + 1.0)
    assert np.all(env.lo_mw > s.pcc_min_mw + 1.0)


def test_envelope_ends_are_realisable_ac_operating_points(midday):
    """Tightness, part 1: an AC sweep of each end's DER point gives that end's PCC import and
    respects the voltage and current limits, so no exchange beyond [lo, hi] is claimed that
    the network could not realise."""
    s, env, *_ = midday
    adn, S = s.adns[0], s.adns[0].base_mva
    for end, target in (("lo", env.lo_mw[0]), ("hi", env.hi_mw[0])):
        pt = env.points[0][end]
        for t in range(s.n_hours):
            p = adn.load_p_mw[t].copy()
            np.add.at(p, adn.pv_bus, -pt["pv_mw"][t])
            np.add.at(p, adn.bess_bus, -pt["bess_net_mw"][t])
            pf = radial_power_flow(adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu, p / S,
                                   adn.load_q_mvar[t] / S, v0_pu=adn.v0_pu)
            assert pf.p_head_pu * S == pytest.approx(target[t], abs=TOL)
            assert np.all(pf.v_pu >= adn.vmin_pu - TOL) and np.all(pf.v_pu <= adn.vmax_pu + TOL)
            assert np.all(pf.i_pu <= adn.line_imax_pu + TOL)
    cert = H.envelope_certificate(s, env)
    assert cert["max_ac_pcc_diff_mw"] < TOL and cert["max_ac_limit_violation_pu"] < TOL
    assert cert["max_soc_gap"] < TOL


def test_envelope_ends_are_optimal_for_an_independent_solver(midday):
    """Tightness, part 2: SCIP on the same hour's model finds the same optima (lo = min P0; hi's
    withdrawal objective), so lo cannot be lowered nor hi raised."""
    pytest.importorskip("pyscipopt")
    from tsodso.conic.ecos_adapter import solve as ecos_solve
    from tsodso.conic.scip import solve_scip
    s, env, *_ = midday
    for t in range(s.n_hours):
        for end in ("lo", "hi"):
            prob, fv, pv, ch, dis, ends = H._envelope_model(s, 0, [t])
            prob.c = np.zeros(prob.n)
            for cols, v in ends[end]:
                prob.c[cols.reshape(-1)] = v
            ref = solve_scip(prob, time_limit=30, gap=1e-9, params={"numerics/feastol": 1e-9})
            assert ref.status == "optimal"
            ours = ecos_solve(prob)
            assert ours.objective == pytest.approx(ref.objective, abs=1e-6)
            got = (env.lo_mw if end == "lo" else env.hi_mw)[0, t]
            assert got == pytest.approx(ref.x[fv.pcc][0] * s.adns[0].base_mva, abs=1e-5)


def test_hybrid_schedule_lies_in_the_validated_ranges(midday):
    s, env, tso, hyb, _ = midday
    S = hyb.clearing.schedule_mw
    assert hyb.status == "optimal" and hyb.scheme == "hybrid"
    assert np.array_equal(hyb.envelope.lo_mw, env.lo_mw)
    assert _inside(S, env)
    # the tso-led schedule is outside (it exports PV the lines cannot carry); the hybrid one is
    # pushed onto the range and withholds that PV
    assert not _inside(tso.clearing.schedule_mw, env)
    assert hyb.summary()["envelope_binding_hours"] >= 1
    assert hyb.summary()["pv_withheld_mwh"] > 1.0
    N, c = hyb.clearing.forecast_net_load_mw, hyb.clearing
    assert np.allclose(S, N + c.vb_charge_mw - c.vb_discharge_mw + c.pv_withheld_mw, atol=TOL)


def test_hybrid_equals_tso_led_where_no_network_limit_binds(evening):
    s, tso, hyb = evening
    env = hyb.envelope
    # the tso-led schedule is strictly inside the ranges: the ranges are inactive
    assert np.all(tso.clearing.schedule_mw > env.lo_mw + 1e-3) and np.all(tso.clearing.schedule_mw < env.hi_mw - 1e-3)
    assert np.allclose(hyb.clearing.schedule_mw, tso.clearing.schedule_mw, atol=TOL)
    assert np.allclose(hyb.clearing.lmp_usd_per_mwh, tso.clearing.lmp_usd_per_mwh, atol=1e-4)
    assert np.allclose(hyb.clearing.pv_withheld_mw, 0.0, atol=TOL)
    assert hyb.objective_usd == pytest.approx(tso.objective_usd, rel=1e-6)
    assert hyb.deviation_mwh().sum() == pytest.approx(tso.deviation_mwh().sum(), abs=1e-5)
    assert tso.clearing.pv_withheld_mw is None           # tso-led's clearing is unchanged


def test_hybrid_shrinks_tracking_deviation_at_midday(midday):
    """Where line ratings curtail PV, the validated schedule is closer to what the DSOs realise."""
    from tsodso.evaluation.metrics import compute_metrics
    s, env, tso, hyb, _ = midday
    d_h, d_t = hyb.deviation_mwh().sum(), tso.deviation_mwh().sum()
    assert d_h <= d_t
    assert d_h < 0.6 * d_t                  # measured 3.68 vs 10.92 MWh
    bills = {n: compute_metrics(r.outcome())["system"]["dso_cost_usd"] for n, r in (("t", tso), ("h", hyb))}
    assert bills["h"] < bills["t"]


def test_hybrid_two_adns_midday():
    s = load_system(legacy_scenario_path(), adns=2, hours=2, seed=0, start=11)
    tso = solve_tso_led(s, time_limit=60, options=QUIET)
    hyb = H.solve_hybrid(s, time_limit=60, options=QUIET)
    assert tso.status == hyb.status == "optimal"
    assert _inside(tso.pcc_import_mw(), hyb.envelope) and _inside(hyb.clearing.schedule_mw, hyb.envelope)
    assert np.all(hyb.deviation_mwh().sum(axis=1) <= tso.deviation_mwh().sum(axis=1) + 1e-6)
    assert hyb.deviation_mwh().sum() < tso.deviation_mwh().sum()


def test_infeasible_ranges_name_the_adn_and_hour(monkeypatch):
    s = load_system(legacy_scenario_path(), adns=1, hours=2, seed=0, start=18)
    real = H.pcc_envelope

    def impossible(system, hours=None):
        env = real(system, hours)
        env.lo_mw[0, 1] = env.hi_mw[0, 1] = forecast_net_load_mw(system)[0, 1] - 10.0   # beyond the battery
        return env

    monkeypatch.setattr(H, "pcc_envelope", impossible)
    with pytest.raises(ModelError, match=rf"ADN {s.adns[0].name} \(index 0\), hour 1 \(clock 19:00\)"):
        H.solve_hybrid(s, time_limit=10, options=QUIET)
    # the bounded clearing itself reports the failure as a status (tso-led convention)
    env = impossible(s)
    assert clear_tso(s, pcc_range_mw=(env.lo_mw, env.hi_mw)).status != "optimal"


def test_comparison_reports_hybrid(tmp_path):
    s = load_system(legacy_scenario_path(), adns=1, hours=1, seed=0, start=12)
    comp = C.run_comparison(s, schemes=("tso-led", "hybrid", "centralised"), time_limit=30, options=QUIET)
    m = comp["metrics"]["hybrid"]
    assert m is not None and comp["certificates"]["hybrid"]["status"] == "optimal"
    assert comp["certificates"]["hybrid"]["soc_gap"] < 1e-6
    rows = [r for r in tables.metrics_rows(comp) if r[0] == "hybrid" and r[1] == "system"]
    assert {r[2] for r in rows} >= {"total_cost_usd", "dso_cost_usd"}
    # the hybrid outcome is feasible for the centralised problem (its MIP start): not cheaper
    assert comp["results"]["centralised"].objective_usd <= m["system"]["total_cost_usd"] * (1 + 1e-6)
    assert "Why hybrid differs" in tables.summary_text(comp)
    paths = outputs.write_all(comp, tmp_path, figures=False)
    import h5py
    with h5py.File(paths["hdf5"], "r") as f:
        assert f["hybrid/hybrid/pcc_lo_mw"].shape == (1, 1)
        assert f["hybrid"].attrs["has_solution"]
