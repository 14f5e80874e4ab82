"""Rank-based reward schemes ``r_1 >= r_2 >= ... >= r_n`` (Example 2.2 of Chen et al. 2026).

A :class:`RewardScheme` is defined for any number of developers ``n``;
:meth:`RewardScheme.vector` gives the rewards by rank (index 0 is rank 1).

========================  ==============================  ==============
scheme                    ``r_k`` for rank ``k = 1..n``   parameter
========================  ==============================  ==============
``winner_take_all``       ``1, 0, ..., 0``
``top_k``                 ``1`` if ``k <= K`` else ``0``  ``k``
``linear``                ``(n - k) / (n - 1)``
``geometric``             ``q ** (k - 1)``                ``q`` in (0, 1]
``zipf``                  ``1 / k ** s``                  ``exponent`` s >= 0
``custom``                explicit non-increasing vector  ``values``
========================  ==============================  ==============

See ``docs/model.md#rewards``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ScenarioError

SCHEMES = ("winner_take_all", "top_k", "linear", "geometric", "zipf", "custom")


@dataclass(frozen=True)
class RewardScheme:
    """A reward scheme by name with its parameter; see the module table."""

    scheme: str = "winner_take_all"
    k: int | None = None
    q: float | None = None
    exponent: float | None = None
    values: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ScenarioError("scheme", self.scheme, f"unknown reward scheme; choose one of {', '.join(SCHEMES)}")
        if self.scheme == "top_k" and (
            self.k is None or isinstance(self.k, bool) or int(self.k) != self.k or self.k < 1
        ):
            raise ScenarioError("k", self.k, "top_k needs an integer k >= 1")
        if self.scheme == "geometric":
            q = 0.5 if self.q is None else float(self.q)
            if not (0 < q <= 1):
                raise ScenarioError("q", self.q, "geometric rewards need 0 < q <= 1")
            object.__setattr__(self, "q", q)
        if self.scheme == "zipf":
            s = 1.0 if self.exponent is None else float(self.exponent)
            if not (np.isfinite(s) and s >= 0):
                raise ScenarioError("exponent", self.exponent, "zipf rewards need a finite exponent >= 0")
            object.__setattr__(self, "exponent", s)
        if self.scheme == "custom":
            if self.values is None or len(self.values) == 0:
                raise ScenarioError("values", self.values, "custom rewards need a list of values, one per rank")
            values = np.asarray(self.values, dtype=float)
            if not np.all(np.isfinite(values)):
                raise ScenarioError("values", list(self.values), "must be finite")
            if np.any(np.diff(values) > 0):
                raise ScenarioError("values", list(self.values), "rewards must be non-increasing in rank")
            object.__setattr__(self, "values", tuple(float(v) for v in values))

    def vector(self, n: int) -> np.ndarray:
        """Rewards by rank for ``n`` developers, as a read-only float array of length ``n``."""
        if n < 1:
            raise ScenarioError("n", n, "needs at least one developer")
        k = np.arange(1, n + 1, dtype=float)
        if self.scheme == "winner_take_all":
            r = (k == 1).astype(float)
        elif self.scheme == "top_k":
            if self.k > n:
                raise ScenarioError("k", self.k, f"top_k needs k <= n = {n}")
            r = (k <= self.k).astype(float)
        elif self.scheme == "linear":
            r = (n - k) / (n - 1) if n > 1 else np.ones(1)
        elif self.scheme == "geometric":
            r = self.q ** (k - 1)
        elif self.scheme == "zipf":
            r = 1.0 / k**self.exponent
        else:
            if len(self.values) != n:
                raise ScenarioError("values", list(self.values), f"needs one value per rank (n = {n})")
            r = np.asarray(self.values, dtype=float)
        r = np.array(r, dtype=float)
        r.flags.writeable = False
        return r


def reward_gaps(rewards) -> np.ndarray:
    """Adjacent gaps ``r_{i-1} - r_i`` for ``i = 2..n`` (length ``n - 1``)."""
    rewards = np.asarray(rewards, dtype=float)
    return rewards[:-1] - rewards[1:]
