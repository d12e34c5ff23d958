"""Sensitivity runs (experiments/sensitivity.py, report/sensitivity.py, `compare --vary`)."""
import csv

import numpy as np
import pytest

from tsodso.cli import main
from tsodso.data import CaseError, load_system
from tsodso.experiments.sensitivity import overrides_for, parse_vary, run_sensitivity
from tsodso.report import sensitivity as R

QUIET = {"verbose": False}


def test_parse_vary():
    assert parse_vary("pv_scale=0.5,1,1.5,2") == ("pv_scale", [0.5, 1.0, 1.5, 2.0])
    assert parse_vary("adn_defaults.bess.energy_hours=2,4") == ("adn_defaults.bess.energy_hours", [2.0, 4.0])
    for bad, part in (("pv_scale", "pv_scale"), ("wind=1,2", "wind"), ("pv_scale=1,x", "x"),
                      ("degradation=-10", "-10")):
        with pytest.raises(CaseError) as ei:
            parse_vary(bad)
        assert "--vary" in str(ei.value) and part in str(ei.value) and "\n" not in str(ei.value)


def test_overrides_scale_the_default_sizes():
    base = load_system(hours=1)
    s = load_system(hours=1, overrides=overrides_for("pv_scale", 2.0))
    np.testing.assert_allclose(s.adns[0].pv_avail_mw, 2 * base.adns[0].pv_avail_mw)
    b = load_system(hours=1, overrides=overrides_for("bess_scale", 0.5))
    np.testing.assert_allclose(b.adns[0].bess_emax_mwh, 0.5 * base.adns[0].bess_emax_mwh)
    np.testing.assert_allclose(b.adns[0].bess_pmax_mw, 0.5 * base.adns[0].bess_pmax_mw)
    d = load_system(hours=1, overrides=overrides_for("degradation", 35.0))
    assert np.all(d.adns[0].bess_deg_usd_per_mwh == 35.0)


@pytest.fixture(scope="module")
def sens():
    return run_sensitivity("pv_scale", [0.5, 2.0], schemes=("tso-led", "dso-led"), adns=1, hours=2,
                           start=11, time_limit=30, options=QUIET)


def test_run_sensitivity_rows(sens):
    assert [(r["value"], r["scheme"]) for r in sens["rows"]] == [
        (0.5, "tso-led"), (0.5, "dso-led"), (2.0, "tso-led"), (2.0, "dso-led")]
    assert all(r["status"] == "optimal" for r in sens["rows"])
    by = {(r["value"], r["scheme"]): r for r in sens["rows"]}
    # four times the PV: fewer imports (noon hours) in both schemes
    for s in ("tso-led", "dso-led"):
        assert by[(2.0, s)]["energy_imported_mwh"] < by[(0.5, s)]["energy_imported_mwh"]


def test_sensitivity_outputs(sens, tmp_path):
    md = open(R.write_sensitivity_markdown(sens, tmp_path / "s.md"), encoding="utf-8").read()
    assert "| 0.5 | tso-led | optimal |" in md and "The paper's claims" in md
    rows = list(csv.DictReader(open(R.write_sensitivity_csv(sens, tmp_path / "s.csv"), encoding="utf-8")))
    assert len(rows) == 4 and float(rows[0]["value"]) == 0.5
    pytest.importorskip("matplotlib")
    p = R.write_sensitivity_figure(sens, tmp_path)
    assert open(p["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert open(p["pdf"], "rb").read(5) == b"%PDF-"


def test_noise_drawn_as_zero():
    assert R._clean(3e-5, "bess_throughput_mwh") == 0.0 and R._clean(0.2, "bess_throughput_mwh") == 0.2


def test_cli_vary_bad_value_exits_2(tmp_path, capsys):
    rc = main(["compare", "--vary", "pv_scale=1,abc", "--no-figures", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "abc" in err and "--vary" in err
