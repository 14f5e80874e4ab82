"""Cost families for additional effort ``x >= 0`` (Assumption 4.1 of Chen et al. 2026).

Every cost is a frozen dataclass with a vectorised ``__call__(x)`` and
declared metadata (``convex``, ``non_decreasing``, ``strictly_increasing``,
``unbounded``) that the tests hold against the numerical checker in
:mod:`sim.assumptions`.  A per-developer scale ``gamma_i`` (cost
``gamma_i * c(x)``) is kept by the game, not by the cost (Proposition B.1
shows it is equivalent to a common cost after relabelling scores).

See ``docs/model.md#costs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np

from sim.errors import ScenarioError, callable_path, describe_exception


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ScenarioError(name, value, "must be a finite number > 0")
    return value


@dataclass(frozen=True)
class LinearCost:
    """``c(x) = scale * x``."""

    scale: float = 1.0
    family: ClassVar[str] = "linear"
    declared: ClassVar[dict] = {"convex": True, "non_decreasing": True, "strictly_increasing": True, "unbounded": True}

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive("scale", self.scale))

    def __call__(self, x) -> np.ndarray:
        return self.scale * np.asarray(x, dtype=float)

    def linear_lower_bound(self) -> float:
        """The largest ``c0`` with ``c(x) >= c0 * x`` for all ``x`` (used by Proposition 5.6)."""
        return self.scale


@dataclass(frozen=True)
class PowerCost:
    """``c(x) = scale * x ** exponent`` with ``exponent >= 1``."""

    scale: float = 1.0
    exponent: float = 2.0
    family: ClassVar[str] = "power"
    declared: ClassVar[dict] = {"convex": True, "non_decreasing": True, "strictly_increasing": True, "unbounded": True}

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive("scale", self.scale))
        exponent = float(self.exponent)
        if not (np.isfinite(exponent) and exponent >= 1):
            raise ScenarioError("exponent", self.exponent, "must be a finite number >= 1 (the cost must be convex)")
        object.__setattr__(self, "exponent", exponent)

    def __call__(self, x) -> np.ndarray:
        with np.errstate(over="ignore"):
            return self.scale * np.asarray(x, dtype=float) ** self.exponent

    def linear_lower_bound(self) -> float:
        return self.scale if self.exponent == 1 else 0.0


@dataclass(frozen=True)
class FlatQuadraticCost:
    """``c(x) = scale * max(x - free_effort, 0) ** 2``.

    Convex and non-decreasing but *not* strictly increasing: the first
    ``free_effort`` units are free.  The paper's uniqueness results need a
    strictly increasing cost; this family shows what breaks without it.
    """

    scale: float = 1.0
    free_effort: float = 1.0
    family: ClassVar[str] = "flat_quadratic"
    declared: ClassVar[dict] = {"convex": True, "non_decreasing": True, "strictly_increasing": False, "unbounded": True}

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive("scale", self.scale))
        free = float(self.free_effort)
        if not (np.isfinite(free) and free >= 0):
            raise ScenarioError("free_effort", self.free_effort, "must be a finite number >= 0")
        object.__setattr__(self, "free_effort", free)

    def __call__(self, x) -> np.ndarray:
        return self.scale * np.maximum(np.asarray(x, dtype=float) - self.free_effort, 0.0) ** 2

    def linear_lower_bound(self) -> float:
        return 0.0


@dataclass(frozen=True)
class CustomCost:
    """Any vectorised callable ``function(x) -> cost``; properties are checked numerically.

    An exception or a NaN from the function becomes a one-line
    :class:`~sim.errors.ScenarioError` naming ``cost.function``.
    """

    function: Callable[[np.ndarray], np.ndarray]
    scale: float = 1.0
    family: ClassVar[str] = "custom"
    declared: ClassVar[dict] = {}

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive("scale", self.scale))

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        try:
            out = np.broadcast_to(np.asarray(self.function(x), dtype=float), x.shape)
        except Exception as err:  # a user's function: report, do not crash
            raise ScenarioError(
                "cost.function", callable_path(self.function), f"raised {describe_exception(err)}"
            ) from None
        bad = np.isnan(out) & ~np.isnan(x)
        if bad.any():
            raise ScenarioError(
                "cost.function", callable_path(self.function), f"returned NaN at effort {float(x[bad].flat[0]):.6g}"
            )
        return self.scale * out

    def linear_lower_bound(self) -> float:
        return 0.0


CostFunction = Union[LinearCost, PowerCost, FlatQuadraticCost, CustomCost]

COST_FAMILIES: dict[str, type] = {cls.family: cls for cls in (LinearCost, PowerCost, FlatQuadraticCost, CustomCost)}
