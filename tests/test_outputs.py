"""Outputs never mix and go where the user asked.

* ``lbsim run --out DIR`` refuses a directory holding anything but an earlier
  run of the same scenario (``outcome.json`` is the run's manifest), with one
  line and exit 2 and the directory untouched; ``--force`` replaces another
  run's files, stale figures included.
* ``lbsim reproduce`` and ``python -m experiments.<name>`` write relative to
  the working directory: ``./results`` by default, ``./results-quick`` with
  ``--quick`` (never over the committed full-size results).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
TWO = ROOT / "scenarios" / "two_developers.toml"  # name "two-developers"
RACE = ROOT / "scenarios" / "arms_race.toml"
FIGURES = {"dynamics.png", "dynamics.pdf"}
CSV_JSON = {"trajectory.csv", "leaderboard.csv", "outcome.json"}


def run_cli(capsys, *args) -> tuple[int, str]:
    # --max-rounds = --rounds: these tests are about the output directory, not the horizon (a deterministic
    # scenario would otherwise play on to its recurrence; that is tested in test_engine.py and test_cli.py).
    code = main(["run", *map(str, args), "--rounds", "4", "--max-rounds", "4", "--quiet"])
    return code, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbsim: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def test_run_out_refuses_a_directory_that_holds_no_run(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, err = run_cli(capsys, TWO, "--out", out)
    assert code == 2
    one_line_error(err, "--out", "not empty", "--force")
    assert snapshot(out) == {"notes.txt": b"keep me"}


def test_run_out_refuses_another_scenarios_output_and_leaves_it_whole(tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli(capsys, RACE, "--out", out, "--plot")[0] == 0
    before = snapshot(out)
    assert set(before) == CSV_JSON | FIGURES
    code, err = run_cli(capsys, TWO, "--out", out)
    assert code == 2
    one_line_error(err, "--out", "arms-race", "--force")
    assert snapshot(out) == before


def test_force_replaces_another_run_including_its_stale_figures(tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli(capsys, RACE, "--out", out, "--plot")[0] == 0
    assert run_cli(capsys, TWO, "--out", out, "--force")[0] == 0
    assert {p.name for p in out.iterdir()} == CSV_JSON
    outcome = json.loads((out / "outcome.json").read_text())
    assert outcome["scenario"] == "two-developers"
    assert {Path(p).name for p in outcome["written"]} == CSV_JSON


def test_force_keeps_files_that_are_not_run_outputs(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert run_cli(capsys, TWO, "--out", out, "--force")[0] == 0
    assert {p.name for p in out.iterdir()} == CSV_JSON | {"notes.txt"}
    assert (out / "notes.txt").read_text() == "keep me"


def test_rerun_of_the_same_scenario_replaces_its_files_and_drops_stale_figures(tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli(capsys, TWO, "--out", out, "--plot")[0] == 0
    assert {p.name for p in out.iterdir()} == CSV_JSON | FIGURES
    code = main(["run", str(TWO), "--rounds", "6", "--max-rounds", "6", "--quiet", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == CSV_JSON
    assert json.loads((out / "outcome.json").read_text())["rounds"] == 6


def test_a_left_over_staging_directory_does_not_block_a_run(tmp_path, capsys):
    out = tmp_path / "o"
    (out / ".lbsim-abandoned").mkdir(parents=True)
    assert run_cli(capsys, TWO, "--out", out)[0] == 0
    assert CSV_JSON <= {p.name for p in out.iterdir()}


def test_relative_run_out_is_relative_to_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, TWO, "--out", "rel/dir")[0] == 0
    assert {p.name for p in (tmp_path / "rel" / "dir").iterdir()} == CSV_JSON


# --------------------------------------------------------------------------- experiments


@pytest.fixture
def fake_experiment(monkeypatch):
    """A tiny experiment registered as ``experiments.fake_outputs`` and as the only one ``experiments.all`` knows."""
    from experiments import all as experiments_all
    from experiments.common import ExperimentInfo, command, save_figure, write_table

    info = ExperimentInfo(name="fake_outputs", title="Fake", description="A fake experiment.", figure="figure",
                          data=("table.csv",))

    def run(out, *, quick=False, n_jobs=1):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd

        write_table(pd.DataFrame({"quick": [quick]}), out / "table.csv")
        fig, ax = plt.subplots()
        save_figure(fig, out, info.figure)
        return {"quick": quick}

    module = types.ModuleType("experiments.fake_outputs")
    module.INFO, module.run = info, run
    run.__module__ = module.__name__
    module.main = command(info, run)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(experiments_all, "EXPERIMENTS", (info.name,))
    return module


def committed_results() -> dict[str, int]:
    return {str(p.relative_to(ROOT)): p.stat().st_mtime_ns for p in sorted((ROOT / "results").rglob("*"))}


@pytest.mark.parametrize("quick, root", [(True, "results-quick"), (False, "results")])
def test_reproduce_writes_under_the_working_directory(tmp_path, monkeypatch, capsys, fake_experiment, quick, root):
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")  # a checkout: lbsim reproduce runs its scripts
    monkeypatch.chdir(tmp_path)
    before = committed_results()
    assert main(["reproduce", *(["--quick"] if quick else [])]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([root, "experiments"])
    summary = json.loads((tmp_path / root / "fake_outputs" / "summary.json").read_text())
    assert summary["quick"] is quick
    assert (tmp_path / root / "README.md").is_file()
    assert committed_results() == before


def test_experiment_command_quick_default_is_results_quick(tmp_path, monkeypatch, capsys, fake_experiment):
    monkeypatch.chdir(tmp_path)
    assert fake_experiment.main(["--quick"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results-quick"]
    assert (tmp_path / "results-quick" / "fake_outputs" / "summary.json").is_file()
    assert str(Path("results-quick") / "fake_outputs") in capsys.readouterr().out


def test_reproduce_relative_out_is_relative_to_the_working_directory(tmp_path, monkeypatch, capsys, fake_experiment):
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "--quick", "--out", "elsewhere"]) == 0
    assert (tmp_path / "elsewhere" / "fake_outputs" / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "experiments"]


def test_reproduce_outside_a_checkout_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lbsim: error: experiments = ")
    assert "checkout" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_results_quick_is_git_ignored():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert "results-quick/" in lines
