"""Tests of ``lbsim plot DIR`` (a figure of any sweep output directory) and ``lbsim run --plot --window``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from inprocess import lbsim  # noqa: E402

from sim import sweeps
from sim.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARMS_RACE = ROOT / "scenarios" / "arms_race.toml"
SWEEP = f"""
name = "cli-plot"
base = "{(ROOT / 'scenarios' / 'two_developers.toml').as_posix()}"
replications = 2
seed = 4

[axes]
"dynamics.rounds" = [40]
"designer.tau" = {{logspace = [0, 3, 4]}}
"reward" = [{{scheme = "winner_take_all"}}, {{scheme = "top_k", k = 1}}]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A finished sweep: 4 log-spaced tau x 2 table-valued rewards, 40 rounds (the two replications of a
    scenario without randomness run once each: 8 scenarios)."""
    root = tmp_path_factory.mktemp("sweep")
    spec = root / "sweep.toml"
    spec.write_text(SWEEP)
    out = root / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 0
    return out


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.is_file()}


def test_plot_default_figure(sweep_dir, capsys):
    capsys.readouterr()
    before = _files(sweep_dir)
    assert main(["plot", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    scenarios = len(sweeps.read_results(sweep_dir))
    assert scenarios == 8
    assert f"outcome by designer.tau (log scale); col = reward; {scenarios} scenarios" in out
    made = _files(sweep_dir) - before
    assert made == {"plot-outcome-by-designer.tau.png", "plot-outcome-by-designer.tau.pdf"}
    assert (sweep_dir / "plot-outcome-by-designer.tau.png").read_bytes()[:4] == b"\x89PNG"
    assert (sweep_dir / "plot-outcome-by-designer.tau.pdf").read_bytes()[:4] == b"%PDF"


def test_plot_chosen_measure_and_stem(sweep_dir, tmp_path, capsys):
    stem = tmp_path / "figs" / "ranking"
    assert main(["plot", str(sweep_dir), "--y", "ranking_correct_share", "--x", "designer.tau", "--hue", "reward",
                 "--out", str(stem)]) == 0
    assert "ranking_correct_share by designer.tau (log scale); hue = reward" in capsys.readouterr().out
    assert _files(stem.parent) == {"ranking.png", "ranking.pdf"}
    assert main(["plot", str(sweep_dir), "--x", "reward", "--y", "mean_total_effort_tail", "--col", "designer.tau",
                 "--out", str(tmp_path / "cat")]) == 0
    assert (tmp_path / "cat.pdf").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--x", "tau"], "--x = 'tau': not an axis of the sweep; choose from dynamics.rounds, designer.tau, reward"),
        (["--hue", "reward.scheme"], "--hue = 'reward.scheme': not an axis"),
        (["--y", "effort"], "--y = 'effort': not a measure of this sweep; choose from outcome, converged_zero_share"),
        (["--hue", "reward"], "--hue = 'reward': with y = outcome the colours are the outcomes"),
        (["--x", "reward", "--row", "reward"], "must be different axes"),
        (["--out", " "], "--out = ' ': needs a file name stem"),
    ],
)
def test_plot_bad_names_give_one_line_listing_the_choices(sweep_dir, args, expected):
    before = _files(sweep_dir)
    done = lbsim("plot", str(sweep_dir), *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"lbsim: error: {sweep_dir}: ") and expected in lines[0]
    assert _files(sweep_dir) == before  # nothing written


def test_plot_needs_a_sweep_directory(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no manifest.json" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_run_plot_window(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(ARMS_RACE), "--rounds", "80", "--plot", "--window", "10:30", "--out", str(out),
                 "--quiet"]) == 0
    assert {"dynamics.png", "dynamics.pdf"} <= _files(out)
    assert main(["run", str(ARMS_RACE), "--rounds", "80", "--plot", "--window", "50:", "--out", str(out),
                 "--quiet"]) == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--plot", "--window", "a:b"], "integer rounds"),
        (["--plot", "--window", "30"], "START:END"),
        (["--plot", "--window", "30:10"], "START must not exceed END"),
        (["--plot", "--window=-5:10"], ">= 0"),
        (["--plot", "--window", "100:200"], "holds no round of the run (rounds 0 to 80)"),
        (["--window", "10:20"], "add --plot"),
    ],
)
def test_run_bad_window_gives_one_line_and_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "run"
    done = lbsim("run", str(ARMS_RACE), "--rounds", "80", "--out", str(out), "--quiet", *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "--window" in lines[0] and expected in lines[0]
    assert not out.exists() or list(out.iterdir()) == []
