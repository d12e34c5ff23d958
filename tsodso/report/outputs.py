"""Every output file of a comparison in one call (`tsodso compare -o DIR`)."""
from __future__ import annotations

import os

from .figures import write_figures
from .hdf5 import write_hdf5
from .tables import write_metrics_csv, write_metrics_markdown, write_summary


def write_all(comp, outdir, figures: bool = True) -> dict:
    """metrics.md, metrics.csv, comparison.h5, summary.txt and (figures=True) the PNGs in outdir."""
    os.makedirs(outdir, exist_ok=True)
    paths = {"markdown": write_metrics_markdown(comp, os.path.join(outdir, "metrics.md")),
             "csv": write_metrics_csv(comp, os.path.join(outdir, "metrics.csv")),
             "hdf5": write_hdf5(comp, os.path.join(outdir, "comparison.h5")),
             "summary": write_summary(comp, os.path.join(outdir, "summary.txt"))}
    if figures:
        paths.update(write_figures(comp, outdir))
    return paths
