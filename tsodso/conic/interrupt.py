"""One process-wide stop request: set by SIGINT / SIGTERM, read by every long loop.

    with interrupt.handlers():         # the CLI, around the whole command
        ...                            # B&B nodes, heuristics, HiGHS MILPs check requested()
    interrupt.requested()              # -> bool
    interrupt.signal_number()          # -> signal.SIGINT | SIGTERM | None

Why a flag and not KeyboardInterrupt: a stop must end the search *cleanly* so that the
incumbent, its certificates and the result files are still produced (status "interrupted",
exit 130 for SIGINT, 143 for SIGTERM). Every loop that can run long checks `requested()`
between steps: the B&B between nodes and inside its heuristics and presolve loops
(solver/bnb.py `stop=`), the KKT presolve between MILPs and HiGHS itself through its
interrupt callbacks (`watch_highs`), the schemes between sub-solves, compare
between schemes.

ECOS installs its own SIGINT handler while it iterates (ctrlc.c) and returns exit flag -4
(ECOS_SIGINT) when Ctrl-C arrives: the ECOS adapter calls `request(SIGINT)` on that flag, so
the press is not lost and no retry is attempted (solver/relax.py). A SIGTERM during an ECOS
call is delivered to Python when ECOS returns (one node solve, < 0.5 s on the default case).

Outside `handlers()` (library use) Python's own SIGINT handler raises KeyboardInterrupt,
which the B&B also turns into status "interrupted"; each B&B then starts with a clear
request (`solver.bnb.solve`), so an ECOS -4 seen once cannot stop every later solve.

A third signal while a stop is pending raises KeyboardInterrupt (the
user insists: no more waiting for the clean stop).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Optional

__all__ = ["active", "requested", "request", "clear", "signal_number", "handlers", "exit_code",
           "watch_highs"]

_state = {"signum": None, "count": 0, "installed": 0}


def active() -> bool:
    """True inside `handlers()` (the CLI): the stop request then spans the whole command."""
    return _state["installed"] > 0


def requested() -> bool:
    return _state["signum"] is not None


def signal_number() -> Optional[int]:
    return _state["signum"]


def request(signum: int = signal.SIGINT) -> None:
    if _state["signum"] is None:
        _state["signum"] = int(signum)
    _state["count"] += 1


def clear() -> None:
    _state["signum"] = None
    _state["count"] = 0


def exit_code(signum: Optional[int] = None) -> int:
    """128 + signal number: 130 for SIGINT, 143 for SIGTERM (shell convention)."""
    signum = _state["signum"] if signum is None else signum
    return 128 + int(signum if signum is not None else signal.SIGINT)


def _handler(signum, frame):
    again = _state["signum"] is not None
    request(signum)
    if again and _state["count"] > 2:
        raise KeyboardInterrupt


@contextlib.contextmanager
def handlers():
    """Install the SIGINT / SIGTERM handlers (main thread only) and restore the old ones."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    clear()
    old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    _state["installed"] += 1
    try:
        yield
    finally:
        _state["installed"] -= 1
        for s, h in old.items():
            signal.signal(s, h)


def watch_highs(h) -> None:
    """Subscribe a highspy.Highs to the stop request: its simplex, IPM and MIP interrupt
    callbacks ask HiGHS to stop (model status kInterrupt) once `requested()` is true."""
    def cb(event):
        if requested():
            event.interrupt()
    for name in ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt"):
        try:
            getattr(h, name).subscribe(cb)
        except AttributeError:          # an older highspy without the callback API
            return
