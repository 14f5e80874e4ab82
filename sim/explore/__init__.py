"""``lbsim explore``: a browser page (Mesa's SolaraViz) to watch and steer one scenario's repeated play.

* :mod:`sim.explore.data` — the page's settings (:class:`ExploreSettings`, a
  frozen dataclass), how they make a scenario, and the pure data preparation
  behind every panel (windows of rounds, the leaderboard table, the theory and
  outcome lines).  No Solara, no Mesa: tested without a browser.
* :mod:`sim.explore.model` — :class:`ExplorerModel`, the project's
  :class:`sim.model.LeaderboardModel` with a bounded history for drawing and
  the outcome once it is known.
* :mod:`sim.explore.app` — the Solara page (imports solara; needs the ``viz`` extra).
* :mod:`sim.explore.cli` — the ``lbsim explore`` command (starts ``solara run``).

Importing this package imports neither Solara nor Mesa.
"""
