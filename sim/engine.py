"""Batch engine: repeated leaderboard competition for many scenarios at once.

State at round ``t`` is the effort profile ``x(t)`` of every scenario, an
array shaped ``scenarios x developers``.  Each round the leaderboard
publishes the scores ``f(theta_i, tau + x_i)`` (plus evaluation noise, when
the scenario has some) rounded down to its resolution, ranks them, and the
developers respond (``docs/model.md#repeated-play``):

* **best response** (the default): the exact best response of
  :func:`sim.game.best_responses`, vectorised over scenarios, developers and
  candidates.  A developer's candidates are zero effort and the least effort
  that ranks it above each rival (:func:`sim.scores.least_effort_and_score`,
  checked forward); each candidate's rank is recomputed from the score it
  reaches, and among candidates within :func:`sim.game.utility_tolerance` of
  the best utility the smallest effort is taken.  Efforts above the
  developer's budget are not allowed.  As usual in best-response dynamics a
  developer revises only on a strict improvement: one whose current effort is
  already a best response keeps it (:func:`hold_current`).
* **logit response** with temperature ``T``: a candidate ``k`` is chosen with
  probability proportional to ``exp(u_k / T)`` (distinct efforts only; one
  uniform draw per developer and round, inverse-CDF).

Schedules: ``simultaneous`` (everyone responds to ``x(t)``), ``sequential``
(developers ``0, 1, ..., n-1`` in turn, each seeing the updates before it),
``random_order`` (sequential in a fresh seeded order each round) and
``asynchronous`` (each developer independently revises with probability
``p``; those who revise respond to ``x(t)``).

Randomness.  Each scenario owns its generators, split up front from its seed
(:func:`dynamics_streams`), one per use, so a scenario's trajectory does not
depend on which other scenarios share its batch, nor on chunking or workers.
The Mesa model (:mod:`sim.model`) draws from the same streams in the same
order and calls the same response kernel (:meth:`BatchGame.respond`), which
is why the two engines give identical trajectories.

Horizon.  A scenario's ``rounds`` is the least number of rounds played.
Where the dynamics are deterministic (:func:`is_deterministic`) a run that
has not recurred within them plays on until its state recurs or its cap
``dynamics.max_rounds`` is reached (:func:`run_batch`, :func:`_extend`), so
a long cycle is found instead of being cut off; stochastic dynamics keep
their rounds.

Speed.  For the built-in score and cost families the per-candidate work runs
in the compiled kernel :mod:`sim.kernel` (same bits as the numpy path, which
remains for custom families), whole rounds of the sequential schedules and
the logit response in :mod:`sim.kernel_schedules` (:data:`COMPILED_SCHEDULES`),
and a
:class:`CandidateCache` remembers least efforts across rounds, so that a
target met before (the same grid level, cycle after cycle) is not searched
for again.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim import analysis
from sim.costs import CostFunction, FlatQuadraticCost, LinearCost, PowerCost
from sim.errors import ScenarioError
from sim.game import LeaderboardGame, utility_tolerance
from sim.leaderboard import capability_order, grid_index, least_score_at_index, ranks
from sim.scores import CustomScore, ExpSaturation, PowerLaw, ScoreFamily, least_effort_and_score

#: Named random streams of the dynamics, split from the scenario's
#: ``"dynamics"`` stream in this fixed order.
DYNAMICS_STREAMS = ("initial", "order", "revision", "choice", "noise")

#: Candidate-by-rival comparisons processed at once when counting ranks.
RANK_BLOCK = 1 << 22

#: Cost families declared non-decreasing, for which :meth:`BatchGame.reach` may prune candidates.
_MONOTONE_COSTS = (LinearCost, PowerCost, FlatQuadraticCost)

#: Most entries of a :class:`CandidateCache` level table (about 17 bytes each).
LEVEL_TABLE_ENTRIES = 1 << 23

#: Rounds of random draws a :class:`DynamicsRandom` buffers per stream.
DRAW_BLOCK = 256

#: Most draws (scenarios x developers x rounds) a batch reads from its streams at once (:class:`_BatchDraws`).
DRAW_ROWS = 1 << 18

#: Whether deterministic runs replay a profile that recurs exactly instead of computing it again (:class:`Recurrence`).
REPLAY_RECURRENCES = True

#: Most entries (one effort each, 8 bytes) of the profile history a :class:`Recurrence` keeps.
RECURRENCE_HISTORY_ENTRIES = 1 << 24

#: Whether sequential schedules and the logit response run in the compiled kernel (:mod:`sim.kernel_schedules`;
#: same bits as the numpy path, which ``False`` selects; custom score families always use numpy).
COMPILED_SCHEDULES = True


# ---------------------------------------------------------------------------
# Random streams
# ---------------------------------------------------------------------------


def dynamics_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """One ``SeedSequence`` per use in :data:`DYNAMICS_STREAMS`, from the scenario seed's ``"dynamics"`` child."""
    from sim.scenario import scenario_streams

    parent = scenario_streams(seed)["dynamics"]
    return dict(zip(DYNAMICS_STREAMS, parent.spawn(len(DYNAMICS_STREAMS)), strict=True))


class DynamicsRandom:
    """A scenario's random draws for repeated play, one generator per stream.

    Every method returns one round's draws for the ``n`` developers (indexed
    by developer id).  Draws are buffered in blocks of :data:`DRAW_BLOCK`
    rounds; a generator's stream is consumed in order whatever the block
    size, and both engines use this class, so they see the same numbers.
    """

    def __init__(self, seed: int, n: int):
        self.n = n
        self.seed = seed
        self._generators: dict[str, np.random.Generator] | None = None  # made on first use
        self._buffer: dict[str, tuple[np.ndarray, int]] = {}

    @property
    def _rng(self) -> dict[str, np.random.Generator]:
        """The generators, one per stream, created on first use (a deterministic run needs none)."""
        if self._generators is None:
            self._generators = {name: np.random.default_rng(ss) for name, ss in dynamics_streams(self.seed).items()}
        return self._generators

    def _next(self, name: str, normal: bool = False) -> np.ndarray:
        block, used = self._buffer.get(name, (None, DRAW_BLOCK))
        if used == DRAW_BLOCK:
            rng = self._rng[name]
            block = rng.standard_normal((DRAW_BLOCK, self.n)) if normal else rng.random((DRAW_BLOCK, self.n))
            used = 0
        self._buffer[name] = (block, used + 1)
        return block[used]

    def initial(self, high: np.ndarray) -> np.ndarray:
        """A random initial profile: efforts uniform on ``[0, high_i)``."""
        return self._rng["initial"].random(self.n) * high

    def order(self) -> np.ndarray:
        """This round's random update order (a permutation of developer ids)."""
        return np.argsort(self._next("order"), kind="stable")

    def revision(self) -> np.ndarray:
        """Uniforms deciding who revises this round (asynchronous schedule)."""
        return self._next("revision")

    def choice(self) -> np.ndarray:
        """Uniforms for the logit response, one per developer."""
        return self._next("choice")

    def noise(self) -> np.ndarray:
        """Standard normal evaluation noise, one per developer."""
        return self._next("noise", normal=True)

    def take(self, name: str, rounds: int, normal: bool = False) -> np.ndarray:
        """The next ``k`` rounds of stream ``name`` at once, ``(k, n)`` with ``1 <= k <= rounds``: row ``r`` is
        what the ``r``-th next call of its method (``order`` gives ``argsort(row, kind="stable")``) would
        return; as many as the buffered block still holds (a new block drawn when it is used up)."""
        block, used = self._buffer.get(name, (None, DRAW_BLOCK))
        if used == DRAW_BLOCK:
            self._next(name, normal)  # draws a new block and uses its first row
            block, used = self._buffer[name]
            used -= 1
        k = max(1, min(rounds, DRAW_BLOCK - used))
        self._buffer[name] = (block, used + k)
        return block[used : used + k]


class _BatchDraws:
    """One stream's draws for every scenario of a batch, round by round: :meth:`next` returns
    ``np.stack([getattr(r, name)() for r in randoms])`` (with ``order``: the uniforms it sorts), taken from
    the generators several rounds at a time (:meth:`DynamicsRandom.take`), not one Python call per scenario
    and round.  The generators may end up ahead of the rounds played: only the values used matter."""

    def __init__(self, randoms: Sequence[DynamicsRandom], name: str, normal: bool = False):
        self.randoms, self.name, self.normal = randoms, name, normal
        self.n = randoms[0].n if randoms else 0
        self.rows = np.empty((0, len(randoms), self.n))
        self.k = 0

    def next(self) -> np.ndarray:
        if self.k == self.rows.shape[0]:
            S = len(self.randoms)
            want = max(1, DRAW_ROWS // max(1, S * self.n))
            parts = [r.take(self.name, want, self.normal) for r in self.randoms]
            k = min(part.shape[0] for part in parts)
            if any(part.shape[0] != k for part in parts):  # a batch's streams start together and stay in step
                raise RuntimeError("the scenarios' random streams are not in step")
            self.rows = np.stack(parts, axis=1)  # (k, S, n)
            self.k = 0
        row = self.rows[self.k]
        self.k += 1
        return row


# ---------------------------------------------------------------------------
# The batch game
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """Responses of the developers in ``rows`` (arrays shaped ``scenarios x rows``).

    ``effort`` is the chosen effort; ``score``, ``rank`` and ``utility`` what
    it buys against the rivals' published levels.  With ``candidates=True``
    the candidate arrays (``scenarios x rows x n``: effort, ``inf`` where
    infeasible; utility; rank) are kept as well.
    """

    effort: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    utility: np.ndarray
    candidate_effort: np.ndarray | None = field(default=None, repr=False)
    candidate_utility: np.ndarray | None = field(default=None, repr=False)
    candidate_rank: np.ndarray | None = field(default=None, repr=False)
    next_effort: np.ndarray | None = field(default=None, repr=False)


def _score_batch_key(score: ScoreFamily) -> tuple:
    if isinstance(score, PowerLaw):
        return (PowerLaw, score.effort_unit)
    if isinstance(score, CustomScore):
        return (CustomScore, score.function, score.limit_function, score.rtol)
    return (type(score),)


def _stack_scores(scores: Sequence[ScoreFamily], n: int) -> ScoreFamily:
    first = scores[0]
    return dataclasses.replace(
        first,
        **{name: np.stack([np.broadcast_to(getattr(s, name), (n,)) for s in scores]) for name in first._array_fields},
    )


@dataclass(frozen=True, eq=False)
class BatchGame:
    """``S`` leaderboard games with the same number of developers ``n``, stepped together.

    Arrays are shaped ``(S, n)`` (``tau``, ``resolution``, ``noise``: ``(S,)``).
    All games share the score family's type (and its scalar settings) and the
    cost function; everything else (capabilities, score parameters, rewards,
    ``tau``, resolution, cost scales ``gamma``, tie priorities, budgets,
    noise) may differ per scenario.  Build one with :meth:`from_games`.
    """

    theta: np.ndarray
    score: ScoreFamily
    cost: CostFunction
    rewards: np.ndarray
    tau: np.ndarray
    resolution: np.ndarray
    gamma: np.ndarray
    priority: np.ndarray
    budget: np.ndarray
    noise: np.ndarray
    baseline: np.ndarray = field(init=False, repr=False)
    tolerance: np.ndarray = field(init=False, repr=False)
    reach: np.ndarray = field(init=False, repr=False)
    kernel_spec: tuple | None = field(init=False, repr=False)

    def __post_init__(self):
        shape = self.theta.shape
        for name in ("rewards", "gamma", "priority", "budget"):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"BatchGame.{name} must have shape {shape}, got {np.shape(getattr(self, name))}")
        for name in ("tau", "resolution", "noise"):
            if np.shape(getattr(self, name)) != shape[:1]:
                raise ValueError(f"BatchGame.{name} must have shape {shape[:1]}, got {np.shape(getattr(self, name))}")
        # f(theta_i, tau + 0): what a developer scores with no additional effort, computed as the
        # core computes the zero-effort candidate (tau + 0.0), so the two agree to the bit.
        object.__setattr__(self, "baseline", self.score.score(self.tau[:, None] + np.zeros(shape)))
        object.__setattr__(self, "tolerance", np.array([utility_tolerance(r) for r in self.rewards]))
        object.__setattr__(self, "reach", self._reach())
        object.__setattr__(self, "kernel_spec", self._kernel_spec())

    def _kernel_spec(self) -> tuple | None:
        """Score and cost parameters for :func:`sim.kernel.respond`, or ``None`` (custom families: numpy)."""
        from sim import kernel

        shape = self.shape
        full = lambda v: np.ascontiguousarray(np.broadcast_to(v, shape), dtype=float)  # noqa: E731
        if isinstance(self.score, PowerLaw):
            sc = self.score
            spec = (kernel.POWER_LAW, full(sc.lower), full(sc.upper), full(sc.alpha), full(sc.beta), sc.effort_unit)
        elif isinstance(self.score, ExpSaturation):
            sc = self.score
            spec = (kernel.EXP_SATURATION, full(sc.lower), full(sc.upper), full(sc.rate), np.zeros(shape), 1.0)
        else:
            return None
        if isinstance(self.cost, LinearCost):
            cost = (kernel.LINEAR, self.cost.scale, 0.0)
        elif isinstance(self.cost, PowerCost):
            cost = (kernel.POWER, self.cost.scale, self.cost.exponent)
        elif isinstance(self.cost, FlatQuadraticCost):
            cost = (kernel.FLAT_QUADRATIC, self.cost.scale, self.cost.free_effort)
        else:
            return None
        return (*spec, *cost)

    def _reach(self) -> np.ndarray:
        """The highest score worth reaching: ``f(theta_i, tau + X_i)`` with ``X_i`` the largest float such that
        ``gamma_i (c(X_i) - c(0)) <= r_1 - r_n`` and ``X_i <= budget_i``.

        A target above it needs an effort ``x > X_i``, whose utility is below
        ``r_n - gamma_i c(0)``, the least that zero effort earns; such a
        candidate is never chosen.  Needs a score non-decreasing in effort and
        a non-decreasing cost, so it is ``+inf`` (no pruning) for custom families.
        """
        if not isinstance(self.score, (PowerLaw, ExpSaturation)) or not isinstance(self.cost, _MONOTONE_COSTS):
            return np.full(self.shape, np.inf)
        span = (self.rewards[:, 0] - self.rewards[:, -1])[:, None]
        zero_cost = self.cost(np.zeros(self.shape))
        with np.errstate(over="ignore", invalid="ignore"):
            pays = lambda x: self.gamma * (self.cost(x) - zero_cost) <= span  # noqa: E731
            # Bisection on the bit patterns of non-negative floats (monotone in the value) down to adjacent floats.
            lo = np.zeros(self.shape, dtype=np.int64)
            hi = np.full(self.shape, np.float64(np.finfo(float).max).view(np.int64))
            top = pays(hi.view(np.float64))
            for _ in range(70):
                gap = hi - lo > 1
                if not gap.any():
                    break
                mid = lo + (hi - lo) // 2
                ok = pays(mid.view(np.float64))
                lo = np.where(gap & ok, mid, lo)
                hi = np.where(gap & ~ok, mid, hi)
            largest = np.where(top, np.inf, lo.view(np.float64))
            largest = np.minimum(largest, self.budget)
            return np.where(np.isfinite(largest), self.score.score(self.tau[:, None] + largest), np.inf)

    @classmethod
    def from_games(cls, games: Sequence[LeaderboardGame], budget=None, noise=None) -> BatchGame:
        """Stack one-shot games (:class:`~sim.game.LeaderboardGame`) into a batch.

        ``budget`` is ``(S, n)`` (``inf``: unlimited; default unlimited) and
        ``noise`` ``(S,)`` (default 0).  Raises ``ValueError`` when the games
        cannot share a batch (see :func:`batch_key`).
        """
        if not games:
            raise ValueError("a batch needs at least one game")
        n = games[0].n
        key = (n, _score_batch_key(games[0].score), games[0].cost)
        for k, g in enumerate(games):
            if (g.n, _score_batch_key(g.score), g.cost) != key:
                raise ValueError(
                    f"game {k} cannot share a batch with game 0: the number of developers, the score family "
                    "(and its effort unit or function) and the cost must be the same"
                )
        S = len(games)
        budget = np.full((S, n), np.inf) if budget is None else np.asarray(budget, dtype=float).reshape(S, n)
        noise = np.zeros(S) if noise is None else np.asarray(noise, dtype=float).reshape(S)
        return cls(
            theta=np.stack([g.theta for g in games]),
            score=_stack_scores([g.score for g in games], n),
            cost=games[0].cost,
            rewards=np.stack([g.rewards for g in games]),
            tau=np.array([g.tau for g in games]),
            resolution=np.array([g.resolution for g in games]),
            gamma=np.stack([g.gamma for g in games]),
            priority=np.stack([g.priority for g in games]),
            budget=budget,
            noise=noise,
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.theta.shape

    def scores(self, x) -> np.ndarray:
        """``s_i = f(theta_i, tau + x_i)``, shape ``(S, n)``."""
        return self.score.score(self.tau[:, None] + x)

    def levels(self, evaluated, resolution=None) -> np.ndarray:
        """Published grid levels of evaluated scores (the score itself where ``delta = 0``).

        ``evaluated`` is ``(S, n)``; or give ``resolution`` per entry for any other shape.
        """
        return grid_index(evaluated, self.resolution[:, None] if resolution is None else resolution)

    def published(self, evaluated) -> np.ndarray:
        """Scores as the leaderboards show them: ``level * delta`` (the score where ``delta = 0``)."""
        level = self.levels(evaluated)
        return np.where(self.resolution[:, None] > 0, level * self.resolution[:, None], evaluated)

    def ranks(self, evaluated) -> np.ndarray:
        """Ranks (1 = top) from published levels, ties by priority."""
        out = np.empty(self.shape, dtype=np.int64)
        for delta in np.unique(self.resolution):
            rows = self.resolution == delta
            out[rows] = ranks(evaluated[rows], float(delta), self.priority[rows])
        return out

    def publish(self, x, shock=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One round's leaderboard at efforts ``x``: ``(true scores, evaluated, published, ranks)``.

        ``evaluated = true + shock`` (evaluation noise, when given).  The
        compiled :func:`sim.kernel.publish` computes the same bits for the
        built-in families.
        """
        x = np.ascontiguousarray(x, dtype=float)
        if self.kernel_spec is not None:
            from sim import kernel

            out = (np.empty(self.shape), np.empty(self.shape), np.empty(self.shape), np.empty(self.shape, np.int64))
            noisy = shock is not None
            kernel.publish(
                *self.kernel_spec[:6], self.tau, self.resolution, self.priority, x,
                np.ascontiguousarray(shock, dtype=float) if noisy else np.zeros(self.shape), noisy, *out,
            )  # fmt: skip
            return out
        true = self.scores(x)
        evaluated = true if shock is None else true + shock
        return true, evaluated, self.published(evaluated), self.ranks(evaluated)

    def costs(self, x) -> np.ndarray:
        """``gamma_i * c(x_i)``."""
        return self.gamma * self.cost(x)

    # -- targets ---------------------------------------------------------

    def _tie_targets(self, evaluated, level) -> tuple[np.ndarray, np.ndarray]:
        """Per rival: the least score that draws level with it and the least that beats it outright.

        ``(T0, T1)``, each ``(S, n)``: with ``delta > 0`` the least floats at
        the rival's published level and at the next one; with ``delta = 0``
        the rival's score and the next float above it (as
        :func:`sim.leaderboard.overtake_target`).
        """
        draw = evaluated.copy()
        beat = np.nextafter(evaluated, np.inf)
        grid = self.resolution > 0
        if grid.any():
            delta = self.resolution[grid][:, None]
            lv = level[grid]
            draw[grid] = least_score_at_index(lv, delta)
            beat[grid] = least_score_at_index(lv + 1.0, delta)
        return draw, beat

    # -- the response kernel ---------------------------------------------

    def respond(
        self, evaluated, rows, candidates: bool = False, cache: CandidateCache | None = None, current=None
    ) -> Response:
        """Exact best response of developer ``rows[s, r]`` in scenario ``s`` to the published leaderboard.

        ``evaluated`` ``(S, n)`` are the scores the leaderboard evaluated
        this round (true scores plus noise); rivals are seen at their
        published levels.  A developer's own candidate scores are computed
        without noise.  Candidates, ranks, utilities and the choice follow
        :func:`sim.game.best_responses` exactly (same operations in the same
        order), so without noise the result agrees with it to the bit.

        Two shortcuts leave the result unchanged:

        * a target at or below the developer's zero-effort score needs
          exactly zero effort, and a target above its *reach*
          ``f(theta_i, tau + X_i)`` (:meth:`reach`) needs more effort than
          could ever pay (or than the budget allows), so such a candidate is
          never chosen and its least effort is not computed (unless
          ``candidates=True``, which the logit response needs);
        * ``cache`` (:class:`CandidateCache`) remembers the least effort for
          each developer and rival across rounds; a target that has not
          moved is not recomputed.

        With ``current`` (the developers' current efforts, ``(S, m)``) the
        response also carries ``next_effort``: the current effort where it is
        already a best response, else the best response (:func:`hold_current`).
        For the built-in families the work is done by the compiled kernel
        :func:`sim.kernel.respond`, which returns the same bits.
        """
        evaluated = np.asarray(evaluated, dtype=float)
        rows = np.asarray(rows, dtype=np.int64)
        if not candidates and self.kernel_spec is not None:
            return self._respond_compiled(evaluated, rows, cache, current)
        response = self._respond_numpy(evaluated, rows, candidates, cache)
        if current is not None:
            nxt = hold_current(self, evaluated, rows, current, response)
            response = dataclasses.replace(response, next_effort=nxt)
        return response

    def _respond_compiled(self, evaluated, rows, cache, current, active=None, current_score=None) -> Response:
        """The compiled kernel; with ``active`` ``(S,)`` only those scenarios (the others' rows are undefined).

        ``current_score`` (optional, ``(S, m)``): the true scores of ``current``, as :meth:`publish` computes
        them; the hold check then takes them instead of evaluating the score again.
        """
        from sim import kernel

        S, n = self.shape
        m = rows.shape[1]
        if cache is None:
            cache = CandidateCache(self, table=False)
        out = {
            "effort": np.empty((S, m)),
            "score": np.empty((S, m)),
            "rank": np.empty((S, m), dtype=np.int64),
            "utility": np.empty((S, m)),
            "next_effort": np.empty((S, m)),
        }
        hold = current is not None
        cur = np.ascontiguousarray(current, dtype=float) if hold else np.zeros((S, m))
        kernel.respond_active(
            *self.kernel_spec,
            self.tau, self.resolution, self.rewards, self.gamma, self.priority, self.budget, self.baseline,
            self.reach, self.tolerance,
            np.ascontiguousarray(evaluated), np.ascontiguousarray(rows), cur, hold,
            cache.target, cache.effort, cache.score,
            cache.width, cache.origin, cache.table, cache.least, cache.least_width, cache.least_row,
            cache.least_origin,
            out["effort"], out["score"], out["rank"], out["utility"], out["next_effort"],
            np.ones(S, dtype=np.bool_) if active is None else active,
            current_score is not None, cur if current_score is None else np.ascontiguousarray(current_score),
        )  # fmt: skip
        if not hold:
            out["next_effort"] = None
        return Response(**out)

    def _respond_numpy(self, evaluated, rows, candidates, cache) -> Response:
        S, n = self.shape
        m = rows.shape[1]
        level = self.levels(evaluated)
        draw, beat = self._tie_targets(evaluated, level)
        prio_rows = np.take_along_axis(self.priority, rows, axis=1)
        wins_ties = prio_rows[:, :, None] > self.priority[:, None, :]
        target = np.where(wins_ties, draw[:, None, :], beat[:, None, :])
        own = rows[:, :, None] == np.arange(n)
        base = np.take_along_axis(self.baseline, rows, axis=1)
        # Zero effort already reaches targets at or below the baseline score: the least effort is exactly 0.
        active = (target > base[:, :, None]) & ~own
        if not candidates:
            active &= target <= np.take_along_axis(self.reach, rows, axis=1)[:, :, None]
        # Every candidate to evaluate, in (scenario, row, column) order: the active ones and zero effort (own column).
        live = np.flatnonzero(active | own)
        row_of = live // n  # (s, r) flattened
        s_idx = row_of // m
        dev = rows.ravel()[row_of]
        x = np.zeros(live.size)
        reached = base.ravel()[row_of]
        is_active = active.ravel()[live]
        if is_active.any():
            sa, da, ja = s_idx[is_active], dev[is_active], live[is_active] % n
            t_active = target.ravel()[live[is_active]]
            if cache is not None:
                target_level = np.where(wins_ties, level[:, None, :], level[:, None, :] + 1.0).ravel()[live[is_active]]
                hit, xa, ra, slot = cache.lookup(sa, da, ja, t_active, target_level)
                # A level-table hit also becomes the last target for that rival.
                todo = np.flatnonzero(~hit)
            else:
                xa, ra = np.empty(t_active.size), np.empty(t_active.size)
                todo = np.arange(t_active.size)
            if todo.size:
                st, dt, tt = sa[todo], da[todo], t_active[todo]
                xa[todo], ra[todo] = least_effort_and_score(self.score[st, dt], self.tau[st], tt)
                if cache is not None:
                    cache.store(st, dt, ja[todo], tt, slot[todo], xa[todo], ra[todo])
            x[is_active] = xa
            reached[is_active] = ra
        finite = np.isfinite(x)
        safe = np.where(finite, x, 0.0)
        cand_level = self.levels(reached, self.resolution[s_idx])
        rank = _rank_among(level, self.priority, s_idx, dev, cand_level)
        utility = self.rewards[s_idx, rank - 1] - self.gamma[s_idx, dev] * self.cost(safe)
        utility = np.where(finite & (safe <= self.budget[s_idx, dev]), utility, -np.inf)
        # Per row: the best utility, then the smallest effort within the tolerance of it (first column on ties).
        starts = np.flatnonzero(np.r_[True, row_of[1:] != row_of[:-1]])
        good = utility >= np.maximum.reduceat(utility, starts)[row_of - row_of[0]] - self.tolerance[s_idx]
        masked = np.where(good, safe, np.inf)
        pickable = np.flatnonzero(good & (masked == np.minimum.reduceat(masked, starts)[row_of - row_of[0]]))
        chosen = pickable[np.r_[True, row_of[pickable][1:] != row_of[pickable][:-1]]]
        out = {
            "effort": safe[chosen].reshape(S, m),
            "score": reached[chosen].reshape(S, m),
            "rank": rank[chosen].reshape(S, m),
            "utility": utility[chosen].reshape(S, m),
        }
        if candidates:
            full_effort = np.full(S * m * n, np.inf)
            full_utility = np.full(S * m * n, -np.inf)
            full_rank = np.zeros(S * m * n, dtype=np.int64)
            full_effort[live] = np.where(np.isfinite(utility), safe, np.inf)
            full_utility[live] = utility
            full_rank[live] = rank
            out.update(
                candidate_effort=full_effort.reshape(S, m, n),
                candidate_utility=full_utility.reshape(S, m, n),
                candidate_rank=full_rank.reshape(S, m, n),
            )
        return Response(**out)

    def logit_choice(self, response: Response, temperature, uniform) -> np.ndarray:
        """Logit (smoothed) response: candidate ``k`` with probability ``exp(u_k / T) / sum_j exp(u_j / T)``.

        Over distinct feasible candidate efforts (a duplicate effort counts
        once, at its first column); ``temperature`` ``(S,)``, ``uniform``
        ``(S, m)`` in ``[0, 1)``.  Inverse-CDF: the first candidate whose
        cumulative probability exceeds the uniform.
        """
        eff = response.candidate_effort
        util = response.candidate_utility
        n = eff.shape[2]
        earlier = np.tril(np.ones((n, n), dtype=bool), k=-1)  # earlier[c, c'] = c' < c
        duplicate = ((eff[:, :, :, None] == eff[:, :, None, :]) & earlier).any(axis=3)
        usable = np.isfinite(eff) & ~duplicate
        u = np.where(usable, util, -np.inf)
        z = (u - u.max(axis=2, keepdims=True)) / np.asarray(temperature, dtype=float)[:, None, None]
        weight = np.where(usable, np.exp(z), 0.0)
        cdf = np.cumsum(weight, axis=2)
        threshold = np.asarray(uniform)[:, :, None] * cdf[:, :, -1:]
        k = np.minimum(np.argmax(cdf > threshold, axis=2), n - 1)[:, :, None]
        return np.take_along_axis(np.where(usable, eff, 0.0), k, axis=2)[:, :, 0]


def _rank_among(level, priority, s_idx, dev, cand_level) -> np.ndarray:
    """Rank developer ``dev[k]`` of scenario ``s_idx[k]`` gets at published level ``cand_level[k]``, rivals fixed.

    ``1 +`` the rivals ``j != dev`` with ``level_j > L``, or ``level_j == L``
    and a higher priority (as :func:`sim.game.ranks_against`).  Processed in
    blocks of at most :data:`RANK_BLOCK` comparisons.
    """
    n = level.shape[1]
    out = np.empty(cand_level.shape, dtype=np.int64)
    block = max(1, RANK_BLOCK // n)
    for start in range(0, cand_level.size, block):
        sl = slice(start, start + block)
        s, d, cl = s_idx[sl], dev[sl], cand_level[sl][:, None]
        rival = level[s]
        above = (rival > cl) | ((rival == cl) & (priority[s] > priority[s, d][:, None]))
        # The developer's own current entry is not a rival.
        out[sl] = 1 + above.sum(axis=1) - above[np.arange(d.size), d]
    return out


class CandidateCache:
    """Least efforts remembered across rounds, so a target met before is not searched for again.

    On a published grid (``delta > 0``) a target is the least score at a
    grid level, so the least effort for developer ``i`` depends on the level
    only: a table ``(S, W, n, 2)`` of ``(effort, score)``, indexed by the
    level (counted from ``origin[s]``, one above the lowest zero-effort level
    in the scenario) and the developer, remembers every level met so far
    (arms races revisit the same levels cycle after cycle).  All developers'
    entries for one level sit side by side, so the few levels a race is
    fought over stay in the processor's cache.  ``least`` remembers the least
    score at each level: it depends on the level and the resolution only, so
    scenarios with the same resolution share one row (``least_row[s]``,
    counted from ``least_origin[s]``), small enough to stay in the
    processor's cache.  Levels outside the table, and exact scores
    (``delta = 0``), fall back to remembering the last target per developer
    and rival (which the numpy path also tries first; the compiled kernel
    goes to the table, whose rows it prefetches).  An entry is reused only for the
    bit-for-bit same target (same scenario, developer and ``tau``), so
    results are exactly those computed afresh.  The table is left out when
    it would exceed :data:`LEVEL_TABLE_ENTRIES` entries.
    """

    def __init__(self, game: BatchGame, table: bool = True):
        S, n = game.shape
        self.target = np.full((S, n, n), np.nan)
        self.effort = np.empty((S, n, n))
        self.score = np.empty((S, n, n))
        self.width = 0
        # Placeholders when there is no level table (the compiled kernel needs arrays of the right types).
        self.origin = np.zeros(S)
        self.table = np.zeros((1, 1, 1, 2))
        self.least = np.zeros((1, 1))
        self.least_width = 0
        self.least_row = np.zeros(S, dtype=np.int64)
        self.least_origin = np.zeros(S)
        grid = game.resolution > 0
        if table and grid.any():
            base = game.levels(game.baseline)
            top = game.levels(np.where(np.isfinite(game.reach), game.reach, game.baseline))
            origin = np.where(grid, base.min(axis=1) + 1.0, 0.0)
            span = np.where(grid[:, None] & np.isfinite(game.reach), top - origin[:, None] + 1.0, 0.0)
            width = int(span.max(initial=0.0))
            if 0 < width and S * n * width <= LEVEL_TABLE_ENTRIES:
                self.width = width
                self.origin = origin
                self.grid = grid
                # Effort 0 = not yet computed (a target above the zero-effort score needs a positive effort; an
                # entry of 0 would only be computed again). Zeros, not a fill: pages never written are never
                # touched (most of the table is never used).
                self.table = np.zeros((S, width, n, 2))
                # Least score at level least_origin - 1 + k (rivals sit at most one level below the origin),
                # one row per resolution; one row per scenario if the shared rows would be too long.
                deltas, row = np.unique(game.resolution, return_inverse=True)
                low = np.full(deltas.size, np.inf)
                np.minimum.at(low, row[grid], origin[grid])
                high = np.full(deltas.size, -np.inf)
                np.maximum.at(high, row[grid], origin[grid])
                shared = int(np.max(np.where(np.isfinite(low), high - low, 0.0))) + width
                if deltas.size * (shared + 2) <= min(LEVEL_TABLE_ENTRIES, S * (width + 2)):
                    self.least_width = shared
                    self.least_row = row.astype(np.int64)
                    self.least_origin = np.where(grid, low[row], 0.0)
                    self.least = np.full((deltas.size, shared + 2), np.nan)
                else:
                    self.least_width = width
                    self.least_row = np.arange(S, dtype=np.int64)
                    self.least_origin = origin
                    self.least = np.full((S, width + 2), np.nan)

    def _slots(self, s_idx, target_level):
        """Table row for each entry (``-1`` where the level table does not apply)."""
        if not self.width:
            return np.full(s_idx.shape, -1, dtype=np.int64)
        offset = target_level - self.origin[s_idx]
        ok = self.grid[s_idx] & (offset >= 0) & (offset < self.width)
        return np.where(ok, offset, -1).astype(np.int64)

    def lookup(self, s_idx, dev, j_idx, target, target_level):
        """``(hit, effort, score, slot)`` for the given entries; ``effort``/``score`` are valid where ``hit``.

        The last target per developer and rival is tried first, then the level table.
        """
        slot = self._slots(s_idx, target_level)
        hit = self.target[s_idx, dev, j_idx] == target
        x = self.effort[s_idx, dev, j_idx]
        reached = self.score[s_idx, dev, j_idx]
        by_level = ~hit & (slot >= 0)
        if by_level.any():
            found = self.table[s_idx[by_level], slot[by_level], dev[by_level]]
            known = found[:, 0] != 0.0
            where = np.flatnonzero(by_level)[known]
            hit[where] = True
            x[where] = found[known, 0]
            reached[where] = found[known, 1]
        return hit, x, reached, slot

    def store(self, s_idx, dev, j_idx, target, slot, x, reached):
        self.target[s_idx, dev, j_idx] = target
        self.effort[s_idx, dev, j_idx] = x
        self.score[s_idx, dev, j_idx] = reached
        by_level = slot >= 0
        if by_level.any():
            sl, dl, kl = s_idx[by_level], dev[by_level], slot[by_level]
            self.table[sl, kl, dl, 0] = x[by_level]
            self.table[sl, kl, dl, 1] = reached[by_level]


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


def batch_key(scenario) -> tuple:
    """Scenarios with equal keys can be stepped in one batch (same ``n``, score family, cost, schedule...)."""
    dyn = scenario.dynamics
    game_key = (scenario.n, _score_batch_key(scenario.bound_score()), scenario.cost)
    return (*game_key, dyn.schedule, getattr(dyn, "response", "best"))


def effort_ceiling(game: BatchGame) -> np.ndarray:
    """The most effort a developer could ever rationally spend: ``sup {x : gamma_i c(x) <= r_1 - r_n}``.

    ``(S, n)``; capped by the budget; found by doubling then bisection on the
    cost (``inf`` where the cost never exceeds the span in doubles).  Random
    initial profiles draw below it, and it sets the scale of the recurrence
    tolerance.
    """
    span = (game.rewards[:, 0] - game.rewards[:, -1])[:, None] * np.ones(game.shape)
    within = lambda x: game.gamma * game.cost(x) <= span  # noqa: E731
    lo = np.zeros(game.shape)
    hi = np.ones(game.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(1100):  # up to overflow: rewards may be as large as doubles go
            grow = within(hi) & np.isfinite(hi)
            if not grow.any():
                break
            lo = np.where(grow, hi, lo)
            hi = np.where(grow, hi * 2.0, hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            ok = within(mid)
            lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.minimum(lo, game.budget)


@dataclass(frozen=True)
class RunSettings:
    """How a batch is played: shared by every scenario in it."""

    schedule: str
    rounds: int
    response: str
    revision_probability: np.ndarray  # (S,)
    temperature: np.ndarray  # (S,)


def is_deterministic(schedule: str, response: str, noise: float) -> bool:
    """Whether the next profile is a function of the current one (then a recurrence repeats forever)."""
    return schedule in ("simultaneous", "sequential") and response == "best" and noise == 0


def uses_randomness(scenario) -> bool:
    """Whether playing ``scenario`` draws from its seed: sampled capabilities, random tie-breaking, evaluation
    noise, a random initial profile, or dynamics that are not deterministic (:func:`is_deterministic`).

    When it does not, every seed gives the same run, so replications repeat it.
    """
    dyn = scenario.dynamics
    board = scenario.leaderboard
    noise = float(getattr(board, "noise", 0.0))
    return (
        getattr(scenario.developers, "sample", None) is not None
        or getattr(board, "tie_break", "capability") == "random"
        or (isinstance(dyn.initial, str) and dyn.initial == "random")
        or not is_deterministic(dyn.schedule, getattr(dyn, "response", "best"), noise)
    )


def initial_profiles(scenarios, game: BatchGame, randoms: Sequence[DynamicsRandom]) -> np.ndarray:
    """``x(0)`` per scenario: zeros, given efforts, or uniform below :func:`effort_ceiling`."""
    S, n = game.shape
    x = np.zeros((S, n))
    ceiling = None
    for s, scenario in enumerate(scenarios):
        initial = scenario.dynamics.initial
        if isinstance(initial, str):
            if initial == "random":
                if ceiling is None:
                    ceiling = effort_ceiling(game)
                x[s] = randoms[s].initial(ceiling[s])
        else:
            x[s] = np.asarray(initial, dtype=float)
            over = np.flatnonzero(x[s] > game.budget[s])
            if over.size:
                i = int(over[0])
                limit = game.budget[s, i]
                raise ScenarioError(
                    "dynamics.initial", list(initial), f"effort of developer {i} exceeds its budget {limit:g}"
                )
    return x


class _Recorder:
    """Per-round records: everything (``full``) or state keys plus a rolling tail window (``tail``).

    In ``tail`` mode the ring buffers are kept round-major while recording
    (each round one contiguous block) and turned into ``(S, W, n)`` by
    :meth:`finish`; in ``full`` mode they are ``(S, R + 1, n)`` from the start.
    """

    def __init__(self, S: int, n: int, rounds: int, record: str, tail_window: int, cell: np.ndarray):
        if record not in ("full", "tail"):
            raise ValueError(f"record must be 'full' or 'tail', got {record!r}")
        self.record = record
        self.rounds = rounds
        self.width = rounds + 1 if record == "full" else min(rounds + 1, tail_window)
        self.cell = cell
        W = self.width
        dtypes = (np.float64, np.float64, np.float64, np.int32)
        if record == "tail":
            self._keys = np.empty((rounds + 1, S), dtype=np.uint64)
            self._ring = tuple(np.empty((W, S, n), dtype=d) for d in dtypes)
        else:
            self._keys = np.empty((1, S), dtype=np.uint64)  # unused: keyed at the end
            self.effort, self.score, self.published, self.rank = (np.empty((S, W, n), dtype=d) for d in dtypes)
            self._ring = tuple(a.transpose(1, 0, 2) for a in (self.effort, self.score, self.published, self.rank))
        multiplier, salt = analysis._position_constants(n)
        with np.errstate(over="ignore"):  # wrapping uint64 arithmetic, as in state_keys
            offset = np.uint64(n) * analysis._GOLDEN
        self._constants = (multiplier, salt, offset, analysis._SEED, analysis._MAX_QUANTUM)

    def add(self, t: int, effort, score, published, rank):
        from sim import kernel

        # Round t goes to row (t - first stored round) mod W, so that the rows end up in round order.
        first = self.rounds + 1 - self.width
        k = (t - first) % self.width
        tail = self.record == "tail"
        arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (effort, score, published)]
        # A round before the first stored one would be overwritten: only its keys are recorded.
        ok = kernel.record_round(
            t, k, *arrays, np.ascontiguousarray(rank, dtype=np.int64), self.cell, *self._constants, tail,
            self._keys, t >= first, *self._ring,
        )  # fmt: skip
        if not ok:  # an effort the keys cannot quantise: state_keys names it
            self._keys[t] = analysis.state_keys(effort, rank, self.cell)

    def finish(self):
        """The records as ``(S, W, n)`` arrays in round order (rows of the ring are already in round order:
        in ``tail`` mode transposed views, no copy); returns the first stored round."""
        if self.record == "tail":
            for name, ring in zip(("effort", "score", "published", "rank"), self._ring, strict=True):
                setattr(self, name, ring.transpose(1, 0, 2))
            self.keys = np.ascontiguousarray(self._keys.T)
        else:  # every round is stored: key them all at once
            self.keys = analysis.state_keys(self.effort, self.rank, self.cell[:, None])
        self._ring = self._keys = None
        return self.rounds + 1 - self.width


class Recurrence:
    """Exact recurrences of deterministic simultaneous play, replayed instead of computed again.

    Under the simultaneous schedule with best responses and no noise, the
    next profile is a function of the current one: ``x(t + 1) = F(x(t))``
    (the response reads only the published leaderboard, which is a function
    of ``x(t)``, the game and the current efforts; the candidate cache only
    remembers values that would be computed afresh, bit for bit, and no random
    stream is drawn).  So once ``x(t) == x(t0)`` bit for bit for some
    ``t0 < t``, play repeats ``x(t0), ..., x(t - 1)`` forever:
    ``x(t + k) = x(t0 + k mod (t - t0))``.  Each scenario's profile is kept for
    the first ``H`` rounds (as many as fit in :data:`RECURRENCE_HISTORY_ENTRIES`),
    looked up by a hash of its bits and compared bit for bit
    (:func:`sim.kernel.recurrence_observe`); a scenario found to recur is no
    longer computed, its next profile is copied from its history
    (:func:`sim.kernel.recurrence_replay`).  The result is identical to
    computing every round.
    """

    def __init__(self, S: int, n: int, rounds: int):
        # At most 2**31 rounds: a table entry keeps the round in 32 bits.
        H = int(min(rounds + 1, max(1, RECURRENCE_HISTORY_ENTRIES // max(1, S * n)), 1 << 31))
        capacity = 1 << int(2 * H - 1).bit_length()  # a power of two at least 2 H: the table stays half empty
        # Scenario-major: a scenario that recurs stops writing, so its later rows are never touched (fresh
        # memory costs a page fault on first touch).
        self.history = np.empty((S, H, n), dtype=np.uint64)
        self.score_history = np.empty((S, H, n))
        self.table = np.full((S, capacity), -1, dtype=np.int64)
        self.start = np.zeros(S, dtype=np.int64)
        self.period = np.zeros(S, dtype=np.int64)
        self.active = np.ones(S, dtype=np.bool_)

    def observe(self, t: int, x: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Record ``x(t)`` and its true scores; returns the scenarios still to compute (``(S,)`` bool)."""
        from sim import kernel

        kernel.recurrence_observe(np.ascontiguousarray(x).view(np.uint64), np.ascontiguousarray(score), t,
                                  self.history, self.score_history, self.table, self.start, self.period,
                                  self.active)
        return self.active

    def replay(self, t: int, x_next: np.ndarray, score_next: np.ndarray) -> None:
        """Overwrite ``x_next`` and ``score_next`` (C-contiguous float ``(S, n)``) with ``x(t + 1)`` and its
        true scores where the scenario recurs (elsewhere they are left alone)."""
        from sim import kernel

        kernel.recurrence_replay(x_next.view(np.uint64), score_next, t, self.history, self.score_history,
                                 self.start, self.period)


def _replays(game: BatchGame, settings: RunSettings) -> bool:
    """Whether :class:`Recurrence` applies: simultaneous best responses, no noise, the compiled kernel."""
    return (
        REPLAY_RECURRENCES
        and settings.schedule == "simultaneous"
        and settings.response == "best"
        and not bool(np.any(game.noise > 0))
        and game.kernel_spec is not None
    )


def play(game: BatchGame, settings: RunSettings, x0: np.ndarray, randoms: Sequence[DynamicsRandom],
         recorder: _Recorder, progress=None) -> None:
    """Play ``settings.rounds`` rounds from ``x0``, recording each round (rounds ``0..R``)."""
    S, n = game.shape
    x = np.array(x0, dtype=float)
    noisy = bool(np.any(game.noise > 0))
    all_rows = np.broadcast_to(np.arange(n), (S, n))
    logit = settings.response == "logit"
    cache = CandidateCache(game)
    if _replays(game, settings):
        _play_replaying(game, settings, x, recorder, cache, progress)
        return
    draws = {name: _BatchDraws(randoms, name, name == "noise") for name in ("noise", "choice", "revision", "order")}
    for t in range(settings.rounds + 1):
        shock = game.noise[:, None] * draws["noise"].next() if noisy else None
        true_score, evaluated, published, rank = game.publish(x, shock)
        recorder.add(t, x, true_score, published, rank)
        if t == settings.rounds:
            break
        if settings.schedule in ("simultaneous", "asynchronous"):
            uniform = draws["choice"].next() if logit else None
            revise = None
            if settings.schedule == "asynchronous":
                revise = draws["revision"].next() < settings.revision_probability[:, None]
            new = _respond_rows(game, evaluated, all_rows, logit, settings.temperature, uniform, cache, x)
            x = new if revise is None else np.where(revise, new, x)
        else:
            order = (
                np.argsort(draws["order"].next(), axis=1, kind="stable")  # as DynamicsRandom.order, row by row
                if settings.schedule == "random_order"
                else np.broadcast_to(np.arange(n), (S, n))
            )
            uniform = draws["choice"].next() if logit else None
            evaluated = evaluated.copy()
            x = x.copy()
            s_all = np.arange(S)
            compiled = COMPILED_SCHEDULES and game.kernel_spec is not None
            if compiled:  # the whole round in the compiled kernel (same bits); else position by position
                _sequential_compiled(
                    game, evaluated, x, true_score, order, logit, settings.temperature, uniform, shock, cache
                )
            for p in range(0 if compiled else n):
                rows = order[:, p : p + 1]
                u = None if uniform is None else np.take_along_axis(uniform, rows, axis=1)
                new = _respond_rows(
                    game, evaluated, rows, logit, settings.temperature, u, cache, np.take_along_axis(x, rows, axis=1)
                )[:, 0]
                dev = rows[:, 0]
                x[s_all, dev] = new
                moved = game.score[s_all, dev].score(game.tau + new)
                evaluated[s_all, dev] = moved if shock is None else moved + shock[s_all, dev]
        if progress is not None:
            progress.update(1)


def _play_replaying(game: BatchGame, settings: RunSettings, x: np.ndarray, recorder: _Recorder,
                    cache: CandidateCache, progress=None) -> None:
    """:func:`play` for deterministic simultaneous best responses with the compiled kernel (:func:`_replays`).

    Scenarios whose profile has recurred are replayed (:class:`Recurrence`):
    their next profile and its true scores come from the history, and
    neither the response nor the score is computed for them.  Output
    buffers are allocated once and reused every round.
    """
    from sim import kernel

    S, n = game.shape
    recurrence = Recurrence(S, n, settings.rounds)
    rows = np.ascontiguousarray(np.broadcast_to(np.arange(n), (S, n)))
    no_shock = np.zeros((S, n))
    x = np.ascontiguousarray(x, dtype=float)
    true_score = np.empty((S, n))
    known = np.zeros(S, dtype=np.bool_)
    # Leaderboard of the round: evaluated = true (no noise), published, rank.
    evaluated, published, rank = np.empty((S, n)), np.empty((S, n)), np.empty((S, n), dtype=np.int64)
    response = [np.empty((S, n)), np.empty((S, n)), np.empty((S, n), dtype=np.int64), np.empty((S, n))]
    x_next = np.empty((S, n))
    score_spec = game.kernel_spec[:6]
    for t in range(settings.rounds + 1):
        kernel.publish_known(*score_spec, game.tau, game.resolution, game.priority, x, no_shock, False, known,
                             true_score, true_score, evaluated, published, rank)
        recorder.add(t, x, true_score, published, rank)
        if t == settings.rounds:
            break
        active = recurrence.observe(t, x, true_score)
        kernel.respond_active(
            *game.kernel_spec,
            game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget, game.baseline,
            game.reach, game.tolerance,
            evaluated, rows, x, True,
            cache.target, cache.effort, cache.score,
            cache.width, cache.origin, cache.table, cache.least, cache.least_width, cache.least_row,
            cache.least_origin,
            *response, x_next, active, True, true_score,
        )  # fmt: skip
        # Next round's true scores: mostly known already (an effort kept, or the score a candidate reached).
        kernel.next_scores(*score_spec, game.tau, x, true_score, response[0], response[1], x_next, active,
                           true_score)
        known[:] = True
        recurrence.replay(t, x_next, true_score)
        x, x_next = x_next, x
        if progress is not None:
            progress.update(1)


def _respond_rows(game: BatchGame, evaluated, rows, logit: bool, temperature, uniform, cache=None,
                  current=None) -> np.ndarray:
    """Efforts chosen by developers ``rows``: a best response (holding a current one), or a logit draw."""
    if logit and COMPILED_SCHEDULES and game.kernel_spec is not None:
        return _logit_compiled(game, evaluated, rows, temperature, uniform, cache)
    if logit:
        response = game.respond(evaluated, rows, candidates=True, cache=cache)
        return game.logit_choice(response, temperature, uniform)
    response = game.respond(evaluated, rows, cache=cache, current=current)
    return response.effort if current is None else response.next_effort


def _cache_arrays(game: BatchGame, cache) -> tuple:
    """The :class:`CandidateCache` arguments of the compiled kernels (a cache without level table if none)."""
    if cache is None:
        cache = CandidateCache(game, table=False)
    return (cache.target, cache.effort, cache.score, cache.width, cache.origin, cache.table, cache.least,
            cache.least_width, cache.least_row, cache.least_origin)


def _logit_compiled(game: BatchGame, evaluated, rows, temperature, uniform, cache=None) -> np.ndarray:
    """:meth:`BatchGame.logit_choice` of the candidates of ``rows``, in the compiled kernel (same bits)."""
    from sim import kernel_schedules

    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty(rows.shape)
    kernel_schedules.respond_logit(
        *game.kernel_spec,
        game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget, game.baseline,
        np.ascontiguousarray(evaluated, dtype=float), rows, np.ascontiguousarray(temperature, dtype=float),
        np.ascontiguousarray(uniform, dtype=float), *_cache_arrays(game, cache), out,
    )  # fmt: skip
    return out


def _sequential_compiled(game: BatchGame, evaluated, x, true_score, order, logit: bool, temperature, uniform, shock,
                         cache=None) -> None:
    """One round of a sequential schedule in ``order`` in the compiled kernel, updating ``x`` and ``evaluated``
    (C-contiguous ``(S, n)``) in place exactly as :func:`play`'s numpy loop over positions does (``true_score``:
    the true scores of ``x``, from :meth:`BatchGame.publish`; not changed)."""
    from sim import kernel_schedules

    zeros = np.zeros(game.shape)
    kernel_schedules.sequential_round(
        *game.kernel_spec,
        game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget, game.baseline,
        game.reach, game.tolerance,
        evaluated, x, np.array(true_score, dtype=float), np.ascontiguousarray(order, dtype=np.int64), logit,
        np.ascontiguousarray(temperature, dtype=float),
        zeros if uniform is None else np.ascontiguousarray(uniform, dtype=float),
        zeros if shock is None else np.ascontiguousarray(shock, dtype=float), shock is not None,
        *_cache_arrays(game, cache),
    )  # fmt: skip


def hold_current(game: BatchGame, evaluated, rows, current, response: Response) -> np.ndarray:
    """Best-response dynamics revise only on a strict improvement.

    A developer whose current effort ``current[s, r]`` is already a best
    response (its utility within :func:`sim.game.utility_tolerance` of the
    best, evaluated as the candidates are) keeps it; otherwise it moves to
    the smallest best effort ``response.effort``.  So a profile in which
    every effort is a best response, a pure Nash equilibrium, is a fixed
    point of every schedule (for example the non-zero equilibria under a
    flat cost), and any fixed point is one.
    """
    rows = np.asarray(rows, dtype=np.int64)
    S, m = rows.shape
    s_idx = np.repeat(np.arange(S), m)
    dev = rows.ravel()
    cur = np.asarray(current, dtype=float).ravel()
    score = game.score[s_idx, dev].score(game.tau[s_idx] + cur)
    level = game.levels(score, game.resolution[s_idx])
    rank = _rank_among(game.levels(evaluated), game.priority, s_idx, dev, level)
    utility = game.rewards[s_idx, rank - 1] - game.gamma[s_idx, dev] * game.cost(cur)
    keep = (utility >= response.utility.ravel() - game.tolerance[s_idx]).reshape(S, m)
    return np.where(keep, np.asarray(current, dtype=float).reshape(S, m), response.effort)


@dataclass(frozen=True, eq=False)
class BatchRun:
    """What a batch run recorded, for ``S`` scenarios over rounds ``0..R``.

    ``effort``, ``score`` (true), ``published`` and ``rank`` are
    ``(S, W, n)`` for the stored rounds ``first_round..R`` (all rounds when
    recorded in full; the tail window otherwise); ``keys`` ``(S, R + 1)``
    are the per-round state keys the outcome analyser uses
    (:func:`sim.analysis.state_keys`).  Rewards, costs and utilities are
    derived from these on demand.

    ``max_rounds`` ``(S,)`` is each scenario's cap on the horizon.  A
    deterministic scenario that had not recurred within ``R`` rounds was
    played on (:func:`run_batch`): ``parts[k] = (run, j)`` then names the
    run, and its index ``j`` there, that holds its records (``None``: this
    run's row ``k``).  Use :meth:`part`, or the per-scenario methods, which
    follow it.
    """

    scenarios: tuple
    game: BatchGame
    settings: RunSettings
    effort: np.ndarray
    score: np.ndarray
    published: np.ndarray
    rank: np.ndarray
    keys: np.ndarray
    first_round: int
    cell: np.ndarray
    deterministic: np.ndarray
    tail_window: int
    max_rounds: np.ndarray | None = None
    parts: tuple | None = None

    @property
    def rounds(self) -> int:
        """The rounds every scenario was played at least (a played-on scenario's own: ``outcome(k).rounds``)."""
        return self.settings.rounds

    def __len__(self) -> int:
        return len(self.scenarios)

    def part(self, k: int) -> tuple[BatchRun, int]:
        """``(run, j)``: the run, and the index there, holding scenario ``k``'s records."""
        if self.parts is not None and self.parts[k] is not None:
            return self.parts[k]
        return self, k

    def capability_order(self, k: int) -> np.ndarray:
        """Developer ids strongest first in scenario ``k`` (ties by priority)."""
        return capability_order(self.game.theta[k], self.game.priority[k])

    def reward(self, k: int) -> np.ndarray:
        """``r_{rank}`` per stored round and developer."""
        run, j = self.part(k)
        return run.game.rewards[j][run.rank[j] - 1]

    def cost(self, k: int) -> np.ndarray:
        """``gamma_i c(x_i)`` per stored round and developer."""
        run, j = self.part(k)
        return run.game.gamma[j] * run.game.cost(run.effort[j])

    def outcome(self, k: int = 0) -> analysis.Outcome:
        """The outcome of scenario ``k`` (:func:`sim.analysis.classify`, with the tail measures)."""
        run, j = self.part(k)
        order = self.capability_order(k)
        correct = analysis.ranking_correct(run.rank[j], order)
        return analysis.classify(
            run.keys[j],
            run.effort[j],
            run.rank[j],
            correct,
            rounds=run.rounds,
            deterministic=bool(run.deterministic[j]),
            cell=float(run.cell[j]),
            tail_window=run.tail_window,
            theta=self.game.theta[k],
            capability_order=order,
            utility_tail=self.reward(k) - self.cost(k),
            max_rounds=None if self.max_rounds is None else int(self.max_rounds[k]),
        )

    def outcomes(self) -> list[analysis.Outcome]:
        return [self.outcome(k) for k in range(len(self))]

    def trajectory(self, k: int = 0):
        """Tidy frame, one row per stored round and developer.

        Columns: ``round``, ``developer``, ``capability``, ``effort``,
        ``score``, ``published``, ``rank``, ``reward``, ``cost``, ``utility``.
        """
        import pandas as pd

        run, j = self.part(k)
        W, n = run.effort.shape[1:]
        rounds = np.arange(run.first_round, run.first_round + W)
        reward = self.reward(k)
        cost = self.cost(k)
        return pd.DataFrame(
            {
                "round": np.repeat(rounds, n),
                "developer": np.tile(np.arange(n), W),
                "capability": np.tile(self.game.theta[k], W),
                "effort": run.effort[j].ravel(),
                "score": run.score[j].ravel(),
                "published": run.published[j].ravel(),
                "rank": run.rank[j].ravel().astype(np.int64),
                "reward": reward.ravel(),
                "cost": cost.ravel(),
                "utility": (reward - cost).ravel(),
            }
        )

    def leaderboard(self, k: int = 0):
        """Per-round leaderboard frame of scenario ``k`` (:func:`leaderboard_frame`)."""
        run, j = self.part(k)
        return leaderboard_frame(run.rank[j], run.effort[j], self.game.theta[k], self.capability_order(k),
                                 run.first_round)

    def summary(self):
        """One row per scenario: name, seed, tau, outcome, period, entry round and tail statistics."""
        import pandas as pd

        rows = []
        for k, scenario in enumerate(self.scenarios):
            out = self.outcome(k).to_dict()
            rows.append(
                {
                    "scenario": scenario.name,
                    "seed": scenario.seed,
                    "tau": float(self.game.tau[k]),
                    **{key: out[key] for key in ("outcome", "period", "entered_at", "rounds")},
                    "mean_total_effort_tail": out["total_effort_mean"],
                    "ranking_correct_share": out["ranking_correct_share"],
                }
            )
        return pd.DataFrame(rows)


def leaderboard_frame(rank, effort, theta, order, first_round: int = 0):
    """Per-round leaderboard measures from ``rank`` and ``effort`` ``(rounds, n)``.

    Columns: ``round``, ``ranking_correct`` (the ranking is the capability
    ranking ``order``), ``kendall_tau`` (between the two rankings),
    ``total_effort``, ``rank_changes`` (developers whose rank changed since
    the previous row; 0 in the first).
    """
    import pandas as pd

    return pd.DataFrame(
        {
            "round": np.arange(first_round, first_round + rank.shape[0]),
            "ranking_correct": analysis.ranking_correct(rank, order),
            "kendall_tau": analysis.kendall_tau(rank, theta),
            "total_effort": effort.sum(axis=1),
            "rank_changes": analysis.rank_changes(rank),
        }
    )


def run_batch(
    scenarios: Sequence,
    *,
    rounds: int | None = None,
    tau=None,
    record: str = "full",
    tail_window: int | None = None,
    progress: bool = False,
    max_rounds: int | None = None,
) -> BatchRun:
    """Play every scenario in ``scenarios`` (all with the same :func:`batch_key`) together.

    ``rounds`` overrides the scenarios' ``dynamics.rounds`` (which must
    otherwise agree); ``tau`` (a number or one per scenario) overrides the
    designer's.  ``record="tail"`` keeps the state keys of every round but
    the full records only for the last ``tail_window`` rounds (default
    :func:`sim.analysis.default_tail_window`), so that long runs of many
    scenarios fit in memory.  ``progress`` shows a tqdm bar over rounds.

    Horizon.  ``rounds`` is the least number of rounds recorded.  A scenario
    whose dynamics are deterministic (:func:`is_deterministic`) and whose
    state has not recurred within ``rounds`` plays on until it does or the
    cap ``M = max(rounds, max_rounds)`` is reached (``max_rounds`` overrides
    each scenario's ``dynamics.max_rounds``); the others keep ``rounds``.
    See :func:`_extend` for how, and :meth:`BatchRun.part` for where such a
    scenario's records are.
    """
    scenarios = tuple(scenarios)
    if not scenarios:
        raise ValueError("run_batch needs at least one scenario")
    if len({batch_key(s) for s in scenarios}) > 1:
        raise ValueError("these scenarios cannot share a batch (group them by sim.engine.batch_key)")
    if rounds is None:
        all_rounds = {s.dynamics.rounds for s in scenarios}
        if len(all_rounds) > 1:
            raise ValueError(f"scenarios disagree on dynamics.rounds ({sorted(all_rounds)}); pass rounds=")
        rounds = all_rounds.pop()
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ScenarioError("dynamics.rounds", rounds, "must be a positive integer")
    rounds = int(rounds)
    if max_rounds is not None and (
        isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or max_rounds < 1
    ):
        raise ScenarioError("dynamics.max_rounds", max_rounds, "must be a positive integer")
    S = len(scenarios)
    if tau is None:
        taus = [None] * S
    else:
        values = np.asarray(tau, dtype=float)
        if values.ndim > 1 or (values.ndim == 1 and values.size != S):
            raise ValueError(f"tau must be a number or one value per scenario ({S}), got shape {values.shape}")
        taus = [float(t) for t in np.broadcast_to(values, (S,))]
    if tail_window is not None and (
        isinstance(tail_window, bool) or not isinstance(tail_window, (int, np.integer)) or tail_window < 1
    ):
        raise ValueError(f"tail_window must be an integer >= 1, got {tail_window!r}")
    caps = np.array([
        max(rounds, int(max_rounds if max_rounds is not None else getattr(s.dynamics, "max_rounds", rounds)))
        for s in scenarios
    ], dtype=np.int64)  # fmt: skip
    result = _run_fixed(scenarios, rounds, taus, record, tail_window, progress)
    return _extend(result, taus, record, tail_window, caps)


#: Most state keys (8 bytes each) one probe batch of :func:`_extend` may hold: scenarios x rounds.
PROBE_KEYS = 1 << 25


def _extend(base: BatchRun, taus, record: str, tail_window: int | None, caps: np.ndarray) -> BatchRun:
    """Play on the deterministic scenarios of ``base`` that have not recurred, up to their caps ``caps``.

    A deterministic scenario's first ``R + 1`` states do not depend on the
    horizon, so a longer run extends a shorter one.  Probes at horizons
    ``min(2 R, M), min(4 R, M), ...`` (cap ``M``; only the state keys are
    kept, a tail window of one round, in batches of at most
    :data:`PROBE_KEYS` keys) find the first recurrence ``(s, p)``
    (:func:`sim.analysis.first_recurrence`); scenarios that have recurred
    drop out of the next probe.  The scenario is then played again to
    ``T = s + p``, the first round at which the recurrence shows, recording
    as asked with a tail of at least ``p + 1`` rounds (so the statistics cover
    exactly one cycle, as with a full record); one that never recurs is played to ``M``.  The
    results are those of a plain run to ``T`` (or ``M``).  Memory: the keys,
    ``8 (T + 1)`` bytes per scenario, and the records as asked.
    """
    S = len(base)
    R = base.rounds
    pending = [
        k for k in range(S)
        if base.deterministic[k] and caps[k] > R and analysis.first_recurrence(base.keys[k]) is None
    ]  # fmt: skip
    if not pending:
        return dataclasses.replace(base, max_rounds=caps)
    horizon = dict.fromkeys(pending, R)
    final: dict[int, tuple[int, int]] = {}  # scenario -> (rounds to play, least tail window)
    while pending:
        by_horizon: dict[int, list[int]] = {}
        for k in pending:
            by_horizon.setdefault(int(min(2 * horizon[k], caps[k])), []).append(k)
        pending = []
        for h, members in sorted(by_horizon.items()):
            step = max(1, PROBE_KEYS // (h + 1))
            for a in range(0, len(members), step):
                part = members[a:a + step]
                try:
                    probe = _run_fixed([base.scenarios[k] for k in part], h, [taus[k] for k in part], "tail", 1,
                                       False)
                except ScenarioError as err:  # the keys of h rounds do not fit: the cap is what to lower
                    if err.field != "dynamics.rounds":
                        raise
                    raise ScenarioError("dynamics.max_rounds", int(caps[part[0]]),
                                        f"playing on to {h} rounds: {err.message}") from None
                for i, k in enumerate(part):
                    found = analysis.first_recurrence(probe.keys[i])
                    if found is not None:
                        final[k] = (max(R, found[0] + found[1]), found[1])
                    elif h >= caps[k]:
                        final[k] = (h, 1)
                    else:
                        horizon[k] = h
                        pending.append(k)
    parts: list = [None] * S
    groups: dict[tuple[int, int], list[int]] = {}
    for k, (T, period) in final.items():
        # One cycle and the round before it (rank changes count against it), as a full record would have.
        window = min(T + 1, max(tail_window or analysis.default_tail_window(T), period + 1))
        groups.setdefault((T, window), []).append(k)
    for (T, window), members in sorted(groups.items()):
        run_ = _run_fixed([base.scenarios[k] for k in members], T, [taus[k] for k in members], record, window, False)
        for i, k in enumerate(members):
            parts[k] = (run_, i)
    return dataclasses.replace(base, max_rounds=caps, parts=tuple(parts))


def _run_fixed(scenarios: tuple, rounds: int, taus: list, record: str, tail_window: int | None,
               progress: bool) -> BatchRun:
    """Play ``scenarios`` for exactly ``rounds`` rounds (the body of :func:`run_batch`, no horizon extension)."""
    S = len(scenarios)
    games = [s.game(t) for s, t in zip(scenarios, taus, strict=True)]
    budget = np.stack([_budget(s) for s in scenarios])
    noise = np.array([float(getattr(s.leaderboard, "noise", 0.0)) for s in scenarios])
    game = BatchGame.from_games(games, budget=budget, noise=noise)
    response = getattr(scenarios[0].dynamics, "response", "best")
    settings = RunSettings(
        schedule=scenarios[0].dynamics.schedule,
        rounds=rounds,
        response=response,
        revision_probability=np.array(
            [getattr(s.dynamics, "revision_probability", None) or 1.0 for s in scenarios]
        ),
        temperature=np.array([getattr(s.dynamics, "temperature", None) or 1.0 for s in scenarios]),
    )
    randoms = [DynamicsRandom(s.seed, s.n) for s in scenarios]
    x0 = initial_profiles(scenarios, game, randoms)
    ceiling = effort_ceiling(game)
    # The recurrence tolerance scales with the largest effort play can reach: the ceiling or the start.
    scale = np.maximum(np.max(np.where(np.isfinite(ceiling), ceiling, 0.0), axis=1), x0.max(axis=1))
    cell = analysis.recurrence_cell(scale)
    if tail_window is None:
        window = analysis.default_tail_window(rounds)
    elif isinstance(tail_window, bool) or not isinstance(tail_window, (int, np.integer)) or tail_window < 1:
        raise ValueError(f"tail_window must be an integer >= 1, got {tail_window!r}")
    else:
        window = int(tail_window)
    _check_memory(S, game.shape[1], rounds, record, window)
    recorder = _Recorder(S, game.shape[1], rounds, record, window, cell)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=rounds, desc=f"{S} scenario(s)", unit="round", leave=False)
    try:
        with np.errstate(over="ignore"):
            play(game, settings, x0, randoms, recorder, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    first = recorder.finish()
    deterministic = np.array([is_deterministic(settings.schedule, response, float(v)) for v in game.noise])
    return BatchRun(
        scenarios=scenarios,
        game=game,
        settings=settings,
        effort=recorder.effort,
        score=recorder.score,
        published=recorder.published,
        rank=recorder.rank,
        keys=recorder.keys,
        first_round=first,
        cell=cell,
        deterministic=deterministic,
        tail_window=window,
    )


def run(scenario, **kwargs) -> BatchRun:
    """Play one scenario (a batch of one; a path is loaded first); see :func:`run_batch`."""
    if isinstance(scenario, (str, bytes)) or hasattr(scenario, "__fspath__"):
        from sim.scenario import load_scenario

        scenario = load_scenario(scenario)
    return run_batch([scenario], **kwargs)


#: Largest share of the machine's memory a run may plan to use for its records.
MEMORY_SHARE = 0.8


def _check_memory(S: int, n: int, rounds: int, record: str, window: int) -> None:
    """Refuse, naming ``dynamics.rounds``, a run whose records cannot fit in memory."""
    stored = rounds + 1 if record == "full" else min(rounds + 1, window)
    need = S * (rounds + 1) * 8 + S * stored * n * (3 * 8 + 4)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return
    if need > MEMORY_SHARE * total:
        raise ScenarioError(
            "dynamics.rounds",
            rounds,
            f"recording {S} scenario(s) x {rounds + 1} rounds x {n} developers needs about {need / 2**30:.3g} GiB, "
            f"more than {MEMORY_SHARE:.0%} of this machine's {total / 2**30:.3g} GiB; use fewer rounds"
            + (" or record='tail'" if record == "full" else ""),
        )


def _budget(scenario) -> np.ndarray:
    budget = getattr(scenario, "budget", None)
    if budget is None:
        return np.full(scenario.n, np.inf)
    return np.asarray(budget, dtype=float)
