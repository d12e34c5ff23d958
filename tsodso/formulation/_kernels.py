"""The assembly kernels (`kernels/assembly.py`), found in one place.

Installed from a wheel, `kernels/` is the subpackage `tsodso.kernels`; in the source tree and
in an editable install the repository root is on sys.path and it is the top-level `kernels`.
The kernels pick Numba or their numpy twin themselves (`TSODSO_NUMBA=0` forces numpy).
"""
try:
    from ..kernels import assembly
except ImportError:
    from kernels import assembly

__all__ = ["assembly"]
