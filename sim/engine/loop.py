"""The play loop per schedule (:func:`play`), and one run of a fixed number of rounds (:func:`_run_fixed`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim import analysis
from sim.engine.batch_game import BatchGame
from sim.engine.cache import CandidateCache
from sim.engine.compiled import _logit_compiled, _sequential_compiled, compiled, use_kernels
from sim.engine.randomness import DynamicsRandom, _BatchDraws
from sim.engine.recording import _check_memory, _Recorder
from sim.engine.recurrence import Recurrence, _replays
from sim.engine.responses import _respond_rows
from sim.engine.results import BatchRun
from sim.engine.settings import RunSettings, _budget, effort_ceiling, initial_profiles, scenario_deterministic


def play(game: BatchGame, settings: RunSettings, x0: np.ndarray, randoms: Sequence[DynamicsRandom],
         recorder: _Recorder, progress=None) -> None:
    """Play ``settings.rounds`` rounds from ``x0``, recording each round (rounds ``0..R``)."""
    if settings.population is not None:  # developers.strategy given: sim.strategies plays the rounds
        from sim.strategies.play import play_population

        play_population(game, settings, x0, randoms, recorder, settings.population, progress)
        return
    S, n = game.shape
    x = np.array(x0, dtype=float)
    noisy = bool(np.any(game.noise > 0))
    all_rows = np.broadcast_to(np.arange(n), (S, n))
    logit = settings.response == "logit"
    cache = CandidateCache(game)
    if _replays(game, settings):
        _play_replaying(game, settings, x, recorder, cache, progress)
        return
    draws = {name: _BatchDraws(randoms, name, name == "noise") for name in ("noise", "choice", "revision", "order")}
    whole_round = compiled(game)
    known = None  # the true scores of x when the compiled kernels know them already (the same bits)
    for t in range(settings.rounds + 1):
        shock = game.noise[:, None] * draws["noise"].next() if noisy else None
        true_score, evaluated, published, rank = game.publish(x, shock, known)
        known = None
        recorder.add(t, x, true_score, published, rank)
        if t == settings.rounds:
            break
        if settings.schedule in ("simultaneous", "asynchronous"):
            uniform = draws["choice"].next() if logit else None
            revise = None
            if settings.schedule == "asynchronous":
                revise = draws["revision"].next() < settings.revision_probability[:, None]
            if logit and whole_round:  # with the scores of the chosen efforts, for the next publish step
                from sim import kernel

                reached = np.empty((S, n))
                new = _logit_compiled(game, evaluated, all_rows, settings.temperature, uniform, cache, reached)
                nxt = np.ascontiguousarray(new if revise is None else np.where(revise, new, x))
                known = np.empty((S, n))
                kernel.next_scores(*game.kernel_spec[:6], game.tau, np.ascontiguousarray(x), true_score, new,
                                   reached, nxt, np.ones(S, dtype=np.bool_), known)  # fmt: skip
                x = nxt
            else:
                new = _respond_rows(game, evaluated, all_rows, logit, settings.temperature, uniform, cache, x)
                x = new if revise is None else np.where(revise, new, x)
        else:
            order = (
                np.argsort(draws["order"].next(), axis=1, kind="stable")  # as DynamicsRandom.order, row by row
                if settings.schedule == "random_order"
                else np.broadcast_to(np.arange(n), (S, n))
            )
            uniform = draws["choice"].next() if logit else None
            evaluated = evaluated.copy()
            x = x.copy()
            s_all = np.arange(S)
            if whole_round:  # the whole round in the compiled kernel (same bits); else position by position
                known = _sequential_compiled(
                    game, evaluated, x, true_score, order, logit, settings.temperature, uniform, shock, cache
                )
            for p in range(0 if whole_round else n):
                rows = order[:, p : p + 1]
                u = None if uniform is None else np.take_along_axis(uniform, rows, axis=1)
                new = _respond_rows(
                    game, evaluated, rows, logit, settings.temperature, u, cache, np.take_along_axis(x, rows, axis=1)
                )[:, 0]
                dev = rows[:, 0]
                x[s_all, dev] = new
                moved = game.score[s_all, dev].score(game.tau + new)
                evaluated[s_all, dev] = moved if shock is None else moved + shock[s_all, dev]
        if progress is not None:
            progress.update(1)


def _play_replaying(game: BatchGame, settings: RunSettings, x: np.ndarray, recorder: _Recorder,
                    cache: CandidateCache, progress=None) -> None:
    """:func:`play` for deterministic simultaneous best responses with the compiled kernel (:func:`_replays`).

    Scenarios whose profile has recurred are replayed (:class:`Recurrence`):
    their next profile and its true scores come from the history, and
    neither the response nor the score is computed for them.  Output
    buffers are allocated once and reused every round.
    """
    from sim import kernel

    S, n = game.shape
    recurrence = Recurrence(S, n, settings.rounds)
    rows = np.ascontiguousarray(np.broadcast_to(np.arange(n), (S, n)))
    no_shock = np.zeros((S, n))
    x = np.ascontiguousarray(x, dtype=float)
    true_score = np.empty((S, n))
    known = np.zeros(S, dtype=np.bool_)
    # Leaderboard of the round: evaluated = true (no noise), published, rank.
    evaluated, published, rank = np.empty((S, n)), np.empty((S, n)), np.empty((S, n), dtype=np.int64)
    response = [np.empty((S, n)), np.empty((S, n)), np.empty((S, n), dtype=np.int64), np.empty((S, n))]
    x_next = np.empty((S, n))
    score_spec = game.kernel_spec[:6]
    for t in range(settings.rounds + 1):
        kernel.publish_known(*score_spec, game.tau, game.resolution, game.priority, x, no_shock, False, known,
                             true_score, true_score, evaluated, published, rank)
        recorder.add(t, x, true_score, published, rank)
        if t == settings.rounds:
            break
        active = recurrence.observe(t, x, true_score)
        kernel.respond_active(
            *game.kernel_spec,
            game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget, game.baseline,
            game.reach, game.tolerance,
            evaluated, rows, x, True,
            cache.target, cache.effort, cache.score,
            cache.width, cache.origin, cache.table, cache.least, cache.least_width, cache.least_row,
            cache.least_origin,
            *response, x_next, active, True, true_score,
        )  # fmt: skip
        # Next round's true scores: mostly known already (an effort kept, or the score a candidate reached).
        kernel.next_scores(*score_spec, game.tau, x, true_score, response[0], response[1], x_next, active,
                           true_score)
        known[:] = True
        recurrence.replay(t, x_next, true_score)
        x, x_next = x_next, x
        if progress is not None:
            progress.update(1)


def _run_fixed(scenarios: tuple, rounds: int, taus: list, record: str, tail_window: int | None,
               progress: bool) -> BatchRun:
    """Play ``scenarios`` for exactly ``rounds`` rounds (the body of :func:`run_batch`, no horizon extension)."""
    S = len(scenarios)
    games = [s.game(t) for s, t in zip(scenarios, taus, strict=True)]
    budget = np.stack([_budget(s) for s in scenarios])
    noise = np.array([float(getattr(s.leaderboard, "noise", 0.0)) for s in scenarios])
    game = BatchGame.from_games(
        games, budget=budget, noise=noise, compiled=use_kernels(S, games[0].n, max(rounds, 1))
    )
    response = getattr(scenarios[0].dynamics, "response", "best")
    population = None
    if getattr(scenarios[0].developers, "strategy", None) is not None:
        from sim.strategies import Population

        population, response = Population([s.developers.strategy for s in scenarios]), "strategy"
    settings = RunSettings(
        schedule=scenarios[0].dynamics.schedule,
        rounds=rounds,
        response=response,
        revision_probability=np.array(
            [getattr(s.dynamics, "revision_probability", None) or 1.0 for s in scenarios]
        ),
        temperature=np.array([getattr(s.dynamics, "temperature", None) or 1.0 for s in scenarios]),
        population=population,
    )
    randoms = [DynamicsRandom(s.seed, s.n) for s in scenarios]
    x0 = initial_profiles(scenarios, game, randoms)
    ceiling = effort_ceiling(game)
    # The recurrence tolerance scales with the largest effort play can reach: the ceiling or the start.
    scale = np.maximum(np.max(np.where(np.isfinite(ceiling), ceiling, 0.0), axis=1), x0.max(axis=1))
    cell = analysis.recurrence_cell(scale)
    if tail_window is None:
        window = analysis.default_tail_window(rounds)
    elif isinstance(tail_window, bool) or not isinstance(tail_window, (int, np.integer)) or tail_window < 1:
        raise ValueError(f"tail_window must be an integer >= 1, got {tail_window!r}")
    else:
        window = int(tail_window)
    _check_memory(S, game.shape[1], rounds, record, window)
    recorder = _Recorder(S, game.shape[1], rounds, record, window, cell, compiled=game.kernel_spec is not None)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=rounds, desc=f"{S} scenario(s)", unit="round", leave=False)
    try:
        with np.errstate(over="ignore"):
            play(game, settings, x0, randoms, recorder, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    first = recorder.finish()
    deterministic = np.array([scenario_deterministic(s) for s in scenarios])
    return BatchRun(
        scenarios=scenarios,
        game=game,
        settings=settings,
        effort=recorder.effort,
        score=recorder.score,
        published=recorder.published,
        rank=recorder.rank,
        keys=recorder.keys,
        first_round=first,
        cell=cell,
        deterministic=deterministic,
        tail_window=window,
    )
