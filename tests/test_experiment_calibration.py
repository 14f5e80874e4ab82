"""Tests for experiments.calibration: model choice, the calibrated scenario and its committed copy."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments import calibration as exp
from sim.realdata import first_principal_component, load_lm_harmony, wide_matrix
from sim.scenario import load_scenario, parse_scenario
from sim.theory import zero_is_equilibrium


@pytest.fixture(scope="module")
def cal() -> exp.Calibration:
    return exp.calibrate()


@pytest.fixture(scope="module")
def scenario_data(cal) -> dict:
    return exp.calibrated_scenario(cal)


def _numbers(value):
    """Flatten a parsed scenario into (path, value) pairs for a numeric comparison."""
    if isinstance(value, dict):
        return [(f"{k}.{p}" if p else k, v) for k, sub in value.items() for p, v in _numbers(sub)]
    if isinstance(value, list):
        return [(f"[{i}]{'.' + p if p else ''}", v) for i, item in enumerate(value) for p, v in _numbers(item)]
    return [("", value)]


def test_committed_scenario_equals_what_the_code_produces(cal):
    """scenarios/lm_harmony_calibrated.toml cannot drift from experiments.calibration: same parameters to 1e-9."""
    committed = load_scenario(exp.SCENARIO_FILE)
    produced = parse_scenario(tomllib.loads(exp.calibrated_scenario_text(cal)))
    ours, theirs = dict(_numbers(committed.to_dict())), dict(_numbers(produced.to_dict()))
    assert ours.keys() == theirs.keys()
    for key, value in ours.items():
        if isinstance(value, float):
            assert value == pytest.approx(theirs[key], rel=1e-9, abs=1e-9), key
        else:
            assert value == theirs[key], key


def test_scenario_passes_through_the_observed_points(cal, scenario_data):
    """Effort 0 is direct evaluation and effort 1 one train-before-test run: the calibrated curves hit both."""
    scenario = parse_scenario(scenario_data)
    table = cal.table.set_index("model")
    score = scenario.bound_score()
    for i, model in enumerate(cal.models):
        direct, tbt = score[i].score(np.array([0.0, exp.TBT_EFFORT]))
        assert direct == pytest.approx(table.loc[model, "direct"], abs=1e-12)
        assert tbt == pytest.approx(table.loc[model, "tbt"], abs=1e-12)
    assert scenario.score.effort_unit == exp.EFFORT_UNIT == 1.0
    assert (scenario.score.lower, scenario.score.upper) == (exp.LOWER, exp.UPPER)


def test_capability_is_pc1_of_train_before_test(cal, scenario_data):
    pc1, share = first_principal_component(wide_matrix(load_lm_harmony(), "train_before_test"))
    assert scenario_data["developers"]["capability"] == [pc1[m] for m in cal.models]
    assert cal.pc1_share == share
    # Developers are listed strongest first.
    assert scenario_data["developers"]["capability"] == sorted(scenario_data["developers"]["capability"],
                                                               reverse=True)


def test_chosen_models_follow_the_stated_rules(cal):
    table = cal.table.set_index("model")
    assert len(cal.models) == exp.N_MODELS == len(set(cal.models))
    for model in cal.models:
        row = table.loc[model]
        assert row["candidate"] and exp.is_base_model(model)
        assert row["direct"] - exp.LOWER > exp.MIN_Z * row["direct_stderr"]
        assert row["tbt"] > row["direct"]
    candidates = table[table["candidate"]]
    assert candidates["candidate"].eq(candidates["base"] & candidates["above_chance"] & candidates["improves"]).all()
    # The spread reaches both ends of the candidates' PC1 range.
    assert cal.models[0] == candidates["pc1"].idxmax() and cal.models[-1] == candidates["pc1"].idxmin()
    assert np.all(cal.fit.beta > 0)


@pytest.mark.parametrize(
    "name, base",
    [
        ("google/gemma-2b", True),
        ("meta-llama/Meta-Llama-3-8B", True),
        ("Qwen/Qwen2-7B-Instruct", False),
        ("Qwen/Qwen1.5-7B-Chat", False),
        ("google/gemma-2-9b-it", False),
        ("meta-llama/Meta-Llama-3-8B-Instruct", False),
    ],
)
def test_is_base_model(name, base):
    assert exp.is_base_model(name) is base


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.data())
def test_select_models_on_an_even_grid_returns_the_targets(n, data):
    """On a pool that already is an evenly spaced grid of n - 1 steps, every target sits on a model."""
    k = data.draw(st.sampled_from([d + 1 for d in range(1, n) if (n - 1) % d == 0]))  # k - 1 divides n - 1
    pool = pd.Series(np.arange(n, dtype=float), index=[f"m{i}" for i in range(n)])
    chosen = exp.select_models(pool, k)
    step = (n - 1) // (k - 1)
    assert chosen == [f"m{i}" for i in range(n - 1, -1, -step)]


def test_select_models_spreads_and_errors():
    rng = np.random.default_rng(3)
    pool = pd.Series(rng.normal(size=40), index=[f"m{i}" for i in range(40)])
    chosen = exp.select_models(pool, 8)
    assert len(set(chosen)) == 8
    assert chosen[0] == pool.idxmax() and chosen[-1] == pool.idxmin()
    assert list(pool[chosen]) == sorted(pool[chosen], reverse=True)
    with pytest.raises(ValueError, match="k must be"):
        exp.select_models(pool, 41)
    with pytest.raises(ValueError, match="k must be"):
        exp.select_models(pool, 0)


def test_tau_star_is_where_the_zero_profile_becomes_an_equilibrium(scenario_data):
    """tau* (Definition 5.4) from sim.theory: the all-zero profile is a PNE (Proposition 4.5) at every tau
    above it and fails just below it."""
    theory = exp.scenario_theory(scenario_data)
    tau_star = theory["tau_star"]
    assert np.isfinite(tau_star) and tau_star > 0 and theory["tau_star_vouched"]
    scenario = parse_scenario(scenario_data)
    for tau in (tau_star * 1.001, np.ceil(tau_star), 2 * tau_star, 10 * tau_star):
        assert zero_is_equilibrium(scenario.game(tau=float(tau)))
    assert not zero_is_equilibrium(scenario.game(tau=tau_star * 0.999))


def test_header_documents_the_choices(cal):
    text = exp.calibrated_scenario_text(cal)
    header = text.split("\nname = ")[0]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    for words in ("one train-before-test fine-tuning run", "effort_unit e0 = 1", "exactly identified",
                  "L = 0.5", "U = 1", "PC1", "top-3", "MIT licence", "python3 -m sim.cli check"):
        assert words in header, words
    for model in cal.models:
        assert model in header


def test_fit_table_and_curves(cal):
    table = exp.fit_table(cal)
    assert table["chosen"].sum() == exp.N_MODELS
    fitted = table[table["candidate"]]
    assert fitted["beta"].notna().all() and table.loc[~table["candidate"], "beta"].isna().all()
    curves = exp.curve_data(cal)
    assert set(curves["model"]) == set(cal.models)
    for model in cal.models:
        part = curves[curves["model"] == model]
        assert np.all(np.diff(part["score"]) > 0)  # beta > 0: rising in effort
        assert np.all((part["score"] > exp.LOWER) & (part["score"] < exp.UPPER))
    points = exp.observed_points(cal)
    assert len(points) == 2 * exp.N_MODELS and set(points["effort"]) == {0.0, exp.TBT_EFFORT}


def test_plots_have_labelled_axes(cal):
    import matplotlib.pyplot as plt

    curves, points, table = exp.curve_data(cal), exp.observed_points(cal), exp.fit_table(cal)
    fig = exp.calibration_figure(curves, points, table, tau_star=5.0)
    try:
        left, right = fig.axes
        assert "train-before-test runs" in left.get_xlabel() and left.get_ylabel()
        assert len(left.get_legend().get_texts()) == exp.N_MODELS
        assert "PC1" in right.get_xlabel() and "β" in right.get_ylabel()
    finally:
        plt.close(fig)


def test_quick_run_writes_everything(quick_results):
    out = quick_results / exp.INFO.name
    summary = json.loads((out / "summary.json").read_text())
    for name in exp.INFO.outputs():
        assert (out / name).is_file(), name
    results = summary["results"]
    assert results["benchmark"] == exp.BENCHMARK and len(results["models"]) == exp.N_MODELS
    assert results["max_fit_rms"] < 1e-12  # two points per model: an exact fit
    assert (out / exp.SCENARIO_FILE.name).read_text() == exp.SCENARIO_FILE.read_text()
    dynamics = pd.read_csv(out / "dynamics.csv")
    assert list(dynamics["tau"]) == [0.0, np.ceil(results["tau_star_tbt_runs"])]
    assert dynamics["outcome"].iloc[1] == "converged_zero"  # above tau* nobody games the benchmark
    json.dumps(results)  # plain JSON values
