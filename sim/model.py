"""The Mesa model: developers as agents, for trying new behaviour one agent at a time.

:class:`LeaderboardModel` (a ``mesa.Model``) holds one scenario's
leaderboard; :class:`Developer` agents (``mesa.Agent``) each have a
capability and a :meth:`Developer.step` that responds to the published
leaderboard; a :class:`Designer` agent holds the tune-before-test level
``tau``; a ``mesa.DataCollector`` records every round.

Both engines call the same game functions: a developer's response is the
scenario's response rule (:data:`sim.engine.RESPONSES`) for its own row, on
a batch of one scenario, and random draws come from the same per-scenario streams
(:class:`sim.engine.DynamicsRandom`) in the same order.  For the same
scenario and seed the model therefore produces exactly the batch engine's
trajectory, for every schedule (a test says so).

With ``[developers] strategy`` (:mod:`sim.strategies`) each developer's
:meth:`Developer.respond` asks the run's :class:`sim.strategies.Population`,
the objects the batch engine steps, for its own row: mixed populations of
built-in or user strategies give the batch engine's trajectory too.

To try a new behaviour, subclass :class:`Developer` and override
:meth:`Developer.respond`; pass the class as ``developer_class``.
:class:`RankDefender` is a small example: a developer that only ever spends
what it takes to keep its current rank.

The model is written against the Mesa API shared by 3.3 and later:
``Model(rng=...)``, ``model.agents``, ``AgentSet.do``, ``DataCollector``.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim import analysis
from sim.engine import (
    BatchGame,
    CandidateCache,
    DynamicsRandom,
    batch_key,
    effort_ceiling,
    initial_profiles,
    leaderboard_frame,
    response_rule,
)
from sim.engine.settings import scenario_deterministic
from sim.errors import ScenarioError
from sim.leaderboard import capability_order


class Developer(mesa.Agent):
    """A model developer: capability ``theta``, current ``effort``, and what the leaderboard shows of it.

    ``index`` is the developer id (its position in the scenario).
    ``score``, ``published`` and ``rank`` are set by the model each time it
    publishes the leaderboard.
    """

    def __init__(self, model: LeaderboardModel, index: int, capability: float, effort: float = 0.0):
        super().__init__(model)
        self.index = int(index)
        self.capability = float(capability)
        self.effort = float(effort)
        self.next_effort = self.effort
        self.score = np.nan
        self.published = np.nan
        self.rank = 0

    def respond(self) -> float:
        """The effort this developer chooses against the published leaderboard.

        The scenario's response rule (:func:`sim.engine.response_rule`, the
        rule the batch engine plays) for this developer's row: the exact best
        response, kept at the current effort when that is already a best
        response (:func:`sim.engine.hold_current`), or the logit response.
        Override to try another behaviour.
        """
        model = self.model
        uniform = None if model.choice_draws is None else np.array([[model.choice_draws[self.index]]])
        if model.population is not None:  # developers.strategy: the same objects the batch engine steps
            effort = model.population.choose(model.game, model.evaluated[None, :], np.array([[self.index]]),
                                             np.array([[self.effort]]), uniform, model.cache)
            return float(effort[0, 0])
        rule = response_rule(model.response)
        effort = rule.choose(
            model.game, model.evaluated[None, :], np.array([[self.index]]), cache=model.cache,
            current=np.array([[self.effort]]), temperature=model.temperature, uniform=uniform,
        )  # fmt: skip
        return float(effort[0, 0])

    def step(self) -> None:
        """Decide (the model applies it with :meth:`advance`)."""
        self.next_effort = self.respond()

    def advance(self) -> None:
        self.effort = self.next_effort


class RankDefender(Developer):
    """Example behaviour: never climbs, only spends what it takes to keep its current rank.

    It takes the exact best response when that does not improve its rank;
    otherwise the least effort among the candidates that keeps the rank it
    has.  Shows how a subclass changes behaviour with one method.
    """

    def respond(self) -> float:
        model = self.model
        response = model.game.respond(model.evaluated[None, :], np.array([[self.index]]), candidates=True)
        if response.rank[0, 0] >= self.rank:  # the best response does not climb
            return float(response.effort[0, 0])
        efforts = response.candidate_effort[0, 0]
        holds = np.isfinite(efforts) & (response.candidate_rank[0, 0] <= self.rank)
        return float(np.min(efforts[holds]))


class Designer(mesa.Agent):
    """The leaderboard's designer: commits to the tune-before-test level ``tau``.

    A fixed ``tau`` here (the paper's designer moves first and once);
    subclass to study a designer that adapts.
    """

    def __init__(self, model: LeaderboardModel, tau: float):
        super().__init__(model)
        self.tau = float(tau)

    def step(self) -> None:  # a committed designer does not move
        pass


class LeaderboardModel(mesa.Model):
    """Repeated leaderboard competition for one scenario, as a Mesa model.

    Parameters
    ----------
    scenario:
        A :class:`sim.scenario.Scenario`; its dynamics section sets the
        schedule, response, noise, budget and initial profile.
    tau:
        Overrides the designer's ``tau``.
    developer_class:
        The :class:`Developer` subclass to use for every developer.

    Round 0 is the initial profile; each :meth:`step` is one round.
    """

    def __init__(self, scenario, tau: float | None = None, developer_class: type[Developer] = Developer):
        super().__init__(rng=scenario.seed)
        self.scenario = scenario
        dyn = scenario.dynamics
        self.schedule = dyn.schedule
        self.response = getattr(dyn, "response", "best")
        strategies = getattr(scenario.developers, "strategy", None)
        #: The developers' strategies and their state (sim.strategies.Population), or None: dynamics.response.
        self.population = None
        if strategies is not None:
            from sim.strategies import Population

            self.population = Population([strategies])
        self.stochastic_choice = self.response == "logit" or bool(self.population and self.population.stochastic)
        self.temperature = np.array([getattr(dyn, "temperature", None) or 1.0])
        self.revision_probability = getattr(dyn, "revision_probability", None) or 1.0
        budget = getattr(scenario, "budget", None)
        budget = np.full(scenario.n, np.inf) if budget is None else np.asarray(budget, dtype=float)
        noise = float(getattr(scenario.leaderboard, "noise", 0.0))
        self.game = BatchGame.from_games([scenario.game(tau)], budget=budget[None, :], noise=np.array([noise]))
        self.n = scenario.n
        self.cache = CandidateCache(self.game)  # least efforts remembered across rounds, as in the batch engine
        self.draws = DynamicsRandom(scenario.seed, self.n)
        self.designer = Designer(self, float(self.game.tau[0]))
        x0 = initial_profiles([scenario], self.game, [self.draws])[0]
        self.developers = [
            developer_class(self, i, theta, effort)
            for i, (theta, effort) in enumerate(zip(scenario.theta, x0, strict=True))
        ]
        self.choice_draws = None
        self.cell = float(analysis.recurrence_cell(max(_effort_scale(self.game), float(x0.max()))))
        self.deterministic = scenario_deterministic(scenario)
        self.keys: list[np.uint64] = []
        self.max_rounds: int | None = None  # the cap on the horizon, set by run()
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "total_effort": lambda m: float(sum(d.effort for d in m.developers)),
            },
            agent_reporters={
                "developer": "index",
                "capability": "capability",
                "effort": "effort",
                "score": "score",
                "published": "published",
                "rank": "rank",
            },
        )
        self._publish()

    # -- the leaderboard -------------------------------------------------

    @property
    def efforts(self) -> np.ndarray:
        return np.array([d.effort for d in self.developers])

    def _publish(self) -> None:
        """Evaluate and publish the leaderboard for the current efforts, then record the round."""
        x = self.efforts[None, :]
        true = self.game.scores(x)
        self.shock = None
        if self.game.noise[0] > 0:
            self.shock = self.game.noise[:, None] * self.draws.noise()[None, :]
            evaluated = true + self.shock
        else:
            evaluated = true
        self.evaluated = evaluated[0].copy()
        published = self.game.published(evaluated)[0]
        rank = self.game.ranks(evaluated)[0]
        for d in self.developers:
            d.score = float(true[0, d.index])
            d.published = float(published[d.index])
            d.rank = int(rank[d.index])
        self.keys.append(analysis.state_keys(x, rank[None, :], np.array([self.cell]))[0])
        self.datacollector.collect(self)

    def _update_evaluated(self, developer: Developer) -> None:
        """After a developer moves within a round (sequential schedules), its evaluated score moves with it."""
        i = developer.index
        moved = self.game.score[np.array([0]), np.array([i])].score(self.game.tau + np.array([developer.effort]))[0]
        self.evaluated[i] = moved if self.shock is None else moved + self.shock[0, i]

    # -- one round ---------------------------------------------------------

    def step(self) -> None:
        """One round: developers respond under the scenario's schedule, then the leaderboard is published."""
        self.designer.step()
        by_id = self.developers
        if self.schedule in ("simultaneous", "asynchronous"):
            self.choice_draws = self.draws.choice() if self.stochastic_choice else None
            movers = self.agents.select(lambda a: isinstance(a, Developer))
            if self.schedule == "asynchronous":
                revise = self.draws.revision() < self.revision_probability
                movers = movers.select(lambda d: bool(revise[d.index]))
            movers.do("step")
            movers.do("advance")
        else:
            order = self.draws.order() if self.schedule == "random_order" else np.arange(self.n)
            self.choice_draws = self.draws.choice() if self.stochastic_choice else None
            for i in order:
                developer = by_id[int(i)]
                developer.step()
                developer.advance()
                self._update_evaluated(developer)
        self._publish()

    def run(self, rounds: int | None = None, max_rounds: int | None = None) -> LeaderboardModel:
        """Run ``rounds`` rounds (default: the scenario's ``dynamics.rounds``).

        With ``max_rounds``, deterministic dynamics whose state has not
        recurred yet then play on until it does or ``max(rounds,
        max_rounds)`` rounds have been played in all, as the batch engine
        does (:func:`sim.engine.run_batch`; :func:`run_mesa` passes the
        scenario's ``dynamics.max_rounds``).  Without it, exactly ``rounds``.
        """
        rounds = self.scenario.dynamics.rounds if rounds is None else rounds
        if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
            raise ScenarioError("dynamics.rounds", rounds, "must be a positive integer")
        cap = rounds if max_rounds is None else max_rounds
        if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
            raise ScenarioError("dynamics.max_rounds", cap, "must be a positive integer")
        for _ in range(int(rounds)):
            self.step()
        if max_rounds is None:
            return self
        self.max_rounds = max(int(rounds), int(cap))
        if self.deterministic and analysis.first_recurrence(np.array(self.keys, dtype=np.uint64)) is None:
            seen = {int(key): t for t, key in enumerate(self.keys)}
            while len(self.keys) - 1 < self.max_rounds:
                self.step()
                key = int(self.keys[-1])
                if key in seen:
                    break
                seen[key] = len(self.keys) - 1
        return self

    def release(self) -> None:
        """Forget this model in Mesa's per-model id counters (``mesa.Agent._ids``), for long sweeps."""
        getattr(mesa.Agent, "_ids", {}).pop(self, None)

    # -- results ---------------------------------------------------------

    def trajectory(self):
        """Tidy frame in the batch engine's format (:meth:`sim.engine.BatchRun.trajectory`)."""
        frame = self.datacollector.get_agent_vars_dataframe().reset_index()
        frame = frame.rename(columns={"Step": "round"}).drop(columns=["AgentID"])
        frame = frame[frame["developer"].notna()]  # the designer is an agent too
        frame = frame.sort_values(["round", "developer"], kind="stable").reset_index(drop=True)
        frame["rank"] = frame["rank"].astype(np.int64)
        frame["round"] = frame["round"].astype(np.int64)
        frame["developer"] = frame["developer"].astype(np.int64)
        rewards = self.game.rewards[0]
        gamma = self.game.gamma[0]
        frame["reward"] = rewards[frame["rank"].to_numpy() - 1]
        frame["cost"] = gamma[frame["developer"].to_numpy()] * self.game.cost(frame["effort"].to_numpy())
        frame["utility"] = frame["reward"] - frame["cost"]
        return frame[["round", "developer", "capability", "effort", "score", "published", "rank", "reward", "cost",
                      "utility"]]

    def _records(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Efforts and ranks per round ``(rounds + 1, n)`` and the capability order."""
        frame = self.trajectory()
        effort = frame["effort"].to_numpy().reshape(-1, self.n)
        rank = frame["rank"].to_numpy().reshape(-1, self.n)
        return effort, rank, capability_order(self.game.theta[0], self.game.priority[0])

    def leaderboard(self):
        """Per-round leaderboard frame, as :meth:`sim.engine.BatchRun.leaderboard`."""
        effort, rank, order = self._records()
        return leaderboard_frame(rank, effort, self.game.theta[0], order)

    def outcome(self) -> analysis.Outcome:
        """The outcome of the run so far (:func:`sim.analysis.classify`)."""
        frame = self.trajectory()
        effort = frame["effort"].to_numpy().reshape(-1, self.n)
        rank = frame["rank"].to_numpy().reshape(-1, self.n)
        order = capability_order(self.game.theta[0], self.game.priority[0])
        return analysis.classify(
            np.array(self.keys, dtype=np.uint64),
            effort,
            rank,
            analysis.ranking_correct(rank, order),
            rounds=len(self.keys) - 1,
            deterministic=self.deterministic,
            cell=self.cell,
            theta=self.game.theta[0],
            capability_order=order,
            utility_tail=frame["utility"].to_numpy().reshape(-1, self.n),
            max_rounds=self.max_rounds,
        )


def _effort_scale(game: BatchGame) -> float:
    ceiling = effort_ceiling(game)
    finite = ceiling[np.isfinite(ceiling)]
    return float(finite.max(initial=0.0))


def run_mesa(scenario, rounds: int | None = None, tau: float | None = None,
             developer_class: type[Developer] = Developer, max_rounds: int | None = None) -> LeaderboardModel:
    """Build, run and release a :class:`LeaderboardModel` (for sweeps: no model kept alive by Mesa).

    As :func:`sim.engine.run`, deterministic dynamics play on past ``rounds`` until they recur or reach
    ``max_rounds`` (default: the scenario's ``dynamics.max_rounds``).
    """
    if isinstance(scenario, (str, bytes)) or hasattr(scenario, "__fspath__"):
        from sim.scenario import load_scenario

        scenario = load_scenario(scenario)
    batch_key(scenario)  # validates that the scenario is playable
    model = LeaderboardModel(scenario, tau=tau, developer_class=developer_class)
    model.run(rounds, max_rounds=scenario.dynamics.max_rounds if max_rounds is None else max_rounds)
    model.release()
    return model
