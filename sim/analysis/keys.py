"""State keys of a trajectory and its exact recurrence: efforts quantised to a cell, hashed with the ranks
into one 64-bit key per round, the first repeat and the start of the final run of equal keys.
"""

from __future__ import annotations

import math

import numpy as np

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
