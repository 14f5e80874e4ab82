"""Hostile input: scenario files never run code unless allowed; no traceback and no hang on any input.

Every command runs with a ``timeout``: a hang fails the test instead of stalling the suite.  No assertion is
about how long something took.  Commands run in this process (``tests/inprocess.py``: the working directory and
environment set for the call, an exception escaping ``main`` fails the test as a traceback would), except where
the point is the process itself: ``sys.path`` as ``python -m sim`` and ``PYTHONPATH`` set it up, and a real
console run of a refused custom module (``process=True``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import sweeps
from sim.costs import FlatQuadraticCost, LinearCost, PowerCost
from sim.errors import ScenarioError
from sim.game import LeaderboardGame, equilibrium_check, zero_profile_is_equilibrium
from sim.scenario import load_scenario, parse_scenario
from sim.scores import ExpSaturation, PowerLaw
from tests import inprocess
from tests.strategies import reward_vectors

ROOT = Path(__file__).resolve().parents[1]
LBSIM = [sys.executable, "-m", "sim"]
#: Generous bound for one command (a hang, not a slow machine, should trip it).
TIMEOUT = 120

TWO = """
name = "two"
[developers]
capability = [1.0, 0.5]
[score]
family = "power_law"
lower = 0.25
upper = 0.95
alpha = {intercept = -2.0, slope = 2.0}
beta = {intercept = 0.3, slope = 0.2}
[cost]
family = "linear"
scale = 0.001
[reward]
scheme = "winner_take_all"
[dynamics]
rounds = 20
"""

SIDE_EFFECT_MODULE = """
import os
from pathlib import Path

Path(os.environ["LBSIM_TEST_MARKER"]).write_text("imported")


def score(theta, e):
    import numpy as np

    return 1.0 - np.exp(-(np.asarray(theta) + np.asarray(e)))
"""

CUSTOM = TWO.replace(
    'family = "power_law"\nlower = 0.25\nupper = 0.95\nalpha = {intercept = -2.0, slope = 2.0}\n'
    "beta = {intercept = 0.3, slope = 0.2}",
    'family = "custom"\nfunction = "sideeffect_mod:score"',
)


def lbsim(*args, cwd, env=None, timeout=TIMEOUT, process=False):
    """``lbsim *args`` in ``cwd`` with ``PYTHONPATH`` and ``LBSIM_ALLOW_CUSTOM`` unset unless ``env`` sets them.

    In a fresh ``python -m sim`` with ``process=True``; otherwise in this process, where a ``PYTHONPATH`` in
    ``env`` is also put first on ``sys.path`` for the call (what the interpreter does with it at start-up).
    """
    if process:
        full_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LBSIM_ALLOW_CUSTOM")}
        full_env.update(env or {})
        return subprocess.run(
            [*LBSIM, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout
        )
    call_env = {"PYTHONPATH": None, "LBSIM_ALLOW_CUSTOM": None, **(env or {})}
    saved_path = list(sys.path)
    sys.path[:0] = [p for p in (call_env["PYTHONPATH"] or "").split(os.pathsep) if p]
    try:
        return inprocess.lbsim(*args, cwd=cwd, env=call_env, timeout=timeout)
    finally:
        sys.path[:] = saved_path


def one_line_error(done, *needles: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbsim: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------
# A scenario file is data
# ---------------------------------------------------------------------------


@pytest.fixture
def side_effect(tmp_path) -> dict:
    """A scenario naming a module whose import writes a marker file; the module sits in the working directory."""
    (tmp_path / "sideeffect_mod.py").write_text(SIDE_EFFECT_MODULE)
    (tmp_path / "custom.toml").write_text(CUSTOM)
    marker = tmp_path / "marker"
    yield {"dir": tmp_path, "marker": marker, "env": {"LBSIM_TEST_MARKER": str(marker)}}
    sys.modules.pop("sideeffect_mod", None)  # imported in this process by a test that allowed it: next one afresh


@pytest.mark.parametrize("command", [["theory"], ["check"], ["run", "--rounds", "5", "--max-rounds", "5"]])
def test_custom_module_is_not_imported_without_permission(side_effect, command):
    # The module is in the working directory AND on PYTHONPATH: only the missing permission stops it.  One
    # command in a real process as well (PYTHONPATH and the working directory as the interpreter sets them up).
    env = {**side_effect["env"], "PYTHONPATH": str(side_effect["dir"])}
    done = lbsim(command[0], "custom.toml", *command[1:], cwd=side_effect["dir"], env=env,
                 process=command[0] == "theory")
    one_line_error(done, "score.function", "sideeffect_mod:score", "--allow-custom")
    assert not side_effect["marker"].exists()


@pytest.mark.parametrize("command", [["theory"], ["check"], ["run", "--rounds", "5", "--max-rounds", "5"]])
def test_custom_module_runs_when_allowed(side_effect, command):
    env = {**side_effect["env"], "PYTHONPATH": str(side_effect["dir"])}
    done = lbsim(command[0], "custom.toml", *command[1:], "--allow-custom", cwd=side_effect["dir"], env=env)
    assert done.returncode == 0, done.stderr
    assert side_effect["marker"].read_text() == "imported"


def test_environment_variable_allows_custom_code(side_effect):
    env = {**side_effect["env"], "PYTHONPATH": str(side_effect["dir"]), "LBSIM_ALLOW_CUSTOM": "1"}
    done = lbsim("theory", "custom.toml", cwd=side_effect["dir"], env=env)
    assert done.returncode == 0, done.stderr
    assert side_effect["marker"].exists()


def test_working_directory_is_not_searched_for_custom_modules(side_effect):
    # python -m sim puts the working directory on sys.path; a custom module must not be found there (so this
    # is about the process: a real one).
    done = lbsim("theory", "custom.toml", "--allow-custom", cwd=side_effect["dir"], env=side_effect["env"],
                 process=True)
    one_line_error(done, "score.function", "cannot import module 'sideeffect_mod'")
    assert not side_effect["marker"].exists()


def test_sweep_with_custom_base_needs_permission(side_effect):
    (side_effect["dir"] / "sweep.toml").write_text('base = "custom.toml"\n[axes]\n"designer.tau" = [0.0, 1.0]\n')
    env = {**side_effect["env"], "PYTHONPATH": str(side_effect["dir"])}
    done = lbsim("sweep", "sweep.toml", "--dry-run", cwd=side_effect["dir"], env=env)
    one_line_error(done, "score.function", "--allow-custom")
    assert not side_effect["marker"].exists()
    done = lbsim("sweep", "sweep.toml", "--dry-run", "--allow-custom", cwd=side_effect["dir"], env=env)
    assert done.returncode == 0, done.stderr
    assert side_effect["marker"].exists()


def test_a_swept_custom_function_needs_permission(tmp_path):
    (tmp_path / "base.toml").write_text(TWO)
    axes = '[axes]\n"cost" = [{family = "custom", function = "os:system"}]\n'
    (tmp_path / "sweep.toml").write_text(f'base = "base.toml"\n{axes}')
    with pytest.raises(ScenarioError) as info:
        sweeps.plan_sweep(sweeps.load_sweep(tmp_path / "sweep.toml"))
    assert info.value.field == "cost.function" and "not run unless allowed" in info.value.message


def test_python_api_needs_allow_custom(tmp_path, monkeypatch):
    monkeypatch.delenv("LBSIM_ALLOW_CUSTOM", raising=False)
    data = {**_minimal(), "score": {"family": "custom", "function": "numpy:dot"}}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert info.value.field == "score.function" and "allow_custom=True" in info.value.message
    # Allowed, numpy:dot is called with (theta, e) and fails the probe, naming the field: it did run.
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, allow_custom=True)
    assert info.value.field == "score.function" and "not run unless allowed" not in info.value.message


@pytest.mark.parametrize("path", ["os.system", "os:", ":system", "os:system()", "os:system; rm", "../x:y", "a b:c"])
def test_form_is_checked_without_permission(path):
    with pytest.raises(ScenarioError) as info:
        parse_scenario({**_minimal(), "cost": {"family": "custom", "function": path}})
    assert info.value.field == "cost.function" and "must look like" in info.value.message


def test_library_example_functions_need_no_permission(monkeypatch):
    monkeypatch.delenv("LBSIM_ALLOW_CUSTOM", raising=False)
    scenario = load_scenario(ROOT / "scenarios" / "flat_cost.toml")
    assert scenario.score.family == "custom"


def returns_none(theta, e):
    return None


def returns_bool(theta, e):
    return np.asarray(theta) > 0


def test_a_custom_function_returning_none_is_named(monkeypatch):
    import types

    module = types.ModuleType("hostile_probes")
    module.returns_none, module.returns_bool = returns_none, returns_bool
    monkeypatch.setitem(sys.modules, "hostile_probes", module)
    for name, words in (("returns_none", "returned None"), ("returns_bool", "array of dtype bool")):
        data = {**_minimal(), "score": {"family": "custom", "function": f"hostile_probes:{name}"}}
        with pytest.raises(ScenarioError) as info:
            parse_scenario(data, allow_custom=True)
        assert words in info.value.message and "expected a float array of shape (3,)" in info.value.message
        assert "nan" not in info.value.message


def _minimal() -> dict:
    return {
        "name": "minimal",
        "developers": {"capability": [1.0, 0.5, 0.2]},
        "score": {"family": "power_law", "lower": 0.25, "upper": 0.95, "alpha": -1.0, "beta": 0.5},
        "cost": {"family": "linear", "scale": 0.001},
        "reward": {"scheme": "winner_take_all"},
    }


# ---------------------------------------------------------------------------
# Tracebacks and hangs, one test per class
# ---------------------------------------------------------------------------


@pytest.fixture
def two(tmp_path) -> Path:
    (tmp_path / "base.toml").write_text(TWO)
    return tmp_path


def test_table_header_nested_thousands_deep(tmp_path):
    (tmp_path / "deep.toml").write_text("[" + ".".join(["a"] * 5000) + "]\n")
    one_line_error(lbsim("theory", "deep.toml", cwd=tmp_path), "nested too deeply")


def test_thousands_of_characters_name_with_plot(two):
    # --max-rounds = --rounds: the point is the name, not the horizon (a deterministic run would play on).
    (two / "long.toml").write_text(TWO.replace('name = "two"', f'name = "{"x" * 5000}"'))
    done = lbsim("run", "long.toml", "--plot", "--rounds", "5", "--max-rounds", "5", "--quiet", cwd=two)
    assert done.returncode == 0, done.stderr[-2000:]
    (written,) = (two / "results").iterdir()
    assert len(written.name) <= 100 and (written / "outcome.json").exists()


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('samples = 50000000\n[axes]\n"designer.tau" = {uniform = [0, 1]}\n', ["samples = 50000000", "1,000,000"]),
        ('samples = 3\n[axes]\n"designer.tau" = {integers = [0, 100000000000000000000000]}\n', ["64-bit"]),
        ('[axes]\n"designer.tau" = [1979-05-27]\n', ["axes.designer.tau", "date"]),
        ('replications = 1000000000000\n', ["replications = 1000000000000", "100,000,000"]),
        ('[axes]\n"designer.tau" = {linspace = [0, 1, 2000000]}\n', ["axes = 2000000", "1,000,000"]),
        ('[axes]\n"reward" = [{scheme = "linear"}]\n"reward.scheme" = ["winner_take_all"]\n',
         ["axes.reward.scheme", "'reward'"]),
        ('[axes]\n"developers.capability" = [[1.0, 0.5]]\n"developers.sample.n" = [3]\n',
         ["axes.developers.sample.n", "developers.capability"]),
    ],
    ids=["samples", "integers_beyond_64_bits", "date_value", "replications", "grid", "conflict", "exclusive"],
)
def test_sweep_sizes_and_values_are_refused_naming_the_field(two, body, needles):
    (two / "sweep.toml").write_text(f'base = "base.toml"\n{body}')
    one_line_error(lbsim("sweep", "sweep.toml", "--dry-run", cwd=two), *needles)


def test_dry_run_of_a_million_points_estimates(two):
    (two / "sweep.toml").write_text(
        'base = "base.toml"\n[axes]\n"designer.tau" = {linspace = [0, 1, 1000]}\n'
        '"leaderboard.noise" = {linspace = [0, 0.1, 1000]}\n'
    )
    done = lbsim("sweep", "sweep.toml", "--dry-run", "--json", cwd=two)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["points"] == 1_000_000 and counts["scenarios"] == 1_000_000
    assert counts["scenario_rounds"] == 20_000_000 and counts["agent_updates"] == 40_000_000
    assert not counts["exact"] and counts["checked_points"] < 1000


def test_dry_run_estimate_finds_a_bad_axis_value(two):
    # 3,000 listed values (more than the estimate samples of a range), the bad one neither first nor last.
    values = ", ".join([f"{k / 1000}" for k in range(1500)] + ["-1.0"] + [f"{k / 1000}" for k in range(1499)])
    (two / "sweep.toml").write_text(f'base = "base.toml"\n[axes]\n"designer.tau" = [{values}]\n')
    one_line_error(lbsim("sweep", "sweep.toml", "--dry-run", cwd=two), "designer.tau", "sweep point 1500")


def test_points_at_matches_sweep_points(two):
    (two / "sweep.toml").write_text(
        'base = "base.toml"\nsamples = 4\nseed = 5\n[axes]\n"designer.tau" = {linspace = [0, 1, 3]}\n'
        '"cost.scale" = {loguniform = [0.001, 0.1]}\n"reward.scheme" = ["winner_take_all", "linear"]\n'
    )
    spec = sweeps.load_sweep(two / "sweep.toml")
    points = sweeps.sweep_points(spec)
    assert sweeps.points_at(spec, range(len(points))) == points
    seeds = sweeps.run_seeds(spec)
    assert sweeps.run_seeds_at(spec, range(spec.scenarios)) == seeds.tolist()
    crn_off = sweeps.sweep_spec(spec.base, {"designer.tau": [0.0, 1.0]}, replications=3, common_random_numbers=False)
    assert sweeps.run_seeds_at(crn_off, range(6)) == sweeps.run_seeds(crn_off).tolist()


def test_n_jobs_above_the_cores_is_capped_with_a_note(two):
    (two / "sweep.toml").write_text('base = "base.toml"\n[axes]\n"designer.tau" = [0.0, 1.0]\n')
    done = lbsim("sweep", "sweep.toml", "--n-jobs", "1000", "--out", "out", "--quiet", cwd=two)
    assert done.returncode == 0, done.stderr
    assert "--n-jobs 1000 is more than the" in done.stderr and "Traceback" not in done.stderr
    assert sweeps.cap_n_jobs(1000)[0] == sweeps.cap_n_jobs(10**9)[0] < 1000


def test_scheduler_without_dask_is_an_error(two):
    (two / "sweep.toml").write_text('base = "base.toml"\n')
    one_line_error(lbsim("sweep", "sweep.toml", "--scheduler", "tcp://127.0.0.1:1", cwd=two), "--scheduler",
                   "--backend dask")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("command", ["theory", "check", "run", "sweep"])
def test_paths_must_be_regular_files(tmp_path, kind, command):
    if kind == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path / "dir.toml"
        path.mkdir()
    else:
        path = Path("/dev/zero")
    words = {"fifo": "named pipe", "directory": "directory", "device": "device"}[kind]
    one_line_error(lbsim(command, path, cwd=tmp_path, timeout=60), words)


def test_sweep_base_that_is_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "base.toml")
    (tmp_path / "sweep.toml").write_text('base = "base.toml"\n')
    one_line_error(lbsim("sweep", "sweep.toml", "--dry-run", cwd=tmp_path, timeout=60), "named pipe")


def test_theory_on_too_many_listed_developers_is_refused(tmp_path):
    caps = ", ".join(f"{1 - i / 200_000:.6f}" for i in range(150_000))
    (tmp_path / "big.toml").write_text(TWO.replace("capability = [1.0, 0.5]", f"capability = [{caps}]"))
    one_line_error(lbsim("theory", "big.toml", cwd=tmp_path), "developers = 150000", "100,000")


def test_check_on_a_large_sample_is_refused(tmp_path):
    (tmp_path / "big.toml").write_text(TWO.replace("capability = [1.0, 0.5]", "sample = {n = 100000}"))
    one_line_error(lbsim("check", "big.toml", cwd=tmp_path), "developers = 100000", "10,000")


def test_theory_on_many_developers_answers(tmp_path):
    # 20,000 developers, winner-take-all: the exact check no longer looks at all 4e8 deviations.
    (tmp_path / "big.toml").write_text(TWO.replace("capability = [1.0, 0.5]", "sample = {n = 20000}"))
    done = lbsim("theory", "big.toml", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == 20000 and report["zero_is_equilibrium_exact"] is False


def test_replications_too_many_names_replications(two):
    with pytest.raises(ScenarioError) as info:
        sweeps.sweep_spec(two / "base.toml", {"designer.tau": [0.0, 1.0]}, replications=10**12)
    assert info.value.field == "replications"


# ---------------------------------------------------------------------------
# The exact equilibrium check: the fast one agrees with the reference
# ---------------------------------------------------------------------------


@st.composite
def wild_games(draw) -> LeaderboardGame:
    """Games inside and outside the paper's assumptions: any per-developer parameters, shared levels, coarse
    grids, random tie priorities, flat costs, per-developer cost scales, any reward vector and tau."""
    n = draw(st.integers(2, 7))
    theta = np.array(draw(st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.7, 1.0]) | st.floats(0.0, 2.0),
                                   min_size=n, max_size=n)))
    floats = lambda lo, hi: np.array(draw(st.lists(st.floats(lo, hi), min_size=n, max_size=n)))  # noqa: E731
    lower = floats(0.0, 0.4)
    upper = lower + floats(0.1, 0.6)
    if draw(st.booleans()):
        score = PowerLaw(lower=lower, upper=upper, alpha=floats(-4.0, 2.0), beta=floats(0.05, 3.0),
                         effort_unit=draw(st.sampled_from([0.1, 1.0, 10.0])))
    else:
        score = ExpSaturation(lower=lower, upper=upper, rate=floats(1e-3, 2.0))
    scale = draw(st.floats(1e-4, 10.0))
    cost = draw(st.sampled_from([
        LinearCost(scale), PowerCost(scale, draw(st.floats(1.0, 3.0))),
        FlatQuadraticCost(scale, draw(st.floats(0.0, 5.0))),
    ]))
    rewards = draw(reward_vectors(n))
    gamma = floats(0.1, 5.0) if draw(st.booleans()) else None
    priority = np.array(draw(st.permutations(range(n)))) if draw(st.booleans()) else None
    return LeaderboardGame(
        theta, score, cost, rewards,
        tau=draw(st.sampled_from([0.0, 0.5, 10.0]) | st.floats(0.0, 1e4)),
        resolution=draw(st.sampled_from([0.0, 1e-4, 1e-2, 0.05, 0.2])),
        tie_break=draw(st.sampled_from(["capability", "id"])),
        gamma=gamma,
        priority=priority,
    )  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wild_games())
def test_fast_exact_check_agrees_with_all_deviations(game):
    reference = equilibrium_check(game, np.zeros(game.n)).is_equilibrium
    assert zero_profile_is_equilibrium(game) == reference


def test_both_verdicts_occur_in_the_comparison():
    # The property above is only worth something if both answers are compared: a game of each kind.
    score = PowerLaw(lower=0.25, upper=0.95, alpha=np.array([0.0, -1.0, -2.0]), beta=np.array([0.5, 0.4, 0.3]))
    base = dict(theta=np.array([1.0, 0.5, 0.2]), score=score, rewards=np.array([1.0, 0.5, 0.0]), resolution=1e-3)
    cheap = LeaderboardGame(cost=LinearCost(1e-4), **base)
    dear = LeaderboardGame(cost=LinearCost(1e3), **base)
    for game, expected in ((cheap, False), (dear, True)):
        assert equilibrium_check(game, np.zeros(3)).is_equilibrium is expected
        assert zero_profile_is_equilibrium(game) is expected


def test_exact_check_refuses_beyond_its_candidate_limit(monkeypatch):
    import sim.game as game_module

    monkeypatch.setattr(game_module, "MAX_EXACT_CANDIDATES", 3)
    n = 50
    theta = np.linspace(1.0, 0.1, n)
    # Winner-take-all; the runner-up cannot afford anything, so no adjacent deviation decides the answer early,
    # while everyone else can afford to reach the top: two candidates each, more than the patched limit.
    gamma = np.ones(n)
    gamma[1] = 1e9
    score = PowerLaw(lower=0.25, upper=0.95, alpha=-2 + 2 * theta, beta=0.3 + 0.2 * theta)
    game = LeaderboardGame(theta, score, LinearCost(1e-3), np.eye(n)[0], resolution=1e-4, gamma=gamma)
    with pytest.raises(ScenarioError) as info:
        zero_profile_is_equilibrium(game)
    assert info.value.field == "developers" and "3" in info.value.message
