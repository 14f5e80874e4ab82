"""Scenario files: TOML in, validated frozen dataclasses out.

A scenario file describes one leaderboard game and how to play it out::

    name = "two-developers"
    seed = 7                       # optional, default 0
    [developers]
    capability = [1.0, 0.5]        # or sample = {n = 10, distribution = "uniform", low = 0.0, high = 1.0}
    budget = 50.0                  # optional: most effort per developer per round (number or list)
    [score]
    family = "power_law"           # power_law | exp_saturation | custom
    lower = 0.25                   # number, list (one per developer), or {intercept = a, slope = b}
    upper = 0.95
    alpha = {intercept = -2.0, slope = 2.0}
    beta = {intercept = 0.3, slope = 0.2}
    effort_unit = 1.0
    [cost]
    family = "linear"              # linear | power | flat_quadratic | custom
    scale = 0.001
    [reward]
    scheme = "winner_take_all"     # winner_take_all | top_k | linear | geometric | zipf | custom
    [leaderboard]                  # optional
    resolution = 0.0001
    tie_break = "capability"       # capability | id | random
    noise = 0.0                    # sd of Gaussian evaluation noise added to each score
    [designer]                     # optional
    tau = 0.0
    [dynamics]                     # optional
    schedule = "simultaneous"      # simultaneous | sequential | random_order | asynchronous
    rounds = 2000
    # max_rounds = 100000          # deterministic dynamics play on to find a recurrence, up to this cap
    initial = "zero"               # zero | random | [x1, x2, ...]
    response = "best"              # best | logit (then temperature = T > 0)
    # revision_probability = 0.5   # asynchronous only

Keys by section (anything else is an error that names the key):

* ``[developers]``: exactly one of ``capability`` (list of numbers, at least
  two) or ``sample`` (table: ``n >= 2``, ``distribution`` ``"uniform"`` with
  ``low``, ``high`` (defaults 0, 1) or ``"normal"`` with ``mean``, ``sd``
  (defaults 0, 1)).  Samples are drawn with
  a stream split from the scenario's seed (:func:`scenario_streams`), never the
  global random state.  Optional ``budget``: the most additional effort a
  developer may spend per round, a number (the same for everyone) or a list
  (one per developer), each finite and ``>= 0``; omit it for no limit.
  Optional ``strategy``: how developers choose (:mod:`sim.strategies`), one
  for everyone (``"hedge"`` or ``{name = "hedge", eta = 0.1}``) or a list with
  one per developer; without it, ``dynamics.response`` decides.
* ``[score]``: ``family``; ``power_law``: ``lower``, ``upper``, ``alpha``,
  ``beta``, optional ``effort_unit`` (1); ``exp_saturation``: ``lower``,
  ``upper``, optional ``rate`` (1); ``custom``: ``function`` and optional
  ``limit``, both ``"module.path:attribute"``.  Parameters are a number, a
  list (one per developer) or ``{intercept = a, slope = b}`` meaning
  ``a + b * capability``.
* ``[cost]``: ``family``; ``linear``: ``scale``; ``power``: ``scale``,
  ``exponent``; ``flat_quadratic``: ``scale``, ``free_effort``; ``custom``:
  ``function`` (``"module:attribute"``, ``c(x)``) and ``scale``; any family:
  ``gamma``, a per-developer cost scale (list).
* ``[reward]``: ``scheme`` and its parameter (``k`` for ``top_k``, ``q``
  for ``geometric``, ``exponent`` for ``zipf``, ``values`` for ``custom``).
* ``[leaderboard]``: ``resolution`` (``1e-4``), ``tie_break``
  (``"capability"``), ``noise`` (``0``: the standard deviation of Gaussian
  evaluation noise added to each evaluated score before it is published).
* ``[designer]``: ``tau`` (``0``).
* ``[dynamics]``: ``schedule`` (``"simultaneous"``), ``rounds`` (2000),
  ``max_rounds`` (:data:`DEFAULT_MAX_ROUNDS`: deterministic dynamics that
  have not recurred within ``rounds`` play on until they do or this cap is
  reached; a cap below ``rounds`` means ``rounds``),
  ``initial`` (``"zero"``; given efforts may not exceed the budgets),
  ``revision_probability`` (asynchronous schedule only, in ``(0, 1]``,
  default :data:`DEFAULT_REVISION_PROBABILITY`), ``response`` (``"best"`` or
  ``"logit"``) and ``temperature`` (``> 0``, required by and only used by
  ``response = "logit"``).

Every problem raises :class:`~sim.errors.ScenarioError` whose ``field`` is
the dotted path of the offending key (``"score.beta"``, ``"reward.k"``) and
whose message is one line; a file that is not valid TOML or cannot be read
gets the file's path as its field.  Loading builds the
:class:`~sim.game.LeaderboardGame` once, so every error surfaces at load
time.

Custom functions are code, and a scenario file is data: loading never
imports or calls a custom ``"module:attribute"`` unless the caller allows it
for that call (``allow_custom=True`` to :func:`load_scenario` and
:func:`parse_scenario`, ``--allow-custom`` on the command line, or the
environment variable ``LBSIM_ALLOW_CUSTOM=1``); otherwise only the string's
form is checked and loading fails with a :class:`~sim.errors.ScenarioError`
that says how to allow it.  The library's own example functions
(:data:`BUILT_IN_FUNCTIONS`, in :mod:`sim.examples`) need no permission.
Allowed modules are imported without the current working directory on the
module search path (unless it is listed explicitly
in ``PYTHONPATH``): ``python -m sim`` in a directory holding a stray
``evil.py`` does not pick it up.

Custom functions are probed at load time (:data:`PROBE_EFFORTS`, for all
developers at once, for a 2-D array of efforts and for a single developer);
an exception, a NaN, a result of the wrong shape, a non-finite score or
limit, or a non-finite cost at efforts up to 1 is a
:class:`~sim.errors.ScenarioError` naming ``score.function``,
``score.limit`` or ``cost.function``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
import math
import os
import re
import stat
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.costs import COST_FAMILIES, CostFunction, CustomCost
from sim.errors import ScenarioError, callable_path, describe_exception
from sim.game import LeaderboardGame
from sim.leaderboard import TIE_BREAKS, check_resolution, tie_priority
from sim.rewards import SCHEMES, RewardScheme
from sim.scores import (
    CUSTOM_MAX_EFFORT,
    Affine,
    CustomScoreSpec,
    ExpSaturation,
    ExpSaturationSpec,
    Param,
    PowerLaw,
    PowerLawSpec,
    ScoreFamily,
    ScoreSpec,
)

__all__ = [
    "DEFAULT_REVISION_PROBABILITY",
    "DISTRIBUTIONS",
    "INITIAL_PROFILES",
    "MAX_DEVELOPERS",
    "PROBE_EFFORTS",
    "RESPONSES",
    "SCHEDULES",
    "SCORE_FAMILIES",
    "DesignerSpec",
    "Developers",
    "DynamicsSpec",
    "LeaderboardSpec",
    "SampleSpec",
    "Scenario",
    "ALLOW_CUSTOM_ENV",
    "BUILT_IN_FUNCTIONS",
    "callable_path",
    "custom_allowed",
    "import_callable",
    "load_scenario",
    "parse_scenario",
]

SCORE_FAMILIES = ("power_law", "exp_saturation", "custom")
SCHEDULES = ("simultaneous", "sequential", "random_order", "asynchronous")
INITIAL_PROFILES = ("zero", "random")
#: How a developer picks its effort when it revises: exact best response or a logit (smoothed) choice.
RESPONSES = ("best", "logit")
#: Chance that a developer revises in a round under ``schedule = "asynchronous"`` when none is given.
DEFAULT_REVISION_PROBABILITY = 0.5
#: Most rounds (``dynamics.rounds``, ``dynamics.max_rounds``) a scenario may ask for: far beyond any run's time and
#: memory, and within the 64-bit integers the engine counts rounds in.
ROUNDS_LIMIT = 10**15
#: Default cap on the rounds deterministic dynamics play while looking for a recurrence (``dynamics.max_rounds``).
DEFAULT_MAX_ROUNDS = 100_000
#: Most developers a scenario may have (a sample larger than this is a typo, not a game).
MAX_DEVELOPERS = 1_000_000
#: Environment variable that allows custom functions for every load when set to ``1``.
ALLOW_CUSTOM_ENV = "LBSIM_ALLOW_CUSTOM"
#: Efforts at which custom score and cost functions are probed at load time.
PROBE_EFFORTS = (0.0, 1e-3, 1.0, 1e3, 1e6)
#: Sampling distributions and their parameters with defaults.
DISTRIBUTIONS: dict[str, dict[str, float]] = {
    "uniform": {"low": 0.0, "high": 1.0},
    "normal": {"mean": 0.0, "sd": 1.0},
}

_SECTIONS_REQUIRED = ("developers", "score", "cost", "reward")
_SECTIONS_OPTIONAL = ("leaderboard", "designer", "dynamics")
_TOP_LEVEL_KEYS = ("name", "seed", *_SECTIONS_REQUIRED, *_SECTIONS_OPTIONAL)

_SCORE_KEYS = {
    "power_law": ("lower", "upper", "alpha", "beta", "effort_unit"),
    "exp_saturation": ("lower", "upper", "rate"),
    "custom": ("function", "limit"),
}
_COST_KEYS = {
    "linear": ("scale",),
    "power": ("scale", "exponent"),
    "flat_quadratic": ("scale", "free_effort"),
    "custom": ("function", "scale"),
}
_REWARD_KEYS = {
    "winner_take_all": (),
    "top_k": ("k",),
    "linear": (),
    "geometric": ("q",),
    "zipf": ("exponent",),
    "custom": ("values",),
}


# ---------------------------------------------------------------------------
# Specifications
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True)
class Scenario:
    """A validated scenario: one leaderboard game and how to play it out.

    Construction validates everything (the game is built once), so a
    ``Scenario`` that exists is playable.  Equality compares every field
    except ``source`` (arrays by value).
    """

    name: str
    seed: int = 0
    developers: Developers
    score: ScoreSpec
    cost: CostFunction
    gamma: np.ndarray | None = None
    reward: RewardScheme
    leaderboard: LeaderboardSpec = field(default_factory=LeaderboardSpec)
    designer: DesignerSpec = field(default_factory=DesignerSpec)
    dynamics: DynamicsSpec = field(default_factory=DynamicsSpec)
    source: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScenarioError("name", self.name, "needs a non-empty string")
        if not self.name.isprintable():
            raise ScenarioError("name", self.name, "must be one line of printable text, without control characters")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ScenarioError("seed", _shown(self.seed), "must be an integer >= 0")
        object.__setattr__(self, "seed", int(self.seed))
        n = self.n
        if self.gamma is not None:
            try:
                gamma = np.array(self.gamma, dtype=float)
            except OverflowError:
                raise ScenarioError("cost.gamma", _shown(self.gamma), "scales must be finite") from None
            if gamma.shape != (n,):
                raise ScenarioError("cost.gamma", _listed(self.gamma), f"needs one scale per developer (n = {n})")
            if not np.all(np.isfinite(gamma)) or np.any(gamma <= 0):
                raise ScenarioError("cost.gamma", gamma.tolist(), "scales must be finite and > 0")
            object.__setattr__(self, "gamma", _read_only(gamma))
        if not isinstance(self.dynamics.initial, str) and len(self.dynamics.initial) != n:
            raise ScenarioError(
                "dynamics.initial", list(self.dynamics.initial), f"needs one effort per developer (n = {n})"
            )
        if not isinstance(self.dynamics.initial, str) and self.developers.budget is not None:
            for i, (effort, limit) in enumerate(zip(self.dynamics.initial, self.developers.budget, strict=True)):
                if effort > limit:
                    raise ScenarioError(
                        "dynamics.initial",
                        list(self.dynamics.initial),
                        f"effort of developer {i} exceeds its budget {limit:g}",
                    )
        rewards = self.rewards  # validates the reward vector for n
        with np.errstate(over="ignore", invalid="ignore"):
            gaps_finite = bool(np.all(np.isfinite(np.diff(rewards))))
        if not gaps_finite:
            raise ScenarioError("reward.values", rewards.tolist(), "differences between rewards must be finite")
        bound = self.bound_score()
        _check_bound_score(bound)
        if isinstance(self.score, CustomScoreSpec):
            _probe_custom_score(self.score, self.theta)
        if isinstance(self.cost, CustomCost):
            _probe_custom_cost(self.cost, n)
        # Both are pure functions of this frozen scenario (and frozen, read-only themselves): remembered, so that
        # building a batch does not bind and validate every scenario again.
        for name in getattr(bound, "_array_fields", ()):
            value = getattr(bound, name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False  # shared from now on: nobody may change it in place
        object.__setattr__(self, "_bound_score", bound)
        object.__setattr__(self, "_game", self.game())

    # -- derived quantities ---------------------------------------------

    @property
    def n(self) -> int:
        """Number of developers."""
        return self.developers.n

    @property
    def theta(self) -> np.ndarray:
        """Capabilities (read-only), one per developer id."""
        return self.developers.capability

    @property
    def budget(self) -> np.ndarray:
        """The most additional effort per developer per round (read-only, shape ``(n,)``; ``inf``: unlimited)."""
        if self.developers.budget is not None:
            return self.developers.budget
        return _read_only(np.full(self.n, np.inf))

    @property
    def rewards(self) -> np.ndarray:
        """Rewards by rank for this scenario's ``n`` (read-only)."""
        try:
            with np.errstate(over="ignore"):  # huge custom values are checked, gaps and all, at construction
                return self.reward.vector(self.n)
        except ScenarioError as err:
            raise err.prefixed("reward") from None

    def bound_score(self) -> ScoreFamily:
        """The score family bound to the developers' capabilities."""
        bound = self.__dict__.get("_bound_score")
        if bound is not None:
            return bound
        try:
            return self.score.bind(self.theta)
        except ScenarioError as err:
            raise err.prefixed("score") from None

    def tie_priority(self) -> np.ndarray:
        """The tie priority per developer (higher wins ties) under ``leaderboard.tie_break``.

        ``"random"`` draws one permutation from the ``"tie_break"`` stream of
        :func:`scenario_streams`, independent of the capability draw.
        """
        rule = self.leaderboard.tie_break
        rng = np.random.default_rng(scenario_streams(self.seed)["tie_break"]) if rule == "random" else None
        return tie_priority(self.theta, rule, rng)

    def game(self, tau: float | None = None) -> LeaderboardGame:
        """The one-shot game at ``tau`` (default: the designer's ``tau``)."""
        if tau is None and "_game" in self.__dict__:
            return self.__dict__["_game"]
        random_ties = self.leaderboard.tie_break == "random"
        return LeaderboardGame(
            theta=self.theta,
            score=self.bound_score(),
            cost=self.cost,
            rewards=self.rewards,
            tau=self.designer.tau if tau is None else tau,
            resolution=self.leaderboard.resolution,
            tie_break=self.leaderboard.tie_break,
            gamma=self.gamma,
            priority=self.tie_priority() if random_ties else None,
        )

    # -- comparison and serialisation -------------------------------------

    def __eq__(self, other):
        if not isinstance(other, Scenario):
            return NotImplemented
        same_gamma = (self.gamma is None and other.gamma is None) or (
            self.gamma is not None and other.gamma is not None and np.array_equal(self.gamma, other.gamma)
        )
        return same_gamma and all(
            getattr(self, name) == getattr(other, name)
            for name in ("name", "seed", "developers", "score", "cost", "reward", "leaderboard", "designer", "dynamics")
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict:
        """The scenario as a TOML-shaped dict; ``parse_scenario(s.to_dict()) == s``.

        Custom functions are written back as ``"module:qualname"``, which
        round-trips for any module-level function.
        """
        cost: dict[str, Any] = {"family": self.cost.family}
        for name in (f.name for f in dataclasses.fields(self.cost)):
            value = getattr(self.cost, name)
            cost[name] = callable_path(value) if name == "function" else value
        if self.gamma is not None:
            cost["gamma"] = self.gamma.tolist()
        reward: dict[str, Any] = {"scheme": self.reward.scheme}
        for name in _REWARD_KEYS[self.reward.scheme]:
            value = getattr(self.reward, name)
            if value is not None:
                reward[name] = list(value) if isinstance(value, tuple) else value
        dyn = self.dynamics
        dynamics: dict[str, Any] = {
            "schedule": dyn.schedule,
            "rounds": dyn.rounds,
            "initial": dyn.initial if isinstance(dyn.initial, str) else list(dyn.initial),
            "response": dyn.response,
        }
        for name in ("revision_probability", "temperature"):
            if getattr(dyn, name) is not None:
                dynamics[name] = getattr(dyn, name)
        if dyn.max_rounds != DEFAULT_MAX_ROUNDS:
            dynamics["max_rounds"] = dyn.max_rounds
        board = self.leaderboard
        return {
            "name": self.name,
            "seed": self.seed,
            "developers": self.developers.to_dict(),
            "score": _score_to_dict(self.score),
            "cost": cost,
            "reward": reward,
            "leaderboard": {"resolution": board.resolution, "tie_break": board.tie_break, "noise": board.noise},
            "designer": {"tau": self.designer.tau},
            "dynamics": dynamics,
        }


def _check_bound_score(bound: ScoreFamily) -> None:
    """Reject built-in parameters that are finite one by one but overflow together."""
    if isinstance(bound, (PowerLaw, ExpSaturation)):
        with np.errstate(over="ignore", invalid="ignore"):
            spread = bound.upper - bound.lower
        if not np.all(np.isfinite(spread)):
            raise ScenarioError("score.upper", bound.upper.tolist(), "upper - lower must be finite for every developer")
    if isinstance(bound, PowerLaw) and bound.effort_unit < sys.float_info.min:
        raise ScenarioError(
            "score.effort_unit",
            bound.effort_unit,
            f"must be >= {sys.float_info.min:g} so that 1 / effort_unit is finite",
        )


def _probe(function: Callable, args: tuple, field_name: str, where: str, *, allow_inf: bool = False) -> np.ndarray:
    """Call a user's ``function(*args)`` and check its result, or raise a one-line :class:`ScenarioError`.

    The result must be numbers broadcastable to the shape of ``args[0]``
    (as :class:`~sim.scores.CustomScore` and :class:`~sim.costs.CustomCost`
    broadcast them), finite, except that ``allow_inf`` lets ``+inf`` through
    (a cost may overflow at large efforts).
    """
    path = callable_path(function)
    shape = np.shape(args[0])
    try:
        with np.errstate(all="ignore"):
            raw = function(*args)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any failure of user code is a scenario error
        raise ScenarioError(field_name, path, f"raised {describe_exception(err)} {where}") from None
    expected = f"expected a float array of shape {shape}"
    numeric = isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, (bool, np.bool_))
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iuf":
        numeric = True
    if not numeric:
        raise ScenarioError(field_name, path, f"returned {_returned(raw)}, {expected}, {where}")
    try:
        values = np.asarray(raw, dtype=float)
    except (Exception, SystemExit):  # noqa: BLE001 - a result of any type may fail to convert
        raise ScenarioError(field_name, path, f"returned {_returned(raw)}, {expected}, {where}") from None
    try:
        values = np.broadcast_to(values, shape)
    except ValueError:
        raise ScenarioError(
            field_name, path, f"returned shape {values.shape} for inputs of shape {shape}, {expected}, {where}"
        ) from None
    bad = np.isnan(values) | (np.isneginf(values) if allow_inf else np.isinf(values))
    if bad.any():
        raise ScenarioError(field_name, path, f"returned {values[bad].flat[0]} {where}; must be finite")
    return values


def _returned(raw: object) -> str:
    """What a custom function returned, for a message: ``None``, ``a str``, ``an array of dtype bool``..."""
    if raw is None:
        return "None"
    if isinstance(raw, np.ndarray):
        return f"an array of dtype {raw.dtype}"
    return _kind(raw)


def _probe_custom_score(spec: CustomScoreSpec, theta: np.ndarray) -> None:
    """Call a custom score (and limit) at :data:`PROBE_EFFORTS` so a broken function fails at load time.

    The score is called for all developers at each effort, on a 2-D array of
    efforts (one row per effort) and for a single developer (0-d arrays), the
    shapes the game uses; without a declared limit it is also called at
    :data:`~sim.scores.CUSTOM_MAX_EFFORT`, which then serves as the limit.
    """
    n = theta.size
    efforts = PROBE_EFFORTS if spec.limit is not None else (*PROBE_EFFORTS, CUSTOM_MAX_EFFORT)
    for effort in efforts:
        _probe(spec.function, (theta.copy(), np.full(n, effort)), "score.function", f"at effort {effort:g}")
    grid = np.array(efforts)[:, None] + np.zeros(n)
    _probe(spec.function, (theta + np.zeros_like(grid), grid), "score.function", "for a 2-D array of efforts")
    _probe(spec.function, (np.array(theta[0]), np.array(1.0)), "score.function", "for one developer (0-d arrays)")
    if spec.limit is not None:
        _probe(spec.limit, (theta.copy(),), "score.limit", "for the developers' capabilities")
        _probe(spec.limit, (np.array(theta[0]),), "score.limit", "for one developer (a 0-d array)")


def _probe_custom_cost(cost: CustomCost, n: int) -> None:
    """Call a custom cost at :data:`PROBE_EFFORTS` so a broken function fails at load time.

    The cost must be finite up to effort 1; beyond, ``+inf`` (overflow) is allowed.
    """
    for effort in PROBE_EFFORTS:
        _probe(cost.function, (np.full(n, effort),), "cost.function", f"at effort {effort:g}", allow_inf=effort > 1)
    grid = np.array(PROBE_EFFORTS)[:, None] + np.zeros(n)
    _probe(cost.function, (grid,), "cost.function", "for a 2-D array of efforts", allow_inf=True)
    _probe(cost.function, (np.array(1.0),), "cost.function", "for one developer (a 0-d array)")


def _score_to_dict(spec: ScoreSpec) -> dict:
    out: dict[str, Any] = {"family": spec.family}
    if isinstance(spec, CustomScoreSpec):
        out["function"] = callable_path(spec.function)
        if spec.limit is not None:
            out["limit"] = callable_path(spec.limit)
        return out
    for name in _SCORE_KEYS[spec.family]:
        value = getattr(spec, name)
        if isinstance(value, Affine):
            out[name] = {"intercept": value.intercept, "slope": value.slope}
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


# ---------------------------------------------------------------------------
# Loading and parsing
# ---------------------------------------------------------------------------


def load_scenario(path, *, allow_custom: bool = False) -> Scenario:
    """Load and validate the scenario file at ``path``.

    Custom functions are refused unless ``allow_custom`` (or
    ``LBSIM_ALLOW_CUSTOM=1``): a scenario file is data, not code.

    Raises :class:`ScenarioError`: with the path as ``field`` when the file
    is missing, unreadable or not valid TOML; with the dotted key otherwise.
    The scenario's name defaults to the file's stem.
    """
    path = Path(path)
    data = read_toml(path, "scenario file")
    return parse_scenario(data, name_hint=path.stem, source=str(path), allow_custom=allow_custom)


#: Largest scenario or sweep file read (bytes): a million listed developers fit well within it.
MAX_FILE_BYTES = 64 * 2**20


def read_text_file(path, what: str) -> str:
    """The UTF-8 text of the regular file at ``path``, at most :data:`MAX_FILE_BYTES`, without ever blocking.

    A directory, a named pipe, a device such as ``/dev/zero``, a missing or
    unreadable file is a one-line :class:`ScenarioError` with the path as
    ``field``.  The path is checked with ``os.stat`` first and the file is
    opened non-blocking and checked again (``fstat``) before it is read.
    """
    path = Path(path)
    where = str(path)
    shown = str(path.absolute())
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError(where, shown, f"no such {what}") from None
    except (OSError, ValueError) as err:
        reason = _one_line(getattr(err, "strerror", None) or err)
        raise ScenarioError(where, shown, f"cannot read the file: {reason}") from None
    _check_regular(info, where, shown, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb", closefd=True) as handle:
            _check_regular(os.fstat(handle.fileno()), where, shown, what)
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(where, shown, f"no such {what}") from None
    except OSError as err:
        raise ScenarioError(where, shown, f"cannot read the file: {_one_line(err.strerror)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(where, shown, f"larger than {MAX_FILE_BYTES // 2**20} MiB; not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(where, shown, f"not UTF-8 text ({err.reason})") from None


def _check_regular(info: os.stat_result, where: str, shown: str, what: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = (
        "a directory" if stat.S_ISDIR(info.st_mode)
        else "a named pipe" if stat.S_ISFIFO(info.st_mode)
        else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
        else "a socket" if stat.S_ISSOCK(info.st_mode)
        else "not a regular file"
    )
    raise ScenarioError(where, shown, f"is {kind}, not a {what} (a regular file is needed)")


def read_toml(path, what: str) -> dict:
    """The TOML table in the file at ``path``; a missing, unreadable or invalid file is a one-line
    :class:`ScenarioError` with the path as ``field`` (``what`` names the kind of file, e.g. "sweep file")."""
    path = Path(path)
    where = str(path)
    text = read_text_file(path, what)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ScenarioError(where, None, "invalid TOML: arrays or tables nested too deeply") from None
    except ValueError as err:  # TOMLDecodeError, or an integer too long to convert
        message = _one_line(str(err))
        if not isinstance(err, tomllib.TOMLDecodeError):
            message = message.split(";")[0]  # drop Python's advice on sys.set_int_max_str_digits
        found = re.search(r"line (\d+)", message)
        lines = text.splitlines()
        line = lines[int(found.group(1)) - 1].strip() if found and 0 < int(found.group(1)) <= len(lines) else None
        raise ScenarioError(where, line, f"invalid TOML: {message}") from None



def parse_scenario(
    data: dict, name_hint: str = "", source: str | None = None, *, allow_custom: bool = False
) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML) into a :class:`Scenario`.

    ``allow_custom`` lets custom ``"module:attribute"`` functions be imported
    and called (see :func:`custom_allowed`); without it they are refused.
    """
    if not isinstance(data, dict):
        raise ScenarioError("scenario", type(data).__name__, "must be a table of sections")
    _check_keys(data, "", _TOP_LEVEL_KEYS)
    for section in _SECTIONS_REQUIRED:
        if section not in data:
            raise ScenarioError(section, None, f"missing required section [{section}]")
    hint = "".join(c if c.isprintable() else "?" for c in name_hint).strip()
    name = _expect_string(data["name"], "name") if "name" in data else (hint or "unnamed")
    seed = _integer(data.get("seed", 0), "seed", minimum=0)

    developers = _parse_developers(_section(data, "developers"), seed, allow_custom)
    n = developers.n
    score = _parse_score(_section(data, "score"), n, allow_custom)
    cost, gamma = _parse_cost(_section(data, "cost"), n, allow_custom)
    reward = _parse_reward(_section(data, "reward"))
    leaderboard = _parse_leaderboard(_section(data, "leaderboard"))
    designer = _parse_designer(_section(data, "designer"))
    dynamics = _parse_dynamics(_section(data, "dynamics"), n)
    if developers.strategy is not None and dynamics.response != "best":
        raise ScenarioError("dynamics.response", dynamics.response, "developers.strategy is given: name the "
                            'response there, e.g. strategy = {name = "logit", temperature = T}')
    return Scenario(
        name=name,
        seed=seed,
        developers=developers,
        score=score,
        cost=cost,
        gamma=gamma,
        reward=reward,
        leaderboard=leaderboard,
        designer=designer,
        dynamics=dynamics,
        source=source,
    )


def _parse_developers(table: dict, seed: int, allow_custom: bool = False) -> Developers:
    _check_keys(table, "developers", ("capability", "sample", "budget", "strategy"))
    budget = _parse_budget(table["budget"]) if "budget" in table else None
    strategy = None
    if "strategy" in table:  # one frozen spec per developer (sim.strategies.parse_strategies), checked below
        from sim.strategies import parse_strategies

        raw = table["strategy"]
        n_given = table["sample"].get("n") if isinstance(table.get("sample"), dict) else None
        if n_given is None:
            n_given = len(table["capability"]) if isinstance(table.get("capability"), list) else None
        if isinstance(n_given, int) and not isinstance(n_given, bool) and n_given >= 2:
            strategy = parse_strategies(raw, n_given, allow_custom=allow_custom)
    if "capability" in table and "sample" in table:
        raise ScenarioError("developers", sorted(table), "give either capability = [...] or sample = {...}, not both")
    if "sample" in table:
        sample = _table(table["sample"], "developers.sample")
        distribution = _choice(
            sample.get("distribution", "uniform"), "developers.sample.distribution", DISTRIBUTIONS, what="distribution"
        )
        _check_keys(sample, "developers.sample", ("n", "distribution", *DISTRIBUTIONS[distribution]))
        n = _integer(_required(sample, "developers.sample", "n"), "developers.sample.n")
        if n < 2:
            raise ScenarioError("developers.sample.n", n, "needs at least 2 developers")
        params = {
            name: _number(sample[name], f"developers.sample.{name}")
            for name in DISTRIBUTIONS[distribution]
            if name in sample
        }
        return Developers.sampled(SampleSpec(n=n, distribution=distribution, **params), seed, budget=budget,
                                  strategy=strategy)
    capability = _required(table, "developers", "capability", hint="give capability = [...] or sample = {...}")
    values = _number_list(capability, "developers.capability")
    if len(values) < 2:
        raise ScenarioError("developers.capability", list(values), "needs at least 2 developers")
    return Developers(capability=values, budget=budget, strategy=strategy)


def _parse_budget(value: object) -> float | tuple[float, ...]:
    """``developers.budget``: a number or a list of numbers (checked for ``n``, sign and finiteness by Developers)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise ScenarioError("developers.budget", value, f"entry {i}: must be a number, got {_kind(item)}")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(
            "developers.budget", value, f"must be a number or a list of numbers (one per developer), got {_kind(value)}"
        )
    return value


def _parse_score(table: dict, n: int, allow_custom: bool = False) -> ScoreSpec:
    family = _required(table, "score", "family", hint=_choose(SCORE_FAMILIES))
    family = _choice(family, "score.family", SCORE_FAMILIES, what="score family")
    _check_keys(table, "score", ("family", *_SCORE_KEYS[family]), context=f"the {family} family")
    if family == "custom":
        function_path = check_callable_path(_required(table, "score", "function"), "score.function")
        limit_path = check_callable_path(table["limit"], "score.limit") if "limit" in table else None
        function = _custom(function_path, "score.function", allow_custom)
        limit = _custom(limit_path, "score.limit", allow_custom) if limit_path is not None else None
        return CustomScoreSpec(function=function, limit=limit)
    params = {name: _param(_required(table, "score", name), f"score.{name}", n) for name in ("lower", "upper")}
    if family == "power_law":
        for name in ("alpha", "beta"):
            params[name] = _param(_required(table, "score", name), f"score.{name}", n)
        if "effort_unit" in table:
            params["effort_unit"] = _number(table["effort_unit"], "score.effort_unit")
        return PowerLawSpec(**params)
    if "rate" in table:
        params["rate"] = _param(table["rate"], "score.rate", n)
    return ExpSaturationSpec(**params)


def _parse_cost(table: dict, n: int, allow_custom: bool = False) -> tuple[CostFunction, np.ndarray | None]:
    family = _required(table, "cost", "family", hint=_choose(COST_FAMILIES))
    family = _choice(family, "cost.family", COST_FAMILIES, what="cost family")
    _check_keys(table, "cost", ("family", "gamma", *_COST_KEYS[family]), context=f"the {family} family")
    kwargs: dict[str, Any] = {}
    for name in _COST_KEYS[family]:
        if name == "function":
            kwargs[name] = _custom(_required(table, "cost", name), "cost.function", allow_custom)
        elif name in table:
            kwargs[name] = _number(table[name], f"cost.{name}")
    try:
        cost = COST_FAMILIES[family](**kwargs)
    except ScenarioError as err:
        raise err.prefixed("cost") from None
    gamma = None
    if "gamma" in table:
        gamma = _number_list(table["gamma"], "cost.gamma")
        if len(gamma) != n:
            raise ScenarioError("cost.gamma", list(gamma), f"needs one scale per developer (n = {n})")
    return cost, gamma


def _parse_reward(table: dict) -> RewardScheme:
    scheme = _required(table, "reward", "scheme", hint=_choose(SCHEMES))
    scheme = _choice(scheme, "reward.scheme", SCHEMES, what="reward scheme")
    _check_keys(table, "reward", ("scheme", *_REWARD_KEYS[scheme]), context=f"the {scheme} scheme")
    kwargs: dict[str, Any] = {}
    if "k" in table:
        kwargs["k"] = _integer(table["k"], "reward.k", minimum=1)
    for name in ("q", "exponent"):
        if name in table:
            kwargs[name] = _number(table[name], f"reward.{name}")
    if "values" in table:
        kwargs["values"] = _number_list(table["values"], "reward.values")
    try:
        with np.errstate(over="ignore"):  # gaps between huge values: checked by Scenario
            return RewardScheme(scheme=scheme, **kwargs)
    except ScenarioError as err:
        raise err.prefixed("reward") from None


def _parse_leaderboard(table: dict) -> LeaderboardSpec:
    _check_keys(table, "leaderboard", ("resolution", "tie_break", "noise"))
    kwargs: dict[str, Any] = {}
    if "resolution" in table:
        kwargs["resolution"] = _number(table["resolution"], "leaderboard.resolution", minimum=0.0)
    if "tie_break" in table:
        kwargs["tie_break"] = _choice(table["tie_break"], "leaderboard.tie_break", TIE_BREAKS, what="tie rule")
    if "noise" in table:
        kwargs["noise"] = _number(table["noise"], "leaderboard.noise", minimum=0.0)
    return LeaderboardSpec(**kwargs)


def _parse_designer(table: dict) -> DesignerSpec:
    _check_keys(table, "designer", ("tau",))
    if "tau" in table:
        return DesignerSpec(tau=_number(table["tau"], "designer.tau", minimum=0.0))
    return DesignerSpec()


def _parse_dynamics(table: dict, n: int) -> DynamicsSpec:
    _check_keys(table, "dynamics",
                ("schedule", "rounds", "initial", "revision_probability", "response", "temperature", "max_rounds"))
    kwargs: dict[str, Any] = {}
    if "schedule" in table:
        kwargs["schedule"] = _choice(table["schedule"], "dynamics.schedule", SCHEDULES, what="schedule")
    if "rounds" in table:
        kwargs["rounds"] = _integer(table["rounds"], "dynamics.rounds", minimum=1)
    if "max_rounds" in table:
        kwargs["max_rounds"] = _integer(table["max_rounds"], "dynamics.max_rounds", minimum=1)
    if "initial" in table:
        initial = table["initial"]
        if isinstance(initial, str):
            kwargs["initial"] = _choice(initial, "dynamics.initial", INITIAL_PROFILES, what="initial profile")
        elif isinstance(initial, list):
            efforts = _number_list(initial, "dynamics.initial")
            if len(efforts) != n:
                raise ScenarioError("dynamics.initial", initial, f"needs one effort per developer (n = {n})")
            if any(v < 0 for v in efforts):
                raise ScenarioError("dynamics.initial", initial, "efforts must be >= 0")
            kwargs["initial"] = efforts
        else:
            raise ScenarioError(
                "dynamics.initial", initial, f'must be "zero", "random" or a list of efforts, got {_kind(initial)}'
            )
    if "revision_probability" in table:  # checked by DynamicsSpec: schedule first, then (0, 1]
        kwargs["revision_probability"] = table["revision_probability"]
    if "response" in table:
        kwargs["response"] = _choice(table["response"], "dynamics.response", RESPONSES, what="response")
    if "temperature" in table:
        kwargs["temperature"] = _number(table["temperature"], "dynamics.temperature")
    return DynamicsSpec(**kwargs)


# ---------------------------------------------------------------------------
# Custom functions
# ---------------------------------------------------------------------------


def custom_allowed(allow_custom: bool = False) -> bool:
    """Whether custom code may run: ``allow_custom`` or the environment variable ``LBSIM_ALLOW_CUSTOM=1``."""
    return bool(allow_custom) or os.environ.get(ALLOW_CUSTOM_ENV, "").strip() == "1"


#: The form of a custom function's path: ``module.path:attribute.path`` of Python identifiers.
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_CALLABLE_PATH = re.compile(f"{_DOTTED}:{_DOTTED}")


def check_callable_path(path: object, field_name: str) -> str:
    """``path`` if it has the form ``"module.path:attribute"`` (identifiers only); nothing is imported."""
    _expect_string(path, field_name)
    if len(path) > 300 or not _CALLABLE_PATH.fullmatch(path):
        raise ScenarioError(field_name, path, 'must look like "module.path:attribute" (Python identifiers)')
    return path


#: The library's own example functions (:mod:`sim.examples`): pure numpy functions that ship with the package,
#: named by the bundled scenarios; they need no permission (any other module does).
BUILT_IN_FUNCTIONS = frozenset(
    f"sim.examples:{name}"
    for name in ("shifted_exponential", "shifted_exponential_limit", "exponential_cost", "huber_cost")
)


def _custom(path: object, field_name: str, allow_custom: bool) -> Callable:
    """The custom function at ``path`` if custom code is allowed; its form is checked either way.

    The functions in :data:`BUILT_IN_FUNCTIONS` are part of the library and always allowed.
    """
    check_callable_path(path, field_name)
    if path not in BUILT_IN_FUNCTIONS and not custom_allowed(allow_custom):
        raise ScenarioError(
            field_name, path, f"custom code is not run unless allowed (--allow-custom, allow_custom=True or "
            f"{ALLOW_CUSTOM_ENV}=1)"
        )
    return import_callable(path, field_name)


@contextlib.contextmanager
def _without_cwd_on_path():
    """``sys.path`` without the current directory (``""`` or its absolute path) unless ``PYTHONPATH`` lists it.

    ``python -m sim`` puts the working directory first on ``sys.path``; a custom
    module must come from an installed package or an explicit ``PYTHONPATH``.
    """
    cwd = os.path.realpath(os.getcwd())
    explicit = {
        os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    }

    def implicit_cwd(entry: str) -> bool:
        real = os.path.realpath(entry or ".")
        return real == cwd and real not in explicit

    saved = list(sys.path)
    sys.path[:] = [p for p in saved if not (isinstance(p, str) and implicit_cwd(p))]
    try:
        yield
    finally:
        sys.path[:] = saved


def import_callable(path: object, field_name: str) -> Callable:
    """Import ``"module.path:attribute"`` (the attribute may be dotted) and check it is callable.

    This imports (runs) the module: call it only for code the user allowed
    (see :func:`custom_allowed`).  The current directory is not searched
    unless ``PYTHONPATH`` names it.
    """
    check_callable_path(path, field_name)
    module_name, _, attribute = path.partition(":")
    try:
        with _without_cwd_on_path():
            obj = importlib.import_module(module_name)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - an import can fail in any way
        raise ScenarioError(
            field_name, path, f"cannot import module {module_name!r}: {describe_exception(err)}"
        ) from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ScenarioError(field_name, path, f"{module_name!r} has no attribute {attribute!r}") from None
        except Exception as err:  # noqa: BLE001 - a lazy attribute can fail in any way
            raise ScenarioError(field_name, path, f"cannot get {attribute!r}: {describe_exception(err)}") from None
    if not callable(obj):
        raise ScenarioError(field_name, path, f"{attribute!r} is not callable")
    return obj


# ---------------------------------------------------------------------------
# Strict value checks
# ---------------------------------------------------------------------------


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _shown(value: object) -> object:
    """``value`` for an error message: an integer too long to print is summarised."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(int(value)).bit_length() > 1000:
        return f"<integer of about {int(abs(int(value)).bit_length() * math.log10(2)) + 1} digits>"
    if isinstance(value, (list, tuple)) and any(_shown(v) is not v for v in value):
        return [_shown(v) for v in value]
    return value


def _listed(value: object) -> object:
    return value.tolist() if isinstance(value, np.ndarray) else list(value) if isinstance(value, tuple) else value


def _choose(choices) -> str:
    return f"choose one of {', '.join(choices)}"


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_float(value: object, field_name: str) -> float:
    if isinstance(value, (bool, str)) or value is None:
        raise ScenarioError(field_name, value, f"must be a number, got {_kind(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ScenarioError(field_name, _shown(value), "must be a finite number") from None
    except (TypeError, ValueError):
        raise ScenarioError(field_name, value, f"must be a number, got {_kind(value)}") from None


def _number(value: object, field_name: str, minimum: float | None = None) -> float:
    """A finite int or float (never a bool or string), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(field_name, value, f"must be a number, got {_kind(value)}")
    number = _as_float(value, field_name)
    if not math.isfinite(number):
        raise ScenarioError(field_name, value, "must be a finite number")
    if minimum is not None and number < minimum:
        raise ScenarioError(field_name, value, f"must be >= {minimum:g}")
    return number


def _integer(value: object, field_name: str, minimum: int | None = None) -> int:
    """``value`` as a Python int (numpy integers accepted), at least ``minimum``; else a :class:`ScenarioError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ScenarioError(field_name, value, f"must be an integer, got {_kind(value)}")
    if minimum is not None and value < minimum:
        raise ScenarioError(field_name, _shown(value), f"must be >= {minimum}")
    return int(value)


def _number_list(value: object, field_name: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ScenarioError(field_name, value, f"must be a list of numbers, got {_kind(value)}")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_number(item, field_name))
        except ScenarioError as err:
            raise ScenarioError(field_name, value, f"entry {i}: {err.message}") from None
    return tuple(out)


def _param(value: object, field_name: str, n: int) -> Param:
    """A score parameter: a number, a list of one number per developer, or ``{intercept, slope}``."""
    if isinstance(value, dict):
        _check_keys(value, field_name, ("intercept", "slope"))
        intercept = _number(_required(value, field_name, "intercept"), f"{field_name}.intercept")
        slope = _number(_required(value, field_name, "slope"), f"{field_name}.slope")
        return Affine(intercept, slope)
    if isinstance(value, list):
        values = _number_list(value, field_name)
        if len(values) != n:
            raise ScenarioError(field_name, value, f"needs one value per developer (n = {n}), got {len(values)}")
        return values
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(
            field_name, value, f"must be a number, a list or {{intercept = a, slope = b}}, got {_kind(value)}"
        )
    return _number(value, field_name)


def _expect_string(value: object, field_name: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(field_name, value, f"must be a string, got {_kind(value)}")
    return value


def _choice(value: object, field_name: str, choices, what: str = "value") -> str:
    _expect_string(value, field_name)
    if value not in choices:
        raise ScenarioError(field_name, value, f"unknown {what}{_suggest(value, choices)}; {_choose(choices)}")
    return value


def _table(value: object, field_name: str) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(field_name, value, f"must be a table, got {_kind(value)}")
    return value


def _section(data: dict, name: str) -> dict:
    if name not in data:
        return {}
    if not isinstance(data[name], dict):
        raise ScenarioError(name, data[name], f"must be a table [{name}], got {_kind(data[name])}")
    return data[name]


def _required(table: dict, prefix: str, key: str, hint: str = "") -> object:
    if key not in table:
        raise ScenarioError(f"{prefix}.{key}", None, f"missing required key{'; ' + hint if hint else ''}")
    return table[key]


def _check_keys(table: dict, prefix: str, allowed, context: str = "") -> None:
    """Reject keys not in ``allowed``, naming the first unknown one (dotted)."""
    for key in table:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else key
            kind = "section or key" if not prefix else "key"
            for_what = f" for {context}" if context else ""
            expected = ", ".join(allowed) if allowed else "none"
            raise ScenarioError(
                where, table[key], f"unknown {kind}{for_what}{_suggest(key, allowed)}; expected: {expected}"
            )
