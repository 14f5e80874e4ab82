"""Parsing and checking a scenario document (a TOML table) into a :class:`~sim.scenario.Scenario`."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.costs import COST_FAMILIES, CostFunction
from sim.errors import ScenarioError
from sim.leaderboard import TIE_BREAKS
from sim.rewards import SCHEMES, RewardScheme
from sim.scenario.custom import _custom, check_callable_path
from sim.scenario.developers import Developers, SampleSpec
from sim.scenario.schema import (
    _COST_KEYS,
    _REWARD_KEYS,
    _SCORE_KEYS,
    _SECTIONS_REQUIRED,
    _TOP_LEVEL_KEYS,
    DISTRIBUTIONS,
    INITIAL_PROFILES,
    RESPONSES,
    SCHEDULES,
    SCORE_FAMILIES,
)
from sim.scenario.sections import DesignerSpec, DynamicsSpec, LeaderboardSpec
from sim.scenario.spec import Scenario
from sim.scenario.values import (
    _check_keys,
    _choice,
    _choose,
    _expect_string,
    _integer,
    _kind,
    _number,
    _number_list,
    _param,
    _required,
    _section,
    _table,
)
from sim.scores import (
    CustomScoreSpec,
    ExpSaturationSpec,
    PowerLawSpec,
    ScoreSpec,
)


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
