"""Command-line options that had no test: ``theory --tau-max``, ``run --tau``, ``sweep --no-theory`` and
``--tail-window``, Ctrl-C during a sweep, linspace axes, ``--version``.

Each test checks the option's effect against something computed another way (the one-shot condition at
``tau`` on either side of ``tau*``, the per-round records of a run of the same scenario), or against the run
without the option, so that an option the command ignored would fail it.
"""

from __future__ import annotations

import json
import math
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_texts import small_race

from sim import __version__, sweeps
from sim.cli import main
from sim.engine import run
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent

# a fixed horizon (no playing on), so that the race at tau = 0 stays unsettled
BASE = small_race(rounds=40, resolution="%s", dynamics="max_rounds = 40\n")

SWEEP = """
base = "base.toml"
name = "taus"
replications = 1
seed = 5
[axes]
"designer.tau" = {linspace = [0, 30, 4]}
"""


@pytest.fixture
def sweep_file(tmp_path) -> Path:
    (tmp_path / "base.toml").write_text(BASE % "0.001")
    path = tmp_path / "taus.toml"
    path.write_text(SWEEP)
    return path


def run_json(capsys, *args) -> dict:
    assert main([str(a) for a in args]) == 0
    return json.loads(capsys.readouterr().out)


def sweep_table(capsys, sweep_file: Path, out: Path, *options) -> pd.DataFrame:
    assert main(["sweep", str(sweep_file), "--out", str(out), "--quiet", *options]) == 0
    capsys.readouterr()
    return sweeps.read_results(out)


# --------------------------------------------------------------------------- --version


def test_version_prints_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"lbsim {pyproject}"
    assert __version__ == version("leaderboard-sim") == pyproject


# --------------------------------------------------------------------------- theory --tau-max


def test_theory_tau_max_bounds_the_search_for_exact_scores(capsys, tmp_path):
    path = tmp_path / "exact.toml"
    path.write_text(BASE % "0.0")  # exact scores: tau* is found by bisection up to --tau-max
    found = run_json(capsys, "theory", path, "--json")
    tau_star = found["tau_star"]
    assert found["stabilises"] and found["tau_star_method"] == "bisection" and 1.0 < tau_star < 100.0
    # tau* is where the one-shot condition starts to hold for good: fails a little below, holds a little above.
    assert run_json(capsys, "theory", path, "--tau", tau_star * 0.99, "--json")["zero_is_equilibrium"] is False
    assert run_json(capsys, "theory", path, "--tau", tau_star * 1.01, "--json")["zero_is_equilibrium"] is True
    # A bound above tau* finds the same tau*; a bound below it cannot, and says so.
    assert run_json(capsys, "theory", path, "--tau-max", 100, "--json")["tau_star"] == pytest.approx(tau_star)
    short = run_json(capsys, "theory", path, "--tau-max", 1, "--json")
    assert short["stabilises"] is False and short["tau_star"] is None
    assert "tau_max = 1" in short["tau_star_note"]


# --------------------------------------------------------------------------- run --tau


def test_run_tau_replaces_the_scenarios_tau(capsys, tmp_path):
    """At tau = 0 the three developers race; at tau = 30 (above tau*) nobody games and the start stays zero."""
    path = tmp_path / "base.toml"
    path.write_text(BASE % "0.001")
    assert load_scenario(path).designer.tau == 0.0
    default = run_json(capsys, "run", path, "--json")
    assert default["tau"] == 0.0 and default["outcome"] != "converged_zero" and max(default["final_effort"]) > 0
    for engine in ("batch", "mesa"):
        high = run_json(capsys, "run", path, "--tau", 30, "--engine", engine, "--json")
        assert high["tau"] == 30.0 and high["engine"] == engine
        assert high["outcome"] == "converged_zero" and high["final_effort"] == [0.0, 0.0, 0.0]
        assert high["final_score"] == pytest.approx(load_scenario(path).game(30.0).scores(np.zeros(3)).tolist())


# ------------------------------------------------------------------ sweep: linspace, --no-theory, --tail-window


def test_linspace_axis_from_the_cli_sweeps_both_ends_evenly(capsys, sweep_file, tmp_path):
    table = sweep_table(capsys, sweep_file, tmp_path / "out")
    assert table["designer.tau"].tolist() == [0.0, 10.0, 20.0, 30.0]
    assert table["tau"].tolist() == [0.0, 10.0, 20.0, 30.0]
    counts = run_json(capsys, "sweep", sweep_file, "--dry-run", "--json")
    assert counts["points"] == 4 and counts["scenarios"] == 4


def test_no_theory_leaves_the_theory_columns_empty(capsys, sweep_file, tmp_path):
    theory_columns = ["tau_star", "tau_star_vouched", "zero_is_equilibrium", "predicted_stable"]
    with_theory = sweep_table(capsys, sweep_file, tmp_path / "with")
    without = sweep_table(capsys, sweep_file, tmp_path / "without", "--no-theory")
    assert with_theory[theory_columns].notna().all().all()
    assert (with_theory["predicted_stable"] == (with_theory["tau"] >= with_theory["tau_star"])).all()
    assert without[theory_columns].isna().all().all()
    pd.testing.assert_frame_equal(without.drop(columns=theory_columns), with_theory.drop(columns=theory_columns))


def test_tail_window_sets_the_rounds_of_the_tail_statistics(capsys, sweep_file, tmp_path):
    """At tau = 0 the race never settles, so the tail means depend on the window: the last 3 rows with
    --tail-window 3, the default 10 (a quarter of 41 rows, at least 10) without it; computed here from the
    per-round records of a run of the same scenario."""
    short = sweep_table(capsys, sweep_file, tmp_path / "short", "--tail-window", "3")
    default = sweep_table(capsys, sweep_file, tmp_path / "default")
    records = run(load_scenario(sweep_file.parent / "base.toml"), tau=0.0).leaderboard(0)
    for table, window in ((short, 3), (default, 10)):
        row = table[table["tau"] == 0.0].iloc[0]
        assert row["outcome"] == "no_convergence"
        tail = records.tail(window)
        assert row["mean_total_effort_tail"] == pytest.approx(tail["total_effort"].mean(), rel=1e-12)
        assert row["ranking_correct_share"] == pytest.approx(tail["ranking_correct"].mean(), rel=1e-12)
    assert short["mean_total_effort_tail"].iloc[0] != default["mean_total_effort_tail"].iloc[0]


# --------------------------------------------------------------------------- Ctrl-C during a sweep


def test_ctrl_c_during_a_sweep_keeps_finished_chunks_and_resume_finishes(capsys, sweep_file, tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) while the third chunk runs: exit 130, one line saying how many chunks are
    saved and how to resume; the two finished chunks are on disk; --resume runs only the rest and gives the
    uninterrupted table."""
    whole = sweep_table(capsys, sweep_file, tmp_path / "whole", "--chunk-size", "1")
    real, calls = sweeps.run_chunk, []

    def interrupted(task):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sweeps.workers, "run_chunk", interrupted)
    out = tmp_path / "out"
    code = main(["sweep", str(sweep_file), "--out", str(out), "--quiet", "--chunk-size", "1"])
    captured = capsys.readouterr()
    assert code == 130 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "interrupted" in lines[0] and "2 of 4 chunks" in lines[0] and str(out) in lines[0]
    assert "--resume" in lines[0]
    assert sorted(sweeps.finished_chunks(out)) == [0, 1]
    monkeypatch.setattr(sweeps.workers, "run_chunk", real)
    report = run_json(capsys, "sweep", sweep_file, "--out", out, "--quiet", "--chunk-size", "1", "--resume", "--json")
    assert report["chunks_run"] == 2 and report["chunks_skipped"] == 2
    pd.testing.assert_frame_equal(sweeps.read_results(out), whole)
    assert math.isfinite(report["seconds"])
