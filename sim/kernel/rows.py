"""One developer's row of the compiled best response: the board (levels, draws, who beats whom), a
candidate's exact least effort and rank, the row's parameters, the best row over the candidates
(:func:`_best_row`) and whether the current effort already is one (:func:`_holds`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel.primitives import _cost, _least_score_cached, _level, _rank, least_effort


@njit(cache=True, error_model="numpy", inline="always")
def _board(s, evaluated, priority, resolution, least, least_width, least_row, least_origin, level, draw, beat, prio):
    """Scenario ``s``'s board as :func:`sim.kernel.respond_active` reads it: published levels, the least scores
    drawing level with (``draw``) and overtaking (``beat``) each developer, and the tie priorities."""
    delta = resolution[s]
    for j in range(evaluated.shape[1]):
        prio[j] = priority[s, j]
        _board_entry(s, j, evaluated[s, j], delta, least, least_width, least_row, least_origin, level, draw, beat)


@njit(cache=True, error_model="numpy", inline="always")
def _board_entry(s, j, value, delta, least, least_width, least_row, least_origin, level, draw, beat):
    """Developer ``j``'s entry of the board at evaluated score ``value``."""
    level[j] = _level(value, delta)
    if delta > 0.0:
        lrow, lorigin = least_row[s], least_origin[s]
        draw[j] = _least_score_cached(least, least_width, lorigin, lrow, level[j], delta)
        beat[j] = _least_score_cached(least, least_width, lorigin, lrow, level[j] + 1.0, delta)
    else:
        draw[j] = value
        beat[j] = np.nextafter(value, np.inf)


@njit(cache=True, error_model="numpy", inline="always")
def _candidate(family, lo, up, a, b, unit, t, s, i, j, target, target_level, delta,
               c_target, c_effort, c_score, table_width, origin, table):  # fmt: skip
    """``(x, score)``: the least effort for developer ``i`` of scenario ``s`` to reach rival ``j``'s target
    (:func:`least_effort`) and the score it reaches.  Remembered per level in the level table, else (exact
    scores, or a level outside the table) for the rival's last target; searched for when not remembered."""
    slot = -1
    if table_width > 0 and delta > 0.0:
        off = target_level - origin[s]
        if off >= 0.0 and off < table_width:
            slot = int(off)
    if slot >= 0:
        x, sc = table[s, slot, i, 0], table[s, slot, i, 1]
        if x == 0.0:  # not computed yet
            x, sc = least_effort(family, lo, up, a, b, unit, t, target)
            table[s, slot, i, 0] = x
            table[s, slot, i, 1] = sc
    elif c_target[s, i, j] == target:  # the rival has not moved since this was computed
        x, sc = c_effort[s, i, j], c_score[s, i, j]
    else:
        x, sc = least_effort(family, lo, up, a, b, unit, t, target)
        c_target[s, i, j] = target
        c_effort[s, i, j] = x
        c_score[s, i, j] = sc
    return x, sc


#: Positions in a row's parameters (:func:`_row_params`): one developer's score parameters, its scenario's
#: ``tau``, resolution, tolerance, and its zero-effort score, cost scale, reach and budget.
_LO, _UP, _A, _B, _T, _DELTA, _BASE, _G, _TOL, _HI, _BUDGET = range(11)


ROW_PARAMS = 11


@njit(cache=True, error_model="numpy", inline="always")
def _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tolerance, reach, budget):
    """Developer ``i`` of scenario ``s``'s scalars into ``rp`` (``ROW_PARAMS`` floats, reused): the per-row
    routines read them from one small array instead of taking a dozen arguments (a call of more than 30
    arguments cannot be inlined, and tuples of arrays cost reference counting on every call)."""
    rp[_LO], rp[_UP], rp[_A], rp[_B] = p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i]
    rp[_T], rp[_DELTA], rp[_TOL] = tau[s], resolution[s], tolerance[s]
    rp[_BASE], rp[_G], rp[_HI], rp[_BUDGET] = baseline[s, i], gamma[s, i], reach[s, i], budget[s, i]


@njit(cache=True, error_model="numpy", inline="always")
def _best_row(rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
              c_target, c_effort, c_score, table_width, origin, table,
              level, draw, beat, prio, rival, xs, ss, us, ks):  # fmt: skip
    """Developer ``i``'s exact best response on scenario ``s``'s board: ``(effort, score, utility, rank)``.

    The board: published ``level``, the least scores drawing level with (``draw``) and overtaking
    (``beat``) each rival, and the tie priorities ``prio``.  Candidates (as :func:`sim.game.best_responses`,
    Proposition 4.5's just-overtake efforts): zero effort, and for each rival ``j`` whose target
    ``T_j`` (``draw[j]`` when ``i`` wins ties with ``j``, else ``beat[j]``) lies above ``i``'s zero-effort
    score and not above its reach (:meth:`sim.engine.BatchGame.reach`: higher targets never pay), the
    least effort reaching ``T_j`` (:func:`_candidate`).  With utilities ``u = r_k - gamma_i c(x)``, the
    smallest effort whose utility is within the scenario's tolerance of the best is chosen (zero effort
    first).  ``rp``: the row's parameters (:func:`_row_params`); ``rival``, ``xs``, ``ss``, ``us``, ``ks``:
    work buffers of ``n`` entries (``rival``: ``n + 1``).
    """
    n = level.size
    lo, up, a, b, t, delta = rp[_LO], rp[_UP], rp[_A], rp[_B], rp[_T], rp[_DELTA]
    base, g, tol, hi, cap = rp[_BASE], rp[_G], rp[_TOL], rp[_HI], rp[_BUDGET]
    # The zero-effort candidate.
    best_rank = _rank(level, prio, i, _level(base, delta))
    best_u = rewards[s, best_rank - 1] - g * _cost(cost_kind, cost_scale, cost_param, 0.0)
    best_x, best_s = 0.0, base
    count = 0
    top = best_u
    # The rivals worth a candidate, gathered without branching (which rivals pass is unpredictable):
    # skip a target that zero effort reaches, or that can never pay (above the reach).
    p = prio[i]
    viable = 0
    for j in range(n):
        below = p > prio[j]
        target = draw[j] if below else beat[j]
        rival[viable] = j
        viable += (j != i) & (target > base) & (not (target > hi))
    for v in range(viable):
        j = rival[v]
        below = p > prio[j]
        target = draw[j] if below else beat[j]
        target_level = level[j] + (0.0 if below else 1.0)
        x, sc = _candidate(family, lo, up, a, b, unit, t, s, i, j, target, target_level, delta,
                           c_target, c_effort, c_score, table_width, origin, table)  # fmt: skip
        if not np.isfinite(x) or x > cap:
            continue
        k = _rank(level, prio, i, _level(sc, delta))
        u = rewards[s, k - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
        xs[count], ss[count], us[count], ks[count] = x, sc, u, k
        count += 1
        if u > top:
            top = u
    # Smallest effort among utilities within the tolerance of the best (zero effort first).
    if not (best_u >= top - tol):
        best_x = np.inf
    for c in range(count):
        if us[c] >= top - tol and xs[c] < best_x:
            best_x, best_s, best_u, best_rank = xs[c], ss[c], us[c], ks[c]
    return best_x, best_s, best_u, best_rank


@njit(cache=True, error_model="numpy", inline="always")
def _holds(rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, cur_score, best_u):
    """Whether developer ``i``'s current effort ``cur`` (true score ``cur_score``) is already a best response:
    its utility on the board within the tolerance of the best utility ``best_u`` (:func:`sim.engine.hold_current`)."""
    k = _rank(level, prio, i, _level(cur_score, rp[_DELTA]))
    u = rewards[s, k - 1] - rp[_G] * _cost(cost_kind, cost_scale, cost_param, cur)
    return u >= best_u - rp[_TOL]
