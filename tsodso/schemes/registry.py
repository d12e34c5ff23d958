"""The scheme registry: one place that maps a scheme's name to its solve function.

    SCHEMES                      the names, in the order of the documentation
    get_scheme(name)             the solve function, ValueError naming the known ones otherwise
    solve_scheme(name, system, time_limit=, rel_gap=, options=, **extra)

Every solve function takes `(system, time_limit=, rel_gap=, options=)` and returns a result
that follows `schemes.result.Result`. Scheme-specific keyword arguments in `extra` (e.g.
`complementarity` of dso-led, `warm_start` of centralised) go to the schemes whose solve
function takes them and are left out for the others. Used by `tsodso.solve`, the CLI and the
comparison runner (`tsodso.experiments.compare`).
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict

from .centralised import solve_centralised
from .dso_led import solve_dso_led
from .hybrid import solve_hybrid
from .price_taking import solve_price_taking
from .tso_led import solve_tso_led

REGISTRY: Dict[str, Callable] = {
    "dso-led": solve_dso_led,          # the bilevel MISOCP (KKT of the TSO's DC-OPF), our B&B
    "tso-led": solve_tso_led,          # TSO clears first, each DSO tracks its schedule
    "hybrid": solve_hybrid,            # tso-led with the DSOs' validated PCC ranges
    "centralised": solve_centralised,  # one co-optimisation, the welfare reference
    "price-taking": solve_price_taking,  # dso-led at fixed reference LMPs, then the TSO clears
}
SCHEMES = tuple(REGISTRY)


def get_scheme(name: str) -> Callable:
    """The solve function of scheme `name`."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"scheme {name!r} is not one of {', '.join(SCHEMES)}") from None


def solve_scheme(name: str, system, time_limit: float = 300.0, rel_gap: float = 1e-4,
                 options: dict | None = None, **extra):
    """Solve scheme `name` on `system`; `extra` keywords go to the schemes that take them."""
    fn = get_scheme(name)
    params = inspect.signature(fn).parameters
    kw = {k: v for k, v in extra.items() if k in params}
    return fn(system, time_limit=time_limit, rel_gap=rel_gap, options=options, **kw)
