"""Benchmark: our branch-and-bound vs SCIP vs ECOS_BB on the same DSO-led MISOCP.

    python bench/bench_bnb.py [--adns 1,2,5] [--hours 24] [--start 0] [--seed 0]
                              [--time-limit 300] [--solvers bnb,scip,ecos_bb] [--json FILE]

Each (instance, solver) runs in its own child process of this script (one process tree,
one solver at a time, so the 2 cores are not shared between solvers; a solver that
crashes or hangs cannot take the others down). Every child builds the same problem with
`build_dso_led` (big-M form, KKT presolve on: the exact matrices `tsodso export` writes)
and reports the build time separately from the solve time.

Printed per run: status, objective and best bound ($), relative gap, nodes, solve seconds,
"t(1e-4)" (the solve time when the status is optimal at rel_gap 1e-4, "> limit" otherwise) and
"x SCIP", its ratio to SCIP's (a bound "<" or ">" when only one of the two proved the gap,
empty when neither did). SCIP settings: obbt off, Ipopt
`mumps_pivot_order 2` (conic/scip.py), 1 thread, gap 1e-4. ECOS_BB: its own defaults,
gap 1e-4, time limit by a watchdog process; its answers are checked (conic/ecos_bb.py).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(solver, adns, hours, seed, start, time_limit):
    sys.path.insert(0, ROOT)
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import build_dso_led
    t0 = time.perf_counter()
    system = load_system(adns=adns, hours=hours, seed=seed, start=start)
    prob, lay = build_dso_led(system, complementarity="bigm")
    build = time.perf_counter() - t0
    out = {"solver": solver, "adns": adns, "hours": hours, "seed": seed, "start": start,
           "build_seconds": build, "binaries": int(prob.integer.size),
           "kkt_presolve": prob.meta.get("kkt_presolve")}
    t0 = time.perf_counter()
    if solver == "bnb":
        from tsodso.schemes.dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL
        from tsodso.schemes.heuristics import make_follower_response_heuristic
        from tsodso.solver import BnBOptions, solve
        opts = BnBOptions(time_limit=time_limit, rel_gap=1e-4, verbose=False, ecos_reltol=NODE_RELTOL,
                          ecos_abstol=NODE_ABSTOL, ecos_feastol=NODE_FEASTOL)
        r = solve(prob, opts, heuristics=[make_follower_response_heuristic(lay)])
        out.update(status=r.status, objective=r.objective, bound=r.best_bound, gap=r.rel_gap,
                   nodes=r.nodes, node_solves=r.node_solves, untrusted=r.inaccurate_solves,
                   ecos_seconds=r.ecos_seconds)
    elif solver == "scip":
        from tsodso.conic.scip import solve_scip
        r = solve_scip(prob, time_limit=time_limit, gap=1e-4)
        out.update(status=r.status, objective=r.objective, bound=r.best_bound, gap=r.gap, nodes=r.nodes)
    elif solver == "ecos_bb":
        from tsodso.conic.ecos_bb import solve_ecos_bb
        r = solve_ecos_bb(prob, time_limit=time_limit, gap=1e-4)
        out.update(status=r.status, objective=r.objective, bound=float("nan"), gap=float("nan"), nodes=None)
    out["solve_seconds"] = time.perf_counter() - t0
    for k in ("objective", "bound"):
        out[k] = out[k] * 1000.0 if out.get(k) is not None else None     # k$ -> $
    print("RESULT " + json.dumps(out, default=float))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adns", default="1,2,5")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--solvers", default="bnb,scip,ecos_bb")
    ap.add_argument("--json", default=None, help="also write all rows to this file")
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        s, n, T, seed, start, tl = a.worker
        worker(s, int(n), int(T), int(seed), int(start), float(tl))
        return
    rows = []
    print(f"{'ADNs':>4} {'h':>3} {'solver':>8} {'status':>12} {'objective $':>14} {'bound $':>14} "
          f"{'gap':>9} {'nodes':>7} {'build s':>8} {'solve s':>8} {'t(1e-4)':>8} {'x SCIP':>7}")
    for n in [int(v) for v in a.adns.split(",")]:
        res = {}
        order = a.solvers.split(",")
        order = [x for x in order if x == "scip"] + [x for x in order if x != "scip"]   # SCIP first: ratios
        for s in order:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", s, str(n), str(a.hours),
                   str(a.seed), str(a.start), str(a.time_limit)]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.time_limit * 3 + 600)
                line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
                row = json.loads(line[-1][7:]) if line else {
                    "solver": s, "adns": n, "status": f"crashed (exit {p.returncode})",
                    "stderr_tail": p.stderr[-300:]}
            except subprocess.TimeoutExpired:
                row = {"solver": s, "adns": n, "status": "watchdog"}
            res[s] = row
            rows.append(row)
            # time to the proven 1e-4 gap: the solve time of an "optimal" run, "> limit" otherwise;
            # the ratio to SCIP only when both proved it (a ratio of two time limits says nothing)
            proved = lambda r: (r.get("status") in ("optimal", "gap_limit")       # noqa: E731
                                and r.get("solve_seconds") is not None)    # SCIP: gap_limit = proved 1e-4
            t_gap = f"{row['solve_seconds']:.1f}" if proved(row) else f">{a.time_limit:g}"
            ratio = ""
            if "scip" in res and s != "scip" and proved(row) and proved(res["scip"]):
                ratio = f"{row['solve_seconds'] / res['scip']['solve_seconds']:.2f}"
            elif "scip" in res and s != "scip" and proved(res["scip"]):
                ratio = f">{a.time_limit / res['scip']['solve_seconds']:.2f}"
            elif "scip" in res and s != "scip" and proved(row):
                ratio = f"<{row['solve_seconds'] / a.time_limit:.2f}"
            f = lambda v, fmt: (fmt.format(v) if isinstance(v, (int, float)) and v == v else "-")  # noqa: E731
            print(f"{n:>4} {a.hours:>3} {s:>8} {row.get('status', '?'):>12} {f(row.get('objective'), '{:.3f}'):>14} "
                  f"{f(row.get('bound'), '{:.3f}'):>14} {f(row.get('gap'), '{:.2e}'):>9} "
                  f"{f(row.get('nodes'), '{:d}'):>7} {f(row.get('build_seconds'), '{:.1f}'):>8} "
                  f"{f(row.get('solve_seconds'), '{:.1f}'):>8} {t_gap:>8} {ratio:>7}", flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
