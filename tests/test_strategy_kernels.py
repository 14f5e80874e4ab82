"""The compiled passes of the built-in strategies (:mod:`sim.kernel_strategies`) against the numpy paths.

``rank_defender_choose`` and ``expected_utility_choose`` consider only the candidates within reach, and the
latter evaluates candidates best first by upper bounds: the tests play random games satisfying the paper's
assumptions, with evaluation noise, and require the numpy paths' efforts bit for bit.  Games are tiny (at
most five developers, six rounds) so that the file stays cheap.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim.kernel  # noqa: F401 -- loaded: small runs take the compiled kernels, as in a long run
from sim import engine, kernel_strategies
from sim.engine import run_batch
from sim.scenario import parse_scenario
from sim.strategies.builtin import QUADRATURE_NODES, _hermite
from tests.strategies import assumption_games, scenario_from_game

#: The strategies with a compiled pass of their own (and hedge, whose candidates are every one).
SPECS = {
    "rank_defender": "rank_defender",
    "expected_utility": "expected_utility",
    "fictitious_play_decay": {"name": "fictitious_play", "decay": 0.5},
    "fictitious_play_window": {"name": "fictitious_play", "window": 3},
    "hedge": {"name": "hedge", "eta": 2.0},
}


def _with(scenario, strategy, noise: float, seed: int):
    data = scenario.to_dict()
    data["developers"]["strategy"] = strategy
    data["leaderboard"]["noise"] = noise
    data["seed"] = seed
    return parse_scenario(data)


def _efforts(batch) -> np.ndarray:
    return np.array([batch.trajectory(k)["effort"].to_numpy() for k in range(len(batch.outcomes()))])


# Each example plays a batch of three scenarios twice (compiled, numpy) for six rounds: about 0.1 s.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(min_n=3, max_n=5), key=st.sampled_from(sorted(SPECS)),
       schedule=st.sampled_from(["simultaneous", "random_order"]))
def test_the_compiled_passes_play_the_numpy_paths_bits(game, key, schedule):
    base = scenario_from_game(game, schedule=schedule, rounds=6)
    batch = [_with(base, SPECS[key], noise, seed) for seed, noise in enumerate((1e-3, 1e-2, 0.1))]
    compiled = _efforts(run_batch(batch))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "COMPILED_SCHEDULES", False)
        numpy_path = _efforts(run_batch(batch))
    assert np.array_equal(compiled, numpy_path)


def _classify(x, i, board, sigma, nodes):
    """The kernels' split of the rivals: certainly above (counted), uncertain (listed), certainly below."""
    scale = 2.0 * sigma
    above, uncertain = 0, []
    for j, e in enumerate(board):
        if j == i or (x + sigma * nodes[0] - e) / scale > kernel_strategies.EU_CUT_HIGH:
            continue
        if (x + sigma * nodes[-1] - e) / scale < kernel_strategies.EU_CUT_LOW:
            above += 1
        else:
            uncertain.append(j)
    return above, np.array(uncertain + [0] * (len(board) - len(uncertain)), dtype=np.int64), len(uncertain)


# Rivals spread over +-15 sigma around the developer, so that some sit beyond the cuts at some nodes only.
@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-15.0, 15.0), min_size=n, max_size=n), st.integers(0, n - 1), st.floats(1e-4, 0.2),
    st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n))))
def test_the_sum_is_expected_rewards_bits_and_the_bounds_hold_it(case):
    """``_expected_total`` (exact shortcuts: a rival with ``P = 1`` shifts the count without ``erfc``, the
    recursion runs over its support) gives :func:`expected_reward`'s bits; ``_expected_bounds`` hold it between them."""
    offsets, i, sigma, raw = case
    n = len(offsets)
    x = 0.5
    board = np.array([[x + sigma * o for o in offsets]])
    rewards = np.sort(np.array(raw))[::-1][None, :]
    z, w = _hermite(QUADRATURE_NODES)
    reference = np.empty((1, 1, 1))
    kernel_strategies.expected_reward(np.array([[[x]]]), np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), board,
                                      np.array([[i]]), np.array([sigma]), rewards, np.zeros(1), z, w, reference)
    above, uncertain, nu = _classify(x, i, board[0], sigma, z)
    dist = np.empty(n + 1)
    total = kernel_strategies._expected_total(x, sigma, 0, board, rewards, above, nu, uncertain, z, w, dist)
    assert total == reference[0, 0, 0] or (math.isnan(total) and math.isnan(reference[0, 0, 0]))
    if nu >= 2:
        central = np.flatnonzero(np.abs(z) <= kernel_strategies.EU_BOUND_Z)
        lower, upper = kernel_strategies._expected_bounds(
            x, sigma, 0, board, rewards, above, nu, uncertain, z, w, central, np.empty((n + 1, 2 * central.size)),
            np.empty(2 * central.size), kernel_strategies.pa_tables())
        margin = 1e-13 * max(1.0, float(np.abs(rewards).max()))
        assert lower - margin <= total <= upper + margin


def test_the_tables_bound_the_probability_from_both_sides():
    """Every ``d`` reads a lower bound two points up and an upper bound one point down on ``0.5 erfc(d)``, as
    the sum takes it (``0`` above ``EU_CUT_HIGH``, ``1`` below ``EU_CUT_LOW``), against SciPy's erfc."""
    from scipy.special import erfc

    ks = kernel_strategies
    low, high = ks.pa_tables()
    d = np.random.default_rng(7).uniform(ks.EU_CUT_LOW - 3.0, ks.EU_CUT_HIGH + 3.0, 20_000)
    p = np.where(d > ks.EU_CUT_HIGH, 0.0, np.where(d < ks.EU_CUT_LOW, 1.0, 0.5 * erfc(d)))
    top = low.size - 2.0 * ks.EU_TABLE_PAD + 5.0
    k = (np.clip((d - ks.EU_CUT_LOW) * ks.EU_TABLE_STEPS, -2.0, top) + ks.EU_TABLE_PAD).astype(np.int64)
    assert np.all(low[k + 2] <= p) and np.all(high[k - 1] >= p)
    assert np.all(np.diff(low) <= 0.0) and np.all(np.diff(high) <= 0.0) and high.max() <= 1.0


@pytest.mark.parametrize("d", [-6.5, -6.5000001, -7.0, -10.0, -27.0, -1e3])
def test_a_rival_past_the_low_cut_is_above_with_probability_one_exactly(d):
    """The shift that replaces ``erfc`` below :data:`EU_CUT_LOW` is exact: ``0.5 erfc(d)`` is ``1.0`` there,
    in the compiled kernel's ``erfc`` (one uncertain rival: the kernel's closed form is ``0.5 erfc``)."""
    sigma = 1.0
    # One uncertain rival at difference d sigma sqrt 6 gives P(above) = 0.5 erfc(d): E[r] = r_2 = 0 exactly
    # when that is 1.0 (rewards 1, 0).
    board = np.array([[0.0, -d * sigma * math.sqrt(6.0)]])
    uncertain = np.array([1, 0], dtype=np.int64)
    total = kernel_strategies._expected_total(0.0, sigma, 0, board, np.array([[1.0, 0.0]]), 0, 1, uncertain,
                                              *_hermite(QUADRATURE_NODES), np.empty(3))
    assert total == 0.0
