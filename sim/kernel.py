"""Compiled best-response kernel (numba) for the built-in score and cost families.

:meth:`sim.engine.BatchGame.respond` computes exact best responses with
numpy, over arrays of candidates.  Most of that work is the exact least
effort of each candidate (:func:`sim.scores.least_effort_and_score`: the
closed-form inverse, then a search, checked forward, for the least float that
reaches the target), which takes a dozen score evaluations per candidate and
does not vectorise well.  This module does the same computation one
candidate at a time in compiled code, with the same floating-point
operations in the same order, so it returns *the same bits* as the numpy
path and as :func:`sim.game.best_responses` (the tests compare them).  It
covers the generalised power law and exponential saturation with the
linear, power and flat-then-quadratic costs; custom families use numpy.

Bit-for-bit notes: ``expit(z)`` is ``1 / (1 + exp(-z))`` (SciPy's formula);
numpy computes ``x ** 2`` as ``x * x``, so the kernel does too.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from sim.leaderboard import GRID_SLACK_ULPS

POWER_LAW, EXP_SATURATION = 0, 1
LINEAR, POWER, FLAT_QUADRATIC = 0, 1, 2

_SLACK = GRID_SLACK_ULPS * float(np.finfo(float).eps)
_STEPS = 2200  # as sim.scores: from the smallest subnormal to overflow
_GRID_STEPS = 64  # as sim.leaderboard.least_score_at_index


def _prefetcher(write):
    """An intrinsic ``f(array, index)`` hinting the processor to bring element ``index`` (flat, C order) of
    ``array`` into its cache, to be read or (``write``) written: ``llvm.prefetch``, no effect on results."""

    @intrinsic
    def prefetch(typingctx, array, index):
        if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            byte_ptr = ir.IntType(8).as_pointer()
            address = builder.bitcast(builder.gep(data, [args[1]]), byte_ptr)
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
            fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr], fnty)
            builder.call(fn, [address, i32(int(write)), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(array, index), codegen

    return prefetch


_prefetch = _prefetcher(write=False)
_prefetch_write = _prefetcher(write=True)


@njit(cache=True, error_model="numpy")
def _score(family, lo, up, a, b, unit, e):
    if family == POWER_LAW:
        z = a + b * np.log1p(e / unit)
        return lo + (up - lo) * (1.0 / (1.0 + np.exp(-z)))
    return up - (up - lo) * np.exp(-a * e)


@njit(cache=True, error_model="numpy")
def _inverse(family, lo, up, a, b, unit, s):
    """``effort_to_reach`` of the family, as in sim.scores (same operations and case order)."""
    if family == POWER_LAW:
        z = np.log(s - lo) - np.log(up - s)
        effort = unit * np.expm1((z - a) / b)
        if s <= _score(family, lo, up, a, b, unit, 0.0):
            effort = 0.0
        if s >= up:
            effort = np.inf
        return max(effort, 0.0)
    effort = np.log((up - lo) / (up - s)) / a
    if s <= lo:
        effort = 0.0
    if s >= up:
        effort = np.inf
    return max(effort, 0.0)


@njit(cache=True, error_model="numpy")
def _cost(kind, scale, param, x):
    if kind == LINEAR:
        return scale * x
    if kind == POWER:
        if param == 2.0:
            return scale * (x * x)
        if param == 1.0:
            return scale * x
        return scale * x**param
    d = max(x - param, 0.0)
    return scale * (d * d)


@njit(cache=True, error_model="numpy")
def _level(s, delta):
    if delta == 0.0:
        return s
    q = s / delta
    return np.floor(q + _SLACK * np.abs(q))


@njit(cache=True, error_model="numpy")
def _least_score_at_index(index, delta):
    t = index * delta
    t = t - _SLACK * np.abs(t)
    for _ in range(_GRID_STEPS):
        if _level(t, delta) >= index:
            break
        t = np.nextafter(t, np.inf)
    for _ in range(_GRID_STEPS):
        prev = np.nextafter(t, -np.inf)
        if _level(prev, delta) < index:
            break
        t = prev
    return t


@njit(cache=True, error_model="numpy", inline="always")
def _least_score_cached(least, width, origin, row, index, delta):
    """:func:`_least_score_at_index`, remembered per level in ``least[row, index - origin + 1]``
    (``row``: the scenario's, or its resolution's, row)."""
    if width > 0:
        k = index - origin + 1.0
        if k >= 0.0 and k < width + 2:
            kk = int(k)
            value = least[row, kk]
            if np.isnan(value):
                value = _least_score_at_index(index, delta)
                least[row, kk] = value
            return value
    return _least_score_at_index(index, delta)


@njit(cache=True, error_model="numpy")
def _bisect(family, lo_p, up_p, a, b, unit, tau, target, lo, hi, s_hi):
    """Bisect on floats until ``lo`` and ``hi`` are adjacent; returns ``hi`` and its score ``s_hi``.

    Invariant as in :func:`sim.scores._bisect_floats`: ``score(tau + lo) < target <= score(tau + hi)``.
    """
    if not (np.isfinite(hi) and lo >= 0.0):
        return (0.0, s_hi) if lo < 0.0 else (hi, s_hi)
    for _ in range(_STEPS):
        if not (np.nextafter(lo, np.inf) < hi):
            break
        mid = lo + 0.5 * (hi - lo)
        if mid <= lo or mid >= hi:
            mid = np.nextafter(lo, np.inf)
        e_lo, e_hi = tau + lo, tau + hi
        if np.nextafter(e_lo, np.inf) == e_hi:
            # The total efforts are adjacent floats: score(e_lo) < target <= score(e_hi), and tau + mid rounds
            # to one of the two, so whether mid reaches the target is whether it rounds up: no evaluation needed.
            if tau + mid >= e_hi:
                hi = mid
            else:
                lo = mid
            continue
        sc = _score(family, lo_p, up_p, a, b, unit, tau + mid)
        if sc >= target:
            hi, s_hi = mid, sc
        else:
            lo = mid
    return hi, s_hi


@njit(cache=True, error_model="numpy")
def least_effort(family, lo, up, a, b, unit, tau, target):
    """``(x, score)`` exactly as :func:`sim.scores.least_effort_and_score` for one candidate.

    The score at the result is the one evaluated during the search (the same
    operations on the same total effort), not evaluated again.
    """
    x = max(_inverse(family, lo, up, a, b, unit, target) - tau, 0.0)
    if not np.isfinite(x):
        return x, np.nan
    reached = _score(family, lo, up, a, b, unit, tau + x)
    if reached < target:  # short: bracket upwards, then bisect
        step = np.spacing(np.abs(tau + x))
        fail, reach, s_reach = x, np.inf, np.nan
        for _ in range(_STEPS):
            cand = x + step
            sc = _score(family, lo, up, a, b, unit, tau + cand)
            if sc >= target:
                reach, s_reach = cand, sc
                break
            fail = cand
            if not np.isfinite(cand):
                break
            step = step * 2.0
        x, reached = _bisect(family, lo, up, a, b, unit, tau, target, fail, reach, s_reach)
    elif x > 0.0:
        below = np.nextafter(x, 0.0)
        s_below = _score(family, lo, up, a, b, unit, tau + below)
        if s_below < target:
            return x, reached
        # the inverse overshot: bracket downwards, then bisect
        step = np.spacing(np.abs(tau + x))
        fail, reach, s_reach = np.nan, x, reached
        for _ in range(_STEPS):
            cand = max(x - step, 0.0)
            sc = _score(family, lo, up, a, b, unit, tau + cand)
            if sc >= target:
                reach, s_reach = cand, sc
                if not cand > 0.0:
                    break
            else:
                fail = cand
                break
            step = step * 2.0
        if np.isnan(fail):
            fail = -1.0
        x, reached = _bisect(family, lo, up, a, b, unit, tau, target, fail, reach, s_reach)
    else:
        return x, reached
    if np.isfinite(x):
        return x, reached
    return x, np.nan


@njit(cache=True, error_model="numpy", inline="always")
def _rank(level, prio, i, cand_level):
    """``1 +`` the rivals of developer ``i`` above published level ``cand_level`` (``level``, ``prio``: the
    scenario's published levels and priorities): rival ``j`` is above when its level is higher, or equal and
    its priority higher."""
    p = prio[i]
    above = 0
    for j in range(level.size):  # branch-free count (vectorises)
        lj = level[j]
        above += (lj > cand_level) | ((lj == cand_level) & (prio[j] > p))
    # Developer i's own current entry is not a rival.
    li = level[i]
    above -= (li > cand_level) | ((li == cand_level) & (prio[i] > p))
    return 1 + above


@njit(cache=True, error_model="numpy", inline="always")
def _prefetch_range(array, first, last):
    """Prefetch elements ``first..last`` (flat indices, inclusive) of an array of 8-byte elements."""
    k = first
    while k < last:  # 8 elements per 64-byte cache line
        _prefetch(array, k)
        k += 8
    _prefetch(array, last)


@njit(cache=True, error_model="numpy", inline="always")
def _prefetch_rival(s, j, n, evaluated, resolution, c_target, c_effort, c_score, table_width, origin, table):
    """Prefetch what scenario ``s`` reads at random places for rival ``j`` (:func:`respond_active`): the
    level-table rows at ``j``'s level and the next one, or without a table, developer ``j``'s row of the
    last targets."""
    delta = resolution[s]
    if not (table_width > 0 and delta > 0.0):
        first = (s * n + j) * n
        _prefetch_range(c_target, first, first + n - 1)
        _prefetch_range(c_effort, first, first + n - 1)
        _prefetch_range(c_score, first, first + n - 1)
    else:
        off = _level(evaluated[s, j], delta) - origin[s]
        # The rival's level (drawing level) and the next one (overtaking): two adjacent rows of 2 n.
        if off >= -1.0 and off < table_width:
            low = int(off) if off > 0.0 else 0
            high = int(off) + 1 if off + 1.0 < table_width else table_width - 1
            row = s * table_width * 2 * n
            _prefetch_range(table, row + low * 2 * n, row + (high + 1) * 2 * n - 1)


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
                     level, draw, beat, prio, order, key_level, key_prio, top_reward, xs, ss, us, ks):  # fmt: skip
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
    """
    lo, up, a, b, t, delta = rp[_LO], rp[_UP], rp[_A], rp[_B], rp[_T], rp[_DELTA]
    base, g, tol, hi, cap = rp[_BASE], rp[_G], rp[_TOL], rp[_HI], rp[_BUDGET]
    p = prio[i]
    own = level[i]
    best_rank = _rank_sorted(key_level, key_prio, own, p, _level(base, delta), 0)
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
        kk = _rank_sorted(key_level, key_prio, own, p, _level(sc, delta), k + 1)
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


@njit(cache=True, error_model="numpy", inline="always")
def _holds(rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, cur_score, best_u):
    """Whether developer ``i``'s current effort ``cur`` (true score ``cur_score``) is already a best response:
    its utility on the board within the tolerance of the best utility ``best_u`` (:func:`sim.engine.hold_current`)."""
    k = _rank(level, prio, i, _level(cur_score, rp[_DELTA]))
    u = rewards[s, k - 1] - rp[_G] * _cost(cost_kind, cost_scale, cost_param, cur)
    return u >= best_u - rp[_TOL]


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
            _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tolerance, reach,
                        budget)  # fmt: skip
            if sorted_board:
                best_x, best_s, best_u, best_rank = _best_row_sorted(
                    rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                    c_target, c_effort, c_score, table_width, origin, table,
                    level, draw, beat, prio, order, key_level, key_prio, top_reward, xs, ss, us, ks,
                )  # fmt: skip
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
                if _holds(rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, sc, best_u):
                    nxt = cur
            out_next[s, r] = nxt


@njit(cache=True, error_model="numpy")
def publish(
    family, p_lower, p_upper, p_a, p_b, unit,
    tau, resolution, priority, x, shock, noisy,
    out_true, out_evaluated, out_published, out_rank,
):  # fmt: skip
    """One round's leaderboard: true scores, evaluated scores (plus ``shock`` when ``noisy``), published
    scores and ranks, exactly as :meth:`sim.engine.BatchGame.scores`, ``published`` and ``ranks`` compute them.
    """
    publish_known(
        family, p_lower, p_upper, p_a, p_b, unit, tau, resolution, priority, x, shock, noisy,
        np.zeros(x.shape[0], dtype=np.bool_), x, out_true, out_evaluated, out_published, out_rank,
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def next_scores(family, p_lower, p_upper, p_a, p_b, unit, tau, current, current_score, effort, score, nxt, active,
                out):  # fmt: skip
    """True scores ``f(theta_i, tau + nxt[s, i])`` of the efforts developers move to, for the scenarios with
    ``active[s]``, into ``out`` (which may be ``current_score``); other rows are left alone.

    ``effort``, ``score`` and ``nxt`` are :func:`respond_active`'s ``out_effort``, ``out_score`` and
    ``out_next`` for all developers (``rows[s, r] = r``), ``current_score`` the true scores of ``current``.
    A score is evaluated only when neither is known: an effort kept is scored by ``current_score``, and a
    best response found among the candidates (``0 < effort < inf``) by the score the kernel reached with it
    (the same function of the same effort).
    """
    S, n = nxt.shape
    for s in range(S):
        if not active[s]:
            continue
        for i in range(n):
            x = nxt[s, i]
            if x == current[s, i]:
                value = current_score[s, i]
            elif x == effort[s, i] and x != 0.0 and np.isfinite(x):
                value = score[s, i]
            else:
                value = _score(family, p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i], unit, tau[s] + x)
            out[s, i] = value


@njit(cache=True, error_model="numpy")
def publish_known(
    family, p_lower, p_upper, p_a, p_b, unit,
    tau, resolution, priority, x, shock, noisy, known, known_true,
    out_true, out_evaluated, out_published, out_rank,
):  # fmt: skip
    """:func:`publish`, taking the true scores of scenarios ``s`` with ``known[s]`` from ``known_true[s]``
    (they must be the scores of ``x[s]``, as computed before) instead of evaluating them again.
    """
    S, n = x.shape
    level = np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    for s in range(S):
        delta = resolution[s]
        for i in range(n):
            prio[i] = priority[s, i]
            if known[s]:
                true = known_true[s, i]
            else:
                true = _score(family, p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i], unit, tau[s] + x[s, i])
            evaluated = true + shock[s, i] if noisy else true
            out_true[s, i] = true
            out_evaluated[s, i] = evaluated
            level[i] = _level(evaluated, delta)
            out_published[s, i] = level[i] * delta if delta > 0.0 else evaluated
        for i in range(n):
            li, pi = level[i], prio[i]
            above = 0
            for j in range(n):  # branch-free count (vectorises)
                above += (level[j] > li) | ((level[j] == li) & (prio[j] > pi))
            out_rank[s, i] = 1 + above


# ---------------------------------------------------------------------------
# Exact recurrence of deterministic play
# ---------------------------------------------------------------------------

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_AHEAD = 8  # scenarios prefetched ahead of the work


@njit(cache=True)
def _mix(z):
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def recurrence_observe(bits, score, t, history, score_history, table, start, period, active):
    """Record round ``t``'s profile and find an exact recurrence of it (see :class:`sim.engine.Recurrence`).

    ``bits`` ``(S, n)`` are the efforts' bit patterns (``x.view(np.uint64)``)
    and ``score`` their true scores.  A scenario already known to recur
    (``period[s] > 0``) is left alone.  Otherwise, while ``t`` fits in
    ``history`` ``(S, H, n)``, the profile and its scores are stored, and the
    profile is looked up among the earlier rounds by a hash of its bits:
    ``table`` is an open-addressing table per scenario whose entries hold the
    round in the low 32 bits and 31 bits of the hash above them (``-1``:
    empty), so a probe reads one entry.  When an earlier round ``r`` had the
    same bits in every position, ``start[s] = r`` and ``period[s] = t - r``.
    ``active[s]`` is set to whether the scenario still has to be computed (no
    recurrence known).
    """
    S, n = bits.shape
    H = history.shape[1]
    mask = table.shape[1] - 1
    low = np.int64(0xFFFFFFFF)
    if t >= H:
        for s in range(S):
            active[s] = period[s] <= 0
        return
    # The hashes first, so that each scenario's table entry and history row (one place each, at random in
    # large arrays) can be prefetched a few scenarios ahead of the work.
    hashes = np.empty(S, dtype=np.uint64)
    for s in range(S):
        if period[s] > 0:
            continue
        # Positions hashed independently (no chain of dependent multiplications), then combined.
        acc = np.uint64(0)
        for i in range(n):
            acc += _mix(bits[s, i] + np.uint64(i + 1) * _GOLDEN)
        hashes[s] = _mix(acc)
    for k in range(S + _AHEAD):
        if k < S and period[k] <= 0:
            _prefetch(table, k * (mask + 1) + np.int64(hashes[k] & np.uint64(mask)))
            first = (k * H + t) * n
            _prefetch_write(history, first)
            _prefetch_write(history, first + n - 1)
            _prefetch_write(score_history, first)
            _prefetch_write(score_history, first + n - 1)
        s = k - _AHEAD
        if s < 0:
            continue
        if period[s] > 0:
            active[s] = False
            continue
        active[s] = True
        for i in range(n):
            history[s, t, i] = bits[s, i]
            score_history[s, t, i] = score[s, i]
        h = hashes[s]
        tag = np.int64(h >> np.uint64(33)) << np.int64(32)  # 31 bits of the hash: the entry stays >= 0
        slot = np.int64(h & np.uint64(mask))
        while True:
            entry = table[s, slot]
            if entry < 0:
                table[s, slot] = tag | np.int64(t)
                break
            if (entry & ~low) == tag:
                r = entry & low
                same = True
                for i in range(n):
                    if history[s, r, i] != bits[s, i]:
                        same = False
                        break
                if same:
                    start[s] = r
                    period[s] = t - r
                    active[s] = False
                    break
            slot = (slot + 1) & mask


@njit(cache=True)
def recurrence_replay(bits, score, t, history, score_history, start, period):
    """Write the profile of round ``t + 1`` of every recurring scenario into ``bits`` (``x.view(np.uint64)``),
    and its true scores into ``score``.

    With ``x(t0 + p) = x(t0)`` (``t0 = start[s]``, ``p = period[s]``) and play
    deterministic, ``x(t0 + k) = x(t0 + k mod p)`` for every ``k >= 0``.
    """
    S, n = bits.shape
    H = history.shape[1]
    rows = np.empty(S, dtype=np.int64)
    for k in range(S + _AHEAD):
        # Each scenario's row is at a random place in a large array: prefetched a few scenarios ahead.
        if k < S and period[k] > 0:
            rows[k] = start[k] + (t + 1 - start[k]) % period[k]
            first = (k * H + rows[k]) * n
            _prefetch(history, first)
            _prefetch(history, first + n - 1)
            _prefetch(score_history, first)
            _prefetch(score_history, first + n - 1)
        s = k - _AHEAD
        if s >= 0 and period[s] > 0:
            r = rows[s]
            for i in range(n):
                bits[s, i] = history[s, r, i]
                score[s, i] = score_history[s, r, i]


# ---------------------------------------------------------------------------
# Per-round records
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def record_round(
    t,
    k,
    effort,
    score,
    published,
    rank,
    cell,
    multiplier,
    salt,
    offset,
    seed,
    max_quantum,
    with_keys,
    keys,
    store,
    out_effort,
    out_score,
    out_published,
    out_rank,
):
    """One round into the recorder: row ``k`` of the ring buffers (``out_*[k]``, each ``(W, S, n)``, a view
    of any layout) when ``store``, and, ``with_keys``, ``keys[t]`` (``keys`` is ``(rounds + 1, S)``).

    The keys are :func:`sim.analysis.state_keys` of ``(effort, rank)`` with
    ``cell`` per scenario, the same operations on the same bits
    (``multiplier``, ``salt`` per position, ``offset = n * G`` and ``seed``
    are that function's constants).  Returns ``False``, with the keys of this
    round left incomplete, when some ``|effort / cell|`` is not below
    ``max_quantum`` (then the caller asks ``state_keys`` for its error).
    """
    S, n = effort.shape
    ok = True
    for s in range(S):
        if store:
            for i in range(n):
                out_effort[k, s, i] = effort[s, i]
                out_score[k, s, i] = score[s, i]
                out_published[k, s, i] = published[s, i]
                out_rank[k, s, i] = rank[s, i]
        if not with_keys:
            continue
        c = cell[s]
        total = np.uint64(0)
        for i in range(n):
            quantum = np.floor(effort[s, i] / c + 0.5)
            if not (np.abs(quantum) < max_quantum):
                ok = False
                quantum = 0.0
            q = np.uint64(np.int64(quantum))
            r = np.uint64(np.int64(rank[s, i]))
            total += _mix((q ^ _mix(r * _GOLDEN + salt[i])) * multiplier[i])
        keys[t, s] = _mix((total + offset) ^ seed)
    return ok
