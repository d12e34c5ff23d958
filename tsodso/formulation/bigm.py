"""The inputs of the KKT block's big-M rows: valid bounds on the follower's duals and slacks.

`DualBounds` holds them; they are derived from the data, never guessed, by
`tsodso.analysis.dual_bounds.derive_dual_bounds` (the argument is in that module's docstring:
with a point x_hat strictly feasible by s_i on inequality i for every admissible PCC schedule,
mu_i <= (C_max - C_min) / s_i and sum_i s_i mu_i <= C_max - C_min).
`CertifiedPCCBox` is the PCC box over which they hold (`tsodso.analysis.certified_box`).
`ModelError`: the scenario cannot be turned into a valid model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class ModelError(ValueError):
    """The scenario cannot be turned into a valid model (the message says why; `hour` is the
    0-based hour it is about, when it is about one)."""

    def __init__(self, message: str, hour: int | None = None):
        super().__init__(message)
        self.hour = hour


@dataclass
class DualBounds:
    delta_pu: np.ndarray       # (T,) certified strict-feasibility slack of the follower
    dual_max: np.ndarray       # (T,) bound M_t on every inequality dual and on their sum
    slack_each: np.ndarray     # (T, 2nk+2ng) certified slack s_i per inequality [fu|fl|gu|gl], >= delta
    cost_gap: float            # C_max - C_min, k$/h: sum_i s_i mu_i <= cost_gap
    slack_line_max: np.ndarray  # (nk,) bound on F -+ f (2F)
    slack_gen_max: np.ndarray   # (ng,) bound on Gmax - g and g - Gmin

    @property
    def dual_max_each(self) -> np.ndarray:
        """(T, 2nk+2ng) bound (C_max - C_min) / s_i on each inequality dual."""
        return self.cost_gap / self.slack_each


class CertifiedPCCBox(NamedTuple):
    """The per-ADN PCC box the DSO-led model imposes and the dual bounds valid over it."""
    lo_mw: np.ndarray          # (A, T) lowest PCC import, MW (import > 0)
    hi_mw: np.ndarray          # (A, T) highest PCC import, MW
    bounds: DualBounds
    scale: np.ndarray          # (T,) shrink factor of the physical box per hour (1 = physical)
    buses: np.ndarray          # distinct PCC buses (TN bus indices)
