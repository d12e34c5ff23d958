"""ECOS's own branch-and-bound (ECOS_BB), for the benchmark comparison only.

`solve_ecos_bb(prob)` passes the ECOS data of `ecos_adapter.apply` (bounds as LP rows,
fixed variables as equality rows) to `ecos.solve` with `bool_vars_idx` (integer variables
with bounds [0, 1]) and `int_vars_idx` (the other integer variables), and the `mi_*`
options. ECOS_BB has no time limit of its own: with `time_limit` the solve runs in a child
process that is ended when the limit passes (status "time_limit").

ECOS_BB exit flags (ecos_bb.h, aligned with ECOS's since 2015): 0 optimal, 1 infeasible,
2 unbounded, 10 node limit with a feasible point, 11 node limit without one, 12 node limit
unbounded. "Optimal" there means |U - L| <= mi_abs_eps or |U/L - 1| <= mi_rel_eps, and
ECOS_BB's default mi_rel_eps is 1e-3: we pass our gap explicitly.

Statuses are reported strictly: "optimal" only when ECOS_BB says optimal AND the point it
returns satisfies every constraint and integrality (`ConicProblem.residuals`, scaled
tolerance `feas_tol`); otherwise "optimal_claimed_infeasible_point". ECOS_BB is known to be
wrong on some instances:

* cvxpy #578 (2018): min 0 s.t. 0*x <= -1 with x boolean (infeasible) was solved "optimal"
  with value 0 by ECOS_BB; traced to ECOS_BB itself and filed as ecos #166.
* cvxpy #946 (2020): a MISOCP (boolean assignment, log objective) came back "optimal" with
  a point that grossly violates a linear constraint (sum y >= 10); one reason cvxpy dropped
  ECOS_BB as its default integer solver (cvxpy PR #973).
* ecos #166 (2018, open): ECOS_BB returns "Optimal branch and bound solution found" for an
  infeasible problem: every node relaxation is correctly primal infeasible, yet the global
  upper bound is set from an infeasible node. (With ecos 2.0.14 this minimal example now
  returns infeasible; the tests keep it as a regression case.)
"""
from __future__ import annotations

import math
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

import ecos

from .ecos_adapter import apply
from .problem import ConicProblem

__all__ = ["EcosBBResult", "solve_ecos_bb", "STATUS_MAP"]

STATUS_MAP = {
    0: "optimal",
    1: "infeasible",
    2: "unbounded",
    10: "node_limit_feasible",
    11: "node_limit_no_solution",
    12: "node_limit_unbounded",
    -1: "max_iters",
    -2: "numerical_error",
    -3: "outside_cone",
    -4: "interrupted",
    -7: "fatal",
}
_HAS_POINT = {0, 10}


@dataclass
class EcosBBResult:
    status: str                    # strict (see module docstring)
    exit_flag: Optional[int]       # ECOS_BB's flag (None after a time limit)
    objective: float               # c'x + c0 of the returned point (nan without one)
    x: Optional[np.ndarray]
    iterations: int                # B&B iterations (info['mi_iter'])
    seconds: float                 # wall clock of the ecos.solve call (incl. child process)
    claimed_status: str = ""       # what ECOS_BB itself said, mapped by STATUS_MAP
    infostring: str = ""
    residuals: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def _run(data, opts):
    raw = ecos.solve(data["c"], data["G"], data["h"], data["dims"], data["A"], data["b"], **opts)
    info = raw["info"]
    return {"x": np.asarray(raw["x"], float), "exitFlag": int(info["exitFlag"]),
            "mi_iter": int(info.get("mi_iter", 0)), "infostring": str(info.get("infostring", ""))}


def _child(conn, data, opts):   # pragma: no cover - runs in the child process
    try:
        conn.send(("ok", _run(data, opts)))
    except BaseException as e:
        conn.send(("error", repr(e)))
    finally:
        conn.close()


def solve_ecos_bb(prob: ConicProblem, time_limit: Optional[float] = None, gap: float = 1e-6,
                  abs_gap: float = 1e-7, max_nodes: int = 100000, int_tol: float = 1e-6,
                  feas_tol: float = 1e-6, verbose: bool = False) -> EcosBBResult:
    """Solve `prob` with ECOS_BB (see module docstring for the status rules)."""
    data, inverse = apply(prob, scale_columns=False)     # ECOS_BB reads x itself, unscaled
    if inverse["trivial"] is not None:
        return EcosBBResult(status="infeasible", exit_flag=None, objective=math.nan, x=None,
                            iterations=0, seconds=0.0, claimed_status="not run",
                            infostring=inverse["trivial"])
    lb, ub = prob.lb, prob.ub
    # apply() eliminates fixed variables: ECOS_BB sees only the kept ones, renumbered
    pos = -np.ones(prob.n, np.int64)
    pos[inverse["keep"]] = np.arange(inverse["keep"].size)
    ints = np.asarray(prob.integer, np.int64)
    ints = ints[pos[ints] >= 0]
    is_bool = (lb[ints] >= 0.0) & (ub[ints] <= 1.0)
    opts = dict(verbose=verbose, mi_verbose=verbose, mi_max_iters=int(max_nodes),
                mi_abs_eps=float(abs_gap), mi_rel_eps=float(gap), mi_int_tol=float(int_tol),
                bool_vars_idx=[int(j) for j in pos[ints[is_bool]]],
                int_vars_idx=[int(j) for j in pos[ints[~is_bool]]])
    t0 = time.perf_counter()
    if time_limit is None:
        out = _run(data, opts)
    else:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(child, data, opts), daemon=True)
        proc.start()
        child.close()
        ready = parent.poll(max(0.0, float(time_limit)))
        if not ready:
            proc.terminate()
            proc.join(5)
            return EcosBBResult(status="time_limit", exit_flag=None, objective=math.nan, x=None,
                                iterations=0, seconds=time.perf_counter() - t0,
                                claimed_status="time_limit")
        kind, out = parent.recv()
        proc.join(5)
        if kind != "ok":
            raise RuntimeError(f"ECOS_BB failed in the child process: {out}")
    seconds = time.perf_counter() - t0
    flag = out["exitFlag"]
    claimed = STATUS_MAP.get(flag, "fatal")
    x = None
    if flag in _HAS_POINT:
        x = np.zeros(prob.n)
        x[inverse["keep"]] = out["x"]
        x[inverse["fixed"]] = inverse["xF"]
    res = {}
    status = claimed
    obj = math.nan
    if x is not None:
        obj = prob.objective(x)
        res = prob.residuals(x)
        scale = 1.0 + max(np.max(np.abs(prob.b), initial=0.0), np.max(np.abs(prob.h), initial=0.0))
        feasible = (max(res["eq"], res["lp"], res["cone"], res["bound"]) <= feas_tol * scale
                    and res["integrality"] <= max(int_tol, feas_tol))
        if claimed == "optimal" and not feasible:
            status = "optimal_claimed_infeasible_point"
    return EcosBBResult(status=status, exit_flag=flag, objective=obj, x=x,
                        iterations=out["mi_iter"], seconds=seconds, claimed_status=claimed,
                        infostring=out["infostring"], residuals=res)
