"""SCIP (through PySCIPOpt) as the independent reference solver for `ConicProblem`s.

`solve_scip(prob)` builds the SCIP model straight from our matrices:

    variables   x_j with [lb_j, ub_j], integer where j in prob.integer
    rows        A x = b;  G_lp x <= h_lp
    cones       for each cone (rows k..k+q-1 of G), auxiliary continuous variables
                t = h_k - G_k x  (t >= 0)  and  z_i = h_i - G_i x  (free), linear equalities,
                and the quadratic constraint  sum_i z_i^2 - t^2 <= 0.
                With t >= 0 this is exactly ||z|| <= t; SCIP's SOC nonlinear handler
                recognises it and separates tangent cuts of the cone.
    objective   c'x with the constant c0 as SCIP's objective offset.

`solve_scip_file(path)` lets SCIP read a CBF file. The SCIP 10.0.2 library inside the
PySCIPOpt 6.3 wheel has no CBF reader (SCIP's reader_cbf lives in SCIP-SDP; `readProblem`
fails with "a required plugin was not found"), so when SCIP refuses the file it is parsed
by `_cbf_into_scip` below: a second, minimal CBF parser written from the specification that
shares no code with `tsodso.conic.cbf` and adds each CBF cone as SCIP constraints directly
(QR natively as 2 u1 u2 >= ||w||^2, u1, u2 >= 0; no conversion to ECOS layout).
`ScipResult.reader` says which one read the file.

Mandatory settings (issue 4): `propagating/obbt/freq = -1` (optimisation-based bound
tightening took 110 of 120 s on a prototype instance) and an Ipopt options file with
`mumps_pivot_order 2` (the Ipopt/MUMPS/METIS inside the wheel aborts otherwise), passed
through the SCIP parameter `nlpi/ipopt/optfile` (checked: Ipopt reads the file; its options
take precedence over the ones SCIP sets).

Statuses are mapped strictly: "optimal" only when SCIP says "optimal". With `gap > 0`,
SCIP stops at that relative gap with status "gaplimit", reported as "gap_limit".

PySCIPOpt is a test/benchmark dependency only and is imported lazily.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import scipy.sparse as sp

from .problem import ConicProblem

__all__ = ["ScipResult", "solve_scip", "solve_scip_file", "STATUS_MAP", "IPOPT_OPTIONS"]

IPOPT_OPTIONS = "mumps_pivot_order 2\n"

# SCIP status string (Model.getStatus) -> ours. Anything not listed maps to "unknown".
STATUS_MAP = {
    "optimal": "optimal",
    "infeasible": "infeasible",
    "unbounded": "unbounded",
    "inforunbd": "infeasible_or_unbounded",
    "timelimit": "time_limit",
    "gaplimit": "gap_limit",
    "nodelimit": "node_limit",
    "totalnodelimit": "node_limit",
    "stallnodelimit": "node_limit",
    "memlimit": "memory_limit",
    "sollimit": "solution_limit",
    "bestsollimit": "solution_limit",
    "restartlimit": "restart_limit",
    "primallimit": "objective_limit",
    "duallimit": "objective_limit",
    "userinterrupt": "interrupted",
    "terminate": "interrupted",
    "unknown": "unknown",
}


@dataclass
class ScipResult:
    status: str                      # ours (STATUS_MAP); "optimal" only if SCIP says so
    objective: float                 # best primal value incl. c0 (nan without a solution)
    best_bound: float                # SCIP's dual bound incl. c0
    gap: float                       # SCIP's relative gap (inf when undefined)
    x: Optional[np.ndarray]          # best solution in our variable order (None if none)
    nodes: int
    seconds: float                   # SCIP solving time (getSolvingTime)
    build_seconds: float = 0.0       # building / reading the model
    scip_status: str = ""            # SCIP's own status string
    reader: str = "matrices"         # "matrices", "scip" (readProblem) or "tsodso-scip-cbf"
    settings: Dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def _pyscipopt():
    try:
        import pyscipopt  # noqa: WPS433 (lazy: test/benchmark dependency)
    except ImportError as e:   # pragma: no cover - exercised only without the package
        raise ImportError("tsodso.conic.scip needs PySCIPOpt (the reference solver for tests and "
                          "benchmarks): pip install 'tsodso[test]' or pip install pyscipopt") from e
    return pyscipopt


def _new_model(time_limit, gap, threads, verbose, workdir, params=None):
    ps = _pyscipopt()
    model = ps.Model()
    if not verbose:
        model.hideOutput()
    optfile = os.path.join(workdir, "ipopt.opt")
    with open(optfile, "w") as f:
        f.write(IPOPT_OPTIONS)
    settings = {"propagating/obbt/freq": -1, "nlpi/ipopt/optfile": optfile,
                "limits/gap": float(gap), "lp/threads": int(threads)}
    if time_limit is not None:
        settings["limits/time"] = float(time_limit)
    settings.update(params or {})
    for k, v in settings.items():
        model.setParam(k, v)
    settings["nlpi/ipopt/optfile"] = "ipopt.opt: " + IPOPT_OPTIONS.strip()   # temp file, removed after
    return ps, model, settings


def _finish(model, x_vars, t_build, settings, reader) -> ScipResult:
    t0 = time.perf_counter()
    model.optimize()
    wall = time.perf_counter() - t0
    raw = model.getStatus()
    status = STATUS_MAP.get(raw, "unknown")
    x = None
    obj = math.nan
    if model.getNSols() > 0:
        sol = model.getBestSol()
        x = np.array([model.getSolVal(sol, v) for v in x_vars], float)
        obj = float(model.getSolObjVal(sol))
    try:
        bound = float(model.getDualbound())
    except Exception:   # pragma: no cover - SCIP stage issues
        bound = math.nan
    try:
        gap = float(model.getGap())
    except Exception:   # pragma: no cover
        gap = math.inf
    seconds = float(model.getSolvingTime())
    settings = dict(settings)
    settings["wall_seconds"] = wall
    return ScipResult(status=status, objective=obj, best_bound=bound, gap=gap, x=x,
                      nodes=int(model.getNTotalNodes()), seconds=seconds, build_seconds=t_build,
                      scip_status=raw, reader=reader, settings=settings)


def _linexpr(ps, vars_, cols, vals):
    return ps.quicksum(float(a) * vars_[int(j)] for j, a in zip(cols, vals))


def solve_scip(prob: ConicProblem, time_limit: Optional[float] = None, gap: float = 1e-6,
               threads: int = 1, verbose: bool = False, params: Optional[dict] = None) -> ScipResult:
    """Solve `prob` (integrality enforced) with SCIP built from our matrices.

    `params`: extra SCIP parameters (name -> value), applied after the defaults above.
    """
    t0 = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="tsodso-scip-")
    try:
        ps, model, settings = _new_model(time_limit, gap, threads, verbose, workdir, params)
        n = prob.n
        is_int = np.zeros(n, bool)
        is_int[prob.integer] = True
        x = []
        for j in range(n):
            lb = None if not np.isfinite(prob.lb[j]) else float(prob.lb[j])
            ub = None if not np.isfinite(prob.ub[j]) else float(prob.ub[j])
            x.append(model.addVar(name=f"x{j}", vtype="I" if is_int[j] else "C", lb=lb, ub=ub))
        A = sp.csr_matrix(prob.A)
        for i in range(A.shape[0]):
            lo, hi = A.indptr[i], A.indptr[i + 1]
            model.addCons(_linexpr(ps, x, A.indices[lo:hi], A.data[lo:hi]) == float(prob.b[i]),
                          name=f"eq{i}")
        G = sp.csr_matrix(prob.G)
        for i in range(prob.n_lp):
            lo, hi = G.indptr[i], G.indptr[i + 1]
            model.addCons(_linexpr(ps, x, G.indices[lo:hi], G.data[lo:hi]) <= float(prob.h[i]),
                          name=f"lp{i}")
        k = prob.n_lp
        for ci, q in enumerate(prob.cone_sizes):
            s = []
            for r in range(k, k + q):
                lo, hi = G.indptr[r], G.indptr[r + 1]
                v = model.addVar(name=f"s{r}", vtype="C", lb=0.0 if r == k else None, ub=None)
                # s_r = h_r - G_r x   <=>   s_r + G_r x = h_r
                model.addCons(v + _linexpr(ps, x, G.indices[lo:hi], G.data[lo:hi]) == float(prob.h[r]),
                              name=f"cone{ci}_row{r - k}")
                s.append(v)
            if q > 1:
                model.addCons(ps.quicksum(v * v for v in s[1:]) - s[0] * s[0] <= 0.0,
                              name=f"soc{ci}")
            k += q
        model.setObjective(ps.quicksum(float(prob.c[j]) * x[j] for j in np.flatnonzero(prob.c)),
                           "minimize")
        if prob.c0 != 0.0:
            model.addObjoffset(float(prob.c0))
        return _finish(model, x, time.perf_counter() - t0, settings, "matrices")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def solve_scip_file(path, time_limit: Optional[float] = None, gap: float = 1e-6,
                    threads: int = 1, verbose: bool = False) -> ScipResult:
    """Solve the CBF file `path` with SCIP; x is in the file's variable order.

    SCIP's own reader is tried first (`Model.readProblem`); if this SCIP has no CBF reader
    the file is read by `_cbf_into_scip` (see module docstring).
    """
    path = os.fspath(path)
    t0 = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="tsodso-scip-")
    try:
        ps, model, settings = _new_model(time_limit, gap, threads, verbose, workdir)
        reader = "scip"
        try:
            model.readProblem(path)
            x = list(model.getVars())       # creation order = the file's VAR order
        except Exception as e:   # no CBF plugin in this SCIP build
            if "plugin" not in str(e):
                raise
            ps, model, settings = _new_model(time_limit, gap, threads, verbose, workdir)
            x = _cbf_into_scip(ps, model, path)
            reader = "tsodso-scip-cbf"
        return _finish(model, x, time.perf_counter() - t0, settings, reader)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------ second CBF parser
def _cbf_into_scip(ps, model, path) -> List:
    """Read CBF (VER 1-3; VAR F/L+/L-/L=/Q/QR; CON L+/L-/L=/Q/QR; INT; OBJSENSE;
    OBJACOORD; OBJBCOORD; ACOORD; BCOORD) straight into `model`; returns the variables.

    Deliberately independent of tsodso.conic.cbf: token stream, no ECOS layout.
    """
    with open(path) as f:
        lines = [ln.strip() for ln in f]
    toks = [ln for ln in lines if ln and not ln.startswith("#")]
    pos = 0

    def take():
        nonlocal pos
        if pos >= len(toks):
            raise ValueError(f"{path}: unexpected end of file")
        pos += 1
        return toks[pos - 1]

    sense, varcones, concones = "MIN", [], []
    ints, objc, objb, acoord, bcoord = [], {}, 0.0, [], {}
    nvar = ncon = 0
    while pos < len(toks):
        kw = take()
        if kw == "VER":
            take()
        elif kw == "OBJSENSE":
            sense = take()
        elif kw in ("VAR", "CON"):
            tot, k = map(int, take().split())
            cones = []
            for _ in range(k):
                t, d = take().split()
                cones.append((t, int(d)))
            if kw == "VAR":
                nvar, varcones = tot, cones
            else:
                ncon, concones = tot, cones
        elif kw == "INT":
            ints = [int(take()) for _ in range(int(take()))]
        elif kw == "OBJACOORD":
            for _ in range(int(take())):
                j, v = take().split()
                objc[int(j)] = objc.get(int(j), 0.0) + float(v)
        elif kw == "OBJBCOORD":
            objb = float(take())
        elif kw == "ACOORD":
            for _ in range(int(take())):
                i, j, v = take().split()
                acoord.append((int(i), int(j), float(v)))
        elif kw == "BCOORD":
            for _ in range(int(take())):
                i, v = take().split()
                bcoord[int(i)] = bcoord.get(int(i), 0.0) + float(v)
        else:
            raise ValueError(f"{path}: keyword {kw!r} not supported by the SCIP bridge")

    intset = set(ints)
    x = []
    j = 0
    for typ, d in varcones:
        for _ in range(d):
            lb = 0.0 if typ in ("L+", "L=") else None
            ub = 0.0 if typ in ("L-", "L=") else None
            x.append(model.addVar(name=f"x{j}", vtype="I" if j in intset else "C", lb=lb, ub=ub))
            j += 1
    if j != nvar:
        raise ValueError(f"{path}: VAR cones cover {j} of {nvar} variables")
    rows: List[dict] = [dict() for _ in range(ncon)]
    for i, jj, v in acoord:
        rows[i][jj] = rows[i].get(jj, 0.0) + v

    def expr(i):   # affine expression of CON row i
        return ps.quicksum(v * x[jj] for jj, v in rows[i].items()) + bcoord.get(i, 0.0)

    def add_cone(typ, exprs, name):
        if typ == "Q":
            t = model.addVar(name=f"{name}_t", vtype="C", lb=0.0, ub=None)
            model.addCons(t == exprs[0])
            zs = []
            for r, e in enumerate(exprs[1:]):
                z = model.addVar(name=f"{name}_z{r}", vtype="C", lb=None, ub=None)
                model.addCons(z == e)
                zs.append(z)
            if zs:
                model.addCons(ps.quicksum(z * z for z in zs) <= t * t, name=name)
        else:   # QR: 2 u1 u2 >= ||w||^2, u1, u2 >= 0
            u1 = model.addVar(name=f"{name}_u1", vtype="C", lb=0.0, ub=None)
            u2 = model.addVar(name=f"{name}_u2", vtype="C", lb=0.0, ub=None)
            model.addCons(u1 == exprs[0])
            model.addCons(u2 == exprs[1])
            ws = []
            for r, e in enumerate(exprs[2:]):
                w = model.addVar(name=f"{name}_w{r}", vtype="C", lb=None, ub=None)
                model.addCons(w == e)
                ws.append(w)
            if ws:
                model.addCons(ps.quicksum(w * w for w in ws) <= 2.0 * u1 * u2, name=name)

    j = 0
    for ci, (typ, d) in enumerate(varcones):
        if typ in ("Q", "QR"):
            add_cone(typ, [x[jj] + 0.0 for jj in range(j, j + d)], f"varcone{ci}")
        j += d
    i = 0
    for ci, (typ, d) in enumerate(concones):
        if typ == "L=":
            for r in range(i, i + d):
                model.addCons(expr(r) == 0.0)
        elif typ == "L+":
            for r in range(i, i + d):
                model.addCons(expr(r) >= 0.0)
        elif typ == "L-":
            for r in range(i, i + d):
                model.addCons(expr(r) <= 0.0)
        elif typ in ("Q", "QR"):
            add_cone(typ, [expr(r) for r in range(i, i + d)], f"concone{ci}")
        else:
            raise ValueError(f"{path}: CON cone {typ!r} not supported by the SCIP bridge")
        i += d
    objective = ps.quicksum(v * x[jj] for jj, v in objc.items())
    model.setObjective(objective, "maximize" if sense == "MAX" else "minimize")
    if objb != 0.0:
        model.addObjoffset(objb)
    return x
