"""What every scheme returns: `SchemeResult` and the result protocol the report and runner read.

The protocol (`Result`): status, objective and bound in $, gap, stop reason, solver counts,
`certificates` (a dict), `x` (None without a solution), and three methods:
    summary()          JSON-ready dict (the `tsodso solve --json` output)
    outcome()          the metrics' `evaluation.metrics.Outcome`, None without a solution
    certificate_row()  flat certificates: status, objective, bound, gap, SOC exactness, TN check
`SchemeResult` implements it for the joint models (dso-led, centralised); schemes/tso_led.py
`TSOLedResult` for the clearing + tracking schemes (tso-led, hybrid).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

import numpy as np

from ..evaluation.metrics import Outcome, outcome_from_layout
from ..evaluation.readback import lmp_usd_per_mwh, pcc_import_mw
from ..evaluation.redispatch import redispatch
from ..formulation.common import USD_PER_OBJ_UNIT


def finite_or_none(v):
    """float(v), or None for None / nan / inf (JSON has no nan)."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


class Result(Protocol):
    scheme: str
    status: str
    objective_usd: float
    best_bound_usd: float
    rel_gap: float
    stop_reason: str
    certificates: dict
    x: object

    def summary(self) -> dict: ...

    def outcome(self) -> Optional[Outcome]: ...

    def certificate_row(self) -> dict: ...


def base_certificate_row(res) -> dict:
    """The fields of `certificate_row` every scheme fills the same way (the rest None)."""
    return {"status": res.status, "objective_usd": finite_or_none(res.objective_usd),
            "best_bound_usd": finite_or_none(res.best_bound_usd), "rel_gap": finite_or_none(res.rel_gap),
            "soc_gap": None, "max_voltage_mismatch_pu": None, "tn_check": None, "tn_check_value": None,
            "bigm_active": None}


@dataclass
class SchemeResult:
    scheme: str
    status: str
    objective_usd: float
    best_bound_usd: float
    rel_gap: float
    abs_gap_usd: float
    stop_reason: str
    nodes: int
    node_solves: int
    inaccurate_solves: int
    build_seconds: float
    solve_seconds: float
    ecos_seconds: float
    size: dict
    binaries: dict
    certificates: dict = field(default_factory=dict)
    x: Optional[np.ndarray] = None
    problem: object = None
    layout: object = None
    bnb: object = None
    warm: dict = field(default_factory=dict)      # warm-start cache use (schemes/warm.py), dso-led

    def summary(self) -> dict:
        """JSON-ready summary (the `--json` output)."""
        cert = self.certificates or {}
        fol, soc, bigm, obj = (cert.get(k, {}) for k in ("follower", "soc", "bigm", "objective"))
        return {
            "scheme": self.scheme, "status": self.status,
            "objective": finite_or_none(self.objective_usd), "best_bound": finite_or_none(self.best_bound_usd),
            "gap": finite_or_none(self.rel_gap), "abs_gap": finite_or_none(self.abs_gap_usd), "objective_unit": "$",
            "stop_reason": self.stop_reason, "nodes": self.nodes, "node_solves": self.node_solves,
            "inaccurate_solves": self.inaccurate_solves,
            "seconds": round(self.build_seconds + self.solve_seconds, 3),
            "build_seconds": round(self.build_seconds, 3), "solve_seconds": round(self.solve_seconds, 3),
            "ecos_seconds": round(self.ecos_seconds, 3),
            "size": self.size, "binaries": self.binaries,
            "kkt_presolve": (self.problem.meta.get("kkt_presolve") if self.problem is not None else None),
            "follower_gap": finite_or_none(fol.get("follower_gap")),
            "max_lmp_diff_usd_per_mwh": finite_or_none(fol.get("max_lmp_diff_usd_per_mwh")),
            "max_dispatch_diff_mw": finite_or_none(fol.get("max_dispatch_diff_mw")),
            "soc_gap": finite_or_none(soc.get("soc_gap")),
            "max_voltage_mismatch_pu": finite_or_none(soc.get("max_voltage_mismatch_pu")),
            "bigm_active": bigm.get("bigm_active"),
            "objective_recomputed_usd": finite_or_none(obj.get("recomputed_usd")),
            "cost_breakdown_usd": obj.get("breakdown_usd"),
            **({"warm_start": self.warm} if self.warm else {}),
        }

    @classmethod
    def from_bnb(cls, scheme: str, res, prob, lay, build_seconds: float, certificates: dict):
        """A result from our B&B's `res` on `prob` (objective in k$, reported in $)."""
        k = USD_PER_OBJ_UNIT
        return cls(scheme=scheme, status=res.status, objective_usd=res.objective * k,
                   best_bound_usd=res.best_bound * k, rel_gap=res.rel_gap, abs_gap_usd=res.abs_gap * k,
                   stop_reason=res.stop_reason, nodes=res.nodes, node_solves=res.node_solves,
                   inaccurate_solves=res.inaccurate_solves, build_seconds=build_seconds,
                   solve_seconds=res.seconds, ecos_seconds=res.ecos_seconds, size=prob.size_report(),
                   binaries=lay.binary_groups, certificates=certificates, x=res.x, problem=prob,
                   layout=lay, bnb=res)

    def outcome(self) -> Optional[Outcome]:
        """The metrics' Outcome: the bilevel's own LMPs (KKT duals) where the model has a KKT
        block (dso-led), else the LMPs of an independent re-dispatch of its PCC exchanges."""
        if self.x is None:
            return None
        lay, x = self.layout, self.x
        gen = x[lay.tnv.g] * lay.tn.base_mva
        if lay.kkt is not None:
            lmp = lmp_usd_per_mwh(lay, x)
        else:
            tn = getattr(lay, "tn_outcome", None)
            if tn is None:
                tn = redispatch(lay.system, pcc_import_mw(lay, x))
            lmp = tn.lmp_usd_per_mwh
        return outcome_from_layout(self.scheme, lay, x, gen, lmp)

    def certificate_row(self) -> dict:
        row = base_certificate_row(self)
        c = self.certificates or {}
        if "soc" in c:
            row["soc_gap"] = finite_or_none(c["soc"]["soc_gap"])
            row["max_voltage_mismatch_pu"] = finite_or_none(c["soc"]["max_voltage_mismatch_pu"])
        if "follower" in c:
            row["tn_check"] = "follower gap (cost vs HiGHS DC-OPF, relative)"
            row["tn_check_value"] = finite_or_none(c["follower"]["follower_gap"])
            row["bigm_active"] = c.get("bigm", {}).get("bigm_active")
        elif "dispatch" in c:
            row["tn_check"] = "dispatch gap (cost vs HiGHS DC-OPF, relative)"
            row["tn_check_value"] = finite_or_none(c["dispatch"]["dispatch_gap"])
        return row


def scheme_outcome(name, res) -> Optional[Outcome]:
    """`res.outcome()` of scheme `name` (= res.scheme; kept for the comparison's callers)."""
    return res.outcome()


def certificate_row(name, res) -> dict:
    """`res.certificate_row()` of scheme `name` (= res.scheme; kept for the comparison's callers)."""
    return res.certificate_row()
