"""Simultaneous best responses of every developer of every scenario, compiled (:func:`respond`,
:func:`respond_active`): the same bits as :meth:`sim.engine.BatchGame.respond`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel.level_counts import (
    COUNTED_RANK_MIN_N,
    TIE_WINDOW,
    _count_board,
    _holds_counted,
    _rank_buckets,
    _span_cap,
)
from sim.kernel.primitives import (
    _cost,
    _least_score_cached,
    _level,
    _prefetch,
    _prefetch_rival,
    _rank,
    _score,
    least_effort,
)
from sim.kernel.rows import ROW_PARAMS, _candidate, _holds, _row_params
from sim.kernel.sorted_board import SORTED_BOARD_MIN_N, _best_row_sorted, _sort_board


@njit(cache=True, error_model="numpy")
def respond(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    evaluated, rows, current, hold,
    c_target, c_effort, c_score,
    table_width, origin, table, least,
    out_effort, out_score, out_rank, out_utility, out_next,
):  # fmt: skip
    """Best responses of developers ``rows`` (see :meth:`sim.engine.BatchGame.respond`), written to ``out_*``.

    ``out_next`` is the effort the developer moves to: its current one when
    ``hold`` and that is already a best response (:func:`sim.engine.hold_current`).
    ``least`` remembers least scores per scenario and level (``least[s, level - origin[s] + 1]``);
    an array of any other shape (such as a :class:`sim.engine.CandidateCache`'s rows shared by
    resolution) is not used, and the least scores are computed each time.
    """
    S = evaluated.shape[0]
    least_width = table_width if least.shape[0] == S and least.shape[1] == table_width + 2 else 0
    respond_active(
        family, p_lower, p_upper, p_a, p_b, unit,
        cost_kind, cost_scale, cost_param,
        tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
        evaluated, rows, current, hold,
        c_target, c_effort, c_score,
        table_width, origin, table, least, least_width, np.arange(S), origin,
        out_effort, out_score, out_rank, out_utility, out_next,
        np.ones(evaluated.shape[0], dtype=np.bool_), False, current,
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def respond_active(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    evaluated, rows, current, hold,
    c_target, c_effort, c_score,
    table_width, origin, table, least, least_width, least_row, least_origin,
    out_effort, out_score, out_rank, out_utility, out_next,
    active, scored, current_score,
):  # fmt: skip
    """:func:`respond` for the scenarios ``s`` with ``active[s]`` only (other rows of ``out_*`` are left alone).

    The least score at level ``L`` is remembered in ``least[least_row[s], L - least_origin[s] + 1]``
    (``0 <= L - least_origin[s] + 1 < least_width + 2``); :func:`respond` uses one row per scenario.

    With ``scored``, ``current_score[s, r]`` is the true score of ``current[s, r]``, exactly as the
    kernel computes it (``f(theta_i, tau + current)``, e.g. from :func:`publish`), and the hold check
    uses it instead of evaluating the score again.
    """
    S, n = evaluated.shape
    m = rows.shape[1]
    level = np.empty(n)
    draw = np.empty(n)
    beat = np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    # Candidate buffers, reused for every row: the choice needs all utilities before it can pick.
    xs = np.empty(n)
    ss = np.empty(n)
    us = np.empty(n)
    ks = np.empty(n, dtype=np.int64)
    rival = np.empty(n + 1, dtype=np.int64)
    rp = np.empty(ROW_PARAMS)
    order = np.empty(n, dtype=np.int64)
    key_level = np.empty(n)
    key_prio = np.empty(n, dtype=priority.dtype)
    # Boards counted by level (COUNTED_RANK_MIN_N developers and more): buckets, and the last row (numbered
    # across the call) that took each target level.
    first = np.empty(_span_cap(n) + 1, dtype=np.int64)
    members = np.empty(n + TIE_WINDOW, dtype=priority.dtype)
    taken = np.full(_span_cap(n) + 2, -1, dtype=np.int64)
    row_id = 0
    following = 0
    for s in range(S):
        if not active[s]:
            continue
        # The next active scenario: what it reads at random places is prefetched while this one is worked on.
        following = following if following > s else s + 1
        while following < S and not active[following]:
            following += 1
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
        sorted_board = n >= SORTED_BOARD_MIN_N and _sort_board(level, draw, beat, prio, order, key_level, key_prio)
        # Counted by level (span > 0) on large boards: ranks from the buckets (sim.kernel.level_counts).
        low, span, widest = 0.0, 0, 0
        if n >= COUNTED_RANK_MIN_N:
            low, span, widest = _count_board(level, prio, delta, first, members)
        top_reward = rewards[s, 0]
        for k in range(1, n):
            top_reward = max(top_reward, rewards[s, k])
        for r in range(m):
            # A share of the next scenario's prefetches with each row, so that they overlap the work (all at
            # once, they would wait for each other): its candidate cache and level-table rows, rival by rival.
            if following < S:
                for j in range(r * n // m, (r + 1) * n // m):
                    _prefetch_rival(
                        following, j, n, evaluated, resolution, c_target, c_effort, c_score, table_width, origin, table
                    )
            i = rows[s, r]
            row_id += 1
            _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tolerance, reach,
                        budget)  # fmt: skip
            if sorted_board:
                best_x, best_s, best_u, best_rank = _best_row_sorted(
                    rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                    c_target, c_effort, c_score, table_width, origin, table,
                    level, draw, beat, prio, order, key_level, key_prio, top_reward, xs, ss, us, ks,
                    (low, span, widest), first, members,
                )  # fmt: skip
            elif span > 0:
                # The board counted by level (sim.kernel.level_counts): the candidates, utilities and choice of
                # the count's copy below, so the same bits, with ranks from the buckets (_rank_buckets), and only
                # the first rival with each target (the same level, on the same side of the tie): a later one's
                # least effort, score, rank and utility are the same (functions of the target), and the choice,
                # the smallest effort within the tolerance and strict in effort, never takes it over the first
                # (taken[level - low + side] holds the last row that took each target).  The row's level-table
                # entries are prefetched all at once before any is read (one at a time, each read from memory
                # would wait for the one before).  Written out here, as the copy below, for speed.
                p = prio[i]
                own = level[i]
                base, hi = baseline[s, i], reach[s, i]
                viable = 0
                for j in range(n):
                    below = p > prio[j]
                    target = draw[j] if below else beat[j]
                    rival[viable] = j
                    viable += (j != i) & (target > base) & (not (target > hi))
                kept = 0
                for v in range(viable):
                    j = rival[v]
                    below = p > prio[j]
                    where = int(level[j] - low) + (0 if below else 1)
                    fresh = taken[where] != row_id
                    taken[where] = row_id
                    rival[kept] = j
                    kept += fresh
                    off = level[j] + (0.0 if below else 1.0) - origin[s]
                    if table_width > 0 and off >= 0.0 and off < table_width:
                        _prefetch(table, ((s * table_width + int(off)) * n + i) * 2)
                best_rank = _rank_buckets(own, p, _level(base, delta), n, low, span, first, members, widest)
                g = gamma[s, i]
                best_u = rewards[s, best_rank - 1] - g * _cost(cost_kind, cost_scale, cost_param, 0.0)
                best_x, best_s = 0.0, base
                count = 0
                top = best_u
                for v in range(kept):
                    j = rival[v]
                    below = p > prio[j]
                    target = draw[j] if below else beat[j]
                    target_level = level[j] + (0.0 if below else 1.0)
                    x, sc = _candidate(family, p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i], unit, tau[s], s, i,
                                       j, target, target_level, delta, c_target, c_effort, c_score, table_width,
                                       origin, table)  # fmt: skip
                    if not np.isfinite(x) or x > budget[s, i]:
                        continue
                    k = _rank_buckets(own, p, _level(sc, delta), n, low, span, first, members, widest)
                    u = rewards[s, k - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
                    xs[count], ss[count], us[count], ks[count] = x, sc, u, k
                    count += 1
                    if u > top:
                        top = u
                tol = tolerance[s]
                if not (best_u >= top - tol):
                    best_x = np.inf
                for c in range(count):
                    if us[c] >= top - tol and xs[c] < best_x:
                        best_x, best_s, best_u, best_rank = xs[c], ss[c], us[c], ks[c]
            else:
                # _best_row written out: the same operations, but as a numba inline="always" call each update
                # took about 100 ns more at n = 10 (0.28 against 0.38 us an update, measured warm in one
                # sitting; numba inlines at the IR level), so the hot path keeps its own copy. The hypothesis
                # tests compare both with the numpy reference.
                lo, up, a, b = p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i]
                base = baseline[s, i]
                g = gamma[s, i]
                tol = tolerance[s]
                t = tau[s]
                best_rank = _rank(level, prio, i, _level(base, delta))
                best_u = rewards[s, best_rank - 1] - g * _cost(cost_kind, cost_scale, cost_param, 0.0)
                best_x, best_s = 0.0, base
                count = 0
                top = best_u
                p = prio[i]
                hi = reach[s, i]
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
                    if not np.isfinite(x) or x > budget[s, i]:
                        continue
                    k = _rank(level, prio, i, _level(sc, delta))
                    u = rewards[s, k - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
                    xs[count], ss[count], us[count], ks[count] = x, sc, u, k
                    count += 1
                    if u > top:
                        top = u
                if not (best_u >= top - tol):
                    best_x = np.inf
                for c in range(count):
                    if us[c] >= top - tol and xs[c] < best_x:
                        best_x, best_s, best_u, best_rank = xs[c], ss[c], us[c], ks[c]
            out_effort[s, r] = best_x
            out_score[s, r] = best_s
            out_rank[s, r] = best_rank
            out_utility[s, r] = best_u
            nxt = best_x
            if hold and current[s, r] != best_x:  # (when equal, holding and moving are the same)
                cur = current[s, r]
                sc = current_score[s, r] if scored else _score(family, p_lower[s, i], p_upper[s, i], p_a[s, i],
                                                               p_b[s, i], unit, tau[s] + cur)  # fmt: skip
                if span > 0:
                    holds = _holds_counted(rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, sc,
                                           best_u, (low, span, widest), first, members)  # fmt: skip
                else:
                    holds = _holds(rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, sc, best_u)
                if holds:
                    nxt = cur
            out_next[s, r] = nxt
