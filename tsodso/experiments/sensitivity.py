"""Sensitivity runs: one scenario quantity varied over values, the comparison re-run per value.

    tsodso compare --vary pv_scale=0.5,1,1.5,2 -o DIR [--schemes tso-led,dso-led] [--time-limit S]
    res = run_sensitivity(name, values, scenario=None, schemes=..., time_limit=..., adns=5, hours=24)

Varied quantities (`VARIABLES`; each value builds the system with `load_system(overrides=...)`):
    pv_scale       multiplies every PV size (adn_defaults.pv.mwp_per_feeder) -> PV penetration
    bess_scale     multiplies every BESS's power (adn_defaults.bess.pmax_mw_per_feeder); energy
                   = power x energy_hours, so it scales too -> battery size
    degradation    sets the BESS degradation cost, $/MWh of throughput
                   (adn_defaults.bess.degradation_usd_per_mwh)
    any dotted scenario key with a numeric value (e.g. adn_defaults.bess.energy_hours)

Per value and scheme the result keeps the status, gap and the metrics of the paper's three
claims (BESS throughput, self-consumption, imports from the TN) plus exports, curtailment,
total cost and the DSO bills (`CLAIM_KEYS`); the claims' verdicts (dso-led vs tso-led) come
from report/tables.py's rule. Output: report/sensitivity.py (markdown table, CSV, figure).
"""
from __future__ import annotations

import json
import time

import numpy as np

from ..data import load_system
from ..data.builder import default_scenario_path
from ..data.errors import CaseError
from .compare import run_comparison

VARIABLES = {
    "pv_scale": ("PV size, x the default", "", "adn_defaults.pv.mwp_per_feeder"),
    "bess_scale": ("BESS size (power and energy), x the default", "", "adn_defaults.bess.pmax_mw_per_feeder"),
    "degradation": ("BESS degradation cost", "$/MWh", "adn_defaults.bess.degradation_usd_per_mwh"),
}
CLAIM_KEYS = ("bess_throughput_mwh", "self_consumption", "energy_imported_mwh", "energy_exported_mwh",
              "curtailment_mwh", "total_cost_usd", "dso_cost_usd")


def parse_vary(text: str):
    """'name=v1,v2,...' -> (name, [floats]); CaseError naming --vary and the bad part."""
    if not isinstance(text, str) or "=" not in text:
        raise CaseError("--vary", "--vary", text, "expected NAME=V1,V2,... (e.g. pv_scale=0.5,1,1.5,2)")
    name, vals = text.split("=", 1)
    name = name.strip()
    if name not in VARIABLES and "." not in name:
        raise CaseError("--vary", "--vary", name,
                        f"unknown quantity (one of {', '.join(VARIABLES)} or a dotted scenario key)")
    out = []
    for v in vals.split(","):
        try:
            x = float(v)
        except ValueError:
            raise CaseError("--vary", f"--vary {name}", v.strip(), "not a number") from None
        if not np.isfinite(x) or x < 0:
            raise CaseError("--vary", f"--vary {name}", v.strip(), "must be a finite number >= 0")
        out.append(x)
    if not out:
        raise CaseError("--vary", f"--vary {name}", vals, "no values")
    return name, out


def overrides_for(name: str, value: float, scenario=None) -> dict:
    """The `load_system` overrides that set quantity `name` to `value`."""
    if name in ("pv_scale", "bess_scale"):
        key = VARIABLES[name][2]
        path = default_scenario_path() if scenario is None else str(scenario)
        with open(path, encoding="utf-8") as fh:
            cur = json.load(fh)
        for k in key.split("."):
            cur = cur[k]
        return {key: [value * float(v) for v in cur]}
    if name in VARIABLES:
        return {VARIABLES[name][2]: value}
    return {name: value}


def run_sensitivity(name, values, scenario=None, schemes=("tso-led", "dso-led"), time_limit=300.0,
                    rel_gap=1e-4, adns=5, hours=24, seed=0, start=None, progress=None, options=None) -> dict:
    """Run the comparison of `schemes` once per value of quantity `name` (module docstring).

    All systems are built (and so validated) before the first solve."""
    systems = [load_system(scenario, adns=adns, hours=hours, seed=seed, start=start,
                           overrides=overrides_for(name, v, scenario)) for v in values]
    rows, comps = [], []
    for v, system in zip(values, systems):
        t0 = time.perf_counter()
        comp = run_comparison(system, schemes=schemes, time_limit=time_limit, rel_gap=rel_gap,
                              progress=progress, options=options)
        comps.append(comp)
        for s in comp["schemes"]:
            m = comp["metrics"][s]
            c = comp["certificates"][s]
            row = {"value": v, "scheme": s, "status": c["status"], "rel_gap": c["rel_gap"],
                   "seconds": comp["seconds"][s]}
            for k in CLAIM_KEYS:
                row[k] = float(m["system"][k]) if m is not None else float("nan")
            rows.append(row)
        if progress:
            progress({"scheme": f"{name}={v:g}", "stage": "value done", "index": 0, "total": 1,
                      "seconds": time.perf_counter() - t0, "status": "done"})
    label, unit, key = VARIABLES.get(name, (name, "", name))
    return {"name": name, "label": label, "unit": unit, "key": key, "values": list(values),
            "schemes": tuple(schemes), "rows": rows, "time_limit": time_limit,
            "instance": {"adns": adns, "hours": hours, "seed": seed, "start": start,
                         "scenario": scenario or "default"}, "comparisons": comps}
