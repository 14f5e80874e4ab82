"""Hypothesis strategies: random games that satisfy the paper's assumptions.

A game drawn by :func:`assumption_games` has

* distinct capabilities in any order (ids are not sorted by capability);
* a generalised power law with common ``L < U`` and ``alpha``, ``beta``
  increasing in capability with ``beta <= 1``, which gives C1, C2 (concave:
  the second derivative has the sign of ``(1 - 2y) beta - 1 <= 0``) and C3;
* a strictly increasing convex cost (linear or power with exponent >= 1);
* any of the reward schemes;
* ties broken by capability.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from sim.costs import LinearCost, PowerCost
from sim.game import LeaderboardGame
from sim.rewards import RewardScheme
from sim.scores import PowerLaw


@st.composite
def reward_vectors(draw, n: int) -> np.ndarray:
    scheme = draw(st.sampled_from(["winner_take_all", "top_k", "linear", "geometric", "zipf", "custom"]))
    if scheme == "top_k":
        return RewardScheme("top_k", k=draw(st.integers(1, n))).vector(n)
    if scheme == "geometric":
        return RewardScheme("geometric", q=draw(st.floats(0.05, 1.0))).vector(n)
    if scheme == "zipf":
        return RewardScheme("zipf", exponent=draw(st.floats(0.0, 3.0))).vector(n)
    if scheme == "custom":
        values = sorted(draw(st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n)), reverse=True)
        return RewardScheme("custom", values=tuple(values)).vector(n)
    return RewardScheme(scheme).vector(n)


@st.composite
def assumption_games(draw, min_n: int = 2, max_n: int = 5, resolution=None) -> LeaderboardGame:
    n = draw(st.integers(min_n, max_n))
    # Distinct capabilities, shuffled so ids are not in capability order.
    steps = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    theta = np.cumsum(steps)
    perm = draw(st.permutations(range(n)))
    theta = theta[list(perm)]
    lower = draw(st.floats(0.0, 0.5))
    upper = lower + draw(st.floats(0.2, 0.5))
    a0, a1 = draw(st.floats(-4.0, 1.0)), draw(st.floats(0.1, 2.0))
    beta_hi = draw(st.floats(0.1, 1.0))
    beta_lo = draw(st.floats(0.05, 1.0)) * beta_hi
    t = (theta - theta.min()) / (theta.max() - theta.min())
    score = PowerLaw(
        lower=np.full(n, lower),
        upper=np.full(n, upper),
        alpha=a0 + a1 * theta,
        beta=beta_lo + (beta_hi - beta_lo) * t,
        effort_unit=draw(st.sampled_from([1.0, 10.0])),
    )
    if draw(st.booleans()):
        cost = LinearCost(draw(st.floats(1e-3, 10.0)))
    else:
        cost = PowerCost(draw(st.floats(1e-3, 10.0)), draw(st.floats(1.0, 3.0)))
    rewards = draw(reward_vectors(n))
    if resolution is None:
        resolution = draw(st.sampled_from([0.0, 1e-4, 1e-3]))
    tau = draw(st.one_of(st.just(0.0), st.floats(0.0, 1e3)))
    return LeaderboardGame(theta, score, cost, rewards, tau=tau, resolution=resolution)


def scenario_from_game(game: LeaderboardGame, *, schedule: str = "simultaneous", rounds: int = 50, **dynamics):
    """A :class:`~sim.scenario.Scenario` playing ``game`` (power-law score, built-in cost) repeatedly."""
    from sim.rewards import RewardScheme as Scheme
    from sim.scenario import DesignerSpec, Developers, DynamicsSpec, LeaderboardSpec, Scenario
    from sim.scores import PowerLawSpec

    score = game.score
    spec = PowerLawSpec(
        lower=tuple(score.lower.tolist()),
        upper=tuple(score.upper.tolist()),
        alpha=tuple(score.alpha.tolist()),
        beta=tuple(score.beta.tolist()),
        effort_unit=score.effort_unit,
    )
    return Scenario(
        name="drawn",
        seed=0,
        developers=Developers(capability=tuple(game.theta.tolist())),
        score=spec,
        cost=game.cost,
        reward=Scheme("custom", values=tuple(game.rewards.tolist())),
        leaderboard=LeaderboardSpec(resolution=game.resolution, tie_break=game.tie_break),
        designer=DesignerSpec(tau=game.tau),
        dynamics=DynamicsSpec(schedule=schedule, rounds=rounds, **dynamics),
    )
