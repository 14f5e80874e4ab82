"""The stabilising threshold ``tau*`` (Definition 5.4): the exact grid-level search when scores are published
on a grid, else the bracketing bisection.
"""

from __future__ import annotations

import numpy as np

from sim.game import LeaderboardGame
from sim.theory.bisection import _threshold_bisection
from sim.theory.grid_levels import _threshold_grid_levels
from sim.theory.pairs import DEFAULT_TAU_MAX
from sim.theory.stabilising import StabilisingThreshold


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
