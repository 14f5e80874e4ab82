"""Figures of repeated leaderboard competition and of sweeps.

Layout follows the Axelrod library's plotting conventions:

* every plot function has the shape ``plot_x(data, ..., ax=None) -> Figure``:
  with ``ax=None`` it makes a new figure and axes, otherwise it draws on
  ``ax`` and returns ``ax.figure``;
* the data each plot shows is prepared by a separate pure function
  (``effort_data``, ``score_data``, ``bump_data``, ``cycle_window``,
  ``default_window``, ``rolling_tau``, ``final_order``, ``developer_labels``;
  ``sweep_choice``, ``sweep_data``, ``tau_star_data`` for sweeps) returning
  plain pandas objects, which the tests check without drawing anything;
* importing the module has no side effects: no ``matplotlib.use``, no global
  ``rcParams``, no seaborn import; the style (:data:`STYLE`, seaborn's
  ``whitegrid`` with the colour-blind-safe ``colorblind`` palette, written
  out) is applied by every public plot function through the :func:`styled`
  decorator (``plt.rc_context``).

Runs: :func:`dynamics_figure` (``lbsim run --plot``) shows effort (symlog when
efforts span decades), published scores (gaps to the leader when crowded) and
a bump chart of ranks over a window of rounds (:func:`default_window`: about
three periods of a cycle, the whole run when it settles or is short), and the
leaderboard over the whole run (total effort, rolling mean of Kendall's tau).
Developers are always coloured in capability order (strongest first gets the
first colour), in every panel, so that a colour means the same developer
everywhere; overlapping lines are drawn widest first, so each colour stays
visible.  Legends list developers strongest first, except the score plot,
whose legend follows the final leaderboard (rank 1 first).

Sweeps: :func:`sweep_figure` (``lbsim plot DIR``) draws any measure of
:func:`sim.sweeps.read_results` against an axis, split by hue, columns and
rows, with intervals over replications and the theory's ``tau*``.

Inputs of the run figures are the tidy frames of
:meth:`sim.engine.BatchRun.trajectory` and ``leaderboard``; they may carry a
``scenario`` column when several scenarios are stacked, and every function
here takes *one* scenario (``ValueError`` otherwise).  Long runs (``10^5``
rounds x 30 developers) are thinned per developer to at most ``max_points``
rounds before drawing (see :func:`subsample_rounds`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from sim.errors import ScenarioError

__all__ = [
    "OUTCOME_ORDER",
    "SWEEP_MEASURES",
    "SweepChoice",
    "axis_value_label",
    "sweep_axes",
    "sweep_choice",
    "sweep_data",
    "sweep_figure",
    "sweep_measures",
    "sweep_xscale",
    "tau_star_data",
    "EFFORT_LABEL",
    "MAX_POINTS",
    "RANK_LABEL",
    "ROUND_LABEL",
    "SCORE_LABEL",
    "STYLE",
    "COLORBLIND",
    "bump_data",
    "cycle_window",
    "default_tau_window",
    "default_window",
    "developer_dashes",
    "developer_labels",
    "colour_palette",
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
    "scores_crowded",
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
#: Scores whose developer means differ by less than this share of the score range count as crowded.
CROWDED = 0.02
#: Score lines get markers when at most this many rounds are shown.
MARKER_ROUNDS = 150
#: Lines with more points than this are rasterised in vector output (PDF).
RASTER_POINTS = 2000
#: Ranks and scores shown over more rounds than this, changing in more than :data:`FLIP_SHARE` of them,
#: are drawn as rolling means (:func:`smoothing_rounds`): a line that flips every round fills its band solid.
SMOOTH_ROUNDS = 300
#: See :data:`SMOOTH_ROUNDS`.
FLIP_SHARE = 0.05
#: A smoothed line is the rolling mean over about this share of the rounds shown.
SMOOTH_SHARE = 0.01
#: Size (inches) of :func:`dynamics_figure`.
FIGSIZE = (12.0, 7.5)

#: Name of the colour-blind-safe seaborn palette used for developers.
PALETTE = "colorblind"

#: seaborn's ``colorblind`` palette (10 colours), here so that drawing a run's figure does not import
#: seaborn (and with it scipy.stats, about a second); a test checks it against seaborn's.
COLORBLIND: tuple[tuple[float, float, float], ...] = tuple(
    to_rgb(c) for c in ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
                        "#ece133", "#56b4e9")
)


def colour_palette(n: int | None = None) -> list[tuple[float, float, float]]:
    """The first ``n`` colours of :data:`COLORBLIND`, cycling past 10 (``seaborn.color_palette("colorblind", n)``)."""
    n = len(COLORBLIND) if n is None else int(n)
    return [COLORBLIND[i % len(COLORBLIND)] for i in range(n)]


#: The one style of every figure: seaborn's ``whitegrid`` axes style and ``notebook`` context at
#: font scale 0.9 (without seaborn's default colormap, which exists only once seaborn is imported),
#: the colour-blind-safe palette, framed legends, 200 dpi.  Written out here (a test checks it against
#: ``seaborn.axes_style`` and ``seaborn.plotting_context``); applied with ``plt.rc_context(STYLE)``
#: inside functions (:func:`styled`), never globally.
STYLE: dict = {
    # seaborn.axes_style("whitegrid")
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out", "ytick.direction": "out",
    "xtick.color": ".15", "ytick.color": ".15", "axes.axisbelow": True, "grid.linestyle": "-", "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True, "xtick.top": False,
    "ytick.right": False, "axes.grid": True, "axes.facecolor": "white", "axes.edgecolor": ".8", "grid.color": ".8",
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True, "axes.spines.top": True,
    "xtick.bottom": False, "ytick.left": False,
    # seaborn.plotting_context("notebook", font_scale=0.9)
    "axes.linewidth": 1.25, "grid.linewidth": 1, "lines.linewidth": 1.5, "lines.markersize": 6,
    "patch.linewidth": 1, "xtick.major.width": 1.25, "ytick.major.width": 1.25, "xtick.minor.width": 1,
    "ytick.minor.width": 1, "xtick.major.size": 6, "ytick.major.size": 6, "xtick.minor.size": 4,
    "ytick.minor.size": 4, "font.size": 10.8, "axes.labelsize": 10.8, "axes.titlesize": 10.8,
    "xtick.labelsize": 9.9, "ytick.labelsize": 9.9, "legend.fontsize": 9.9, "legend.title_fontsize": 10.8,
    # the package's own
    "axes.prop_cycle": cycler(color=list(COLORBLIND)),
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "savefig.dpi": 200,
}

_CYCLE_SHADE = {"color": "0.55", "alpha": 0.18, "linewidth": 0}
_INCORRECT_SHADE = {"facecolor": COLORBLIND[3], "alpha": 0.12, "edgecolor": "none"}
_TOTAL_COLOUR = "0.55"  # grey and black: never a developer's colour
_TAU_COLOUR = "black"
_TRAJECTORY_COLUMNS = ("round", "developer", "capability")
_N_COLOURS = len(COLORBLIND)
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
    colours = colour_palette(len(labels))
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


def score_data(trajectory: pd.DataFrame, max_points: int | None = MAX_POINTS, relative: bool = False,
               smooth: int = 1) -> pd.DataFrame:
    """Published score per developer and round: columns ``round``, ``developer``, ``label``, ``published``.

    With ``relative=True`` the value column is ``gap`` instead: the published
    score minus the round's highest published score (0 for the leader,
    negative below it).  Rows and ``label`` categories in the final
    leaderboard order (rank 1 first, :func:`final_order`), then by round.
    Thinned to ``max_points`` rounds per developer (step mode).  With ``smooth > 1`` the values are
    centred rolling means over ``smooth`` rounds per developer.
    """
    trajectory = _trajectory(trajectory, "published", "rank")
    if not relative:
        return _per_developer(_rolling(trajectory, "published", smooth), "published", max_points, "step",
                              final_order(trajectory))
    top = trajectory.groupby("round")["published"].transform("max")
    gap = trajectory.assign(gap=trajectory["published"].astype(float) - top.astype(float))
    return _per_developer(_rolling(gap, "gap", smooth), "gap", max_points, "step", final_order(trajectory))


def scores_crowded(trajectory: pd.DataFrame) -> bool:
    """Whether two developers' published scores are too close to tell apart on a plain score axis.

    True when the mean published scores of two developers differ by less than
    :data:`CROWDED` times the range of all published scores shown (and that
    range is positive); :func:`dynamics_figure` then draws the gaps to the
    leader on a symlog axis (``plot_scores(relative=True)``).
    """
    trajectory = _trajectory(trajectory, "published")
    published = trajectory["published"].astype(float)
    span = float(published.max() - published.min())
    means = np.sort(trajectory.groupby("developer")["published"].mean().to_numpy(dtype=float))
    if len(means) < 2 or not span > 0:
        return False
    return bool(np.min(np.diff(means)) < CROWDED * span)


def smoothing_rounds(trajectory: pd.DataFrame, column: str = "rank") -> int:
    """Rounds of the rolling mean that ranks and scores are drawn with: 1 (every round as it is) unless more than
    :data:`SMOOTH_ROUNDS` rounds are shown and some developer's ``column`` changes in more than
    :data:`FLIP_SHARE` of them; then about :data:`SMOOTH_SHARE` of the rounds shown (at least 2).

    A rank that flips every round over thousands of rounds (a long arms race) is a solid band when drawn
    round by round; its rolling mean shows who holds which place how often.
    """
    trajectory = _trajectory(trajectory, column)
    span = int(trajectory["round"].max()) - int(trajectory["round"].min()) + 1
    if span <= SMOOTH_ROUNDS:
        return 1
    ordered = trajectory.sort_values(["developer", "round"], kind="stable")
    values = ordered[column].to_numpy(dtype=float)
    same_dev = ordered["developer"].to_numpy()[1:] == ordered["developer"].to_numpy()[:-1]
    changes = pd.Series((values[1:] != values[:-1]) & same_dev).groupby(ordered["developer"].to_numpy()[1:]).sum()
    if changes.empty or changes.max() <= FLIP_SHARE * span:
        return 1
    return max(2, int(round(SMOOTH_SHARE * span)))


def _smoothed(rounds: int) -> str:
    return "" if rounds <= 1 else f" (rolling mean, {rounds:,} rounds)"


def _rolling(trajectory: pd.DataFrame, column: str, rounds: int) -> pd.DataFrame:
    """``trajectory`` with ``column`` replaced by its centred rolling mean over ``rounds`` rounds, per developer."""
    if rounds <= 1:
        return trajectory
    ordered = trajectory.sort_values(["developer", "round"], kind="stable")
    mean = ordered.groupby("developer", sort=False)[column].transform(
        lambda v: v.astype(float).rolling(rounds, center=True, min_periods=1).mean())
    return ordered.assign(**{column: mean})


def bump_data(trajectory: pd.DataFrame, max_points: int | None = MAX_POINTS, smooth: int = 1) -> pd.DataFrame:
    """Rank per developer and round: columns ``round``, ``developer``, ``label``, ``rank`` (int; with
    ``smooth > 1`` the float centred rolling mean over ``smooth`` rounds).

    Rows strongest developer first, then by round.  Thinned to ``max_points``
    rounds per developer (line mode: the round before each change is kept
    too, so straight segments between kept rounds are exact).
    """
    trajectory = _trajectory(trajectory, "rank")
    if smooth > 1:
        data = _per_developer(_rolling(trajectory, "rank", smooth), "rank", max_points, "line",
                              list(developer_labels(trajectory).index))
        return data.astype({"rank": float})
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
    centred on ``t`` (``pandas.Series.rolling(window, center=True)``; NaN
    within half a window of either end of the run, where the window is not
    full, unless the run is shorter than the window: then every round is the
    mean of the rounds there are).  Rows sorted by round.
    """
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    board = leaderboard.sort_values("round", kind="stable")
    tau = board["kendall_tau"].astype(float).reset_index(drop=True)
    window = int(window)
    mean = tau.rolling(window, center=True, min_periods=window if len(tau) >= window else 1).mean()
    return pd.DataFrame({"round": board["round"].to_numpy(), "kendall_tau": tau.to_numpy(),
                         "tau_mean": mean.to_numpy()})


def default_tau_window(outcome, rounds: int) -> int:
    """Rounds of the rolling mean of Kendall's tau: the period of a cycle (so the mean is constant along
    the cycle) when the run holds at least two periods, else about a fiftieth of the run (at least 1)."""
    cycle = _cycle(outcome)
    if cycle is not None and 1 <= cycle[1] <= int(rounds) // 2:
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


def _plain_tick(value: float, _pos=None) -> str:
    """Tick label of a symlog axis in plain numbers (``0.01``, ``100``, ``−1e-05``): no mathtext, whose parser
    costs about a third of drawing a figure."""
    if value == 0:
        return "0"
    text = f"{value:g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.0e}"
    return text.replace("-", "\N{MINUS SIGN}")


def _symlog(ax, linthresh: float) -> None:
    ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
    ax.yaxis.set_major_formatter(FuncFormatter(_plain_tick))
    ax.yaxis.set_minor_formatter(NullFormatter())


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


# --------------------------------------------------------------------------- sweeps

#: Outcomes of a run, in the order stacked by ``y="outcome"``, with their colours.
OUTCOME_ORDER = ("converged_zero", "converged_nonzero", "cycle", "no_convergence")
OUTCOME_WORDS = {
    "converged_zero": "settles at zero effort",
    "converged_nonzero": "settles at positive effort",
    "cycle": "arms race (cycle)",
    "no_convergence": "no settling",
}
_OUTCOME_COLOURS = dict(zip(OUTCOME_ORDER, [COLORBLIND[i] for i in (2, 0, 3, 7)], strict=True))

#: Share measures computed from the ``outcome`` column: name -> outcomes counted.
_SHARE_MEASURES = {
    "converged_zero_share": ("converged_zero",),
    "converged_share": ("converged_zero", "converged_nonzero"),
    "cycle_share": ("cycle",),
    "no_convergence_share": ("no_convergence",),
}

#: Measures :func:`sweep_figure` can draw on the y axis: name -> axis label.  A measure is available
#: when its column (or, for the shares, ``outcome``) is in the table.
SWEEP_MEASURES = {
    "outcome": "share of replications",
    "converged_zero_share": "share settling at zero effort",
    "converged_share": "share settling (zero or positive effort)",
    "cycle_share": "share in an arms race (cycle)",
    "no_convergence_share": "share not settling",
    "ranking_correct_share": "share of tail rounds ranked correctly",
    "top1_correct_share": "share of tail rounds with the strongest on top",
    "kendall_tau_tail": "Kendall's τ, mean over the tail",
    "total_effort_tail": "total effort, mean over the tail (effort units)",
    "mean_total_effort_tail": "total effort, mean over the tail (effort units)",
    "total_surplus_tail": "total surplus, mean over the tail",
    "std_total_effort_tail": "total effort, std over the tail (effort units)",
    "max_mean_effort_tail": "largest developer effort, mean over the tail (effort units)",
    "final_total_effort": "total effort, final round (effort units)",
    "rank_changes_mean": "rank changes per round, mean over the tail",
    "period": "cycle period (rounds; cycles only)",
}

#: Range a measure can take; the intervals of :func:`sweep_data` are clipped to it.
_MEASURE_RANGE = {
    "ranking_correct_share": (0.0, 1.0), "top1_correct_share": (0.0, 1.0), "kendall_tau_tail": (-1.0, 1.0),
    "total_effort_tail": (0.0, np.inf), "mean_total_effort_tail": (0.0, np.inf),
    "std_total_effort_tail": (0.0, np.inf), "max_mean_effort_tail": (0.0, np.inf),
    "final_total_effort": (0.0, np.inf), "rank_changes_mean": (0.0, np.inf), "period": (0.0, np.inf),
}

#: Columns of a sweep table that are never axes (index, results, theory).
_NOT_AXES = {
    "scenario_index", "point", "replication", "seed", "n", "tau", "rounds", "outcome", "period", "entered_at",
    "final_total_effort", "mean_total_effort_tail", "std_total_effort_tail", "max_mean_effort_tail",
    "ranking_correct_share", "rank_changes_mean", "tau_star", "tau_star_vouched", "zero_is_equilibrium",
    "predicted_stable", "error", "kendall_tau_tail", "top1_correct_share", "effort_tail", "utility_tail",
    "total_surplus_tail", "total_effort_tail",
}
#: Log-spaced axis kinds of a sweep file: an x axis of these kinds is drawn on a log scale.
LOG_KINDS = ("logspace", "loguniform")
#: A numeric x axis with more distinct values than this (a random axis) is binned.
MAX_X_VALUES = 40
#: Bins of a binned x axis.
X_BINS = 12
#: Name of the tune-before-test axis, over which the theory's tau* is drawn.
TAU_AXIS = "designer.tau"
_KIND_KEYS = ("scheme", "family", "distribution", "kind")


def _fmt_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        kind = next((k for k in _KIND_KEYS if k in value), None)
        rest = ", ".join(f"{k}={_fmt_value(v)}" for k, v in value.items() if k != kind)
        if kind is None:
            return rest
        return f"{value[kind]}({rest})" if rest else str(value[kind])
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_value(v) for v in value) + "]"
    return str(value)


def axis_value_label(value) -> str:
    """Readable label of one value of a sweep axis.

    A table-valued axis is stored as a JSON string: its kind key (``scheme``,
    ``family``, ``distribution``) becomes a function name and the other keys
    its arguments, ``'{"k": 3, "scheme": "top_k"}'`` -> ``"top_k(k=3)"``;
    a table without a kind key gives ``"a=1, b=2"``.  Floats are written with
    ``:g``; anything else with ``str``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "{[":
            try:
                return _fmt_value(json.loads(text))
            except ValueError:
                return value
        return value
    if isinstance(value, np.generic):
        value = value.item()
    return _fmt_value(value)


def sweep_axes(frame: pd.DataFrame, manifest: Mapping | None = None) -> dict[str, str]:
    """The axes of a sweep table: name -> kind (``"logspace"``, ``"values"``, ...), in the sweep file's order.

    From the manifest (``spec.axes``, what ``lbsim sweep`` writes) when given,
    keeping the axes present in ``frame``; otherwise every column that is not
    an index, result, theory or ``<axis>_label`` column, with kind ``"values"``.
    """
    spec_axes = ((manifest or {}).get("spec") or {}).get("axes") or {}
    if spec_axes:
        return {name: next(iter(kind), "values") for name, kind in spec_axes.items() if name in frame.columns}
    names = [c for c in frame.columns if c not in _NOT_AXES and not str(c).endswith("_label")]
    return {name: "values" for name in names}


def sweep_measures(frame: pd.DataFrame) -> list[str]:
    """The measures of :data:`SWEEP_MEASURES` that ``frame`` can give (by its columns)."""
    out = []
    for name in SWEEP_MEASURES:
        if name == "outcome" or name in _SHARE_MEASURES:
            if "outcome" in frame.columns:
                out.append(name)
        elif name in frame.columns:
            out.append(name)
    return out


def _varied(frame: pd.DataFrame, names) -> list[str]:
    return [a for a in names if frame[a].astype("string").nunique(dropna=False) > 1]


@dataclass(frozen=True)
class SweepChoice:
    """What :func:`sweep_figure` draws: the x axis, the measure, and the axes of hue, columns and rows."""

    x: str
    y: str
    hue: str | None = None
    col: str | None = None
    row: str | None = None
    logx: bool = False


def sweep_choice(frame: pd.DataFrame, axes: Mapping[str, str], x=None, y=None, hue=None, col=None,
                 row=None) -> SweepChoice:
    """Check the names (``ScenarioError`` naming the field and the valid choices) and fill in defaults.

    Defaults: ``x`` is the first numeric axis that varies (else the first
    that varies, else the first axis); ``y`` is ``"outcome"`` (stacked outcome
    shares); the next varying axes go to ``col`` then ``row`` when
    ``y = "outcome"`` (the hue is then the outcome), to ``hue`` then ``col``
    otherwise.  ``logx`` is true when ``x``'s kind is log-spaced (:data:`LOG_KINDS`).
    """
    names = list(axes)
    if not names:
        raise ScenarioError("axes", [], "the sweep table has no axis column to plot against")
    measures = sweep_measures(frame)
    for field, value in (("x", x), ("hue", hue), ("col", col), ("row", row)):
        if value is not None and value not in axes:
            raise ScenarioError(field, value, f"not an axis of the sweep; choose from {', '.join(names)}")
    if y is not None and y not in measures:
        raise ScenarioError("y", y, f"not a measure of this sweep; choose from {', '.join(measures)}")
    chosen = [v for v in (x, hue, col, row) if v is not None]
    if len(set(chosen)) != len(chosen):
        raise ScenarioError("axes", chosen, "x, hue, col and row must be different axes")
    y = y if y is not None else ("outcome" if "outcome" in measures else (measures[0] if measures else None))
    if y is None:
        raise ScenarioError("y", None, "the sweep table has no measure column")
    if y == "outcome" and hue is not None:
        raise ScenarioError("hue", hue, "with y = outcome the colours are the outcomes; put the axis on col or row")
    varied = _varied(frame, names)
    if x is None:
        numeric = [a for a in varied if pd.api.types.is_numeric_dtype(frame[a])
                   and not pd.api.types.is_bool_dtype(frame[a]) and a not in chosen]
        rest = [a for a in varied if a not in chosen] or [a for a in names if a not in chosen]
        x = (numeric or rest or names)[0]
    free = [a for a in varied if a not in (x, hue, col, row)]
    slots = ("col", "row") if y == "outcome" else ("hue", "col")
    picked = {"hue": hue, "col": col, "row": row}
    if hue is None and col is None and row is None:  # fill in only when the user named no facet
        for slot in slots:
            if picked[slot] is None and free:
                picked[slot] = free.pop(0)
    return SweepChoice(x=x, y=y, hue=picked["hue"], col=picked["col"], row=picked["row"],
                       logx=axes.get(x) in LOG_KINDS)


def _labels(frame: pd.DataFrame, axis: str) -> pd.Series:
    label = f"{axis}_label"
    if label in frame.columns:
        return frame[label].astype("string").fillna("missing").astype(str)
    return frame[axis].astype(object).map(axis_value_label)


def _x_positions(frame: pd.DataFrame, x: str, logx: bool) -> tuple[pd.Series, bool]:
    """Numeric x per row (binned when there are more than :data:`MAX_X_VALUES` values) and whether numeric."""
    if not pd.api.types.is_numeric_dtype(frame[x]) or pd.api.types.is_bool_dtype(frame[x]):
        return _labels(frame, x), False
    values = frame[x].astype(float)
    if values.nunique() <= MAX_X_VALUES:
        return values, True
    finite = values[np.isfinite(values) & ((values > 0) if logx else True)]
    lo, hi = float(finite.min()), float(finite.max())
    if logx:
        edges = np.geomspace(lo, hi, X_BINS + 1)
        centres = np.sqrt(edges[:-1] * edges[1:])
    else:
        edges = np.linspace(lo, hi, X_BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
    index = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, X_BINS - 1)
    binned = pd.Series(centres[index], index=frame.index).where(values.notna())
    binned.attrs["binned"] = True
    return binned, True


def _wilson(successes: np.ndarray, n: np.ndarray, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def sweep_data(frame: pd.DataFrame, choice: SweepChoice) -> pd.DataFrame:
    """The points :func:`sweep_figure` draws: one row per (row, col, hue, x) cell, or per outcome too.

    Rows with an ``error`` are dropped.  Columns: ``x`` (the x value, a bin
    centre for a binned random axis, or a readable label for a non-numeric
    axis), ``hue``, ``col``, ``row`` (readable labels, ``""`` when unused), and

    * for ``y = "outcome"``: ``outcome`` and ``share`` (replications of the
      cell with that outcome over all replications of the cell, every outcome
      of :data:`OUTCOME_ORDER` present, zeros included) and ``count`` (the cell's replications);
    * for a share measure (``*_share`` from ``outcome``): ``mean`` (the
      share), ``low``/``high`` (Wilson 95% interval over the cell's
      replications), ``count``;
    * otherwise ``mean`` of the measure over the cell's replications (NaN
      values left out; ``period`` counts cycles only),
      ``low``/``high`` = ``mean ∓ t_{0.975, m-1} s / sqrt(m)`` (95% interval
      of the mean, ``s`` the sample standard deviation of the ``m``
      values; ``low = high = mean`` when ``m = 1``) clipped to the range
      the measure can take (:data:`_MEASURE_RANGE`: shares in [0, 1], tau
      in [-1, 1], efforts, periods and rank changes >= 0), ``count = m``.

    Axes not chosen are pooled with the replications.  A numeric x with more
    than :data:`MAX_X_VALUES` distinct values (a random axis) is cut into
    :data:`X_BINS` equal bins (equal in log when ``choice.logx``) and each row
    gets its bin's centre (geometric centre in log); ``attrs["x_binned"]``
    says so.  Rows sorted by row, col, hue (first appearance) and x.
    """
    from scipy import stats

    data = frame if "error" not in frame.columns else frame[frame["error"].isna()]
    if data.empty:
        raise ScenarioError("rows", 0, "no scenario of the sweep finished without an error")
    x, numeric = _x_positions(data, choice.x, choice.logx)
    keys = pd.DataFrame({"row": _labels(data, choice.row) if choice.row else "",
                         "col": _labels(data, choice.col) if choice.col else "",
                         "hue": _labels(data, choice.hue) if choice.hue else "", "x": x}, index=data.index)
    group = ["row", "col", "hue", "x"]
    if choice.y == "outcome":
        keys["outcome"] = data["outcome"].astype("string").fillna("missing").astype(str)
        counts = keys.groupby(group + ["outcome"], sort=False, dropna=False).size().unstack("outcome", fill_value=0)
        for name in OUTCOME_ORDER:
            if name not in counts.columns:
                counts[name] = 0
        total = counts.sum(axis=1)
        shares = counts[list(OUTCOME_ORDER)].div(total, axis=0)
        out = shares.stack().rename("share").reset_index().rename(columns={"level_4": "outcome"})
        out["count"] = total.reindex(pd.MultiIndex.from_frame(out[group])).to_numpy()
    elif choice.y in _SHARE_MEASURES:
        keys["v"] = data["outcome"].isin(_SHARE_MEASURES[choice.y]).astype(float).where(data["outcome"].notna())
        agg = keys.dropna(subset=["v"]).groupby(group, sort=False, dropna=False)["v"].agg(["sum", "count"])
        agg = agg[agg["count"] > 0]
        low, high = _wilson(agg["sum"].to_numpy(float), agg["count"].to_numpy(float))
        out = agg.assign(mean=agg["sum"] / agg["count"], low=low, high=high).reset_index()
        out = out[group + ["mean", "low", "high", "count"]]
    else:
        keys["v"] = pd.to_numeric(data[choice.y], errors="coerce").astype(float)
        if choice.y == "period" and "outcome" in data.columns:  # a period is a cycle's (1 for a fixed point)
            keys["v"] = keys["v"].where(data["outcome"] == "cycle")
        keys = keys[np.isfinite(keys["v"])]
        agg = keys.groupby(group, sort=False, dropna=False)["v"].agg(["mean", "std", "count"]).reset_index()
        m = agg["count"].to_numpy(float)
        t = np.where(m > 1, stats.t.ppf(0.975, np.maximum(m - 1, 1)), 0.0)
        half = np.where(m > 1, t * agg["std"].fillna(0.0).to_numpy(float) / np.sqrt(m), 0.0)
        lo_bound, hi_bound = _MEASURE_RANGE.get(choice.y, (-np.inf, np.inf))
        out = agg.assign(low=(agg["mean"] - half).clip(lower=lo_bound), high=(agg["mean"] + half).clip(upper=hi_bound))
        out = out[group + ["mean", "low", "high", "count"]]
    order = {k: list(dict.fromkeys(keys[k])) for k in ("row", "col", "hue")}
    sort = {k: out[k].map({v: i for i, v in enumerate(order[k])}) for k in ("row", "col", "hue")}
    if not numeric:
        sort["x"] = out["x"].map({v: i for i, v in enumerate(dict.fromkeys(keys["x"]))})
    else:
        sort["x"] = out["x"]
    out = out.assign(**{f"_{k}": v for k, v in sort.items()})
    by = ["_row", "_col", "_hue", "_x"] + (["outcome"] if "outcome" in out.columns else [])
    if "outcome" in out.columns:
        out["_o"] = out["outcome"].map({o: i for i, o in enumerate(OUTCOME_ORDER)}).fillna(len(OUTCOME_ORDER))
        by[-1] = "_o"
    out = out.sort_values(by, kind="stable").drop(columns=[c for c in out.columns if c.startswith("_")])
    out = out.reset_index(drop=True)
    out.attrs["x_binned"] = bool(x.attrs.get("binned", False))
    return out


def tau_star_data(frame: pd.DataFrame, choice: SweepChoice) -> pd.DataFrame:
    """The theory's ``tau*`` per (row, col, hue) cell: ``median``, ``q25``, ``q75`` of the finite ``tau_star``
    values (a scenario whose zero profile never stabilises has ``tau* = inf`` and is left out), ``count``.

    Empty when ``tau_star`` is absent or has no finite value.
    """
    columns = ["row", "col", "hue", "median", "q25", "q75", "count"]
    if "tau_star" not in frame.columns:
        return pd.DataFrame(columns=columns)
    data = frame if "error" not in frame.columns else frame[frame["error"].isna()]
    star = pd.to_numeric(data["tau_star"], errors="coerce").astype(float)
    keep = np.isfinite(star)
    if not keep.any():
        return pd.DataFrame(columns=columns)
    keys = pd.DataFrame({"row": _labels(data, choice.row) if choice.row else "",
                         "col": _labels(data, choice.col) if choice.col else "",
                         "hue": _labels(data, choice.hue) if choice.hue else "", "v": star}, index=data.index)[keep]
    agg = keys.groupby(["row", "col", "hue"], sort=False)["v"]
    out = pd.DataFrame({"median": agg.median(), "q25": agg.quantile(0.25), "q75": agg.quantile(0.75),
                        "count": agg.size()}).reset_index()
    return out[columns]


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
            if not tight:  # laid out once: no layout engine (not even "none"'s placeholder, which still pre-draws)
                with plt.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
                    fig.set_layout_engine(None)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(target)
    return written
