"""Scale sweep: size, time and gap against the number of ADNs (issue 13).

    spec = SweepSpec(adns=(1, 2, 5, 10), hours=24, seeds=(0, 1), schemes=("dso-led",),
                     time_limit=45.0, gap=1e-4)
    rows = run_sweep(spec, "out/", resume=True, workers=1, scheduler=None, cache="out/cache")

One run = (N ADNs, seed, scheme) on the instance `load_system(scenario, adns=N, hours=,
seed=, start=)`. Runs are independent tasks: in this process (`workers=0`), in a local pool
of K worker processes (`workers=K`, one fresh process per run, so the peak memory of a run is
its own) or on a Dask cluster (`scheduler="tcp://HOST:PORT"`, docs/sweeps.md). Rows are in
the same order (N, seed, scheme) whatever ran them.

Each run is keyed by its instance hash (`run_key`): SHA-256 of the scenario's content (the
scenario JSON and the case and profile files it names, as bytes), N, hours, start, seed,
scheme, the solver options (time limit, gap, complementarity), the package version and, when
not the defaults, the nested flag and the method. As
each run ends, its row is written to `DIR/runs/<key>.json` (atomically), and the tables are
rewritten from all rows: `DIR/sweep.csv`, `DIR/sweep.md`, `DIR/sweep.h5` (each written to a
temporary file and renamed), so an interrupted sweep loses at most the runs in progress.
`resume=True` skips every run whose key has a row in `DIR/runs/`, except rows with status
"error" (an unexpected exception is not a result of the instance; they run again).

Row columns (units in the names; objective values are the scheme's own objective, $):
  key, adns, seed, scheme, hours, start, status, reason (why a run was refused or failed),
  objective_usd, best_bound_usd, root_bound_usd (best bound after the root node), gap
  (relative, bounds.gap), nodes, node_solves, build_seconds (model build incl. the PCC box
  and the KKT presolve, or their cache reads), root_seconds (B&B start to the end of the root
  node: its relaxation and root heuristics), solve_seconds (B&B), seconds (wall clock of the
  whole run: instance, build, B&B, certificates),
  peak_rss_mib (largest resident set of the process during the run, sampled every 50 ms;
  includes the interpreter and, with workers=0, what earlier runs left allocated), the size
  columns of `tsodso size` (continuous, integers, bin_der, bin_p2p_role, bin_p2p_platform,
  bin_cross_role, bin_kkt, cross_pairs, eq_rows, ineq_rows, cones, nnz), the certificates of
  the result's `certificate_row()` (soc_gap, max_voltage_mismatch_pu, tn_check_value,
  bigm_active), kkt_fixed (pairs fixed by the KKT presolve), kkt_milps / kkt_milp_failures
  (its HiGHS MILPs; a failed one, e.g. at its 10 s limit, proves nothing and leaves its pairs
  free), pcc_box_seconds / kkt_presolve_seconds (their time when computed, 0 on a cache hit,
  empty without a cache), cache use (cache_pcc_box,
  cache_kkt_presolve, cache_incumbent, cache_pseudocosts, cache_multipliers (decomposition
  only): hit / computed / none / off; cache_adn_seeded: how many
  of the run's ADNs had per-ADN integers stored by an earlier run, schemes/warm.py),
  incumbent_source (the heuristic or search step that found the final incumbent: e.g.
  "seeded_adns", "cached_incumbent", "follower_response", "dive", "relaxation"), nested (the
  instance family, `load_system(nested=)`), method (the DSO-led solve method: monolithic B&B or
  decomposition, schemes/dso_led.py), version.
Status is the scheme's (strict: "optimal" only at a proven gap), or "refused" (the instance
was refused with a CaseError/ModelError, e.g. a TN without a strictly feasible dispatch in
some hour; `reason` has the message), or "error" (an unexpected exception, `reason` has it).

Growth: `growth_table(rows)` fits y = a N^b by least squares on log y vs log N (per
quantity, over the N with y > 0; time quantities use the median over seeds per N) and
reports b over all N and over the largest half of the N values; the figures show the same
numbers (`write_figures`).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np

from ..schemes.registry import SCHEMES

SWEEP_FORMAT = "tsodso-sweep/1"
log = logging.getLogger(__name__)      # progress (INFO): runs done / left, the current run's gap

SIZE_COLUMNS = ["continuous", "integers", "bin_der", "bin_p2p_role", "bin_p2p_platform",
                "bin_cross_role", "bin_kkt", "cross_pairs", "eq_rows", "ineq_rows", "cones", "nnz"]
COLUMNS = (["key", "adns", "seed", "scheme", "hours", "start", "status", "reason",
            "objective_usd", "best_bound_usd", "root_bound_usd", "gap", "nodes", "node_solves",
            "build_seconds", "root_seconds", "solve_seconds", "seconds", "peak_rss_mib"]
           + SIZE_COLUMNS
           + ["soc_gap", "max_voltage_mismatch_pu", "tn_check_value", "bigm_active", "kkt_fixed",
              "kkt_milps", "kkt_milp_failures", "pcc_box_seconds", "kkt_presolve_seconds",
              "cache_pcc_box", "cache_kkt_presolve", "cache_incumbent", "cache_pseudocosts", "cache_multipliers", "cache_adn_seeded",
              "incumbent_source", "nested", "method", "time_limit", "rel_gap_target", "version"])
# columns that depend on the machine and its load, not on the instance and the solver
TIMING_COLUMNS = ("build_seconds", "root_seconds", "solve_seconds", "seconds", "peak_rss_mib",
                  "pcc_box_seconds", "kkt_presolve_seconds")


class SweepError(ValueError):
    """A sweep argument is invalid (the message names the flag and the value)."""


@dataclass
class SweepSpec:
    adns: Sequence[int]
    hours: int = 24
    seeds: Sequence[int] = (0,)
    schemes: Sequence[str] = ("dso-led",)
    time_limit: float = 300.0
    gap: float = 1e-4
    start: Optional[int] = None
    scenario: Optional[str] = None
    complementarity: str = "bigm"
    nested: bool = False            # load_system(nested=True): the N-ADN instance inside the N+1 one
    method: str = "monolithic"      # DSO-led solve method (schemes/dso_led.METHODS)

    def validate(self) -> "SweepSpec":
        def ints(name, vals, lo, hi=None):
            out = []
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (hi is not None and v > hi):
                    rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
                    raise SweepError(f"--{name}: {v!r} is not an integer {rng}")
                out.append(int(v))
            if not out:
                raise SweepError(f"--{name}: empty list")
            if len(set(out)) != len(out):
                raise SweepError(f"--{name}: repeated values in {out}")
            return tuple(out)
        self.adns = ints("adns", self.adns, 1)
        self.seeds = ints("seeds", self.seeds, 0)
        ints("hours", [self.hours], 1, 24)
        if self.start is not None:
            ints("start", [self.start], 0, 23)
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad or not self.schemes:
            raise SweepError(f"--schemes: {','.join(bad) or '(empty)'} not among {', '.join(SCHEMES)}")
        self.schemes = tuple(self.schemes)
        if isinstance(self.time_limit, bool) or not isinstance(self.time_limit, (int, float)) \
                or not self.time_limit > 0 or math.isnan(self.time_limit):
            raise SweepError(f"--time-limit: {self.time_limit!r} must be > 0 seconds")
        if isinstance(self.gap, bool) or not isinstance(self.gap, (int, float)) or not self.gap >= 0:
            raise SweepError(f"--gap: {self.gap!r} must be >= 0")
        from ..schemes.dso_led import METHODS
        if self.method not in METHODS:
            raise SweepError(f"--method: {self.method!r} not among {', '.join(METHODS)}")
        if not isinstance(self.nested, bool):
            raise SweepError(f"--nested: {self.nested!r} must be true or false")
        if self.complementarity not in ("bigm", "branch"):
            raise SweepError(f"--complementarity: {self.complementarity!r} not bigm | branch")
        return self


def parse_int_list(flag: str, text: str) -> tuple:
    """'1,2,5' or '1-5' or '1-10,20,50' -> (1, 2, 5); SweepError naming the flag otherwise."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                a, b = int(a), int(b)
                if b < a:
                    raise ValueError
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise SweepError(f"--{flag}: {part!r} is not an integer or a range a-b") from None
    return tuple(out)


# ------------------------------------------------------------------------------ keys
def scenario_digest(scenario) -> str:
    """SHA-256 of the scenario JSON and of the case/profile files it names (their bytes)."""
    from ..data.builder import _resolve, default_scenario_path, read_scenario
    from ..data.cache import content_hash
    path = default_scenario_path() if scenario is None else str(scenario)
    sc = read_scenario(path)
    parts = [open(path, "rb").read()]
    for k in ("tn_case", "feeder_case", "profiles"):
        with open(_resolve(sc, k), "rb") as fh:
            parts.append(fh.read())
    return content_hash("scenario/1", *parts)


def plan(spec: SweepSpec) -> List[dict]:
    """The runs of the sweep, in table order (N, seed, scheme), each with its key."""
    from .._version import __version__
    from ..data.cache import content_hash
    digest = scenario_digest(spec.scenario)
    runs = []
    for n in sorted(spec.adns):
        for s in sorted(spec.seeds):
            for sch in spec.schemes:
                r = dict(adns=n, seed=s, scheme=sch, hours=int(spec.hours), start=spec.start,
                         scenario=spec.scenario, time_limit=float(spec.time_limit), gap=float(spec.gap),
                         complementarity=spec.complementarity, version=__version__, nested=spec.nested,
                         method=spec.method)
                # the nested generator and another method are different runs: part of the key
                # (the keys of the defaults are unchanged, so earlier sweep directories resume)
                extra = (("nested",) if spec.nested else ()) + (
                    (f"method={spec.method}",) if spec.method != "monolithic" else ())
                r["key"] = content_hash("sweep-run/1", digest, n, int(spec.hours), spec.start, s, sch,
                                        float(spec.time_limit), float(spec.gap), spec.complementarity,
                                        __version__, *extra)[:32]
                runs.append(r)
    return runs


# ------------------------------------------------------------------------------ one run
class _PeakRSS:
    """Largest resident set size (MiB) of this process while the block runs (50 ms samples)."""

    def __init__(self, every=0.05):
        self.every = every
        self.peak = 0.0
        self._stop = threading.Event()

    @staticmethod
    def rss_mib() -> float:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    def _loop(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.rss_mib())

    def __enter__(self):
        self.peak = self.rss_mib()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.rss_mib())
        return False


def _fin(v):
    if v is None:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def run_one(run: dict, cache_path: Optional[str] = None, cache_enabled: bool = True,
            progress_every: float = 0.0) -> dict:
    """Run one sweep task; returns its row (never raises for a refused or failed instance).

    `progress_every` > 0: a line with the run's elapsed time, nodes and gap on stderr every so
    many seconds (from the B&B callback)."""
    from ..data import load_system
    from ..data.cache import WarmCache
    from ..data.errors import CaseError
    from ..formulation.bigm import ModelError
    row = {c: None for c in COLUMNS}
    row.update({k: run[k] for k in ("key", "adns", "seed", "scheme", "hours", "start", "version")})
    row.update(time_limit=run["time_limit"], rel_gap_target=run["gap"], nested=bool(run.get("nested", False)))
    method = run.get("method", "monolithic")
    row["method"] = method if run["scheme"] == "dso-led" else None
    cache = WarmCache(cache_path, enabled=cache_enabled and cache_path is not None) if cache_path else None
    label = f"{run['adns']} ADNs seed {run['seed']} {run['scheme']}"
    state = {"root": None, "root_t": None, "last": time.perf_counter()}
    t_start = time.perf_counter()

    def callback(info):
        if state["root"] is None:
            state["root"] = info.get("best_bound")
            state["root_t"] = info.get("seconds")
        if progress_every > 0 and time.perf_counter() - state["last"] >= progress_every:
            state["last"] = time.perf_counter()
            g = info.get("rel_gap")
            gtxt = f"{100 * g:.3f} %" if g is not None and math.isfinite(g) else "-"
            log.info("sweep:   %s: %.0f s, %s nodes, gap %s", label, time.perf_counter() - t_start,
                     info.get("nodes"), gtxt)
        return False

    quiet = {"verbose": False}
    with _PeakRSS() as mem:
        try:
            system = load_system(run["scenario"], adns=run["adns"], hours=run["hours"], seed=run["seed"],
                                 start=run["start"], nested=bool(run.get("nested", False)))
            sch = run["scheme"]
            from ..schemes.registry import solve_scheme
            # scheme-specific keywords reach only the schemes that take them (dso-led: all three)
            # the method is always passed (solve_dso_led's own default may change; only dso-led takes it)
            res = solve_scheme(sch, system, time_limit=run["time_limit"], rel_gap=run["gap"], options=quiet,
                               complementarity=run["complementarity"], cache=cache, callback=callback,
                               method=method)
        except (CaseError, ModelError) as e:
            row.update(status="refused", reason=str(e).splitlines()[0][:500])
            res = None
        except Exception as e:          # noqa: BLE001 - one failed run must not stop a sweep
            row.update(status="error", reason=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500])
            res = None
    row["peak_rss_mib"] = round(mem.peak, 1)
    row["seconds"] = round(time.perf_counter() - t_start, 3)
    if res is None:
        return row
    from ..formulation.common import USD_PER_OBJ_UNIT
    row.update(status=res.status, objective_usd=_fin(res.objective_usd), best_bound_usd=_fin(res.best_bound_usd),
               gap=_fin(res.rel_gap), nodes=int(res.nodes), node_solves=int(res.node_solves),
               build_seconds=round(float(res.build_seconds), 3), solve_seconds=round(float(res.solve_seconds), 3))
    if state["root"] is not None:
        row["root_bound_usd"] = _fin(state["root"] * USD_PER_OBJ_UNIT)
        row["root_seconds"] = round(float(state["root_t"]), 3)
    elif res.nodes == 1:
        row["root_bound_usd"] = _fin(res.best_bound_usd)
        row["root_seconds"] = round(float(res.solve_seconds), 3)
    # nodes == 0: the time limit passed before the root started (B&B set-up: 2.7 s at 100 ADNs,
    # 12.7 s at 200 under load), so there is no root bound to report
    size = dict(getattr(res, "size", {}) or {})
    bins = dict(getattr(res, "binaries", {}) or {})
    for c in ("continuous", "integers", "eq_rows", "ineq_rows", "cones", "nnz"):
        row[c] = size.get(c)
    for k in ("der", "p2p_role", "p2p_platform", "cross_role", "kkt"):
        row[f"bin_{k}"] = bins.get(k)
    lay = getattr(res, "layout", None)
    if lay is not None and getattr(lay, "cross", None) is not None:
        row["cross_pairs"] = int(lay.cross.pairs.shape[0])
    cert = res.certificate_row()
    for c in ("soc_gap", "max_voltage_mismatch_pu", "tn_check_value", "bigm_active"):
        row[c] = cert.get(c)
    prob = getattr(res, "problem", None)
    kp = prob.meta.get("kkt_presolve") if prob is not None and hasattr(prob, "meta") else None
    if kp:
        row["kkt_fixed"] = int(kp.get("fixed_inactive", 0)) + int(kp.get("fixed_active", 0))
        row["kkt_milps"] = int(kp.get("milps", 0))
        row["kkt_milp_failures"] = int(kp.get("milp_failures", 0))
    warm = getattr(res, "warm", None) or {}
    for c in ("pcc_box_seconds", "kkt_presolve_seconds"):      # 0 on a cache hit, None without cache
        if c in warm:
            row[c] = round(float(warm[c]), 3)
        elif warm.get(c.replace("_seconds", "")) == "hit":
            row[c] = 0.0
    for c, k in (("cache_pcc_box", "pcc_box"), ("cache_kkt_presolve", "kkt_presolve"),
                 ("cache_incumbent", "incumbent"), ("cache_pseudocosts", "pseudocosts"),
                 ("cache_multipliers", "multipliers")):
        row[c] = warm.get(k, "off" if sch == "dso-led" else None)
    row["cache_adn_seeded"] = warm.get("adn_seeded")
    bnb = getattr(res, "bnb", None)
    row["incumbent_source"] = getattr(bnb, "incumbent_source", None)
    return row


def _plain(v):
    """numpy scalars -> Python (rows go to JSON, CSV and HDF5 attributes)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _run_task(args):
    """Top-level (picklable) task for the process pool and Dask. A fresh worker process has no
    handler on the "tsodso" logger: the sweep's log level is passed along and a stderr handler
    added there, so the within-run progress lines show as they do in the sweep's own process."""
    run, cache_path, cache_enabled, progress_every, level = args
    pkg = logging.getLogger("tsodso")
    if level is not None and not pkg.handlers:
        h = logging.StreamHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        pkg.addHandler(h)
        pkg.setLevel(level)
        pkg.propagate = False
    row = run_one(run, cache_path, cache_enabled, progress_every)
    return {k: _plain(v) for k, v in row.items()}


# ------------------------------------------------------------------------------ the store
def _atomic_write(path: str, text: str):
    from ..atomic import write_text_atomic
    write_text_atomic(path, text, makedirs=True)


def done_rows(out: str) -> dict:
    """key -> row of every finished run stored in DIR/runs/ (unreadable files are skipped)."""
    d = os.path.join(out, "runs")
    rows = {}
    if not os.path.isdir(d):
        return rows
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json"):
            continue
        try:
            with open(os.path.join(d, f)) as fh:
                r = json.load(fh)
        except (OSError, ValueError):
            log.warning("tsodso sweep: ignoring unreadable %s", os.path.join(d, f))
            continue
        if isinstance(r, dict) and r.get("key") == f[:-5]:
            rows[r["key"]] = r
    return rows


def save_row(out: str, row: dict) -> None:
    _atomic_write(os.path.join(out, "runs", row["key"] + ".json"), json.dumps(row, indent=1, sort_keys=True))


def ordered(rows) -> list:
    order = {s: i for i, s in enumerate(SCHEMES)}
    return sorted(rows, key=lambda r: (r["adns"], r["seed"], order.get(r["scheme"], 9), r["key"]))


def _csv_text(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (repr(r[c]) if isinstance(r[c], float) else r[c]) for c in COLUMNS])
    return buf.getvalue()


def _fmt(v, kind=""):
    if v is None:
        return "-"
    if kind == "usd":
        return f"{v:,.2f}"
    if kind == "gap":
        return f"{100 * v:.3f} %"
    if kind == "s":
        return f"{v:.1f}"
    if kind == "sci":
        return f"{v:.1e}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10000:
        return f"{v:,}"
    return str(v).replace("|", "/")


MD_COLUMNS = [("adns", ""), ("seed", ""), ("scheme", ""), ("status", ""), ("objective_usd", "usd"),
              ("best_bound_usd", "usd"), ("root_bound_usd", "usd"), ("gap", "gap"), ("nodes", ""),
              ("build_seconds", "s"), ("root_seconds", "s"), ("solve_seconds", "s"), ("seconds", "s"),
              ("peak_rss_mib", "s"), ("continuous", ""), ("integers", ""), ("cross_pairs", ""), ("nnz", ""),
              ("kkt_fixed", ""), ("soc_gap", "sci"), ("tn_check_value", "sci"), ("bigm_active", ""),
              ("cache_kkt_presolve", ""), ("cache_adn_seeded", ""), ("incumbent_source", "")]


def markdown(rows, growth=None, spec_text="") -> str:
    lines = []
    if spec_text:
        lines += [spec_text, ""]
    lines.append("| " + " | ".join(c for c, _ in MD_COLUMNS) + " |")
    lines.append("|" + "---|" * len(MD_COLUMNS))
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c), k) for c, k in MD_COLUMNS) + " |")
    refused = [r for r in rows if r.get("status") in ("refused", "error")]
    if refused:
        lines += ["", "Refused or failed runs:", ""]
        lines += [f"* {r['adns']} ADNs, seed {r['seed']}, {r['scheme']}: {r['status']}: {r.get('reason')}"
                  for r in refused]
    if growth:
        lines += ["", growth_markdown(growth)]
    return "\n".join(lines) + "\n"


def write_tables(out: str, rows, spec: Optional[SweepSpec] = None) -> dict:
    """sweep.csv, sweep.md, sweep.h5 and growth.md from the rows (each written atomically)."""
    rows = ordered(rows)
    growth = growth_table(rows)
    spec_text = ""
    if spec is not None:
        spec_text = (f"Sweep: ADNs {','.join(map(str, spec.adns))}, {spec.hours} h"
                     f"{'' if spec.start is None else f' from hour {spec.start}'}, seeds "
                     f"{','.join(map(str, spec.seeds))}, schemes {','.join(spec.schemes)}, time limit "
                     f"{spec.time_limit:g} s per run, gap {spec.gap:g}. Objective values in $, times in s "
                     "(wall clock), peak_rss_mib = largest resident set of the run's process.")
    paths = {"csv": os.path.join(out, "sweep.csv"), "md": os.path.join(out, "sweep.md"),
             "h5": os.path.join(out, "sweep.h5"), "growth": os.path.join(out, "growth.md")}
    _atomic_write(paths["csv"], _csv_text(rows))
    _atomic_write(paths["md"], markdown(rows, growth, spec_text))
    _atomic_write(paths["growth"], growth_markdown(growth) + "\n")
    write_hdf5(paths["h5"], rows, growth, spec)
    return paths


def write_hdf5(path: str, rows, growth=None, spec: Optional[SweepSpec] = None) -> None:
    """HDF5 store (format "tsodso-sweep/1"): attrs format, tsodso_version, spec (JSON);
    /runs/<key> one group per run, attrs = the row (None omitted); /table/<column> one dataset
    per column in table order (numbers as float64 with NaN for missing, text as UTF-8 strings);
    /growth/<quantity> attrs exponent_all, exponent_top, n_min, n_max."""
    import h5py
    from .._version import __version__
    from ..atomic import atomic_write

    def write(tmp):
        with h5py.File(tmp, "w") as h:
            h.attrs["format"] = SWEEP_FORMAT
            h.attrs["tsodso_version"] = __version__
            if spec is not None:
                h.attrs["spec"] = json.dumps(asdict(spec))
            g = h.create_group("runs")
            for r in rows:
                rg = g.create_group(r["key"])
                for c in COLUMNS:
                    v = r.get(c)
                    if v is not None:
                        rg.attrs[c] = v
            t = h.create_group("table")
            for c in COLUMNS:
                vals = [r.get(c) for r in rows]
                if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in vals):
                    t.create_dataset(c, data=np.array([np.nan if v is None else float(v) for v in vals], float))
                else:
                    t.create_dataset(c, data=np.array(["" if v is None else str(v) for v in vals], dtype=h5py.string_dtype()))
            gg = h.create_group("growth")
            for q in (growth or []):
                e = gg.create_group(q["quantity"])
                for k in ("exponent_all", "exponent_top", "n_min", "n_max", "points"):
                    if q.get(k) is not None:
                        e.attrs[k] = q[k]
    atomic_write(path, write, makedirs=True)


# ------------------------------------------------------------------------------ growth
GROWTH_QUANTITIES = [("nnz", "nonzeros"), ("continuous", "continuous variables"), ("integers", "binaries"),
                     ("eq_rows", "equality rows"), ("cones", "cones"), ("cross_pairs", "cross-ADN P2P pairs"),
                     ("build_seconds", "build time s"), ("root_seconds", "root node time s"),
                     ("peak_rss_mib", "peak memory MiB")]


def fit_exponent(n, y):
    """Least-squares slope of log y on log n (points with y > 0); None with < 2 distinct n."""
    n, y = np.asarray(n, float), np.asarray(y, float)
    ok = np.isfinite(y) & (y > 0) & (n > 0)
    if np.unique(n[ok]).size < 2:
        return None
    return float(np.polyfit(np.log(n[ok]), np.log(y[ok]), 1)[0])


def growth_table(rows, scheme="dso-led") -> list:
    """Per quantity: the exponent b of y ~ N^b over all N and over the largest half of the N
    (median over seeds per N; runs of `scheme` that produced a model)."""
    rs = [r for r in rows if r.get("scheme") == scheme and r.get("nnz") is not None]
    out = []
    for q, label in GROWTH_QUANTITIES:
        byn = {}
        for r in rs:
            if r.get(q) is not None:
                byn.setdefault(int(r["adns"]), []).append(float(r[q]))
        ns = sorted(byn)
        if len(ns) < 2:
            continue
        y = [float(np.median(byn[n])) for n in ns]
        top = ns[len(ns) // 2:] if len(ns) >= 4 else ns
        out.append({"quantity": q, "label": label, "n_min": ns[0], "n_max": ns[-1], "points": len(ns),
                    "exponent_all": fit_exponent(ns, y),
                    "exponent_top": fit_exponent(top, [y[ns.index(n)] for n in top]),
                    "top_from": top[0]})
    return out


def growth_markdown(growth) -> str:
    if not growth:
        return "Growth exponents: fewer than two ADN counts, nothing to fit."
    lines = ["Growth exponents b of y ~ N^b (least squares on log-log, median over seeds per N; "
             "DSO-led runs):", "",
             "| quantity | N range | b (all N) | b (largest half of N) |", "|---|---|---|---|"]
    for q in growth:
        ea = "-" if q["exponent_all"] is None else f"{q['exponent_all']:.2f}"
        et = "-" if q["exponent_top"] is None else f"{q['exponent_top']:.2f}"
        lines.append(f"| {q['label']} | {q['n_min']}..{q['n_max']} ({q['points']} N) | {ea} | "
                     f"{et} (N >= {q['top_from']}) |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ figures
def write_figures(out: str, rows) -> dict:
    """size_vs_n.png, time_vs_n.png (log-log, fitted exponents in the legend), gap_vs_n.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = ordered(rows)
    rs = [r for r in rows if r.get("scheme") == "dso-led" and r.get("nnz") is not None]
    paths = {}
    if not rs:
        return paths
    growth = {g["quantity"]: g for g in growth_table(rows)}

    def series(q):
        byn = {}
        for r in rs:
            if r.get(q) is not None and float(r[q]) > 0:
                byn.setdefault(int(r["adns"]), []).append(float(r[q]))
        ns = sorted(byn)
        return np.array(ns, float), np.array([np.median(byn[n]) for n in ns])

    def panel(ax, qs, ylabel):
        for q, label in qs:
            n, y = series(q)
            if n.size == 0:
                continue
            g = growth.get(q)
            b = None if g is None else g["exponent_all"]
            lab = label + ("" if b is None else f"  (b = {b:.2f})")
            line, = ax.loglog(n, y, "o-", label=lab, lw=1.4, ms=4)
            if b is not None and n.size >= 2:
                ok = y > 0
                c = np.polyfit(np.log(n[ok]), np.log(y[ok]), 1)
                ax.loglog(n, np.exp(np.polyval(c, np.log(n))), ":", color=line.get_color(), lw=1.0)
        ax.set_xlabel("number of ADNs N")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", lw=0.3, alpha=0.5)
        ax.legend(fontsize=7)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    panel(ax, [("nnz", "nonzeros"), ("continuous", "continuous variables"), ("integers", "binaries"),
               ("eq_rows", "equality rows"), ("cross_pairs", "cross-ADN pairs")], "count")
    ax.set_title("DSO-led MISOCP size vs N (24 h); y ~ N^b fitted", fontsize=9)
    fig.tight_layout()
    paths["size"] = os.path.join(out, "size_vs_n.png")
    fig.savefig(paths["size"], dpi=130)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    panel(ax, [("build_seconds", "build (incl. KKT presolve) s"), ("root_seconds", "root node s"),
               ("solve_seconds", "B&B s (time-limited)"), ("peak_rss_mib", "peak memory MiB")], "seconds / MiB")
    ax.set_title("time and memory vs N (median over seeds); y ~ N^b fitted", fontsize=9)
    fig.tight_layout()
    paths["time"] = os.path.join(out, "time_vs_n.png")
    fig.savefig(paths["time"], dpi=130)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for s in sorted({r["seed"] for r in rs}):
        pts = [(r["adns"], r["gap"]) for r in rs if r["seed"] == s and r.get("gap") is not None]
        if pts:
            n, g = zip(*pts)
            ax.semilogx(n, 100 * np.array(g), "o-", label=f"seed {s}", lw=1.2, ms=4)
    ax.set_xlabel("number of ADNs N")
    ax.set_ylabel("relative gap at the time limit, %")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    if ax.get_legend_handles_labels()[0]:          # no run with a gap: no legend (and no warning)
        ax.legend(fontsize=7)
    ax.set_title("DSO-led: proven gap at the end of each run", fontsize=9)
    fig.tight_layout()
    paths["gap"] = os.path.join(out, "gap_vs_n.png")
    fig.savefig(paths["gap"], dpi=130)
    plt.close(fig)
    return paths


# ------------------------------------------------------------------------------ the sweep
def _progress_line(i, total, row):
    g = row.get("gap")
    gtxt = f"gap {100 * g:.3f} %" if g is not None else "no gap"
    extra = f": {row.get('reason')}" if row.get("status") in ("refused", "error") else ""
    log.info("sweep: [%d/%d] %s ADNs seed %s %s: %s, %s, %s s (%d left)%s", i, total, row["adns"], row["seed"],
             row["scheme"], row["status"], gtxt, row.get("seconds"), total - i, extra)


def run_sweep(spec: SweepSpec, out: str, resume: bool = False, workers: int = 1,
              scheduler: Optional[str] = None, cache: Optional[str] = None, cache_enabled: bool = True,
              figures: bool = True, progress_every: float = 30.0) -> list:
    """Run the sweep (module docstring); returns the rows in table order.

    workers: 0 = in this process; K >= 1 = a local pool of K processes (a fresh process per
    run). scheduler: address of a running dask.distributed scheduler (then `workers` is
    ignored; the workers must see `out`'s cache path if a cache is used)."""
    spec.validate()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise SweepError(f"--workers: {workers!r} must be an integer >= 0")
    runs = plan(spec)                   # reads the scenario: a bad one fails before any output
    os.makedirs(out, exist_ok=True)
    have = done_rows(out) if resume else {}
    keys = {r["key"] for r in runs}
    # an "error" row (an unexpected exception: environment, bug) is not a result of the
    # instance, so --resume runs it again; "refused" is (the instance was judged) and is kept
    rows = {k: v for k, v in have.items() if k in keys and v.get("status") != "error"}
    todo = [r for r in runs if r["key"] not in rows]
    total = len(runs)
    where = (f"on {scheduler}" if scheduler else
             f"in {'this process' if workers == 0 else f'{workers} worker process(es)'}")
    log.info("sweep: %d runs, %d already in %s%s, %d to run %s", total, len(rows), out,
             " (resumed)" if resume else "", len(todo), where)
    if cache is not None:
        cache = os.path.abspath(cache)
    done = len(rows)

    def finish(row):
        nonlocal done
        if row.get("status") == "interrupted":
            # Ctrl-C reached the run's B&B: its row is not a finished run, so it is not saved
            # (--resume runs it again) and the sweep stops
            log.warning("sweep: %s ADNs seed %s %s interrupted, not saved", row["adns"], row["seed"],
                        row["scheme"])
            raise KeyboardInterrupt
        save_row(out, row)
        rows[row["key"]] = row
        done += 1
        _progress_line(done, total, row)
        write_tables(out, rows.values(), spec)

    pkg = logging.getLogger("tsodso")
    level = pkg.getEffectiveLevel() if pkg.handlers else None
    tasks = [(r, cache, cache_enabled, progress_every, level) for r in todo]
    if scheduler:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise SweepError("--scheduler needs dask.distributed: pip install 'tsodso[dask]'") from None
        client = Client(scheduler) if isinstance(scheduler, str) else scheduler
        try:
            futs = [client.submit(_run_task, t, key=f"sweep-{t[0]['key']}", pure=False) for t in tasks]
            for f in as_completed(futs):
                finish(f.result())
        finally:
            if isinstance(scheduler, str):
                client.close()
    elif workers == 0 or not tasks:
        for t in tasks:
            finish(_run_task(t))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed as cf_completed
        # a fresh process per run (max_tasks_per_child=1, which excludes "fork"); the forkserver
        # preloads the package so a run does not pay the imports again
        if "forkserver" in mp.get_all_start_methods():
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["tsodso.experiments.sweep", "tsodso.schemes.dso_led"])
        else:
            ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, max_tasks_per_child=1) as ex:
            futs = [ex.submit(_run_task, t) for t in tasks]
            try:
                for f in cf_completed(futs):
                    finish(f.result())
            except KeyboardInterrupt:
                for f in futs:
                    f.cancel()
                raise
    out_rows = ordered(rows.values())
    write_tables(out, out_rows, spec)
    if figures and out_rows:
        write_figures(out, out_rows)
    return out_rows
