"""Run a tournament and write its tables and figures (what ``lbsim tournament`` does).

Tables (Parquet, each written atomically, all computed before the first is written):

* ``matches.parquet``: one row per match and developer (:mod:`sim.tournament.matches`);
* ``strategies.parquet``: per ``tau`` and strategy, :func:`sim.tournament.payoffs.strategy_summary` plus
  ``replicator_share`` (the share after the replicator's last step) and ``moran_share`` (the stationary share
  of the Moran process with rare mutations);
* ``payoffs.parquet``: the payoff matrix, long form (``tau``, ``strategy``, ``rivals_play``, ``payoff``);
* ``replicator.parquet``: the replicator trajectories; ``fixation.parquet``: Moran fixation probabilities
  ``rho`` of each mutant among each resident population;
* ``tournament.json``: the tournament as parsed, and what the evolutionary processes used.

Figure ``tournament.png`` / ``.pdf`` (:func:`sim.tournament.plots.tournament_figure`).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.tournament import evolution as evo
from sim.tournament.matches import play
from sim.tournament.payoffs import evolution_table, payoff_matrix, strategy_summary
from sim.tournament.spec import TournamentSpec

TABLES = ("matches", "strategies", "payoffs", "replicator", "fixation")
FIGURE = "tournament"


@dataclass(frozen=True, eq=False)
class TournamentResult:
    """Everything a tournament computed: its tables, the payoff matrices per ``tau`` and the evolution's basis."""

    spec: TournamentSpec
    matches: pd.DataFrame
    strategies: pd.DataFrame
    payoffs: pd.DataFrame
    replicator: pd.DataFrame
    fixation: pd.DataFrame
    matrices: dict
    evolution_basis: str

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}


def run_tournament(spec: TournamentSpec, n_jobs: int = 1) -> TournamentResult:
    """Play every match (:func:`sim.tournament.matches.play`) and compute the summaries and the evolution."""
    from sim.tournament.plots import replicator_frame

    frame = play(spec, n_jobs=n_jobs)
    labels = list(spec.labels)
    S, n = len(labels), spec.developers
    summary = strategy_summary(frame, labels)
    ev = spec.evolution
    matrices, payoff_rows, replicators, fixation_rows, extra = {}, [], [], [], []
    basis = ""
    for tau in spec.taus:
        part = frame[frame["tau"] == tau]
        P = payoff_matrix(part, S, n)
        matrices[tau] = P
        payoff_rows += [{"tau": tau, "strategy": labels[i], "rivals_play": labels[j], "payoff": float(P[i, j])}
                        for i in range(S) for j in range(S)]
        table, basis = evolution_table(part, S, n, spec.mixes)
        shares = evo.replicator(table, steps=ev.steps, selection=ev.selection)
        replicators.append(replicator_frame(shares, labels, tau))
        rho = evo.fixation_matrix(table, ev.population, ev.selection)
        fixation_rows += [{"tau": tau, "mutant": labels[i], "resident": labels[j], "rho": float(rho[i, j]),
                           "neutral": 1.0 / ev.population} for i in range(S) for j in range(S) if i != j]
        stationary = evo.moran_stationary(rho)
        extra += [{"tau": tau, "strategy_index": i, "replicator_share": float(shares[-1, i]),
                   "moran_share": float(stationary[i])} for i in range(S)]
    summary = summary.merge(pd.DataFrame(extra), on=["tau", "strategy_index"], how="left")
    return TournamentResult(
        spec=spec, matches=frame, strategies=summary, payoffs=pd.DataFrame(payoff_rows),
        replicator=pd.concat(replicators, ignore_index=True), fixation=pd.DataFrame(fixation_rows),
        matrices=matrices, evolution_basis=basis,
    )  # fmt: skip


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{secrets.token_hex(4)}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def outputs() -> tuple[str, ...]:
    """Every file :func:`write_tournament` writes, relative to its directory."""
    return (*(f"{t}.parquet" for t in TABLES), "tournament.json", f"{FIGURE}.png", f"{FIGURE}.pdf")


def write_tournament(result: TournamentResult, out: Path, figures: bool = True) -> list[Path]:
    """Write the tables, ``tournament.json`` and (``figures``) the figure into ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in result.tables().items():
        path = out / f"{name}.parquet"
        _atomic(path, lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
        written.append(path)
    meta = {"tournament": result.spec.to_dict(), "source": result.spec.source,
            "matches": int(result.matches["match"].nunique()), "evolution_basis": result.evolution_basis}
    path = out / "tournament.json"
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(meta, indent=2, default=_plain) + "\n", encoding="utf-8"))
    written.append(path)
    if figures:
        import matplotlib.pyplot as plt

        from sim.plots import save_figure
        from sim.tournament.plots import tournament_figure

        fig = tournament_figure(result.strategies, result.matrices, result.replicator, list(result.spec.labels))
        try:
            written += save_figure(fig, out / FIGURE)
        finally:
            plt.close(fig)
    return written


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
