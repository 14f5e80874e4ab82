"""Whole rounds of the sequential schedules and the logit response in the compiled kernel.

:mod:`sim.kernel_schedules` computes them with the same floating-point
operations, in the same order, as the numpy path (:func:`sim.engine.loop.play`'s
loop over positions and :meth:`BatchGame.logit_choice
<sim.engine.batch_game.BatchGame.logit_choice>`), so trajectories are bit for
bit the same; :data:`COMPILED_SCHEDULES` ``= False`` selects the numpy path
(custom score families, ``game.kernel_spec is None``, always use it).
"""

from __future__ import annotations

import sys

import numpy as np

from sim.engine.batch_game import BatchGame
from sim.engine.cache import CandidateCache

#: Whether sequential schedules and the logit response run in the compiled kernel (:mod:`sim.kernel_schedules`;
#: same bits as the numpy path, which ``False`` selects; custom score families always use numpy).
COMPILED_SCHEDULES = True


#: Runs of at most this many nominal agent-updates (scenarios x developers x rounds) take the numpy path when
#: the compiled kernels are not loaded yet: loading numba and the cached kernels costs about a second per
#: process, more than such a run costs in numpy (``lbsim run scenarios/arms_race.toml``: 400 updates).
SMALL_RUN_UPDATES = 5_000


def use_kernels(S: int, n: int, rounds: int) -> bool:
    """Whether a run of ``S`` scenarios of ``n`` developers over ``rounds`` rounds uses the compiled kernels:
    always once they are loaded in this process, else when it exceeds :data:`SMALL_RUN_UPDATES` updates.

    Both paths give the same bits (the kernels repeat the numpy path's floating-point operations in the
    same order), so this chooses only how long the run takes: a small run spares the process numba's start-up.
    """
    return "sim.kernel" in sys.modules or S * n * rounds > SMALL_RUN_UPDATES


def compiled(game: BatchGame) -> bool:
    """Whether ``game``'s sequential rounds and logit responses run compiled (:data:`COMPILED_SCHEDULES`)."""
    return COMPILED_SCHEDULES and game.kernel_spec is not None


def _cache_arrays(game: BatchGame, cache) -> tuple:
    """The :class:`CandidateCache` arguments of the compiled kernels (a cache without level table if none)."""
    if cache is None:
        cache = CandidateCache(game, table=False)
    return (cache.target, cache.effort, cache.score, cache.width, cache.origin, cache.table, cache.least,
            cache.least_width, cache.least_row, cache.least_origin)


def _logit_compiled(game: BatchGame, evaluated, rows, temperature, uniform, cache=None, scores=None) -> np.ndarray:
    """:meth:`BatchGame.logit_choice` of the candidates of ``rows``, in the compiled kernel (same bits); with
    ``scores`` (``rows.shape``), the true score of each chosen candidate effort is written there (NaN for zero
    effort), as :func:`sim.kernel.next_scores` takes them."""
    from sim import kernel_schedules

    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty(rows.shape)
    if scores is None:
        scores = np.empty(rows.shape)
    kernel_schedules.respond_logit(
        *game.kernel_spec,
        game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget, game.baseline,
        np.ascontiguousarray(evaluated, dtype=float), rows, np.ascontiguousarray(temperature, dtype=float),
        np.ascontiguousarray(uniform, dtype=float), *_cache_arrays(game, cache), out, scores,
    )  # fmt: skip
    return out


def _sequential_compiled(game: BatchGame, evaluated, x, true_score, order, logit: bool, temperature, uniform, shock,
                         cache=None) -> np.ndarray:
    """One round of a sequential schedule in ``order`` in the compiled kernel, updating ``x`` and ``evaluated``
    (C-contiguous ``(S, n)``) in place exactly as :func:`play`'s numpy loop over positions does (``true_score``:
    the true scores of ``x``, from :meth:`BatchGame.publish`; not changed).  Returns the true scores of the
    new ``x`` (the kernel's, the same bits as evaluating them), for the next round's publish step."""
    from sim import kernel_schedules

    zeros = np.zeros(game.shape)
    true = np.array(true_score, dtype=float)
    kernel_schedules.sequential_round(
        *game.kernel_spec,
        game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget, game.baseline,
        game.reach, game.tolerance,
        evaluated, x, true, np.ascontiguousarray(order, dtype=np.int64), logit,
        np.ascontiguousarray(temperature, dtype=float),
        zeros if uniform is None else np.ascontiguousarray(uniform, dtype=float),
        zeros if shock is None else np.ascontiguousarray(shock, dtype=float), shock is not None,
        *_cache_arrays(game, cache),
    )  # fmt: skip
    return true
