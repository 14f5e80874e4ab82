"""Per-round records of a run (:class:`_Recorder`) and the memory they need (:func:`_check_memory`)."""

from __future__ import annotations

import os

import numpy as np

from sim import analysis
from sim.errors import ScenarioError


class _Recorder:
    """Per-round records: everything (``full``) or state keys plus a rolling tail window (``tail``).

    In ``tail`` mode the ring buffers are kept round-major while recording
    (each round one contiguous block) and turned into ``(S, W, n)`` by
    :meth:`finish`; in ``full`` mode they are ``(S, R + 1, n)`` from the start.
    """

    def __init__(self, S: int, n: int, rounds: int, record: str, tail_window: int, cell: np.ndarray,
                 compiled: bool = True):
        if record not in ("full", "tail"):
            raise ValueError(f"record must be 'full' or 'tail', got {record!r}")
        self.record = record
        self.compiled = compiled  # False: stored with numpy (same bits), numba not imported
        self.rounds = rounds
        self.width = rounds + 1 if record == "full" else min(rounds + 1, tail_window)
        self.cell = cell
        W = self.width
        dtypes = (np.float64, np.float64, np.float64, np.int32)
        if record == "tail":
            self._keys = np.empty((rounds + 1, S), dtype=np.uint64)
            self._ring = tuple(np.empty((W, S, n), dtype=d) for d in dtypes)
        else:
            self._keys = np.empty((1, S), dtype=np.uint64)  # unused: keyed at the end
            self.effort, self.score, self.published, self.rank = (np.empty((S, W, n), dtype=d) for d in dtypes)
            self._ring = tuple(a.transpose(1, 0, 2) for a in (self.effort, self.score, self.published, self.rank))
        multiplier, salt = analysis._position_constants(n)
        with np.errstate(over="ignore"):  # wrapping uint64 arithmetic, as in state_keys
            offset = np.uint64(n) * analysis._GOLDEN
        self._constants = (multiplier, salt, offset, analysis._SEED, analysis._MAX_QUANTUM)

    def add(self, t: int, effort, score, published, rank):
        # Round t goes to row (t - first stored round) mod W, so that the rows end up in round order.
        first = self.rounds + 1 - self.width
        k = (t - first) % self.width
        tail = self.record == "tail"
        if not self.compiled:
            if t >= first:
                for ring, values in zip(self._ring, (effort, score, published, rank), strict=True):
                    ring[k] = values
            if tail:
                self._keys[t] = analysis.state_keys(effort, rank, self.cell)
            return
        from sim import kernel

        arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (effort, score, published)]
        # A round before the first stored one would be overwritten: only its keys are recorded.
        ok = kernel.record_round(
            t, k, *arrays, np.ascontiguousarray(rank, dtype=np.int64), self.cell, *self._constants, tail,
            self._keys, t >= first, *self._ring,
        )  # fmt: skip
        if not ok:  # an effort the keys cannot quantise: state_keys names it
            self._keys[t] = analysis.state_keys(effort, rank, self.cell)

    def finish(self):
        """The records as ``(S, W, n)`` arrays in round order (rows of the ring are already in round order:
        in ``tail`` mode transposed views, no copy); returns the first stored round."""
        if self.record == "tail":
            for name, ring in zip(("effort", "score", "published", "rank"), self._ring, strict=True):
                setattr(self, name, ring.transpose(1, 0, 2))
            self.keys = np.ascontiguousarray(self._keys.T)
        else:  # every round is stored: key them all at once
            self.keys = analysis.state_keys(self.effort, self.rank, self.cell[:, None])
        self._ring = self._keys = None
        return self.rounds + 1 - self.width


#: Largest share of the machine's memory a run may plan to use for its records.
MEMORY_SHARE = 0.8


def _check_memory(S: int, n: int, rounds: int, record: str, window: int) -> None:
    """Refuse, naming ``dynamics.rounds``, a run whose records cannot fit in memory."""
    stored = rounds + 1 if record == "full" else min(rounds + 1, window)
    need = S * (rounds + 1) * 8 + S * stored * n * (3 * 8 + 4)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return
    if need > MEMORY_SHARE * total:
        raise ScenarioError(
            "dynamics.rounds",
            rounds,
            f"recording {S} scenario(s) x {rounds + 1} rounds x {n} developers needs about {need / 2**30:.3g} GiB, "
            f"more than {MEMORY_SHARE:.0%} of this machine's {total / 2**30:.3g} GiB; use fewer rounds"
            + (" or record='tail'" if record == "full" else ""),
        )
