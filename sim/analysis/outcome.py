"""Classifying a trajectory's outcome (converged to zero or not, cycle, no convergence) into an
:class:`Outcome`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from sim.analysis.keys import final_run_start, first_recurrence, state_keys
from sim.analysis.ranking import _rank_matrix, default_tail_window, kendall_tau, rank_changes

OUTCOMES = ("converged_zero", "converged_nonzero", "cycle", "no_convergence")


def _plain(value):
    """JSON-ready copy: tuples -> lists, numpy scalars -> Python, NaN/inf -> None."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class Outcome:
    """Classified trajectory and statistics over a window of its last rounds.

    ``outcome`` is one of :data:`OUTCOMES`; ``period`` is the cycle's period
    ``p >= 2`` for ``cycle`` and None otherwise (a fixed point is not a
    cycle); ``entered_at`` is the round the fixed point or cycle was first
    reached (None for ``no_convergence``).  ``cell`` is the recurrence
    tolerance used.  ``max_rounds`` is the cap on the horizon the run had
    (None when unknown); ``cap_reached`` is True for deterministic dynamics
    that did not recur within it (``rounds == max_rounds``): more rounds
    might find the cycle.
    The statistics cover the rounds ``window = [start, stop)``:
    ``mean_effort_tail`` per developer, ``ranking_correct_share`` (share of
    rounds with a correct ranking), mean and population standard deviation
    (``ddof = 0``) of total effort, and ``rank_changes_mean`` (the first
    round of the window counts against its predecessor only when that
    predecessor is stored; NaN when no round counts).  ``cycle_effort`` holds
    the efforts over one period starting at a round congruent to
    ``entered_at`` mod ``period``, when the period fits in the stored tail.

    Tail measures, over the same window of ``T`` rows (``NaN`` / None when
    :func:`classify` was not given what they need):

    * ``kendall_tau_tail = (1/T) sum_t tau_b(t)`` (:func:`kendall_tau`
      between the published ranking and capability);
    * ``top1_correct_share``: share of rows whose rank-1 developer is the
      most capable (``capability_order[0]``);
    * ``effort_tail[i] = (1/T) sum_t x_i(t)`` (the same as
      ``mean_effort_tail``) and ``utility_tail[i] = (1/T) sum_t u_i(t)``,
      ``u_i = r_{rank_i} - gamma_i c(x_i)``, in developer id order;
    * ``total_surplus_tail = (1/T) sum_t sum_i u_i(t)`` and
      ``total_effort_tail = (1/T) sum_t sum_i x_i(t)`` (the same as
      ``total_effort_mean``).
    """

    outcome: str
    period: int | None
    entered_at: int | None
    rounds: int
    deterministic: bool
    cell: float
    final_effort: tuple[float, ...]
    mean_effort_tail: tuple[float, ...]
    ranking_correct_share: float
    total_effort_mean: float
    total_effort_std: float
    rank_changes_mean: float
    window: tuple[int, int]
    cycle_effort: tuple[tuple[float, ...], ...] | None
    note: str | None
    kendall_tau_tail: float = math.nan
    top1_correct_share: float = math.nan
    effort_tail: tuple[float, ...] = ()
    utility_tail: tuple[float, ...] | None = None
    total_surplus_tail: float = math.nan
    total_effort_tail: float = math.nan
    max_rounds: int | None = None
    cap_reached: bool = False

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (ints, floats, lists, None, str; NaN -> None), one entry per field."""
        return {key: _plain(value) for key, value in asdict(self).items()}


def _floats(values) -> tuple[float, ...]:
    return tuple(np.asarray(values, dtype=np.float64).ravel().tolist())


def _validated(keys, effort_tail, rank_tail, correct_tail, rounds, cell, tail_window):
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise ValueError(f"rounds must be a non-negative integer, got {rounds!r}")
    keys = np.asarray(keys)
    if keys.ndim != 1 or not np.issubdtype(keys.dtype, np.integer):
        raise ValueError(f"keys must be a one-dimensional integer array, got shape {keys.shape} dtype {keys.dtype}")
    if keys.shape[0] != rounds + 1:
        raise ValueError(f"keys has {keys.shape[0]} entries; rounds = {rounds} needs rounds + 1 = {rounds + 1}")
    effort = np.asarray(effort_tail, dtype=np.float64)
    if effort.ndim != 2:
        raise ValueError(f"effort_tail must have shape (W, n), got {effort.shape}")
    W = effort.shape[0]
    if not 1 <= W <= rounds + 1:
        raise ValueError(f"the tail must hold between 1 and rounds + 1 = {rounds + 1} rows, got {W}")
    rank = _rank_matrix(rank_tail)
    if rank.shape != effort.shape:
        raise ValueError(f"rank_tail shape {rank.shape} differs from effort_tail shape {effort.shape}")
    correct = np.asarray(correct_tail)
    if correct.shape != (W,):
        raise ValueError(f"correct_tail must have shape ({W},), got {correct.shape}")
    if correct.dtype != np.bool_:
        raise ValueError(f"correct_tail must be boolean, got dtype {correct.dtype}")
    cell = float(cell)
    if not (math.isfinite(cell) and cell > 0):
        raise ValueError(f"cell must be finite and > 0, got {cell!r}")
    if tail_window is not None:
        if isinstance(tail_window, bool) or not isinstance(tail_window, (int, np.integer)) or tail_window < 1:
            raise ValueError(f"tail_window must be a positive integer or None, got {tail_window!r}")
        tail_window = int(tail_window)
    return keys, effort, rank, correct, int(rounds), cell, tail_window


def classify(keys, effort_tail, rank_tail, correct_tail, *, rounds: int, deterministic: bool, cell: float,
             tail_window: int | None = None, theta=None, capability_order=None, utility_tail=None,
             max_rounds: int | None = None) -> Outcome:
    """Classify a trajectory from the keys of all rounds and the last ``W`` rows of its records.

    ``keys (R + 1,)`` are the state keys of rounds ``0..R`` (``R = rounds``);
    ``effort_tail (W, n)``, ``rank_tail (W, n)`` and ``correct_tail (W,)``
    bool are the records of rounds ``R - W + 1..R``, ``1 <= W <= R + 1``.
    ``ValueError`` on inconsistent shapes.  ``window_len = min(W, tail_window
    or default_tail_window(R))``; "converged" below means ``converged_zero``
    when ``max |final effort| <= cell`` and ``converged_nonzero`` otherwise.

    Deterministic dynamics, ``(s, p) = first_recurrence(keys)``:

    * none: ``no_convergence``, statistics over the last ``window_len`` rows;
    * ``p = 1``: converged (period None), entered at ``s``; statistics over
      the final row;
    * ``p >= 2``: ``cycle``; when ``p <= W`` the statistics window is the last
      ``p`` rows (exactly one cycle, so the means are cycle means) and
      ``cycle_effort`` is those rows rotated to start at a round congruent to
      ``s`` mod ``p``; otherwise the whole stored tail, with a note.

    Stochastic dynamics never report a cycle: with ``s = final_run_start(keys)``
    the run is converged (period None, entered at ``s``) when the key has been
    constant for at least ``max(window_len, 2)`` rounds (``R + 1 - s``), and
    ``no_convergence`` otherwise; statistics over the last ``window_len`` rows.

    Optional, for the tail measures of :class:`Outcome`: ``theta (n,)``
    (Kendall tau), ``capability_order (n,)`` (top-1 share), ``utility_tail
    (W, n)`` (the utilities of the stored rows).  ``max_rounds``: the cap on
    the horizon; deterministic dynamics with no recurrence and ``rounds >=
    max_rounds`` are ``no_convergence`` with ``cap_reached`` and a note
    saying what to raise.
    """
    keys, effort, rank, correct, rounds, cell, tail_window = _validated(
        keys, effort_tail, rank_tail, correct_tail, rounds, cell, tail_window
    )
    W = effort.shape[0]
    first = rounds + 1 - W  # round of the first stored row
    window_len = min(W, tail_window or default_tail_window(rounds))
    final = effort[-1]
    converged = "converged_zero" if float(np.max(np.abs(final), initial=0.0)) <= cell else "converged_nonzero"
    note = None
    cycle_effort = None

    if deterministic:
        recurrence = first_recurrence(keys)
        if recurrence is None:
            outcome, period, entered_at, rows = "no_convergence", None, None, window_len
        else:
            entered_at, period = recurrence
            if period == 1:
                outcome, rows, period = converged, 1, None
            else:
                outcome = "cycle"
                if period <= W:
                    rows = period
                    start = rounds + 1 - period
                    shift = (entered_at - start) % period
                    cycle = np.roll(effort[W - period:], -shift, axis=0)
                    cycle_effort = tuple(map(tuple, np.asarray(cycle, dtype=np.float64).tolist()))
                else:
                    rows = W
                    note = f"period {period} longer than the stored tail of {W} rounds: statistics over the tail"
    else:
        run = rounds + 1 - final_run_start(keys)
        rows = window_len
        if run >= max(window_len, 2):
            outcome, period, entered_at = converged, None, rounds + 1 - run
        else:
            outcome, period, entered_at = "no_convergence", None, None

    i0 = W - rows  # first row of the statistics window within the tail
    win_effort = effort[i0:]
    total = win_effort.sum(axis=1)
    changes = rank_changes(rank[i0 - 1:] if i0 > 0 else rank[i0:])[1:]
    cap_reached = bool(deterministic and outcome == "no_convergence" and max_rounds is not None
                       and rounds >= max_rounds)
    if cap_reached:
        note = (f"no fixed point or cycle within max_rounds = {max_rounds} rounds (the cap): raise "
                "[dynamics] max_rounds (or --max-rounds) to play longer")
    kendall = math.nan
    if theta is not None:
        taus = kendall_tau(rank[i0:], theta)
        kendall = float(np.mean(taus)) if taus.size and not np.all(np.isnan(taus)) else math.nan
    top1 = math.nan
    if capability_order is not None:
        top1 = float(np.mean(rank[i0:, int(np.asarray(capability_order)[0])] == 1))
    utility_mean, surplus = None, math.nan
    if utility_tail is not None:
        utility = np.asarray(utility_tail, dtype=np.float64)
        if utility.shape != effort.shape:
            raise ValueError(f"utility_tail shape {utility.shape} differs from effort_tail shape {effort.shape}")
        utility_mean = _floats(utility[i0:].mean(axis=0))
        surplus = float(utility[i0:].sum(axis=1).mean())
    return Outcome(
        outcome=outcome,
        period=None if period is None else int(period),
        entered_at=None if entered_at is None else int(entered_at),
        rounds=rounds,
        deterministic=bool(deterministic),
        cell=cell,
        final_effort=_floats(final),
        mean_effort_tail=_floats(win_effort.mean(axis=0)),
        ranking_correct_share=float(np.mean(correct[i0:])),
        total_effort_mean=float(total.mean()),
        total_effort_std=float(total.std()),
        rank_changes_mean=float(changes.mean()) if changes.size else math.nan,
        window=(first + i0, rounds + 1),
        cycle_effort=cycle_effort,
        note=note,
        kendall_tau_tail=kendall,
        top1_correct_share=top1,
        effort_tail=_floats(win_effort.mean(axis=0)),
        utility_tail=utility_mean,
        total_surplus_tail=surplus,
        total_effort_tail=float(total.mean()),
        max_rounds=None if max_rounds is None else int(max_rounds),
        cap_reached=cap_reached,
    )


def classify_trajectory(effort, rank, correct, *, deterministic: bool, cell: float,
                        tail_window: int | None = None) -> Outcome:
    """Classify a full trajectory: ``keys = state_keys(effort, rank, cell)``, the whole arrays as the tail.

    ``effort (R + 1, n)``, ``rank (R + 1, n)``, ``correct (R + 1,)`` bool; see :func:`classify`.
    """
    effort = np.asarray(effort, dtype=np.float64)
    if effort.ndim != 2 or effort.shape[0] < 1:
        raise ValueError(f"effort must have shape (R + 1, n) with at least one round, got {effort.shape}")
    keys = state_keys(effort, rank, cell)
    return classify(keys, effort, rank, correct, rounds=effort.shape[0] - 1, deterministic=deterministic,
                    cell=cell, tail_window=tail_window)
