"""Reward schemes compared: effort spent, ranking quality, cycle length and outcomes on ten developers.

One sweep (``scenarios/sweeps/reward_schemes.toml``) plays the top-3-of-10
scenario with ten capabilities drawn afresh in each replication under five
reward schemes (Example 2.2 of Chen, Zhang, Hardt: winner-take-all ``1, 0,
..., 0``; top-3; linear ``(n - k) / (n - 1)``; geometric ``q ** (k - 1)``;
Zipf ``1 / k``) at three tune-before-test levels ``tau``.  Common random
numbers: replication ``r`` plays the same developers under every scheme and
``tau``, so that the schemes differ only by their rewards.

Per scheme and ``tau`` the figure shows the distribution over replications
of the tail mean total effort (the arms race's cost to the developers), the
share of rounds in the tail whose published ranking equals the capability
ranking, the period of the cycles (log scale), and the outcome shares.  Every
adjacent gap ``r_{i-1} - r_i > 0`` is a pair that may race (Proposition 4.5),
so schemes that pay many ranks expose more pairs than winner-take-all, whose
only incentive is at the top.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import SCENARIOS, ExperimentInfo, command, save_figure, style, write_table
from experiments.phase_diagram import outcome_shares, played, reduced_spec, with_scheme
from sim.analysis import OUTCOMES

INFO = ExperimentInfo(
    name="reward_schemes",
    title="Reward schemes compared",
    description=(
        "Tail effort, share of rounds ranked correctly, cycle periods and outcome shares of ten developers under "
        "five reward schemes at three tune-before-test levels, over replications with common random numbers."
    ),
    figure="reward_schemes",
    data=("sweep.parquet", "summary_by_scheme.csv"),
)

SWEEP = SCENARIOS / "sweeps" / "reward_schemes.toml"
QUICK_REPLICATIONS = 2

EFFORT_LABEL = "tail mean total effort (effort units)"
CORRECT_LABEL = "share of tail rounds ranked correctly"
PERIOD_LABEL = "cycle period (rounds)"
SHARE_LABEL = "share of runs"
OUTCOME_NAMES = {
    "converged_zero": "converged to zero",
    "converged_nonzero": "converged, effort > 0",
    "cycle": "cycle",
    "no_convergence": "no convergence",
}
#: How each outcome fills its bar, given the colour of the bar's tau level: tint, full colour, hatch.
OUTCOME_FILL = {
    "converged_zero": {"tint": 0.8, "hatch": ""},
    "converged_nonzero": {"tint": 0.4, "hatch": "xx"},
    "cycle": {"tint": 0.0, "hatch": ""},
    "no_convergence": {"tint": 1.0, "hatch": "////"},
}


def _tinted(colour, tint: float) -> tuple:
    """``colour`` mixed with white: ``tint = 0`` is the colour itself, ``1`` is white."""
    rgb = np.asarray(colour[:3], dtype=float)
    return tuple(rgb + (1.0 - rgb) * tint)


def load_spec(quick: bool = False):
    """The sweep of the figure; ``quick`` keeps the grid and plays :data:`QUICK_REPLICATIONS` replications."""
    from sim.sweeps import load_sweep

    spec = load_sweep(SWEEP)
    return reduced_spec(spec, replications=QUICK_REPLICATIONS, axes={}) if quick else spec


# --------------------------------------------------------------------------- data preparation


def prepare(table: pd.DataFrame) -> pd.DataFrame:
    """The played rows (:func:`experiments.phase_diagram.played`) with a ``scheme`` label and ``tau_level``.

    ``tau_level`` is ``"τ = 0"``, ``"τ = 100"``, ... (categorical, ascending ``tau``).
    """
    data = with_scheme(played(table))
    taus = np.unique(data["tau"].to_numpy(dtype=float))
    names = {t: f"τ = {t:g}" for t in taus}
    return data.assign(tau_level=pd.Categorical(data["tau"].map(names), categories=[names[t] for t in taus]))


def scheme_summary(data: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(tau, scheme)`` of a prepared table (:func:`prepare`).

    Columns: ``scenarios``, ``median_tail_effort`` (median over replications of
    the tail mean total effort), ``mean_ranking_correct_share``,
    ``median_cycle_period`` (over the runs that cycle; NaN when none does),
    ``cycles``, and the share of every outcome (``share_<outcome>``).
    """
    cycles = data[data["outcome"] == "cycle"]
    keys = ["tau", "scheme"]
    grouped = data.groupby(keys, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "scenarios": grouped.size(),
            "median_tail_effort": grouped["mean_total_effort_tail"].median(),
            "mean_ranking_correct_share": grouped["ranking_correct_share"].mean(),
        }
    )
    period = cycles.assign(period=cycles["period"].astype(float)).groupby(keys, observed=True)["period"]
    out["median_cycle_period"] = period.median()
    out["cycles"] = period.size()
    out["cycles"] = out["cycles"].fillna(0).astype(np.int64)
    shares = outcome_shares(data, keys).pivot(index=keys, columns="outcome", values="share")
    for outcome in OUTCOMES:
        out[f"share_{outcome}"] = shares[outcome]
    out = out.reset_index()
    out["scheme"] = out["scheme"].astype(str)
    return out


def headline(summary: pd.DataFrame) -> dict:
    """Lists in scheme order for each ``tau``: median effort, mean ranking-correct share, median period, cycle share."""
    result: dict = {"schemes": list(dict.fromkeys(summary["scheme"]))}
    for tau, rows in summary.groupby("tau", sort=True):
        rows = rows.set_index("scheme").loc[result["schemes"]]
        tag = f"tau_{tau:g}"
        result[f"median_tail_effort_{tag}"] = [round(float(v), 1) for v in rows["median_tail_effort"]]
        result[f"mean_ranking_correct_share_{tag}"] = [round(float(v), 3) for v in rows["mean_ranking_correct_share"]]
        result[f"median_cycle_period_{tag}"] = [None if np.isnan(v) else float(v) for v in rows["median_cycle_period"]]
        result[f"cycle_share_{tag}"] = [round(float(v), 3) for v in rows["share_cycle"]]
    return result


# --------------------------------------------------------------------------- plots


def _tau_palette(levels) -> dict:
    import seaborn as sns

    from sim.plots import PALETTE

    return dict(zip(levels, sns.color_palette(PALETTE, len(levels)), strict=True))


def plot_distribution(data: pd.DataFrame, column: str, ax=None, *, log: bool = False, label: str | None = None):
    """Box plot (with the points) of ``column`` per scheme, one box per ``tau`` level."""
    import seaborn as sns

    from experiments.common import new_axes

    fig, ax = new_axes(ax)
    levels = list(data["tau_level"].cat.categories)
    palette = _tau_palette(levels)
    schemes = list(data["scheme"].cat.categories)
    values = data.dropna(subset=[column]).astype({column: float})
    with style():
        common = {"data": values, "x": "scheme", "y": column, "hue": "tau_level", "order": schemes,
                  "hue_order": levels, "ax": ax, "log_scale": log}
        sns.boxplot(**common, palette=palette, showfliers=False, width=0.75, linewidth=1.0, fill=False, legend=False)
        sns.stripplot(**common, palette=palette, dodge=True, size=2.2, alpha=0.45, jitter=0.18, legend=False)
        ax.set_xlabel("")
        ax.set_ylabel(label or column)
    return fig


def plot_outcomes(data: pd.DataFrame, ax=None):
    """Stacked outcome shares per scheme, one bar per ``tau`` level in its colour; the outcome sets tint and hatch."""
    from matplotlib.patches import Patch

    from experiments.common import new_axes

    fig, ax = new_axes(ax)
    levels = list(data["tau_level"].cat.categories)
    palette = _tau_palette(levels)
    schemes = list(data["scheme"].cat.categories)
    shares = outcome_shares(data, ["scheme", "tau_level"])
    width = 0.75 / len(levels)
    present = [o for o in OUTCOMES if shares.loc[shares["outcome"] == o, "count"].sum() > 0]
    with style():
        for j, level in enumerate(levels):
            x = np.arange(len(schemes)) + (j - (len(levels) - 1) / 2) * width
            bottom = np.zeros(len(schemes))
            for outcome in present:
                part = shares[(shares["tau_level"] == level) & (shares["outcome"] == outcome)]
                share = part.set_index("scheme")["share"].reindex(schemes).fillna(0.0).to_numpy()
                fill = OUTCOME_FILL[outcome]
                ax.bar(x, share, width * 0.92, bottom=bottom, facecolor=_tinted(palette[level], fill["tint"]),
                       edgecolor=palette[level], hatch=fill["hatch"], linewidth=1.0)
                bottom += share
        ax.set_xticks(np.arange(len(schemes)), schemes)
        ax.set_ylim(0, 1)
        ax.set_ylabel(SHARE_LABEL)
        ax.set_xlabel("")
        grey = (0.35, 0.35, 0.35)
        handles = [Patch(facecolor=_tinted(grey, OUTCOME_FILL[o]["tint"]), edgecolor=grey,
                         hatch=OUTCOME_FILL[o]["hatch"], label=OUTCOME_NAMES[o]) for o in present]
        ax.legend(handles=handles, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0), title="outcome",
                  title_fontsize="x-small")
    return fig


def schemes_figure(data: pd.DataFrame):
    """2 x 2 panels sharing the scheme axis: effort, ranking-correct share, cycle period (log), outcome shares."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    levels = list(data["tau_level"].cat.categories)
    palette = _tau_palette(levels)
    with style():
        fig, axes = plt.subplots(2, 2, figsize=(12.5, 7.6), layout="constrained", sharex=True)
        try:
            plot_distribution(data, "mean_total_effort_tail", ax=axes[0, 0], label=EFFORT_LABEL)
            plot_distribution(data, "ranking_correct_share", ax=axes[0, 1], label=CORRECT_LABEL)
            cycles = data[data["outcome"] == "cycle"].assign(period=lambda f: f["period"].astype(float))
            plot_distribution(cycles, "period", ax=axes[1, 0], log=True, label=PERIOD_LABEL)
            plot_outcomes(data, ax=axes[1, 1])
            axes[0, 1].set_ylim(-0.02, 1.02)
            titles = ("(a) effort spent", "(b) ranking quality", "(c) cycle periods (cycles only)",
                      "(d) outcomes")
            for ax, title in zip(axes.flat, titles, strict=True):
                ax.set_title(title)
            schemes = list(data["scheme"].cat.categories)
            for ax in axes[1]:
                ax.set_xticks(np.arange(len(schemes)), [s.replace(" (", "\n(") for s in schemes])
            handles = [Line2D([], [], color=palette[level], linewidth=2.0, label=level) for level in levels]
            fig.legend(handles=handles, loc="outside upper center", ncol=len(levels), fontsize="small",
                       title="tune-before-test level (effort units)", title_fontsize="small")
        except BaseException:
            plt.close(fig)
            raise
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    from sim.sweeps import sweep

    table = sweep(load_spec(quick), n_jobs=n_jobs)
    write_table(table, out / "sweep.parquet")
    data = prepare(table)
    summary = scheme_summary(data)
    write_table(summary, out / "summary_by_scheme.csv")
    save_figure(schemes_figure(data), out, INFO.figure, quick=quick)
    return {
        "scenarios": len(table),
        "failed_scenarios": int(table["error"].notna().sum()),
        "replications": int(data["replication"].nunique()),
        "taus": [float(t) for t in sorted(data["tau"].unique())],
        **headline(summary),
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
