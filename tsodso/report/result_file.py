"""The one-result file (HDF5, schema below; docs/results.md), written atomically.

    write_result(path, res, args=None, system=None, solver_options=None)
    read_result(path) -> dict

`res` is any scheme's result (SchemeResult and its subclasses). The file carries the
provenance of the run (package version, scheme, start hour and clock hours, the scenario's
content and its SHA-256, the solver options) and the labelled tables of
`tsodso.report.labelled` with the unit of every dataset. `tsodso.read_result` turns the file
back into the same `tsodso.Result` that `tsodso.solve` returns.

Schema of result.h5 (format "tsodso-result", version 2; version 1 files are still read):
  attrs: format, format_version, tsodso_version, scheme, status, stop_reason, objective_usd,
         best_bound_usd, rel_gap, seconds, adns, hours, seed, start_hour,
         clock_hours (JSON list), scenario_json, scenario_sha256, solver_options_json,
         certificates_json, summary_json, units_json ({column: unit}), has_solution
  /coords/<dim>             1-D coordinate of each dimension (attr "doc")
  /tables                   attr "order": the tables, comma-separated
  /tables/<table>           attrs "dims" (the axis order) and "columns" (their order)
  /tables/<table>/<column>  array with attrs "dims" (comma-separated, the axis order) and "unit"
                            (tables and columns: tsodso/report/labelled.py)
  DSO-led and centralised (one joint model) also:
  /x                        the MISOCP solution vector (model units: pu, k$; docs/units.md)
  /blocks/<name>            each named variable block of /x, reshaped ((T, ...); model units)
  /pcc_import_mw            (A, T) PCC import per ADN, MW (> 0 = import from the TN)
  /lmp_usd_per_mwh          (T, nb) the solution's LMPs, $/MWh
  /bnb/incumbent_history    (k, 2) [seconds, objective k$];  /bnb/bound_history likewise
"""
from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np

from .._version import __version__
from ..atomic import atomic_write
from .output import ResultFileError, add_digests, open_hdf5

FORMAT, FORMAT_VERSION = "tsodso-result", 2
READABLE_VERSIONS = (1, 2)


def jsonable(o):
    """Plain JSON types from numpy values (NaN and inf become None)."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, (np.floating, float)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, (str, int, bool)) or o is None:
        return o
    return str(o)


def scenario_record(system) -> tuple:
    """(content JSON text, SHA-256 hex) of the system's scenario.

    The content is the scenario as used: the JSON file with every change applied, plus how the
    instance was drawn from it (`_build`: ADN count, hours, seed, start, changes) and the clock
    hours. The hash is over the canonical JSON (sorted keys, no whitespace) without the file's
    location (`_path`), so the same scenario read from two places hashes the same. The case
    files the scenario names are identified by name, not hashed."""
    sc = {k: v for k, v in (system.scenario or {}).items() if k != "_path"}
    text = json.dumps(jsonable(sc), sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def result_meta(res, system, solver_options=None) -> dict:
    """Provenance and headline numbers of a run (the file's attributes)."""
    scen_text, scen_hash = scenario_record(system)
    hours = [int(h) for h in (system.scenario or {}).get("_hours", range(system.n_hours))]
    try:
        summ = res.summary()
    except Exception:  # noqa: BLE001 - a summary needs a complete result; the file still gets written
        summ = {}
    return {
        "tsodso_version": __version__, "scheme": res.scheme, "status": res.status,
        "stop_reason": res.stop_reason, "objective_usd": _float(res.objective_usd),
        "best_bound_usd": _float(res.best_bound_usd), "rel_gap": _float(res.rel_gap),
        "seconds": _float(getattr(res, "build_seconds", 0.0) + getattr(res, "solve_seconds", 0.0)),
        "adns": int(system.n_adn), "hours": int(system.n_hours), "seed": int(system.seed),
        "start_hour": hours[0] if hours else 0, "clock_hours": hours,
        "scenario": scen_text, "scenario_sha256": scen_hash,
        "solver_options": jsonable(solver_options or {}),
        "certificates": jsonable(res.certificate_row()),
        "summary": jsonable(summ),
    }


def _float(v):
    return float("nan") if v is None else float(v)


def labelled_tables(res):
    """(tables, coords) of a scheme result, or (None, None) without a solution."""
    from ..evaluation.metrics import compute_metrics
    from .labelled import result_tables
    out = res.outcome()
    if out is None:
        return None, None
    return result_tables(out, compute_metrics(out))


def write_result(path, res, args=None, system=None, solver_options=None, tables=None):
    """Write `res` to `path` (HDF5, module docstring). `args`: the CLI namespace (its
    solver flags become the solver options); `system` defaults to the result's own;
    `tables`: precomputed (tables, coords) of `labelled_tables`."""
    system = system if system is not None else _system_of(res)
    if solver_options is None and args is not None:
        solver_options = {k: getattr(args, k) for k in ("time_limit", "gap", "complementarity")
                          if hasattr(args, k)}
    meta = result_meta(res, system, solver_options)
    tables, coords = labelled_tables(res) if tables is None else tables
    write_labelled(path, meta, tables, coords, res)


def _system_of(res):
    lay = getattr(res, "layout", None)
    return getattr(res, "system", None) or getattr(lay, "system", None)


def write_labelled(path, meta: dict, tables, coords, res=None):
    """Write a result file from its parts (`result_meta`, `labelled_tables`, the raw result)."""
    from .labelled import DIM_DOC, unit_of

    def w(tmp):
        units = {}
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION,
                            "has_solution": tables is not None})
            for k, v in meta.items():
                if k == "scenario":
                    f.attrs["scenario_json"] = v
                elif isinstance(v, (dict, list)):
                    f.attrs[f"{k}_json"] = json.dumps(v)
                else:
                    f.attrs[k] = v
            if tables is not None:
                cg = f.create_group("coords")
                for dim, c in coords.items():
                    c = np.asarray(c)
                    cg[dim] = c.astype(h5py.string_dtype()) if c.dtype == object else c
                    cg[dim].attrs["doc"] = DIM_DOC.get(dim, "")
                tg = f.create_group("tables")
                tg.attrs["order"] = ",".join(tables)
                for name, (dims, cols) in tables.items():
                    g = tg.create_group(name)
                    g.attrs["dims"] = ",".join(dims)
                    g.attrs["columns"] = ",".join(cols)
                    for col, arr in cols.items():
                        g[col] = np.asarray(arr)
                        g[col].attrs["dims"] = ",".join(dims)
                        g[col].attrs["unit"] = units[col] = unit_of(col)
            f.attrs["units_json"] = json.dumps(units)
            _write_model_vector(f, res)
            add_digests(f)
    return atomic_write(path, w, in_memory=True)


_PU_SUFFIX = (("_kusd_per_puh", "k$ per pu*h (a dual; x 1000 / base_mva = $/MWh)"),
              ("_pu2", "pu^2"), ("_puh", "pu*h"), ("_pu", "pu"), ("_rad", "rad"))


def block_unit(name: str, system=None) -> dict:
    """Attributes of a model variable block: its unit and, for per-unit blocks, the base.

    Names are `<owner>.<quantity>_<unit>` (docs/naming.md): owner `adn<a>` is on that ADN's
    base, `tn`, `kkt` and `p2p` (cross-ADN trades: the first ADN's base) likewise; KKT duals
    (`_kusd_per_puh`) in k$ per TN pu*h (x 1000 / base_mva = $/MWh), binaries 0/1."""
    owner, _, qty = name.partition(".")
    out = {"unit": "model units (docs/units.md)"}
    base = None
    if system is not None:
        if owner.startswith("adn") and owner[3:].isdigit() and int(owner[3:]) < len(system.adns):
            base = system.adns[int(owner[3:])].base_mva
        elif owner == "p2p" and system.adns:
            base = system.adns[0].base_mva
        elif owner in ("tn", "kkt"):
            base = system.tn.base_mva
    for suf, unit in _PU_SUFFIX:
        if qty.endswith(suf):
            out["unit"] = unit
            break
    else:
        if qty.startswith(("bess_on", "p2p_role", "p2p_trade", "cross_exporter", "active",
                           "pair_active")):
            out["unit"] = "binary (0/1)"
    if base is not None and out["unit"] not in ("binary (0/1)", "rad"):
        out["base_mva"] = float(base)
    return out


def _write_model_vector(f, res):
    """The raw MISOCP solution of a joint model (DSO-led, centralised): /x, /blocks, /bnb."""
    if res is None or getattr(res, "problem", None) is None or getattr(res, "layout", None) is None:
        return
    if res.x is not None:
        from ..evaluation.readback import lmp_usd_per_mwh, pcc_import_mw
        f["x"] = res.x
        f["x"].attrs["unit"] = "model units (pu on the TN / ADN bases, k$): docs/units.md"
        g = f.create_group("blocks")
        system = getattr(res.layout, "system", None)
        for name in res.problem.var_blocks:
            g[name] = res.problem.get(res.x, name)
            g[name].attrs.update(block_unit(name, system))
        f["pcc_import_mw"] = pcc_import_mw(res.layout, res.x)
        f["pcc_import_mw"].attrs.update({"unit": "MW", "dims": "adn,t"})
        if getattr(res.layout, "kkt", None) is not None:
            f["lmp_usd_per_mwh"] = lmp_usd_per_mwh(res.layout, res.x)
            f["lmp_usd_per_mwh"].attrs.update({"unit": "$/MWh", "dims": "t,tn_bus"})
    if getattr(res, "bnb", None) is not None:
        b = f.create_group("bnb")
        b["incumbent_history"] = np.array(res.bnb.incumbent_history, float).reshape(-1, 2)
        b["bound_history"] = np.array(res.bnb.bound_history, float).reshape(-1, 2)
        b.attrs["columns"] = "seconds, objective k$"


def read_result(path) -> dict:
    """{"attrs", "meta", "tables", "coords", and "x", "pcc_import_mw", "lmp_usd_per_mwh" where
    present}. Refuses a file of another format or an unknown version."""
    with open_hdf5(path) as f:
        fmt, ver = f.attrs.get("format"), int(f.attrs.get("format_version", -1))
        if fmt != FORMAT or ver not in READABLE_VERSIONS:
            raise ResultFileError(f"{path}: not a {FORMAT} file of version {READABLE_VERSIONS} "
                             f"(format={fmt!r}, version={f.attrs.get('format_version')!r})")
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        out = {"attrs": attrs, "meta": {}, "tables": None, "coords": None}
        for k, v in attrs.items():
            if k.endswith("_json") and k != "scenario_json":
                out["meta"][k[:-5]] = json.loads(v)
            elif k == "scenario_json":
                out["meta"]["scenario"] = v
            elif k not in ("format", "format_version"):
                out["meta"][k] = v
        if "tables" in f:
            out["coords"] = {}
            for dim, ds in f["coords"].items():
                c = ds[()]
                out["coords"][dim] = (np.array([s.decode() if isinstance(s, bytes) else s for s in c],
                                               dtype=object) if c.dtype.kind in "OS" else c)
            out["tables"] = {}
            tg = f["tables"]
            for name in str(tg.attrs["order"]).split(","):
                g = tg[name]
                dims = tuple(d for d in str(g.attrs["dims"]).split(",") if d)
                cols = [c for c in str(g.attrs["columns"]).split(",") if c]
                out["tables"][name] = (dims, {col: g[col][()] for col in cols})
        for k in ("x", "pcc_import_mw", "lmp_usd_per_mwh"):
            if k in f:
                out[k] = f[k][()]
        return out
