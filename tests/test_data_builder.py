"""System builder: default case, determinism by seed, fleet sizes 1..200, horizons 1..24,
scaling rule, and one test per malformed scenario / profile input."""
import json
import os
import shutil
import time

import numpy as np
import pytest

from tsodso.data import CaseError, case_dir, default_scenario_path, load_system, read_profiles


@pytest.fixture(scope="module")
def default():
    return load_system()


def test_default_case_shape(default):
    s = default
    assert s.n_adn == 5 and s.n_hours == 24 and s.dt_h == 1.0
    assert s.tn.n_bus == 30 and s.tn.n_gen == 6 and s.tn.base_mva == 100.0
    assert s.scenario["_sigma"] == pytest.approx(1.0)
    pccs = [a.pcc_bus for a in s.adns]
    assert len(set(pccs)) == 5                       # ADNs sit at different PCC buses
    for a in s.adns:
        assert a.n_bus == 33 and a.n_line == 32 and a.feeders_aggregated >= 1
        assert a.base_mva == 10.0 and a.base_kv == 12.66
        assert np.all(a.line_r_pu > 0) and np.all(a.line_x_pu > 0)
        assert sorted(a.line_to.tolist()) == list(range(1, 33))
        assert np.all(a.load_p_mw[:, 0] == 0)
        assert a.vmin_pu <= a.v0_pu <= a.vmax_pu
        assert np.all(a.bess_pmin_mw <= a.bess_pmax_mw)
        assert np.all(a.bess_emin_mwh <= a.bess_e0_mwh) and np.all(a.bess_e0_mwh <= a.bess_emax_mwh)
        assert 4 <= a.prosumer_bus.size <= 6
        assert np.all(np.isfinite(a.line_imax_pu)) and np.all(a.line_imax_pu > 0)
    # ADNs differ (so they can trade with each other)
    peaks = {round(a.load_p_mw.sum(1).max(), 6) for a in s.adns}
    pvs = {round(a.pv_avail_mw.sum(1).max(), 6) for a in s.adns}
    assert len(peaks) == 5 and len(pvs) == 5
    assert np.all(s.pcc_min_mw < s.pcc_max_mw)
    # fees: local < cross < grid, cross pair-dependent
    off = s.fee_cross_usd_per_mwh[~np.eye(5, dtype=bool)]
    assert s.fee_local_usd_per_mwh < off.min() and off.max() < s.fee_grid_usd_per_mwh
    assert np.ptp(off) > 1.0
    np.testing.assert_allclose(s.fee_cross_usd_per_mwh, s.fee_cross_usd_per_mwh.T)


def test_aggregation_is_exact(default):
    """k parallel feeders as one: r/k, x/k and loads*k give the same voltages, k x losses."""
    from tsodso.data.matpower import feeder_from_case, read_case
    from tsodso.data.radial_pf import radial_power_flow
    fd = feeder_from_case(read_case(os.path.join(case_dir(), "case33bw.m")))
    k = 3
    one = radial_power_flow(fd.line_from, fd.line_to, fd.line_r_pu, fd.line_x_pu,
                            fd.load_p_mw / 10, fd.load_q_mvar / 10, 1.05)
    agg = radial_power_flow(fd.line_from, fd.line_to, fd.line_r_pu / k, fd.line_x_pu / k,
                            k * fd.load_p_mw / 10, k * fd.load_q_mvar / 10, 1.05)
    np.testing.assert_allclose(agg.v_pu, one.v_pu, atol=1e-9)
    assert agg.loss_pu == pytest.approx(k * one.loss_pu, rel=1e-9)


def test_default_voltages_feasible_at_peak(default):
    from tsodso.data.radial_pf import radial_power_flow
    for a in default.adns:
        t = int(np.argmax(a.load_p_mw.sum(1)))
        pf = radial_power_flow(a.line_from, a.line_to, a.line_r_pu, a.line_x_pu,
                               a.load_p_mw[t] / a.base_mva, a.load_q_mvar[t] / a.base_mva, a.v0_pu)
        assert pf.v_pu.min() >= a.vmin_pu and pf.v_pu.max() <= a.vmax_pu
        assert np.all(pf.i_pu <= a.line_imax_pu + 1e-12)
        # loss margin of pcc_max covers the losses at peak
        assert pf.loss_pu * a.base_mva < 0.10 * a.load_p_mw[t].sum()


def test_profiles_realistic():
    p = read_profiles(os.path.join(case_dir(), "profiles_24h.csv"))
    assert set(p) >= {"tn_load", "adn_load", "pv_avail"}
    assert int(np.argmax(p["adn_load"])) in (18, 19, 20)
    assert int(np.argmax(p["tn_load"])) in (17, 18, 19)
    pv = p["pv_avail"]
    assert np.all(pv[:5] == 0) and np.all(pv[20:] == 0) and int(np.argmax(pv)) in (11, 12, 13)
    assert pv.max() <= 1.0


def test_seed_determinism():
    a = load_system(adns=20, seed=3, hours=4)
    b = load_system(adns=20, seed=3, hours=4)
    c = load_system(adns=20, seed=4, hours=4)
    for x, y in zip(a.adns, b.adns):
        assert x.pcc_bus == y.pcc_bus
        np.testing.assert_array_equal(x.load_p_mw, y.load_p_mw)
        np.testing.assert_array_equal(x.pv_avail_mw, y.pv_avail_mw)
    np.testing.assert_array_equal(a.tn.load_mw, b.tn.load_mw)
    assert any(x.load_p_mw.sum() != y.load_p_mw.sum() for x, y in zip(a.adns, c.adns))


def test_default_is_seed0_five():
    s = load_system(adns=5, seed=0)
    t = load_system(adns=5, seed=1)
    assert [a.name for a in s.adns] == [a.name for a in t.adns]
    assert any(x.load_p_mw.sum() != y.load_p_mw.sum() for x, y in zip(s.adns, t.adns))


@pytest.mark.parametrize("n", [1, 5, 50, 200])
def test_fleet_sizes_build_fast_and_scale(n):
    t0 = time.perf_counter()
    s = load_system(adns=n, seed=7)
    assert time.perf_counter() - t0 < 10.0
    assert s.n_adn == n and s.pcc_min_mw.shape == (n, 24)
    assert s.fee_cross_usd_per_mwh.shape == (n, n)
    sigma = s.scenario["_sigma"]
    fleet = sum(a.load_p_mw.sum(1).max() for a in s.adns)
    assert np.isclose(fleet, sum(a.load_p_mw.sum(1).max() for a in load_system().adns) * sigma)
    # generation covers demand at the highest admissible imports, every hour
    need = s.tn.load_mw.sum(1) + s.pcc_max_mw.sum(0)
    assert np.all(need < s.tn.gen_pmax_mw.sum())
    assert np.all(s.tn.load_mw.sum(1) + s.pcc_min_mw.sum(0) > s.tn.gen_pmin_mw.sum())


@pytest.mark.parametrize("n", [1, 50, 200])
def test_fleet_corners_feasible(n):
    pytest.importorskip("highspy")
    from tsodso.evaluation.calibration import check_corners
    s = load_system(adns=n, seed=7)
    assert check_corners(s) == []


@pytest.mark.parametrize("T", [1, 2, 7, 12, 24])
def test_horizons(T, default):
    s = load_system(hours=T)
    assert s.n_hours == T and s.pcc_max_mw.shape == (5, T)
    for a, d in zip(s.adns, default.adns):
        assert a.load_p_mw.shape == (T, 33) and a.pv_avail_mw.shape[0] == T
        np.testing.assert_array_equal(a.load_p_mw, d.load_p_mw[:T])
    np.testing.assert_array_equal(s.tn.load_mw, default.tn.load_mw[:T])


@pytest.mark.parametrize("bad", [0, 25, -1, 2.5])
def test_bad_horizon(bad):
    with pytest.raises(CaseError) as ei:
        load_system(hours=bad)
    assert ei.value.field == "hours" and str(bad) in str(ei.value)


def test_bad_adn_count():
    with pytest.raises(CaseError) as ei:
        load_system(adns=0)
    assert ei.value.field == "adns"


# ------------------------------------------------------------------ malformed scenarios
def _copy_cases(tmp_path):
    for f in os.listdir(case_dir()):
        if f.endswith((".m", ".csv", ".json")):
            shutil.copy(os.path.join(case_dir(), f), tmp_path / f)
    return tmp_path / "default_scenario.json"


def _bad_scenario(tmp_path, edit, field, value):
    p = _copy_cases(tmp_path)
    sc = json.loads(p.read_text())
    edit(sc)
    p.write_text(json.dumps(sc))
    with pytest.raises(CaseError) as ei:
        load_system(p)
    msg = str(ei.value)
    assert str(p) in msg and field in ei.value.field and field in msg
    assert str(value) in msg
    return ei.value


def test_missing_scenario(tmp_path):
    with pytest.raises(CaseError) as ei:
        load_system(tmp_path / "none.json")
    assert "none.json" in str(ei.value)


def test_malformed_json(tmp_path):
    p = tmp_path / "s.json"
    p.write_text('{"format": "tsodso-scenario/1", ')
    with pytest.raises(CaseError) as ei:
        load_system(p)
    assert str(p) in str(ei.value) and ei.value.field == "json"


def test_unknown_pcc_bus(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["adns"][2].__setitem__("pcc_bus_id", 99),
                  "adns[2].pcc_bus_id", 99)


def test_negative_pv_size(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["adn_defaults"]["pv"]["mwp_per_feeder"].__setitem__(1, -0.5),
                  "adn_defaults.pv.mwp_per_feeder", -0.5)


def test_negative_load_scale(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["adns"][0].__setitem__("load_scale", -1.0),
                  "adns[0].load_scale", -1.0)


def test_negative_bess(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["adn_defaults"]["bess"].__setitem__(
        "pmax_mw_per_feeder", [0.3, -0.1]), "adn_defaults.bess.pmax_mw_per_feeder", -0.1)


def test_unknown_feeder_bus(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["adn_defaults"]["bess"].__setitem__("bus_id", [14, 40]),
                  "adn_defaults.bess.bus_id", 40)


def test_vmin_above_v0(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["adn_defaults"].__setitem__("vmin_pu", 1.06),
                  "adn_defaults.v0_pu", 1.05)


def test_infeasible_voltage_band(tmp_path):
    """The prototype's lesson: 0.95 pu minimum at v0 = 1.0 pu is infeasible for the feeder."""
    def edit(s):
        s["adn_defaults"]["v0_pu"] = 1.0
        s["adn_defaults"]["vmin_pu"] = 0.95
    _bad_scenario(tmp_path, edit, "adn_defaults.vmin_pu", 0.95)


def test_unknown_rate_override_line(tmp_path):
    _bad_scenario(tmp_path, lambda s: s["tn"]["rate_override_mw"].__setitem__("1-30", 10),
                  "tn.rate_override_mw", "1-30")


def test_missing_key(tmp_path):
    _bad_scenario(tmp_path, lambda s: s.pop("fees"), "fees", None)


def test_wrong_format(tmp_path):
    _bad_scenario(tmp_path, lambda s: s.__setitem__("format", "v0"), "format", "v0")


def _bad_profile(tmp_path, row_edit, field, value):
    p = _copy_cases(tmp_path)
    csv = tmp_path / "profiles_24h.csv"
    lines = csv.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("12,"))
    lines[i] = row_edit(lines[i])
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(CaseError) as ei:
        load_system(p)
    msg = str(ei.value)
    assert str(csv) in msg and ei.value.field == field and str(value) in msg
    assert ei.value.row == i + 1


def test_nan_profile(tmp_path):
    _bad_profile(tmp_path, lambda ln: ",".join(ln.split(",")[:3] + ["nan"] + ln.split(",")[4:]), "pv_avail", "nan")


def test_negative_profile(tmp_path):
    _bad_profile(tmp_path, lambda ln: ",".join(ln.split(",")[:1] + ["-0.5"] + ln.split(",")[2:]),
                 "tn_load", -0.5)


def test_missing_profile_file(tmp_path):
    p = _copy_cases(tmp_path)
    os.remove(tmp_path / "profiles_24h.csv")
    with pytest.raises(CaseError) as ei:
        load_system(p)
    assert "profiles_24h.csv" in str(ei.value) and ei.value.field == "file"


def test_missing_case_file(tmp_path):
    p = _copy_cases(tmp_path)
    os.remove(tmp_path / "case33bw.m")
    with pytest.raises(CaseError) as ei:
        load_system(p)
    assert "case33bw.m" in str(ei.value)


def test_default_scenario_path_exists():
    assert os.path.isfile(default_scenario_path())


def test_bad_window_start(tmp_path):
    _bad_scenario(tmp_path, lambda s: s.__setitem__("hours", {"start": 30}), "hours.start", 30)


def test_window_start_wraps(tmp_path):
    p = _copy_cases(tmp_path)
    sc = json.loads(p.read_text())
    sc["hours"] = {"start": 22}
    p.write_text(json.dumps(sc))
    s = load_system(p, hours=4)
    d = load_system()
    np.testing.assert_array_equal(s.tn.load_mw, d.tn.load_mw[[22, 23, 0, 1]])


# ------------------------------------------------------------------ issue 12: ratings, seasons, options
CONDUCTOR = {"adn_defaults.feeder_rating": "conductor_class"}


def test_conductor_class_rule():
    """Every line gets the smallest EN 50182 type >= 1.5 x its per-feeder peak current (floor:
    the smallest type); the aggregated limit is k x that rating; types are monotone along
    each path from the root (a child never needs a larger conductor than its parent)."""
    from tsodso.data.builder import CONDUCTOR_TYPES, base_current_a
    from tsodso.data.radial_pf import radial_power_flow
    amps = np.array([a for _, a in CONDUCTOR_TYPES])
    assert amps.tolist() == [170, 210, 290, 350, 410, 470, 535, 645]
    s = load_system(overrides=CONDUCTOR)
    ib = base_current_a(12.66, 10.0)
    assert ib == pytest.approx(456.0, abs=0.1)                 # 10 MVA / (sqrt 3 x 12.66 kV)
    for a in s.adns:
        k = a.feeders_aggregated
        t = int(np.argmax(a.load_p_mw.sum(1)))
        pf = radial_power_flow(a.line_from, a.line_to, a.line_r_pu, a.line_x_pu,
                               a.load_p_mw[t] / a.base_mva, a.load_q_mvar[t] / a.base_mva, a.v0_pu)
        need = 1.5 * pf.i_pu / k * ib
        got = a.line_imax_pu / k * ib
        rating = dict(CONDUCTOR_TYPES)
        np.testing.assert_allclose(got, [rating[c] for c in a.line_conductor], rtol=1e-12)
        assert np.all(got >= need)
        for g, n in zip(got, need):
            smaller = amps[amps < g - 1e-9]
            assert smaller.size == 0 or smaller.max() < n     # no smaller type would do
        assert got.min() == 170.0                                # the floor is used at lateral ends
        for j in range(a.n_line):                               # parent rating >= child rating
            par = np.flatnonzero(a.line_to == a.line_from[j])
            if par.size:
                assert got[par[0]] >= got[j]
    # the old rule's 4-8.5 A lateral ratings are gone; head line of ADN1: 410 A type
    assert s.adns[0].line_conductor[0] == "122-AL1/20-ST1A"


def test_conductor_rule_largest_type_exceeded():
    from tsodso.data.builder import conductor_ratings
    with pytest.raises(CaseError) as ei:
        conductor_ratings(np.array([1.0, 0.1]), 1, 1.5, 12.66, 10.0, "x.json", "ADNz")
    assert "ADNz" in str(ei.value) and "line 1" in str(ei.value) and "645 A" in str(ei.value)
    imax, types = conductor_ratings(np.array([0.001]), 3, 1.5, 12.66, 10.0)
    assert types == ["34-AL1/6-ST1A"] and imax[0] == pytest.approx(3 * 170 / 456.02, rel=1e-4)


def test_conductor_csv_is_current():
    """cases/feeder_conductors.csv = python -m tsodso.data.conductors for the shipped
    conductor-class scenario."""
    from tsodso.data.conductors import conductor_rows
    hdr, rows = conductor_rows(load_system(overrides=CONDUCTOR))
    with open(os.path.join(case_dir(), "feeder_conductors.csv"), encoding="utf-8") as fh:
        lines = [ln.rstrip("\n") for ln in fh if not ln.startswith("#")]
    assert lines[0] == ",".join(hdr)
    assert lines[1:] == [",".join(r) for r in rows]


def test_legacy_scenario_is_the_old_rule():
    old = load_system(os.path.join(case_dir(), "legacy_scenario.json"))
    new = load_system(overrides={"adn_defaults.feeder_rating": "peak_load_factor"})
    for a, b in zip(old.adns, new.adns):
        np.testing.assert_array_equal(a.line_imax_pu, b.line_imax_pu)
        assert a.line_conductor is None
    np.testing.assert_allclose(old.adns[0].line_imax_pu[0], 2.39, atol=0.005)  # cases/README.md
    p = read_profiles(os.path.join(case_dir(), "profiles_24h.csv"))
    np.testing.assert_allclose(old.tn.load_mw.sum(1) / old.tn.load_mw.sum(1).max(),
                               p["tn_load"] / p["tn_load"].max(), rtol=1e-12)


def test_profile_columns_match_sources():
    """The seasonal CSV columns are the RTS-96 weekday shapes and the clear-sky PV model of
    tsodso/data/profiles.py (to the CSV's rounding)."""
    from tsodso.data.profiles import SEASONS, pv_profile, rts_load_profile
    p = read_profiles(os.path.join(case_dir(), "profiles_24h.csv"))
    np.testing.assert_array_equal(p["tn_load_winter"], p["tn_load"])
    for s in SEASONS:
        np.testing.assert_allclose(p[f"tn_load_{s}"], rts_load_profile(s), atol=5e-3)
        np.testing.assert_allclose(p[f"pv_{s}"], pv_profile(s), atol=5e-4)
        assert p[f"tn_load_{s}"].max() == 1.0
    e = {s: p[f"pv_{s}"].sum() for s in SEASONS}                    # MWh per MWp and clear day
    assert e["winter"] < e["spring_autumn"] < e["summer"]
    assert 2.0 < e["winter"] < 3.5 and 6.0 < e["summer"] < 8.0
    # sunrise/sunset: winter PV only 07-17 h, summer from 04 h to 20 h
    assert np.all(p["pv_winter"][:7] == 0) and np.all(p["pv_winter"][17:] == 0)
    assert p["pv_summer"][4] > 0 and p["pv_summer"][19] > 0
    # summer noon: a 30-deg panel at 48 N sees ~1 kW/m2 -> 0.85 x ~1.0
    assert 0.8 < p["pv_summer"].max() <= 0.85


def test_season_selects_columns():
    p = read_profiles(os.path.join(case_dir(), "profiles_24h.csv"))
    s = load_system(overrides={"season": "summer"}, hours=24)
    pd = s.tn.load_mw.sum(1)
    np.testing.assert_allclose(pd / pd.max(), p["tn_load_summer"] / p["tn_load_summer"].max())
    a = s.adns[0]
    np.testing.assert_allclose(a.pv_avail_mw.sum(1) / a.pv_avail_mw.sum(1).max(),
                               p["pv_summer"] / p["pv_summer"].max())
    m = load_system(overrides={"season": "summer", "tn.season": "winter"}, hours=24)
    pd = m.tn.load_mw.sum(1)
    np.testing.assert_allclose(pd / pd.max(), p["tn_load_winter"])
    np.testing.assert_array_equal(m.adns[0].pv_avail_mw, a.pv_avail_mw)


def test_voltage_rise_limit():
    """bus ceiling = no-generation voltage at the minimum-load hour + limit, capped by vmax."""
    from tsodso.data.radial_pf import radial_power_flow
    s = load_system(overrides={"adn_defaults.voltage_rise_limit_pu": 0.02}, hours=3, start=11)
    for a in s.adns:
        assert a.bus_vmax_pu.shape == (a.n_bus,) and a.bus_vmax_pu[0] == a.v0_pu
        assert np.all(a.bus_vmax_pu <= a.vmax_pu)
    a = s.adns[0]
    full = load_system(overrides={"adn_defaults.voltage_rise_limit_pu": 0.02}).adns[0]
    t = int(np.argmin(full.load_p_mw.sum(1)))
    ref = radial_power_flow(a.line_from, a.line_to, a.line_r_pu, a.line_x_pu,
                            full.load_p_mw[t] / 10, full.load_q_mvar[t] / 10, a.v0_pu).v_pu
    np.testing.assert_allclose(a.bus_vmax_pu[1:], np.minimum(ref[1:] + 0.02, a.vmax_pu), atol=1e-12)
    np.testing.assert_array_equal(a.bus_vmax_pu, full.bus_vmax_pu)   # horizon-independent
    assert load_system(hours=2).adns[0].bus_vmax_pu is None


@pytest.mark.parametrize("key,value", [
    ("adn_defaults.feeder_rating", "thermal"),
    ("season", "monsoon"),
    ("adn_defaults.voltage_rise_limit_pu", -0.02),
    ("adn_defaults.voltage_rise_limit_pu", "2%"),
    ("adn_defaults.pv_curtail_usd_per_mwh", -5),
    ("adn_defaults.bess.degradation_usd_per_mwh", -1),
])
def test_bad_new_option(tmp_path, key, value):
    p = _copy_cases(tmp_path)
    with pytest.raises(CaseError) as ei:
        load_system(p, overrides={key: value}, hours=1)
    msg = str(ei.value)
    assert key in msg and str(value) in msg and "\n" not in msg


def test_bad_override_key():
    with pytest.raises(CaseError) as ei:
        load_system(overrides={"adn_default.bess.energy_hours": 2}, hours=1)
    assert "adn_default" in str(ei.value)
