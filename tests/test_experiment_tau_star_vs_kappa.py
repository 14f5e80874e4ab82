"""Data functions of experiments/tau_star_vs_kappa.py: Proposition 5.6's closed form and the slope rho."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments import tau_star_vs_kappa as exp
from sim.assumptions import check_assumptions
from sim.errors import ScenarioError
from sim.theory import power_law_quantities, stabilising_threshold

#: tau* solves h(1 + tau*) = g, h(T) = D T^(1/rho) - T, to this relative accuracy (the bisection stops at adjacent
#: floats; the condition carries the utility tolerance 1e-9 of the reward gap; scores near U lose a few digits).
CLOSED_FORM_RTOL = 1e-6
#: A batched pair's tau* against the same pair solved alone (the batch's utility tolerance is 1e-9 * BATCH).
BATCH_RTOL = 1e-6
#: Slope for D fixed and kappa in [1e4, 1e6]: the derivation bounds |slope - rho| by about rho (1 - rho) T*/g < 0.004.
FIXED_D_SLOPE_TOL = 0.01
#: Slope fitted on random pairs (scatter from D, ~30 pairs with kappa >= 1e3).
RANDOM_SLOPE_TOL = 0.05


def h(D, rho, T):
    """Proposition 5.6 with e0 = 1: Delta(tau) = D (1 + tau)^(1/rho) - (1 + tau), T = 1 + tau."""
    return D * T ** (1.0 / rho) - T


def row(rho, kappa, catch_up, beta_strong, alpha_weak, lower=0.2, span=0.6) -> dict:
    """One pair the way draw_pairs builds it (Delta^0 = catch_up, g = kappa * Delta^0)."""
    beta_weak = rho * beta_strong
    return {
        "lower": lower, "upper": lower + span, "beta_strong": beta_strong, "beta_weak": beta_weak,
        "alpha_weak": alpha_weak, "alpha_strong": alpha_weak + beta_weak * np.log1p(catch_up),
        "reward_gap_effort": kappa * catch_up,
    }


@settings(max_examples=40, deadline=None)
@given(
    rho=st.floats(0.3, 1.0),
    log_kappa=st.floats(-1.0, 6.0),
    log_catch_up=st.floats(-1.0, 3.0),
    beta_strong=st.floats(0.1, 1.0),
    alpha_weak=st.floats(-3.0, 0.0),
    lower=st.floats(0.0, 0.5),
    span=st.floats(0.2, 0.5),
)
def test_exact_tau_star_solves_the_closed_form_equation(rho, log_kappa, log_catch_up, beta_strong, alpha_weak,
                                                        lower, span):
    pair = row(rho, 10**log_kappa, 10**log_catch_up, beta_strong, alpha_weak, lower, span)
    game = exp.pair_game(pair)
    q = power_law_quantities(game)
    D, g = float(q.D[0]), pair["reward_gap_effort"]
    np.testing.assert_allclose(q.rho, rho, rtol=1e-12)
    np.testing.assert_allclose(q.kappa, 10**log_kappa, rtol=1e-9)
    tau_star = stabilising_threshold(game).tau_star
    assert np.isfinite(tau_star) and tau_star >= 0
    if tau_star == 0:  # then it already holds at tau = 0: Delta(0) = D - 1 >= g (up to the utility tolerance)
        assert h(D, rho, 1.0) >= g * (1 - CLOSED_FORM_RTOL)
    else:
        assert h(D, rho, 1.0) < g * (1 + CLOSED_FORM_RTOL)
        assert h(D, rho, 1.0 + tau_star) == pytest.approx(g, rel=CLOSED_FORM_RTOL)


@pytest.mark.parametrize("rho", [0.5, 0.85])
def test_slope_tends_to_rho_for_fixed_D(rho):
    kappa = np.geomspace(1e4, 1e6, 8)
    frame = pd.DataFrame([row(rho, k, 10.0, 0.6, -1.0) for k in kappa])
    frame["group_rho"], frame["batch"] = rho, 0
    solved = exp.thresholds(frame)
    slopes = exp.fit_slopes(solved, kappa_min=1e4)
    slope = float(slopes["slope"].iloc[0])
    assert abs(slope - rho) < FIXED_D_SLOPE_TOL
    assert slope < rho  # the correction rho * log(1 + T*/g) falls with g: the local slope is below rho


def test_slope_for_rho_one_is_exactly_one():
    """rho = 1: (D - 1)(1 + tau*) = g, so 1 + tau* = kappa exactly."""
    frame = pd.DataFrame([row(1.0, k, 3.0, 0.5, -2.0) for k in np.geomspace(2.0, 1e5, 6)])
    frame["group_rho"], frame["batch"] = 1.0, 0
    solved = exp.thresholds(frame)
    np.testing.assert_allclose(1 + solved["tau_star"], solved["kappa"], rtol=1e-6)


@pytest.fixture(scope="module")
def random_pairs():
    pairs = exp.draw_pairs(np.random.default_rng(exp.SEED), (0.5, 0.85), per_group=60, batch=16)
    return exp.thresholds(pairs)


def test_fitted_slope_on_random_pairs_is_near_rho(random_pairs):
    slopes = exp.fit_slopes(random_pairs)
    assert list(slopes.columns) == ["rho", "slope", "intercept", "stderr", "n", "deviation"]
    assert slopes["rho"].tolist() == [0.5, 0.85]
    assert (slopes["n"] >= 10).all()
    assert np.all(np.abs(slopes["slope"] - slopes["rho"]) < RANDOM_SLOPE_TOL)
    np.testing.assert_allclose(slopes["deviation"], slopes["slope"] - slopes["rho"])


def test_batched_thresholds_equal_two_developer_games(random_pairs):
    sample = random_pairs.iloc[::9]
    for _, pair in sample.iterrows():
        alone = stabilising_threshold(exp.pair_game(pair)).tau_star
        assert pair["tau_star"] == pytest.approx(alone, rel=BATCH_RTOL, abs=1e-9)
    assert random_pairs["vouched"].all()


def test_draw_pairs_shape_columns_and_construction():
    rng = np.random.default_rng(1)
    pairs = exp.draw_pairs(rng, (0.5, 0.7, 1.0), per_group=10, batch=4)
    assert list(pairs.columns) == list(exp.PAIR_COLUMNS)
    assert len(pairs) == 30 and pairs["group_rho"].value_counts().tolist() == [10, 10, 10]
    np.testing.assert_allclose(pairs["beta_weak"] / pairs["beta_strong"], pairs["group_rho"])
    assert pairs["batch"].max() == 7 and pairs.groupby("batch")[["lower", "upper"]].nunique().max().max() == 1
    assert pairs["kappa_drawn"].between(*exp.KAPPA_RANGE).all()
    # Reproducible from the seed, different for another.
    again = exp.draw_pairs(np.random.default_rng(1), (0.5, 0.7, 1.0), per_group=10, batch=4)
    pd.testing.assert_frame_equal(pairs, again)
    other = exp.draw_pairs(np.random.default_rng(2), (0.5, 0.7, 1.0), per_group=10, batch=4)
    assert not np.allclose(pairs["kappa_drawn"], other["kappa_drawn"])


def test_drawn_pairs_satisfy_the_assumptions_and_proposition_5_6_quantities():
    pairs = exp.draw_pairs(np.random.default_rng(3), (0.5, 1.0), per_group=4)
    for _, pair in pairs.iterrows():
        game = exp.pair_game(pair)
        report = check_assumptions(game)
        assert report.holds, report.failures
        q = power_law_quantities(game)
        np.testing.assert_allclose(q.kappa, pair["kappa_drawn"], rtol=1e-9)
        np.testing.assert_allclose(q.rho, pair["group_rho"], rtol=1e-12)


def test_thresholds_adds_the_documented_columns(random_pairs):
    for column in ("tau_star", "vouched", "kappa", "rho", "D", "baseline_catch_up", "predicted_tau_star"):
        assert column in random_pairs
    assert len(random_pairs) == 120 and random_pairs["tau_star"].notna().all()
    np.testing.assert_allclose(random_pairs["baseline_catch_up"], random_pairs["D"] - 1)
    np.testing.assert_allclose(random_pairs["predicted_tau_star"], random_pairs["kappa"] ** random_pairs["rho"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"rho_groups": (0.5, 1.2)}, "rho_groups"), ({"rho_groups": (0.0,)}, "rho_groups"),
     ({"per_group": 0}, "per_group"), ({"batch": 1.5}, "batch")],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ScenarioError) as err:
        exp.draw_pairs(np.random.default_rng(0), **{"per_group": 2, **kwargs})
    assert err.value.field == field


def test_batch_game_needs_common_levels():
    frame = pd.DataFrame([row(0.5, 10.0, 1.0, 0.5, -1.0, lower=0.1), row(0.5, 10.0, 1.0, 0.5, -1.0, lower=0.2)])
    with pytest.raises(ScenarioError, match="same lower and upper"):
        exp.batch_game(frame)


def test_run_quick_writes_its_outputs(quick_results):
    out = quick_results / exp.INFO.name
    headline = json.loads((out / "summary.json").read_text())["results"]
    for name in (*exp.INFO.data, f"{exp.INFO.figure}.png", f"{exp.INFO.figure}.pdf"):
        assert (out / name).is_file(), name
    assert headline["pairs"] == len(exp.RHO_GROUPS) * exp.PER_GROUP_QUICK
    assert len(headline["fitted_slopes"]) == len(exp.RHO_GROUPS)
