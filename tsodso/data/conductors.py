"""Per-line conductor table of a scenario with `adn_defaults.feeder_rating = "conductor_class"`.

    python -m tsodso.data.conductors [SCENARIO] [-o CSV]

The table is that of the conductor-class rule for the scenario's ADNs (whichever rule the
scenario itself uses). One row per feeder line (MATPOWER bus numbers of case33bw), per ADN: the physical line's
current at the ADN's peak-load hour (A, per feeder, PV 0, BESS idle), the conductor type it
got and its rating (A). The shipped `cases/feeder_conductors.csv` is this table for the
default scenario (`tests/test_data_builder.py` checks it is current).
"""
from __future__ import annotations

import argparse
import sys as _sys

import numpy as np

from .builder import CONDUCTOR_TYPES, base_current_a, load_system
from .radial_pf import radial_power_flow


def conductor_rows(system):
    """Header and rows (lists of str) of the conductor table of a built System."""
    rating = dict(CONDUCTOR_TYPES)
    hdr = ["line"]
    cols = []
    for a in system.adns:
        if a.line_conductor is None:
            raise ValueError(f"ADN {a.name}: ratings not from conductor classes "
                             "(adn_defaults.feeder_rating != 'conductor_class')")
        k = a.feeders_aggregated
        t = int(np.argmax(a.load_p_mw.sum(axis=1)))
        pf = radial_power_flow(a.line_from, a.line_to, a.line_r_pu, a.line_x_pu,
                               a.load_p_mw[t] / a.base_mva, a.load_q_mvar[t] / a.base_mva, a.v0_pu)
        amps = pf.i_pu / k * base_current_a(a.base_kv, a.base_mva)
        hdr += [f"{a.name}_peak_a", f"{a.name}_type", f"{a.name}_rating_a"]
        cols.append((amps, a.line_conductor))
    a0 = system.adns[0]
    rows = []
    for j in range(a0.n_line):
        row = [f"{a0.line_from[j] + 1}-{a0.line_to[j] + 1}"]
        for amps, types in cols:
            row += [f"{amps[j]:.1f}", types[j], f"{rating[types[j]]:.0f}"]
        rows.append(row)
    return hdr, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tsodso.data.conductors", description=__doc__.split("\n")[0])
    ap.add_argument("scenario", nargs="?", default=None)
    ap.add_argument("-o", "--output", default=None, help="CSV file (default: stdout)")
    args = ap.parse_args(argv)
    # the table of the conductor-class rule for this scenario's ADNs, whatever its own rule
    hdr, rows = conductor_rows(load_system(args.scenario,
                                           overrides={"adn_defaults.feeder_rating": "conductor_class"}))
    text = ("# Feeder conductor per line (python -m tsodso.data.conductors); current per physical feeder\n"
            "# at the ADN's peak-load hour, A; type = smallest EN 50182 ACSR type >= 1.5 x that current.\n"
            + ",".join(hdr) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        _sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
