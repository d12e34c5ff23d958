"""Stand-alone SOC-DistFlow problems of one feeder (validation against AC power flow).

`build_feeder_opf(adn, T)`: the ADN's DistFlow with its DER, minimising the energy imported
at the PCC (sum_t P0_t, pu*h). With no DER and fixed loads this is the power-flow problem
of the feeder: the SOC relaxation is exact at the optimum (Farivar & Low 2013), so losses
and voltages must equal the AC power flow's.
"""
from __future__ import annotations

import numpy as np

from ..conic import ProblemBuilder
from ..data.system import ADN
from .der import add_der
from .distflow import add_distflow, close_p_balance


def build_feeder_opf(adn: ADN, T: int, dt_h: float = 1.0):
    bld = ProblemBuilder()
    fv = add_distflow(bld, adn, T, "adn")
    dv = add_der(bld, adn, fv, T, dt_h, "adn")
    close_p_balance(bld, fv, "adn")
    bld.add_cost(fv.pcc, dt_h)
    return bld.build(), fv, dv

