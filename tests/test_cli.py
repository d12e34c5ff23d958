"""The command line, in process (`tsodso.cli.main(argv)`), on small windows of the default case.

Checks the contracts of issue 4/5: `solve --json` prints exactly one JSON object on stdout
with the named keys (the log goes to stderr); `-o DIR` writes a readable result file and the
same summary; every scheme can be solved and saved; `size --json` rows are consistent; errors
in the instance options name the option and value.
"""
import json

import numpy as np
import pytest

from tsodso.cli import main

WINDOW = ["--adns", "1", "--hours", "2", "--start", "18", "--time-limit", "60"]
KEYS = ("status", "objective", "best_bound", "gap", "nodes", "seconds", "follower_gap", "soc_gap",
        "bigm_active")


def test_solve_json_is_one_object_and_o_writes_the_result(tmp_path, capsys):
    from tsodso.report.hdf5 import read_result
    assert main(["solve", *WINDOW, "--json", "-o", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    summ = json.loads(out)                       # the whole stdout is one JSON object
    assert all(k in summ for k in KEYS)
    assert summ["status"] == "optimal" and summ["gap"] <= 1e-4
    assert summ["best_bound"] <= summ["objective"] * (1 + 1e-9)
    assert summ["follower_gap"] < 1e-6 and summ["bigm_active"] is False
    assert "tsodso B&B" in err                   # the log went to stderr
    assert json.loads((tmp_path / "summary.json").read_text()) == summ
    r = read_result(str(tmp_path / "result.h5"))
    assert r["attrs"]["status"] == "optimal"
    assert r["attrs"]["objective_usd"] == pytest.approx(summ["objective"], rel=1e-12)
    assert r["pcc_import_mw"].shape == (1, 2) and np.all(np.isfinite(r["lmp_usd_per_mwh"]))


@pytest.mark.parametrize("scheme", ["tso-led", "hybrid", "centralised"])
def test_solve_other_schemes_text_and_output(scheme, tmp_path, capsys):
    from tsodso.report.hdf5 import read_comparison
    assert main(["solve", *WINDOW, "--scheme", scheme, "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"scheme      : {scheme}" in out and "certificates:" in out
    summ = json.loads((tmp_path / "summary.json").read_text())
    assert summ["scheme"] == scheme and summ["status"] == "optimal"
    assert summ["certificates"]["soc_gap"] < 1e-6
    comp = read_comparison(str(tmp_path / "comparison.h5"))
    assert list(comp["schemes"]) == [scheme]


def test_size_json_rows(capsys):
    assert main(["size", "--adns", "1,2", "--hours", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["adns"] for r in rows] == [1, 2]
    assert rows[1]["cross_pairs"] == 2 and rows[0]["cross_pairs"] == 0
    assert rows[1]["bin_der"] == 2 * rows[0]["bin_der"]
    assert rows[1]["bin_kkt"] == rows[0]["bin_kkt"]          # the follower does not grow with N


def test_bad_instance_option_names_it(capsys):
    rc = main(["solve", "--adns", "1", "--hours", "30", "--json"])
    out, err = capsys.readouterr()
    assert rc != 0 and out == ""                 # nothing on stdout for a --json caller to misread
    assert "'hours' = 30" in err and "1..24" in err


def test_json_stdout_is_clean_in_a_fresh_process():
    """In a new process HiGHS prints its banner to file descriptor 1 the first time a solver is
    created (KKT presolve, certificates); with --json that must not reach stdout."""
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "tsodso.cli", "solve", *WINDOW, "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    summ = json.loads(p.stdout)                  # fails on any banner or log line
    assert summ["status"] == "optimal"
    assert "tsodso B&B" in p.stderr
