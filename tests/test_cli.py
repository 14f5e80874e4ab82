"""Tests of the lbsim command line: theory and check on bundled scenarios, one-line errors on bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim import theory
from sim.cli import main
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
BAD = sorted((ROOT / "tests" / "bad_scenarios").glob("*.toml"))
REQUIRED_KEYS = {
    "tau",
    "just_overtake",
    "zero_is_equilibrium",
    "zero_is_equilibrium_exact",
    "tau_star",
    "stabilises",
}


def run_json(capsys, *args) -> dict:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def expected_field(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect:"), path
    return first.split(":", 1)[1].strip()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_theory_json_has_the_documented_keys(capsys, path):
    report = run_json(capsys, "theory", str(path), "--json")
    assert REQUIRED_KEYS <= report.keys()
    scenario = load_scenario(path)
    assert len(report["just_overtake"]) == scenario.n - 1
    assert report["tau"] == scenario.designer.tau
    assert report["stabilises"] == (report["tau_star"] is not None)


def test_theory_json_matches_the_library(capsys):
    path = ROOT / "scenarios" / "two_developers.toml"
    report = run_json(capsys, "theory", str(path), "--tau", "500", "--json")
    game = load_scenario(path).game(500.0)
    assert report["tau"] == 500.0
    assert report["just_overtake"] == pytest.approx(theory.just_overtake(game).tolist())
    assert report["zero_is_equilibrium"] == theory.zero_is_equilibrium(game)
    assert report["zero_is_equilibrium_exact"] == theory.zero_is_equilibrium_exact(game)
    threshold = theory.stabilising_threshold(game)
    assert report["tau_star"] == pytest.approx(threshold.tau_star)
    # tau = 500 lies above tau*, so the all-zero profile is an equilibrium there.
    assert report["tau_star"] < 500 and report["zero_is_equilibrium"] and report["zero_is_equilibrium_exact"]


def test_theory_text_names_the_quantities(capsys):
    assert main(["theory", str(ROOT / "scenarios" / "two_developers.toml")]) == 0
    out = capsys.readouterr().out
    for needle in ("Delta_i(tau)", "Proposition 4.5", "exact check", "tau* =", "Proposition 5.6", "kappa_i", "rho_i"):
        assert needle in out


UNREACHABLE = """
name = "unreachable"
seed = 1
[developers]
capability = [1.0, 0.8, 0.5]
[score]
family = "power_law"
lower = 0.25
upper = [0.95, 0.95, 0.5]
alpha = {intercept = -2.0, slope = 2.0}
beta = {intercept = 0.3, slope = 0.2}
[cost]
family = "linear"
scale = 0.02
[reward]
scheme = "winner_take_all"
[leaderboard]
resolution = 0.0
"""


def test_unreachable_overtake_is_null_in_json(capsys, tmp_path):
    """The weakest developer's scores stay below 0.5 (its upper limit); at tau = 50 the one above it already
    scores more, so no effort overtakes it: Delta and its cost are JSON null, and the text table shows inf."""
    path = tmp_path / "unreachable.toml"
    path.write_text(UNREACHABLE)
    report = run_json(capsys, "theory", str(path), "--tau", "50", "--json")
    assert report["baseline_scores"][1] > 0.5  # the target of the last pair lies above the weakest one's limit
    assert report["just_overtake"][1] is None and report["just_overtake_cost"][1] is None
    # The first pair is reachable: a number, and the effort it names reaches the stronger one's baseline exactly.
    delta = report["just_overtake"][0]
    assert isinstance(delta, float) and 0 < delta < math.inf
    game = load_scenario(path).game(50.0)
    reached = game.scores(np.array([0.0, delta, 0.0]))[1]
    assert reached == pytest.approx(report["baseline_scores"][0], rel=1e-12)
    assert main(["theory", str(path), "--tau", "50"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("2 -> 1"))
    assert row.split()[3:5] == ["inf", "inf"]


def test_check_names_the_non_strict_cost(capsys):
    path = ROOT / "scenarios" / "flat_cost.toml"
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "strictly increasing" in ln)
    assert "FAILS" in line and "constant" in line
    assert main(["check", str(path), "--strict"]) == 1
    capsys.readouterr()
    report = run_json(capsys, "check", str(path), "--json")
    assert report["holds"] is False
    assert report["assumptions"]["cost strictly increasing"]["holds"] is False
    assert report["assumptions"]["C3"]["holds"] is True


def test_check_passes_on_an_assumption_scenario(capsys):
    report = run_json(capsys, "check", str(ROOT / "scenarios" / "two_developers.toml"), "--json")
    assert report["holds"] is True


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_scenario_gives_one_line_error_and_exit_2(capsys, path):
    assert main(["theory", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("lbsim: error: ")
    field = expected_field(path)
    assert (str(path) if field == "<file>" else field) in lines[0]


@pytest.mark.parametrize("args", [["theory", "--tau", "-1"], ["theory", "--tau", "nan"], ["theory", "--tau-max", "0"]])
def test_bad_option_values(capsys, args):
    path = str(ROOT / "scenarios" / "two_developers.toml")
    assert main([args[0], path, *args[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and args[1] in err


def test_missing_file(capsys):
    assert main(["check", "no/such/file.toml"]) == 2
    assert "no/such/file.toml" in capsys.readouterr().err


def test_console_script_without_traceback(tmp_path):
    """End to end through a real process: exit code 2, one line on stderr, no traceback; nothing written.

    The processes run in ``tmp_path`` on copies of the scenarios there, so "nothing written" covers both the
    working directory and the scenario's directory: afterwards ``tmp_path`` holds exactly the copies.
    """
    bad = tmp_path / BAD[0].name
    bad.write_bytes(BAD[0].read_bytes())
    good = tmp_path / "two_developers.toml"
    good.write_bytes((ROOT / "scenarios" / "two_developers.toml").read_bytes())
    race = race_file(tmp_path)

    def lbsim(*args):
        return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path)

    for proc, field in ((lbsim("theory", bad.name), expected_field(bad)), (lbsim("run", race.name, "--rounds", "0"),
                                                                          "--rounds")):
        assert proc.returncode == 2 and proc.stdout == ""
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
        assert proc.stderr.startswith("lbsim: error: ") and (bad.name if field == "<file>" else field) in proc.stderr
    done = lbsim("theory", good.name, "--tau", "500", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["zero_is_equilibrium"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([bad.name, good.name, race.name])


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["theory"])
    assert exc.value.code == 2
    assert np.char.count(capsys.readouterr().err, "\n") >= 1


# ---------------------------------------------------------------------------
# lbsim run
# ---------------------------------------------------------------------------

RUN_KEYS = {
    "outcome",
    "period",
    "entered_at",
    "rounds",
    "final_effort",
    "mean_effort_tail",
    "ranking_correct_share",
}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_run_json_has_the_documented_keys(capsys, path):
    report = run_json(capsys, "run", str(path), "--rounds", "5", "--max-rounds", "5", "--json")
    assert RUN_KEYS <= report.keys()
    n = load_scenario(path).n
    assert report["rounds"] == 5
    assert len(report["final_effort"]) == n and len(report["mean_effort_tail"]) == n
    assert report["outcome"] in ("converged_zero", "converged_nonzero", "cycle", "no_convergence")
    assert 0.0 <= report["ranking_correct_share"] <= 1.0


def race_file(tmp_path) -> Path:
    path = tmp_path / "race.toml"
    path.write_text(
        """
name = "race"
seed = 3
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
scale = 0.02
[reward]
scheme = "winner_take_all"
[leaderboard]
resolution = 0.01
[dynamics]
rounds = 100
"""
    )
    return path


def test_run_reports_the_arms_race_cycle_for_both_engines(capsys, tmp_path):
    path = race_file(tmp_path)
    batch = run_json(capsys, "run", str(path), "--json")
    mesa = run_json(capsys, "run", str(path), "--engine", "mesa", "--json")
    assert batch["outcome"] == "cycle" and batch["period"] >= 4 and batch["entered_at"] == 0
    assert {k: v for k, v in mesa.items() if k != "engine"} == {k: v for k, v in batch.items() if k != "engine"}


def test_run_text_output_names_the_outcome(capsys, tmp_path):
    assert main(["run", str(race_file(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "Outcome: cycle" in out and "period" in out


def test_run_writes_trajectory_outcome_and_figures(capsys, tmp_path):
    out_dir = tmp_path / "out"
    report = run_json(capsys, "run", str(race_file(tmp_path)), "--rounds", "30", "--plot", "--out", str(out_dir),
                      "--json")
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["dynamics.pdf", "dynamics.png", "leaderboard.csv", "outcome.json", "trajectory.csv"]
    import pandas as pd

    frame = pd.read_csv(out_dir / "trajectory.csv")
    assert list(frame.columns) == ["round", "developer", "capability", "effort", "score", "published", "rank",
                                   "reward", "cost", "utility"]
    assert len(frame) == 31 * 2
    assert json.loads((out_dir / "outcome.json").read_text())["outcome"] == report["outcome"]
    assert (out_dir / "dynamics.png").read_bytes()[:4] == b"\x89PNG"
    assert (out_dir / "dynamics.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.parametrize(
    "args, field",
    [
        (["--rounds", "0"], "--rounds"),
        (["--tau", "-1"], "--tau"),
        (["--tau", "nan"], "--tau"),
    ],
)
def test_run_bad_options_give_one_line_and_exit_2(tmp_path, capsys, args, field):
    # In process (an exception escaping main would fail the test); test_console_script_without_traceback runs
    # the real console script once for every command.
    assert main(["run", str(race_file(tmp_path)), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and field in lines[0] and "Traceback" not in captured.err


def test_run_out_must_be_a_directory(tmp_path, capsys):
    clash = tmp_path / "file"
    clash.write_text("x")
    assert main(["run", str(race_file(tmp_path)), "--out", str(clash)]) == 2
    assert "--out" in capsys.readouterr().err
    assert clash.read_text() == "x"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_run_rejects_bad_scenarios_with_one_line(capsys, path):
    assert main(["run", str(path), "--rounds", "2", "--allow-custom"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    field = expected_field(path)
    assert len(err) == 1 and (str(path) if field == "<file>" else field) in err[0]


def test_run_out_that_cannot_be_created_fails_before_the_run(capsys):
    assert main(["run", str(ROOT / "scenarios" / "arms_race.toml"), "--out", "/proc/no/such/dir"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "cannot create" in err[0]


def test_run_default_out_dir_is_a_safe_name(tmp_path, monkeypatch, capsys):
    """--plot without --out writes under results/<name>, with the name made a single safe directory name."""
    monkeypatch.chdir(tmp_path)
    path = race_file(tmp_path)
    path.write_text(path.read_text().replace('name = "race"', 'name = "../../escape me"'))
    assert main(["run", str(path), "--rounds", "5", "--plot", "--quiet"]) == 0
    capsys.readouterr()
    made = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert made == ["escape-me"]
    assert not (tmp_path.parent / "escape me").exists()


def test_run_leaves_no_staging_files(capsys, tmp_path):
    out_dir = tmp_path / "o"
    assert main(["run", str(race_file(tmp_path)), "--rounds", "5", "--out", str(out_dir)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["leaderboard.csv", "outcome.json", "trajectory.csv"]


def test_run_refuses_an_impossible_number_of_rounds(capsys, tmp_path):
    assert main(["run", str(race_file(tmp_path)), "--rounds", "99999999999999"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dynamics.rounds" in err[0] and "GiB" in err[0]


# ---------------------------------------------------------------------------
# horizon and tail measures
# ---------------------------------------------------------------------------


def test_run_plays_on_to_the_cycle_a_long_run_finds(capsys, tmp_path):
    """Default settings find the cycle that --rounds far beyond it finds; the JSON carries the tail measures."""
    path = race_file(tmp_path)
    text = path.read_text().replace("resolution = 0.01", "resolution = 0.001")
    assert text != path.read_text()
    path.write_text(text)
    default = run_json(capsys, "run", str(path), "--rounds", "10", "--json")
    long = run_json(capsys, "run", str(path), "--rounds", "3000", "--max-rounds", "3000", "--json")
    assert default["outcome"] == long["outcome"] == "cycle"
    assert (default["period"], default["entered_at"]) == (long["period"], long["entered_at"])
    assert default["rounds"] == default["entered_at"] + default["period"] > 10
    for key in ("kendall_tau_tail", "top1_correct_share", "total_surplus_tail", "total_effort_tail"):
        assert isinstance(default[key], float)
    assert len(default["effort_tail"]) == len(default["utility_tail"]) == 2
    assert default["max_rounds"] == load_scenario(path).dynamics.max_rounds and default["cap_reached"] is False


def test_run_says_when_the_cap_is_reached_and_what_to_raise(capsys, tmp_path):
    path = race_file(tmp_path)
    path.write_text(path.read_text().replace("resolution = 0.01", "resolution = 0.001"))
    report = run_json(capsys, "run", str(path), "--rounds", "10", "--max-rounds", "30", "--json")
    assert (report["outcome"], report["rounds"], report["cap_reached"]) == ("no_convergence", 30, True)
    assert main(["run", str(path), "--rounds", "10", "--max-rounds", "30"]) == 0
    text = capsys.readouterr().out
    assert "cap of 30 rounds" in text and "--max-rounds" in text


def test_mesa_plays_on_as_the_batch_engine(capsys, tmp_path):
    path = race_file(tmp_path)
    path.write_text(path.read_text().replace("resolution = 0.01", "resolution = 0.001"))
    batch = run_json(capsys, "run", str(path), "--rounds", "10", "--json")
    mesa = run_json(capsys, "run", str(path), "--rounds", "10", "--json", "--engine", "mesa")
    batch.pop("engine"), mesa.pop("engine")
    assert batch == mesa and batch["rounds"] > 10


@pytest.mark.parametrize("value", ["0", "-3"])
def test_bad_max_rounds_is_one_line(capsys, value):
    assert main(["run", str(ROOT / "scenarios" / "arms_race.toml"), "--max-rounds", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-rounds" in err[0]
