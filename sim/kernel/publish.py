"""Publishing scores, compiled: the true and published scores of the efforts played (:func:`publish`,
:func:`next_scores`, :func:`publish_known`), the same bits as the numpy path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernel.primitives import _level, _score


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
