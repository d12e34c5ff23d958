"""Analysis layer: what the model needs to know about the data before its rows are written.

    dual_bounds   valid bounds on the follower's duals (robust-slack LPs, vertex enumeration)
    certified_box the certified PCC box over which those bounds hold
    kkt_presolve  complementarity pairs proved fixed over the box (HiGHS MILPs)
    follower      the follower's response at given PCC demands (ECOS), its cost and activity

`analyse_dso_led(system, T)` runs the DSO-led model's analysis and returns a `DSOLedAnalysis`,
the inputs of `formulation.bilevel.build_dso_led_model`. May import data, conic, solver and
formulation (it calls solvers); never evaluation, schemes or above.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


from ..formulation.bigm import CertifiedPCCBox
from ..formulation.bilevel import pcc_box
from ..formulation.tn import TNData
from .follower import reference_follower_costs
from .kkt_presolve import fixed_pairs
from .certified_box import certified_pcc_bounds


@dataclass
class DSOLedAnalysis:
    box: CertifiedPCCBox                 # certified PCC box and its dual bounds
    presolved: Optional[tuple]           # (fixed (T, 2nk+2ng) int8, stats) or None (presolve off)
    reference_costs: Optional[tuple]     # (r_ref (K, T, m), V_ref (K, T) k$/h) or None (no cuts)


def analyse_dso_led(system, T: int, kkt_presolve: bool = True, weak_duality_cuts: bool = False,
                    pcc_certified=None, presolved=None) -> DSOLedAnalysis:
    """The certified PCC box, the KKT presolve (kkt_presolve=True) and the reference follower
    costs (weak_duality_cuts=True) of `system` over hours 0..T-1. `pcc_certified` (a
    `CertifiedPCCBox` or its 5-tuple) and `presolved` computed earlier for the same data (e.g.
    from a warm-start cache) are used as they are."""
    d = TNData.from_tn(system.tn, T)
    box = certified_pcc_bounds(system, d, T) if pcc_certified is None else CertifiedPCCBox(*pcc_certified)
    _, lo, hi = pcc_box(system, T, box.lo_mw, box.hi_mw)
    if not kkt_presolve:
        presolved = None
    elif presolved is None:
        presolved = fixed_pairs(d, box.buses, lo, hi, box.bounds)
    ref = reference_follower_costs(d, box.buses, lo, hi) if weak_duality_cuts else None
    return DSOLedAnalysis(box=box, presolved=presolved, reference_costs=ref)


__all__ = ["DSOLedAnalysis", "analyse_dso_led", "certified_pcc_bounds", "fixed_pairs",
           "reference_follower_costs"]
