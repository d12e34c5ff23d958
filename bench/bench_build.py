"""Model build benchmark: `build_dso_led` time and peak memory, Numba vs numpy assembly path.

    python bench/bench_build.py                       # 5, 50, 200 ADNs x 24 h, both paths
    python bench/bench_build.py --adns 5,50 --hours 24 --repeat 3
    python bench/bench_build.py --profile 200         # cProfile of one 200-ADN build (numba path)
    python bench/bench_build.py --phases 200          # wall time per formulation call

What is measured (see bench/README.md):
* build  = wall time of `build_dso_led(system, kkt_presolve=False)` only: the model assembly.
  The system is loaded first (`load_system`, timed separately as `load`); no solve. Best of
  `--repeat` runs. The KKT presolve (analysis/kkt_presolve.py: per-hour HiGHS MILPs that fix
  complementarity pairs, a solver presolve step whose cost does not depend on the matrix
  assembly) is off here; bench_bnb.py includes it in its build column.
* JIT warm-up is EXCLUDED: before timing, each child process builds a 1-ADN, 2-hour model
  with the same path, which compiles the Numba kernels (or loads them from numba's
  on-disk cache) and imports ECOS/scipy. The warm-up time is reported as `warmup`.
* peak_py = tracemalloc peak during one extra build (Python + numpy allocations; tracemalloc
  slows the run, so that build is not timed); maxrss = resource.getrusage maxrss of the child
  process at the end (whole process, including the interpreter and the loaded system).
* Every (N, path) runs in its own child process so maxrss is per configuration.
The child sets TSODSO_NUMBA=0 for the numpy path, the same switch a user would use.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

BUILD_KW = {"kkt_presolve": False}      # assembly only (see the docstring)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _assembly():
    from tsodso.formulation._kernels import assembly   # kernels/ (tsodso.kernels when installed)
    return assembly


def machine() -> dict:
    import numpy
    import scipy
    try:
        import numba
        nb = numba.__version__
    except Exception:  # noqa: BLE001
        nb = "not importable"
    try:
        import ecos
        ec = getattr(ecos, "__version__", "?")
    except Exception:  # noqa: BLE001
        ec = "not importable"
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu": cpu or platform.processor(),
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "numba": nb, "ecos": ec}


# ------------------------------------------------------------------------------ child
def run_one(adns: int, hours: int, repeat: int, seed: int) -> dict:
    import resource
    import tracemalloc
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import build_dso_led
    asm = _assembly()
    out = {"adns": adns, "hours": hours, "path": asm.backend()}
    t0 = time.perf_counter()
    build_dso_led(load_system(adns=1, hours=2, seed=seed), **BUILD_KW)          # JIT warm-up / imports
    out["warmup_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    system = load_system(adns=adns, hours=hours, seed=seed)
    out["load_s"] = time.perf_counter() - t0
    best = float("inf")
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            prob, _lay = build_dso_led(system, **BUILD_KW)
            best = min(best, time.perf_counter() - t0)
            size = prob.size_report()
            del prob, _lay
    except Exception as exc:  # noqa: BLE001 - e.g. ModelError: the TN cannot be certified
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["build_s"] = best
    out.update({k: size[k] for k in ("variables", "integers", "eq_rows", "ineq_rows", "cones", "nnz")})
    tracemalloc.start()
    prob, _lay = build_dso_led(system, **BUILD_KW)
    out["peak_py_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux
    return out


def profile(adns: int, hours: int, seed: int, top: int) -> None:
    import cProfile
    import pstats
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import build_dso_led
    asm = _assembly()
    build_dso_led(load_system(adns=1, hours=2, seed=seed), **BUILD_KW)
    system = load_system(adns=adns, hours=hours, seed=seed)
    pr = cProfile.Profile()
    t0 = time.perf_counter()
    pr.enable()
    build_dso_led(system, **BUILD_KW)
    pr.disable()
    print(f"# cProfile of build_dso_led, {adns} ADNs x {hours} h, path {asm.backend()}, "
          f"{time.perf_counter() - t0:.2f} s under the profiler (warm-up excluded)")
    st = pstats.Stats(pr)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)


PHASES = ("add_distflow", "add_der", "add_settlement", "add_cross_adn", "add_dcopf_primal",
          "derive_dual_bounds", "add_kkt", "reference_follower_costs", "add_weak_duality_cuts",
          "add_leader_costs", "fixed_pairs")


def _phase_modules():
    """The modules through whose globals `build_dso_led` makes the PHASES calls."""
    from tsodso import analysis
    from tsodso.analysis import certified_box
    from tsodso.formulation import bilevel
    return (bilevel, analysis, certified_box)


def phases(adns: int, hours: int, seed: int) -> None:
    """Wall time per analysis / formulation call of one build (the calls `build_dso_led` makes
    through the module globals of tsodso.formulation.bilevel, tsodso.analysis and
    tsodso.analysis.certified_box), plus `ProblemBuilder.build` of the final model."""
    from tsodso.conic import ProblemBuilder
    from tsodso.data import load_system
    from tsodso.schemes.dso_led import build_dso_led
    asm = _assembly()
    build_dso_led(load_system(adns=1, hours=2, seed=seed), **BUILD_KW)
    system = load_system(adns=adns, hours=hours, seed=seed)
    acc = {}

    def timed(name, fn):
        def w(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[name] = acc.get(name, 0.0) + time.perf_counter() - t0
        return w
    saved = {(m, n): getattr(m, n) for m in _phase_modules() for n in PHASES if hasattr(m, n)}
    saved_build = ProblemBuilder.build
    try:
        for (m, n), fn in saved.items():
            setattr(m, n, timed(n, fn))

        def build(self):
            t0 = time.perf_counter()
            out = saved_build(self)
            if self.meta.get("scheme") == "dso-led":           # the final model, not inner OPFs
                acc["ProblemBuilder.build (final)"] = time.perf_counter() - t0
            return out
        ProblemBuilder.build = build
        t0 = time.perf_counter()
        build_dso_led(system, **BUILD_KW)
        total = time.perf_counter() - t0
    finally:
        for (m, n), fn in saved.items():
            setattr(m, n, fn)
        ProblemBuilder.build = saved_build
    print(f"# phases of build_dso_led, {adns} ADNs x {hours} h, path {asm.backend()}, total {total:.3f} s "
          "(warm-up excluded)")
    for n, t in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"{n:>32} {t:8.3f} s {100 * t / total:5.1f} %")
    print(f"{'rest (vars, costs, glue)':>32} {total - sum(acc.values()):8.3f} s")


# ------------------------------------------------------------------------------ parent
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adns", default="5,50,200", help="comma-separated ADN counts")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="timed builds per configuration (best kept)")
    ap.add_argument("--paths", default="numba,numpy")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON as well")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile one N-ADN build and exit")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--phases", type=int, default=0, metavar="N", help="time each formulation call of one N-ADN build")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.profile:
        profile(a.profile, a.hours, a.seed, a.top)
        return 0
    if a.phases:
        phases(a.phases, a.hours, a.seed)
        return 0
    if a.child:
        print(json.dumps(run_one(int(a.adns), a.hours, a.repeat, a.seed)))
        return 0

    m = machine()
    print("# machine: " + ", ".join(f"{k}={v}" for k, v in m.items()))
    print(f"# build_dso_led only (no solve), {a.hours} h, seed {a.seed}, best of {a.repeat}; "
          "JIT warm-up excluded (1-ADN 2-h build first in each child process, shown as warmup)")
    hdr = (f"{'ADNs':>5} {'path':>6} {'build_s':>8} {'warmup_s':>8} {'load_s':>7} {'peak_py_MB':>10} "
           f"{'maxrss_MB':>9} {'variables':>10} {'integers':>8} {'nnz':>9}")
    print(hdr)
    rows = []
    for n in [int(s) for s in a.adns.split(",") if s.strip()]:
        for path in [s.strip() for s in a.paths.split(",") if s.strip()]:
            env = dict(os.environ, TSODSO_NUMBA="1" if path == "numba" else "0")
            env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--adns", str(n),
                   "--hours", str(a.hours), "--repeat", str(a.repeat), "--seed", str(a.seed)]
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            try:
                r = json.loads(res.stdout.strip().splitlines()[-1])
            except Exception:  # noqa: BLE001
                r = {"adns": n, "path": path, "error": (res.stderr.strip().splitlines() or ["?"])[-1]}
            rows.append(r)
            if "error" in r:
                print(f"{n:>5} {r.get('path', path):>6}  ERROR {r['error']}")
                continue
            print(f"{n:>5} {r['path']:>6} {r['build_s']:>8.3f} {r['warmup_s']:>8.2f} {r['load_s']:>7.3f} "
                  f"{r['peak_py_mb']:>10.1f} {r['maxrss_mb']:>9.1f} {r['variables']:>10d} "
                  f"{r['integers']:>8d} {r['nnz']:>9d}", flush=True)
    if a.json:
        print(json.dumps({"machine": m, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
