"""Decomposition solver: Lagrangian bounds over blocks of a conic problem (generic).

blocks (split a problem by per-variable block labels), lagrangian (block B&B solves and the
valid bound), bundle (multiplier updates), solve (bound, primal recovery, B&B on top).
"""
from .blocks import Block, Decomposition, decompose
from .lagrangian import Lagrangian, LagrangianValue, block_options
from .solve import DecompositionSettings, RootBound, decomposition_root_bound

__all__ = ["Block", "Decomposition", "decompose", "Lagrangian", "LagrangianValue", "block_options",
           "DecompositionSettings", "RootBound", "decomposition_root_bound"]
