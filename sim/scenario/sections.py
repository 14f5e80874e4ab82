"""The ``[leaderboard]``, ``[designer]`` and ``[dynamics]`` tables (:class:`LeaderboardSpec`, :class:`DesignerSpec`,
:class:`DynamicsSpec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.errors import ScenarioError
from sim.leaderboard import TIE_BREAKS, check_resolution
from sim.scenario.schema import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_REVISION_PROBABILITY,
    INITIAL_PROFILES,
    RESPONSES,
    ROUNDS_LIMIT,
    SCHEDULES,
)
from sim.scenario.values import _as_float, _choose, _shown


@dataclass(frozen=True)
class LeaderboardSpec:
    """The published leaderboard: ``resolution`` ``delta >= 0``, the ``tie_break`` rule and evaluation ``noise``.

    ``noise >= 0`` is the standard deviation of the Gaussian noise added to
    each evaluated score before it is published (``0``: exact evaluation).
    """

    resolution: float = 0.0001
    tie_break: str = "capability"
    noise: float = 0.0

    def __post_init__(self):
        try:
            object.__setattr__(self, "resolution", check_resolution(self.resolution))
        except ScenarioError as err:
            raise err.prefixed("leaderboard") from None
        except OverflowError:
            raise ScenarioError("leaderboard.resolution", _shown(self.resolution), "must be a finite number") from None
        except (TypeError, ValueError):
            raise ScenarioError("leaderboard.resolution", self.resolution, "must be a number") from None
        if self.tie_break not in TIE_BREAKS:
            raise ScenarioError("leaderboard.tie_break", self.tie_break, f"unknown tie rule; {_choose(TIE_BREAKS)}")
        noise = _as_float(self.noise, "leaderboard.noise")
        if not (math.isfinite(noise) and noise >= 0):
            raise ScenarioError("leaderboard.noise", self.noise, "must be a finite number >= 0")
        object.__setattr__(self, "noise", noise)


@dataclass(frozen=True)
class DesignerSpec:
    """The designer's tune-before-test level ``tau >= 0``."""

    tau: float = 0.0

    def __post_init__(self):
        tau = _as_float(self.tau, "designer.tau")
        if not (math.isfinite(tau) and tau >= 0):
            raise ScenarioError("designer.tau", self.tau, "must be a finite number >= 0")
        object.__setattr__(self, "tau", tau)


@dataclass(frozen=True)
class DynamicsSpec:
    """How repeated play runs: update ``schedule``, number of ``rounds``, ``initial`` profile, ``response``.

    ``initial`` is ``"zero"``, ``"random"`` or a tuple of non-negative efforts
    (its length, and the budgets, are checked against the developers by
    :class:`Scenario`).  ``revision_probability`` in ``(0, 1]`` is the chance
    that a developer revises in a round; it is used only by the
    ``"asynchronous"`` schedule, which defaults it to
    :data:`DEFAULT_REVISION_PROBABILITY`, and must be ``None`` otherwise.
    ``response`` is ``"best"`` (exact best response) or ``"logit"``, which
    needs a ``temperature > 0`` in utility units (``None`` for ``"best"``).
    """

    schedule: str = "simultaneous"
    rounds: int = 2000
    initial: str | tuple[float, ...] = "zero"
    revision_probability: float | None = None
    response: str = "best"
    temperature: float | None = None
    max_rounds: int = DEFAULT_MAX_ROUNDS

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ScenarioError("dynamics.schedule", self.schedule, f"unknown schedule; {_choose(SCHEDULES)}")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, (int, np.integer)) or self.rounds < 1:
            raise ScenarioError("dynamics.rounds", self.rounds, "must be a positive integer")
        if self.rounds > ROUNDS_LIMIT:
            raise ScenarioError("dynamics.rounds", self.rounds, f"must be at most {ROUNDS_LIMIT:,} (no run gets near)")
        object.__setattr__(self, "rounds", int(self.rounds))
        cap = self.max_rounds
        if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
            raise ScenarioError("dynamics.max_rounds", self.max_rounds, "must be a positive integer")
        if cap > ROUNDS_LIMIT:
            raise ScenarioError("dynamics.max_rounds", cap, f"must be at most {ROUNDS_LIMIT:,} (no run gets near)")
        object.__setattr__(self, "max_rounds", int(self.max_rounds))
        if isinstance(self.initial, str):
            if self.initial not in INITIAL_PROFILES:
                raise ScenarioError(
                    "dynamics.initial",
                    self.initial,
                    f"choose one of {', '.join(INITIAL_PROFILES)} or a list of efforts",
                )
        else:
            try:
                efforts = tuple(float(v) for v in self.initial)
            except OverflowError:
                raise ScenarioError("dynamics.initial", _shown(self.initial), "efforts must be finite") from None
            except (TypeError, ValueError):
                raise ScenarioError("dynamics.initial", self.initial, "must be a list of efforts") from None
            if not all(math.isfinite(v) and v >= 0 for v in efforts):
                raise ScenarioError("dynamics.initial", list(efforts), "efforts must be finite and >= 0")
            object.__setattr__(self, "initial", efforts)
        self._check_revision_probability()
        self._check_response()

    def _check_revision_probability(self) -> None:
        name = "dynamics.revision_probability"
        if self.revision_probability is None:
            if self.schedule == "asynchronous":
                object.__setattr__(self, "revision_probability", DEFAULT_REVISION_PROBABILITY)
            return
        if self.schedule != "asynchronous":
            raise ScenarioError(name, _shown(self.revision_probability), 'only used by schedule = "asynchronous"')
        p = _as_float(self.revision_probability, name)
        if not (math.isfinite(p) and 0 < p <= 1):
            raise ScenarioError(name, self.revision_probability, "must be a probability in (0, 1]")
        object.__setattr__(self, "revision_probability", p)

    def _check_response(self) -> None:
        if not isinstance(self.response, str) or self.response not in RESPONSES:
            raise ScenarioError("dynamics.response", self.response, f"unknown response; {_choose(RESPONSES)}")
        name = "dynamics.temperature"
        if self.response != "logit":
            if self.temperature is not None:
                raise ScenarioError(name, _shown(self.temperature), 'only used by response = "logit"')
            return
        if self.temperature is None:
            raise ScenarioError(name, None, 'required when response = "logit" (a temperature > 0 in utility units)')
        temperature = _as_float(self.temperature, name)
        if not (math.isfinite(temperature) and temperature > 0):
            raise ScenarioError(name, self.temperature, "must be a finite number > 0")
        object.__setattr__(self, "temperature", temperature)
