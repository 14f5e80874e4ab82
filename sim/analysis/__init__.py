"""Outcome of a trajectory: fixed point, cycle or no convergence, and tail statistics.

A run of ``R`` rounds produces states ``0..R``; the state of round ``t`` is the
effort profile together with the published ranks.

Recurrence rule and tolerance
-----------------------------
Two states are *the same* when their efforts quantise to the same multiples
of ``cell`` (``q = floor(effort / cell + 0.5)``, i.e. rounding to the nearest
multiple) and their ranks are equal.  The cell is the stated tolerance::

    cell = RECURRENCE_ATOL + RECURRENCE_RTOL * max(1, effort scale)
         = 1e-12 + 1e-9 * max(1, effort scale)

where the effort scale is the largest effort a developer could rationally
spend (the engine uses the finite effort ceiling of the scenario).  Each state
is reduced to a 64-bit key (:func:`state_keys`) computed once per round, so
that long runs keep the keys of every round and only a tail window of the full
arrays.

Deterministic dynamics (the next profile is a function of the current one): a
map that revisits a state repeats forever from there, so the *first*
recurrence ``keys[t] == keys[s]`` (``s < t``, ``t`` smallest) gives the round
``s`` the fixed point or cycle was entered and its period ``p = t - s``.  A
dict from key to first round finds it in one pass, O(R), whatever the period
(up to the horizon: one repeat, ``R >= s + p``, suffices).  Period 1 is a
fixed point -- ``converged_zero`` when the final efforts are all within one
cell of zero, ``converged_nonzero`` otherwise; period ``p >= 2`` is a
``cycle``; no recurrence is ``no_convergence``.

Limits of the rule, stated rather than hidden:

* quantising identifies efforts within about a cell of each other, so a
  trajectory that moves by much less than a cell per round (e.g. creeps by
  ``cell / 100``) *is* reported as a recurrence -- a fixed point at the
  tolerance -- and a dynamics that converges only asymptotically is reported
  converged once successive states fall into the same cell;
* conversely, two states closer than a cell may still quantise differently
  when their efforts straddle a cell boundary (``q`` differs by one), so a
  recurrence is missed only if the revisited efforts jitter across a boundary
  -- it is then found at the next revisit that does not, or reported as
  ``no_convergence``;
* distinct states collide in the 64-bit hash with probability about
  ``R**2 / 2**64`` over a run (about 1e-9 for ``R = 1e5``), which would report
  a spurious recurrence.

Stochastic dynamics never claim a period: the profile is called converged
only when the key has stayed constant over the whole statistics window (and
over at least two rounds), and the outcome carries tail statistics.

See ``docs/model.md#outcomes``.

One concept per module: :mod:`.keys`, :mod:`.ranking`, :mod:`.outcome`.
"""

from __future__ import annotations

from sim.analysis.keys import (  # noqa: F401
    _CHUNK_ELEMENTS,
    _GOLDEN,
    _MAX_QUANTUM,
    _MIX1,
    _MIX2,
    _RANK_SALT,
    _SEED,
    RECURRENCE_ATOL,
    RECURRENCE_RTOL,
    _fmix64,
    _position_constants,
    final_run_start,
    first_recurrence,
    recurrence_cell,
    state_keys,
)
from sim.analysis.outcome import (  # noqa: F401
    OUTCOMES,
    Outcome,
    _floats,
    _plain,
    _validated,
    classify,
    classify_trajectory,
)
from sim.analysis.ranking import (  # noqa: F401
    _rank_matrix,
    default_tail_window,
    kendall_tau,
    rank_changes,
    ranking_correct,
)

__all__ = [
    "OUTCOMES",
    "RECURRENCE_RTOL",
    "RECURRENCE_ATOL",
    "Outcome",
    "recurrence_cell",
    "state_keys",
    "first_recurrence",
    "final_run_start",
    "ranking_correct",
    "kendall_tau",
    "rank_changes",
    "default_tail_window",
    "classify",
    "classify_trajectory",
]
