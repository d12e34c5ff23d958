"""AC power flow of a radial feeder by backward/forward sweep (data-layer helper).

Used to size the ADN current limits, to check the scenario (voltages at peak load) and as an
independent reference in tests. Not the DistFlow model of the formulation layer.

Backward: J_j = conj(S_j / V_j) + sum_{children k} J_k; forward: V_j = V_i - z_ij J_j.
Converges in a few iterations on distribution feeders; raises if it does not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RadialPF:
    v_pu: np.ndarray       # (nbus,) voltage magnitude
    i_pu: np.ndarray       # (nl,) current magnitude of each line (line order of the input)
    p_head_pu: float       # active power leaving the root (import > 0)
    loss_pu: float         # sum r |I|^2
    iterations: int


def radial_power_flow(line_from, line_to, r_pu, x_pu, p_pu, q_pu, v0_pu=1.0,
                      tol=1e-10, max_iter=100) -> RadialPF:
    """Sweep power flow. p_pu, q_pu: (nbus,) net *consumption* per bus (load - generation), pu.

    Lines must be oriented away from bus 0 and each bus 1..n-1 must be `to` of one line.
    """
    line_from = np.asarray(line_from)
    line_to = np.asarray(line_to)
    n = len(p_pu)
    z = np.asarray(r_pu) + 1j * np.asarray(x_pu)
    s = np.asarray(p_pu) + 1j * np.asarray(q_pu)
    line_of = np.full(n, -1)
    line_of[line_to] = np.arange(line_to.size)
    children = [[] for _ in range(n)]
    for f, t in zip(line_from, line_to):
        children[f].append(t)
    order = [0]
    for b in order:
        order.extend(children[b])
    v = np.full(n, v0_pu, dtype=complex)
    for it in range(1, max_iter + 1):
        j = np.conj(s / v)
        for b in reversed(order[1:]):
            f = line_from[line_of[b]]
            if f != 0:
                j[f] += j[b]
        v_new = v.copy()
        for b in order[1:]:
            v_new[b] = v_new[line_from[line_of[b]]] - z[line_of[b]] * j[b]
        done = np.max(np.abs(v_new - v)) < tol
        v = v_new
        if done:
            break
    else:
        raise RuntimeError(f"radial power flow did not converge in {max_iter} iterations")
    i_line = j[line_to]
    loss = float(np.sum(np.asarray(r_pu) * np.abs(i_line) ** 2))
    head = float(np.real(np.sum(v[0] * np.conj(i_line[line_from == 0]))))
    return RadialPF(v_pu=np.abs(v), i_pu=np.abs(i_line), p_head_pu=head, loss_pu=loss,
                    iterations=it)
