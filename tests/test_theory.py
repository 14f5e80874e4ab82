"""Tests of sim.theory: Definition 4.4, Proposition 4.5, Lemma 5.2, Definition 5.4, Proposition 5.6."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import assumption_games

from sim import theory
from sim.assumptions import check_assumptions
from sim.costs import LinearCost
from sim.game import LeaderboardGame
from sim.leaderboard import grid_index, least_score_at_index
from sim.rewards import RewardScheme, reward_gaps
from sim.scores import ExpSaturation, PowerLaw

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def two_power_law(alpha, beta, gap=1.0, cost_scale=1.0, resolution=0.0, tau=0.0, effort_unit=1.0):
    """Two developers (ids 0 stronger, 1 weaker), common L=0, U=1, winner-take-all scaled to ``gap``."""
    score = PowerLaw(np.zeros(2), np.ones(2), np.asarray(alpha, float), np.asarray(beta, float), effort_unit)
    return LeaderboardGame(
        np.array([1.0, 0.0]), score, LinearCost(cost_scale), np.array([gap, 0.0]), tau=tau, resolution=resolution
    )


# -- Definition 4.4 ----------------------------------------------------------


def test_just_overtake_exact_scores_by_hand():
    # Exponential saturation, L_i = theta_i, U_i = theta_i + 1, rate 1: f = theta + 1 - exp(-e).
    # At tau = 0 the stronger (theta = 0.5) scores 0.5; the weaker (theta = 0) needs
    # 1 - exp(-E) = 0.5, so E = log 2.
    fam = ExpSaturation(np.array([0.5, 0.0]), np.array([1.5, 1.0]), np.ones(2))
    game = LeaderboardGame(np.array([0.5, 0.0]), fam, LinearCost(1.0), np.array([1.0, 0.0]))
    assert theory.just_overtake(game) == pytest.approx([np.log(2)], rel=1e-12)
    # At tau: the weaker needs 1 - exp(-E) = 0.5 + 1 - exp(-tau), so E = -log(exp(-tau) - 0.5) while exp(-tau) > 0.5.
    tau = 0.3
    assert theory.just_overtake(game, tau) == pytest.approx([-np.log(np.exp(-tau) - 0.5) - tau], rel=1e-10)
    # Once the rival's score passes the weaker's limit of 1, overtaking is impossible.
    assert np.isinf(theory.just_overtake(game, 1.0))


def test_just_overtake_on_grid_needs_next_level():
    fam = ExpSaturation(np.array([0.5, 0.0]), np.array([1.5, 1.0]), np.ones(2))
    game = LeaderboardGame(np.array([0.5, 0.0]), fam, LinearCost(1.0), np.array([1.0, 0.0]), resolution=0.1)
    # Rival publishes 0.5; the weaker loses ties, so it must reach 0.6: 1 - exp(-E) = 0.6, E = log 2.5
    # (up to the grid's slack: the least score on level 6 lies a few ulps below 0.6).
    assert theory.just_overtake(game) == pytest.approx([np.log(2.5)], rel=1e-9)
    target = least_score_at_index(6, 0.1)
    assert theory.just_overtake(game) == pytest.approx([-np.log1p(-target)], rel=1e-12)
    weaker_score = fam[1].score(theory.just_overtake(game)[0])
    assert grid_index(weaker_score, 0.1) == 6


def test_just_overtake_is_in_capability_order_whatever_the_ids():
    theta = np.array([0.2, 0.9, 0.5])
    fam = PowerLaw(np.zeros(3), np.ones(3), -1 + 2 * theta, 0.3 + 0.3 * theta)
    game = LeaderboardGame(theta, fam, LinearCost(1.0), RewardScheme("linear").vector(3))
    # Pairs: (1 strongest, 2) then (2, 0).
    assert game.capability_order.tolist() == [1, 2, 0]
    delta = theory.just_overtake(game)
    b = fam.score(0.0)
    assert fam[2].score(delta[0]) == pytest.approx(b[1], rel=1e-12)
    assert fam[0].score(delta[1]) == pytest.approx(b[2], rel=1e-12)


@PROPERTY
@given(assumption_games(resolution=0.0), st.lists(st.floats(0.0, 1e5), min_size=2, max_size=8))
def test_lemma_5_2_just_overtake_non_decreasing_in_tau(game, taus):
    """Lemma 5.2: with exact scores Delta_i(tau) is non-decreasing in tau."""
    taus = np.sort(np.asarray(taus))
    delta = theory.just_overtake(game, taus)  # (taus, pairs)
    finite = np.isfinite(delta)
    # Once unreachable, it stays unreachable.
    assert np.all(np.diff(finite.astype(int), axis=0) <= 0)
    both = finite[1:] & finite[:-1]
    drop = (delta[:-1] - delta[1:])[both]
    scale = np.maximum(1.0, np.abs(delta[1:][both]))
    assert np.all(drop <= 1e-9 * scale + 1e-9 * taus[1:, None].repeat(delta.shape[1], 1)[both])


# -- Proposition 4.5 ---------------------------------------------------------


@PROPERTY
@given(assumption_games(resolution=0.0))
def test_proposition_4_5_agrees_with_exact_check(game):
    """Under C1-C3 and a convex cost, the adjacent test is exact at the all-zero profile."""
    assert theory.zero_is_equilibrium(game) == theory.zero_is_equilibrium_exact(game)


def test_proposition_4_5_by_hand():
    # Weaker needs Delta(0) = D - 1 with D = exp((alpha_0 - alpha_1) / beta_1) = exp(1)
    # for alpha = (0, -0.5), beta_1 = 0.5.
    delta0 = np.e - 1
    for gap, expected in ((0.9 * delta0, True), (1.1 * delta0, False)):
        game = two_power_law([0.0, -0.5], [0.5, 0.5], gap=gap)
        cond = theory.zero_equilibrium_condition(game)
        assert cond.just_overtake == pytest.approx([delta0], rel=1e-12)
        assert cond.zero_is_equilibrium is expected
        assert theory.zero_is_equilibrium_exact(game) is expected


def test_adjacent_test_fails_when_c3_fails():
    """Known counterexample: a fast learner two places down jumps to the top.

    Winner-take-all, so only the top pair has a reward gap; the adjacent test
    looks at that pair alone.  Developer 2 (weakest) learns so much faster
    (beta = 2) that reaching the leader's score costs it less than the gap,
    while developer 1 (beta = 0.05) cannot afford it.  C3 fails, and the
    exact check finds the deviation the proposition misses.
    """
    theta = np.array([3.0, 2.0, 1.0])
    fam = PowerLaw(np.zeros(3), np.ones(3), np.array([0.0, -0.1, -0.2]), np.array([0.1, 0.05, 2.0]))
    game = LeaderboardGame(theta, fam, LinearCost(0.5), RewardScheme().vector(3))
    assert theory.zero_is_equilibrium(game)
    check = game.is_equilibrium(np.zeros(3))
    assert not check.is_equilibrium
    assert check.profitable.tolist() == [2]
    failing = {r.name for r in check_assumptions(game).failures}
    assert "C3" in failing


# -- Definition 5.4 ----------------------------------------------------------


@PROPERTY
@given(assumption_games(resolution=0.0))
def test_tau_star_is_the_threshold(game):
    """At tau* (1 + 1e-6) the all-zero profile is a PNE; at tau* (1 - 1e-6) it is not."""
    result = theory.stabilising_threshold(game)
    assume(result.stabilises)
    assert result.vouched, result.note
    assert result.tau_star == pytest.approx(result.per_pair.max())
    above = result.tau_star * (1 + 1e-6)
    assert theory.zero_is_equilibrium(game, above)
    assert theory.zero_is_equilibrium_exact(game, above)
    if result.tau_star > 0:
        below = result.tau_star * (1 - 1e-6)
        assert not theory.zero_is_equilibrium(game, below)
        assert not theory.zero_is_equilibrium_exact(game, below)
    else:
        assert theory.zero_is_equilibrium(game, 0.0)


@PROPERTY
@given(assumption_games(resolution=1e-3, max_n=3), st.randoms(use_true_random=False))
def test_tau_star_on_grid_is_exact(game, rnd):
    """delta > 0: the condition fails just below tau* and holds everywhere above it."""
    result = theory.stabilising_threshold(game)
    assert result.method == "grid_levels"
    assume(result.stabilises)
    t = result.tau_star
    assert theory.zero_is_equilibrium(game, t)
    if t > 0:
        assert not theory.zero_is_equilibrium(game, np.nextafter(t, 0.0))
    above = t + np.array([rnd.uniform(0, 1) for _ in range(50)]) * max(10 * t, 1.0)
    holds = theory._holds_at(game, above)
    assert holds.all()


def test_tau_star_on_grid_matches_a_dense_scan():
    game = two_power_law([0.0, -0.3], [0.6, 0.5], gap=200.0, resolution=1e-3)
    result = theory.stabilising_threshold(game)
    taus = np.linspace(0, 2 * result.tau_star, 100_001)
    holds = theory._holds_at(game, taus).all(axis=1)
    last_failure = taus[np.flatnonzero(~holds)[-1]]
    assert last_failure < result.tau_star <= last_failure + (taus[1] - taus[0])
    # The grid makes the condition a sawtooth: it fails again after holding (not monotone)...
    assert np.any(holds[: np.flatnonzero(~holds)[-1]])
    # ... and the exact-score threshold bounds it from above (the lower envelope).
    exact = theory.stabilising_threshold(replace(game, resolution=0.0))
    assert result.tau_star <= exact.tau_star


def test_tau_star_zero_when_already_stable():
    game = two_power_law([0.0, -1.0], [0.5, 0.5], gap=0.1)
    result = theory.stabilising_threshold(game)
    assert result.tau_star == 0.0 and result.stabilises


def test_tau_star_never_when_the_weaker_learns_faster():
    """rho > 1: Delta_i(tau) = D (1 + tau)^(1/rho) - (1 + tau) eventually falls to 0, so it never stabilises."""
    game = two_power_law([0.0, -0.5], [0.3, 0.6], gap=5.0)
    result = theory.stabilising_threshold(game, tau_max=1e9)
    assert not result.stabilises
    assert result.tau_star == np.inf
    assert "tau_max" in result.note
    assert not theory.zero_is_equilibrium(game, 1e9)


def test_condition_that_holds_only_in_the_middle_never_stabilises():
    """Weaker learns faster (rho = 7/6 > 1): Delta_i rises from D - 1, peaks near tau = 7400, then falls to 0.

    With a gap of 100 the condition fails at 0, holds around the peak and fails again for large tau:
    tau* does not exist and the search must say so rather than return the middle.
    """
    game = two_power_law([0.0, -0.5], [0.3, 0.35], gap=100.0)
    delta = theory.just_overtake(game, np.array([0.0, 7.4e3, 1e12]))[:, 0]
    assert delta[0] < 100.0 < delta[1] and delta[2] < 100.0
    result = theory.stabilising_threshold(game, tau_max=1e12)
    assert not result.stabilises and result.tau_star == np.inf


def test_non_monotone_but_stabilising_is_not_vouched():
    # Exponential saturation with crossing curves (C1 fails): the weaker (L=0, U=0.8, rate 1) needs
    # E = log(1 / 0.375) = 0.98 to reach the rival's 0.5 at tau = 0, so the condition holds for a gap of 0.6;
    # by tau = 3 it is ahead of the slow rival (L=0.5, U=0.9, rate 0.01): Delta = 0, the condition fails;
    # once the rival passes 0.8 the weaker can never catch up: it holds again for good.
    fam = ExpSaturation(np.array([0.5, 0.0]), np.array([0.9, 0.8]), np.array([0.01, 1.0]))
    game = LeaderboardGame(np.array([1.0, 0.0]), fam, LinearCost(1.0), np.array([0.6, 0.0]))
    taus = np.concatenate([[0.0], np.geomspace(1e-6, 1e12, 400)])
    holds = theory._holds_at(game, taus)[:, 0]
    assert holds[0] and not holds.all() and holds[-1]
    result = theory.stabilising_threshold(game)
    assert result.stabilises and not result.vouched
    assert "not monotone" in result.note
    assert theory.zero_is_equilibrium(game, result.tau_star * (1 + 1e-9))


@st.composite
def grid_games(draw) -> LeaderboardGame:
    """Games on a published grid for comparing the grid-level search with its pair-by-pair reference.

    Power law (the paper's assumptions) or exponential saturation (levels and rates from capability,
    not necessarily ordered), limits on the grid or off it, ties broken by capability or by id, and
    sometimes two developers with the same score curve (their baselines tie on every level).
    """
    resolution = draw(st.sampled_from([1e-2, 5e-3, 1e-3, 1e-4]))
    game = draw(assumption_games(min_n=2, max_n=6, resolution=resolution))
    n = game.n
    if draw(st.booleans()):
        t = (game.theta - game.theta.min()) / np.ptp(game.theta)
        lower = draw(st.floats(0.0, 0.5)) + draw(st.floats(-0.2, 0.3)) * t
        width = draw(st.floats(0.05, 0.6)) + draw(st.floats(-0.05, 0.3)) * t
        upper = lower + np.maximum(width, 0.01)
        if draw(st.booleans()):  # limits exactly on grid lines, reached only at huge effort
            upper = np.ceil(upper / resolution) * resolution
        rate = draw(st.floats(0.01, 3.0)) * np.exp(draw(st.floats(-1.0, 1.0)) * t)
        game = replace(game, score=ExpSaturation(lower, upper, rate))
    if draw(st.booleans()):  # the same score curve for two developers
        i, j = draw(st.permutations(range(n)))[:2]
        fam = game.score
        fields = ("lower", "upper", "alpha", "beta") if isinstance(fam, PowerLaw) else ("lower", "upper", "rate")
        copied = {}
        for name in fields:
            values = np.array(getattr(fam, name), dtype=float)
            values[i] = values[j]
            copied[name] = values
        game = replace(game, score=replace(fam, **copied))
    tie_break = draw(st.sampled_from(["capability", "id"]))
    scales = draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n))
    gamma = None if draw(st.booleans()) else np.exp(np.array(scales))
    return replace(game, tie_break=tie_break, gamma=gamma, priority=None)


def assert_same_threshold(result, reference):
    assert (result is None) == (reference is None)
    if reference is None:
        return
    assert result.per_pair.dtype == reference.per_pair.dtype
    assert result.per_pair.tobytes() == reference.per_pair.tobytes(), (result, reference)  # bit for bit
    assert (result.vouched, result.method, result.note) == (reference.vouched, reference.method, reference.note)
    assert result.tau_max == reference.tau_max


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid_games(), st.sampled_from([None, 1, 50]), st.sampled_from([theory.MANY_ELEMENTS, 1]))
def test_tau_star_on_grid_is_bit_identical_to_the_pair_by_pair_search(game, batch, many):
    """The vectorised grid-level search returns exactly what the original per-pair loop does.

    Whatever the batching of pairs (``batch``) and the grouping of the float searches (``many``).
    """
    with np.errstate(over="ignore"):  # the original loop lets the costs of unreachable targets overflow
        reference = theory._threshold_grid_levels_reference(game)
    with mock.patch.object(theory, "MANY_ELEMENTS", many):
        assert_same_threshold(theory._threshold_grid_levels(game, batch=batch), reference)
    if reference is not None:
        assert_same_threshold(theory.stabilising_threshold(game), reference)


def test_tau_star_on_grid_bit_identical_on_the_benchmark_family():
    """Ten sampled developers, power law and exponential saturation, several reward schemes and resolutions."""
    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    base = sampled_arms_race(10, seed=3, name="b")
    variants = [
        {},
        {"score": {"family": "exp_saturation", "lower": 0.25, "upper": 0.95, "rate": 0.5}},
        {"reward": {"scheme": "winner_take_all"}},
        {"reward": {"scheme": "zipf", "exponent": 1.0}, "leaderboard": {"resolution": 0.01}},
        {"reward": {"scheme": "linear"}, "leaderboard": {"resolution": 0.001, "tie_break": "id"}},
    ]
    for seed, changes in enumerate(variants):
        game = parse_scenario({**base, **changes, "seed": seed}).game()
        reference = theory._threshold_grid_levels_reference(game)
        assert reference is not None
        assert_same_threshold(theory.stabilising_threshold(game), reference)


def test_tau_star_on_grid_too_many_levels_falls_back_like_the_reference(monkeypatch):
    game = two_power_law([0.0, -0.3], [0.6, 0.5], gap=200.0, resolution=1e-3)
    monkeypatch.setattr(theory.grid_levels, "MAX_GRID_LEVELS", 5)
    assert theory._threshold_grid_levels(game) is None and theory._threshold_grid_levels_reference(game) is None
    assert theory.stabilising_threshold(game).method == "bisection"


def test_tau_star_on_grid_too_many_levels_over_all_pairs_falls_back_unvouched(monkeypatch):
    """Each pair within MAX_GRID_LEVELS but all together beyond MAX_TOTAL_GRID_LEVELS: the sampled search,
    not vouched for (bounded time on thousands of developers)."""
    game = two_power_law([0.0, -0.3], [0.6, 0.5], gap=200.0, resolution=1e-3)
    assert theory._threshold_grid_levels(game) is not None
    monkeypatch.setattr(theory.grid_levels, "MAX_TOTAL_GRID_LEVELS", 5)
    assert theory._threshold_grid_levels(game) is None
    threshold = theory.stabilising_threshold(game)
    assert threshold.method == "bisection" and not threshold.vouched


def test_tau_star_on_grid_bit_identical_for_a_custom_score():
    from sim.scores import CustomScore

    fam = CustomScore(lambda theta, e: theta + 0.5 * (1 - np.exp(-e / (1 + theta))), np.array([0.3, 0.1, 0.0]))
    game = LeaderboardGame(fam.theta, fam, LinearCost(1.0), np.array([3.0, 1.0, 0.0]), resolution=1e-2)
    assert_same_threshold(theory.stabilising_threshold(game), theory._threshold_grid_levels_reference(game))


# -- Proposition 5.6 ---------------------------------------------------------


@PROPERTY
@given(assumption_games(resolution=0.0), st.floats(0.0, 1e4))
def test_proposition_5_6_closed_form_matches_just_overtake(game, tau):
    q = theory.power_law_quantities(game)
    assert q is not None
    expected = q.just_overtake_closed_form(tau)
    got = theory.just_overtake(game, tau)
    finite = np.isfinite(got)
    assert got[finite] == pytest.approx(expected[finite], rel=1e-6, abs=1e-6 * (1 + tau))


def test_proposition_5_6_quantities_by_hand():
    game = two_power_law([0.4, -0.2], [0.5, 0.4], gap=30.0, cost_scale=2.0)
    q = theory.power_law_quantities(game)
    D = np.exp(0.6 / 0.4)
    assert q.D == pytest.approx([D])
    assert q.baseline_catch_up == pytest.approx([D - 1])
    assert q.rho == pytest.approx([0.8])
    assert q.reward_gap_effort == pytest.approx([15.0])
    assert q.kappa == pytest.approx([15.0 / (D - 1)])
    assert q.predicted_tau_star == pytest.approx([(15.0 / (D - 1)) ** 0.8])


@pytest.mark.parametrize("rho", [0.3, 0.45, 0.6])
def test_proposition_5_6_tau_star_grows_like_kappa_to_the_rho(rho):
    """log tau* / log kappa -> rho: the fitted log-log slope over large kappa is rho."""
    alpha, beta_strong = [0.0, -0.5], 0.5
    kappas = np.geomspace(1e12, 1e16, 5)
    thresholds = []
    for kappa in kappas:
        game = two_power_law(alpha, [beta_strong, rho * beta_strong], gap=1.0)
        d0 = theory.power_law_quantities(game).baseline_catch_up[0]
        game = two_power_law(alpha, [beta_strong, rho * beta_strong], gap=kappa * d0)
        thresholds.append(theory.stabilising_threshold(game, tau_max=1e15).tau_star)
    slope = np.polyfit(np.log(kappas), np.log(thresholds), 1)[0]
    assert slope == pytest.approx(rho, abs=0.02)


def test_power_law_quantities_need_common_levels():
    score = PowerLaw(np.array([0.0, 0.1]), np.ones(2), np.zeros(2), np.ones(2) * 0.5)
    game = LeaderboardGame(np.array([1.0, 0.0]), score, LinearCost(1.0), np.array([1.0, 0.0]))
    assert theory.power_law_quantities(game) is None


def test_designer_utility():
    game = two_power_law([0.0, -0.5], [0.5, 0.5], tau=2.0)
    assert theory.designer_utility(game, np.zeros(2), 10.0, lambda t: 0.5 * t) == pytest.approx(10.0 - 2 * 1.0)
    # With the weaker far ahead the ranking is wrong and only the cost remains.
    assert theory.designer_utility(game, np.array([0.0, 1e6]), 10.0, lambda t: 0.5 * t) == pytest.approx(-2.0)


# -- Numerical honesty of tau* (docs/model.md#what-is-exact) ------------------

ROUND_OFF_SCENARIO = Path(__file__).resolve().parent / "round_off_tau_star.toml"


def unit_overtake_game(gap=2.0, cost_scale=1.0) -> LeaderboardGame:
    """f = 1 - 1/(2 + e + theta), theta in {1, 0}: the weaker overtakes with exactly one unit of effort at any tau."""
    score = PowerLaw(np.array([0.5, 0.0]), np.ones(2), np.array([-np.log(2.0), 0.0]), np.ones(2), 1.0)
    return LeaderboardGame(np.array([1.0, 0.0]), score, LinearCost(cost_scale), np.array([gap, 0.0]))


def test_unit_overtake_family_is_what_it_says():
    game = unit_overtake_game()
    e = np.array([0.0, 1.0, 10.0, 1e3])
    assert game.score[0].score(e) == pytest.approx(1 - 1 / (3 + e), rel=1e-14)
    assert game.score[1].score(e) == pytest.approx(1 - 1 / (2 + e), rel=1e-14)
    # Delta = 1 wherever doubles resolve it, so the cost 1 never covers the gap 2.
    taus = np.array([0.0, 1.0, 1e2, 1e4])
    assert theory.just_overtake(game, taus)[:, 0] == pytest.approx(1.0, rel=1e-6)
    assert not theory._holds_at(game, taus).any()


def test_tau_star_undetermined_in_double_precision_python_api():
    """No tau stabilises; beyond tau ~ 1e7..1e8 round-off would decide, so tau* must not be reported as found."""
    result = theory.stabilising_threshold(unit_overtake_game())
    assert result.tau_star is None and result.stabilises is None
    assert not result.determined and not result.vouched
    assert np.isnan(result.per_pair).all()
    assert 1e6 < result.undetermined_beyond < 1e9
    assert "undetermined in double precision beyond tau = " in result.note
    # Below that level the condition is judged (and fails); round-off does not decide it there.
    below = np.geomspace(1e-3, result.undetermined_beyond / 2, 30)
    assert not theory.round_off_decides(unit_overtake_game(), below).any()
    assert not theory._holds_at(unit_overtake_game(), below).any()
    # Far beyond it, it does.
    assert theory.round_off_decides(unit_overtake_game(), 1e10).all()


def test_tau_star_undetermined_from_the_scenario_file(capsys):
    from sim.cli import main
    from sim.scenario import load_scenario

    game = load_scenario(ROUND_OFF_SCENARIO).game()
    result = theory.stabilising_threshold(game)
    assert result.tau_star is None and result.stabilises is None and not result.vouched
    assert main(["theory", str(ROUND_OFF_SCENARIO), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tau_star"] is None and report["stabilises"] is None
    assert report["tau_star_vouched"] is False
    assert "undetermined in double precision beyond tau =" in report["tau_star_note"]
    assert report["tau_star_undetermined_beyond"] == pytest.approx(result.undetermined_beyond)
    assert main(["theory", str(ROUND_OFF_SCENARIO)]) == 0
    text = capsys.readouterr().out
    assert "tau* = undetermined in double precision beyond tau =" in text


@pytest.mark.parametrize(("tau", "warned"), [("10", False), ("1e10", True)])
def test_run_says_when_round_off_decides(capsys, tau, warned):
    from sim.cli import main

    assert main(["run", str(ROUND_OFF_SCENARIO), "--tau", tau, "--rounds", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["round_off_warning"] is not None) == warned
    assert main(["run", str(ROUND_OFF_SCENARIO), "--tau", tau, "--rounds", "20"]) == 0
    assert ("doubles cannot resolve" in capsys.readouterr().out) == warned


def test_undetermined_tau_star_is_nan_and_not_vouched_in_sweeps():
    from sim.engine import run
    from sim.scenario import load_scenario
    from sim.sweeps import _TAU_STAR_MEMO, _theory_columns

    _TAU_STAR_MEMO.clear()
    result = run(load_scenario(ROUND_OFF_SCENARIO), rounds=5)
    columns = _theory_columns(result, 0)
    assert np.isnan(columns["tau_star"]) and columns["tau_star_vouched"] is False
    assert columns["predicted_stable"] is False


@st.composite
def constant_overtake_games(draw) -> tuple[LeaderboardGame, np.ndarray]:
    """Power laws with ``beta = 1``, ``U = 1`` and ``1 - L_i = exp(alpha_i) = A_i``: ``f_i = 1 - 1 / (1 + 1/A_i + e)``.

    The developer below ``i - 1`` catches up with exactly ``Delta = 1/A_{i-1} - 1/A_i`` at every ``tau``,
    so each pair's condition holds at every tau or at none: the honest ``tau*`` is ``0`` or never.
    Returns the game and the pairs' ``Delta``.
    """
    n = draw(st.integers(2, 4))
    inverse = np.cumsum(draw(st.lists(st.floats(0.2, 20.0), min_size=n, max_size=n)))[::-1]  # 1/A, strongest first
    A = 1.0 / inverse
    perm = np.asarray(draw(st.permutations(range(n))))
    theta = np.arange(n, 0, -1, dtype=float)
    score = PowerLaw(1.0 - A[perm], np.ones(n), np.log(A[perm]), np.ones(n), 1.0)
    values = sorted(draw(st.lists(st.floats(0.0, 50.0), min_size=n, max_size=n)), reverse=True)
    game = LeaderboardGame(theta[perm], score, LinearCost(draw(st.floats(0.05, 5.0))), np.asarray(values))
    return game, inverse[:-1] - inverse[1:]


@PROPERTY
@given(constant_overtake_games())
def test_tau_star_is_honest_when_the_answer_is_known(drawn):
    game, delta = drawn
    assert theory.just_overtake(game, 0.0) == pytest.approx(delta, rel=1e-9)
    gap = reward_gaps(game.rewards)
    margin = game.cost(delta) - gap
    assume(np.all(np.abs(margin) > 1e-6 * max(1.0, gap.max())))
    result = theory.stabilising_threshold(game)
    if np.all(margin > 0):
        assert result.tau_star == 0.0 and result.stabilises is True
    else:
        # Never: it may say so (inf) or that doubles cannot tell; it must not report a finite tau*.
        assert result.stabilises is not True
        assert result.tau_star is None or result.tau_star == np.inf
        failing = margin < 0
        assert np.all(np.isinf(result.per_pair[failing]) | np.isnan(result.per_pair[failing]))
        if result.tau_star is None:
            assert not result.vouched and "undetermined in double precision" in result.note
            assert np.isfinite(result.undetermined_beyond)
        # Where it is judged, the search saw the condition fail as it should.
        judged = np.geomspace(1.0, np.nan_to_num(result.undetermined_beyond, nan=1e12) / 2, 20)
        assert not theory._holds_at(game, judged)[:, failing].any()
