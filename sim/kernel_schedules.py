"""Compiled rounds for the other update schedules and the logit response (numba).

:mod:`sim.kernel` computes simultaneous best responses.  This module adds,
for the same built-in score and cost families and with the same
floating-point operations in the same order (so the same bits as the numpy
path in :mod:`sim.engine`):

* :func:`respond_logit`: the logit (smoothed) response.  Candidate efforts
  are zero (the developer's own column) and, for every rival ``j`` whose
  target (its published level, or the next one when ``j`` wins ties) lies
  above the developer's zero-effort score, the least effort reaching it.  A
  candidate is usable when that effort is finite, within the budget and its
  utility finite, and no earlier column has the same effort.  With utilities
  ``u_k`` and temperature ``T``, weights ``w_k = exp((u_k - max_k u_k) / T)``
  (``0`` where unusable), cumulative sums ``C_k = C_{k-1} + w_k`` in column
  order, and the first column with ``C_k > U * C_{n-1}`` is chosen for the
  round's uniform draw ``U`` (column 0 if none): as
  :meth:`sim.engine.BatchGame.logit_choice`.
* :func:`sequential_round`: one round of a sequential schedule.  For each
  position ``p`` of ``order`` (fixed or a random permutation drawn up front),
  developer ``i = order[s, p]`` of every scenario responds to the current
  evaluated scores (best response held at its current effort when that is
  already a best response, or the logit response), then its effort becomes
  the response ``x_i`` and its evaluated score ``f(theta_i, tau + x_i)``
  (plus this round's noise ``shock[s, i]``) before position ``p + 1``.

Random draws are not made here: the caller passes this round's uniforms,
order and noise, drawn exactly as the numpy path draws them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel import _cost, _least_score_cached, _level, _rank, _score, least_effort, respond_active


@njit(cache=True, error_model="numpy")
def respond_logit(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline,
    evaluated, rows, temperature, uniform,
    c_target, c_effort, c_score,
    table_width, origin, table, least, least_width, least_row, least_origin,
    out,
):  # fmt: skip
    """Logit responses of developers ``rows[s, r]`` to ``evaluated`` ``(S, n)`` into ``out[s, r]``.

    ``temperature`` ``(S,)``, ``uniform`` ``(S, m)`` in ``[0, 1)``; the cache
    arguments as :func:`sim.kernel.respond_active` (least efforts remembered
    per level and per last target; a remembered value is the one computed
    afresh, bit for bit).  Unlike the best response, candidates above the
    developer's reach are computed too: every usable candidate has a weight.
    """
    S, n = evaluated.shape
    m = rows.shape[1]
    level = np.empty(n)
    draw = np.empty(n)
    beat = np.empty(n)
    xs = np.empty(n)
    us = np.empty(n)
    usable = np.empty(n, dtype=np.bool_)
    prio = np.empty(n, dtype=priority.dtype)
    for s in range(S):
        delta = resolution[s]
        for j in range(n):
            prio[j] = priority[s, j]
            level[j] = _level(evaluated[s, j], delta)
            if delta > 0.0:
                lrow, lorigin = least_row[s], least_origin[s]
                draw[j] = _least_score_cached(least, least_width, lorigin, lrow, level[j], delta)
                beat[j] = _least_score_cached(least, least_width, lorigin, lrow, level[j] + 1.0, delta)
            else:
                draw[j] = evaluated[s, j]
                beat[j] = np.nextafter(evaluated[s, j], np.inf)
        t = tau[s]
        temp = temperature[s]
        for r in range(m):
            i = rows[s, r]
            lo, up, a, b = p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i]
            base = baseline[s, i]
            g = gamma[s, i]
            p = prio[i]
            top = -np.inf
            for j in range(n):
                if j == i:  # zero effort
                    x, sc = 0.0, base
                else:
                    below = p > prio[j]
                    target = draw[j] if below else beat[j]
                    if not (target > base):  # zero effort reaches it: no candidate of its own
                        usable[j] = False
                        xs[j] = np.inf
                        continue
                    target_level = level[j] + (0.0 if below else 1.0)
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
                    elif c_target[s, i, j] == target:
                        x, sc = c_effort[s, i, j], c_score[s, i, j]
                    else:
                        x, sc = least_effort(family, lo, up, a, b, unit, t, target)
                        c_target[s, i, j] = target
                        c_effort[s, i, j] = x
                        c_score[s, i, j] = sc
                    if not (np.isfinite(x) and x <= budget[s, i]):
                        usable[j] = False
                        xs[j] = np.inf
                        continue
                k = _rank(level, prio, i, _level(sc, delta))
                u = rewards[s, k - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
                ok = np.isfinite(u)
                if ok:
                    for c in range(j):  # a duplicate effort counts once, at its first column
                        if usable[c] and xs[c] == x:
                            ok = False
                            break
                usable[j] = ok
                xs[j] = x if ok else np.inf
                us[j] = u
                if ok and u > top:
                    top = u
            # Inverse CDF over the usable candidates, in column order.
            total = 0.0
            for j in range(n):
                w = np.exp((us[j] - top) / temp) if usable[j] else 0.0
                total += w
                us[j] = total  # the cumulative weights, in place
            threshold = uniform[s, r] * total
            chosen = 0
            for j in range(n):
                if us[j] > threshold:
                    chosen = j
                    break
            out[s, r] = xs[chosen] if usable[chosen] else 0.0


@njit(cache=True, error_model="numpy")
def sequential_round(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    evaluated, x, order, logit, temperature, uniform, shock, noisy,
    c_target, c_effort, c_score,
    table_width, origin, table, least, least_width, least_row, least_origin,
):  # fmt: skip
    """One round of a sequential schedule, updating ``x`` and ``evaluated`` ``(S, n)`` in place.

    For ``p = 0, ..., n - 1``: developer ``i = order[s, p]`` responds to the
    current ``evaluated[s]`` (the exact best response, kept at ``x[s, i]``
    when that is already a best response, or with ``logit`` the logit
    response to uniform ``uniform[s, i]``), then ``x[s, i]`` becomes the
    response and ``evaluated[s, i] = f(theta_i, tau + x[s, i])`` (``+
    shock[s, i]`` when ``noisy``).
    """
    S, n = x.shape
    rows = np.empty((S, 1), dtype=np.int64)
    cur = np.empty((S, 1))
    u_row = np.empty((S, 1))
    out_effort = np.empty((S, 1))
    out_score = np.empty((S, 1))
    out_rank = np.empty((S, 1), dtype=np.int64)
    out_utility = np.empty((S, 1))
    out_next = np.empty((S, 1))
    active = np.ones(S, dtype=np.bool_)
    for p in range(n):
        for s in range(S):
            i = order[s, p]
            rows[s, 0] = i
            cur[s, 0] = x[s, i]
            u_row[s, 0] = uniform[s, i]
        if logit:
            respond_logit(
                family, p_lower, p_upper, p_a, p_b, unit,
                cost_kind, cost_scale, cost_param,
                tau, resolution, rewards, gamma, priority, budget, baseline,
                evaluated, rows, temperature, u_row,
                c_target, c_effort, c_score,
                table_width, origin, table, least, least_width, least_row, least_origin,
                out_next,
            )  # fmt: skip
        else:
            respond_active(
                family, p_lower, p_upper, p_a, p_b, unit,
                cost_kind, cost_scale, cost_param,
                tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
                evaluated, rows, cur, True,
                c_target, c_effort, c_score,
                table_width, origin, table, least, least_width, least_row, least_origin,
                out_effort, out_score, out_rank, out_utility, out_next,
                active, False, cur,
            )  # fmt: skip
        for s in range(S):
            i = rows[s, 0]
            new = out_next[s, 0]
            x[s, i] = new
            moved = _score(family, p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i], unit, tau[s] + new)
            evaluated[s, i] = moved + shock[s, i] if noisy else moved
