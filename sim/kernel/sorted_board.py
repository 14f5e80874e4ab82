"""The best response on a large leaderboard: the board sorted once per scenario (:func:`_sort_board`), each
candidate's rank found by bisection (:func:`_best_row_sorted`), the same bits as :func:`sim.kernel.rows._best_row`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel.level_counts import _rank_counted
from sim.kernel.primitives import _cost, _level
from sim.kernel.rows import _A, _B, _BASE, _BUDGET, _DELTA, _G, _HI, _LO, _T, _TOL, _UP, _candidate

_BELOW = 1.0 - 2.0**-40  # an effort's lower bound, far below round-off, in _best_row_sorted's stopping rule


#: Leaderboards of at least this many developers take :func:`_best_row_sorted` (a sorted board) instead of
#: the count over every rival per candidate (:func:`_best_row`), which is faster on smaller boards: measured
#: warm per update, 0.50 against 0.84 us at n = 30, 1.78 against 1.95 at 100, 4.18 against 3.02 at 200.
SORTED_BOARD_MIN_N = 128


@njit(cache=True, error_model="numpy")
def _sort_board(level, draw, beat, prio, order, key_level, key_prio):
    """Sort the board ascending by ``(level, priority)`` into ``order`` (developer at each position) and the
    keys ``key_level``, ``key_prio`` at each position; ``False`` (nothing sorted) if some level or target is
    NaN (the order of the targets along the board, which :func:`_best_row_sorted` relies on, needs numbers)."""
    n = level.size
    for j in range(n):
        if np.isnan(level[j]) or np.isnan(draw[j]) or np.isnan(beat[j]):
            return False
    by_level = np.argsort(level)
    # Then by priority among equal levels: an insertion pass over an order already sorted by level.
    for k in range(n):
        j = by_level[k]
        lj, pj = level[j], prio[j]
        q = k
        while q > 0 and key_level[q - 1] == lj and key_prio[q - 1] > pj:
            order[q] = order[q - 1]
            key_level[q] = key_level[q - 1]
            key_prio[q] = key_prio[q - 1]
            q -= 1
        order[q] = j
        key_level[q] = lj
        key_prio[q] = pj
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _not_above(key_level, key_prio, k, cand_level, p):
    """Whether the entry at sorted position ``k`` is not ranked above a developer of priority ``p`` at
    published level ``cand_level``."""
    lk = key_level[k]
    return lk < cand_level or (lk == cand_level and not (key_prio[k] > p))


@njit(cache=True, error_model="numpy", inline="always")
def _rank_sorted(key_level, key_prio, own_level, p, cand_level, start):
    """:func:`_rank` on the sorted board: ``1 +`` the entries ranked above ``(cand_level, p)`` (a suffix of
    the ascending order, found from position ``start``, at or below where the suffix begins), less the
    developer's own entry (``own_level``)."""
    n = key_level.size
    lo = start
    # A few steps up from the hint (a candidate usually lands on its target level), then bisection.
    steps = 0
    while lo < n and steps < 4 and _not_above(key_level, key_prio, lo, cand_level, p):
        lo += 1
        steps += 1
    if steps == 4:
        hi = n
        while lo < hi:
            mid = (lo + hi) >> 1
            if _not_above(key_level, key_prio, mid, cand_level, p):
                lo = mid + 1
            else:
                hi = mid
    return 1 + (n - lo) - (1 if own_level > cand_level else 0)


@njit(cache=True, error_model="numpy", inline="always")
def _sorted_target(k, order, key_level, key_prio, draw, beat, p):
    """Target and target level of the rival at sorted position ``k`` for a developer of priority ``p``:
    drawing level with it when ``p`` wins the tie, else overtaking it; non-decreasing in ``k``."""
    j = order[k]
    if p > key_prio[k]:
        return draw[j], key_level[k]
    return beat[j], key_level[k] + 1.0


@njit(cache=True, error_model="numpy", inline="always")
def _first_above(order, key_level, key_prio, draw, beat, p, bound, lo):
    """The first sorted position ``k >= lo`` whose target (:func:`_sorted_target`) is above ``bound`` (``n``
    if none; never for a NaN ``bound``): the targets are non-decreasing along the sorted board."""
    size = key_level.size - lo
    while size > 0:  # branch-free bisection: the comparisons are unpredictable
        half = size >> 1
        target, _ = _sorted_target(lo + half, order, key_level, key_prio, draw, beat, p)
        step = half + 1 if not (target > bound) else 0
        lo += step
        size = half if step == 0 else size - half - 1
    return lo


@njit(cache=True, error_model="numpy", inline="always")
def _best_row_sorted(rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                     c_target, c_effort, c_score, table_width, origin, table,
                     level, draw, beat, prio, order, key_level, key_prio, top_reward, xs, ss, us, ks,
                     counted, starts, members):  # fmt: skip
    """:func:`_best_row` on a board sorted by :func:`_sort_board`: the same candidates, utilities and choice,
    so the same bits, found without visiting every rival.

    Along the board sorted ascending by ``(level, priority)`` the targets ``T_j`` are non-decreasing, so
    the rivals worth a candidate (``baseline_i < T_j <= reach_i``, Proposition 4.5's just-overtake efforts
    of the rivals scoring above ``i``'s zero-effort score and within its reach) are one run of positions,
    found by bisection; rivals with the same target (adjacent) give the same candidate, evaluated once (a
    least effort is a function of the target, and the rank and utility of the effort); and a candidate's
    rank is found by a search starting at its rival's position (ranks change little), not a count over
    every rival.

    The candidates come in order of target, so of least effort: once a candidate's effort ``x`` is so high
    that ``r_max - gamma_i c(x (1 - 2^-40)) < u* - tol`` (``r_max = top_reward``, the highest reward;
    ``u*`` the best utility so far), no later candidate can be chosen (its effort is at least ``x``, up to
    round-off far below the margin ``2^-40 x``, the cost is non-decreasing and its reward at most ``r_max``)
    and the search stops.

    With ``counted = (low, span, widest)``, ``span > 0`` (the board counted by level into ``starts`` and ``members``,
    :func:`sim.kernel.level_counts._count_board`; a tuple: a call of more than 30 arguments is not inlined), ranks come
    from the counts (:func:`sim.kernel.level_counts._rank_counted`: two reads and a scan of the tied
    entries, no unpredictable search); else from the sorted board.
    """
    lo, up, a, b, t, delta = rp[_LO], rp[_UP], rp[_A], rp[_B], rp[_T], rp[_DELTA]
    base, g, tol, hi, cap = rp[_BASE], rp[_G], rp[_TOL], rp[_HI], rp[_BUDGET]
    p = prio[i]
    own = level[i]
    low, span, widest = counted
    zero_level = _level(base, delta)
    if span > 0:
        best_rank = _rank_counted(level, prio, i, zero_level, low, span, starts, members, widest)
    else:
        best_rank = _rank_sorted(key_level, key_prio, own, p, zero_level, 0)
    best_u = rewards[s, best_rank - 1] - g * _cost(cost_kind, cost_scale, cost_param, 0.0)
    best_x, best_s = 0.0, base
    count = 0
    top = best_u
    first = _first_above(order, key_level, key_prio, draw, beat, p, base, 0)
    last = _first_above(order, key_level, key_prio, draw, beat, p, hi, first)
    previous = np.nan
    for k in range(first, last):
        j = order[k]
        if j == i:
            continue
        target, target_level = _sorted_target(k, order, key_level, key_prio, draw, beat, p)
        if target == previous:  # the same candidate as the rival before
            continue
        previous = target
        x, sc = _candidate(family, lo, up, a, b, unit, t, s, i, j, target, target_level, delta,
                           c_target, c_effort, c_score, table_width, origin, table)  # fmt: skip
        if not np.isfinite(x) or x > cap:
            continue
        reached = _level(sc, delta)
        if span > 0:
            kk = _rank_counted(level, prio, i, reached, low, span, starts, members, widest)
        else:
            kk = _rank_sorted(key_level, key_prio, own, p, reached, k + 1)
        u = rewards[s, kk - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
        xs[count], ss[count], us[count], ks[count] = x, sc, u, kk
        count += 1
        if u > top:
            top = u
        if top_reward - g * _cost(cost_kind, cost_scale, cost_param, x * _BELOW) < top - tol:
            break  # no higher target can pay: its effort is at least x
    if not (best_u >= top - tol):
        best_x = np.inf
    for c in range(count):
        if us[c] >= top - tol and xs[c] < best_x:
            best_x, best_s, best_u, best_rank = xs[c], ss[c], us[c], ks[c]
    return best_x, best_s, best_u, best_rank
