"""Tests for :mod:`sim.costs`: values by hand, ``c(0) = 0``, declared metadata against numerical checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.costs import COST_FAMILIES, CustomCost, FlatQuadraticCost, LinearCost, PowerCost
from sim.errors import ScenarioError

HYP = settings(max_examples=50, deadline=None)

#: Instances covering every family and the edge parameters (exponent 1, free effort 0).
COSTS = [
    LinearCost(0.7),
    LinearCost(),
    PowerCost(scale=2.0, exponent=1.0),
    PowerCost(scale=0.5, exponent=3.2),
    PowerCost(scale=1.3, exponent=1.5),
    FlatQuadraticCost(scale=1.0, free_effort=1.0),
    FlatQuadraticCost(scale=3.0, free_effort=2.5),
    FlatQuadraticCost(scale=3.0, free_effort=0.0),
]
IDS = [repr(c) for c in COSTS]


def test_values_by_hand():
    # Linear: 2.5 * 4 = 10.
    assert float(LinearCost(2.5)(4.0)) == 10.0
    # Power: 3 * 4 ** 1.5 = 3 * 8 = 24.
    assert float(PowerCost(scale=3.0, exponent=1.5)(4.0)) == pytest.approx(24.0, rel=1e-15)
    # Flat then quadratic: 2 * max(3 - 1, 0) ** 2 = 8; inside the free region 0.
    flat = FlatQuadraticCost(scale=2.0, free_effort=1.0)
    np.testing.assert_array_equal(flat(np.array([0.0, 0.5, 1.0, 3.0])), [0.0, 0.0, 0.0, 8.0])
    # Custom: scale * function(x) = 2 * (2 ** 3 + 2) = 20.
    custom = CustomCost(function=lambda x: x**3 + x, scale=2.0)
    assert float(custom(2.0)) == 20.0


def test_vectorised_shapes():
    x = np.linspace(0, 3, 12).reshape(3, 4)
    for cost in COSTS:
        assert cost(x).shape == (3, 4)
    # A custom function returning a scalar is broadcast to the input shape.
    assert CustomCost(function=lambda x: 1.0)(np.zeros(5)).shape == (5,)


@pytest.mark.parametrize("cost", COSTS + [CustomCost(function=lambda x: x**2)], ids=IDS + ["custom"])
def test_zero_effort_costs_nothing(cost):
    assert float(cost(0.0)) == 0.0
    np.testing.assert_array_equal(cost(np.zeros(4)), 0.0)


@pytest.mark.parametrize("cost", COSTS, ids=IDS)
def test_declared_metadata_matches_numerical_checks(cost):
    declared = cost.declared
    assert set(declared) == {"convex", "non_decreasing", "strictly_increasing", "unbounded"}
    x = np.linspace(0.0, 10.0, 2001)
    c = cost(x)
    scale = max(1.0, float(np.max(np.abs(c))))
    first = np.diff(c)
    second = np.diff(c, 2)
    tol = 1e-12 * scale
    if declared["convex"]:
        assert np.all(second >= -tol), "second differences must be >= 0 for a convex cost"
    if declared["non_decreasing"]:
        assert np.all(first >= -tol)
    if declared["strictly_increasing"]:
        assert np.all(first > 0)
    if declared["unbounded"]:
        big = cost(np.array([1e3, 1e6, 1e9]))
        assert np.all(np.diff(big) > 0) and big[-1] > 1e6


def test_flat_quadratic_is_declared_and_is_not_strictly_increasing():
    cost = FlatQuadraticCost(scale=1.0, free_effort=1.0)
    assert cost.declared["strictly_increasing"] is False
    # A witness on the grid: two different efforts with the same cost.
    assert float(cost(0.2)) == float(cost(0.9)) == 0.0
    assert CustomCost(function=lambda x: x).declared == {}


@HYP
@given(
    which=st.sampled_from(["linear", "power", "flat_quadratic"]),
    scale=st.floats(1e-3, 1e3),
    param=st.floats(1.0, 4.0),
    a=st.floats(0, 100),
    b=st.floats(0, 100),
)
def test_convex_and_non_decreasing_on_random_pairs(which, scale, param, a, b):
    if which == "linear":
        cost = LinearCost(scale)
    elif which == "power":
        cost = PowerCost(scale=scale, exponent=param)
    else:
        cost = FlatQuadraticCost(scale=scale, free_effort=param)
    lo, hi = min(a, b), max(a, b)
    c_lo, c_hi, c_mid = float(cost(lo)), float(cost(hi)), float(cost(0.5 * (lo + hi)))
    tol = 1e-12 * max(1.0, abs(c_hi))
    assert c_lo <= c_hi + tol
    assert c_mid <= 0.5 * (c_lo + c_hi) + tol


@pytest.mark.parametrize("cost", COSTS, ids=IDS)
def test_linear_lower_bound_holds_and_is_tight_for_linear_costs(cost):
    c0 = cost.linear_lower_bound()
    x = np.linspace(0.0, 20.0, 401)
    assert np.all(cost(x) >= c0 * x - 1e-12 * np.maximum(1.0, cost(x)))
    if isinstance(cost, LinearCost) or (isinstance(cost, PowerCost) and cost.exponent == 1):
        assert c0 == cost.scale
    else:
        # No positive slope bounds a superlinear or flat start from below: c(x) / x -> 0 as x -> 0.
        assert c0 == 0.0
        assert float(cost(1e-8)) / 1e-8 < 1e-3


@pytest.mark.parametrize("family", [LinearCost, PowerCost, FlatQuadraticCost])
@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_scale_must_be_positive_and_finite(family, bad):
    with pytest.raises(ScenarioError) as info:
        family(scale=bad)
    assert info.value.field == "scale"


def test_custom_scale_is_validated():
    with pytest.raises(ScenarioError) as info:
        CustomCost(function=lambda x: x, scale=0.0)
    assert info.value.field == "scale"


@pytest.mark.parametrize("bad", [0.999, 0.5, 0.0, -2.0, math.inf, math.nan])
def test_power_exponent_below_one_is_rejected(bad):
    with pytest.raises(ScenarioError) as info:
        PowerCost(scale=1.0, exponent=bad)
    assert info.value.field == "exponent"


@pytest.mark.parametrize("bad", [-0.1, math.inf, math.nan])
def test_flat_quadratic_free_effort_is_validated(bad):
    with pytest.raises(ScenarioError) as info:
        FlatQuadraticCost(scale=1.0, free_effort=bad)
    assert info.value.field == "free_effort"


def test_parameters_are_stored_as_floats_and_families_registered():
    cost = PowerCost(scale=2, exponent=3)
    assert isinstance(cost.scale, float) and isinstance(cost.exponent, float)
    assert COST_FAMILIES == {
        "linear": LinearCost,
        "power": PowerCost,
        "flat_quadratic": FlatQuadraticCost,
        "custom": CustomCost,
    }
