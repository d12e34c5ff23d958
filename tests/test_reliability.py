"""Reliability (issue 14): bad input, output safety, digests, the gap, stop requests.

The catalogue of bad inputs: every case must end with exit code 2, exactly one line on
stderr that names the flag (or file) and the value, no traceback, nothing on stdout and no
output folder left behind. Signals: a real `tsodso solve` in a subprocess gets SIGINT /
SIGTERM during the search and must stop within seconds with status "interrupted", exit
130 / 143, the incumbent and the summary written.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tsodso.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clear_error(rc, out, err, *needles):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and out == ""
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])


# ------------------------------------------------------------------------------ flags
FLAG_CASES = [
    (["solve", "--adns", "abc"], "--adns", "'abc'"),
    (["solve", "--adns", "1.5"], "--adns", "'1.5'"),
    (["solve", "--adns", "0"], "--adns", "0"),
    (["solve", "--hours", "30"], "--hours", "30"),
    (["solve", "--hours", "x"], "--hours", "'x'"),
    (["solve", "--start", "24"], "--start", "24"),
    (["solve", "--seed", "-1"], "--seed", "-1"),
    (["solve", "--seed", "1e30"], "--seed", "1e30"),
    (["solve", "--time-limit", "0"], "--time-limit", "0"),
    (["solve", "--time-limit", "-1"], "--time-limit", "-1"),
    (["solve", "--time-limit", "nan"], "--time-limit", "nan"),
    (["solve", "--gap", "-1"], "--gap", "-1"),
    (["solve", "--gap", "nan"], "--gap", "nan"),
    (["solve", "--scheme", "foo"], "--scheme", "foo"),
    (["solve", "--scenario", "/nonexistent/s.json"], "--scenario", "/nonexistent/s.json"),
    (["compare", "--schemes", "foo"], "--schemes", "foo"),
    (["compare", "--schemes", "dso-led,dso-led"], "--schemes", "dso-led"),
    (["export", "--format", "mps"], "--format", "mps"),
    (["size", "--adns", "1,x"], "--adns", "x"),
]


@pytest.mark.parametrize("argv,flag,value", FLAG_CASES, ids=[" ".join(c[0]) for c in FLAG_CASES])
def test_bad_flag_is_one_line_before_any_work(argv, flag, value, tmp_path, capsys):
    out_dir = tmp_path / "out"
    extra = ["-o", str(out_dir)] if argv[0] in ("solve", "compare", "export") else []
    rc, out, err = run_cli(argv + extra, capsys)
    assert_clear_error(rc, out, err, flag, value)
    assert not out_dir.exists()                  # nothing created


def test_version_and_help_state_the_contracts(capsys):
    rc, out, _ = run_cli(["--version"], capsys)
    assert rc == 0 and out.startswith("tsodso ")
    rc, out, _ = run_cli(["solve", "--help"], capsys)
    assert rc == 0
    text = " ".join(out.split())
    assert "bounds the search only" in text          # what --time-limit covers
    assert "exit codes" in text and "130" in text and "143" in text


# ------------------------------------------------------------------------------ files and scenarios
def _scenario(tmp_path, mutate=None, raw=None, name="s.json"):
    """A copy of the default scenario (case paths made absolute), mutated, written to tmp."""
    from tsodso.data.builder import default_scenario_path
    d = os.path.dirname(default_scenario_path())
    sc = json.load(open(default_scenario_path()))
    for k in ("tn_case", "feeder_case", "profiles"):
        sc[k] = os.path.join(d, sc[k])
    if mutate:
        mutate(sc)
    p = tmp_path / name
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text(json.dumps(sc))
    return p


def _set(path, value):
    def mut(sc):
        *parents, last = path
        cur = sc
        for k in parents:
            cur = cur[k]
        cur[last] = value
    return mut


def _drop(path):
    def mut(sc):
        *parents, last = path
        cur = sc
        for k in parents:
            cur = cur[k]
        del cur[last]
    return mut


SCENARIO_CASES = {
    "non-utf8": (dict(raw=b'{"format": "\xff\xfe"}'), "encoding", "UTF-8"),
    "binary": (dict(raw=b"\x00\x01\x02binary"), "file", "binary"),
    "malformed-json": (dict(raw=b'{"format": '), "json", "malformed"),
    "deep-nesting": (dict(raw=b"[" * 100000 + b"]" * 100000), "json", "nested"),
    "top-level-list": (dict(raw=b"[1, 2]"), "scenario", "object"),
    "hours-scalar": (dict(mutate=_set(["hours"], 5)), "'hours' = 5", "object"),
    "missing-bess": (dict(mutate=_drop(["adn_defaults", "bess"])), "adn_defaults.bess", "missing"),
    "scalar-for-list": (dict(mutate=_set(["adn_defaults", "pv", "bus_id"], 18)), "adn_defaults.pv.bus_id", "list"),
    "unknown-key-typo": (dict(mutate=_set(["tn", "rate_overide_mw"], {"21-22": 24})), "tn.rate_overide_mw", "unknown key"),
    "unknown-top-key": (dict(mutate=_set(["fess"], {})), "fess", "unknown key"),
    "fraction-for-int": (dict(mutate=_set(["adn_defaults", "feeders_aggregated"], 2.5)), "feeders_aggregated", "2.5"),
    "duplicate-prosumer": (dict(mutate=_set(["adn_defaults", "prosumer_bus_id"], [14, 14])), "prosumer_bus_id[1]", "twice"),
    "string-number": (dict(mutate=_set(["adns", 0, "load_scale"], "1.2")), "adns[0].load_scale", "number"),
    "bool-number": (dict(mutate=_set(["fees", "grid_usd_per_mwh"], True)), "fees.grid_usd_per_mwh", "number"),
    "list-of-3-range": (dict(mutate=_set(["generator", "pv_scale_range"], [0, 1, 2])), "pv_scale_range", "2 numbers"),
    "unknown-pcc-bus": (dict(mutate=_set(["adns", 0, "pcc_bus_id"], 99)), "adns[0].pcc_bus_id", "99"),
    "unknown-feeder-bus": (dict(mutate=_set(["adn_defaults", "pv", "bus_id"], [18, 22, 25, 99])), "pv.bus_id", "99"),
    "negative-fee": (dict(mutate=_set(["fees", "grid_usd_per_mwh"], -1)), "fees.grid_usd_per_mwh", "-1"),
    "missing-case": (dict(mutate=_set(["tn_case"], "/nonexistent/case.m")), "/nonexistent/case.m", "not found"),
    "case-is-folder": (dict(mutate=_set(["profiles"], "/tmp")), "/tmp", "directory"),
}


@pytest.mark.parametrize("name", sorted(SCENARIO_CASES))
def test_bad_scenario_is_one_line_naming_the_key(name, tmp_path, capsys):
    kw, key, why = SCENARIO_CASES[name]
    p = _scenario(tmp_path, **kw)
    out_dir = tmp_path / "out"
    rc, out, err = run_cli(["solve", "--adns", "1", "--hours", "1", "--scenario", str(p), "-o", str(out_dir)], capsys)
    assert_clear_error(rc, out, err, key, why)
    assert not out_dir.exists()


def _case_variant(tmp_path, edit, name="case30.m"):
    from tsodso.data.builder import default_scenario_path
    d = os.path.dirname(default_scenario_path())
    text = open(os.path.join(d, name)).read()
    p = tmp_path / name
    p.write_text(edit(text))
    return p


def _edit_row(matrix, row, col, value):
    """Replace entry `col` (0-based) of data row `row` (0-based) of mpc.<matrix>."""
    def edit(text):
        head, rest = text.split(f"mpc.{matrix} = [", 1)
        body, tail = rest.split("];", 1)
        lines = body.split("\n")
        data = [i for i, ln in enumerate(lines) if ln.strip() and not ln.strip().startswith("%")]
        i = data[row]
        vals = lines[i].replace(";", "").split()
        vals[col] = value
        lines[i] = "\t" + "\t".join(vals) + ";"
        return head + f"mpc.{matrix} = [" + "\n".join(lines) + "];" + tail
    return edit


def _loads_times(factor):
    """Every bus load of the case multiplied by `factor` (e.g. loads given in %, x 100)."""
    def edit(text):
        head, rest = text.split("mpc.bus = [", 1)
        body, tail = rest.split("];", 1)
        out = []
        for ln in body.split("\n"):
            v = ln.replace(";", "").split()
            if len(v) >= 13 and not ln.strip().startswith("%"):
                v[2], v[3] = str(float(v[2]) * factor), str(float(v[3]) * factor)
                ln = "\t" + "\t".join(v) + ";"
            out.append(ln)
        return head + "mpc.bus = [" + "\n".join(out) + "];" + tail
    return edit


CASE_CASES = {
    "feeder-load-in-percent": ("case33bw.m", _loads_times(100.0), "mpc.bus.PD"),
    "inf-load": ("case30.m", _edit_row("bus", 1, 2, "Inf"), "mpc.bus.PD"),
    "nan-reactance": ("case30.m", _edit_row("branch", 0, 3, "NaN"), "mpc.branch.BR_X"),
    "inf-reactance": ("case30.m", _edit_row("branch", 0, 3, "Inf"), "mpc.branch.BR_X"),
    "negative-feeder-load": ("case33bw.m", _edit_row("bus", 3, 2, "-90"), "mpc.bus.PD"),
    "text-in-matrix": ("case30.m", _edit_row("gen", 0, 8, "abc"), "mpc.gen.PMAX"),
}


@pytest.mark.parametrize("name", sorted(CASE_CASES))
def test_bad_case_file_is_one_line_naming_the_field(name, tmp_path, capsys):
    fname, edit, field = CASE_CASES[name]
    case = _case_variant(tmp_path, edit, fname)
    key = "tn_case" if fname == "case30.m" else "feeder_case"
    p = _scenario(tmp_path, _set([key], str(case)))
    rc, out, err = run_cli(["solve", "--adns", "1", "--hours", "1", "--scenario", str(p)], capsys)
    assert_clear_error(rc, out, err, str(case), field)


def test_profile_hour_column_is_checked(tmp_path, capsys):
    from tsodso.data.builder import default_scenario_path
    d = os.path.dirname(default_scenario_path())
    lines = open(os.path.join(d, "profiles_24h.csv")).read().splitlines()
    data = [i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")]
    i = data[5]                                    # hour 4: renumber it 7
    lines[i] = "7," + lines[i].split(",", 1)[1]
    prof = tmp_path / "p.csv"
    prof.write_text("\n".join(lines) + "\n")
    p = _scenario(tmp_path, _set(["profiles"], str(prof)))
    rc, out, err = run_cli(["solve", "--adns", "1", "--hours", "1", "--scenario", str(p)], capsys)
    assert_clear_error(rc, out, err, str(prof), "'hour' = '7'", "expected hour 4")


def test_infeasible_instance_is_explained(tmp_path, capsys):
    """imax_factor 0.3 (old peak-load rule): no current-feasible point at the evening hours.
    Exit 3, and the reason names the family, the ADN, the hours and the lines."""
    p = _scenario(tmp_path, lambda sc: sc["adn_defaults"].update(imax_factor=0.3, feeder_rating="peak_load_factor"))
    rc, out, err = run_cli(["solve", "--adns", "1", "--hours", "2", "--start", "18", "--scenario", str(p),
                            "--time-limit", "30", "--json", "-o", str(tmp_path / "o")], capsys)
    assert rc == 3, err[-2000:]
    summ = json.loads(out)
    d = summ["diagnosis"]
    assert summ["status"] == "infeasible"
    assert "ADN1" in d and "18:00" in d and "19:00" in d and "line current limits" in d and "needs" in d
    assert "no solution" in err and "line current limits" in err
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["diagnosis"] == d


def test_rate_a_zero_means_unlimited_end_to_end(tmp_path, capsys):
    """MATPOWER rateA = 0 (unlimited) on half of the TN lines: the model builds (it crashed in
    the robust-slack LP with an inf rating) and its follower agrees with an independent
    HiGHS DC-OPF that has no limit on those lines (the certificate)."""
    def unlimited(text):
        head, rest = text.split("mpc.branch = [", 1)
        body, tail = rest.split("];", 1)
        out = []
        for ln in body.split("\n"):
            v = ln.replace(";", "").split()
            if len(v) >= 13 and not ln.strip().startswith("%") and int(float(v[0])) % 2 == 0:
                v[5] = "0"
                ln = "\t" + "\t".join(v) + ";"
            out.append(ln)
        return head + "mpc.branch = [" + "\n".join(out) + "];" + tail
    case = _case_variant(tmp_path, unlimited)
    p = _scenario(tmp_path, _set(["tn_case"], str(case)))
    from tsodso.data import load_system
    assert np.isinf(load_system(str(p), adns=1, hours=1).tn.line_rate_mw).sum() >= 10
    rc, out, err = run_cli(["solve", "--adns", "1", "--hours", "2", "--start", "18", "--scenario", str(p),
                            "--time-limit", "60", "--json"], capsys)
    assert rc == 0, err[-2000:]
    summ = json.loads(out)
    assert summ["status"] == "optimal" and summ["follower_gap"] < 1e-6


MATPOWER_CONVERSION = """
%% convert branch impedances from Ohms to p.u.
[PQ, PV, REF, NONE, BUS_I, BUS_TYPE, PD, QD, GS, BS, BUS_AREA, VM, ...
    VA, BASE_KV, ZONE, VMAX, VMIN, LAM_P, LAM_Q, MU_VMAX, MU_VMIN] = idx_bus;
[F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, RATE_B, RATE_C, ...
    TAP, SHIFT, BR_STATUS, PF, QF, PT, QT, MU_SF, MU_ST, ...
    ANGMIN, ANGMAX, MU_ANGMIN, MU_ANGMAX] = idx_brch;
Vbase = mpc.bus(1, BASE_KV) * 1e3;      %% in Volts
Sbase = mpc.baseMVA * 1e6;              %% in VA
mpc.branch(:, [BR_R BR_X]) = mpc.branch(:, [BR_R BR_X]) / (Vbase^2 / Sbase);

%% convert loads from kW to MW
mpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e3;
"""


def test_matpower_distribution_case_in_kw_ohm(tmp_path, capsys):
    """A feeder file as MATPOWER distributes it (ohm, kW, then conversion code) is refused by
    default with a pointer to the option, and read with feeder_units = kw_ohm to the same
    feeder as the shipped pu file (1e-12)."""
    from tsodso.data import feeder_from_case, read_case
    from tsodso.data.builder import default_scenario_path
    shipped = os.path.join(os.path.dirname(default_scenario_path()), "case33bw.m")
    ref = read_case(shipped)
    zbase = ref.bus[0, 9] ** 2 / ref.base_mva

    def to_kw_ohm(text):
        for matrix, cols, f in (("branch", (2, 3), zbase), ("bus", (2, 3), 1e3)):
            head, rest = text.split(f"mpc.{matrix} = [", 1)
            body, tail = rest.split("];", 1)
            out = []
            for ln in body.split("\n"):
                v = ln.replace(";", "").split()
                if len(v) >= 10 and not ln.strip().startswith("%"):
                    for c in cols:
                        v[c] = repr(float(float(v[c]) * f))
                    ln = "\t" + "\t".join(v) + ";"
                out.append(ln)
            text = head + f"mpc.{matrix} = [" + "\n".join(out) + "];" + tail
        return text + MATPOWER_CONVERSION
    case = _case_variant(tmp_path, to_kw_ohm, "case33bw.m")
    p = _scenario(tmp_path, _set(["feeder_case"], str(case)))
    rc, out, err = run_cli(["solve", "--adns", "1", "--hours", "1", "--scenario", str(p)], capsys)
    assert_clear_error(rc, out, err, str(case), "statement", "feeder_units")
    a, b = feeder_from_case(read_case(str(case), units="kw_ohm")), feeder_from_case(ref)
    for k in ("line_r_pu", "line_x_pu", "load_p_mw", "load_q_mvar"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-12, atol=0)
    from tsodso.data import load_system
    p2 = _scenario(tmp_path, lambda sc: sc.update(feeder_case=str(case), feeder_units="kw_ohm"), name="s2.json")
    s1, s0 = load_system(str(p2), adns=1, hours=2), load_system(None, adns=1, hours=2)
    np.testing.assert_allclose(s1.adns[0].load_p_mw, s0.adns[0].load_p_mw, rtol=1e-12)


# ------------------------------------------------------------------------------ output location
WINDOW = ["--adns", "1", "--hours", "1", "--start", "18", "--time-limit", "30"]


def test_output_that_is_a_file_is_refused_before_solving(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("keep me")
    t0 = time.perf_counter()
    rc, out, err = run_cli(["solve", *WINDOW, "-o", str(f)], capsys)
    assert_clear_error(rc, out, err, str(f), "not a directory")
    assert time.perf_counter() - t0 < 10          # refused before the solve (data load only)
    assert f.read_text() == "keep me"


def test_output_folder_locked_by_another_run(tmp_path, capsys):
    from tsodso.report.output import prepare_output
    held = prepare_output(tmp_path)               # another run holds the folder
    try:
        rc, out, err = run_cli(["solve", *WINDOW, "-o", str(tmp_path)], capsys)
        assert_clear_error(rc, out, err, str(tmp_path), "another tsodso run")
    finally:
        held.release()
    assert sorted(os.listdir(tmp_path)) == [".tsodso.lock"]


def test_export_to_a_directory_is_refused(tmp_path, capsys):
    rc, out, err = run_cli(["export", *WINDOW[:6], "-o", str(tmp_path)], capsys)
    assert_clear_error(rc, out, err, str(tmp_path), "is a directory")


def test_compare_without_matplotlib_fails_before_solving(tmp_path, capsys, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    rc, out, err = run_cli(["compare", *WINDOW, "--schemes", "dso-led", "-o", str(tmp_path / "o")], capsys)
    assert_clear_error(rc, out, err, "matplotlib", "--no-figures")
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------ writing
def _files(tmp_path):
    return sorted(os.listdir(tmp_path))


def test_staged_write_never_mixes_two_runs_and_rescues(tmp_path, monkeypatch):
    """Disk full on the second file: the folder keeps the old pair, a rescue copy is named."""
    from tsodso.report import output as O
    out = O.prepare_output(tmp_path)
    out.write([("result.h5", b"old-h5"), ("summary.json", "old-json")])
    real_put = O._put
    calls = []

    def failing_put(path, payload):
        calls.append(path)
        if path.endswith("summary.json") and ".staging-" in path:
            raise OSError(28, "No space left on device", path)
        return real_put(path, payload)
    monkeypatch.setattr(O, "_put", failing_put)
    with pytest.raises(O.OutputWriteError) as ei:
        out.write([("result.h5", b"new-h5"), ("summary.json", "new-json")])
    out.release()
    assert (tmp_path / "result.h5").read_bytes() == b"old-h5"          # never a mixed pair
    assert (tmp_path / "summary.json").read_text() == "old-json"
    assert _files(tmp_path) == [".tsodso.lock", "result.h5", "summary.json"]   # staging removed
    rescue = ei.value.rescue_dir
    assert rescue and rescue in str(ei.value) and "No space left" in str(ei.value)
    assert open(os.path.join(rescue, "result.h5"), "rb").read() == b"new-h5"
    assert open(os.path.join(rescue, "summary.json")).read() == "new-json"
    import shutil
    shutil.rmtree(rescue)                          # the test's own rescue copy, not left in /tmp


def test_files_follow_the_umask(tmp_path):
    from tsodso.atomic import write_text_atomic
    from tsodso.report.output import prepare_output
    old = os.umask(0o022)
    try:
        p = write_text_atomic(str(tmp_path / "a.txt"), "x")
        with prepare_output(tmp_path / "d") as out:
            q = out.write([("b.json", "{}")])["b.json"]
    finally:
        os.umask(old)
    assert os.stat(p).st_mode & 0o777 == 0o644
    assert os.stat(q).st_mode & 0o777 == 0o644


def _tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


def test_disk_full_on_a_small_tmpfs_keeps_the_result(tmp_path):
    """A real full disk (tmpfs of 16 KiB): the solve is checked up front (free space), and a
    disk that fills during the write leaves a rescue copy and exit 4, no temporary files."""
    mnt = tmp_path / "small"
    if not _tmpfs(mnt, "16k"):
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
    try:
        env = dict(os.environ, PYTHONPATH=ROOT)
        # 1. too little free space: refused before solving
        p = subprocess.run([sys.executable, "-m", "tsodso.cli", "solve", *WINDOW, "-o", str(mnt / "out")],
                           capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
        assert p.returncode == 2 and "MiB free" in p.stderr and "Traceback" not in p.stderr
        # 2. the check passes (threshold lowered) but the disk fills while writing
        code = ("import sys, tsodso.report.output as O; O.MIN_FREE_BYTES = 1; "
                "from tsodso.cli import main; sys.exit(main(sys.argv[1:]))")
        p = subprocess.run([sys.executable, "-c", code, "solve", *WINDOW, "-o", str(mnt / "out")],
                           capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
        assert p.returncode == 4, p.stderr[-2000:]
        assert "Traceback" not in p.stderr and "saved to" in p.stderr
        rescue = p.stderr.split("saved to ")[1].split()[0].rstrip(";")
        summ = json.load(open(os.path.join(rescue, "summary.json")))
        assert summ["status"] == "optimal"
        from tsodso.report.result_file import read_result
        assert read_result(os.path.join(rescue, "result.h5"))["attrs"]["status"] == "optimal"
        left = [f for f in os.listdir(mnt / "out") if f != ".tsodso.lock"]
        assert left == []                          # no .tmp-* / .staging-* left, no half file
        import shutil
        shutil.rmtree(rescue)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# ------------------------------------------------------------------------------ digests
def test_corrupted_result_dataset_is_detected_and_named(tmp_path):
    import h5py
    from tsodso.report.output import ResultFileError, hdf5_bytes, open_hdf5

    def build(f):
        f["x"] = np.arange(5.0)
        f["g/names"] = np.array(["a", "bb"], dtype=h5py.string_dtype())
    p = tmp_path / "r.h5"
    p.write_bytes(hdf5_bytes(build))
    with open_hdf5(p) as f:                       # intact: reads
        assert f["x"][3] == 3.0
    with h5py.File(p, "r+") as f:                 # a block zeroed behind our back
        f["x"][:] = 0.0
    with pytest.raises(ResultFileError, match=r"r\.h5.*'/x'.*SHA-256"):
        with open_hdf5(p):
            pass
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ResultFileError, match="junk.h5"):
        with open_hdf5(tmp_path / "junk.h5"):
            pass


# ------------------------------------------------------------------------------ the gap
def test_gap_needs_an_incumbent_and_a_finite_bound():
    import math
    from tsodso.solver.bounds import BoundTracker
    t = BoundTracker(abs_tol=0.0, rel_tol=math.inf)
    t.update_bound(-math.inf)
    assert not t.converged()                      # --gap inf, no solution: not optimal
    t.offer(5.0, np.zeros(1))
    assert not t.converged()                      # a solution but bound -inf: not optimal
    t.update_bound(1.0)
    assert t.converged()


def test_gap_floor_does_not_loosen_small_objectives():
    """The issue's case: 0.099 $ over 737.93 $ is 1.34e-4 > 1e-4 (objective in k$)."""
    from tsodso.formulation.common import GAP_FLOOR
    from tsodso.solver.bounds import BoundTracker
    t = BoundTracker(abs_tol=1e-6, rel_tol=1e-4, floor=GAP_FLOOR)
    t.offer(0.73793, np.zeros(1))
    t.update_bound(0.73793 - 0.000099)
    assert t.gap()[1] == pytest.approx(0.099 / 737.93, rel=1e-9)
    assert not t.converged()
    old = BoundTracker(abs_tol=1e-6, rel_tol=1e-4)           # the generic floor, 1 unit = 1,000 $
    old.offer(0.73793, np.zeros(1))
    old.update_bound(0.73793 - 0.000099)
    assert old.converged()                                   # what used to be reported optimal


# ------------------------------------------------------------------------------ HiGHS
def test_kkt_presolve_milps_survive_an_earlier_highs_run():
    """Root cause of the flaky test_kkt_presolve: HiGHS's global scheduler is sized by the
    first run in the process; the presolve asked for threads = 1 and every MILP failed
    (kError) after any default HiGHS run. Here a default run comes first, in a fresh process."""
    code = r"""
import numpy as np, highspy
h = highspy.Highs(); h.setOptionValue("output_flag", False)
lp = highspy.HighsLp(); lp.num_col_ = 1; lp.num_row_ = 0
lp.col_cost_ = np.array([1.0]); lp.col_lower_ = np.array([0.0]); lp.col_upper_ = np.array([1.0])
h.passModel(lp); h.run()
from tsodso.data import load_system
from tsodso.analysis.certified_box import certified_pcc_bounds
from tsodso.formulation.bilevel import pcc_box
from tsodso.analysis.kkt_presolve import fixed_pairs
from tsodso.formulation.tn import TNData
s = load_system(adns=1, hours=2, seed=1, start=17)
d = TNData.from_tn(s.tn, 2)
lo_mw, hi_mw, b, _, buses = certified_pcc_bounds(s, d, 2)
_, lo, hi = pcc_box(s, 2, lo_mw, hi_mw)
print(fixed_pairs(d, buses, lo, hi, b)[1]["milp_failures"])
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split()[-1] == "0"


def test_highs_milp_stops_on_a_stop_request():
    """The HiGHS interrupt callback (conic/interrupt.watch_highs): a hard MILP stops at once."""
    import highspy
    from tsodso.conic import interrupt
    rng = np.random.default_rng(3)
    n, m = 60, 30
    A = rng.integers(1, 100, (m, n)).astype(float)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", 60.0)
    inf = highspy.kHighsInf
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n), -rng.integers(1, 100, n).astype(float))
    h.changeColsIntegrality(n, np.arange(n), np.array([highspy.HighsVarType.kInteger] * n))
    for i in range(m):
        h.addRow(-inf, float(A[i].sum() / 2), n, np.arange(n), A[i])
    interrupt.watch_highs(h)
    interrupt.clear()
    timer = threading.Timer(0.5, interrupt.request)
    timer.start()
    t0 = time.perf_counter()
    try:
        h.run()
    finally:
        timer.cancel()
        interrupt.clear()
    assert h.getModelStatus() == highspy.HighsModelStatus.kInterrupt
    assert time.perf_counter() - t0 < 5.0


# ------------------------------------------------------------------------------ signals
def _solve_and_signal(tmp_path, sig, wait_for="tsodso B&B", extra=()):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tsodso.cli", "solve", "--adns", "1", "--hours", "8", "--start", "8",
           "--gap", "0", "--time-limit", "120", "--method", "monolithic", "-o", str(out), *extra]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []
    t_end = time.time() + 180
    for line in p.stderr:                         # wait until the search runs
        err.append(line)
        if wait_for in line or time.time() > t_end:
            break
    time.sleep(1.5)
    t0 = time.perf_counter()
    p.send_signal(sig)
    rest_out, rest_err = p.communicate(timeout=60)
    return p.returncode, time.perf_counter() - t0, "".join(err) + rest_err, out


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_search_stops_and_writes(sig, code, tmp_path):
    rc, stop_s, err, out = _solve_and_signal(tmp_path, sig)
    assert rc == code, err[-3000:]
    assert "Traceback" not in err
    # not a benchmark: "stops at once instead of running to its 120 s limit"; measured 0.4-3 s
    # to process exit at load 8 on 2 cores (B&B stop within one node solve, then certificates
    # and the files)
    assert stop_s < 30.0, stop_s
    summ = json.loads((out / "summary.json").read_text())
    assert summ["status"] == "interrupted" and summ["stop_reason"] == "interrupted"
    from tsodso.report.result_file import read_result
    r = read_result(str(out / "result.h5"))
    assert r["attrs"]["status"] == "interrupted"
    if summ["objective"] is not None:            # the incumbent and its certificates
        assert "x" in r and summ["follower_gap"] is not None and summ["soc_gap"] is not None
    assert [f for f in os.listdir(out) if f.startswith(".") and f != ".tsodso.lock"] == []


def test_signal_during_the_write_still_completes_the_files(tmp_path, capsys, monkeypatch):
    """SIGTERM while the result files are written: the write finishes (the signal only
    records the request), the files are complete and the exit code says 143."""
    from tsodso.report import output as O
    real = O._stage_and_commit

    def stage_with_signal(outdir, fill, last):
        def fill_and_signal(folder):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.3)                       # the watcher thread takes it meanwhile
            return fill(folder)
        return real(outdir, fill_and_signal, last)
    monkeypatch.setattr(O, "_stage_and_commit", stage_with_signal)
    rc = main(["solve", *WINDOW, "--json", "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 143, err[-2000:]
    summ = json.loads(out)
    assert json.loads((tmp_path / "summary.json").read_text()) == summ
    from tsodso.report.result_file import read_result
    assert read_result(str(tmp_path / "result.h5"))["attrs"]["status"] == summ["status"]
