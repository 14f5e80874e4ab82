"""Tests for sim.calibration: fitting the generalised power law and writing calibrated scenarios."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit

from sim.calibration import LEVEL_GAP, PowerLawFit, fit_power_law, logit_scores, scenario_toml, write_scenario
from sim.errors import ScenarioError
from sim.scenario import load_scenario, parse_scenario
from sim.scores import PowerLaw

EFFORTS = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])


def curve(lower, upper, alpha, beta, effort, e0=1.0):
    return lower + (upper - lower) * expit(alpha + beta * np.log1p(np.asarray(effort) / e0))


def trajectories(alpha, beta, efforts, score_fn) -> pd.DataFrame:
    rows = []
    for k, (a, b) in enumerate(zip(alpha, beta, strict=True)):
        scores = score_fn(a, b, efforts)
        rows += [(f"m{k}", e, s) for e, s in zip(efforts, scores, strict=True)]
    return pd.DataFrame(rows, columns=["model", "effort", "score"])


# --------------------------------------------------------------------------- recovery with known levels


def test_recovers_alpha_beta_with_known_levels_within_four_standard_errors():
    """Noise on the logit scale, z_j = alpha + beta x_j + eps_j with eps ~ N(0, sigma^2), x_j = log(1 + e_j):
    the model under which the regression is exact OLS.  Its standard errors are
    se(beta) = sigma / sqrt(Sxx) and se(alpha) = sigma * sqrt(1/n + mean(x)^2 / Sxx), Sxx = sum (x_j - mean x)^2.
    With n = 8 efforts from 0 to 32 (Sxx ~ 11.7) and sigma = 0.05 that is se(beta) ~ 0.015 and
    se(alpha) ~ 0.036.  Each estimate must lie within 4 standard errors (a two-sided miss has probability
    6e-5 per estimate), and the noise is drawn from one seeded Generator, so the test is deterministic."""
    rng = np.random.default_rng(2026)
    lower, upper, sigma = 0.25, 0.95, 0.05
    alpha = np.array([-2.0, -1.0, -0.2, 0.4, 1.5])
    beta = np.array([0.3, 0.5, 0.8, 1.1, 0.6])

    def noisy(a, b, e):
        z = a + b * np.log1p(e) + sigma * rng.normal(size=e.size)
        return lower + (upper - lower) * expit(z)

    fit = fit_power_law(trajectories(alpha, beta, EFFORTS, noisy), lower=lower, upper=upper)
    x = np.log1p(EFFORTS)
    sxx = np.sum((x - x.mean()) ** 2)
    se_beta = sigma / math.sqrt(sxx)
    se_alpha = sigma * math.sqrt(1 / x.size + x.mean() ** 2 / sxx)
    assert fit.models == ("m0", "m1", "m2", "m3", "m4")
    assert np.all(np.abs(fit.beta - beta) <= 4 * se_beta)
    assert np.all(np.abs(fit.alpha - alpha) <= 4 * se_alpha)
    assert (fit.lower, fit.upper) == (lower, upper) and not fit.fit_levels
    assert list(fit.n_points) == [8] * 5
    # Residual RMS on the score scale, per model, as the rows say.
    rows = fit.rows
    for k, model in enumerate(fit.models):
        part = rows[rows["model"] == model]
        assert fit.rms[k] == pytest.approx(math.sqrt(np.mean(part["residual"] ** 2)))
        assert np.allclose(part["fitted"], fit.predict(model, part["effort"]))


def test_recovers_levels_with_fit_levels_within_four_standard_errors():
    """Noise on the score scale, s_j = f(e_j) + eps_j, eps ~ N(0, sigma^2): nonlinear least squares.  Its
    asymptotic covariance is sigma^2 (J^T J)^-1 with J the Jacobian of f in (L, U, alpha_m, beta_m) at the true
    parameters; each estimate must lie within 4 of those standard errors.  Efforts up to 1000 bring the curves
    near both levels, which is what identifies L and U."""
    rng = np.random.default_rng(7)
    lower, upper, sigma = 0.3, 0.9, 0.002
    alpha = np.array([-2.0, -1.0, 0.0, 0.5])
    beta = np.array([0.4, 0.6, 0.8, 1.0])
    efforts = np.array([0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000.0])

    def noisy(a, b, e):
        return curve(lower, upper, a, b, e) + sigma * rng.normal(size=e.size)

    frame = trajectories(alpha, beta, efforts, noisy)
    fit = fit_power_law(frame, fit_levels=True)

    m, x = len(alpha), np.log1p(efforts)
    jac = np.zeros((m * x.size, 2 + 2 * m))
    for k in range(m):
        p = expit(alpha[k] + beta[k] * x)
        rows = slice(k * x.size, (k + 1) * x.size)
        jac[rows, 0], jac[rows, 1] = 1 - p, p
        jac[rows, 2 + k] = (upper - lower) * p * (1 - p)
        jac[rows, 2 + m + k] = (upper - lower) * p * (1 - p) * x
    se = sigma * np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)))
    truth = np.concatenate([[lower, upper], alpha, beta])
    estimate = np.concatenate([[fit.lower, fit.upper], fit.alpha, fit.beta])
    assert np.all(np.abs(estimate - truth) <= 4 * se), (estimate - truth) / se
    assert fit.fit_levels
    # The bounds keep every observed score strictly inside (L, U).
    assert fit.lower < frame["score"].min() and fit.upper > frame["score"].max()


def test_fit_levels_respects_the_bounds_when_the_data_push_past_them():
    """Scores that keep rising linearly have no finite upper level: U stops at its bound max(s) + gap."""
    efforts = np.array([0.0, 1.0, 3.0, 7.0, 15.0])
    frame = pd.DataFrame({"model": "m", "effort": efforts, "score": 0.1 * np.log1p(efforts) + 0.05 * efforts})
    fit = fit_power_law(frame, fit_levels=True)
    spread = np.ptp(frame["score"])
    assert fit.lower <= frame["score"].min() - LEVEL_GAP * spread * (1 - 1e-9)
    assert fit.upper >= frame["score"].max() + LEVEL_GAP * spread * (1 - 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    lower=st.floats(-1.0, 1.0),
    width=st.floats(0.1, 2.0),
    e0=st.floats(0.1, 10.0),
    params=st.lists(st.tuples(st.floats(-4.0, 4.0), st.floats(0.05, 3.0)), min_size=1, max_size=4),
    efforts=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]), min_size=2, max_size=6,
                     unique=True),
)
def test_zero_noise_recovers_parameters_exactly(lower, width, e0, params, efforts):
    """Without noise every point lies on the line logit(y) = alpha + beta log(1 + e/e0): OLS returns it to
    round-off (normalised scores kept within [3e-4, 1 - 3e-4], where the logit loses < 1e-11)."""
    efforts = np.array(efforts)
    upper = lower + width
    x = np.log1p(efforts / e0)
    for a, b in params:
        assume(np.all(np.abs(a + b * x) <= 8.0))
    alpha, beta = np.array([p[0] for p in params]), np.array([p[1] for p in params])
    frame = trajectories(alpha, beta, efforts, lambda a, b, e: curve(lower, upper, a, b, e, e0))
    fit = fit_power_law(frame, lower=lower, upper=upper, effort_unit=e0)
    assert np.allclose(fit.alpha, alpha, rtol=0, atol=1e-8)
    assert np.allclose(fit.beta, beta, rtol=0, atol=1e-8)
    assert np.all(fit.rms <= 1e-10)


def test_two_points_are_exactly_identified():
    frame = pd.DataFrame({"model": ["a", "a", "b", "b"], "effort": [0.0, 1.0, 0.0, 1.0],
                          "score": [0.6, 0.7, 0.55, 0.8]})
    fit = fit_power_law(frame, lower=0.5, upper=1.0)
    for model in ("a", "b"):
        part = frame[frame["model"] == model]
        assert np.allclose(fit.predict(model, part["effort"]), part["score"], atol=1e-14)
        k = fit.models.index(model)
        direct, tbt = part["score"]
        assert fit.alpha[k] == pytest.approx(logit((direct - 0.5) / 0.5))
        assert fit.beta[k] == pytest.approx((logit((tbt - 0.5) / 0.5) - logit((direct - 0.5) / 0.5)) / math.log(2))
    assert np.all(fit.rms < 1e-14)
    assert list(fit.table()["model"]) == ["a", "b"]


def test_logit_scores_matches_scipy_and_is_accurate_near_the_levels():
    s = np.array([0.51, 0.75, 0.99])
    assert np.allclose(logit_scores(s, 0.5, 1.0), logit((s - 0.5) / 0.5))
    # Near U: U - s is exact in doubles (Sterbenz), so log(s - L) - log(U - s) keeps every digit of the tiny
    # distance to the level, which forming y = (s - L) / (U - L) first would round away.
    lower, upper = 0.3, 0.9
    near = np.nextafter(upper, 0.0, dtype=float)
    expected = math.log(near - lower) - math.log(upper - near)
    assert logit_scores(near, lower, upper) == pytest.approx(expected, rel=1e-15)
    assert abs(logit((near - lower) / (upper - lower)) - expected) > 0.1  # the route through y loses it


# --------------------------------------------------------------------------- scores outside (L, U)


def test_score_outside_levels_is_an_error_naming_the_model():
    frame = pd.DataFrame({"model": ["ok", "ok", "low", "low"], "effort": [0, 1, 0, 1], "score": [0.6, 0.7, 0.5, 0.7]})
    with pytest.raises(ScenarioError, match="model low") as err:
        fit_power_law(frame, lower=0.5, upper=1.0)
    assert err.value.field == "score" and err.value.value == 0.5


def test_clip_replaces_outside_scores_by_the_stated_epsilon():
    eps = 1e-3
    frame = pd.DataFrame({"model": ["m", "m", "n", "n"], "effort": [0.0, 1.0, 0.0, 1.0],
                          "score": [0.5, 0.7, 0.45, 1.2]})
    fit = fit_power_law(frame, lower=0.5, upper=1.0, clip=eps)
    # A score at or below L counts as y = eps; at or above U as y = 1 - eps.
    assert fit.alpha[0] == pytest.approx(logit(eps), abs=1e-12)
    assert fit.alpha[1] == pytest.approx(logit(eps), abs=1e-12)
    assert fit.alpha[1] + fit.beta[1] * math.log(2) == pytest.approx(logit(1 - eps), abs=1e-12)
    assert fit.rows["clipped"].tolist() == [True, False, True, True]
    assert fit.clip == eps
    # Scores inside the levels but beyond the clipping band are clipped too.
    inside = pd.DataFrame({"model": ["m", "m"], "effort": [0.0, 1.0], "score": [0.5 + 1e-6, 0.7]})
    assert fit_power_law(inside, lower=0.5, upper=1.0, clip=eps).rows["clipped"].tolist() == [True, False]


# --------------------------------------------------------------------------- bad input


GOOD = pd.DataFrame({"model": ["a", "a"], "effort": [0.0, 1.0], "score": [0.6, 0.7]})


@pytest.mark.parametrize(
    "frame, kwargs, field, words",
    [
        (GOOD.drop(columns="score"), {}, "frame", "missing column"),
        (GOOD.rename(columns={"effort": "steps"}), {}, "frame", "missing column"),
        (GOOD.iloc[:0], {}, "frame", "no rows"),
        (pd.DataFrame({"model": ["a", "a"], "effort": [1.0, 1.0], "score": [0.6, 0.7]}), {}, "effort",
         "model a: needs at least two distinct efforts"),
        (pd.DataFrame({"model": ["a", "a", "b"], "effort": [0.0, 1.0, 2.0], "score": [0.6, 0.7, 0.8]}), {}, "effort",
         "model b: needs at least two distinct efforts"),
        (pd.DataFrame({"model": ["a", "a"], "effort": [-1.0, 1.0], "score": [0.6, 0.7]}), {}, "effort", ">= 0"),
        (pd.DataFrame({"model": ["a", "a"], "effort": [0.0, 1.0], "score": [0.6, np.nan]}), {}, "score", "finite"),
        (pd.DataFrame({"model": ["a", "a"], "effort": [0.0, "x"], "score": [0.6, 0.7]}), {}, "effort", "numbers"),
        (GOOD, {"lower": 0.9, "upper": 0.9}, "upper", "must be > lower"),
        (GOOD, {"lower": 1.0, "upper": 0.5}, "upper", "must be > lower"),
        (GOOD, {"lower": 0.5, "upper": None}, "upper", "give both"),
        (GOOD, {"lower": None, "upper": 1.0}, "lower", "give both"),
        (GOOD, {"lower": 0.5, "upper": math.inf}, "upper", "finite"),
        (GOOD, {"effort_unit": 0.0}, "effort_unit", "> 0"),
        (GOOD, {"clip": 0.5}, "clip", "(0, 0.5)"),
        (GOOD, {"fit_levels": True}, "fit_levels", "not identified"),
        (GOOD, {"fit_levels": True, "clip": 1e-6}, "clip", "not used with fit_levels=True"),
        (GOOD, {"fit_levels": True, "lower": 0.9, "upper": 0.1}, "fit_levels", "not identified"),
    ],
)
def test_bad_input_raises_scenario_error(frame, kwargs, field, words):
    kwargs = {"lower": 0.5, "upper": 1.0} | kwargs
    with pytest.raises(ScenarioError) as err:
        fit_power_law(frame, **kwargs)
    assert err.value.field == field
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_fit_levels_rejects_reversed_start_levels():
    frame = pd.DataFrame({"model": "a", "effort": [0.0, 1.0, 2.0], "score": [0.6, 0.7, 0.75]})
    with pytest.raises(ScenarioError, match="must be > lower"):
        fit_power_law(frame, fit_levels=True, lower=0.9, upper=0.1)


def test_non_frame_input():
    with pytest.raises(ScenarioError, match="DataFrame"):
        fit_power_law({"model": ["a"]}, lower=0.0, upper=1.0)


# --------------------------------------------------------------------------- scenarios


def small_fit() -> PowerLawFit:
    frame = pd.DataFrame({"model": ["big", "big", "small", "small", "mid", "mid"], "effort": [0.0, 1.0] * 3,
                          "score": [0.75, 0.86, 0.55, 0.6, 0.65, 0.75]})
    return fit_power_law(frame, lower=0.5, upper=1.0)


def make_scenario(fit, **kwargs):
    options = {"name": "calibrated", "cost_scale": 0.25, "reward": {"scheme": "top_k", "k": 1},
               "resolution": 0.001, "rounds": 50} | kwargs
    return fit.to_scenario({"big": 3.0, "mid": 1.0, "small": -2.0}, **options)


def test_to_scenario_reproduces_the_fitted_curves():
    fit = small_fit()
    data = make_scenario(fit, models=["big", "mid", "small"])
    scenario = parse_scenario(data)
    assert list(scenario.theta) == [3.0, 1.0, -2.0]
    bound = scenario.bound_score()
    assert isinstance(bound, PowerLaw)
    efforts = np.array([0.0, 1.0, 7.5, 100.0])
    for i, model in enumerate(["big", "mid", "small"]):
        assert np.allclose(bound[i].score(efforts), fit.predict(model, efforts), rtol=0, atol=1e-14)
    assert scenario.cost.scale == 0.25 and scenario.rewards.tolist() == [1.0, 0.0, 0.0]
    assert scenario.leaderboard.resolution == 0.001 and scenario.dynamics.rounds == 50


def test_to_scenario_errors():
    fit = small_fit()
    with pytest.raises(ScenarioError, match="no capability") as err:
        fit.to_scenario({"big": 1.0}, name="x", cost_scale=1.0, reward={"scheme": "winner_take_all"},
                        resolution=0.001, rounds=5)
    assert err.value.value == "small"
    with pytest.raises(ScenarioError, match="not in the fit"):
        make_scenario(fit, models=["big", "huge"])
    falling = fit_power_law(pd.DataFrame({"model": ["f", "f"], "effort": [0.0, 1.0], "score": [0.7, 0.6]}),
                            lower=0.5, upper=1.0)
    with pytest.raises(ScenarioError, match="model f: must be > 0") as err:
        falling.to_scenario({"f": 0.0}, name="x", cost_scale=1.0, reward={"scheme": "winner_take_all"},
                            resolution=0.001, rounds=5)
    assert err.value.field == "score.beta"
    with pytest.raises(ScenarioError, match="cost.scale|scale"):
        make_scenario(fit, cost_scale=-1.0)


def test_scenario_toml_reads_back_exactly():
    data = {
        "name": 'quote " and backslash \\ and é',
        "seed": 3,
        "developers": {"capability": [1.0, -2.5, 1e-300, 3.0, 4.0, 5.0]},
        "score": {"family": "power_law", "lower": 0.5, "upper": 1.0, "alpha": [0.1, 0.2],
                  "beta": {"intercept": 0.3, "slope": 1e-05}, "effort_unit": 1.0},
        "cost": {"family": "linear", "scale": 0.1 + 0.2},
        "leaderboard": {"resolution": 0.001, "tie_break": "capability", "flag": True},
        "designer": {"tau": math.inf},
    }
    text = scenario_toml(data, header="line one\n\nline three")
    assert text.startswith("# line one\n#\n# line three\n")
    assert tomllib.loads(text) == data


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=0, max_size=8), st.floats(allow_nan=False))
def test_floats_round_trip_bit_for_bit(values, scalar):
    data = {"section": {"values": values, "scalar": scalar}}
    back = tomllib.loads(scenario_toml(data))["section"]
    assert back["values"] == values and back["scalar"] == scalar
    assert [math.copysign(1, v) for v in back["values"]] == [math.copysign(1, v) for v in values]


def test_scenario_toml_rejects_nan_and_unknown_types():
    with pytest.raises(ScenarioError, match="NaN") as err:
        scenario_toml({"cost": {"scale": math.nan}})
    assert err.value.field == "cost.scale"
    with pytest.raises(ScenarioError, match="cannot be written"):
        scenario_toml({"cost": {"scale": object()}})


def test_write_scenario_round_trips_through_load_scenario(tmp_path):
    data = make_scenario(small_fit(), models=["big", "mid", "small"])
    path = write_scenario(tmp_path / "calibrated.toml", data, header="Provenance: a test.")
    assert path.read_text().startswith("# Provenance: a test.\n")
    assert load_scenario(path) == parse_scenario(data)
    assert [p.name for p in tmp_path.iterdir()] == ["calibrated.toml"]  # no temporary file left behind


def test_write_scenario_refuses_an_invalid_scenario(tmp_path):
    data = make_scenario(small_fit())
    data["reward"] = {"scheme": "top_k"}  # k missing
    with pytest.raises(ScenarioError, match="reward"):
        write_scenario(tmp_path / "bad.toml", data)
    assert not (tmp_path / "bad.toml").exists()
