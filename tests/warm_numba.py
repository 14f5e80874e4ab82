"""Compile the numba kernels (``sim.kernel``) once, into numba's on-disk cache, before the test suite starts.

From a clean clone the cache is empty; without this step every test process (``pytest -n 2``) would compile
the same kernels at the same time on the same cores, and the first test run would take minutes longer.  The
README's first command runs it (after the main job), and so does ``.ci/run``.  Every bundled scenario is played
for a few rounds by both engines and as a sweep row (tail record), which are the argument types the suite uses.
Prints the time.
"""

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import sim.kernel  # noqa: F401 -- loaded first: runs this small would otherwise take the numpy path
from sim import sweeps
from sim.engine import run
from sim.model import run_mesa
from sim.scenario import load_scenario

start = time.perf_counter()
scenarios = [load_scenario(p) for p in sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))]

def variant(scenario, **dynamics):
    """``scenario`` with other dynamics (a 3-round horizon: only the compiled argument types matter here)."""
    return dataclasses.replace(scenario, dynamics=dataclasses.replace(scenario.dynamics, max_rounds=3, **dynamics))


for scenario in scenarios:
    run(scenario, rounds=3)
    run(scenario, rounds=3, record="tail")
    # the compiled sequential rounds and logit responses (sim.kernel_schedules)
    for schedule in ("sequential", "random_order"):
        run(variant(scenario, schedule=schedule), rounds=3)
    run(variant(scenario, response="logit", temperature=0.1), rounds=3)
    run_mesa(scenario, rounds=2, max_rounds=2)  # the kernels are the batch engine's; no Mesa play-on needed
    game = scenario.game()
    game.best_responses(np.zeros(game.n))
    game.is_equilibrium(np.zeros(game.n))
for scenario in scenarios[:2]:  # a sweep: batches of several scenarios, theory columns, trajectories on disk
    spec = sweeps.sweep_spec(scenario, {"designer.tau": [0.0, 1.0, 5.0]}, replications=2)
    with tempfile.TemporaryDirectory() as tmp:
        sweeps.sweep(spec, out=Path(tmp) / "out", trajectory_every=1)
# the strategies' kernels (sim.kernel_strategies): every built-in, a grid and exact scores, with and without noise
_specs = ["best", "rank_defender", {"name": "fictitious_play", "window": 2}, {"name": "fictitious_play", "decay": 0.5},
          "expected_utility", {"name": "hedge", "eta": 1.0}, {"name": "logit", "temperature": 0.1}]
for scenario in scenarios[:2]:
    for noise in (0.0, 0.01):
        board = dataclasses.replace(scenario.leaderboard, noise=noise)
        for spec in _specs:
            developers = dataclasses.replace(scenario.developers, strategy=(spec,) * scenario.n)
            played = variant(dataclasses.replace(scenario, developers=developers, leaderboard=board))
            run(played, rounds=2)
            run_mesa(played, rounds=1, max_rounds=1)
# expected_utility's sum and bounds on their own (tests/test_strategy_kernels.py calls them directly)
from sim import kernel_strategies as _ks  # noqa: E402
from sim.strategies.builtin import _hermite  # noqa: E402

_z, _w = _hermite(16)
_central = np.flatnonzero(np.abs(_z) <= _ks.EU_BOUND_Z)
_board, _rewards, _unc = np.array([[0.5, 0.501, 0.499]]), np.array([[1.0, 0.5, 0.0]]), np.array([1, 2, 0])
_ks._expected_total(0.5, 1e-3, 0, _board, _rewards, 0, 2, _unc, _z, _w, np.empty(4))
_ks._expected_bounds(0.5, 1e-3, 0, _board, _rewards, 0, 2, _unc, _z, _w, _central, np.empty((4, 2 * _central.size)),
                     np.empty(2 * _central.size), _ks.pa_tables())
# kernel.respond called directly with a CandidateCache's arrays (tests/test_kernel.py): argument types nowhere
# else in the suite (the cost family is a number in the kernel's arguments, so one game covers every family).
from sim import kernel as _kernel  # noqa: E402
from sim.engine import BatchGame, CandidateCache  # noqa: E402

_arms_race = next(s for s in scenarios if s.name == "arms-race")
_batch = BatchGame.from_games([_arms_race.game(t) for t in (0.0, 2.0)])
_rows = np.ascontiguousarray(np.broadcast_to(np.arange(_batch.shape[1]), _batch.shape))
_cache, _x = CandidateCache(_batch), np.ones(_batch.shape)
_kernel.respond(*_batch.kernel_spec, _batch.tau, _batch.resolution, _batch.rewards, _batch.gamma, _batch.priority,
                _batch.budget, _batch.baseline, _batch.reach, _batch.tolerance, _batch.scores(_x), _rows, _x, True,
                _cache.target, _cache.effort, _cache.score, _cache.width, _cache.origin, _cache.table, _cache.least,
                *(np.empty(_batch.shape) for _ in range(2)), np.empty(_batch.shape, np.int64),
                *(np.empty(_batch.shape) for _ in range(2)))
# Calls the kernel tests make with argument types the engine never passes: reward rows that are reversed views
# (np.sort(...)[::-1], a non-contiguous layout to numba), and tests/test_kernel_level_counts.py's own compiled
# helper (its cache sits beside that file) with the level-count primitives it calls.
_reversed = np.array([0.0, 0.5, 1.0])[::-1][None, :]
for _r in (_reversed, _rewards):  # and contiguous rows (a one-developer row is contiguous even reversed)
    _ks.expected_reward(np.array([[[0.5]]]), np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), _board, np.array([[0]]),
                        np.array([1e-3]), _r, np.zeros(1), _z, _w, np.empty((1, 1, 1)))
_ks._expected_total(0.5, 1e-3, 0, _board, _reversed, 0, 2, _unc, _z, _w, np.empty(4))
_ks._expected_bounds(0.5, 1e-3, 0, _board, _reversed, 0, 2, _unc, _z, _w, _central,
                     np.empty((4, 2 * _central.size)), np.empty(2 * _central.size), _ks.pa_tables())
import test_kernel_level_counts as _level_tests  # noqa: E402  (tests/ is this script's sys.path[0])

_level = np.array([3.0, 5.0, 5.0, 4.0])
_level_tests._both_ranks(_level, np.array([0, 1, 1, 2], dtype=np.int64), 1e-3, np.concatenate([_level, [np.nan]]))
_level_tests._span_cap(_level.size)
print(f"numba kernels compiled (or loaded from the cache) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
