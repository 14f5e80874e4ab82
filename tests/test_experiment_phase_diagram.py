"""Tests of experiments/phase_diagram.py: outcome shares, cell summaries, tau* bands, agreement, and a tiny sweep."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from experiments import phase_diagram as pd_exp
from sim.analysis import OUTCOMES
from sim.errors import ScenarioError
from sim.sweeps import sweep, sweep_spec

matplotlib.use("Agg")


def frame(rows, columns=("cell", "outcome")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


# --------------------------------------------------------------------------- outcome shares


def test_outcome_shares_counts_a_hand_made_frame():
    table = frame([("a", "cycle"), ("a", "cycle"), ("a", "converged_zero"), ("b", "no_convergence"), ("b", None)])
    shares = pd_exp.outcome_shares(table, "cell").set_index(["cell", "outcome"])
    assert shares.loc[("a", "cycle"), "count"] == 2
    assert shares.loc[("a", "converged_zero"), "count"] == 1
    assert shares.loc[("a", "no_convergence"), "count"] == 0  # every outcome listed, zero counts included
    assert shares.loc[("a", "cycle"), "share"] == pytest.approx(2 / 3)
    assert shares.loc[("b", "no_convergence"), "share"] == 1.0  # the failed row (no outcome) is left out
    assert (shares.loc["b", "scenarios"] == 1).all()
    assert set(shares.reset_index()["outcome"]) == set(OUTCOMES)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(OUTCOMES)), min_size=1, max_size=60))
def test_property_outcome_shares_sum_to_one_and_match_value_counts(rows):
    table = frame(rows)
    shares = pd_exp.outcome_shares(table, ["cell"])
    totals = shares.groupby("cell")["share"].sum()
    np.testing.assert_allclose(totals.to_numpy(), 1.0, rtol=0, atol=1e-12)
    assert set(shares["cell"]) == set(table["cell"])  # empty cells are not invented
    for (cell, outcome), count in table.value_counts(["cell", "outcome"]).items():
        row = shares[(shares["cell"] == cell) & (shares["outcome"] == outcome)]
        assert int(row["count"].iloc[0]) == count


def test_outcome_shares_refuses_an_unknown_outcome():
    with pytest.raises(ScenarioError, match="outcome"):
        pd_exp.outcome_shares(frame([("a", "diverged")]), "cell")


# --------------------------------------------------------------------------- cells, bands, agreement


def played_frame() -> pd.DataFrame:
    """Two rows x two taus x three replications; tau* per replication, one sawtooth disagreement."""
    rows = []
    tau_star = {("x", 0): 5.0, ("x", 1): 20.0, ("x", 2): np.inf, ("y", 0): 1.0, ("y", 1): 2.0, ("y", 2): 3.0}
    for (row, rep), star in tau_star.items():
        for tau in (1.5, 10.0):
            stable = tau >= star
            outcome = "converged_zero" if stable else "cycle"
            equilibrium = stable
            if (row, rep, tau) == ("x", 1, 10.0):  # zero is an equilibrium below tau*: the sawtooth
                outcome, equilibrium = "converged_zero", True
            rows.append({"row": row, "replication": rep, "tau": tau, "tau_star": star, "outcome": outcome,
                         "predicted_stable": stable, "zero_is_equilibrium": equilibrium,
                         "tau_star_vouched": True, "error": None})
    return pd.DataFrame(rows)


def test_cell_summary_shares_and_disagreements():
    cells = pd_exp.cell_summary(played_frame(), "row").set_index(["row", "tau"])
    assert (cells["scenarios"] == 3).all()
    assert cells.loc[("x", 10.0), "zero_share"] == pytest.approx(2 / 3)
    assert cells.loc[("x", 10.0), "predicted_share"] == pytest.approx(1 / 3)
    assert cells.loc[("x", 10.0), "disagreements"] == 1
    assert cells.loc[("y", 1.5), "zero_share"] == pytest.approx(1 / 3)  # only tau* = 1 <= 1.5
    assert cells["disagreements"].sum() == 1
    np.testing.assert_allclose(cells["zero_share"] + cells["cycle_share"] + cells["no_convergence_share"], 1.0)


def test_tau_star_band_keeps_one_value_per_replication():
    band = pd_exp.tau_star_band(played_frame(), "row").set_index("row")
    assert band.loc["y", "replications"] == 3  # not 6: tau* does not depend on tau
    assert band.loc["y", "tau_star_median"] == 2.0
    assert band.loc["y", "tau_star_q25"] == pytest.approx(np.quantile([1.0, 2.0, 3.0], 0.25))
    assert band.loc["x", "infinite"] == 1 and band.loc["y", "infinite"] == 0
    assert band.loc["x", "tau_star_median"] == 20.0


def test_agreement_counts_the_sawtooth_disagreement():
    agree = pd_exp.agreement(played_frame())
    assert agree["runs"] == 12
    assert agree["disagreements"] == 1
    assert agree["zero_equilibrium_below_tau_star"] == 1
    assert agree["agreement_with_tau_star"] == pytest.approx(11 / 12)
    assert agree["agreement_with_zero_equilibrium"] == 1.0


def test_played_drops_failed_rows_and_fills_missing_flags():
    table = played_frame()
    table.loc[0, "error"] = "ValueError: boom"
    table["predicted_stable"] = table["predicted_stable"].astype("boolean")
    table.loc[1, "predicted_stable"] = pd.NA
    ok = pd_exp.played(table)
    assert len(ok) == len(table) - 1
    assert ok["predicted_stable"].dtype == bool and not ok.loc[1, "predicted_stable"]


# --------------------------------------------------------------------------- labels, gaps, axes helpers


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ({"scheme": "winner_take_all"}, "winner-take-all"),
        ('{"k": 2, "scheme": "top_k"}', "top-2"),
        ({"scheme": "geometric", "q": 0.25}, "geometric (q=0.25)"),
        ({"scheme": "zipf"}, "Zipf (s=1)"),
        ({"scheme": "linear"}, "linear"),
    ],
)
def test_scheme_label(value, label):
    assert pd_exp.scheme_label(value) == label


def test_scheme_label_refuses_an_unknown_scheme():
    with pytest.raises(ScenarioError, match="reward.scheme"):
        pd_exp.scheme_label({"scheme": "lottery"})


def test_with_gap_is_the_prize_in_effort_units_and_refuses_a_zero_scale():
    table = pd.DataFrame({"cost.scale": [0.002, 0.1]})
    np.testing.assert_allclose(pd_exp.with_gap(table)["reward_gap"], [500.0, 10.0])
    with pytest.raises(ScenarioError, match="cost.scale"):
        pd_exp.with_gap(pd.DataFrame({"cost.scale": [0.0]}))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(1e-3, 1e6), min_size=1, max_size=12, unique=True))
def test_property_log_edges_bracket_every_centre(values):
    centres = np.unique(values)
    # Centres a few ulps apart have no float between them (nor between their logs): no edge can separate them.
    assume(np.all(np.diff(np.log(centres)) > 1e-9))
    edges = pd_exp.log_edges(centres)
    assert len(edges) == len(centres) + 1
    assert np.all(np.diff(edges) > 0)
    assert np.all((edges[:-1] < centres) & (centres < edges[1:]))


def test_loglog_slope_recovers_a_power_law_and_skips_non_finite():
    x = np.array([1.0, 10.0, 100.0, 1000.0])
    assert pd_exp.loglog_slope(np.r_[x, 5.0], np.r_[3 * x**0.8, np.inf]) == pytest.approx(0.8)
    assert np.isnan(pd_exp.loglog_slope([1.0], [2.0]))


def test_reduced_spec_keeps_seed_and_refuses_an_unknown_axis():
    scheme, gap = pd_exp.load_specs(quick=False)
    small = pd_exp.reduced_spec(scheme, replications=2, axes={"designer.tau": [1.0, 10.0]})
    assert small.seed == scheme.seed and small.replications == 2
    assert small.points == len(pd_exp.axes_dict(scheme)["reward"]) * 2
    with pytest.raises(ScenarioError, match="axes"):
        pd_exp.reduced_spec(gap, replications=1, axes={"reward.scheme": ["linear"]})
    quick_scheme, quick_gap = pd_exp.load_specs(quick=True)
    assert quick_scheme.scenarios < scheme.scenarios and quick_gap.scenarios < gap.scenarios


def test_plot_functions_draw_both_panels():
    table = played_frame().assign(reward=lambda f: f["row"].map({"x": json.dumps({"scheme": "linear"}),
                                                              "y": json.dumps({"scheme": "winner_take_all"})}))
    scheme = pd_exp.with_scheme(table)
    gap = table.assign(reward_gap=table["row"].map({"x": 10.0, "y": 100.0}))
    fig = pd_exp.phase_figure(pd_exp.cell_summary(scheme, "scheme"), pd_exp.tau_star_band(scheme, "scheme"),
                              pd_exp.cell_summary(gap, "reward_gap"), pd_exp.tau_star_band(gap, "reward_gap"))
    try:
        heat = [ax for ax in fig.axes if ax.get_xscale() == "log"]
        assert len(heat) == 2 and heat[1].get_yscale() == "log"
        assert [t.get_text() for t in heat[0].get_yticklabels()] == ["linear", "winner-take-all"]
        assert "effort units" in heat[0].get_xlabel() and "effort units" in heat[1].get_ylabel()
        assert len(fig.legends) == 1
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


# --------------------------------------------------------------------------- a tiny real sweep


def test_tiny_sweep_outcomes_follow_the_theory():
    """From all-zero under simultaneous best responses, play stays at zero iff zero is an equilibrium
    (Proposition 4.5); far above every tau* all runs stay at zero, at tau = 0.1 none does."""
    base = pd_exp.load_specs(quick=True)[0].base
    axes = {"developers.sample": [{"n": 4, "distribution": "uniform", "low": 0.2, "high": 1.0}],
            "leaderboard.resolution": [1e-3], "dynamics.rounds": [300], "designer.tau": [0.1, 1e5]}
    table = pd_exp.played(sweep(sweep_spec(base, axes, replications=3, seed=4)))
    assert len(table) == 6
    assert ((table["outcome"] == "converged_zero") == table["zero_is_equilibrium"]).all()
    high, low = table[table["tau"] == 1e5], table[table["tau"] == 0.1]
    assert (high["tau"] >= high["tau_star"]).all() and (high["outcome"] == "converged_zero").all()
    assert (low["tau"] < low["tau_star"]).all() and (low["outcome"] != "converged_zero").all()
    assert pd_exp.agreement(table)["agreement_with_tau_star"] == 1.0
