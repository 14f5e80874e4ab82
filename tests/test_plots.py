"""Tests of sim.plots: the data preparation (pure functions) and the figures drawn from it."""

import matplotlib

matplotlib.use("Agg")

import importlib  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

import sim.plots as plots  # noqa: E402

# Developer 0 is the weakest and developer 1 the strongest, so "strongest first" is not "by id".
THETA = np.array([1.0, 2.0, 1.5])
STRENGTH_ORDER = [1, 2, 0]
ROUNDS = 40  # rounds 0..40
CYCLE_START, PERIOD = 4, 6
TRANSIENT = [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.2, 0.0], [1.0, 0.2, 0.3]]
# One period of the cycle; round 4 + 6k plays CYCLE[0], where the weakest developer tops the board.
CYCLE = [[3.0, 0.0, 0.0], [3.0, 1.5, 0.0], [3.0, 1.5, 2.0], [0.0, 1.5, 2.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.5]]


def make_trajectory(effort: np.ndarray, theta=THETA) -> pd.DataFrame:
    """A tidy trajectory frame like the engine's, from an efforts array (rounds x developers)."""
    effort = np.asarray(effort, dtype=float)
    R1, n = effort.shape
    theta = np.asarray(theta, dtype=float)
    score = 1.0 - np.exp(-theta * (1.0 + effort))
    published = np.floor(score * 100.0) / 100.0
    rank = np.empty((R1, n), dtype=np.int64)
    for t in range(R1):
        order = np.lexsort((np.arange(n), -theta, -published[t]))
        rank[t, order] = np.arange(1, n + 1)
    reward = (rank == 1).astype(float)
    cost = effort**2
    return pd.DataFrame(
        {
            "round": np.repeat(np.arange(R1), n),
            "developer": np.tile(np.arange(n), R1),
            "capability": np.tile(theta, R1),
            "effort": effort.ravel(),
            "score": score.ravel(),
            "published": published.ravel(),
            "rank": rank.ravel(),
            "reward": reward.ravel(),
            "cost": cost.ravel(),
            "utility": (reward - cost).ravel(),
        }
    )


def make_leaderboard(trajectory: pd.DataFrame) -> pd.DataFrame:
    n = trajectory["developer"].nunique()
    rank = trajectory["rank"].to_numpy().reshape(-1, n)
    theta = trajectory["capability"].to_numpy().reshape(-1, n)[0]
    ideal = np.empty(n, dtype=np.int64)
    ideal[np.lexsort((np.arange(n), -theta))] = np.arange(1, n + 1)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    tau = np.mean([np.sign(theta[i] - theta[j]) * np.sign(rank[:, j] - rank[:, i]) for i, j in pairs], axis=0)
    changes = np.r_[0, (rank[1:] != rank[:-1]).sum(axis=1)]
    return pd.DataFrame(
        {
            "round": np.arange(rank.shape[0]),
            "ranking_correct": (rank == ideal).all(axis=1),
            "kendall_tau": tau,
            "total_effort": trajectory["effort"].to_numpy().reshape(-1, n).sum(axis=1),
            "rank_changes": changes,
        }
    )


def cycle_effort(rounds=ROUNDS) -> np.ndarray:
    rows = [TRANSIENT[t] if t < CYCLE_START else CYCLE[(t - CYCLE_START) % PERIOD] for t in range(rounds + 1)]
    return np.array(rows)


def converging_effort(rounds=ROUNDS) -> np.ndarray:
    rows = [[max(0.0, 1.0 - 0.2 * t), max(0.0, 0.8 - 0.2 * t), 0.0] for t in range(rounds + 1)]
    return np.array(rows)


@pytest.fixture
def cycle_traj():
    return make_trajectory(cycle_effort())


@pytest.fixture
def conv_traj():
    return make_trajectory(converging_effort())


CYCLE_OUTCOME = SimpleNamespace(outcome="cycle", period=PERIOD, entered_at=CYCLE_START)
CYCLE_DICT = {"outcome": "cycle", "period": PERIOD, "entered_at": CYCLE_START}
CONV_OUTCOME = {"outcome": "converged_zero", "period": 1, "entered_at": 5}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cycle_patches(ax):
    return [p for p in ax.patches if isinstance(p, (Polygon, Rectangle))]


def _xspan(patch):
    if isinstance(patch, Rectangle):
        return patch.get_x(), patch.get_x() + patch.get_width()
    xy = np.asarray(patch.get_xy())
    return xy[:, 0].min(), xy[:, 0].max()


def _legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


# --------------------------------------------------------------------------- data preparation


def test_developer_labels_strongest_first(cycle_traj):
    labels = plots.developer_labels(cycle_traj)
    assert list(labels.index) == STRENGTH_ORDER
    assert list(labels) == ["dev 1 (θ=2.00)", "dev 2 (θ=1.50)", "dev 0 (θ=1.00)"]


def test_developer_labels_equal_capabilities_lower_id_first():
    traj = make_trajectory(np.zeros((3, 3)), theta=[1.0, 1.0, 3.0])
    assert list(plots.developer_labels(traj).index) == [2, 0, 1]


def test_effort_data(cycle_traj):
    data = plots.effort_data(cycle_traj)
    assert list(data.columns) == ["round", "developer", "label", "effort"]
    assert len(data) == 3 * (ROUNDS + 1)
    assert list(pd.unique(data["developer"])) == STRENGTH_ORDER
    assert list(data["label"].cat.categories) == list(plots.developer_labels(cycle_traj))
    first = data[data["developer"] == 1]
    assert first["round"].tolist() == list(range(ROUNDS + 1))
    assert first["effort"].tolist() == cycle_effort()[:, 1].tolist()


def test_final_order(cycle_traj, conv_traj):
    # Round 40 plays CYCLE[0]: the weakest developer (0) tops the board with effort 3.
    assert plots.final_order(cycle_traj) == [0, 1, 2]
    assert plots.final_order(conv_traj) == STRENGTH_ORDER
    last = cycle_traj[cycle_traj["round"] == ROUNDS].sort_values("rank")
    assert plots.final_order(cycle_traj) == last["developer"].tolist()


def test_score_data_in_final_order(cycle_traj):
    data = plots.score_data(cycle_traj)
    assert list(data.columns) == ["round", "developer", "label", "published"]
    assert len(data) == 3 * (ROUNDS + 1)
    assert list(pd.unique(data["developer"])) == [0, 1, 2]
    labels = plots.developer_labels(cycle_traj)
    assert list(data["label"].cat.categories) == [labels[d] for d in [0, 1, 2]]


def test_bump_data(cycle_traj):
    data = plots.bump_data(cycle_traj)
    assert list(data.columns) == ["round", "developer", "label", "rank"]
    assert len(data) == 3 * (ROUNDS + 1)
    assert data["rank"].dtype == np.int64
    assert set(data["rank"]) == {1, 2, 3}
    assert list(pd.unique(data["developer"])) == STRENGTH_ORDER


@pytest.mark.parametrize("outcome", [CYCLE_OUTCOME, CYCLE_DICT])
def test_cycle_window_default_margin_is_clipped_at_round_zero(cycle_traj, outcome):
    window = plots.cycle_window(cycle_traj, outcome)
    # [4 - 6, 4 + 12] clipped to the data: [0, 16]
    assert window["round"].min() == 0
    assert window["round"].max() == CYCLE_START + 2 * PERIOD
    assert len(window) == 3 * 17
    assert list(window.columns) == list(cycle_traj.columns)


def test_cycle_window_margin_and_end_clipping(cycle_traj):
    window = plots.cycle_window(cycle_traj, CYCLE_DICT, margin=2)
    assert (window["round"].min(), window["round"].max()) == (2, 16)
    late = {"outcome": "cycle", "period": PERIOD, "entered_at": 34}
    window = plots.cycle_window(cycle_traj, late)
    assert (window["round"].min(), window["round"].max()) == (28, ROUNDS)  # 34 + 12 = 46 clipped to 40
    window = plots.cycle_window(cycle_traj, late, margin=0)
    assert window["round"].min() == 34


@pytest.mark.parametrize(
    "outcome",
    [CONV_OUTCOME, {"outcome": "no_convergence", "period": None, "entered_at": None},
     SimpleNamespace(outcome="converged_nonzero", period=1, entered_at=3), None],
)
def test_cycle_window_rejects_non_cycles(cycle_traj, outcome):
    with pytest.raises(ValueError, match="cycle"):
        plots.cycle_window(cycle_traj, outcome)


def test_cycle_window_rejects_negative_margin(cycle_traj):
    with pytest.raises(ValueError, match="margin"):
        plots.cycle_window(cycle_traj, CYCLE_DICT, margin=-1)


@pytest.mark.parametrize(
    "call",
    [
        plots.developer_labels, plots.effort_data, plots.score_data, plots.bump_data, plots.final_order,
        lambda t: plots.cycle_window(t, CYCLE_DICT), lambda t: plots.plot_effort(t),
        lambda t: plots.dynamics_figure(t, make_leaderboard(t[t["scenario"] == "a"]), CYCLE_DICT),
    ],
)
def test_several_scenarios_rejected(cycle_traj, conv_traj, call):
    stacked = pd.concat([cycle_traj.assign(scenario="a"), conv_traj.assign(scenario="b")], ignore_index=True)
    with pytest.raises(ValueError, match="'scenario'"):
        call(stacked)
    call(cycle_traj.assign(scenario="a"))  # one scenario value is fine


def test_leaderboard_with_several_scenarios_rejected(cycle_traj):
    board = make_leaderboard(cycle_traj)
    stacked = pd.concat([board.assign(scenario="a"), board.assign(scenario="b")], ignore_index=True)
    with pytest.raises(ValueError, match="'scenario'"):
        plots.plot_leaderboard(stacked)


# --------------------------------------------------------------------------- subsampling of long runs


def _long_step_trajectory(rounds=20_000, every=1_000):
    t = np.arange(rounds + 1)
    effort = np.stack([(t // every) % 3 * 1.0, (t // (2 * every)) % 2 * 0.5], axis=1)
    return make_trajectory(effort, theta=[1.0, 2.0])


def test_subsampling_keeps_every_change_within_budget():
    traj = _long_step_trajectory()
    data = plots.effort_data(traj, max_points=100)
    for dev, part in data.groupby("developer"):
        full = traj[traj["developer"] == dev].set_index("round")["effort"]
        assert len(part) <= 100
        assert part["round"].iloc[0] == 0 and part["round"].iloc[-1] == 20_000
        changes = full.index[1:][full.to_numpy()[1:] != full.to_numpy()[:-1]]
        assert set(changes) <= set(part["round"])
        # a steps-post drawing of the kept rounds is the full series
        kept = part.set_index("round")["effort"]
        assert np.array_equal(kept.reindex(full.index).ffill().to_numpy(), full.to_numpy())


def test_subsampling_even_when_values_change_every_round():
    rounds, budget = 20_000, 500
    t = np.arange(rounds + 1)
    traj = make_trajectory(np.stack([t * 1e-4, t * 2e-4, np.sqrt(t)], axis=1))
    for prepare in (plots.effort_data, plots.score_data, plots.bump_data):
        data = prepare(traj, max_points=budget)
        for _, part in data.groupby("developer"):
            r = part["round"].to_numpy()
            assert 2 <= len(r) <= budget
            assert r[0] == 0 and r[-1] == rounds
            assert np.all(np.diff(r) > 0)
    gaps = np.diff(plots.effort_data(traj, max_points=budget).query("developer == 0")["round"])
    assert gaps.max() - gaps.min() <= 1  # evenly spaced


def test_subsampling_budget_larger_than_data_keeps_everything(cycle_traj):
    assert len(plots.effort_data(cycle_traj, max_points=5000)) == len(cycle_traj)
    assert len(plots.effort_data(cycle_traj, max_points=None)) == len(cycle_traj)
    data = plots.effort_data(cycle_traj, max_points=10)
    assert data.groupby("developer").size().max() <= 10


def test_bump_subsampling_keeps_the_round_before_each_change():
    rounds = 10_000
    effort = np.zeros((rounds + 1, 2))
    effort[6_000:, 0] = 5.0  # the weaker developer overtakes at round 6000
    traj = make_trajectory(effort, theta=[1.0, 2.0])
    data = plots.bump_data(traj, max_points=50)
    for _, part in data.groupby("developer"):
        assert part["round"].tolist() == [0, 5_999, 6_000, rounds]


@pytest.mark.parametrize("bad", [0, 1, 2.5, -3])
def test_subsampling_rejects_bad_budget(cycle_traj, bad):
    with pytest.raises(ValueError, match="max_points"):
        plots.effort_data(cycle_traj, max_points=bad)


# --------------------------------------------------------------------------- plots


def test_plot_effort_new_figure_labels_and_cycle_shading(cycle_traj):
    fig = plots.plot_effort(cycle_traj, CYCLE_OUTCOME)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "round"
    assert ax.get_ylabel() == "additional effort (effort units)"
    shading = _cycle_patches(ax)
    assert len(shading) == 1
    assert _xspan(shading[0]) == pytest.approx((CYCLE_START, CYCLE_START + PERIOD))
    texts = _legend_texts(ax)
    assert texts == [*plots.developer_labels(cycle_traj), "one cycle (period 6)"]
    assert len(ax.lines) == 3
    assert all(line.get_drawstyle() == "steps-post" for line in ax.lines)


@pytest.mark.parametrize("outcome", [None, CONV_OUTCOME, {"outcome": "no_convergence", "period": None,
                                                           "entered_at": None}])
def test_plot_effort_no_shading_without_cycle(conv_traj, outcome):
    fig, ax = plt.subplots()
    returned = plots.plot_effort(conv_traj, outcome, ax=ax)
    assert returned is ax.figure is fig
    assert _cycle_patches(ax) == []
    assert not any("cycle" in t for t in _legend_texts(ax))


def test_strongest_developer_gets_first_colour_everywhere(cycle_traj):
    first = sns.color_palette("colorblind")[0]
    palette = plots.developer_palette(cycle_traj)
    strongest = plots.developer_labels(cycle_traj).iloc[0]
    assert palette[strongest] == first
    fig = plots.plot_scores(cycle_traj)
    legend = fig.axes[0].get_legend()
    colours = {t.get_text(): h.get_color() for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    assert matplotlib.colors.to_rgb(colours[strongest]) == pytest.approx(first)


def test_plot_scores(cycle_traj):
    fig, ax = plt.subplots()
    assert plots.plot_scores(cycle_traj, ax=ax) is fig
    assert ax.get_xlabel() == "round"
    assert "score" in ax.get_ylabel()
    labels = plots.developer_labels(cycle_traj)
    assert _legend_texts(ax) == [labels[d] for d in plots.final_order(cycle_traj)]
    assert len(ax.lines) == 3


def test_plot_rank_bump(cycle_traj):
    fig = plots.plot_rank_bump(cycle_traj)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.yaxis_inverted()
    assert ax.get_ylabel() == "rank (1 = top)"
    assert ax.get_xlabel() == "round"
    assert list(ax.get_yticks()) == [1, 2, 3]
    ends = {t.get_text(): t.xy for t in ax.texts}
    assert set(ends) == set(plots.developer_labels(cycle_traj))
    assert all(x == ROUNDS for x, _ in ends.values())
    fig2, ax2 = plt.subplots()
    assert plots.plot_rank_bump(cycle_traj, ax=ax2) is fig2
    assert ax2.yaxis_inverted()


def test_plot_cycle(cycle_traj):
    fig = plots.plot_cycle(cycle_traj, CYCLE_DICT)
    ax = fig.axes[0]
    assert "period 6" in ax.get_title()
    assert ax.get_xlabel() == "round"
    assert ax.get_ylabel() == "additional effort (effort units)"
    shading = _cycle_patches(ax)
    assert len(shading) == 1 and _xspan(shading[0]) == pytest.approx((4, 10))
    xs = np.concatenate([line.get_xdata() for line in ax.lines])
    assert xs.min() == 0 and xs.max() == 16
    fig2, ax2 = plt.subplots()
    assert plots.plot_cycle(cycle_traj, CYCLE_OUTCOME, ax=ax2) is fig2
    with pytest.raises(ValueError, match="cycle"):
        plots.plot_cycle(cycle_traj, CONV_OUTCOME)


def test_cycle_shading_shifted_into_a_tail_only_record(cycle_traj):
    tail = cycle_traj[cycle_traj["round"] >= 20]
    fig = plots.plot_effort(tail, CYCLE_OUTCOME)
    (patch,) = _cycle_patches(fig.axes[0])
    assert _xspan(patch) == pytest.approx((22, 28))  # 4 + 3 * 6


def test_plot_leaderboard(cycle_traj):
    board = make_leaderboard(cycle_traj)
    assert not board["ranking_correct"].all()
    fig, ax = plt.subplots()
    assert plots.plot_leaderboard(board, ax=ax) is fig
    twin = [a for a in fig.axes if a is not ax]
    assert len(twin) == 1
    assert ax.get_xlabel() == "round"
    assert "effort" in ax.get_ylabel() and "effort units" in ax.get_ylabel()
    assert "Kendall" in twin[0].get_ylabel()
    lo, hi = twin[0].get_ylim()
    assert lo <= -1 and hi >= 1 and lo >= -1.1 and hi <= 1.1
    shaded = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(shaded) == 1
    assert "ranking incorrect" in _legend_texts(twin[0])


def test_plot_leaderboard_all_correct_has_no_shading(conv_traj):
    board = make_leaderboard(conv_traj).query("round >= 5")  # effort 0 from round 5: capability order
    assert board["ranking_correct"].all()
    fig = plots.plot_leaderboard(board)
    assert isinstance(fig, Figure)
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]


def test_dynamics_figure(cycle_traj):
    fig = plots.dynamics_figure(cycle_traj, make_leaderboard(cycle_traj), CYCLE_OUTCOME)
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "arms race, period 6, from round 4"
    assert len(fig.axes) == 5  # four panels and the tau twin
    assert len(_cycle_patches(fig.axes[0])) == 1
    assert fig.axes[2].yaxis_inverted()
    # one legend of developers for the figure, strongest first; none inside the developer panels
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(plots.developer_labels(cycle_traj))
    assert all(ax.get_legend() is None for ax in fig.axes[:3])
    # the run is short (40 rounds): every panel shows it whole
    assert fig.axes[0].get_xlim()[0] == 0 and fig.axes[0].get_xlim()[1] >= ROUNDS
    assert "mean over 6 rounds" in " ".join(_legend_texts(fig.axes[4]))  # Kendall's tau over one period


def test_dynamics_figure_converged(conv_traj):
    fig = plots.dynamics_figure(conv_traj, make_leaderboard(conv_traj), CONV_OUTCOME)
    assert fig.get_suptitle() == "settles at zero effort by round 5"
    assert _cycle_patches(fig.axes[0]) == []
    bottom, _ = fig.axes[0].get_ylim()
    assert bottom < 0  # zero-effort lines drawn above the frame, not on it


def test_dynamics_figure_window_of_a_long_cycle():
    rounds, start, period = 400, 100, 6
    effort = np.array([TRANSIENT[t % 4] if t < start else CYCLE[(t - start) % period] for t in range(rounds + 1)])
    traj = make_trajectory(effort)
    outcome = {"outcome": "cycle", "period": period, "entered_at": start}
    fig = plots.dynamics_figure(traj, make_leaderboard(traj), outcome)
    lo, hi = plots.default_window(outcome, 0, rounds)
    assert (lo, hi) == (start - period, start + 2 * period)  # one period of approach, two of the cycle
    assert fig.get_suptitle() == (
        f"arms race, period 6, from round 100 (effort, scores and ranks over rounds {lo:,} to {hi:,})"
    )
    for ax in fig.axes[:3]:
        xs = np.concatenate([line.get_xdata() for line in ax.lines])
        assert xs.min() >= lo and xs.max() <= hi
    (board,) = [a for a in fig.axes if a.get_title() == "leaderboard over the whole run"]
    assert board.lines[0].get_xdata().max() == rounds
    assert "rounds in the other panels" in _legend_texts(fig.axes[4])
    fig = plots.dynamics_figure(traj, make_leaderboard(traj), outcome, window=(300, None), tau_window=3)
    xs = np.concatenate([line.get_xdata() for line in fig.axes[0].lines])
    assert xs.min() == 300 and xs.max() == rounds
    assert "mean over 3 rounds" in " ".join(_legend_texts(fig.axes[4]))
    for bad in ((500, 600), (30, 20)):
        with pytest.raises(ValueError, match="window"):
            plots.dynamics_figure(traj, make_leaderboard(traj), outcome, window=bad)
    assert plt.get_fignums() == [1, 2]  # the two good figures only


@pytest.mark.parametrize(
    ("outcome", "first", "last", "expected"),
    [
        ({"outcome": "cycle", "period": 20, "entered_at": 500}, 0, 2000, (480, 540)),
        ({"outcome": "cycle", "period": 20, "entered_at": 1990}, 0, 2000, (1940, 2000)),  # shifted back
        ({"outcome": "cycle", "period": 2, "entered_at": 3}, 0, 2000, (0, 7)),  # 12 rounds wanted, clipped at 0
        ({"outcome": "cycle", "period": 2, "entered_at": 100}, 0, 2000, (92, 104)),
        ({"outcome": "converged_zero", "period": 1, "entered_at": 5}, 0, 2000, (0, 2000)),
        ({"outcome": "converged_nonzero", "period": 1, "entered_at": 5}, 10, 2000, (10, 2000)),
        ({"outcome": "no_convergence", "period": None, "entered_at": None}, 0, 2000, (1971, 2000)),
        ({"outcome": "no_convergence", "period": None, "entered_at": None}, 0, 59, (0, 59)),  # short: whole run
        (None, 0, 2000, (0, 2000)),
    ],
)
def test_default_window(outcome, first, last, expected):
    assert plots.default_window(outcome, first, last) == expected


def test_rolling_tau_is_a_centred_mean():
    board = pd.DataFrame({"round": [3, 0, 1, 2], "kendall_tau": [1.0, -1.0, 1.0, -1.0]})
    data = plots.rolling_tau(board, 2)
    assert list(data["round"]) == [0, 1, 2, 3]
    assert list(data["kendall_tau"]) == [-1.0, 1.0, -1.0, 1.0]
    # pandas centres an even window on [t - 1, t]; no mean where the window is not full
    assert data["tau_mean"].tolist()[1:] == [0.0, 0.0, 0.0] and np.isnan(data["tau_mean"].iloc[0])
    three = plots.rolling_tau(board, 3)["tau_mean"].to_numpy()
    assert np.isnan(three[[0, 3]]).all() and three[1:3] == pytest.approx([-1 / 3, 1 / 3])
    assert plots.rolling_tau(board, 9)["tau_mean"].tolist() == [0.0] * 4  # shorter than the window: all rounds
    with pytest.raises(ValueError, match="window"):
        plots.rolling_tau(board, 0)


def test_default_tau_window():
    assert plots.default_tau_window({"outcome": "cycle", "period": 20, "entered_at": 3}, 2001) == 20
    assert plots.default_tau_window({"outcome": "no_convergence", "period": None, "entered_at": None}, 2001) == 40
    assert plots.default_tau_window(None, 10) == 1


def test_effort_linthresh_keeps_a_small_spender_visible():
    assert plots.effort_linthresh([0.0, 0.03, 250.0]) == pytest.approx(0.01)
    assert plots.effort_linthresh([0.0, 1e-9, 100.0]) == pytest.approx(0.01)  # at most four decades
    assert plots.effort_linthresh([0.0, 0.0]) == 1.0


def test_plot_effort_symlog_when_efforts_span_decades():
    effort = np.tile([[0.0, 0.05, 300.0]], (10, 1))
    fig = plots.plot_effort(make_trajectory(effort))
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog"
    assert ax.get_ylim()[0] < 0 < 0.05 < ax.get_ylim()[1]
    fig, (left, right) = plt.subplots(1, 2, sharey=True)
    plots.plot_effort(make_trajectory(effort), ax=right)
    assert right.get_yscale() == "linear"  # shared with another axes: the caller's common scale
    fig = plots.plot_effort(make_trajectory(np.zeros((10, 3))))
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_ylim()[0] < 0
    assert any("no developer spends" in t.get_text() for t in fig.axes[0].texts)


def test_overlapping_lines_are_drawn_widest_first(cycle_traj):
    fig = plots.plot_scores(cycle_traj)
    widths = [line.get_linewidth() for line in fig.axes[0].lines]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == len(widths)
    assert len({line.get_marker() for line in fig.axes[0].lines}) == 3  # 41 rounds: markers, one shape each


def test_legends_outside_the_data(cycle_traj):
    for fig in (plots.plot_effort(cycle_traj, CYCLE_OUTCOME), plots.plot_scores(cycle_traj)):
        legend = fig.axes[0].get_legend()
        assert legend.get_bbox_to_anchor().x0 >= fig.axes[0].get_window_extent().x1


def test_every_public_plot_applies_the_style(cycle_traj):
    with plt.rc_context({"axes.facecolor": "red", "axes.grid": False}):
        figures = [plots.plot_effort(cycle_traj), plots.plot_scores(cycle_traj), plots.plot_rank_bump(cycle_traj),
                   plots.plot_cycle(cycle_traj, CYCLE_DICT), plots.plot_leaderboard(make_leaderboard(cycle_traj)),
                   plots.dynamics_figure(cycle_traj, make_leaderboard(cycle_traj), CYCLE_DICT)]
        assert matplotlib.rcParams["axes.facecolor"] == "red"  # restored after each call
    for fig in figures:
        assert matplotlib.colors.to_hex(fig.axes[0].get_facecolor()) == "#ffffff"
        assert fig.axes[0].yaxis._major_tick_kw.get("gridOn", False)


def test_style_and_palette_are_seaborns():
    context = sns.plotting_context("notebook", font_scale=0.9)
    whitegrid = {k: v for k, v in sns.axes_style("whitegrid").items() if k != "image.cmap"}
    assert {k: plots.STYLE[k] for k in [*whitegrid, *context]} == {**whitegrid, **context}
    assert plots.colour_palette() == sns.color_palette("colorblind")
    assert plots.colour_palette(23) == sns.color_palette("colorblind", 23)


def test_no_global_style_or_backend_changes(cycle_traj):
    before = matplotlib.rcParams.copy()
    importlib.reload(plots)
    plots.plot_effort(cycle_traj, CYCLE_DICT)
    plots.plot_leaderboard(make_leaderboard(cycle_traj))
    assert matplotlib.rcParams == before


def test_many_developers_dashes_and_rank_ticks():
    n = 23
    rng = np.random.default_rng(1)
    traj = make_trajectory(rng.uniform(0, 2, size=(30, n)), theta=np.linspace(3.0, 0.5, n))
    dashes = plots.developer_dashes(traj)
    styles = list(dashes.values())
    assert styles[:10] == [""] * 10 and len(set(styles[10:20])) == 1 and styles[10] != ""
    assert styles[20] not in ("", styles[10])
    fig = plots.plot_rank_bump(traj)
    ax = fig.axes[0]
    assert ax.yaxis_inverted()
    assert ax.get_ylim() == (n + 0.5, 0.5)
    ticks = [t for t in ax.get_yticks() if 1 <= t <= n]
    assert all(float(t).is_integer() for t in ticks)
    fig = plots.plot_effort(traj)
    legend = fig.axes[0].get_legend()
    assert len(legend.get_texts()) == n
    assert legend.legend_handles[0].get_linestyle() == "-"
    assert legend.legend_handles[10].get_linestyle() != "-"


def test_failed_plot_leaves_no_open_figure(cycle_traj, conv_traj):
    stacked = pd.concat([cycle_traj.assign(scenario="a"), conv_traj.assign(scenario="b")], ignore_index=True)
    for call in (plots.plot_effort, plots.plot_scores, plots.plot_rank_bump,
                 lambda t: plots.plot_cycle(t, CYCLE_DICT), lambda t: plots.plot_leaderboard(t)):
        with pytest.raises(ValueError):
            call(stacked)
    with pytest.raises(ValueError, match="lacks column"):
        plots.dynamics_figure(cycle_traj, make_leaderboard(cycle_traj).drop(columns="kendall_tau"), CYCLE_DICT)
    assert plt.get_fignums() == []


def test_plot_leaderboard_long_run_is_thinned():
    rounds, budget = 20_000, 200
    t = np.arange(rounds + 1)
    board = pd.DataFrame(
        {
            "round": t,
            "ranking_correct": t % 2 == 0,  # 10^4 separate incorrect rounds
            "kendall_tau": np.where(t % 2 == 0, 1.0, 1 / 3),
            "total_effort": np.sin(t / 50.0) + 2.0,
            "rank_changes": np.r_[0, np.full(rounds, 2)],
        }
    )
    fig = plots.plot_leaderboard(board, max_points=budget)
    ax = fig.axes[0]
    (line,) = ax.lines
    assert len(line.get_xdata()) <= budget
    assert line.get_xdata()[0] == 0 and line.get_xdata()[-1] == rounds
    (shade,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert 1 <= len(shade.get_paths()) <= budget
    xs = np.concatenate([p.vertices[:, 0] for p in shade.get_paths()])
    assert xs.min() == 1 and xs.max() == rounds  # rounds 1, 3, ..., 19999 incorrect, merged into [1, 20000)


def test_outcome_title():
    assert plots.outcome_title(CYCLE_OUTCOME) == "arms race, period 6, from round 4"
    assert plots.outcome_title({"outcome": "no_convergence", "period": None, "entered_at": None}) == "no settling"
    assert plots.outcome_title({"outcome": "no_convergence", "period": None, "entered_at": None, "rounds": 2000}) == (
        "no settling within 2,000 rounds"
    )
    assert plots.outcome_title(SimpleNamespace(outcome="converged_nonzero", period=1, entered_at=7)) == (
        "settles at positive effort by round 7"
    )
    assert plots.outcome_title(CONV_OUTCOME) == "settles at zero effort by round 5"
    assert plots.outcome_title(None) == "dynamics"


# --------------------------------------------------------------------------- saving


def test_save_figure_writes_png_and_pdf_atomically(tmp_path, cycle_traj):
    fig = plots.plot_effort(cycle_traj, CYCLE_DICT)
    stem = tmp_path / "nested" / "dir" / "run.v2"
    paths = plots.save_figure(fig, stem)
    assert paths == [stem.parent / "run.v2.png", stem.parent / "run.v2.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    assert sorted(os.listdir(stem.parent)) == ["run.v2.pdf", "run.v2.png"]  # no temporary files left
    plots.save_figure(fig, stem)  # overwriting works too
    assert sorted(os.listdir(stem.parent)) == ["run.v2.pdf", "run.v2.png"]
    plain = stem.parent / "plain.txt"
    plain.write_text("x")
    for path in paths:  # ordinary permissions (the umask's), not a temporary file's 0600
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_save_figure_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    fig = plt.figure()

    def broken(path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_figure(fig, tmp_path / "out")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- sweeps

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy import stats  # noqa: E402

from sim.errors import ScenarioError  # noqa: E402

TAUS = [0.1, 1.0, 10.0, 100.0]
REWARDS = ['{"scheme": "winner_take_all"}', '{"k": 3, "scheme": "top_k"}']
AXES = {"developers.sample": "values", "reward": "values", "designer.tau": "logspace"}
REPS = 4


def make_sweep(new_columns: bool = False) -> pd.DataFrame:
    """A sweep table like sim.sweeps.read_results: reward (table-valued) x designer.tau (log-spaced) x 4 replications.

    Replication r converges to zero when tau >= 10 ** (r - 1) (so the share settling grows with tau);
    otherwise cycles with period 2 + r.  tau* of replication r is 10 ** (r - 1), inf for r = 3.
    """
    rows = []
    k = 0
    for p, (reward, tau) in enumerate((rw, t) for rw in REWARDS for t in TAUS):
        for r in range(REPS):
            settles = tau >= 10.0 ** (r - 1)
            rows.append({
                "scenario_index": k, "point": p, "replication": r, "seed": 100 + r,
                "developers.sample": '{"distribution": "uniform", "high": 1.0, "low": 0.2, "n": 5}',
                "reward": reward, "designer.tau": tau,
                "n": 5, "tau": tau, "rounds": 100, "outcome": "converged_zero" if settles else "cycle",
                "period": 1 if settles else 2 + r, "entered_at": 3,
                "mean_total_effort_tail": 0.0 if settles else float(10 * (r + 1) + p),
                "ranking_correct_share": 1.0 if settles else 0.25 * r,
                "tau_star": 10.0 ** (r - 1) if r < 3 else np.inf,
                "error": pd.NA,
            })
            k += 1
    frame = pd.DataFrame(rows)
    if new_columns:
        frame["kendall_tau_tail"] = np.where(frame["outcome"] == "cycle", -0.5, 1.0)
        frame["top1_correct_share"] = frame["ranking_correct_share"]
        frame["effort_tail"] = [[0.0] * 5 for _ in range(len(frame))]
        frame["utility_tail"] = [[0.1] * 5 for _ in range(len(frame))]
        frame["total_surplus_tail"] = 1.0 - frame["mean_total_effort_tail"] / 100
        frame["total_effort_tail"] = frame["mean_total_effort_tail"]
        frame["reward_label"] = frame["reward"].map({REWARDS[0]: "WTA", REWARDS[1]: "top-3"})
        frame.loc[frame["outcome"] != "cycle", "period"] = pd.NA
    return frame


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ('{"k": 3, "scheme": "top_k"}', "top_k(k=3)"),
        ('{"scheme": "winner_take_all"}', "winner_take_all"),
        ('{"distribution": "uniform", "high": 1.0, "low": 0.2, "n": 5}', "uniform(high=1, low=0.2, n=5)"),
        ('{"a": 1, "b": [1, 2]}', "a=1, b=[1, 2]"),
        (0.001, "0.001"),
        (np.float64(1e4), "10000"),
        (3, "3"),
        ("simultaneous", "simultaneous"),
        ("{not json", "{not json"),
        (None, "missing"),
    ],
)
def test_axis_value_label(value, label):
    assert plots.axis_value_label(value) == label


@given(scheme=st.sampled_from(["top_k", "zipf", "geometric"]),
       args=st.dictionaries(st.sampled_from(["k", "q", "exponent"]), st.integers(-5, 50), max_size=3))
def test_axis_value_label_of_any_table_names_the_kind_and_every_argument(scheme, args):
    import json

    label = plots.axis_value_label(json.dumps({"scheme": scheme, **args}, sort_keys=True))
    assert label.startswith(scheme)
    assert all(f"{k}={v}" in label for k, v in args.items())
    assert label.endswith(")") == bool(args)


def test_sweep_axes_from_the_manifest_or_the_columns():
    frame = make_sweep(new_columns=True)
    manifest = {"spec": {"axes": {"developers.sample": {"values": []}, "reward": {"values": []},
                                  "designer.tau": {"logspace": [-1, 2, 4]}}}}
    assert plots.sweep_axes(frame, manifest) == AXES
    assert plots.sweep_axes(frame) == dict.fromkeys(AXES, "values")  # no manifest: every non-result column


def test_sweep_measures_follow_the_columns():
    today, later = plots.sweep_measures(make_sweep()), plots.sweep_measures(make_sweep(new_columns=True))
    assert "outcome" in today and "ranking_correct_share" in today and "kendall_tau_tail" not in today
    assert {"kendall_tau_tail", "top1_correct_share", "total_surplus_tail", "total_effort_tail"} <= set(later)
    assert "effort_tail" not in later  # a list per developer is not a measure


def test_sweep_choice_defaults():
    frame = make_sweep()
    choice = plots.sweep_choice(frame, AXES)
    # developers.sample does not vary; reward is not numeric: x is tau (log), the stacked outcomes, reward in columns
    assert choice == plots.SweepChoice(x="designer.tau", y="outcome", col="reward", logx=True)
    choice = plots.sweep_choice(frame, AXES, y="ranking_correct_share")
    assert (choice.x, choice.hue, choice.col) == ("designer.tau", "reward", None)
    flags = frame.assign(flag=(frame["replication"] % 2 == 0).astype("boolean"))
    assert plots.sweep_choice(flags, {"flag": "values", **AXES}).x == "designer.tau"  # a bool axis is not numeric
    choice = plots.sweep_choice(frame, AXES, x="reward", y="period", row="designer.tau")
    assert (choice.hue, choice.col, choice.row, choice.logx) == (None, None, "designer.tau", False)


@pytest.mark.parametrize(
    ("kwargs", "field", "listed"),
    [
        ({"x": "tau"}, "x", "developers.sample, reward, designer.tau"),
        ({"hue": "reward.scheme"}, "hue", "developers.sample, reward, designer.tau"),
        ({"y": "kendall_tau_tail"}, "y", "outcome, converged_zero_share"),
        ({"y": "outcome", "hue": "reward"}, "hue", "col or row"),
        ({"x": "reward", "col": "reward", "y": "period"}, "axes", "different"),
    ],
)
def test_sweep_choice_errors_name_the_field_and_the_choices(kwargs, field, listed):
    with pytest.raises(ScenarioError, match=listed) as err:
        plots.sweep_choice(make_sweep(), AXES, **kwargs)
    assert err.value.field == field


def test_sweep_data_outcome_shares():
    choice = plots.sweep_choice(make_sweep(), AXES)
    data = plots.sweep_data(make_sweep(), choice)
    assert list(data.columns) == ["row", "col", "hue", "x", "outcome", "share", "count"]
    assert len(data) == len(REWARDS) * len(TAUS) * len(plots.OUTCOME_ORDER)
    assert data.groupby(["col", "x"])["share"].sum().tolist() == pytest.approx([1.0] * len(REWARDS) * len(TAUS))
    assert list(dict.fromkeys(data["col"])) == ["winner_take_all", "top_k(k=3)"]
    zero = data[data["outcome"] == "converged_zero"].groupby("x")["share"].first()
    # replication r settles when tau >= 10 ** (r - 1): 1, 2, 3, 4 of 4 at tau = 0.1, 1, 10, 100
    assert list(zero) == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert set(data.loc[data["outcome"] == "no_convergence", "share"]) == {0.0}  # absent outcomes present as 0
    assert set(data["count"]) == {REPS}


def test_sweep_data_mean_and_interval_over_replications():
    frame = make_sweep()
    choice = plots.sweep_choice(frame, AXES, y="mean_total_effort_tail")
    data = plots.sweep_data(frame, choice)
    cell = data[(data["hue"] == "top_k(k=3)") & (data["x"] == 0.1)].iloc[0]
    values = frame.loc[(frame["reward"] == REWARDS[1]) & (frame["designer.tau"] == 0.1), "mean_total_effort_tail"]
    half = stats.t.ppf(0.975, REPS - 1) * values.std(ddof=1) / np.sqrt(REPS)
    assert cell["mean"] == pytest.approx(values.mean())
    assert values.mean() - half < 0  # an effort: the interval is clipped at 0
    assert (cell["low"], cell["high"]) == pytest.approx((0.0, values.mean() + half))
    other = data[(data["hue"] == "winner_take_all") & (data["x"] == 1.0)].iloc[0]
    values = frame.loc[(frame["reward"] == REWARDS[0]) & (frame["designer.tau"] == 1.0), "mean_total_effort_tail"]
    half = stats.t.ppf(0.975, REPS - 1) * values.std(ddof=1) / np.sqrt(REPS)
    assert (other["low"], other["high"]) == pytest.approx((max(0.0, values.mean() - half), values.mean() + half))
    assert cell["count"] == REPS
    low = plots.sweep_data(frame, plots.sweep_choice(frame, AXES, y="ranking_correct_share"))
    assert (low["low"] >= 0).all() and (low["high"] <= 1).all() and (low["high"] == 1).all()  # clipped to [0, 1]
    single = plots.sweep_data(frame[frame["replication"] == 0], choice)
    assert (single["low"] == single["mean"]).all() and (single["high"] == single["mean"]).all()


def test_sweep_data_share_measure_has_a_wilson_interval():
    frame = make_sweep()
    data = plots.sweep_data(frame, plots.sweep_choice(frame, AXES, y="cycle_share"))
    top = data[(data["x"] == 100.0)].iloc[0]  # 0 of 4 cycle
    assert top["mean"] == 0.0 and top["low"] == pytest.approx(0.0, abs=1e-12)
    assert top["high"] == pytest.approx(0.4899, abs=1e-4)  # Wilson 95% upper bound of 0/4
    half = data[(data["x"] == 1.0)].iloc[0]  # 2 of 4
    assert half["mean"] == 0.5 and half["low"] + half["high"] == pytest.approx(1.0)


def test_sweep_data_period_counts_cycles_only_and_errors_are_dropped():
    for new_columns in (False, True):  # period 1 of a fixed point today, null later: the same figure
        frame = make_sweep(new_columns)
        frame.loc[1, ["error", "outcome", "period"]] = ["ValueError: boom", pd.NA, pd.NA]  # a cycle at r = 1
        data = plots.sweep_data(frame, plots.sweep_choice(frame, AXES, y="period"))
        wta = "WTA" if new_columns else "winner_take_all"  # reward_label when present
        cell = data[(data["hue"] == wta) & (data["x"] == 0.1)].iloc[0]
        assert cell["count"] == 2 and cell["mean"] == pytest.approx((4 + 5) / 2)  # r = 2, 3 (r = 0 settles)
        assert 100.0 not in set(data["x"])  # nothing cycles there


def test_sweep_data_uses_label_columns():
    frame = make_sweep(new_columns=True)
    data = plots.sweep_data(frame, plots.sweep_choice(frame, AXES, y="kendall_tau_tail"))
    assert list(dict.fromkeys(data["hue"])) == ["WTA", "top-3"]
    assert data["mean"].between(-0.5, 1.0).all()


def test_sweep_data_bins_a_random_axis():
    rng = np.random.default_rng(3)
    tau = np.exp(rng.uniform(np.log(0.1), np.log(1e4), 300))
    frame = pd.DataFrame({"designer.tau": tau, "outcome": np.where(tau > 100, "converged_zero", "cycle"),
                          "ranking_correct_share": (tau > 100).astype(float)})
    choice = plots.sweep_choice(frame, {"designer.tau": "loguniform"}, y="converged_zero_share")
    data = plots.sweep_data(frame, choice)
    assert data.attrs["x_binned"] and len(data) == plots.X_BINS
    assert data["count"].sum() == 300
    ratios = data["x"].to_numpy()[1:] / data["x"].to_numpy()[:-1]
    assert ratios == pytest.approx(np.full(plots.X_BINS - 1, ratios[0]))  # log-spaced bin centres
    assert list(data["mean"].iloc[[0, -1]]) == [0.0, 1.0]


def test_tau_star_data_median_and_iqr_leave_out_inf():
    frame = make_sweep()
    stars = plots.tau_star_data(frame, plots.sweep_choice(frame, AXES, y="period"))
    assert list(stars["hue"]) == ["winner_take_all", "top_k(k=3)"]
    finite = [0.1, 1.0, 10.0] * len(TAUS)  # r = 3 has tau* = inf
    assert stars["median"].tolist() == pytest.approx([np.median(finite)] * 2)
    assert stars["q25"].tolist() == pytest.approx([np.quantile(finite, 0.25)] * 2)
    assert stars["q75"].tolist() == pytest.approx([np.quantile(finite, 0.75)] * 2)
    assert plots.tau_star_data(frame.drop(columns="tau_star"), plots.sweep_choice(frame, AXES)).empty


def test_sweep_figure_outcome_panels_log_x_and_tau_star():
    fig = plots.sweep_figure(make_sweep(), axes=AXES, title="demo")
    panels = [ax for ax in fig.axes]
    assert len(panels) == len(REWARDS)
    assert [ax.get_title() for ax in panels] == ["reward = winner_take_all", "reward = top_k(k=3)"]
    assert all(ax.get_xscale() == "log" for ax in panels)
    dashed = [line for line in panels[0].lines if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == pytest.approx([1.0])  # median tau*
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:4] == [plots.OUTCOME_WORDS[o] for o in plots.OUTCOME_ORDER] and "τ*" in texts[4]
    assert fig.get_suptitle() == "demo"
    assert panels[0].get_ylim() == pytest.approx((-0.02, 1.02))


def test_sweep_figure_measure_with_hue_and_categorical_x():
    frame = make_sweep(new_columns=True)
    fig = plots.sweep_figure(frame, y="kendall_tau_tail", axes=AXES)
    (ax,) = fig.axes
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(solid) == len(REWARDS) and all(len(line.get_xdata()) == len(TAUS) for line in solid)
    assert len(ax.collections) >= len(REWARDS)  # one interval band per hue level
    fig = plots.sweep_figure(frame, x="reward", y="total_surplus_tail", axes=AXES)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["WTA", "top-3"]
    assert fig.axes[0].get_xscale() == "linear"
    fig = plots.sweep_figure(frame, x="reward", axes=AXES)  # stacked bars over a categorical x
    assert len(fig.axes[0].patches) == len(REWARDS) * len(plots.OUTCOME_ORDER)


def test_sweep_figure_bad_names_leave_no_figure_open():
    with pytest.raises(ScenarioError, match="choose from"):
        plots.sweep_figure(make_sweep(), x="nope", axes=AXES)
    assert plt.get_fignums() == []


def test_score_gaps_to_the_leader_and_crowded_scores(cycle_traj):
    gaps = plots.score_data(cycle_traj, relative=True)
    published = plots.score_data(cycle_traj)
    top = cycle_traj.groupby("round")["published"].max()
    assert gaps["gap"].to_numpy() == pytest.approx(published["published"].to_numpy() - top[gaps["round"]].to_numpy())
    assert (gaps["gap"] <= 0).all() and (gaps.groupby("round")["gap"].max() == 0).all()
    assert not plots.scores_crowded(cycle_traj)
    # two developers a thousandth apart beside one far below: crowded, drawn as gaps on a symlog axis
    crowded = make_trajectory(np.zeros((5, 3)), theta=np.array([2.0, 1.999, 0.2]))
    assert plots.scores_crowded(crowded)
    fig = plots.plot_scores(crowded, relative=None)
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog" and "leader" in ax.get_ylabel()
    assert ax.get_ylim()[1] > 0  # the leader's line (gap 0) inside the frame
    assert plots.plot_scores(crowded).axes[0].get_yscale() == "linear"  # relative=False by default


@pytest.mark.parametrize(
    ("values", "logx", "expected"),
    [
        ([0.1, 1.0, 10.0], True, ("log", None)),
        ([1.0, 10.0, 1000.0], False, ("log", None)),  # positive, two decades
        ([0.0, 100.0, 1000.0], False, ("symlog", 100.0)),
        ([0.0, 0.05, 2.0], False, ("symlog", 0.01)),
        ([1.0, 2.0, 3.0], False, ("linear", None)),
        ([-1.0, 10.0, 1000.0], False, ("linear", None)),
        ([0.0, 1.0, 5.0], False, ("linear", None)),  # less than a decade
    ],
)
def test_sweep_xscale(values, logx, expected):
    assert plots.sweep_xscale(pd.Series(values), logx) == expected


def test_sweep_figure_wraps_many_columns_and_notes_tau_star_beyond_the_range():
    frame = pd.concat([make_sweep().assign(reward=f'{{"scheme": "s{i}"}}') for i in range(5)], ignore_index=True)
    frame["tau_star"] = 5e4
    fig = plots.sweep_figure(frame, axes=AXES)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5 and len(fig.axes) == 6  # 2 rows of COL_WRAP = 3, the last slot hidden
    assert [ax.get_title() for ax in visible] == [f"reward = s{i}" for i in range(5)]
    assert all(ax.get_xlabel() for ax in visible[2:]) and not visible[0].get_xlabel()
    assert max(visible[0].get_xlim()) < 5e4
    assert all(any(t.get_text() == "τ* = 50,000 →" for t in ax.texts) for ax in visible)


# --------------------------------------------------------------------------- long, fast-flipping windows


def _flipping(rounds: int) -> pd.DataFrame:
    """Two developers whose ranks swap every round: the weaker spends enough to lead on odd rounds."""
    effort = np.zeros((rounds, len(THETA)))
    effort[1::2, int(np.argmin(THETA))] = 50.0
    return make_trajectory(effort)


def test_smoothing_rounds_only_for_long_windows_that_flip():
    assert plots.smoothing_rounds(_flipping(plots.SMOOTH_ROUNDS)) == 1  # short enough to draw round by round
    long = _flipping(2000)
    assert plots.smoothing_rounds(long) == max(2, round(plots.SMOOTH_SHARE * 2000))
    steady = make_trajectory(np.zeros((2000, len(THETA))))
    assert plots.smoothing_rounds(steady) == 1  # nothing changes: no smoothing


def test_smoothed_bump_data_is_the_rolling_mean_rank():
    trajectory = _flipping(1000)
    w = plots.smoothing_rounds(trajectory)
    data = plots.bump_data(trajectory, max_points=None, smooth=w)
    weakest = int(np.argmin(THETA))
    mine = data[data["developer"] == weakest].set_index("round")["rank"]
    raw = trajectory[trajectory["developer"] == weakest].set_index("round")["rank"].astype(float)
    expected = raw.rolling(w, center=True, min_periods=1).mean()
    np.testing.assert_allclose(mine.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    assert 1.0 < float(mine.iloc[len(mine) // 2]) < float(len(THETA))  # between its two places, not on one


def test_dynamics_figure_smooths_a_long_flipping_window_and_says_so():
    trajectory = _flipping(1200)
    board = trajectory.groupby("round").agg(total_effort=("effort", "sum")).reset_index()
    board = board.assign(ranking_correct=(board["round"] % 2 == 0), kendall_tau=np.where(board["round"] % 2, -1.0, 1.0))
    fig = plots.dynamics_figure(trajectory, board, {"outcome": "no_convergence", "rounds": 1199},
                                window=(0, 1199))
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("mean rank per developer (rolling mean") for t in titles)
    plt.close(fig)


@given(st.lists(st.floats(1.0, 10.0), min_size=1, max_size=10))
def test_dodged_labels_keep_their_gap_and_stay_on_the_axis(ranks):
    n = 10
    y = plots.dodge_labels(ranks, n)
    gap = min(0.8, n / len(ranks))
    ordered = np.sort(y)
    assert np.all(np.diff(ordered) >= gap - 1e-9)
    assert ordered[0] >= 0.5 - 1e-9 or len(ranks) * gap > n  # inside the axis whenever they fit
    assert ordered[-1] <= n + 0.5


def test_default_tau_window_of_a_cycle_longer_than_half_the_run():
    assert plots.default_tau_window({"outcome": "cycle", "period": 4470, "entered_at": 0}, 4471) == 4471 // 50
