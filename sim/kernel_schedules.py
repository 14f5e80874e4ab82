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
  Scenarios are independent, so each one plays all its positions before
  the next scenario starts: its board (levels and tie targets) stays in the
  processor's cache and is updated for the one developer that moved, not
  rebuilt.

Both respond row by row: the best response with :func:`sim.kernel._best_row`
and :func:`sim.kernel._holds` (which :func:`sim.kernel.respond_active` runs on
large boards as :func:`sim.kernel._best_row_sorted`, and on small ones written
out for speed), and the logit response with :func:`_logit_row` on the same
board and candidates (:func:`sim.kernel._candidate`: same cache, same operations).

Random draws are not made here: the caller passes this round's uniforms,
order and noise, drawn exactly as the numpy path draws them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel import (
    _A,
    _B,
    _BASE,
    _BUDGET,
    _DELTA,
    _G,
    _LO,
    _T,
    _UP,
    ROW_PARAMS,
    _best_row,
    _board,
    _board_entry,
    _candidate,
    _cost,
    _holds,
    _level,
    _prefetch_rival,
    _rank,
    _row_params,
    _score,
)


@njit(cache=True, error_model="numpy", inline="always")
def _logit_row(rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
               c_target, c_effort, c_score, table_width, origin, table,
               level, draw, beat, prio, xs, ss, us, cols, seen, temperature, uniform):  # fmt: skip
    """Developer ``i``'s logit response on scenario ``s``'s board to uniform draw ``uniform``:
    ``(effort, score)`` (the score is that of the candidate, NaN for zero effort); arguments as
    :func:`sim.kernel._best_row` (``cols``: a work buffer of ``n + 1`` integers, ``seen``: of ``n`` floats).

    The same columns, weights and choice as :meth:`sim.engine.BatchGame.logit_choice`, visiting only the
    columns that can carry a weight: column ``j`` (in column order) is zero effort for ``j = i`` and rival
    ``j``'s candidate when its target lies above the zero-effort score (gathered without branching).  The
    usable ones (finite effort within the budget, finite utility, no earlier usable column with the same
    effort) are kept in order in ``xs``, ``ss``, ``us`` (effort, score, utility; ``cols``: the column).  A
    column that is not usable has weight ``0`` in the numpy path, and adding ``0.0`` to the non-negative
    cumulative sum leaves its bits unchanged, so the cumulative weights of the usable columns alone give
    the same sums; and an unusable column is never the first whose cumulative weight exceeds the threshold
    (the usable column before it would be), except that with none found column ``0`` is chosen, as there.
    A rival whose target equals an earlier column's (rivals at one level, on the same side of the tie) is
    skipped: its least effort, score, rank and utility are those of the earlier column (the same function of
    the same target), so it is unusable there too, as a duplicate effort or for the same reason.  A
    candidate's rank is remembered for the last published level asked.
    """
    n = level.size
    lo, up, a, b, t, delta = rp[_LO], rp[_UP], rp[_A], rp[_B], rp[_T], rp[_DELTA]
    base, g, cap = rp[_BASE], rp[_G], rp[_BUDGET]
    p = prio[i]
    # The columns that can carry a weight, in column order, gathered without branching.
    m = 0
    for j in range(n):
        target = draw[j] if p > prio[j] else beat[j]
        cols[m] = j
        m += (j == i) | (target > base)
    top = -np.inf
    count = 0
    memo_level, memo_rank = np.nan, 0
    targets = 0
    for q in range(m):
        j = cols[q]
        if j == i:  # zero effort
            x, sc = 0.0, np.nan
            k = _rank(level, prio, i, _level(base, delta))
        else:
            below = p > prio[j]
            target = draw[j] if below else beat[j]
            repeated = False
            for c in range(targets):  # (branch-free: a handful of earlier targets)
                repeated |= seen[c] == target
            if repeated:
                continue
            seen[targets] = target
            targets += 1
            target_level = level[j] + (0.0 if below else 1.0)
            x, sc = _candidate(family, lo, up, a, b, unit, t, s, i, j, target, target_level, delta,
                               c_target, c_effort, c_score, table_width, origin, table)  # fmt: skip
            if not (np.isfinite(x) and x <= cap):
                continue
            reached = _level(sc, delta)
            if reached != memo_level:
                memo_level, memo_rank = reached, _rank(level, prio, i, reached)
            k = memo_rank
        u = rewards[s, k - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
        if not np.isfinite(u):
            continue
        duplicate = False
        for c in range(count):  # a duplicate effort counts once, at its first usable column
            duplicate |= xs[c] == x
        if duplicate:
            continue
        xs[count], ss[count], us[count] = x, sc, u
        cols[count] = j  # (count <= q: the columns still to visit lie beyond)
        count += 1
        if u > top:
            top = u
    # Inverse CDF over the usable candidates, in column order.
    total = 0.0
    for c in range(count):
        total += np.exp((us[c] - top) / temperature)
        us[c] = total  # the cumulative weights, in place
    threshold = uniform * total
    for c in range(count):
        if us[c] > threshold:
            return xs[c], ss[c]
    if count > 0 and cols[0] == 0:  # none found: column 0, when usable
        return xs[0], ss[0]
    return 0.0, np.nan


@njit(cache=True, error_model="numpy")
def respond_logit(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline,
    evaluated, rows, temperature, uniform,
    c_target, c_effort, c_score,
    table_width, origin, table, least, least_width, least_row, least_origin,
    out, out_score,
):  # fmt: skip
    """Logit responses of developers ``rows[s, r]`` to ``evaluated`` ``(S, n)`` into ``out[s, r]``, and the
    score each reaches into ``out_score[s, r]`` (the score the search reached with a candidate's effort, the
    same bits as evaluating it; NaN for zero effort).

    ``temperature`` ``(S,)``, ``uniform`` ``(S, m)`` in ``[0, 1)``; the cache
    arguments as :func:`sim.kernel.respond_active` (least efforts remembered
    per level and per last target; a remembered value is the one computed
    afresh, bit for bit).  Unlike the best response, candidates above the
    developer's reach are computed too: every usable candidate has a weight.
    """
    S, n = evaluated.shape
    m = rows.shape[1]
    rp = np.empty(ROW_PARAMS)
    level, draw, beat = np.empty(n), np.empty(n), np.empty(n)
    xs, ss, us = np.empty(n), np.empty(n), np.empty(n)
    cols = np.empty(n + 1, dtype=np.int64)
    seen = np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    for s in range(S):
        _board(s, evaluated, priority, resolution, least, least_width, least_row, least_origin, level, draw, beat, prio)
        for r in range(m):
            if s + 1 < S:  # the next scenario's cache rows, rival by rival, while this one is worked on
                for j in range(r * n // m, (r + 1) * n // m):
                    _prefetch_rival(s + 1, j, n, evaluated, resolution, c_target, c_effort, c_score,
                                    table_width, origin, table)  # fmt: skip
            i = rows[s, r]
            # (no reach or tolerance for the logit response: placeholders, not read)
            _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tau, baseline, budget)
            out[s, r], out_score[s, r] = _logit_row(
                rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                c_target, c_effort, c_score, table_width, origin, table,
                level, draw, beat, prio, xs, ss, us, cols, seen, temperature[s], uniform[s, r],
            )  # fmt: skip


@njit(cache=True, error_model="numpy")
def sequential_round(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    evaluated, x, true, order, logit, temperature, uniform, shock, noisy,
    c_target, c_effort, c_score,
    table_width, origin, table, least, least_width, least_row, least_origin,
):  # fmt: skip
    """One round of a sequential schedule, updating ``x``, ``true`` and ``evaluated`` ``(S, n)`` in place.

    ``true`` are the true scores of ``x`` (as :func:`sim.kernel.publish` computes them).  For
    ``p = 0, ..., n - 1``: developer ``i = order[s, p]`` responds to the
    current ``evaluated[s]`` (the exact best response, kept at ``x[s, i]``
    when that is already a best response, or with ``logit`` the logit
    response to uniform ``uniform[s, i]``), then ``x[s, i]`` becomes the
    response, ``true[s, i] = f(theta_i, tau + x[s, i])`` and
    ``evaluated[s, i] = true[s, i]`` (``+ shock[s, i]`` when ``noisy``).
    The new true score is evaluated only when not already known: an effort
    kept has its score, and a candidate effort the score the search reached
    with it (the same function of the same effort).
    """
    S, n = x.shape
    rp = np.empty(ROW_PARAMS)
    level, draw, beat = np.empty(n), np.empty(n), np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    xs, ss, us = np.empty(n), np.empty(n), np.empty(n)
    ks = np.empty(n, dtype=np.int64)
    rival = np.empty(n + 1, dtype=np.int64)
    cols = np.empty(n + 1, dtype=np.int64)
    seen = np.empty(n)
    for s in range(S):
        delta = resolution[s]
        _board(s, evaluated, priority, resolution, least, least_width, least_row, least_origin, level, draw, beat, prio)
        for p in range(n):
            if s + 1 < S:  # the next scenario's cache rows at rival p's level, while this one is worked on
                _prefetch_rival(s + 1, p, n, evaluated, resolution, c_target, c_effort, c_score,
                                table_width, origin, table)  # fmt: skip
            i = order[s, p]
            cur = x[s, i]
            _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tolerance, reach,
                        budget)  # fmt: skip
            if logit:
                new, sc = _logit_row(
                    rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                    c_target, c_effort, c_score, table_width, origin, table,
                    level, draw, beat, prio, xs, ss, us, cols, seen, temperature[s], uniform[s, i],
                )  # fmt: skip
                known = new != 0.0
            else:
                effort, sc, best_u, _ = _best_row(
                    rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                    c_target, c_effort, c_score, table_width, origin, table,
                    level, draw, beat, prio, rival, xs, ss, us, ks,
                )  # fmt: skip
                new = effort
                if cur != effort and _holds(
                    rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, true[s, i], best_u
                ):
                    new = cur  # the current effort is already a best response: held
                known = new == effort and new != 0.0 and np.isfinite(new)
            if new == cur:
                moved = true[s, i]
            elif known:
                moved = sc
            else:
                moved = _score(family, p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i], unit, tau[s] + new)
            x[s, i] = new
            true[s, i] = moved
            value = moved + shock[s, i] if noisy else moved
            evaluated[s, i] = value
            _board_entry(s, i, value, delta, least, least_width, least_row, least_origin, level, draw, beat)
