"""Run results: what a batch run recorded (:class:`BatchRun`) and the frames derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import analysis
from sim.leaderboard import capability_order

if TYPE_CHECKING:
    from sim.engine.batch_game import BatchGame
    from sim.engine.settings import RunSettings


@dataclass(frozen=True, eq=False)
class BatchRun:
    """What a batch run recorded, for ``S`` scenarios over rounds ``0..R``.

    ``effort``, ``score`` (true), ``published`` and ``rank`` are
    ``(S, W, n)`` for the stored rounds ``first_round..R`` (all rounds when
    recorded in full; the tail window otherwise); ``keys`` ``(S, R + 1)``
    are the per-round state keys the outcome analyser uses
    (:func:`sim.analysis.state_keys`).  Rewards, costs and utilities are
    derived from these on demand.

    ``max_rounds`` ``(S,)`` is each scenario's cap on the horizon.  A
    deterministic scenario that had not recurred within ``R`` rounds was
    played on (:func:`run_batch`): ``parts[k] = (run, j)`` then names the
    run, and its index ``j`` there, that holds its records (``None``: this
    run's row ``k``).  Use :meth:`part`, or the per-scenario methods, which
    follow it.
    """

    scenarios: tuple
    game: BatchGame
    settings: RunSettings
    effort: np.ndarray
    score: np.ndarray
    published: np.ndarray
    rank: np.ndarray
    keys: np.ndarray
    first_round: int
    cell: np.ndarray
    deterministic: np.ndarray
    tail_window: int
    max_rounds: np.ndarray | None = None
    parts: tuple | None = None

    @property
    def rounds(self) -> int:
        """The rounds every scenario was played at least (a played-on scenario's own: ``outcome(k).rounds``)."""
        return self.settings.rounds

    def __len__(self) -> int:
        return len(self.scenarios)

    def part(self, k: int) -> tuple[BatchRun, int]:
        """``(run, j)``: the run, and the index there, holding scenario ``k``'s records."""
        if self.parts is not None and self.parts[k] is not None:
            return self.parts[k]
        return self, k

    def capability_order(self, k: int) -> np.ndarray:
        """Developer ids strongest first in scenario ``k`` (ties by priority)."""
        return capability_order(self.game.theta[k], self.game.priority[k])

    def reward(self, k: int) -> np.ndarray:
        """``r_{rank}`` per stored round and developer."""
        run, j = self.part(k)
        return run.game.rewards[j][run.rank[j] - 1]

    def cost(self, k: int) -> np.ndarray:
        """``gamma_i c(x_i)`` per stored round and developer."""
        run, j = self.part(k)
        return run.game.gamma[j] * run.game.cost(run.effort[j])

    def outcome(self, k: int = 0) -> analysis.Outcome:
        """The outcome of scenario ``k`` (:func:`sim.analysis.classify`, with the tail measures)."""
        run, j = self.part(k)
        order = self.capability_order(k)
        correct = analysis.ranking_correct(run.rank[j], order)
        return analysis.classify(
            run.keys[j],
            run.effort[j],
            run.rank[j],
            correct,
            rounds=run.rounds,
            deterministic=bool(run.deterministic[j]),
            cell=float(run.cell[j]),
            tail_window=run.tail_window,
            theta=self.game.theta[k],
            capability_order=order,
            utility_tail=self.reward(k) - self.cost(k),
            max_rounds=None if self.max_rounds is None else int(self.max_rounds[k]),
        )

    def outcomes(self) -> list[analysis.Outcome]:
        return [self.outcome(k) for k in range(len(self))]

    def trajectory(self, k: int = 0):
        """Tidy frame, one row per stored round and developer.

        Columns: ``round``, ``developer``, ``capability``, ``effort``,
        ``score``, ``published``, ``rank``, ``reward``, ``cost``, ``utility``.
        """
        import pandas as pd

        run, j = self.part(k)
        W, n = run.effort.shape[1:]
        rounds = np.arange(run.first_round, run.first_round + W)
        reward = self.reward(k)
        cost = self.cost(k)
        return pd.DataFrame(
            {
                "round": np.repeat(rounds, n),
                "developer": np.tile(np.arange(n), W),
                "capability": np.tile(self.game.theta[k], W),
                "effort": run.effort[j].ravel(),
                "score": run.score[j].ravel(),
                "published": run.published[j].ravel(),
                "rank": run.rank[j].ravel().astype(np.int64),
                "reward": reward.ravel(),
                "cost": cost.ravel(),
                "utility": (reward - cost).ravel(),
            }
        )

    def leaderboard(self, k: int = 0):
        """Per-round leaderboard frame of scenario ``k`` (:func:`leaderboard_frame`)."""
        run, j = self.part(k)
        return leaderboard_frame(run.rank[j], run.effort[j], self.game.theta[k], self.capability_order(k),
                                 run.first_round)

    def summary(self):
        """One row per scenario: name, seed, tau, outcome, period, entry round and tail statistics."""
        import pandas as pd

        rows = []
        for k, scenario in enumerate(self.scenarios):
            out = self.outcome(k).to_dict()
            rows.append(
                {
                    "scenario": scenario.name,
                    "seed": scenario.seed,
                    "tau": float(self.game.tau[k]),
                    **{key: out[key] for key in ("outcome", "period", "entered_at", "rounds")},
                    "mean_total_effort_tail": out["total_effort_mean"],
                    "ranking_correct_share": out["ranking_correct_share"],
                }
            )
        return pd.DataFrame(rows)


def leaderboard_frame(rank, effort, theta, order, first_round: int = 0):
    """Per-round leaderboard measures from ``rank`` and ``effort`` ``(rounds, n)``.

    Columns: ``round``, ``ranking_correct`` (the ranking is the capability
    ranking ``order``), ``kendall_tau`` (between the two rankings),
    ``total_effort``, ``rank_changes`` (developers whose rank changed since
    the previous row; 0 in the first).
    """
    import pandas as pd

    return pd.DataFrame(
        {
            "round": np.arange(first_round, first_round + rank.shape[0]),
            "ranking_correct": analysis.ranking_correct(rank, order),
            "kendall_tau": analysis.kendall_tau(rank, theta),
            "total_effort": effort.sum(axis=1),
            "rank_changes": analysis.rank_changes(rank),
        }
    )
