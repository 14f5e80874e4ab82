"""The ``[developers]`` table: capabilities given or sampled (:class:`SampleSpec`), budgets, and the scenario's
random streams split from its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.scenario.schema import DISTRIBUTIONS, MAX_DEVELOPERS
from sim.scenario.values import _as_float, _choose, _listed, _shown


def _read_only(values) -> np.ndarray:
    array = np.array(values, dtype=float)
    array.flags.writeable = False
    return array


#: Independent random streams split from a scenario's seed, in a fixed order
#: (so adding a stream at the end never changes the earlier ones).
STREAMS = ("capability", "tie_break", "dynamics")


def scenario_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """The scenario's seed split up front with ``SeedSequence.spawn``, one child per use in :data:`STREAMS`."""
    return dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)), strict=True))


@dataclass(frozen=True)
class SampleSpec:
    """How to draw ``n`` capabilities: ``"uniform"`` on ``[low, high)`` or ``"normal"(mean, sd)``.

    Parameters not used by the distribution must be left ``None``; the used
    ones default to those in :data:`DISTRIBUTIONS`.
    """

    n: int
    distribution: str = "uniform"
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 2:
            raise ScenarioError("developers.sample.n", _shown(self.n), "needs an integer number of developers >= 2")
        if self.n > MAX_DEVELOPERS:
            raise ScenarioError("developers.sample.n", _shown(self.n), f"at most {MAX_DEVELOPERS} developers")
        object.__setattr__(self, "n", int(self.n))
        if self.distribution not in DISTRIBUTIONS:
            raise ScenarioError(
                "developers.sample.distribution", self.distribution, f"unknown distribution; {_choose(DISTRIBUTIONS)}"
            )
        used = DISTRIBUTIONS[self.distribution]
        for name in ("low", "high", "mean", "sd"):
            value = getattr(self, name)
            if name not in used:
                if value is not None:
                    raise ScenarioError(
                        f"developers.sample.{name}", value, f"not a parameter of the {self.distribution} distribution"
                    )
                continue
            value = used[name] if value is None else _as_float(value, f"developers.sample.{name}")
            if not math.isfinite(value):
                raise ScenarioError(f"developers.sample.{name}", value, "must be a finite number")
            object.__setattr__(self, name, value)
        if self.distribution == "uniform" and not self.high > self.low:
            raise ScenarioError("developers.sample.high", self.high, f"must be > low = {self.low}")
        if self.distribution == "uniform" and not math.isfinite(self.high - self.low):
            raise ScenarioError(
                "developers.sample.high", self.high, f"high - low must be finite (low = {self.low:g}); it overflows"
            )
        if self.distribution == "normal" and not self.sd > 0:
            raise ScenarioError("developers.sample.sd", self.sd, "must be > 0")

    def draw(self, seed: int) -> np.ndarray:
        """The capabilities for ``seed``, from the ``"capability"`` stream of :func:`scenario_streams`."""
        rng = np.random.default_rng(scenario_streams(seed)["capability"])
        with np.errstate(over="ignore", invalid="ignore"):
            if self.distribution == "uniform":
                theta = rng.uniform(self.low, self.high, self.n)
            else:
                theta = rng.normal(self.mean, self.sd, self.n)
        bad = ~np.isfinite(theta)
        if bad.any():
            raise ScenarioError(
                "developers.sample",
                self.to_dict(),
                f"drew {int(bad.sum())} non-finite capabilities of {self.n} (first: {theta[bad][0]}); "
                "use smaller parameters",
            )
        return theta

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"n": self.n, "distribution": self.distribution}
        out.update({name: getattr(self, name) for name in DISTRIBUTIONS[self.distribution]})
        return out


@dataclass(frozen=True, eq=False)
class Developers:
    """The competing developers: ``capability`` (read-only float array, one per developer).

    ``sample`` records how the capabilities were drawn, when they were.
    ``budget`` is the most additional effort each developer may spend per
    round: ``None`` (unlimited) or a number or one number per developer,
    each finite and ``>= 0``, stored as a read-only float array of length ``n``.
    """

    capability: np.ndarray
    sample: SampleSpec | None = None
    budget: np.ndarray | None = None
    strategy: tuple | None = None  # one frozen sim.strategies.Strategy per developer; None: dynamics.response

    def __post_init__(self):
        raw = self.capability
        try:
            theta = np.array(raw, dtype=float)
        except OverflowError:
            raise ScenarioError("developers.capability", _shown(raw), "must be finite numbers") from None
        except (TypeError, ValueError):
            raise ScenarioError("developers.capability", raw, "must be a list of numbers") from None
        if theta.ndim != 1 or theta.size < 2:
            raise ScenarioError("developers.capability", _listed(raw), "needs a list of at least 2 developers")
        if theta.size > MAX_DEVELOPERS:
            raise ScenarioError("developers.capability", theta.size, f"at most {MAX_DEVELOPERS} developers")
        if not np.all(np.isfinite(theta)):
            raise ScenarioError("developers.capability", theta.tolist(), "must be finite numbers")
        if self.sample is not None and self.sample.n != theta.size:
            raise ScenarioError("developers.sample.n", self.sample.n, f"but {theta.size} capabilities were given")
        object.__setattr__(self, "capability", _read_only(theta))
        if self.budget is not None:
            object.__setattr__(self, "budget", _read_only(_check_budget(self.budget, theta.size)))
        if self.strategy is not None:
            from sim.strategies import parse_strategies

            object.__setattr__(self, "strategy", parse_strategies(self.strategy, theta.size))

    @classmethod
    def sampled(cls, sample: SampleSpec, seed: int, budget=None, strategy=None) -> Developers:
        """Developers with capabilities drawn by ``sample`` from ``seed`` (and an optional ``budget``)."""
        return cls(capability=sample.draw(seed), sample=sample, budget=budget, strategy=strategy)

    @property
    def n(self) -> int:
        return int(self.capability.size)

    def __eq__(self, other):
        if not isinstance(other, Developers):
            return NotImplemented
        same_budget = (self.budget is None and other.budget is None) or (
            self.budget is not None and other.budget is not None and np.array_equal(self.budget, other.budget)
        )
        return (np.array_equal(self.capability, other.capability) and self.sample == other.sample and same_budget
                and self.strategy == other.strategy)

    def to_dict(self) -> dict:
        out: dict[str, Any] = (
            {"sample": self.sample.to_dict()} if self.sample is not None else {"capability": self.capability.tolist()}
        )
        if self.budget is not None:
            out["budget"] = self.budget.tolist()
        if self.strategy is not None:
            from sim.strategies import strategies_to_spec

            out["strategy"] = strategies_to_spec(self.strategy)
        return out


def _check_budget(raw: object, n: int) -> np.ndarray:
    """``raw`` (a number or one number per developer) as ``n`` finite budgets ``>= 0``."""
    field_name = "developers.budget"
    items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    odd_array = isinstance(raw, np.ndarray) and raw.dtype.kind not in "iuf"
    if odd_array or any(isinstance(v, (bool, str, dict, list, tuple)) or v is None for v in items):
        raise ScenarioError(field_name, _listed(raw), "must be a number or a list of numbers (one per developer)")
    try:
        budget = np.array(raw, dtype=float)
    except OverflowError:
        raise ScenarioError(field_name, _shown(_listed(raw)), "must be finite numbers") from None
    except (TypeError, ValueError):
        raise ScenarioError(field_name, _listed(raw), "must be a number or a list of numbers") from None
    scalar = budget.ndim == 0
    if scalar:
        budget = np.full(n, float(budget))
    elif budget.shape != (n,):
        raise ScenarioError(field_name, _listed(raw), f"needs one budget per developer (n = {n}), got {budget.size}")
    bad = np.flatnonzero(~np.isfinite(budget) | (budget < 0))
    if bad.size:
        i = int(bad[0])
        shown, where = (float(budget[0]), "") if scalar else (budget.tolist(), f"entry {i}: ")
        if budget[i] == np.inf:
            raise ScenarioError(field_name, shown, f"{where}must be finite; omit budget for an unlimited one")
        raise ScenarioError(field_name, shown, f"{where}must be a finite number >= 0")
    return budget
