"""The public Python API: build a system, edit its scenario, solve any scheme, read results.

    import tsodso
    system = tsodso.load_system(adns=1, hours=3, start=10)       # the shipped default case
    big = system.with_scenario({"adn_defaults.bess.pmax_mw_per_feeder": [1.2, 1.2]})
    res = tsodso.solve(big, scheme="dso-led", time_limit=60)     # a Result
    res.to_pandas()["pcc"]                                        # tidy DataFrame, (hour, adn)
    res.to_xarray()                                               # Dataset, named dims, units
    res.write("run.h5");  same = tsodso.read_result("run.h5")     # the same Result back

Everything a Result holds is in physical units named in the column names ($, MW, MWh, pu,
$/MWh; docs/units.md) and indexed by clock hour, ADN, bus, line (tsodso/report/labelled.py
lists every table). pandas and xarray are optional (`pip install "tsodso[frames]"`); only
`to_pandas` / `to_xarray` need them.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from typing import Optional

import numpy as np

from .data.system import System

__all__ = ["load_system", "solve", "read_result", "Result", "check_system"]

log = logging.getLogger(__name__)          # "tsodso.api"


def load_system(adns: int = 5, hours: int = 24, start: Optional[int] = None, seed: int = 0,
                scenario: Optional[str] = None, changes: Optional[dict] = None) -> System:
    """Build a `System` from the shipped default case or a scenario JSON file.

    Args:
        adns: number of ADNs (the default case lists 5; other counts are drawn with `seed`).
        hours: horizon, 1..24 model hours of 1 h.
        start: first clock hour 0..23 (default: the scenario's, 0 = midnight); wraps past 24.
        seed: seed of the ADN variation.
        scenario: path of a scenario JSON (default: the shipped `cases/default_scenario.json`).
        changes: {dotted scenario key: value} applied before the build, e.g.
            `{"adn_defaults.bess.energy_hours": 2}`; the same as `System.with_scenario`.

    Raises:
        tsodso.data.CaseError: a file, key or value is invalid (the message names it).
    """
    from .data import load_system as _load
    return _load(scenario, adns=adns, hours=hours, seed=seed, start=start, overrides=changes)


# ------------------------------------------------------------------------------ solving
def _differs(a, b, path="system"):
    """The first field path where two systems differ, or None."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            if f.name == "scenario":
                continue
            r = _differs(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
            if r:
                return r
        return None
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return path
        for i, (x, y) in enumerate(zip(a, b)):
            r = _differs(x, y, f"{path}[{i}]")
            if r:
                return r
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return path
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            return None if np.array_equal(a, b, equal_nan=True) else path
        return None if np.array_equal(a, b) else path
    return None if a == b else path


def check_system(system: System) -> None:
    """Refuse a system whose fields were edited in place (derived data would be stale).

    A system built by `load_system` is rebuilt from its scenario (about 20 ms) and compared
    field by field; any difference raises ValueError naming the field. Systems not built by
    `load_system` are not checked."""
    if "_build" not in (system.scenario or {}):
        return
    fresh = system.with_scenario()
    where = _differs(system, fresh)
    if where:
        raise ValueError(
            f"{where} differs from what the system's scenario gives now: it was edited in place "
            "(or the case files changed since it was built), so quantities derived from it (the "
            "PCC box, the TN scaling, ...) would be stale. Change the "
            "scenario instead: system.with_scenario({'dotted.key': value}) rebuilds everything "
            "(or pass check=False to solve the system as it is).")


def solve(system: Optional[System] = None, scheme: str = "dso-led", *, time_limit: float = 300.0,
          gap: float = 1e-4, complementarity: str = "bigm", options: Optional[dict] = None,
          check: bool = True, adns: int = 5, hours: int = 24, seed: int = 0, start=None,
          scenario=None, method: Optional[str] = None) -> "Result":
    """Solve `scheme` on `system` and return a `Result`.

    Args:
        system: the instance (`load_system`); None builds one from `adns`, `hours`, `seed`,
            `start`, `scenario` (the shipped default case by default).
        scheme: a name of `tsodso.SCHEMES` (the registry, `tsodso/schemes/registry.py`):
            "dso-led" (the bilevel MISOCP), "tso-led", "hybrid", "centralised", "price-taking".
        time_limit: seconds for the branch-and-bound (tso-led/hybrid: shared by the DSOs).
        gap: relative gap to prove; the status is "optimal" only when it is proven.
        complementarity: "bigm" or "branch" (dso-led only; docs/model.md section 4).
        options: extra `tsodso.solver.BnBOptions` fields, e.g. `{"verbose": False}`.
        check: refuse a system edited in place (see `check_system`).
        method: dso-led solver, one of `tsodso.schemes.dso_led.METHODS` ("monolithic",
            "decomposition", "oa"); None = `tsodso.schemes.dso_led.default_method`: "oa" up to
            5 ADNs, "decomposition" above, "monolithic" with complementarity "branch" (the
            CLI's default too).

    Returns:
        Result: status, objective and bound in $, certificates, labelled tables.
    """
    from .schemes.dso_led import METHODS, default_method
    from .schemes.registry import get_scheme, solve_scheme
    get_scheme(scheme)                       # ValueError naming the known schemes
    if complementarity not in ("bigm", "branch"):
        raise ValueError(f"complementarity {complementarity!r} is not one of bigm, branch")
    if system is None:
        system = load_system(adns=adns, hours=hours, start=start, seed=seed, scenario=scenario)
    elif check:
        check_system(system)
    log.info("solving %s on %d ADNs x %d h from %02d:00 (time limit %.0f s, gap %g)", scheme,
             system.n_adn, system.n_hours, system.start_hour, time_limit, gap)
    method = default_method(complementarity, system.n_adn) if method is None else method
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(METHODS)}")
    extra = {"method": method}
    raw = solve_scheme(scheme, system, time_limit=time_limit, rel_gap=gap, options=options,
                       complementarity=complementarity, **extra)
    solver_options = {"scheme": scheme, "time_limit_s": float(time_limit), "rel_gap": float(gap),
                      "complementarity": complementarity if scheme == "dso-led" else None,
                      "method": method if scheme == "dso-led" else None,
                      "bnb_options": dict(options or {})}
    res = Result.from_scheme_result(raw, system, solver_options)
    log.info("%s: %s, objective %s $, gap %s", scheme, res.status,
             f"{res.objective_usd:,.2f}" if np.isfinite(res.objective_usd) else "--",
             f"{100 * res.rel_gap:.3f} %" if np.isfinite(res.rel_gap) else "--")
    return res


def read_result(path) -> "Result":
    """The `Result` stored in a result file (`Result.write`, `tsodso solve -o DIR`)."""
    from .report.result_file import read_result as _read
    d = _read(path)
    return Result(d["meta"], d["tables"], d["coords"])


# ------------------------------------------------------------------------------ the result
class Result:
    """One scheme's result: headline numbers, provenance, certificates and labelled tables.

    Attributes:
        meta: provenance and headline numbers (scheme, status, stop_reason, objective_usd,
            best_bound_usd, rel_gap, seconds, tsodso_version, adns, hours, seed, start_hour,
            clock_hours, scenario (JSON text), scenario_sha256, solver_options, certificates,
            summary, units).
        tables: {table: (dims, {column: array})} (tsodso/report/labelled.py), None without a
            solution.
        coords: {dim: 1-D array}.
        raw: the scheme's own result object (with the solution vector `x`, the conic
            `problem`, the `layout`, the B&B statistics `bnb`) when solved in this process;
            None when read from a file. Attributes not defined here are looked up on it.
        system: the System solved (None when read from a file).
    """

    def __init__(self, meta: dict, tables, coords, raw=None, system=None):
        self.meta, self.tables, self.coords, self.raw, self.system = meta, tables, coords, raw, system
        if "units" not in self.meta and tables is not None:
            from .report.labelled import unit_of
            self.meta["units"] = {c: unit_of(c) for _, cols in tables.values() for c in cols}

    @classmethod
    def from_scheme_result(cls, raw, system, solver_options=None) -> "Result":
        from .report.result_file import labelled_tables, result_meta
        tables, coords = labelled_tables(raw)
        return cls(result_meta(raw, system, solver_options), tables, coords, raw=raw, system=system)

    # headline numbers
    scheme = property(lambda self: self.meta["scheme"], doc="scheme name")
    status = property(lambda self: self.meta["status"],
                      doc="'optimal' only at a proven gap; else why the search stopped")
    stop_reason = property(lambda self: self.meta["stop_reason"], doc="what ended the search")
    objective_usd = property(lambda self: _f(self.meta["objective_usd"]), doc="incumbent, $")
    best_bound_usd = property(lambda self: _f(self.meta["best_bound_usd"]), doc="proven bound, $")
    rel_gap = property(lambda self: _f(self.meta["rel_gap"]),
                       doc="(incumbent - bound) / max(1, |incumbent|)")
    seconds = property(lambda self: _f(self.meta.get("seconds")), doc="build + solve time, s")
    certificates = property(lambda self: self.meta.get("certificates", {}),
                            doc="flat certificates (docs/model.md section 6)")
    start_hour = property(lambda self: int(self.meta["start_hour"]), doc="first clock hour")

    @property
    def has_solution(self) -> bool:
        return self.tables is not None

    @property
    def scenario(self) -> dict:
        """The scenario as used (content of `meta['scenario']`)."""
        return json.loads(self.meta["scenario"])

    def summary(self) -> dict:
        """The JSON summary (the `tsodso solve --json` output)."""
        return self.raw.summary() if self.raw is not None else dict(self.meta.get("summary", {}))

    def __getattr__(self, name):
        raw = self.__dict__.get("raw")
        if raw is not None and not name.startswith("__"):
            return getattr(raw, name)
        raise AttributeError(f"Result has no attribute {name!r}"
                             + ("" if raw is not None else " (results read from a file carry the "
                                "labelled tables and provenance, not the solver's objects)"))

    def __repr__(self):
        obj = self.objective_usd
        return (f"<tsodso.Result {self.scheme}: {self.status}, objective "
                f"{obj:,.2f} $, gap {100 * self.rel_gap:.3f} %, {self.meta.get('adns')} ADNs x "
                f"{self.meta.get('hours')} h from {self.start_hour:02d}:00>"
                if np.isfinite(obj) else f"<tsodso.Result {self.scheme}: {self.status}, no solution>")

    # conversions
    def _need_solution(self):
        if self.tables is None:
            raise ValueError(f"the {self.scheme} result has no solution (status {self.status})")

    def to_pandas(self) -> dict:
        """{table: DataFrame}, each indexed by its dims (hour = clock hour, adn, tn_bus, ...),
        units in the column names; "system" is a Series of the system metrics."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError('to_pandas needs pandas: pip install "tsodso[frames]"') from None
        self._need_solution()
        out = {}
        for name, (dims, cols) in self.tables.items():
            if not dims:
                out[name] = pd.Series({c: float(v) for c, v in cols.items()}, name=self.scheme)
                continue
            index = pd.MultiIndex.from_product([self.coords[d] for d in dims], names=list(dims)) \
                if len(dims) > 1 else pd.Index(self.coords[dims[0]], name=dims[0])
            out[name] = pd.DataFrame({c: np.asarray(v).reshape(-1) for c, v in cols.items()},
                                     index=index)
        return out

    def to_xarray(self):
        """An xarray Dataset: one variable per column with its dims and a `units` attribute,
        coordinates for every dim, the provenance in the attributes."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError('to_xarray needs xarray: pip install "tsodso[frames]"') from None
        from .report.labelled import DIM_DOC
        self._need_solution()
        units = self.meta.get("units", {})
        data = {c: xr.Variable(dims, np.asarray(v), attrs={"units": units.get(c, ""), "table": t})
                for t, (dims, cols) in self.tables.items() for c, v in cols.items()}
        coords = {d: xr.Variable((d,), np.asarray(c, dtype=str if np.asarray(c).dtype == object else None),
                                 attrs={"description": DIM_DOC.get(d, "")})
                  for d, c in self.coords.items()}
        # netCDF attributes take numbers and strings only: dicts/lists as JSON, booleans as 0/1
        attrs = {k: (json.dumps(v) if isinstance(v, (dict, list))
                     else int(v) if isinstance(v, (bool, np.bool_)) else v)
                 for k, v in self.meta.items() if v is not None}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def write(self, path) -> None:
        """Write the result file (HDF5; docs/results.md). `read_result(path)` reads it back."""
        from .report.result_file import write_labelled
        meta = {k: v for k, v in self.meta.items() if k != "units"}
        write_labelled(path, meta, self.tables, self.coords, self.raw)


def _f(v) -> float:
    return float("nan") if v is None else float(v)
