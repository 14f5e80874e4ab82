"""Random streams of repeated play: one generator per use, split up front from the scenario seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Named random streams of the dynamics, split from the scenario's
#: ``"dynamics"`` stream in this fixed order.
DYNAMICS_STREAMS = ("initial", "order", "revision", "choice", "noise")


#: Rounds of random draws a :class:`DynamicsRandom` buffers per stream.
DRAW_BLOCK = 256

#: Most draws (scenarios x developers x rounds) a batch reads from its streams at once (:class:`_BatchDraws`).
DRAW_ROWS = 1 << 18


def dynamics_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """One ``SeedSequence`` per use in :data:`DYNAMICS_STREAMS`, from the scenario seed's ``"dynamics"`` child."""
    from sim.scenario import scenario_streams

    parent = scenario_streams(seed)["dynamics"]
    return dict(zip(DYNAMICS_STREAMS, parent.spawn(len(DYNAMICS_STREAMS)), strict=True))


class DynamicsRandom:
    """A scenario's random draws for repeated play, one generator per stream.

    Every method returns one round's draws for the ``n`` developers (indexed
    by developer id).  Draws are buffered in blocks of :data:`DRAW_BLOCK`
    rounds; a generator's stream is consumed in order whatever the block
    size, and both engines use this class, so they see the same numbers.
    """

    def __init__(self, seed: int, n: int):
        self.n = n
        self.seed = seed
        self._generators: dict[str, np.random.Generator] | None = None  # made on first use
        self._buffer: dict[str, tuple[np.ndarray, int]] = {}

    @property
    def _rng(self) -> dict[str, np.random.Generator]:
        """The generators, one per stream, created on first use (a deterministic run needs none)."""
        if self._generators is None:
            self._generators = {name: np.random.default_rng(ss) for name, ss in dynamics_streams(self.seed).items()}
        return self._generators

    def _next(self, name: str, normal: bool = False) -> np.ndarray:
        block, used = self._buffer.get(name, (None, DRAW_BLOCK))
        if used == DRAW_BLOCK:
            rng = self._rng[name]
            block = rng.standard_normal((DRAW_BLOCK, self.n)) if normal else rng.random((DRAW_BLOCK, self.n))
            used = 0
        self._buffer[name] = (block, used + 1)
        return block[used]

    def initial(self, high: np.ndarray) -> np.ndarray:
        """A random initial profile: efforts uniform on ``[0, high_i)``."""
        return self._rng["initial"].random(self.n) * high

    def order(self) -> np.ndarray:
        """This round's random update order (a permutation of developer ids)."""
        return np.argsort(self._next("order"), kind="stable")

    def revision(self) -> np.ndarray:
        """Uniforms deciding who revises this round (asynchronous schedule)."""
        return self._next("revision")

    def choice(self) -> np.ndarray:
        """Uniforms for the logit response, one per developer."""
        return self._next("choice")

    def noise(self) -> np.ndarray:
        """Standard normal evaluation noise, one per developer."""
        return self._next("noise", normal=True)

    def take(self, name: str, rounds: int, normal: bool = False) -> np.ndarray:
        """The next ``k`` rounds of stream ``name`` at once, ``(k, n)`` with ``1 <= k <= rounds``: row ``r`` is
        what the ``r``-th next call of its method (``order`` gives ``argsort(row, kind="stable")``) would
        return; as many as the buffered block still holds (a new block drawn when it is used up)."""
        block, used = self._buffer.get(name, (None, DRAW_BLOCK))
        if used == DRAW_BLOCK:
            self._next(name, normal)  # draws a new block and uses its first row
            block, used = self._buffer[name]
            used -= 1
        k = max(1, min(rounds, DRAW_BLOCK - used))
        self._buffer[name] = (block, used + k)
        return block[used : used + k]


class _BatchDraws:
    """One stream's draws for every scenario of a batch, round by round: :meth:`next` returns
    ``np.stack([getattr(r, name)() for r in randoms])`` (with ``order``: the uniforms it sorts), taken from
    the generators several rounds at a time (:meth:`DynamicsRandom.take`), not one Python call per scenario
    and round.  The generators may end up ahead of the rounds played: only the values used matter."""

    def __init__(self, randoms: Sequence[DynamicsRandom], name: str, normal: bool = False):
        self.randoms, self.name, self.normal = randoms, name, normal
        self.n = randoms[0].n if randoms else 0
        self.rows = np.empty((0, len(randoms), self.n))
        self.k = 0

    def next(self) -> np.ndarray:
        if self.k == self.rows.shape[0]:
            S = len(self.randoms)
            want = max(1, DRAW_ROWS // max(1, S * self.n))
            parts = [r.take(self.name, want, self.normal) for r in self.randoms]
            k = min(part.shape[0] for part in parts)
            if any(part.shape[0] != k for part in parts):  # a batch's streams start together and stay in step
                raise RuntimeError("the scenarios' random streams are not in step")
            self.rows = np.stack(parts, axis=1)  # (k, S, n)
            self.k = 0
        row = self.rows[self.k]
        self.k += 1
        return row


# ---------------------------------------------------------------------------
# The batch game
