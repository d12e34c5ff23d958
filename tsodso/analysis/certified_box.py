"""The certified PCC box of the DSO-led model: where the KKT block's big-M bounds are valid.

    certified_pcc_bounds(system, d, T) -> formulation.bigm.CertifiedPCCBox

model.md: "bound the PCC schedules so that the follower always has one" (strictly feasible
point); the dual bounds of `analysis.dual_bounds` hold over the box returned.
"""
from __future__ import annotations

import numpy as np

from ..data.system import System
from ..formulation.bigm import CertifiedPCCBox, ModelError
from ..formulation.bilevel import pcc_box
from ..formulation.tn import TNData
from .dual_bounds import derive_dual_bounds, ptdf_of, robust_slack


def certified_pcc_bounds(system: System, d: TNData, T: int, shrink: float = 0.9,
                         max_rounds: int = 40) -> CertifiedPCCBox:
    """Per-ADN PCC bounds (A, T) in MW for which the KKT big-Ms are certified, and the bounds
    (a `CertifiedPCCBox`: lo_mw, hi_mw, bounds, scale, buses).

    Starts from the ADNs' physical bounds. In an hour where the follower cannot be certified
    strictly feasible over the whole box (some admissible schedule would leave the TN without a
    strictly feasible dispatch, so its duals are unbounded), that hour's box is shrunk by
    `shrink` towards its safest point until it is certified (the PCC box of docs/model.md
    section 3: the PCC schedules are bounded so that the follower always has a strictly
    feasible point). The safest point is the best of the box's lower corner, midpoint and
    upper corner by strict-feasibility slack (the slack is concave in the PCC demand); if even
    that point has no strictly feasible TN dispatch, the scenario is refused with a ModelError
    naming the hour. The imposed box is a restriction of the leader and is reported
    (`Layout.pcc_box_scale`, 1 = the physical box). `max_rounds` bounds the shrinks of each
    hour (0.9^40: 1.5 % of the physical box); it was a budget shared by all hours, which
    refused 1 ADN x 24 h seed 1 ("hour 21 ... robust slack -0.00365 pu"): that day needs 43
    shrinks spread over hours 16-21 (at most 15 in one hour) and is certified with them.
    """
    lo0 = np.array(system.pcc_min_mw[:, :T], float)
    hi0 = np.array(system.pcc_max_mw[:, :T], float)
    lo, hi = lo0.copy(), hi0.copy()
    centre = {}
    scale = np.ones(T)
    H = None
    rounds = np.zeros(T, np.int64)
    memo = {}                       # per-hour dual bounds by box: a shrink recomputes its hour only
    while True:
        buses, blo, bhi = pcc_box(system, T, lo, hi)
        try:
            return CertifiedPCCBox(lo, hi, derive_dual_bounds(d, buses, blo, bhi, memo), scale, buses)
        except ModelError as e:
            if e.hour is None:
                raise
            t = e.hour
        if rounds[t] >= max_rounds:
            break
        rounds[t] += 1
        if t not in centre:
            H = ptdf_of(d) if H is None else H
            cands = [lo0[:, t], 0.5 * (lo0[:, t] + hi0[:, t]), hi0[:, t]]
            slack = []
            for c in cands:
                _, rc, _ = pcc_box(system, T, np.repeat(c[:, None], T, 1), np.repeat(c[:, None], T, 1))
                slack.append(robust_slack(d, t, buses, rc[t], rc[t], H))
            k = int(np.argmax(slack))
            if not slack[k] > 1e-6:
                raise ModelError(
                    f"hour {t}: the TN has no strictly feasible DC-OPF dispatch at any of the ADNs' "
                    f"PCC schedules tried (lowest, middle and highest import; best slack "
                    f"{slack[k]:.3g} pu): TN load + ADN imports exceed what generation and line "
                    "ratings can serve with margin. Relieve the TN (ratings, generation) or the ADNs.",
                    hour=t)
            centre[t] = cands[k]
        scale[t] *= shrink
        lo[:, t] = centre[t] + scale[t] * (lo0[:, t] - centre[t])
        hi[:, t] = centre[t] + scale[t] * (hi0[:, t] - centre[t])
    buses, blo, bhi = pcc_box(system, T, lo, hi)
    return CertifiedPCCBox(lo, hi, derive_dual_bounds(d, buses, blo, bhi, memo), scale, buses)
