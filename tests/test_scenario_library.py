"""The scenario library: every kind the project promises is there, documented, and is what its name says.

Each kind is recognised by its parameters, not only by its file name, so a
file that drifted away from what it documents fails here.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from sim.costs import FlatQuadraticCost
from sim.scenario import load_scenario
from sim.scores import PowerLaw

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
CATALOGUE = (ROOT / "scenarios" / "README.md").read_text()


def _load(stem: str):
    return load_scenario(ROOT / "scenarios" / f"{stem}.toml")


def _normalised_baseline(stem: str) -> np.ndarray:
    """``y_i = (f(theta_i, 0) - L) / (U - L)`` for a power-law scenario."""
    scenario = _load(stem)
    bound = scenario.bound_score()
    assert isinstance(bound, PowerLaw)
    scores = scenario.game(tau=0.0).scores(np.zeros(scenario.n))
    return (scores - bound.lower) / (bound.upper - bound.lower)


def test_there_are_at_least_ten_named_scenarios():
    names = [load_scenario(p).name for p in SCENARIOS]
    assert len(SCENARIOS) >= 10
    assert len(set(names)) == len(names), "scenario names are unique"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_each_scenario_is_documented(path):
    text = path.read_text()
    header = list(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines()))
    assert len(header) >= 3, f"{path.name}: a header comment of several lines says what the scenario models"
    assert load_scenario(path).name == path.stem.replace("_", "-"), "the name is the file stem with dashes"
    assert re.search(rf"`{re.escape(path.name)}`", CATALOGUE), f"{path.name} is listed in scenarios/README.md"


def test_the_catalogue_lists_no_missing_file():
    listed = set(re.findall(r"^\| `([\w.]+\.toml)`", CATALOGUE, flags=re.M))
    assert listed == {p.name for p in SCENARIOS}


def test_reward_schemes_are_all_represented():
    schemes = {load_scenario(p).reward.scheme for p in SCENARIOS}
    assert {"winner_take_all", "top_k", "linear", "geometric", "zipf"} <= schemes, schemes


def test_winner_take_all_and_top_k_pay_as_named():
    np.testing.assert_array_equal(_load("winner_take_all_5").rewards, [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(_load("top3_of_10").rewards, [1] * 3 + [0] * 7)
    np.testing.assert_array_equal(_load("hard_early_stage").rewards, [1, 1, 0, 0, 0, 0])


def test_smoothly_decaying_rewards_have_the_stated_gaps():
    gaps = -np.diff(_load("linear_rewards_10").rewards)
    np.testing.assert_allclose(gaps, 1 / 9, rtol=1e-12)
    zipf = _load("zipf_rewards_10").rewards
    np.testing.assert_allclose(zipf, 1 / np.arange(1, 11), rtol=1e-12)
    assert np.all(np.diff(-np.diff(zipf)) < 0), "Zipf gaps shrink down the board"


def test_saturated_benchmark_sits_near_the_ceiling_and_is_clustered():
    y = _normalised_baseline("saturated_benchmark")
    assert np.all(y > 0.94) and np.all(y < 1), y
    assert np.ptp(y) < 0.03


def test_hard_early_stage_sits_near_the_floor_and_is_clustered():
    y = _normalised_baseline("hard_early_stage")
    assert np.all(y > 0) and np.all(y < 0.03), y
    assert np.ptp(y) < 0.02


@pytest.mark.parametrize("stem", ["saturated_benchmark", "hard_early_stage", "linear_rewards_10", "zipf_rewards_10"])
def test_library_games_race_at_zero_and_stabilise_at_tau_star(stem):
    """Below tau* the all-zero profile is not an equilibrium (a race is on); at tau* it is (Definition 5.4)."""
    from sim.theory import stabilising_threshold, zero_is_equilibrium_exact

    game = _load(stem).game(tau=0.0)
    threshold = stabilising_threshold(game)
    assert threshold.vouched and 0 < threshold.tau_star < np.inf
    assert not zero_is_equilibrium_exact(game)
    assert zero_is_equilibrium_exact(game.with_tau(threshold.tau_star))


def test_flat_cost_counterexample_has_a_flat_cost():
    assert isinstance(_load("flat_cost").cost, FlatQuadraticCost)


def test_five_model_family_and_calibrated_scenario_exist():
    family = _load("qwen25_winogrande")
    assert family.n == 5
    calibrated = _load("lm_harmony_calibrated")
    assert calibrated.n >= 5
    assert "lm_harmony" in (ROOT / "scenarios" / "lm_harmony_calibrated.toml").read_text()
