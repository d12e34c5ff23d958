"""tsodso: DSO-led bilevel TSO-DSO coordination solved by a custom branch-and-bound over ECOS.

    import tsodso
    res = tsodso.solve(adns=1, hours=4, seed=0)      # SchemeResult; res.summary() is the JSON
"""
from ._version import __version__


def __getattr__(name):
    # tsodso.SCHEMES = the registry's names, read lazily so `import tsodso` stays light
    if name == "SCHEMES":
        from .schemes.registry import SCHEMES
        return SCHEMES
    raise AttributeError(f"module 'tsodso' has no attribute {name!r}")


def solve(adns: int = 5, hours: int = 24, seed: int = 0, scenario=None, scheme: str = "dso-led",
          complementarity: str = "bigm", time_limit: float = 300.0, gap: float = 1e-4,
          start=None, options: dict | None = None):
    """Build the instance from the shipped case (or `scenario`) and solve `scheme`
    ('dso-led' | 'tso-led' | 'hybrid' | 'centralised'); returns a SchemeResult (`.summary()` = the JSON).
    `options`: extra branch-and-bound options (tsodso.solver.BnBOptions fields)."""
    from .data import load_system
    from .schemes.registry import get_scheme, solve_scheme
    get_scheme(scheme)
    system = load_system(scenario, adns=adns, hours=hours, seed=seed, start=start)
    return solve_scheme(scheme, system, time_limit=time_limit, rel_gap=gap, options=options,
                        complementarity=complementarity)
