"""Per-strategy results and payoffs of a tournament: pure functions of its match table.

The match table (:func:`sim.tournament.matches.play`) has one row per match
and developer.  From it:

* :func:`strategy_summary`: per ``tau`` and strategy, the mean over matches of
  the strategy's per-match mean (a match is the unit: developers of one match
  are not independent), with a 95% normal interval ``mean +- 1.96 sd / sqrt(M)``
  over the ``M`` matches it played, for the utility; and the mean rank, effort
  and share of rounds ranked correctly;
* :func:`payoff_table`: ``pi(i | c)``, the mean utility of a developer playing
  ``i`` whose ``n - 1`` rivals play the composition ``c``, as a
  :class:`sim.tournament.evolution.PayoffTable` over every composition (needs
  ``mixes = "all"``); :func:`payoff_matrix`: ``P[i, j] = pi(i | all rivals
  play j)``, defined for both mix modes (NaN where never played).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.tournament.evolution import PayoffTable, compositions

Z95 = 1.959963984540054

SUMMARY_COLUMNS = ("tau", "strategy", "strategy_index", "matches", "mean_utility", "utility_low", "utility_high",
                   "mean_rank", "mean_effort", "correct_share")


def strategy_summary(frame: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """One row per ``tau`` and strategy (in the order of ``labels``); see the module docstring."""
    measures = ["mean_utility", "mean_rank", "mean_effort", "correct_share"]
    per_match = frame.groupby(["tau", "strategy_index", "match"], sort=True)[measures].mean().reset_index()
    rows = []
    for (tau, s), g in per_match.groupby(["tau", "strategy_index"], sort=True):
        M = len(g)
        u = g["mean_utility"].to_numpy()
        half = Z95 * u.std(ddof=1) / np.sqrt(M) if M > 1 else np.nan
        rows.append({
            "tau": float(tau), "strategy": labels[int(s)], "strategy_index": int(s), "matches": M,
            "mean_utility": float(u.mean()), "utility_low": float(u.mean() - half),
            "utility_high": float(u.mean() + half), "mean_rank": float(g["mean_rank"].mean()),
            "mean_effort": float(g["mean_effort"].mean()), "correct_share": float(g["correct_share"].mean()),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def rival_counts(frame: pd.DataFrame, S: int) -> np.ndarray:
    """``(rows, S)`` counts of each strategy among each row's rivals (the match's assignment minus itself)."""
    counts = np.zeros((len(frame), S), dtype=np.int64)
    mix_counts = {}
    for match, g in frame.groupby("match", sort=False):
        mix_counts[match] = np.bincount(g["strategy_index"].to_numpy(), minlength=S)
    for r, (match, s) in enumerate(zip(frame["match"].to_numpy(), frame["strategy_index"].to_numpy(), strict=True)):
        counts[r] = mix_counts[match]
        counts[r, s] -= 1
    return counts


def payoff_means(frame: pd.DataFrame, S: int, n: int) -> np.ndarray:
    """``(S, K)`` mean utility of strategy ``i`` against composition ``compositions(S, n - 1)[k]`` (NaN unplayed).

    A developer-in-match is one observation (every ``i``-player of a match counts)."""
    comps = compositions(S, n - 1)
    index = {tuple(c): k for k, c in enumerate(comps.tolist())}
    counts = rival_counts(frame, S)
    total = np.zeros((S, len(comps)))
    seen = np.zeros((S, len(comps)))
    for s, c, u in zip(frame["strategy_index"].to_numpy(), counts.tolist(), frame["mean_utility"].to_numpy(),
                       strict=True):
        k = index[tuple(c)]
        total[s, k] += u
        seen[s, k] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, total / np.maximum(seen, 1), np.nan)


def payoff_table(frame: pd.DataFrame, S: int, n: int) -> PayoffTable:
    """:class:`PayoffTable` over every rival composition (``ValueError`` when one was never played)."""
    return PayoffTable(compositions(S, n - 1), payoff_means(frame, S, n))


def payoff_matrix(frame: pd.DataFrame, S: int, n: int) -> np.ndarray:
    """``P[i, j]``: mean utility of strategy ``i`` when all ``n - 1`` rivals play ``j`` (NaN when never played)."""
    comps = compositions(S, n - 1)
    means = payoff_means(frame, S, n)
    P = np.full((S, S), np.nan)
    for k, c in enumerate(comps):
        nz = np.flatnonzero(c)
        if len(nz) == 1:
            P[:, nz[0]] = means[:, k]
    return P


def evolution_table(frame: pd.DataFrame, S: int, n: int, mode: str) -> tuple[PayoffTable, str]:
    """The payoffs the evolutionary processes use, and what they are: every composition (``mixes = "all"``),
    else the matrix game ``P`` (each rival drawn from the population plays against the focal developer as in
    the homogeneous match)."""
    if mode == "all":
        return payoff_table(frame, S, n), f"n-player payoffs over every composition of {n - 1} rivals"
    return PayoffTable.from_matrix(payoff_matrix(frame, S, n)), "payoff matrix P[i, j] (rivals all playing j)"
