"""The tournament file: who plays, in which game, against which mixes of rivals, and how shares evolve.

TOML, validated into frozen dataclasses; every error names the field and the
value (:class:`sim.errors.ScenarioError`), like scenario and sweep files::

    name = "small-tournament"
    seed = 1
    developers = 3                 # developers per match (n >= 2)
    repetitions = 3                # matches per mix and tau; a multiple of n deals every strategy of a mix
                                   # every developer slot equally often (a rotation per repetition)
    mixes = "all"                  # "all": every multiset of n strategies; "focal": each strategy against each
                                   # homogeneous rival population (one i and n - 1 copies of j)
    strategies = ["best", {name = "logit", temperature = 0.05}, "rank_defender"]

    [capabilities]                 # values = [...] (one per developer slot), or
    distribution = "uniform"       # or drawn per match: uniform (low, high) | normal (mean, sd)
    low = 0.0
    high = 1.0

    [game]
    scenario = "../two_developers.toml"   # score, cost, reward, leaderboard and dynamics from a scenario file
                                          # (its developers replaced), or inline tables score = {...}, cost = {...},
                                          # reward = {...}, leaderboard = {...}, dynamics = {...}
    tau = [0.0, 50.0]              # designer.tau values: every mix is played at each
    rounds = 60                    # rounds per match (no playing on)

    [evolution]
    selection = 1.0                # intensity w of the exponential fitness exp(w * utility)
    steps = 200                    # replicator steps
    population = 20                # Moran population N

A strategy is a registered name or a table ``{name = ..., <parameter> = ...}``;
the game's scenario, with the strategy given to every developer, must parse
(so unknown names and parameters get the scenario parser's error, prefixed by
``strategies[k]``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.values import _check_keys, _integer, _kind, _number, _number_list, _table

TOURNAMENT_KEYS = ("name", "seed", "developers", "repetitions", "mixes", "strategies", "capabilities", "game",
                   "evolution")
MIX_MODES = ("all", "focal")
GAME_SECTIONS = ("score", "cost", "reward", "leaderboard", "dynamics")
GAME_KEYS = ("scenario", "tau", "rounds", *GAME_SECTIONS)
CAPABILITY_KEYS = {"values": (), "uniform": ("low", "high"), "normal": ("mean", "sd")}
EVOLUTION_KEYS = ("selection", "steps", "population")
#: Largest number of matches one tournament may mean (a guard against a typo).
MAX_MATCHES = 1_000_000
MAX_DEVELOPERS_PER_MATCH = 50


@dataclass(frozen=True)
class StrategyEntry:
    """One strategy of the tournament: its registered ``name`` and ``params`` (sorted ``(key, value)`` pairs)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``name`` or ``name(key=value, ...)``: unique within a tournament."""
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in self.params)})"

    def to_scenario(self) -> str | dict:
        """As written in a scenario file's ``developers.strategy``."""
        return self.name if not self.params else {"name": self.name, **dict(self.params)}


@dataclass(frozen=True)
class Capabilities:
    """Fixed ``values`` (one per developer of a match) or a ``distribution`` drawn per match."""

    values: tuple[float, ...] | None = None
    distribution: str | None = None
    params: tuple[tuple[str, float], ...] = ()

    def draw(self, rng, n: int):
        """``n`` capabilities for one match from ``rng`` (fixed values: as given, developer ``d`` has ``values[d]``;
        which strategy plays developer ``d`` is the dealing of :func:`sim.tournament.matches.plan_matches`)."""
        import numpy as np

        if self.values is not None:
            return np.asarray(self.values, dtype=float)
        p = dict(self.params)
        if self.distribution == "uniform":
            return rng.uniform(p["low"], p["high"], n)
        return rng.normal(p["mean"], p["sd"], n)

    def to_dict(self) -> dict:
        if self.values is not None:
            return {"values": list(self.values)}
        return {"distribution": self.distribution, **dict(self.params)}


@dataclass(frozen=True)
class Evolution:
    """The evolutionary processes' settings: selection intensity ``w``, replicator ``steps``, Moran ``population``."""

    selection: float = 1.0
    steps: int = 200
    population: int = 20


@dataclass(frozen=True)
class TournamentSpec:
    """A validated tournament (see the module docstring). ``game`` is the scenario dict without developers."""

    name: str
    seed: int
    developers: int
    repetitions: int
    mixes: str
    strategies: tuple[StrategyEntry, ...]
    capabilities: Capabilities
    game: Any  # plain TOML-shaped dict (read-only by convention): score, cost, reward, leaderboard, dynamics
    taus: tuple[float, ...]
    rounds: int
    evolution: Evolution
    source: str | None = None
    allow_custom: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.strategies)

    def to_dict(self) -> dict:
        """Plain dict: everything that determines the tournament's results."""
        return {
            "name": self.name,
            "seed": self.seed,
            "developers": self.developers,
            "repetitions": self.repetitions,
            "mixes": self.mixes,
            "strategies": [s.to_scenario() for s in self.strategies],
            "capabilities": self.capabilities.to_dict(),
            "game": self.game,
            "tau": list(self.taus),
            "rounds": self.rounds,
            "evolution": {"selection": self.evolution.selection, "steps": self.evolution.steps,
                          "population": self.evolution.population},
        }


def load_tournament(path, *, allow_custom: bool = False) -> TournamentSpec:
    """Read and validate the tournament file at ``path`` (a game scenario path is relative to it)."""
    from sim.scenario import read_toml

    path = Path(path)
    data = read_toml(path, "tournament file")
    return parse_tournament(data, base_dir=path.parent, name_hint=path.stem, source=str(path),
                            allow_custom=allow_custom)


def _strategy(value: object, k: int) -> StrategyEntry:
    field = f"strategies[{k}]"
    if isinstance(value, str):
        if not value.strip():
            raise ScenarioError(field, value, "needs a strategy name")
        return StrategyEntry(value)
    if isinstance(value, dict):
        if "name" not in value:
            raise ScenarioError(f"{field}.name", None, "missing required key (the strategy's registered name)")
        name = value["name"]
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(f"{field}.name", name, "must be a strategy name")
        params = []
        for key in sorted(k2 for k2 in value if k2 != "name"):
            v = value[key]
            if isinstance(v, (dict, list)):
                raise ScenarioError(f"{field}.{key}", v,
                                    f"a strategy parameter is a number or a string, got {_kind(v)}")
            params.append((key, v))
        return StrategyEntry(name, tuple(params))
    raise ScenarioError(field, value, f"must be a strategy name or a table {{name = ...}}, got {_kind(value)}")


def _capabilities(value: object, n: int) -> Capabilities:
    table = _table(value, "capabilities")
    if "values" in table:
        _check_keys(table, "capabilities", ("values",), "fixed values")
        values = _number_list(table["values"], "capabilities.values")
        if len(values) != n:
            raise ScenarioError("capabilities.values", list(values), f"needs one value per developer (n = {n})")
        return Capabilities(values=values)
    dist = table.get("distribution")
    if dist is None:
        raise ScenarioError("capabilities", table, 'give values = [...] or distribution = "uniform" | "normal"')
    if dist not in ("uniform", "normal"):
        raise ScenarioError("capabilities.distribution", dist, "unknown distribution; choose from uniform, normal")
    allowed = CAPABILITY_KEYS[dist]
    _check_keys(table, "capabilities", ("distribution", *allowed), f"the {dist} distribution")
    defaults = {"low": 0.0, "high": 1.0, "mean": 0.0, "sd": 1.0}
    params = {k: _number(table.get(k, defaults[k]), f"capabilities.{k}") for k in allowed}
    if dist == "uniform" and not params["high"] > params["low"]:
        raise ScenarioError("capabilities.high", params["high"], f"must be > low = {params['low']:g}")
    if dist == "normal" and not params["sd"] > 0:
        raise ScenarioError("capabilities.sd", params["sd"], "must be > 0")
    return Capabilities(distribution=dist, params=tuple(sorted(params.items())))


def _game(value: object, base_dir: Path | None) -> tuple[dict, tuple[float, ...], int]:
    from sim.scenario import read_toml

    table = _table(value, "game")
    _check_keys(table, "game", GAME_KEYS)
    if "scenario" in table:
        inline = [k for k in GAME_SECTIONS if k in table]
        if inline:
            raise ScenarioError(f"game.{inline[0]}", table[inline[0]],
                                "give either game.scenario or inline tables, not both")
        where = table["scenario"]
        if not isinstance(where, str) or not where.strip():
            raise ScenarioError("game.scenario", where, "must be the path of a scenario file")
        path = Path(os.path.normpath((base_dir or Path(".")) / where))
        try:
            data = read_toml(path, "scenario file")
        except ScenarioError as err:
            raise ScenarioError(f"game.scenario ({path}): {err.field}", err.value, err.message) from None
        game = {k: v for k, v in data.items() if k in GAME_SECTIONS or k == "designer"}
    else:
        for key in ("score", "cost", "reward"):
            if key not in table:
                raise ScenarioError(f"game.{key}", None, "missing required table (or give game.scenario = \"...\")")
        game = {k: _table(table[k], f"game.{k}") for k in GAME_SECTIONS if k in table}
    designer_tau = (game.pop("designer", None) or {}).get("tau", 0.0)
    raw_tau = table.get("tau", designer_tau)
    taus = (_number(raw_tau, "game.tau", 0.0),) if not isinstance(raw_tau, list) else _number_list(raw_tau, "game.tau")
    if not taus:
        raise ScenarioError("game.tau", raw_tau, "needs at least one value")
    for t in taus:
        if t < 0:
            raise ScenarioError("game.tau", list(taus), "every value must be >= 0")
    if len(set(taus)) != len(taus):
        raise ScenarioError("game.tau", list(taus), "a value is listed twice")
    dynamics = dict(game.get("dynamics", {}))
    rounds = _integer(table.get("rounds", dynamics.get("rounds", 100)), "game.rounds", 1)
    for key in ("response", "temperature", "max_rounds"):  # the strategies decide; matches never play on
        dynamics.pop(key, None)
    dynamics["rounds"] = rounds
    dynamics["max_rounds"] = rounds
    game["dynamics"] = dynamics
    return game, taus, rounds


def _evolution(value: object) -> Evolution:
    table = _table(value, "evolution")
    _check_keys(table, "evolution", EVOLUTION_KEYS)
    selection = _number(table.get("selection", 1.0), "evolution.selection", 0.0)
    steps = _integer(table.get("steps", 200), "evolution.steps", 1)
    population = _integer(table.get("population", 20), "evolution.population", 2)
    return Evolution(selection=selection, steps=steps, population=population)


def parse_tournament(data: dict, *, base_dir=None, name_hint: str = "tournament", source: str | None = None,
                     allow_custom: bool = False) -> TournamentSpec:
    """Validate a tournament given as a dict (the parsed TOML); see the module docstring."""
    from sim.scenario import custom_allowed

    allow_custom = custom_allowed(allow_custom)
    if not isinstance(data, dict):
        raise ScenarioError("tournament", type(data).__name__, "must be a table")
    if "base" in data or "axes" in data:
        raise ScenarioError("tournament", source, "is a sweep file, not a tournament file")
    if "game" not in data and any(k in data for k in ("score", "cost", "reward")):
        raise ScenarioError("tournament", source, 'is a scenario file, not a tournament file; a tournament names it '
                            'with [game] scenario = "path/to/it.toml"')
    _check_keys(data, "", TOURNAMENT_KEYS)
    name = data.get("name", name_hint)
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise ScenarioError("name", name, "needs a non-empty one-line string")
    seed = _integer(data.get("seed", 0), "seed", 0)
    if "developers" not in data:
        raise ScenarioError("developers", None, "missing required key: the number of developers per match")
    n = _integer(data["developers"], "developers", 2)
    if n > MAX_DEVELOPERS_PER_MATCH:
        raise ScenarioError("developers", n, f"at most {MAX_DEVELOPERS_PER_MATCH} developers per match")
    repetitions = _integer(data.get("repetitions", 1), "repetitions", 1)
    mixes = data.get("mixes", "all")
    if mixes not in MIX_MODES:
        raise ScenarioError("mixes", mixes, f"unknown mix mode; choose from {', '.join(MIX_MODES)}")
    raw = data.get("strategies")
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("strategies", raw, "needs a non-empty list of strategies")
    strategies = tuple(_strategy(v, k) for k, v in enumerate(raw))
    labels = [s.label for s in strategies]
    for k, label in enumerate(labels):
        if labels.index(label) != k:
            raise ScenarioError(f"strategies[{k}]", raw[k], f"is listed twice (as strategies[{labels.index(label)}])")
    if "capabilities" not in data:
        raise ScenarioError("capabilities", None, "missing required table [capabilities] (values or distribution)")
    capabilities = _capabilities(data["capabilities"], n)
    if "game" not in data:
        raise ScenarioError("game", None, "missing required table [game]")
    game, taus, rounds = _game(data["game"], None if base_dir is None else Path(base_dir))
    evolution = _evolution(data.get("evolution", {}))
    if evolution.population < n:
        raise ScenarioError("evolution.population", evolution.population,
                            f"must be at least the developers per match (n = {n})")
    spec = TournamentSpec(
        name=name, seed=seed, developers=n, repetitions=repetitions, mixes=mixes, strategies=strategies,
        capabilities=capabilities, game=game, taus=taus, rounds=rounds, evolution=evolution, source=source,
        allow_custom=allow_custom,
    )  # fmt: skip
    matches = mix_count(len(strategies), n, mixes) * len(taus) * repetitions
    if matches > MAX_MATCHES:
        raise ScenarioError("repetitions", repetitions, f"means {matches} matches (at most {MAX_MATCHES})")
    _check_game(spec)
    return spec


def mix_count(S: int, n: int, mode: str) -> int:
    """Number of distinct mixes: ``C(S + n - 1, n)`` multisets (``all``), or the distinct ``{i} + (n-1){j}``."""
    if mode == "all":
        return math.comb(S + n - 1, n)
    return S * S - (S * (S - 1) // 2 if n == 2 else 0)


def _check_game(spec: TournamentSpec) -> None:
    """The game must parse at every ``tau`` (errors named ``game.<field>`` / ``game.tau``), and every strategy,
    played by every developer, must make a valid scenario (errors named ``strategies[k]``)."""
    import numpy as np

    from sim.scenario import parse_scenario
    from sim.tournament.matches import scenario_dict

    theta = spec.capabilities.draw(np.random.default_rng(0), spec.developers)
    for k, tau in enumerate(spec.taus):
        try:
            parse_scenario(scenario_dict(spec, theta, None, tau, 0), allow_custom=spec.allow_custom)
        except ScenarioError as err:
            if k and err.field.startswith("designer"):
                raise ScenarioError("game.tau", tau, err.message) from None
            raise err.prefixed("game") from None
    for k, strategy in enumerate(spec.strategies):
        try:
            parse_scenario(scenario_dict(spec, theta, [strategy] * spec.developers, spec.taus[0], 0),
                           allow_custom=spec.allow_custom)
        except ScenarioError as err:
            raise ScenarioError(f"strategies[{k}]", strategy.to_scenario(), err.message) from None
