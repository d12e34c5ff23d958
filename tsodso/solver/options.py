"""Branch-and-bound options: every option declared once, with default, domain and doc.

`BnBOptions(**kw)` validates on construction and raises `ValueError` naming the option,
the value and the domain. `BnBOptions.describe()` prints the table (used by the docs).

Units: gaps and tolerances on the objective are in objective units (abs_gap) or a ratio
(rel_gap; see `bounds.gap` for the one definition); primal tolerances are in the units of
the variables and rows of the `ConicProblem`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = ["BnBOptions", "OPTION_TABLE"]


def _nonneg(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 and not math.isnan(v)


def _pos(v) -> bool:
    return _nonneg(v) and v > 0


def _pos_or_inf(v) -> bool:
    return _pos(v)          # math.inf is a positive float


def _int_ge(k):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= k


def _one_of(*vals):
    f = lambda v: v in vals          # noqa: E731
    f.domain = " | ".join(repr(x) for x in vals)
    return f


def _bool(v) -> bool:
    return isinstance(v, bool)


# name -> (default, check, domain text, doc)
OPTION_TABLE: Dict[str, Tuple[Any, Callable[[Any], bool], str, str]] = {
    # ------------------------------------------------------------ termination
    "abs_gap": (1e-6, _nonneg, ">= 0", "stop when incumbent - best_bound <= abs_gap (objective units)"),
    "rel_gap": (1e-4, _nonneg, ">= 0 (inf allowed)",
                "stop when (incumbent - best_bound) / max(gap_floor, |incumbent|) <= rel_gap "
                "(never without an incumbent and a finite best bound)"),
    "gap_floor": (1.0, _pos, "> 0 (objective units)",
                  "denominator floor of rel_gap (solver/bounds.py); the schemes use 1 $ (1e-3 k$)"),
    "time_limit": (math.inf, _pos_or_inf, "> 0 seconds (inf = none)", "wall-clock limit; the best incumbent is returned"),
    "node_limit": (10**9, _int_ge(1), "int >= 1", "maximum number of nodes processed (root = 1)"),
    # ------------------------------------------------------------ feasibility
    "int_tol": (1e-6, _pos, "> 0", "an integer variable is integral if |x - round(x)| <= int_tol"),
    "comp_tol": (1e-6, _pos, "> 0", "a complementarity pair (a, b) is satisfied if min(x_a, x_b) <= comp_tol"),
    "feas_tol": (1e-6, _pos, "> 0",
                 "a candidate point becomes the incumbent only if every residual of prob.residuals "
                 "(eq, lp, cone, bound; absolute, per row) is <= feas_tol and integrality is exact"),
    # ------------------------------------------------------------ search
    "branching": ("pseudocost", _one_of("most_fractional", "pseudocost"), "'most_fractional' | 'pseudocost'",
                  "variable selection rule; priorities in prob.hints.branch_priority come first"),
    "reliability": (4, _int_ge(0), "int >= 0",
                    "pseudo-costs of a variable are trusted after this many observations per direction; "
                    "before that the average of the trusted ones (or fractionality) is used"),
    "strong_branching": (0, _int_ge(0), "int >= 0 (0 = off)",
                         "reliability branching: at most this many unreliable candidates per node are "
                         "evaluated by solving both children (2 ECOS solves each). Off by default: "
                         "on DSO-led instances it cost more solves than it saved (1 ADN x 4 h from "
                         "hour 6: 81 nodes / 100 solves / 7.5 s off, 66 / 161 / 12.8 s with 8)"),
    "strong_depth": (10, _int_ge(0), "int >= 0", "strong branching only at nodes of depth <= this"),
    "branch_order": ("binaries_first", _one_of("binaries_first", "pairs_first"), "'binaries_first' | 'pairs_first'",
                     "which kind of disjunction to branch on first when both are violated"),
    "node_selection": ("best_bound_dive", _one_of("best_bound_dive", "best_bound", "depth_first"),
                       "'best_bound_dive' | 'best_bound' | 'depth_first'",
                       "best-bound, with a depth-first dive into a child of the last node until it is pruned"),
    "dive_limit": (10, _int_ge(0), "int >= 0",
                   "best_bound_dive: at most this many nodes in a row are taken by diving"),
    "complementarity": (None, _one_of(None, "bigm", "branch"), "None | 'bigm' | 'branch'",
                        "None: the mode the model declares (prob.hints.complementarity_mode), else 'bigm'; "
                        "bigm: the model's own binaries enforce prob.hints.complementarity_pairs (pairs only "
                        "checked); branch: branch on violated pairs (child 1: ub[a] = 0, child 2: ub[b] = 0); "
                        "an option that contradicts the declared mode is refused"),
    "rounding": (True, _bool, "bool",
                 "lock-based rounding of every trusted relaxation point before branching (solver/rounding.py)"),
    "presolve": (True, _bool, "bool", "bound propagation on linear rows at every node"),
    "presolve_passes": (3, _int_ge(0), "int >= 0", "propagation sweeps per node"),
    # ------------------------------------------------------------ heuristics
    "heuristic_freq": (10, _int_ge(0), "int >= 0 (0 = root only)",
                       "run the rounding dive and user heuristics at the root and every k-th node"),
    "dive_rounds": (5, _int_ge(0), "int >= 0", "fix-and-solve rounds of the rounding dive (0 = off)"),
    # ------------------------------------------------------------ ECOS
    "ecos_feastol": (1e-8, _pos, "> 0", "ECOS feastol of a node solve"),
    "ecos_abstol": (1e-8, _pos, "> 0", "ECOS abstol of a node solve"),
    "ecos_reltol": (1e-8, _pos, "> 0", "ECOS reltol of a node solve"),
    "ecos_max_iters": (100, _int_ge(1), "int >= 1", "ECOS max_iters of the first attempt"),
    "retries": (3, _int_ge(0), "int >= 0",
                "extra attempts after an untrusted ECOS status: more iterations, row equilibration, "
                "then tolerances 10x looser"),
    # ------------------------------------------------------------ output
    "log_every_nodes": (100, _int_ge(1), "int >= 1", "a log line every this many nodes ..."),
    "log_every_seconds": (5.0, _pos, "> 0 seconds", "... or every this many seconds"),
    "verbose": (True, _bool, "bool", "write the log (to `log_stream`, else logger \"tsodso.bnb\" at INFO)"),
}


@dataclass
class BnBOptions:
    abs_gap: float = OPTION_TABLE["abs_gap"][0]
    rel_gap: float = OPTION_TABLE["rel_gap"][0]
    gap_floor: float = OPTION_TABLE["gap_floor"][0]
    time_limit: float = OPTION_TABLE["time_limit"][0]
    node_limit: int = OPTION_TABLE["node_limit"][0]
    int_tol: float = OPTION_TABLE["int_tol"][0]
    comp_tol: float = OPTION_TABLE["comp_tol"][0]
    feas_tol: float = OPTION_TABLE["feas_tol"][0]
    branching: str = OPTION_TABLE["branching"][0]
    reliability: int = OPTION_TABLE["reliability"][0]
    strong_branching: int = OPTION_TABLE["strong_branching"][0]
    strong_depth: int = OPTION_TABLE["strong_depth"][0]
    branch_order: str = OPTION_TABLE["branch_order"][0]
    node_selection: str = OPTION_TABLE["node_selection"][0]
    dive_limit: int = OPTION_TABLE["dive_limit"][0]
    complementarity: Optional[str] = OPTION_TABLE["complementarity"][0]
    rounding: bool = OPTION_TABLE["rounding"][0]
    presolve: bool = OPTION_TABLE["presolve"][0]
    presolve_passes: int = OPTION_TABLE["presolve_passes"][0]
    heuristic_freq: int = OPTION_TABLE["heuristic_freq"][0]
    dive_rounds: int = OPTION_TABLE["dive_rounds"][0]
    ecos_feastol: float = OPTION_TABLE["ecos_feastol"][0]
    ecos_abstol: float = OPTION_TABLE["ecos_abstol"][0]
    ecos_reltol: float = OPTION_TABLE["ecos_reltol"][0]
    ecos_max_iters: int = OPTION_TABLE["ecos_max_iters"][0]
    retries: int = OPTION_TABLE["retries"][0]
    log_every_nodes: int = OPTION_TABLE["log_every_nodes"][0]
    log_every_seconds: float = OPTION_TABLE["log_every_seconds"][0]
    verbose: bool = OPTION_TABLE["verbose"][0]
    log_stream: Any = None            # a text stream; None = sys.stderr (not validated)

    def __post_init__(self):
        for f in fields(self):
            if f.name == "log_stream":
                continue
            v = getattr(self, f.name)
            default, check, domain, _ = OPTION_TABLE[f.name]
            if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
                setattr(self, f.name, v)
            if not check(v):
                raise ValueError(f"BnB option {f.name}={v!r} is outside its domain {domain}")

    @classmethod
    def coerce(cls, options) -> "BnBOptions":
        """None -> defaults; a dict -> validated options; a BnBOptions -> itself."""
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if isinstance(options, dict):
            unknown = sorted(set(options) - {f.name for f in fields(cls)})
            if unknown:
                raise ValueError(f"unknown BnB option(s) {unknown}; known: {sorted(OPTION_TABLE)}")
            return cls(**options)
        raise TypeError(f"options must be None, a dict or BnBOptions, not {type(options).__name__}")

    @property
    def ecos_tolerances(self) -> dict:
        return dict(feastol=self.ecos_feastol, abstol=self.ecos_abstol, reltol=self.ecos_reltol,
                    max_iters=self.ecos_max_iters)

    @staticmethod
    def describe() -> str:
        lines = [f"{'option':<18} {'default':<16} {'domain':<40} doc"]
        for name, (default, _, domain, doc) in OPTION_TABLE.items():
            lines.append(f"{name:<18} {default!r:<16} {domain:<40} {doc}")
        return "\n".join(lines)
