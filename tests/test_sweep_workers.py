"""Tests of how sweeps use their workers: pieces of chunks, joined in order; warm, reused loky workers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from scenario_texts import small_race

from sim import sweeps

BASE = small_race(rounds=60)

# 4 tau values x 2 initial profiles x 3 replications; the zero-start points have no randomness and run once:
# 4 x 3 + 4 = 16 scenarios, one batch group.
SWEEP = """
base = "base.toml"
name = "pieces"
replications = 3
seed = 5
[axes]
"designer.tau" = {linspace = [0.0, 3.0, 4]}
"dynamics.initial" = ["zero", "random"]
"""


def _spec(tmp_path: Path):
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    return sweeps.load_sweep(tmp_path / "sweep.toml")


@st.composite
def fake_plans(draw):
    """A plan as :func:`sweeps._pieces` sees it: chunks of ascending scenario indices; developers, rounds per point."""
    reps = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 60), min_size=1, max_size=8))
    chunks, start = [], 0
    for size in sizes:
        chunks.append(np.arange(start, start + size))
        start += size
    points = -(-start // reps)
    # Up to 480 points: drawn from one numpy Generator seeded by hypothesis (the same ranges as one hypothesis draw
    # per value, which cost about 20 ms an example), plus drawn values for the first point of each chunk, which set
    # the chunks' costs, so that those still shrink.
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    point_n = rng.integers(2, 31, points)
    point_rounds = rng.integers(1, 5001, points)
    for chunk in chunks:
        p = chunk[0] // reps
        point_n[p] = draw(st.integers(2, 30))
        point_rounds[p] = draw(st.integers(1, 5000))
    todo = draw(st.lists(st.sampled_from(range(len(chunks))), min_size=1, unique=True))
    plan = SimpleNamespace(chunks=chunks, spec=SimpleNamespace(replications=reps), point_n=point_n,
                           point_rounds=point_rounds)
    return plan, sorted(todo)


def _cost(plan, c: int) -> int:
    p = plan.chunks[c][0] // plan.spec.replications
    return len(plan.chunks[c]) * int(plan.point_n[p]) * int(plan.point_rounds[p])


@settings(max_examples=300, deadline=None)
@given(fake_plans(), st.integers(1, 4))
def test_pieces_cover_each_chunk_to_run_once_in_order(case, n_jobs):
    plan, todo = case
    pieces = sweeps._pieces(plan, todo, n_jobs)
    assert {c for c, _, _ in pieces} == set(todo)
    for c in todo:
        mine = [(start, stop) for chunk, start, stop in pieces if chunk == c]
        # contiguous, in order, from the first scenario to the last, each piece non-empty
        assert mine[0][0] == 0 and mine[-1][1] == len(plan.chunks[c])
        assert all(a[1] == b[0] for a, b in zip(mine, mine[1:], strict=False))
        sizes = [stop - start for start, stop in mine]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
        assert len(mine) == 1 or min(sizes) >= sweeps.MIN_PIECE
        # a chunk's pieces are dispatched one after another
        at = [k for k, (chunk, _, _) in enumerate(pieces) if chunk == c]
        assert at == list(range(at[0], at[0] + len(at)))
    first = [c for c, start, _ in pieces if start == 0]
    if n_jobs == 1:
        assert pieces == [(c, 0, len(plan.chunks[c])) for c in todo]
        return
    costs = [_cost(plan, c) for c in first]
    assert costs == sorted(costs, reverse=True)  # largest expected cost first
    if len(todo) >= 2 * n_jobs:
        assert len(pieces) == len(todo)  # enough tasks: no chunk is cut
    elif len(todo) == 1:
        size, cost = len(plan.chunks[todo[0]]), _cost(plan, todo[0])
        assert len(pieces) == max(1, min(2 * n_jobs, size // sweeps.MIN_PIECE, cost // sweeps.PIECE_UPDATES))


def test_a_small_sweep_is_one_task_run_in_the_driver(tmp_path):
    plan = sweeps.plan_sweep(_spec(tmp_path), chunk_size=100)
    assert len(plan.chunks) == 1 and plan.scenarios == 16
    assert plan.agent_updates < sweeps.PIECE_UPDATES  # not worth a worker's start-up
    assert sweeps._pieces(plan, [0], 2) == [(0, 0, 16)]
    assert sweeps._workers(plan, 2, "loky") == 1
    assert sweeps._workers(sweeps.plan_sweep(plan.spec, chunk_size=4), 2, "loky") == 2


def test_pieces_cut_one_chunk_for_two_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps.running, "PIECE_UPDATES", 1)
    plan = sweeps.plan_sweep(_spec(tmp_path), chunk_size=100)
    pieces = sweeps._pieces(plan, [0], 2)
    assert [stop - start for _, start, stop in pieces] == [8, 8]  # not 4 pieces of 4 < MIN_PIECE: two of 8
    assert sweeps._workers(plan, 2, "loky") == 2


def test_pieces_joined_give_the_serial_table_and_files(tmp_path, monkeypatch, loky_workers):
    """One chunk run as pieces on two workers: the same table, Parquet chunk and trajectories as one job."""
    monkeypatch.setattr(sweeps.running, "PIECE_UPDATES", 1)  # in the driver, where the pieces are cut
    spec = _spec(tmp_path)
    plan = sweeps.plan_sweep(spec, chunk_size=100)
    assert len(sweeps._pieces(plan, [0], 2)) > 1  # the chunk is really cut
    serial = sweeps.sweep(plan, n_jobs=1, out=tmp_path / "one", trajectory_every=7)
    two = sweeps.sweep(plan, n_jobs=2, out=tmp_path / "two", trajectory_every=7)
    assert_frame_equal(serial, two)
    assert_frame_equal(sweeps.read_trajectories(tmp_path / "one"), sweeps.read_trajectories(tmp_path / "two"))
    assert sorted(p.name for p in (tmp_path / "two" / sweeps.SUMMARY_DIR).iterdir()) == sorted(
        p.name for p in (tmp_path / "one" / sweeps.SUMMARY_DIR).iterdir()
    )
    assert_frame_equal(serial, sweeps.sweep(plan, n_jobs=3))


def _worker_pids() -> set[int]:
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    return set() if executor is None else set(executor._processes)


def test_a_second_sweep_reuses_the_warm_workers(tmp_path, loky_workers):
    from joblib.externals.loky import reusable_executor

    spec = _spec(tmp_path)
    first = sweeps.sweep(spec, n_jobs=2, chunk_size=4)
    pids = _worker_pids()
    assert len(pids) == 2
    # the workers start with the warm-up (which loads the compiled kernels) and hold the kernels and pandas
    assert reusable_executor._executor._initializer is sweeps._warm_worker
    probe = "'sim.kernel' in __import__('sys').modules and 'pandas' in __import__('sys').modules"
    assert all(reusable_executor._executor.submit(eval, probe).result() for _ in range(4))
    assert_frame_equal(first, sweeps.sweep(spec, n_jobs=2, chunk_size=4))
    assert _worker_pids() == pids
