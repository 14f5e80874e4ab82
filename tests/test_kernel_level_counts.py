"""Ranks from counts per published level (sim.kernel.level_counts) and the response kernel on boards of
COUNTED_RANK_MIN_N developers and more that uses them: the same numbers as the count over every rival
(sim.kernel._rank), and the same bits as the exact numpy reference."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit
from strategies import assumption_games

from sim import kernel
from sim.engine import BatchGame, CandidateCache, hold_current
from sim.kernel.level_counts import COUNTED_RANK_MIN_N, TIE_WINDOW, _count_board, _rank_counted, _span_cap


@njit(cache=True)
def _both_ranks(level, prio, delta, cand_levels):
    """For every developer and candidate level: (counted rank, rank by the count over every rival), and the
    board's (span, widest bucket)."""
    n = level.size
    first = np.empty(_span_cap(n) + 1, dtype=np.int64)
    members = np.empty(n + TIE_WINDOW, dtype=prio.dtype)
    low, span, widest = _count_board(level, prio, delta, first, members)
    counted = np.empty((n, cand_levels.size), dtype=np.int64)
    counted_all = np.empty((n, cand_levels.size), dtype=np.int64)
    for i in range(n):
        for c in range(cand_levels.size):
            counted[i, c] = _rank_counted(level, prio, i, cand_levels[c], low, span, first, members, widest)
            counted_all[i, c] = kernel._rank(level, prio, i, cand_levels[c])
    return counted, counted_all, span, widest


@st.composite
def boards(draw):
    """Integer published levels (a few distinct values, so many ties, or spread wider than the counted span
    cap), priorities with ties, and candidate levels on, between, below and above the board, infinite or NaN."""
    n = draw(st.integers(1, 40))
    spread = draw(st.sampled_from([2, 6, 60, 20 * n + 200]))
    origin = draw(st.integers(-50, 10**6))
    level = origin + np.array(draw(st.lists(st.integers(0, spread), min_size=n, max_size=n)), dtype=float)
    prio = np.array(draw(st.lists(st.integers(0, draw(st.integers(0, 2 * n))), min_size=n, max_size=n)))
    extra = draw(st.lists(st.integers(-3, spread + 3), max_size=6))
    cand = np.concatenate([level, level + 1.0, origin + np.array(extra, dtype=float), [np.inf, -np.inf, np.nan]])
    return level, prio.astype(np.int64), cand


@settings(max_examples=200, deadline=None)  # ~1 s: boards are cheap, and every shape of tie is drawn
@given(board=boards())
def test_counted_rank_is_the_count_over_every_rival(board):
    level, prio, cand = board
    counted, counted_all, span, widest = _both_ranks(level, prio, 1e-3, cand)
    np.testing.assert_array_equal(counted, counted_all)
    wide = level.max() - level.min() + 1 > _span_cap(level.size)
    assert (span == 0) == wide  # counted unless wider than the cap
    if span:
        assert widest == np.unique(level, return_counts=True)[1].max()


def test_counted_rank_falls_back_without_a_grid_or_with_a_nan_level():
    level = np.array([3.0, 1.0, 3.0, 2.0])
    prio = np.array([0, 1, 2, 3])
    cand = np.array([0.0, 1.0, 2.0, 3.0, 4.0, np.nan])
    for delta, board in ((0.0, level), (1e-3, np.array([3.0, np.nan, 3.0, 2.0]))):
        counted, counted_all, span, _ = _both_ranks(board, prio, delta, cand)
        assert span == 0
        np.testing.assert_array_equal(counted, counted_all)


def _assert_same(batch, evaluated, x, cache):
    S, n = batch.shape
    rows = np.broadcast_to(np.arange(n), (S, n))
    got = batch.respond(evaluated, rows, cache=cache, current=x)
    want = batch._respond_numpy(evaluated, rows, False, None)
    for name in ("effort", "score", "rank", "utility"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got.next_effort, hold_current(batch, evaluated, rows, x, want))


def _profiles(batch, rng, count):
    """Zeros (many developers level at their zero-effort scores: many rivals share a target), spread efforts
    and a few far ahead."""
    S, n = batch.shape
    for _ in range(count):
        x = rng.exponential(rng.choice([0.3, 5.0, 100.0]), size=(S, n)) * (rng.random((S, n)) < rng.uniform(0.2, 0.9))
        yield np.minimum(x, batch.budget)


# 10 random games of COUNTED_RANK_MIN_N to COUNTED_RANK_MIN_N + 16 developers, three profiles each, one cache
# kept across them.
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(game=assumption_games(min_n=COUNTED_RANK_MIN_N, max_n=COUNTED_RANK_MIN_N + 16), seed=st.integers(0, 2**32 - 1))
def test_counted_board_equals_the_numpy_reference_on_random_games(game, seed):
    """Under the paper's assumptions: ranks from the counts, one candidate per distinct target."""
    batch = BatchGame.from_games([game])
    rng = np.random.default_rng(seed)
    cache = CandidateCache(batch)
    for x in _profiles(batch, rng, 3):
        _assert_same(batch, batch.scores(x), x, cache)


def test_counted_board_equals_numpy_outside_the_assumptions():
    """Unordered rewards, tied priorities, noise, budgets, a coarse grid (wide buckets, more than TIE_WINDOW
    developers on a level) and a NaN score (the count over every rival) give the reference's bits."""
    from sim.costs import PowerCost
    from sim.game import LeaderboardGame
    from sim.scores import PowerLaw

    n, S = COUNTED_RANK_MIN_N + 6, 4
    rng = np.random.default_rng(12)
    theta = rng.uniform(0.1, 1.0, n)
    score = PowerLaw(lower=np.full(n, 0.2), upper=np.full(n, 0.9), alpha=-2 + 2 * theta, beta=0.3 + 0.3 * theta)
    games = [
        LeaderboardGame(theta, score, PowerCost(0.002, 1.5), np.linspace(1, 0, n), tau=t, resolution=resolution)
        for t, resolution in ((0.0, 1e-3), (3.0, 0.05), (50.0, 1e-3), (1.0, 0.0))
    ]
    batch = BatchGame.from_games(games, budget=np.where(rng.random((S, n)) < 0.3, 20.0, np.inf))
    batch = dataclasses.replace(batch, rewards=rng.uniform(0, 1, (S, n)), priority=rng.integers(0, 4, (S, n)))
    cache = CandidateCache(batch)
    for x in _profiles(batch, rng, 4):
        evaluated = batch.scores(x) + rng.normal(0, 2e-3, (S, n))
        _assert_same(batch, evaluated, x, cache)
    x = next(_profiles(batch, rng, 1))
    evaluated = batch.scores(x)
    evaluated[0, 5] = np.nan
    _assert_same(batch, evaluated, x, cache)
