"""Issue 11, go/no-go for outer approximation: how strong and how fast is a HiGHS MILP master
over the linear rows plus cone tangents, next to our Lagrangian bound?

    python bench/bench_oa_probe.py [--adns 1] [--hours 24] [--seed 0] [--start 0]
                                   [--time-limit 60] [--rounds 12]

Builds the big-M MISOCP as bench_decomp.py's worker does, solves the root relaxation with ECOS,
replaces every second-order cone by its tangent at the root point (solver/oa/tangents.py: valid
for the whole cone), keeps every linear row, bound and integer, and solves that MILP with
HiGHS (solver/oa/master.py; mip_rel_gap 1e-4, no cutoff, the time limit per round). Then
Kelley rounds: tangents at the violated cones of the master's point, re-solve. Per round: the
HiGHS status, its proven dual bound (a valid MISOCP bound), the master point's objective, the
largest cone violation (||z|| - t) at that point and how many cones it violates, and the load.
No fixed-integer re-solve here (that is `--method oa`).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adns", type=int, default=1)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per master solve")
    ap.add_argument("--rounds", type=int, default=12)
    a = ap.parse_args()
    sys.path.insert(0, ROOT)
    import numpy as np
    from tsodso.conic import ecos_adapter as ea
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import NODE_ABSTOL, NODE_FEASTOL, NODE_RELTOL, build_dso_led
    from tsodso.solver.oa.master import Master
    from tsodso.solver.oa.tangents import ConeIndex

    print(f"# load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (2 cores)", flush=True)
    t0 = time.perf_counter()
    prob, _ = build_dso_led(load_system(adns=a.adns, hours=a.hours, seed=a.seed, start=a.start),
                            complementarity="bigm")
    print(f"build {time.perf_counter() - t0:.1f} s: {prob.size_report()}", flush=True)
    t0 = time.perf_counter()
    sol = ea.solve(prob, reltol=NODE_RELTOL, abstol=NODE_ABSTOL, feastol=NODE_FEASTOL)
    root = min(sol.objective, sol.dual_objective) * 1000.0
    print(f"root relaxation (ECOS {sol.status}) {root:,.2f} $ in {time.perf_counter() - t0:.2f} s", flush=True)
    ci = ConeIndex(prob)
    m = Master(prob)
    C, d = ci.tangents(sol.x)
    m.add_rows(C, d)
    best = -np.inf
    T0 = time.perf_counter()
    for k in range(a.rounds):
        r = m.solve(a.time_limit, 1e-4, 1e-6)
        best = max(best, r.bound)
        viol = ci.violation(r.x)[0] if r.x is not None else np.zeros(1)
        print(f"round {k}: {r.status} in {r.seconds:.1f} s (total {time.perf_counter() - T0:.1f} s), "
              f"{r.nodes} nodes, bound {r.bound * 1000:,.2f} $ (best {best * 1000:,.2f}), master point "
              f"{r.objective * 1000:,.2f} $, max cone violation {viol.max():.2e}, "
              f"{int((viol > 1e-7).sum())} cones violated, {m.cut_rows} tangents, load {os.getloadavg()[0]:.2f}",
              flush=True)
        if r.x is None:
            break
        bad = np.flatnonzero(viol > 1e-7 * np.maximum(1.0, np.abs(ci.violation(r.x)[1])))
        if bad.size == 0:
            break
        m.add_rows(*ci.tangents(r.x, bad))


if __name__ == "__main__":
    main()
