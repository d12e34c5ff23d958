"""Command line: `tsodso solve | compare | validate | size | export | sweep`, `tsodso --version`.

Instances are selected the same way everywhere: --adns N --hours T --seed S [--scenario FILE].

Order of work (so that nothing long runs on bad input and no solve is thrown away):
  1. every flag is parsed and range-checked (`_flag_*` types; one line, exit 2);
  2. the instance is loaded and validated (scenario schema, case files; `CaseError`, exit 2);
  3. the output location is checked and locked (report/output.py; `OutputError`, exit 2);
  4. the solve; SIGINT / SIGTERM stop it cleanly (conic/interrupt.py);
  5. the files are staged and renamed together, summary last; on failure a rescue copy.

Exit codes (also in `tsodso --help`):
  0    solved: status optimal, or a limit / numerical stop *with* a solution (the status and
       the gap say which; "optimal" only with a proven gap)
  2    user error: a flag, a file, a scenario key or the output location (one line on stderr
       naming the flag or file, the field and the value); nothing was solved
  3    no solution: infeasible (the reason is printed), unresolved, or a limit before the
       first solution; the summary and result files are still written
  4    the result could not be written to -o: it was saved to a tsodso-rescue-* folder in the
       system temporary directory, named on stderr
  130  stopped by SIGINT (Ctrl-C), 143 by SIGTERM: status "interrupted", the best solution so
       far and its certificates written as for a normal end
  1    an internal error (a bug: please report the traceback)

stdout carries only the command's report (`--json`: exactly one JSON object); logs, progress
and anything C libraries print (the HiGHS banner) go to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys

# No numpy (or anything that starts threads) at module level: `main` blocks SIGINT / SIGTERM
# in the main thread before the first thread exists (numpy's OpenBLAS starts one at import),
# so that only the watcher of conic/interrupt.py receives them (see `interrupt.handlers`).

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_SOLUTION, EXIT_WRITE = 0, 1, 2, 3, 4
MAX_ADNS = 1000
MAX_SEED = 2**32 - 1
SOLVED_STATUSES = ("optimal", "feasible", "time_limit", "node_limit")   # with a solution: exit 0

EXIT_CODES_HELP = """exit codes:
  0    solved (optimal, or a limit with a solution; the status says which)
  2    user error (flag, file, scenario key, output location); nothing solved
  3    no solution (infeasible: the reason is printed; unresolved; limit before a solution)
  4    the result could not be written to -o; it was saved to a tsodso-rescue-* folder
  130  stopped by SIGINT, 143 by SIGTERM (status interrupted, best solution written)"""


class UsageError(ValueError):
    """A user error found by the CLI itself (one line, exit 2)."""


# ------------------------------------------------------------------------------ flag types
def _flag_int(name, lo, hi):
    def parse(text):
        try:
            v = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' = {text!r}: must be an integer in {lo}..{hi}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"'{name}' = {v}: must be an integer in {lo}..{hi}")
        return v
    return parse


def _flag_scheduler(text):
    from .solver.decomposition.parallel import check_scheduler
    try:
        check_scheduler(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'scheduler' = {text!r}: expected tcp://HOST:PORT") from None
    return str(text).strip()


def _flag_float(name, lo, lo_open=False, allow_inf=False):
    dom = f"{'>' if lo_open else '>='} {lo}" + (" (inf allowed)" if allow_inf else ", finite")

    def parse(text):
        try:
            v = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{name}' = {text!r}: must be a number {dom}") from None
        if math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0)) or v < lo or (lo_open and v == lo):
            raise argparse.ArgumentTypeError(f"'{name}' = {v}: must be a number {dom}")
        return v
    return parse


def _flag_adn_list(text):
    one = _flag_int("adns", 1, MAX_ADNS)
    parts = [p for p in str(text).split(",")]
    if not parts or any(not p.strip() for p in parts):
        raise argparse.ArgumentTypeError(f"'adns' = {text!r}: comma-separated integers in 1..{MAX_ADNS}")
    return [one(p) for p in parts]


def _flag_schemes(text):
    from .schemes.registry import SCHEMES
    names = [s.strip() for s in str(text).split(",")]
    for s in names:
        if s not in SCHEMES:
            raise argparse.ArgumentTypeError(f"'schemes' = {s!r}: not a scheme; known: {', '.join(SCHEMES)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"'schemes' = {text!r}: a scheme is listed twice")
    return tuple(names)


def _flag_file(name):
    def parse(text):
        p = str(text)
        if not os.path.exists(p):
            raise argparse.ArgumentTypeError(f"'{name}' = {p!r}: no such file")
        if not os.path.isfile(p):
            raise argparse.ArgumentTypeError(f"'{name}' = {p!r}: not a regular file")
        if not os.access(p, os.R_OK):
            raise argparse.ArgumentTypeError(f"'{name}' = {p!r}: not readable (permission denied)")
        return p
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `tsodso solve: error: argument --seed: ...`, exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# ------------------------------------------------------------------------------ stdout
_REAL_STDOUT_FD = None     # the real stdout while a command runs (see _stdout_for_reports)


@contextlib.contextmanager
def _stdout_for_reports():
    """stdout carries only the command's report: C libraries write to file descriptor 1
    directly (HiGHS prints a banner the first time a solver is created), so while the command
    runs fd 1 points at stderr and `_say` / `_emit_json` write to the saved stdout. Not done
    when sys.stdout is not fd 1 (e.g. captured by a caller), where print() is already safe."""
    global _REAL_STDOUT_FD
    try:
        redirect = sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        redirect = False
    if not redirect:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    _REAL_STDOUT_FD = saved
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        _REAL_STDOUT_FD = None


def _say(text="") -> None:
    if _REAL_STDOUT_FD is None:
        print(text, flush=True)
    else:
        os.write(_REAL_STDOUT_FD, (str(text) + "\n").encode())


def _err(text) -> None:
    print(text, file=sys.stderr, flush=True)


def _jsonable(o):
    import numpy as np
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
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def _emit_json(obj) -> None:
    _say(json.dumps(_jsonable(obj)))


# ------------------------------------------------------------------------------ shared steps
def _system(args, adns=None):
    from .data import load_system
    return load_system(args.scenario, adns=int(adns if adns is not None else args.adns),
                       hours=args.hours, seed=args.seed, start=args.start)


def _prepare_output(path):
    from .report.output import prepare_output
    return prepare_output(path)


def _check_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("compare: the figures need matplotlib, which is not installed: "
                         "pip install 'tsodso[plot]', or pass --no-figures") from None


def _interrupted_exit():
    from .conic import interrupt
    return interrupt.exit_code() if interrupt.requested() else None


def _report_paths(paths: dict) -> int:
    """Print the files written (one per line) and return the exit code: 0, or 130 / 143 if a
    stop was requested (the files then hold the best solution found before the stop)."""
    for k, v in paths.items():
        _say(f"{k:>10}: {v}")
    code = _interrupted_exit()
    return EXIT_OK if code is None else code


# ------------------------------------------------------------------------------ solve
def _run_scheme(args, system):
    from .schemes.registry import solve_scheme
    pool = {}
    if getattr(args, "workers", 1) != 1 or getattr(args, "scheduler", None):
        pool = dict(decomposition=dict(workers=args.workers, scheduler=args.scheduler))
    return solve_scheme(args.scheme, system, time_limit=args.time_limit, rel_gap=args.gap,
                        complementarity=args.complementarity, method=args.method, **pool)


def _solve_summary(args, res) -> dict:
    summ = res.summary()
    if args.scheme != "dso-led":
        # the other schemes' certificates (status, gap, SOC exactness, their TN check) as in compare
        summ["certificates"] = res.certificate_row()
    return summ


def _fill_solve_folder(args, system, res, summ):
    """`solve -o DIR` content, written into `folder` (the staging folder of report/output.py):
    result.h5 (every scheme; labelled tables + provenance, docs/results.md), result.nc (the
    same tables as netCDF, when xarray is installed), comparison.h5 (schemes other than
    dso-led: the one-scheme comparison file) and summary.json (renamed last)."""
    from .api import Result
    solver_options = {"scheme": args.scheme, "time_limit_s": args.time_limit, "rel_gap": args.gap,
                      "complementarity": args.complementarity if args.scheme == "dso-led" else None}
    result = Result.from_scheme_result(res, system, solver_options)

    def fill(folder):
        from .atomic import atomic_write, write_text_atomic
        result.write(os.path.join(folder, "result.h5"))
        try:
            import xarray  # noqa: F401
        except ImportError:
            xarray = None
        if xarray is not None and result.has_solution:
            atomic_write(os.path.join(folder, "result.nc"), result.to_xarray().to_netcdf)
        if args.scheme != "dso-led":   # one-scheme comparison file (schema: report/hdf5.py write_hdf5)
            from .experiments.compare import add_result, new_comparison
            from .report.hdf5 import write_hdf5
            comp = new_comparison(system, (args.scheme,))
            add_result(comp, args.scheme, res, summ.get("seconds", float("nan")))
            write_hdf5(comp, os.path.join(folder, "comparison.h5"))
        write_text_atomic(os.path.join(folder, "summary.json"), json.dumps(_jsonable(summ), indent=2))
    return fill


def _usd(v) -> str:
    """$ to cents with thousands separators ('--' for none)."""
    return "--" if v is None or not math.isfinite(v) else f"{v:,.2f} $"


def _pct(v) -> str:
    return "--" if v is None or not math.isfinite(v) else f"{100 * v:.3f} %"


def _sci(v, unit="") -> str:
    return "--" if v is None or not math.isfinite(v) else f"{v:.2e}{' ' + unit if unit else ''}"


def _print_solve_summary(args, system, summ) -> None:
    """The text summary of `solve` (stdout): $ to cents, gap in %, times in s, the same units
    as the B&B log above it (stderr)."""
    g = summ.get
    _say(f"scheme      : {args.scheme} ({system.n_adn} ADNs x {system.n_hours} h from "
         f"{system.start_hour:02d}:00, seed {args.seed}"
         + (f", complementarity {args.complementarity}, method {args.method})" if args.scheme == "dso-led" else ")"))
    _say(f"status      : {g('status')} (stopped by {g('stop_reason')})")
    _say(f"objective   : {_usd(g('objective'))}   best bound: {_usd(g('best_bound'))}   "
         f"gap: {_pct(g('gap'))} (abs {_usd(g('abs_gap'))})")
    sec = lambda k: "--" if g(k) is None else f"{g(k):.2f} s"      # noqa: E731
    line = f"nodes       : {g('nodes')}   time: {sec('seconds')}"
    if "build_seconds" in summ:
        line += f" (build {sec('build_seconds')}, ECOS {sec('ecos_seconds')})"
    _say(line)
    if args.scheme == "dso-led":
        _say(f"certificates: follower gap {_sci(g('follower_gap'))} (relative), "
             f"SOC gap {_sci(g('soc_gap'), 'pu^2')}, AC voltage mismatch "
             f"{_sci(g('max_voltage_mismatch_pu'), 'pu')}, big-M bound active: {g('bigm_active')}")
    else:
        c = summ["certificates"]
        _say(f"certificates: SOC gap {_sci(c.get('soc_gap'), 'pu^2')}, AC voltage mismatch "
             f"{_sci(c.get('max_voltage_mismatch_pu'), 'pu')}, {c.get('tn_check')}: "
             f"{_sci(c.get('tn_check_value'))}")
    if g("diagnosis"):
        _say(f"diagnosis   : {g('diagnosis')}")


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


def _solve_exit_code(res) -> int:
    code = _interrupted_exit()
    if code is not None:
        return code
    has_x = getattr(res, "x", None) is not None
    return EXIT_OK if (res.status in SOLVED_STATUSES and has_x) else EXIT_NO_SOLUTION


def cmd_solve(args):
    if args.method == "oa" and args.complementarity != "bigm":
        raise UsageError("--method oa needs --complementarity bigm (its MILP master has no disjunctions "
                         f"beyond the binaries; here --complementarity {args.complementarity})")
    if args.method is None and (args.workers != 1 or args.scheduler):
        args.method = "decomposition"     # the block pool's flags imply the decomposition
    if args.method is None:            # the instance has --adns ADNs (_system)
        from .schemes.dso_led import default_method
        args.method = default_method(args.complementarity, int(args.adns))
    if (args.workers != 1 or args.scheduler) and (args.scheme != "dso-led" or args.method != "decomposition"):
        flag = f"--workers {args.workers}" if args.workers != 1 else f"--scheduler {args.scheduler}"
        raise UsageError(f"{flag} applies to --scheme dso-led --method decomposition only "
                         f"(here --scheme {args.scheme} --method {args.method})")
    system = _system(args)
    out = _prepare_output(args.output) if args.output else None
    try:
        res = _run_scheme(args, system)
        summ = _solve_summary(args, res)
        if res.status == "infeasible" and _interrupted_exit() is None:
            from .evaluation.diagnose import explain_infeasible
            summ["diagnosis"] = explain_infeasible(system)
        if out is not None:
            out.write_folder(_fill_solve_folder(args, system, res, summ))
    finally:
        if out is not None:
            out.release()
    if args.json:
        _emit_json(summ)
    else:
        _print_solve_summary(args, system, summ)
    code = _solve_exit_code(res)
    if code == EXIT_NO_SOLUTION:
        _err(f"tsodso: no solution: status {res.status} ({res.stop_reason})"
             + (f"; {summ['diagnosis']}" if summ.get("diagnosis") else ""))
    return code


# ------------------------------------------------------------------------------ compare
def cmd_compare_vary(args):
    """`compare --vary NAME=V1,V2,...`: the comparison once per value (experiments/sensitivity.py)."""
    from .experiments.compare import console_progress
    from .experiments.sensitivity import parse_vary, run_sensitivity
    from .report import sensitivity as R
    name, values = parse_vary(args.vary)
    out = _prepare_output(args.output)
    try:
        res = run_sensitivity(name, values, scenario=args.scenario, schemes=args.schemes,
                              time_limit=args.time_limit, rel_gap=args.gap, adns=int(args.adns),
                              hours=args.hours, seed=args.seed, start=args.start, progress=console_progress)
        paths = {"table": R.write_sensitivity_markdown(res, os.path.join(args.output, "sensitivity.md")),
                 "csv": R.write_sensitivity_csv(res, os.path.join(args.output, "sensitivity.csv"))}
        if not args.no_figures:
            paths.update(R.write_sensitivity_figure(res, args.output))
    finally:
        out.release()
    return _report_paths(paths)


def cmd_compare(args):
    from .experiments.compare import console_progress, run_comparison
    from .report.outputs import write_all
    if not args.no_figures:
        _check_matplotlib()
    if getattr(args, "vary", None):
        return cmd_compare_vary(args)
    system = _system(args)
    out = _prepare_output(args.output)
    try:
        comp = run_comparison(system, schemes=args.schemes, time_limit=args.time_limit, rel_gap=args.gap,
                              progress=console_progress)
        paths = write_all(comp, args.output, figures=not args.no_figures, out=out)
    finally:
        out.release()
    return _report_paths(paths)


# ------------------------------------------------------------------------------ validate, size, export
def cmd_validate(args):
    import numpy as np
    from .validate import baran_wu_distflow, case30_dcopf
    a, b = case30_dcopf(), baran_wu_distflow()
    out = {"case30_dcopf": {k: v for k, v in a.items() if np.isscalar(v)},
           "case33bw_distflow": {k: v for k, v in b.items() if np.isscalar(v)}}
    if args.json:
        _emit_json(out)
    else:
        _say(f"case30 DC-OPF   : {a['cost_usd_per_h']:.4f} $/h (published {a['published_usd_per_h']}, "
             f"HiGHS {a['highs_cost_usd_per_h']:.4f}); max LMP diff {a['max_lmp_diff_usd_per_mwh']:.2e} $/MWh; "
             f"ECOS {a['status']}")
        _say(f"case33bw SOC-DF : losses {b['losses_kw']:.3f} kW (published {b['published_losses_kw']}), "
             f"Vmin {b['vmin_pu']:.5f} pu at bus {b['vmin_bus']} (published {b['published_vmin_pu']} at 18); "
             f"SOC gap {b['soc_gap_max']:.1e}; ECOS {b['status']}")
    return EXIT_OK


def cmd_size(args):
    from .schemes.dso_led import build_dso_led
    rows = []
    for n in args.adns:
        # structure only: the KKT presolve changes bounds, not the size (and takes MILPs)
        prob, lay = build_dso_led(_system(args, n), complementarity=args.complementarity,
                                  kkt_presolve=False)
        r = prob.size_report()
        rows.append({"adns": n, "hours": lay.T, **r, **{f"bin_{k}": v for k, v in lay.binary_groups.items()},
                     "cross_pairs": int(lay.cross.pairs.shape[0])})
    if args.json:
        _emit_json(rows)
        return EXIT_OK
    cols = ["adns", "continuous", "bin_der", "bin_p2p_role", "bin_p2p_platform", "bin_cross_role",
            "bin_kkt", "cross_pairs", "eq_rows", "ineq_rows", "cones", "nnz"]
    _say(" ".join(f"{c:>16}" for c in cols))
    for r in rows:
        _say(" ".join(f"{r[c]:>16}" for c in cols))
    return EXIT_OK


def _check_export_target(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UsageError(f"export: output '{path}' is a directory (give a file name, e.g. model.cbf)")
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise UsageError(f"export: output '{path}': folder '{d}' does not exist")
    if not os.access(d, os.W_OK | os.X_OK):
        raise UsageError(f"export: output '{path}': folder '{d}' is not writable")


def cmd_export(args):
    from .conic.cbf import write_cbf
    from .schemes.dso_led import build_dso_led
    _check_export_target(args.output)
    prob, _ = build_dso_led(_system(args), complementarity="bigm")
    write_cbf(prob, args.output)
    _err(f"wrote {args.output}: {prob.n} variables ({prob.integer.size} binary), objective in k$")
    return EXIT_OK


def cmd_sweep(args):
    from .experiments.sweep import SweepSpec, parse_int_list, run_sweep
    spec = SweepSpec(adns=parse_int_list("adns", args.adns), hours=args.hours,
                     seeds=parse_int_list("seeds", args.seeds),
                     schemes=tuple(s.strip() for s in args.schemes.split(",") if s.strip()),
                     time_limit=args.time_limit, gap=args.gap, start=args.start, scenario=args.scenario,
                     complementarity=args.complementarity, nested=args.nested,
                     method=args.method).validate()
    if args.scenario is not None:       # bad scenario: one line and exit 2, before any run
        from .data.builder import read_scenario
        read_scenario(args.scenario)
    cache = None if args.no_cache else (args.cache or os.path.join(args.output, "cache"))
    rows = run_sweep(spec, args.output, resume=args.resume, workers=args.workers, scheduler=args.scheduler,
                     cache=cache, figures=not args.no_figures)
    bad = sum(r["status"] in ("refused", "error") for r in rows)
    _say(f"{len(rows)} runs" + (f", {bad} refused or failed (see sweep.md)" if bad else ""))
    return _report_paths({k: os.path.join(args.output, k)
                          for k in ("sweep.md", "sweep.csv", "sweep.h5", "growth.md")})


def _sweep_parser(sub):
    p = sub.add_parser("sweep", help="scale sweep over ADN counts and seeds: size, time, gap; resumable")
    p.add_argument("--adns", default="1,2,5,10", help="ADN counts, e.g. 1,2,5,10 or 1-50 (default %(default)s)")
    p.add_argument("--hours", type=_flag_int("hours", 1, 24), default=24, help="horizon in hours, 1..24 (default 24)")
    p.add_argument("--seeds", default="0,1", help="seeds, e.g. 0,1 (default %(default)s)")
    p.add_argument("--scenario", type=_flag_file("scenario"), default=None,
                   help="scenario JSON (default: the shipped default case)")
    p.add_argument("--start", type=_flag_int("start", 0, 23), default=None,
                   help="first hour 0..23 (default: the scenario's, 0)")
    p.add_argument("--schemes", default="dso-led", help="comma-separated among dso-led, tso-led, hybrid, centralised")
    p.add_argument("--complementarity", choices=["bigm", "branch"], default="bigm")
    p.add_argument("--method", default="monolithic",
                   help="DSO-led solve method, one of tsodso.schemes.dso_led.METHODS (monolithic, "
                        "decomposition, ...; default monolithic: our B&B on the whole MISOCP)")
    p.add_argument("--nested", action="store_true",
                   help="nested instances: the N-ADN instance's ADNs are the first N of every larger one "
                        "(per-ADN random streams; seed 0 starts with the default case's ADNs), so the "
                        "cache seeds each run from the smaller runs' ADNs")
    p.add_argument("--time-limit", type=_flag_float("time-limit", 0.0, lo_open=True, allow_inf=True),
                   default=300.0, help="solve seconds per run (B&B with its root relaxation and heuristics; "
                        "the build is not included), > 0 (default 300)")
    p.add_argument("--gap", type=_flag_float("gap", 0.0, allow_inf=True), default=1e-4,
                   help="relative gap to prove, >= 0 (default 1e-4)")
    p.add_argument("--workers", type=_flag_int("workers", 0, 256), default=1,
                   help="0 = in this process; K = K local worker processes, one per run (default 1)")
    p.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a dask.distributed scheduler")
    p.add_argument("--resume", action="store_true", help="skip runs already in DIR (same instance hash)")
    p.add_argument("--cache", default=None, help="warm-start cache directory (default DIR/cache)")
    p.add_argument("--no-cache", action="store_true", help="no warm-start cache")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures (no matplotlib needed)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=cmd_sweep)


# ------------------------------------------------------------------------------ parser
def _instance_args(p, adns_default="5", adns_list=False):
    if adns_list:
        p.add_argument("--adns", type=_flag_adn_list, default=_flag_adn_list(adns_default),
                       help=f"comma-separated ADN counts, each 1..{MAX_ADNS} (default {adns_default})")
    else:
        p.add_argument("--adns", type=_flag_int("adns", 1, MAX_ADNS), default=int(adns_default),
                       help=f"number of ADNs, 1..{MAX_ADNS} (default {adns_default})")
    p.add_argument("--hours", type=_flag_int("hours", 1, 24), default=24, help="horizon in hours, 1..24 (default 24)")
    p.add_argument("--seed", type=_flag_int("seed", 0, MAX_SEED), default=0,
                   help=f"seed of the ADN variation, 0..{MAX_SEED} (default 0)")
    p.add_argument("--scenario", type=_flag_file("scenario"), default=None,
                   help="scenario JSON (default: the shipped default case)")
    p.add_argument("--start", type=_flag_int("start", 0, 23), default=None,
                   help="first hour 0..23 (default: the scenario's, 0)")


def _search_args(p, per_scheme=False, time_limit=300.0):
    p.add_argument("--time-limit", type=_flag_float("time-limit", 0.0, lo_open=True, allow_inf=True),
                   default=time_limit,
                   help=("seconds of branch-and-bound search" + (" per scheme" if per_scheme else "")
                         + f", > 0 (default {time_limit:g}). It bounds the search only: building the model (with "
                           "its KKT presolve) and the certificates come on top (the build took 4.3 s on "
                           "the default case from a fresh install; the summary reports build_seconds)"))
    p.add_argument("--gap", type=_flag_float("gap", 0.0, allow_inf=True), default=1e-4,
                   help="relative gap to prove, >= 0 (default 1e-4): (objective - bound) / "
                        "max(1 $, |objective|); 'optimal' is reported only with a solution and this gap proven")


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__
    from .schemes.registry import SCHEMES
    ap = _Parser(prog="tsodso", description="DSO-led bilevel TSO-DSO coordination",
                 epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"tsodso {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    def add(name, help_text):
        return sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = add("solve", "solve a scheme on an instance (default: DSO-led, default case)")
    _instance_args(p)
    p.add_argument("--scheme", choices=list(SCHEMES), default="dso-led")
    p.add_argument("--complementarity", choices=["bigm", "branch"], default="bigm")
    # default (None): schemes.dso_led.default_method, the API's too: oa up to 5 ADNs (measured on
    # the default case, bench/README.md), decomposition above, monolithic in branch mode
    p.add_argument("--method", choices=["monolithic", "decomposition", "oa"], default=None,
                   help="dso-led solver: oa = outer approximation (HiGHS MILP master over cone "
                        "tangents, ECOS re-solves; --complementarity bigm only); decomposition = "
                        "Lagrangian bounds over (ADN, hour) and whole-hour blocks with our B&B on top; "
                        "monolithic = our B&B on the whole MISOCP (default: oa up to 5 ADNs, "
                        "decomposition above, monolithic with --complementarity branch)")
    p.add_argument("--workers", type=_flag_int("workers", 1, 256), default=1,
                   help="decomposition: solve the blocks on this many local worker processes (default 1)")
    p.add_argument("--scheduler", type=_flag_scheduler, default=None, metavar="tcp://HOST:PORT",
                   help="decomposition: solve the blocks on a running dask.distributed cluster "
                        "(docs/sweeps.md: starting one on SLURM); needs tsodso[dask]")
    # 600 s: the default case is proven (1e-4) in about 311 s of it (README "Solver performance")
    _search_args(p, time_limit=600.0)
    p.add_argument("--json", action="store_true", help="stdout = one JSON object (log on stderr)")
    p.add_argument("-o", "--output", default=None,
                   help="directory for result.h5 (+ result.nc with xarray, comparison.h5 for the "
                        "schemes other than dso-led) and summary.json; checked and locked before the solve")
    p.set_defaults(func=cmd_solve)

    p = add("compare", "run the schemes on one instance; tables, figures, HDF5, summary")
    _instance_args(p)
    p.add_argument("--schemes", type=_flag_schemes,
                   default=("centralised", "tso-led", "hybrid", "price-taking", "dso-led"),
                   help="comma-separated subset of " + ", ".join(SCHEMES)
                        + " (default: centralised,tso-led,hybrid,price-taking,dso-led)")
    _search_args(p, per_scheme=True)
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures (no matplotlib needed)")
    p.add_argument("--vary", default=None, metavar="NAME=V1,V2,...",
                   help="sensitivity: re-run per value of pv_scale, bess_scale, degradation ($/MWh) or a "
                        "dotted scenario key (table, CSV, figure in -o)")
    p.add_argument("-o", "--output", required=True, help="output directory (checked and locked before solving)")
    p.set_defaults(func=cmd_compare)

    p = add("validate", "stand-alone models vs published values")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = add("size", "problem size table over ADN counts")
    _instance_args(p, adns_default="1,2,5,10,20,50", adns_list=True)
    p.add_argument("--complementarity", choices=["bigm", "branch"], default="bigm")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_size)

    p = add("export", "write the exact MISOCP (big-M form)")
    _instance_args(p)
    p.add_argument("--format", choices=["cbf"], default="cbf", help="file format (only cbf)")
    p.add_argument("-o", "--output", required=True, help="output file, e.g. model.cbf")
    p.set_defaults(func=cmd_export)
    _sweep_parser(sub)
    _verbosity_args(ap, default=False)
    for sp in sub.choices.values():
        _verbosity_args(sp)
    return ap


def _user_errors(cmd):
    from .data.errors import CaseError
    from .formulation.bigm import ModelError
    from .report.output import OutputError, ResultFileError
    errors = (CaseError, ModelError, OutputError, ResultFileError, UsageError)
    if cmd == "sweep":
        from .experiments.sweep import SweepError
        errors += (SweepError,)
    return errors


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:             # a flag error (one line printed, code 2), --help, --version
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    import signal
    # block SIGINT / SIGTERM before anything starts a thread (conic/interrupt.py `handlers`)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    if argv is None and args.cmd in LONG_COMMANDS:
        _reexec_without_stray_threads(old_mask)
    try:
        from .conic import interrupt
        with interrupt.handlers(old_mask):
            return _run(args, interrupt)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


LONG_COMMANDS = ("solve", "compare", "sweep", "export")
_REEXEC_ENV = "TSODSO_SIGNALS_BLOCKED"


def _reexec_without_stray_threads(old_mask) -> None:
    """`import tsodso` imports numpy, whose OpenBLAS starts a worker thread with SIGINT /
    SIGTERM unblocked; a signal the kernel hands to that thread while ECOS runs lands in
    ECOS's own handler and can be lost (2 of 8 SIGINTs in a test, 1 ADN x 8 h). So the
    command re-executes itself once with the signals already blocked: the mask survives
    exec, every thread of the new image inherits it, and only the watcher receives them.
    Costs one interpreter start (~1 s); skipped when called in-process (argv given)."""
    import signal
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return                          # no /proc: keep going with the stray threads
    if threads <= 1 or os.environ.get(_REEXEC_ENV) == "1":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ, **{_REEXEC_ENV: "1"})
    try:
        os.execve(sys.executable, [sys.executable, "-m", "tsodso.cli", *sys.argv[1:]], env)
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _run(args, interrupt) -> int:
    from .report.output import OutputWriteError
    user_errors = _user_errors(args.cmd)
    try:
        with _stdout_for_reports(), _cli_logging(args):
            return args.func(args)
    except user_errors as e:
        _err(f"tsodso {args.cmd}: error: {e}")
        return EXIT_USAGE
    except OutputWriteError as e:
        _err(f"tsodso {args.cmd}: error: {e}")
        return EXIT_WRITE
    except KeyboardInterrupt:
        _err("tsodso: interrupted")
        return interrupt.exit_code()


if __name__ == "__main__":
    sys.exit(main())
