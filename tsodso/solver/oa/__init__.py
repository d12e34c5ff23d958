"""Outer-approximation solver for a mixed-integer conic problem (generic).

tangents (valid linear cuts of the second-order cones), master (the HiGHS MILP over the
linear rows and the cuts, with strict bound rules), solve (the loop: master, fixed-integer
ECOS re-solves and certified incumbents, new tangents).
"""
from .solve import OAResult, OASettings, solve

__all__ = ["solve", "OAResult", "OASettings"]
