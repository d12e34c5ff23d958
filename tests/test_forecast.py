"""TSO-led PCC forecast (schemes/forecast.py): the DSO-submitted forecast is the DSO's own AC
physics, so on an ADN with no flexibility the tso-led deviations vanish; the naive forecast's
deviations are the feeder losses (its bias)."""
import numpy as np
import pytest

from tsodso.data import legacy_scenario_path, load_system
from tsodso.data.network import forecast_net_load_mw
from tsodso.data.radial_pf import radial_power_flow
from tsodso.schemes.forecast import pcc_forecast
from tsodso.schemes.tso_led import solve_tso_led

QUIET = {"verbose": False}
REAL = {"adn_defaults.feeder_rating": "conductor_class", "season": "spring_autumn"}


def test_dso_forecast_is_the_sweep_power_flow():
    s = load_system(overrides=REAL, hours=24)
    f = pcc_forecast(s, mode="dso")
    naive = pcc_forecast(s, mode="naive")
    np.testing.assert_array_equal(naive.net_load_mw, forecast_net_load_mw(s))
    assert np.all(np.isinf(naive.lo_mw)) and np.all(np.isinf(naive.hi_mw))
    for a, adn in enumerate(s.adns):
        for t in (3, 12, 19):
            p = adn.load_p_mw[t].copy()
            np.add.at(p, adn.pv_bus, -adn.pv_avail_mw[t])
            pf = radial_power_flow(adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu,
                                   p / adn.base_mva, adn.load_q_mvar[t] / adn.base_mva, adn.v0_pu)
            # conductor-class ratings: all PV fits, so N = full-PV sweep flow, losses included
            assert f.net_load_mw[a, t] == pytest.approx(pf.p_head_pu * adn.base_mva, abs=1e-9)
            assert f.losses_mw[a, t] == pytest.approx(pf.loss_pu * adn.base_mva, abs=1e-9)
    assert np.all(f.losses_mw > 0)
    np.testing.assert_allclose(f.net_load_mw - naive.net_load_mw, f.losses_mw, atol=1e-9)
    assert np.all(f.lo_mw <= f.net_load_mw + 1e-9) and np.all(f.net_load_mw <= f.hi_mw + 1e-9)
    # the export limit sits above the lossless physical floor, below N
    assert np.all(f.lo_mw >= s.pcc_min_mw - 1e-9)


def test_dso_forecast_curtails_what_the_limits_strand():
    """Old peak-load-factor ratings: the DSO's forecast PV is what its lines carry, no more."""
    s = load_system(legacy_scenario_path(), overrides={"season": "spring_autumn"}, hours=3, start=11)
    f = pcc_forecast(s, mode="dso")
    avail = np.array([x.pv_avail_mw.sum(1) for x in s.adns])
    assert np.all(f.pv_mw < avail)                      # 4-8.5 A lateral ends strand PV at noon
    for a, adn in enumerate(s.adns):                    # and the forecast point is feasible
        alpha = f.pv_mw[a, 0] / avail[a, 0]
        p = adn.load_p_mw[0].copy()
        np.add.at(p, adn.pv_bus, -alpha * adn.pv_avail_mw[0])
        pf = radial_power_flow(adn.line_from, adn.line_to, adn.line_r_pu, adn.line_x_pu,
                               p / 10, adn.load_q_mvar[0] / 10, adn.v0_pu)
        assert np.all(pf.i_pu <= adn.line_imax_pu + 1e-9)
        assert np.max(pf.i_pu / adn.line_imax_pu) > 0.999   # the bisection stops at the limit


@pytest.fixture(scope="module")
def inflexible():
    """1 ADN, 3 noon hours, no battery: the DSO's PCC is fixed by its physics."""
    o = dict(REAL, **{"adn_defaults.bess.pmax_mw_per_feeder": [0.0, 0.0]})
    return load_system(overrides=o, adns=1, hours=3, start=11)


def test_fair_forecast_deviations_vanish_without_flexibility(inflexible):
    fair = solve_tso_led(inflexible, time_limit=60, options=QUIET, forecast="dso")
    assert fair.status == "optimal" and fair.summary()["forecast"] == "dso"
    dev = fair.deviation_mwh()
    assert dev.sum() < 1e-4                               # MWh over 3 h
    naive = solve_tso_led(inflexible, time_limit=60, options=QUIET, forecast="naive")
    assert naive.status == "optimal"
    losses = pcc_forecast(inflexible, mode="dso").losses_mw
    # the naive forecast's deviations are the losses it left out
    np.testing.assert_allclose(naive.deviation_mwh(), losses, atol=1e-4)
    assert naive.deviation_mwh().sum() > 100 * max(dev.sum(), 1e-6)


def test_forecast_scenario_key():
    from tsodso.data import CaseError
    s = load_system(overrides={"tso_led": {"forecast": "dso"}}, hours=1)
    assert pcc_forecast(s).mode == "dso"
    assert pcc_forecast(load_system(legacy_scenario_path(), hours=1)).mode == "naive"
    assert pcc_forecast(load_system(hours=1)).mode == "dso"                # the default since issue 12
    with pytest.raises(CaseError) as ei:
        load_system(overrides={"tso_led": {"forecast": "perfect"}}, hours=1)
    assert "tso_led.forecast" in str(ei.value) and "perfect" in str(ei.value)
