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

One concept per module: :mod:`.pairs`, :mod:`.zero`, :mod:`.stabilising`, :mod:`.bisection`,
:mod:`.grid_levels`, :mod:`.threshold`, :mod:`.power_law`.
"""

from __future__ import annotations

from sim.theory.bisection import (  # noqa: F401
    _pair_resolvable,
    _threshold_bisection,
)
from sim.theory.grid_levels import (  # noqa: F401
    LEVELS_PER_BATCH,
    MANY_ELEMENTS,
    MAX_GRID_LEVELS,
    MAX_TOTAL_GRID_LEVELS,
    SEARCH_GROUP_BITS,
    SEARCH_GROUP_BITS_MANY,
    _grid_level_thresholds,
    _least_effort_grouped,
    _level_batches,
    _threshold_grid_levels,
    _threshold_grid_levels_reference,
)
from sim.theory.pairs import (  # noqa: F401
    DEFAULT_TAU_MAX,
    ROUND_OFF_ULPS,
    SATURATION_ULPS,
    _just_overtake_pairs,
    _pair_targets,
    _pairs,
    _weaker_wins_ties,
    baseline_scores,
    float_saturated,
    just_overtake,
)
from sim.theory.power_law import (  # noqa: F401
    PowerLawQuantities,
    designer_utility,
    power_law_quantities,
)
from sim.theory.stabilising import (  # noqa: F401
    StabilisingThreshold,
)
from sim.theory.threshold import (  # noqa: F401
    stabilising_threshold,
)
from sim.theory.zero import (  # noqa: F401
    ZeroEquilibriumCondition,
    _holds_at,
    _pair_costs,
    _pairs_hold,
    _pairs_round_off,
    round_off_decides,
    zero_equilibrium_condition,
    zero_is_equilibrium,
    zero_is_equilibrium_exact,
)
