"""The candidate cache: least efforts remembered across rounds (:class:`CandidateCache`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.engine.batch_game import BatchGame


#: Most entries of a :class:`CandidateCache` level table (16 bytes each, 256 MiB at most, of which only the
#: pages of levels met are ever touched): enough for every level of 1,000 scenarios of 30 developers, or 200
#: of 100, on the benchmark's scores; beyond it the table is cut to its lowest levels.
LEVEL_TABLE_ENTRIES = 1 << 24


class CandidateCache:
    """Least efforts remembered across rounds, so a target met before is not searched for again.

    On a published grid (``delta > 0``) a target is the least score at a
    grid level, so the least effort for developer ``i`` depends on the level
    only: a table ``(S, W, n, 2)`` of ``(effort, score)``, indexed by the
    level (counted from ``origin[s]``, one above the lowest zero-effort level
    in the scenario) and the developer, remembers every level met so far
    (arms races revisit the same levels cycle after cycle).  All developers'
    entries for one level sit side by side, so the few levels a race is
    fought over stay in the processor's cache.  ``least`` remembers the least
    score at each level: it depends on the level and the resolution only, so
    scenarios with the same resolution share one row (``least_row[s]``,
    counted from ``least_origin[s]``), small enough to stay in the
    processor's cache.  Levels outside the table, and exact scores
    (``delta = 0``), fall back to remembering the last target per developer
    and rival (which the numpy path also tries first; the compiled kernel
    goes to the table, whose rows it prefetches).  An entry is reused only for the
    bit-for-bit same target (same scenario, developer and ``tau``), so
    results are exactly those computed afresh.  When the levels from the
    origin to the highest reach would exceed :data:`LEVEL_TABLE_ENTRIES`
    entries (many scenarios or developers), the table is cut to the lowest
    ``LEVEL_TABLE_ENTRIES // (S n)`` levels above the origin instead of left
    out: the reach is a bound far above where races are fought (the highest
    score worth any reward span), so the levels rivals hold are mostly the low
    ones, and a level above the table falls back to the last target.
    """

    def __init__(self, game: BatchGame, table: bool = True):
        S, n = game.shape
        self.target = np.full((S, n, n), np.nan)
        self.effort = np.empty((S, n, n))
        self.score = np.empty((S, n, n))
        self.width = 0
        # Placeholders when there is no level table (the compiled kernel needs arrays of the right types).
        self.origin = np.zeros(S)
        self.table = np.zeros((1, 1, 1, 2))
        self.least = np.zeros((1, 1))
        self.least_width = 0
        self.least_row = np.zeros(S, dtype=np.int64)
        self.least_origin = np.zeros(S)
        grid = game.resolution > 0
        if table and grid.any():
            base = game.levels(game.baseline)
            top = game.levels(np.where(np.isfinite(game.reach), game.reach, game.baseline))
            origin = np.where(grid, base.min(axis=1) + 1.0, 0.0)
            span = np.where(grid[:, None] & np.isfinite(game.reach), top - origin[:, None] + 1.0, 0.0)
            # Cut to fit LEVEL_TABLE_ENTRIES (the lowest levels above the origin), not left out.
            width = min(int(span.max(initial=0.0)), LEVEL_TABLE_ENTRIES // (S * n))
            if 0 < width:
                self.width = width
                self.origin = origin
                self.grid = grid
                # Effort 0 = not yet computed (a target above the zero-effort score needs a positive effort; an
                # entry of 0 would only be computed again). Zeros, not a fill: pages never written are never
                # touched (most of the table is never used).
                self.table = np.zeros((S, width, n, 2))
                # Least score at level least_origin - 1 + k (rivals sit at most one level below the origin),
                # one row per resolution; one row per scenario if the shared rows would be too long.
                deltas, row = np.unique(game.resolution, return_inverse=True)
                low = np.full(deltas.size, np.inf)
                np.minimum.at(low, row[grid], origin[grid])
                high = np.full(deltas.size, -np.inf)
                np.maximum.at(high, row[grid], origin[grid])
                shared = int(np.max(np.where(np.isfinite(low), high - low, 0.0))) + width
                if deltas.size * (shared + 2) <= min(LEVEL_TABLE_ENTRIES, S * (width + 2)):
                    self.least_width = shared
                    self.least_row = row.astype(np.int64)
                    self.least_origin = np.where(grid, low[row], 0.0)
                    self.least = np.full((deltas.size, shared + 2), np.nan)
                else:
                    self.least_width = width
                    self.least_row = np.arange(S, dtype=np.int64)
                    self.least_origin = origin
                    self.least = np.full((S, width + 2), np.nan)

    def _slots(self, s_idx, target_level):
        """Table row for each entry (``-1`` where the level table does not apply)."""
        if not self.width:
            return np.full(s_idx.shape, -1, dtype=np.int64)
        offset = target_level - self.origin[s_idx]
        ok = self.grid[s_idx] & (offset >= 0) & (offset < self.width)
        return np.where(ok, offset, -1).astype(np.int64)

    def lookup(self, s_idx, dev, j_idx, target, target_level):
        """``(hit, effort, score, slot)`` for the given entries; ``effort``/``score`` are valid where ``hit``.

        The last target per developer and rival is tried first, then the level table.
        """
        slot = self._slots(s_idx, target_level)
        hit = self.target[s_idx, dev, j_idx] == target
        x = self.effort[s_idx, dev, j_idx]
        reached = self.score[s_idx, dev, j_idx]
        by_level = ~hit & (slot >= 0)
        if by_level.any():
            found = self.table[s_idx[by_level], slot[by_level], dev[by_level]]
            known = found[:, 0] != 0.0
            where = np.flatnonzero(by_level)[known]
            hit[where] = True
            x[where] = found[known, 0]
            reached[where] = found[known, 1]
        return hit, x, reached, slot

    def store(self, s_idx, dev, j_idx, target, slot, x, reached):
        self.target[s_idx, dev, j_idx] = target
        self.effort[s_idx, dev, j_idx] = x
        self.score[s_idx, dev, j_idx] = reached
        by_level = slot >= 0
        if by_level.any():
            sl, dl, kl = s_idx[by_level], dev[by_level], slot[by_level]
            self.table[sl, kl, dl, 0] = x[by_level]
            self.table[sl, kl, dl, 1] = reached[by_level]
