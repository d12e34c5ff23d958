"""HDF5 files: the comparison file (`write_hdf5`, `read_comparison`) and the one-solution result
file of `tsodso solve -o DIR` (`write_result`, `read_result`), each written atomically.

HDF5 schema (format "tsodso-comparison", version 1; `read_comparison` refuses other formats):
  attrs: format, format_version, tsodso_version, schemes (comma-separated), adns, hours, seed,
         dt_h, units ("$, MW, MWh, pu, $/MWh"), total_cost_definition (text)
  /system/adn_name (A,) str, /system/pcc_bus (A,) 0-based TN bus index, /system/pcc_bus_id (A,)
         MATPOWER bus number, /system/load_mw (A, T), /system/pv_avail_mw (A, T)
  /<scheme>            attrs: status, stop_reason, objective_usd, best_bound_usd, rel_gap, seconds,
                       note, has_solution (bool)
  /<scheme>/certificates   attrs: the flat certificate row
  only when has_solution:
  /<scheme>/metrics/system/<key>    scalar, key in metrics.SYSTEM_KEYS (attr "unit")
  /<scheme>/metrics/per_adn/<key>   (A,), key in metrics.ADN_KEYS (attr "unit")
  /<scheme>/series/<name>           (A, T): pcc_import_mw, lmp_pcc_usd_per_mwh, bess_soc_mwh,
                                    p2p_local_mw, p2p_cross_net_import_mw, v_min_pu, v_max_pu
  /<scheme>/dso_cost_breakdown_usd/<item>  (A,): wholesale, fee_grid, fee_local, fee_cross,
                                    degradation, platform, curtailment, deviation, total
  /<scheme>/tn/gen_mw (T, ng), /<scheme>/tn/lmp_usd_per_mwh (T, nb) (settlement LMPs)
  /<scheme>/x          joint models: the solution vector (model units); tso-led and hybrid: group
                       with adn<a> datasets (one vector per DSO problem) and /<scheme>/tso_led/
                       {schedule_mw (A, T), cleared_lmp_usd_per_mwh (T, nb),
                       redispatch_lmp_usd_per_mwh (T, nb), deviation_mwh (A, T)}; hybrid also
                       /<scheme>/hybrid/{pcc_lo_mw, pcc_hi_mw, pv_withheld_mw} (A, T)

The result file (format "tsodso-result", version 2): `tsodso/report/result_file.py`.
"""
from __future__ import annotations

import h5py
import numpy as np

from .._version import __version__
from ..atomic import atomic_write
from .output import ResultFileError, add_digests, open_hdf5
from ..evaluation.metrics import ADN_KEYS, SYSTEM_KEYS, UNITS
from ..schemes.hybrid import HybridResult
from ..schemes.tso_led import TSOLedResult
from .format import TOTAL_COST_DEFINITION, adn_names

FORMAT, FORMAT_VERSION = "tsodso-comparison", 1


def write_hdf5(comp, path):
    sysm = comp["system"]

    def w(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, "tsodso_version": __version__,
                            "schemes": ",".join(comp["schemes"]), "adns": sysm.n_adn, "hours": sysm.n_hours,
                            "seed": sysm.seed, "dt_h": sysm.dt_h, "units": "$, MW, MWh, pu, $/MWh",
                            "total_cost_definition": TOTAL_COST_DEFINITION})
            g = f.create_group("system")
            g["adn_name"] = np.array(adn_names(sysm), dtype=h5py.string_dtype())
            pcc = np.array([a.pcc_bus for a in sysm.adns], np.int64)
            g["pcc_bus"] = pcc
            g["pcc_bus_id"] = np.asarray(sysm.tn.bus_id)[pcc]
            g["load_mw"] = np.array([np.sum(a.load_p_mw, axis=1) for a in sysm.adns])
            g["pv_avail_mw"] = np.array([np.sum(a.pv_avail_mw, axis=1) for a in sysm.adns])
            for s in comp["schemes"]:
                _scheme_to_h5(f.create_group(s), s, comp)
            add_digests(f)
    return atomic_write(path, w, makedirs=True, in_memory=True)


def _scheme_to_h5(g, s, comp):
    res, m, cert = comp["results"][s], comp["metrics"][s], comp["certificates"][s]
    nan = float("nan")
    g.attrs.update({"status": res.status, "stop_reason": str(res.stop_reason),
                    "objective_usd": nan if cert["objective_usd"] is None else cert["objective_usd"],
                    "best_bound_usd": nan if cert["best_bound_usd"] is None else cert["best_bound_usd"],
                    "rel_gap": nan if cert["rel_gap"] is None else cert["rel_gap"],
                    "seconds": comp["seconds"][s], "note": comp["notes"].get(s, ""),
                    "has_solution": m is not None})
    c = g.create_group("certificates")
    for k, v in cert.items():
        c.attrs[k] = "n/a" if v is None else v
    if m is None:
        return
    for sub, keys in (("system", SYSTEM_KEYS), ("per_adn", ADN_KEYS)):
        h = g.create_group(f"metrics/{sub}")
        for k in keys:
            h[k] = m[sub][k]
            h[k].attrs["unit"] = UNITS[k]
    for grp in ("series", "dso_cost_breakdown_usd"):
        h = g.create_group(grp)
        for k, v in m[grp].items():
            h[k] = v
    out = comp["outcomes"][s]
    g["tn/gen_mw"] = out.gen_mw
    g["tn/lmp_usd_per_mwh"] = out.lmp_usd_per_mwh
    if isinstance(res, TSOLedResult):
        xg = g.create_group("x")
        for d in res.dsos:
            xg[f"adn{d.adn}"] = d.x
        g["tso_led/schedule_mw"] = res.clearing.schedule_mw
        g["tso_led/cleared_lmp_usd_per_mwh"] = res.clearing.lmp_usd_per_mwh
        g["tso_led/redispatch_lmp_usd_per_mwh"] = res.tn.lmp_usd_per_mwh
        g["tso_led/deviation_mwh"] = res.deviation_mwh()
        if isinstance(res, HybridResult):
            g["hybrid/pcc_lo_mw"] = res.envelope.lo_mw
            g["hybrid/pcc_hi_mw"] = res.envelope.hi_mw
            g["hybrid/pv_withheld_mw"] = res.clearing.pv_withheld_mw
    else:
        g["x"] = res.x


def read_comparison(path) -> dict:
    """{"attrs", "schemes": {name: {"attrs", "system": {key: value}, "per_adn": {key: (A,)}}}}."""
    with open_hdf5(path) as f:
        if f.attrs.get("format") != FORMAT or int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise ResultFileError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} file "
                             f"(format={f.attrs.get('format')!r}, version={f.attrs.get('format_version')!r})")
        out = {"attrs": dict(f.attrs), "schemes": {}}
        for s in str(f.attrs["schemes"]).split(","):
            g = f[s]
            d = {"attrs": dict(g.attrs)}
            if "metrics" in g:
                d["system"] = {k: float(g["metrics/system"][k][()]) for k in g["metrics/system"]}
                d["per_adn"] = {k: g["metrics/per_adn"][k][()] for k in g["metrics/per_adn"]}
            out["schemes"][s] = d
        return out


# the one-result file of `tsodso solve -o DIR` / `tsodso.Result.write`: report/result_file.py
from .result_file import read_result, write_result  # noqa: E402,F401
