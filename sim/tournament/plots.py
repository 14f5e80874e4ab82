"""Figures of a tournament, ``(data, ax=None) -> Figure`` in the package style (:data:`sim.plots.STYLE`).

Data preparation is separate (:mod:`sim.tournament.payoffs`, :func:`replicator_frame`) and tested; these only draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.plots import colour_palette, styled


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def replicator_frame(shares: np.ndarray, labels: Sequence[str], tau: float) -> pd.DataFrame:
    """Tidy replicator trajectory: ``tau``, ``step``, ``strategy``, ``share`` from shares ``(steps + 1, S)``."""
    shares = np.asarray(shares, dtype=float)
    T, S = shares.shape
    if S != len(labels):
        raise ValueError(f"{S} strategies in the shares but {len(labels)} labels")
    return pd.DataFrame({
        "tau": float(tau),
        "step": np.repeat(np.arange(T), S),
        "strategy": np.tile(np.asarray(labels, dtype=object), T),
        "share": shares.ravel(),
    })  # fmt: skip


def numbered(labels: Sequence[str]) -> list[str]:
    """``"1 best"``, ``"2 logit(temperature=0.05)"``, ...: the heatmap's row labels; its columns show the numbers."""
    return [f"{k} {label}" for k, label in enumerate(labels, start=1)]


@styled
def plot_payoff_matrix(matrix, labels: Sequence[str], ax=None, title: str | None = None, colorbar: bool = True
                       ) -> Figure:
    """Heatmap of ``P[i, j]`` (row: the strategy, column: the strategy all its rivals play), values written in;
    rows are labelled ``k label``, columns by the number ``k`` alone."""
    P = np.asarray(matrix, dtype=float)
    S = len(labels)
    fig, ax = _axes(ax, (2.5 + 0.6 * S, 1.0 + 0.55 * S))
    image = ax.imshow(np.ma.masked_invalid(P), cmap="viridis", aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(S), [str(k) for k in range(1, S + 1)])
    ax.set_yticks(range(S), numbered(labels))
    ax.set_xlabel("rivals all play")
    finite = P[np.isfinite(P)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    size = 8 if S <= 5 else (6.5 if S <= 8 else 5)
    for i in range(S):
        for j in range(S):
            text = "-" if not np.isfinite(P[i, j]) else f"{P[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=size,
                    color="white" if np.isfinite(P[i, j]) and P[i, j] < mid else "black")
    if colorbar:
        fig.colorbar(image, ax=ax, label="mean utility per round", shrink=0.9)
    if title:
        ax.set_title(title)
    return fig


@styled
def plot_strategy_bars(summary: pd.DataFrame, ax=None) -> Figure:
    """Mean utility per strategy with its 95% interval, one group of bars per ``tau``
    (:func:`sim.tournament.payoffs.strategy_summary`)."""
    fig, ax = _axes(ax, (7.0, 4.0))
    taus = sorted(summary["tau"].unique())
    labels = list(dict.fromkeys(summary.sort_values("strategy_index")["strategy"]))
    colours = colour_palette(len(taus))
    width = 0.8 / max(len(taus), 1)
    x = np.arange(len(labels))
    for t, (tau, colour) in enumerate(zip(taus, colours, strict=True)):
        part = summary[summary["tau"] == tau].set_index("strategy").reindex(labels)
        mean = part["mean_utility"].to_numpy()
        err = np.vstack([mean - part["utility_low"].to_numpy(), part["utility_high"].to_numpy() - mean])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.bar(x + (t - (len(taus) - 1) / 2) * width, mean, width, yerr=err, color=colour, capsize=3,
               label=f"tau = {tau:g}")
    ax.set_xticks(x, labels, rotation=25, ha="right")
    ax.set_ylabel("mean utility per round (95% interval)")
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.legend(title="tune-before-test")
    return fig


@styled
def plot_replicator(frame: pd.DataFrame, ax=None, title: str | None = None, legend: bool = True) -> Figure:
    """Shares of each strategy along the replicator dynamics (:func:`replicator_frame`, one ``tau``)."""
    fig, ax = _axes(ax, (6.4, 4.0))
    labels = list(dict.fromkeys(frame["strategy"]))
    for label, colour in zip(labels, colour_palette(len(labels)), strict=True):
        part = frame[frame["strategy"] == label]
        ax.plot(part["step"], part["share"], color=colour, label=label)
    ax.set_xlabel("replicator step")
    ax.set_ylabel("population share")
    ax.set_ylim(-0.02, 1.02)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        ax.set_title(title)
    return fig


@styled
def tournament_figure(summary: pd.DataFrame, matrices: dict, replicators: pd.DataFrame, labels: Sequence[str]
                      ) -> Figure:
    """One figure: the strategy bars, then per ``tau`` its payoff heatmap and replicator shares."""
    taus = sorted(matrices)
    S = len(labels)
    width = max(9.0, 5.2 * len(taus) + 3.0)
    fig = plt.figure(figsize=(width, 4.2 + (1.4 + 0.45 * S) + 3.0), layout="constrained")
    grid = fig.add_gridspec(3, len(taus), height_ratios=[1.3, 0.4 + 0.16 * S, 1.0])
    plot_strategy_bars(summary, ax=fig.add_subplot(grid[0, :]))
    for c, tau in enumerate(taus):
        plot_payoff_matrix(matrices[tau], labels, ax=fig.add_subplot(grid[1, c]), title=f"payoffs, tau = {tau:g}")
        plot_replicator(replicators[replicators["tau"] == tau], ax=fig.add_subplot(grid[2, c]),
                        title=f"replicator, tau = {tau:g}", legend=c == len(taus) - 1)
    return fig
