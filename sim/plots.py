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
    "developer_dashes",
    "developer_labels",
    "developer_palette",
    "dynamics_figure",
    "effort_data",
    "final_order",
    "outcome_title",
    "plot_cycle",
    "plot_effort",
    "plot_leaderboard",
    "plot_rank_bump",
    "plot_scores",
    "save_figure",
    "score_data",
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
_TOTAL_COLOUR = "0.15"
_TAU_COLOUR = sns.color_palette(PALETTE)[4]
_TRAJECTORY_COLUMNS = ("round", "developer", "capability")
_N_COLOURS = len(sns.color_palette(PALETTE))
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
    """``"cycle, period 42, entered at round 17"``, ``"converged_zero, entered at round 5"``, ..."""
    name = _get(outcome, "outcome")
    if name is None:
        return "dynamics"
    parts = [str(name)]
    period, entered_at = _get(outcome, "period"), _get(outcome, "entered_at")
    if name == "cycle" and period is not None:
        parts.append(f"period {int(period)}")
    if entered_at is not None:
        parts.append(f"entered at round {int(entered_at)}")
    return ", ".join(parts)


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


def _line_kwargs(dash) -> dict:
    return {"linestyle": "-"} if dash == "" else {"dashes": dash}


def _legend(ax, labels: Sequence[str], palette: Mapping[str, tuple], dashes: Mapping[str, str | tuple],
            extra: Sequence[tuple] = (), title=None):
    handles = [Line2D([], [], color=palette[label], linewidth=1.8, **_line_kwargs(dashes[label])) for label in labels]
    names = list(labels)
    for handle, name in extra:
        handles.append(handle)
        names.append(name)
    ncol = 1 if len(names) <= 12 else 2
    fontsize = "small" if len(names) <= 12 else "x-small"
    ax.legend(handles, names, title=title, fontsize=fontsize, title_fontsize=fontsize, ncol=ncol, loc="best")


def _draw_lines(ax, data: pd.DataFrame, y: str, palette: Mapping[str, tuple], dashes: Mapping[str, str | tuple],
                **kwargs) -> None:
    order = list(data["label"].cat.categories)
    sns.lineplot(
        data=data, x="round", y=y, hue="label", hue_order=order, palette=palette, style="label", style_order=order,
        dashes=dict(dashes), estimator=None, errorbar=None, legend=False, ax=ax, **kwargs,
    )


def _effort_axes(ax, trajectory, outcome, data: pd.DataFrame, palette, dashes, shade=None) -> None:
    _draw_lines(ax, data, "effort", palette, dashes, drawstyle="steps-post", linewidth=1.5)
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
    ax.set_ylim(bottom=min(0.0, float(data["effort"].min())) if len(data) else 0.0)
    _legend(ax, list(data["label"].cat.categories), palette, dashes, extra)


def plot_effort(trajectory: pd.DataFrame, outcome=None, ax=None, max_points: int | None = MAX_POINTS) -> Figure:
    """Additional effort per developer over rounds (steps), shading one cycle when the outcome is a cycle."""
    data = effort_data(trajectory, max_points=max_points)  # prepare (and validate) before making a figure
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    with plt.rc_context(STYLE):
        ax = _new_axes(ax)
        _effort_axes(ax, trajectory, outcome, data, palette, dashes)
        ax.set_title("effort per developer")
    return ax.figure


def plot_scores(trajectory: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS) -> Figure:
    """Published score per developer over rounds; legend in the final leaderboard order (rank 1 first)."""
    data = score_data(trajectory, max_points=max_points)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    with plt.rc_context(STYLE):
        ax = _new_axes(ax)
        _draw_lines(ax, data, "published", palette, dashes, drawstyle="steps-post", linewidth=1.5)
        ax.set_xlabel(ROUND_LABEL)
        ax.set_ylabel(f"{SCORE_LABEL} (published)")
        ax.set_title("published scores")
        _legend(ax, list(data["label"].cat.categories), palette, dashes, title="final leaderboard")
    return ax.figure


def plot_rank_bump(trajectory: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS) -> Figure:
    """Rank per developer over rounds (bump chart): rank 1 on top, each line labelled at its right end."""
    data = bump_data(trajectory, max_points=max_points)
    palette, dashes = developer_palette(trajectory), developer_dashes(trajectory)
    n = len(palette)
    last = data.loc[data.groupby("developer", sort=False)["round"].idxmax()]
    with plt.rc_context(STYLE):
        ax = _new_axes(ax)
        _draw_lines(ax, data, "rank", palette, dashes, linewidth=1.8)
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


def plot_cycle(trajectory: pd.DataFrame, outcome, ax=None, margin: int | None = None) -> Figure:
    """Effort per developer around the cycle (:func:`cycle_window`), first full cycle shaded, period in the title."""
    window = cycle_window(trajectory, outcome, margin=margin)
    if window.empty:
        raise ValueError("the trajectory holds no round of the cycle window (a tail-only record?)")
    entered_at, period = _cycle(outcome)
    data = effort_data(window)
    palette, dashes = developer_palette(window), developer_dashes(window)
    shade = _shade_span(outcome, int(window["round"].min()), int(window["round"].max()))
    with plt.rc_context(STYLE):
        ax = _new_axes(ax)
        _effort_axes(ax, window, outcome, data, palette, dashes, shade=shade)
        ax.set_title(f"cycle of period {period}, entered at round {entered_at}")
    return ax.figure


def plot_leaderboard(leaderboard: pd.DataFrame, ax=None, max_points: int | None = MAX_POINTS) -> Figure:
    """Total effort (left axis) and Kendall's tau (right axis, [-1, 1]) over rounds; incorrect rankings shaded.

    The two lines are thinned to ``max_points`` rounds (:func:`subsample_rounds`,
    step mode); the shading is computed from every round.
    """
    _one_scenario(leaderboard, "leaderboard")
    _require(leaderboard, ("round", "ranking_correct", "kendall_tau", "total_effort"), "leaderboard")
    if leaderboard.empty:
        raise ValueError("leaderboard has no rows")
    full = leaderboard.sort_values("round", kind="stable")
    runs = _incorrect_runs(full["round"].to_numpy(dtype=float), full["ranking_correct"].to_numpy(), max_points)
    board = subsample_rounds(full.assign(developer=0), ["total_effort", "kendall_tau"], max_points)
    rounds = board["round"].to_numpy(dtype=float)
    with plt.rc_context(STYLE):
        ax = _new_axes(ax)
        (effort_line,) = ax.plot(rounds, board["total_effort"].to_numpy(dtype=float), color=_TOTAL_COLOUR,
                                 drawstyle="steps-post", linewidth=1.5, label="total effort")
        ax.set_xlabel(ROUND_LABEL)
        ax.set_ylabel(TOTAL_EFFORT_LABEL)
        ax.set_ylim(bottom=min(0.0, float(board["total_effort"].min())))
        twin = ax.twinx()
        (tau_line,) = twin.plot(rounds, board["kendall_tau"].to_numpy(dtype=float), color=_TAU_COLOUR,
                                linestyle="--", drawstyle="steps-post", linewidth=1.3, label="Kendall's τ")
        twin.set_ylim(-1.05, 1.05)
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
        twin.legend(handles=handles, fontsize="small", loc="upper right")  # on the twin, drawn above both lines
        ax.set_title("leaderboard")
    return ax.figure


def dynamics_figure(trajectory: pd.DataFrame, leaderboard: pd.DataFrame, outcome,
                    max_points: int | None = MAX_POINTS) -> Figure:
    """2 x 2 figure: effort (cycle shaded), published scores, rank bump chart, leaderboard measures.

    The suptitle states the outcome (:func:`outcome_title`); every panel is
    thinned to ``max_points`` rounds per line.
    """
    _one_scenario(trajectory, "trajectory")
    _one_scenario(leaderboard, "leaderboard")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(14, 9), layout="constrained")
        try:
            plot_effort(trajectory, outcome, ax=axes[0, 0], max_points=max_points)
            plot_scores(trajectory, ax=axes[0, 1], max_points=max_points)
            plot_rank_bump(trajectory, ax=axes[1, 0], max_points=max_points)
            plot_leaderboard(leaderboard, ax=axes[1, 1], max_points=max_points)
            fig.suptitle(outcome_title(outcome))
        except BaseException:
            plt.close(fig)  # no half-drawn figure left open in pyplot
            raise
    return fig


# --------------------------------------------------------------------------- output


def save_figure(fig: Figure, path_stem) -> list[Path]:
    """Write ``path_stem.png`` (200 dpi) and ``path_stem.pdf``; returns the two paths.

    Each file is written to a temporary file in the same directory (named
    ``.<stem>.tmp<pid><token>.<ext>``, so the format is clear from the extension)
    and moved into place with ``os.replace``, so a reader never sees a
    half-written figure; parent directories are created.  ``path_stem`` is
    used as given (``"run.v2"`` gives ``run.v2.png``).
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, options in (("png", {"dpi": 200}), ("pdf", {"metadata": {"CreationDate": None}})):
        target = stem.with_name(f"{stem.name}.{ext}")
        # A fresh name (pid + random token) created by savefig itself, so the file gets the usual
        # permissions (umask) rather than mkstemp's 0600.
        tmp = target.with_name(f".{stem.name}.tmp{os.getpid()}{secrets.token_hex(4)}.{ext}")
        try:
            fig.savefig(tmp, format=ext, bbox_inches="tight", **options)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(target)
    return written
