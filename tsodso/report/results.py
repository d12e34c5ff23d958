"""Result files of `tsodso solve -o DIR` (HDF5, schema below), written atomically.

Schema of result.h5 (format "tsodso-result", version 1):
  attrs: format, format_version, tsodso_version, scheme, status, objective_usd, best_bound_usd,
         rel_gap, stop_reason, adns, hours, seed, complementarity, objective_unit_model ("k$")
  /x                      full solution vector of the MISOCP (model units, see docs/units.md)
  /blocks/<name>          each named variable block, reshaped ((T, ...) arrays)
  /pcc_import_mw          (A, T) PCC import per ADN, MW (> 0 = import from the TN)
  /lmp_usd_per_mwh        (T, nb) LMPs of the solution
  /bnb/incumbent_history  (k, 2) [seconds, objective k$];  /bnb/bound_history likewise
Every dataset carries attrs["sha256"] (report/output.py dataset_digest), checked by read_result.
"""
from __future__ import annotations

import numpy as np

from .. import __version__
from .output import ResultFileError, hdf5_bytes, open_hdf5, write_single

FORMAT, FORMAT_VERSION = "tsodso-result", 1


def result_bytes(res, args=None) -> bytes:
    """The result file's content (built in memory, every dataset with its SHA-256 digest)."""
    def build(f):
        f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION,
                        "tsodso_version": __version__, "scheme": res.scheme, "status": res.status,
                        "objective_usd": res.objective_usd, "best_bound_usd": res.best_bound_usd,
                        "rel_gap": res.rel_gap, "stop_reason": res.stop_reason,
                        "objective_unit_model": "k$"})
        if args is not None:
            f.attrs.update({"adns": str(args.adns), "hours": args.hours, "seed": args.seed,
                            "complementarity": args.complementarity})
        if res.x is not None:
            from .certificates import lmp_usd_per_mwh, pcc_import_mw
            f["x"] = res.x
            g = f.create_group("blocks")
            for name in res.problem.var_blocks:
                g[name] = res.problem.get(res.x, name)
            f["pcc_import_mw"] = pcc_import_mw(res.layout, res.x)
            f["lmp_usd_per_mwh"] = lmp_usd_per_mwh(res.layout, res.x)
        b = f.create_group("bnb")
        b["incumbent_history"] = np.array(res.bnb.incumbent_history, float).reshape(-1, 2)
        b["bound_history"] = np.array(res.bnb.bound_history, float).reshape(-1, 2)
    return hdf5_bytes(build)


def write_result(path, res, args=None):
    """Write result.h5 atomically (see report/output.py for the multi-file run folder)."""
    return write_single(path, result_bytes(res, args))


def read_result(path) -> dict:
    """Read a result file; `ResultFileError` (naming the file) if it is not one or is corrupted."""
    with open_hdf5(path) as f:
        if f.attrs.get("format") != FORMAT or int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise ResultFileError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} file "
                                  f"(format={f.attrs.get('format')!r}, version={f.attrs.get('format_version')!r})")
        out = {"attrs": {k: v for k, v in f.attrs.items()}}
        for k in ("x", "pcc_import_mw", "lmp_usd_per_mwh"):
            if k in f:
                out[k] = f[k][()]
        return out
