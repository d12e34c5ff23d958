"""Formatting shared by the report's writers: numbers as printed, the definitions they state."""
from __future__ import annotations

import math

import numpy as np

from ..evaluation.metrics import UNITS

SHOW_ZERO = 1e-6        # |v| below this prints as 0 (solver noise of an interior-point solve)
TOTAL_COST_DEFINITION = ("TN generation cost + use-of-system fees + BESS degradation + P2P platform "
                         "+ PV curtailment penalty; wholesale, P2P and deviation payments are transfers")


def fmt(v, key=""):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, str):
        return v
    v = float(v)
    if abs(v) < SHOW_ZERO:
        v = 0.0
    if UNITS.get(key) == "share":
        return f"{100 * v:.1f} %"
    if UNITS.get(key) == "pu":
        return f"{v:.4f}"
    if UNITS.get(key) == "$":
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e5 else f"{v:.2f}"


def adn_names(system):
    return [a.name for a in system.adns]
