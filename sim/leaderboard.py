"""The published leaderboard: resolution, ranking and tie-breaking.

The leaderboard publishes each score rounded down to a multiple of its
resolution ``delta`` (``delta = 0``: exact scores) and ranks by the published
score, rank 1 highest.  Equal published scores are a tie, broken by a strict
*priority* per developer (higher wins):

* ``"capability"``: the higher capability wins (the paper's rule; equal
  capabilities fall back to the lower id);
* ``"id"``: the lower developer id wins;
* ``"random"``: a seeded random permutation.

Ranks are computed from grid *indices* ``floor(s / delta + slack)`` rather than from
rounded floats, so ranking is monotone in the true score and round-off never
hands out a rank that was not earned.  :func:`least_score_at_index` gives the
exact least float whose index reaches a grid level, which is what a developer
must score to draw level with, or beat, a rival.

See ``docs/model.md#the-published-leaderboard``.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ScenarioError

TIE_BREAKS = ("capability", "id", "random")


def check_resolution(resolution: float) -> float:
    """Validate a resolution ``delta >= 0`` and return it as a float."""
    resolution = float(resolution)
    if not (np.isfinite(resolution) and resolution >= 0):
        raise ScenarioError("resolution", resolution, "must be a finite number >= 0")
    return resolution


#: Slack, in ulps of ``s / delta``, below a grid line within which a score
#: publishes on the line: decimal scores such as 0.3 are stored as
#: 0.29999999999999998890, and ``0.3 / 0.01`` is ``29.999999999999996``; with
#: the slack the score publishes as 0.30, the decimal it stands for.  It is a
#: few ulps only, so no score the model keeps measurably below a line (a limit
#: on the line, say) is published on it; the rule stays monotone in the score,
#: so ranks remain exactly consistent.
GRID_SLACK_ULPS = 16


def grid_index(scores, resolution) -> np.ndarray:
    """The published grid level ``floor(s / delta + slack)``; the score itself when ``delta = 0``.

    ``slack = GRID_SLACK_ULPS * eps * |s / delta|`` absorbs the binary
    representation error of decimal scores (see :data:`GRID_SLACK_ULPS`).
    ``resolution`` is a number or an array broadcastable against ``scores``
    (one resolution per scenario in a batch); entries with ``delta = 0`` give
    the score itself, exactly as the scalar rule does.
    """
    scores = np.asarray(scores, dtype=float)
    if np.ndim(resolution) == 0:
        if resolution == 0:
            return scores
        q = scores / resolution
        return np.floor(q + _SLACK * np.abs(q))
    resolution = np.asarray(resolution, dtype=float)
    exact = resolution == 0
    q = scores / np.where(exact, 1.0, resolution)
    return np.where(exact, scores, np.floor(q + _SLACK * np.abs(q)))


_SLACK = GRID_SLACK_ULPS * float(np.finfo(float).eps)


def published_scores(scores, resolution) -> np.ndarray:
    """Scores as the leaderboard shows them: rounded down to a multiple of ``delta`` (``index * delta``).

    ``resolution`` may be an array broadcastable against ``scores``; ``delta = 0`` entries show the score.
    """
    if np.ndim(resolution) == 0:
        if resolution == 0:
            return np.asarray(scores, dtype=float)
        return grid_index(scores, resolution) * resolution
    resolution = np.asarray(resolution, dtype=float)
    return np.where(resolution == 0, np.asarray(scores, dtype=float), grid_index(scores, resolution) * resolution)


def least_score_at_index(index, resolution: float, max_steps: int = 64) -> np.ndarray:
    """The least float ``s`` with ``grid_index(s, delta) >= index`` (``delta > 0``).

    ``(index - slack) * delta`` is off by a few ulps in either direction; this
    walks it to the exact boundary with ``nextafter`` so that reaching the
    returned score is both necessary and sufficient for the published level.
    """
    if np.any(np.asarray(resolution) <= 0):
        raise ValueError("least_score_at_index needs a resolution > 0")
    index = np.asarray(index, dtype=float)
    # The slack lets scores a few ulps below the line publish on it: start there, then walk to the exact boundary.
    t = index * resolution
    t = t - _SLACK * np.abs(t)
    for _ in range(max_steps):
        low = grid_index(t, resolution) < index
        if not low.any():
            break
        t = np.where(low, np.nextafter(t, np.inf), t)
    for _ in range(max_steps):
        prev = np.nextafter(t, -np.inf)
        can = grid_index(prev, resolution) >= index
        if not can.any():
            break
        t = np.where(can, prev, t)
    return t


def overtake_target(rival_scores, resolution: float, wins_ties) -> np.ndarray:
    """Least score that ranks a challenger above a rival with score ``rival_scores``.

    ``wins_ties`` (bool, broadcastable) says whether the challenger wins a tie
    against that rival.  With ``delta > 0`` the challenger must reach the
    rival's published level (if it wins ties) or the next one; with
    ``delta = 0`` the rival's score itself, or the next float above it.
    """
    rival_scores = np.asarray(rival_scores, dtype=float)
    wins_ties = np.asarray(wins_ties, dtype=bool)
    if resolution == 0:
        return np.where(wins_ties, rival_scores, np.nextafter(rival_scores, np.inf))
    level = grid_index(rival_scores, resolution) + np.where(wins_ties, 0.0, 1.0)
    return least_score_at_index(level, resolution)


def tie_priority(theta, rule: str = "capability", rng: np.random.Generator | None = None) -> np.ndarray:
    """A strict priority per developer (higher wins ties) under ``rule``.

    ``theta`` has developers along its last axis.  Returns integers
    ``0..n-1`` with the same shape.  ``"random"`` needs ``rng`` and draws one
    permutation per leading index.
    """
    theta = np.asarray(theta, dtype=float)
    n = theta.shape[-1]
    ids = np.broadcast_to(np.arange(n), theta.shape)
    if rule == "capability":
        # Sort by capability ascending, then by id descending (lower id wins equal capabilities).
        order = np.lexsort((-ids, theta), axis=-1)
    elif rule == "id":
        order = np.broadcast_to(np.arange(n)[::-1], theta.shape)
    elif rule == "random":
        if rng is None:
            raise ValueError("random tie-breaking needs a numpy Generator (rng)")
        order = rng.permuted(np.broadcast_to(np.arange(n), theta.shape).copy(), axis=-1)
    else:
        raise ScenarioError("tie_break", rule, f"unknown tie rule; choose one of {', '.join(TIE_BREAKS)}")
    priority = np.empty(theta.shape, dtype=np.int64)
    np.put_along_axis(priority, order, np.broadcast_to(np.arange(n), theta.shape), axis=-1)
    return priority


def capability_order(theta, priority) -> np.ndarray:
    """Developer ids from strongest to weakest; equal capabilities by tie priority (higher first)."""
    return np.lexsort((-np.asarray(priority), -np.asarray(theta, dtype=float)))


def ranks(scores, resolution: float, priority) -> np.ndarray:
    """Rank of every developer (1 = top) along the last axis.

    Ranked by published level, descending, then by ``priority``, descending.
    """
    level = grid_index(scores, resolution)
    priority = np.broadcast_to(np.asarray(priority), level.shape)
    order = np.lexsort((-priority, -level), axis=-1)
    out = np.empty(level.shape, dtype=np.int64)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(1, level.shape[-1] + 1), level.shape), axis=-1)
    return out


def ranked_above(level_a, priority_a, level_b, priority_b) -> np.ndarray:
    """Whether ``a`` is ranked above ``b``, from published levels and priorities."""
    return (level_a > level_b) | ((level_a == level_b) & (priority_a > priority_b))
