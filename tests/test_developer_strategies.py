"""Developer strategies (sim.strategies): declared metadata against behaviour, both engines alike, scenario files.

Scenarios are tiny (three or four developers, a few rounds) so that the whole file stays cheap; the Mesa
model is built only where the point is the two engines agreeing.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim import theory
from sim.engine import run, run_batch
from sim.errors import ScenarioError
from sim.model import run_mesa
from sim.scenario import Developers, parse_scenario
from sim.strategies import (
    OBSERVATIONS,
    STRATEGIES,
    Parameter,
    Population,
    Strategy,
    check_declaration,
    make_strategy,
    parse_strategies,
    register,
)
from sim.sweeps import apply_point, axis_label
from tests.inprocess import lbsim
from tests.scenario_texts import small_race
from tests.strategies import assumption_games, scenario_from_game

SCHEDULES = ("simultaneous", "sequential", "random_order", "asynchronous")

#: Every built-in, with parameters where it has any (fictitious play in its three forms).
BUILT_INS = {
    "best": "best",
    "logit": {"name": "logit", "temperature": 0.05},
    "rank_defender": "rank_defender",
    "partial_adjustment": {"name": "partial_adjustment", "lambda": 0.4},
    "fictitious_play": {"name": "fictitious_play", "window": 2},
    "fictitious_play_decay": {"name": "fictitious_play", "decay": 0.5},
    "fictitious_play_all": "fictitious_play",
    "expected_utility": "expected_utility",
    "hedge": {"name": "hedge", "eta": 3.0},
    "satisficer": {"name": "satisficer", "target_rank": 2},
}

#: Mixed populations of three that together hold every built-in.
MIXES = (
    ("best", "hedge", "expected_utility"),
    ("logit", "rank_defender", "fictitious_play"),
    ("partial_adjustment", "satisficer", "fictitious_play_decay"),
    ("fictitious_play_all", "expected_utility", "hedge"),
)


@pytest.fixture(scope="module")
def race() -> dict:
    """The small three-developer race with evaluation noise (so that expected_utility differs from best)."""
    data = tomllib.loads(small_race(6))
    data["leaderboard"]["noise"] = 0.01
    return data


def scenario(base: dict, strategy=None, seed: int | None = None, **dynamics):
    data = dict(base, developers=dict(base["developers"]), dynamics=dict(base["dynamics"], **dynamics))
    if strategy is not None:
        data["developers"]["strategy"] = strategy
    if seed is not None:
        data["seed"] = seed
    return parse_scenario(data)


def same_frames(a, b) -> bool:
    return a.shape == b.shape and all(np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in a.columns)


# -- declarations -----------------------------------------------------------------------------------------------


def test_registry_holds_the_built_ins_with_well_formed_metadata():
    assert set(STRATEGIES) >= {"best", "logit", "rank_defender", "partial_adjustment", "fictitious_play",
                               "expected_utility", "hedge", "satisficer"}
    for name, cls in STRATEGIES.items():
        check_declaration(cls)
        assert cls.name == name and cls.observes <= OBSERVATIONS
        for key, p in cls.parameters.items():
            assert p.low <= p.high, (name, key)
            if p.default is not None:
                p.check(p.default, key)  # a default is in its own range
        assert cls.__doc__ and name in cls.__doc__  # the docstring gives the rule it plays


def test_a_malformed_declaration_is_refused():
    class Bad(Strategy):
        name = "bad"
        observes = frozenset({"the future"})

    with pytest.raises(ValueError, match="observes"):
        register(Bad)
    assert "bad" not in STRATEGIES


@pytest.mark.parametrize(
    ("spec", "field", "value"),
    [
        ("nope", "developers.strategy", "nope"),
        (["best", {"name": "hedge", "eta": -1.0}, "best"], "developers.strategy[1].eta", -1.0),
        (["best", "best", {"name": "hedge", "rate": 1}], "developers.strategy[2].rate", 1),
        ({"name": "partial_adjustment", "lambda": 0.0}, "developers.strategy.lambda", 0.0),
        ({"name": "partial_adjustment", "lambda": 1.5}, "developers.strategy.lambda", 1.5),
        ({"name": "satisficer", "target_rank": 1.5}, "developers.strategy.target_rank", 1.5),
        ({"name": "fictitious_play", "window": 0}, "developers.strategy.window", 0),
        ({"name": "logit"}, "developers.strategy.temperature", None),
        ({"name": "hedge", "eta": True}, "developers.strategy.eta", True),
        (["best", "best"], "developers.strategy", ["best", "best"]),
        ([1, "best", "best"], "developers.strategy[0]", 1),
        ("some_module:Thing", "developers.strategy", "some_module:Thing"),  # custom code without permission
    ],
)
def test_bad_specs_name_the_field_and_the_value(race, spec, field, value):
    with pytest.raises(ScenarioError) as info:
        scenario(race, spec)
    assert info.value.field == field and info.value.value == value, str(info.value)
    assert "\n" not in str(info.value)


def test_strategy_with_a_logit_response_is_refused(race):
    with pytest.raises(ScenarioError) as info:
        scenario(race, "best", response="logit", temperature=1.0)
    assert info.value.field == "dynamics.response"


def test_the_cli_refuses_a_bad_strategy_in_one_line_without_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(small_race(3).replace('capability = [1.0, 0.7, 0.4]',
                                          'capability = [1.0, 0.7, 0.4]\nstrategy = "nope"'))
    done = subprocess.run([sys.executable, "-m", "sim", "run", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith("developers.strategy = 'nope': unknown strategy; known: " +
                                        ", ".join(sorted(STRATEGIES)))


@settings(max_examples=25, deadline=None)  # parsing only: cheap
@given(st.lists(st.sampled_from(sorted(BUILT_INS)), min_size=3, max_size=3))
def test_strategies_round_trip_through_the_scenario_dict(race_names):
    base = tomllib.loads(small_race(3))
    s = scenario(base, [BUILT_INS[k] for k in race_names])
    again = parse_scenario(s.to_dict())
    assert again == s and again.developers.strategy == s.developers.strategy
    assert parse_scenario(scenario(base, BUILT_INS[race_names[0]]).to_dict()).developers.strategy == (
        make_strategy(BUILT_INS[race_names[0]]),) * 3


# -- both engines, every schedule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("mix", MIXES, ids="-".join)
def test_batch_and_mesa_give_identical_trajectories(race, schedule, mix):
    s = scenario(race, [BUILT_INS[k] for k in mix], schedule=schedule, rounds=5)
    assert same_frames(run(s).trajectory(), run_mesa(s).trajectory())


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_batch_of_scenarios_plays_each_as_alone(race, schedule):
    """Parameters and seeds differ per scenario; under random_order the same position holds different
    strategies in different scenarios."""
    mixes = [["best", {"name": "hedge", "eta": eta}, {"name": "fictitious_play", "window": w}]
             for eta, w in ((0.5, 1), (4.0, 3))] + [["best", {"name": "hedge", "eta": 1.0}, "fictitious_play"]]
    scenarios = [scenario(race, m, seed=k, schedule=schedule, rounds=5) for k, m in enumerate(mixes)]
    together = run_batch(scenarios)
    for k, s in enumerate(scenarios):
        assert same_frames(together.trajectory(k), run(s).trajectory())


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_best_and_logit_populations_play_todays_responses_bit_for_bit(race, schedule):
    assert same_frames(run(scenario(race, "best", schedule=schedule, rounds=5)).trajectory(),
                       run(scenario(race, schedule=schedule, rounds=5)).trajectory())
    logit = run(scenario(race, {"name": "logit", "temperature": 0.05}, schedule=schedule, rounds=5)).trajectory()
    today = run(scenario(race, schedule=schedule, rounds=5, response="logit", temperature=0.05)).trajectory()
    assert same_frames(logit, today)


# -- metadata against behaviour -------------------------------------------------------------------------------------


def test_deterministic_strategies_ignore_the_seed_and_stochastic_ones_use_it():
    base = tomllib.loads(small_race(6))  # no noise, capability ties, zero start: only strategies could draw
    for key, spec in {**BUILT_INS, "logit": {"name": "logit", "temperature": 1.0}}.items():  # a warm logit
        cls = make_strategy(spec)
        runs = [run(scenario(base, spec, seed=seed, rounds=4)).trajectory() for seed in (1, 2)]
        if not cls.stochastic:
            assert same_frames(runs[0], runs[1]), key
        else:
            third = run(scenario(base, spec, seed=3, rounds=4)).trajectory()
            assert not (same_frames(runs[0], runs[1]) and same_frames(runs[0], third)), key


def _boards(race, rounds: int = 4) -> tuple:
    s = scenario(race, "best", rounds=rounds, initial="random")
    result = run(s)
    return result.game, result.score[0], result.effort[0]  # true scores, efforts per round


def test_memoryless_strategies_choose_the_same_after_any_history(race):
    """memory_depth 0: no state, and the choice on a board does not depend on the boards seen before it."""
    game, boards, efforts = _boards(race)
    rows = np.arange(3)[None, :]
    for key, spec in BUILT_INS.items():
        strategy = make_strategy(spec)
        if strategy.memory_depth != 0 or strategy.stochastic:
            continue
        assert strategy.init_state(1, 3, {k: np.ones((1, 3)) for k in strategy.parameters}) == {}
        fresh = Population([[strategy] * 3]).choose(game, boards[-1][None], rows, efforts[-1][None])
        seasoned = Population([[strategy] * 3])
        for board, x in zip(boards[:-1], efforts[:-1], strict=True):
            seasoned.choose(game, board[None], rows, x[None])
        assert np.array_equal(seasoned.choose(game, boards[-1][None], rows, efforts[-1][None]), fresh), key


def test_fictitious_play_uses_its_declared_memory(race):
    """memory_depth inf: after a history, fictitious play answers a board differently than on first sight,
    except with a window of one board (which is the best response)."""
    game, boards, efforts = _boards(race, rounds=8)
    rows = np.arange(3)[None, :]

    def after_history(spec):
        population = Population([[make_strategy(spec)] * 3])
        for board, x in zip(boards, efforts, strict=True):
            last = population.choose(game, board[None], rows, x[None])
        return last

    first_sight = Population([[make_strategy("fictitious_play")] * 3]).choose(game, boards[-1][None], rows,
                                                                             efforts[-1][None])
    assert not np.array_equal(after_history("fictitious_play"), first_sight)
    best = Population([[make_strategy("best")] * 3]).choose(game, boards[-1][None], rows, efforts[-1][None])
    for spec in ({"name": "fictitious_play", "window": 1}, {"name": "fictitious_play", "decay": 1.0}):
        assert np.array_equal(after_history(spec), best)


@pytest.mark.parametrize("key", sorted(BUILT_INS))
def test_budget_respecting_strategies_stay_within_their_budgets(race, key):
    data = dict(race, developers=dict(race["developers"], budget=[2.0, 0.5, 1.0]))
    result = run(scenario(data, BUILT_INS[key], initial=[2.0, 0.0, 1.0], rounds=6, schedule="random_order"))
    assert make_strategy(BUILT_INS[key]).respects_budget
    assert np.all(result.effort[0] <= np.array([2.0, 0.5, 1.0]))


def test_expected_utility_without_noise_is_the_best_response():
    base = tomllib.loads(small_race(8))
    for schedule in ("simultaneous", "sequential"):
        assert same_frames(run(scenario(base, "expected_utility", schedule=schedule)).trajectory(),
                           run(scenario(base, "best", schedule=schedule)).trajectory())


def test_expected_utility_knows_the_noise_level(race):
    """It observes the noise level: with noise its play differs from the best response's on the same draws."""
    assert "noise_level" in make_strategy("expected_utility").observes
    assert not same_frames(run(scenario(race, "expected_utility", rounds=8)).trajectory(),
                           run(scenario(race, "best", rounds=8)).trajectory())


def test_partial_adjustment_with_lambda_one_is_best_and_holds_its_fixed_points():
    base = tomllib.loads(small_race(40))
    base["cost"] = {"family": "flat_quadratic", "scale": 0.01, "free_effort": 1.0}  # rests off zero at tau = 1
    base["designer"] = {"tau": 1.0}
    best = run(scenario(base, "best"))
    assert same_frames(best.trajectory(), run(scenario(base, {"name": "partial_adjustment", "lambda": 1.0}))
                       .trajectory())
    # Where best-response play has come to rest (a pure equilibrium), partial adjustment started there stays.
    rest = best.effort[0][-1]
    assert np.array_equal(best.effort[0][-2], rest) and np.any(rest > 0)
    for lam in (0.1, 0.5):
        stays = run(scenario(base, {"name": "partial_adjustment", "lambda": lam}, initial=rest.tolist(), rounds=5))
        assert np.all(stays.effort[0] == rest)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=4, resolution=0.0), data=st.data())
def test_above_tau_star_best_partial_and_satisficers_stay_at_zero(game, data):
    """Proposition 4.5 with Lemma 5.2: at tau >= tau* the all-zero profile is an equilibrium, so developers that
    best respond, partially adjust or satisfice, starting from zero, never leave it (every schedule)."""
    threshold = theory.stabilising_threshold(game)
    assume(threshold.tau_star is not None and threshold.vouched and threshold.determined)
    tau = threshold.tau_star * (1.0 + data.draw(st.floats(0.0, 1.0))) + data.draw(st.floats(0.0, 1.0))
    game = dataclasses.replace(game, tau=tau)
    assume(theory.zero_is_equilibrium_exact(game))
    pool = ["best", {"name": "partial_adjustment", "lambda": data.draw(st.floats(0.05, 1.0))},
            {"name": "satisficer", "target_rank": data.draw(st.integers(1, game.n))}]
    mix = [data.draw(st.sampled_from(pool)) for _ in range(game.n)]
    s = scenario_from_game(game, schedule=data.draw(st.sampled_from(SCHEDULES)), rounds=4)
    s = dataclasses.replace(s, developers=Developers(capability=s.developers.capability, strategy=mix))
    assert np.all(run(s).effort[0] == 0.0)


def test_below_tau_star_hedge_leaves_zero():
    """The counterexample side: at tau = 0 in the small race (zero is not an equilibrium) learners move."""
    s = scenario(tomllib.loads(small_race(6)), {"name": "hedge", "eta": 5.0})
    assert not theory.zero_is_equilibrium_exact(s.game())
    assert np.any(run(s).effort[0] > 0)


# -- user strategies, sweeps, the CLI -----------------------------------------------------------------------------

CUSTOM_MODULE = '''
import numpy as np
from sim.strategies import Parameter, Strategy


class Fixed(Strategy):
    """fixed: always the same effort (capped by the budget)."""

    name = "fixed"
    parameters = {"effort": Parameter(0.0, 1e6, 1.0, "the effort")}

    def choose(self, d):
        budget = np.take_along_axis(d.game.budget, d.rows, axis=1)
        return np.minimum(d.params["effort"], budget), {}
'''


def test_a_custom_strategy_runs_in_both_engines_with_permission(race, tmp_path, monkeypatch):
    (tmp_path / "user_strategies.py").write_text(CUSTOM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = ["best", {"name": "user_strategies:Fixed", "effort": 2.5}, "hedge"]
    data = dict(race, developers=dict(race["developers"], strategy=spec))
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert info.value.field == "developers.strategy[1].name"
    s = parse_scenario(data, allow_custom=True)
    for schedule in ("simultaneous", "random_order"):
        s = dataclasses.replace(s, dynamics=dataclasses.replace(s.dynamics, schedule=schedule))
        batch = run(s).trajectory()
        assert same_frames(batch, run_mesa(s).trajectory())
        assert np.all(batch.loc[batch["developer"] == 1, "effort"].to_numpy()[1:] == 2.5)
    assert parse_scenario(s.to_dict(), allow_custom=True) == s  # "module:Class" written back


def test_a_registered_strategy_is_named_like_a_built_in(race):
    class Idle(Strategy):
        """idle: never spends."""

        name = "idle_for_test"

        def choose(self, d):
            return np.zeros(d.rows.shape), {}

    register(Idle)
    try:
        result = run(scenario(race, ["idle_for_test", "best", "best"]))
        assert np.all(result.effort[0][:, 0] == 0.0)
    finally:
        del STRATEGIES["idle_for_test"]


def test_a_sweep_axis_sets_developers_strategy_to_a_list(race):
    values = [["best", {"name": "hedge", "eta": 0.2}, "satisficer"], "rank_defender"]
    for value in values:
        s = parse_scenario(apply_point(race, ["developers.strategy"], [value]))
        assert s.developers.strategy == parse_strategies(value, 3)
    assert axis_label({"name": "hedge", "eta": 0.2}) == "hedge(eta=0.2)"  # the summary's label column


def test_run_json_reports_each_developers_strategy(tmp_path):
    path = tmp_path / "mixed.toml"
    path.write_text(small_race(3).replace(
        'capability = [1.0, 0.7, 0.4]',
        'capability = [1.0, 0.7, 0.4]\nstrategy = ["best", {name = "hedge", eta = 0.5}, "rank_defender"]'))
    import json

    done = lbsim("run", path, "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["strategy"] == ["best", {"name": "hedge", "eta": 0.5}, "rank_defender"]
    plain = tmp_path / "plain.toml"
    plain.write_text(small_race(3, dynamics='response = "logit"\ntemperature = 0.5'))
    assert json.loads(lbsim("run", plain, "--json", "--quiet").stdout)["strategy"] == (
        [{"name": "logit", "temperature": 0.5}] * 3)


def test_parameter_ranges_are_checked_as_declared():
    p = Parameter(0.0, 1.0, 0.5, "fraction", open_low=True)
    assert p.check(1.0, "x") == 1.0 and p.check(1e-9, "x") == 1e-9
    for bad in (0.0, 1.0 + 1e-12, math.nan, "0.5"):
        with pytest.raises(ScenarioError):
            p.check(bad, "x")


# -- the compiled kernels ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mix", MIXES, ids="-".join)
def test_the_compiled_kernels_play_the_numpy_paths_bits(race, mix, monkeypatch):
    from sim import engine

    s = scenario(race, [BUILT_INS[k] for k in mix], schedule="random_order", rounds=5)
    compiled = run(s).effort
    monkeypatch.setattr(engine, "COMPILED_SCHEDULES", False)
    assert np.array_equal(run(s).effort, compiled)


def _reference_expected_reward(own, evaluated, i, sigma, rewards, nodes: int = 200) -> float:
    """The same integral without cuts, closed forms or pruning: Poisson-binomial per node, 200 nodes."""
    from scipy.special import erfc

    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2.0 * math.pi)
    rivals = np.delete(evaluated, i)
    above = 0.5 * erfc((own + sigma * z[:, None] - rivals[None, :]) / (2.0 * sigma))  # (nodes, rivals)
    dist = np.zeros((nodes, len(rivals) + 1))
    dist[:, 0] = 1.0
    for j in range(len(rivals)):
        p = above[:, j : j + 1]
        dist = dist * (1.0 - p) + np.pad(dist[:, :-1], ((0, 0), (1, 0))) * p
    return float(w @ (dist @ rewards))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n), st.integers(0, n - 1), st.floats(0.0, 1.0),
    st.floats(1e-4, 0.2), st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))))
def test_the_expected_reward_is_accurate(case):
    """Every shortcut of the kernel (cuts, the closed form for one uncertain rival) against plain quadrature."""
    from sim import kernel_strategies
    from sim.strategies.builtin import QUADRATURE_NODES, _hermite

    board, i, own, sigma, raw = case
    n = len(board)
    rewards = np.sort(np.array(raw))[::-1]
    evaluated = np.array([board])
    out = np.empty((1, 1, 1))
    z, w = _hermite(QUADRATURE_NODES)
    kernel_strategies.expected_reward(np.array([[[own]]]), np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), evaluated,
                                      np.array([[i]]), np.array([sigma]), rewards[None, :], np.zeros(1), z, w, out)
    reference = _reference_expected_reward(own, evaluated[0], i, sigma, rewards)
    assert abs(out[0, 0, 0] - reference) <= 1e-4 * max(1.0, rewards[0]), (out[0, 0, 0], reference, n)


def test_bench_strategies_runs_at_a_tiny_size(monkeypatch, capsys):
    from tests.test_docs_and_tools import bench

    out = bench("bench_strategies", ["--tiny", "--only", "hedge"], monkeypatch, capsys)
    rows = [line for line in out.splitlines() if line.startswith(("best (dynamics.response)", "hedge"))]
    assert len(rows) == 2 and all(float(r.split()[-3].replace(",", "")) > 0 for r in rows)


def test_the_cli_writes_the_same_trajectory_csv_from_both_engines(tmp_path):
    path = tmp_path / "mixed.toml"
    path.write_text(small_race(4, dynamics='schedule = "random_order"').replace(
        'capability = [1.0, 0.7, 0.4]',
        'capability = [1.0, 0.7, 0.4]\nstrategy = [{name = "hedge", eta = 2.0}, "expected_utility", '
        '{name = "fictitious_play", decay = 0.3}]').replace("[leaderboard]", "[leaderboard]\nnoise = 0.01"))
    for engine in ("batch", "mesa"):
        done = lbsim("run", path, "--engine", engine, "--out", tmp_path / engine, "--quiet")
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "batch" / "trajectory.csv").read_bytes() == (tmp_path / "mesa" / "trajectory.csv").read_bytes()
