"""Whether zero effort is an equilibrium: the per-pair condition of Proposition 4.5, exact and by round-off."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.game import LeaderboardGame, utility_tolerance, zero_profile_is_equilibrium
from sim.rewards import reward_gaps
from sim.scores import least_effort
from sim.theory.pairs import ROUND_OFF_ULPS, _just_overtake_pairs, _pair_targets, _pairs, just_overtake


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
