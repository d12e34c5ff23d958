"""The scheme comparison (issue 5): run the schemes on one system, tabulate, plot, store, summarise.

    comp = run_comparison(system, schemes=("centralised", "tso-led", "dso-led"), time_limit=300.0,
                          rel_gap=1e-4, progress=None, options=None)
    write_all(comp, outdir)        # every file below, returns {kind: path}

`comp` is a dict:
    system        the System
    schemes       the scheme names, in order
    results       name -> the scheme's result object (SchemeResult / TSOLedResult)
    outcomes      name -> metrics.Outcome, or None when the scheme has no solution
    metrics       name -> metrics.compute_metrics(outcome), or None
    certificates  name -> flat dict (status, objective_usd, best_bound_usd, rel_gap, soc_gap,
                  max_voltage_mismatch_pu, tn_check, bigm_active); see `certificate_row`
    notes         name -> text (why a scheme has no metrics, warnings)
    seconds       name -> wall-clock seconds of the scheme
Schemes: "centralised" (schemes/centralised.py), "tso-led" (schemes/tso_led.py), "dso-led"
(schemes/dso_led.py `solve_dso_led`) and "hybrid" (schemes/hybrid.py: tso-led with
the DSOs' validated PCC ranges). The centralised scheme runs last and gets the other
schemes' solutions as MIP starts (`solve_centralised(warm_start=...)`): each is a feasible point
of the centralised problem, so its incumbent is never worse than theirs (the welfare reference
stays a reference under a time limit); its best bound is its own. A scheme that returns no solution (e.g. the DSO-led B&B
without an incumbent at the time limit) is reported with its status and no metrics; nothing
crashes. `progress(event)` is called with dicts {"scheme", "stage": "start" | "done", "index",
"total", and at "done": "status", "seconds"}; `console_progress` prints them to stderr.

Files (`write_all` stages them all and renames them together, summary.txt last; report/output.py):
    write_metrics_markdown(comp, path)   system table (metric x scheme), per-ADN tables, certificates
    write_metrics_csv(comp, path)        long format: scheme,scope,metric,unit,value
                                         (scope = "system" or the ADN name)
    write_figures(comp, outdir)          lmp_pcc.png, pcc_exchange.png, bess_soc.png,
                                         p2p_volumes.png, voltage_envelopes.png (needs matplotlib)
    write_hdf5(comp, path)               schema below
    write_summary(comp, path)            `summary_text(comp)`, a generated text

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
"""
from __future__ import annotations

import csv
import io
import math
import os
import sys
import time

import numpy as np

from ..conic import interrupt
from ..conic.files import atomic_write
from .output import ResultFileError, hdf5_bytes, open_hdf5
from .metrics import ADN_KEYS, SYSTEM_KEYS, UNITS, compute_metrics, outcome_from_layout

SCHEMES = ("centralised", "tso-led", "hybrid", "dso-led")            # the default comparison
KNOWN_SCHEMES = ("tso-led", "hybrid", "dso-led", "centralised")      # every scheme `_solve` runs
TSO_LED_LIKE = ("tso-led", "hybrid")     # clearing + per-DSO tracking results (TSOLedResult)
FORMAT, FORMAT_VERSION = "tsodso-comparison", 1
CLAIM_TOL = 1e-4        # relative (of max(1, |values|)): below it two schemes' metrics are "the same"
SHOW_ZERO = 1e-6        # |v| below this prints as 0 (solver noise of an interior-point solve)
TOTAL_COST_DEFINITION = ("TN generation cost + use-of-system fees + BESS degradation + P2P platform "
                         "+ PV curtailment penalty; wholesale, P2P and deviation payments are transfers")


# ------------------------------------------------------------------------------ running
def _solve(name, system, time_limit, rel_gap, options, earlier=()):
    if name == "centralised":
        from dataclasses import replace
        from ..schemes.centralised import solve_centralised
        # a hybrid result has the tso-led layout (one DSO problem per ADN): map its binaries alike
        starts = tuple(replace(r, scheme="tso-led") if r.scheme == "hybrid" else r for r in earlier)
        return solve_centralised(system, time_limit=time_limit, rel_gap=rel_gap, options=options,
                                 warm_start=starts)
    if name == "tso-led":
        from ..schemes.tso_led import solve_tso_led
        return solve_tso_led(system, time_limit=time_limit, rel_gap=rel_gap, options=options)
    if name == "hybrid":
        from ..schemes.hybrid import solve_hybrid
        return solve_hybrid(system, time_limit=time_limit, rel_gap=rel_gap, options=options)
    if name == "dso-led":
        from ..schemes.dso_led import solve_dso_led
        return solve_dso_led(system, time_limit=time_limit, rel_gap=rel_gap, options=options)
    raise ValueError(f"unknown scheme {name!r}; known: {', '.join(KNOWN_SCHEMES)}")


def scheme_outcome(name, res):
    """The metrics' Outcome of a scheme result, None without a solution."""
    if name in TSO_LED_LIKE:
        return res.outcome()
    if res.x is None:
        return None
    lay, x = res.layout, res.x
    gen = x[lay.tnv.g] * lay.tn.base_mva
    if name == "dso-led":
        from .certificates import lmp_usd_per_mwh
        lmp = lmp_usd_per_mwh(lay, x)            # the bilevel's own LMPs (KKT duals)
    else:
        tn = getattr(lay, "tn_outcome", None)
        if tn is None:
            from ..schemes.redispatch import redispatch
            from .certificates import pcc_import_mw
            tn = redispatch(lay.system, pcc_import_mw(lay, x))
        lmp = tn.lmp_usd_per_mwh
    return outcome_from_layout(name, lay, x, gen, lmp)


def _finite(v):
    return None if v is None or not np.isfinite(v) else float(v)


def certificate_row(name, res) -> dict:
    """Flat certificates: optimality (status, objective, bound, gap), SOC exactness, TN check."""
    row = {"status": res.status, "objective_usd": _finite(res.objective_usd),
           "best_bound_usd": _finite(res.best_bound_usd), "rel_gap": _finite(res.rel_gap),
           "soc_gap": None, "max_voltage_mismatch_pu": None, "tn_check": None, "tn_check_value": None,
           "bigm_active": None}
    c = res.certificates or {}
    if name in TSO_LED_LIKE:
        socs = c.get("soc") or []
        if socs:
            row["soc_gap"] = max(s["soc_gap"] for s in socs)
            row["max_voltage_mismatch_pu"] = max(s["max_voltage_mismatch_pu"] for s in socs)
        if "clearing" in c:
            row["tn_check"] = "clearing LMP vs HiGHS DC-OPF of the schedule, max abs. difference $/MWh"
            row["tn_check_value"] = _finite(c["clearing"]["max_lmp_diff_usd_per_mwh"])
        return row
    if "soc" in c:
        row["soc_gap"] = _finite(c["soc"]["soc_gap"])
        row["max_voltage_mismatch_pu"] = _finite(c["soc"]["max_voltage_mismatch_pu"])
    if name == "dso-led" and "follower" in c:
        row["tn_check"] = "follower gap (cost vs HiGHS DC-OPF, relative)"
        row["tn_check_value"] = _finite(c["follower"]["follower_gap"])
        row["bigm_active"] = c.get("bigm", {}).get("bigm_active")
    elif "dispatch" in c:
        row["tn_check"] = "dispatch gap (cost vs HiGHS DC-OPF, relative)"
        row["tn_check_value"] = _finite(c["dispatch"]["dispatch_gap"])
    return row


def run_comparison(system, schemes=SCHEMES, time_limit: float = 300.0, rel_gap: float = 1e-4,
                   progress=None, options: dict | None = None) -> dict:
    """Run `schemes` on `system`, each with `time_limit` seconds; see the module docstring.
    A stop request (conic/interrupt.py) ends the run after the scheme being solved (which
    itself stops early, status "interrupted"): `comp["schemes"]` then lists the schemes run
    and `comp["interrupted"]` is True.

    options: extra BnBOptions fields for the centralised and tso-led B&B solves (e.g.
    {"verbose": False}); the DSO-led solve uses its own defaults.
    """
    schemes = tuple(schemes)
    for s in schemes:
        if s not in KNOWN_SCHEMES:
            raise ValueError(f"unknown scheme {s!r}; known: {', '.join(KNOWN_SCHEMES)}")
    comp = new_comparison(system, schemes)
    order = [s for s in schemes if s != "centralised"] + [s for s in schemes if s == "centralised"]
    for i, name in enumerate(order):
        if interrupt.requested():       # Ctrl-C / SIGTERM: keep the schemes solved so far
            comp["schemes"] = tuple(s for s in schemes if s in comp["results"])
            comp["interrupted"] = True
            break
        if progress:
            progress({"scheme": name, "stage": "start", "index": i, "total": len(schemes)})
        t0 = time.perf_counter()
        res = _solve(name, system, time_limit, rel_gap, options, comp["results"].values())
        add_result(comp, name, res, time.perf_counter() - t0)
        if progress:
            progress({"scheme": name, "stage": "done", "index": i, "total": len(schemes),
                      "status": res.status, "seconds": comp["seconds"][name]})
    return comp


def new_comparison(system, schemes) -> dict:
    """An empty comparison dict (module docstring) for `schemes`."""
    return {"system": system, "schemes": tuple(schemes), "results": {}, "outcomes": {}, "metrics": {},
            "certificates": {}, "notes": {}, "seconds": {}}


def add_result(comp, name, res, seconds) -> None:
    """Enter one scheme's solved result into `comp`: outcome, metrics, certificates, notes."""
    comp["seconds"][name] = seconds
    comp["results"][name] = res
    out = scheme_outcome(name, res)
    comp["outcomes"][name] = out
    comp["metrics"][name] = compute_metrics(out) if out is not None else None
    comp["certificates"][name] = certificate_row(name, res)
    if out is None:
        comp["notes"][name] = f"no solution (status {res.status}, {res.stop_reason}): no metrics"
    elif res.status != "optimal":
        comp["notes"][name] = (f"status {res.status}: metrics are of the best solution found, "
                               f"not a proven optimum (gap {res.rel_gap:.3g})")
    else:
        comp["notes"][name] = ""


def console_progress(event, stream=None):
    """A progress display: one line per scheme start / end on stderr."""
    stream = sys.stderr if stream is None else stream
    k = f"[{event['index'] + 1}/{event['total']}] {event['scheme']}"
    if event["stage"] == "start":
        print(f"{k}: solving ...", file=stream, flush=True)
    else:
        print(f"{k}: {event['status']} in {event['seconds']:.1f} s", file=stream, flush=True)


# ------------------------------------------------------------------------------ atomic files
def _write_text(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    return atomic_write(os.fspath(path), text)


# ------------------------------------------------------------------------------ tables
def _fmt(v, key=""):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, str):
        return v
    v = float(v)
    if abs(v) < SHOW_ZERO:
        v = 0.0
    if UNITS.get(key) == "share":
        return f"{100 * v:.1f} %"
    if UNITS.get(key) == "pu":
        return f"{v:.4f}"
    if UNITS.get(key) == "$":
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e5 else f"{v:.2f}"


def _adn_names(system):
    return [a.name for a in system.adns]


def metrics_markdown(comp) -> str:
    sch = comp["schemes"]
    mets = comp["metrics"]
    lines = ["# Scheme comparison", "",
             f"{comp['system'].n_adn} ADNs x {comp['system'].n_hours} h, seed {comp['system'].seed}. "
             f"Total cost = {TOTAL_COST_DEFINITION}.", "",
             "## System", "", "| metric | unit | " + " | ".join(sch) + " |",
             "|---|---|" + "---|" * len(sch)]
    for k in SYSTEM_KEYS:
        vals = [_fmt(mets[s]["system"][k], k) if mets[s] else "n/a" for s in sch]
        lines.append(f"| {k} | {UNITS[k]} | " + " | ".join(vals) + " |")
    lines += ["", "## Certificates", "",
              "| scheme | status | objective $ | best bound $ | gap | SOC gap pu^2 | V mismatch pu | TN check | value | big-M active | seconds |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sch:
        c = comp["certificates"][s]
        lines.append(f"| {s} | {c['status']} | {_fmt(c['objective_usd'], 'total_cost_usd')} | "
                     f"{_fmt(c['best_bound_usd'], 'total_cost_usd')} | {_fmt(c['rel_gap'])} | {_fmt(c['soc_gap'])} | "
                     f"{_fmt(c['max_voltage_mismatch_pu'])} | {(c['tn_check'] or 'n/a').replace('|', '/')} | {_fmt(c['tn_check_value'])} | "
                     f"{_fmt(c['bigm_active'])} | {comp['seconds'][s]:.1f} |")
    lines += ["", "objective / best bound = what each scheme's solver minimised: centralised the total cost, "
              "tso-led and hybrid the sum of the DSOs' bills (cleared LMP + deviation penalty), dso-led the leader's cost "
              "(the DSOs' bills at the bilevel's LMPs); compare schemes by the metrics above, not by this column."]
    notes = [f"* {s}: {comp['notes'][s]}" for s in sch if comp["notes"].get(s)]
    if notes:
        lines += ["", "Notes:", ""] + notes
    names = _adn_names(comp["system"])
    for s in sch:
        lines += ["", f"## Per ADN: {s}", ""]
        if mets[s] is None:
            lines.append(f"no solution ({comp['notes'][s]})")
            continue
        lines += ["| metric | unit | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for k in ADN_KEYS:
            lines.append(f"| {k} | {UNITS[k]} | " + " | ".join(_fmt(v, k) for v in mets[s]["per_adn"][k]) + " |")
    return "\n".join(lines) + "\n"


def write_metrics_markdown(comp, path):
    return _write_text(path, metrics_markdown(comp))


def metrics_rows(comp):
    """Long-format rows (scheme, scope, metric, unit, value); value None = not available."""
    rows = []
    names = _adn_names(comp["system"])
    for s in comp["schemes"]:
        m = comp["metrics"][s]
        if m is None:
            continue
        for k in SYSTEM_KEYS:
            rows.append((s, "system", k, UNITS[k], m["system"][k]))
        for k in ADN_KEYS:
            for n, v in zip(names, m["per_adn"][k]):
                rows.append((s, n, k, UNITS[k], v))
    return rows


def write_metrics_csv(comp, path):
    return _write_text(path, metrics_csv(comp))


def metrics_csv(comp) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scheme", "scope", "metric", "unit", "value"])
    for s, scope, k, u, v in metrics_rows(comp):
        w.writerow([s, scope, k, u, "" if v is None or not np.isfinite(v) else repr(float(v))])
    return buf.getvalue()


# ------------------------------------------------------------------------------ figures
def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("tsodso figures need matplotlib: pip install 'tsodso[plot]' "
                          "(or pip install matplotlib)") from e
    return plt


def _grid(plt, n, title):
    cols = min(n, 3)
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    fig.suptitle(title)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _png(fig, plt) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_figures(comp, outdir) -> dict:
    """The five PNG figures (one panel per ADN, one line per scheme with a solution)."""
    return {k: _write_bytes(os.path.join(outdir, f"{k}.png"), v) for k, v in figure_bytes(comp).items()}


def _write_bytes(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return atomic_write(path, data)


def figure_bytes(comp) -> dict:
    """{name: PNG bytes} of the five figures (rendered in memory)."""
    plt = _plt()
    sysm = comp["system"]
    names = _adn_names(sysm)
    ids = sysm.tn.bus_id
    solved = [s for s in comp["schemes"] if comp["metrics"][s] is not None]
    specs = [("lmp_pcc", "lmp_pcc_usd_per_mwh", "LMP at the PCC ($/MWh)", None),
             ("pcc_exchange", "pcc_import_mw", "PCC exchange, import > 0 (MW)", None),
             ("bess_soc", "bess_soc_mwh", "BESS state of charge, all units (MWh)", None),
             ("p2p_volumes", "p2p_local_mw", "P2P: local pool (solid), cross-ADN net import (dashed) (MW)",
              "p2p_cross_net_import_mw"),
             ("voltage_envelopes", "v_min_pu", "Voltage envelope min / max over buses (pu)", "v_max_pu")]
    paths = {}
    for fname, key, title, key2 in specs:
        fig, axes = _grid(plt, len(names), title)
        for a, ax in enumerate(axes):
            for i, s in enumerate(solved):
                ser = comp["metrics"][s]["series"]
                # hour t covers [t, t+1): a step per hour; wider lines first so equal series stay visible
                # (3.2 pt down to 1.0 pt whatever the number of schemes)
                style = dict(color=f"C{i}", linewidth=3.2 - 2.2 * i / max(1, len(solved) - 1), alpha=0.85)
                ax.stairs(ser[key][a], label=s, baseline=None, **style)
                if key2:
                    ax.stairs(ser[key2][a], linestyle="--", baseline=None, **style)
            ax.set_title(f"{names[a]} (PCC bus {ids[sysm.adns[a].pcc_bus]})", fontsize=9)
            ax.set_xlabel("hour")
            ax.grid(alpha=0.3)
        if axes and solved:
            axes[0].legend(fontsize=8)
        paths[fname] = _png(fig, plt)
    return paths


# ------------------------------------------------------------------------------ HDF5
def write_hdf5(comp, path):
    return _write_bytes(os.fspath(path), comparison_bytes(comp))


def comparison_bytes(comp) -> bytes:
    """comparison.h5 built in memory, every dataset with its SHA-256 digest (report/output.py)."""
    import h5py
    from .. import __version__
    sysm = comp["system"]

    def w(f):
        f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, "tsodso_version": __version__,
                        "schemes": ",".join(comp["schemes"]), "adns": sysm.n_adn, "hours": sysm.n_hours,
                        "seed": sysm.seed, "dt_h": sysm.dt_h, "units": "$, MW, MWh, pu, $/MWh",
                        "total_cost_definition": TOTAL_COST_DEFINITION})
        g = f.create_group("system")
        g["adn_name"] = np.array(_adn_names(sysm), dtype=h5py.string_dtype())
        pcc = np.array([a.pcc_bus for a in sysm.adns], np.int64)
        g["pcc_bus"] = pcc
        g["pcc_bus_id"] = np.asarray(sysm.tn.bus_id)[pcc]
        g["load_mw"] = np.array([np.sum(a.load_p_mw, axis=1) for a in sysm.adns])
        g["pv_avail_mw"] = np.array([np.sum(a.pv_avail_mw, axis=1) for a in sysm.adns])
        for s in comp["schemes"]:
            _scheme_to_h5(f.create_group(s), s, comp)
    return hdf5_bytes(w)


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
    if s in TSO_LED_LIKE:
        xg = g.create_group("x")
        for d in res.dsos:
            xg[f"adn{d.adn}"] = d.x
        g["tso_led/schedule_mw"] = res.clearing.schedule_mw
        g["tso_led/cleared_lmp_usd_per_mwh"] = res.clearing.lmp_usd_per_mwh
        g["tso_led/redispatch_lmp_usd_per_mwh"] = res.tn.lmp_usd_per_mwh
        g["tso_led/deviation_mwh"] = res.deviation_mwh()
        if s == "hybrid":
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


# ------------------------------------------------------------------------------ summary
def _claim(comp, key, better, text):
    """One sentence comparing dso-led with tso-led on a system metric (higher/lower is better)."""
    m = comp["metrics"]
    d, t = m.get("dso-led"), m.get("tso-led")
    if d is None or t is None:
        missing = [s for s in ("dso-led", "tso-led") if m.get(s) is None]
        return f"* {text}: cannot be assessed ({', '.join(missing)} without a solution)."
    vd, vt = d["system"][key], t["system"][key]
    if not (np.isfinite(vd) and np.isfinite(vt)):
        verdict = "undefined (no value)"
    elif abs(vd - vt) <= CLAIM_TOL * max(1.0, abs(vd), abs(vt)):
        verdict = "no difference (within the solver tolerance)"
    else:
        verdict = "holds" if (vd > vt if better == "higher" else vd < vt) else "does not hold"
    return f"* {text}: dso-led {_fmt(vd, key)} vs tso-led {_fmt(vt, key)} ({UNITS[key]}) -> {verdict} on this case."


def summary_text(comp) -> str:
    """A short generated text: what differs between the schemes, and the paper's three claims."""
    sysm = comp["system"]
    lines = [f"Scheme comparison on {sysm.n_adn} ADNs x {sysm.n_hours} h (seed {sysm.seed}).", ""]
    for s in comp["schemes"]:
        c = comp["certificates"][s]
        m = comp["metrics"][s]
        head = f"{s}: status {c['status']}, {comp['seconds'][s]:.0f} s"
        if m is None:
            lines.append(f"{head}; {comp['notes'][s]}.")
            continue
        y = {k: _fmt(v, k) for k, v in m["system"].items()}
        lines.append(f"{head}; total cost {y['total_cost_usd']} $ (TSO generation {y['tso_generation_cost_usd']} $, "
                     f"DSO bills {y['dso_cost_usd']} $); imports {y['energy_imported_mwh']} MWh, exports "
                     f"{y['energy_exported_mwh']} MWh; BESS {y['bess_throughput_mwh']} MWh ({y['bess_cycles']} cycles); "
                     f"self-consumption {y['self_consumption']}, self-sufficiency {y['self_sufficiency']}; P2P local "
                     f"{y['p2p_local_mwh']} MWh, cross-ADN {y['p2p_cross_mwh']} MWh; curtailment "
                     f"{y['curtailment_mwh']} MWh.")
    ref = comp["metrics"].get("centralised")
    if ref is not None:
        lines.append("")
        base = ref["system"]["total_cost_usd"]
        for s in comp["schemes"]:
            if s != "centralised" and comp["metrics"][s] is not None:
                v = comp["metrics"][s]["system"]["total_cost_usd"]
                if abs(v - base) <= CLAIM_TOL * max(1.0, abs(base)):
                    lines.append(f"{s} has the same total cost as the centralised welfare reference "
                                 f"(within {CLAIM_TOL:g} relative).")
                else:
                    lines.append(f"{s} costs {v - base:,.0f} $ ({100 * (v - base) / base:.2f} %) more in total than "
                                 f"the centralised welfare reference.")
    lines += ["", "The paper's claims (DSO-led vs TSO-led):",
              _claim(comp, "bess_throughput_mwh", "higher", "DSO-led uses the batteries more"),
              _claim(comp, "self_consumption", "higher", "DSO-led raises local self-consumption"),
              _claim(comp, "energy_imported_mwh", "lower", "DSO-led lowers imports from the TN")]
    t = comp["results"].get("tso-led")
    if t is not None and comp["metrics"].get("tso-led") is not None:
        dev = t.deviation_mwh().sum()
        dt = sysm.dt_h
        vb = float(np.sum(t.clearing.vb_charge_mw + t.clearing.vb_discharge_mw)) * dt
        m = comp["metrics"]["tso-led"]["system"]
        lines += ["", f"Why tso-led differs: the TSO cleared with forecast net loads (no losses) and one virtual "
                  f"battery per ADN, scheduling {_fmt(vb, 'bess_throughput_mwh')} MWh of battery throughput; the "
                  f"DSOs then realised {_fmt(m['bess_throughput_mwh'], 'bess_throughput_mwh')} MWh, lost "
                  f"{_fmt(m['losses_mwh'], 'losses_mwh')} MWh in their feeders, curtailed "
                  f"{_fmt(m['curtailment_mwh'], 'curtailment_mwh')} MWh and deviated {_fmt(dev, 'losses_mwh')} MWh "
                  f"from the published schedules "
                  f"(settled at the cleared LMP plus {t.penalty_usd_per_mwh:g} $/MWh); no cross-ADN P2P is "
                  f"available in this scheme."]
    h = comp["results"].get("hybrid")
    if h is not None and comp["metrics"].get("hybrid") is not None:
        hs = h.summary()
        lines += ["", f"Why hybrid differs from tso-led: the DSOs first validated each hour's PCC range "
                  f"(what their networks can realise); the TSO's schedule sits on a range end in "
                  f"{hs['envelope_binding_hours']} ADN-hours and withholds "
                  f"{_fmt(hs['pv_withheld_mwh'], 'curtailment_mwh')} MWh of PV the feeders cannot take; the DSOs "
                  f"deviated {_fmt(h.deviation_mwh().sum(), 'losses_mwh')} MWh from it"
                  + (f" (tso-led: {_fmt(t.deviation_mwh().sum(), 'losses_mwh')} MWh)."
                     if t is not None and t.x is not None else ".")]
    notes = [f"{s}: {comp['notes'][s]}" for s in comp["schemes"] if comp["notes"].get(s)]
    if notes:
        lines += ["", "Notes:"] + [f"* {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_summary(comp, path):
    return _write_text(path, summary_text(comp))


def output_files(comp, figures: bool = True):
    """[(kind, file name, content)] of a comparison folder, the summary last."""
    files = [("markdown", "metrics.md", metrics_markdown(comp)),
             ("csv", "metrics.csv", metrics_csv(comp)),
             ("hdf5", "comparison.h5", comparison_bytes(comp))]
    if figures:
        files += [(k, f"{k}.png", v) for k, v in figure_bytes(comp).items()]
    files.append(("summary", "summary.txt", summary_text(comp)))
    return files


def write_all(comp, outdir, figures: bool = True, out=None) -> dict:
    """metrics.md, metrics.csv, comparison.h5, (figures=True) the PNGs and summary.txt in
    outdir, staged and renamed together (report/output.py; `out`: a prepared, locked
    RunOutput). Returns {kind: path}."""
    from .output import RunOutput
    files = output_files(comp, figures)
    if out is None:
        os.makedirs(outdir, exist_ok=True)
        out = RunOutput(os.fspath(outdir))
    paths = out.write([(name, data) for _, name, data in files])
    return {kind: paths[name] for kind, name, _ in files}
