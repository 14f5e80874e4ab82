"""Batch engine: repeated leaderboard competition for many scenarios at once.

State at round ``t`` is the effort profile ``x(t)`` of every scenario, an
array shaped ``scenarios x developers``.  Each round the leaderboard
publishes the scores ``f(theta_i, tau + x_i)`` (plus evaluation noise, when
the scenario has some) rounded down to its resolution, ranks them, and the
developers respond (``docs/model.md#repeated-play``):

* **best response** (the default): the exact best response of
  :func:`sim.game.best_responses`, vectorised over scenarios, developers and
  candidates.  A developer's candidates are zero effort and the least effort
  that ranks it above each rival (:func:`sim.scores.least_effort_and_score`,
  checked forward); each candidate's rank is recomputed from the score it
  reaches, and among candidates within :func:`sim.game.utility_tolerance` of
  the best utility the smallest effort is taken.  Efforts above the
  developer's budget are not allowed.  As usual in best-response dynamics a
  developer revises only on a strict improvement: one whose current effort is
  already a best response keeps it (:func:`hold_current`).
* **logit response** with temperature ``T``: a candidate ``k`` is chosen with
  probability proportional to ``exp(u_k / T)`` (distinct efforts only; one
  uniform draw per developer and round, inverse-CDF).

Schedules: ``simultaneous`` (everyone responds to ``x(t)``), ``sequential``
(developers ``0, 1, ..., n-1`` in turn, each seeing the updates before it),
``random_order`` (sequential in a fresh seeded order each round) and
``asynchronous`` (each developer independently revises with probability
``p``; those who revise respond to ``x(t)``).

Randomness.  Each scenario owns its generators, split up front from its seed
(:func:`dynamics_streams`), one per use, so a scenario's trajectory does not
depend on which other scenarios share its batch, nor on chunking or workers.
The Mesa model (:mod:`sim.model`) draws from the same streams in the same
order and calls the same response kernel (:meth:`BatchGame.respond`), which
is why the two engines give identical trajectories.

Horizon.  A scenario's ``rounds`` is the least number of rounds played.
Where the dynamics are deterministic (:func:`is_deterministic`) a run that
has not recurred within them plays on until its state recurs or its cap
``dynamics.max_rounds`` is reached (:func:`run_batch`, :func:`_extend`), so
a long cycle is found instead of being cut off; stochastic dynamics keep
their rounds.

Speed.  For the built-in score and cost families the per-candidate work runs
in the compiled kernel :mod:`sim.kernel` (same bits as the numpy path, which
remains for custom families), whole rounds of the sequential schedules and the
logit response in :mod:`sim.kernel_schedules`, and a
:class:`CandidateCache` remembers least efforts across rounds, so that a
target met before (the same grid level, cycle after cycle) is not searched
for again.

Modules, one concept each:

* :mod:`sim.engine.randomness`: the random streams (:class:`DynamicsRandom`);
* :mod:`sim.engine.batch_game`: the batch game arrays and the exact best
  response (:class:`BatchGame`, :class:`Response`, :func:`hold_current`);
* :mod:`sim.engine.cache`: the candidate cache (:class:`CandidateCache`);
* :mod:`sim.engine.compiled`: whole sequential rounds and logit responses in
  the compiled kernel (:data:`COMPILED_SCHEDULES`);
* :mod:`sim.engine.responses`: the response rules, where a new one plugs in
  (:data:`RESPONSES`);
* :mod:`sim.engine.settings`: batching, run settings, determinism and the
  initial profiles;
* :mod:`sim.engine.recording`: the per-round records;
* :mod:`sim.engine.recurrence`: recurrence replay (:class:`Recurrence`);
* :mod:`sim.engine.loop`: the play loop per schedule (:func:`play`);
* :mod:`sim.engine.horizon`: playing on until recurrence (:func:`_extend`);
* :mod:`sim.engine.results`: run results (:class:`BatchRun`);
* :mod:`sim.engine.runs`: :func:`run_batch` and :func:`run`.

This package exports the engine's public interface (the names below, which
the Mesa model and the sweeps use).  Its tuning constants
(:data:`REPLAY_RECURRENCES`, :data:`PROBE_KEYS`, ...) live in the modules
that read them; setting one here (``sim.engine.REPLAY_RECURRENCES = False``,
or ``monkeypatch.setattr(sim.engine, ...)``) sets it in every module of the
package that holds the name, so it takes effect.
"""

from __future__ import annotations

import sys
import types

from sim.engine import (
    batch_game,
    cache,
    compiled,
    horizon,
    loop,
    randomness,
    recording,
    recurrence,
    responses,
    results,
    runs,
    settings,
)
from sim.engine.batch_game import RANK_BLOCK, BatchGame, Response, hold_current
from sim.engine.cache import LEVEL_TABLE_ENTRIES, CandidateCache
from sim.engine.compiled import COMPILED_SCHEDULES, _logit_compiled, _sequential_compiled
from sim.engine.horizon import FULL_PROBE_BYTES, PROBE_KEYS, _extend
from sim.engine.loop import _play_replaying, _run_fixed, play
from sim.engine.randomness import DRAW_BLOCK, DRAW_ROWS, DYNAMICS_STREAMS, DynamicsRandom, dynamics_streams
from sim.engine.recording import MEMORY_SHARE, _check_memory, _Recorder
from sim.engine.recurrence import RECURRENCE_HISTORY_ENTRIES, REPLAY_RECURRENCES, Recurrence, _replays
from sim.engine.responses import RESPONSES, BestResponse, LogitResponse, ResponseRule, _respond_rows, response_rule
from sim.engine.results import BatchRun, leaderboard_frame
from sim.engine.runs import run, run_batch
from sim.engine.settings import (
    RunSettings,
    batch_key,
    effort_ceiling,
    initial_profiles,
    is_deterministic,
    scenario_deterministic,
    uses_randomness,
)

__all__ = [
    "COMPILED_SCHEDULES",
    "DRAW_BLOCK",
    "DRAW_ROWS",
    "DYNAMICS_STREAMS",
    "FULL_PROBE_BYTES",
    "LEVEL_TABLE_ENTRIES",
    "MEMORY_SHARE",
    "PROBE_KEYS",
    "RANK_BLOCK",
    "RECURRENCE_HISTORY_ENTRIES",
    "REPLAY_RECURRENCES",
    "RESPONSES",
    "BatchGame",
    "BatchRun",
    "BestResponse",
    "CandidateCache",
    "DynamicsRandom",
    "LogitResponse",
    "Recurrence",
    "Response",
    "ResponseRule",
    "RunSettings",
    "batch_key",
    "dynamics_streams",
    "effort_ceiling",
    "hold_current",
    "initial_profiles",
    "is_deterministic",
    "leaderboard_frame",
    "play",
    "response_rule",
    "run",
    "run_batch",
    "scenario_deterministic",
    "uses_randomness",
]

#: The package's modules, in which a name set on the package is set as well.
_MODULES = (
    batch_game, cache, compiled, horizon, loop, randomness, recording, recurrence, responses, results, runs, settings,
)

# Kept for code that reaches them as sim.engine.<name> (tests and benchmarks); not part of __all__.
_INTERNALS = (_extend, _play_replaying, _run_fixed, _check_memory, _Recorder, _replays, _respond_rows, _logit_compiled,
              _sequential_compiled)


class _Engine(types.ModuleType):
    """The package module: setting a name sets it in every module of the package that holds it.

    A constant or function is read as a global of the module that uses it,
    so ``sim.engine.REPLAY_RECURRENCES = False`` (or a test's monkeypatch of
    ``sim.engine``) must reach that module to take effect.
    """

    def __setattr__(self, name: str, value) -> None:
        for module in _MODULES:
            if name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Engine
