"""Tests of experiments/dynamics_gallery.py: the two runs agree with the theory, the frames and the figure."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from experiments import dynamics_gallery as dg
from sim.errors import ScenarioError
from sim.scenario import load_scenario, parse_scenario

matplotlib.use("Agg")

ROUNDS = 60


@pytest.fixture(scope="module")
def runs():
    return dg.gallery_runs(rounds=ROUNDS)


def test_converging_panel_is_at_or_above_tau_star_and_converges_to_zero(runs):
    conv = runs["converging"]
    assert 0 < conv["tau_star"] < np.inf and conv["tau_star_vouched"]
    assert conv["tau"] == pytest.approx(dg.TAU_FACTOR * conv["tau_star"])
    assert conv["outcome"].outcome == "converged_zero"
    assert (conv["trajectory"]["effort"] == 0.0).all()
    assert conv["leaderboard"]["ranking_correct"].all()


def test_race_panel_is_below_tau_star_and_cycles(runs):
    race = runs["cycle"]
    assert race["tau"] == 0.0 < race["tau_star"]
    out = race["outcome"]
    assert out.outcome == "cycle" and out.period >= 2
    effort = race["trajectory"].pivot(index="round", columns="developer", values="effort").to_numpy()
    start, period = out.entered_at, out.period
    np.testing.assert_array_equal(effort[start], effort[start + period])  # the profile recurs after one period
    assert effort[start + 1 : start + period].max() > 0  # and the race spends effort on the way
    assert not race["leaderboard"]["ranking_correct"].all()


def test_gallery_refuses_a_factor_below_one_and_a_scenario_without_a_race():
    with pytest.raises(ScenarioError, match="tau_factor"):
        dg.gallery_runs(tau_factor=0.5, rounds=5)
    data = load_scenario(dg.SCENARIO).to_dict()
    data["cost"]["scale"] = 100.0  # the prize is worth 0.01 effort units: zero is an equilibrium at tau = 0
    with pytest.raises(ScenarioError, match="designer.tau"):
        dg.gallery_runs(parse_scenario(data), rounds=5)


def test_frames_and_run_table(runs):
    table = dg.run_table(runs).set_index("panel")
    assert table.loc["converging", "predicted_stable"] and not table.loc["cycle", "predicted_stable"]
    stacked = dg.stacked(runs, "trajectory")
    assert list(stacked.columns[:2]) == ["panel", "tau"]
    assert len(stacked) == sum(len(r["trajectory"]) for r in runs.values())
    assert set(stacked["panel"]) == set(dg.PANELS)
    out = runs["cycle"]["outcome"]
    assert dg.shown_rounds(runs, periods=1) == out.entered_at + out.period
    assert dg.shown_rounds(runs, periods=10**6) == ROUNDS


def test_gallery_figure_has_two_columns_three_rows_and_shades_the_cycle(runs):
    import matplotlib.pyplot as plt

    fig = dg.gallery_figure(runs)
    try:
        axes = np.array(fig.axes).reshape(3, 2)
        assert "≥ τ*" in axes[0, 0].get_title() and "< τ*" in axes[0, 1].get_title()
        assert axes[0, 0].get_ylabel() == "additional effort (effort units)"
        assert all(ax.get_legend() is None for ax in axes[:2].flat) and len(fig.legends) == 1
        for ax in axes[:, 1]:  # one cycle shaded in every row of the race column
            assert any(p.get_alpha() == pytest.approx(0.18) for p in ax.patches)
        low, high = axes[0, 1].get_ylim()
        assert low < 0 < high and high >= runs["cycle"]["trajectory"]["effort"].max()
    finally:
        plt.close(fig)
