"""The one-shot follower game: utilities, exact best responses, equilibrium checks.

Developer ``i`` with capability ``theta_i`` chooses additional effort
``x_i >= 0`` on top of the designer's tune-before-test level ``tau``; its score
is ``s_i = f(theta_i, tau + x_i)``, its rank comes from the published
leaderboard (:mod:`sim.leaderboard`) and its utility is
``u_i = r_{rank_i} - gamma_i * c(x_i)`` (Definition 3.2 of Chen et al. 2026).

Best response (exact, no grid).  Given the others' scores, reward is a step
function of one's own score that changes only at the *overtaking targets*
(the least score that ranks ``i`` above ``j``), and cost is non-decreasing,
so an optimal effort is ``0`` or the least effort reaching one of those
targets.  :func:`best_responses` evaluates exactly these ``n`` candidates,
computes each candidate's rank from the score evaluated *forward*, and keeps
the smallest effort among those whose utility is within
:func:`utility_tolerance` of the best.

The :class:`LeaderboardGame` facade bundles a scenario's pieces; the theory
of Sections 4 and 5 lives in :mod:`sim.theory`.

See ``docs/model.md#utilities`` and ``docs/model.md#repeated-play``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.costs import CostFunction
from sim.errors import ScenarioError
from sim.leaderboard import (
    TIE_BREAKS,
    capability_order,
    check_resolution,
    grid_index,
    overtake_target,
    ranks,
    tie_priority,
)
from sim.scores import ScoreFamily, least_effort

#: Relative tolerance for comparing utilities: two utilities closer than
#: ``UTILITY_RTOL * max(1, max |r|)`` count as equal.  A deviation is
#: profitable only if it gains more than that.
UTILITY_RTOL = 1e-9


#: Largest published grid level the leaderboard allows: beyond ``2**52`` the
#: level ``floor(s / delta)`` and its successor are no longer distinct doubles.
MAX_GRID_INDEX = 2.0**52


def utility_tolerance(rewards) -> float:
    """Absolute tolerance on utilities for a reward vector: ``1e-9 * max(1, max |r|)``."""
    return UTILITY_RTOL * max(1.0, float(np.max(np.abs(rewards))))


@dataclass(frozen=True)
class LeaderboardGame:
    """A leaderboard game at one tune-before-test level.

    Parameters
    ----------
    theta:
        Capabilities, one per developer, in any order (ids are positions).
    score:
        A score family bound to these developers (:mod:`sim.scores`).
    cost:
        Cost of additional effort ``c(x)`` (:mod:`sim.costs`).
    rewards:
        Rewards by rank, non-increasing, length ``n``.
    tau:
        Tune-before-test level ``tau >= 0``.
    resolution:
        Leaderboard resolution ``delta >= 0`` (``0``: exact scores).
    tie_break:
        ``"capability"``, ``"id"`` or ``"random"`` (then ``priority`` must be given).
    gamma:
        Per-developer cost scale (default all ones).
    priority:
        Explicit tie priority (higher wins); overrides ``tie_break`` when given.
    """

    theta: np.ndarray
    score: ScoreFamily
    cost: CostFunction
    rewards: np.ndarray
    tau: float = 0.0
    resolution: float = 0.0
    tie_break: str = "capability"
    gamma: np.ndarray | None = None
    priority: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        theta = np.asarray(self.theta, dtype=float)
        if theta.ndim != 1 or theta.size < 2:
            raise ScenarioError("developers.capability", theta.tolist(), "needs at least 2 developers")
        if not np.all(np.isfinite(theta)):
            raise ScenarioError("developers.capability", theta.tolist(), "must be finite")
        n = theta.size
        rewards = np.asarray(self.rewards, dtype=float)
        if rewards.shape != (n,):
            raise ScenarioError("reward", rewards.tolist(), f"needs one reward per rank (n = {n})")
        if np.any(np.diff(rewards) > 0):
            raise ScenarioError("reward", rewards.tolist(), "rewards must be non-increasing in rank")
        tau = float(self.tau)
        if not (np.isfinite(tau) and tau >= 0):
            raise ScenarioError("designer.tau", self.tau, "must be a finite number >= 0")
        gamma = np.ones(n) if self.gamma is None else np.asarray(self.gamma, dtype=float)
        if gamma.shape != (n,) or not np.all(np.isfinite(gamma)) or np.any(gamma <= 0):
            raise ScenarioError("cost.gamma", gamma.tolist(), "needs one finite scale > 0 per developer")
        if self.priority is None:
            if self.tie_break == "random":
                raise ScenarioError("leaderboard.tie_break", "random", "a one-shot game needs an explicit priority")
            if self.tie_break not in TIE_BREAKS:
                raise ScenarioError("leaderboard.tie_break", self.tie_break, f"choose one of {', '.join(TIE_BREAKS)}")
            priority = tie_priority(theta, self.tie_break)
        else:
            priority = np.asarray(self.priority, dtype=np.int64)
            if sorted(priority.tolist()) != list(range(n)):
                raise ScenarioError("priority", priority.tolist(), f"must be a permutation of 0..{n - 1}")
        for name, value in (("theta", theta), ("rewards", rewards), ("gamma", gamma), ("priority", priority)):
            value = np.array(value)
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "tau", tau)
        object.__setattr__(self, "resolution", check_resolution(self.resolution))
        if self.resolution > 0:
            # Grid levels must stay exact integers in doubles: |s| / delta below 2**52.
            reach = np.concatenate([np.ravel(self.score.zero_effort_score()), np.ravel(self.score.limit())])
            reach = np.abs(reach[np.isfinite(reach)])
            largest = float(reach.max(initial=0.0))
            if largest / self.resolution > MAX_GRID_INDEX:
                raise ScenarioError(
                    "leaderboard.resolution",
                    self.resolution,
                    f"too fine for double precision: scores up to {largest:.6g} need a resolution of at least "
                    f"{largest / MAX_GRID_INDEX:.3g}",
                )

    # -- basic quantities -------------------------------------------------

    @property
    def n(self) -> int:
        return self.theta.size

    @property
    def capability_order(self) -> np.ndarray:
        """Developer ids from strongest to weakest (ties by priority)."""
        return capability_order(self.theta, self.priority)

    def with_tau(self, tau: float) -> LeaderboardGame:
        """The same game at another tune-before-test level."""
        from dataclasses import replace

        return replace(self, tau=tau)

    def scores(self, x) -> np.ndarray:
        """``s_i = f(theta_i, tau + x_i)``."""
        return self.score.score(self.tau + np.asarray(x, dtype=float))

    def ranks(self, x) -> np.ndarray:
        """Ranks (1 = top) at effort profile ``x``."""
        return ranks(self.scores(x), self.resolution, self.priority)

    def costs(self, x) -> np.ndarray:
        """``gamma_i * c(x_i)``."""
        return self.gamma * self.cost(np.asarray(x, dtype=float))

    def utilities(self, x) -> np.ndarray:
        """``u_i = r_{rank_i} - gamma_i * c(x_i)``."""
        return self.rewards[self.ranks(x) - 1] - self.costs(x)

    def ranking_matches_capability(self, x) -> bool:
        """Whether the score ranking at ``x`` orders developers by capability."""
        r = self.ranks(x)
        return bool(np.array_equal(np.argsort(r), self.capability_order))

    def best_responses(self, x) -> BestResponse:
        return best_responses(self, x)

    def is_equilibrium(self, x) -> EquilibriumCheck:
        return equilibrium_check(self, x)


def ranks_against(level: np.ndarray, priority: np.ndarray, candidate_level: np.ndarray, rows=None) -> np.ndarray:
    """Rank developer ``rows[r]`` would get at published level ``candidate_level[r, c]``, the others fixed.

    ``level`` and ``priority`` are everyone's current published levels and
    tie priorities (length ``n``); ``candidate_level`` has one row per
    developer in ``rows`` (default: all).  Developer ``j != i`` is above ``i``
    iff its level is higher, or equal with a higher priority.  Levels are
    mapped to dense integer codes so that ``(level, priority)`` becomes one
    exact integer key, and ranks are counted with a binary search:
    ``O(R C log n)`` time, ``O(R C)`` memory.
    """
    n = level.size
    rows = np.arange(n) if rows is None else np.asarray(rows)
    codes = np.unique(np.concatenate([level, candidate_level.ravel()]), return_inverse=True)[1]
    key = codes[:n].astype(np.int64) * n + priority
    cand_key = codes[n:].reshape(candidate_level.shape).astype(np.int64) * n + priority[rows, None]
    above = n - np.searchsorted(np.sort(key), cand_key, side="right")
    # Developer i's own current entry was counted if it sits above its candidate.
    return 1 + above - (key[rows, None] > cand_key)


@dataclass(frozen=True)
class BestResponse:
    """Every developer's best response to the others' efforts in one profile.

    Arrays of length ``n``: ``effort`` (the smallest optimal effort),
    ``score``, ``rank`` and ``utility`` it buys (rank evaluated forward).
    """

    effort: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    utility: np.ndarray


def candidate_efforts(game: LeaderboardGame, scores: np.ndarray, rows=None) -> np.ndarray:
    """Candidate efforts ``X[r, j]``: least effort for developer ``rows[r]`` to rank above ``j``.

    Its own column holds ``0`` (the zero-effort candidate).  ``+inf`` where
    the target is above the developer's saturation limit.  Efforts are
    checked forward.  ``rows`` defaults to every developer.
    """
    n = game.n
    rows = np.arange(n) if rows is None else np.asarray(rows)
    wins_ties = game.priority[rows, None] > game.priority[None, :]
    targets = overtake_target(np.broadcast_to(scores[None, :], (rows.size, n)), game.resolution, wins_ties)
    efforts = least_effort(game.score[rows][:, None], game.tau, targets)
    efforts[np.arange(rows.size), rows] = 0.0
    return efforts


#: Best responses are computed for blocks of developers with at most this many
#: candidates in a block, so memory stays bounded for any ``n``.
CANDIDATE_BLOCK = 1 << 22


def best_responses(game: LeaderboardGame, x) -> BestResponse:
    """Exact best response of every developer to the others' efforts in ``x``.

    Evaluates, for each developer ``i``, the ``n`` candidates of
    :func:`candidate_efforts`; each candidate's rank is recomputed from the
    score evaluated forward against the others' current published levels and
    priorities, so no candidate is credited with a rank it does not reach.
    Among candidates within :func:`utility_tolerance` of the best utility the
    smallest effort is chosen.  ``O(n^2 log n)`` time; memory bounded by
    :data:`CANDIDATE_BLOCK`.
    """
    x = np.asarray(x, dtype=float)
    n = game.n
    scores = game.scores(x)
    level = grid_index(scores, game.resolution)
    tol = utility_tolerance(game.rewards)
    out = {
        name: np.empty(n, dtype=dtype)
        for name, dtype in (("effort", float), ("score", float), ("rank", np.int64), ("utility", float))
    }
    block = max(1, CANDIDATE_BLOCK // n)
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        efforts = candidate_efforts(game, scores, rows)  # (row, candidate)
        finite = np.isfinite(efforts)
        safe = np.where(finite, efforts, 0.0)
        cand_scores = game.score[rows][:, None].score(game.tau + safe)
        cand_rank = ranks_against(level, game.priority, grid_index(cand_scores, game.resolution), rows)
        cand_util = game.rewards[cand_rank - 1] - game.gamma[rows, None] * game.cost(safe)
        cand_util = np.where(finite, cand_util, -np.inf)
        good = cand_util >= cand_util.max(axis=1, keepdims=True) - tol
        choice = np.argmin(np.where(good, safe, np.inf), axis=1)
        r = np.arange(rows.size)
        out["effort"][rows] = safe[r, choice]
        out["score"][rows] = cand_scores[r, choice]
        out["rank"][rows] = cand_rank[r, choice]
        out["utility"][rows] = cand_util[r, choice]
    return BestResponse(**out)


@dataclass(frozen=True)
class EquilibriumCheck:
    """Result of checking a profile against all unilateral deviations.

    ``gain[i]`` is the best deviation's utility minus the current utility;
    the profile is a pure Nash equilibrium iff every gain is at most
    ``tolerance``.
    """

    is_equilibrium: bool
    gain: np.ndarray
    deviation: np.ndarray
    tolerance: float

    def __bool__(self) -> bool:
        return self.is_equilibrium

    @property
    def profitable(self) -> np.ndarray:
        """Ids of developers with a profitable deviation."""
        return np.flatnonzero(self.gain > self.tolerance)


def equilibrium_check(game: LeaderboardGame, x) -> EquilibriumCheck:
    """Exact check of whether ``x`` is a pure Nash equilibrium (Definition 3.3).

    Compares each developer's utility at ``x`` with its exact best response
    (:func:`best_responses`), which covers every unilateral deviation: the
    best response maximises over all efforts, not over a grid.
    """
    x = np.asarray(x, dtype=float)
    if x.shape != (game.n,) or np.any(~np.isfinite(x)) or np.any(x < 0):
        raise ScenarioError("effort", x.tolist(), f"needs {game.n} finite efforts >= 0")
    current = game.utilities(x)
    br = best_responses(game, x)
    gain = br.utility - current
    tol = utility_tolerance(game.rewards)
    return EquilibriumCheck(bool(np.all(gain <= tol)), gain, br.effort, tol)


#: Most candidate deviations :func:`zero_profile_is_equilibrium` evaluates (memory and time stay bounded);
#: beyond, it raises a :class:`~sim.errors.ScenarioError` that names the limit.
MAX_EXACT_CANDIDATES = 20_000_000
#: Most developers for which the exact check of a custom score or cost (where effort and cost need not be
#: monotone, so no deviation can be skipped) runs over all ``n^2`` deviations.
MAX_EXACT_FULL_DEVELOPERS = 2000


def _monotone(game: LeaderboardGame) -> bool:
    """Whether the score is a built-in family (strictly increasing in effort) and the cost a built-in one."""
    from sim.costs import FlatQuadraticCost, LinearCost, PowerCost
    from sim.scores import ExpSaturation, PowerLaw

    return isinstance(game.score, (PowerLaw, ExpSaturation)) and isinstance(
        game.cost, (LinearCost, PowerCost, FlatQuadraticCost)
    )


def _most_effort(game: LeaderboardGame, budget: np.ndarray) -> np.ndarray:
    """An effort at least the largest ``x`` with ``c(x) <= budget`` (closed-form inverses of the built-in costs,
    enlarged by a relative ``1e-6`` and one unit in the last place so that round-off never makes it too small)."""
    from sim.costs import FlatQuadraticCost, LinearCost

    cost = game.cost
    b = np.maximum(np.asarray(budget, dtype=float), 0.0) / cost.scale
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if isinstance(cost, LinearCost):
            x = b
        elif isinstance(cost, FlatQuadraticCost):
            x = cost.free_effort + np.sqrt(b)
        else:
            x = b ** (1.0 / cost.exponent)
        x = np.nextafter(x * (1 + 1e-6), np.inf)
    return np.where(np.isnan(x), np.inf, x)


def zero_profile_is_equilibrium(game: LeaderboardGame) -> bool:
    """Exact check that the all-zero profile is a pure Nash equilibrium: the same answer as
    ``equilibrium_check(game, zeros).is_equilibrium``, without evaluating all ``n^2`` deviations.

    Sort developers by published key ``(level, priority)``, strongest first;
    developer ``i`` at position ``p`` can only gain by reaching the target
    ``T_ik`` of a rival at a position ``k < p`` (targets below its own are
    reached at zero effort).  With the score non-decreasing in effort and the
    cost non-decreasing (the built-in families), ``E_i(T_ik)`` and the cost
    ``gamma_i c(E_i(T_ik))`` do not increase with ``k``, and the rank reached
    (evaluated forward) does not get worse as ``k`` falls.  Hence:

    * deviations with ``r_1 - gamma_i c(E_i(T_ik)) < u_i(0) - tol`` cannot be
      within ``tol`` of the best (which is at least ``u_i(0)``): their
      targets lie above ``f_i(tau + x_i)`` with ``gamma_i c(x_i) = r_1 -
      u_i(0) + tol`` (closed-form inverse cost), a prefix ``k < cut_i`` of
      positions found by a vectorised bisection on targets;
    * among the rest, for each block of equal rewards in rank space only its
      last position ``e`` (or ``p - 1``) matters: a deviation ``k`` that lands
      at a rank with reward ``r`` is matched by the end ``e <= k`` of that
      reward's block, which costs no more and earns at least ``r``.

    Each remaining candidate is evaluated exactly as :func:`best_responses`
    does (forward score, rank against the others' keys, smallest effort
    within ``tol`` of the best), so the verdict agrees with it.  Work: ``n
    log n`` for the bisection plus one evaluation per remaining candidate.
    Custom scores or costs (no monotonicity to rely on) use
    :func:`equilibrium_check` for up to :data:`MAX_EXACT_FULL_DEVELOPERS`
    developers; beyond either limit a :class:`ScenarioError` names it.
    """
    n = game.n
    if not _monotone(game):
        if n > MAX_EXACT_FULL_DEVELOPERS:
            raise ScenarioError(
                "developers", n,
                f"the exact equilibrium check of a custom score or cost tries all n^2 deviations: at most "
                f"{MAX_EXACT_FULL_DEVELOPERS} developers",
            )  # fmt: skip
        return equilibrium_check(game, np.zeros(n)).is_equilibrium
    zeros = np.zeros(n)
    scores = game.scores(zeros)
    level = grid_index(scores, game.resolution)
    prio = game.priority
    rewards = game.rewards
    tol = utility_tolerance(rewards)
    current = game.utilities(zeros)
    order = np.lexsort((-prio, -level))  # strongest key first
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)

    def targets(rows: np.ndarray, at: np.ndarray) -> np.ndarray:
        rival = order[at]
        return overtake_target(scores[rival], game.resolution, prio[rows] > prio[rival])

    def evaluate(rows: np.ndarray, at: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Effort and utility of ``rows[r]`` reaching the target of position ``at[r]`` (zero effort if None),
        evaluated as :func:`best_responses` evaluates its candidates."""
        effort = np.zeros(rows.size)
        if at is not None and rows.size:
            effort = least_effort(game.score[rows], game.tau, targets(rows, at))
        finite = np.isfinite(effort)
        safe = np.where(finite, effort, 0.0)
        cand_scores = game.score[rows].score(game.tau + safe)
        cand_rank = ranks_against(level, prio, grid_index(cand_scores, game.resolution)[:, None], rows)[:, 0]
        util = rewards[cand_rank - 1] - game.gamma[rows] * game.cost(safe)
        return safe, np.where(finite, util, -np.inf)

    # A deviation worth more than 2 tol over u_i(0) decides at once: the chosen best response is within tol of
    # the best, so it gains more than tol.  The adjacent deviations (position p - 1) are tried first.
    above = np.flatnonzero(position > 0)
    _, util = evaluate(above, position[above] - 1)
    if np.any(util - current[above] > 2 * tol):
        return False
    # cut_i: a position from which on every deviation that could come within tol of u_i(0) is kept.  Such a
    # deviation costs at most b_i = r_1 - u_i(0) + tol, so it needs at most the effort x_i with
    # gamma_i c(x_i) = b_i (enlarged a little: keeping extra candidates never changes the verdict) and reaches
    # at most the score f_i(tau + x_i); the targets above that score are a prefix of positions (bisection).
    reach = game.score.score(game.tau + _most_effort(game, (rewards[0] - current + tol) / game.gamma))
    lo, hi = np.zeros(n, dtype=np.int64), position.copy()
    while True:
        active = np.flatnonzero(lo < hi)
        if active.size == 0:
            break
        mid = (lo[active] + hi[active]) // 2
        ok = targets(active, mid) <= reach[active]
        hi[active[ok]] = mid[ok]
        lo[active[~ok]] = mid[~ok] + 1
    cut = lo
    # Candidate positions: block ends e (last rank index of each run of equal rewards) in [cut_i, p - 2], and p - 1.
    ends = np.flatnonzero(np.append(rewards[1:] != rewards[:-1], True))
    first = np.searchsorted(ends, cut, side="left")
    last = np.searchsorted(ends, position - 1, side="left")  # ends < p - 1
    has_adjacent = cut <= position - 1
    counts = np.where(has_adjacent, np.maximum(last - first, 0) + 1, 0)
    total = int(counts.sum())
    if total > MAX_EXACT_CANDIDATES:
        raise ScenarioError(
            "developers", n,
            f"the exact equilibrium check needs {total:,} candidate deviations here, more than the "
            f"{MAX_EXACT_CANDIDATES:,} it may evaluate",
        )  # fmt: skip
    rows = np.repeat(np.arange(n), counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    within = np.arange(total) - offsets  # 0 .. counts_i - 1
    block = first[rows] + within
    at = np.where(within == counts[rows] - 1, position[rows] - 1, ends[np.minimum(block, ends.size - 1)])
    # The zero candidate of every developer, then the others; evaluated as best_responses does.
    safe0, util0 = evaluate(np.arange(n), None)
    safe1, util1 = evaluate(rows, at)
    rows = np.concatenate([np.arange(n), rows])
    safe, util = np.concatenate([safe0, safe1]), np.concatenate([util0, util1])
    best = np.full(n, -np.inf)
    np.maximum.at(best, rows, util)
    good = util >= best[rows] - tol
    least = np.full(n, np.inf)
    np.minimum.at(least, rows[good], safe[good])
    chosen = np.full(n, -np.inf)
    pick = good & (safe == least[rows])
    np.maximum.at(chosen, rows[pick], util[pick])
    return bool(np.all(chosen - current <= tol))
