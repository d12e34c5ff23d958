"""Result files of `tsodso solve -o DIR` (HDF5, schema below), written atomically.

Schema of result.h5 (format "tsodso-result", version 1):
  attrs: format, format_version, tsodso_version, scheme, status, objective_usd, best_bound_usd,
         rel_gap, stop_reason, adns, hours, seed, complementarity, objective_unit_model ("k$")
  /x                      full solution vector of the MISOCP (model units, see docs/units.md)
  /blocks/<name>          each named variable block, reshaped ((T, ...) arrays)
  /pcc_import_mw          (A, T) PCC import per ADN, MW (> 0 = import from the TN)
  /lmp_usd_per_mwh        (T, nb) LMPs of the solution
  /bnb/incumbent_history  (k, 2) [seconds, objective k$];  /bnb/bound_history likewise
"""
from __future__ import annotations

import os
import tempfile

import h5py
import numpy as np

from .. import __version__

FORMAT, FORMAT_VERSION = "tsodso-result", 1


def write_result(path, res, args=None):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".h5")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
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
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_result(path) -> dict:
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT or int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise ValueError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} file "
                             f"(format={f.attrs.get('format')!r}, version={f.attrs.get('format_version')!r})")
        out = {"attrs": dict(f.attrs)}
        for k in ("x", "pcc_import_mw", "lmp_usd_per_mwh"):
            if k in f:
                out[k] = f[k][()]
        return out
