"""Tests of experiments/designer.py: its random games meet the assumptions and play the game they were drawn as,
and its quick run's tables say what the experiment claims."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from experiments import designer
from sim.assumptions import check_assumptions

matplotlib.use("Agg")


@pytest.mark.parametrize("resolution", [0.0, 1e-4])
def test_random_games_are_seeded_and_mostly_meet_the_assumptions(resolution):
    a = [designer.random_game(np.random.default_rng(5), resolution)[0] for _ in range(2)]
    assert np.array_equal(a[0].theta, a[1].theta) and np.array_equal(a[0].rewards, a[1].rewards)
    rng = np.random.default_rng(11)
    games = [designer.random_game(rng, resolution)[0] for _ in range(20)]
    assert all(g.resolution == resolution and g.tau == 0.0 for g in games)
    assert sum(check_assumptions(g).holds for g in games) >= 10
    assert all(1e-6 <= g.cost.scale <= 1e-1 for g in games)


def test_scenario_of_game_plays_the_same_game():
    game, _ = designer.random_game(np.random.default_rng(3), 1e-4)
    scenario = designer.scenario_of_game(game, 3)
    again = scenario.game(tau=0.0)
    assert np.array_equal(again.theta, game.theta) and np.array_equal(again.rewards, game.rewards)
    x = np.linspace(0.0, 5.0, game.n)
    assert np.array_equal(again.score.score(x), game.score.score(x))
    assert scenario.dynamics.rounds == 3 and scenario.dynamics.initial == "zero"


def test_quick_run_tables(quick_results):
    out = quick_results / "designer"
    check = pd.read_csv(out / "check.csv")
    exact = check[check["resolution"] == 0]
    assert len(exact) == designer.QUICK_CHECK_SCENARIOS and exact["agrees"].all()
    # On a grid every simulated answer is a real change of the zero-equilibrium condition, at or below tau*.
    assert check["real_change"].all()
    assert (check["high"] <= check["tau_theory"] * (1 + designer.QUICK_RTOL) + 1e-12).all()
    bench = pd.read_csv(out / "benchmarks.csv")
    assert (bench["interval_low"] <= bench["recommended_tau"]).all()
    assert (bench["recommended_tau"] <= bench["interval_high"]).all()
    frontiers = pd.read_csv(out / "frontiers.csv")
    for _, group in frontiers.groupby("scenario"):
        j = group["quality"] - group["tbt_cost"] * group["n"] * group["tau"]
        assert group["optimum"].iloc[0] == group.loc[j.idxmax(), "tau"]
    assert (check["tau_theory"] > 0).all()
    summary = json.loads((out / "summary.json").read_text())["results"]
    assert summary["check exact scores: agree within rtol"] == summary["check exact scores: scenarios (tau* > 0)"]
