"""Large leaderboards in the compiled kernel: the sorted board (sim.kernel._best_row_sorted) and the level
table cut to fit (sim.engine.cache), bit for bit the exact numpy reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import assumption_games

from sim import kernel
from sim.engine import BatchGame, CandidateCache, hold_current, run_batch
from sim.engine import cache as cache_module

FIELDS = ("effort", "score", "rank", "utility")


def _profiles(batch, rng, count):
    """Efforts of every kind: zeros (many developers level at their zero-effort scores, so many rivals share
    a target), spread efforts, and a few developers far ahead."""
    S, n = batch.shape
    for _ in range(count):
        scale = rng.choice([0.3, 5.0, 100.0])
        x = rng.exponential(scale, size=(S, n)) * (rng.random((S, n)) < rng.uniform(0.2, 0.9))
        yield np.minimum(x, batch.budget)


def _assert_same(batch, evaluated, x, cache):
    S, n = batch.shape
    rows = np.broadcast_to(np.arange(n), (S, n))
    got = batch.respond(evaluated, rows, cache=cache, current=x)
    want = batch._respond_numpy(evaluated, rows, False, None)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got.next_effort, hold_current(batch, evaluated, rows, x, want))


# 12 random games of 128 to 160 developers (every one on the sorted board), three profiles each, one candidate
# cache kept across them as in play: a few seconds.
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(game=assumption_games(min_n=kernel.SORTED_BOARD_MIN_N, max_n=160), seed=st.integers(0, 2**32 - 1))
def test_sorted_board_equals_the_numpy_reference_on_random_games(game, seed):
    """Under the paper's assumptions (C1-C3, convex cost, non-increasing rewards, ties by capability)."""
    batch = BatchGame.from_games([game])
    rng = np.random.default_rng(seed)
    cache = CandidateCache(batch)
    for x in _profiles(batch, rng, 3):
        _assert_same(batch, batch.scores(x), x, cache)


@pytest.mark.parametrize("resolution", [0.0, 1e-3])
def test_sorted_board_equals_numpy_outside_the_assumptions(resolution):
    """Exactness does not rest on the assumptions: increasing (unsorted) rewards, tied priorities, evaluation
    noise and budgets give the same bits as the reference, and so does a NaN score (the kernel falls back to
    counting every rival)."""
    from sim.costs import PowerCost
    from sim.game import LeaderboardGame
    from sim.scores import PowerLaw

    n, S = kernel.SORTED_BOARD_MIN_N + 2, 3
    rng = np.random.default_rng(11)
    theta = rng.uniform(0.1, 1.0, n)
    score = PowerLaw(lower=np.full(n, 0.2), upper=np.full(n, 0.9), alpha=-2 + 2 * theta, beta=0.3 + 0.3 * theta)
    games = [
        LeaderboardGame(theta, score, PowerCost(0.002, 1.5), np.linspace(1, 0, n), tau=t, resolution=resolution)
        for t in (0.0, 3.0, 50.0)
    ]
    batch = BatchGame.from_games(games, budget=np.where(rng.random((S, n)) < 0.3, 20.0, np.inf))
    # Rewards in no order (a game refuses them) and many equal priorities.
    batch = dataclasses.replace(batch, rewards=rng.uniform(0, 1, (S, n)), priority=rng.integers(0, 4, (S, n)))
    cache = CandidateCache(batch)
    for x in _profiles(batch, rng, 4):
        evaluated = batch.scores(x) + rng.normal(0, 2e-3, (S, n))
        _assert_same(batch, evaluated, x, cache)
    x = next(_profiles(batch, rng, 1))
    evaluated = batch.scores(x)
    evaluated[1, 5] = np.nan
    _assert_same(batch, evaluated, x, cache)


def test_cut_level_table_plays_the_same_bits(monkeypatch):
    """A level table cut to a few levels (``LEVEL_TABLE_ENTRIES`` small) instead of left out: the same run,
    bit for bit, as with the whole table."""
    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    items = [
        parse_scenario(sampled_arms_race(30, seed=50 + k, tau=float(t), rounds=40, name=f"cut-{k}"))
        for k, t in enumerate((0.0, 2.0, 9.0))
    ]
    whole = run_batch(items, record="full", max_rounds=40)
    game = whole.game
    full_width = CandidateCache(game).width
    S, n = game.shape
    monkeypatch.setattr(cache_module, "LEVEL_TABLE_ENTRIES", S * n * max(1, full_width // 8))
    cut = CandidateCache(game)
    assert 0 < cut.width < full_width
    again = run_batch(items, record="full", max_rounds=40)
    for name in ("effort", "score", "published", "rank"):
        np.testing.assert_array_equal(getattr(again, name), getattr(whole, name), err_msg=name)
