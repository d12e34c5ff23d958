"""Conic Benchmark Format (CBF, version 3) writer and reader for `ConicProblem`.

CBF states a problem as  min/max  a_obj'x + b_obj  s.t.  x in K_var,  A x + b in K_con,
x_j integer for j in INT (specification: "The CBF format", MOSEK manuals; CBLIB).
The cones used here are

    F   free                        L+  nonnegative   (A x + b >= 0)
    L-  nonpositive (A x + b <= 0)  L=  zero          (A x + b  = 0)
    Q   quadratic cone   u_1 >= ||(u_2, ..., u_k)||
    QR  rotated cone     2 u_1 u_2 >= ||(u_3, ..., u_k)||^2,  u_1, u_2 >= 0

What `write_cbf` writes, for  min c'x + c0,  A x = b,  G x + s = h,  lb <= x <= ub:

    VER 3, OBJSENSE MIN, every variable free (F), INT for the integer variables,
    CON rows in this order:
      L=  A x - b                      (model equality rows)
      L=  x_j - v_j                    (fixed variables, lb_j == ub_j == v_j)
      L+  h - G x                      (LP rows of G)
      L+  x_j - lb_j                   (finite lower bounds, not fixed)
      L+  ub_j - x_j                   (finite upper bounds, not fixed)
      Q   h - G x                      (one line per cone; the first entry is t)
    OBJACOORD c, OBJBCOORD c0          (so any solver's objective on the file is ours)

Numbers are written with `repr(float)`, the shortest string that reads back to the same
double, so a write -> read round trip is bit-exact. Files are written atomically (temp file
in the same folder, then `os.replace`): a failure never leaves half a file.

Comments (lines starting with `#`, allowed anywhere in CBF) sit between the VER and
OBJSENSE sections: a readable list of the named blocks and their CON rows, and machine
lines `# tsodso {json}` with the layout above (writer format and version, row counts per
part, named blocks). `read_cbf` uses them to rebuild the problem exactly (bounds as bounds,
block names); it refuses a layout from an unknown format version or one that disagrees with
the CON section instead of guessing. A CBF file without them (any other writer) is read in
general: L= rows -> A, L+/L- rows -> LP rows of G, Q -> cones, QR -> Q by

    2 u1 u2 >= ||w||^2, u1, u2 >= 0   <=>   ||(u1 - u2, sqrt(2) w)|| <= u1 + u2,

VAR cones L+/L-/L= -> bounds 0, VAR Q/QR -> cone rows on the variables, OBJSENSE MAX ->
the objective is negated (meta['objsense'] = 'MAX' records it: the file's optimum is
minus ours).
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from ..atomic import write_text_atomic
from .problem import ConicProblem

__all__ = ["write_cbf", "read_cbf", "CBFError", "LAYOUT_FORMAT", "LAYOUT_VERSION"]

LAYOUT_FORMAT = "tsodso-cbf"
LAYOUT_VERSION = 1
CBF_VERSION = 3
_SUPPORTED_VERSIONS = (1, 2, 3)
_CONE_TYPES = ("F", "L+", "L-", "L=", "Q", "QR")
_UNSUPPORTED = ("PSDVAR", "PSDCON", "OBJFCOORD", "FCOORD", "HCOORD", "DCOORD", "POWCONES",
                "POW*CONES", "CHANGE")


class CBFError(ValueError):
    """A CBF file that cannot be read (names the file, line and keyword), or a problem
    that cannot be written."""


# =============================================================================== writer
def _r(v: float) -> str:
    return repr(float(v))


def _rows_of(M: sp.spmatrix) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triplets of M in row-major order, explicit zeros dropped."""
    C = sp.coo_matrix(M)
    keep = C.data != 0.0
    r, c, v = C.row[keep], C.col[keep], C.data[keep]
    order = np.lexsort((c, r))
    return r[order], c[order], v[order]


def _check_finite(name: str, arr) -> None:
    arr = np.asarray(arr, float)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise CBFError(f"cannot write CBF: {name}[{i}] = {arr[i]} is not finite")


def _layout(prob: ConicProblem) -> dict:
    lb, ub = np.asarray(prob.lb, float), np.asarray(prob.ub, float)
    if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
        raise CBFError("cannot write CBF: NaN in variable bounds")
    if np.any(lb > ub):
        j = int(np.argmax(lb > ub))
        raise CBFError(f"cannot write CBF: variable {j} has lb {lb[j]} > ub {ub[j]}")
    fixed = np.flatnonzero(lb == ub)
    if np.any(~np.isfinite(lb[fixed])):
        j = int(fixed[np.argmax(~np.isfinite(lb[fixed]))])
        raise CBFError(f"cannot write CBF: variable {j} fixed at {lb[j]}")
    free_l = np.flatnonzero(np.isfinite(lb) & (lb != ub))
    free_u = np.flatnonzero(np.isfinite(ub) & (lb != ub))
    return dict(fixed=fixed, free_l=free_l, free_u=free_u)


def write_cbf(prob: ConicProblem, path) -> None:
    """Write `prob` to `path` in CBF version 3 (see module docstring for the row layout)."""
    path = os.fspath(path)
    n = prob.n
    for name, arr in (("c", prob.c), ("c0", [prob.c0]), ("b", prob.b), ("h", prob.h),
                      ("A.data", sp.csc_matrix(prob.A).data), ("G.data", sp.csc_matrix(prob.G).data)):
        _check_finite(name, arr)
    if prob.A.shape != (prob.b.size, n) or prob.G.shape != (prob.h.size, n):
        raise CBFError(f"cannot write CBF: A {prob.A.shape} / b {prob.b.size} / G {prob.G.shape} / "
                       f"h {prob.h.size} do not fit n = {n}")
    if prob.n_lp + prob.n_cone_rows != prob.G.shape[0]:
        raise CBFError(f"cannot write CBF: n_lp {prob.n_lp} + cone rows {prob.n_cone_rows} != "
                       f"rows of G {prob.G.shape[0]}")
    lay = _layout(prob)
    fixed, free_l, free_u = lay["fixed"], lay["free_l"], lay["free_u"]
    n_eq, n_fx, n_lp, n_lb, n_ub = prob.n_eq, fixed.size, prob.n_lp, free_l.size, free_u.size
    n_q = prob.n_cone_rows
    m = n_eq + n_fx + n_lp + n_lb + n_ub + n_q
    off_fx = n_eq
    off_lp = off_fx + n_fx
    off_lb = off_lp + n_lp
    off_ub = off_lb + n_lb
    off_q = off_ub + n_ub

    # ---- coordinates, row by row (CON row index, var, value) and constants
    R: List[np.ndarray] = []
    C: List[np.ndarray] = []
    V: List[np.ndarray] = []
    BR: List[np.ndarray] = []
    BV: List[np.ndarray] = []
    r, cc, v = _rows_of(prob.A)                               # A x - b
    R.append(r); C.append(cc); V.append(v)
    BR.append(np.arange(n_eq)); BV.append(-np.asarray(prob.b, float))
    R.append(off_fx + np.arange(n_fx)); C.append(fixed); V.append(np.ones(n_fx))   # x - v
    BR.append(off_fx + np.arange(n_fx)); BV.append(-prob.lb[fixed])
    G = sp.csr_matrix(prob.G)
    r, cc, v = _rows_of(G[:n_lp])                             # h - G x (LP)
    R.append(off_lp + r); C.append(cc); V.append(-v)
    BR.append(off_lp + np.arange(n_lp)); BV.append(np.asarray(prob.h[:n_lp], float))
    R.append(off_lb + np.arange(n_lb)); C.append(free_l); V.append(np.ones(n_lb))   # x - lb
    BR.append(off_lb + np.arange(n_lb)); BV.append(-prob.lb[free_l])
    R.append(off_ub + np.arange(n_ub)); C.append(free_u); V.append(-np.ones(n_ub))  # ub - x
    BR.append(off_ub + np.arange(n_ub)); BV.append(np.asarray(prob.ub[free_u], float))
    r, cc, v = _rows_of(G[n_lp:])                             # h - G x (cones)
    R.append(off_q + r); C.append(cc); V.append(-v)
    BR.append(off_q + np.arange(n_q)); BV.append(np.asarray(prob.h[n_lp:], float))
    R_, C_, V_ = (np.concatenate(R).astype(np.int64), np.concatenate(C).astype(np.int64),
                  np.concatenate(V).astype(float))
    BR_, BV_ = np.concatenate(BR).astype(np.int64), np.concatenate(BV).astype(float)
    nzb = BV_ != 0.0
    BR_, BV_ = BR_[nzb], BV_[nzb]

    # ---- CON cone lines (consecutive linear parts of one type merged)
    cones: List[str] = []
    if n_eq + n_fx:
        cones.append(f"L= {n_eq + n_fx}")
    if n_lp + n_lb + n_ub:
        cones.append(f"L+ {n_lp + n_lb + n_ub}")
    cones.extend(f"Q {int(q)}" for q in prob.cone_sizes)

    # ---- header comments: readable block list + machine layout
    layout = {"format": LAYOUT_FORMAT, "version": LAYOUT_VERSION, "n": n,
              "rows": {"eq": n_eq, "fixed": n_fx, "lp": n_lp, "lb": n_lb, "ub": n_ub,
                       "cone": n_q},
              "cone_sizes": [int(q) for q in prob.cone_sizes]}
    out: List[str] = ["VER", str(CBF_VERSION), ""]
    out.append(f"# written by tsodso: min c'x + c0, {n} variables, {m} CON rows "
               f"({n_eq} eq, {n_fx} fixed, {n_lp} lp, {n_lb} lower, {n_ub} upper, "
               f"{len(prob.cone_sizes)} cones in {n_q} rows)")
    for name, (sl, shape) in prob.var_blocks.items():
        out.append(f"# var {name} {shape}: VAR {sl.start}..{sl.stop - 1}")
    for kind, blocks, off in (("eq", prob.eq_blocks, 0), ("lp", prob.ineq_blocks, off_lp),
                              ("cone", prob.cone_blocks, off_q - n_lp)):
        for name, sl in blocks.items():
            if sl.stop > sl.start:
                out.append(f"# {kind} {name}: CON {off + sl.start}..{off + sl.stop - 1}")
    out.append("# tsodso " + json.dumps(layout, separators=(",", ":")))
    for kind, blocks in (("var_blocks", None), ("eq_blocks", prob.eq_blocks),
                         ("ineq_blocks", prob.ineq_blocks), ("cone_blocks", prob.cone_blocks)):
        if kind == "var_blocks":
            items = {k: [sl.start, sl.stop, list(shape)] for k, (sl, shape) in prob.var_blocks.items()}
        else:
            items = {k: [sl.start, sl.stop] for k, sl in blocks.items()}
        for k, val in items.items():
            out.append("# tsodso " + json.dumps({kind: {k: val}}, separators=(",", ":")))
    out.append("")
    out += ["OBJSENSE", "MIN", ""]
    out += ["VAR", f"{n} 1", f"F {n}", ""]
    if prob.integer.size:
        out += ["INT", str(int(prob.integer.size))]
        out += [str(int(j)) for j in prob.integer]
        out.append("")
    if m:
        out += ["CON", f"{m} {len(cones)}"] + cones + [""]
    nzc = np.flatnonzero(np.asarray(prob.c) != 0.0)
    if nzc.size:
        out += ["OBJACOORD", str(nzc.size)]
        out += [f"{j} {_r(prob.c[j])}" for j in nzc]
        out.append("")
    if prob.c0 != 0.0:
        out += ["OBJBCOORD", _r(prob.c0), ""]
    if V_.size:
        out += ["ACOORD", str(V_.size)]
        out += [f"{i} {j} {_r(a)}" for i, j, a in zip(R_.tolist(), C_.tolist(), V_.tolist())]
        out.append("")
    if BV_.size:
        out += ["BCOORD", str(BV_.size)]
        out += [f"{i} {_r(a)}" for i, a in zip(BR_.tolist(), BV_.tolist())]
        out.append("")
    write_text_atomic(path, "\n".join(out) + "\n")




# =============================================================================== reader
class _Lines:
    """Non-blank, non-comment lines with their 1-based line numbers; collects layout comments."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.items: List[Tuple[int, str]] = []
        self.layout: List[Tuple[int, str]] = []
        for no, raw in enumerate(text.splitlines(), start=1):
            s = raw.strip()
            if not s:
                continue
            if s.startswith("#"):
                if s.startswith("# tsodso {") or s.startswith("#tsodso {"):
                    self.layout.append((no, s.split("tsodso", 1)[1].strip()))
                continue
            self.items.append((no, s))
        self.k = 0
        self.last_no = len(text.splitlines())

    def error(self, no: Optional[int], keyword: str, msg: str) -> CBFError:
        where = f"{self.path}:{no}" if no is not None else self.path
        return CBFError(f"{where}: {keyword}: {msg}")

    def next(self, keyword: str, what: str) -> Tuple[int, str]:
        if self.k >= len(self.items):
            raise self.error(self.last_no, keyword, f"file ends where {what} was expected")
        item = self.items[self.k]
        self.k += 1
        return item

    def done(self) -> bool:
        return self.k >= len(self.items)

    def ints(self, keyword: str, what: str, count: int) -> Tuple[int, List[int]]:
        no, s = self.next(keyword, what)
        tok = s.split()
        if len(tok) != count:
            raise self.error(no, keyword, f"expected {what} ({count} integer(s)), got {s!r}")
        try:
            return no, [int(t) for t in tok]
        except ValueError:
            raise self.error(no, keyword, f"expected {what} (integers), got {s!r}") from None

    def entry(self, keyword: str, n_int: int) -> Tuple[int, List[int], float]:
        """One coordinate line: n_int integer indices then one value."""
        no, s = self.next(keyword, "a coordinate line")
        tok = s.split()
        if len(tok) != n_int + 1:
            raise self.error(no, keyword, f"expected {n_int} index(es) and a value, got {s!r}")
        try:
            idx = [int(t) for t in tok[:n_int]]
        except ValueError:
            raise self.error(no, keyword, f"bad index in {s!r}") from None
        try:
            val = float(tok[n_int])
        except ValueError:
            raise self.error(no, keyword, f"bad number {tok[n_int]!r}") from None
        if not math.isfinite(val):
            raise self.error(no, keyword, f"value {tok[n_int]!r} is not finite")
        return no, idx, val


def _read_cones(L: _Lines, keyword: str) -> Tuple[int, List[Tuple[str, int]]]:
    no, (total, k) = L.ints(keyword, "'<number of scalars> <number of cones>'", 2)
    if total < 0 or k < 0:
        raise L.error(no, keyword, f"negative size in '{total} {k}'")
    cones: List[Tuple[str, int]] = []
    for _ in range(k):
        cno, s = L.next(keyword, "a cone line '<type> <dim>'")
        tok = s.split()
        if len(tok) != 2:
            raise L.error(cno, keyword, f"expected '<type> <dim>', got {s!r}")
        typ = tok[0]
        if typ not in _CONE_TYPES:
            raise L.error(cno, keyword, f"cone type {typ!r} is not supported "
                          f"(supported: {', '.join(_CONE_TYPES)})")
        try:
            dim = int(tok[1])
        except ValueError:
            raise L.error(cno, keyword, f"bad cone dimension {tok[1]!r}") from None
        if dim < 1:
            raise L.error(cno, keyword, f"cone dimension {dim} < 1")
        if typ == "Q" and dim < 1 or typ == "QR" and dim < 2:
            raise L.error(cno, keyword, f"{typ} cone of dimension {dim} is too small")
        if keyword == "CON" and typ == "F":
            raise L.error(cno, keyword, "free cone F in CON is not supported")
        cones.append((typ, dim))
    if sum(d for _, d in cones) != total:
        raise L.error(no, keyword, f"cone dimensions add up to {sum(d for _, d in cones)}, "
                      f"header says {total}")
    return total, cones


def read_cbf(path) -> ConicProblem:
    """Read a CBF file (see module docstring for what is accepted) into a `ConicProblem`."""
    path = os.fspath(path)
    try:
        with open(path, "r") as f:
            text = f.read()
    except OSError as e:
        raise CBFError(f"{path}: cannot read: {e.strerror or e}") from None
    L = _Lines(path, text)

    version = None
    sense = None
    var_cones: Optional[List[Tuple[str, int]]] = None
    n = m = None
    con_cones: List[Tuple[str, int]] = []
    integer: List[int] = []
    c_entries: Dict[int, float] = {}
    c0 = 0.0
    a_rows: List[int] = []
    a_cols: List[int] = []
    a_vals: List[float] = []
    b_entries: Dict[int, float] = {}
    seen = set()

    while not L.done():
        no, kw = L.next("", "a keyword")
        if kw in seen:
            raise L.error(no, kw, "section appears twice")
        if version is None and kw != "VER":
            raise L.error(no, kw, "the first section must be VER")
        seen.add(kw)
        if kw == "VER":
            vno, (version,) = L.ints(kw, "the format version", 1)
            if version not in _SUPPORTED_VERSIONS:
                raise L.error(vno, kw, f"CBF version {version} is not supported "
                              f"(supported: {_SUPPORTED_VERSIONS})")
        elif kw == "OBJSENSE":
            sno, s = L.next(kw, "MIN or MAX")
            if s not in ("MIN", "MAX"):
                raise L.error(sno, kw, f"expected MIN or MAX, got {s!r}")
            sense = s
        elif kw == "VAR":
            n, var_cones = _read_cones(L, kw)
        elif kw == "CON":
            if n is None:
                raise L.error(no, kw, "CON before VAR")
            m, con_cones = _read_cones(L, kw)
        elif kw == "INT":
            if n is None:
                raise L.error(no, kw, "INT before VAR")
            cno, (k,) = L.ints(kw, "the number of integer variables", 1)
            for _ in range(k):
                ino, (j,) = L.ints(kw, "a variable index", 1)
                if not 0 <= j < n:
                    raise L.error(ino, kw, f"variable index {j} outside 0..{n - 1}")
                integer.append(j)
        elif kw == "OBJACOORD":
            if n is None:
                raise L.error(no, kw, "OBJACOORD before VAR")
            cno, (k,) = L.ints(kw, "the number of entries", 1)
            for _ in range(k):
                eno, (j,), v = L.entry(kw, 1)
                if not 0 <= j < n:
                    raise L.error(eno, kw, f"variable index {j} outside 0..{n - 1}")
                c_entries[j] = c_entries.get(j, 0.0) + v
        elif kw == "OBJBCOORD":
            eno, _, c0 = L.entry(kw, 0)
        elif kw == "ACOORD":
            if n is None or m is None:
                raise L.error(no, kw, "ACOORD before VAR and CON")
            cno, (k,) = L.ints(kw, "the number of entries", 1)
            for _ in range(k):
                eno, (i, j), v = L.entry(kw, 2)
                if not 0 <= i < m:
                    raise L.error(eno, kw, f"constraint index {i} outside 0..{m - 1}")
                if not 0 <= j < n:
                    raise L.error(eno, kw, f"variable index {j} outside 0..{n - 1}")
                a_rows.append(i); a_cols.append(j); a_vals.append(v)
        elif kw == "BCOORD":
            if m is None:
                raise L.error(no, kw, "BCOORD before CON")
            cno, (k,) = L.ints(kw, "the number of entries", 1)
            for _ in range(k):
                eno, (i,), v = L.entry(kw, 1)
                if not 0 <= i < m:
                    raise L.error(eno, kw, f"constraint index {i} outside 0..{m - 1}")
                b_entries[i] = b_entries.get(i, 0.0) + v
        elif kw in _UNSUPPORTED:
            raise L.error(no, kw, "section is not supported (no semidefinite / power cones "
                          "or parametric changes)")
        else:
            raise L.error(no, kw, "unknown keyword")

    if version is None:
        raise L.error(None, "VER", "no VER section (empty file?)")
    if n is None:
        raise L.error(None, "VAR", "no VAR section")
    m = m or 0
    c = np.zeros(n)
    for j, v in c_entries.items():
        c[j] = v
    acon = sp.csr_matrix((np.asarray(a_vals, float), (np.asarray(a_rows, np.int64),
                                                      np.asarray(a_cols, np.int64))), shape=(m, n))
    acon.sum_duplicates()
    bcon = np.zeros(m)
    for i, v in b_entries.items():
        bcon[i] = v
    meta = {"source": path, "cbf_version": version, "objsense": sense or "MIN"}
    if sense == "MAX":
        c, c0 = -c, -c0
    integer_arr = np.unique(np.asarray(integer, np.int64))

    layout = _parse_layout(L)
    if layout is not None:
        return _rebuild(L, layout, n, m, var_cones, con_cones, c, c0, acon, bcon,
                        integer_arr, meta)
    return _general(n, m, var_cones, con_cones, c, c0, acon, bcon, integer_arr, meta)


def _parse_layout(L: _Lines) -> Optional[dict]:
    if not L.layout:
        return None
    merged: dict = {"var_blocks": {}, "eq_blocks": {}, "ineq_blocks": {}, "cone_blocks": {}}
    for no, s in L.layout:
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise L.error(no, "# tsodso", f"bad layout comment: {e}") from None
        if not isinstance(obj, dict):
            raise L.error(no, "# tsodso", "layout comment is not a JSON object")
        for k, v in obj.items():
            if k in merged and isinstance(merged[k], dict) and isinstance(v, dict):
                merged[k].update(v)
            else:
                merged[k] = v
        merged.setdefault("_line", no)
    no = merged["_line"]
    if merged.get("format") != LAYOUT_FORMAT:
        raise L.error(no, "# tsodso", f"layout format {merged.get('format')!r} is not {LAYOUT_FORMAT!r}")
    if merged.get("version") != LAYOUT_VERSION:
        raise L.error(no, "# tsodso", f"layout version {merged.get('version')!r} is not "
                      f"{LAYOUT_VERSION} (written by another tsodso version; refusing to guess)")
    return merged


def _rebuild(L: _Lines, lay: dict, n, m, var_cones, con_cones, c, c0, acon, bcon, integer, meta):
    """Exact inverse of `write_cbf`, checked against the layout comments."""
    no = lay["_line"]
    try:
        rows = lay["rows"]
        n_eq, n_fx, n_lp, n_lb, n_ub, n_q = (int(rows[k]) for k in ("eq", "fixed", "lp", "lb", "ub", "cone"))
        cone_sizes = [int(q) for q in lay["cone_sizes"]]
    except (KeyError, TypeError, ValueError) as e:
        raise L.error(no, "# tsodso", f"layout comment lacks or garbles {e}") from None

    def bad(msg):
        return L.error(no, "# tsodso", f"layout disagrees with the file: {msg}")

    if lay.get("n") != n or var_cones != [("F", n)]:
        raise bad(f"expected VAR '{n} 1' / 'F {n}' for n = {lay.get('n')}")
    expect = []
    if n_eq + n_fx:
        expect.append(("L=", n_eq + n_fx))
    if n_lp + n_lb + n_ub:
        expect.append(("L+", n_lp + n_lb + n_ub))
    expect += [("Q", q) for q in cone_sizes]
    if con_cones != expect or sum(cone_sizes) != n_q:
        raise bad(f"CON cones {con_cones} != expected {expect}")
    o_fx, o_lp = n_eq, n_eq + n_fx
    o_lb = o_lp + n_lp
    o_ub, o_q = o_lb + n_lb, o_lb + n_lb + n_ub
    A = acon[:n_eq]
    b = -bcon[:n_eq]
    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)

    def single(lo, hi, coef, what):
        blk = acon[lo:hi]
        if np.any(np.diff(blk.indptr) != 1) or np.any(blk.data != coef):
            raise bad(f"{what} rows {lo}..{hi - 1} are not single {coef:+g} coefficients")
        return blk.indices.copy()

    j = single(o_fx, o_lp, 1.0, "fixed-variable")
    lb[j] = ub[j] = -bcon[o_fx:o_lp]
    j = single(o_lb, o_ub, 1.0, "lower-bound")
    lb[j] = -bcon[o_lb:o_ub]
    j = single(o_ub, o_q, -1.0, "upper-bound")
    ub[j] = bcon[o_ub:o_q]
    G = sp.vstack([-acon[o_lp:o_lb], -acon[o_q:]], format="csc")
    h = np.concatenate([bcon[o_lp:o_lb], bcon[o_q:]])
    G.sum_duplicates(); G.sort_indices()
    A = sp.csc_matrix(A); A.sum_duplicates(); A.sort_indices()
    var_blocks = {k: (slice(int(v[0]), int(v[1])), tuple(int(s) for s in v[2]))
                  for k, v in lay["var_blocks"].items()}
    eq_blocks = {k: slice(int(v[0]), int(v[1])) for k, v in lay["eq_blocks"].items()}
    ineq_blocks = {k: slice(int(v[0]), int(v[1])) for k, v in lay["ineq_blocks"].items()}
    cone_blocks = {k: slice(int(v[0]), int(v[1])) for k, v in lay["cone_blocks"].items()}
    meta["layout"] = f"{LAYOUT_FORMAT} {LAYOUT_VERSION}"
    return ConicProblem(c=c, c0=float(c0), A=A, b=b, G=G, h=h, n_lp=n_lp, cone_sizes=cone_sizes,
                        lb=lb, ub=ub, integer=integer, var_blocks=var_blocks, eq_blocks=eq_blocks,
                        ineq_blocks=ineq_blocks, cone_blocks=cone_blocks, meta=meta)


def _general(n, m, var_cones, con_cones, c, c0, acon, bcon, integer, meta):
    """Any CBF with F/L+/L-/L=/Q/QR cones: map rows into the ECOS layout."""
    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    eq_rows: List[sp.csr_matrix] = []
    eq_rhs: List[np.ndarray] = []
    lp_rows: List[sp.csr_matrix] = []       # rows of M with  M x + d >= 0
    lp_const: List[np.ndarray] = []
    cone_rows: List[sp.csr_matrix] = []     # Q cone vectors  M x + d
    cone_const: List[np.ndarray] = []
    cone_sizes: List[int] = []
    I = sp.identity(n, format="csr")

    def add_cone(typ, M, d):
        if typ == "Q":
            cone_rows.append(M); cone_const.append(d); cone_sizes.append(M.shape[0])
        else:   # QR -> Q:  (u1 + u2, u1 - u2, sqrt(2) w)
            k = M.shape[0]
            T = sp.lil_matrix((k, k))
            T[0, 0] = T[0, 1] = T[1, 0] = 1.0
            T[1, 1] = -1.0
            for r in range(2, k):
                T[r, r] = math.sqrt(2.0)
            T = sp.csr_matrix(T)
            cone_rows.append(T @ M); cone_const.append(T @ d); cone_sizes.append(k)

    k = 0
    for typ, dim in var_cones:
        sl = slice(k, k + dim)
        if typ == "L+":
            lb[sl] = np.maximum(lb[sl], 0.0)
        elif typ == "L-":
            ub[sl] = np.minimum(ub[sl], 0.0)
        elif typ == "L=":
            lb[sl] = 0.0; ub[sl] = 0.0
        elif typ in ("Q", "QR"):
            add_cone(typ, I[sl], np.zeros(dim))
        k += dim
    k = 0
    for typ, dim in con_cones:
        M, d = acon[k:k + dim], bcon[k:k + dim]
        if typ == "L=":
            eq_rows.append(M); eq_rhs.append(-d)
        elif typ == "L+":
            lp_rows.append(M); lp_const.append(d)
        elif typ == "L-":
            lp_rows.append(-M); lp_const.append(-d)
        else:
            add_cone(typ, M, d)
        k += dim

    def vst(blocks):
        if not blocks:
            return sp.csc_matrix((0, n))
        M = sp.vstack(blocks, format="csc")
        M.sum_duplicates(); M.sort_indices()
        return M

    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))
    A, b = vst(eq_rows), cat(eq_rhs)
    Gl, hl = -vst(lp_rows), cat(lp_const)
    Gq, hq = -vst(cone_rows), cat(cone_const)
    G = sp.vstack([Gl, Gq], format="csc")
    G.sum_duplicates(); G.sort_indices()
    n_lp = Gl.shape[0]
    return ConicProblem(c=c, c0=float(c0), A=A, b=b, G=G, h=np.concatenate([hl, hq]), n_lp=n_lp,
                        cone_sizes=cone_sizes, lb=lb, ub=ub, integer=integer,
                        var_blocks={"x": (slice(0, n), (n,))},
                        eq_blocks={"cbf_eq": slice(0, A.shape[0])},
                        ineq_blocks={"cbf_lp": slice(0, n_lp)},
                        cone_blocks={"cbf_cones": slice(n_lp, G.shape[0])}, meta=meta)
