"""Tests for :mod:`sim.rewards`: each scheme against its formula, monotonicity, validation, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.rewards import SCHEMES, RewardScheme, reward_gaps

HYP = settings(max_examples=50, deadline=None)
SIZES = [1, 2, 3, 5, 10]


@pytest.mark.parametrize("n", SIZES)
def test_winner_take_all(n):
    r = RewardScheme("winner_take_all").vector(n)
    assert r.shape == (n,)
    assert r[0] == 1.0 and np.all(r[1:] == 0.0)


@pytest.mark.parametrize("n", SIZES)
def test_top_k(n):
    for k in range(1, n + 1):
        r = RewardScheme("top_k", k=k).vector(n)
        # k ones followed by n - k zeros.
        assert r.tolist() == [1.0] * k + [0.0] * (n - k)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_linear(n):
    r = RewardScheme("linear").vector(n)
    # (n - k) / (n - 1): 1 at the top, 0 at the bottom, equal steps of 1 / (n - 1).
    assert r[0] == 1.0 and r[-1] == 0.0
    np.testing.assert_allclose(np.diff(r), -1.0 / (n - 1), rtol=1e-12)


def test_linear_single_developer_gets_one():
    assert RewardScheme("linear").vector(1).tolist() == [1.0]


@pytest.mark.parametrize("n", SIZES)
def test_geometric(n):
    q = 0.3
    r = RewardScheme("geometric", q=q).vector(n)
    # q ** (k - 1): start at 1, each rank multiplies by q.
    expected = [1.0]
    for _ in range(n - 1):
        expected.append(expected[-1] * q)
    np.testing.assert_allclose(r, expected, rtol=1e-13)


def test_geometric_default_q_is_one_half_and_q_one_is_flat():
    assert RewardScheme("geometric").q == 0.5
    assert RewardScheme("geometric").vector(4).tolist() == [1.0, 0.5, 0.25, 0.125]
    assert RewardScheme("geometric", q=1.0).vector(3).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("n", SIZES)
def test_zipf(n):
    r = RewardScheme("zipf", exponent=2.0).vector(n)
    # 1 / k ** 2: 1, 1/4, 1/9, ...
    np.testing.assert_allclose(r, [1.0 / (k * k) for k in range(1, n + 1)], rtol=1e-15)


def test_zipf_default_exponent_is_one_and_zero_is_flat():
    np.testing.assert_allclose(RewardScheme("zipf").vector(4), [1.0, 1 / 2, 1 / 3, 1 / 4], rtol=1e-15)
    assert RewardScheme("zipf", exponent=0.0).vector(3).tolist() == [1.0, 1.0, 1.0]


def test_custom_values_are_returned_as_given():
    scheme = RewardScheme("custom", values=(5, 3, 3, 0))
    assert scheme.values == (5.0, 3.0, 3.0, 0.0)
    assert scheme.vector(4).tolist() == [5.0, 3.0, 3.0, 0.0]


def test_vector_is_read_only():
    r = RewardScheme("linear").vector(3)
    with pytest.raises(ValueError):
        r[0] = 2.0


@st.composite
def schemes(draw):
    name = draw(st.sampled_from(SCHEMES))
    n = draw(st.integers(1, 12))
    if name == "top_k":
        return RewardScheme("top_k", k=draw(st.integers(1, n))), n
    if name == "geometric":
        return RewardScheme("geometric", q=draw(st.floats(1e-3, 1.0))), n
    if name == "zipf":
        return RewardScheme("zipf", exponent=draw(st.floats(0.0, 5.0))), n
    if name == "custom":
        values = sorted(draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)), reverse=True)
        return RewardScheme("custom", values=tuple(values)), n
    return RewardScheme(name), n


@HYP
@given(schemes())
def test_every_scheme_is_non_increasing(scheme_n):
    scheme, n = scheme_n
    r = scheme.vector(n)
    assert r.shape == (n,)
    assert np.all(np.isfinite(r))
    assert np.all(np.diff(r) <= 0)
    gaps = reward_gaps(r)
    assert gaps.shape == (n - 1,)
    assert np.all(gaps >= 0)


def test_top_k_needs_k_at_most_n():
    scheme = RewardScheme("top_k", k=4)
    with pytest.raises(ScenarioError) as info:
        scheme.vector(3)
    assert info.value.field == "k"


@pytest.mark.parametrize("k", [None, 0, -1, 1.5, True])
def test_top_k_needs_integer_k_at_least_one(k):
    with pytest.raises(ScenarioError) as info:
        RewardScheme("top_k", k=k)
    assert info.value.field == "k"


def test_custom_increasing_is_rejected():
    with pytest.raises(ScenarioError) as info:
        RewardScheme("custom", values=(1.0, 2.0, 0.0))
    assert info.value.field == "values"


@pytest.mark.parametrize("values", [None, (), (1.0, np.nan), (np.inf, 0.0)])
def test_custom_values_must_be_present_and_finite(values):
    with pytest.raises(ScenarioError) as info:
        RewardScheme("custom", values=values)
    assert info.value.field == "values"


def test_custom_length_must_match_n():
    with pytest.raises(ScenarioError) as info:
        RewardScheme("custom", values=(1.0, 0.0)).vector(3)
    assert info.value.field == "values"


@pytest.mark.parametrize("q", [0.0, -0.5, 1.5])
def test_geometric_q_must_be_in_unit_interval(q):
    with pytest.raises(ScenarioError) as info:
        RewardScheme("geometric", q=q)
    assert info.value.field == "q"


@pytest.mark.parametrize("s", [-1.0, np.inf, np.nan])
def test_zipf_exponent_must_be_finite_and_non_negative(s):
    with pytest.raises(ScenarioError) as info:
        RewardScheme("zipf", exponent=s)
    assert info.value.field == "exponent"


def test_unknown_scheme_and_empty_board():
    with pytest.raises(ScenarioError) as info:
        RewardScheme("lottery")
    assert info.value.field == "scheme"
    with pytest.raises(ScenarioError) as info:
        RewardScheme("linear").vector(0)
    assert info.value.field == "n"


def test_reward_gaps_by_hand():
    # r = 5, 3, 3, 0: gaps r_{i-1} - r_i = 2, 0, 3.
    np.testing.assert_array_equal(reward_gaps([5.0, 3.0, 3.0, 0.0]), [2.0, 0.0, 3.0])
    assert reward_gaps([1.0]).shape == (0,)


@HYP
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=10))
def test_reward_gaps_telescope(values):
    r = np.array(sorted(values, reverse=True))
    gaps = reward_gaps(r)
    # The gaps telescope: their sum is r_1 - r_n, and r_1 minus the partial sums rebuilds r.
    assert gaps.sum() == pytest.approx(r[0] - r[-1], abs=1e-9)
    np.testing.assert_allclose(r[0] - np.concatenate([[0.0], np.cumsum(gaps)]), r, atol=1e-9)
