"""tsodso: DSO-led bilevel TSO-DSO coordination solved by a custom branch-and-bound over ECOS.

    import tsodso
    res = tsodso.solve(adns=1, hours=4, seed=0)      # SchemeResult; res.summary() is the JSON
"""
__version__ = "0.1.0"


SCHEMES = ("dso-led", "tso-led", "hybrid", "centralised")


def solve(adns: int = 5, hours: int = 24, seed: int = 0, scenario=None, scheme: str = "dso-led",
          complementarity: str = "bigm", time_limit: float = 300.0, gap: float = 1e-4,
          start=None, options: dict | None = None):
    """Build the instance from the shipped case (or `scenario`) and solve `scheme`
    ('dso-led' | 'tso-led' | 'hybrid' | 'centralised'); returns a SchemeResult (`.summary()` = the JSON).
    `options`: extra branch-and-bound options (tsodso.solver.BnBOptions fields)."""
    from .data import load_system
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    system = load_system(scenario, adns=adns, hours=hours, seed=seed, start=start)
    if scheme == "dso-led":
        from .schemes.dso_led import solve_dso_led
        return solve_dso_led(system, complementarity=complementarity, time_limit=time_limit,
                             rel_gap=gap, options=options)
    if scheme == "tso-led":
        from .schemes.tso_led import solve_tso_led
        return solve_tso_led(system, time_limit=time_limit, rel_gap=gap, options=options)
    if scheme == "hybrid":
        from .schemes.hybrid import solve_hybrid
        return solve_hybrid(system, time_limit=time_limit, rel_gap=gap, options=options)
    from .schemes.centralised import solve_centralised
    return solve_centralised(system, time_limit=time_limit, rel_gap=gap, options=options)
