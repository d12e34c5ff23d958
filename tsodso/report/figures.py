"""Figures of a comparison `comp`: lmp_pcc.png, pcc_exchange.png, bess_soc.png, p2p_volumes.png,
voltage_envelopes.png (one panel per ADN, one line per scheme with a solution; needs matplotlib)."""
from __future__ import annotations

import math
import os

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


def _save(fig, plt, path):
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), makedirs=True)
    plt.close(fig)
    return path


def write_figures(comp, outdir) -> dict:
    """The five PNG figures (one panel per ADN, one line per scheme with a solution)."""
    plt = _plt()
    sysm = comp["system"]
    names = adn_names(sysm)
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
        paths[fname] = _save(fig, plt, os.path.join(outdir, f"{fname}.png"))
    return paths
