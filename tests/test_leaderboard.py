"""Tests for :mod:`sim.leaderboard`: grid levels, exact boundaries, ranking, tie-breaking, overtaking targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.leaderboard import (
    check_resolution,
    grid_index,
    least_score_at_index,
    overtake_target,
    published_scores,
    ranked_above,
    ranks,
    tie_priority,
)

HYP = settings(max_examples=50, deadline=None)

#: Resolutions whose multiples are not exact in binary floating point, plus a few random ones.
NASTY = [0.1, 1e-4, 0.3, 0.01, 1e-3, 0.7, 1.0 / 3.0, 0.05, 1e-7]
deltas = st.sampled_from(NASTY) | st.floats(1e-6, 10.0)
scores_st = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


def test_check_resolution():
    assert check_resolution(0) == 0.0 and isinstance(check_resolution(0), float)
    assert check_resolution(0.01) == 0.01
    for bad in (-1e-9, math.inf, math.nan):
        with pytest.raises(ScenarioError) as info:
            check_resolution(bad)
        assert info.value.field == "resolution"


def test_grid_index_and_published_scores_by_hand():
    # floor(s / 0.5): 1.26 -> 2, 0.49 -> 0, -0.1 -> -1, 1.0 -> 2.
    s = np.array([1.26, 0.49, -0.1, 1.0])
    np.testing.assert_array_equal(grid_index(s, 0.5), [2.0, 0.0, -1.0, 2.0])
    np.testing.assert_array_equal(published_scores(s, 0.5), [1.0, 0.0, -0.5, 1.0])
    # delta = 0 publishes exact scores.
    np.testing.assert_array_equal(grid_index(s, 0.0), s)
    np.testing.assert_array_equal(published_scores(s, 0.0), s)


@HYP
@given(st.lists(scores_st, min_size=2, max_size=30), deltas)
def test_grid_index_is_monotone_and_published_score_is_within_one_step(values, delta):
    s = np.sort(np.array(values))
    idx = grid_index(s, delta)
    assert np.all(np.diff(idx) >= 0)
    assert np.all(idx == np.floor(idx))
    pub = published_scores(s, delta)
    # Published = level * delta, which rounds down by less than one step (up to round-off of the product).
    slack = 1e-9 * np.maximum(1.0, np.abs(s))
    assert np.all(pub <= s + slack)
    assert np.all(pub > s - delta - slack)


@HYP
@given(k=st.integers(-(10**7), 10**7), delta=deltas)
def test_least_score_at_index_is_exactly_the_boundary(k, delta):
    t = float(least_score_at_index(k, delta))
    assert grid_index(t, delta) >= k
    assert grid_index(np.nextafter(t, -np.inf), delta) < k


@HYP
@given(ks=st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=20), delta=deltas)
def test_least_score_at_index_vectorised(ks, delta):
    k = np.array(ks, dtype=float)
    t = least_score_at_index(k, delta)
    assert t.shape == k.shape
    assert np.all(grid_index(t, delta) >= k)
    assert np.all(grid_index(np.nextafter(t, -np.inf), delta) < k)


def test_least_score_at_index_needs_positive_resolution():
    with pytest.raises(ValueError):
        least_score_at_index(3, 0.0)


@st.composite
def boards(draw):
    """Scores (with deliberate ties), a resolution and a priority permutation."""
    n = draw(st.integers(1, 8))
    pool = draw(st.lists(st.floats(0, 1), min_size=1, max_size=4))
    scores = np.array(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)))
    delta = draw(st.sampled_from([0.0, 0.1, 1e-4, 0.3]))
    priority = np.array(draw(st.permutations(list(range(n)))))
    return scores, delta, priority


@HYP
@given(boards())
def test_ranks_are_a_permutation_ordered_by_level_then_priority(board):
    scores, delta, priority = board
    r = ranks(scores, delta, priority)
    n = scores.size
    assert sorted(r.tolist()) == list(range(1, n + 1))
    level = grid_index(scores, delta)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            i_above = level[i] > level[j] or (level[i] == level[j] and priority[i] > priority[j])
            assert (r[i] < r[j]) == i_above
            assert bool(ranked_above(level[i], priority[i], level[j], priority[j])) == i_above


def test_ranks_by_hand_with_a_tie_on_the_grid():
    # delta = 0.1: 0.55 and 0.58 share level 5; 0.61 is level 6; 0.2 is level 2.
    scores = np.array([0.55, 0.58, 0.61, 0.2])
    priority = np.array([3, 0, 1, 2])
    # Level 6 first (id 2), then the level-5 tie broken by priority (id 0 has 3 > 0), then id 1, then id 3.
    assert ranks(scores, 0.1, priority).tolist() == [2, 3, 1, 4]
    # With exact scores the tie disappears.
    assert ranks(scores, 0.0, priority).tolist() == [3, 2, 1, 4]


def test_ranks_batched_rows_are_independent():
    scores = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    priority = np.array([0, 1, 2])
    assert ranks(scores, 0.0, priority).tolist() == [[3, 2, 1], [1, 2, 3]]


def test_tie_priority_capability_by_hand():
    # theta = 0.5, 0.9, 0.5, 0.1: id 1 (0.9) highest -> 3; the two 0.5s: lower id wins -> id 0: 2, id 2: 1;
    # id 3 (0.1) lowest -> 0.
    assert tie_priority(np.array([0.5, 0.9, 0.5, 0.1]), "capability").tolist() == [2, 3, 1, 0]


@HYP
@given(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]) | st.floats(-5, 5), min_size=1, max_size=8))
def test_tie_priority_capability_properties(values):
    theta = np.array(values)
    p = tie_priority(theta, "capability")
    n = theta.size
    assert sorted(p.tolist()) == list(range(n))
    for i in range(n):
        for j in range(n):
            if theta[i] > theta[j]:
                assert p[i] > p[j]
            elif theta[i] == theta[j] and i < j:
                assert p[i] > p[j]


def test_tie_priority_id():
    # Lower id wins: priority n - 1 - i.
    assert tie_priority(np.array([3.0, 1.0, 2.0, 0.0]), "id").tolist() == [3, 2, 1, 0]


def test_tie_priority_random_is_seeded_permutation():
    theta = np.linspace(0, 1, 10)
    a = tie_priority(theta, "random", np.random.default_rng(7))
    b = tie_priority(theta, "random", np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == list(range(10))
    draws = {tuple(tie_priority(theta, "random", np.random.default_rng(seed)).tolist()) for seed in range(5)}
    assert len(draws) > 1, "different seeds should not all give the same permutation"
    with pytest.raises(ValueError):
        tie_priority(theta, "random")


def test_tie_priority_batched():
    theta = np.array([[0.1, 0.3, 0.2], [0.9, 0.3, 0.9]])
    # Row 0: order by theta 0.1 < 0.2 < 0.3. Row 1: 0.9 ties, lower id 0 wins.
    assert tie_priority(theta, "capability").tolist() == [[0, 2, 1], [2, 0, 1]]
    rnd = tie_priority(theta, "random", np.random.default_rng(0))
    for row in rnd:
        assert sorted(row.tolist()) == [0, 1, 2]


def test_tie_priority_unknown_rule():
    with pytest.raises(ScenarioError) as info:
        tie_priority(np.array([0.0, 1.0]), "alphabetical")
    assert info.value.field == "tie_break"


def test_overtake_target_exact_scores_by_hand():
    rival = np.array([0.5, 0.5])
    t = overtake_target(rival, 0.0, np.array([True, False]))
    # Winning ties: draw level. Losing ties: the next float above.
    assert t[0] == 0.5
    assert t[1] == np.nextafter(0.5, np.inf)


def test_overtake_target_grid_by_hand():
    # delta = 0.25, rival 0.6 -> level 2 (published 0.5). Winning ties: reach level 2 (0.5).
    # Losing ties: reach level 3 (0.75). The least score at a level lies a few ulps below the line (the slack).
    t = overtake_target(np.array([0.6, 0.6]), 0.25, np.array([True, False]))
    assert t == pytest.approx([0.5, 0.75], rel=1e-14)
    assert np.all(t <= [0.5, 0.75])
    assert grid_index(t, 0.25).tolist() == [2, 3]


@pytest.mark.parametrize(
    ("score", "delta", "level"), [(0.3, 0.01, 30), (0.6, 1e-4, 6000), (0.7, 0.1, 7), (0.29, 0.01, 29)]
)
def test_decimal_scores_publish_as_the_decimal_they_stand_for(score, delta, level):
    # ... while a score measurably below a line (1e-12 under it: thousands of ulps) stays below it.
    assert grid_index(delta * level - 1e-12, delta) == level - 1
    # 0.3 / 0.01 == 29.999999999999996 in doubles: a plain floor would publish 0.29.
    assert grid_index(score, delta) == level
    assert published_scores(score, delta) == pytest.approx(score)


@HYP
@given(rival=scores_st, delta=st.just(0.0) | deltas, wins_ties=st.booleans())
def test_overtake_target_is_exact(rival, delta, wins_ties):
    t = float(overtake_target(rival, delta, wins_ties))
    # Challenger id 0, rival id 1; priorities say who wins a tie.
    priority = np.array([1, 0]) if wins_ties else np.array([0, 1])
    assert ranks(np.array([t, rival]), delta, priority).tolist() == [1, 2]
    below = float(np.nextafter(t, -np.inf))
    assert ranks(np.array([below, rival]), delta, priority).tolist() == [2, 1]


def test_overtake_target_broadcasts():
    rival = np.array([[0.1, 0.35], [0.1, 0.35]])
    wins = np.array([[True], [False]])
    t = overtake_target(rival, 0.1, wins)
    assert t.shape == (2, 2)
    assert np.all(grid_index(t[0], 0.1) == grid_index(rival[0], 0.1))
    assert np.all(grid_index(t[1], 0.1) == grid_index(rival[1], 0.1) + 1)
