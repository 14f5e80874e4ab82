"""The explorer's Mesa model: :class:`sim.model.LeaderboardModel` with a bounded history and its outcome once known.

SolaraViz rebuilds a model as ``ModelClass(**model_params)``; here the one
parameter is the page's :class:`~sim.explore.data.ExploreSettings`, already
validated by the page, so a reset never fails.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.explore.data import MAX_WINDOW, ExploreSettings, build_scenario
from sim.model import LeaderboardModel


class ExplorerModel(LeaderboardModel):
    """One scenario's repeated play, stepped by the page.

    Each :meth:`step` is one round of :class:`LeaderboardModel` (the same
    trajectory as ``lbsim run``).  The last :data:`~sim.explore.data.MAX_WINDOW`
    rounds are kept as arrays for drawing.  ``known`` is the outcome
    (:meth:`LeaderboardModel.outcome`, i.e. :func:`sim.analysis.classify`, as a
    dict) from the round it is decided on: for deterministic dynamics the first
    round whose state recurs (its period and entry round are then final), or the
    cap ``dynamics.max_rounds``; for stochastic dynamics the scenario's
    ``dynamics.rounds``, as ``lbsim run`` plays them.  ``running`` (Mesa's flag,
    which stops SolaraViz's play) turns False once ``dynamics.rounds`` are
    played and the outcome is known.
    """

    def __init__(self, settings: ExploreSettings):
        scenario = build_scenario(settings)
        self.settings = settings
        super().__init__(scenario)
        self.rounds_target = scenario.dynamics.rounds
        self.max_rounds = max(scenario.dynamics.max_rounds, self.rounds_target) if self.deterministic else None
        self._seen = {int(self.keys[0]): 0}
        self.known: dict | None = None
        #: The page's last picture of each panel, ``{panel: ((round, window), png)}`` (``sim.explore.app.panel_png``).
        self.panel_pngs: dict[int, tuple[tuple[int, int], bytes]] = {}

    def _publish(self) -> None:
        super()._publish()
        history = self.__dict__.setdefault("history", deque(maxlen=MAX_WINDOW))
        devs = self.developers
        history.append((
            len(self.keys) - 1,
            np.array([d.effort for d in devs]), np.array([d.score for d in devs]),
            np.array([d.published for d in devs]), np.array([d.rank for d in devs], dtype=np.int64),
        ))  # fmt: skip

    @property
    def round(self) -> int:
        """The last round played (0 before any step)."""
        return len(self.keys) - 1

    def step(self) -> None:
        super().step()
        t = self.round
        if self.known is None:
            if self.deterministic:
                key = int(self.keys[-1])
                if key in self._seen or t >= self.max_rounds:
                    self.known = self.outcome().to_dict()
                self._seen.setdefault(key, t)
            elif t >= self.rounds_target:
                self.known = self.outcome().to_dict()
        done_playing = t >= self.rounds_target or (self.max_rounds is not None and t >= self.max_rounds)
        self.running = not (self.known is not None and done_playing)

    def history_arrays(self) -> tuple[np.ndarray, ...]:
        """``rounds (T,)``, ``effort``, ``score``, ``published``, ``rank`` ``(T, n)`` of the kept rounds."""
        rounds, effort, score, published, rank = zip(*self.history, strict=True)
        return np.array(rounds), np.array(effort), np.array(score), np.array(published), np.array(rank)

    def theory(self) -> dict:
        """What ``lbsim theory --json`` reports at the model's tau (:func:`sim.cli.theory_report`), computed once."""
        if "_theory" not in self.__dict__:
            from sim.cli import theory_report

            self._theory = theory_report(self.scenario)
        return self._theory

    def costs(self) -> np.ndarray:
        """Each developer's current cost ``gamma_i c(x_i)``."""
        return self.game.gamma[0] * self.game.cost(self.efforts)
