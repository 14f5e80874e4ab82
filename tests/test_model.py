"""Tests for the Mesa model (sim.model): same trajectories as the batch engine, subclassing, data collection."""

from __future__ import annotations

import tomllib
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

from sim.engine import run
from sim.model import Designer, Developer, LeaderboardModel, RankDefender, run_mesa
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def race(schedule="simultaneous", rounds=40, **dynamics) -> dict:
    return {
        "name": "race",
        "seed": 5,
        "developers": {"capability": [1.0, 0.5, 0.8, 0.3]},
        "score": {
            "family": "power_law",
            "lower": 0.25,
            "upper": 0.95,
            "alpha": {"intercept": -2.0, "slope": 2.0},
            "beta": {"intercept": 0.3, "slope": 0.2},
        },
        "cost": {"family": "linear", "scale": 0.02},
        "reward": {"scheme": "geometric", "q": 0.5},
        "leaderboard": {"resolution": 0.01},
        "dynamics": {"schedule": schedule, "rounds": rounds, **dynamics},
    }


def assert_same(scenario, rounds=None, max_rounds=None):
    batch = run(scenario, rounds=rounds, max_rounds=max_rounds).trajectory(0)
    model = run_mesa(scenario, rounds=rounds, max_rounds=max_rounds).trajectory()
    pd.testing.assert_frame_equal(model, batch, check_exact=True)
    return batch


@pytest.mark.parametrize("schedule", ["simultaneous", "sequential", "random_order", "asynchronous"])
def test_mesa_and_batch_give_identical_trajectories(schedule):
    extra = {"revision_probability": 0.4} if schedule == "asynchronous" else {}
    frame = assert_same(parse_scenario(race(schedule, **extra)))
    assert frame["effort"].max() > 0  # the runs actually move


@pytest.mark.parametrize("schedule", ["simultaneous", "random_order"])
def test_identical_with_logit_noise_budget_and_random_start(schedule):
    data = race(schedule, rounds=25, response="logit", temperature=0.05, initial="random")
    data["leaderboard"]["noise"] = 0.002
    data["leaderboard"]["tie_break"] = "random"
    data["developers"]["budget"] = [50.0, 20.0, 30.0, 10.0]
    assert_same(parse_scenario(data))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_bundled_scenario_runs_in_mesa_as_in_batch(path):
    data = tomllib.loads(path.read_text())
    scenario = parse_scenario(data, name_hint=path.stem)
    # max_rounds = rounds: the point is every scenario's features in both engines, not the horizon (a deterministic
    # scenario would otherwise play on to its recurrence; that is tested in test_engine.py and test_cli.py).
    frame = assert_same(scenario, rounds=4, max_rounds=4)
    assert sorted(frame["round"].unique()) == [0, 1, 2, 3, 4]


def test_model_is_a_mesa_model_with_agents_and_a_datacollector():
    scenario = parse_scenario(race(rounds=5))
    model = LeaderboardModel(scenario)
    assert isinstance(model, mesa.Model)
    developers = [a for a in model.agents if isinstance(a, Developer)]
    assert len(developers) == scenario.n
    assert [d.capability for d in model.developers] == list(scenario.theta)
    assert isinstance(model.designer, Designer) and model.designer.tau == scenario.designer.tau
    model.run(5)
    assert model.steps == 5
    agent_frame = model.datacollector.get_agent_vars_dataframe()
    assert agent_frame["developer"].notna().sum() == 6 * scenario.n  # rounds 0..5 (the designer has no effort)
    totals = model.datacollector.get_model_vars_dataframe()["total_effort"].to_numpy()
    np.testing.assert_allclose(totals, model.trajectory().groupby("round")["effort"].sum().to_numpy())


def test_release_forgets_the_model_in_mesa_id_counters():
    model = run_mesa(parse_scenario(race(rounds=2)))
    assert model not in getattr(mesa.Agent, "_ids", {})


def test_outcome_matches_the_batch_engine():
    scenario = parse_scenario(race(rounds=120))
    a = run(scenario).outcome(0)
    b = run_mesa(scenario).outcome()
    assert a.to_dict() == b.to_dict()


def test_rank_defender_never_climbs():
    """The example subclass: a developer that only defends its rank never buys a better one.

    With plain developers the weaker ones overtake; with rank defenders
    nobody ever improves on the rank it holds, so from the all-zero start the
    capability ranking is never disturbed.
    """
    scenario = parse_scenario(race(rounds=30))
    plain = run_mesa(scenario).trajectory()
    assert (plain.groupby("developer")["rank"].min() < plain[plain["round"] == 0].set_index("developer")["rank"]).any()
    defended = run_mesa(scenario, developer_class=RankDefender).trajectory()
    start = defended[defended["round"] == 0].set_index("developer")["rank"]
    best = defended.groupby("developer")["rank"].min()
    assert (best >= start).all()
    assert defended["effort"].max() == 0.0

    # From the all-zero start doing nothing passes too.  From a start where the weakest developer (3) has
    # bought the rank above developer 1, doing nothing gives that rank back (developer 1 climbs), while a rank
    # defender keeps paying for it and every rank stays where it started.
    bought = parse_scenario(race(rounds=30, initial=[0.0, 0.0, 0.0, 5.0]))

    class Lazy(Developer):
        def respond(self) -> float:
            return 0.0

    def ranks(trajectory):
        return trajectory.pivot(index="round", columns="developer", values="rank")

    start = ranks(run_mesa(bought, developer_class=Lazy).trajectory()).iloc[0]
    assert start[3] < start[1], "developer 3 starts above the stronger developer 1"
    lazy = ranks(run_mesa(bought, developer_class=Lazy).trajectory())
    assert (lazy.min() < start).any(), "doing nothing from this start lets someone climb"
    defended = run_mesa(bought, developer_class=RankDefender).trajectory()
    assert (ranks(defended) == start).all().all()
    kept = defended[defended["developer"] == 3].set_index("round")["effort"]
    assert (kept > 0).all() and kept.iloc[-1] < 5.0  # pays every round, no more than it takes


def test_a_subclass_changes_behaviour_with_one_method():
    class Lazy(Developer):
        def respond(self) -> float:
            return 0.0

    model = run_mesa(parse_scenario(race(rounds=10)), developer_class=Lazy)
    assert model.trajectory()["effort"].max() == 0.0
    assert model.outcome().outcome == "converged_zero"


def test_mesa_rounds_must_be_a_positive_integer():
    from sim.errors import ScenarioError

    model = LeaderboardModel(parse_scenario(race(rounds=3)))
    for bad in (0, -5, 2.5):
        with pytest.raises(ScenarioError, match="dynamics.rounds"):
            model.run(bad)
