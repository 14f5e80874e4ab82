"""What a strategy is: a small declared class (:class:`Strategy`), its parameters (:class:`Parameter`), the
registry (:data:`STRATEGIES`, :func:`register`) and how a scenario's spec becomes one (:func:`make_strategy`).

In the manner of Axelrod's players, every strategy declares, as class attributes, what tests check against its
behaviour: ``name``, ``stochastic``, ``memory_depth`` (rounds of history it uses; ``math.inf`` for unbounded),
``observes`` (a subset of :data:`OBSERVATIONS`), ``respects_budget`` and ``parameters``
(name -> :class:`Parameter`).  See ``docs/model.md#strategies``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from sim.errors import ScenarioError

if TYPE_CHECKING:
    from sim.engine.batch_game import BatchGame
    from sim.engine.cache import CandidateCache

#: What a strategy may observe: the published board of the round, its own true (noise-free) score as distinct
#: from its evaluated one (every best-response-based rule computes its candidates' scores noise-free; this flag
#: marks a rule that reasons about the gap), the rivals' past boards (its memory), the evaluation noise level.
OBSERVATIONS = frozenset({"published_board", "own_true_score", "rival_history", "noise_level"})


class Parameter(NamedTuple):
    """A strategy parameter: allowed range ``[low, high]`` (``(low, high]`` with ``open_low``), its ``default``
    (``None``: no default, the parameter is optional and its absence means something the strategy documents),
    a one-line ``description``, and ``integer`` when only whole numbers are allowed."""

    low: float
    high: float
    default: float | None
    description: str
    integer: bool = False
    open_low: bool = False

    def check(self, value: object, where: str) -> float:
        """``value`` as a float if it is in range; else a :class:`ScenarioError` naming ``where`` and the value."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ScenarioError(where, value, "must be a number")
        v = float(value)
        if not math.isfinite(v) and not (v == math.inf and self.high == math.inf and self.integer):
            raise ScenarioError(where, value, "must be a finite number")
        if self.integer and v != math.floor(v):
            raise ScenarioError(where, value, "must be a whole number")
        below = v <= self.low if self.open_low else v < self.low
        if below or v > self.high:
            lo = "(" if self.open_low else "["
            hi = f"{self.high:g}]" if math.isfinite(self.high) else "inf)"
            raise ScenarioError(where, value, f"must be in {lo}{self.low:g}, {hi}")
        return v


@dataclass(frozen=True, eq=False)
class Decision:
    """What developers ``rows`` see when they choose (arrays over scenarios ``S`` and rows ``m``).

    ``evaluated`` ``(S, n)``: the scores the leaderboard evaluated (rivals are seen at their published levels);
    ``current`` ``(S, m)``: the rows' current efforts; ``uniform`` ``(S, m)``: draws of the ``"choice"`` stream
    (``None`` for a population without a stochastic strategy); ``params``: name -> ``(S, m)`` float (``nan``
    where a parameter without default is absent); ``state``: name -> ``(S, m, ...)`` the rows' state
    (:meth:`Strategy.init_state`; a copy: a strategy may update it in place and return it);
    ``cache``: the run's :class:`~sim.engine.cache.CandidateCache`.
    """

    game: BatchGame
    evaluated: np.ndarray
    rows: np.ndarray
    current: np.ndarray
    uniform: np.ndarray | None
    params: Mapping[str, np.ndarray]
    state: Mapping[str, np.ndarray]
    cache: CandidateCache | None


class Strategy:
    """A developer strategy: declared metadata and a vectorised :meth:`choose`.

    An instance is one developer's frozen spec: the class plus its parameter values (``params``, validated by
    the constructor against :attr:`parameters`).  Instances are immutable, hashable and compare by name and
    parameters.  Subclasses set the class attributes below and override :meth:`choose` (and
    :meth:`init_state` when they remember anything: state lives in arrays the run owns, one entry per
    scenario and developer, so that both engines step it identically).
    """

    name: ClassVar[str] = ""
    stochastic: ClassVar[bool] = False
    memory_depth: ClassVar[float] = 0
    observes: ClassVar[frozenset[str]] = frozenset({"published_board"})
    respects_budget: ClassVar[bool] = True
    parameters: ClassVar[Mapping[str, Parameter]] = MappingProxyType({})

    def __init__(self, _where: str = "developers.strategy", **params: Any):
        values: dict[str, float] = {}
        for key, value in params.items():
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                raise ScenarioError(f"{_where}.{key}", value, f"unknown parameter of {self.name!r} (known: {known})")
            values[key] = self.parameters[key].check(value, f"{_where}.{key}")
        for key, p in self.parameters.items():
            if key not in values and p.default is not None:
                values[key] = float(p.default)
        self.check(values, _where)
        object.__setattr__(self, "params", MappingProxyType(dict(sorted(values.items()))))

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other):
        return type(other) is type(self) and dict(self.params) == dict(other.params)

    def __hash__(self):
        return hash((type(self), tuple(self.params.items())))

    def __repr__(self):
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{type(self).__name__}({inner})"

    @classmethod
    def check(cls, values: dict[str, float], where: str) -> None:
        """Checks across parameters (the ranges are checked one by one before); raise :class:`ScenarioError`."""

    def to_spec(self) -> str | dict:
        """The scenario-file form: the name, or ``{name = ..., **given parameters}``."""
        given = {k: (int(v) if self.parameters[k].integer else v) for k, v in self.params.items()}
        cls = type(self)
        key = self.name if STRATEGIES.get(self.name) is cls else f"{cls.__module__}:{cls.__qualname__}"
        return {"name": key, **given} if given else key

    def init_state(self, S: int, n: int, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-developer state arrays, shaped ``(S, n, ...)`` (none by default: a memoryless strategy).

        ``params`` are the parameters of every developer playing this strategy in the run (``(S, n)``; the
        other developers' entries hold the defaults), for state whose size depends on them."""
        return {}

    def choose(self, d: Decision) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Efforts ``(S, m)`` for developers ``d.rows`` and the rows' new state (name -> ``(S, m, ...)``)."""
        raise NotImplementedError


#: The registered strategies by name (:func:`register`).
STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add ``cls`` to :data:`STRATEGIES` under ``cls.name`` after checking its declared metadata (a decorator)."""
    check_declaration(cls)
    STRATEGIES[cls.name] = cls
    return cls


def check_declaration(cls: object) -> None:
    """``ValueError`` unless ``cls`` is a :class:`Strategy` subclass whose metadata is well formed."""
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"{cls!r} is not a subclass of sim.strategies.Strategy")
    if not isinstance(cls.name, str) or not cls.name:
        raise ValueError(f"{cls.__name__}.name must be a non-empty string")
    if not isinstance(cls.stochastic, bool) or not isinstance(cls.respects_budget, bool):
        raise ValueError(f"{cls.__name__}: stochastic and respects_budget must be booleans")
    depth = cls.memory_depth
    if isinstance(depth, bool) or not isinstance(depth, (int, float)) or depth < 0 or (
        math.isfinite(depth) and depth != int(depth)
    ):
        raise ValueError(f"{cls.__name__}.memory_depth must be a whole number >= 0 or math.inf")
    if not isinstance(cls.observes, frozenset) or not cls.observes <= OBSERVATIONS:
        raise ValueError(f"{cls.__name__}.observes must be a frozenset of {sorted(OBSERVATIONS)}")
    if not all(isinstance(p, Parameter) for p in cls.parameters.values()):
        raise ValueError(f"{cls.__name__}.parameters must map names to sim.strategies.Parameter")


def _custom_class(name: str, where: str, allow_custom: bool) -> type[Strategy]:
    from sim.scenario.custom import _custom

    cls = _custom(name, where, allow_custom)
    try:
        check_declaration(cls)
    except ValueError as err:
        raise ScenarioError(where, name, str(err)) from None
    return cls


def make_strategy(spec: object, where: str = "developers.strategy", *, allow_custom: bool = False) -> Strategy:
    """The strategy ``spec`` names: a registered name, ``"module:Class"`` (custom code: needs ``allow_custom``),
    or a table ``{"name": ..., **parameters}``; an instance passes through.  Unknown names and parameters and
    out-of-range values are :class:`ScenarioError` naming ``where`` (``developers.strategy[1].eta``)."""
    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "name" not in params:
            raise ScenarioError(f"{where}.name", None, "missing: give {name = \"...\", ...parameters}")
        name = params.pop("name")
    else:
        name, params = spec, {}
    if not isinstance(name, str):
        raise ScenarioError(where, name, "must be a strategy name or a table {name = ..., ...}")
    if name in STRATEGIES:
        cls = STRATEGIES[name]
    elif ":" in name:
        cls = _custom_class(name, f"{where}.name" if params else where, allow_custom)
    else:
        raise ScenarioError(where, name, f"unknown strategy; known: {', '.join(sorted(STRATEGIES))}")
    return cls(_where=where, **params)


def strategy_label(strategy: Strategy) -> str:
    """``name`` or ``name(k=v, ...)``: a readable label (for tables and ``lbsim run --json``)."""
    if not strategy.params:
        return strategy.name
    return f"{strategy.name}({', '.join(f'{k}={v:g}' for k, v in strategy.params.items())})"


def parse_strategy_option(text: str, where: str = "--strategies"):
    """A strategy from the command line: ``name`` or ``name:key=value,key=value`` (numbers as numbers), the
    same spec a scenario's ``[developers] strategy`` entry gives (``hedge:eta=0.1`` -> ``{name = "hedge",
    eta = 0.1}``)."""
    name, _, rest = text.partition(":")
    if not rest:
        return name
    spec: dict = {"name": name}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ScenarioError(where, text, "expected name or name:key=value,key=value")
        try:
            number = float(value)
        except ValueError:
            raise ScenarioError(where, text, f"{key}: {value!r} is not a number") from None
        spec[key] = int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return spec
