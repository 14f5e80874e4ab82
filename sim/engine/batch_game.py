"""The batch game: ``S`` leaderboard games stepped together (:class:`BatchGame`) and the exact best
response of its developers (:class:`Response`, :meth:`BatchGame.respond`, :func:`hold_current`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.costs import CostFunction, FlatQuadraticCost, LinearCost, PowerCost
from sim.engine.cache import CandidateCache
from sim.game import LeaderboardGame, utility_tolerance
from sim.leaderboard import grid_index, least_score_at_index, ranks
from sim.scores import CustomScore, ExpSaturation, PowerLaw, ScoreFamily, least_effort_and_score

#: Candidate-by-rival comparisons processed at once when counting ranks.
RANK_BLOCK = 1 << 22


#: Cost families declared non-decreasing, for which :meth:`BatchGame.reach` may prune candidates.
_MONOTONE_COSTS = (LinearCost, PowerCost, FlatQuadraticCost)


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
    #: ``False``: the numpy path for everything (no :attr:`kernel_spec`, numba never imported); same bits.
    compiled: bool = field(default=True, repr=False, kw_only=True)

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
        """Score and cost parameters for :func:`sim.kernel.respond`, or ``None`` (custom families, or
        ``compiled=False``: numpy)."""
        if not self.compiled:
            return None
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
    def from_games(cls, games: Sequence[LeaderboardGame], budget=None, noise=None, compiled: bool = True) -> BatchGame:
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
            compiled=compiled,
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

    def publish(self, x, shock=None, true=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One round's leaderboard at efforts ``x``: ``(true scores, evaluated, published, ranks)``.

        ``evaluated = true + shock`` (evaluation noise, when given).  The
        compiled :func:`sim.kernel.publish` computes the same bits for the
        built-in families.  ``true``: the true scores of ``x`` when already
        known (as the compiled kernels computed them, the same bits as
        evaluating them), taken instead of evaluated again.
        """
        x = np.ascontiguousarray(x, dtype=float)
        if self.kernel_spec is not None:
            from sim import kernel

            out = (np.empty(self.shape), np.empty(self.shape), np.empty(self.shape), np.empty(self.shape, np.int64))
            noisy = shock is not None
            S = self.shape[0]
            kernel.publish_known(
                *self.kernel_spec[:6], self.tau, self.resolution, self.priority, x,
                np.ascontiguousarray(shock, dtype=float) if noisy else np.zeros(self.shape), noisy,
                np.full(S, true is not None), x if true is None else np.ascontiguousarray(true, dtype=float), *out,
            )  # fmt: skip
            return out
        true = self.scores(x) if true is None else np.asarray(true, dtype=float)
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
