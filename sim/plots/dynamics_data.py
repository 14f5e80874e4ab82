"""Data for the dynamics figures, prepared apart from the drawing: per-developer series, subsampled rounds,
smoothing, the rank bump, the cycle window and the rolling Kendall tau.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.plots.style import _DASHES, _N_COLOURS, colour_palette

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


_TRAJECTORY_COLUMNS = ("round", "developer", "capability")


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


def _check_window(window, first_round: int, last_round: int) -> tuple[int, int]:
    start, stop = window
    start = first_round if start is None else int(start)
    stop = last_round if stop is None else int(stop)
    if start > stop:
        raise ValueError(f"window start {start} is after its end {stop}")
    if stop < first_round or start > last_round:
        raise ValueError(f"window {start}:{stop} holds no stored round (rounds {first_round} to {last_round})")
    return max(start, first_round), min(stop, last_round)
