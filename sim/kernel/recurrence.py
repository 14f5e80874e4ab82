"""Exact recurrence of deterministic play (:func:`recurrence_observe`, :func:`recurrence_replay`) and the
per-round records (:func:`record_round`), compiled.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel.primitives import _prefetch, _prefetch_write

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
