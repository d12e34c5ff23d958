"""MATPOWER `.m` case reader and converters to tsodso's types.

`read_case(path)` parses the data statements of a MATPOWER case file (format version 2):

    function mpc = name                      (ignored)
    mpc.version = '2';                       (scalar or string: kept in `MatpowerCase.scalars`)
    mpc.baseMVA = 100;
    mpc.bus = [ ... ];  mpc.gen = [ ... ];  mpc.branch = [ ... ];  mpc.gencost = [ ... ];

Comments (`%` to end of line), `;` or newlines as row ends, `,` or blanks between entries and
`...` line continuations are understood. Cell arrays (`mpc.x = { ... };`) are skipped. Any
other statement (e.g. MATLAB code converting units, as at the end of MATPOWER's own
case33bw.m) is rejected with a `CaseError`: the reader does not execute code, and silently
skipping a unit conversion would misread the data by orders of magnitude. MATPOWER's
distribution cases as distributed (ohm, kW, then that code) are read with
`read_case(path, units="kw_ohm")` (scenario key `feeder_units: "kw_ohm"`): the code is
skipped and the documented conversion applied by tsodso (see `read_case`).

Arrays are float64 and indexed with the named constants of `tsodso.data.columns`.
Every error is a `CaseError` naming file, row (1-based row of the matrix), field and value.

Converters:
* `transmission_from_case` -> `Transmission` (DC model: x in pu, ratings in MW, quadratic
  costs from gencost model 2; MATPOWER rateA = 0 means unlimited and becomes `inf`).
* `feeder_from_case` -> `Feeder` (radial ADN network: lines re-oriented away from the root,
  buses renumbered 0..n-1 with the root at 0, r and x in pu on the case's own base).
"""
from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from . import columns as C
from .errors import CaseError
from .validate_input import read_text
from .system import Transmission

_MATRIX_MIN_COLS = {"bus": C.N_BUS_COLS, "gen": C.N_GEN_COLS, "branch": C.N_BRANCH_COLS,
                    "gencost": C.COST + 1}
_BUS_FIELDS = ["BUS_I", "BUS_TYPE", "PD", "QD", "GS", "BS", "BUS_AREA", "VM", "VA", "BASE_KV",
               "ZONE", "VMAX", "VMIN"]
_GEN_FIELDS = ["GEN_BUS", "PG", "QG", "QMAX", "QMIN", "VG", "MBASE", "GEN_STATUS", "PMAX",
               "PMIN"]
_BRANCH_FIELDS = ["F_BUS", "T_BUS", "BR_R", "BR_X", "BR_B", "RATE_A", "RATE_B", "RATE_C",
                  "TAP", "SHIFT", "BR_STATUS", "ANGMIN", "ANGMAX"]
_FIELDS = {"bus": _BUS_FIELDS, "gen": _GEN_FIELDS, "branch": _BRANCH_FIELDS,
           "gencost": ["MODEL", "STARTUP", "SHUTDOWN", "NCOST"]}


def _field_name(matrix: str, col: int) -> str:
    names = _FIELDS.get(matrix, [])
    name = names[col] if col < len(names) else f"col{col + 1}"
    return f"mpc.{matrix}.{name}"


@dataclass
class MatpowerCase:
    """Raw MATPOWER data: float arrays indexed by `tsodso.data.columns` constants."""

    file: str
    base_mva: float
    bus: np.ndarray
    gen: np.ndarray
    branch: np.ndarray
    gencost: Optional[np.ndarray]
    scalars: Dict[str, object] = field(default_factory=dict)
    lines: Dict[str, np.ndarray] = field(default_factory=dict)  # file line of each matrix row

    @property
    def n_bus(self) -> int:
        return self.bus.shape[0]

    def bus_index(self) -> Dict[int, int]:
        """MATPOWER bus number -> row index."""
        return {int(b): i for i, b in enumerate(self.bus[:, C.BUS_I])}


# ------------------------------------------------------------------------------- parsing
_ASSIGN = re.compile(r"^\s*mpc\.(\w+)\s*=\s*(.*)$", re.S)


def _strip_comment(line: str) -> str:
    """Drop `%` comments, leaving `%` inside single-quoted strings alone."""
    out, in_str = [], False
    for ch in line:
        if ch == "'":
            in_str = not in_str
        elif ch == "%" and not in_str:
            break
        out.append(ch)
    return "".join(out)


def _logical_lines(text: str):
    """Yield (first_line_no, text) with comments removed and `...` continuations joined."""
    buf, start = "", None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).rstrip()
        if start is None:
            start = no
        if line.endswith("..."):
            buf += line[:-3] + " "
            continue
        buf += line
        if buf.strip():
            yield start, buf
        buf, start = "", None
    if buf.strip():
        yield start, buf


def _parse_number(tok: str, path: str, row: int, fld: str, line_no: int) -> float:
    try:
        return float(tok)
    except ValueError:
        t = tok.lower()
        if t in ("inf", "+inf"):
            return np.inf
        if t == "-inf":
            return -np.inf
        if t == "nan":
            return np.nan
        raise CaseError(path, fld, tok, f"not a number (line {line_no})", row=row) from None


UNITS = ("pu", "kw_ohm")


def read_case(path, units: str = "pu") -> MatpowerCase:
    """Parse a MATPOWER case file into a `MatpowerCase` and validate it (see module doc).

    units="kw_ohm": the convention of MATPOWER's distribution cases as distributed (case33bw.m,
    case69.m, case141.m ...): branch r, x in ohm and bus PD, QD in kW / kvar, followed by MATLAB
    code converting them. That code is not executed: every statement other than
    `mpc.<name> = ...` is skipped and tsodso applies the documented conversion itself,
    r, x [ohm] / (BASE_KV of the first bus^2 / baseMVA) -> pu and PD, QD / 1000 -> MW, Mvar.
    """
    path = str(path)
    if units not in UNITS:
        raise CaseError(path, "units", units, f"unknown case units (one of {', '.join(UNITS)})")
    text = read_text(path, "case file")

    scalars: Dict[str, object] = {}
    mats: Dict[str, list] = {}
    mat_lines: Dict[str, list] = {}
    it = _logical_lines(text)
    for line_no, line in it:
        s = line.strip()
        if s.startswith("function"):
            continue
        m = _ASSIGN.match(s)
        if not m:
            if units == "kw_ohm":
                continue        # MATPOWER's unit-conversion code: applied below, not executed
            raise CaseError(path, "statement", s[:60],
                            f"line {line_no}: not a MATPOWER data statement; the reader does "
                            "not execute MATLAB code (convert units in the data, or for a "
                            "distribution case in kW / ohm set the scenario's feeder_units: kw_ohm)")
        name, rhs = m.group(1), m.group(2).strip()
        if rhs.startswith("[") or rhs.startswith("{"):
            close = "]" if rhs[0] == "[" else "}"
            body, body_lines = [], []
            cur, cur_no = rhs[1:], line_no
            while True:
                if close in cur:
                    before, after = cur.split(close, 1)
                    body.append((cur_no, before))
                    if after.strip() not in ("", ";"):
                        raise CaseError(path, f"mpc.{name}", after.strip(),
                                        f"line {cur_no}: unexpected text after '{close}'")
                    break
                body.append((cur_no, cur))
                try:
                    cur_no, cur = next(it)
                except StopIteration:
                    raise CaseError(path, f"mpc.{name}", "[", f"line {line_no}: matrix "
                                    f"never closed with '{close}'") from None
            if close == "}":
                continue  # cell arrays (bus names etc.) are not used
            rows = []
            for no, chunk in body:
                for piece in chunk.split(";"):
                    toks = piece.replace(",", " ").split()
                    if toks:
                        rows.append((no, toks))
            data = []
            for r, (no, toks) in enumerate(rows, start=1):
                data.append([_parse_number(t, path, r, _field_name(name, c), no)
                             for c, t in enumerate(toks)])
                body_lines.append(no)
            widths = {len(d) for d in data}
            if len(widths) > 1:
                w0 = len(data[0])
                bad = next(i for i, d in enumerate(data) if len(d) != w0)
                raise CaseError(path, f"mpc.{name}", len(data[bad]),
                                f"row has {len(data[bad])} entries, row 1 has {w0}",
                                row=bad + 1)
            mats[name] = data
            mat_lines[name] = body_lines
        else:
            val = rhs.rstrip(";").strip()
            if val.startswith("'") and val.endswith("'"):
                scalars[name] = val[1:-1]
            else:
                scalars[name] = _parse_number(val, path, None, f"mpc.{name}", line_no)

    if "baseMVA" not in scalars:
        raise CaseError(path, "mpc.baseMVA", None, "missing")
    base_mva = scalars["baseMVA"]
    if not isinstance(base_mva, float) or not np.isfinite(base_mva) or base_mva <= 0:
        raise CaseError(path, "mpc.baseMVA", base_mva, "must be a positive number")
    arrays = {}
    for name in ("bus", "gen", "branch", "gencost"):
        if name not in mats:
            if name == "gencost":
                arrays[name] = None
                continue
            raise CaseError(path, f"mpc.{name}", None, "matrix missing")
        a = np.array(mats[name], dtype=float)
        if a.ndim != 2 or a.shape[0] == 0:
            raise CaseError(path, f"mpc.{name}", a.shape, "empty matrix")
        if a.shape[1] < _MATRIX_MIN_COLS[name]:
            raise CaseError(path, f"mpc.{name}", a.shape[1],
                            f"needs at least {_MATRIX_MIN_COLS[name]} columns", row=1)
        arrays[name] = a
    case = MatpowerCase(file=path, base_mva=float(base_mva), bus=arrays["bus"],
                        gen=arrays["gen"], branch=arrays["branch"], gencost=arrays["gencost"],
                        scalars=scalars,
                        lines={k: np.array(v) for k, v in mat_lines.items()})
    validate_case(case)
    if units == "kw_ohm":
        kv = case.bus[0, C.BASE_KV]
        if not kv > 0:
            raise _err(case, "bus", 0, C.BASE_KV, kv, "kw_ohm units need the first bus's BASE_KV > 0")
        zbase = kv ** 2 / case.base_mva                     # ohm
        case.branch[:, [C.BR_R, C.BR_X]] /= zbase
        case.bus[:, [C.PD, C.QD]] /= 1e3
        case.scalars["units_converted"] = f"kw_ohm: r, x / {zbase:.6g} ohm; PD, QD / 1000"
    return case


# ---------------------------------------------------------------------------- validation
def _err(case: MatpowerCase, matrix: str, row0: int, col: int, value, reason: str):
    line = case.lines.get(matrix)
    where = f" (line {int(line[row0])})" if line is not None and row0 < len(line) else ""
    return CaseError(case.file, _field_name(matrix, col), value, reason + where, row=row0 + 1)


# columns where MATPOWER data may hold +-Inf: reactive limits, ratings, angle limits
_INF_ALLOWED = {"gen": (C.QMAX, C.QMIN), "branch": (C.RATE_A, C.RATE_B, C.RATE_C, C.ANGMIN, C.ANGMAX)}


def validate_case(case: MatpowerCase) -> None:
    """Generic checks: finite numbers, unique bus ids, known bus references, consistent limits."""
    for name in ("bus", "gen", "branch", "gencost"):
        a = getattr(case, name)
        if a is None:
            continue
        ncol = {"bus": C.N_BUS_COLS, "gen": C.N_GEN_COLS, "branch": C.N_BRANCH_COLS}.get(
            name, a.shape[1])
        sub = a[:, :ncol]
        bad = np.argwhere(np.isnan(sub))
        if bad.size:
            r, c = bad[0]
            raise _err(case, name, r, c, a[r, c], "NaN")
        inf_ok = _INF_ALLOWED.get(name, ())
        bad = [(r, c) for r, c in np.argwhere(np.isinf(sub)) if c not in inf_ok]
        if bad:
            r, c = bad[0]
            raise _err(case, name, r, c, a[r, c],
                       "infinite (open a branch with BR_STATUS 0; rateA 0 means unlimited)"
                       if name == "branch" else "infinite")
    bus = case.bus
    ids = bus[:, C.BUS_I]
    for r, b in enumerate(ids):
        if b <= 0 or b != np.round(b):
            raise _err(case, "bus", r, C.BUS_I, b, "bus number must be a positive integer")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        b = uniq[counts > 1][0]
        r = int(np.nonzero(ids == b)[0][1])
        raise _err(case, "bus", r, C.BUS_I, b, "duplicate bus number")
    for r in range(bus.shape[0]):
        if bus[r, C.VMIN] > bus[r, C.VMAX]:
            raise _err(case, "bus", r, C.VMIN, bus[r, C.VMIN],
                       f"VMIN > VMAX = {bus[r, C.VMAX]}")
        if bus[r, C.BASE_KV] < 0:
            raise _err(case, "bus", r, C.BASE_KV, bus[r, C.BASE_KV], "negative base voltage")
    known = set(ids.tolist())
    for r, b in enumerate(case.gen[:, C.GEN_BUS]):
        if b not in known:
            raise _err(case, "gen", r, C.GEN_BUS, b, "unknown bus id")
        if case.gen[r, C.PMIN] > case.gen[r, C.PMAX]:
            raise _err(case, "gen", r, C.PMIN, case.gen[r, C.PMIN],
                       f"PMIN > PMAX = {case.gen[r, C.PMAX]}")
    for r in range(case.branch.shape[0]):
        for col in (C.F_BUS, C.T_BUS):
            b = case.branch[r, col]
            if b not in known:
                raise _err(case, "branch", r, col, b, "unknown bus id")
        if case.branch[r, C.F_BUS] == case.branch[r, C.T_BUS]:
            raise _err(case, "branch", r, C.T_BUS, case.branch[r, C.T_BUS],
                       "branch connects a bus to itself")
        if case.branch[r, C.RATE_A] < 0:
            raise _err(case, "branch", r, C.RATE_A, case.branch[r, C.RATE_A],
                       "negative rating (0 means unlimited)")
    gc = case.gencost
    if gc is not None:
        if gc.shape[0] not in (case.gen.shape[0], 2 * case.gen.shape[0]):
            raise CaseError(case.file, "mpc.gencost", gc.shape[0],
                            f"needs one row per generator ({case.gen.shape[0]})")
        for r in range(case.gen.shape[0]):
            model, n = gc[r, C.MODEL], gc[r, C.NCOST]
            if model not in (C.PW_LINEAR, C.POLYNOMIAL):
                raise _err(case, "gencost", r, C.MODEL, model, "cost model must be 1 or 2")
            need = C.COST + (int(n) if model == C.POLYNOMIAL else 2 * int(n))
            if n < 1 or n != np.round(n) or gc.shape[1] < need:
                raise _err(case, "gencost", r, C.NCOST, n,
                           f"row has {gc.shape[1]} columns, NCOST needs {need}")


# ---------------------------------------------------------------------------- converters
def gen_cost_coefficients(case: MatpowerCase):
    """(c2 [$/MW^2h], c1 [$/MWh], c0 [$/h]) per in-service generator from gencost model 2."""
    on = case.gen[:, C.GEN_STATUS] > 0
    if case.gencost is None:
        raise CaseError(case.file, "mpc.gencost", None, "matrix missing: OPF needs costs")
    out = np.zeros((case.gen.shape[0], 3))
    for r in range(case.gen.shape[0]):
        model, n = case.gencost[r, C.MODEL], int(case.gencost[r, C.NCOST])
        if model != C.POLYNOMIAL:
            raise _err(case, "gencost", r, C.MODEL, model,
                       "only polynomial costs (model 2) are supported")
        if n > 3:
            raise _err(case, "gencost", r, C.NCOST, n,
                       "polynomial of degree > 2 not supported (QP follower)")
        coef = case.gencost[r, C.COST:C.COST + n]      # highest order first
        out[r, 3 - n:] = coef
        if out[r, 0] < 0:
            raise _err(case, "gencost", r, C.COST, out[r, 0],
                       "negative quadratic coefficient makes the OPF non-convex")
    return out[on, 0], out[on, 1], out[on, 2]


def transmission_from_case(case: MatpowerCase, load_mw: Optional[np.ndarray] = None,
                           cost_scale: float = 1.0) -> Transmission:
    """DC model of a MATPOWER case.

    Only in-service generators and branches are kept. `line_x_pu` = BR_X (pu on baseMVA;
    tap ratios are ignored by the DC model), `line_rate_mw` = RATE_A (MVA taken as MW;
    RATE_A = 0, i.e. unlimited in MATPOWER, becomes `inf`). Costs: c2, c1, c0 from gencost
    model 2 times `cost_scale`. `load_mw` (T, nb) defaults to the case's PD as one hour.
    """
    bus = case.bus
    idx = case.bus_index()
    ref = np.nonzero(bus[:, C.BUS_TYPE] == C.REF)[0]
    if ref.size == 0:
        raise CaseError(case.file, "mpc.bus.BUS_TYPE", 3, "no reference bus (type 3)")
    br_on = np.nonzero(case.branch[:, C.BR_STATUS] > 0)[0]
    for r in br_on:
        if not case.branch[r, C.BR_X] > 0:
            raise _err(case, "branch", r, C.BR_X, case.branch[r, C.BR_X],
                       "non-positive reactance (DC model needs x > 0)")
    br = case.branch[br_on]
    gen_on = case.gen[:, C.GEN_STATUS] > 0
    gen = case.gen[gen_on]
    c2, c1, c0 = gen_cost_coefficients(case)
    rate = br[:, C.RATE_A].copy()
    rate[rate == 0] = np.inf
    if load_mw is None:
        load_mw = bus[:, C.PD][None, :].copy()
    _check_connected(case, br_on, root=int(ref[0]))
    return Transmission(
        base_mva=case.base_mva,
        bus_id=bus[:, C.BUS_I].astype(int),
        ref_bus=int(ref[0]),
        load_mw=np.asarray(load_mw, dtype=float),
        line_from=np.array([idx[int(b)] for b in br[:, C.F_BUS]], dtype=int),
        line_to=np.array([idx[int(b)] for b in br[:, C.T_BUS]], dtype=int),
        line_x_pu=br[:, C.BR_X].copy(),
        line_rate_mw=rate,
        gen_bus=np.array([idx[int(b)] for b in gen[:, C.GEN_BUS]], dtype=int),
        gen_pmin_mw=gen[:, C.PMIN].copy(),
        gen_pmax_mw=gen[:, C.PMAX].copy(),
        gen_c2_usd_per_mw2h=c2 * cost_scale,
        gen_c1_usd_per_mwh=c1 * cost_scale,
        gen_c0_usd_per_h=c0 * cost_scale,
        source=case.file,
    )


def _check_connected(case: MatpowerCase, br_rows, root: int) -> None:
    idx = case.bus_index()
    adj = [[] for _ in range(case.n_bus)]
    for r in br_rows:
        f, t = idx[int(case.branch[r, C.F_BUS])], idx[int(case.branch[r, C.T_BUS])]
        adj[f].append(t)
        adj[t].append(f)
    seen = np.zeros(case.n_bus, bool)
    seen[root] = True
    q = deque([root])
    while q:
        i = q.popleft()
        for j in adj[i]:
            if not seen[j]:
                seen[j] = True
                q.append(j)
    if not seen.all():
        r = int(np.nonzero(~seen)[0][0])
        raise _err(case, "bus", r, C.BUS_I, case.bus[r, C.BUS_I],
                   "bus not connected to the reference bus by in-service branches")


@dataclass
class Feeder:
    """A radial feeder read from a MATPOWER case, renumbered with the root at index 0.

    `bus_id[i]` is the MATPOWER number of bus i. Lines point parent -> child (away from 0);
    every bus 1..n-1 is the `to` of exactly one line. r, x in pu on (base_kv, base_mva).
    """

    file: str
    base_kv: float
    base_mva: float
    bus_id: np.ndarray
    line_from: np.ndarray
    line_to: np.ndarray
    line_r_pu: np.ndarray
    line_x_pu: np.ndarray
    load_p_mw: np.ndarray     # (nbus,) nominal
    load_q_mvar: np.ndarray   # (nbus,) nominal
    vmin_pu: np.ndarray       # (nbus,) from the case (the scenario may override)
    vmax_pu: np.ndarray

    @property
    def n_bus(self) -> int:
        return self.bus_id.size


def feeder_from_case(case: MatpowerCase) -> Feeder:
    """Radial feeder from a MATPOWER case (e.g. case33bw).

    Root = the reference bus (type 3). In-service branches must form a spanning tree:
    n_bus - 1 of them, all buses reached from the root (else `CaseError`: non-radial or
    disconnected). Buses are renumbered root -> 0, then the others in file order (so for
    case33bw bus k becomes index k-1); each line is oriented parent -> child by a BFS from
    the root; line order is the file order. r and x must be > 0. No unit conversion is done:
    r, x are the file's pu values on its baseMVA and the root's baseKV (MATPOWER's
    case33bw converts its ohms to pu in code; cases/case33bw.m ships the converted numbers).
    """
    bus = case.bus
    ref = np.nonzero(bus[:, C.BUS_TYPE] == C.REF)[0]
    if ref.size != 1:
        raise CaseError(case.file, "mpc.bus.BUS_TYPE", int(ref.size),
                        "a feeder needs exactly one reference bus (type 3) as its root")
    root = int(ref[0])
    order = [root] + [i for i in range(case.n_bus) if i != root]
    new = {old: k for k, old in enumerate(order)}
    idx = case.bus_index()
    for r in range(case.n_bus):
        if bus[r, C.PD] < 0:
            raise _err(case, "bus", r, C.PD, bus[r, C.PD],
                       "negative feeder load (loads are consumption >= 0, MW; local generation is PV)")
    br_on = np.nonzero(case.branch[:, C.BR_STATUS] > 0)[0]
    for r in br_on:
        for col in (C.BR_R, C.BR_X):
            if not case.branch[r, col] > 0:
                raise _err(case, "branch", r, col, case.branch[r, col],
                           "non-positive impedance")
    adj = [[] for _ in range(case.n_bus)]
    for r in br_on:
        f, t = new[idx[int(case.branch[r, C.F_BUS])]], new[idx[int(case.branch[r, C.T_BUS])]]
        adj[f].append((t, r))
        adj[t].append((f, r))
    parent_row = {}
    parent = np.full(case.n_bus, -1)
    seen = np.zeros(case.n_bus, bool)
    seen[0] = True
    q = deque([0])
    while q:
        i = q.popleft()
        for j, r in adj[i]:
            if parent_row.get(i) == r:
                continue  # the edge we came in by
            if seen[j]:
                raise _err(case, "branch", r, C.T_BUS, case.branch[r, C.T_BUS],
                           "non-radial feeder: this in-service branch closes a loop")
            seen[j] = True
            parent[j] = i
            parent_row[j] = r
            q.append(j)
    if not seen.all():
        k = int(np.nonzero(~seen)[0][0])
        old = order[k]
        raise _err(case, "bus", old, C.BUS_I, bus[old, C.BUS_I],
                   "disconnected feeder: bus not reached from the root")
    rows = sorted(parent_row.values())
    child_of_row = {r: j for j, r in parent_row.items()}
    line_to = np.array([child_of_row[r] for r in rows], dtype=int)
    line_from = parent[line_to].astype(int)
    br = case.branch[rows]
    b = bus[order]
    return Feeder(file=case.file, base_kv=float(bus[root, C.BASE_KV]), base_mva=case.base_mva,
                  bus_id=b[:, C.BUS_I].astype(int), line_from=line_from, line_to=line_to,
                  line_r_pu=br[:, C.BR_R].copy(), line_x_pu=br[:, C.BR_X].copy(),
                  load_p_mw=b[:, C.PD].copy(), load_q_mvar=b[:, C.QD].copy(),
                  vmin_pu=b[:, C.VMIN].copy(), vmax_pu=b[:, C.VMAX].copy())
