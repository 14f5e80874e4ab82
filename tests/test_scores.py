"""Tests for :mod:`sim.scores`: score families, their inverses and ``least_effort``.

Expected values are derived by hand from the formulas in docs/model.md#score-families
(derivations in comments) or checked as properties.  Inverse round trips are
asserted to a tolerance derived from the conditioning of the inverse: an
error of a few ulps in the score becomes an error of ``ulps / slope`` in
effort, where ``slope`` is the derivative of the score in effort.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.scores import (
    Affine,
    CustomScore,
    CustomScoreSpec,
    ExpSaturation,
    ExpSaturationSpec,
    PowerLaw,
    PowerLawSpec,
    as_param,
    is_function_of_capability,
    least_effort,
    resolve_param,
)

EPS = np.finfo(float).eps
HYP = settings(max_examples=50, deadline=None)


def sigmoid(z: float) -> float:
    """Logistic function, written out independently of scipy's ``expit``."""
    return 1.0 / (1.0 + math.exp(-z))


def power_law_slope(lower, upper, alpha, beta, unit, e):
    """d f / d e of the power law: ``(U - L) * y * (1 - y) * beta / (e0 + e)`` with ``y = sigmoid(z)``."""
    z = alpha + beta * np.log1p(e / unit)
    y = 1.0 / (1.0 + np.exp(-z))
    return (upper - lower) * y * (1.0 - y) * beta / (unit + e)


def effort_tolerance(scale, slope, e):
    """Absolute effort tolerance for an inverse: 64 ulps of the score scale over the slope, plus 1e-12 relative."""
    with np.errstate(divide="ignore"):
        return 64 * EPS * scale / slope + 1e-12 * e


def exp_custom(amplitude=2.0, rate=1.5, with_limit=True):
    """``f(theta, e) = theta + A * (1 - exp(-k e))``, the exponential saturation written as a custom callable."""

    def function(theta, e):
        with np.errstate(over="ignore"):  # e may be the largest float when probing an infinite effort
            return theta + amplitude * (1.0 - np.exp(-rate * e))

    limit = (lambda theta: theta + amplitude) if with_limit else None
    return function, limit


# ---------------------------------------------------------------------------
# Power law
# ---------------------------------------------------------------------------


def test_power_law_zero_effort_is_lower_plus_width_times_sigmoid_alpha():
    # e = 0: log(1 + 0) = 0, so z = alpha and f = L + (U - L) * sigmoid(alpha).
    fam = PowerLaw(lower=0.2, upper=0.9, alpha=0.3, beta=0.7)
    expected = 0.2 + 0.7 * sigmoid(0.3)
    assert float(fam.score(0.0)) == pytest.approx(expected, rel=1e-15)
    assert float(fam.zero_effort_score()) == pytest.approx(expected, rel=1e-15)


def test_power_law_value_where_log_term_is_one():
    # With e0 = 2 and e = 2 * (E - 1) (E Euler's number), log(1 + e / e0) = log(E) = 1,
    # so z = alpha + beta and f = L + (U - L) * sigmoid(alpha + beta).
    fam = PowerLaw(lower=-1.0, upper=3.0, alpha=-0.5, beta=1.25, effort_unit=2.0)
    e = 2.0 * (math.e - 1.0)
    expected = -1.0 + 4.0 * sigmoid(-0.5 + 1.25)
    assert float(fam.score(e)) == pytest.approx(expected, rel=1e-14)


def test_power_law_inverse_closed_form_by_hand():
    # Target normalised score y = 0.8: logit(0.8) = log(4); E = e0 * (exp((log 4 - alpha) / beta) - 1).
    # With alpha = 0, beta = 0.5, e0 = 3: E = 3 * (exp(2 log 4) - 1) = 3 * 15 = 45.
    fam = PowerLaw(lower=1.0, upper=2.0, alpha=0.0, beta=0.5, effort_unit=3.0)
    assert float(fam.effort_to_reach(1.8)) == pytest.approx(45.0, rel=1e-12)
    assert float(fam.score(45.0)) == pytest.approx(1.8, rel=1e-14)


def test_power_law_limit_is_upper_and_is_approached():
    fam = PowerLaw(lower=[0.0, 0.5], upper=[1.0, 2.0], alpha=[0.0, 1.0], beta=[0.5, 2.0])
    np.testing.assert_array_equal(fam.limit(), [1.0, 2.0])
    big = fam.score(np.array([1e200, 1e200]))
    assert np.all(big <= fam.limit())
    np.testing.assert_allclose(big, fam.limit(), rtol=1e-12)


def test_power_law_effort_is_zero_at_or_below_zero_effort_score_and_inf_at_or_above_upper():
    fam = PowerLaw(lower=0.0, upper=1.0, alpha=0.4, beta=0.8)
    s0 = float(fam.score(0.0))
    targets = np.array([s0, s0 - 0.1, 0.0, -5.0, np.nextafter(s0, -np.inf)])
    np.testing.assert_array_equal(fam.effort_to_reach(targets), 0.0)
    np.testing.assert_array_equal(fam.effort_to_reach(np.array([1.0, 1.5, 100.0])), np.inf)
    # Just above the zero-effort score the least effort is positive and finite.
    above = fam.effort_to_reach(s0 + 1e-3)
    assert 0 < above < np.inf


@HYP
@given(
    lower=st.floats(-2, 2),
    width=st.floats(0.1, 10),
    alpha=st.floats(-4, 4),
    beta=st.floats(0.05, 3),
    unit=st.floats(0.1, 10),
    e=st.floats(0, 1e3),
)
def test_power_law_effort_to_reach_inverts_score(lower, width, alpha, beta, unit, e):
    fam = PowerLaw(lower=lower, upper=lower + width, alpha=alpha, beta=beta, effort_unit=unit)
    s = float(fam.score(e))
    back = float(fam.effort_to_reach(s))
    if s >= fam.upper:
        # The score saturated in floating point: at the limit the inverse is +inf by contract.
        assert back == np.inf
        return
    scale = max(abs(lower), abs(lower + width))
    slope = power_law_slope(lower, lower + width, alpha, beta, unit, e)
    assert abs(back - e) <= effort_tolerance(scale, slope, e)
    # Forward: the score at the inverse is the target up to round-off.
    assert float(fam.score(back)) == pytest.approx(s, abs=64 * EPS * scale)


def test_power_law_validation_errors_name_the_field():
    with pytest.raises(ScenarioError) as info:
        PowerLaw(lower=[0.0, 1.0], upper=[1.0, 1.0], alpha=0.0, beta=1.0)
    assert info.value.field == "upper"
    with pytest.raises(ScenarioError) as info:
        PowerLaw(lower=1.0, upper=0.5, alpha=0.0, beta=1.0)
    assert info.value.field == "upper"
    for beta in (0.0, -0.5, [1.0, 0.0]):
        with pytest.raises(ScenarioError) as info:
            PowerLaw(lower=0.0, upper=1.0, alpha=0.0, beta=beta)
        assert info.value.field == "beta"
    for unit in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ScenarioError) as info:
            PowerLaw(lower=0.0, upper=1.0, alpha=0.0, beta=1.0, effort_unit=unit)
        assert info.value.field == "effort_unit"


def test_power_law_spec_binds_affine_parameters():
    theta = np.array([0.0, 1.0, 2.0])
    spec = PowerLawSpec(lower=0.0, upper=1.0, alpha=Affine(-1.0, 0.5), beta=(0.2, 0.3, 0.4), effort_unit=2)
    fam = spec.bind(theta)
    np.testing.assert_array_equal(fam.alpha, [-1.0, -0.5, 0.0])
    np.testing.assert_array_equal(fam.beta, [0.2, 0.3, 0.4])
    np.testing.assert_array_equal(fam.lower, [0.0, 0.0, 0.0])
    assert fam.effort_unit == 2.0
    # A per-developer tuple is only defined at the developers' capabilities.
    assert not spec.defined_at_any_capability()
    assert PowerLawSpec(0.0, 1.0, Affine(0, 1), 0.5).defined_at_any_capability()
    with pytest.raises(ScenarioError) as info:
        PowerLawSpec(lower=0.0, upper=1.0, alpha=0.0, beta=-1.0).bind(theta)
    assert info.value.field == "beta"


# ---------------------------------------------------------------------------
# Exponential saturation
# ---------------------------------------------------------------------------


def test_exp_saturation_values_by_hand():
    # f(e) = U - (U - L) exp(-k e); L = 1, U = 3, k = 0.5: f(0) = 1, f(2) = 3 - 2 / E.
    fam = ExpSaturation(lower=1.0, upper=3.0, rate=0.5)
    assert float(fam.score(0.0)) == 1.0
    assert float(fam.score(2.0)) == pytest.approx(3.0 - 2.0 * math.exp(-1.0), rel=1e-15)
    # Inverse: E(s) = log((U - L) / (U - s)) / k; s = 2: log(2) / 0.5.
    assert float(fam.effort_to_reach(2.0)) == pytest.approx(2.0 * math.log(2.0), rel=1e-14)
    np.testing.assert_array_equal(fam.limit(), 3.0)


def test_exp_saturation_special_case_theta_plus_a_times_one_minus_exp():
    # L = theta, U = theta + A, k = 1 gives theta + A (1 - exp(-e)).
    theta = np.array([0.5, 1.0, 2.0])
    amplitude = 0.7
    fam = ExpSaturationSpec(lower=Affine(0.0, 1.0), upper=Affine(amplitude, 1.0)).bind(theta)
    e = np.array([0.0, 0.3, 4.0])
    np.testing.assert_allclose(fam.score(e), theta + amplitude * (1.0 - np.exp(-e)), rtol=1e-15)


def test_exp_saturation_zero_and_inf_targets():
    fam = ExpSaturation(lower=0.0, upper=2.0, rate=1.0)
    np.testing.assert_array_equal(fam.effort_to_reach(np.array([0.0, -1.0, -1e9])), 0.0)
    np.testing.assert_array_equal(fam.effort_to_reach(np.array([2.0, 2.5, 1e9])), np.inf)


@HYP
@given(
    lower=st.floats(-2, 2),
    width=st.floats(0.1, 10),
    rate=st.floats(0.1, 5),
    e=st.floats(0, 30),
)
def test_exp_saturation_effort_to_reach_inverts_score(lower, width, rate, e):
    fam = ExpSaturation(lower=lower, upper=lower + width, rate=rate)
    s = float(fam.score(e))
    back = float(fam.effort_to_reach(s))
    if s >= fam.upper:
        assert back == np.inf
        return
    # slope: d f / d e = (U - L) k exp(-k e)
    slope = width * rate * math.exp(-rate * e)
    scale = max(abs(lower), abs(lower + width))
    assert abs(back - e) <= effort_tolerance(scale, slope, e)


def test_exp_saturation_validation_errors_name_the_field():
    with pytest.raises(ScenarioError) as info:
        ExpSaturation(lower=1.0, upper=1.0, rate=1.0)
    assert info.value.field == "upper"
    for rate in (0.0, -2.0):
        with pytest.raises(ScenarioError) as info:
            ExpSaturation(lower=0.0, upper=1.0, rate=rate)
        assert info.value.field == "rate"


# ---------------------------------------------------------------------------
# Custom score
# ---------------------------------------------------------------------------


def test_custom_score_values_and_limit():
    function, limit = exp_custom(amplitude=2.0, rate=1.5)
    fam = CustomScore(function=function, theta=np.array([0.0, 1.0]), limit_function=limit)
    # f(theta, e) = theta + 2 (1 - exp(-1.5 e)); at e = 0 it is theta; the limit is theta + 2.
    np.testing.assert_array_equal(fam.score(0.0), [0.0, 1.0])
    expected = np.array([0.0, 1.0]) + 2 * (1 - math.exp(-1.5))
    np.testing.assert_allclose(fam.score(np.array([1.0, 1.0])), expected, rtol=1e-15)
    np.testing.assert_array_equal(fam.limit(), [2.0, 3.0])
    # Without a limit function the limit is the score at the bracket cap, which is theta + 2 in floats.
    no_limit = CustomScore(function=function, theta=np.array([0.0, 1.0]))
    np.testing.assert_allclose(no_limit.limit(), [2.0, 3.0], rtol=1e-15)


def test_custom_score_zero_and_inf_targets():
    function, limit = exp_custom(amplitude=2.0, rate=1.5)
    fam = CustomScore(function=function, theta=np.array(0.5), limit_function=limit)
    np.testing.assert_array_equal(fam.effort_to_reach(np.array([0.5, 0.0, -3.0])), 0.0)
    # Above limit_function(theta) = 2.5: +inf.  At the limit: where the float score first attains it
    # (0.5 + 2 (1 - exp(-1.5 e)) rounds to 2.5 once 2 exp(-1.5 e) < half an ulp of 2.5), consistent with
    # evaluating the score forward.
    np.testing.assert_array_equal(fam.effort_to_reach(np.array([2.6, 100.0])), np.inf)
    at_limit = float(fam.effort_to_reach(2.5))
    assert np.isfinite(at_limit) and fam.score(at_limit) >= 2.5
    assert at_limit > np.log(2 / np.spacing(2.5)) / 1.5 - 1
    # Without a limit function a target above every reachable score is +inf once the bracket cap is hit.
    fam_nl = CustomScore(function=function, theta=np.array(0.5))
    assert float(fam_nl.effort_to_reach(2.6)) == np.inf
    assert float(fam_nl.effort_to_reach(0.5)) == 0.0


@HYP
@given(
    theta=st.floats(-1, 1),
    amplitude=st.floats(0.1, 5),
    rate=st.floats(0.2, 3),
    y=st.floats(0.01, 0.99),
)
def test_custom_inverse_matches_exp_saturation_closed_form(theta, amplitude, rate, y):
    function, limit = exp_custom(amplitude, rate)
    custom = CustomScore(function=function, theta=np.array(theta), limit_function=limit)
    closed = ExpSaturation(lower=theta, upper=theta + amplitude, rate=rate)
    target = theta + amplitude * y
    # Both sides approximate E = log(1 / (1 - y)) / k, which is at least 0.01 / k here.
    assert float(custom.effort_to_reach(target)) == pytest.approx(float(closed.effort_to_reach(target)), rel=1e-10)
    # The bisection returns the upper end of its bracket: the score there reaches the target.
    assert float(custom.score(custom.effort_to_reach(target))) >= target


@HYP
@given(theta=st.floats(-1, 1), amplitude=st.floats(0.1, 5), rate=st.floats(0.2, 3), e=st.floats(0, 20))
def test_custom_effort_to_reach_inverts_score(theta, amplitude, rate, e):
    function, limit = exp_custom(amplitude, rate)
    fam = CustomScore(function=function, theta=np.array(theta), limit_function=limit)
    s = float(fam.score(e))
    back = float(fam.effort_to_reach(s))
    if s >= theta + amplitude:
        # The score has rounded to its limit: the limit is attained in doubles, so the inverse is the
        # (finite) effort where the forward score first reaches it.
        assert np.isfinite(back) and back <= e and float(fam.score(back)) >= s
        return
    slope = amplitude * rate * math.exp(-rate * e)
    scale = max(abs(theta), abs(theta + amplitude))
    assert abs(back - e) <= effort_tolerance(scale, slope, e)
    assert float(fam.score(back)) >= s


def test_custom_spec_binds_theta():
    function, limit = exp_custom()
    fam = CustomScoreSpec(function=function, limit=limit).bind([0.0, 1.0])
    np.testing.assert_array_equal(fam.theta, [0.0, 1.0])
    assert fam.limit_function is limit
    assert CustomScoreSpec(function=function).defined_at_any_capability()


# ---------------------------------------------------------------------------
# Indexing and broadcasting (all families)
# ---------------------------------------------------------------------------


def _families():
    function, limit = exp_custom(amplitude=1.2, rate=0.8)
    return [
        PowerLaw(lower=[0.0, 0.1, 0.2], upper=[1.0, 1.1, 1.5], alpha=[-1.0, 0.0, 1.0], beta=[0.3, 0.5, 0.9]),
        ExpSaturation(lower=[0.0, 0.1, 0.2], upper=[1.0, 1.1, 1.5], rate=[0.5, 1.0, 2.0]),
        CustomScore(function=function, theta=np.array([0.0, 0.1, 0.2]), limit_function=limit),
    ]


@pytest.mark.parametrize("fam", _families(), ids=["power_law", "exp_saturation", "custom"])
def test_indexing_selects_one_developer(fam):
    assert fam.shape == (3,)
    e = np.array([0.7, 0.7, 0.7])
    full = fam.score(e)
    for i in range(3):
        one = fam[i]
        assert one.shape == ()
        assert float(one.score(0.7)) == pytest.approx(full[i], rel=1e-15)
        assert float(one.limit()) == pytest.approx(fam.limit()[i], rel=1e-15)
    np.testing.assert_allclose(fam[1:].score(e[1:]), full[1:], rtol=1e-15)


@pytest.mark.parametrize("fam", _families(), ids=["power_law", "exp_saturation", "custom"])
def test_column_family_broadcasts_against_a_row(fam):
    col = fam[:, None]
    assert col.shape == (3, 1)
    efforts = np.array([0.0, 0.5, 3.0, 10.0])
    scores = col.score(efforts)
    assert scores.shape == (3, 4)
    targets = np.array([-1.0, 0.3, 0.6, 0.9, 1.2, 5.0])
    need = col.effort_to_reach(targets)
    assert need.shape == (3, 6)
    for i in range(3):
        for j, e in enumerate(efforts):
            assert scores[i, j] == pytest.approx(float(fam[i].score(e)), rel=1e-15)
        for j, t in enumerate(targets):
            expected = float(fam[i].effort_to_reach(t))
            if np.isfinite(expected):
                assert need[i, j] == pytest.approx(expected, rel=1e-12)
            else:
                assert need[i, j] == np.inf
    # The per-developer limits line up along the column.
    np.testing.assert_allclose(col.limit()[:, 0], fam.limit(), rtol=1e-15)


# Regression: indexing used to index every parameter array as given, so a 0-d parameter raised IndexError.
@pytest.mark.parametrize("index", [1, (slice(None), None)], ids=["fam[1]", "fam[:, None]"])
def test_indexing_a_family_with_a_broadcast_scalar_parameter(index):
    # The module documents parameters of "any broadcastable shape"; common L, U with per-developer
    # alpha, beta is the paper's own setting (Proposition 5.6).
    fam = PowerLaw(lower=0.0, upper=1.0, alpha=[-1.0, 0.0, 1.0], beta=[0.3, 0.5, 0.9])
    full = PowerLaw(lower=[0.0] * 3, upper=[1.0] * 3, alpha=[-1.0, 0.0, 1.0], beta=[0.3, 0.5, 0.9])
    assert fam.shape == (3,)
    efforts = np.array([0.0, 0.5, 3.0])
    np.testing.assert_allclose(fam[index].score(efforts), full[index].score(efforts), rtol=1e-15)
    exp_fam = ExpSaturation(lower=0.0, upper=[1.0, 2.0, 3.0], rate=0.5)
    exp_full = ExpSaturation(lower=[0.0] * 3, upper=[1.0, 2.0, 3.0], rate=[0.5] * 3)
    np.testing.assert_allclose(exp_fam[index].score(efforts), exp_full[index].score(efforts), rtol=1e-15)
    np.testing.assert_allclose(exp_fam[index].limit(), exp_full[index].limit(), rtol=1e-15)


# ---------------------------------------------------------------------------
# least_effort
# ---------------------------------------------------------------------------


@HYP
@given(
    lower=st.floats(-1, 1),
    width=st.floats(0.1, 5),
    alpha=st.floats(-4, 4),
    beta=st.floats(0.05, 3),
    tau=st.floats(0, 50),
    y=st.floats(0, 1 - 1e-6),
)
def test_least_effort_reaches_target_and_is_minimal(lower, width, alpha, beta, tau, y):
    fam = PowerLaw(lower=lower, upper=lower + width, alpha=alpha, beta=beta)
    target = lower + width * y
    x = float(least_effort(fam, tau, target))
    assert 0 <= x < np.inf
    assert float(fam.score(tau + x)) >= target
    # Minimal at zero: no effort is needed exactly when the baseline already reaches the target.
    assert (x == 0) == (float(fam.score(tau)) >= target)


@HYP
@given(
    lower=st.floats(-1, 1),
    width=st.floats(0.1, 5),
    alpha=st.floats(-4, 4),
    beta=st.floats(0.05, 3),
    tau=st.floats(0, 50),
    needed=st.floats(1e-3, 1e3),
)
def test_least_effort_is_minimal(lower, width, alpha, beta, tau, needed):
    """Minimality up to a relative tolerance of the total effort: going 1e-9 * (tau + x) lower falls short.

    Targeted: the target is the score at ``tau + needed`` for a drawn positive ``needed``, so the answer is
    positive (at most ``needed``); examples are left out (``assume``) only where the true score drops by no
    more than round-off over that step (the power law saturated), where no float test can see minimality.
    The slope of the power law is unimodal in effort, so its minimum over the step is at an end point.
    """
    fam = PowerLaw(lower=lower, upper=lower + width, alpha=alpha, beta=beta)
    target = float(fam.score(tau + needed))
    assume(float(fam.score(tau)) < target)  # round-off can make a small need vanish at a large tau
    x = float(least_effort(fam, tau, target))
    assert 0 < x <= needed + 1e-12 * (tau + needed)
    assert float(fam.score(tau + x)) >= target
    lower_x = max(x - 1e-9 * (tau + x), 0.0)
    slope = min(
        power_law_slope(lower, lower + width, alpha, beta, 1.0, tau + lower_x),
        power_law_slope(lower, lower + width, alpha, beta, 1.0, tau + x),
    )
    assume(slope * (x - lower_x) > 64 * EPS * max(abs(lower), abs(lower + width)))
    assert float(fam.score(tau + lower_x)) < target


@HYP
@given(
    alpha=st.floats(-3, 1),
    beta=st.floats(0.05, 1),
    tau=st.floats(0.5, 5),
    frac=st.floats(1e-7, 1e-2),
)
def test_least_effort_never_exceeds_a_known_feasible_effort(alpha, beta, tau, frac):
    # target = score(tau + x) with x tiny compared with tau: x itself is feasible, so the least
    # effort is at most x (up to a few ulps of the total effort).  This is the regime where
    # nudging x by its own ulps cannot move tau + x and the search needs larger steps.
    fam = PowerLaw(lower=0.0, upper=1.0, alpha=alpha, beta=beta)
    x = tau * frac
    target = float(fam.score(tau + x))
    got = float(least_effort(fam, tau, target))
    assert float(fam.score(tau + got)) >= target
    assert got <= x + 1e-12 * (tau + x)


def test_least_effort_when_ulp_steps_of_x_cannot_move_tau_plus_x():
    # A case where the closed-form inverse lands short of the target and tau + x is exact (Sterbenz), so
    # nudging x by its own ulps (x ~ 0.0089, tau ~ 2.86) leaves tau + x unchanged: the search must take
    # steps on the scale of tau.  (This path used to raise TypeError from a three-argument np.maximum.)
    fam = PowerLaw(lower=0.0, upper=1.0, alpha=-2.459613979910355, beta=0.7354139231843776)
    tau, target = 2.8640944511407667, 0.18787989868873847
    start = float(fam.effort_to_reach(target)) - tau
    assert float(fam.score(tau + start)) < target
    assert tau + float(np.nextafter(start, np.inf)) == tau + start
    x = float(least_effort(fam, tau, target))
    assert float(fam.score(tau + x)) >= target
    # At most a few hundred ulps of the total effort above the starting point.
    assert 0 < x - start <= 1e-12 * (tau + x)


def test_least_effort_zero_and_unreachable():
    fam = PowerLaw(lower=[0.0, 0.0], upper=[1.0, 1.0], alpha=[0.0, 0.5], beta=[0.5, 0.5])
    tau = 2.0
    below = fam.score(np.array([tau, tau])) - 0.01
    np.testing.assert_array_equal(least_effort(fam, tau, below), 0.0)
    np.testing.assert_array_equal(least_effort(fam, tau, np.array([1.0, 2.0])), np.inf)


@HYP
@given(
    theta=st.floats(-1, 1), amplitude=st.floats(0.1, 5), rate=st.floats(0.2, 3), tau=st.floats(0, 5), y=st.floats(0, 1)
)
def test_least_effort_custom_reaches_target(theta, amplitude, rate, tau, y):
    function, limit = exp_custom(amplitude, rate)
    fam = CustomScore(function=function, theta=np.array(theta), limit_function=limit)
    target = theta + amplitude * y
    x = float(least_effort(fam, tau, target))
    if target > theta + amplitude:
        assert x == np.inf
    elif target == theta + amplitude:
        # The declared limit itself: attained in doubles once exp(-k e) underflows the last ulp.
        assert np.isfinite(x) and float(fam.score(tau + x)) >= target
    else:
        assert 0 <= x < np.inf
        assert float(fam.score(tau + x)) >= target


def test_least_effort_broadcasts_column_family_against_targets():
    fam = PowerLaw(lower=[0.0] * 3, upper=[1.0] * 3, alpha=[-1.0, 0.0, 1.0], beta=[0.3, 0.5, 0.9])
    targets = np.array([[0.2, 0.5, 0.9, 1.0]] * 3)
    x = least_effort(fam[:, None], 0.5, targets)
    assert x.shape == (3, 4)
    finite = np.isfinite(x)
    assert np.all(~finite[:, 3])  # 1.0 is the upper level
    reached = fam[:, None].score(0.5 + np.where(finite, x, 0.0))
    assert np.all(reached[finite] >= targets[finite])


# ---------------------------------------------------------------------------
# Parameter specifications
# ---------------------------------------------------------------------------


def test_resolve_param_number_list_affine():
    theta = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(resolve_param(0.5, theta, "alpha"), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(resolve_param([4, 5, 6], theta, "alpha"), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(resolve_param((4, 5, 6), theta, "alpha"), [4.0, 5.0, 6.0])
    # Affine(1, 2)(theta) = 1 + 2 theta = 3, 5, 7.
    np.testing.assert_array_equal(resolve_param(Affine(1.0, 2.0), theta, "alpha"), [3.0, 5.0, 7.0])


def test_resolve_param_errors_name_the_parameter():
    theta = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ScenarioError) as info:
        resolve_param([1.0, 2.0], theta, "beta")
    assert info.value.field == "beta"
    assert info.value.value == [1.0, 2.0]
    with pytest.raises(ScenarioError) as info:
        resolve_param(np.nan, theta, "lower")
    assert info.value.field == "lower"
    with pytest.raises(ScenarioError) as info:
        resolve_param([1.0, np.inf, 2.0], theta, "upper")
    assert info.value.field == "upper"


def test_as_param_and_is_function_of_capability():
    assert as_param(3) == 3.0 and isinstance(as_param(3), float)
    assert as_param([1, 2]) == (1.0, 2.0)
    assert as_param(np.array([1, 2])) == (1.0, 2.0)
    aff = Affine(0.0, 1.0)
    assert as_param(aff) is aff
    assert is_function_of_capability(1.0)
    assert is_function_of_capability(aff)
    assert not is_function_of_capability((1.0, 2.0))


# --------------------------------------------------------------------------- the bracket, a block at a time


def _bracket_one_doubling_at_a_time(fam, tau, target, x, up):
    """The search as first written: one doubling of the step per pass over every row (the reference)."""
    step = np.spacing(np.abs(tau + x))
    reach, fail = (np.full(x.shape, np.inf), x.copy()) if up else (x.copy(), np.full(x.shape, np.nan))
    todo = np.ones(x.shape, dtype=bool)
    for _ in range(2200):
        cand = x + step if up else np.maximum(x - step, 0.0)
        hit = fam.score(tau + cand) >= target
        reach = np.where(todo & hit, cand, reach)
        fail = np.where(todo & ~hit, cand, fail)
        todo &= (~hit & np.isfinite(cand)) if up else (hit & (cand > 0.0))
        if not todo.any():
            break
        step = step * 2.0
    if not up:
        fail = np.where(np.isnan(fail), -1.0, fail)
    return fail, reach


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([1 << 18, 5, 1]))
def test_bracket_by_blocks_is_the_one_doubling_loop_bit_for_bit(m, seed, power_law, cells):
    """Rows that reach at once, after many doublings, never (targets at or a few ulps below the upper level,
    which round-off keeps out of reach), from both sides; blocks cut small (``cells``) so that rows carry
    their step from one block into the next."""
    import sim.scores as scores

    rng = np.random.default_rng(seed)
    lower = rng.uniform(0.0, 0.4, m)
    upper = lower + rng.uniform(0.1, 0.6, m)
    if power_law:
        fam = PowerLaw(lower, upper, rng.uniform(-4.0, 2.0, m), rng.uniform(0.05, 3.0, m),
                       effort_unit=float(rng.choice([0.1, 1.0, 10.0])))
    else:
        fam = ExpSaturation(lower, upper, rng.uniform(1e-3, 2.0, m))
    tau = rng.choice([0.0, 0.5, 1e4], m) * rng.random(m)
    with np.errstate(all="ignore"):
        target = fam.score(tau + rng.exponential(rng.choice([1e-6, 1.0, 1e3]), m))
        near_top = upper * (1 - rng.choice([0.0, 1e-16, 1e-15, 1e-12], m))
        target = np.where(rng.random(m) < 0.3, near_top, target)
        x = np.maximum(fam.effort_to_reach(target) - tau, 0.0)
        x = np.where(np.isfinite(x), x, rng.exponential(1.0, m))
        old_cells = scores._BRACKET_CELLS
        scores._BRACKET_CELLS = cells
        try:
            for up in (True, False):
                expected = _bracket_one_doubling_at_a_time(fam, tau, target, x, up)
                got = scores._bracket(fam, tau, target, x, up)
                for a, b in zip(got, expected, strict=True):
                    assert a.tobytes() == b.tobytes(), (up, a, b)
        finally:
            scores._BRACKET_CELLS = old_cells


def test_indexing_broadcasting_and_reshaping_equal_a_checked_copy():
    """``family[index]``, ``broadcast_to`` and ``reshape`` skip ``__post_init__``'s checks (their parameters are
    views of checked ones) but give what a checked ``dataclasses.replace`` gives: same type, fields, dtypes."""
    import dataclasses

    families = [
        PowerLaw(lower=[0.1, 0.2, 0.3], upper=[0.9, 0.8, 0.95], alpha=[-1.0, 0.0, 0.5], beta=[1.0, 2.0, 0.5],
                 effort_unit=2.0),
        ExpSaturation(lower=[0.1, 0.2, 0.3], upper=0.9, rate=[0.5, 1.0, 2.0]),
        CustomScore(function=lambda theta, e: theta + 1.0 - np.exp(-e), theta=[0.5, 1.0, 2.0]),
    ]
    for family in families:
        fields = family._array_fields
        shape = family.shape
        cases = [
            (family[1], {name: np.broadcast_to(getattr(family, name), shape)[1] for name in fields}),
            (family[[2, 0]], {name: np.broadcast_to(getattr(family, name), shape)[[2, 0]] for name in fields}),
            (family.broadcast_to((2, 3)), {name: np.broadcast_to(getattr(family, name), (2, 3)) for name in fields}),
            (family.broadcast_to(3).reshape((3, 1)),
             {name: np.reshape(np.broadcast_to(getattr(family, name), 3), (3, 1)) for name in fields}),
        ]
        for got, arrays in cases:
            expected = dataclasses.replace(family, **arrays)
            assert type(got) is type(expected)
            for f in dataclasses.fields(family):
                a, b = getattr(got, f.name), getattr(expected, f.name)
                if f.name in fields:
                    assert isinstance(a, np.ndarray) and a.dtype == b.dtype == float and a.shape == b.shape
                    np.testing.assert_array_equal(a, b)
                else:
                    assert a is b or a == b
            np.testing.assert_array_equal(got.score(np.full(got.shape, 3.0)), expected.score(np.full(got.shape, 3.0)))
