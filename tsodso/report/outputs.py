"""Every output file of a comparison in one call (`tsodso compare -o DIR`)."""
from __future__ import annotations

import os

from .figures import write_figures
from .hdf5 import write_hdf5
from .tables import write_metrics_csv, write_metrics_markdown, write_summary

FILES = {"markdown": "metrics.md", "csv": "metrics.csv", "hdf5": "comparison.h5", "summary": "summary.txt"}


def write_all(comp, outdir, figures: bool = True, out=None) -> dict:
    """metrics.md, metrics.csv, comparison.h5, summary.txt and (figures=True) the PNGs in outdir.

    The files are written into a staging folder and renamed into `outdir` together, summary.txt
    last (report/output.py): a failure leaves the previous run's files as they were and a
    rescue copy. `out`: the `RunOutput` the CLI prepared (and locked) before solving."""
    from .output import RunOutput
    if out is None:
        os.makedirs(outdir, exist_ok=True)
        out = RunOutput(os.fspath(outdir))
    kinds = {}

    def fill(folder):
        kinds.clear()
        kinds.update({"markdown": write_metrics_markdown(comp, os.path.join(folder, FILES["markdown"])),
                      "csv": write_metrics_csv(comp, os.path.join(folder, FILES["csv"])),
                      "hdf5": write_hdf5(comp, os.path.join(folder, FILES["hdf5"])),
                      "summary": write_summary(comp, os.path.join(folder, FILES["summary"]))})
        if figures:
            kinds.update(write_figures(comp, folder))
    final = out.write_folder(fill, last=(FILES["summary"],))
    return {k: final[os.path.basename(p)] for k, p in kinds.items()}
