"""experiments/strategies.py: its data preparation on hand-made tables (the quick run itself is checked by
tests/test_experiments.py)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments import strategies as exp


def _table(rows):
    return pd.DataFrame(rows, columns=["strategy", "tau", "tau_star", "tau_star_vouched", "outcome"])


@settings(max_examples=20, deadline=None)  # each example is a few pandas group-bys
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(1e-3, 1e3), st.floats(1e-2, 1e2),
                          st.sampled_from(["converged_zero", "cycle", "no_convergence"])), min_size=1, max_size=40))
def test_phase_cells_count_every_run_once_and_average_exactly(rows):
    table = _table([(s, tau, ts, True, o) for s, tau, ts, o in rows])
    cells = exp.phase_cells(table)
    assert cells["runs"].sum() == len(table)
    for strategy, g in cells.groupby("strategy"):
        part = table[table["strategy"] == strategy]
        zero = (part["outcome"] == "converged_zero").to_numpy()
        assert (g["converged_zero_share"] * g["runs"]).sum() == pytest.approx(zero.sum())
        assert (g["predicted_share"] * g["runs"]).sum() == pytest.approx((part["tau"] >= part["tau_star"]).sum())
    assert (cells["ratio_low"] < cells["ratio_high"]).all()
    # a bin lies wholly on one side of tau / tau* = 1 (1 is an edge), so its prediction is 0 or 1
    assert set(cells["predicted_share"].unique()) <= {0.0, 1.0}


def test_phase_cells_leave_out_runs_without_a_usable_tau_star():
    table = _table([
        ("a", 1.0, np.nan, False, "cycle"),     # undetermined
        ("a", 1.0, np.inf, True, "cycle"),      # never stabilises
        ("a", 1.0, 0.0, True, "converged_zero"),  # stable from tau = 0: no ratio
        ("a", 1.0, 2.0, False, "cycle"),        # not vouched for
        ("a", 3.0, 2.0, True, "converged_zero"),
        ("a", 1e6, 2.0, True, "converged_zero"),  # beyond the last edge: the last bin
    ])  # fmt: skip
    cells = exp.phase_cells(table)
    assert cells["runs"].sum() == 2
    assert cells["bin"].max() == len(exp.RATIO_EDGES) - 2
    assert (cells["converged_zero_share"] == 1.0).all()


def test_phase_headline():
    table = _table([("a", 1.0, 2.0, True, "cycle"), ("a", 1.0, 2.0, True, "converged_zero"),
                    ("a", 4.0, 2.0, True, "converged_zero"), ("b", 4.0, 2.0, True, "cycle")])
    out = exp.phase_headline(table, ["a", "b"])
    assert out["a"] == {"below": 0.5, "above": 1.0}
    assert np.isnan(out["b"]["below"]) and out["b"]["above"] == 0.0


def test_ranking_orders_by_mean_utility():
    summary = pd.DataFrame({"strategy": ["x", "y", "z"], "mean_utility": [0.1, 0.3, 0.2]})
    ranked = exp.ranking(summary)
    assert ranked["strategy"].tolist() == ["y", "z", "x"] and ranked["place"].tolist() == [1, 2, 3]


def test_strategies_are_distinct_and_labelled_as_the_tournament_labels_them():
    labels = [exp.strategy_label(s) for s in exp.STRATEGIES]
    assert len(set(labels)) == len(labels) == 8
    assert "hedge(eta=0.1)" in labels and "best" in labels
    assert exp._decoded('{"name": "hedge", "eta": 0.1}') == {"name": "hedge", "eta": 0.1}
    assert exp._decoded('"best"') == "best" and exp._decoded("best") == "best"


def test_leaders_are_those_whose_interval_reaches_the_best_mean():
    summary = pd.DataFrame({"strategy": ["x", "y", "z"], "mean_utility": [0.5, 0.45, 0.2],
                            "utility_high": [0.55, 0.51, 0.49]})
    assert exp.leaders(summary) == ["x", "y"]
