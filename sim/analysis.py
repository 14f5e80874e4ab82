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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

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

OUTCOMES = ("converged_zero", "converged_nonzero", "cycle", "no_convergence")
RECURRENCE_RTOL = 1e-9
RECURRENCE_ATOL = 1e-12

# Largest |effort / cell| for which the quantised effort is an exact int64.
_MAX_QUANTUM = 2.0**62

# splitmix64 constants (Steele, Lea & Flood 2014; Vigna's reference code).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_RANK_SALT = np.uint64(0xD6E8FEB86659FD93)
_SEED = np.uint64(0x2545F4914F6CDD1D)

# Elements processed at once in the chunked loops (about 16 MB of int64 per temporary).
_CHUNK_ELEMENTS = 1 << 21


# ---------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------


def recurrence_cell(effort_scale):
    """Quantisation cell for efforts: ``RECURRENCE_ATOL + RECURRENCE_RTOL * max(1, effort_scale)``.

    Vectorised: a scalar gives a numpy float64 scalar, an array an array of the
    same shape.  Raises ``ValueError`` for a non-finite scale.
    """
    scale = np.asarray(effort_scale, dtype=np.float64)
    if not np.all(np.isfinite(scale)):
        raise ValueError(f"effort_scale must be finite, got {effort_scale!r}")
    cell = RECURRENCE_ATOL + RECURRENCE_RTOL * np.maximum(1.0, scale)
    return cell[()] if cell.ndim == 0 else cell


def _fmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, a bijection of uint64.

    ``z ^= z >> 30; z *= M1; z ^= z >> 27; z *= M2; z ^= z >> 31`` (wrapping).
    """
    z = z ^ (z >> np.uint64(30))
    z = z * _MIX1
    z = z ^ (z >> np.uint64(27))
    z = z * _MIX2
    return z ^ (z >> np.uint64(31))


def _position_constants(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per developer position ``i``: an odd multiplier ``M_i`` and a salt ``K_i`` (splitmix64 stream values)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    multiplier = _fmix64(i * _GOLDEN) | np.uint64(1)
    salt = _fmix64((i + np.uint64(n)) * _GOLDEN)
    return multiplier, salt


def state_keys(effort, rank, cell) -> np.ndarray:
    """uint64 key of each state (the last axis indexes developers).

    ``effort (..., n)`` float, ``rank (..., n)`` integer, ``cell`` positive and
    broadcastable to ``effort.shape[:-1]`` (one cell per leading index, e.g.
    ``(S, 1)`` for ``(S, T, n)`` efforts).  Output shape ``effort.shape[:-1]``.

    Efforts are quantised ``q = floor(effort / cell + 0.5)`` (float64, then
    exactly to int64; ``|effort / cell|`` must stay below ``2**62``, and
    efforts must be finite, else ``ValueError``).  With ``M_i`` a fixed odd
    64-bit multiplier and ``K_i`` a salt for developer position ``i``, ``G``
    the golden-ratio constant ``0x9E3779B97F4A7C15``, ``S`` a fixed seed and
    ``mix`` the splitmix64 finaliser, all in wrapping uint64 arithmetic
    (overflow warnings suppressed)::

        h_i = mix((q_i XOR mix(rank_i * G + K_i)) * M_i)
        key = mix((sum_i h_i + n * G) XOR S)

    For fixed position and rank the map ``q -> h_i`` is a bijection, and the
    salted per-position terms make the key depend on who holds which effort.
    Equal quantised efforts and equal ranks give equal keys; distinct states
    collide with probability about ``2**-64`` per pair.  Vectorised over the
    leading axes; the developer axis is processed in blocks so that memory
    stays bounded.
    """
    effort = np.asarray(effort, dtype=np.float64)
    rank = np.asarray(rank)
    if effort.ndim < 1:
        raise ValueError("effort must have a developer axis (shape (..., n))")
    if rank.shape != effort.shape:
        raise ValueError(f"rank shape {rank.shape} differs from effort shape {effort.shape}")
    if not np.issubdtype(rank.dtype, np.integer):
        raise ValueError(f"rank must be an integer array, got dtype {rank.dtype}")
    lead = effort.shape[:-1]
    n = effort.shape[-1]
    cell = np.asarray(cell, dtype=np.float64)
    try:
        cell = np.broadcast_to(cell, lead)
    except ValueError:
        raise ValueError(f"cell of shape {cell.shape} does not broadcast to the leading shape {lead}") from None
    if not np.all(np.isfinite(cell) & (cell > 0)):
        raise ValueError("cell must be finite and > 0")

    size = math.prod(lead)
    block = max(1, _CHUNK_ELEMENTS // max(1, size))
    multiplier, salt = _position_constants(n)
    total = np.zeros(lead, dtype=np.uint64)
    c = cell[..., None]
    with np.errstate(over="ignore", invalid="ignore"):
        for a in range(0, n, block):
            b = min(n, a + block)
            quantum = np.floor(effort[..., a:b] / c + 0.5)
            if not np.all(np.abs(quantum) < _MAX_QUANTUM):
                bad = ~(np.abs(quantum) < _MAX_QUANTUM)
                example = effort[..., a:b][bad].flat[0]
                raise ValueError(
                    f"effort {example!r} is not finite or too large for the recurrence cell "
                    f"(|effort / cell| must stay below 2**62)"
                )
            q = quantum.astype(np.int64).view(np.uint64)
            r = rank[..., a:b].astype(np.int64).view(np.uint64)
            h = _fmix64((q ^ _fmix64(r * _GOLDEN + salt[a:b])) * multiplier[a:b])
            total += np.add.reduce(h, axis=-1, dtype=np.uint64)
        return _fmix64((total + np.uint64(n) * _GOLDEN) ^ _SEED)


def first_recurrence(keys) -> tuple[int, int] | None:
    """Earliest recurrence in a 1-D key sequence.

    The smallest ``t`` such that ``keys[t] == keys[s]`` for some ``s < t``;
    returns ``(s, t - s)``, i.e. ``(entered_at, period)``, or ``None`` when all
    keys are distinct.  A stable sort groups equal keys with their indices in
    increasing order, so the second index of each group is that key's first
    repeat and ``t`` is the least of them: O(len(keys) log len(keys)).
    """
    keys = np.asarray(keys)
    if keys.ndim != 1:
        raise ValueError(f"keys must be one-dimensional, got shape {keys.shape}")
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeats = order[1:][ordered[1:] == ordered[:-1]]
    if repeats.size == 0:
        return None
    t = int(repeats.min())
    s = int(np.flatnonzero(keys[:t] == keys[t])[0])
    return s, t - s


def final_run_start(keys) -> int:
    """Index where the final run of equal keys starts: the least ``s`` with ``keys[s:]`` all equal.

    ``len(keys) - 1`` when the last two keys differ.  ``ValueError`` for an empty sequence.
    """
    keys = np.asarray(keys)
    if keys.ndim != 1:
        raise ValueError(f"keys must be one-dimensional, got shape {keys.shape}")
    if keys.size == 0:
        raise ValueError("keys must not be empty")
    changes = np.flatnonzero(keys[1:] != keys[:-1])
    return int(changes[-1] + 1) if changes.size else 0


# ---------------------------------------------------------------------------
# per-round leaderboard statistics
# ---------------------------------------------------------------------------


def _rank_matrix(rank) -> np.ndarray:
    rank = np.asarray(rank)
    if rank.ndim != 2:
        raise ValueError(f"rank must have shape (T, n), got {rank.shape}")
    if not np.issubdtype(rank.dtype, np.integer):
        raise ValueError(f"rank must be an integer array, got dtype {rank.dtype}")
    return rank


def ranking_correct(rank, capability_order) -> np.ndarray:
    """``(T,)`` bool: True where ``rank[t, capability_order] == [1, 2, ..., n]``.

    ``rank (T, n)``; ``capability_order (n,)`` developer ids strongest first
    (a permutation of ``0..n-1``), so the ranking is correct when the
    strongest developer is ranked 1, the next 2, and so on.
    """
    rank = _rank_matrix(rank)
    order = np.asarray(capability_order)
    n = rank.shape[1]
    if order.shape != (n,) or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"capability_order must be {n} integer developer ids, got shape {order.shape}")
    if not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("capability_order must be a permutation of the developer ids 0..n-1")
    return np.all(rank[:, order] == np.arange(1, n + 1), axis=1)


def kendall_tau(rank, theta) -> np.ndarray:
    """Kendall's tau-b per round between the leaderboard ranking and capability.

    With ``x = -rank[t]`` (rank 1 best) and ``y = theta``, over the
    ``n0 = n (n - 1) / 2`` pairs ``i < j``::

        tau_b = sum sign(x_i - x_j) sign(y_i - y_j) / sqrt((n0 - n1) (n0 - n2))

    where ``n1`` and ``n2`` count the pairs tied in ``x`` and in ``y`` (equal
    capabilities are ties).  NaN when every capability is equal, when all
    ranks of a round are equal, or when ``n < 2`` (as
    ``scipy.stats.kendalltau(-rank[t], theta)``, variant ``"b"``).
    ``rank (T, n)``, ``theta (n,)``; returns ``(T,)`` float.  Vectorised over
    rounds; pairs are processed in blocks of developers, so memory stays
    bounded for large ``n`` (the work is ``O(T n**2)``).
    """
    rank = _rank_matrix(rank)
    theta = np.asarray(theta, dtype=np.float64)
    T, n = rank.shape
    if theta.shape != (n,):
        raise ValueError(f"theta must have shape ({n},), got {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite")
    if T == 0 or n < 2:
        return np.full(T, np.nan)
    x = -rank.astype(np.int64)
    n0 = n * (n - 1) // 2
    _, counts = np.unique(theta, return_counts=True)
    n2 = int(np.sum(counts * (counts - 1) // 2))
    if n2 == n0:
        return np.full(T, np.nan)
    concordance = np.zeros(T, dtype=np.int64)
    ties_x = np.zeros(T, dtype=np.int64)
    rows = max(1, min(T, _CHUNK_ELEMENTS // n))
    a = 0
    while a < n - 1:
        # developers i in [a, b) against j in [a, n); only the pairs j > i count
        b = min(n - 1, a + max(1, _CHUNK_ELEMENTS // (rows * (n - a))))
        upper = np.arange(a, b)[:, None] < np.arange(a, n)[None, :]
        sy = np.sign(theta[a:b, None] - theta[None, a:]).astype(np.int8) * upper
        for t0 in range(0, T, rows):
            xt = x[t0:t0 + rows]
            sx = np.sign(xt[:, a:b, None] - xt[:, None, a:]).astype(np.int8)
            concordance[t0:t0 + rows] += np.einsum("tij,ij->t", sx, sy, dtype=np.int64)
            ties_x[t0:t0 + rows] += np.count_nonzero((sx == 0) & upper, axis=(1, 2))
        a = b
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = concordance / np.sqrt((n0 - ties_x).astype(np.float64)) / np.sqrt(float(n0 - n2))
    tau = np.where(ties_x == n0, np.nan, tau)
    return np.clip(tau, -1.0, 1.0)


def rank_changes(rank) -> np.ndarray:
    """``(T,)`` int: number of developers whose rank differs from the previous round; 0 at ``t = 0``."""
    rank = _rank_matrix(rank)
    out = np.zeros(rank.shape[0], dtype=np.int64)
    if rank.shape[0] > 1:
        out[1:] = np.count_nonzero(rank[1:] != rank[:-1], axis=1)
    return out


def default_tail_window(rounds: int) -> int:
    """Rows of the statistics window by default: ``min(rounds + 1, max(10, (rounds + 1) // 4))``."""
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise ValueError(f"rounds must be a non-negative integer, got {rounds!r}")
    rounds = int(rounds)
    return min(rounds + 1, max(10, (rounds + 1) // 4))


# ---------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------


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
