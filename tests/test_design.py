"""Tests of sim.design and ``lbsim design``: the least stabilising tau by simulation against the theory's tau*
(Definition 5.4), the bracket and bisection, the designer's objective, the calibration from data with its
bootstrap, the figures' data, and the command's errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from inprocess import lbsim
from strategies import assumption_games, scenario_from_game

from sim import theory
from sim.assumptions import check_assumptions
from sim.design import plots as design_plots
from sim.design.data import DataGame, Observations, design_from_data, quantiles, underdetermined_warning
from sim.design.report import design_scenario
from sim.design.search import DesignSettings, Evaluator, scan_levels, search
from sim.errors import ScenarioError
from sim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "scenarios" / "two_developers.toml"


def sampled_scenario(rounds: int = 12):
    """Three developers with sampled capabilities, random initial efforts: every draw differs."""
    return parse_scenario({
        "name": "sampled-three", "seed": 3,
        "developers": {"sample": {"n": 3, "distribution": "uniform", "low": 0.0, "high": 1.0}},
        "score": {"family": "power_law", "lower": 0.25, "upper": 0.95, "alpha": {"intercept": -2.0, "slope": 2.0},
                  "beta": {"intercept": 0.3, "slope": 0.2}},
        "cost": {"family": "linear", "scale": 0.001},
        "reward": {"scheme": "winner_take_all"},
        "leaderboard": {"resolution": 0.0001},
        "dynamics": {"rounds": rounds, "initial": "random"},
    })  # fmt: skip


# -- the simulated least tau equals tau* for deterministic best responses from zero ---------------------------


def rescaled(game, log_scale: float):
    """``game`` at tau = 0 with its cost scale set to ``10 ** log_scale`` (same family and exponent)."""
    return replace(game, cost=replace(game.cost, scale=10.0**log_scale), tau=0.0)


# Each example is one scan (two levels a decade, about 20 levels) and about a dozen bisection steps of
# three-round runs of at most four developers, plus the theory's tau*: about 0.5 s.  Ten examples cover the
# reward schemes and costs of the strategy; a published grid is the next test's (it is not monotone there).
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(game=assumption_games(max_n=4, resolution=0.0), log_scale=st.floats(-6.0, -1.0),
       rtol=st.sampled_from([1e-2, 1e-3]))
def test_simulated_least_tau_equals_tau_star_for_exact_scores(game, log_scale, rtol):
    # From zero, zero is a fixed point of the best-response dynamics exactly when it is an equilibrium, so
    # three rounds decide the criterion; under the assumptions the condition is monotone in tau (Lemma 5.2).
    # A cost scale of 1e-6 to 0.1 makes the reward gaps worth 10 to 1e6 effort units: tau* > 0 mostly.
    game = rescaled(game, log_scale)
    assume(check_assumptions(game).holds)
    report = design_scenario(scenario_from_game(game, rounds=3), DesignSettings(rounds=3, per_decade=2, rtol=rtol))
    star = report["tau_theory"]
    assume(star is not None and star > 0 and report["tau_theory_vouched"])
    sim = report["tau_simulated"]
    assert sim is not None
    assert abs(sim - star) <= max(rtol * max(sim, star), report["atol"]), report["levels"]
    assert report["agrees_with_theory"] is True and report["reasons"] == []
    lo, hi = report["interval"]
    assert hi - lo <= max(rtol * hi, report["atol"])
    by_tau = {lv["tau"]: lv["ok"] for lv in report["levels"]}
    if hi > 0:  # the criterion fails at the bracket's lower end and holds at its upper end
        assert by_tau[hi] and not by_tau[lo]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(game=assumption_games(max_n=3, resolution=1e-4), log_scale=st.floats(-6.0, -1.0))
def test_on_a_published_grid_the_simulated_tau_is_a_change_at_or_below_tau_star(game, log_scale):
    # Delta_i(tau) is a sawtooth on a grid: the condition can hold and fail again within a scan step, so the
    # bisection finds a change of the zero-equilibrium condition, never one above the theory's last (tau*).
    game = rescaled(game, log_scale)
    assume(check_assumptions(game).holds)
    rtol = 1e-3
    report = design_scenario(scenario_from_game(game, rounds=3), DesignSettings(rounds=3, per_decade=2, rtol=rtol))
    star = report["tau_theory"]
    assume(star is not None and 0 < star < math.inf)
    lo, hi = report["interval"]
    assert hi <= star * (1 + rtol) + 1e-12
    assert theory.zero_is_equilibrium_exact(game, hi)
    if hi > 0:
        assert not theory.zero_is_equilibrium_exact(game, lo)
    if report["agrees_with_theory"] is False:
        assert any("published grid" in r for r in report["reasons"])


def test_two_developers_done_when(tmp_path):
    done = lbsim("design", TWO, "--json", "--out", tmp_path / "d")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("tau_theory", "tau_simulated", "criterion", "confidence", "replications", "interval", "tbt_cost",
                "recommended_tau"):
        assert key in report
    lo, hi = report["interval"]
    assert lo <= report["tau_theory"] <= hi
    assert abs(report["tau_simulated"] - report["tau_theory"]) <= report["rtol"] * report["tau_simulated"]
    assert report["recommended_tau"] == report["tau_simulated"]
    assert (tmp_path / "d" / "frontier.png").is_file() and (tmp_path / "d" / "frontier.pdf").is_file()
    assert json.loads((tmp_path / "d" / "design.json").read_text())["tau_simulated"] == report["tau_simulated"]


def test_outside_the_assumptions_the_disagreement_is_explained(tmp_path):
    # The flat-then-quadratic cost breaks strict increase: the report must say why if simulation and theory part.
    scenario = load_scenario(ROOT / "scenarios" / "flat_cost.toml")
    report = design_scenario(scenario, DesignSettings(rounds=3, per_decade=2, rtol=1e-2))
    if report["agrees_with_theory"] is not True:
        assert any("assumptions fail" in r or "not vouched" in r for r in report["reasons"]), report["reasons"]


# -- the search itself ----------------------------------------------------------------------------------------


class PredicateEvaluator(Evaluator):
    """An evaluator whose criterion is a known function of tau (to test the search's bookkeeping)."""

    def __init__(self, holds, settings):
        super().__init__([[None]], settings)
        self.predicate = holds

    def evaluate(self, wanted):
        for p, t in wanted:
            self.rows.setdefault((p, float(t)), [(p, float(t), 0, "x", 1.0 if self.predicate(t) else 0.0,
                                                   float("nan"), float("nan"), 0.0, False)])

    def holds(self, p, tau):
        return np.array([self.predicate(tau)])


@settings(max_examples=60, deadline=None)
@given(threshold=st.floats(1e-2, 1e4), rtol=st.sampled_from([1e-1, 1e-3, 1e-6]))
def test_bisection_brackets_a_monotone_threshold(threshold, rtol):
    s = DesignSettings(rtol=rtol)
    result = search(PredicateEvaluator(lambda t: t >= threshold, s), [scan_levels(1e-3, 1e6, 4)])[0]
    lo, hi = result.interval
    assert lo < threshold <= hi and hi - lo <= rtol * hi
    assert result.tau_simulated == hi and result.non_monotone == ()
    # Monotone: the probes above the bracket all held, so no level between it and the next scan level failed.
    assert all(lv[3] for lv in result.levels if lv[1] == "verify")


def test_non_monotone_pattern_is_reported_and_the_last_change_bracketed():
    s = DesignSettings(rtol=1e-4)
    result = search(PredicateEvaluator(lambda t: 1.0 <= t <= 2.0 or t >= 10.0, s), [scan_levels(1e-3, 1e3, 4)])[0]
    assert result.non_monotone and result.non_monotone[0][0] == pytest.approx(1.0)
    assert result.interval[0] < 10.0 <= result.interval[1]


def test_a_failure_hidden_between_scan_levels_is_found_by_the_verification():
    # Holds from 1 on except on [5, 5.2): the scan (one level a decade) steps over the gap, the probes do not.
    def holds(t):
        return t >= 1.0 and not 5.0 <= t < 5.2

    found = search(PredicateEvaluator(holds, DesignSettings(rtol=1e-4)), [scan_levels(1e-3, 1e3, 1)])[0]
    assert found.interval[0] < 5.2 <= found.interval[1] <= 5.2 * (1 + 1e-4)
    assert any(a == pytest.approx(1.0, rel=1e-3) and 5.0 <= b < 5.2 for a, b in found.non_monotone)
    blind = search(PredicateEvaluator(holds, DesignSettings(rtol=1e-4, verify=0)), [scan_levels(1e-3, 1e3, 1)])[0]
    assert blind.interval[1] == pytest.approx(1.0, rel=1e-4) and blind.non_monotone == ()


def test_a_threshold_at_zero_stops_at_the_absolute_tolerance():
    s = DesignSettings(rtol=1e-3)
    result = search(PredicateEvaluator(lambda t: t > 0, s), [scan_levels(1e-3, 1e2, 4)])[0]
    lo, hi = result.interval
    assert lo == 0 and 0 < hi <= result.atol == pytest.approx(1e-6)


def test_never_within_the_scan_and_always():
    s = DesignSettings()
    never = search(PredicateEvaluator(lambda t: False, s), [scan_levels(1e-3, 1e2, 4)])[0]
    assert never.tau_simulated is None and "raise --tau-max" in never.notes[0]
    always = search(PredicateEvaluator(lambda t: True, s), [scan_levels(1e-3, 1e2, 4)])[0]
    assert always.tau_simulated == 0.0


@given(confidence=st.floats(1e-6, 1.0), draws=st.integers(1, 500))
def test_required_holds_is_the_least_count_reaching_the_confidence(confidence, draws):
    k = DesignSettings(confidence=confidence).required_holds(draws)
    assert k / draws >= confidence - 1e-9
    assert (k - 1) / draws < confidence - 1e-12 or k == 0


def test_scan_levels_include_zero_and_both_ends():
    levels = scan_levels(1e-3, 1e6, 4)
    assert levels[0] == 0 and levels[1] == pytest.approx(1e-3) and levels[-1] == pytest.approx(1e6)
    assert np.all(np.diff(levels) > 0)


def test_common_random_numbers_and_worker_count_do_not_change_the_answer(tmp_path, loky_workers):
    args = ["design", "--replications", "4", "--criterion", "ranking", "--target", "0.9", "--confidence", "0.75",
            "--per-decade", "1", "--rtol", "0.05", "--rounds", "12", "--json", "--quiet", "--no-figures"]
    scenario = tmp_path / "s.toml"
    from sim.calibration import scenario_toml

    scenario.write_text(scenario_toml(sampled_scenario().to_dict()))
    one = lbsim(*args, scenario, "--n-jobs", "1", "--out", tmp_path / "a")
    two = lbsim(*args, scenario, "--n-jobs", "2", "--out", tmp_path / "b")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    a.pop("written"), b.pop("written")
    assert a == b
    assert a["draws"] == 4 and a["required_draws"] == 3
    # The theory's counterpart: the least tau at or above the tau* of three of the four draws.
    per_draw = a["tau_theory_per_draw"]
    assert len(set(per_draw)) > 1, "sampled capabilities: the draws differ"
    assert a["tau_theory"] == sorted(per_draw)[2]
    # Common random numbers: every level was played with the same four draws.
    assert all(lv["share"] * 4 == round(lv["share"] * 4) for lv in a["levels"])


# -- the designer's objective ---------------------------------------------------------------------------------


def test_objective_is_quality_minus_cost_and_its_optimum_is_the_best_level():
    report = design_scenario(load_scenario(TWO), DesignSettings(rounds=3, per_decade=2, rtol=1e-2, tbt_cost=1e-4))
    data = design_plots.frontier_data(report)
    f = data.frame
    assert np.allclose(f["designer_cost"], 1e-4 * 2 * f["tau"])
    assert np.allclose(f["J"], f["quality"] - f["designer_cost"])
    best = f.loc[f["J"].idxmax()]
    assert report["objective_optimum"]["tau"] == best["tau"] == report["recommended_tau"]
    assert data.tau_theory == report["tau_theory"]
    # Tail quality is exact: ranked by capability once zero is an equilibrium, never from zero below it here.
    assert (f.loc[f["ok"], "quality"] == 1.0).all()


# -- from data ------------------------------------------------------------------------------------------------


def csv_rows(efforts=(0.0, 1.0, 3.0), stderr=0.01) -> pd.DataFrame:
    """Three models on a power law (L = 0.25, U = 1), observed at ``efforts``."""
    from scipy.special import expit

    rows = []
    for model, alpha, beta in (("big", 0.5, 0.9), ("mid", -0.2, 0.8), ("small", -1.0, 0.7)):
        for e in efforts:
            rows.append({"model": model, "effort": e, "score": 0.25 + 0.75 * expit(alpha + beta * np.log1p(e)),
                         "stderr": stderr})
    return pd.DataFrame(rows)


def test_zero_standard_errors_make_the_bootstrap_collapse_on_the_point_fit():
    obs = Observations(csv_rows(stderr=0.0), {"big": 3.0, "mid": 2.0, "small": 1.0}, 0.25, 1.0, "test", "given")
    report = design_from_data(obs, DataGame(rounds=3, top_k=1), DesignSettings(per_decade=2, rtol=1e-2),
                              bootstrap=3)
    assert report["bootstrap_usable"] == 3
    assert report["recommended_tau"] == report["tau_simulated"]
    assert report["interval"] == [report["tau_simulated"], report["tau_simulated"]]
    assert report["tau_theory_quantiles"] == [report["tau_theory"]] * 3
    assert report["warning"] is None  # three efforts per model: the fit is overdetermined
    fit = pd.DataFrame(report["fit"]).set_index("model")
    assert fit.loc["big", "alpha"] == pytest.approx(0.5, abs=1e-9) and fit.loc["small", "beta"] == pytest.approx(0.7)


def test_from_csv_two_efforts_warns_writes_figures_and_interval_contains_recommendation(tmp_path):
    path = tmp_path / "scores.csv"
    csv_rows(efforts=(0.0, 1.0), stderr=0.02).to_csv(path, index=False)
    done = lbsim("design", "--from-data", path, "--bootstrap", "8", "--rounds", "3", "--per-decade", "2",
                 "--rtol", "0.01", "--top-k", "1", "--lower", "0.25", "--out", tmp_path / "out", "--json",
                 "--no-figures")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "underdetermined" in report["warning"]
    lo, hi = report["interval"]
    assert lo <= report["recommended_tau"] <= hi
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["design.json", "levels.csv"]
    assert report["hardest_pair"]["pair"] in (1, 2) and "kappa" in report["hardest_pair"]["why"]
    # The capability was not given: the score at the largest effort orders the models.
    assert report["models"] == ["big", "mid", "small"]


def test_lm_harmony_prints_recommended_tau_with_interval(tmp_path):
    done = lbsim("design", "--from-data", "lm-harmony", "--benchmark", "winogrande", "--bootstrap", "6",
                 "--rounds", "3", "--per-decade", "2", "--rtol", "0.01", "--models", "4", "--out", tmp_path / "w")
    assert done.returncode == 0, done.stderr
    assert "RECOMMENDED tau" in done.stdout and "90% interval" in done.stdout
    assert "WARNING: underdetermined fit" in done.stdout and "hardest pair" in done.stdout
    for stem in ("frontier", "calibration", "bootstrap"):
        assert (tmp_path / "w" / f"{stem}.png").is_file() and (tmp_path / "w" / f"{stem}.pdf").is_file()


def test_calibration_figure_data_separates_measured_from_extrapolated():
    obs = csv_rows(efforts=(0.0, 1.0))
    report = {"observations": obs.to_dict(orient="list"), "models": ["big", "mid", "small"], "lower": 0.25,
              "upper": 1.0, "curves": {"alpha": [0.5, -0.2, -1.0], "beta": [0.9, 0.8, 0.7], "effort_unit": 1.0},
              "warning": underdetermined_warning(obs), "source": "t"}
    data = design_plots.calibration_data(report)
    fit = data.curves[data.curves["part"] == "fit"]
    ext = data.curves[data.curves["part"] == "extrapolated"]
    assert fit["effort"].between(0.0, 1.0).all() and (ext["effort"] >= 1.0).all()
    # The fitted curve passes through the observed points (two points per model: exactly).
    for model, group in obs.groupby("model"):
        curve = fit[fit["model"] == model]
        assert np.interp(group["effort"], curve["effort"], curve["score"]) == pytest.approx(group["score"].to_numpy())
    fig = design_plots.plot_calibration(data)
    assert any("WARNING" in t.get_text() for t in fig.axes[0].texts)


def test_underdetermined_warning_names_how_many_models():
    two = pd.DataFrame({"model": list("aabbb"), "effort": [0, 1, 0, 1, 2]})
    assert "1 of 2 models have only two distinct efforts" in underdetermined_warning(two)
    assert underdetermined_warning(pd.DataFrame({"model": list("aaa"), "effort": [0, 1, 2]})) is None


def test_quantiles_keep_never_as_infinite():
    assert quantiles([1.0, 2.0, None, None, None], (0.5,)) == [math.inf]
    assert quantiles([1.0, 2.0, 3.0]) == [1.0, 2.0, 3.0]


# -- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "field"), [
    (["--target", "0.9"], "--target"),
    (["--confidence", "0"], "--confidence"),
    (["--confidence", "1.5"], "--confidence"),
    (["--confidence", "nan"], "--confidence"),
    (["--criterion", "ranking", "--target", "2"], "--target"),
    (["--tbt-cost", "-1"], "--tbt-cost"),
    (["--rtol", "1"], "--rtol"),
    (["--tau-min", "10", "--tau-max", "1"], "--tau-min"),
    (["--top-k", "2"], "--top-k"),
    (["--benchmark", "winogrande"], "--benchmark"),
    (["--from-data", "lm-harmony"], "SCENARIO"),
    (["--rounds", "5", "--max-rounds", "2"], "--max-rounds"),
])  # fmt: skip
def test_bad_options_are_one_line_errors_and_write_nothing(tmp_path, args, field):
    out = tmp_path / "out"
    done = lbsim("design", TWO, *args, "--out", out)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and field in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.parametrize(("args", "field"), [
    (["--from-data", "lm-harmony", "--benchmark", "nope"], "--benchmark"),
    (["--from-data", "lm-harmony"], "--benchmark"),
    (["--from-data", "missing.csv"], "--from-data"),
    ([], "SCENARIO"),
])  # fmt: skip
def test_bad_data_options(tmp_path, args, field):
    done = lbsim("design", *args, "--out", tmp_path / "out")
    assert done.returncode == 2 and field in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bad_csv_names_the_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("model,effort,score\na,0,0.5\na,oops,0.6\n")
    done = lbsim("design", "--from-data", path, "--out", tmp_path / "out")
    assert done.returncode == 2 and "effort" in done.stderr and "row 2" in done.stderr


def test_foreign_out_directory_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    done = lbsim("design", TWO, "--rounds", "3", "--out", tmp_path / "out")
    assert done.returncode == 2 and "--out" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt"]


def test_settings_validate_on_construction():
    with pytest.raises(ScenarioError, match="--replications"):
        DesignSettings(replications=0)
    with pytest.raises(ScenarioError, match="--quality"):
        DesignSettings(quality="nope")
    assert DesignSettings(criterion="ranking").target == 0.95


def test_real_process_bad_option_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "sim", "design", str(TWO), "--confidence", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "--confidence = 2.0" in done.stderr


def test_strategies_are_drawn_per_draw_reproducibly_and_bad_ones_are_one_line_errors():
    """--strategies: each draw gives every developer one of the listed strategies, from its own stream; the
    same settings give the same draws (common random numbers across tau), and both strategies occur."""
    from sim.design.search import scenario_draws
    from sim.strategies import parse_strategy_option

    scenario = load_scenario("scenarios/linear_rewards_10.toml")
    settings = DesignSettings(replications=6, strategies=("best", "hedge:eta=0.1"))
    assert settings.strategies == ("best", {"name": "hedge", "eta": 0.1})
    draws, note = scenario_draws(scenario, settings)
    again, _ = scenario_draws(scenario, settings)
    assert note is None and len(draws) == 6
    names = [tuple(s.name for s in d.developers.strategy) for d in draws]
    assert names == [tuple(s.name for s in d.developers.strategy) for d in again]
    assert {n for row in names for n in row} == {"best", "hedge"}
    assert len(set(names)) > 1  # the mix differs between draws
    assert parse_strategy_option("partial_adjustment:lambda=0.5") == {"name": "partial_adjustment", "lambda": 0.5}
    with pytest.raises(ScenarioError, match=r"--strategies\[1\] = 'nope'"):
        DesignSettings(strategies=("best", "nope"))
    with pytest.raises(ScenarioError, match=r"--strategies\[0\]\.eta = -1"):
        DesignSettings(strategies=("hedge:eta=-1",))
    done = lbsim("design", "scenarios/two_developers.toml", "--strategies", "best", "logit:x", "--out",
                 "never-written")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--strategies[1]" in done.stderr
    assert not Path("never-written").exists()
