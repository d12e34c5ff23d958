"""Small helpers shared by the formulation blocks: units and triplet accumulation.

Units of the assembled model (the naming grammar is in docs/naming.md):
* TN powers in pu on the TN base (`tn.base_mva`, 100 MVA in the default case); angles in rad.
* ADN powers in pu on that ADN's base (`adn.base_mva`); squared voltage `v` and squared
  current `l` in pu^2; energies in pu*h.
* Objective and follower cost in k$ (`USD_PER_OBJ_UNIT` = 1000 $): with TN powers in pu,
  LMPs then come out in k$/h per pu = 10 $/MWh at 100 MVA, i.e. O(1) numbers that keep the
  KKT block well scaled (see `lmp_usd_per_mwh`).
"""
from __future__ import annotations

import numpy as np

USD_PER_OBJ_UNIT = 1000.0
# Floor of the relative gap's denominator (solver/bounds.py), objective units: 1 $. The
# relative gap is (incumbent - bound) / max(GAP_FLOOR, |incumbent|), so a --gap request is
# never loosened on small objectives (the generic default, 1 objective unit, is 1,000 $).
GAP_FLOOR = 1.0 / USD_PER_OBJ_UNIT


def usd_per_mwh_to_obj(fee_usd_per_mwh, base_mva: float, dt_h: float):
    """Objective coefficient (k$ per pu of power held for one step) of a $/MWh price."""
    return np.asarray(fee_usd_per_mwh, float) * base_mva * dt_h / USD_PER_OBJ_UNIT


def lmp_usd_per_mwh(lmp_obj_per_pu, tn_base_mva: float):
    """Convert a balance dual in k$/h per TN pu into $/MWh."""
    return np.asarray(lmp_obj_per_pu) * USD_PER_OBJ_UNIT / tn_base_mva


class Rows:
    """COO triplets of one block of `m` constraint rows (rows local to the block)."""

    def __init__(self, m: int):
        self.m = int(m)
        self._r, self._c, self._v = [], [], []
        self.rhs = np.zeros(self.m)

    def add(self, rows, cols, vals=1.0):
        rows, cols = np.broadcast_arrays(np.asarray(rows, np.int64), np.asarray(cols, np.int64))
        vals = np.broadcast_to(np.asarray(vals, float), rows.shape)
        self._r.append(rows.reshape(-1)); self._c.append(cols.reshape(-1))
        self._v.append(np.array(vals, dtype=float).reshape(-1))
        return self

    def triplets(self):
        if not self._r:
            z = np.zeros(0, np.int64)
            return z, z, np.zeros(0)
        return np.concatenate(self._r), np.concatenate(self._c), np.concatenate(self._v)


def add_eq_rows(bld, name, rows: Rows):
    r, c, v = rows.triplets()
    bld.add_eq(name, r, c, v, rows.rhs)


def add_leq_rows(bld, name, rows: Rows):
    r, c, v = rows.triplets()
    bld.add_leq(name, r, c, v, rows.rhs)
