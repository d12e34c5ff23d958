"""tsodso: DSO-led bilevel TSO-DSO coordination solved by a custom branch-and-bound over ECOS.

    import tsodso
    system = tsodso.load_system(adns=1, hours=3, start=10)   # the shipped default case
    res = tsodso.solve(system, scheme="dso-led", time_limit=60)
    res.status, res.objective_usd, res.rel_gap                # 'optimal' only at a proven gap
    res.to_pandas()["pcc"]                                    # tidy tables, units in the names

The API is in `tsodso.api` (docs/api.md). Library messages go through the `logging` module
(logger "tsodso"); the `tsodso` command shows them on stderr.
"""
import logging as _logging

from ._version import __version__
from .api import Result, load_system, read_result, solve  # noqa: E402

_logging.getLogger("tsodso").addHandler(_logging.NullHandler())

__all__ = ["__version__", "SCHEMES", "Result", "load_system", "read_result", "solve"]


def __getattr__(name):
    # tsodso.SCHEMES = the registry's names, read lazily so `import tsodso` stays light
    if name == "SCHEMES":
        from .schemes.registry import SCHEMES
        return SCHEMES
    raise AttributeError(f"module 'tsodso' has no attribute {name!r}")
