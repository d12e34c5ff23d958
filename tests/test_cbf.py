"""CBF writer/reader: exact round trip, objective constant, general CBF (QR, MAX, VAR cones),
malformed files named by line, atomic writes.

Objectives solved by ECOS are compared at TOL = 1e-6 (ECOS runs at 1e-8; data are O(1)).
"""
import math
import os
import re

import numpy as np
import pytest

from tsodso.conic import ecos_adapter as ea
from tsodso.conic.cbf import CBFError, read_cbf, write_cbf
from tsodso.conic.problem import ProblemBuilder

TOL = 1e-6


def misocp(c0=2.5):
    """A small MISOCP with every feature the writer handles: free, lower-only, upper-only,
    boxed and fixed variables, binaries, an integer, equality rows, LP rows, two cone blocks
    of different sizes, awkward floats (0.1, 1/3, 1e-300 ...) and a constant objective."""
    pb = ProblemBuilder()
    x = pb.var("x", (2, 2), lb=[[-1.0, -np.inf], [0.0, 0.1]], ub=[[2.0, 5.0], [np.inf, 0.1]])
    y = pb.binary("y", 3)
    k = pb.var("k", 1, lb=0.0, ub=4.0, integer=True)
    t = pb.var("t", 2)
    xf = x.reshape(-1)
    pb.add_cost(xf, [1.0, -0.1, 1 / 3, 0.0])
    pb.add_cost(y, [0.5, 0.25, 1e-300])
    pb.add_cost(k, -0.7)
    pb.add_cost(t, [1.0, 2.0])
    pb.c0 = c0
    pb.add_eq("balance", [0, 0, 1, 1], [xf[0], y[0], xf[2], k[0]], [1.0, 1.0, 1.0, -0.5], [0.5, 0.0])
    pb.add_leq("cap", [0, 0, 1], [xf[1], y[1], y[2]], [1.0, -3.0, 1.0], [1.0, 1.0])
    pb.add_leq("sum_y", [0, 0, 0], list(y), 1.0, [2.0])
    pb.add_cones("norm3", [0, 1, 2], [t[0], xf[0], xf[1]], [1.0, 1.0, 1.0], [0.0, 0.0, -1.0], 3)
    pb.add_cones("norm2", [0, 1], [t[1], xf[2]], [1.0, 2.0], [0.0, -1 / 7], 2)
    return pb.build()


def assert_same_problem(p, q):
    for name in ("c", "b", "h", "lb", "ub", "integer"):
        np.testing.assert_array_equal(getattr(p, name), getattr(q, name), err_msg=name)
    assert p.c0 == q.c0
    assert (p.A != q.A).nnz == 0 and p.A.shape == q.A.shape
    assert (p.G != q.G).nnz == 0 and p.G.shape == q.G.shape
    assert p.n_lp == q.n_lp and list(p.cone_sizes) == list(q.cone_sizes)


def test_round_trip_exact(tmp_path):
    p = misocp()
    f = tmp_path / "p.cbf"
    write_cbf(p, f)
    q = read_cbf(f)
    assert_same_problem(p, q)                        # bit-exact, same row order
    assert q.var_blocks == p.var_blocks
    assert q.eq_blocks == p.eq_blocks and q.ineq_blocks == p.ineq_blocks
    assert q.cone_blocks == p.cone_blocks
    np.testing.assert_array_equal(q.get(np.arange(q.n, dtype=float), "x"), [[0, 1], [2, 3]])
    text = f.read_text()
    assert text.startswith("VER\n3\n")
    assert "# eq balance: CON 0..1" in text and "# cone norm3:" in text   # block names as comments
    assert "0.1" in text and repr(1 / 3) in text                           # full precision


def test_round_trip_same_relaxation_objective(tmp_path):
    p = misocp()
    f = tmp_path / "p.cbf"
    write_cbf(p, f)
    s_p, s_q = ea.solve(p), ea.solve(read_cbf(f))
    assert s_p.status == s_q.status == ea.OPTIMAL
    assert s_q.objective == pytest.approx(s_p.objective, abs=TOL)


def test_general_reader_same_objective(tmp_path):
    """Without the layout comments the file is read as any CBF: bounds become L+ rows and the
    rows land in another order, but the problem (and its optimum, constant included) is the same."""
    p = misocp(c0=123.456)
    f = tmp_path / "p.cbf"
    write_cbf(p, f)
    g = tmp_path / "general.cbf"
    g.write_text("".join(ln for ln in f.read_text().splitlines(True) if not ln.startswith("#")))
    q = read_cbf(g)
    assert "layout" not in q.meta
    assert q.c0 == 123.456 and np.all(np.isinf(q.lb)) and np.all(np.isinf(q.ub))
    assert q.n_eq == p.n_eq + 1                       # + the fixed variable's row
    np.testing.assert_array_equal(q.integer, p.integer)
    s_p, s_q = ea.solve(p), ea.solve(q)
    assert s_q.objective == pytest.approx(s_p.objective, abs=TOL)
    assert s_q.objective > 100                        # c0 carried through OBJBCOORD


def test_constant_objective_only(tmp_path):
    pb = ProblemBuilder()
    x = pb.var("x", 1, lb=0.0, ub=1.0)
    pb.c0 = -7.25
    p = pb.build()
    f = tmp_path / "c.cbf"
    write_cbf(p, f)
    assert "OBJBCOORD\n-7.25\n" in f.read_text()
    q = read_cbf(f)
    assert q.c0 == -7.25
    assert ea.solve(q).objective == pytest.approx(-7.25, abs=TOL)


HAND_WRITTEN = """# a hand-written CBF (any writer): max x3 s.t. 2 x1 x2 >= x3^2 (QR), x1 = 1, x2 <= 2
VER
3

OBJSENSE
MAX

VAR
3 2
L+ 2
F 1

CON
5 3
L- 1
L+ 1
QR 3

OBJACOORD
1
2 1.0

OBJBCOORD
0.5

ACOORD
5
0 0 1.0
1 1 -1.0
2 0 1.0
3 1 1.0
4 2 1.0

BCOORD
2
0 -1.0
1 2.0
"""


def test_general_cbf_qr_max_var_cones(tmp_path):
    """Hand-derived: x1 <= 1, x2 <= 2, 2 x1 x2 >= x3^2 -> x3 <= 2, so max x3 + 0.5 = 2.5.
    read_cbf returns the min form: objective -2.5."""
    f = tmp_path / "hand.cbf"
    f.write_text(HAND_WRITTEN)
    q = read_cbf(f)
    assert q.meta["objsense"] == "MAX"
    np.testing.assert_array_equal(q.lb[:2], [0.0, 0.0])
    assert q.cone_sizes == [3] and q.n_lp == 2
    s = ea.solve(q)
    assert s.status == ea.OPTIMAL
    assert s.objective == pytest.approx(-2.5, abs=TOL)
    np.testing.assert_allclose(s.x, [1.0, 2.0, 2.0], atol=1e-5)


@pytest.mark.parametrize("text, line, keyword, message", [
    ("OBJSENSE\nMIN\n", 1, "OBJSENSE", "first section must be VER"),
    ("VER\n9\n", 2, "VER", "version 9 is not supported"),
    ("VER\n3\n\nVAR\n2 1\nF 3\n", 5, "VAR", "add up to 3, header says 2"),
    ("VER\n3\n\nVAR\n2 1\nEXP 2\n", 6, "VAR", "cone type 'EXP' is not supported"),
    ("VER\n3\n\nVAR\n2 1\nF 2\n\nOBJACOORD\n1\n0 abc\n", 10, "OBJACOORD", "bad number 'abc'"),
    ("VER\n3\n\nVAR\n2 1\nF 2\n\nOBJACOORD\n1\n5 1.0\n", 10, "OBJACOORD", "index 5 outside 0..1"),
    ("VER\n3\n\nVAR\n2 1\nF 2\n\nCON\n1 1\nL+ 1\n\nACOORD\n2\n0 0 1.0\n", 14, "ACOORD",
     "file ends where a coordinate line was expected"),
    ("VER\n3\n\nVAR\n1 1\nF 1\n\nFOO\n", 8, "FOO", "unknown keyword"),
    ("VER\n3\n\nVAR\n1 1\nF 1\n\nPSDCON\n1\n2\n", 8, "PSDCON", "not supported"),
    ("VER\n3\n\nVAR\n1 1\nF 1\n\nVAR\n1 1\nF 1\n", 8, "VAR", "appears twice"),
    ("VER\n3\n\nVAR\n1 1\nF 1\n\nOBJACOORD\n1\n0 nan\n", 10, "OBJACOORD", "not finite"),
])
def test_malformed_files_name_the_line(tmp_path, text, line, keyword, message):
    f = tmp_path / "bad.cbf"
    f.write_text(text)
    with pytest.raises(CBFError) as e:
        read_cbf(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}:{line}: {keyword}: "), msg
    assert message in msg


def test_missing_file(tmp_path):
    with pytest.raises(CBFError, match="cannot read"):
        read_cbf(tmp_path / "nope.cbf")


def test_layout_from_other_version_refused(tmp_path):
    f = tmp_path / "p.cbf"
    write_cbf(misocp(), f)
    f.write_text(f.read_text().replace('"version":1', '"version":99'))
    with pytest.raises(CBFError, match="layout version 99 .*refusing to guess"):
        read_cbf(f)


def test_layout_disagreeing_with_file_refused(tmp_path):
    f = tmp_path / "p.cbf"
    write_cbf(misocp(), f)
    text = f.read_text()
    rows = re.search(r'"lb":(\d+),"ub":(\d+)', text)
    n_lb, n_ub = int(rows.group(1)), int(rows.group(2))
    assert n_lb > 0
    # same total of L+ rows, so only the layout check can notice
    f.write_text(text.replace(rows.group(0), f'"lb":{n_lb - 1},"ub":{n_ub + 1}'))
    with pytest.raises(CBFError, match="layout disagrees"):
        read_cbf(f)


def test_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    f = tmp_path / "p.cbf"
    write_cbf(misocp(), f)
    before = f.read_bytes()
    bad = misocp()
    bad.G = bad.G.copy()
    bad.G.data[0] = np.nan
    with pytest.raises(CBFError, match="G.data.*not finite"):
        write_cbf(bad, f)
    assert f.read_bytes() == before
    # a failure in the middle of writing (disk full, ...) leaves neither half a file nor a temp
    import tsodso.conic.cbf as cbf_mod

    def boom(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cbf_mod.os, "fsync", boom)
    with pytest.raises(OSError):
        write_cbf(misocp(c0=1.0), f)
    assert f.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.cbf"]
    g = tmp_path / "new.cbf"
    with pytest.raises(OSError):
        write_cbf(misocp(), g)
    assert not g.exists()


def test_unwritable_problem_rejected(tmp_path):
    p = misocp()
    p.lb = p.lb.copy()
    p.ub = p.ub.copy()
    p.lb[0] = p.ub[0] = np.inf
    with pytest.raises(CBFError, match="fixed at inf"):
        write_cbf(p, tmp_path / "x.cbf")
    assert not (tmp_path / "x.cbf").exists()


def test_integer_section_and_misocp_relaxation(tmp_path):
    p = misocp()
    f = tmp_path / "p.cbf"
    write_cbf(p, f)
    text = f.read_text()
    assert "\nINT\n4\n" in text
    q = read_cbf(f)
    np.testing.assert_array_equal(q.integer, p.integer)
    assert math.isfinite(ea.solve(q).objective)


def test_general_cbf_var_q_cone_and_equalities(tmp_path):
    """VAR (t, x1, x2) in Q^3, CON L=: x1 = 3, x2 = 4; min t -> 5 (3-4-5 triangle)."""
    f = tmp_path / "q.cbf"
    f.write_text("VER\n3\n\nVAR\n3 1\nQ 3\n\nCON\n2 1\nL= 2\n\nOBJACOORD\n1\n0 1.0\n\n"
                 "ACOORD\n2\n0 1 1.0\n1 2 1.0\n\nBCOORD\n2\n0 -3.0\n1 -4.0\n")
    q = read_cbf(f)
    assert q.n_eq == 2 and q.cone_sizes == [3]
    s = ea.solve(q)
    assert s.status == ea.OPTIMAL
    assert s.objective == pytest.approx(5.0, abs=TOL)
