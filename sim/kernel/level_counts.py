"""Ranks on a large leaderboard from counts per published level (:func:`_count_board`, :func:`_rank_counted`),
the same numbers as the count over every rival (:func:`sim.kernel.primitives._rank`).

On a published grid (``delta > 0``) every level is an integer (``floor``), so the rivals strictly above
level ``L`` are those at level ``L + 1`` or higher.  Counted once per scenario into buckets by level (a
counting sort over the levels the board spans), a candidate's rank is two table reads and a scan of the
few rivals tied at its level, instead of a count over all ``n`` rivals for every candidate.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel.primitives import _cost, _level, _rank
from sim.kernel.rows import _DELTA, _G, _TOL

#: Buckets of at most this many entries are scanned by :func:`_rank_counted` in a loop of this fixed length
#: (entries past the bucket masked out): no branch on the bucket's size to mispredict.
TIE_WINDOW = 4

#: Leaderboards of at least this many developers rank candidates from counts per level (:func:`_count_board`)
#: in :func:`sim.kernel.respond_active`, one candidate per distinct target; smaller ones count over every rival
#: (branch-free, a few vector steps).  Measured warm per update in one process, alternating (captured boards of
#: the benchmark): 0.68 against 0.53 us at n = 30 (slower: the extra pass over the rivals costs more than the
#: count saves), 1.69 against 1.84 us at n = 100.
COUNTED_RANK_MIN_N = 64


@njit(cache=True, error_model="numpy", inline="always")
def _span_cap(n):
    """The widest board (highest minus lowest published level, plus one) counted by level: ``16 n + 64``
    levels; wider boards (rare: levels spread thinly) rank by the count over every rival."""
    return 16 * n + 64


@njit(cache=True, error_model="numpy", inline="always")
def _count_board(level, prio, delta, first, members):
    """Bucket scenario's board by published level: returns ``(lowest level, span, widest bucket)``,
    ``span = 0`` when not counted (exact scores ``delta = 0``, a NaN or infinite level, or a span above
    ``first.size - 1``).  ``members`` has room for ``n + TIE_WINDOW`` entries.

    After the call, for ``k < span`` the rivals at level ``lowest + k`` have their priorities in
    ``members[first[k]:first[k + 1]]``, and ``first[span] = n``: so ``n - first[k + 1]`` rivals lie
    strictly above level ``lowest + k``.
    """
    n = level.size
    if not delta > 0.0:
        return 0.0, 0, 0
    low, high = level[0], level[0]
    for j in range(1, n):
        low = min(low, level[j])
        high = max(high, level[j])
    for j in range(n):  # (min and max do not see every NaN)
        if not np.isfinite(level[j]):
            return 0.0, 0, 0
    if not high - low < first.size - 1:
        return 0.0, 0, 0
    span = int(high - low) + 1
    for k in range(span + 1):
        first[k] = 0
    for j in range(n):
        first[int(level[j] - low)] += 1
    total = 0
    widest = 0
    for k in range(span + 1):  # the end of each bucket ...
        widest = max(widest, first[k])
        total += first[k]
        first[k] = total
    for j in range(n - 1, -1, -1):  # ... moved to its start as the bucket is filled
        k = int(level[j] - low)
        first[k] -= 1
        members[first[k]] = prio[j]
    return low, span, widest


@njit(cache=True, error_model="numpy", inline="always")
def _rank_counted(level, prio, i, cand_level, low, span, first, members, widest):
    """:func:`sim.kernel.primitives._rank` (``1 +`` the rivals of developer ``i`` ranked above published
    level ``cand_level``) from the buckets of :func:`_count_board` (:func:`_rank_buckets`) when ``span > 0``,
    else the count itself."""
    if span == 0:
        return _rank(level, prio, i, cand_level)
    return _rank_buckets(level[i], prio[i], cand_level, level.size, low, span, first, members, widest)


@njit(cache=True, error_model="numpy", inline="always")
def _rank_buckets(own_level, p, cand_level, n, low, span, first, members, widest):
    """The rank of a developer of priority ``p`` at own level ``own_level`` reaching ``cand_level``, from the
    buckets of :func:`_count_board` (``span > 0``).

    With ``k = cand_level - low``: ``n - first[k + 1]`` entries lie strictly above and the entries of
    bucket ``k`` with a higher priority than ``p`` tie above; the developer's own entry is among them
    exactly when its level is higher (its priority is not higher than its own).  Buckets of at most
    ``TIE_WINDOW`` entries (``widest``, the board's widest) are scanned without branching.
    """
    off = cand_level - low
    if off >= span:  # above every entry (also +inf)
        return 1
    if off >= 0.0:
        k = int(off)
        start, end = first[k], first[k + 1]
        above = n - end
        if widest <= TIE_WINDOW:
            for q in range(start, start + TIE_WINDOW):  # (members has TIE_WINDOW entries of room)
                above += (q < end) & (members[q] > p)
        else:
            for q in range(start, end):
                above += members[q] > p
        return 1 + above - (1 if own_level > cand_level else 0)
    if off < 0.0:  # below every entry (also -inf): all rivals above
        return n
    return 1  # NaN: no entry compares above


@njit(cache=True, error_model="numpy", inline="always")
def _holds_counted(rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, cur_score, best_u,
                   counted, first, members):  # fmt: skip
    """:func:`sim.kernel.rows._holds` ranked from the buckets (:func:`_rank_buckets`)."""
    low, span, widest = counted
    k = _rank_buckets(level[i], prio[i], _level(cur_score, rp[_DELTA]), level.size, low, span, first, members,
                      widest)  # fmt: skip
    u = rewards[s, k - 1] - rp[_G] * _cost(cost_kind, cost_scale, cost_param, cur)
    return u >= best_u - rp[_TOL]
