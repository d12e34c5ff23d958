"""Model build benchmark: `build_dso_led` time and peak memory, Numba vs numpy assembly path.

    python bench/bench_build.py                       # 5, 50, 200 ADNs x 24 h, both paths
    python bench/bench_build.py --adns 5,50 --hours 24 --repeat 3
    python bench/bench_build.py --profile 200         # cProfile of one 200-ADN build (numba path)
    python bench/bench_build.py --phases 200          # wall time per formulation call
    python bench/bench_build.py --cold 1,5,20         # cold build split: JIT / box + dual bounds / presolve / assembly
    python bench/bench_build.py --cold 1,5 --src DIR  # the same for another source tree (e.g. `git archive` of an older commit)
    python bench/bench_build.py --e2e 1               # `tsodso solve` end to end (default method) beside SCIP

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
The child sets TSODSO_NUMBA=1 for the numba path (the default) and TSODSO_NUMBA=0 for numpy, the user's switch.

--cold (issue 11: the build a first `tsodso solve` pays, presolve ON): one fresh child
process per N, no warm-start cache, nothing built before. Columns:
* import = importing tsodso.schemes.dso_led; load = load_system.
* jit = first call of each Numba kernel (compile, or load from numba's on-disk cache, plus one
  run of a few ms); `numba cache` says whether the cache files existed when the child started
  (`--numba-cold` points NUMBA_CACHE_DIR at an empty directory: the compile a fresh install
  or CI pays). 0 on the numpy path.
* box = certified_pcc_bounds (of which dual = derive_dual_bounds, the robust-slack LPs).
* presolve = fixed_pairs, split into sample (ECOS follower responses), hour models (building
  the per-hour KKT models), region (step 0 of kkt_presolve, the critical-region proof; reg_h =
  hours it decided), screen (primal LPs, step 1) and milp (HiGHS MILPs), with the MILP count
  and the fixed pairs; region and screen are 0 for a tree without them.
* assembly = build_dso_led_model (the rows; minus the JIT time spent inside it).
* total = wall time of build_dso_led (jit included). problem_key = the first 16 hex digits of
  schemes.warm.problem_key of the built MISOCP (c, A, b, G, h, bounds, integers): equal keys
  = the same model, e.g. before and after a presolve change.
The split wraps module functions by name, so an older source tree (--src) is timed the same
way where the names exist (its MILPs are `_solve`, there is no `_screen`).

--e2e: `tsodso solve --adns N --json -q` in a fresh process (the README's first command,
default method, no cache): wall time of the whole process, its status, objective, bound, gap
and build_seconds; then SCIP on the same model (bench/bench_decomp.py's SCIP worker: it
builds the problem with `build_dso_led` like `tsodso export`, 1 thread, gap 1e-4).
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
if os.environ.get("TSODSO_BENCH_SRC"):          # --cold --src DIR: that tree's tsodso (and kernels)
    sys.path.insert(0, os.environ["TSODSO_BENCH_SRC"])


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



# ------------------------------------------------------------------------------ cold build split
def _numba_cache_present() -> bool:
    d = os.path.join(os.path.dirname(_assembly().__file__), "__pycache__")
    if os.environ.get("NUMBA_CACHE_DIR"):
        return any(f.endswith(".nbi") for _r, _d, fs in os.walk(os.environ["NUMBA_CACHE_DIR"]) for f in fs)
    return os.path.isdir(d) and any(f.endswith(".nbi") for f in os.listdir(d))


def cold_one(adns: int, hours: int, seed: int) -> dict:
    """The cold-build split of one build (module docstring, --cold). Runs in a fresh child."""
    t0 = time.perf_counter()
    import tsodso
    from tsodso import analysis
    from tsodso.analysis import certified_box, kkt_presolve as kp
    from tsodso.data import load_system
    from tsodso.schemes import dso_led
    out = {"adns": adns, "hours": hours, "src": os.path.dirname(os.path.dirname(tsodso.__file__)),
           "import_s": time.perf_counter() - t0}
    asm = _assembly()
    out["path"] = asm.backend()
    out["numba_cache"] = _numba_cache_present() if out["path"] == "numba" else None
    out["numba_imported"] = "numba" in sys.modules          # before anything was built
    acc, first = {}, {}

    def timed(name, fn, first_only=False):
        def w(*a, **k):
            t1 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                dt = time.perf_counter() - t1
                if first_only:
                    first.setdefault(name, dt)
                else:
                    acc[name] = acc.get(name, 0.0) + dt
        return w
    wraps = [(analysis, "certified_pcc_bounds", "box"), (certified_box, "derive_dual_bounds", "dual"),
             (analysis, "fixed_pairs", "presolve"), (kp, "follower_activity", "sample"),
             (kp, "_hour_model", "hour_models"), (kp, "_region", "region"), (kp, "_screen", "screen"),
             (kp, "_run", "run"),
             (kp, "_solve", "milp"), (dso_led, "build_dso_led_model", "assembly")]
    for mod, name, key in wraps:
        if hasattr(mod, name):
            setattr(mod, name, timed(key, getattr(mod, name)))
    if hasattr(kp, "_screen"):                     # the LP runs made inside the screen
        screen = kp._screen

        def screen_runs(*a, **k):
            before = acc.get("run", 0.0)
            try:
                return screen(*a, **k)
            finally:
                acc["run_in_screen"] = acc.get("run_in_screen", 0.0) + acc.get("run", 0.0) - before
        kp._screen = screen_runs
    if out["path"] == "numba" and hasattr(asm, "_jit"):          # kernels compiled on first use
        jit = asm._jit
        asm._jit = lambda fn: timed(fn.__name__, jit(fn), first_only=True)
    elif out["path"] == "numba":                                 # older tree: module-level dispatchers
        for name in ("_distflow_numba", "_stationarity_numba"):
            setattr(asm, name, timed(name, getattr(asm, name), first_only=True))
    t0 = time.perf_counter()
    system = load_system(adns=adns, hours=hours, seed=seed)
    out["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prob, _lay = dso_led.build_dso_led(system)
    out["total_s"] = time.perf_counter() - t0
    st = prob.meta.get("kkt_presolve") or {}
    out.update({k: int(v) for k, v in st.items()})
    out["jit_s"] = sum(first.values())
    for key in ("box", "dual", "presolve", "sample", "hour_models", "region", "screen", "assembly"):
        out[f"{key}_s"] = acc.get(key, 0.0)
    # new code: _run is every LP and MILP run, the screen's LPs included (counted in screen);
    # old code: _solve = one MILP
    out["milp_s"] = acc["milp"] if "milp" in acc else acc.get("run", 0.0) - acc.get("run_in_screen", 0.0)
    # the first kernel calls (JIT) happen inside the first hour model (stationarity) and the
    # assembly (distflow); they are reported as jit only
    jst, jdf = first.get("_stationarity_numba", 0.0), first.get("_distflow_numba", 0.0)
    if out["hour_models_s"] > 0:
        out["hour_models_s"] -= jst
        out["assembly_s"] -= jdf
    else:
        out["assembly_s"] -= jst + jdf
    out["variables"], out["integers"] = int(prob.n), int(prob.integer.size)
    from tsodso.schemes.warm import problem_key
    out["problem_key"] = problem_key(prob, {})[:16]    # hash of the built MISOCP's arrays
    return out


def cold(adns_list, hours, seed, src=None, numba_cold=False, path="numba") -> list:
    print(f"# cold build split (presolve on), {hours} h, seed {seed}, src {src or ROOT}, path {path}"
          f"{', numba cache emptied (--numba-cold)' if numba_cold else ''}; load average at start "
          f"{' '.join(_loadavg())} (uptime; 2 cores)", flush=True)
    hdr = (f"{'ADNs':>4} {'total_s':>7} {'jit_s':>6} {'cache':>5} {'box_s':>6} {'dual_s':>6} {'presolve':>8} "
           f"{'sample':>6} {'hourmod':>7} {'region':>6} {'screen':>6} {'milp_s':>6} {'milps':>5} {'reg_h':>5} "
           f"{'screened':>8} {'fixed0':>6} "
           f"{'fixed1':>6} {'assembly':>8} {'import':>6} {'load':>5} problem_key")
    print(hdr, flush=True)
    rows = []
    import tempfile
    for n in adns_list:
        env = dict(os.environ, TSODSO_NUMBA="1" if path == "numba" else "0")
        tmp = None
        if numba_cold:
            tmp = tempfile.mkdtemp(prefix="tsodso-numba-cold-")
            env["NUMBA_CACHE_DIR"] = tmp
        if src:
            env["TSODSO_BENCH_SRC"] = os.path.abspath(src)
        cmd = [sys.executable, os.path.abspath(__file__), "--cold-child", str(n), "--hours", str(hours),
               "--seed", str(seed)]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            r = json.loads([ln for ln in res.stdout.splitlines() if ln.startswith("{")][-1])
        except Exception:  # noqa: BLE001
            r = {"adns": n, "error": (res.stderr.strip().splitlines() or ["?"])[-1]}
        r["load_end"] = _loadavg()
        rows.append(r)
        if "error" in r:
            print(f"{n:>4} ERROR {r['error']}", flush=True)
            continue
        cache = "-" if r["numba_cache"] is None else ("yes" if r["numba_cache"] else "no")
        print(f"{n:>4} {r['total_s']:>7.2f} {r['jit_s']:>6.2f} {cache:>5} {r['box_s']:>6.2f} {r['dual_s']:>6.2f} "
              f"{r['presolve_s']:>8.2f} {r['sample_s']:>6.2f} {r['hour_models_s']:>7.2f} {r['region_s']:>6.2f} "
              f"{r['screen_s']:>6.2f} {r['milp_s']:>6.2f} {r.get('milps', 0):>5d} {r.get('region_hours', 0):>5d} "
              f"{r.get('screened', 0):>8d} {r.get('fixed_inactive', 0):>6d} "
              f"{r.get('fixed_active', 0):>6d} {r['assembly_s']:>8.2f} {r['import_s']:>6.2f} {r['load_s']:>5.2f} "
              f"{r['problem_key']}", flush=True)
    print(f"# load average at end {' '.join(_loadavg())}", flush=True)
    return rows


def _loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


def e2e(adns_list, hours, seed, time_limit) -> list:
    """`tsodso solve` end to end in a fresh process, then SCIP on the same model (bench_decomp)."""
    import tempfile
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import bench_decomp
    print(f"# end to end, {hours} h, seed {seed}, time limit {time_limit:g} s; load average at start "
          f"{' '.join(_loadavg())} (uptime; 2 cores)", flush=True)
    print(f"{'ADNs':>4} {'who':>22} {'status':>10} {'objective $':>12} {'bound $':>12} {'gap':>8} "
          f"{'build s':>7} {'wall s':>7} {'load':>5}", flush=True)
    rows = []
    for n in adns_list:
        out = tempfile.mkdtemp(prefix="tsodso-e2e-")
        cmd = [sys.executable, "-m", "tsodso", "solve", "--adns", str(n), "--hours", str(hours), "--seed",
               str(seed), "--time-limit", str(time_limit), "--json", "-q", "-o", os.path.join(out, "run")]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=out)
        wall = time.perf_counter() - t0
        try:
            js = json.loads(res.stdout)
        except Exception:  # noqa: BLE001
            js = {"status": f"exit {res.returncode}", "stderr_tail": res.stderr[-400:]}
        r = {"adns": n, "who": "tsodso solve (default)", "wall_s": wall, "exit": res.returncode,
             "summary": js, "load_end": _loadavg()}
        rows.append(r)
        s = js
        print(f"{n:>4} {r['who']:>22} {s.get('status', '?'):>10} {_fmt(s.get('objective'), '{:,.2f}'):>12} "
              f"{_fmt(s.get('best_bound'), '{:,.2f}'):>12} {_fmt(s.get('gap'), '{:.4%}'):>8} "
              f"{_fmt(s.get('build_seconds'), '{:.1f}'):>7} {wall:>7.1f} {r['load_end'][0]:>5}", flush=True)
        print(f"#    tsodso: solve {_fmt(s.get('solve_seconds'), '{:.1f}')} s, nodes {s.get('nodes')}, "
              f"certificates: follower gap {_fmt(s.get('follower_gap'), '{:.1e}')}, SOC gap "
              f"{_fmt(s.get('soc_gap'), '{:.1e}')} pu^2, voltage mismatch "
              f"{_fmt(s.get('max_voltage_mismatch_pu'), '{:.1e}')} pu, kkt_presolve {s.get('kkt_presolve')}",
              flush=True)
        sc = bench_decomp._child(["--worker", "scip", str(n), str(hours), str(seed), "0", str(time_limit)],
                                 timeout=time_limit * 3 + 900)
        sc.update(adns=n, who="scip (bench_decomp)")
        rows.append(sc)
        print(f"{n:>4} {sc['who']:>22} {sc.get('status', '?'):>10} {_fmt(sc.get('objective'), '{:,.2f}'):>12} "
              f"{_fmt(sc.get('bound'), '{:,.2f}'):>12} {_fmt(sc.get('gap'), '{:.4%}'):>8} "
              f"{_fmt(sc.get('build_seconds'), '{:.1f}'):>7} "
              f"{_fmt((sc.get('build_seconds') or 0) + (sc.get('solve_seconds') or 0), '{:.1f}'):>7} "
              f"{(sc.get('load_end') or ['?'])[0]:>5}", flush=True)
    print("# wall s: tsodso = the whole process (imports, build, solve, certificates, output); "
          "scip = its child's build + solve (imports and interpreter start not included)", flush=True)
    return rows


def _fmt(v, fmt):
    return fmt.format(v) if isinstance(v, (int, float)) and v == v else "-"

# ------------------------------------------------------------------------------ parent
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adns", default="5,50,200", help="comma-separated ADN counts")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="timed builds per configuration (best kept)")
    ap.add_argument("--paths", default="numba,numpy", help="assembly paths (numba is the default one)")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON as well")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile one N-ADN build and exit")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--phases", type=int, default=0, metavar="N", help="time each formulation call of one N-ADN build")
    ap.add_argument("--cold", default="", metavar="N,N", help="cold build split (presolve on) for these ADN counts")
    ap.add_argument("--src", default=None, help="--cold: time the tsodso in this source tree instead")
    ap.add_argument("--numba-cold", action="store_true", help="--cold: empty numba cache (fresh install / CI)")
    ap.add_argument("--e2e", default="", metavar="N,N", help="tsodso solve end to end beside SCIP")
    ap.add_argument("--time-limit", type=float, default=300.0, help="--e2e: time limit of both, s")
    ap.add_argument("--cold-child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.cold_child:
        print(json.dumps(cold_one(a.cold_child, a.hours, a.seed)))
        return 0
    if a.cold or a.e2e:
        ns = lambda s: [int(v) for v in s.split(",") if v.strip()]     # noqa: E731
        rows = []
        if a.cold:
            for path in [p.strip() for p in a.paths.split(",") if p.strip()]:
                rows += cold(ns(a.cold), a.hours, a.seed, a.src, a.numba_cold, path)
        if a.e2e:
            rows += e2e(ns(a.e2e), a.hours, a.seed, a.time_limit)
        if a.json:
            print(json.dumps({"machine": machine(), "rows": rows}, indent=1, default=float))
        return 0

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
