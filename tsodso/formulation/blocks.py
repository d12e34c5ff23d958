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
    shape "adn_window:W": blocks (ADN a, hours W w .. W w + W - 1), TN and cross as above;
      dualised: as adn_hour, the battery rows only between windows.
    shape "hour": block t = every variable of hour t (all ADNs, TN + KKT, cross trades);
      dualised: the battery energy balance between consecutive hours only.
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

__all__ = ["decomposition_labels", "staged_stages", "SHAPES"]

SHAPES = ("adn_hour", "adn_day", "hour")


def _window(shape: str, T: int):
    """Hours per ADN block: 1 for adn_hour, W for adn_window:W, None for adn_day."""
    if shape == "adn_hour":
        return 1
    if shape in ("adn_day", "hour"):
        return None
    if shape.startswith("adn_window:"):
        w = shape.split(":", 1)[1]
        if w.isdigit() and 1 <= int(w) <= T:
            return int(w)
    raise ValueError(f"decomposition block shape {shape!r}: expected one of {SHAPES} "
                     f"or 'adn_window:W' with W in 1..{T}")


def decomposition_labels(prob, layout, shape: str = "adn_hour") -> Tuple[np.ndarray, List[str]]:
    """(labels (n,) int64, names) of the blocks of `shape` (module docstring)."""
    T = int(layout.T)
    A = len(layout.system.adns)
    W = _window(shape, T)
    labels = np.full(prob.n, -1, np.int64)
    if W is not None:                                  # (ADN, window of W hours); adn_hour = W 1
        nw = -(-T // W)
        adn_label = lambda a, t: a * nw + t // W       # noqa: E731
        n_adn_blocks = A * nw
        names = [f"adn{a}.h{w * W}" + (f"-{min(T, (w + 1) * W) - 1}" if W > 1 else "")
                 for a in range(A) for w in range(nw)]
    else:
        adn_label = lambda a, t: a + 0 * t            # noqa: E731
        n_adn_blocks = A
        names = [f"adn{a}" for a in range(A)]
    tn_base, cross_base = n_adn_blocks, n_adn_blocks + T
    names += [f"tn.h{t}" for t in range(T)] + [f"cross.h{t}" for t in range(T)]
    if shape == "hour":                                # everything of hour t in block t
        adn_label = lambda a, t: t                     # noqa: E731
        tn_base = cross_base = 0
        names = [f"h{t}" for t in range(T)]
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


def staged_stages(prob, layout):
    """Stages of the staged multipliers (solver/decomposition/multipliers.py) and the block
    order of the sequential recovery (recovery.py) for the DSO-led MISOCP:

        stage 1  "hour" blocks (every ADN, TN + KKT and cross trades of one hour): their
                 relaxations price the PCC exchange and cross-ADN rows; the battery energy rows
                 between hours are dualised
        stage 2  the ADN blocks of "adn_day" (one ADN, all hours): their relaxations price the
                 battery energy rows; the PCC and cross-ADN rows are dualised
        sequence the "hour" blocks in time order (their only coupling: battery energy)

    Returns (stages, sequence) in the form solver/decomposition/solve.solve takes.
    """
    hl, hn = decomposition_labels(prob, layout, "hour")
    al, an = decomposition_labels(prob, layout, "adn_day")
    adn = [k for k, n in enumerate(an) if n.startswith("adn")]
    return [(hl, hn, None), (al, an, adn)], (hl, hn)
