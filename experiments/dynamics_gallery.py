"""Dynamics gallery: the same two-developer leaderboard converging (tau above tau*) and racing in a cycle (tau = 0).

The scenario is ``scenarios/arms_race.toml``: a strong and a weaker developer
on a power-law benchmark published to two decimals, winner takes all, the
prize worth 50 effort units.  At ``tau = 0`` the all-zero profile is not an
equilibrium (Proposition 4.5 of Chen, Zhang, Hardt: the weaker developer's
just-overtake cost ``c(Delta_2(0))`` is below the prize), and simultaneous
best responses from zero run an arms race that repeats with period 20.  At
``tau = factor * tau*`` (the stabilising threshold of Definition 5.4,
``tau* = inf {tau : c(Delta_2(tau')) >= r_1 - r_2 for all tau' >= tau}``) the
same developers stay at zero effort from the first round.

The figure has two columns (converging | cycle) and three rows: effort per
developer (one cycle shaded), published scores, and the rank bump chart,
drawn with :mod:`sim.plots`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from experiments.common import SCENARIOS, ExperimentInfo, command, save_figure, style, write_table
from sim.errors import ScenarioError

INFO = ExperimentInfo(
    name="dynamics_gallery",
    title="Dynamics gallery: a converging run and an arms-race cycle",
    description=(
        "The two-developer arms-race scenario under simultaneous best responses: above the stabilising threshold "
        "tau* nobody spends effort (left), at tau = 0 the developers race in a cycle (right)."
    ),
    figure="dynamics_gallery",
    data=("trajectories.csv", "leaderboards.csv", "runs.csv"),
)

SCENARIO = SCENARIOS / "arms_race.toml"
#: The converging run plays at ``TAU_FACTOR * tau*``.
TAU_FACTOR = 2.0
#: Rounds drawn (the cycle's first periods); runs are played for the scenario's rounds.
SHOWN_PERIODS = 3
QUICK_ROUNDS = 60
PANELS = ("converging", "cycle")


# --------------------------------------------------------------------------- data preparation


def gallery_runs(scenario=None, *, tau_factor: float = TAU_FACTOR, rounds: int | None = None) -> dict:
    """Play ``scenario`` (default :data:`SCENARIO`) at ``tau_factor * tau*`` and at ``tau = 0``.

    Returns ``{"converging": ..., "cycle": ...}``, each a dict with ``tau``,
    ``tau_star``, ``tau_star_vouched``, ``outcome`` (:class:`sim.analysis.Outcome`),
    ``trajectory`` and ``leaderboard`` (the frames of :class:`sim.engine.BatchRun`).
    Raises :class:`ScenarioError` when ``tau*`` is infinite or zero (no race
    to contrast) or ``tau_factor < 1``.
    """
    from sim import engine, theory
    from sim.scenario import Scenario, load_scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(SCENARIO if scenario is None else scenario)
    if not (isinstance(tau_factor, (int, float)) and math.isfinite(tau_factor) and tau_factor >= 1):
        raise ScenarioError("tau_factor", tau_factor, "must be a finite number >= 1 (a tau at or above tau*)")
    threshold = theory.stabilising_threshold(scenario.game(0.0))
    tau_star = threshold.tau_star
    if tau_star is None or not (0 < tau_star < math.inf):
        raise ScenarioError("designer.tau", tau_star,
                            "the gallery needs a finite tau* > 0 (a race at tau = 0 that stops)")
    runs = {}
    for panel, tau in zip(PANELS, (tau_factor * tau_star, 0.0), strict=True):
        result = engine.run(scenario, tau=tau, rounds=rounds)
        runs[panel] = {
            "tau": float(tau),
            "tau_star": float(tau_star),
            "tau_star_vouched": bool(threshold.vouched),
            "outcome": result.outcome(0),
            "trajectory": result.trajectory(0),
            "leaderboard": result.leaderboard(0),
        }
    return runs


def shown_rounds(runs: dict, periods: int = SHOWN_PERIODS) -> int:
    """Last round drawn: ``periods`` periods after the cycle was entered (all rounds when there is no cycle)."""
    out = runs["cycle"]["outcome"]
    last = int(runs["cycle"]["trajectory"]["round"].max())
    if out.outcome != "cycle":
        return last
    return min(last, int(out.entered_at) + periods * int(out.period))


def stacked(runs: dict, frame: str) -> pd.DataFrame:
    """The ``frame`` (``"trajectory"`` or ``"leaderboard"``) of every panel, ``panel`` and ``tau`` columns first."""
    parts = []
    for panel, run in runs.items():
        data = run[frame]
        parts.append(data.assign(panel=panel, tau=run["tau"])[["panel", "tau", *data.columns]])
    return pd.concat(parts, ignore_index=True)


def run_table(runs: dict) -> pd.DataFrame:
    """One row per panel: ``tau``, ``tau_star``, whether ``tau >= tau*``, outcome, period, entry round, tail stats."""
    rows = []
    for panel, run in runs.items():
        out = run["outcome"]
        rows.append(
            {
                "panel": panel,
                "tau": run["tau"],
                "tau_star": run["tau_star"],
                "tau_star_vouched": run["tau_star_vouched"],
                "predicted_stable": run["tau"] >= run["tau_star"],
                "outcome": out.outcome,
                "period": out.period,
                "entered_at": out.entered_at,
                "rounds": out.rounds,
                "mean_total_effort_tail": out.total_effort_mean,
                "ranking_correct_share": out.ranking_correct_share,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plots


def column_title(panel: str, run: dict) -> str:
    """``"converging: τ = 4.48 ≥ τ* = 2.24"`` / ``"cycle: τ = 0 < τ* = 2.24"`` and the outcome on a second line."""
    from sim.plots import outcome_title

    relation = "≥" if run["tau"] >= run["tau_star"] else "<"
    return f"{panel}: τ = {run['tau']:.3g} {relation} τ* = {run['tau_star']:.3g}\n{outcome_title(run['outcome'])}"


def _cycle_span(outcome, last_round: int) -> tuple[int, int] | None:
    """The first full cycle ``[entered_at, entered_at + period]`` when it fits in the rounds drawn."""
    if outcome.outcome != "cycle" or outcome.period is None or outcome.entered_at is None:
        return None
    start, stop = int(outcome.entered_at), int(outcome.entered_at) + int(outcome.period)
    return (start, stop) if stop <= last_round else None


def gallery_figure(runs: dict, last_round: int | None = None):
    """Two columns (converging | cycle), rows effort / published scores / rank; rows share their y axis.

    Rounds ``0..last_round`` are drawn (default :func:`shown_rounds`); one full cycle is shaded in every row.
    """
    import matplotlib.pyplot as plt

    from sim.plots import plot_effort, plot_rank_bump, plot_scores

    if last_round is None:
        last_round = shown_rounds(runs)
    with style():
        fig, axes = plt.subplots(3, 2, figsize=(12.0, 9.6), layout="constrained", sharex=True, sharey="row")
        try:
            for j, panel in enumerate(PANELS):
                run = runs[panel]
                trajectory = run["trajectory"][run["trajectory"]["round"] <= last_round]
                plot_effort(trajectory, run["outcome"], ax=axes[0, j])
                plot_scores(trajectory, ax=axes[1, j])
                plot_rank_bump(trajectory, ax=axes[2, j])
                axes[0, j].set_title(column_title(panel, run))
                axes[1, j].set_title("published scores")
                axes[2, j].set_title("rank per developer")
                for ax in axes[:2, j]:
                    ax.set_xlabel("")
                if j == 1:
                    for ax in axes[:, j]:
                        ax.set_ylabel("")
            axes[0, 0].set_xlim(0, last_round)
            shown = [runs[p]["trajectory"] for p in PANELS]
            top = max(float(t.loc[t["round"] <= last_round, "effort"].max()) for t in shown)
            top = top if top > 0 else 1.0
            axes[0, 0].set_ylim(-0.02 * top, 1.08 * top)  # a zero effort line stays visible above the frame
            span = _cycle_span(runs["cycle"]["outcome"], last_round)
            if span is not None:
                for ax in axes[1:, 1]:
                    ax.axvspan(*span, zorder=0, color="0.55", alpha=0.18, linewidth=0)
            legend = axes[0, 1].get_legend()
            handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
            for ax in axes[:2].flat:
                ax.get_legend().remove()
            fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize="small")
        except BaseException:
            plt.close(fig)
            raise
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    runs = gallery_runs(rounds=QUICK_ROUNDS if quick else None)
    write_table(stacked(runs, "trajectory"), out / "trajectories.csv")
    write_table(stacked(runs, "leaderboard"), out / "leaderboards.csv")
    table = run_table(runs)
    write_table(table, out / "runs.csv")
    save_figure(gallery_figure(runs), out, INFO.figure, quick=quick)
    conv, cyc = (table.set_index("panel").loc[p] for p in PANELS)
    return {
        "scenario": SCENARIO.name,
        "tau_star": float(conv["tau_star"]),
        "tau_converging": float(conv["tau"]),
        "outcome_converging": str(conv["outcome"]),
        "entered_at_converging": None if pd.isna(conv["entered_at"]) else int(conv["entered_at"]),
        "tau_cycle": float(cyc["tau"]),
        "outcome_cycle": str(cyc["outcome"]),
        "period_cycle": None if pd.isna(cyc["period"]) else int(cyc["period"]),
        "entered_at_cycle": None if pd.isna(cyc["entered_at"]) else int(cyc["entered_at"]),
        "mean_total_effort_tail_cycle": float(cyc["mean_total_effort_tail"]),
        "ranking_correct_share_cycle": float(cyc["ranking_correct_share"]),
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
