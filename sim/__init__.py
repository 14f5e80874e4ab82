"""leaderboard-sim: agent-based simulation of repeated leaderboard competition.

The one-shot game and its theory follow Chen, Zhang and Hardt, "Leaderboard
Incentives: Model Rankings under Strategic Post-Training" (2026).  The main
entry points:

* :func:`load_scenario` reads a scenario file into a frozen :class:`Scenario`;
* :class:`LeaderboardGame` is the one-shot game (scores, ranks, utilities,
  exact best responses, equilibrium checks);
* :func:`sweep` runs a sweep file (many scenarios, in parallel chunks)
  into one tidy table (:mod:`sim.sweeps`);
* :mod:`sim.theory` holds ``Delta_i(tau)``, Proposition 4.5, ``tau*`` and
  Proposition 5.6; :mod:`sim.assumptions` checks Assumptions 4.1 and 4.2.

Importing the package has no side effects (Mesa is only imported by the
modules that need it).
"""

from sim.errors import ScenarioError
from sim.game import LeaderboardGame, best_responses, equilibrium_check
from sim.scenario import Scenario, load_scenario

__version__ = "0.1.0"


def sweep(spec, **kwargs):
    """Run a parameter sweep and return its table (a pandas DataFrame); see :func:`sim.sweeps.sweep`."""
    from sim.sweeps import sweep as _sweep

    return _sweep(spec, **kwargs)


__all__ = [
    "LeaderboardGame",
    "Scenario",
    "ScenarioError",
    "best_responses",
    "equilibrium_check",
    "load_scenario",
    "sweep",
    "__version__",
]
