"""Tests for the compiled kernel (sim.kernel): the same bits as the numpy path and the core."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import assumption_games

from sim import kernel
from sim.costs import FlatQuadraticCost, LinearCost, PowerCost
from sim.engine import BatchGame, CandidateCache, hold_current
from sim.game import LeaderboardGame
from sim.rewards import RewardScheme
from sim.scores import ExpSaturation, PowerLaw, least_effort_and_score


def _family_args(family, k):
    if isinstance(family, PowerLaw):
        return (kernel.POWER_LAW, family.lower[k], family.upper[k], family.alpha[k], family.beta[k], family.effort_unit)
    return (kernel.EXP_SATURATION, family.lower[k], family.upper[k], family.rate[k], 0.0, 1.0)


@pytest.mark.parametrize("kind", ["power_law", "exp_saturation"])
def test_least_effort_matches_numpy_bit_for_bit(kind):
    rng = np.random.default_rng(7)
    K = 3000
    if kind == "power_law":
        family = PowerLaw(
            lower=np.full(K, 0.25),
            upper=np.full(K, 0.95),
            alpha=rng.uniform(-3, 1, K),
            beta=rng.uniform(0.05, 1.5, K),
            effort_unit=10.0,
        )
    else:
        family = ExpSaturation(lower=rng.uniform(0, 0.5, K), upper=np.full(K, 0.95), rate=rng.uniform(1e-3, 2, K))
    tau = np.where(rng.random(K) < 0.3, 0.0, 10.0 ** rng.uniform(-3, 6, K))
    # Targets everywhere: below the zero-effort score, on grid lines, near and at the ceiling, above it.
    target = np.concatenate(
        [
            rng.uniform(0.2, 0.96, K // 3),
            np.floor(rng.uniform(0.3, 0.95, K // 3) / 1e-4) * 1e-4,
            0.95 - 10.0 ** rng.uniform(-16, -2, K - 2 * (K // 3)),
        ]
    )
    want_x, want_s = least_effort_and_score(family, tau, target)
    for k in range(K):
        x, s = kernel.least_effort(*_family_args(family, k), tau[k], target[k])
        assert x == want_x[k] or (np.isnan(x) and np.isnan(want_x[k])), k
        assert s == want_s[k] or (np.isnan(s) and np.isnan(want_s[k])), k


def _games(score, cost, n, taus, resolution):
    rewards = RewardScheme("geometric", q=0.6).vector(n)
    theta = np.linspace(1.0, 0.1, n)
    return [LeaderboardGame(theta, score, cost, rewards, tau=t, resolution=resolution) for t in taus]


@pytest.mark.parametrize(
    "cost",
    [
        LinearCost(0.01),
        PowerCost(0.001, 2.0),
        PowerCost(0.002, 1.5),
        PowerCost(0.01, 1.0),
        FlatQuadraticCost(0.001, 5.0),
    ],
    ids=lambda c: f"{c.family}-{getattr(c, 'exponent', '')}",
)
@pytest.mark.parametrize("resolution", [0.0, 1e-3])
def test_kernel_respond_matches_the_numpy_path(cost, resolution):
    n = 6
    theta = np.linspace(1.0, 0.1, n)
    score = PowerLaw(lower=np.full(n, 0.25), upper=np.full(n, 0.95), alpha=-2 + 2 * theta, beta=0.3 + 0.2 * theta)
    batch = BatchGame.from_games(
        _games(score, cost, n, [0.0, 1.0, 40.0], resolution),
        budget=np.where(np.arange(3 * n).reshape(3, n) % 4 == 1, 30.0, np.inf),
        noise=np.zeros(3),
    )
    assert batch.kernel_spec is not None
    rng = np.random.default_rng(3)
    rows = np.broadcast_to(np.arange(n), (3, n))
    cache_k, cache_n = CandidateCache(batch), CandidateCache(batch)
    for _ in range(6):
        x = rng.exponential(rng.choice([0.5, 20.0, 300.0]), size=(3, n)) * (rng.random((3, n)) < 0.7)
        x = np.minimum(x, batch.budget)
        evaluated = batch.scores(x) + rng.normal(0, 1e-3, (3, n)) * (rng.random() < 0.5)
        got = batch.respond(evaluated, rows, cache=cache_k, current=x)
        want = batch._respond_numpy(evaluated, rows, False, cache_n)
        for name in ("effort", "score", "rank", "utility"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        np.testing.assert_array_equal(got.next_effort, hold_current(batch, evaluated, rows, x, want))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=6), data=st.data())
def test_kernel_respond_matches_numpy_on_random_games(game, data):
    batch = BatchGame.from_games([game])
    n = game.n
    x = np.array([data.draw(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n))])
    rows = np.arange(n)[None, :]
    evaluated = batch.scores(x)
    got = batch.respond(evaluated, rows, current=x)
    want = batch._respond_numpy(evaluated, rows, False, None)
    for name in ("effort", "score", "rank", "utility"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_exp_saturation_division_by_zero_follows_numpy():
    """A target at the ceiling divides by zero in the inverse: numpy semantics (inf), no exception."""
    x, s = kernel.least_effort(kernel.EXP_SATURATION, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0)
    assert x == np.inf and np.isnan(s)


@pytest.mark.parametrize("resolution", [0.0, 1e-3])
@pytest.mark.parametrize("noisy", [False, True])
def test_publish_matches_the_numpy_path(resolution, noisy):
    n = 7
    theta = np.linspace(1.0, 0.1, n)
    score = ExpSaturation(lower=theta * 0.5, upper=np.full(n, 0.95), rate=0.1 + theta)
    batch = BatchGame.from_games(_games(score, LinearCost(0.01), n, [0.0, 2.0, 9.0], resolution))
    rng = np.random.default_rng(5)
    x = rng.exponential(3.0, size=batch.shape) * (rng.random(batch.shape) < 0.6)
    shock = rng.normal(0, 1e-3, batch.shape) if noisy else None
    true, evaluated, published, rank = batch.publish(x, shock)
    np.testing.assert_array_equal(true, batch.scores(x))
    np.testing.assert_array_equal(evaluated, true if shock is None else true + shock)
    np.testing.assert_array_equal(published, batch.published(evaluated))
    np.testing.assert_array_equal(rank, batch.ranks(evaluated))


@settings(max_examples=60, deadline=None)
@given(
    effort=st.lists(
        st.one_of(st.floats(-1e6, 1e6), st.floats(0.0, 1e-6), st.sampled_from([0.0, -0.0, 1e9, 2.5e-12])),
        min_size=12,
        max_size=12,
    ),
    rank=st.lists(st.integers(1, 4), min_size=12, max_size=12),
    cell=st.lists(st.floats(1e-12, 1e-3), min_size=3, max_size=3),
)
def test_recorder_keys_are_state_keys(effort, rank, cell):
    """The compiled per-round keys are sim.analysis.state_keys, bit for bit (negative efforts included)."""
    from sim import analysis
    from sim.engine import _Recorder

    effort = np.array(effort).reshape(3, 4)
    rank = np.array(rank, dtype=np.int64).reshape(3, 4)
    cell = np.array(cell)
    recorder = _Recorder(3, 4, 3, "tail", 2, cell)
    try:
        want = analysis.state_keys(effort, rank, cell)
    except ValueError:
        with pytest.raises(ValueError):
            recorder.add(3, effort, effort + 1.0, effort + 2.0, rank)
        return
    zeros = np.zeros((3, 4))
    for t in range(3):
        recorder.add(t, zeros, zeros, zeros, np.ones((3, 4), dtype=np.int64))
    recorder.add(3, effort, effort + 1.0, effort + 2.0, rank)
    assert recorder.finish() == 2
    np.testing.assert_array_equal(recorder.keys[:, 3], want)
    np.testing.assert_array_equal(recorder.keys[:, 0], analysis.state_keys(zeros, np.ones((3, 4), int), cell))
    np.testing.assert_array_equal(recorder.effort[:, 1], effort)
    np.testing.assert_array_equal(recorder.score[:, 1], effort + 1.0)
    np.testing.assert_array_equal(recorder.published[:, 1], effort + 2.0)
    np.testing.assert_array_equal(recorder.rank[:, 1], rank)
    np.testing.assert_array_equal(recorder.effort[:, 0], zeros)


def test_recorder_refuses_efforts_it_cannot_key():
    from sim.engine import _Recorder

    recorder = _Recorder(1, 2, 3, "tail", 2, np.array([1e-9]))
    with pytest.raises(ValueError, match="too large"):
        recorder.add(0, np.array([[1e300, 0.0]]), np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="not finite"):
        recorder.add(0, np.array([[np.nan, 0.0]]), np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2), dtype=np.int64))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=6), data=st.data())
def test_hold_check_with_given_current_scores_is_the_same(game, data):
    """respond_active fed the published true scores of the current efforts moves exactly as respond does."""
    batch = BatchGame.from_games([game])
    assert batch.kernel_spec is not None
    n = game.n
    x = np.array([data.draw(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n))])
    rows = np.arange(n)[None, :]
    true, evaluated, _, _ = batch.publish(x)
    want = batch.respond(evaluated, rows, current=x)
    got = batch._respond_compiled(evaluated, rows, None, x, current_score=true)
    for name in ("effort", "score", "rank", "utility", "next_effort"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=6), data=st.data())
def test_next_scores_are_the_published_true_scores(game, data):
    """next_scores (kept efforts and reached scores taken over, the rest evaluated) gives publish's true scores."""
    batch = BatchGame.from_games([game])
    n = game.n
    x = np.array([data.draw(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n))])
    rows = np.arange(n)[None, :]
    true, evaluated, _, _ = batch.publish(x)
    response = batch._respond_compiled(evaluated, rows, CandidateCache(batch), x, current_score=true)
    out = np.full(batch.shape, np.nan)
    kernel.next_scores(*batch.kernel_spec[:6], batch.tau, x, true, response.effort, response.score,
                       response.next_effort, np.ones(1, dtype=np.bool_), out)
    want = batch.publish(response.next_effort)[0]
    assert np.array_equal(out.view(np.uint64), want.view(np.uint64))  # bit for bit


@pytest.mark.parametrize("resolution", [0.0, 1e-3])
def test_publish_with_known_scores_is_publish(resolution):
    n = 5
    theta = np.linspace(1.0, 0.1, n)
    score = PowerLaw(lower=np.full(n, 0.25), upper=np.full(n, 0.95), alpha=-2 + 2 * theta, beta=0.3 + 0.2 * theta)
    batch = BatchGame.from_games(_games(score, LinearCost(0.01), n, [0.0, 2.0, 9.0, 30.0], resolution))
    rng = np.random.default_rng(11)
    x = rng.exponential(3.0, size=batch.shape)
    want = batch.publish(x)
    known = np.array([True, False, True, False])
    given_true = np.where(known[:, None], want[0], np.nan)
    out = (np.empty(batch.shape), np.empty(batch.shape), np.empty(batch.shape), np.empty(batch.shape, np.int64))
    kernel.publish_known(*batch.kernel_spec[:6], batch.tau, batch.resolution, batch.priority, x,
                         np.zeros(batch.shape), False, known, given_true, *out)
    for a, b in zip(out, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_least_scores_shared_by_resolution_match_the_numpy_path():
    """Scenarios with the same resolution share one row of remembered least scores; answers are unchanged."""
    n = 5
    theta = np.linspace(1.0, 0.1, n)
    score = PowerLaw(lower=np.full(n, 0.25), upper=np.full(n, 0.95), alpha=-2 + 2 * theta, beta=0.3 + 0.2 * theta)
    games = [
        LeaderboardGame(theta, score, LinearCost(0.01), RewardScheme("geometric", q=0.6).vector(n), tau=t, resolution=r)
        for t, r in [(0.0, 1e-3), (3.0, 1e-4), (1.0, 0.0), (30.0, 1e-3), (0.5, 1e-4)]
    ]
    batch = BatchGame.from_games(games)
    cache_k, cache_n = CandidateCache(batch), CandidateCache(batch)
    assert cache_k.least.shape[0] == 3  # one row per distinct resolution (0 included), not one per scenario
    rng = np.random.default_rng(8)
    rows = np.broadcast_to(np.arange(n), batch.shape)
    for _ in range(8):
        x = rng.exponential(rng.choice([0.5, 20.0, 200.0]), size=batch.shape) * (rng.random(batch.shape) < 0.7)
        evaluated = batch.scores(x)
        got = batch.respond(evaluated, rows, cache=cache_k, current=x)
        want = batch._respond_numpy(evaluated, rows, False, cache_n)
        for name in ("effort", "score", "rank", "utility"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    known = cache_k.least[~np.isnan(cache_k.least)]
    assert known.size > 0


def test_public_respond_still_agrees_with_a_candidate_cache():
    """kernel.respond (per-scenario least scores) called with a CandidateCache's arrays gives the engine's answer."""
    n = 4
    theta = np.linspace(1.0, 0.1, n)
    score = PowerLaw(lower=np.full(n, 0.25), upper=np.full(n, 0.95), alpha=-2 + 2 * theta, beta=0.3 + 0.2 * theta)
    batch = BatchGame.from_games(_games(score, LinearCost(0.01), n, [0.0, 2.0, 9.0], 1e-3))
    rng = np.random.default_rng(2)
    rows = np.ascontiguousarray(np.broadcast_to(np.arange(n), batch.shape))
    cache = CandidateCache(batch)
    for _ in range(4):
        x = rng.exponential(5.0, size=batch.shape)
        evaluated = batch.scores(x)
        want = batch.respond(evaluated, rows, current=x)
        out = [np.empty(batch.shape), np.empty(batch.shape), np.empty(batch.shape, np.int64), np.empty(batch.shape),
               np.empty(batch.shape)]
        kernel.respond(
            *batch.kernel_spec, batch.tau, batch.resolution, batch.rewards, batch.gamma, batch.priority,
            batch.budget, batch.baseline, batch.reach, batch.tolerance, evaluated, rows, x, True,
            cache.target, cache.effort, cache.score, cache.width, cache.origin, cache.table, cache.least, *out,
        )  # fmt: skip
        for got, name in zip(out, ("effort", "score", "rank", "utility", "next_effort"), strict=True):
            np.testing.assert_array_equal(got, getattr(want, name))
