"""Benchmark: the decomposition at scale (20 / 50 ADNs x 24 h) side by side with SCIP (issue 11).

    python bench/bench_scale.py [--adns 5,20,50] [--hours 24] [--seed 0] [--start 0]
                                [--time-limit 300[,600,...]] [--solvers decomposition,scip]
                                [--root auto|staged|monolithic] [--root-only 100,200]
                                [--workers 1] [--cache DIR] [--json FILE] [--full-solves auto|never]

Each (N, solver) runs in its own child process, one at a time, so `peak MB` (getrusage maxrss
of the child: interpreter, libraries, problem and solver) is per run. `--time-limit` takes one
value or one per N. Every child builds the same big-M problem (`build_dso_led`, KKT presolve
on); with `--cache DIR` the certified PCC box and the KKT presolve come from a warm-start
cache (schemes/warm.py; `cache` column: hit or computed), otherwise `build s` includes the
presolve's HiGHS MILPs.

Ours: `solve_dso_led(method="decomposition")`'s solver call (schemes/dso_led._run_method:
(ADN, hour) blocks, whole-hour refinement, staged multipliers and hour-by-hour recovery when
a monolithic ECOS solve is predicted too slow), ECOS reltol 1e-6 / abstol 1e-7 / feastol 1e-8,
rel_gap 1e-3 (the issue's 20/50-ADN target). `first bound s`: when the first proven bound above
-inf existed; `blocks`: (ADN, hour) + TN + cross blocks; `root`: where the first multipliers
came from (staged / monolithic). SCIP: conic/scip.py settings (as bench/bench_decomp.py: obbt
off, Ipopt `mumps_pivot_order 2`), 1 thread, gap 1e-3, same time limit, on the exported MISOCP;
it may not finish its root at 20/50 ADNs: its row shows what it has at the limit.

`--full-solves never`: DecompositionSettings(full_solves=False), the large-N path (staged
multipliers, linked / hour-by-hour recovery, no full-size ECOS solve, no tree) forced at any
N, e.g. for the memory of that path at 20 ADNs; `auto` (default) = `tsodso solve`'s rule.

`--root-only N,...`: for large N (100, 200) only the build and the first Lagrangian bound (no
recovery, no refinement, no tree): `decomposition_root_bound` of tsodso/solver/decomposition.

The `uptime` load is printed with every row: timings under load are not benchmarks.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_decomp import _load, _peak_mb  # noqa: E402  (one copy of the load / peak-RSS readers)


def _build(adns, hours, seed, start, cache_dir):
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import build_dso_led
    system = load_system(adns=adns, hours=hours, seed=seed, start=start)
    hit = "none"
    if cache_dir:
        from tsodso.data.cache import WarmCache
        from tsodso.schemes.warm import cached_analysis
        pcc, pres, warm = cached_analysis(system, system.n_hours, WarmCache(cache_dir), True)
        hit = ",".join(f"{k}:{v}" for k, v in sorted(warm.items())) if warm else "?"
        prob, lay = build_dso_led(system, complementarity="bigm", pcc_certified=pcc, presolved=pres)
    else:
        prob, lay = build_dso_led(system, complementarity="bigm")
    return prob, lay, hit


def worker(solver, adns, hours, seed, start, time_limit, root, workers, cache_dir, root_only, full="auto"):
    sys.path.insert(0, ROOT)
    t0 = time.perf_counter()
    prob, lay, hit = _build(adns, hours, seed, start, cache_dir)
    build = time.perf_counter() - t0
    out = {"solver": solver, "adns": adns, "hours": hours, "seed": seed, "start": start,
           "time_limit": time_limit, "build_seconds": build, "cache": hit, "variables": int(prob.n),
           "binaries": int(prob.integer.size), "nnz": int(prob.A.nnz + prob.G.nnz), "load_start": _load(),
           "full_solves": full}
    t0 = time.perf_counter()
    if solver == "decomposition":
        from tsodso.schemes.dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL, _run_method
        from tsodso.schemes.heuristics import make_follower_response_heuristic
        from tsodso.solver import BnBOptions
        from tsodso.solver.decomposition.solve import DecompositionSettings
        opts = BnBOptions(time_limit=time_limit, rel_gap=1e-3, verbose=True, log_stream=sys.stderr,
                          ecos_reltol=NODE_RELTOL, ecos_abstol=NODE_ABSTOL, ecos_feastol=NODE_FEASTOL)
        st = DecompositionSettings(root=root, workers=workers, full_solves=False if full == "never" else None)
        if root_only:
            from tsodso.formulation.blocks import decomposition_labels, staged_stages
            from tsodso.solver.decomposition import decomposition_root_bound
            labels, names = decomposition_labels(prob, lay, "adn_hour")
            stages, _ = staged_stages(prob, lay)
            rb = decomposition_root_bound(prob, labels, names, stages, opts, settings=st)
            out.update(status="root_only", objective=math.nan, bound=rb.bound, gap=math.nan,
                       first_bound_seconds=rb.seconds, blocks=rb.blocks, root=rb.root_mode,
                       staged_seconds=rb.staged_seconds, block_seconds=rb.block_seconds,
                       untrusted=rb.untrusted_blocks)
        else:
            r = _run_method("decomposition", prob, lay, opts, [make_follower_response_heuristic(lay)], None,
                            settings=st)
            hist = [(t, b) for t, b in r.bound_history if b > -math.inf]
            lg = getattr(r, "lagrangian", {})
            out.update(status=r.status, objective=r.objective, bound=r.best_bound, gap=r.rel_gap,
                       first_bound_seconds=hist[0][0] if hist else None, blocks=lg.get("blocks"),
                       root=lg.get("root_mode"), nodes=r.nodes, untrusted=r.inaccurate_solves,
                       ecos_seconds=r.ecos_seconds,
                       bound_history_usd=[(t, b * 1000.0) for t, b in hist],
                       incumbent_history_usd=[(t, v * 1000.0) for t, v in r.incumbent_history],
                       lagrangian={k: v for k, v in lg.items() if k != "bound_history"})
    elif solver == "scip":
        from tsodso.conic.scip import solve_scip
        r = solve_scip(prob, time_limit=time_limit, gap=1e-3)
        out.update(status=r.status, objective=r.objective, bound=r.best_bound,
                   gap=(r.objective - r.best_bound) / max(1.0, abs(r.objective))
                   if r.objective is not None and math.isfinite(r.objective) else math.nan,
                   first_bound_seconds=None, blocks=None, root=None, nodes=getattr(r, "nodes", None))
    else:
        raise SystemExit(f"bench_scale: --solvers: unknown solver {solver!r}")
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = _peak_mb()
    out["load_end"] = _load()
    print(json.dumps(out, default=float))


def _usd(v):
    # SCIP reports +-1e20 (its infinity) for a bound it does not have
    return "-" if v is None or not math.isfinite(v) or abs(v) >= 1e19 else f"{v * 1000.0:,.2f}"


def _fmt(r):
    gap = r.get("gap")
    g = "-" if gap is None or not math.isfinite(gap) else f"{100 * gap:.3f} %"
    fb = r.get("first_bound_seconds")
    solver = r["solver"] + (", no full-size solves" if r.get("full_solves") == "never" else "")
    return (f"| {r['adns']} | {solver} | {r.get('root') or '-'} | {r['build_seconds']:.1f} | "
            f"{'-' if fb is None else f'{fb:.1f}'} | {_usd(r.get('bound'))} | {_usd(r.get('objective'))} | "
            f"{g} | {r.get('status')} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r.get('blocks') or '-'} | "
            f"{' '.join(r['load_start'])} / {' '.join(r['load_end'])} |")


HEADER = ("| ADNs | solver | root | build s | first bound s | bound $ | incumbent $ | gap | status | "
          "seconds | peak MB | blocks | load start / end |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adns", default="5,20,50")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--time-limit", default="300")
    ap.add_argument("--solvers", default="decomposition,scip")
    ap.add_argument("--root", default="auto", choices=["auto", "staged", "monolithic"])
    ap.add_argument("--root-only", default="", help="ADN counts for the root bound only (e.g. 100,200)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--full-solves", default="auto", choices=["auto", "never"])
    ap.add_argument("--worker", nargs=11, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        s, n, h, seed, st, tl, root, w, cache, ro, full = a.worker
        worker(s, int(n), int(h), int(seed), int(st), float(tl), root, int(w),
               None if cache == "-" else cache, ro == "1", full)
        return
    adns = [int(x) for x in a.adns.split(",") if x]
    tls = [float(x) for x in a.time_limit.split(",")]
    if adns and len(tls) not in (1, len(adns)):
        raise SystemExit(f"bench_scale: --time-limit {a.time_limit}: one value or one per ADN count")
    tls = tls * len(adns) if len(tls) == 1 else tls
    runs = [(n, s, tl, "0") for n, tl in zip(adns, tls) for s in a.solvers.split(",")]
    runs += [(int(n), "decomposition", float(a.time_limit.split(",")[-1]), "1") for n in a.root_only.split(",") if n]
    print(f"uptime load at start: {' '.join(_load())}", flush=True)
    print(HEADER, flush=True)
    rows = []
    for n, s, tl, ro in runs:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", s, str(n), str(a.hours), str(a.seed),
               str(a.start), str(tl), a.root, str(a.workers), a.cache or "-", ro, a.full_solves]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode != 0 or not lines:
            print(f"| {n} | {s} | failed (exit {p.returncode}): {p.stderr.strip().splitlines()[-1:]} |", flush=True)
            continue
        r = json.loads(lines[-1])
        r["log_tail"] = [ln for ln in p.stderr.splitlines() if "decomposition" in ln or "lagrangian" in ln][-40:]
        rows.append(r)
        print(_fmt(r), flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1, default=float)


if __name__ == "__main__":
    main()
