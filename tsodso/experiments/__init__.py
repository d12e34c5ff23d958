"""Experiments built on the schemes: the scale sweep (sweep.py)."""
