"""Price-taking DSO-led variant (schemes/price_taking.py) on small hand-checked cases.

Case: one ADN (ADN4 of the default fleet) at TN bus 21, the bus whose LMP line 21-22 moves
(dLMP/dMW 1.37 $/MWh per MW when it binds, cases/README.md), hours 15-18 (line 21-22 binds
at 18 h), conductor-class ratings, spring/autumn, DSO-submitted forecast.
"""
import numpy as np
import pytest

from tsodso.data import load_system
from tsodso.evaluation.metrics import bess_throughput_mwh, dso_cost_usd, generator_rent_usd
from tsodso.schemes.dso_led import solve_dso_led
from tsodso.schemes.forecast import pcc_forecast
from tsodso.schemes.price_taking import solve_price_taking

QUIET = {"verbose": False}
ONE_AT_21 = {"adn_defaults.feeder_rating": "conductor_class", "season": "spring_autumn",
             "tso_led": {"forecast": "dso"},
             "adns": [{"name": "ADN4", "pcc_bus_id": 21, "load_scale": 1.10, "pv_scale": 0.8}]}


@pytest.fixture(scope="module")
def bus21():
    s = load_system(overrides=ONE_AT_21, adns=1, hours=4, start=15)
    return s, solve_price_taking(s, time_limit=60, options=QUIET), solve_dso_led(s, time_limit=60, options=QUIET)


def test_reference_prices_by_hand(bus21):
    """Reference LMPs = the DC-OPF at the forecast: in an hour without binding lines every
    generator strictly inside its limits has marginal cost c1 + 2 c2 g = the (uniform) LMP."""
    s, pt, _ = bus21
    tn = s.tn
    ref = pt.reference_tn
    assert ref.ok
    t = 0                                                    # 15 h: uncongested
    lmp = pt.reference_lmp_usd_per_mwh[t]
    assert np.ptp(lmp) < 1e-6
    g = ref.gen_mw[t]
    inside = (g > tn.gen_pmin_mw + 1e-3) & (g < tn.gen_pmax_mw - 1e-3)
    assert inside.any()
    mc = tn.gen_c1_usd_per_mwh[inside] + 2 * tn.gen_c2_usd_per_mw2h[inside] * g[inside]
    np.testing.assert_allclose(mc, lmp[0], atol=1e-4)
    # the reference dispatch serves the forecast PCC import, losses included
    N = pcc_forecast(s).net_load_mw
    assert g.sum() == pytest.approx(tn.load_mw[t].sum() + N[0, t], abs=1e-5)


def test_price_taker_does_not_cycle_at_a_losing_spread(bus21):
    """At fixed prices a battery cycle charged at the cheapest and discharged at the dearest
    hour earns eta_c eta_d lambda_max - lambda_min per MWh drawn, minus degradation on both
    legs; here that is negative, so the price-taker leaves the battery idle and its PCC
    import is the forecast's (the cleared LMPs then equal the reference ones)."""
    s, pt, _ = bus21
    assert pt.status == "optimal"
    adn = s.adns[0]
    lam = pt.reference_lmp_usd_per_mwh[:, adn.pcc_bus]
    eta = adn.bess_eta_c[0] * adn.bess_eta_d[0]
    deg = adn.bess_deg_usd_per_mwh[0]
    gain = eta * lam.max() - lam.min() - deg * (1 + eta)      # $/MWh charged, best case
    assert gain < 0
    o = pt.outcome()
    assert bess_throughput_mwh(o)[0] < 1e-4
    np.testing.assert_allclose(pt.pcc_import_mw()[0], pcc_forecast(s).net_load_mw[0], atol=1e-4)
    np.testing.assert_allclose(pt.tn.lmp_usd_per_mwh, pt.reference_lmp_usd_per_mwh, atol=1e-6)
    c = pt.certificates
    assert abs(c["objective"]["difference_usd"]) < 1e-6 and c["soc"]["soc_gap"] < 1e-6


def test_value_of_price_making(bus21):
    """DSO-led cycles the battery to lower the 18 h LMP at its own PCC (21-22 binds): its bill
    is lower than the price-taker's, and the generators lose rent."""
    s, pt, dl = bus21
    assert dl.status == "optimal"
    o_pt, o_dl = pt.outcome(), dl.outcome()
    value = dso_cost_usd(o_pt)["total"].sum() - dso_cost_usd(o_dl)["total"].sum()
    assert value > 1.0                                        # $, measured 2.45
    assert bess_throughput_mwh(o_dl)[0] > 0.1                  # measured 0.72 MWh
    b = s.adns[0].pcc_bus
    assert o_dl.lmp_usd_per_mwh[3, b] < pt.tn.lmp_usd_per_mwh[3, b] - 0.1
    assert generator_rent_usd(o_dl) < generator_rent_usd(o_pt)


def test_price_making_reported_beside_the_comparison(bus21):
    from tsodso.experiments.compare import add_result, new_comparison
    from tsodso.report.tables import metrics_markdown, summary_text
    from tsodso.schemes.registry import SCHEMES
    s, pt, dl = bus21
    assert "price-taking" in SCHEMES
    comp = new_comparison(s, ("price-taking", "dso-led"))
    add_result(comp, "price-taking", pt, 1.0)
    add_result(comp, "dso-led", dl, 1.0)
    md, txt = metrics_markdown(comp), summary_text(comp)
    assert "## Value of price-making" in md and "Value of price-making" in txt
    value = comp["metrics"]["price-taking"]["system"]["dso_cost_usd"] - comp["metrics"]["dso-led"]["system"]["dso_cost_usd"]
    assert value > 1.0
    rent = (comp["metrics"]["dso-led"]["system"]["generator_rent_usd"]
            - comp["metrics"]["price-taking"]["system"]["generator_rent_usd"])
    assert rent < 0
    assert comp["certificates"]["price-taking"]["status"] == "optimal"
    assert abs(comp["certificates"]["price-taking"]["tn_check_value"]) < 1e-6
