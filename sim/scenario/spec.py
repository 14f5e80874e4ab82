"""The whole scenario (:class:`Scenario`): its tables, the one-shot game it defines, and its serialisation
(:meth:`Scenario.to_dict`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.costs import CostFunction, CustomCost
from sim.errors import ScenarioError, callable_path
from sim.game import LeaderboardGame
from sim.leaderboard import tie_priority
from sim.rewards import RewardScheme
from sim.scenario.developers import Developers, _read_only, scenario_streams
from sim.scenario.probes import _check_bound_score, _probe_custom_cost, _probe_custom_score
from sim.scenario.schema import _REWARD_KEYS, _SCORE_KEYS, DEFAULT_MAX_ROUNDS
from sim.scenario.sections import DesignerSpec, DynamicsSpec, LeaderboardSpec
from sim.scenario.values import _listed, _shown
from sim.scores import (
    Affine,
    CustomScoreSpec,
    ScoreFamily,
    ScoreSpec,
)


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
