"""A model solution read back in physical units (MW, $/MWh); one definition per quantity.

    adn_pcc_import_mw(feeders, adns, xs)  (A, T) PCC import of each ADN from its own vector
    pcc_import_mw(lay, x)                 the same for a joint model (one vector, a Layout)
    lmp_usd_per_mwh(lay, x)               (T, nb) the bilevel's LMPs (balance duals of its KKT)
"""
from __future__ import annotations

import numpy as np

from ..formulation.common import lmp_usd_per_mwh as _lmp_to_usd_per_mwh


def adn_pcc_import_mw(feeders, adns, xs) -> np.ndarray:
    """(A, T) PCC imports in MW (import > 0): x_a[pcc] * S_a of ADN a's vector x_a."""
    return np.array([np.asarray(x[fv.pcc]) * adn.base_mva for fv, adn, x in zip(feeders, adns, xs)])


def pcc_import_mw(lay, x) -> np.ndarray:
    """(A, T) PCC imports in MW of a joint model's solution `x` (layout `lay`)."""
    return adn_pcc_import_mw(lay.feeders, lay.system.adns, [x] * len(lay.feeders))


def lmp_usd_per_mwh(lay, x) -> np.ndarray:
    """(T, nb) LMPs of a DSO-led solution ($/MWh): its KKT balance duals lambda (k$/h per TN pu)."""
    return _lmp_to_usd_per_mwh(x[lay.kkt.lam], lay.tn.base_mva)
