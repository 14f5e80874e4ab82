"""Small runs on the numpy path (sim.engine.compiled.use_kernels): numba's start-up spared, the same bits."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import assumption_games, scenario_from_game

from sim.engine import compiled, loop, run_batch
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ("effort", "score", "published", "rank", "keys")


def _both_paths(monkeypatch, scenarios, **kwargs):
    """The same run with the compiled kernels and on the numpy path."""
    runs = []
    for use in (True, False):
        monkeypatch.setattr(loop, "use_kernels", lambda S, n, rounds, use=use: use)
        run = run_batch(scenarios, **kwargs)
        assert use or run.game.kernel_spec is None  # (a custom score family is on the numpy path either way)
        runs.append(run)
    return runs


def _assert_same(a, b):
    for name in RECORDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert [o.outcome for o in a.outcomes()] == [o.outcome for o in b.outcomes()]


def test_use_kernels_by_the_size_of_the_work(monkeypatch):
    monkeypatch.delitem(sys.modules, "sim.kernel", raising=False)
    small = compiled.SMALL_RUN_UPDATES
    assert not compiled.use_kernels(1, 2, small // 2)
    assert compiled.use_kernels(1, 2, small)  # 2 x small updates
    monkeypatch.setitem(sys.modules, "sim.kernel", object())  # loaded already: nothing to spare
    assert compiled.use_kernels(1, 2, 10)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_every_bundled_scenario_plays_the_same_bits_on_both_paths(monkeypatch, path):
    """30 rounds each (recording every round, the state keys at the end), without playing on."""
    a, b = _both_paths(monkeypatch, [load_scenario(path)], rounds=30, max_rounds=30)
    _assert_same(a, b)


# 20 random games under the paper's assumptions, each schedule and response, 12 rounds recorded with the
# tail (keys round by round): about a second once compiled.
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    game=assumption_games(max_n=5),
    schedule=st.sampled_from(["simultaneous", "sequential", "random_order", "asynchronous"]),
    logit=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_games_play_the_same_bits_on_both_paths(monkeypatch, game, schedule, logit, seed):
    dynamics = {"revision_probability": 0.5} if schedule == "asynchronous" else {}
    if logit:
        dynamics.update(response="logit", temperature=0.1)
    scenario = scenario_from_game(game, schedule=schedule, rounds=12, **dynamics)
    scenario = dataclasses.replace(scenario, seed=seed)
    a, b = _both_paths(monkeypatch, [scenario], record="tail", tail_window=4, max_rounds=12)
    _assert_same(a, b)


def test_lbsim_run_of_a_small_scenario_never_imports_numba():
    """The whole process (one real interpreter): ``lbsim run scenarios/arms_race.toml`` plays 400 updates,
    on the numpy path."""
    from test_startup import imported

    result = imported(["run", "scenarios/arms_race.toml"])
    assert result["code"] == 0
    assert "numba" not in result["loaded"]
