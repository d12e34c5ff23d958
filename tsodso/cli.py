"""Command line: `tsodso solve | compare | validate | size | export`.

Instances are selected the same way everywhere: --adns N --hours T --seed S [--scenario FILE].
User errors (bad case files, infeasible scenarios) print one clear message and exit 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

import numpy as np

from .atomic import atomic_write, write_text_atomic


def _instance_args(p, adns_default="5"):
    p.add_argument("--adns", default=adns_default, help="number of ADNs (default %(default)s)")
    p.add_argument("--hours", type=int, default=24, help="horizon in hours, 1..24 (default 24)")
    p.add_argument("--seed", type=int, default=0, help="seed of the ADN variation (default 0)")
    p.add_argument("--scenario", default=None, help="scenario JSON (default: the shipped default case)")
    p.add_argument("--start", type=int, default=None, help="first hour 0..23 (default: the scenario's, 0)")


def _system(args, adns=None):
    from .data import load_system
    return load_system(args.scenario, adns=int(adns if adns is not None else args.adns),
                       hours=args.hours, seed=args.seed, start=args.start)


def _jsonable(o):
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, (np.floating, float)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o


_JSON_FD = None     # the real stdout while a --json command runs (see _json_stdout)


@contextlib.contextmanager
def _json_stdout(active: bool):
    """`--json`: stdout carries the one JSON object and nothing else. C libraries write to file
    descriptor 1 directly (HiGHS prints a banner the first time a solver is created), so while
    the command runs fd 1 points at stderr and `_emit_json` writes to the saved stdout. Not done
    when sys.stdout is not fd 1 (e.g. captured by a caller), where print() is already safe."""
    global _JSON_FD
    try:
        redirect = active and sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        redirect = False
    if not redirect:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    _JSON_FD = saved
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        _JSON_FD = None


def _emit_json(obj) -> None:
    text = json.dumps(_jsonable(obj))
    if _JSON_FD is None:
        print(text)
    else:
        os.write(_JSON_FD, (text + "\n").encode())


def _write_solve_outputs(args, system, res, summ):
    """`solve -o DIR`: result.h5 (every scheme; labelled tables + provenance, docs/results.md),
    result.nc (the same tables as netCDF, when xarray is installed), comparison.h5 (schemes
    other than dso-led: the one-scheme comparison file) and summary.json."""
    from .api import Result
    os.makedirs(args.output, exist_ok=True)
    solver_options = {"scheme": args.scheme, "time_limit_s": args.time_limit, "rel_gap": args.gap,
                      "complementarity": args.complementarity if args.scheme == "dso-led" else None}
    result = Result.from_scheme_result(res, system, solver_options)
    result.write(os.path.join(args.output, "result.h5"))
    try:
        import xarray  # noqa: F401
    except ImportError:
        xarray = None
    if xarray is not None and result.has_solution:
        ds = result.to_xarray()
        atomic_write(os.path.join(args.output, "result.nc"), ds.to_netcdf)
    if args.scheme != "dso-led":   # one-scheme comparison file (schema: report/hdf5.py write_hdf5)
        from .experiments.compare import add_result, new_comparison
        from .report.hdf5 import write_hdf5
        comp = new_comparison(system, (args.scheme,))
        add_result(comp, args.scheme, res, summ.get("seconds", float("nan")))
        write_hdf5(comp, os.path.join(args.output, "comparison.h5"))
    write_text_atomic(os.path.join(args.output, "summary.json"), json.dumps(_jsonable(summ), indent=2))


def _usd(v) -> str:
    """$ to cents with thousands separators ('--' for none)."""
    return "--" if v is None or not np.isfinite(v) else f"{v:,.2f} $"


def _pct(v) -> str:
    return "--" if v is None or not np.isfinite(v) else f"{100 * v:.3f} %"


def _sci(v, unit="") -> str:
    return "--" if v is None or not np.isfinite(v) else f"{v:.2e}{' ' + unit if unit else ''}"


def _print_solve_summary(args, system, summ) -> None:
    """The text summary of `solve` (stdout): $ to cents, gap in %, times in s, the same units
    as the B&B log above it (stderr)."""
    g = summ.get
    print(f"scheme      : {args.scheme} ({system.n_adn} ADNs x {system.n_hours} h from "
          f"{system.start_hour:02d}:00, seed {args.seed}"
          + (f", complementarity {args.complementarity})" if args.scheme == "dso-led" else ")"))
    print(f"status      : {g('status')} (stopped by {g('stop_reason')})")
    print(f"objective   : {_usd(g('objective'))}   best bound: {_usd(g('best_bound'))}   "
          f"gap: {_pct(g('gap'))} (abs {_usd(g('abs_gap'))})")
    sec = lambda k: "--" if g(k) is None else f"{g(k):.2f} s"      # noqa: E731
    line = f"nodes       : {g('nodes')}   time: {sec('seconds')}"
    if "build_seconds" in summ:
        line += f" (build {sec('build_seconds')}, ECOS {sec('ecos_seconds')})"
    print(line)
    if args.scheme == "dso-led":
        print(f"certificates: follower gap {_sci(g('follower_gap'))} (relative), "
              f"SOC gap {_sci(g('soc_gap'), 'pu^2')}, AC voltage mismatch "
              f"{_sci(g('max_voltage_mismatch_pu'), 'pu')}, big-M bound active: {g('bigm_active')}")
    else:
        c = summ["certificates"]
        print(f"certificates: SOC gap {_sci(c.get('soc_gap'), 'pu^2')}, AC voltage mismatch "
              f"{_sci(c.get('max_voltage_mismatch_pu'), 'pu')}, {c.get('tn_check')}: "
              f"{_sci(c.get('tn_check_value'))}")


def _verbosity_args(p, default=None) -> None:
    """-q/--quiet and -v/--verbose (on the top-level parser and on every subcommand)."""
    kw = {} if default is None else {"default": default}
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr "
                   "(no B&B table, no progress)", **({"default": argparse.SUPPRESS} if default is None else kw))
    g.add_argument("-v", "--verbose", action="store_true", help="also debug messages on stderr",
                   **({"default": argparse.SUPPRESS} if default is None else kw))


@contextlib.contextmanager
def _cli_logging(args):
    """The library logs through `logging` (logger "tsodso"; the B&B table is "tsodso.bnb" at
    INFO). While a command runs, those messages go to stderr as plain lines: INFO and up by
    default, WARNING and up with --quiet, DEBUG and up with --verbose."""
    import logging
    level = (logging.WARNING if getattr(args, "quiet", False)
             else logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    logger = logging.getLogger("tsodso")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False          # no second copy through a root handler the caller has
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def cmd_solve(args):
    from .schemes.registry import solve_scheme
    system = _system(args)
    res = solve_scheme(args.scheme, system, time_limit=args.time_limit, rel_gap=args.gap,
                       complementarity=args.complementarity, method=args.method)
    summ = res.summary()
    if args.scheme != "dso-led":
        # the other schemes' certificates (status, gap, SOC exactness, their TN check) as in compare
        summ["certificates"] = res.certificate_row()
    if args.output:
        _write_solve_outputs(args, system, res, summ)
    if args.json:
        _emit_json(summ)
        return 0
    _print_solve_summary(args, system, summ)
    return 0


def cmd_compare_vary(args):
    """`compare --vary NAME=V1,V2,...`: the comparison once per value (experiments/sensitivity.py)."""
    from .experiments.compare import console_progress
    from .experiments.sensitivity import parse_vary, run_sensitivity
    from .report import sensitivity as R
    name, values = parse_vary(args.vary)
    schemes = tuple(s.strip() for s in args.schemes.split(","))
    res = run_sensitivity(name, values, scenario=args.scenario, schemes=schemes, time_limit=args.time_limit,
                          rel_gap=args.gap, adns=int(args.adns), hours=args.hours, seed=args.seed,
                          start=args.start, progress=console_progress)
    paths = {"table": R.write_sensitivity_markdown(res, os.path.join(args.output, "sensitivity.md")),
             "csv": R.write_sensitivity_csv(res, os.path.join(args.output, "sensitivity.csv"))}
    if not args.no_figures:
        paths.update(R.write_sensitivity_figure(res, args.output))
    for k, v in paths.items():
        print(f"{k:>10}: {v}")
    return 0


def cmd_compare(args):
    if getattr(args, "vary", None):
        return cmd_compare_vary(args)
    from .experiments.compare import console_progress, run_comparison
    from .report.outputs import write_all
    system = _system(args)
    schemes = tuple(s.strip() for s in args.schemes.split(","))
    comp = run_comparison(system, schemes=schemes, time_limit=args.time_limit, rel_gap=args.gap,
                          progress=console_progress)
    paths = write_all(comp, args.output, figures=not args.no_figures)
    for k, v in paths.items():
        print(f"{k:>10}: {v}")
    return 0


def cmd_validate(args):
    from .validate import baran_wu_distflow, case30_dcopf
    a, b = case30_dcopf(), baran_wu_distflow()
    out = {"case30_dcopf": {k: v for k, v in a.items() if np.isscalar(v)},
           "case33bw_distflow": {k: v for k, v in b.items() if np.isscalar(v)}}
    if args.json:
        _emit_json(out)
    else:
        print(f"case30 DC-OPF   : {a['cost_usd_per_h']:.4f} $/h (published {a['published_usd_per_h']}, "
              f"HiGHS {a['highs_cost_usd_per_h']:.4f}); max LMP diff {a['max_lmp_diff_usd_per_mwh']:.2e} $/MWh; "
              f"ECOS {a['status']}")
        print(f"case33bw SOC-DF : losses {b['losses_kw']:.3f} kW (published {b['published_losses_kw']}), "
              f"Vmin {b['vmin_pu']:.5f} pu at bus {b['vmin_bus']} (published {b['published_vmin_pu']} at 18); "
              f"SOC gap {b['soc_gap_max']:.1e}; ECOS {b['status']}")
    return 0


def cmd_size(args):
    from .schemes.dso_led import build_dso_led
    rows = []
    for n in [int(v) for v in str(args.adns).split(",")]:
        # structure only: the KKT presolve changes bounds, not the size (and takes MILPs)
        prob, lay = build_dso_led(_system(args, n), complementarity=args.complementarity,
                                  kkt_presolve=False)
        r = prob.size_report()
        rows.append({"adns": n, "hours": lay.T, **r, **{f"bin_{k}": v for k, v in lay.binary_groups.items()},
                     "cross_pairs": int(lay.cross.pairs.shape[0])})
    if args.json:
        _emit_json(rows)
        return 0
    cols = ["adns", "continuous", "bin_der", "bin_p2p_role", "bin_p2p_platform", "bin_cross_role",
            "bin_kkt", "cross_pairs", "eq_rows", "ineq_rows", "cones", "nnz"]
    print(" ".join(f"{c:>16}" for c in cols))
    for r in rows:
        print(" ".join(f"{r[c]:>16}" for c in cols))
    return 0


def cmd_export(args):
    from .conic.cbf import write_cbf
    from .schemes.dso_led import build_dso_led
    if args.format != "cbf":
        raise SystemExit(f"tsodso export: format {args.format!r} not supported (cbf)")
    prob, _ = build_dso_led(_system(args), complementarity="bigm")
    write_cbf(prob, args.output)
    print(f"wrote {args.output}: {prob.n} variables ({prob.integer.size} binary), objective in k$",
          file=sys.stderr)
    return 0


def cmd_sweep(args):
    from .experiments.sweep import SweepSpec, parse_int_list, run_sweep
    spec = SweepSpec(adns=parse_int_list("adns", args.adns), hours=args.hours,
                     seeds=parse_int_list("seeds", args.seeds),
                     schemes=tuple(s.strip() for s in args.schemes.split(",") if s.strip()),
                     time_limit=args.time_limit, gap=args.gap, start=args.start, scenario=args.scenario,
                     complementarity=args.complementarity).validate()
    if args.scenario is not None:       # bad scenario: one line and exit 2, before any run
        from .data.builder import read_scenario
        read_scenario(args.scenario)
    cache = None if args.no_cache else (args.cache or os.path.join(args.output, "cache"))
    rows = run_sweep(spec, args.output, resume=args.resume, workers=args.workers, scheduler=args.scheduler,
                     cache=cache, figures=not args.no_figures)
    for k in ("sweep.md", "sweep.csv", "sweep.h5", "growth.md"):
        print(f"{k:>10}: {os.path.join(args.output, k)}")
    bad = sum(r["status"] in ("refused", "error") for r in rows)
    print(f"{len(rows)} runs" + (f", {bad} refused or failed (see sweep.md)" if bad else ""))
    return 0


def _sweep_parser(sub):
    p = sub.add_parser("sweep", help="scale sweep over ADN counts and seeds: size, time, gap; resumable")
    p.add_argument("--adns", default="1,2,5,10", help="ADN counts, e.g. 1,2,5,10 or 1-50 (default %(default)s)")
    p.add_argument("--hours", type=int, default=24, help="horizon in hours, 1..24 (default 24)")
    p.add_argument("--seeds", default="0,1", help="seeds, e.g. 0,1 (default %(default)s)")
    p.add_argument("--scenario", default=None, help="scenario JSON (default: the shipped default case)")
    p.add_argument("--start", type=int, default=None, help="first hour 0..23 (default: the scenario's, 0)")
    p.add_argument("--schemes", default="dso-led", help="comma-separated among dso-led, tso-led, hybrid, centralised")
    p.add_argument("--complementarity", choices=["bigm", "branch"], default="bigm")
    p.add_argument("--time-limit", type=float, default=300.0, help="B&B seconds per run (default 300)")
    p.add_argument("--gap", type=float, default=1e-4, help="relative gap to prove (default 1e-4)")
    p.add_argument("--workers", type=int, default=1,
                   help="0 = in this process; K = K local worker processes, one per run (default 1)")
    p.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a dask.distributed scheduler")
    p.add_argument("--resume", action="store_true", help="skip runs already in DIR (same instance hash)")
    p.add_argument("--cache", default=None, help="warm-start cache directory (default DIR/cache)")
    p.add_argument("--no-cache", action="store_true", help="no warm-start cache")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures (no matplotlib needed)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=cmd_sweep)


def main(argv=None) -> int:
    from .schemes.registry import SCHEMES
    ap = argparse.ArgumentParser(prog="tsodso", description="DSO-led bilevel TSO-DSO coordination")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("solve", help="solve a scheme on an instance (default: DSO-led, default case)")
    _instance_args(p)
    p.add_argument("--scheme", choices=list(SCHEMES), default="dso-led")
    p.add_argument("--complementarity", choices=["bigm", "branch"], default="bigm")
    p.add_argument("--method", choices=["monolithic", "decomposition"], default="monolithic",
                   help="dso-led solver: our B&B on the whole MISOCP, or Lagrangian bounds over "
                        "(ADN, hour) blocks with the B&B on top (default %(default)s)")
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds (default 300)")
    p.add_argument("--gap", type=float, default=1e-4, help="relative gap to prove (default 1e-4)")
    p.add_argument("--json", action="store_true", help="stdout = one JSON object (log on stderr)")
    p.add_argument("-o", "--output", default=None, help="directory for result.h5 (+ result.nc with xarray), summary.json")
    p.set_defaults(func=cmd_solve)
    p = sub.add_parser("compare", help="run the schemes on one instance; tables, figures, HDF5, summary")
    _instance_args(p)
    p.add_argument("--schemes", default="centralised,tso-led,hybrid,price-taking,dso-led",
                   help="comma-separated subset of " + ", ".join(SCHEMES))
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per scheme (default 300)")
    p.add_argument("--gap", type=float, default=1e-4, help="relative gap to prove (default 1e-4)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures (no matplotlib needed)")
    p.add_argument("--vary", default=None, metavar="NAME=V1,V2,...",
                   help="sensitivity: re-run per value of pv_scale, bess_scale, degradation ($/MWh) or a "
                        "dotted scenario key (table, CSV, figure in -o)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("validate", help="stand-alone models vs published values")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("size", help="problem size table over ADN counts")
    _instance_args(p, adns_default="1,2,5,10,20,50")
    p.add_argument("--complementarity", choices=["bigm", "branch"], default="bigm")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_size)
    p = sub.add_parser("export", help="write the exact MISOCP (big-M form)")
    _instance_args(p)
    p.add_argument("--format", default="cbf")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_export)
    _sweep_parser(sub)
    _verbosity_args(ap, default=False)
    for sp in sub.choices.values():
        _verbosity_args(sp)
    args = ap.parse_args(argv)
    from .data.errors import CaseError
    from .formulation.bigm import ModelError
    if args.cmd == "sweep":
        from .experiments.sweep import SweepError
        user_errors = (CaseError, ModelError, SweepError)
    else:
        user_errors = (CaseError, ModelError)
    try:
        with _json_stdout(bool(getattr(args, "json", False))), _cli_logging(args):
            return args.func(args)
    except user_errors as e:
        print(f"tsodso: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tsodso: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
