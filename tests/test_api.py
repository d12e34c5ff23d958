"""The public API (tsodso/api.py): load_system, with_scenario, solve for every scheme, labelled
results (to_pandas, to_xarray), result files (write / read_result).

The labelled tables are checked against the solver's own objects (the MISOCP's flow and LMP
variables, the certificates' PCC imports), not against themselves: the TN line flows of the
table come from a PTDF of the dispatch, the model's from its own flow variables.
"""
import hashlib

import numpy as np
import pytest

import tsodso

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")

QUIET = {"verbose": False}


@pytest.fixture(scope="module")
def small():
    system = tsodso.load_system(adns=1, hours=3, start=10)
    return system, tsodso.solve(system, time_limit=120, options=QUIET)


def test_solve_labels_by_clock_hour_with_units(small):
    system, r = small
    assert r.scheme == "dso-led" and r.status == "optimal" and r.rel_gap <= 1e-4
    assert r.best_bound_usd <= r.objective_usd * (1 + 1e-9)
    d = r.to_pandas()
    pcc = d["pcc"]
    assert list(pcc.index.names) == ["hour", "adn"]
    assert list(pcc.index.get_level_values("hour")) == [10, 11, 12]      # clock hours, not 0..2
    from tsodso.evaluation.readback import lmp_usd_per_mwh, pcc_import_mw
    lay, x = r.raw.layout, r.raw.x
    assert np.allclose(pcc["pcc_import_mw"].to_numpy(), pcc_import_mw(lay, x).T.ravel(), atol=1e-9)
    assert np.allclose(d["tn_bus"]["lmp_usd_per_mwh"].to_numpy(), lmp_usd_per_mwh(lay, x).ravel())
    # PTDF flows of the table vs the MISOCP's own flow variables (MW)
    f_model = x[lay.tnv.f] * lay.tn.base_mva
    assert np.max(np.abs(d["tn_line"]["tn_line_f_mw"].to_numpy() - f_model.ravel())) < 1e-5
    assert d["adn_bus"].index.names == ["hour", "adn", "adn_bus"]
    assert d["bess"]["bess_soc_mwh"].groupby(level=["hour", "adn"]).sum().to_numpy() == \
        pytest.approx(pcc["bess_soc_total_mwh"].to_numpy())
    assert d["adn"]["cost_total_usd"].iloc[0] == pytest.approx(r.objective_usd, rel=1e-6)
    for name, frame in d.items():                      # a unit in every column name
        cols = [frame.name] if isinstance(frame, pd.Series) else list(frame.columns)
        assert all(r.meta["units"].get(c, "") or c.endswith("_id") for c in
                   (frame.index if isinstance(frame, pd.Series) else cols)), name
    ds = r.to_xarray()
    assert ds["pcc_import_mw"].dims == ("hour", "adn") and ds["pcc_import_mw"].attrs["units"] == "MW"
    assert ds["bus_v_pu"].dims == ("hour", "adn", "adn_bus")
    assert list(ds["hour"].values) == [10, 11, 12] and ds.attrs["start_hour"] == 10
    assert all("units" in ds[v].attrs for v in ds.data_vars)


def test_result_file_round_trip_and_provenance(small, tmp_path):
    system, r = small
    r.write(tmp_path / "r.h5")
    back = tsodso.read_result(tmp_path / "r.h5")
    assert back.raw is None and back.status == r.status
    assert back.objective_usd == pytest.approx(r.objective_usd, rel=1e-15)
    a, b = r.to_pandas(), back.to_pandas()
    for k in a:
        (pd.testing.assert_series_equal if k == "system" else pd.testing.assert_frame_equal)(a[k], b[k])
    m = back.meta
    assert m["tsodso_version"] == tsodso.__version__ and m["start_hour"] == 10
    assert m["clock_hours"] == [10, 11, 12] and m["scheme"] == "dso-led"
    assert hashlib.sha256(m["scenario"].encode()).hexdigest() == m["scenario_sha256"]
    assert back.scenario["_build"] == {"adns": 1, "hours": 3, "seed": 0, "start": 10, "overrides": {}}
    assert m["solver_options"]["time_limit_s"] == 120 and m["solver_options"]["rel_gap"] == 1e-4
    assert m["units"]["pcc_import_mw"] == "MW" and m["units"]["lmp_usd_per_mwh"] == "$/MWh"
    import h5py
    with h5py.File(tmp_path / "r.h5", "r") as f:           # raw model blocks: unit and base named
        blk = dict(f["blocks/adn0.pcc_p_pu"].attrs)
        assert blk["unit"] == "pu" and blk["base_mva"] == system.adns[0].base_mva
        assert f["blocks/adn0.bus_v_pu2"].attrs["unit"] == "pu^2"
        assert f["blocks/adn0.bess_on_ch"].attrs["unit"] == "binary (0/1)"
    with pytest.raises(AttributeError, match="read from a file"):
        back.layout
    back.to_xarray().to_netcdf(tmp_path / "r.nc")          # netCDF needs nothing beyond scipy
    assert float(xr.open_dataset(tmp_path / "r.nc")["pcc_import_mw"][0, 0]) == \
        pytest.approx(float(a["pcc"]["pcc_import_mw"].iloc[0]))


def test_with_scenario_rebuilds_the_pcc_box():
    """4 x BESS Pmax: the PCC box must follow (issue 15: an in-place edit left it stale)."""
    s = tsodso.load_system(adns=1, hours=3, start=10)
    pmax0 = s.scenario["adn_defaults"]["bess"]["pmax_mw_per_feeder"]
    key = "adn_defaults.bess.pmax_mw_per_feeder"
    big = s.with_scenario({key: [4 * p for p in pmax0]})
    same = s.with_scenario(adn_defaults__bess__pmax_mw_per_feeder=[4 * p for p in pmax0])
    a0, a1 = s.adns[0], big.adns[0]
    assert np.allclose(a1.bess_pmax_mw, 4 * a0.bess_pmax_mw)
    assert np.allclose(a1.bess_emax_mwh, 4 * a0.bess_emax_mwh)      # energy_hours x Pmax
    load, pv = a1.load_p_mw.sum(axis=1), a1.pv_avail_mw.sum(axis=1)
    margin = s.scenario["adn_defaults"]["pcc_loss_margin"]
    assert np.allclose(big.pcc_min_mw[0], load - pv - a1.bess_pmax_mw.sum())
    assert np.allclose(big.pcc_max_mw[0], (load + a1.bess_pmax_mw.sum()) * (1 + margin))
    assert not np.allclose(big.pcc_max_mw, s.pcc_max_mw)             # the box moved
    assert np.array_equal(same.pcc_max_mw, big.pcc_max_mw)
    assert s.scenario["adn_defaults"]["bess"]["pmax_mw_per_feeder"] == pmax0   # original intact
    # changes accumulate and the instance (hours, start) is kept
    both = big.with_scenario({"adn_defaults.bess.energy_hours": 2.0})
    assert np.allclose(both.adns[0].bess_emax_mwh, 2.0 * both.adns[0].bess_pmax_mw)
    assert np.allclose(both.adns[0].bess_pmax_mw, a1.bess_pmax_mw) and both.hours == [10, 11, 12]
    from tsodso.data.errors import CaseError
    with pytest.raises(CaseError, match="adn_defaults.nope"):
        s.with_scenario({"adn_defaults.nope.x": 1})


def test_in_place_edit_is_refused_before_solving():
    s = tsodso.load_system(adns=1, hours=2, start=18)
    s.adns[0].bess_pmax_mw = s.adns[0].bess_pmax_mw * 4
    with pytest.raises(ValueError, match=r"adns\[0\]\.bess_pmax_mw.*with_scenario"):
        tsodso.solve(s)
    with pytest.raises(ValueError, match="scheme 'nope'"):
        tsodso.solve(tsodso.load_system(adns=1, hours=2), scheme="nope")


@pytest.mark.parametrize("scheme", ["tso-led", "hybrid", "centralised", "price-taking"])
def test_every_scheme_through_solve(scheme, tmp_path):
    s = tsodso.load_system(adns=1, hours=2, start=18)
    r = tsodso.solve(s, scheme=scheme, time_limit=60, options=QUIET)
    assert r.scheme == scheme and r.status == "optimal"
    pcc = r.to_pandas()["pcc"]
    assert list(pcc.index.get_level_values("hour")) == [18, 19]
    from tsodso.evaluation.metrics import pcc_import_mw
    assert np.allclose(pcc["pcc_import_mw"].to_numpy(), pcc_import_mw(r.raw.outcome()).T.ravel())
    r.write(tmp_path / "r.h5")
    back = tsodso.read_result(tmp_path / "r.h5")
    pd.testing.assert_frame_equal(back.to_pandas()["pcc"], pcc)
    assert back.certificates["soc_gap"] < 1e-6
