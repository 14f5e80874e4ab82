"""Strategies beyond the best response: does tau* still stabilise play, and which strategy wins a tournament?

(a) Phase diagram.  One sweep (:mod:`sim.sweeps`, ``developers.strategy`` on an
axis) plays the five-developer winner-take-all power-law game
(``scenarios/winner_take_all_5.toml``: common ``L, U``, ``alpha`` and ``beta``
increasing in capability, ``beta < 1``, linear cost: the paper's Assumptions
4.1 and 4.2 hold) with five capabilities drawn afresh from ``U[0.2, 1]`` in
every replication, scores published to three decimals, over log-spaced
``tau``, with every developer playing the same strategy.  Each run's
``tau`` is divided by the theory's stabilising threshold ``tau*`` of its own
drawn game (Definition 5.4, :func:`sim.theory.stabilising_threshold`), and
the runs are binned by ``tau / tau*`` (log-spaced bins).  Per strategy and
bin: the share of runs that converge to the all-zero profile
(``converged_zero``), against the share the theory predicts for best
responses (``tau >= tau*``, Proposition 4.5 with Lemma 5.2).  Runs whose
``tau*`` is not a finite vouched-for number are left out and counted.

(b) Tournament.  :mod:`sim.tournament` with the same eight strategies, three
developers per match (capabilities 1.0, 0.7, 0.4; three repetitions of each
mix, rotated so that each of its strategies plays each capability once),
every multiset of three strategies, on the two-developer power-law
game (``scenarios/two_developers.toml``) under winner-take-all and under
linear rewards, each at ``tau = 0`` and at ``tau = 1.5 tau*`` (``tau*`` of
that reward scheme's game).  Strategies are ranked by their mean utility per
round (a match is the unit; 95% normal intervals).

The strategies (``sim.strategies``, each documented in ``docs/model.md``):
``best``; ``logit`` at temperature 0.02 (utility units; the top prize is 1);
``rank_defender``; ``partial_adjustment`` (``lambda = 0.5``);
``fictitious_play`` (exponential weights, ``decay = 0.5``);
``expected_utility`` (without evaluation noise it is the best response: a
check); ``hedge`` (``eta = 0.1``); ``satisficer`` (``target_rank = 1``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import SCENARIOS, ExperimentInfo, command, save_figure, style, write_table

INFO = ExperimentInfo(
    name="strategies",
    title="Strategies: does tau* still stabilise play, and which strategy wins?",
    description=(
        "Share of runs converging to zero effort against tau / tau* for eight developer strategies (a), and the "
        "tournament's mean utility per strategy under winner-take-all and linear rewards at tau = 0 and "
        "tau = 1.5 tau* (b)."
    ),
    figure="strategies",
    data=("phase_sweep.parquet", "phase_cells.csv", "tournament_matches.parquet", "tournament_strategies.csv"),
)

#: The strategies compared, as written in a scenario file's ``developers.strategy``.
STRATEGIES: tuple = (
    "best",
    {"name": "logit", "temperature": 0.02},
    "rank_defender",
    {"name": "partial_adjustment", "lambda": 0.5},
    {"name": "fictitious_play", "decay": 0.5},
    "expected_utility",
    {"name": "hedge", "eta": 0.1},
    {"name": "satisficer", "target_rank": 1},
)
QUICK_STRATEGIES: tuple = ("best", {"name": "logit", "temperature": 0.02}, {"name": "hedge", "eta": 0.1})

PHASE_BASE = SCENARIOS / "winner_take_all_5.toml"
TOURNAMENT_GAME = SCENARIOS / "two_developers.toml"
#: Sweep sizes: (replications, tau grid, rounds, cap on rounds for deterministic dynamics).
FULL_PHASE = {"replications": 20, "tau": {"logspace": [-1.0, 4.0, 21]}, "rounds": 300, "max_rounds": 3000}
QUICK_PHASE = {"replications": 2, "tau": {"logspace": [0.0, 3.0, 4]}, "rounds": 40, "max_rounds": 200}
#: Tournament sizes: repetitions per mix and tau, rounds per match.
FULL_TOURNAMENT = {"repetitions": 3, "rounds": 150}
QUICK_TOURNAMENT = {"repetitions": 1, "rounds": 15}
CAPABILITIES = (1.0, 0.7, 0.4)
ABOVE = 1.5  # tau = ABOVE * tau* in part (b)
#: Edges of the tau / tau* bins (log-spaced, 10**-2 to 10**1.5); ratios outside go to the end bins.
RATIO_EDGES = 10.0 ** np.linspace(-2.0, 1.5, 15)
SEED = 14
SCHEMES = ("winner_take_all", "linear")
SCHEME_LABELS = {"winner_take_all": "winner-take-all", "linear": "linear"}


def strategy_label(spec) -> str:
    """``name`` or ``name(key=value, ...)``, as :class:`sim.tournament.spec.StrategyEntry` labels them."""
    from sim.tournament.spec import _strategy

    return _strategy(spec, 0).label


# --------------------------------------------------------------------------- (a) phase diagram


def phase_spec(quick: bool = False):
    """The sweep of part (a) (see the module docstring)."""
    from sim.sweeps import sweep_spec

    size = QUICK_PHASE if quick else FULL_PHASE
    axes = {
        "developers.sample": [{"n": 5, "distribution": "uniform", "low": 0.2, "high": 1.0}],
        "leaderboard.resolution": [1e-3],
        "dynamics.rounds": [size["rounds"]],
        "developers.strategy": list(QUICK_STRATEGIES if quick else STRATEGIES),
        "designer.tau": size["tau"],
    }
    return sweep_spec(PHASE_BASE, axes, name="strategies-phase", replications=size["replications"], seed=SEED,
                      max_rounds=size["max_rounds"])


def phase_cells(table: pd.DataFrame, edges=RATIO_EDGES) -> pd.DataFrame:
    """Per strategy and ``tau / tau*`` bin: runs, share ``converged_zero``, share predicted stable (``tau >= tau*``).

    ``table`` needs ``strategy``, ``tau``, ``tau_star``, ``tau_star_vouched`` and ``outcome``; rows with a failed
    run, or whose ``tau*`` is not finite, positive and vouched for, are left out.  Ratios below the first edge
    go to the first bin, above the last edge to the last.
    """
    edges = np.asarray(edges, dtype=float)
    ok = table[np.isfinite(table["tau_star"].astype(float)) & (table["tau_star"].astype(float) > 0)
               & table["tau_star_vouched"].astype("boolean").fillna(False).astype(bool)
               & table["outcome"].notna()].copy()
    ratio = ok["tau"].astype(float) / ok["tau_star"].astype(float)
    ok["bin"] = np.clip(np.searchsorted(edges, ratio, side="right") - 1, 0, len(edges) - 2)
    ok["converged_zero"] = ok["outcome"].astype(str) == "converged_zero"
    ok["predicted"] = ratio >= 1.0
    ok["ratio"] = ratio
    cells = ok.groupby(["strategy", "bin"], sort=False).agg(
        runs=("converged_zero", "size"), converged_zero_share=("converged_zero", "mean"),
        predicted_share=("predicted", "mean"), ratio_median=("ratio", "median"),
    ).reset_index()  # fmt: skip
    cells["ratio_low"] = edges[cells["bin"]]
    cells["ratio_high"] = edges[cells["bin"] + 1]
    return cells.sort_values(["strategy", "bin"], kind="stable", ignore_index=True)


def phase_headline(table: pd.DataFrame, labels) -> dict:
    """Per strategy: share converging to zero below and above ``tau*`` (vouched, finite, positive ``tau*`` only)."""
    ok = table[np.isfinite(table["tau_star"].astype(float)) & (table["tau_star"].astype(float) > 0)
               & table["tau_star_vouched"].astype("boolean").fillna(False).astype(bool)]
    out = {}
    for label in labels:
        part = ok[ok["strategy"] == label]
        above = part["tau"] >= part["tau_star"]
        zero = part["outcome"].astype(str) == "converged_zero"
        out[label] = {
            "below": float(zero[~above].mean()) if (~above).any() else float("nan"),
            "above": float(zero[above].mean()) if above.any() else float("nan"),
        }
    return out


# --------------------------------------------------------------------------- (b) tournament


def tournament_spec(scheme: str, quick: bool = False):
    """The tournament of part (b) for one reward ``scheme``, at ``tau = 0`` and ``tau = 1.5 tau*``."""
    from sim import theory
    from sim.scenario import parse_scenario, read_toml
    from sim.tournament.matches import scenario_dict
    from sim.tournament.spec import parse_tournament

    size = QUICK_TOURNAMENT if quick else FULL_TOURNAMENT
    game = {k: v for k, v in read_toml(TOURNAMENT_GAME, "scenario file").items()
            if k in ("score", "cost", "leaderboard", "dynamics")}
    game["reward"] = {"scheme": scheme}
    data = {
        "name": f"strategies-{scheme}", "seed": SEED, "developers": len(CAPABILITIES),
        "repetitions": size["repetitions"], "mixes": "all",
        "strategies": list(QUICK_STRATEGIES if quick else STRATEGIES),
        "capabilities": {"values": list(CAPABILITIES)},
        "game": {**game, "tau": 0.0, "rounds": size["rounds"]},
        "evolution": {"selection": 2.0, "population": 20},
    }  # fmt: skip
    probe = parse_tournament(data)
    threshold = theory.stabilising_threshold(parse_scenario(scenario_dict(probe, CAPABILITIES, None, 0.0, 0)).game())
    if not (threshold.stabilises and np.isfinite(threshold.tau_star)):
        raise RuntimeError(f"the {scheme} game has no finite tau* ({threshold.note})")
    data["game"]["tau"] = [0.0, float(ABOVE * threshold.tau_star)]
    return parse_tournament(data), float(threshold.tau_star)


def ranking(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` (one tau, one scheme) sorted best first by mean utility, with a ``place`` column (1 = best)."""
    ranked = summary.sort_values(["mean_utility", "strategy"], ascending=[False, True], ignore_index=True)
    return ranked.assign(place=np.arange(1, len(ranked) + 1))


# --------------------------------------------------------------------------- figure


def plot_phase_panel(cells: pd.DataFrame, ax=None, title: str | None = None):
    """One strategy's share converging to zero per ``tau / tau*`` bin (and the best-response prediction)."""
    from experiments.common import new_axes

    fig, ax = new_axes(ax)
    cells = cells.sort_values("bin")
    x = np.sqrt(cells["ratio_low"] * cells["ratio_high"])
    ax.step(x, cells["predicted_share"], where="mid", color="0.55", linestyle="--", label="predicted (τ ≥ τ*)")
    ax.plot(x, cells["converged_zero_share"], marker="o", markersize=3.5, label="converged to zero")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    if title:
        ax.set_title(title, fontsize=9.5)
    return fig


def plot_ranking(summary: pd.DataFrame, ax=None, title: str | None = None):
    """Mean utility per strategy with 95% intervals, one bar per ``tau`` (labels ``tau = 0`` / ``1.5 tau*``)."""
    from experiments.common import new_axes
    from sim.plots import colour_palette

    fig, ax = new_axes(ax)
    labels = list(dict.fromkeys(summary.sort_values("strategy_index")["strategy"]))
    conditions = list(dict.fromkeys(summary["condition"]))
    height = 0.8 / len(conditions)
    y = np.arange(len(labels))
    for c, (cond, colour) in enumerate(zip(conditions, colour_palette(len(conditions)), strict=True)):
        part = summary[summary["condition"] == cond].set_index("strategy").reindex(labels)
        mean = part["mean_utility"].to_numpy()
        err = np.vstack([mean - part["utility_low"].to_numpy(), part["utility_high"].to_numpy() - mean])
        ax.barh(y + (c - (len(conditions) - 1) / 2) * height, mean, height,
                xerr=np.where(np.isfinite(err), err, 0.0), color=colour, capsize=2, label=cond)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("mean utility per round (95% interval)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(conditions))
    if title:
        ax.set_title(title)
    return fig


def strategies_figure(cells: pd.DataFrame, tournament: pd.DataFrame, labels):
    """(a) one phase panel per strategy, (b) the tournament's mean utilities, one panel per reward scheme."""
    import matplotlib.pyplot as plt

    cols = 4
    rows = -(-len(labels) // cols)
    schemes = list(dict.fromkeys(tournament["scheme"]))
    with style():
        fig = plt.figure(figsize=(13.0, 2.6 * rows + 5.2), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[2.6 * rows, 5.2])
        axes = top.subplots(rows, cols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(labels):
                ax.set_visible(False)
                continue
            label = labels[k]
            plot_phase_panel(cells[cells["strategy"] == label], ax=ax, title=label)
            if k % cols == 0:
                ax.set_ylabel("share converged to zero")
            if k + cols >= len(labels):
                ax.set_xlabel("τ / τ*")
            if k == 0:
                ax.legend(fontsize=7.5, loc="upper left")
        top.suptitle("(a) does τ* still stabilise play? five developers, all playing the strategy", fontsize=11)
        for ax, scheme in zip(bottom.subplots(1, len(schemes), squeeze=False).flat, schemes, strict=True):
            plot_ranking(tournament[tournament["scheme"] == scheme], ax=ax,
                         title=f"{SCHEME_LABELS.get(scheme, scheme)} rewards")
        bottom.suptitle("(b) tournament: three developers, every mix of strategies", fontsize=11)
    return fig


def leaders(summary: pd.DataFrame) -> list[str]:
    """The strategies of ``summary`` (one tau, one scheme) whose 95% interval reaches the best mean utility:
    the ones the tournament cannot tell apart from the winner."""
    top = summary["mean_utility"].max()
    return ranking(summary[summary["utility_high"] >= top])["strategy"].tolist()


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    from sim.sweeps import sweep
    from sim.tournament.report import run_tournament

    labels = [strategy_label(s) for s in (QUICK_STRATEGIES if quick else STRATEGIES)]
    spec = phase_spec(quick)
    table = sweep(spec, n_jobs=n_jobs)
    table = table.assign(strategy=table["developers.strategy"].map(lambda v: strategy_label(_decoded(v))))
    write_table(table.drop(columns=["effort_tail", "utility_tail"], errors="ignore"), out / "phase_sweep.parquet")
    cells = phase_cells(table)
    write_table(cells, out / "phase_cells.csv")

    frames, summaries, tau_stars = [], [], {}
    for scheme in SCHEMES:
        tspec, tau_star = tournament_spec(scheme, quick)
        tau_stars[scheme] = tau_star
        result = run_tournament(tspec, n_jobs=n_jobs)
        above = max(tspec.taus)
        cond = lambda t, above=above: "τ = 0" if t == 0 else f"τ = {ABOVE:g} τ* = {above:.4g}"  # noqa: E731
        frames.append(result.matches.assign(scheme=scheme))
        summaries.append(result.strategies.assign(scheme=scheme, condition=result.strategies["tau"].map(cond)))
    matches = pd.concat(frames, ignore_index=True)
    tournament = pd.concat(summaries, ignore_index=True)
    write_table(matches, out / "tournament_matches.parquet")
    write_table(tournament, out / "tournament_strategies.csv")
    save_figure(strategies_figure(cells, tournament, labels), out, INFO.figure, quick=quick)

    headline = {
        "phase_runs": len(table),
        "phase_failed_runs": int(table["error"].notna().sum()),
        "phase_runs_without_vouched_tau_star": int((~(np.isfinite(table["tau_star"].astype(float))
                                                       & table["tau_star_vouched"].astype("boolean")
                                                       .fillna(False).astype(bool))).sum()),
    }  # fmt: skip
    for label, shares in phase_headline(table, labels).items():
        headline[f"converged_zero_below_tau_star[{label}]"] = shares["below"]
        headline[f"converged_zero_above_tau_star[{label}]"] = shares["above"]
    headline["tournament_matches"] = int(matches.groupby("scheme")["match"].nunique().sum())
    for scheme in SCHEMES:
        headline[f"tau_star[{scheme}]"] = tau_stars[scheme]
        part = tournament[tournament["scheme"] == scheme]
        for tau, g in part.groupby("tau", sort=True):
            which = "tau0" if tau == 0 else "above_tau_star"
            headline[f"ranking[{scheme}, {which}]"] = " > ".join(ranking(g)["strategy"])
            headline[f"leaders[{scheme}, {which}]"] = ", ".join(leaders(g))
            headline[f"replicator_winner[{scheme}, {which}]"] = str(g.loc[g["replicator_share"].idxmax(), "strategy"])
    return headline


def _decoded(value):
    """An axis value as the sweep table stores it (JSON text for a table, a JSON string for a name)."""
    import json

    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


main = command(INFO, run)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
