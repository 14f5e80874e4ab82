"""Theory of the follower game (Sections 4 and 5 of Chen, Zhang and Hardt 2026).

All functions take a :class:`sim.game.LeaderboardGame` and work in the
*capability order*: pair ``k`` (``k = 0..n-2``) is the developer at
capability rank ``k + 2`` (weaker, ``i``) against the one directly above it
(stronger, ``i - 1``), strongest pair first.

* :func:`baseline_scores`: ``b_i(tau) = f(theta_i, tau)``.
* :func:`just_overtake`: ``Delta_i(tau) = E(theta_i, t) - tau`` with ``t`` the
  least score that beats ``b_{i-1}(tau)`` on the published grid
  (Definition 4.4).
* :func:`zero_equilibrium_condition`: Proposition 4.5, the all-zero profile
  is a PNE iff ``gamma_i * c(Delta_i(tau)) >= r_{i-1} - r_i`` for all ``i``.
* :func:`stabilising_threshold`: ``tau*`` of Definition 5.4, or "undetermined
  in double precision" where round-off would decide it
  (:func:`round_off_decides`).
* :func:`power_law_quantities`: Proposition 5.6 for the generalised power law.

The mathematics, in the project's words: ``docs/model.md#theory`` and
``docs/model.md#what-is-exact``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.game import LeaderboardGame, utility_tolerance, zero_profile_is_equilibrium
from sim.leaderboard import grid_index, least_score_at_index
from sim.rewards import reward_gaps
from sim.scores import ExpSaturation, PowerLaw, ScoreFamily, least_effort

#: A baseline within this many ulps of its limit counts as saturated in doubles.
SATURATION_ULPS = 1000

#: Ulps a computed score may be off by: the target of a just-overtake is moved by this many ulps either way
#: (and the effort by as many ulps of ``tau + x``) to see whether round-off could flip Proposition 4.5's test.
ROUND_OFF_ULPS = 4

#: Default upper end of the search for ``tau*`` (in the score family's effort units).
DEFAULT_TAU_MAX = 1e12
#: Levels of the published grid that :func:`stabilising_threshold` enumerates
#: exactly when ``delta > 0``; above this it falls back to a sampled search.
MAX_GRID_LEVELS = 2_000_000
#: Most grid levels enumerated over all pairs together (about 10 microseconds each); beyond, the sampled
#: search is used and its answer is not vouched for (bounded time on any leaderboard).
MAX_TOTAL_GRID_LEVELS = 2_000_000


def _pairs(game: LeaderboardGame) -> tuple[np.ndarray, np.ndarray]:
    """Ids of (stronger, weaker) for each adjacent pair in capability order."""
    order = game.capability_order
    return order[:-1], order[1:]


def baseline_scores(game: LeaderboardGame, tau: float | None = None) -> np.ndarray:
    """``b_i(tau) = f(theta_i, tau)``, per developer id."""
    tau = game.tau if tau is None else float(tau)
    return game.score.score(np.full(game.n, tau))


def _weaker_wins_ties(game: LeaderboardGame) -> np.ndarray:
    strong, weak = _pairs(game)
    return game.priority[weak] > game.priority[strong]


def just_overtake(game: LeaderboardGame, tau=None) -> np.ndarray:
    """Just-overtake efforts ``Delta_i(tau)``, one per adjacent pair (Definition 4.4).

    ``tau`` may be a scalar (result shape ``(n - 1,)``) or an array of levels
    (result shape ``tau.shape + (n - 1,)``).  The target is the least score on
    the published grid that ranks the weaker developer above the stronger one
    at their baselines: the stronger one's published level (if the weaker
    wins ties) or the next level; for ``delta = 0`` the infimum
    ``b_{i-1}(tau)`` itself.  ``+inf`` where the target is unreachable
    (``docs/model.md#just-overtake-effort``).
    """
    tau = game.tau if tau is None else tau
    return _just_overtake_pairs(game, np.asarray(tau, dtype=float)[..., None])


def _just_overtake_pairs(game: LeaderboardGame, tau: np.ndarray) -> np.ndarray:
    """``Delta_k(tau[..., k])``: pair ``k`` at its own level; ``tau`` broadcasts against ``(n - 1,)``."""
    _, weak = _pairs(game)
    tau, target = _pair_targets(game, tau)
    return least_effort(game.score[weak], tau, target)


def _pair_targets(game: LeaderboardGame, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(tau, t)`` broadcast to ``tau.shape + (n - 1,)``: ``t`` the least score that beats pair ``k``'s rival."""
    strong, _ = _pairs(game)
    tau = np.broadcast_to(tau, np.broadcast_shapes(tau.shape, strong.shape))
    rival = game.score[strong].score(tau)
    if game.resolution == 0:
        target = rival
    else:
        level = grid_index(rival, game.resolution) + np.where(_weaker_wins_ties(game), 0.0, 1.0)
        target = least_score_at_index(level, game.resolution)
    return tau, target


def float_saturated(game: LeaderboardGame, tau=None) -> np.ndarray:
    """Developers whose baseline ``b_i(tau)`` is within float round-off of its limit.

    There, doubles cannot tell scores apart any more (``U - b <= SATURATION_ULPS``
    ulps of ``U``), and ``Delta_i(tau)`` and the equilibrium checks reflect
    round-off rather than the model.  Boolean array, one entry per developer.
    """
    tau = game.tau if tau is None else tau
    b = game.score.score(np.broadcast_to(np.asarray(tau, dtype=float)[..., None], np.shape(tau) + (game.n,)))
    limit = np.broadcast_to(np.asarray(game.score.limit(), dtype=float), (game.n,))
    return np.abs(limit - b) <= SATURATION_ULPS * np.spacing(np.abs(limit))


@dataclass(frozen=True)
class ZeroEquilibriumCondition:
    """Proposition 4.5 at one ``tau``, pair by pair (capability order, strongest pair first).

    ``holds[k]`` is ``cost[k] >= gap[k] - tolerance`` where ``cost[k] =
    gamma_i * c(Delta_i(tau))`` and ``gap[k] = r_{i-1} - r_i``.
    """

    tau: float
    just_overtake: np.ndarray
    cost: np.ndarray
    gap: np.ndarray
    holds: np.ndarray
    tolerance: float

    @property
    def zero_is_equilibrium(self) -> bool:
        return bool(np.all(self.holds))

    def __bool__(self) -> bool:
        return self.zero_is_equilibrium


def _pair_costs(game: LeaderboardGame, delta: np.ndarray) -> np.ndarray:
    _, weak = _pairs(game)
    finite = np.isfinite(delta)
    cost = game.gamma[weak] * game.cost(np.where(finite, delta, 0.0))
    return np.where(finite, cost, np.inf)


def zero_equilibrium_condition(game: LeaderboardGame, tau: float | None = None) -> ZeroEquilibriumCondition:
    """Proposition 4.5: is the all-zero profile a PNE at ``tau``?

    Under C3 and a convex cost the adjacent check suffices; compare with
    :func:`zero_is_equilibrium_exact`, which checks every unilateral deviation
    (``docs/model.md#the-zero-effort-equilibrium`` says when they disagree).
    """
    tau = game.tau if tau is None else float(tau)
    delta = just_overtake(game, tau)
    cost = _pair_costs(game, delta)
    gap = reward_gaps(game.rewards)
    tol = utility_tolerance(game.rewards)
    return ZeroEquilibriumCondition(tau, delta, cost, gap, cost >= gap - tol, tol)


def zero_is_equilibrium(game: LeaderboardGame, tau: float | None = None) -> bool:
    """Proposition 4.5's test (adjacent pairs only)."""
    return zero_equilibrium_condition(game, tau).zero_is_equilibrium


def zero_is_equilibrium_exact(game: LeaderboardGame, tau: float | None = None) -> bool:
    """Exact check of the all-zero profile against every unilateral deviation.

    The same verdict as ``equilibrium_check(game, zeros)``, computed by
    :func:`sim.game.zero_profile_is_equilibrium`, which skips the deviations
    that cannot be profitable (sub-quadratic for the built-in families).
    """
    g = game if tau is None else game.with_tau(tau)
    return zero_profile_is_equilibrium(g)


def _holds_at(game: LeaderboardGame, taus: np.ndarray) -> np.ndarray:
    """Proposition 4.5 per pair at many levels: bool array ``taus.shape + (n - 1,)``."""
    return _pairs_hold(game, np.asarray(taus, dtype=float)[..., None])


def _pairs_hold(game: LeaderboardGame, tau: np.ndarray) -> np.ndarray:
    """Proposition 4.5 for pair ``k`` at ``tau[..., k]`` (``tau`` broadcasts against ``(n - 1,)``)."""
    delta = _just_overtake_pairs(game, tau)
    gap = reward_gaps(game.rewards)
    return _pair_costs(game, delta) >= gap - utility_tolerance(game.rewards)


def round_off_decides(game: LeaderboardGame, tau=None) -> np.ndarray:
    """Pairs whose Proposition 4.5 test at ``tau`` is decided by float round-off: bool, one per adjacent pair.

    ``tau`` may be a scalar (shape ``(n - 1,)``) or an array (``tau.shape + (n - 1,)``).
    The test ``gamma_i c(Delta_i(tau)) >= r_{i-1} - r_i`` counts as decided by
    round-off where moving the target score ``t`` by :data:`ROUND_OFF_ULPS`
    ulps of ``max(|t|, |U_i|)`` (the error a computed score may carry), and
    the resulting effort by as many ulps of ``tau + Delta_i``, flips it:
    where it holds, it would fail with the target ``t - err``; where it
    fails, it would hold with ``t + err``.  On a saturating score this is
    what happens once the challenger's slope is so small that a few ulps of
    score are worth as much effort as the reward gap (``docs/model.md#what-is-exact``).
    """
    tau = game.tau if tau is None else tau
    return _pairs_round_off(game, np.asarray(tau, dtype=float)[..., None])[1]


def _pairs_round_off(game: LeaderboardGame, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(holds, undetermined)`` for pair ``k`` at ``tau[..., k]``: Proposition 4.5 and :func:`round_off_decides`.

    ``holds`` is element for element what :func:`_pairs_hold` computes.
    """
    _, weak = _pairs(game)
    challenger = game.score[weak]
    tau, target = _pair_targets(game, tau)
    gap = reward_gaps(game.rewards)
    tol = utility_tolerance(game.rewards)
    holds = _pair_costs(game, least_effort(challenger, tau, target)) >= gap - tol
    limit = np.nan_to_num(np.asarray(challenger.limit(), dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    err = ROUND_OFF_ULPS * np.spacing(np.maximum(np.abs(np.nan_to_num(target)), np.abs(limit)))
    with np.errstate(over="ignore", invalid="ignore"):
        moved = least_effort(challenger, tau, np.where(holds, target - err, target + err))
        slack = ROUND_OFF_ULPS * np.spacing(np.abs(tau + np.where(np.isfinite(moved), moved, 0.0)))
        moved = np.where(holds, np.maximum(moved - slack, 0.0), moved + slack)
        flipped = (_pair_costs(game, moved) >= gap - tol) != holds
    return holds, flipped


@dataclass(frozen=True)
class StabilisingThreshold:
    """The stabilising threshold ``tau*`` (Definition 5.4) and how far it can be trusted.

    See ``docs/model.md#stabilising-threshold`` for how it is computed.

    Attributes
    ----------
    tau_star:
        Smallest ``tau`` from which the zero-equilibrium condition holds for
        every larger ``tau``; ``inf`` when it still fails at ``tau_max``
        (or, for ``delta > 0``, fails for ever); ``None`` when it is
        undetermined in double precision (some pair's condition still fails
        where round-off starts to decide it, and no pair never stabilises).
    per_pair:
        The same for each adjacent pair alone, ``nan`` for an undetermined
        pair; ``tau_star = max(per_pair)`` when no entry is ``nan``.
    stabilises:
        ``tau_star`` is finite; ``None`` when ``tau_star`` is.
    vouched:
        Whether the search can vouch for ``tau_star``: always for the exact
        grid-level enumeration (``delta > 0``); for ``delta = 0`` when the
        condition was monotone on the sampled levels (Lemma 5.2 says it is
        under the assumptions); never when ``tau_star`` is undetermined.
        When ``False``, ``note`` says why.
    method:
        ``"grid_levels"`` (exact) or ``"bisection"``.
    undetermined_beyond:
        The least sampled ``tau`` from which round-off decides the condition of
        an undetermined pair (:func:`round_off_decides`); ``nan`` when every
        pair is determined.
    """

    per_pair: np.ndarray
    vouched: bool
    method: str
    tau_max: float
    note: str = ""
    undetermined_beyond: float = float("nan")

    @property
    def determined(self) -> bool:
        """``tau_star`` is a number (possibly ``inf``), not undetermined in double precision."""
        return bool(np.any(np.isposinf(self.per_pair)) or not np.any(np.isnan(self.per_pair)))

    @property
    def tau_star(self) -> float | None:
        if np.any(np.isposinf(self.per_pair)):
            return float("inf")  # a pair that never stabilises decides, whatever the others
        if np.any(np.isnan(self.per_pair)):
            return None
        return float(np.max(self.per_pair, initial=0.0))

    @property
    def stabilises(self) -> bool | None:
        star = self.tau_star
        return None if star is None else bool(np.isfinite(star))

    def __repr__(self) -> str:
        return (
            f"StabilisingThreshold(tau_star={self.tau_star!r}, per_pair={self.per_pair!r}, vouched={self.vouched}, "
            f"method={self.method!r}, tau_max={self.tau_max!r}, note={self.note!r}, "
            f"undetermined_beyond={self.undetermined_beyond!r})"
        )


def stabilising_threshold(
    game: LeaderboardGame, tau_max: float = DEFAULT_TAU_MAX, per_decade: int = 20
) -> StabilisingThreshold:
    """``tau* = inf {tau >= 0 : gamma_i c(Delta_i(tau')) >= r_{i-1} - r_i for all i and all tau' >= tau}``.

    With ``delta = 0`` (exact scores) the condition is monotone in ``tau``
    under the paper's assumptions (Lemma 5.2, Proposition 5.3), so ``tau*`` is
    found by bracketing on log-spaced levels (``per_decade`` a decade, from
    ``1e-9`` effort units to ``tau_max``) and bisecting the last change, all
    pairs at once; a condition that fails again after holding is reported
    (``vouched=False``) rather than hidden.  Levels at which a pair's scores
    are within float round-off of their limits (:func:`float_saturated`)
    cannot be resolved in doubles and are left out, with a note.

    With ``delta > 0``, ``Delta_i(tau)`` is a sawtooth: on each interval where
    the rival's published level is constant it falls with slope ``-1``, and it
    jumps when the rival reaches the next level at ``T_m = E(theta_{i-1},
    t_m)``.  The condition can therefore only fail just before some ``T_m``;
    the search enumerates every level the rival can reach and returns the
    last ``T_m`` before which the condition fails (exact, no sampling, no
    bound), falling back to the sampled search when there are more than
    :data:`MAX_GRID_LEVELS` levels.
    """
    if not (np.isfinite(tau_max) and tau_max > 0):
        raise ValueError(f"tau_max must be a finite number > 0, got {tau_max!r}")
    if game.resolution > 0:
        result = _threshold_grid_levels(game)
        if result is not None:
            return result
    return _threshold_bisection(game, tau_max, per_decade, fallback=game.resolution > 0)


def _threshold_bisection(
    game: LeaderboardGame, tau_max: float, per_decade: int, fallback: bool
) -> StabilisingThreshold:
    unit = float(getattr(game.score, "effort_unit", 1.0))
    low = min(1e-9 * unit, tau_max * 1e-3)
    decades = np.log10(tau_max) - np.log10(low)
    taus = np.concatenate([[0.0], np.geomspace(low, tau_max, max(int(decades * per_decade), 2) + 1)])
    holds, undetermined = _pairs_round_off(game, taus[:, None])  # (levels, pairs)
    resolvable = _pair_resolvable(game, taus)  # (levels, pairs)
    pairs = game.n - 1
    per_pair = np.zeros(pairs)
    notes = []
    vouched = not fallback
    if fallback:
        notes.append("too many grid levels to enumerate; sampled search on the sawtooth cannot be vouched for")
    lo, hi = np.zeros(pairs), np.zeros(pairs)
    bisect = np.zeros(pairs, dtype=bool)
    beyond = np.inf
    for k in range(pairs):
        # Only the levels before the pair's scores saturate in doubles can be judged.
        unresolvable = np.flatnonzero(~resolvable[:, k])
        end = int(unresolvable[0]) if unresolvable.size else taus.size
        if end == 0:  # saturated from the start (a constant score, say): judge all, vouch for nothing
            end, vouched = taus.size, False
            notes.append(f"pair {k + 1}: scores are within float round-off of their limits at every tau")
        elif end < taus.size:
            notes.append(
                f"pair {k + 1}: scores are within float round-off of their limits from tau = {taus[end]:.6g} on; "
                "larger tau cannot be resolved in double precision"
            )
        # ... and before round-off starts to decide its condition (docs/model.md#what-is-exact).
        decided = np.flatnonzero(undetermined[:end, k])
        end = int(decided[0]) if decided.size else end
        if end < taus.size and (end == 0 or not holds[end - 1, k]):
            # It fails where it can last be judged: whether it ever holds for good is up to round-off.
            per_pair[k], vouched = np.nan, False
            beyond = min(beyond, taus[end])
            notes.append(f"pair {k + 1}: undetermined in double precision beyond tau = {taus[end]:.6g}")
            continue
        if decided.size:
            notes.append(f"pair {k + 1}: round-off decides the condition from tau = {taus[end]:.6g} on")
        fails = ~holds[:end, k]
        if not fails.any():
            continue
        last = int(np.flatnonzero(fails)[-1])
        if not fails[: last + 1].all():
            vouched = False
            first_hold = int(np.flatnonzero(~fails)[0])
            notes.append(
                f"pair {k + 1}: condition not monotone in tau (holds at tau={taus[first_hold]:.6g}, "
                f"fails again at tau={taus[last]:.6g})"
            )
        if last == end - 1:
            per_pair[k] = np.inf
            bound = "tau_max" if end == taus.size else "tau"
            notes.append(f"pair {k + 1}: the condition still fails at {bound} = {taus[end - 1]:.6g}")
            continue
        lo[k], hi[k], bisect[k] = taus[last], taus[last + 1], True
    # Bisect every bracketed pair at once; invariant: fails at lo, holds at hi.
    for _ in range(200):
        mid = np.where(bisect, 0.5 * (lo + hi), 0.0)
        active = bisect & (lo < mid) & (mid < hi)
        if not active.any():
            break
        ok = _pairs_hold(game, mid)
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid, lo)
    per_pair = np.where(bisect, hi, per_pair)
    if np.any(np.isposinf(per_pair)):
        beyond = np.inf  # a pair that never stabilises decides tau*: nothing is undetermined
    beyond = float(beyond) if np.isfinite(beyond) else float("nan")
    return StabilisingThreshold(per_pair, vouched, "bisection", tau_max, "; ".join(notes), beyond)


def _pair_resolvable(game: LeaderboardGame, taus: np.ndarray) -> np.ndarray:
    """Whether doubles can resolve pair ``k`` at each level: bool array ``taus.shape + (n - 1,)``.

    Not where the rival's baseline sits within :data:`SATURATION_ULPS` ulps of
    its own limit (its score has stopped moving in doubles) or of the
    challenger's limit (reachability of the target is decided by round-off).
    """
    strong, weak = _pairs(game)
    rival = game.score[strong].score(np.broadcast_to(taus[:, None], taus.shape + strong.shape))
    limit = np.broadcast_to(np.asarray(game.score.limit(), dtype=float), (game.n,))

    def near(x, lim):
        return np.abs(lim - x) <= SATURATION_ULPS * np.spacing(np.abs(lim))

    return ~(near(rival, limit[strong]) | near(rival, limit[weak]))


#: Most rival grid levels :func:`_threshold_grid_levels` evaluates at once; pairs are batched up to it (memory).
LEVELS_PER_BATCH = 500_000


def _threshold_grid_levels(game: LeaderboardGame, batch: int | None = None) -> StabilisingThreshold | None:
    """Exact ``tau*`` for ``delta > 0`` by enumerating the rival's grid levels; ``None`` if not possible.

    All pairs at once: the levels of every pair are laid end to end and each
    score family is indexed per level, so :func:`sim.scores.least_effort`
    runs twice per batch of pairs (rival crossings, then the challenger's
    efforts) however many pairs there are.  Every quantity is computed
    element by element exactly as in the pair-by-pair loop
    (:func:`_threshold_grid_levels_reference`), so the result is bit-identical.
    ``batch`` caps the levels evaluated at once (default :data:`LEVELS_PER_BATCH`).
    """
    delta = game.resolution
    strong, weak = _pairs(game)
    gaps = reward_gaps(game.rewards)
    tol = utility_tolerance(game.rewards)
    tie_offset = np.where(_weaker_wins_ties(game), 0.0, 1.0)
    per_pair = np.zeros(game.n - 1)
    pairs = np.flatnonzero(~(gaps <= tol))  # elsewhere c(Delta) >= 0 >= gap - tol everywhere
    if pairs.size:
        rival = game.score[strong[pairs]]
        start = grid_index(rival.score(0.0), delta)
        top = grid_index(rival.limit(), delta)
        if not np.all(np.isfinite(start) & np.isfinite(top)) or np.any(top - start > MAX_GRID_LEVELS):
            return None
        counts = np.maximum(top - start, 0.0).astype(np.int64)
        if int(counts.sum()) > MAX_TOTAL_GRID_LEVELS:
            return None
        for run in _level_batches(counts, LEVELS_PER_BATCH if batch is None else batch):
            k = pairs[run]
            per_pair[k] = _grid_level_thresholds(
                game, strong[k], weak[k], start[run], top[run], counts[run], gaps[k], tol, tie_offset[k]
            )
    never = not np.all(np.isfinite(per_pair))
    note = "the weaker developer can always catch up once the rival's score stops rising" if never else ""
    return StabilisingThreshold(per_pair, True, "grid_levels", np.inf, note)


def _level_batches(counts: np.ndarray, cap: int) -> list[slice]:
    """Runs of consecutive pairs whose level counts add up to at most ``cap`` (a larger pair goes alone)."""
    batches, begin, total = [], 0, 0
    for k, count in enumerate(counts.tolist()):
        if k > begin and total + count > cap:
            batches.append(slice(begin, k))
            begin, total = k, 0
        total += count
    batches.append(slice(begin, len(counts)))
    return batches


#: Bounds, in bits, on the float search steps :func:`_least_effort_grouped` predicts for its groups (each
#: group costs a fixed overhead, so finer groups only for many elements, from :data:`MANY_ELEMENTS` on).
SEARCH_GROUP_BITS = (8,)
SEARCH_GROUP_BITS_MANY = (3, 6, 10)
MANY_ELEMENTS = 20_000


def _least_effort_grouped(family: ScoreFamily, tau, target) -> np.ndarray:
    """:func:`sim.scores.least_effort`, called separately on groups of elements by predicted search length.

    ``least_effort`` treats every element independently, but its float search
    runs over all of them for as many steps as the slowest needs; a few
    elements where the score is flat in doubles (targets at a saturating
    limit, say) would otherwise make thousands of easy ones take dozens of
    steps.  The prediction is ``log2`` of the effort ulps per score ulp at the
    family's inverse; it only decides the grouping, never a result.
    """
    tau = np.asarray(tau, dtype=float)
    target = np.asarray(target, dtype=float)
    if not isinstance(family, (PowerLaw, ExpSaturation)) or target.ndim != 1:
        return least_effort(family, tau, target)
    tau = np.broadcast_to(tau, target.shape)
    with np.errstate(all="ignore"):
        e = tau + np.maximum(family.effort_to_reach(target) - tau, 0.0)
        probe = 2.0**16 * np.spacing(e)
        rise = family.score(e + probe) - family.score(e)
        # log2(effort ulps per score ulp) = 16 + log2(spacing(target) / rise)
        ratio = np.spacing(target) / rise
    bits = SEARCH_GROUP_BITS_MANY if target.size >= MANY_ELEMENTS else SEARCH_GROUP_BITS
    group = np.searchsorted(np.exp2(np.subtract(bits, 16.0)), np.where(np.isfinite(e), ratio, 0.0))
    group = np.where(np.isnan(ratio) & np.isfinite(e), len(bits), group)  # no rise at all: the slowest group
    result = np.empty(target.shape)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        result[members] = least_effort(family[members], tau[members], target[members])
    return result


def _grid_level_thresholds(game, strong, weak, start, top, counts, gaps, tol, tie_offset) -> np.ndarray:
    """Per-pair ``tau*`` of :func:`_threshold_grid_levels` for pairs ``(strong[j], weak[j])`` with rival levels
    ``start[j] + 1 .. top[j]`` (``counts[j]`` of them, ``top`` being the limit's level)."""
    delta = game.resolution
    m = strong.size
    total = int(counts.sum())
    owner = np.repeat(np.arange(m), counts)  # the pair of each level
    first = np.cumsum(counts) - counts  # where each pair's levels begin
    # Levels the rival's baseline crosses as tau grows, and when it crosses them.
    levels = start[owner] + (np.arange(total) - first[owner] + 1).astype(float)
    crossing = np.empty(0)
    if total:
        crossing = _least_effort_grouped(game.score[strong[owner]], 0.0, least_score_at_index(levels, delta))
    # The rival's highest level is the limit's (each pair's last level), unless the limit is only approached.
    has = counts > 0
    last = (first + counts - 1)[has]
    unreached = ~np.isfinite(crossing[last])
    top = top.copy()
    top[np.flatnonzero(has)[unreached]] -= 1
    top = np.maximum(top, start)
    keep = np.ones(total, dtype=bool)
    keep[last[unreached]] = False
    owner, levels, crossing = owner[keep], levels[keep], crossing[keep]
    # Just before crossing level m the rival is at level m - 1.  After the last crossing the rival's level
    # stays put and Delta falls without bound: the pair never stabilises if the challenger can reach the next.
    targets = least_score_at_index(np.concatenate([levels - 1 + tie_offset[owner], top + tie_offset]), delta)
    efforts = _least_effort_grouped(
        game.score[np.concatenate([weak[owner], weak])], np.concatenate([crossing, np.zeros(m)]), targets
    )
    left_limit, final = efforts[: owner.size], efforts[owner.size :]
    with np.errstate(over="ignore"):  # the costs of unreachable targets (masked below) may overflow
        cost = game.gamma[weak[owner]] * np.where(np.isfinite(left_limit), game.cost(np.nan_to_num(left_limit)), np.inf)
    failing = np.flatnonzero(cost < gaps[owner] - tol)
    result = np.zeros(m)
    if failing.size:
        pair = owner[failing]
        last_of_pair = np.append(pair[1:] != pair[:-1], True)
        result[pair[last_of_pair]] = crossing[failing[last_of_pair]]
    result[np.isfinite(final)] = np.inf
    return result


def _threshold_grid_levels_reference(game: LeaderboardGame) -> StabilisingThreshold | None:
    """Pair-by-pair form of :func:`_threshold_grid_levels` (the original loop), kept as its test reference."""
    delta = game.resolution
    strong, weak = _pairs(game)
    gaps = reward_gaps(game.rewards)
    tol = utility_tolerance(game.rewards)
    tie_offset = np.where(_weaker_wins_ties(game), 0.0, 1.0)
    per_pair = np.zeros(game.n - 1)
    for k in range(game.n - 1):
        if gaps[k] <= tol:
            continue  # c(Delta) >= 0 >= gap - tol everywhere
        rival, challenger = game.score[strong[k]], game.score[weak[k]]
        start = float(grid_index(rival.score(0.0), delta))
        top = float(grid_index(rival.limit(), delta))
        if not (np.isfinite(start) and np.isfinite(top)) or top - start > MAX_GRID_LEVELS:
            return None
        # The rival's highest level is the limit's, unless the limit is only approached.
        if top > start and not np.isfinite(least_effort(rival, 0.0, least_score_at_index(top, delta))):
            top -= 1
        top = max(top, start)
        count = int(top - start)
        # Levels the rival's baseline crosses as tau grows, and when it crosses them.
        levels = start + np.arange(1, count + 1, dtype=float)
        crossing = least_effort(rival, 0.0, least_score_at_index(levels, delta))
        # Just before crossing level m the rival is at level m - 1.
        target = least_score_at_index(levels - 1 + tie_offset[k], delta)
        left_limit = least_effort(challenger, crossing, target)
        cost = game.gamma[weak[k]] * np.where(np.isfinite(left_limit), game.cost(np.nan_to_num(left_limit)), np.inf)
        failing = np.flatnonzero(cost < gaps[k] - tol)
        # After the last crossing the rival's level stays put and Delta falls without bound.
        final_target = least_score_at_index(top + tie_offset[k], delta)
        if np.isfinite(least_effort(challenger, 0.0, final_target)):
            per_pair[k] = np.inf
        elif failing.size:
            per_pair[k] = crossing[failing[-1]]
    never = not np.all(np.isfinite(per_pair))
    note = "the weaker developer can always catch up once the rival's score stops rising" if never else ""
    return StabilisingThreshold(per_pair, True, "grid_levels", np.inf, note)


@dataclass(frozen=True)
class PowerLawQuantities:
    """Proposition 5.6 quantities, one entry per adjacent pair (strongest pair first).

    For the pair (stronger ``i-1``, weaker ``i``) under the generalised power
    law with common ``L, U`` and effort unit ``e0``:

    * ``D_i = exp((alpha_{i-1} - alpha_i) / beta_i)``, so that
      ``1 + (tau + Delta_i(tau)) / e0 = D_i * (1 + tau / e0) ** (beta_{i-1} / beta_i)``;
    * ``baseline_catch_up = Delta_i(0) = e0 * (D_i - 1)``;
    * ``rho_i = beta_i / beta_{i-1}`` (learning-rate ratio);
    * ``reward_gap_effort = g_i = (r_{i-1} - r_i) / (gamma_i * c0)`` with ``c(x) >= c0 * x``;
    * ``kappa_i = g_i / Delta_i(0)`` (effective incentive);
    * ``predicted_tau_star = e0 * kappa_i ** rho_i`` (the paper's order of
      growth, exact up to a constant depending on ``rho_i``).

    ``g``, ``kappa`` and the prediction are ``nan`` when the cost has no
    linear lower bound ``c0 > 0``.  Derivation: ``docs/model.md#power-law-growth-of-the-threshold``.
    """

    D: np.ndarray
    baseline_catch_up: np.ndarray
    rho: np.ndarray
    reward_gap_effort: np.ndarray
    kappa: np.ndarray
    predicted_tau_star: np.ndarray
    effort_unit: float

    def just_overtake_closed_form(self, tau) -> np.ndarray:
        """``Delta_i(tau) = e0 * (D_i * (1 + tau/e0) ** (1 / rho_i) - 1) - tau`` (exact scores)."""
        tau = np.asarray(tau, dtype=float)[..., None]
        e0 = self.effort_unit
        return e0 * (self.D * (1 + tau / e0) ** (1 / self.rho) - 1) - tau


def power_law_quantities(game: LeaderboardGame) -> PowerLawQuantities | None:
    """Proposition 5.6 quantities, or ``None`` when the score is not a power law with common ``L, U``."""
    fam = game.score
    if not isinstance(fam, PowerLaw):
        return None
    lower, upper = np.broadcast_to(fam.lower, (game.n,)), np.broadcast_to(fam.upper, (game.n,))
    if np.ptp(lower) > 1e-12 * max(1.0, np.abs(lower).max()) or np.ptp(upper) > 1e-12 * max(1.0, np.abs(upper).max()):
        return None
    strong, weak = _pairs(game)
    alpha, beta = np.broadcast_to(fam.alpha, (game.n,)), np.broadcast_to(fam.beta, (game.n,))
    D = np.exp((alpha[strong] - alpha[weak]) / beta[weak])
    e0 = fam.effort_unit
    catch_up = e0 * (D - 1)
    rho = beta[weak] / beta[strong]
    c0 = game.cost.linear_lower_bound() * game.gamma[weak]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(c0 > 0, reward_gaps(game.rewards) / np.where(c0 > 0, c0, 1.0), np.nan)
        kappa = g / catch_up
        predicted = e0 * kappa**rho
    return PowerLawQuantities(D, catch_up, rho, g, kappa, predicted, e0)


def designer_utility(game: LeaderboardGame, x, ranking_reward: float, tbt_cost) -> float:
    """``U_D(tau) = R * [score ranking equals capability ranking] - n * C(tau)`` (Definition 3.4)."""
    return ranking_reward * float(game.ranking_matches_capability(x)) - game.n * float(tbt_cost(game.tau))
