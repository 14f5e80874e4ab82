"""Data functions of experiments/min_just_overtake.py (Figure 1, right; Lemma 5.2, Proposition 5.6)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from experiments import min_just_overtake as exp
from sim.costs import LinearCost
from sim.game import LeaderboardGame
from sim.scores import ExpSaturation, PowerLaw
from sim.theory import just_overtake

#: Lemma 5.2 tolerance: the exact min may fall by at most this relative round-off between consecutive levels.
MONOTONE_RTOL = exp.MONOTONE_RTOL
#: The published-grid curve may dip below the exact one by at most this relative round-off.
GRID_RTOL = 1e-9
#: At the left limit of every rival crossing the grid curve touches the exact one: relative gap below this.
ENVELOPE_RTOL = 1e-6
#: Proposition 5.6's closed form against sim.theory.just_overtake.
CLOSED_FORM_RTOL = 1e-9


@pytest.fixture(scope="module")
def games():
    return exp.load_games()


@pytest.fixture(scope="module")
def exact_table(games):
    exact, _ = games
    return exact, exp.just_overtake_table(exact, exp.tau_levels(exp.TAU_MAX, 150))


@pytest.fixture(scope="module")
def grid_table(games):
    exact, published = games
    taus = np.union1d(exp.tau_levels(3000.0, 60), np.linspace(2800.0, 3200.0, 21))
    return exp.published_grid_table(published, exact, taus, 3200.0)


def test_games_are_the_scenario_with_and_without_resolution(games):
    exact, published = games
    assert exact.resolution == 0.0 and published.resolution == pytest.approx(1e-4)
    assert exact.n == published.n == 5
    np.testing.assert_array_equal(exact.theta, published.theta)


def test_labels_name_the_models_weaker_vs_stronger(games):
    exact, _ = games
    assert exp.pair_labels(exact) == ["7B vs 14B", "3B vs 7B", "1.5B vs 3B", "0.5B vs 1.5B"]
    assert exp.pair_columns(exact)[0] == "delta_7B_vs_14B"


def test_tau_levels_start_at_zero_are_sorted_and_contain_the_anchors():
    taus = exp.tau_levels(1e4, 50)
    assert taus[0] == 0.0 and taus[-1] == pytest.approx(1e4)
    assert np.all(np.diff(taus) > 0)
    assert {0.0, 3000.0} <= set(taus.tolist())


def test_min_is_the_min_over_pairs(exact_table):
    exact, table = exact_table
    columns = exp.pair_columns(exact)
    values = table[columns].to_numpy()
    np.testing.assert_array_equal(table["min_delta"].to_numpy(), values.min(axis=1))
    # The named pair attains it.
    named = [columns.index("delta_" + p.replace(" ", "_")) for p in table["argmin_pair"]]
    chosen = values[np.arange(len(table)), named]
    np.testing.assert_array_equal(chosen, table["min_delta"].to_numpy())
    # And every column is sim.theory.just_overtake itself.
    np.testing.assert_array_equal(values, just_overtake(exact, table["tau"].to_numpy()))


def test_exact_min_is_non_decreasing_in_tau_lemma_5_2(exact_table):
    _, table = exact_table
    m = table["min_delta"].to_numpy()
    assert np.all(np.diff(m) >= -MONOTONE_RTOL * m[1:])
    assert m[-1] > 1e3 * m[0]  # and it grows a lot: not a vacuous check


def test_exact_min_is_non_decreasing_on_random_two_developer_games():
    """Lemma 5.2 on other power-law pairs too (alpha, beta increasing, beta < 1), not just the scenario."""
    rng = np.random.default_rng(52)
    taus = exp.tau_levels(1e5, 200)
    for _ in range(20):
        beta_strong = rng.uniform(0.05, 1.0)
        score = PowerLaw(lower=0.2, upper=0.9, alpha=np.array([0.5, rng.uniform(-3, 0.4)]),
                         beta=np.array([beta_strong, beta_strong * rng.uniform(0.3, 1.0)]))
        game = LeaderboardGame(np.array([1.0, 0.0]), score, LinearCost(1.0), np.array([1.0, 0.0]))
        m = exp.just_overtake_table(game, taus)["min_delta"].to_numpy()
        finite = np.isfinite(m)
        assert np.all(np.diff(m[finite]) >= -MONOTONE_RTOL * m[finite][1:])


def test_grid_curve_is_never_below_the_exact_one(grid_table):
    g = grid_table
    assert np.all(g["min_delta_grid"] >= g["min_delta_exact"] * (1 - GRID_RTOL))
    # It is strictly above somewhere (the grid costs something): the check can fail.
    assert np.any(g["min_delta_grid"] > g["min_delta_exact"] * (1 + 1e-4))


def test_exact_curve_is_the_lower_envelope_of_the_grid_curve(grid_table):
    """Just before a rival crosses a grid line its score is a hair below the line the challenger must reach."""
    left = grid_table.loc[grid_table["left_limit"] & (grid_table["crossing_of"] == "7B vs 14B")]
    assert len(left) > 50  # the rival crosses many grid lines up to tau = 3200
    gap = (left["min_delta_grid"] - left["min_delta_exact"]) / left["min_delta_exact"]
    assert gap.max() < ENVELOPE_RTOL


def test_grid_curve_falls_between_crossings_and_jumps_at_them(games):
    """Between two crossings of the rival the published target is fixed: Delta falls with slope -1."""
    exact, published = games
    crossings = exp.rival_crossings(published, 3200.0, pair=0)  # the 14B's crossings: pair 7B vs 14B jumps
    assert np.all(np.diff(crossings) > 0) and crossings.size > 50
    assert set(crossings.tolist()) < set(exp.rival_crossings(published, 3200.0).tolist())
    a, b = crossings[100], crossings[101]
    inside = np.linspace(a, b, 7)[1:-1]
    d = just_overtake(published, inside)[:, 0]
    np.testing.assert_allclose(np.diff(d), -np.diff(inside), rtol=1e-6)
    before, at = just_overtake(published, np.array([np.nextafter(b, 0.0), b]))[:, 0]
    assert at > before  # the jump


def test_rival_crossings_empty_for_exact_scores(games):
    exact, _ = games
    assert exp.rival_crossings(exact, 1e4).size == 0


def test_closed_form_agrees_with_just_overtake(games):
    exact, _ = games
    assert exp.closed_form_relative_difference(exact, exp.tau_levels(1e5, 100)) < CLOSED_FORM_RTOL


def test_closed_form_detects_a_wrong_game(games):
    """Proposition 5.6 is for exact scores and a common-L, U power law: anything else is refused."""
    exact, published = games
    with pytest.raises(ValueError, match="exact scores"):
        exp.closed_form_relative_difference(published, [0.0, 1.0])
    other = dataclasses.replace(exact, score=ExpSaturation(lower=0.5, upper=np.linspace(0.8, 0.9, 5), rate=1.0))
    with pytest.raises(ValueError, match="power law"):
        exp.closed_form_relative_difference(other, [0.0, 1.0])


def test_anchors_table_matches_the_paper_within_one_percent(games):
    exact, published = games
    table = exp.anchors_table(exact, published)
    assert table["tau"].tolist() == [0.0, 3000.0]
    assert table["relative_error"].max() < 0.01
    assert np.all(table["grid"] >= table["exact"] * (1 - GRID_RTOL))


def test_run_quick_writes_its_outputs(quick_results):
    out = quick_results / exp.INFO.name
    headline = json.loads((out / "summary.json").read_text())["results"]
    for name in (*exp.INFO.data, f"{exp.INFO.figure}.png", f"{exp.INFO.figure}.pdf"):
        assert (out / name).is_file(), name
    assert headline["closed_form_max_relative_difference"] < CLOSED_FORM_RTOL
    assert headline["cheapest_pair"] == "7B vs 14B"
    assert abs(headline["min_delta_at_tau_0_steps"] / 18.0 - 1) < 0.01
