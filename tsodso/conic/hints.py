"""What a model tells the solver beyond the conic form: the typed contract model -> solver.

    SolverHints(complementarity_pairs=, complementarity_mode=, implied_binaries=, branch_priority=)

Every field is optional and generic (variable indices and numbers, no model names):

complementarity_pairs  int (m, 2) rows (a, b): x_a * x_b = 0 is required (both lb >= 0).
complementarity_mode   how the pairs are enforced, declared by the builder of the model:
                       "branch" = only by the solver (it branches on violated pairs: child 1
                       ub[a] = 0, child 2 ub[b] = 0); "bigm" = by the model's own binaries
                       (the solver only checks them); None = not declared (the solver's option
                       decides, default "bigm"). A solver option that disagrees with a declared
                       mode is refused (solver/bnb.py), so a model built for branching cannot
                       be solved without branching.
implied_binaries       int (m, 3) rows (j, a, b): binary j = 1 forces x_b = 0, j = 0 forces
                       x_a = 0 (a big-M pair); where the relaxation satisfies the pair, j's
                       value is implied and it is not a branching candidate (solver/branching.py).
branch_priority        float (n,) or None: variables with the highest priority are branched first.

`validate(n, lb)` checks shapes and index ranges and returns the hints with int64/float arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

MODES = ("bigm", "branch")


def _empty(width):
    return lambda: np.zeros((0, width), np.int64)


@dataclass
class SolverHints:
    complementarity_pairs: np.ndarray = field(default_factory=_empty(2))
    complementarity_mode: Optional[str] = None
    implied_binaries: np.ndarray = field(default_factory=_empty(3))
    branch_priority: Optional[np.ndarray] = None

    def pairs(self, n: int, lb=None) -> np.ndarray:
        """complementarity_pairs as int64 (m, 2), validated (indices in 0..n-1, lb >= 0)."""
        p = _indices(self.complementarity_pairs, 2, n, "complementarity_pairs")
        if lb is not None and p.size:
            neg = np.flatnonzero(np.minimum(lb[p[:, 0]], lb[p[:, 1]]) < 0)
            if neg.size:
                k = int(neg[0])
                raise ValueError(f"complementarity pair {k} = {tuple(p[k])}: both variables need lb >= 0")
        return p

    def implied(self, n: int) -> np.ndarray:
        """implied_binaries as int64 (m, 3), validated."""
        return _indices(self.implied_binaries, 3, n, "implied_binaries")

    def priority(self, n: int) -> Optional[np.ndarray]:
        """branch_priority as float (n,), or None."""
        if self.branch_priority is None:
            return None
        p = np.asarray(self.branch_priority, float)
        if p.shape != (n,):
            raise ValueError(f"hints.branch_priority must have shape ({n},), not {p.shape}")
        return p

    def mode(self, option: Optional[str]) -> str:
        """The complementarity mode to solve with: the declared one, else `option`, else "bigm".
        A declared mode that `option` contradicts is refused."""
        declared = self.complementarity_mode
        if declared is not None and declared not in MODES:
            raise ValueError(f"hints.complementarity_mode must be one of {MODES}, not {declared!r}")
        if option is not None and option not in MODES:
            raise ValueError(f"complementarity must be one of {MODES}, not {option!r}")
        if declared is None:
            return option or "bigm"
        if option is not None and option != declared:
            raise ValueError(f"complementarity: the model was built for {declared!r} complementarity "
                             f"(hints.complementarity_mode) but the solver option asks for {option!r}")
        return declared


def _indices(p, width, n, name):
    p = np.asarray(p, np.int64).reshape(-1, width)
    if p.size and (p.min() < 0 or p.max() >= n):
        raise ValueError(f"hints.{name}: variable index outside 0..n-1")
    return p
