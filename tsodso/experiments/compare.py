"""The scheme comparison (issue 5): run the schemes on one system and collect what the report reads.

    comp = run_comparison(system, schemes=("centralised", "tso-led", "dso-led"), time_limit=300.0,
                          rel_gap=1e-4, progress=None, options=None)
    tsodso.report.outputs.write_all(comp, outdir)     # tables, figures, HDF5, summary

`comp` is a dict:
    system        the System
    schemes       the scheme names, in order
    results       name -> the scheme's result object (schemes.result.Result: SchemeResult / TSOLedResult)
    outcomes      name -> evaluation.metrics.Outcome, or None when the scheme has no solution
    metrics       name -> evaluation.metrics.compute_metrics(outcome), or None
    certificates  name -> flat dict (status, objective_usd, best_bound_usd, rel_gap, soc_gap,
                  max_voltage_mismatch_pu, tn_check, bigm_active); see `Result.certificate_row`
    notes         name -> text (why a scheme has no metrics, warnings)
    seconds       name -> wall-clock seconds of the scheme
Schemes: the registry's (schemes/registry.py): "centralised", "tso-led", "dso-led", "hybrid"
(tso-led with the DSOs' validated PCC ranges) and "price-taking" (dso-led at fixed reference
LMPs, then the TSO clears; with dso-led it gives the value of price-making, report/tables.py). The centralised scheme runs last and gets the other
schemes' solutions as MIP starts (`solve_centralised(warm_start=...)`): each is a feasible point
of the centralised problem, so its incumbent is never worse than theirs (the welfare reference
stays a reference under a time limit); its best bound is its own. A scheme that returns no solution (e.g. the DSO-led B&B
without an incumbent at the time limit) is reported with its status and no metrics; nothing
crashes. `progress(event)` is called with dicts {"scheme", "stage": "start" | "done", "index",
"total", and at "done": "status", "seconds"}; `console_progress` prints them to stderr.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace

from ..conic import interrupt
from ..evaluation.metrics import compute_metrics
from ..schemes.registry import SCHEMES as KNOWN_SCHEMES, solve_scheme

SCHEMES = ("centralised", "tso-led", "hybrid", "price-taking", "dso-led")   # the default comparison


def _solve(name, system, time_limit, rel_gap, options, earlier=()):
    if name not in KNOWN_SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; known: {', '.join(KNOWN_SCHEMES)}")
    # a hybrid result has the tso-led layout (one DSO problem per ADN): map its binaries alike
    starts = tuple(replace(r, scheme="tso-led") if r.scheme == "hybrid" else r for r in earlier)
    return solve_scheme(name, system, time_limit=time_limit, rel_gap=rel_gap, options=options,
                        warm_start=starts)


def run_comparison(system, schemes=SCHEMES, time_limit: float = 300.0, rel_gap: float = 1e-4,
                   progress=None, options: dict | None = None) -> dict:
    """Run `schemes` on `system`, each with `time_limit` seconds; see the module docstring.

    options: extra BnBOptions fields for the centralised and tso-led B&B solves (e.g.
    {"verbose": False}); the DSO-led solve uses its own defaults.
    A stop request (conic/interrupt.py: SIGINT / SIGTERM under the CLI) ends the run after the
    scheme being solved (which itself stops early, status "interrupted"): `comp["schemes"]`
    then lists the schemes run and `comp["interrupted"]` is True.
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
    out = res.outcome()
    comp["outcomes"][name] = out
    comp["metrics"][name] = compute_metrics(out) if out is not None else None
    comp["certificates"][name] = res.certificate_row()
    if out is None:
        comp["notes"][name] = f"no solution (status {res.status}, {res.stop_reason}): no metrics"
    elif res.status != "optimal":
        comp["notes"][name] = (f"status {res.status}: metrics are of the best solution found, "
                               f"not a proven optimum (gap {res.rel_gap:.3g})")
    else:
        comp["notes"][name] = ""


def console_progress(event, stream=None):
    """A progress display: one line per scheme start / end, to `stream` if given, else to the
    logging module (logger "tsodso.compare", INFO; the CLI shows it on stderr)."""
    k = f"[{event['index'] + 1}/{event['total']}] {event['scheme']}"
    text = (f"{k}: solving ..." if event["stage"] == "start"
            else f"{k}: {event['status']} in {event['seconds']:.1f} s")
    if stream is None:
        logging.getLogger("tsodso.compare").info(text)
    else:
        print(text, file=stream, flush=True)
