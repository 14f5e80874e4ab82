"""The batch engine's play loop for a population of strategies (:func:`play_population`).

The schedules and random streams are those of :func:`sim.engine.loop.play`: evaluation noise from the
``"noise"`` stream, the order of ``random_order`` from ``"order"``, who revises under ``asynchronous`` from
``"revision"``, and one ``"choice"`` uniform per developer and round when some strategy is stochastic (so a
population of ``logit`` developers draws exactly what ``dynamics.response = "logit"`` draws).  Under the
sequential schedules each position is one :meth:`Population.choose <sim.strategies.population.Population.choose>`
call and the mover's evaluated score moves with it before the next position chooses, as in the Mesa model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.engine.batch_game import BatchGame
from sim.engine.cache import CandidateCache
from sim.engine.randomness import DynamicsRandom, _BatchDraws
from sim.strategies.population import Population


def play_population(game: BatchGame, settings, x0: np.ndarray, randoms: Sequence[DynamicsRandom], recorder,
                    population: Population, progress=None) -> None:
    """Play ``settings.rounds`` rounds from ``x0`` with every developer choosing by its strategy."""
    S, n = game.shape
    x = np.array(x0, dtype=float)
    noisy = bool(np.any(game.noise > 0))
    all_rows = np.ascontiguousarray(np.broadcast_to(np.arange(n), (S, n)))
    cache = CandidateCache(game)
    draws = {name: _BatchDraws(randoms, name, name == "noise") for name in ("noise", "choice", "revision", "order")}
    s_all = np.arange(S)
    for t in range(settings.rounds + 1):
        shock = game.noise[:, None] * draws["noise"].next() if noisy else None
        true_score, evaluated, published, rank = game.publish(x, shock)
        recorder.add(t, x, true_score, published, rank)
        if t == settings.rounds:
            break
        if settings.schedule in ("simultaneous", "asynchronous"):
            uniform = draws["choice"].next() if population.stochastic else None
            revise = None
            if settings.schedule == "asynchronous":
                revise = draws["revision"].next() < settings.revision_probability[:, None]
            x = population.choose(game, evaluated, all_rows, x, uniform, cache, active=revise)
        else:
            order = (
                np.argsort(draws["order"].next(), axis=1, kind="stable")
                if settings.schedule == "random_order"
                else all_rows
            )
            uniform = draws["choice"].next() if population.stochastic else None
            evaluated = evaluated.copy()
            x = x.copy()
            for p in range(n):
                rows = order[:, p : p + 1]
                u = None if uniform is None else np.take_along_axis(uniform, rows, axis=1)
                new = population.choose(game, evaluated, rows, np.take_along_axis(x, rows, axis=1), u, cache)[:, 0]
                dev = rows[:, 0]
                x[s_all, dev] = new
                moved = game.score[s_all, dev].score(game.tau + new)
                evaluated[s_all, dev] = moved if shock is None else moved + shock[s_all, dev]
        if progress is not None:
            progress.update(1)
