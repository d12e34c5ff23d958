"""MATPOWER reader: round trip on the shipped cases and one test per bad input.

Expected values come from the MATPOWER files themselves (totals), from MATPOWER's rundcopf
(case30: 565.21 $/h) and from MATPOWER's runpf / Baran & Wu (case33bw: 202.68 kW, 0.91309 pu).
"""
import os

import numpy as np
import pytest

from tsodso.data import CaseError, case_dir, feeder_from_case, read_case, transmission_from_case
from tsodso.data import columns as C
from tsodso.data.radial_pf import radial_power_flow

CASE30 = os.path.join(case_dir(), "case30.m")
CASE33 = os.path.join(case_dir(), "case33bw.m")


def test_case30_round_trip():
    c = read_case(CASE30)
    assert c.base_mva == 100.0
    assert c.bus.shape == (30, 13) and c.gen.shape[0] == 6 and c.branch.shape[0] == 41
    assert c.bus[:, C.PD].sum() == pytest.approx(189.2)
    assert c.gen[:, C.PMAX].sum() == pytest.approx(335.0)
    assert c.gencost[:, C.COST].tolist() == [0.02, 0.0175, 0.0625, 0.00834, 0.025, 0.025]
    tn = transmission_from_case(c)
    assert tn.n_bus == 30 and tn.n_line == 41 and tn.n_gen == 6
    assert tn.bus_id[tn.ref_bus] == 1
    np.testing.assert_allclose(tn.gen_c1_usd_per_mwh, [2, 1.75, 1, 3.25, 3, 3])
    assert np.all(tn.line_rate_mw > 0)


def test_case30_dcopf_matches_matpower():
    pytest.importorskip("highspy")
    from tsodso.evaluation.dcopf import solve_dcopf
    tn = transmission_from_case(read_case(CASE30))
    r = solve_dcopf(tn, tn.load_mw[0])
    # MATPOWER rundcopf(case30): 565.21 $/h; HiGHS QP tolerance ~1e-7 relative
    assert r.cost_usd_per_h == pytest.approx(565.21, abs=0.01)


def test_case33bw_round_trip_and_power_flow():
    c = read_case(CASE33)
    assert c.base_mva == 10.0 and c.bus.shape[0] == 33
    fd = feeder_from_case(c)
    assert fd.n_bus == 33 and fd.line_from.size == 32      # 5 open tie switches dropped
    assert fd.load_p_mw.sum() == pytest.approx(3.715)
    assert fd.load_q_mvar.sum() == pytest.approx(2.300)
    assert fd.base_kv == 12.66 and fd.bus_id[0] == 1
    assert sorted(fd.line_to.tolist()) == list(range(1, 33))
    # r of line 1-2 is 0.0922 ohm / (12.66^2 / 10)
    assert fd.line_r_pu[0] == pytest.approx(0.0922 / 16.02756, rel=1e-9)
    pf = radial_power_flow(fd.line_from, fd.line_to, fd.line_r_pu, fd.line_x_pu,
                           fd.load_p_mw / 10, fd.load_q_mvar / 10, 1.0)
    assert pf.loss_pu * 10e3 == pytest.approx(202.68, abs=0.01)      # kW
    assert pf.v_pu.min() == pytest.approx(0.91309, abs=1e-5)
    assert fd.bus_id[np.argmin(pf.v_pu)] == 18


def test_feeder_reorients_and_renumbers(tmp_path):
    # root is bus 5 (type 3), a branch written child -> parent: lines must point away from root
    text = _mini_case(bus_rows=["3 1 1 0 0 0 1 1 0 10 1 1.1 0.9", "5 3 0 0 0 0 1 1 0 10 1 1.1 0.9",
                                "7 1 2 1 0 0 1 1 0 10 1 1.1 0.9"],
                      branch_rows=["3 5 0.01 0.02 0 0 0 0 0 0 1", "5 7 0.01 0.02 0 0 0 0 0 0 1"],
                      gen_rows=["5 0 0 10 -10 1 100 1 10 0"])
    p = tmp_path / "mini.m"
    p.write_text(text)
    fd = feeder_from_case(read_case(p))
    assert fd.bus_id.tolist() == [5, 3, 7]
    assert fd.line_from.tolist() == [0, 0] and fd.line_to.tolist() == [1, 2]


def test_parser_handles_continuations_and_commas(tmp_path):
    text = _mini_case(bus_rows=["1, 3, 0, 0, 0, 0, 1, 1, 0, 10, 1, 1.1, 0.9 % root",
                                "2 1 1.5 ...\n 0.5 0 0 1 1 0 10 1 1.1 0.9"],
                      branch_rows=["1 2 0.01 0.02 0 0 0 0 0 0 1"])
    p = tmp_path / "cont.m"
    p.write_text(text)
    c = read_case(p)
    assert c.bus[1, C.PD] == 1.5 and c.bus[1, C.QD] == 0.5


# ------------------------------------------------------------------ bad inputs
BUS_OK = ["1 3 0 0 0 0 1 1 0 10 1 1.1 0.9", "2 1 1 0.5 0 0 1 1 0 10 1 1.1 0.9",
          "3 1 1 0.5 0 0 1 1 0 10 1 1.1 0.9"]
BR_OK = ["1 2 0.01 0.02 0 0 0 0 0 0 1", "2 3 0.01 0.02 0 0 0 0 0 0 1"]


def _mini_case(bus_rows=BUS_OK, branch_rows=BR_OK,
               gen_rows=("1 0 0 10 -10 1 100 1 10 0",), extra=""):
    rows = lambda rs: "".join(f"\t{r};\n" for r in rs)  # noqa: E731
    return (f"function mpc = mini\n%% test case\nmpc.version = '2';\nmpc.baseMVA = 10;\n"
            f"mpc.bus = [\n{rows(bus_rows)}];\nmpc.gen = [\n{rows(gen_rows)}];\n"
            f"mpc.branch = [\n{rows(branch_rows)}];\n"
            f"mpc.gencost = [\n{rows(['2 0 0 3 0 20 0'] * len(gen_rows))}];\n{extra}")


def _expect(tmp_path, text, field, value, convert=None):
    p = tmp_path / "bad.m"
    p.write_text(text)
    with pytest.raises(CaseError) as ei:
        c = read_case(p)
        if convert:
            convert(c)
    e = ei.value
    msg = str(e)
    assert str(p) in msg and e.file == str(p)
    assert field in msg and field in e.field
    assert str(value) in msg
    return e


def test_missing_file(tmp_path):
    with pytest.raises(CaseError) as ei:
        read_case(tmp_path / "nope.m")
    assert "nope.m" in str(ei.value) and ei.value.field == "file"


def test_unknown_bus_in_branch(tmp_path):
    e = _expect(tmp_path, _mini_case(branch_rows=["1 2 0.01 0.02 0 0 0 0 0 0 1",
                                                  "2 9 0.01 0.02 0 0 0 0 0 0 1"]),
                "T_BUS", 9.0)
    assert e.row == 2 and "unknown bus" in str(e)


def test_unknown_bus_in_gen(tmp_path):
    _expect(tmp_path, _mini_case(gen_rows=["4 0 0 10 -10 1 100 1 10 0"]), "GEN_BUS", 4.0)


def test_pmin_above_pmax(tmp_path):
    _expect(tmp_path, _mini_case(gen_rows=["1 0 0 10 -10 1 100 1 10 12"]), "PMIN", 12.0)


def test_vmin_above_vmax(tmp_path):
    bad = BUS_OK[:2] + ["3 1 1 0.5 0 0 1 1 0 10 1 0.9 1.1"]
    e = _expect(tmp_path, _mini_case(bus_rows=bad), "VMIN", 1.1)
    assert e.row == 3


def test_nan_value(tmp_path):
    bad = BUS_OK[:2] + ["3 1 NaN 0.5 0 0 1 1 0 10 1 1.1 0.9"]
    _expect(tmp_path, _mini_case(bus_rows=bad), "PD", "nan")


def test_not_a_number(tmp_path):
    bad = BUS_OK[:2] + ["3 1 abc 0.5 0 0 1 1 0 10 1 1.1 0.9"]
    _expect(tmp_path, _mini_case(bus_rows=bad), "PD", "abc")


def test_duplicate_bus(tmp_path):
    bad = BUS_OK[:2] + ["2 1 1 0.5 0 0 1 1 0 10 1 1.1 0.9"]
    _expect(tmp_path, _mini_case(bus_rows=bad), "BUS_I", 2.0)


def test_ragged_matrix(tmp_path):
    bad = BUS_OK[:2] + ["3 1 1 0.5 0 0 1 1 0 10 1 1.1"]
    _expect(tmp_path, _mini_case(bus_rows=bad), "mpc.bus", 12)


def test_executable_statement_rejected(tmp_path):
    _expect(tmp_path, _mini_case(extra="mpc.branch(:, 3) = mpc.branch(:, 3) / 16;\n"),
            "statement", "mpc.branch(:, 3)")


def test_non_positive_impedance_feeder(tmp_path):
    bad = ["1 2 0.01 0.02 0 0 0 0 0 0 1", "2 3 0 0.02 0 0 0 0 0 0 1"]
    e = _expect(tmp_path, _mini_case(branch_rows=bad), "BR_R", 0.0, convert=feeder_from_case)
    assert e.row == 2


def test_non_positive_reactance_tn(tmp_path):
    bad = ["1 2 0.01 -0.02 0 0 0 0 0 0 1", "2 3 0.01 0.02 0 0 0 0 0 0 1"]
    _expect(tmp_path, _mini_case(branch_rows=bad), "BR_X", -0.02, convert=transmission_from_case)


def test_non_radial_feeder(tmp_path):
    bad = BR_OK + ["1 3 0.01 0.02 0 0 0 0 0 0 1"]
    e = _expect(tmp_path, _mini_case(branch_rows=bad), "T_BUS", 3.0, convert=feeder_from_case)
    assert "non-radial" in str(e)


def test_disconnected_feeder(tmp_path):
    bad = ["1 2 0.01 0.02 0 0 0 0 0 0 1", "2 3 0.01 0.02 0 0 0 0 0 0 0"]   # second out
    e = _expect(tmp_path, _mini_case(branch_rows=bad), "BUS_I", 3.0, convert=feeder_from_case)
    assert "disconnected" in str(e)


def test_disconnected_tn(tmp_path):
    bad = ["1 2 0.01 0.02 0 0 0 0 0 0 1", "2 3 0.01 0.02 0 0 0 0 0 0 0"]
    _expect(tmp_path, _mini_case(branch_rows=bad), "BUS_I", 3.0,
            convert=transmission_from_case)


def test_negative_rating(tmp_path):
    bad = ["1 2 0.01 0.02 0 -5 0 0 0 0 1", "2 3 0.01 0.02 0 0 0 0 0 0 1"]
    _expect(tmp_path, _mini_case(branch_rows=bad), "RATE_A", -5.0)


def test_unclosed_matrix(tmp_path):
    text = "mpc.baseMVA = 10;\nmpc.bus = [\n 1 3 0 0 0 0 1 1 0 10 1 1.1 0.9;\n"
    _expect(tmp_path, text, "mpc.bus", "[")


def test_missing_base_mva(tmp_path):
    _expect(tmp_path, _mini_case().replace("mpc.baseMVA = 10;\n", ""), "baseMVA", "None")


def test_rate_zero_is_unlimited(tmp_path):
    p = tmp_path / "ok.m"
    p.write_text(_mini_case())
    tn = transmission_from_case(read_case(p))
    assert np.all(np.isinf(tn.line_rate_mw))
