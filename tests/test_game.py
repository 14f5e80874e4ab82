"""Tests for :mod:`sim.game`: validation, utilities by hand, exact best responses, equilibrium checks.

The best-response properties are checked against an independent computation:
the rank a best response reports must be the rank the leaderboard gives when
the effort is substituted into the profile, nothing on a fine grid of efforts
may beat it, and among optimal efforts it must be the smallest.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.costs import FlatQuadraticCost, LinearCost, PowerCost
from sim.errors import ScenarioError
from sim.game import LeaderboardGame, candidate_efforts, equilibrium_check, utility_tolerance
from sim.rewards import RewardScheme
from sim.scores import CustomScore, ExpSaturation, PowerLaw

HYP = settings(max_examples=50, deadline=None)


def exp_game(**kwargs):
    """Two developers, ``s = theta + 1 - exp(-e)`` (L = theta, U = theta + 1, rate 1), theta = (1.0, 0.8)."""
    theta = np.array([1.0, 0.8])
    defaults = dict(
        theta=theta,
        score=ExpSaturation(lower=theta, upper=theta + 1.0, rate=np.ones(2)),
        cost=LinearCost(0.1),
        rewards=np.array([1.0, 0.25]),
    )
    defaults.update(kwargs)
    return LeaderboardGame(**defaults)


def power_pair(cost, tau=0.0, resolution=0.0, rewards=(1.0, 0.0)):
    """Common L = 0, U = 1; developer 0 stronger: alpha = (1.0, 0.2), beta = (0.5, 0.4)."""
    score = PowerLaw(lower=[0.0, 0.0], upper=[1.0, 1.0], alpha=[1.0, 0.2], beta=[0.5, 0.4])
    return LeaderboardGame(
        theta=[2.0, 1.0], score=score, cost=cost, rewards=np.array(rewards), tau=tau, resolution=resolution
    )


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _valid_kwargs():
    theta = np.array([1.0, 0.5, 0.2])
    return dict(
        theta=theta,
        score=ExpSaturation(lower=theta, upper=theta + 1.0, rate=np.ones(3)),
        cost=LinearCost(1.0),
        rewards=np.array([1.0, 0.5, 0.0]),
    )


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(theta=np.array([1.0])), "developers.capability"),
        (dict(theta=np.array([[1.0, 0.5, 0.2]])), "developers.capability"),
        (dict(theta=np.array([1.0, np.nan, 0.2])), "developers.capability"),
        (dict(tau=-0.1), "designer.tau"),
        (dict(tau=math.inf), "designer.tau"),
        (dict(rewards=np.array([0.0, 0.5, 1.0])), "reward"),
        (dict(rewards=np.array([1.0, 0.0])), "reward"),
        (dict(gamma=np.array([1.0, 1.0])), "cost.gamma"),
        (dict(gamma=np.array([1.0, 0.0, 1.0])), "cost.gamma"),
        (dict(resolution=-0.01), "resolution"),
        (dict(tie_break="random"), "leaderboard.tie_break"),
        (dict(tie_break="coin"), "leaderboard.tie_break"),
        (dict(priority=np.array([0, 0, 1])), "priority"),
    ],
)
def test_validation_errors_name_the_field(change, field):
    kwargs = _valid_kwargs()
    kwargs.update(change)
    with pytest.raises(ScenarioError) as info:
        LeaderboardGame(**kwargs)
    assert info.value.field == field


def test_single_developer_is_rejected():
    theta = np.array([1.0])
    with pytest.raises(ScenarioError) as info:
        LeaderboardGame(
            theta=theta, score=ExpSaturation(theta, theta + 1, np.ones(1)), cost=LinearCost(), rewards=[1.0]
        )
    assert info.value.field == "developers.capability"


def test_arrays_are_frozen_and_priority_follows_tie_break():
    game = LeaderboardGame(**_valid_kwargs())
    with pytest.raises(ValueError):
        game.rewards[0] = 5.0
    assert game.priority.tolist() == [2, 1, 0]
    by_id = LeaderboardGame(**{**_valid_kwargs(), "theta": np.array([0.2, 0.5, 1.0]), "tie_break": "id"})
    assert by_id.priority.tolist() == [2, 1, 0]
    explicit = LeaderboardGame(**{**_valid_kwargs(), "tie_break": "random", "priority": [0, 2, 1]})
    assert explicit.priority.tolist() == [0, 2, 1]


def test_equilibrium_check_validates_the_profile():
    game = exp_game()
    for bad in ([0.0], [0.0, -1.0], [0.0, np.inf], [[0.0, 0.0]]):
        with pytest.raises(ScenarioError) as info:
            equilibrium_check(game, np.array(bad))
        assert info.value.field == "effort"


# ---------------------------------------------------------------------------
# Utilities by hand (two developers)
# ---------------------------------------------------------------------------


def test_utilities_by_hand_exact_scores():
    game = exp_game()
    x = np.array([0.0, 0.5])
    # s0 = 1.0 + 1 - exp(0) = 1.0; s1 = 0.8 + 1 - exp(-0.5) = 1.8 - 0.6065 = 1.1935: developer 1 ranks first.
    np.testing.assert_allclose(game.scores(x), [1.0, 1.8 - math.exp(-0.5)], rtol=1e-15)
    assert game.ranks(x).tolist() == [2, 1]
    # u0 = r_2 - 0 = 0.25; u1 = r_1 - 0.1 * 0.5 = 0.95.
    np.testing.assert_allclose(game.utilities(x), [0.25, 0.95], rtol=1e-15)
    np.testing.assert_allclose(game.costs(x), [0.0, 0.05], rtol=1e-15)
    assert not game.ranking_matches_capability(x)
    assert game.ranking_matches_capability(np.zeros(2))
    assert game.capability_order.tolist() == [0, 1]


def test_utilities_by_hand_on_a_grid_with_ties():
    game = exp_game(resolution=0.5)
    x = np.array([0.0, 0.5])
    # Published levels: floor(1.0 / 0.5) = 2 and floor(1.1935 / 0.5) = 2: a tie, won by the higher capability.
    # u0 = r_1 = 1; u1 = r_2 - 0.05 = 0.2.
    assert game.ranks(x).tolist() == [1, 2]
    np.testing.assert_allclose(game.utilities(x), [1.0, 0.2], rtol=1e-15)
    # Breaking ties by id instead keeps developer 0 (lower id) on top; reversing the priority flips it.
    assert exp_game(resolution=0.5, tie_break="id").ranks(x).tolist() == [1, 2]
    assert exp_game(resolution=0.5, priority=[0, 1]).ranks(x).tolist() == [2, 1]


def test_utilities_by_hand_with_tau_and_gamma():
    game = exp_game(tau=0.2, gamma=np.array([2.0, 3.0]))
    x = np.array([0.3, 0.0])
    # s0 = 2 - exp(-(0.2 + 0.3)) = 1.3935; s1 = 1.8 - exp(-0.2) = 0.9813: developer 0 first.
    np.testing.assert_allclose(game.scores(x), [2 - math.exp(-0.5), 1.8 - math.exp(-0.2)], rtol=1e-15)
    # Cost is on additional effort only: u0 = 1 - 2 * 0.1 * 0.3 = 0.94; u1 = 0.25.
    np.testing.assert_allclose(game.utilities(x), [0.94, 0.25], rtol=1e-15)
    assert game.with_tau(1.0).tau == 1.0 and game.tau == 0.2


def test_best_response_by_hand():
    game = exp_game()
    br = game.best_responses(np.zeros(2))
    # Developer 1 loses ties, so it needs 0.8 + 1 - exp(-e) > 1.0, i.e. e > log(1.25) = 0.2231.
    # Gain 0.75 against cost 0.1 * 0.2231: worth it.  Developer 0 already ranks first: effort 0.
    assert br.effort[0] == 0.0 and br.rank[0] == 1
    assert br.effort[1] == pytest.approx(math.log(1.25), rel=1e-12)
    assert br.rank[1] == 1
    assert br.utility[1] == pytest.approx(1.0 - 0.1 * math.log(1.25), rel=1e-12)
    # With cost 4 per unit the climb costs 0.89 > 0.75: stay at zero.
    br = exp_game(cost=LinearCost(4.0)).best_responses(np.zeros(2))
    assert br.effort.tolist() == [0.0, 0.0]
    assert br.rank.tolist() == [1, 2]


# ---------------------------------------------------------------------------
# Best response on random games
# ---------------------------------------------------------------------------


@st.composite
def games(draw):
    n = draw(st.integers(2, 6))
    floats = st.floats
    theta = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]) | floats(-2, 2), min_size=n, max_size=n)))
    if draw(st.booleans()):
        lower, upper = np.zeros(n), np.ones(n)
    else:
        lower = np.array(draw(st.lists(floats(0, 0.5), min_size=n, max_size=n)))
        upper = lower + np.array(draw(st.lists(floats(0.2, 1.0), min_size=n, max_size=n)))
    alpha = np.array(draw(st.lists(floats(-3, 3), min_size=n, max_size=n)))
    beta = np.array(draw(st.lists(floats(0.05, 1.0, exclude_max=True), min_size=n, max_size=n)))
    score = PowerLaw(lower=lower, upper=upper, alpha=alpha, beta=beta)
    scale = draw(floats(1e-3, 10))
    if draw(st.booleans()):
        cost = LinearCost(scale)
    else:
        cost = PowerCost(scale=scale, exponent=draw(floats(1.0, 3.0)))
    scheme = draw(st.sampled_from(["winner_take_all", "top_k", "linear", "geometric", "zipf", "custom"]))
    if scheme == "top_k":
        rewards = RewardScheme("top_k", k=draw(st.integers(1, n))).vector(n)
    elif scheme == "geometric":
        rewards = RewardScheme("geometric", q=draw(floats(0.05, 1.0))).vector(n)
    elif scheme == "zipf":
        rewards = RewardScheme("zipf", exponent=draw(floats(0.0, 3.0))).vector(n)
    elif scheme == "custom":
        rewards = np.array(sorted(draw(st.lists(floats(-1, 1), min_size=n, max_size=n)), reverse=True))
    else:
        rewards = RewardScheme(scheme).vector(n)
    gamma = None if draw(st.booleans()) else np.array(draw(st.lists(floats(0.2, 5), min_size=n, max_size=n)))
    game = LeaderboardGame(
        theta=theta,
        score=score,
        cost=cost,
        rewards=rewards,
        tau=draw(st.just(0.0) | floats(0, 5)),
        resolution=draw(st.sampled_from([0.0, 1e-4, 1e-2])),
        tie_break=draw(st.sampled_from(["capability", "id"])),
        gamma=gamma,
    )
    x = np.array(draw(st.lists(st.just(0.0) | floats(0, 5), min_size=n, max_size=n)))
    return game, x


def substituted(x, i, efforts):
    """Profiles (one per row) equal to ``x`` except developer ``i`` plays each of ``efforts``."""
    profiles = np.tile(x, (len(efforts), 1))
    profiles[:, i] = efforts
    return profiles


def effort_grid(game, x, i):
    """A fine grid of efforts for developer ``i``: linear and logarithmic, plus points around each candidate."""
    cand = candidate_efforts(game, game.scores(x))[i]
    finite = cand[np.isfinite(cand)]
    # Efforts whose cost alone exceeds the whole reward range can never be optimal.
    spread = float(game.rewards[0] - game.rewards[-1])
    affordable = finite[game.gamma[i] * game.cost(finite) <= spread + 1.0]
    top = 1.5 * float(affordable.max(initial=0.0)) + 1.0
    near = np.concatenate([affordable * (1 + 1e-6), affordable * (1 - 1e-6), affordable * 1.01, affordable * 0.99])
    grid = np.concatenate([np.linspace(0.0, top, 600), np.geomspace(1e-9, top, 300), near])
    return np.unique(np.clip(grid, 0.0, None))


@HYP
@given(games())
def test_best_response_never_buys_a_rank_it_does_not_get(game_x):
    game, x = game_x
    br = game.best_responses(x)
    for i in range(game.n):
        y = x.copy()
        y[i] = br.effort[i]
        assert game.ranks(y)[i] == br.rank[i]
        assert game.scores(y)[i] == br.score[i]
        assert game.utilities(y)[i] == pytest.approx(br.utility[i], rel=1e-12, abs=1e-12)


@HYP
@given(games())
def test_best_response_beats_every_effort_on_a_fine_grid(game_x):
    game, x = game_x
    br = game.best_responses(x)
    tol = utility_tolerance(game.rewards)
    for i in range(game.n):
        grid = effort_grid(game, x, i)
        u = game.utilities(substituted(x, i, grid))[:, i]
        # The reported utility may sit up to one tolerance below the best candidate (the smallest
        # good effort is chosen), so allow two tolerances.
        assert u.max() <= br.utility[i] + 2 * tol, f"developer {i}: effort {grid[u.argmax()]} beats the BR"


@HYP
@given(games())
def test_best_response_is_the_smallest_optimal_effort(game_x):
    game, x = game_x
    br = game.best_responses(x)
    tol = utility_tolerance(game.rewards)
    cand_all = candidate_efforts(game, game.scores(x))
    for i in range(game.n):
        cand = cand_all[i][np.isfinite(cand_all[i])]
        u = game.utilities(substituted(x, i, cand))[:, i]
        best = u.max()
        good = u >= best - tol
        # Among the candidates, the chosen one is the least good effort.
        assert br.effort[i] == pytest.approx(cand[good].min(), rel=1e-12, abs=0.0)
        assert br.utility[i] >= best - tol
        # No effort on the grid below it (beyond the round-off of least_effort) is good.
        grid = effort_grid(game, x, i)
        lower = grid[grid < br.effort[i] - 1e-9 * (game.tau + br.effort[i])]
        if lower.size:
            u_low = game.utilities(substituted(x, i, lower))[:, i]
            assert np.all(u_low < best - tol)


@HYP
@given(games())
def test_equilibrium_check_agrees_with_substitution(game_x):
    game, x = game_x
    check = equilibrium_check(game, x)
    current = game.utilities(x)
    for i in range(game.n):
        y = x.copy()
        y[i] = check.deviation[i]
        assert game.utilities(y)[i] - current[i] == pytest.approx(check.gain[i], abs=1e-12)
    # The best response covers the current effort too, so no gain is negative beyond the tolerance.
    assert np.all(check.gain >= -check.tolerance)
    assert bool(check) == bool(np.all(check.gain <= check.tolerance))
    assert check.profitable.tolist() == np.flatnonzero(check.gain > check.tolerance).tolist()


# ---------------------------------------------------------------------------
# Equilibrium checks by hand
# ---------------------------------------------------------------------------

# The weaker developer (1) must get strictly above the stronger one's score (ties go to the higher
# capability).  Equal scores need z_1(e) = alpha_0, i.e. 0.2 + 0.4 log(1 + e) = 1.0: e = exp(2) - 1.
DELTA_0 = math.exp(2.0) - 1.0


def test_zero_profile_is_equilibrium_when_overtaking_costs_more_than_the_reward_gap():
    # Proposition 4.5 for two developers: zero is a PNE iff c(Delta) >= r_1 - r_2 = 1.
    game = power_pair(LinearCost(1.01 / DELTA_0))
    check = game.is_equilibrium(np.zeros(2))
    assert check.is_equilibrium and bool(check)
    assert check.profitable.size == 0
    assert equilibrium_check(power_pair(LinearCost(1e6)), np.zeros(2))


def test_zero_profile_is_not_equilibrium_when_overtaking_is_cheap():
    k = 0.99 / DELTA_0
    check = equilibrium_check(power_pair(LinearCost(k)), np.zeros(2))
    assert not check
    assert check.profitable.tolist() == [1]
    assert check.deviation[1] == pytest.approx(DELTA_0, rel=1e-9)
    # Gain = r_1 - r_2 - k * Delta = 1 - 0.99 = 0.01.
    assert check.gain[1] == pytest.approx(0.01, rel=1e-6)
    tiny = equilibrium_check(power_pair(LinearCost(1e-9)), np.zeros(2))
    assert not tiny and tiny.profitable.tolist() == [1]


def test_just_overtake_effort_follows_proposition_5_6():
    # 1 + tau + Delta = D (1 + tau) ** (beta_0 / beta_1), D = exp((alpha_0 - alpha_1) / beta_1) = e^2.
    tau = 3.0
    expected = math.exp(2.0) * (1.0 + tau) ** (0.5 / 0.4) - 1.0 - tau
    check = equilibrium_check(power_pair(LinearCost(1e-6), tau=tau), np.zeros(2))
    assert check.deviation[1] == pytest.approx(expected, rel=1e-9)


def test_just_overtake_effort_on_a_grid():
    # delta = 0.01: the stronger score at zero effort is sigmoid(1.0) = 0.7311, published level 73.
    # Developer 1 must reach level 74, score 0.74: logit(0.74) = 0.2 + 0.4 log(1 + e).
    delta = 0.01
    b0 = 1.0 / (1.0 + math.exp(-1.0))
    target = (math.floor(b0 / delta) + 1) * delta
    expected = math.exp((math.log(target / (1 - target)) - 0.2) / 0.4) - 1.0
    check = equilibrium_check(power_pair(LinearCost(1e-6), resolution=delta), np.zeros(2))
    assert check.deviation[1] == pytest.approx(expected, rel=1e-9)
    game = power_pair(LinearCost(1e-6), resolution=delta)
    assert game.ranks(np.array([0.0, check.deviation[1]])).tolist() == [2, 1]


def test_flat_cost_rank_inverting_equilibrium():
    # f = 1 - exp(-(theta + e)), c(x) = max(x - 1, 0) ** 2, rewards (1, 1).  At (0, 0.75) the weaker
    # developer scores 1 - exp(-1.25) > 1 - exp(-1.0) and ranks first; its effort lies in the free
    # region, so both get utility 1 and no deviation can pay more.
    theta = np.array([1.0, 0.5])
    score = CustomScore(function=lambda th, e: 1.0 - np.exp(-(th + e)), theta=theta, limit_function=lambda th: 1.0)
    game = LeaderboardGame(
        theta=theta, score=score, cost=FlatQuadraticCost(scale=1.0, free_effort=1.0), rewards=np.array([1.0, 1.0])
    )
    x = np.array([0.0, 0.75])
    assert game.ranks(x).tolist() == [2, 1]
    assert not game.ranking_matches_capability(x)
    np.testing.assert_array_equal(game.utilities(x), [1.0, 1.0])
    check = game.is_equilibrium(x)
    assert check.is_equilibrium
    assert np.all(check.gain <= check.tolerance)


# Regression: a family with scalar parameters used to raise IndexError in candidate_efforts (score[:, None]).
def test_best_response_with_common_levels_given_as_scalars():
    # The paper's Proposition 5.6 setting: common L, U with per-developer alpha, beta.
    score = PowerLaw(lower=0.0, upper=1.0, alpha=[1.0, 0.2], beta=[0.5, 0.4])
    game = LeaderboardGame(theta=[2.0, 1.0], score=score, cost=LinearCost(1e-6), rewards=np.array([1.0, 0.0]))
    check = equilibrium_check(game, np.zeros(2))
    assert check.deviation[1] == pytest.approx(DELTA_0, rel=1e-9)
