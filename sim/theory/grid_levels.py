"""The stabilising threshold on a published-score grid (``delta > 0``): every level the rival can reach is
enumerated and the last one before which Proposition 4.5 fails is returned (exact, no sampling).
"""

from __future__ import annotations

import numpy as np

from sim.game import LeaderboardGame, utility_tolerance
from sim.leaderboard import grid_index, least_score_at_index
from sim.rewards import reward_gaps
from sim.scores import ExpSaturation, PowerLaw, ScoreFamily, least_effort
from sim.theory.pairs import _pairs, _weaker_wins_ties
from sim.theory.stabilising import StabilisingThreshold

#: Levels of the published grid that :func:`stabilising_threshold` enumerates
#: exactly when ``delta > 0``; above this it falls back to a sampled search.
MAX_GRID_LEVELS = 2_000_000


#: Most grid levels enumerated over all pairs together (about 10 microseconds each); beyond, the sampled
#: search is used and its answer is not vouched for (bounded time on any leaderboard).
MAX_TOTAL_GRID_LEVELS = 2_000_000


#: Most rival grid levels :func:`_threshold_grid_levels` evaluates at once; pairs are batched up to it (memory).
LEVELS_PER_BATCH = 500_000


def _threshold_grid_levels(game: LeaderboardGame, batch: int | None = None) -> StabilisingThreshold | None:
    """Exact ``tau*`` for ``delta > 0`` by enumerating the rival's grid levels; ``None`` if not possible.

    All pairs at once: the levels of every pair are laid end to end and each
    score family is indexed per level, so :func:`sim.scores.least_effort`
    runs twice per batch of pairs (rival crossings, then the challenger's
    efforts) however many pairs there are.  Every quantity is computed
    element by element exactly as in the pair-by-pair loop
    (:func:`_threshold_grid_levels_reference`), so the result is bit-identical.
    ``batch`` caps the levels evaluated at once (default :data:`LEVELS_PER_BATCH`).
    """
    delta = game.resolution
    strong, weak = _pairs(game)
    gaps = reward_gaps(game.rewards)
    tol = utility_tolerance(game.rewards)
    tie_offset = np.where(_weaker_wins_ties(game), 0.0, 1.0)
    per_pair = np.zeros(game.n - 1)
    pairs = np.flatnonzero(~(gaps <= tol))  # elsewhere c(Delta) >= 0 >= gap - tol everywhere
    if pairs.size:
        rival = game.score[strong[pairs]]
        start = grid_index(rival.score(0.0), delta)
        top = grid_index(rival.limit(), delta)
        if not np.all(np.isfinite(start) & np.isfinite(top)) or np.any(top - start > MAX_GRID_LEVELS):
            return None
        counts = np.maximum(top - start, 0.0).astype(np.int64)
        if int(counts.sum()) > MAX_TOTAL_GRID_LEVELS:
            return None
        for run in _level_batches(counts, LEVELS_PER_BATCH if batch is None else batch):
            k = pairs[run]
            per_pair[k] = _grid_level_thresholds(
                game, strong[k], weak[k], start[run], top[run], counts[run], gaps[k], tol, tie_offset[k]
            )
    never = not np.all(np.isfinite(per_pair))
    note = "the weaker developer can always catch up once the rival's score stops rising" if never else ""
    return StabilisingThreshold(per_pair, True, "grid_levels", np.inf, note)


def _level_batches(counts: np.ndarray, cap: int) -> list[slice]:
    """Runs of consecutive pairs whose level counts add up to at most ``cap`` (a larger pair goes alone)."""
    batches, begin, total = [], 0, 0
    for k, count in enumerate(counts.tolist()):
        if k > begin and total + count > cap:
            batches.append(slice(begin, k))
            begin, total = k, 0
        total += count
    batches.append(slice(begin, len(counts)))
    return batches


#: Bounds, in bits, on the float search steps :func:`_least_effort_grouped` predicts for its groups (each
#: group costs a fixed overhead, so finer groups only for many elements, from :data:`MANY_ELEMENTS` on).
SEARCH_GROUP_BITS = (8,)


SEARCH_GROUP_BITS_MANY = (3, 6, 10)


MANY_ELEMENTS = 20_000


def _least_effort_grouped(family: ScoreFamily, tau, target) -> np.ndarray:
    """:func:`sim.scores.least_effort`, called separately on groups of elements by predicted search length.

    ``least_effort`` treats every element independently, but its float search
    runs over all of them for as many steps as the slowest needs; a few
    elements where the score is flat in doubles (targets at a saturating
    limit, say) would otherwise make thousands of easy ones take dozens of
    steps.  The prediction is ``log2`` of the effort ulps per score ulp at the
    family's inverse; it only decides the grouping, never a result.
    """
    tau = np.asarray(tau, dtype=float)
    target = np.asarray(target, dtype=float)
    if not isinstance(family, (PowerLaw, ExpSaturation)) or target.ndim != 1:
        return least_effort(family, tau, target)
    tau = np.broadcast_to(tau, target.shape)
    with np.errstate(all="ignore"):
        e = tau + np.maximum(family.effort_to_reach(target) - tau, 0.0)
        probe = 2.0**16 * np.spacing(e)
        rise = family.score(e + probe) - family.score(e)
        # log2(effort ulps per score ulp) = 16 + log2(spacing(target) / rise)
        ratio = np.spacing(target) / rise
    bits = SEARCH_GROUP_BITS_MANY if target.size >= MANY_ELEMENTS else SEARCH_GROUP_BITS
    group = np.searchsorted(np.exp2(np.subtract(bits, 16.0)), np.where(np.isfinite(e), ratio, 0.0))
    group = np.where(np.isnan(ratio) & np.isfinite(e), len(bits), group)  # no rise at all: the slowest group
    result = np.empty(target.shape)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        result[members] = least_effort(family[members], tau[members], target[members])
    return result


def _grid_level_thresholds(game, strong, weak, start, top, counts, gaps, tol, tie_offset) -> np.ndarray:
    """Per-pair ``tau*`` of :func:`_threshold_grid_levels` for pairs ``(strong[j], weak[j])`` with rival levels
    ``start[j] + 1 .. top[j]`` (``counts[j]`` of them, ``top`` being the limit's level)."""
    delta = game.resolution
    m = strong.size
    total = int(counts.sum())
    owner = np.repeat(np.arange(m), counts)  # the pair of each level
    first = np.cumsum(counts) - counts  # where each pair's levels begin
    # Levels the rival's baseline crosses as tau grows, and when it crosses them.
    levels = start[owner] + (np.arange(total) - first[owner] + 1).astype(float)
    crossing = np.empty(0)
    if total:
        crossing = _least_effort_grouped(game.score[strong[owner]], 0.0, least_score_at_index(levels, delta))
    # The rival's highest level is the limit's (each pair's last level), unless the limit is only approached.
    has = counts > 0
    last = (first + counts - 1)[has]
    unreached = ~np.isfinite(crossing[last])
    top = top.copy()
    top[np.flatnonzero(has)[unreached]] -= 1
    top = np.maximum(top, start)
    keep = np.ones(total, dtype=bool)
    keep[last[unreached]] = False
    owner, levels, crossing = owner[keep], levels[keep], crossing[keep]
    # Just before crossing level m the rival is at level m - 1.  After the last crossing the rival's level
    # stays put and Delta falls without bound: the pair never stabilises if the challenger can reach the next.
    targets = least_score_at_index(np.concatenate([levels - 1 + tie_offset[owner], top + tie_offset]), delta)
    efforts = _least_effort_grouped(
        game.score[np.concatenate([weak[owner], weak])], np.concatenate([crossing, np.zeros(m)]), targets
    )
    left_limit, final = efforts[: owner.size], efforts[owner.size :]
    with np.errstate(over="ignore"):  # the costs of unreachable targets (masked below) may overflow
        cost = game.gamma[weak[owner]] * np.where(np.isfinite(left_limit), game.cost(np.nan_to_num(left_limit)), np.inf)
    failing = np.flatnonzero(cost < gaps[owner] - tol)
    result = np.zeros(m)
    if failing.size:
        pair = owner[failing]
        last_of_pair = np.append(pair[1:] != pair[:-1], True)
        result[pair[last_of_pair]] = crossing[failing[last_of_pair]]
    result[np.isfinite(final)] = np.inf
    return result


def _threshold_grid_levels_reference(game: LeaderboardGame) -> StabilisingThreshold | None:
    """Pair-by-pair form of :func:`_threshold_grid_levels` (the original loop), kept as its test reference."""
    delta = game.resolution
    strong, weak = _pairs(game)
    gaps = reward_gaps(game.rewards)
    tol = utility_tolerance(game.rewards)
    tie_offset = np.where(_weaker_wins_ties(game), 0.0, 1.0)
    per_pair = np.zeros(game.n - 1)
    for k in range(game.n - 1):
        if gaps[k] <= tol:
            continue  # c(Delta) >= 0 >= gap - tol everywhere
        rival, challenger = game.score[strong[k]], game.score[weak[k]]
        start = float(grid_index(rival.score(0.0), delta))
        top = float(grid_index(rival.limit(), delta))
        if not (np.isfinite(start) and np.isfinite(top)) or top - start > MAX_GRID_LEVELS:
            return None
        # The rival's highest level is the limit's, unless the limit is only approached.
        if top > start and not np.isfinite(least_effort(rival, 0.0, least_score_at_index(top, delta))):
            top -= 1
        top = max(top, start)
        count = int(top - start)
        # Levels the rival's baseline crosses as tau grows, and when it crosses them.
        levels = start + np.arange(1, count + 1, dtype=float)
        crossing = least_effort(rival, 0.0, least_score_at_index(levels, delta))
        # Just before crossing level m the rival is at level m - 1.
        target = least_score_at_index(levels - 1 + tie_offset[k], delta)
        left_limit = least_effort(challenger, crossing, target)
        cost = game.gamma[weak[k]] * np.where(np.isfinite(left_limit), game.cost(np.nan_to_num(left_limit)), np.inf)
        failing = np.flatnonzero(cost < gaps[k] - tol)
        # After the last crossing the rival's level stays put and Delta falls without bound.
        final_target = least_score_at_index(top + tie_offset[k], delta)
        if np.isfinite(least_effort(challenger, 0.0, final_target)):
            per_pair[k] = np.inf
        elif failing.size:
            per_pair[k] = crossing[failing[-1]]
    never = not np.all(np.isfinite(per_pair))
    note = "the weaker developer can always catch up once the rival's score stops rising" if never else ""
    return StabilisingThreshold(per_pair, True, "grid_levels", np.inf, note)
