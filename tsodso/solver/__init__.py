"""The package's own branch-and-bound over ECOS: `solve(prob, options, heuristics, callback)`.

Modules, one concern each: options (declared options), nodes (node store and selection),
branching (variable / pair selection, pseudo-costs), bounds (incumbent, best bound, gap,
stop reason), presolve (node bound propagation), relax (strict ECOS node solves),
heuristics (certified primal points), log (SCIP-style log), bnb (the search loop).
"""
from .bnb import BnBResult, solve
from .options import BnBOptions

__all__ = ["solve", "BnBResult", "BnBOptions"]
