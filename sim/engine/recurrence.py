"""Recurrence replay: deterministic simultaneous play that recurs exactly is replayed, not computed again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.engine.batch_game import BatchGame
    from sim.engine.settings import RunSettings


#: Whether deterministic runs replay a profile that recurs exactly instead of computing it again (:class:`Recurrence`).
REPLAY_RECURRENCES = True

#: Most entries (one effort each, 8 bytes) of the profile history a :class:`Recurrence` keeps.
RECURRENCE_HISTORY_ENTRIES = 1 << 24


class Recurrence:
    """Exact recurrences of deterministic simultaneous play, replayed instead of computed again.

    Under the simultaneous schedule with best responses and no noise, the
    next profile is a function of the current one: ``x(t + 1) = F(x(t))``
    (the response reads only the published leaderboard, which is a function
    of ``x(t)``, the game and the current efforts; the candidate cache only
    remembers values that would be computed afresh, bit for bit, and no random
    stream is drawn).  So once ``x(t) == x(t0)`` bit for bit for some
    ``t0 < t``, play repeats ``x(t0), ..., x(t - 1)`` forever:
    ``x(t + k) = x(t0 + k mod (t - t0))``.  Each scenario's profile is kept for
    the first ``H`` rounds (as many as fit in :data:`RECURRENCE_HISTORY_ENTRIES`),
    looked up by a hash of its bits and compared bit for bit
    (:func:`sim.kernel.recurrence_observe`); a scenario found to recur is no
    longer computed, its next profile is copied from its history
    (:func:`sim.kernel.recurrence_replay`).  The result is identical to
    computing every round.
    """

    def __init__(self, S: int, n: int, rounds: int):
        # At most 2**31 rounds: a table entry keeps the round in 32 bits.
        H = int(min(rounds + 1, max(1, RECURRENCE_HISTORY_ENTRIES // max(1, S * n)), 1 << 31))
        capacity = 1 << int(2 * H - 1).bit_length()  # a power of two at least 2 H: the table stays half empty
        # Scenario-major: a scenario that recurs stops writing, so its later rows are never touched (fresh
        # memory costs a page fault on first touch).
        self.history = np.empty((S, H, n), dtype=np.uint64)
        self.score_history = np.empty((S, H, n))
        self.table = np.full((S, capacity), -1, dtype=np.int64)
        self.start = np.zeros(S, dtype=np.int64)
        self.period = np.zeros(S, dtype=np.int64)
        self.active = np.ones(S, dtype=np.bool_)

    def observe(self, t: int, x: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Record ``x(t)`` and its true scores; returns the scenarios still to compute (``(S,)`` bool)."""
        from sim import kernel

        kernel.recurrence_observe(np.ascontiguousarray(x).view(np.uint64), np.ascontiguousarray(score), t,
                                  self.history, self.score_history, self.table, self.start, self.period,
                                  self.active)
        return self.active

    def replay(self, t: int, x_next: np.ndarray, score_next: np.ndarray) -> None:
        """Overwrite ``x_next`` and ``score_next`` (C-contiguous float ``(S, n)``) with ``x(t + 1)`` and its
        true scores where the scenario recurs (elsewhere they are left alone)."""
        from sim import kernel

        kernel.recurrence_replay(x_next.view(np.uint64), score_next, t, self.history, self.score_history,
                                 self.start, self.period)


def _replays(game: BatchGame, settings: RunSettings) -> bool:
    """Whether :class:`Recurrence` applies: simultaneous best responses, no noise, the compiled kernel."""
    return (
        REPLAY_RECURRENCES
        and settings.schedule == "simultaneous"
        and settings.response == "best"
        and not bool(np.any(game.noise > 0))
        and game.kernel_spec is not None
    )
