"""How a batch is set up: which scenarios share one (:func:`batch_key`), its settings (:class:`RunSettings`),
whether its dynamics are deterministic, and the initial profiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.engine.batch_game import BatchGame, _score_batch_key
from sim.engine.randomness import DynamicsRandom
from sim.errors import ScenarioError


def batch_key(scenario) -> tuple:
    """Scenarios with equal keys can be stepped in one batch (same ``n``, score family, cost, schedule...)."""
    dyn = scenario.dynamics
    game_key = (scenario.n, _score_batch_key(scenario.bound_score()), scenario.cost)
    key = (*game_key, dyn.schedule, getattr(dyn, "response", "best"))
    strategies = getattr(scenario.developers, "strategy", None)
    if strategies is not None:  # developer i plays the same strategy class in every scenario of a batch
        from sim.strategies import strategy_names

        key = (*key, strategy_names(strategies))
    return key


def effort_ceiling(game: BatchGame) -> np.ndarray:
    """The most effort a developer could ever rationally spend: ``sup {x : gamma_i c(x) <= r_1 - r_n}``.

    ``(S, n)``; capped by the budget; found by doubling then bisection on the
    cost (``inf`` where the cost never exceeds the span in doubles), until a step
    changes neither end (then no later step would).  Random
    initial profiles draw below it, and it sets the scale of the recurrence
    tolerance.
    """
    span = (game.rewards[:, 0] - game.rewards[:, -1])[:, None] * np.ones(game.shape)
    within = lambda x: game.gamma * game.cost(x) <= span  # noqa: E731
    lo = np.zeros(game.shape)
    hi = np.ones(game.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(1100):  # up to overflow: rewards may be as large as doubles go
            grow = within(hi) & np.isfinite(hi)
            if not grow.any():
                break
            lo = np.where(grow, hi, lo)
            hi = np.where(grow, hi * 2.0, hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            ok = within(mid)
            new_lo, new_hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
            if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
                break  # a step is a function of (lo, hi) alone: from a fixed point every later step repeats it
            lo, hi = new_lo, new_hi
    return np.minimum(lo, game.budget)


@dataclass(frozen=True)
class RunSettings:
    """How a batch is played: shared by every scenario in it."""

    schedule: str
    rounds: int
    response: str
    revision_probability: np.ndarray  # (S,)
    temperature: np.ndarray  # (S,)
    population: object | None = None  # sim.strategies.Population when developers.strategy is given


def scenario_deterministic(scenario, memory: bool = True) -> bool:
    """:func:`is_deterministic` for a scenario, its strategies (:mod:`sim.strategies`) included: none
    stochastic, and (``memory``) none remembering, as a recurring profile repeats forever only then."""
    dyn = scenario.dynamics
    noise = float(getattr(scenario.leaderboard, "noise", 0.0))
    strategies = getattr(scenario.developers, "strategy", None)
    if strategies is not None:
        from sim.strategies import population_deterministic

        plain = (all(not s.stochastic for s in strategies) if not memory else population_deterministic(strategies))
        return dyn.schedule in ("simultaneous", "sequential") and noise == 0 and plain
    return is_deterministic(dyn.schedule, getattr(dyn, "response", "best"), noise)


def is_deterministic(schedule: str, response: str, noise: float) -> bool:
    """Whether the next profile is a function of the current one (then a recurrence repeats forever)."""
    return schedule in ("simultaneous", "sequential") and response == "best" and noise == 0


def uses_randomness(scenario) -> bool:
    """Whether playing ``scenario`` draws from its seed: sampled capabilities, random tie-breaking, evaluation
    noise, a random initial profile, or dynamics that are not deterministic (:func:`is_deterministic`).

    When it does not, every seed gives the same run, so replications repeat it.
    """
    dyn = scenario.dynamics
    board = scenario.leaderboard
    return (
        getattr(scenario.developers, "sample", None) is not None
        or getattr(board, "tie_break", "capability") == "random"
        or (isinstance(dyn.initial, str) and dyn.initial == "random")
        or not scenario_deterministic(scenario, memory=False)
    )


def initial_profiles(scenarios, game: BatchGame, randoms: Sequence[DynamicsRandom]) -> np.ndarray:
    """``x(0)`` per scenario: zeros, given efforts, or uniform below :func:`effort_ceiling`."""
    S, n = game.shape
    x = np.zeros((S, n))
    ceiling = None
    for s, scenario in enumerate(scenarios):
        initial = scenario.dynamics.initial
        if isinstance(initial, str):
            if initial == "random":
                if ceiling is None:
                    ceiling = effort_ceiling(game)
                x[s] = randoms[s].initial(ceiling[s])
        else:
            x[s] = np.asarray(initial, dtype=float)
            over = np.flatnonzero(x[s] > game.budget[s])
            if over.size:
                i = int(over[0])
                limit = game.budget[s, i]
                raise ScenarioError(
                    "dynamics.initial", list(initial), f"effort of developer {i} exceeds its budget {limit:g}"
                )
    return x


def _budget(scenario) -> np.ndarray:
    budget = getattr(scenario, "budget", None)
    if budget is None:
        return np.full(scenario.n, np.inf)
    return np.asarray(budget, dtype=float)
