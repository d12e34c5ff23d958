"""Tables and texts of a comparison `comp` (experiments/compare.py), each written atomically.

    metrics_markdown(comp) / write_metrics_markdown(comp, path)   system table (metric x scheme),
                                        certificates, per-ADN tables
    metrics_rows(comp) / write_metrics_csv(comp, path)    long format: scheme,scope,metric,unit,value
                                        (scope = "system" or the ADN name)
    summary_text(comp) / write_summary(comp, path)        a short generated text: what differs
                                        between the schemes, and the paper's three claims
"""
from __future__ import annotations

import csv
import io

import numpy as np

from ..atomic import write_text_atomic
from ..evaluation.metrics import ADN_KEYS, SYSTEM_KEYS, UNITS, price_making
from .format import TOTAL_COST_DEFINITION, adn_names, fmt

CLAIM_TOL = 1e-4        # relative (of max(1, |values|)): below it two schemes' metrics are "the same"


def metrics_markdown(comp) -> str:
    sch = comp["schemes"]
    mets = comp["metrics"]
    lines = ["# Scheme comparison", "",
             f"{comp['system'].n_adn} ADNs x {comp['system'].n_hours} h, seed {comp['system'].seed}. "
             f"Total cost = {TOTAL_COST_DEFINITION}.", "",
             "## System", "", "| metric | unit | " + " | ".join(sch) + " |",
             "|---|---|" + "---|" * len(sch)]
    for k in SYSTEM_KEYS:
        vals = [fmt(mets[s]["system"][k], k) if mets[s] else "n/a" for s in sch]
        lines.append(f"| {k} | {UNITS[k]} | " + " | ".join(vals) + " |")
    lines += price_making_lines(comp)
    lines += ["", "## Certificates", "",
              "| scheme | status | objective $ | best bound $ | gap | SOC gap pu^2 | V mismatch pu | TN check | value | big-M active | seconds |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sch:
        c = comp["certificates"][s]
        lines.append(f"| {s} | {c['status']} | {fmt(c['objective_usd'], 'total_cost_usd')} | "
                     f"{fmt(c['best_bound_usd'], 'total_cost_usd')} | {fmt(c['rel_gap'])} | {fmt(c['soc_gap'])} | "
                     f"{fmt(c['max_voltage_mismatch_pu'])} | {(c['tn_check'] or 'n/a').replace('|', '/')} | {fmt(c['tn_check_value'])} | "
                     f"{fmt(c['bigm_active'])} | {comp['seconds'][s]:.1f} |")
    lines += ["", "objective / best bound = what each scheme's solver minimised: centralised the total cost, "
              "tso-led and hybrid the sum of the DSOs' bills (cleared LMP + deviation penalty), dso-led the leader's cost "
              "(the DSOs' bills at the bilevel's LMPs); compare schemes by the metrics above, not by this column."]
    notes = [f"* {s}: {comp['notes'][s]}" for s in sch if comp["notes"].get(s)]
    if notes:
        lines += ["", "Notes:", ""] + notes
    names = adn_names(comp["system"])
    for s in sch:
        lines += ["", f"## Per ADN: {s}", ""]
        if mets[s] is None:
            lines.append(f"no solution ({comp['notes'][s]})")
            continue
        lines += ["| metric | unit | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for k in ADN_KEYS:
            lines.append(f"| {k} | {UNITS[k]} | " + " | ".join(fmt(v, k) for v in mets[s]["per_adn"][k]) + " |")
    return "\n".join(lines) + "\n"


def price_making_lines(comp) -> list:
    """Markdown lines: the value of price-making (dso-led vs price-taking), [] without both."""
    m = comp["metrics"]
    if m.get("dso-led") is None or m.get("price-taking") is None:
        return []
    v = price_making(m["dso-led"]["system"], m["price-taking"]["system"])
    return ["", "## Value of price-making (dso-led vs price-taking)", "",
            "| quantity | unit | value |", "|---|---|---|",
            f"| DSO bills, price-taking - dso-led (value of price-making) | $ | {fmt(v['value_usd'], 'dso_cost_usd')} |",
            f"| generator rent, dso-led - price-taking | $ | {fmt(v['generator_rent_change_usd'], 'generator_rent_usd')} |",
            f"| total cost, dso-led - price-taking | $ | {fmt(v['total_cost_change_usd'], 'total_cost_usd')} |",
            f"| BESS throughput dso-led / price-taking | MWh | {fmt(v['bess_throughput_dso_led_mwh'], 'bess_throughput_mwh')}"
            f" / {fmt(v['bess_throughput_price_taking_mwh'], 'bess_throughput_mwh')} |",
            "", "price-taking: the DSOs optimise at fixed reference LMPs (DC-OPF at their forecast PCC import), "
            "the TSO then clears their exchanges; both settle at the LMPs of their own TN outcome."]


def write_metrics_markdown(comp, path):
    return write_text_atomic(path, metrics_markdown(comp), makedirs=True)


def metrics_rows(comp):
    """Long-format rows (scheme, scope, metric, unit, value); value None = not available."""
    rows = []
    names = adn_names(comp["system"])
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
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scheme", "scope", "metric", "unit", "value"])
    for s, scope, k, u, v in metrics_rows(comp):
        w.writerow([s, scope, k, u, "" if v is None or not np.isfinite(v) else repr(float(v))])
    return write_text_atomic(path, buf.getvalue(), makedirs=True)


def claim_verdict(vd, vt, better) -> str:
    """'holds' / 'does not hold' / 'no difference (within the solver tolerance)' / 'undefined
    (no value)' for a dso-led value vd against a tso-led value vt (higher/lower is better)."""
    if not (np.isfinite(vd) and np.isfinite(vt)):
        return "undefined (no value)"
    if abs(vd - vt) <= CLAIM_TOL * max(1.0, abs(vd), abs(vt)):
        return "no difference (within the solver tolerance)"
    return "holds" if (vd > vt if better == "higher" else vd < vt) else "does not hold"


CLAIMS = (("bess_throughput_mwh", "higher", "DSO-led uses the batteries more"),
          ("self_consumption", "higher", "DSO-led raises local self-consumption"),
          ("energy_imported_mwh", "lower", "DSO-led lowers imports from the TN"))


def _claim(comp, key, better, text):
    """One sentence comparing dso-led with tso-led on a system metric (higher/lower is better)."""
    m = comp["metrics"]
    d, t = m.get("dso-led"), m.get("tso-led")
    if d is None or t is None:
        missing = [s for s in ("dso-led", "tso-led") if m.get(s) is None]
        return f"* {text}: cannot be assessed ({', '.join(missing)} without a solution)."
    vd, vt = d["system"][key], t["system"][key]
    verdict = claim_verdict(vd, vt, better)
    return f"* {text}: dso-led {fmt(vd, key)} vs tso-led {fmt(vt, key)} ({UNITS[key]}) -> {verdict} on this case."


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
        y = {k: fmt(v, k) for k, v in m["system"].items()}
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
              *(_claim(comp, key, better, text) for key, better, text in CLAIMS)]
    m = comp["metrics"]
    if m.get("dso-led") is not None and m.get("price-taking") is not None:
        v = price_making(m["dso-led"]["system"], m["price-taking"]["system"])
        lines += ["", f"Value of price-making: the DSOs pay {fmt(v['value_usd'], 'dso_cost_usd')} $ less under dso-led "
                  f"than as price-takers (fixed reference LMPs, then the TSO clears); generator rent changes by "
                  f"{fmt(v['generator_rent_change_usd'], 'generator_rent_usd')} $ and BESS throughput is "
                  f"{fmt(v['bess_throughput_dso_led_mwh'], 'bess_throughput_mwh')} vs "
                  f"{fmt(v['bess_throughput_price_taking_mwh'], 'bess_throughput_mwh')} MWh."]
    t = comp["results"].get("tso-led")
    if t is not None and comp["metrics"].get("tso-led") is not None:
        dev = t.deviation_mwh().sum()
        dt = sysm.dt_h
        vb = float(np.sum(t.clearing.vb_charge_mw + t.clearing.vb_discharge_mw)) * dt
        m = comp["metrics"]["tso-led"]["system"]
        fc = t.clearing.forecast.mode if t.clearing.forecast is not None else "naive"
        what = ("the DSOs' own forecasts (sweep power flow: losses, forecast curtailment, export limits)"
                if fc == "dso" else "naive forecast net loads (load - PV: no losses, no limits)")
        lines += ["", f"Why tso-led differs: the TSO cleared with {what} and one virtual "
                  f"battery per ADN, scheduling {fmt(vb, 'bess_throughput_mwh')} MWh of battery throughput; the "
                  f"DSOs then realised {fmt(m['bess_throughput_mwh'], 'bess_throughput_mwh')} MWh, lost "
                  f"{fmt(m['losses_mwh'], 'losses_mwh')} MWh in their feeders, curtailed "
                  f"{fmt(m['curtailment_mwh'], 'curtailment_mwh')} MWh and deviated {fmt(dev, 'losses_mwh')} MWh "
                  f"from the published schedules "
                  f"(settled at the cleared LMP plus {t.penalty_usd_per_mwh:g} $/MWh); no cross-ADN P2P is "
                  f"available in this scheme."]
    h = comp["results"].get("hybrid")
    if h is not None and comp["metrics"].get("hybrid") is not None:
        hs = h.summary()
        lines += ["", f"Why hybrid differs from tso-led: the DSOs first validated each hour's PCC range "
                  f"(what their networks can realise); the TSO's schedule sits on a range end in "
                  f"{hs['envelope_binding_hours']} ADN-hours and withholds "
                  f"{fmt(hs['pv_withheld_mwh'], 'curtailment_mwh')} MWh of PV the feeders cannot take; the DSOs "
                  f"deviated {fmt(h.deviation_mwh().sum(), 'losses_mwh')} MWh from it"
                  + (f" (tso-led: {fmt(t.deviation_mwh().sum(), 'losses_mwh')} MWh)."
                     if t is not None and t.x is not None else ".")]
    notes = [f"{s}: {comp['notes'][s]}" for s in comp["schemes"] if comp["notes"].get(s)]
    if notes:
        lines += ["", "Notes:"] + [f"* {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_summary(comp, path):
    return write_text_atomic(path, summary_text(comp), makedirs=True)
