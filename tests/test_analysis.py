"""Tests for :mod:`sim.analysis`: state keys, recurrence detection, classification and leaderboard statistics.

Trajectories are built by hand from a pre-period of distinct states followed
by a cycle, so the expected entry round and period are known exactly; Kendall's
tau is checked against :func:`scipy.stats.kendalltau`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import analysis
from sim.analysis import (
    OUTCOMES,
    RECURRENCE_ATOL,
    RECURRENCE_RTOL,
    Outcome,
    classify,
    classify_trajectory,
    default_tail_window,
    final_run_start,
    first_recurrence,
    kendall_tau,
    rank_changes,
    ranking_correct,
    recurrence_cell,
    state_keys,
)

HYP = settings(max_examples=40, deadline=None)
CELL = float(recurrence_cell(10.0))


def ranks_of(effort: np.ndarray) -> np.ndarray:
    """Ranks (1 = top) by descending effort, ties by developer index."""
    effort = np.atleast_2d(effort)
    order = np.argsort(-effort, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(1, effort.shape[-1] + 1), axis=-1)
    return rank


def periodic_trajectory(a: int, p: int, horizon: int, n: int = 3, scale: float = 1.0) -> np.ndarray:
    """``(horizon, n)`` efforts: ``a`` distinct transient states, then a cycle of ``p`` distinct states.

    Every state is ``(phase + i) * scale`` for developer ``i``, with distinct phases: the cycle uses
    ``0..p-1`` and the transient ``p + 1 + t``, so no transient state equals a cycle state.
    """
    t = np.arange(horizon)
    phase = np.where(t < a, p + 1 + t, (t - a) % p).astype(np.float64)
    return (phase[:, None] + np.arange(n)[None, :]) * scale


def full(effort, deterministic=True, cell=CELL, correct=None, rank=None, **kwargs) -> Outcome:
    effort = np.asarray(effort, dtype=np.float64)
    rank = ranks_of(effort) if rank is None else rank
    correct = np.ones(effort.shape[0], dtype=bool) if correct is None else correct
    return classify_trajectory(effort, rank, correct, deterministic=deterministic, cell=cell, **kwargs)


# ---------------------------------------------------------------------------
# recurrence cell and state keys
# ---------------------------------------------------------------------------


def test_recurrence_cell_formula_scalar_and_array():
    assert recurrence_cell(0.0) == RECURRENCE_ATOL + RECURRENCE_RTOL
    assert recurrence_cell(1e6) == RECURRENCE_ATOL + RECURRENCE_RTOL * 1e6
    assert np.ndim(recurrence_cell(3.0)) == 0
    cells = recurrence_cell(np.array([[0.5, 2.0], [1e3, -4.0]]))
    assert cells.shape == (2, 2)
    np.testing.assert_array_equal(cells, RECURRENCE_ATOL + RECURRENCE_RTOL * np.array([[1.0, 2.0], [1e3, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        recurrence_cell(np.inf)


@HYP
@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_state_keys_equal_inputs_give_equal_keys(n, T, seed):
    rng = np.random.default_rng(seed)
    effort = rng.uniform(0, 5, size=(T, n))
    rank = np.array([rng.permutation(n) + 1 for _ in range(T)])
    keys = state_keys(effort, rank, CELL)
    assert keys.dtype == np.uint64 and keys.shape == (T,)
    np.testing.assert_array_equal(keys, state_keys(effort.copy(), rank.astype(np.int32), CELL))
    # a key depends only on its own row
    np.testing.assert_array_equal(keys[-1:], state_keys(effort[-1:], rank[-1:], CELL))
    # repeated rows have repeated keys
    twice = state_keys(np.concatenate([effort, effort]), np.concatenate([rank, rank]), CELL)
    np.testing.assert_array_equal(twice[:T], twice[T:])


@HYP
@given(st.integers(2, 10), st.integers(0, 2**32 - 1))
def test_state_keys_differing_ranks_give_different_keys(n, seed):
    rng = np.random.default_rng(seed)
    effort = rng.uniform(0, 5, size=n)
    rank = rng.permutation(n) + 1
    i, j = rng.choice(n, size=2, replace=False)
    swapped = rank.copy()
    swapped[[i, j]] = swapped[[j, i]]
    bumped = rank.copy()
    bumped[i] += n
    keys = state_keys(np.stack([effort] * 3), np.stack([rank, swapped, bumped]), CELL)
    assert len(set(keys.tolist())) == 3


def test_state_keys_depend_on_who_holds_which_effort():
    rank = np.array([[1, 1, 1], [1, 1, 1]])
    keys = state_keys(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), rank, CELL)
    assert keys[0] != keys[1]


@HYP
@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6),
    st.data(),
)
def test_state_keys_within_a_tenth_of_a_cell_of_a_multiple_is_the_same_state(multiples, data):
    n = len(multiples)
    base = np.array(multiples, dtype=np.float64) * CELL
    fraction = np.array(data.draw(st.lists(st.floats(-0.099, 0.099), min_size=n, max_size=n)))
    rank = np.arange(1, n + 1)[None, :].repeat(2, axis=0)
    keys = state_keys(np.stack([base, base + fraction * CELL]), rank, CELL)
    assert keys[0] == keys[1]


@HYP
@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6),
    st.data(),
)
def test_state_keys_two_cells_apart_is_a_different_state(multiples, data):
    n = len(multiples)
    base = np.array(multiples, dtype=np.float64) * CELL
    i = data.draw(st.integers(0, n - 1))
    shift = data.draw(st.floats(2.0, 1e4)) * data.draw(st.sampled_from([-1.0, 1.0]))
    moved = base.copy()
    moved[i] += shift * CELL
    rank = np.arange(1, n + 1)[None, :].repeat(2, axis=0)
    keys = state_keys(np.stack([base, moved]), rank, CELL)
    assert keys[0] != keys[1]


def test_state_keys_cell_per_leading_index_broadcasts():
    rng = np.random.default_rng(3)
    S, T, n = 3, 5, 4
    effort = rng.uniform(0, 1, size=(S, T, n))
    rank = np.array([[rng.permutation(n) + 1 for _ in range(T)] for _ in range(S)])
    cell = np.array([[1e-9], [1e-3], [0.25]])
    keys = state_keys(effort, rank, cell)
    assert keys.shape == (S, T)
    for s in range(S):
        np.testing.assert_array_equal(keys[s], state_keys(effort[s], rank[s], float(cell[s, 0])))
    # the cell matters: 0.3 and 0.35 share a cell of 0.25 but not a cell of 1e-3
    pair = np.array([[[0.3], [0.35]]] * 2)
    coarse_fine = state_keys(pair, np.ones((2, 2, 1), dtype=int), np.array([[0.25], [1e-3]]))
    assert coarse_fine[0, 0] == coarse_fine[0, 1]
    assert coarse_fine[1, 0] != coarse_fine[1, 1]
    # engine usage: (S, n) efforts with one cell per scenario
    np.testing.assert_array_equal(state_keys(effort[:, 0], rank[:, 0], cell[:, 0]), keys[:, 0])


def test_state_keys_blocks_over_developers_agree(monkeypatch):
    rng = np.random.default_rng(4)
    effort = rng.uniform(0, 1, size=(6, 25))
    rank = np.array([rng.permutation(25) + 1 for _ in range(6)])
    whole = state_keys(effort, rank, CELL)
    monkeypatch.setattr(analysis, "_CHUNK_ELEMENTS", 7)
    np.testing.assert_array_equal(state_keys(effort, rank, CELL), whole)


def test_state_keys_rejects_bad_input():
    rank = np.array([[1, 2]])
    with pytest.raises(ValueError, match="2\\*\\*62"):
        state_keys(np.array([[1.0, 2.0**62 * 1e-3]]), rank, 1e-3)
    with pytest.raises(ValueError, match="2\\*\\*62"):
        state_keys(np.array([[1.0, 1e10]]), rank, 1e-9)
    with pytest.raises(ValueError, match="finite"):
        state_keys(np.array([[np.nan, 1.0]]), rank, CELL)
    with pytest.raises(ValueError, match="shape"):
        state_keys(np.ones((1, 3)), rank, CELL)
    with pytest.raises(ValueError, match="integer"):
        state_keys(np.ones((1, 2)), rank.astype(float), CELL)
    with pytest.raises(ValueError, match="broadcast"):
        state_keys(np.ones((3, 2)), np.ones((3, 2), dtype=int), np.ones(2))
    with pytest.raises(ValueError, match="> 0"):
        state_keys(np.ones((1, 2)), rank, 0.0)
    # just below the limit is fine
    state_keys(np.array([[0.0, 2.0**61]]), rank, 1.0)


# ---------------------------------------------------------------------------
# first recurrence and final run
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([], None),
        ([7], None),
        ([1, 2, 3, 4], None),
        ([5, 5], (0, 1)),
        ([1, 2, 3, 3, 3], (2, 1)),
        ([1, 2, 3, 2, 3, 2], (1, 2)),
        ([9, 8, 7, 9], (0, 3)),
        ([1, 2, 3, 4, 2, 1], (1, 3)),  # t = 4 repeats round 1 before t = 5 repeats round 0
    ],
)
def test_first_recurrence_by_hand(keys, expected):
    assert first_recurrence(np.array(keys, dtype=np.uint64)) == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(1, 1000), st.one_of(st.just(0), st.integers(0, 2000)))
def test_first_recurrence_finds_any_pre_period_and_period(a, p, extra):
    horizon = a + p + 1 + extra  # extra = 0: the cycle repeats only once
    t = np.arange(horizon)
    keys = np.where(t < a, 10**9 + t, (t - a) % p).astype(np.uint64)
    assert first_recurrence(keys) == (a, p)


def _first_recurrence_by_dict(keys):
    """The one-pass reference: a dict from key to first index."""
    seen: dict = {}
    for t, key in enumerate(keys.tolist()):
        s = seen.setdefault(key, t)
        if s != t:
            return s, t - s
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=80), st.sampled_from([np.uint64, np.int64, np.int32]))
def test_first_recurrence_equals_the_one_pass_reference(values, dtype):
    keys = np.array(values, dtype=dtype)
    assert first_recurrence(keys) == _first_recurrence_by_dict(keys)


def test_first_recurrence_rejects_2d():
    with pytest.raises(ValueError, match="one-dimensional"):
        first_recurrence(np.zeros((2, 2), dtype=np.uint64))


@pytest.mark.parametrize(
    ("keys", "expected"),
    [([4], 0), ([1, 1, 1], 0), ([1, 2, 3], 2), ([1, 2, 2, 2], 1), ([3, 3, 1, 3, 3], 3)],
)
def test_final_run_start_by_hand(keys, expected):
    assert final_run_start(np.array(keys, dtype=np.uint64)) == expected


def test_final_run_start_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        final_run_start(np.array([], dtype=np.uint64))


# ---------------------------------------------------------------------------
# classification: deterministic dynamics
# ---------------------------------------------------------------------------


def test_converged_zero_after_a_transient():
    effort = np.array([[3.0, 1.0], [2.0, 0.5], [1.0, 0.25], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    correct = np.array([True, True, True, False, False, False])
    out = full(effort, correct=correct)
    assert (out.outcome, out.period, out.entered_at, out.rounds) == ("converged_zero", None, 3, 5)
    assert out.final_effort == (0.0, 0.0)
    assert out.window == (5, 6)
    assert out.ranking_correct_share == 0.0
    assert out.mean_effort_tail == (0.0, 0.0)
    assert out.total_effort_mean == 0.0 and out.total_effort_std == 0.0
    assert out.rank_changes_mean == 0.0
    assert out.cycle_effort is None and out.note is None
    assert out.deterministic is True and out.cell == CELL


def test_converged_zero_means_within_one_cell_of_zero():
    effort = np.array([[1.0, 1.0], [0.3 * CELL, 0.0], [0.3 * CELL, 0.0]])
    assert full(effort).outcome == "converged_zero"
    effort = np.array([[1.0, 1.0], [1.5 * CELL, 0.0], [1.5 * CELL, 0.0]])
    assert full(effort).outcome == "converged_nonzero"


def test_converged_nonzero_fixed_point():
    effort = np.array([[0.0, 0.0, 0.0], [1.0, 0.5, 0.2]] + [[2.0, 1.0, 0.5]] * 4)
    out = full(effort)
    assert (out.outcome, out.period, out.entered_at) == ("converged_nonzero", None, 2)
    assert out.final_effort == (2.0, 1.0, 0.5)
    assert out.mean_effort_tail == (2.0, 1.0, 0.5)
    assert out.ranking_correct_share == 1.0
    assert out.total_effort_mean == 3.5


@HYP
@given(st.integers(0, 40), st.integers(2, 60), st.integers(0, 100))
def test_cycle_period_entry_and_cycle_effort_in_phase(a, p, extra):
    effort = periodic_trajectory(a, p, a + p + 1 + extra, scale=0.5)
    out = full(effort)
    assert (out.outcome, out.period, out.entered_at) == ("cycle", p, a)
    R = effort.shape[0] - 1
    assert out.window == (R + 1 - p, R + 1)
    assert out.note is None
    np.testing.assert_array_equal(np.array(out.cycle_effort), effort[a:a + p])
    # statistics over exactly one cycle are the cycle means
    np.testing.assert_allclose(out.mean_effort_tail, effort[a:a + p].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(out.total_effort_mean, effort[a:a + p].sum(axis=1).mean(), rtol=1e-12)
    np.testing.assert_allclose(out.total_effort_std, effort[a:a + p].sum(axis=1).std(), rtol=1e-12)


def test_cycle_from_the_tail_only_matches_the_full_trajectory():
    a, p, horizon = 17, 9, 60
    effort = periodic_trajectory(a, p, horizon)
    rank = ranks_of(effort)
    correct = np.arange(horizon) % 3 == 0
    keys = state_keys(effort, rank, CELL)
    R = horizon - 1
    for W in (p, p + 4, 2 * p + 1, horizon):
        out = classify(keys, effort[-W:], rank[-W:], correct[-W:], rounds=R, deterministic=True, cell=CELL)
        assert (out.outcome, out.period, out.entered_at) == ("cycle", p, a)
        np.testing.assert_array_equal(np.array(out.cycle_effort), effort[a:a + p])
        assert out.ranking_correct_share == pytest.approx(correct[-p:].mean())


def test_cycle_longer_than_the_tail_gives_a_note_and_no_cycle_effort():
    a, p, horizon, W = 5, 50, 80, 20
    effort = periodic_trajectory(a, p, horizon)
    rank = ranks_of(effort)
    correct = np.arange(horizon) % 2 == 0
    keys = state_keys(effort, rank, CELL)
    out = classify(keys, effort[-W:], rank[-W:], correct[-W:], rounds=horizon - 1, deterministic=True, cell=CELL)
    assert (out.outcome, out.period, out.entered_at) == ("cycle", p, a)
    assert out.cycle_effort is None
    assert out.note is not None and "period 50" in out.note and "20 rounds" in out.note
    assert out.window == (horizon - W, horizon)
    np.testing.assert_allclose(out.mean_effort_tail, effort[-W:].mean(axis=0), rtol=1e-12)
    assert out.ranking_correct_share == correct[-W:].mean()
    # the first stored row has no stored predecessor: W - 1 rank changes count
    assert out.rank_changes_mean == pytest.approx(rank_changes(rank[-W:])[1:].mean())


def test_no_convergence_for_a_strictly_creeping_trajectory_with_tail_statistics():
    rng = np.random.default_rng(5)
    R, n = 99, 4
    effort = rng.uniform(0, 1, size=n) + 10 * CELL * np.arange(R + 1)[:, None]
    rank = np.array([rng.permutation(n) + 1 for _ in range(R + 1)])
    correct = rng.random(R + 1) < 0.4
    out = full(effort, rank=rank, correct=correct)
    assert (out.outcome, out.period, out.entered_at) == ("no_convergence", None, None)
    L = default_tail_window(R)
    assert L == 25 and out.window == (R + 1 - L, R + 1)
    win = effort[-L:]
    np.testing.assert_array_equal(out.mean_effort_tail, win.mean(axis=0))
    assert out.total_effort_mean == win.sum(axis=1).mean()
    assert out.total_effort_std == win.sum(axis=1).std()
    assert out.ranking_correct_share == correct[-L:].mean()
    # the window's first round counts against its stored predecessor
    assert out.rank_changes_mean == rank_changes(rank)[-L:].mean()
    assert out.final_effort == tuple(effort[-1])
    # an explicit tail window
    out7 = full(effort, rank=rank, correct=correct, tail_window=7)
    assert out7.window == (R - 6, R + 1)
    np.testing.assert_array_equal(out7.mean_effort_tail, effort[-7:].mean(axis=0))


def test_creeping_by_a_hundredth_of_a_cell_is_a_recurrence():
    # stated tolerance: states within a cell of each other (same multiple of the cell) are the same state
    R = 30
    effort = np.array([5000.0, 2000.0]) * CELL + (CELL / 100) * np.arange(R + 1)[:, None]
    out = full(effort)
    assert (out.outcome, out.period, out.entered_at) == ("converged_nonzero", None, 0)
    assert out.final_effort == tuple(effort[-1])


# ---------------------------------------------------------------------------
# classification: stochastic dynamics
# ---------------------------------------------------------------------------


def test_stochastic_constant_over_the_window_is_converged():
    rng = np.random.default_rng(6)
    R = 99
    walk = np.abs(np.cumsum(rng.normal(size=(60, 3)), axis=0))
    effort = np.concatenate([walk, np.repeat([[1.0, 2.0, 0.0]], R + 1 - 60, axis=0)])
    out = full(effort, deterministic=False)
    assert (out.outcome, out.period, out.entered_at) == ("converged_nonzero", None, 60)
    assert out.window == (75, 100)
    assert out.mean_effort_tail == (1.0, 2.0, 0.0)
    zero = np.concatenate([walk, np.zeros((R + 1 - 60, 3))])
    assert full(zero, deterministic=False).outcome == "converged_zero"


def test_stochastic_constant_for_less_than_the_window_is_not_converged():
    rng = np.random.default_rng(7)
    R = 99
    walk = np.abs(np.cumsum(rng.normal(size=(80, 3)), axis=0))
    effort = np.concatenate([walk, np.repeat([[1.0, 2.0, 0.0]], R + 1 - 80, axis=0)])  # 20 < 25 constant rounds
    out = full(effort, deterministic=False)
    assert (out.outcome, out.period, out.entered_at) == ("no_convergence", None, None)
    # the same trajectory under deterministic dynamics is a fixed point entered at round 80
    assert (full(effort).outcome, full(effort).entered_at) == ("converged_nonzero", 80)


def test_stochastic_random_walk_is_no_convergence():
    rng = np.random.default_rng(8)
    effort = np.abs(np.cumsum(rng.normal(size=(200, 4)), axis=0))
    rank = ranks_of(effort)
    correct = rng.random(200) < 0.5
    out = full(effort, deterministic=False, rank=rank, correct=correct)
    assert (out.outcome, out.period, out.entered_at, out.cycle_effort) == ("no_convergence", None, None, None)
    L = default_tail_window(199)
    np.testing.assert_array_equal(out.mean_effort_tail, effort[-L:].mean(axis=0))
    assert out.ranking_correct_share == correct[-L:].mean()


@HYP
@given(st.integers(0, 20), st.integers(2, 30), st.integers(0, 200))
def test_stochastic_never_reports_a_cycle(a, p, extra):
    effort = periodic_trajectory(a, p, a + p + 1 + extra)
    out = full(effort, deterministic=False)
    assert out.outcome == "no_convergence"
    assert out.period is None and out.cycle_effort is None
    assert full(effort).outcome == "cycle"


def test_stochastic_single_round_is_not_called_converged():
    effort = np.array([[1.0, 2.0]])
    out = full(effort, deterministic=False)
    assert out.outcome == "no_convergence"
    assert math.isnan(out.rank_changes_mean)
    assert full(np.array([[1.0, 2.0]] * 2), deterministic=False).outcome == "converged_nonzero"


# ---------------------------------------------------------------------------
# long horizon (one pass; no timing assertion)
# ---------------------------------------------------------------------------


def test_long_horizon_period_found_in_one_pass():
    R, n, a, p = 200_000, 10, 20_000, 150_000
    effort = periodic_trajectory(a, p, R + 1, n=n, scale=1e-3)
    cell = float(recurrence_cell(1.0))
    rank = np.broadcast_to(np.arange(n, 0, -1), effort.shape)
    keys = state_keys(effort, rank, cell)
    assert np.unique(keys).size == a + p  # no hash collision among the distinct states
    assert first_recurrence(keys) == (a, p)
    correct = np.zeros(R + 1, dtype=bool)
    out = classify_trajectory(effort, rank, correct, deterministic=True, cell=cell)
    assert (out.outcome, out.period, out.entered_at) == ("cycle", p, a)
    assert len(out.cycle_effort) == p and out.cycle_effort[0] == tuple(effort[a])
    tail = classify(keys, effort[-500:], rank[-500:], correct[-500:], rounds=R, deterministic=True, cell=cell)
    assert (tail.period, tail.cycle_effort) == (p, None) and "500 rounds" in tail.note


# ---------------------------------------------------------------------------
# classify: validation and serialisation
# ---------------------------------------------------------------------------


def _valid_inputs(R=9, n=2):
    effort = np.ones((R + 1, n))
    rank = np.tile(np.arange(1, n + 1), (R + 1, 1))
    keys = state_keys(effort, rank, CELL)
    return keys, effort, rank, np.ones(R + 1, dtype=bool)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda k, e, r, c: (k[:-1], e, r, c, {}), "rounds \\+ 1"),
        (lambda k, e, r, c: (k, e[:, 0], r, c, {}), "effort_tail"),
        (lambda k, e, r, c: (k, e, r[:, :1], c, {}), "rank_tail shape"),
        (lambda k, e, r, c: (k, e, r, c[:-1], {}), "correct_tail"),
        (lambda k, e, r, c: (k, e, r, c.astype(int), {}), "boolean"),
        (lambda k, e, r, c: (k, e, r, c, {"cell": -1.0}), "cell"),
        (lambda k, e, r, c: (k, e, r, c, {"tail_window": 0}), "tail_window"),
        (lambda k, e, r, c: (k[:3], e[:5], r[:5], c[:5], {"rounds": 2}), "between 1 and"),
        (lambda k, e, r, c: (k, e[:0], r[:0], c[:0], {}), "between 1 and"),
        (lambda k, e, r, c: (k.astype(float), e, r, c, {}), "integer"),
    ],
)
def test_classify_rejects_inconsistent_input(change, message):
    keys, effort, rank, correct, extra = change(*_valid_inputs())
    kwargs = {"rounds": 9, "deterministic": True, "cell": CELL, **extra}
    with pytest.raises(ValueError, match=message):
        classify(keys, effort, rank, correct, **kwargs)


def test_outcome_to_dict_is_json_ready():
    out = full(periodic_trajectory(3, 4, 30), correct=np.arange(30) % 2 == 0)
    d = out.to_dict()
    text = json.dumps(d, allow_nan=False)
    for key in ("outcome", "period", "entered_at", "rounds", "final_effort", "mean_effort_tail",
                "ranking_correct_share"):
        assert key in d
    assert json.loads(text) == d
    assert d["outcome"] == "cycle" and d["period"] == 4 and d["entered_at"] == 3 and d["rounds"] == 29
    assert isinstance(d["final_effort"], list) and isinstance(d["cycle_effort"][0], list)
    assert d["window"] == [26, 30]
    # NaN becomes None
    single = full(np.array([[1.0, 2.0]]), deterministic=False).to_dict()
    assert single["rank_changes_mean"] is None
    json.dumps(single, allow_nan=False)


def test_outcome_rejects_unknown_outcome():
    out = full(np.array([[1.0], [1.0]]))
    assert out.outcome in OUTCOMES
    with pytest.raises(ValueError, match="outcome"):
        Outcome(**{**out.__dict__, "outcome": "converged"})


def test_default_tail_window():
    assert [default_tail_window(r) for r in (0, 5, 9, 10, 99, 1000)] == [1, 6, 10, 10, 25, 250]
    with pytest.raises(ValueError, match="non-negative"):
        default_tail_window(-1)


# ---------------------------------------------------------------------------
# leaderboard statistics
# ---------------------------------------------------------------------------


def test_ranking_correct_by_hand():
    # developer 2 strongest, then 0, then 1
    rank = np.array([[2, 3, 1], [1, 2, 3], [2, 3, 1], [3, 2, 1]])
    np.testing.assert_array_equal(ranking_correct(rank, np.array([2, 0, 1])), [True, False, True, False])
    np.testing.assert_array_equal(ranking_correct(rank, np.array([0, 1, 2])), [False, True, False, False])
    with pytest.raises(ValueError, match="permutation"):
        ranking_correct(rank, np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="capability_order"):
        ranking_correct(rank, np.array([0, 1]))


def test_rank_changes_by_hand():
    rank = np.array([[1, 2, 3], [1, 2, 3], [2, 1, 3], [3, 2, 1], [1, 2, 3]])
    np.testing.assert_array_equal(rank_changes(rank), [0, 0, 2, 3, 2])
    assert rank_changes(rank).dtype.kind == "i"
    np.testing.assert_array_equal(rank_changes(rank[:1]), [0])
    with pytest.raises(ValueError, match="shape"):
        rank_changes(np.array([1, 2, 3]))


def _scipy_tau(rank, theta):
    return np.array([scipy.stats.kendalltau(-rank[t], theta, variant="b").statistic for t in range(rank.shape[0])])


@HYP
@given(st.integers(2, 40), st.integers(1, 6), st.booleans(), st.integers(0, 2**32 - 1))
def test_kendall_tau_matches_scipy(n, T, tied, seed):
    rng = np.random.default_rng(seed)
    rank = np.array([rng.permutation(n) + 1 for _ in range(T)])
    theta = rng.integers(0, 3, size=n).astype(float) if tied else rng.normal(size=n)
    if np.all(theta == theta[0]):
        theta[0] += 1.0
    np.testing.assert_allclose(kendall_tau(rank, theta), _scipy_tau(rank, theta), rtol=0, atol=1e-12)


@pytest.mark.parametrize("tied", [False, True])
def test_kendall_tau_large_n_and_chunked(tied, monkeypatch):
    rng = np.random.default_rng(9)
    n, T = 300, 4
    rank = np.array([rng.permutation(n) + 1 for _ in range(T)])
    rank[1] = (rank[1] + 1) // 2  # tied ranks too
    theta = rng.integers(0, 20, size=n).astype(float) if tied else rng.normal(size=n)
    expected = _scipy_tau(rank, theta)
    np.testing.assert_allclose(kendall_tau(rank, theta), expected, rtol=0, atol=1e-12)
    monkeypatch.setattr(analysis, "_CHUNK_ELEMENTS", 1000)
    np.testing.assert_allclose(kendall_tau(rank, theta), expected, rtol=0, atol=1e-12)


def test_kendall_tau_small_and_degenerate_cases():
    rank = np.array([[1, 2], [2, 1]])
    np.testing.assert_array_equal(kendall_tau(rank, np.array([5.0, 1.0])), [1.0, -1.0])
    assert np.all(np.isnan(kendall_tau(rank, np.array([3.0, 3.0]))))
    assert np.all(np.isnan(kendall_tau(np.array([[1, 2, 3]] * 3), np.full(3, 0.7))))
    # all ranks equal in a round: NaN for that round only
    out = kendall_tau(np.array([[1, 1, 1], [1, 2, 3]]), np.array([3.0, 2.0, 1.0]))
    assert math.isnan(out[0]) and out[1] == 1.0
    with pytest.raises(ValueError, match="theta"):
        kendall_tau(rank, np.array([1.0, 2.0, 3.0]))


# ---------------------------------------------------------------------------
# tail measures, period, the cap
# ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_tail_measures_are_the_window_means(data):
    """kendall_tau_tail, top1_correct_share, effort/utility per developer, surplus and total effort: plain
    means over the statistics window, checked against scipy and direct sums."""
    from scipy.stats import kendalltau

    n = data.draw(st.integers(2, 5))
    T = data.draw(st.integers(1, 30))
    rank = np.array([data.draw(st.permutations(range(1, n + 1))) for _ in range(T)], dtype=np.int64)
    effort = np.array(data.draw(st.lists(st.lists(st.floats(0, 10), min_size=n, max_size=n), min_size=T,
                                         max_size=T)))
    utility = np.array(data.draw(st.lists(st.lists(st.floats(-5, 5), min_size=n, max_size=n), min_size=T,
                                          max_size=T)))
    theta = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n, unique=True)))
    order = np.argsort(-theta, kind="stable")
    keys = np.arange(T, dtype=np.uint64)  # all distinct: no recurrence, the window is the default tail
    out = classify(keys, effort, rank, ranking_correct(rank, order), rounds=T - 1, deterministic=True, cell=1e-9,
                   theta=theta, capability_order=order, utility_tail=utility)
    start = out.window[0]
    expected_tau = np.mean([kendalltau(-rank[t], theta).statistic for t in range(start, T)])
    assert out.kendall_tau_tail == pytest.approx(expected_tau, abs=1e-12)
    assert out.top1_correct_share == np.mean(rank[start:, order[0]] == 1)
    np.testing.assert_allclose(out.effort_tail, effort[start:].mean(axis=0))
    np.testing.assert_allclose(out.utility_tail, utility[start:].mean(axis=0))
    assert out.total_surplus_tail == pytest.approx(utility[start:].sum(axis=1).mean(), abs=1e-12)
    assert out.total_effort_tail == out.total_effort_mean == pytest.approx(effort[start:].sum(axis=1).mean())
    assert out.period is None and out.outcome == "no_convergence"


def test_without_what_they_need_the_tail_measures_are_missing():
    effort = np.zeros((3, 2))
    rank = np.array([[1, 2]] * 3)
    out = classify_trajectory(effort, rank, np.ones(3, bool), deterministic=True, cell=1e-9)
    d = out.to_dict()
    assert d["kendall_tau_tail"] is None and d["top1_correct_share"] is None and d["utility_tail"] is None
    assert d["effort_tail"] == [0.0, 0.0] and out.period is None and out.outcome == "converged_zero"


@pytest.mark.parametrize(("max_rounds", "reached"), [(None, False), (9, True), (12, False)])
def test_the_cap_is_reached_only_by_deterministic_runs_at_it(max_rounds, reached):
    T = 10
    effort = np.arange(T * 2, dtype=float).reshape(T, 2)
    rank = np.array([[1, 2]] * T)
    kwargs = dict(rounds=T - 1, cell=1e-9, max_rounds=max_rounds)
    keys = np.arange(T, dtype=np.uint64)
    det = classify(keys, effort, rank, np.ones(T, bool), deterministic=True, **kwargs)
    assert det.cap_reached == reached and (reached == (det.note is not None and "max_rounds" in det.note))
    assert det.max_rounds == max_rounds
    noisy = classify(keys, effort, rank, np.ones(T, bool), deterministic=False, **kwargs)
    assert not noisy.cap_reached
