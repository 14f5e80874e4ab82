"""The dynamics figures of one run: effort, scores, the rank bump chart, the cycle, the leaderboard, and
:func:`dynamics_figure` that lays them out together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.plots.dynamics_data import (
    MARKER_ROUNDS,
    MAX_POINTS,
    RASTER_POINTS,
    SYMLOG_RATIO,
    _check_window,
    _cycle,
    _incorrect_runs,
    _one_scenario,
    _require,
    _smoothed,
    _trajectory,
    bump_data,
    cycle_window,
    default_tau_window,
    default_window,
    developer_dashes,
    developer_labels,
    developer_palette,
    effort_data,
    effort_linthresh,
    outcome_title,
    rolling_tau,
    score_data,
    scores_crowded,
    smoothing_rounds,
    subsample_rounds,
)
from sim.plots.style import (
    _CYCLE_SHADE,
    _INCORRECT_SHADE,
    _MARKERS,
    _TAU_COLOUR,
    _TOTAL_COLOUR,
    _WINDOW_SHADE,
    EFFORT_LABEL,
    FIGSIZE,
    RANK_LABEL,
    ROUND_LABEL,
    SCORE_LABEL,
    TAU_LABEL,
    TOTAL_EFFORT_LABEL,
    _new_axes,
    _symlog,
    styled,
)


def _shade_span(outcome, first_round: int, last_round: int) -> tuple[int, int] | None:
    """One full cycle ``[s, s + period]`` to shade, shifted by whole periods into the stored rounds."""
    cycle = _cycle(outcome)
    if cycle is None or cycle[1] < 1:
        return None
    start, period = cycle
    if start < first_round:  # tail-only record: the cycle repeats, so shade a later copy
        start += -(-(first_round - start) // period) * period
    if start > last_round:
        return None
    return start, start + period


def _line_kwargs(dash) -> dict:
    return {"linestyle": "-"} if dash == "" else {"dashes": dash}


def _stack_widths(k: int) -> np.ndarray:
    """Line widths of ``k`` lines drawn first to last: the first widest, each later one narrower, so that
    lines lying on top of each other still show every colour as a stripe (from 1.2 pt up to 5 pt)."""
    if k <= 1:
        return np.array([1.8])
    top = min(1.2 + 0.8 * (k - 1), 5.0)
    return np.linspace(top, 1.2, k)


def _legend(ax, labels: Sequence[str], palette: Mapping[str, tuple], dashes: Mapping[str, str | tuple],
            extra: Sequence[tuple] = (), title=None, widths=None):
    if widths is None:
        widths = np.full(len(labels), 1.8)
    handles = [Line2D([], [], color=palette[label], linewidth=float(w), **_line_kwargs(dashes[label]))
               for label, w in zip(labels, widths, strict=True)]
    names = list(labels)
    for handle, name in extra:
        handles.append(handle)
        names.append(name)
    ncol = 1 if len(names) <= 12 else 2
    fontsize = "small" if len(names) <= 12 else "x-small"
    # outside the axes, on the right: a legend never covers the data
    ax.legend(handles, names, title=title, fontsize=fontsize, title_fontsize=fontsize, ncol=ncol,
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _draw_lines(ax, data: pd.DataFrame, y: str, palette: Mapping[str, tuple], dashes: Mapping[str, str | tuple],
                drawstyle: str = "steps-post", markers: bool = False) -> np.ndarray:
    """One line per developer in the order of ``data['label']``'s categories, widest first (:func:`_stack_widths`);
    dense lines (more than :data:`RASTER_POINTS` points) are rasterised in vector output.  Returns the widths."""
    order = list(data["label"].cat.categories)
    widths = _stack_widths(len(order))
    groups = dict(tuple(data.groupby("label", observed=True, sort=False)))
    for i, label in enumerate(order):
        part = groups.get(label)
        if part is None:
            continue
        style = {}
        if markers:
            style = {"marker": _MARKERS[i % len(_MARKERS)], "markersize": float(2.0 + 1.6 * widths[i]),
                     "markeredgewidth": 0.0}
        ax.plot(part["round"].to_numpy(dtype=float), part[y].to_numpy(dtype=float), color=palette[label],
                linewidth=float(widths[i]), drawstyle=drawstyle, solid_capstyle="butt", zorder=2.0 + i / len(order),
                rasterized=len(part) > RASTER_POINTS, **_line_kwargs(dashes[label]), **style)
    return widths


def _effort_axes(ax, trajectory, outcome, data: pd.DataFrame, palette, dashes, shade=None, legend=True) -> None:
    widths = _draw_lines(ax, data, "effort", palette, dashes)
    extra = []
    if shade is None:
        shade = _shade_span(outcome, int(trajectory["round"].min()), int(trajectory["round"].max()))
    if shade is not None:
        period = shade[1] - shade[0]
        name = f"one cycle (period {period})"
        ax.axvspan(shade[0], shade[1], label=name, zorder=0, **_CYCLE_SHADE)
        extra.append((Patch(**_CYCLE_SHADE), name))
    ax.set_xlabel(ROUND_LABEL)
    ax.set_ylabel(EFFORT_LABEL)
    effort = data["effort"].to_numpy(dtype=float) if len(data) else np.zeros(1)
    top = float(np.nanmax(effort)) if np.isfinite(effort).any() else 0.0
    positive = effort[effort > 0]
    shared = len(ax.get_shared_y_axes().get_siblings(ax)) > 1  # the caller keeps a common (linear) scale
    if top > 0 and top / float(positive.min()) > SYMLOG_RATIO and not shared:
        linthresh = effort_linthresh(effort)
        _symlog(ax, linthresh)
        ax.set_ylim(-0.15 * linthresh, top * 1.5)  # zero lines sit just above the frame, not on it
    elif top > 0:
        ax.set_ylim(-0.04 * top, 1.08 * top)
    else:
        ax.set_ylim(-0.1, 1.0)
        ax.text(0.5, 0.5, "no developer spends additional effort", transform=ax.transAxes, ha="center",
                va="center", color="0.35")
    if legend:
        _legend(ax, list(data["label"].cat.categories), palette, dashes, extra, widths=widths)


@styled
def plot_effort(trajectory: pd.DataFrame, outcome=None, ax=None, max_points: int | None = MAX_POINTS,
                legend: bool = True) -> Figure:
    """Additional effort per developer over rounds (steps), shading one cycle when the outcome is a cycle.

    The axis is symlog (:func:`effort_linthresh`) when the efforts span more than
    :data:`SYMLOG_RATIO` (and ``ax`` shares no y axis with other axes), so a small
    spender stays visible beside a large one; zero lines are drawn just above the
    bottom of the frame.
    """
    data = effort_data(trajectory, max_points=max_points)  # prepare (and validate) before making a figure
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    ax = _new_axes(ax)
    _effort_axes(ax, trajectory, outcome, data, palette, dashes, legend=legend)
    ax.set_title("effort per developer")
    return ax.figure


@styled
def plot_scores(trajectory: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS, legend: bool = True,
                relative: bool | None = False, smooth: int | None = 1) -> Figure:
    """Published score per developer over rounds; legend in the final leaderboard order (rank 1 first).

    Lines are drawn widest first (rank 1 at the end) and marked with one marker shape per
    developer when at most :data:`MARKER_ROUNDS` rounds are shown, so equal scores stay visible.
    ``relative=True`` draws each score's gap to the round's leader (:func:`score_data`) on a
    symlog axis, which separates scores that differ in the third decimal next to ones far
    below; ``relative=None`` chooses that when the scores are crowded (:func:`scores_crowded`).
    ``smooth`` rounds of rolling mean (:func:`score_data`); None chooses :func:`smoothing_rounds`.
    """
    if relative is None:
        relative = scores_crowded(trajectory)
    if smooth is None:
        smooth = smoothing_rounds(trajectory, "published")
    column = "gap" if relative else "published"
    data = score_data(trajectory, max_points=max_points, relative=relative, smooth=smooth)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    span = int(trajectory["round"].max()) - int(trajectory["round"].min()) + 1
    ax = _new_axes(ax)
    widths = _draw_lines(ax, data, column, palette, dashes, markers=span <= MARKER_ROUNDS,
                         drawstyle="steps-post" if smooth <= 1 else "default")
    ax.set_xlabel(ROUND_LABEL)
    if relative:
        gaps = data["gap"].to_numpy(dtype=float)
        linthresh = effort_linthresh(gaps)
        deepest = float(np.nanmax(np.abs(gaps))) if len(gaps) else 0.0
        if deepest > 0:
            _symlog(ax, linthresh)
            ax.set_ylim(-1.5 * deepest, 0.3 * linthresh)  # the leader's line (gap 0) just below the top
        ax.set_ylabel(f"{SCORE_LABEL} − leader's {SCORE_LABEL} (published)")
        ax.set_title("published scores, gap to the leader" + _smoothed(smooth))
    else:
        ax.set_ylabel(f"{SCORE_LABEL} (published)")
        ax.set_title("published scores" + _smoothed(smooth))
    if legend:
        _legend(ax, list(data["label"].cat.categories), palette, dashes, title="final leaderboard", widths=widths)
    return ax.figure


@styled
def plot_rank_bump(trajectory: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS,
                   smooth: int | None = 1) -> Figure:
    """Rank per developer over rounds (bump chart in steps): rank 1 on top, each line labelled at its right end.

    ``smooth > 1`` draws each developer's rolling mean rank over that many rounds (:func:`bump_data`) as a
    plain line; None chooses :func:`smoothing_rounds`.
    """
    if smooth is None:
        smooth = smoothing_rounds(trajectory, "rank")
    data = bump_data(trajectory, max_points=max_points, smooth=smooth)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    n = len(palette)
    last = data.loc[data.groupby("developer", sort=False)["round"].idxmax()]
    ax = _new_axes(ax)
    order = list(data["label"].cat.categories)
    groups = dict(tuple(data.groupby("label", observed=True, sort=False)))
    for i, label in enumerate(order):
        part = groups[label]
        ax.plot(part["round"].to_numpy(dtype=float), part["rank"].to_numpy(dtype=float), color=palette[label],
                linewidth=2.0, drawstyle="steps-post" if smooth <= 1 else "default", solid_capstyle="butt",
                zorder=2.0 + i / n,
                rasterized=len(part) > RASTER_POINTS, **_line_kwargs(dashes[label]))
    fontsize = "small" if n <= 12 else "xx-small"
    label_y = dodge_labels(last["rank"].to_numpy(dtype=float), n)
    for row, y in zip(last.itertuples(index=False), label_y, strict=True):
        ax.annotate(
            str(row.label), xy=(row.round, row.rank), xytext=(row.round, y), textcoords="data",
            va="center", ha="left", color=palette[row.label], fontsize=fontsize, annotation_clip=False,
        )
    ax.set_ylim(n + 0.5, 0.5)  # inverted: rank 1 on top
    if n <= 15:
        ax.set_yticks(range(1, n + 1))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(ROUND_LABEL)
    ax.set_ylabel(RANK_LABEL)
    ax.set_title(("rank per developer" if smooth <= 1 else "mean rank per developer") + _smoothed(smooth))
    ax.grid(axis="x", visible=False)
    return ax.figure


def dodge_labels(y, n: int, gap: float | None = None) -> np.ndarray:
    """Label heights for line ends at ranks ``y`` (any order) on a rank axis of ``n`` places, at least ``gap``
    apart (default ``min(0.8, 1)`` rank units, the height of a small label), as close to ``y`` as that allows
    and kept within ``[0.5, n + 0.5]``.  Returned in the order of ``y``.
    """
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        return y
    gap = min(0.8, n / max(len(y), 1)) if gap is None else float(gap)
    order = np.argsort(y, kind="stable")
    placed = y[order].copy()
    for i in range(1, len(placed)):  # push down past the label above
        placed[i] = max(placed[i], placed[i - 1] + gap)
    overflow = placed[-1] - (n + 0.5 - gap / 2)
    if overflow > 0:  # shift the block back up, then keep the gaps from the top
        placed[-1] -= overflow
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - gap)
    out = np.empty_like(placed)
    out[order] = placed
    return out


@styled
def plot_cycle(trajectory: pd.DataFrame, outcome, ax=None, margin: int | None = None) -> Figure:
    """Effort per developer around the cycle (:func:`cycle_window`), first full cycle shaded, period in the title."""
    window = cycle_window(trajectory, outcome, margin=margin)
    if window.empty:
        raise ValueError("the trajectory holds no round of the cycle window (a tail-only record?)")
    entered_at, period = _cycle(outcome)
    data = effort_data(window)
    palette, dashes = developer_palette(window), developer_dashes(window)
    shade = _shade_span(outcome, int(window["round"].min()), int(window["round"].max()))
    ax = _new_axes(ax)
    _effort_axes(ax, window, outcome, data, palette, dashes, shade=shade)
    ax.set_title(f"cycle of period {period}, entered at round {entered_at}")
    return ax.figure


@styled
def plot_leaderboard(leaderboard: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS,
                     tau_window: int = 1, window: tuple[int, int] | None = None) -> Figure:
    """Total effort (left axis) and Kendall's tau (right axis, [-1, 1]) over rounds; incorrect rankings shaded.

    Kendall's tau is drawn as its centred rolling mean over ``tau_window``
    rounds (:func:`rolling_tau`; 1 draws every round's value).  ``window``
    (rounds ``(start, stop)``) is outlined, e.g. the rounds the other panels
    of :func:`dynamics_figure` show.  The two lines are thinned to
    ``max_points`` rounds (:func:`subsample_rounds`); the shading is computed
    from every round.
    """
    _one_scenario(leaderboard, "leaderboard")
    _require(leaderboard, ("round", "ranking_correct", "kendall_tau", "total_effort"), "leaderboard")
    if leaderboard.empty:
        raise ValueError("leaderboard has no rows")
    full = leaderboard.sort_values("round", kind="stable")
    runs = _incorrect_runs(full["round"].to_numpy(dtype=float), full["ranking_correct"].to_numpy(), max_points)
    tau = rolling_tau(full, tau_window)
    board = subsample_rounds(full.assign(developer=0), ["total_effort"], max_points)
    tau = subsample_rounds(tau.assign(developer=0), ["tau_mean"], max_points, mode="line")
    rounds = board["round"].to_numpy(dtype=float)
    ax = _new_axes(ax)
    (effort_line,) = ax.plot(rounds, board["total_effort"].to_numpy(dtype=float), color=_TOTAL_COLOUR,
                             drawstyle="steps-post", linewidth=1.4, label="total effort",
                             rasterized=len(rounds) > RASTER_POINTS)
    ax.set_xlabel(ROUND_LABEL)
    ax.set_ylabel(TOTAL_EFFORT_LABEL)
    top = float(np.nanmax(board["total_effort"].to_numpy(dtype=float)))
    top = top if np.isfinite(top) and top > 0 else 1.0
    ax.set_ylim(min(-0.04 * top, float(board["total_effort"].min())), 1.08 * top)
    twin = ax.twinx()
    tau_name = "Kendall's τ" if tau_window == 1 else f"Kendall's τ, mean over {tau_window} rounds"
    (tau_line,) = twin.plot(tau["round"].to_numpy(dtype=float), tau["tau_mean"].to_numpy(dtype=float),
                            color=_TAU_COLOUR, linewidth=1.8, label=tau_name, rasterized=len(tau) > RASTER_POINTS)
    twin.set_ylim(-1.08, 1.08)
    twin.set_yticks([-1, -0.5, 0, 0.5, 1])
    twin.set_ylabel(TAU_LABEL)
    twin.grid(False)
    handles = [effort_line, tau_line]
    if runs:
        shade = PolyCollection(
            [[(a, 0), (a, 1), (b, 1), (b, 0)] for a, b in runs],
            transform=ax.get_xaxis_transform(), zorder=0, label="ranking incorrect", **_INCORRECT_SHADE,
        )
        ax.add_collection(shade, autolim=False)
        handles.append(Patch(label="ranking incorrect", **_INCORRECT_SHADE))
    if window is not None:
        span = ax.axvspan(window[0], window[1], zorder=0.5, **_WINDOW_SHADE)
        handles.append(Patch(label="rounds in the other panels", **_WINDOW_SHADE))
        span.set_label("rounds in the other panels")
    # below the axes, on the twin (drawn above both lines): never covers the data
    twin.legend(handles=handles, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2),
                ncol=2, borderaxespad=0.0)
    ax.set_title("leaderboard over the whole run")
    return ax.figure


@styled
def dynamics_figure(trajectory: pd.DataFrame, leaderboard: pd.DataFrame, outcome,
                    max_points: int | None = MAX_POINTS, window: tuple[int | None, int | None] | None = None,
                    tau_window: int | None = None) -> Figure:
    """2 x 2 figure: effort, published scores and rank bump chart over ``window``; leaderboard over the whole run.

    ``window = (start, stop)`` (rounds, both included; None for an end means
    the run's first or last round) defaults to :func:`default_window`; it is
    outlined in the leaderboard panel.  Kendall's tau is a rolling mean over
    ``tau_window`` rounds (default :func:`default_tau_window`).  Crowded scores are drawn as gaps to the
    leader (``plot_scores(relative=None)``).  One legend of
    developers (strongest first) serves the three developer panels; the
    suptitle states the outcome in words (:func:`outcome_title`).  Every line
    is thinned to ``max_points`` rounds.
    """
    _one_scenario(trajectory, "trajectory")
    _one_scenario(leaderboard, "leaderboard")
    _trajectory(trajectory, "effort", "published", "rank")
    first, last = int(trajectory["round"].min()), int(trajectory["round"].max())
    start, stop = default_window(outcome, first, last) if window is None else _check_window(window, first, last)
    shown = trajectory[(trajectory["round"] >= start) & (trajectory["round"] <= stop)]
    if tau_window is None:
        tau_window = default_tau_window(outcome, last - first + 1)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    labels = list(developer_labels(trajectory))
    ncol = 1 if len(labels) <= 20 else 2
    fig, axes = _dynamics_axes(ncol)
    try:
        plot_effort(shown, outcome, ax=axes[0, 0], max_points=max_points, legend=False)
        plot_scores(shown, ax=axes[0, 1], max_points=max_points, legend=False, relative=None, smooth=None)
        plot_rank_bump(shown, ax=axes[1, 0], max_points=max_points, smooth=None)
        whole = (start, stop) == (first, last)
        plot_leaderboard(leaderboard, ax=axes[1, 1], max_points=max_points, tau_window=tau_window,
                         window=None if whole else (start, stop))
        for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
            ax.set_xlim(start, stop + (1 if stop > start else 0.5))
        widths = _stack_widths(len(labels))
        handles = [Line2D([], [], color=palette[label], linewidth=float(w), **_line_kwargs(dashes[label]))
                   for label, w in zip(labels, widths, strict=True)]
        width, height = fig.get_size_inches()
        fig.legend(handles, labels, loc="upper left", title="developer\n(strongest first)",
                   bbox_to_anchor=(1 - (_LEGEND_IN[ncol] - 0.1) / width, 1 - _MARGINS_IN["top"] / height),
                   fontsize="small" if len(labels) <= 12 else "x-small", title_fontsize="small", ncol=ncol)
        shown_rounds = "" if whole else f" (effort, scores and ranks over rounds {start:,} to {stop:,})"
        fig.suptitle(outcome_title(outcome) + shown_rounds, y=1 - 0.12 / height, va="top")
    except BaseException:
        plt.close(fig)  # no half-drawn figure left open in pyplot
        raise
    return fig


#: Fixed margins (inches) of :func:`dynamics_figure`: a fixed layout costs nothing to compute, where
#: constrained layout measured every text of the figure (about half a second per figure).
_MARGINS_IN = {"left": 0.8, "bottom": 1.25, "top": 0.62, "hgap": 0.78, "wgap": 2.0, "twin": 0.8}


#: Width (inches) kept for the developer legend at the right, with 1 or 2 columns.
_LEGEND_IN = {1: 1.75, 2: 3.2}


def _dynamics_axes(ncol: int):
    """The 2 x 2 axes of :func:`dynamics_figure` on a fixed grid (margins :data:`_MARGINS_IN`); the figure is
    :data:`FIGSIZE` widened by what a two-column developer legend needs beyond one column."""
    m = _MARGINS_IN
    width, height = FIGSIZE[0] + _LEGEND_IN[ncol] - _LEGEND_IN[1], FIGSIZE[1]
    right = width - _LEGEND_IN[ncol] - m["twin"]
    axes_w = (right - m["left"] - m["wgap"]) / 2
    axes_h = (height - m["bottom"] - m["top"] - m["hgap"]) / 2
    fig = plt.figure(figsize=(width, height))
    grid = fig.add_gridspec(2, 2, left=m["left"] / width, right=right / width, bottom=m["bottom"] / height,
                            top=1 - m["top"] / height, wspace=m["wgap"] / axes_w, hspace=m["hgap"] / axes_h)
    return fig, grid.subplots(squeeze=False)
