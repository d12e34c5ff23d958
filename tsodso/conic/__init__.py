"""Conic problem layer: standard form (ECOS layout) with named blocks, ECOS adapter, CBF I/O."""
from .hints import SolverHints
from .problem import ConicProblem, ProblemBuilder

__all__ = ["ConicProblem", "ProblemBuilder", "SolverHints"]
