"""Tables and figure of a sensitivity run (experiments/sensitivity.py `run_sensitivity`).

    sensitivity_markdown(res) / write_sensitivity_markdown(res, path)   per value: the three
        claims' metrics per scheme and the verdicts (dso-led vs tso-led, report/tables.py rule)
    write_sensitivity_csv(res, path)     long format: value,scheme,status,rel_gap,seconds,<metrics>
    write_sensitivity_figure(res, outdir)  sensitivity.png and .pdf: three panels (BESS
        throughput MWh, self-consumption %, imports MWh) over the varied value, one line per
        scheme; values within ZERO_TOL of 0 are drawn as 0 (solver noise)
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from ..atomic import atomic_write, write_text_atomic
from .figures import _plt
from .format import fmt
from .tables import CLAIMS, claim_verdict

ZERO_TOL = {"bess_throughput_mwh": 1e-4, "energy_imported_mwh": 1e-4, "energy_exported_mwh": 1e-4,
            "curtailment_mwh": 1e-4, "self_consumption": 1e-6}     # MWh, share


def _clean(v, key):
    tol = ZERO_TOL.get(key, 0.0)
    return 0.0 if np.isfinite(v) and abs(v) < tol else v


def _value_label(res, v):
    return f"{v:g}" + (f" {res['unit']}" if res["unit"] else "")


def _rows_by(res):
    out = {}
    for r in res["rows"]:
        out[(r["value"], r["scheme"])] = r
    return out


def sensitivity_markdown(res) -> str:
    by = _rows_by(res)
    inst = res["instance"]
    sch = res["schemes"]
    lines = [f"# Sensitivity: {res['label']} ({res['key']})", "",
             f"{inst['adns']} ADNs x {inst['hours']} h, scenario {inst['scenario']}, "
             f"{res['time_limit']:g} s per scheme and value. Values below the solver tolerance shown as 0.", "",
             "| value | scheme | status | gap | BESS throughput MWh | self-consumption | imports MWh | "
             "exports MWh | curtailment MWh | total cost $ | DSO bills $ |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in res["values"]:
        for s in sch:
            r = by[(v, s)]
            lines.append(f"| {_value_label(res, v)} | {s} | {r['status']} | {fmt(r['rel_gap'])} | "
                         + " | ".join(fmt(_clean(r[k], k), k) for k in
                                      ("bess_throughput_mwh", "self_consumption", "energy_imported_mwh",
                                       "energy_exported_mwh", "curtailment_mwh", "total_cost_usd",
                                       "dso_cost_usd")) + " |")
    if "dso-led" in sch and "tso-led" in sch:
        lines += ["", "## The paper's claims (dso-led vs tso-led) per value", "",
                  "| value | " + " | ".join(t for _, _, t in CLAIMS) + " |", "|---|" + "---|" * len(CLAIMS)]
        for v in res["values"]:
            d, t = by[(v, "dso-led")], by[(v, "tso-led")]
            cells = []
            for key, better, _ in CLAIMS:
                vd, vt = _clean(d[key], key), _clean(t[key], key)
                cells.append(f"{claim_verdict(vd, vt, better)} ({fmt(vd, key)} vs {fmt(vt, key)})")
            lines.append(f"| {_value_label(res, v)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_sensitivity_markdown(res, path):
    return write_text_atomic(path, sensitivity_markdown(res), makedirs=True)


def write_sensitivity_csv(res, path):
    keys = ["value", "scheme", "status", "rel_gap", "seconds"] + [k for k in res["rows"][0] if k not in
                                                                   ("value", "scheme", "status", "rel_gap", "seconds")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for r in res["rows"]:
        w.writerow(["" if isinstance(r[k], float) and not np.isfinite(r[k]) else
                    (repr(float(_clean(r[k], k))) if isinstance(r[k], float) else r[k]) if r[k] is not None else ""
                    for k in keys])
    return write_text_atomic(path, buf.getvalue(), makedirs=True)


def write_sensitivity_figure(res, outdir) -> dict:
    """sensitivity.png and sensitivity.pdf in outdir; returns {"png": path, "pdf": path}."""
    plt = _plt()
    by = _rows_by(res)
    xs = np.array(res["values"], float)
    panels = (("bess_throughput_mwh", "BESS throughput (MWh/day)", 1.0),
              ("self_consumption", "PV self-consumption (%)", 100.0),
              ("energy_imported_mwh", "imports from the TN (MWh/day)", 1.0))
    fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.4))
    xlabel = res["label"] + (f" ({res['unit']})" if res["unit"] else "")
    for ax, (key, ylabel, scale) in zip(axes, panels):
        for i, s in enumerate(res["schemes"]):
            ys = np.array([_clean(by[(v, s)][key], key) for v in res["values"]], float) * scale
            ax.plot(xs, ys, marker="o", color=f"C{i}", label=s,
                    linewidth=2.6 - 1.6 * i / max(1, len(res["schemes"]) - 1))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out = {}
    for ext in ("png", "pdf"):
        path = os.path.join(outdir, f"sensitivity.{ext}")
        atomic_write(path, lambda tmp, e=ext: fig.savefig(tmp, dpi=150, format=e), makedirs=True)
        out[ext] = path
    plt.close(fig)
    return out
