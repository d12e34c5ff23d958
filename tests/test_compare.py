"""The comparison runner and its writers (tsodso/experiments/compare.py, tsodso/report/) on a 1-ADN x 2-h instance.

The DSO-led scheme is replaced by a result without a solution (what the B&B returns when it
finds no incumbent) in most tests, to check that it is reported and nothing crashes; one test
runs the real DSO-led pipeline.
"""
import csv
import math
import sys

import h5py
import numpy as np
import pytest

from tsodso.data import load_system
from tsodso.experiments import compare as C
from tsodso.report import figures, hdf5, tables
from tsodso.evaluation.metrics import ADN_KEYS, SYSTEM_KEYS
from tsodso.schemes.result import SchemeResult

QUIET = {"verbose": False}


def _no_solution(*_args, **_kw):
    nan = float("nan")
    return SchemeResult(scheme="dso-led", status="time_limit", objective_usd=nan, best_bound_usd=-math.inf,
                        rel_gap=math.inf, abs_gap_usd=math.inf, stop_reason="time_limit", nodes=3,
                        node_solves=9, inaccurate_solves=9, build_seconds=0.1, solve_seconds=1.0,
                        ecos_seconds=0.9, size={}, binaries={})


@pytest.fixture(scope="module")
def comp():
    system = load_system(adns=1, hours=2, seed=0)
    real = C._solve
    events = []
    C._solve = lambda name, *a: _no_solution() if name == "dso-led" else real(name, *a)
    try:
        out = C.run_comparison(system, time_limit=30, progress=events.append, options=QUIET)
    finally:
        C._solve = real
    out["_events"] = events
    return out


def test_run_comparison_reports_a_scheme_without_solution(comp):
    assert comp["schemes"] == ("centralised", "tso-led", "hybrid", "price-taking", "dso-led")
    assert comp["metrics"]["dso-led"] is None and comp["outcomes"]["dso-led"] is None
    assert "no solution" in comp["notes"]["dso-led"] and "time_limit" in comp["notes"]["dso-led"]
    assert comp["certificates"]["dso-led"]["status"] == "time_limit"
    for s in ("centralised", "tso-led", "hybrid", "price-taking"):
        assert comp["results"][s].status == "optimal"
        assert set(comp["metrics"][s]["system"]) == set(SYSTEM_KEYS)
    stages = [(e["scheme"], e["stage"]) for e in comp["_events"]]
    # the centralised scheme runs last, with the others' solutions as MIP starts
    order = ("tso-led", "hybrid", "price-taking", "dso-led", "centralised")
    assert stages == [(s, st) for s in order for st in ("start", "done")]


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown scheme"):
        C.run_comparison(load_system(adns=1, hours=1), schemes=("bottom-up",))


def test_markdown_csv_summary(comp, tmp_path):
    md = open(tables.write_metrics_markdown(comp, tmp_path / "m.md"), encoding="utf-8").read()
    assert "| total_cost_usd | $ |" in md and "no solution" in md
    rows = list(csv.DictReader(open(tables.write_metrics_csv(comp, tmp_path / "m.csv"), encoding="utf-8")))
    A = comp["system"].n_adn
    assert len(rows) == 4 * (len(SYSTEM_KEYS) + A * len(ADN_KEYS))         # dso-led has no rows
    got = {(r["scheme"], r["scope"], r["metric"]): r["value"] for r in rows}
    v = comp["metrics"]["tso-led"]["system"]["total_cost_usd"]
    assert float(got[("tso-led", "system", "total_cost_usd")]) == v
    txt = open(tables.write_summary(comp, tmp_path / "s.txt"), encoding="utf-8").read()
    assert "cannot be assessed (dso-led without a solution)" in txt
    assert "price-making" not in txt and "price-making" not in md        # needs dso-led's solution
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_hdf5_round_trip_and_format_check(comp, tmp_path):
    path = hdf5.write_hdf5(comp, tmp_path / "c.h5")
    back = hdf5.read_comparison(path)
    assert back["attrs"]["format"] == hdf5.FORMAT
    assert not back["schemes"]["dso-led"]["attrs"]["has_solution"]
    for s in ("centralised", "tso-led", "hybrid", "price-taking"):
        for k in SYSTEM_KEYS:
            a, b = back["schemes"][s]["system"][k], comp["metrics"][s]["system"][k]
            assert (math.isnan(a) and math.isnan(b)) or a == b
    with h5py.File(path, "r") as f:
        assert f["tso-led/tso_led/schedule_mw"].shape == (1, 2)
        assert f["centralised/x"].shape == (comp["results"]["centralised"].problem.n,)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "tsodso-result"
    with pytest.raises(ValueError, match="not a tsodso-comparison"):
        hdf5.read_comparison(other)


def test_figures(comp, tmp_path):
    pytest.importorskip("matplotlib")
    paths = figures.write_figures(comp, tmp_path)
    assert set(paths) == {"lmp_pcc", "pcc_exchange", "bess_soc", "p2p_volumes", "voltage_envelopes"}
    for p in paths.values():
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_figures_without_matplotlib_say_how_to_install(comp, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install"):
        figures.write_figures(comp, tmp_path)


def test_real_dso_led_result_is_handled():
    system = load_system(adns=1, hours=2, seed=0)
    comp = C.run_comparison(system, schemes=("dso-led",), time_limit=20)
    res = comp["results"]["dso-led"]
    assert (comp["metrics"]["dso-led"] is None) == (res.x is None)
    if res.x is not None:
        m = comp["metrics"]["dso-led"]
        # the DSO-led bills at the bilevel's own LMPs are the leader objective (certificate)
        assert m["system"]["dso_cost_usd"] == pytest.approx(res.objective_usd, rel=1e-4)
    assert "dso-led" in tables.summary_text(comp)
