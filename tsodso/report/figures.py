"""Figures of a comparison `comp`: lmp_pcc, pcc_exchange, bess_soc, p2p_volumes, voltage_envelopes
(one panel per ADN, one line per scheme with a solution; needs matplotlib), each as PNG (the
path returned) and PDF beside it. x axis: clock hours of the horizon (the scenario's start,
wrapping past midnight); y axis labelled with its unit; powers and energies within
NOISE_MW of 0 are drawn as 0 (ECOS' distance to a bound, not a schedule)."""
from __future__ import annotations

import math
import os

import numpy as np

from ..atomic import atomic_write
from .format import adn_names


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


NOISE_MW = 1e-6      # MW or MWh: below it a power or energy series is drawn as 0


def _save(fig, plt, path):
    """PNG at `path` and a PDF beside it (same stem); returns the PNG path."""
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), makedirs=True)
    pdf = os.path.splitext(path)[0] + ".pdf"
    atomic_write(pdf, lambda tmp: fig.savefig(tmp, format="pdf"), makedirs=True)
    plt.close(fig)
    return path


def _clock_axis(ax, hours):
    """Ticks at the hour boundaries 0..T labelled with clock hours (HH)."""
    T = len(hours)
    step = max(1, int(math.ceil(T / 8)))
    pos = list(range(0, T + 1, step))
    ax.set_xticks(pos)
    ax.set_xticklabels([f"{(hours[0] + p) % 24:02d}" for p in pos])
    ax.set_xlabel("clock hour (h)")


def write_figures(comp, outdir) -> dict:
    """The five PNG figures (one panel per ADN, one line per scheme with a solution)."""
    plt = _plt()
    sysm = comp["system"]
    names = adn_names(sysm)
    ids = sysm.tn.bus_id
    solved = [s for s in comp["schemes"] if comp["metrics"][s] is not None]
    T = sysm.n_hours
    hours = list(sysm.scenario.get("_hours", range(T))) if isinstance(sysm.scenario, dict) else list(range(T))
    specs = [("lmp_pcc", "lmp_pcc_usd_per_mwh", "LMP at the PCC", "LMP ($/MWh)", None, False),
             ("pcc_exchange", "pcc_import_mw", "PCC exchange, import > 0", "power (MW)", None, True),
             ("bess_soc", "bess_soc_mwh", "BESS state of charge, all units", "energy (MWh)", None, True),
             ("p2p_volumes", "p2p_local_mw", "P2P: local pool (solid), cross-ADN net import (dashed)",
              "power (MW)", "p2p_cross_net_import_mw", True),
             ("voltage_envelopes", "v_min_pu", "Voltage envelope min / max over buses", "voltage (pu)",
              "v_max_pu", False)]

    def clean(v, noisy):
        v = np.asarray(v, float)
        return np.where(np.abs(v) < NOISE_MW, 0.0, v) if noisy else v

    paths = {}
    for fname, key, title, ylabel, key2, noisy in specs:
        fig, axes = _grid(plt, len(names), title)
        for a, ax in enumerate(axes):
            for i, s in enumerate(solved):
                ser = comp["metrics"][s]["series"]
                # hour t covers [t, t+1): a step per hour; wider lines first so equal series stay visible
                # (3.2 pt down to 1.0 pt whatever the number of schemes)
                style = dict(color=f"C{i}", linewidth=3.2 - 2.2 * i / max(1, len(solved) - 1), alpha=0.85)
                ax.stairs(clean(ser[key][a], noisy), label=s, baseline=None, **style)
                if key2:
                    ax.stairs(clean(ser[key2][a], noisy), linestyle="--", baseline=None, **style)
            ax.set_title(f"{names[a]} (PCC bus {ids[sysm.adns[a].pcc_bus]})", fontsize=9)
            _clock_axis(ax, hours)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        if axes and solved:
            axes[0].legend(fontsize=8)
        paths[fname] = _save(fig, plt, os.path.join(outdir, f"{fname}.png"))
    return paths
