"""`tsodso sweep` (experiments/sweep.py): same table serially and on Dask, resume, interruption,
refused instances as rows, bad flags. Instances: 1-2 ADNs x 1 h from 17:00 (each run a few
seconds, solved to the 1e-4 gap, so the rows do not depend on timing)."""
import csv
import json
import os

import pytest

from tsodso.experiments import sweep as sw
from tsodso.experiments.sweep import TIMING_COLUMNS, SweepSpec, run_sweep

SPEC = dict(adns=(1, 2), hours=1, start=17, seeds=(0,), time_limit=60.0)


def _table(path):
    with open(os.path.join(path, "sweep.csv")) as fh:
        return list(csv.DictReader(fh))


def _stable(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]


def test_serial_and_dask_localcluster_give_the_same_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    a, b = str(tmp_path / "serial"), str(tmp_path / "dask")
    rows = run_sweep(SweepSpec(**SPEC), a, workers=0, cache=None, figures=False)
    assert [r["status"] for r in rows] == ["optimal", "optimal"]
    assert [r["adns"] for r in rows] == [1, 2]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        run_sweep(SweepSpec(**SPEC), b, scheduler=client, cache=None, figures=False)
    ta, tb = _table(a), _table(b)
    assert len(ta) == 2
    assert _stable(ta) == _stable(tb)
    # the sizes are those of `tsodso size` and the certificates are there
    assert int(ta[1]["cross_pairs"]) == 2 and int(ta[0]["cross_pairs"]) == 0
    assert float(ta[0]["soc_gap"]) < 1e-6 and ta[0]["bigm_active"] == "False"


def test_resume_skips_done_runs_and_interruption_loses_nothing(tmp_path, monkeypatch):
    out = str(tmp_path / "s")
    real = sw.run_one
    calls = []

    def interrupted_second(run, *a, **k):
        calls.append(run["adns"])
        if run["adns"] == 2:
            raise KeyboardInterrupt
        return real(run, *a, **k)
    monkeypatch.setattr(sw, "run_one", interrupted_second)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(SweepSpec(**SPEC), out, workers=0, cache=None, figures=False)
    # the finished run is on disk (row file and table), the interrupted one is not
    t = _table(out)
    assert [r["adns"] for r in t] == ["1"] and t[0]["status"] == "optimal"
    assert len(os.listdir(os.path.join(out, "runs"))) == 1
    # --resume runs only the missing one
    calls.clear()
    monkeypatch.setattr(sw, "run_one", lambda run, *a, **k: (calls.append(run["adns"]), real(run, *a, **k))[1])
    rows = run_sweep(SweepSpec(**SPEC), out, resume=True, workers=0, cache=None, figures=False)
    assert calls == [2]
    assert [r["adns"] for r in rows] == [1, 2]
    # a second --resume runs nothing; without --resume everything runs again
    calls.clear()
    run_sweep(SweepSpec(**SPEC), out, resume=True, workers=0, cache=None, figures=False)
    assert calls == []
    # an "error" row runs again on --resume; a "refused" row does not
    f = os.path.join(out, "runs", rows[1]["key"] + ".json")
    r = json.load(open(f))
    r["status"] = "error"
    json.dump(r, open(f, "w"))
    run_sweep(SweepSpec(**SPEC), out, resume=True, workers=0, cache=None, figures=False)
    assert calls == [2]
    # a changed solver option is a different run (new key)
    keys = {r["key"] for r in rows}
    assert not keys & {r["key"] for r in sw.plan(SweepSpec(**{**SPEC, "gap": 1e-3}))}
    assert not keys & {r["key"] for r in sw.plan(SweepSpec(**{**SPEC, "nested": True}))}


def test_refused_instance_is_a_row_with_its_reason(tmp_path, monkeypatch):
    from tsodso.formulation.bigm import ModelError
    from tsodso.schemes import registry

    def refuse(system, **k):
        raise ModelError("hour 0: cannot certify (robust slack -0.00365 pu)")
    monkeypatch.setitem(registry.REGISTRY, "dso-led", refuse)
    out = str(tmp_path / "r")
    rows = run_sweep(SweepSpec(**{**SPEC, "adns": (1,)}), out, workers=0, cache=None, figures=False)
    assert rows[0]["status"] == "refused" and "robust slack -0.00365" in rows[0]["reason"]
    md = open(os.path.join(out, "sweep.md")).read()
    assert "refused" in md and "robust slack -0.00365" in md
    with open(os.path.join(out, "runs", rows[0]["key"] + ".json")) as fh:
        assert json.load(fh)["status"] == "refused"


def test_every_registered_scheme_is_accepted():
    from tsodso.schemes.registry import SCHEMES
    spec = SweepSpec(**{**SPEC, "schemes": SCHEMES}).validate()
    assert spec.schemes == SCHEMES


def test_growth_exponents_fit_known_powers():
    rows = [dict(scheme="dso-led", adns=n, seed=0, nnz=7 * n ** 2, continuous=3 * n, integers=n,
                 eq_rows=n, cones=n, cross_pairs=n * (n - 1), build_seconds=2.0 * n ** 0.5,
                 root_seconds=None, peak_rss_mib=100.0) for n in (1, 2, 5, 10, 20)]
    g = {q["quantity"]: q for q in sw.growth_table(rows)}
    assert g["nnz"]["exponent_all"] == pytest.approx(2.0, abs=1e-12)
    assert g["continuous"]["exponent_all"] == pytest.approx(1.0, abs=1e-12)
    assert g["build_seconds"]["exponent_all"] == pytest.approx(0.5, abs=1e-12)
    assert g["peak_rss_mib"]["exponent_all"] == pytest.approx(0.0, abs=1e-12)
    # N(N-1) -> 2 from above at large N; the N = 1 point (0 pairs) is left out of the fit
    assert 2.0 < g["cross_pairs"]["exponent_top"] < g["cross_pairs"]["exponent_all"] < 2.3
    assert "root_seconds" not in g


@pytest.mark.parametrize("argv, needle", [
    (["--adns", "1,x"], "--adns: 'x'"),
    (["--adns", "0"], "--adns: 0"),
    (["--seeds", "-1"], "--seeds"),
    (["--schemes", "dso-led,foo"], "--schemes: foo"),
    (["--time-limit", "0"], ("--time-limit", "0")),
    (["--hours", "25"], ("--hours", "25")),
    (["--scenario", "/nonexistent.json"], "/nonexistent.json"),
    (["--method", "nope"], "--method: 'nope'"),
])
def test_bad_flags_one_line_exit_2(tmp_path, capsys, argv, needle):
    from tsodso.cli import main
    rc = main(["sweep", "-o", str(tmp_path / "x"), "--no-figures"] + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1
    for n in (needle if isinstance(needle, tuple) else (needle,)):     # the flag and the value
        assert n in err[0]
    assert not os.path.exists(tmp_path / "x" / "runs")


def test_nested_sweep_seeds_each_run_from_the_smaller_runs_adns(tmp_path):
    out = str(tmp_path / "nested")
    rows = run_sweep(SweepSpec(**{**SPEC, "seeds": (1,), "nested": True}), out, workers=0,
                     cache=str(tmp_path / "cache"), figures=False)
    assert [r["adns"] for r in rows] == [1, 2] and all(r["nested"] for r in rows)
    assert rows[0]["cache_adn_seeded"] == 0 and rows[1]["cache_adn_seeded"] == 1
    assert rows[1]["status"] == "optimal"
    assert _table(out)[1]["cache_adn_seeded"] == "1"
