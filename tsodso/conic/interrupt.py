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
(ECOS_SIGINT) when it sees one; a press that arrives after its last check of the iteration is
swallowed. So under `handlers()` no thread but a watcher receives SIGINT / SIGTERM (see
`handlers`, `_watch`): the request is recorded there, never lost, and the watcher then
raises a SIGINT inside the process so that a running ECOS stops at its next iteration. The
ECOS adapter maps exit -4 to `request(SIGINT)` and relax.py does not retry it.

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
    """Python-level handler (main thread): a signal that reached a thread not blocking it, or
    the watcher's SIGINT poke; records the first request only (the watcher counts)."""
    if _state["signum"] is None:
        request(signum)
        _state["count"] -= 1          # counted by the watcher when it saw it, not here


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _watch(stop_event):
    """Watcher thread: takes SIGINT / SIGTERM (blocked in every other thread) with
    sigtimedwait, records the request, then pokes: it unblocks SIGINT for itself and sends
    itself one, so that the process-wide SIGINT handler runs. While the main thread is inside
    ECOS (which releases the GIL) that handler is ECOS's own: ECOS stops at its next
    iteration (exit -4) instead of finishing the node solve. Otherwise it is `_handler`, which
    does nothing more. A third signal raises KeyboardInterrupt in the main thread."""
    import _thread
    while not stop_event.is_set():
        info = signal.sigtimedwait(_SIGNALS, 0.2)
        if info is None:
            continue
        request(info.si_signo)
        if _state["count"] > 2:
            _thread.interrupt_main()
            continue
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


@contextlib.contextmanager
def handlers(old_mask=None):
    """Route SIGINT / SIGTERM to the stop request for the duration of the block (main thread
    only): both are blocked in the main thread (and so in every thread it starts) and taken by
    a watcher thread (`_watch`), so no C library can swallow one. Threads started before the
    block (numpy's OpenBLAS thread starts at import) would still receive them: the CLI blocks
    the signals before its first heavy import and passes the mask it replaced as `old_mask`. Before this design ECOS's
    own SIGINT handler lost presses that arrived after its last interrupt check (about 1 in
    4 in tests/test_reliability.py)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    clear()
    old = {s: signal.signal(s, _handler) for s in _SIGNALS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))
    old_mask = mask if old_mask is None else old_mask     # the caller blocked them earlier
    stop_event = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stop_event,), name="tsodso-signals", daemon=True)
    watcher.start()
    _state["installed"] += 1
    try:
        yield
    finally:
        _state["installed"] -= 1
        stop_event.set()
        watcher.join()
        while True:                    # signals that arrived as the watcher stopped
            info = signal.sigtimedwait(_SIGNALS, 0)
            if info is None:
                break
            request(info.si_signo)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for s_, h in old.items():
            signal.signal(s_, h)
        clear()                        # the caller has read it; nothing leaks into later work


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
