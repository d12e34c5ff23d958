"""Network quantities derived from the data alone (no model, no solver).

    ptdf(tn)                      (nk, nb) DC power transfer distribution factors
    ptdf_matrix(nb, fr, to, b, ref)   the same from raw line arrays (b = 1 / x, pu)
    forecast_net_load_mw(system)  (A, T) ADN load - PV available (batteries idle, losses ignored)
"""
from __future__ import annotations

import numpy as np

from .system import System, Transmission


def ptdf_matrix(n_bus: int, line_from, line_to, line_b_pu, ref_bus: int) -> np.ndarray:
    """(nk, nb) PTDF, slack = `ref_bus`: f_k = b_k (theta_from - theta_to) = sum_b PTDF_kb inj_b
    (flows in the unit of the injections; the reference bus column is 0)."""
    fr, to = np.asarray(line_from, np.int64), np.asarray(line_to, np.int64)
    nk = fr.size
    Af = np.zeros((nk, n_bus))
    Af[np.arange(nk), fr] = 1.0
    Af[np.arange(nk), to] -= 1.0
    Bf = np.asarray(line_b_pu, float)[:, None] * Af
    B = Af.T @ Bf
    keep = np.arange(n_bus) != int(ref_bus)
    X = np.zeros((n_bus, n_bus))
    X[np.ix_(keep, keep)] = np.linalg.inv(B[np.ix_(keep, keep)])
    return Bf @ X


def ptdf(tn: Transmission) -> np.ndarray:
    """(nk, nb) PTDF of the transmission network `tn` (slack = its reference bus)."""
    return ptdf_matrix(tn.n_bus, tn.line_from, tn.line_to, 1.0 / np.asarray(tn.line_x_pu, float),
                       tn.ref_bus)


def forecast_net_load_mw(system: System) -> np.ndarray:
    """(A, T) load - PV available, batteries idle, losses ignored."""
    return np.array([x.load_p_mw.sum(axis=1) - x.pv_avail_mw.sum(axis=1) for x in system.adns])
