"""Tests for the compiled schedules and logit response (sim.kernel_schedules): the same bits as the numpy path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import assumption_games, scenario_from_game

from sim import engine
from sim.engine import BatchGame, CandidateCache, run_batch
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ["simultaneous", "sequential", "random_order", "asynchronous"]
RESPONSES = ["best", "logit"]
FIELDS = ("effort", "score", "published", "rank", "keys")


def _bits(v):
    return np.ascontiguousarray(v).view(np.uint8)


def _both_ways(scenarios, **kwargs):
    """The run with the compiled schedules and with the numpy path; asserts every record is the same bits."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(engine, "COMPILED_SCHEDULES", True)
        compiled = run_batch(scenarios, **kwargs)
        monkeypatch.setattr(engine, "COMPILED_SCHEDULES", False)
        numpy_run = run_batch(scenarios, **kwargs)
    for name in FIELDS:
        a, b = getattr(compiled, name), getattr(numpy_run, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.array_equal(_bits(a), _bits(b)), name
    return compiled


def _dynamics(schedule, response, temperature, revision):
    out = {}
    if response == "logit":
        out.update(response="logit", temperature=temperature)
    if schedule == "asynchronous":
        out.update(revision_probability=revision)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    game=assumption_games(max_n=5),
    schedule=st.sampled_from(SCHEDULES),
    response=st.sampled_from(RESPONSES),
    noise=st.sampled_from([0.0, 1e-4, 1e-2]),
    budget=st.one_of(st.none(), st.floats(1e-3, 1e3)),
    temperature=st.floats(1e-6, 10.0),
    revision=st.floats(0.05, 1.0),
    initial=st.sampled_from(["zero", "random"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_schedules_equal_numpy_on_random_games(
    game, schedule, response, noise, budget, temperature, revision, initial, seed
):
    """Every schedule x response, with evaluation noise and budgets: the compiled round gives the numpy bits."""
    scenario = scenario_from_game(
        game, schedule=schedule, rounds=25, initial=initial, **_dynamics(schedule, response, temperature, revision)
    )
    developers = dataclasses.replace(scenario.developers, budget=None if budget is None else tuple([budget] * game.n))
    leaderboard = dataclasses.replace(scenario.leaderboard, noise=noise)
    scenario = dataclasses.replace(scenario, seed=seed, developers=developers, leaderboard=leaderboard)
    _both_ways([scenario], record="full", max_rounds=25)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("response", RESPONSES)
@pytest.mark.parametrize("name", ["exp_saturation_geometric", "linear_rewards_10", "top3_of_10", "flat_cost"])
def test_compiled_schedules_equal_numpy_on_the_library(name, schedule, response):
    """The library's scenarios (exponential saturation with a power cost and per-developer gamma, ten
    developers, a custom score family on the numpy path) in batches of several taus and seeds, with noise."""
    base = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    dyn = dataclasses.replace(base.dynamics, schedule=schedule, rounds=30, **_dynamics(schedule, response, 0.05, 0.4))
    items = [
        dataclasses.replace(
            base,
            seed=k,
            dynamics=dyn,
            designer=dataclasses.replace(base.designer, tau=base.designer.tau * (0.5 + k)),
            leaderboard=dataclasses.replace(base.leaderboard, noise=[0.0, 1e-3, 1e-2][k]),
        )
        for k in range(3)
    ]
    result = _both_ways(items, record="full", max_rounds=30)
    assert np.all(np.isfinite(result.effort))


@st.composite
def _boards(draw):
    """A batch of random games and a random leaderboard to respond to: efforts, noise, budgets, draws."""
    game = draw(assumption_games(max_n=6))
    S = draw(st.integers(1, 3))
    n = game.n
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    budget = np.where(rng.random((S, n)) < 0.5, np.inf, 10.0 ** rng.uniform(-3, 3, (S, n)))
    batch = BatchGame.from_games([game] * S, budget=budget)
    efforts = np.where(rng.random((S, n)) < 0.3, 0.0, 10.0 ** rng.uniform(-3, 3, (S, n)))
    evaluated = batch.scores(efforts) + rng.normal(0.0, draw(st.sampled_from([0.0, 1e-4, 1e-2])), (S, n))
    m = draw(st.integers(1, n))
    rows = np.stack([rng.permutation(n)[:m] for _ in range(S)])
    temperature = 10.0 ** rng.uniform(-8, 2, S)
    uniform = rng.random((S, m))
    return batch, evaluated, rows, temperature, uniform


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(board=_boards(), cached=st.booleans())
def test_compiled_logit_equals_logit_choice(board, cached):
    """The compiled logit response is :meth:`BatchGame.logit_choice` of the numpy candidates, to the bit."""
    batch, evaluated, rows, temperature, uniform = board
    want = batch.logit_choice(batch.respond(evaluated, rows, candidates=True), temperature, uniform)
    cache = CandidateCache(batch) if cached else None
    for _ in range(2):  # the second time from the cache
        got = engine._logit_compiled(batch, evaluated, rows, temperature, uniform, cache)
        assert np.array_equal(_bits(got), _bits(want))


def test_numpy_path_stays_reachable(monkeypatch):
    """With COMPILED_SCHEDULES off the compiled kernels are not called (so the equality tests compare two paths)."""
    from sim import kernel_schedules

    def boom(*args):
        raise AssertionError("compiled kernel called")

    monkeypatch.setattr(kernel_schedules, "sequential_round", boom)
    monkeypatch.setattr(kernel_schedules, "respond_logit", boom)
    base = load_scenario(ROOT / "scenarios" / "two_developers.toml")
    dyn = dataclasses.replace(base.dynamics, schedule="random_order", rounds=5, response="logit", temperature=0.1)
    scenario = dataclasses.replace(base, dynamics=dyn)
    monkeypatch.setattr(engine, "COMPILED_SCHEDULES", False)
    run_batch([scenario], max_rounds=5)
    monkeypatch.setattr(engine, "COMPILED_SCHEDULES", True)
    with pytest.raises(AssertionError, match="compiled kernel called"):
        run_batch([scenario], max_rounds=5)
