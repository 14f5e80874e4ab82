"""Figures of repeated leaderboard competition: effort, scores, ranks, leaderboard measures.

Layout follows the Axelrod library's plotting conventions:

* every plot function has the shape ``plot_x(data, ..., ax=None) -> Figure``:
  with ``ax=None`` it makes a new figure and axes, otherwise it draws on
  ``ax`` and returns ``ax.figure``;
* the data each plot shows is prepared by a separate pure function
  (``effort_data``, ``score_data``, ``bump_data``, ``cycle_window``,
  ``final_order``, ``developer_labels``) returning plain pandas objects, which
  the tests check without drawing anything;
* importing the module has no side effects: no ``matplotlib.use``, no global
  ``rcParams``; the style (:data:`STYLE`, seaborn's ``whitegrid`` with the
  colour-blind-safe ``colorblind`` palette) is applied inside each function
  with ``plt.rc_context``.

Developers are always coloured in capability order (strongest first gets the
first colour), in every panel, so that a colour means the same developer
everywhere; legends list developers strongest first, except the score plot,
whose legend follows the final leaderboard (rank 1 first).

Inputs are the tidy frames of :meth:`sim.engine.BatchRun.trajectory` and
``leaderboard``; they may carry a ``scenario`` column when several scenarios
are stacked, and every function here takes *one* scenario (``ValueError``
otherwise).  Long runs (``10^5`` rounds x 30 developers) are thinned per
developer to at most ``max_points`` rounds before drawing (see
:func:`subsample_rounds`).
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

__all__ = [
    "EFFORT_LABEL",
    "MAX_POINTS",
    "RANK_LABEL",
    "ROUND_LABEL",
    "SCORE_LABEL",
    "STYLE",
    "bump_data",
    "cycle_window",
    "default_tau_window",
    "default_window",
    "developer_dashes",
    "developer_labels",
    "developer_palette",
    "dynamics_figure",
    "effort_data",
    "effort_linthresh",
    "final_order",
    "outcome_title",
    "plot_cycle",
    "plot_effort",
    "plot_leaderboard",
    "plot_rank_bump",
    "plot_scores",
    "rolling_tau",
    "save_figure",
    "score_data",
    "styled",
    "subsample_rounds",
]

#: Axis labels (with units) shared by every figure.
ROUND_LABEL = "round"
EFFORT_LABEL = "additional effort (effort units)"
SCORE_LABEL = "score"
RANK_LABEL = "rank (1 = top)"
TOTAL_EFFORT_LABEL = "total additional effort (effort units)"
TAU_LABEL = "Kendall's τ (ranking vs capability)"

#: Default budget of rounds drawn per developer.
MAX_POINTS = 5000

#: Runs of at most this many rounds are drawn whole by :func:`dynamics_figure`; longer unsettled runs show a window.
SHORT_RUN = 60
#: Rounds of the default window of a long run that does not settle (its last rounds).
UNSETTLED_WINDOW = 30
#: Fewest rounds of the default window around a cycle.
MIN_WINDOW = 12
#: Efforts spanning more than this ratio (largest / smallest positive) are drawn on a symlog axis.
SYMLOG_RATIO = 20.0
#: Score lines get markers when at most this many rounds are shown.
MARKER_ROUNDS = 150
#: Lines with more points than this are rasterised in vector output (PDF).
RASTER_POINTS = 2000
#: Size (inches) of :func:`dynamics_figure`.
FIGSIZE = (12.0, 7.5)

#: Name of the colour-blind-safe seaborn palette used for developers.
PALETTE = "colorblind"

#: The one style of every figure; applied with ``plt.rc_context(STYLE)`` inside functions, never globally.
STYLE: dict = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("notebook", font_scale=0.9),
    "axes.prop_cycle": plt.cycler(color=sns.color_palette(PALETTE)),
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "savefig.dpi": 200,
}

_CYCLE_SHADE = {"color": "0.55", "alpha": 0.18, "linewidth": 0}
_INCORRECT_SHADE = {"facecolor": sns.color_palette(PALETTE)[3], "alpha": 0.12, "edgecolor": "none"}
_TOTAL_COLOUR = "0.55"  # grey and black: never a developer's colour
_TAU_COLOUR = "black"
_TRAJECTORY_COLUMNS = ("round", "developer", "capability")
_N_COLOURS = len(sns.color_palette(PALETTE))
_WINDOW_SHADE = {"facecolor": "none", "edgecolor": "0.3", "linewidth": 1.0, "linestyle": ":"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
_DASHES = ("", (5, 2), (1.5, 1.5), (6, 2, 1.5, 2))  # seaborn dash specs: "" is a solid line


# --------------------------------------------------------------------------- helpers


def _get(outcome, key: str):
    """``outcome.key`` or ``outcome[key]`` (an :class:`sim.analysis.Outcome` or a dict); None when absent."""
    if outcome is None:
        return None
    if isinstance(outcome, Mapping):
        return outcome.get(key)
    return getattr(outcome, key, None)


def _cycle(outcome) -> tuple[int, int] | None:
    """``(entered_at, period)`` when ``outcome`` is a cycle with both known, else None."""
    if _get(outcome, "outcome") != "cycle":
        return None
    entered_at, period = _get(outcome, "entered_at"), _get(outcome, "period")
    if entered_at is None or period is None:
        return None
    return int(entered_at), int(period)


def _one_scenario(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """``frame`` itself, after checking that its ``scenario`` column (if any) holds a single value."""
    if "scenario" in frame.columns:
        values = pd.unique(frame["scenario"])
        if len(values) > 1:
            shown = ", ".join(map(repr, values[:5])) + (", ..." if len(values) > 5 else "")
            raise ValueError(
                f"{what} holds {len(values)} values in column 'scenario' ({shown}); "
                "plot one scenario at a time, e.g. frame[frame['scenario'] == name]"
            )
    return frame


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(map(repr, missing))}")


def _trajectory(trajectory: pd.DataFrame, *columns: str) -> pd.DataFrame:
    _one_scenario(trajectory, "trajectory")
    _require(trajectory, (*_TRAJECTORY_COLUMNS, *columns), "trajectory")
    if trajectory.empty:
        raise ValueError("trajectory has no rows")
    return trajectory


def _fmt_theta(value: float) -> str:
    value = float(value)
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _new_axes(ax, figsize=(7.0, 4.2)):
    if ax is not None:
        return ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


# --------------------------------------------------------------------------- data preparation


def developer_labels(trajectory: pd.DataFrame) -> pd.Series:
    """One legend label per developer, ``"dev 0 (θ=1.00)"``, strongest first.

    The index is the developer id and the order is by capability, highest
    first (equal capabilities: lower id first, as the leaderboard breaks
    ties), so the strongest developer always gets the first colour.
    """
    trajectory = _trajectory(trajectory)
    theta = trajectory.groupby("developer", sort=True)["capability"].first()
    order = np.lexsort((theta.index.to_numpy(), -theta.to_numpy(dtype=float)))
    theta = theta.iloc[order]
    labels = [f"dev {int(d)} (θ={_fmt_theta(t)})" for d, t in theta.items()]
    return pd.Series(labels, index=pd.Index(theta.index, name="developer"), name="label")


def developer_palette(trajectory: pd.DataFrame) -> dict[str, tuple]:
    """Colour per developer label, colour-blind-safe, strongest developer first.

    ``colorblind`` has 10 colours; with more developers the colours repeat
    and the line style tells them apart (:func:`developer_dashes`).
    """
    labels = developer_labels(trajectory)
    colours = sns.color_palette(PALETTE, len(labels))
    return dict(zip(labels, colours, strict=True))


def developer_dashes(trajectory: pd.DataFrame) -> dict[str, str | tuple]:
    """Dash pattern per developer label: solid for the 10 strongest, then dashed, dotted, dash-dotted (cycling).

    Together with :func:`developer_palette` this keeps up to 40 developers
    apart without relying on colour alone.
    """
    labels = developer_labels(trajectory)
    return {label: _DASHES[(i // _N_COLOURS) % len(_DASHES)] for i, label in enumerate(labels)}


def final_order(trajectory: pd.DataFrame) -> list[int]:
    """Developer ids in the order of the final leaderboard (rank 1 first) at the last round."""
    trajectory = _trajectory(trajectory, "rank")
    last = trajectory[trajectory["round"] == trajectory["round"].max()]
    last = last.assign(_neg_theta=-last["capability"].astype(float))
    last = last.sort_values(["rank", "_neg_theta", "developer"], kind="stable")
    return [int(d) for d in last["developer"]]


def subsample_rounds(frame: pd.DataFrame, value_columns: Sequence[str], max_points: int | None = MAX_POINTS,
                     *, mode: str = "step") -> pd.DataFrame:
    """At most ``max_points`` rounds per developer of a tidy ``frame`` (columns ``developer``, ``round``).

    A developer with at most ``max_points`` rounds keeps them all.  Otherwise
    the kept rounds are the first, the last and every round where a value of
    ``value_columns`` changes (``mode="step"``: exact for a ``steps-post``
    drawing) or also the round before each change (``mode="line"``: exact
    for straight segments), when that fits in ``max_points``; failing that,
    ``max_points`` rounds evenly spaced from the first to the last (both
    kept).  ``max_points=None`` keeps everything.  Returns the kept rows
    sorted by developer and round, with a fresh index.
    """
    if mode not in ("step", "line"):
        raise ValueError(f"mode must be 'step' or 'line', got {mode!r}")
    frame = frame.sort_values(["developer", "round"], kind="stable")
    if max_points is None:
        return frame.reset_index(drop=True)
    if int(max_points) != max_points or max_points < 2:
        raise ValueError(f"max_points must be an integer >= 2 (first and last round are kept), got {max_points!r}")
    max_points = int(max_points)
    developer = frame["developer"].to_numpy()
    values = frame[list(value_columns)].to_numpy()
    starts = np.flatnonzero(np.r_[True, developer[1:] != developer[:-1]])
    stops = np.r_[starts[1:], len(frame)]
    keep = np.zeros(len(frame), dtype=bool)
    for start, stop in zip(starts, stops, strict=True):
        m = stop - start
        if m <= max_points:
            keep[start:stop] = True
            continue
        v = values[start:stop]
        changed = np.any(v[1:] != v[:-1], axis=1)  # NaN != NaN: a NaN run counts as changing, kept conservatively
        mask = np.zeros(m, dtype=bool)
        mask[0] = mask[-1] = True
        mask[1:] |= changed
        if mode == "line":
            mask[:-1] |= changed
        if mask.sum() <= max_points:
            keep[start:stop] = mask
        else:
            picked = np.unique(np.rint(np.linspace(0, m - 1, max_points)).astype(np.int64))
            keep[start + picked] = True
    return frame[keep].reset_index(drop=True)


def _per_developer(trajectory: pd.DataFrame, column: str, max_points, mode: str, order: Sequence[int]) -> pd.DataFrame:
    labels = developer_labels(trajectory)
    data = subsample_rounds(trajectory[["round", "developer", column]], [column], max_points, mode=mode)
    position = {d: i for i, d in enumerate(order)}
    data["label"] = pd.Categorical(data["developer"].map(labels), categories=list(labels.loc[list(order)]))
    data = data.assign(_pos=data["developer"].map(position)).sort_values(["_pos", "round"], kind="stable")
    return data[["round", "developer", "label", column]].reset_index(drop=True)


def effort_data(trajectory: pd.DataFrame, max_points: int | None = MAX_POINTS) -> pd.DataFrame:
    """Effort per developer and round: columns ``round``, ``developer``, ``label``, ``effort``.

    Rows strongest developer first, then by round; ``label`` is categorical in
    that order.  Thinned to ``max_points`` rounds per developer (step mode).
    """
    trajectory = _trajectory(trajectory, "effort")
    return _per_developer(trajectory, "effort", max_points, "step", list(developer_labels(trajectory).index))


def score_data(trajectory: pd.DataFrame, max_points: int | None = MAX_POINTS) -> pd.DataFrame:
    """Published score per developer and round: columns ``round``, ``developer``, ``label``, ``published``.

    Rows and ``label`` categories in the final leaderboard order (rank 1
    first, :func:`final_order`), then by round.  Thinned to ``max_points``
    rounds per developer (step mode).
    """
    trajectory = _trajectory(trajectory, "published", "rank")
    return _per_developer(trajectory, "published", max_points, "step", final_order(trajectory))


def bump_data(trajectory: pd.DataFrame, max_points: int | None = MAX_POINTS) -> pd.DataFrame:
    """Rank per developer and round: columns ``round``, ``developer``, ``label``, ``rank`` (int).

    Rows strongest developer first, then by round.  Thinned to ``max_points``
    rounds per developer (line mode: the round before each change is kept
    too, so straight segments between kept rounds are exact).
    """
    trajectory = _trajectory(trajectory, "rank")
    data = _per_developer(trajectory, "rank", max_points, "line", list(developer_labels(trajectory).index))
    return data.astype({"rank": np.int64})


def cycle_window(trajectory: pd.DataFrame, outcome, margin: int | None = None) -> pd.DataFrame:
    """Rows of ``trajectory`` for rounds ``[entered_at - margin, entered_at + 2 * period]``, clipped to the data.

    ``margin`` defaults to the period.  Raises ``ValueError`` when the
    outcome is not a cycle (or lacks its period or entry round) or the margin
    is negative.  The result may be empty if the stored rounds miss the window
    (a tail-only record).
    """
    trajectory = _trajectory(trajectory)
    if _get(outcome, "outcome") != "cycle":
        raise ValueError(f"cycle_window needs a cycle outcome, got {_get(outcome, 'outcome')!r}")
    cycle = _cycle(outcome)
    if cycle is None or cycle[1] < 1:
        raise ValueError("cycle outcome lacks a period >= 1 or the round it was entered")
    entered_at, period = cycle
    margin = period if margin is None else int(margin)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    rounds = trajectory["round"]
    lo = max(entered_at - margin, int(rounds.min()))
    hi = min(entered_at + 2 * period, int(rounds.max()))
    return trajectory[(rounds >= lo) & (rounds <= hi)].reset_index(drop=True)


def outcome_title(outcome) -> str:
    """The outcome in words: ``"arms race, period 20, from round 17"``, ``"settles at zero effort by round 5"``,
    ``"settles at positive effort by round 7"``, ``"no settling within 2,000 rounds"``.

    ``outcome`` is an :class:`sim.analysis.Outcome` or a dict with its fields
    (``outcome``, ``period``, ``entered_at``, optionally ``rounds``); None
    gives ``"dynamics"``.
    """
    name = _get(outcome, "outcome")
    if name is None:
        return "dynamics"
    period, entered_at, rounds = _get(outcome, "period"), _get(outcome, "entered_at"), _get(outcome, "rounds")
    since = "" if entered_at is None else f" by round {int(entered_at):,}"
    if name == "cycle":
        text = "arms race" if period is None else f"arms race, period {int(period):,}"
        return text + ("" if entered_at is None else f", from round {int(entered_at):,}")
    if name == "converged_zero":
        return "settles at zero effort" + since
    if name == "converged_nonzero":
        return "settles at positive effort" + since
    if name == "no_convergence":
        return "no settling" + ("" if rounds is None else f" within {int(rounds):,} rounds")
    return str(name).replace("_", " ")


def default_window(outcome, first_round: int, last_round: int) -> tuple[int, int]:
    """Rounds ``(start, stop)`` (both included) that the dynamics figure draws by default.

    * a run of at most :data:`SHORT_RUN` rounds, or one that settles (``converged_*``), or
      an unknown outcome: the whole run;
    * a cycle of period ``p`` entered at round ``e``: one period of approach and two periods
      of the cycle, ``[e - p, e + 2p]``, widened to at least :data:`MIN_WINDOW` rounds
      (``[e - m, e + 2p]`` with ``m = MIN_WINDOW - 2p``), shifted back when it ends
      after the run and clipped to the stored rounds;
    * no settling (or a cycle of unknown period): the last :data:`UNSETTLED_WINDOW` rounds.
    """
    first_round, last_round = int(first_round), int(last_round)
    if last_round < first_round:
        raise ValueError(f"last_round {last_round} < first_round {first_round}")
    whole = (first_round, last_round)
    name = _get(outcome, "outcome")
    if last_round - first_round + 1 <= SHORT_RUN or name not in ("cycle", "no_convergence"):
        return whole
    if name == "no_convergence":
        return max(first_round, last_round - UNSETTLED_WINDOW + 1), last_round
    cycle = _cycle(outcome)
    if cycle is None or cycle[1] < 1:
        return max(first_round, last_round - UNSETTLED_WINDOW + 1), last_round
    entered_at, period = cycle
    lead = max(period, MIN_WINDOW - 2 * period)
    start, stop = entered_at - lead, entered_at + 2 * period
    if stop > last_round:
        start, stop = start - (stop - last_round), last_round
    return max(first_round, start), min(last_round, stop)


def rolling_tau(leaderboard: pd.DataFrame, window: int) -> pd.DataFrame:
    """Kendall's tau per round and its centred rolling mean: columns ``round``, ``kendall_tau``, ``tau_mean``.

    ``tau_mean[t]`` is the mean of ``kendall_tau`` over the ``window`` rounds
    centred on ``t`` (``pandas.Series.rolling(window, center=True,
    min_periods=1)``: fewer rounds at the two ends of the run).  Rows sorted by round.
    """
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    board = leaderboard.sort_values("round", kind="stable")
    tau = board["kendall_tau"].astype(float).reset_index(drop=True)
    mean = tau.rolling(int(window), center=True, min_periods=1).mean()
    return pd.DataFrame({"round": board["round"].to_numpy(), "kendall_tau": tau.to_numpy(),
                         "tau_mean": mean.to_numpy()})


def default_tau_window(outcome, rounds: int) -> int:
    """Rounds of the rolling mean of Kendall's tau: the period of a cycle (so the mean is constant along
    the cycle), else about a fiftieth of the run (at least 1)."""
    cycle = _cycle(outcome)
    if cycle is not None and cycle[1] >= 1:
        return cycle[1]
    return max(1, int(rounds) // 50)


def effort_linthresh(effort) -> float:
    """Linear range ``[-l, l]`` of the symlog effort axis: the power of ten at or below the smallest positive
    effort, but at least ``1e-4`` times the largest (so a small spender stays visible and the
    axis spans at most about four decades); 1 when nobody spends."""
    effort = np.abs(np.asarray(effort, dtype=float))
    effort = effort[np.isfinite(effort) & (effort > 0)]
    if effort.size == 0:
        return 1.0
    low = max(float(effort.min()), 1e-4 * float(effort.max()))
    return float(10.0 ** np.floor(np.log10(low)))


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


def _incorrect_runs(rounds: np.ndarray, correct: np.ndarray, max_runs: int | None = None) -> list[tuple[float, float]]:
    """``[start, stop)`` round intervals where the ranking is incorrect; a round lasts until the next one.

    With more than ``max_runs`` intervals, gaps shorter than the span of the
    data divided by ``max_runs`` (invisible at any ordinary resolution) are
    closed, so that at most about ``max_runs`` intervals are drawn.
    """
    bad = ~np.asarray(correct, dtype=bool)
    if not bad.any():
        return []
    step = float(np.median(np.diff(rounds))) if len(rounds) > 1 else 1.0
    ends = np.r_[rounds[1:], rounds[-1] + step]
    edges = np.diff(np.r_[0, bad.astype(np.int8), 0])
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    starts, stops = rounds[first], ends[last]
    if max_runs is not None and len(starts) > max_runs:
        tol = (ends[-1] - rounds[0]) / max_runs
        breaks = np.flatnonzero(starts[1:] - stops[:-1] >= tol)
        starts, stops = starts[np.r_[0, breaks + 1]], stops[np.r_[breaks, len(stops) - 1]]
    return [(float(a), float(b)) for a, b in zip(starts, stops, strict=True)]


# --------------------------------------------------------------------------- plots


def styled(function):
    """Decorator: run ``function`` inside ``plt.rc_context(STYLE)``, so every figure, axes and artist it
    creates gets the package style; the global ``rcParams`` are restored when it returns (no side
    effect at import or after the call)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


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
    if top > 0 and top / float(positive.min()) > SYMLOG_RATIO:
        linthresh = effort_linthresh(effort)
        ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
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
    :data:`SYMLOG_RATIO`, so a small spender stays visible beside a large one;
    zero lines are drawn just above the bottom of the frame.
    """
    data = effort_data(trajectory, max_points=max_points)  # prepare (and validate) before making a figure
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    ax = _new_axes(ax)
    _effort_axes(ax, trajectory, outcome, data, palette, dashes, legend=legend)
    ax.set_title("effort per developer")
    return ax.figure


@styled
def plot_scores(trajectory: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS, legend: bool = True) -> Figure:
    """Published score per developer over rounds; legend in the final leaderboard order (rank 1 first).

    Lines are drawn widest first (rank 1 at the end) and marked with one marker shape per
    developer when at most :data:`MARKER_ROUNDS` rounds are shown, so equal scores stay visible.
    """
    data = score_data(trajectory, max_points=max_points)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    span = int(trajectory["round"].max()) - int(trajectory["round"].min()) + 1
    ax = _new_axes(ax)
    widths = _draw_lines(ax, data, "published", palette, dashes, markers=span <= MARKER_ROUNDS)
    ax.set_xlabel(ROUND_LABEL)
    ax.set_ylabel(f"{SCORE_LABEL} (published)")
    ax.set_title("published scores")
    if legend:
        _legend(ax, list(data["label"].cat.categories), palette, dashes, title="final leaderboard", widths=widths)
    return ax.figure


@styled
def plot_rank_bump(trajectory: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS) -> Figure:
    """Rank per developer over rounds (bump chart in steps): rank 1 on top, each line labelled at its right end."""
    data = bump_data(trajectory, max_points=max_points)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    n = len(palette)
    last = data.loc[data.groupby("developer", sort=False)["round"].idxmax()]
    ax = _new_axes(ax)
    order = list(data["label"].cat.categories)
    groups = dict(tuple(data.groupby("label", observed=True, sort=False)))
    for i, label in enumerate(order):
        part = groups[label]
        ax.plot(part["round"].to_numpy(dtype=float), part["rank"].to_numpy(dtype=float), color=palette[label],
                linewidth=2.0, drawstyle="steps-post", solid_capstyle="butt", zorder=2.0 + i / n,
                rasterized=len(part) > RASTER_POINTS, **_line_kwargs(dashes[label]))
    fontsize = "small" if n <= 12 else "xx-small"
    for row in last.itertuples(index=False):
        ax.annotate(
            str(row.label), xy=(row.round, row.rank), xytext=(5, 0), textcoords="offset points",
            va="center", ha="left", color=palette[row.label], fontsize=fontsize, annotation_clip=False,
        )
    ax.set_ylim(n + 0.5, 0.5)  # inverted: rank 1 on top
    if n <= 15:
        ax.set_yticks(range(1, n + 1))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(ROUND_LABEL)
    ax.set_ylabel(RANK_LABEL)
    ax.set_title("rank per developer")
    ax.grid(axis="x", visible=False)
    return ax.figure


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
    twin.legend(handles=handles, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16),
                ncol=2, borderaxespad=0.0)
    ax.set_title("leaderboard over the whole run")
    return ax.figure


def _check_window(window, first_round: int, last_round: int) -> tuple[int, int]:
    start, stop = window
    start = first_round if start is None else int(start)
    stop = last_round if stop is None else int(stop)
    if start > stop:
        raise ValueError(f"window start {start} is after its end {stop}")
    if stop < first_round or start > last_round:
        raise ValueError(f"window {start}:{stop} holds no stored round (rounds {first_round} to {last_round})")
    return max(start, first_round), min(stop, last_round)


@styled
def dynamics_figure(trajectory: pd.DataFrame, leaderboard: pd.DataFrame, outcome,
                    max_points: int | None = MAX_POINTS, window: tuple[int | None, int | None] | None = None,
                    tau_window: int | None = None) -> Figure:
    """2 x 2 figure: effort, published scores and rank bump chart over ``window``; leaderboard over the whole run.

    ``window = (start, stop)`` (rounds, both included; None for an end means
    the run's first or last round) defaults to :func:`default_window`; it is
    outlined in the leaderboard panel.  Kendall's tau is a rolling mean over
    ``tau_window`` rounds (default :func:`default_tau_window`).  One legend of
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
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE, layout="constrained")
    try:
        plot_effort(shown, outcome, ax=axes[0, 0], max_points=max_points, legend=False)
        plot_scores(shown, ax=axes[0, 1], max_points=max_points, legend=False)
        plot_rank_bump(shown, ax=axes[1, 0], max_points=max_points)
        whole = (start, stop) == (first, last)
        plot_leaderboard(leaderboard, ax=axes[1, 1], max_points=max_points, tau_window=tau_window,
                         window=None if whole else (start, stop))
        for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
            ax.set_xlim(start, stop + (1 if stop > start else 0.5))
        if not whole:
            for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
                ax.set_title(f"{ax.get_title()}, rounds {start:,} to {stop:,}")
        labels = list(developer_labels(trajectory))
        widths = _stack_widths(len(labels))
        handles = [Line2D([], [], color=palette[label], linewidth=float(w), **_line_kwargs(dashes[label]))
                   for label, w in zip(labels, widths, strict=True)]
        fig.legend(handles, labels, loc="outside right upper", title="developer\n(strongest first)",
                   fontsize="small" if len(labels) <= 12 else "x-small", title_fontsize="small",
                   ncol=1 if len(labels) <= 20 else 2)
        fig.suptitle(outcome_title(outcome))
    except BaseException:
        plt.close(fig)  # no half-drawn figure left open in pyplot
        raise
    return fig


# --------------------------------------------------------------------------- output


def save_figure(fig: Figure, path_stem, dpi: float = 200, tight: bool = True) -> list[Path]:
    """Write ``path_stem.png`` (``dpi`` dots per inch, default 200) and ``path_stem.pdf``; returns the two paths.

    ``tight=True`` crops both files to what is drawn (``bbox_inches="tight"``,
    one extra layout pass per file).  ``tight=False`` keeps the figure's own
    size, which is enough for a constrained-layout figure whose legends are
    placed ``"outside"``; then the layout computed for the PNG is reused for
    the PDF (the figure's layout engine is switched off after the first
    file), so the figure is laid out once.

    Each file is written to a temporary file in the same directory (named
    ``.<stem>.tmp<pid><token>.<ext>``, so the format is clear from the extension)
    and moved into place with ``os.replace``, so a reader never sees a
    half-written figure; parent directories are created.  ``path_stem`` is
    used as given (``"run.v2"`` gives ``run.v2.png``).
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, options in (("png", {"dpi": dpi}), ("pdf", {"metadata": {"CreationDate": None}})):
        target = stem.with_name(f"{stem.name}.{ext}")
        # A fresh name (pid + random token) created by savefig itself, so the file gets the usual
        # permissions (umask) rather than mkstemp's 0600.
        tmp = target.with_name(f".{stem.name}.tmp{os.getpid()}{secrets.token_hex(4)}.{ext}")
        try:
            fig.savefig(tmp, format=ext, **({"bbox_inches": "tight"} if tight else {}), **options)
            os.replace(tmp, target)
            if not tight:
                fig.set_layout_engine("none")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(target)
    return written
