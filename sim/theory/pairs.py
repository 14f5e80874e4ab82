"""Adjacent pairs of developers under tune-before-test: zero-effort baselines, the effort to just overtake
(Definition 4.4) and the scores saturated in floating point.
"""

from __future__ import annotations

import numpy as np

from sim.game import LeaderboardGame
from sim.leaderboard import grid_index, least_score_at_index
from sim.scores import least_effort

#: A baseline within this many ulps of its limit counts as saturated in doubles.
SATURATION_ULPS = 1000


#: Ulps a computed score may be off by: the target of a just-overtake is moved by this many ulps either way
#: (and the effort by as many ulps of ``tau + x``) to see whether round-off could flip Proposition 4.5's test.
ROUND_OFF_ULPS = 4


#: Default upper end of the search for ``tau*`` (in the score family's effort units).
DEFAULT_TAU_MAX = 1e12


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
