"""tsodso: DSO-led bilevel TSO-DSO coordination solved by a custom branch-and-bound over ECOS.

    import tsodso
    res = tsodso.solve(adns=1, hours=4, seed=0)      # SchemeResult; res.summary() is the JSON
"""
__version__ = "0.1.0"


def solve(adns: int = 5, hours: int = 24, seed: int = 0, scenario=None, scheme: str = "dso-led",
          complementarity: str = "bigm", time_limit: float = 300.0, gap: float = 1e-4):
    """Build the instance from the shipped case (or `scenario`) and solve `scheme`."""
    from .data import load_system
    from .schemes.dso_led import solve_dso_led
    if scheme != "dso-led":
        raise ValueError(f"scheme {scheme!r} is not implemented yet (only 'dso-led')")
    system = load_system(scenario, adns=adns, hours=hours, seed=seed)
    return solve_dso_led(system, complementarity=complementarity, time_limit=time_limit, rel_gap=gap)
