"""Block labels of the DSO-led MISOCP for the decomposition solver (solver/decomposition/).

`decomposition_labels(prob, layout, shape)` returns one block label per variable and the
block names. The generic solver dualises every row whose variables lie in more than one
block; which rows those are follows from the labels:

    shape "adn_hour" (default; measured in bench/README.md to close the most root gap):
        block (ADN a, hour t)  every adn{a}.* variable of hour t (DistFlow, DER, settlement)
        block (TN, hour t)     every tn.* and kkt.* variable of hour t (DC-OPF + KKT)
        block (cross, hour t)  p2p.cross_* variables of hour t (pair trades, exporter roles)
      dualised: TN nodal balance (PCC imports), cross-ADN balance rows, battery energy
      balance between consecutive hours (state-of-charge coupling).
    shape "adn_day":
        block (ADN a)          every adn{a}.* variable of all hours (batteries inside)
        block (TN, hour t), block (cross, hour t) as above
      dualised: TN nodal balance, cross-ADN balance rows.

Every variable block of the model has the hour as its first axis (formulation/*.py); a
block without it is a `ValueError` here rather than a silent wrong split.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

__all__ = ["decomposition_labels", "SHAPES"]

SHAPES = ("adn_hour", "adn_day")


def decomposition_labels(prob, layout, shape: str = "adn_hour") -> Tuple[np.ndarray, List[str]]:
    """(labels (n,) int64, names) of the blocks of `shape` (module docstring)."""
    if shape not in SHAPES:
        raise ValueError(f"decomposition block shape {shape!r}: expected one of {SHAPES}")
    T = int(layout.T)
    A = len(layout.system.adns)
    labels = np.full(prob.n, -1, np.int64)
    if shape == "adn_hour":
        adn_label = lambda a, t: a * T + t            # noqa: E731
        n_adn_blocks = A * T
        names = [f"adn{a}.h{t}" for a in range(A) for t in range(T)]
    else:
        adn_label = lambda a, t: a + 0 * t            # noqa: E731
        n_adn_blocks = A
        names = [f"adn{a}" for a in range(A)]
    tn_base, cross_base = n_adn_blocks, n_adn_blocks + T
    names += [f"tn.h{t}" for t in range(T)] + [f"cross.h{t}" for t in range(T)]
    hours = np.arange(T)
    for name, (sl, shp) in prob.var_blocks.items():
        size = sl.stop - sl.start
        if size == 0:
            continue
        if not shp or shp[0] != T:
            raise ValueError(f"decomposition labels: variable block {name!r} has shape {shp}, "
                             f"expected the hour ({T}) as first axis")
        t = np.repeat(hours, size // T)
        prefix = name.split(".", 1)[0]
        if prefix.startswith("adn") and prefix[3:].isdigit():
            lab = adn_label(int(prefix[3:]), t)
        elif prefix in ("tn", "kkt"):
            lab = tn_base + t
        elif prefix == "p2p":
            lab = cross_base + t
        else:
            raise ValueError(f"decomposition labels: variable block {name!r} belongs to no known part "
                             "(adn<a>, tn, kkt, p2p)")
        labels[sl] = lab
    if np.any(labels < 0):
        j = int(np.flatnonzero(labels < 0)[0])
        raise ValueError(f"decomposition labels: variable {j} is in no variable block")
    # drop empty block numbers (e.g. no cross-ADN variables), keeping the order
    used = np.unique(labels)
    remap = np.full(len(names), -1, np.int64)
    remap[used] = np.arange(used.size)
    return remap[labels], [names[k] for k in used]
