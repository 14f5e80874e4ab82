"""Developer strategies: declared classes, registered by name, played by both engines (``docs/model.md#strategies``).

A scenario gives ``[developers] strategy = "best"`` (everyone) or one entry per developer, a name or a table
``{name = "hedge", eta = 0.1}`` (:func:`parse_strategies`).  Built-ins (:mod:`sim.strategies.builtin`):
``best``, ``logit`` (``temperature``), ``rank_defender``, ``partial_adjustment`` (``lambda``),
``fictitious_play`` (``decay`` or ``window``), ``expected_utility``, ``hedge`` (``eta``), ``satisficer``
(``target_rank``).  A user strategy subclasses :class:`Strategy` and is added with :func:`register`, or is
named ``"module:Class"`` in the scenario (custom code: needs ``--allow-custom``).

Both engines call :meth:`Population.choose`: the batch engine through :func:`play_population`, the Mesa model
from :meth:`sim.model.Developer.respond`.
"""

from __future__ import annotations

from sim.errors import ScenarioError
from sim.strategies import builtin
from sim.strategies.base import (
    OBSERVATIONS,
    STRATEGIES,
    Decision,
    Parameter,
    Strategy,
    check_declaration,
    make_strategy,
    parse_strategy_option,
    register,
    strategy_label,
)
from sim.strategies.population import Population, population_deterministic, scenario_strategies, strategy_names

__all__ = [
    "OBSERVATIONS",
    "STRATEGIES",
    "Decision",
    "Parameter",
    "Population",
    "Strategy",
    "builtin",
    "check_declaration",
    "make_strategy",
    "parse_strategy_option",
    "parse_strategies",
    "population_deterministic",
    "register",
    "scenario_strategies",
    "strategies_to_spec",
    "strategy_label",
    "strategy_names",
]


def parse_strategies(raw: object, n: int, *, allow_custom: bool = False,
                     where: str = "developers.strategy") -> tuple[Strategy, ...]:
    """``developers.strategy``: one spec for everyone, or a list of ``n`` specs, as a tuple of ``n`` frozen
    :class:`Strategy` instances (:func:`make_strategy`; errors name ``developers.strategy[i].param``)."""
    if isinstance(raw, (list, tuple)):
        if len(raw) != n:
            raise ScenarioError(where, [s if isinstance(s, (str, dict)) else repr(s) for s in raw],
                                f"needs one strategy per developer (n = {n}), got {len(raw)}")
        return tuple(make_strategy(spec, f"{where}[{i}]", allow_custom=allow_custom) for i, spec in enumerate(raw))
    return (make_strategy(raw, where, allow_custom=allow_custom),) * n


def strategies_to_spec(strategies: tuple[Strategy, ...]) -> str | dict | list:
    """The scenario-file form of ``developers.strategy``: one spec when everyone plays the same, else a list."""
    specs = [s.to_spec() for s in strategies]
    return specs[0] if all(s == strategies[0] for s in strategies) else specs


def response_strategies(scenario) -> tuple[Strategy, ...]:
    """Each developer's strategy: ``developers.strategy``, or the one ``dynamics.response`` names."""
    given = scenario_strategies(scenario)
    if given is not None:
        return given
    dyn = scenario.dynamics
    if getattr(dyn, "response", "best") == "logit":
        return (make_strategy({"name": "logit", "temperature": dyn.temperature}),) * scenario.n
    return (make_strategy("best"),) * scenario.n
