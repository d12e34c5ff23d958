"""Benchmark: our outer approximation, decomposition and monolithic B&B vs SCIP on the DSO-led MISOCP.

    python bench/bench_decomp.py [--adns 1,2,5] [--hours 24] [--start 0] [--seed 0]
                                 [--time-limit 120] [--solvers oa,decomposition,monolithic,scip]
                                 [--json FILE]
    python bench/bench_decomp.py --diagnose [--adns 1,5] [--day-block-seconds 60] [--json FILE]

`--solvers` takes `oa:FIELD=VALUE;...` too (OASettings fields, values as Python literals, e.g.
`"oa:threads=0"`), for A/B runs of the outer approximation's settings.

Each (instance, solver) runs in its own child process, one at a time. Every child builds the
same big-M problem (`build_dso_led`, KKT presolve on) and reports build and solve separately;
`peak MB` is the child's getrusage maxrss (interpreter, libraries and the problem included).
Ours (`oa`, `decomposition`, `monolithic`): `solve_dso_led(method=...)` tolerances (ECOS reltol 1e-6 / abstol 1e-7 / feastol 1e-8),
rel_gap 1e-4, follower-response heuristic. SCIP: conic/scip.py settings (obbt off, Ipopt
`mumps_pivot_order 2`), 1 thread, gap 1e-4, same time limit. `first bound s` is when the
first proven bound above -inf was available (decomposition: the root Lagrangian), `untrusted`
the ECOS solves without a trusted status (block, recovery and tree solves included).

--diagnose (issue 11 step 0), per ADN count:
* ECOS time split of the root relaxation and of fixed-binary node-like solves: setup
  (ECOS's `tsetup`: ordering + symbolic and first numeric factorisation) vs iterations
  (`tsolve`), from ECOS's own timing info; decides whether reusing the setup across nodes
  (ECOS_updateData) can pay.
* Lagrangian bound at the root ECOS duals with blocks solved to integrality, for (ADN, hour)
  and (ADN, day) blocks: the share of the gap between the root relaxation and the best
  incumbent found here (decomposition recovery) that it closes. (ADN, day) blocks are
  B&B-solved with a time limit per block (`--day-block-seconds`); the block's proven best bound
  is used, so the value is a valid bound either way.

The `uptime` load is printed first: timings under load are not benchmarks.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(solver, adns, hours, seed, start, time_limit):
    sys.path.insert(0, ROOT)
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import build_dso_led
    t0 = time.perf_counter()
    system = load_system(adns=adns, hours=hours, seed=seed, start=start)
    prob, lay = build_dso_led(system, complementarity="bigm")
    build = time.perf_counter() - t0
    out = {"solver": solver, "adns": adns, "hours": hours, "seed": seed, "start": start,
           "build_seconds": build, "binaries": int(prob.integer.size), "load_start": _load()}
    t0 = time.perf_counter()
    method, _, variant = solver.partition(":")
    if method in ("decomposition", "monolithic", "oa"):
        from tsodso.schemes.dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL, _run_method
        from tsodso.schemes.heuristics import make_follower_response_heuristic
        from tsodso.solver import BnBOptions
        opts = BnBOptions(time_limit=time_limit, rel_gap=1e-4, verbose=False, ecos_reltol=NODE_RELTOL,
                          ecos_abstol=NODE_ABSTOL, ecos_feastol=NODE_FEASTOL)
        settings = None
        if variant:      # e.g. "oa:threads=0;user_heuristics='always'": OASettings fields (A/B runs)
            import ast
            from tsodso.solver.oa import OASettings
            kv = dict(item.split("=", 1) for item in variant.split(";"))
            settings = OASettings(**{k: ast.literal_eval(v) for k, v in kv.items()})
        r = _run_method(method, prob, lay, opts, [make_follower_response_heuristic(lay)], None, settings)
        hist = [(t, b * 1000.0) for t, b in r.bound_history if b > float("-inf")]
        out.update(status=r.status, objective=r.objective, bound=r.best_bound, gap=r.rel_gap,
                   nodes=r.nodes, node_solves=r.node_solves, untrusted=r.inaccurate_solves,
                   ecos_seconds=r.ecos_seconds, first_bound_seconds=hist[0][0] if hist else None,
                   bound_history_usd=hist,
                   incumbent_history_usd=[(t, v * 1000.0) for t, v in r.incumbent_history],
                   lagrangian={k: v for k, v in getattr(r, "lagrangian", {}).items() if k != "bound_history"},
                   oa=getattr(r, "oa", None))
    elif solver == "scip":
        from tsodso.conic.scip import solve_scip
        r = solve_scip(prob, time_limit=time_limit, gap=1e-4)
        out.update(status=r.status, objective=r.objective, bound=r.best_bound, gap=r.gap, nodes=r.nodes)
    out["solve_seconds"] = time.perf_counter() - t0
    for k in ("objective", "bound"):
        out[k] = out[k] * 1000.0 if out.get(k) is not None else None     # k$ -> $
    out["peak_mb"] = _peak_mb()
    out["load_end"] = _load()
    print("RESULT " + json.dumps(out, default=float))


def diagnose(adns, hours, seed, start, day_seconds):
    """Step-0 numbers for one instance (module docstring)."""
    sys.path.insert(0, ROOT)
    import ecos
    import numpy as np
    from tsodso.conic import ecos_adapter as ea
    from tsodso.data import load_system
    from tsodso.formulation.blocks import decomposition_labels
    from tsodso.schemes.dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL, build_dso_led
    from tsodso.schemes.heuristics import make_follower_response_heuristic
    from tsodso.solver import BnBOptions
    from tsodso.solver.decomposition import Lagrangian, block_options, decompose
    from tsodso.solver.decomposition.solve import DecompositionSettings, solve as dsolve

    prob, lay = build_dso_led(load_system(adns=adns, hours=hours, seed=seed, start=start))
    tol = dict(reltol=NODE_RELTOL, abstol=NODE_ABSTOL, feastol=NODE_FEASTOL)
    out = {"adns": adns, "hours": hours, "seed": seed, "load_start": _load()}

    def timed(lb, ub):
        data, inv = ea.apply(prob, lb, ub)
        raw = ecos.solve(data["c"], data["G"], data["h"], data["dims"], data["A"], data["b"],
                         verbose=False, **dict(ea.DEFAULT_TOLERANCES, **tol))
        tm = raw["info"]["timing"]
        return raw, float(tm["tsetup"]), float(tm["tsolve"]), float(tm["runtime"]), int(raw["info"]["iter"])

    raw, su, so, rt, it = timed(prob.lb, prob.ub)
    split = [dict(kind="root", setup_s=su, iter_s=so, runtime_s=rt, iterations=it)]
    sol = ea.invert(raw, ea.apply(prob)[1], 0.0)
    root = min(sol.objective, sol.dual_objective)
    rng = np.random.default_rng(0)
    ii = prob.integer
    for k in range(3):     # node-like solves: a random 20 % of the binaries fixed at their rounded root value
        lb, ub = prob.lb.copy(), prob.ub.copy()
        pick = ii[rng.random(ii.size) < 0.2]
        v = np.clip(np.round(sol.x[pick]), lb[pick], ub[pick])
        lb[pick] = ub[pick] = v
        _, su, so, rt, it = timed(lb, ub)
        split.append(dict(kind=f"node{k}", setup_s=su, iter_s=so, runtime_s=rt, iterations=it))
    out["ecos_split"] = split
    out["root_relaxation_usd"] = root * 1000.0

    opts = BnBOptions(verbose=False, ecos_reltol=NODE_RELTOL, ecos_abstol=NODE_ABSTOL, ecos_feastol=NODE_FEASTOL)
    # best incumbent for the gap reference: the decomposition's recovery (no tree)
    labels, names = decomposition_labels(prob, lay, "adn_hour")
    rec = dsolve(prob, labels, names, BnBOptions(**{**opts.__dict__, "node_limit": 1}),
                 heuristics=[make_follower_response_heuristic(lay)],
                 settings=DecompositionSettings(bundle_iterations=0, node_bounds=False))
    inc = rec.objective
    out["reference_incumbent_usd"] = inc * 1000.0
    shapes = {}
    for shape in ("adn_hour", "adn_day"):
        labels, names = decomposition_labels(prob, lay, shape)
        dec = decompose(prob, labels, names)
        over = {"time_limit": day_seconds} if shape == "adn_day" else {}
        lag = Lagrangian(dec, block_options(opts, **over))
        t = time.perf_counter()
        val = lag.evaluate(dec.multipliers_from_duals(sol.y, sol.z))
        shapes[shape] = dict(blocks=len(dec.blocks), multipliers=dec.n_multipliers, bound_usd=val.bound * 1000.0,
                             seconds=time.perf_counter() - t, block_solves=lag.block_solves,
                             ecos_solves=lag.node_solves, untrusted=lag.inaccurate_solves,
                             share_of_gap=(val.bound - root) / (inc - root) if inc > root else None)
    out["lagrangian"] = shapes
    out["peak_mb"] = _peak_mb()
    out["load_end"] = _load()
    print("RESULT " + json.dumps(out, default=float))


def _child(args, timeout):
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "watchdog"}
    line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    return json.loads(line[-1][7:]) if line else {"status": f"crashed (exit {p.returncode})",
                                                   "stderr_tail": p.stderr[-400:]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adns", default="1,2,5")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--solvers", default="oa,decomposition,monolithic,scip")
    ap.add_argument("--diagnose", action="store_true")
    ap.add_argument("--day-block-seconds", type=float, default=60.0)
    ap.add_argument("--json", default=None, help="also write all rows to this file")
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    ap.add_argument("--diag-worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        s, n, T, seed, start, tl = a.worker
        worker(s, int(n), int(T), int(seed), int(start), float(tl))
        return
    if a.diag_worker:
        n, T, seed, start, ds = a.diag_worker
        diagnose(int(n), int(T), int(seed), int(start), float(ds))
        return
    print(f"# load average at start: {' '.join(_load())} (uptime; 2 cores)", flush=True)
    rows = []
    if a.diagnose:
        for n in [int(v) for v in a.adns.split(",")]:
            row = _child(["--diag-worker", str(n), str(a.hours), str(a.seed), str(a.start),
                          str(a.day_block_seconds)], timeout=7200)
            rows.append(row)
            if "ecos_split" not in row:
                print(n, row)
                continue
            for s in row["ecos_split"]:
                print(f"{n:>4} ADNs ECOS {s['kind']:>6}: setup {s['setup_s']:.3f} s, iterations {s['iter_s']:.3f} s "
                      f"({s['iterations']} it), setup share {s['setup_s'] / max(s['runtime_s'], 1e-12):.1%}")
            print(f"{n:>4} ADNs root relaxation {row['root_relaxation_usd']:.2f} $, reference incumbent "
                  f"{row['reference_incumbent_usd']:.2f} $")
            for shape, v in row["lagrangian"].items():
                sh = v["share_of_gap"]
                print(f"{n:>4} ADNs {shape:>8}: {v['blocks']} blocks, {v['multipliers']} multipliers, bound "
                      f"{v['bound_usd']:.2f} $ in {v['seconds']:.1f} s ({v['ecos_solves']} ECOS solves, "
                      f"{v['untrusted']} untrusted), closes {sh:.1%} of the gap" if sh is not None else "", flush=True)
    else:
        print(f"{'ADNs':>4} {'h':>3} {'solver':>13} {'status':>11} {'objective $':>12} {'bound $':>12} "
              f"{'gap':>8} {'nodes':>6} {'untrusted':>9} {'1st bound s':>11} {'build s':>7} {'solve s':>7} "
              f"{'peak MB':>7} {'load':>5}")
        for n in [int(v) for v in a.adns.split(",")]:
            for s in a.solvers.split(","):
                row = _child(["--worker", s, str(n), str(a.hours), str(a.seed), str(a.start), str(a.time_limit)],
                             timeout=a.time_limit * 3 + 900)
                row.setdefault("solver", s)
                row.setdefault("adns", n)
                rows.append(row)
                f = lambda v, fmt: (fmt.format(v) if isinstance(v, (int, float)) and v == v else "-")  # noqa: E731
                print(f"{n:>4} {a.hours:>3} {s:>13} {row.get('status', '?'):>11} {f(row.get('objective'), '{:,.2f}'):>12} "
                      f"{f(row.get('bound'), '{:,.2f}'):>12} {f(row.get('gap'), '{:.3%}'):>8} "
                      f"{f(row.get('nodes'), '{:d}'):>6} {f(row.get('untrusted'), '{:d}'):>9} "
                      f"{f(row.get('first_bound_seconds'), '{:.1f}'):>11} {f(row.get('build_seconds'), '{:.1f}'):>7} "
                      f"{f(row.get('solve_seconds'), '{:.1f}'):>7} {f(row.get('peak_mb'), '{:.0f}'):>7} "
                      f"{(row.get('load_end') or ['?'])[0]:>5}", flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
