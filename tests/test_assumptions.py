"""Tests of sim.assumptions: each check passes where the assumption holds and names the failure where not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import assumption_games

from sim.assumptions import check_assumptions, check_cost, effort_grid
from sim.costs import COST_FAMILIES, CustomCost, FlatQuadraticCost, LinearCost, PowerCost
from sim.examples import shifted_exponential
from sim.game import LeaderboardGame
from sim.scores import CustomScore, ExpSaturation, PowerLaw

NAMES = {
    "cost zero at zero",
    "cost non-decreasing",
    "cost convex",
    "cost strictly increasing",
    "cost unbounded",
    "C1",
    "C2 non-decreasing",
    "C2 concave",
    "C2 finite limit",
    "C3",
}


def power_law_game(alpha, beta, lower=0.0, upper=1.0, cost=None):
    n = len(alpha)
    theta = np.linspace(1.0, 0.0, n)
    fam = PowerLaw(np.full(n, lower), np.full(n, upper), np.asarray(alpha, float), np.asarray(beta, float))
    return LeaderboardGame(theta, fam, cost or LinearCost(1.0), np.r_[1.0, np.zeros(n - 1)])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assumption_games())
def test_games_satisfying_the_assumptions_pass_every_check(game):
    report = check_assumptions(game)
    assert {r.name for r in report.results} == NAMES
    assert report.holds, [(r.name, r.where) for r in report.failures]


def test_power_law_with_beta_above_one_is_convex_at_low_scores():
    """d2f/de2 has the sign of (1 - 2y) beta - 1: with beta = 2 it is convex while y < 1/4."""
    game = power_law_game([1.0, -3.0], [2.0, 2.0])
    report = check_assumptions(game)
    concave = report["C2 concave"]
    assert not concave.holds
    assert "developer 1" in concave.where and "convex" in concave.where
    # The convex stretch ends where y = 1/4: logit(1/4) = -3 + 2 log(1 + e), e = exp((log(1/3) + 3) / 2) - 1.
    e_quarter = np.exp((np.log(1 / 3) + 3) / 2) - 1
    upper_end = float(concave.where.split("[")[1].split(",")[1].split("]")[0])
    assert upper_end == pytest.approx(e_quarter, rel=0.05)
    # beta <= 1 is concave everywhere.
    assert check_assumptions(power_law_game([1.0, -3.0], [1.0, 0.9]))["C2 concave"].holds


def test_c1_fails_where_curves_cross():
    # The weaker learns much faster and has the higher ceiling: it passes the stronger at some effort.
    fam = ExpSaturation(np.array([0.5, 0.0]), np.array([0.9, 1.0]), np.array([0.1, 5.0]))
    game = LeaderboardGame(np.array([1.0, 0.0]), fam, LinearCost(1.0), np.array([1.0, 0.0]))
    c1 = check_assumptions(game)["C1"]
    assert not c1.holds
    assert "developer 0" in c1.where and "developer 1" in c1.where
    effort = float(c1.where.split("at effort ")[1].split(":")[0])
    assert fam[1].score(effort) >= fam[0].score(effort)


def test_c3_fails_when_the_weaker_learns_faster():
    game = power_law_game([0.0, -0.5], [0.3, 0.6])
    c3 = check_assumptions(game)["C3"]
    assert not c3.holds and "effort advantage falls" in c3.where


def test_c2_finite_limit_fails_for_an_unbounded_custom_score():
    game = LeaderboardGame(
        np.array([1.0, 0.0]),
        CustomScore(lambda t, e: t + np.log1p(e), np.array([1.0, 0.0])),
        LinearCost(1.0),
        np.array([1.0, 0.0]),
    )
    assert not check_assumptions(game)["C2 finite limit"].holds


def test_flat_cost_counterexample_names_the_non_strict_cost():
    theta = np.array([1.0, 0.5])
    game = LeaderboardGame(
        theta, CustomScore(shifted_exponential, theta), FlatQuadraticCost(1.0, 1.0), np.array([1.0, 1.0])
    )
    report = check_assumptions(game)
    assert [r.name for r in report.failures] == ["cost strictly increasing"]
    where = report["cost strictly increasing"].where
    assert "constant on [0," in where
    # The flat stretch ends at the free effort 1.
    end = float(where.split("[0, ")[1].split("]")[0])
    assert end == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize(
    "cost", [LinearCost(2.0), PowerCost(1.0, 1.0), PowerCost(0.5, 2.5), FlatQuadraticCost(1.0, 2.0)]
)
def test_declared_cost_metadata_matches_the_numerical_checks(cost):
    results = {r.name: r.holds for r in check_cost(cost, effort_grid())}
    assert results["cost convex"] == cost.declared["convex"]
    assert results["cost non-decreasing"] == cost.declared["non_decreasing"]
    assert results["cost strictly increasing"] == cost.declared["strictly_increasing"]
    assert results["cost unbounded"] == cost.declared["unbounded"]
    assert results["cost zero at zero"]


def test_every_cost_family_declares_its_metadata_or_is_custom():
    for name, cls in COST_FAMILIES.items():
        assert cls.family == name
        assert cls.declared or name == "custom"


def test_cost_checks_catch_concave_decreasing_bounded_and_offset_costs():
    concave = {r.name: r for r in check_cost(CustomCost(np.sqrt))}
    assert not concave["cost convex"].holds and concave["cost non-decreasing"].holds
    decreasing = {r.name: r for r in check_cost(CustomCost(lambda x: np.abs(x - 1.0) ** 2 - 1.0))}
    assert not decreasing["cost non-decreasing"].holds and "decreases" in decreasing["cost non-decreasing"].where
    bounded = {r.name: r for r in check_cost(CustomCost(lambda x: np.minimum(x, 1.0)))}
    assert not bounded["cost unbounded"].holds
    offset = {r.name: r for r in check_cost(CustomCost(lambda x: x + 1.0))}
    assert not offset["cost zero at zero"].holds
