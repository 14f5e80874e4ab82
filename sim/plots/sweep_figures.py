"""The sweep figure (:func:`sweep_figure`): a measure or the outcome shares against one axis, faceted by others."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from sim.plots.style import COLORBLIND, colour_palette, styled
from sim.plots.sweep_data import (
    OUTCOME_ORDER,
    OUTCOME_WORDS,
    SWEEP_MEASURES,
    TAU_AXIS,
    X_BINS,
    sweep_axes,
    sweep_choice,
    sweep_data,
    tau_star_data,
)

_OUTCOME_COLOURS = dict(zip(OUTCOME_ORDER, [COLORBLIND[i] for i in (2, 0, 3, 7)], strict=True))


def _axis_title(axis: str) -> str:
    return "τ (tune-before-test level, effort units)" if axis == TAU_AXIS else axis


@styled
def sweep_figure(frame: pd.DataFrame, x: str | None = None, y: str | None = None, hue: str | None = None,
                 col: str | None = None, row: str | None = None, axes: Mapping[str, str] | None = None,
                 title: str | None = None) -> Figure:
    """Any measure of a sweep table (:func:`sim.sweeps.read_results`) against one of its axes.

    ``axes`` maps the sweep's axes to their kinds (:func:`sweep_axes`;
    inferred from the columns when None); names and defaults are checked by
    :func:`sweep_choice` and the points computed by :func:`sweep_data`.
    ``y = "outcome"`` stacks the outcome shares (areas over a numeric x, bars
    over a categorical one); any other measure is a line per hue level with
    its 95% interval over replications as a band (error bars over a
    categorical x).  ``hue``, ``col``, ``row`` split by other axes (facets
    share both axes; more than ``COL_WRAP + 1`` columns without a row axis
    wrap into rows of :data:`COL_WRAP`).  The x axis is logarithmic when its
    axis was log-spaced, or when its values span two decades
    (:func:`sweep_xscale`; symlog when they include 0), and spans the data.
    When x is ``designer.tau`` and the table has ``tau_star``, the theory's
    threshold is drawn as its median (dashed line) and interquartile range
    (strip along the top) per facet and hue level (:func:`tau_star_data`);
    a median beyond the x range is written at the panel's edge.
    """
    axes = dict(sweep_axes(frame) if axes is None else axes)
    choice = sweep_choice(frame, axes, x=x, y=y, hue=hue, col=col, row=row)
    data = sweep_data(frame, choice)
    stars = tau_star_data(frame, choice) if choice.x == TAU_AXIS else None
    rows = list(dict.fromkeys(data["row"]))
    cols = list(dict.fromkeys(data["col"]))
    hues = list(dict.fromkeys(data["hue"]))
    facets = [(r, c) for r in rows for c in cols]
    numeric = pd.api.types.is_numeric_dtype(data["x"])
    scale = sweep_xscale(data["x"], choice.logx) if numeric else ("linear", None)
    colours = dict(zip(hues, colour_palette(len(hues)) if choice.hue else ["0.15"], strict=True))
    wrap = choice.row is None and len(cols) > COL_WRAP + 1  # many columns: wrapped into rows of COL_WRAP
    ncols = COL_WRAP if wrap else len(cols)
    nrows = -(-len(facets) // ncols)
    width, height = min(4.4 * ncols + 3.2, 24.0), min(3.3 * nrows + 0.9, 18.0)
    fig, grid = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", sharex=True,
                             sharey=True, squeeze=False)
    try:
        handles: dict[str, object] = {}
        categories = list(dict.fromkeys(data["x"])) if not numeric else []
        first = grid[0, 0]
        if scale[0] == "log":
            first.set_xscale("log")
            first.xaxis.set_minor_formatter(NullFormatter())  # labels on the decades only
        elif scale[0] == "symlog":
            first.set_xscale("symlog", linthresh=scale[1], linscale=0.5)
            first.xaxis.set_minor_formatter(NullFormatter())
        for k, (r, c) in enumerate(facets):
            i, j = divmod(k, ncols)
            ax = grid[i, j]
            cell = data[(data["row"] == r) & (data["col"] == c)]
            if choice.y == "outcome":
                _draw_outcome_shares(ax, cell, numeric, categories, handles)
            else:
                _draw_measure(ax, cell, numeric, categories, hues, colours, handles)
            if stars is not None and len(stars):
                _draw_tau_star(ax, stars[(stars["row"] == r) & (stars["col"] == c)], colours, handles,
                               several=bool(choice.hue))
            facet = [f"{choice.row} = {r}" if choice.row else "", f"{choice.col} = {c}" if choice.col else ""]
            ax.set_title(", ".join(t for t in facet if t), fontsize="medium")
            if k + ncols >= len(facets):  # nothing below: this panel carries the x axis
                binned = f" (binned: {X_BINS} bins)" if data.attrs.get("x_binned") else ""
                ax.set_xlabel(_axis_title(choice.x) + binned)
                ax.xaxis.set_tick_params(labelbottom=True)
            if j == 0:
                ax.set_ylabel(SWEEP_MEASURES[choice.y])
        for k in range(len(facets), nrows * ncols):
            grid.flat[k].set_visible(False)
        if numeric:
            lo, hi = float(data["x"].min()), float(data["x"].max())
            if scale[0] == "log":
                first.set_xlim(lo / 1.25, hi * 1.25)
            elif scale[0] == "symlog":
                first.set_xlim(-0.3 * scale[1], hi * 1.25)
            elif hi > lo:
                first.set_xlim(lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo))
        if choice.y == "outcome" or choice.y.endswith("_share") or choice.y == "top1_correct_share":
            first.set_ylim(-0.02, 1.02)
        elif choice.y == "kendall_tau_tail":
            first.set_ylim(-1.05, 1.05)
        if not numeric:
            first.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 3 else 0,
                             ha="right" if len(categories) > 3 else "center")
        if stars is not None and len(stars) and numeric:
            _note_tau_star_outside(grid, facets, ncols, stars, first.get_xlim())
        legend_title = "outcome" if choice.y == "outcome" else (choice.hue or None)
        fig.legend(list(handles.values()), list(handles), loc="outside right center", title=legend_title,
                   fontsize="small", title_fontsize="small")
        if title:
            fig.suptitle(title)
    except BaseException:
        plt.close(fig)
        raise
    return fig


#: Facet columns per row when a sweep figure's many columns are wrapped (no row axis, more than this + 1).
COL_WRAP = 3


def sweep_xscale(x: pd.Series, logx: bool) -> tuple[str, float | None]:
    """Scale of a numeric x axis: ``("log", None)`` for a log-spaced axis with positive values;
    ``("log", None)`` too for positive values spanning at least two decades; ``("symlog", l)`` when the values
    are >= 0, include 0 and their positive ones span at least a decade (``[0, 100, 1000]``), ``l`` the power
    of ten at or below the smallest positive value; else ``("linear", None)``."""
    values = x.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    if values.size and logx and (values > 0).all():
        return "log", None
    if positive.size and (values >= 0).all():
        ratio = positive.max() / positive.min()
        if (values > 0).all() and ratio >= 100:
            return "log", None
        if (values == 0).any() and ratio >= 10:
            return "symlog", float(10.0 ** np.floor(np.log10(positive.min())))
    return "linear", None


def _fmt_star(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _note_tau_star_outside(grid, facets, ncols, stars: pd.DataFrame, xlim) -> None:
    """Write ``τ* = v →`` (or ``←``) in a panel whose median tau* lies beyond the x range drawn."""
    lo, hi = sorted(xlim)
    for k, (r, c) in enumerate(facets):
        ax = grid.flat[k] if ncols == grid.shape[1] else grid[divmod(k, ncols)]
        cell = stars[(stars["row"] == r) & (stars["col"] == c)]
        notes = [f"τ* = {_fmt_star(m)} →" for m in cell["median"] if m > hi]
        notes += [f"← τ* = {_fmt_star(m)}" for m in cell["median"] if m < lo]
        if notes:
            right = any(m > hi for m in cell["median"])
            ax.text(0.98 if right else 0.02, 0.5, "\n".join(notes), transform=ax.transAxes, ha="right" if right
                    else "left", va="center", fontsize="small", color="0.25",
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})


def _draw_outcome_shares(ax, cell: pd.DataFrame, numeric: bool, categories: list, handles: dict) -> None:
    wide = cell.pivot_table(index="x", columns="outcome", values="share", aggfunc="sum", sort=False)
    wide = wide.reindex(columns=list(OUTCOME_ORDER), fill_value=0.0).fillna(0.0)
    if numeric:
        wide = wide.sort_index()
        ax.stackplot(wide.index.to_numpy(float), *(wide[o].to_numpy(float) for o in OUTCOME_ORDER),
                     colors=[_OUTCOME_COLOURS[o] for o in OUTCOME_ORDER], alpha=0.9, linewidth=0)
    else:
        wide = wide.reindex(categories, fill_value=0.0)
        bottom = np.zeros(len(wide))
        for o in OUTCOME_ORDER:
            ax.bar(range(len(wide)), wide[o].to_numpy(float), bottom=bottom, color=_OUTCOME_COLOURS[o], width=0.8)
            bottom += wide[o].to_numpy(float)
    for o in OUTCOME_ORDER:
        handles.setdefault(OUTCOME_WORDS[o], Patch(facecolor=_OUTCOME_COLOURS[o], alpha=0.9))


def _draw_measure(ax, cell: pd.DataFrame, numeric: bool, categories: list, hues: list, palette: dict,
                  handles: dict) -> None:
    for k, h in enumerate(hues):
        part = cell[cell["hue"] == h]
        if part.empty:
            continue
        colour = palette[h]
        if numeric:
            part = part.sort_values("x")
            xs = part["x"].to_numpy(float)
            ax.fill_between(xs, part["low"].to_numpy(float), part["high"].to_numpy(float), color=colour,
                            alpha=0.2, linewidth=0)
            (line,) = ax.plot(xs, part["mean"].to_numpy(float), color=colour, marker="o", markersize=3.5,
                              linewidth=1.6)
        else:
            shift = (k - (len(hues) - 1) / 2) * min(0.6 / max(len(hues), 1), 0.15)
            pos = part["x"].map({v: i for i, v in enumerate(categories)}).to_numpy(float) + shift
            mean = part["mean"].to_numpy(float)
            line = ax.errorbar(pos, mean, yerr=[mean - part["low"].to_numpy(float),
                                                part["high"].to_numpy(float) - mean],
                               color=colour, marker="o", markersize=4, linestyle="none", capsize=2.5)
        handles.setdefault(h if h != "" else "mean, 95% interval", line)


def _draw_tau_star(ax, stars: pd.DataFrame, palette: dict, handles: dict, several: bool) -> None:
    """Median tau* as a dashed line across the panel; its interquartile range as a strip along the top edge
    (one strip per hue level, stacked downwards), so that it never hides the data."""
    strip = 0.035
    for k, s in enumerate(stars.itertuples(index=False)):
        colour = palette.get(s.hue, "0.3") if several else "0.3"
        top = 1.0 - k * strip
        ax.axvspan(s.q25, s.q75, ymin=top - strip, ymax=top, color=colour, alpha=0.55, linewidth=0, zorder=4)
        ax.axvline(s.median, color=colour, linestyle="--", linewidth=1.3, zorder=3)
    handles.setdefault("τ* of the theory: median (dashed),\ninterquartile range (strip at the top)",
                       (Patch(facecolor="0.3", alpha=0.55), Line2D([], [], color="0.3", linestyle="--")))
