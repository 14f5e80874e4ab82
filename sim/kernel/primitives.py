"""The compiled kernel's scalar building blocks: scores, inverses, costs, levels, least scores, the exact
least effort, ranks and cache prefetching.

Each does one candidate's (or one developer's) operations in the same floating-point order as the numpy
path (:mod:`sim.scores`, :mod:`sim.leaderboard`), so that the kernel returns the same bits.
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
