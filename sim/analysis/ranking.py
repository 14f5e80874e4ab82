"""Ranking statistics of a trajectory: whether the ranking matches capability, Kendall's tau, rank
changes and the default tail window.
"""

from __future__ import annotations

import numpy as np

from sim.analysis.keys import _CHUNK_ELEMENTS


def _rank_matrix(rank) -> np.ndarray:
    rank = np.asarray(rank)
    if rank.ndim != 2:
        raise ValueError(f"rank must have shape (T, n), got {rank.shape}")
    if not np.issubdtype(rank.dtype, np.integer):
        raise ValueError(f"rank must be an integer array, got dtype {rank.dtype}")
    return rank


def ranking_correct(rank, capability_order) -> np.ndarray:
    """``(T,)`` bool: True where ``rank[t, capability_order] == [1, 2, ..., n]``.

    ``rank (T, n)``; ``capability_order (n,)`` developer ids strongest first
    (a permutation of ``0..n-1``), so the ranking is correct when the
    strongest developer is ranked 1, the next 2, and so on.
    """
    rank = _rank_matrix(rank)
    order = np.asarray(capability_order)
    n = rank.shape[1]
    if order.shape != (n,) or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"capability_order must be {n} integer developer ids, got shape {order.shape}")
    if not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("capability_order must be a permutation of the developer ids 0..n-1")
    return np.all(rank[:, order] == np.arange(1, n + 1), axis=1)


def kendall_tau(rank, theta) -> np.ndarray:
    """Kendall's tau-b per round between the leaderboard ranking and capability.

    With ``x = -rank[t]`` (rank 1 best) and ``y = theta``, over the
    ``n0 = n (n - 1) / 2`` pairs ``i < j``::

        tau_b = sum sign(x_i - x_j) sign(y_i - y_j) / sqrt((n0 - n1) (n0 - n2))

    where ``n1`` and ``n2`` count the pairs tied in ``x`` and in ``y`` (equal
    capabilities are ties).  NaN when every capability is equal, when all
    ranks of a round are equal, or when ``n < 2`` (as
    ``scipy.stats.kendalltau(-rank[t], theta)``, variant ``"b"``).
    ``rank (T, n)``, ``theta (n,)``; returns ``(T,)`` float.  Vectorised over
    rounds; pairs are processed in blocks of developers, so memory stays
    bounded for large ``n`` (the work is ``O(T n**2)``).
    """
    rank = _rank_matrix(rank)
    theta = np.asarray(theta, dtype=np.float64)
    T, n = rank.shape
    if theta.shape != (n,):
        raise ValueError(f"theta must have shape ({n},), got {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite")
    if T == 0 or n < 2:
        return np.full(T, np.nan)
    x = -rank.astype(np.int64)
    n0 = n * (n - 1) // 2
    _, counts = np.unique(theta, return_counts=True)
    n2 = int(np.sum(counts * (counts - 1) // 2))
    if n2 == n0:
        return np.full(T, np.nan)
    concordance = np.zeros(T, dtype=np.int64)
    ties_x = np.zeros(T, dtype=np.int64)
    rows = max(1, min(T, _CHUNK_ELEMENTS // n))
    a = 0
    while a < n - 1:
        # developers i in [a, b) against j in [a, n); only the pairs j > i count
        b = min(n - 1, a + max(1, _CHUNK_ELEMENTS // (rows * (n - a))))
        upper = np.arange(a, b)[:, None] < np.arange(a, n)[None, :]
        sy = np.sign(theta[a:b, None] - theta[None, a:]).astype(np.int8) * upper
        for t0 in range(0, T, rows):
            xt = x[t0:t0 + rows]
            sx = np.sign(xt[:, a:b, None] - xt[:, None, a:]).astype(np.int8)
            concordance[t0:t0 + rows] += np.einsum("tij,ij->t", sx, sy, dtype=np.int64)
            ties_x[t0:t0 + rows] += np.count_nonzero((sx == 0) & upper, axis=(1, 2))
        a = b
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = concordance / np.sqrt((n0 - ties_x).astype(np.float64)) / np.sqrt(float(n0 - n2))
    tau = np.where(ties_x == n0, np.nan, tau)
    return np.clip(tau, -1.0, 1.0)


def rank_changes(rank) -> np.ndarray:
    """``(T,)`` int: number of developers whose rank differs from the previous round; 0 at ``t = 0``."""
    rank = _rank_matrix(rank)
    out = np.zeros(rank.shape[0], dtype=np.int64)
    if rank.shape[0] > 1:
        out[1:] = np.count_nonzero(rank[1:] != rank[:-1], axis=1)
    return out


def default_tail_window(rounds: int) -> int:
    """Rows of the statistics window by default: ``min(rounds + 1, max(10, (rounds + 1) // 4))``."""
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise ValueError(f"rounds must be a non-negative integer, got {rounds!r}")
    rounds = int(rounds)
    return min(rounds + 1, max(10, (rounds + 1) // 4))
