"""What the command line imports: the heavy libraries only in the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "matplotlib", "mesa", "seaborn", "pyarrow", "scipy", "numba", "joblib")

# Runs the command line in a fresh interpreter and prints, as JSON, which HEAVY modules it imported.
PROBE = """
import contextlib, io, json, sys
from sim.cli import main
argv, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
code = None
if argv:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def imported(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_no_heavy_library():
    assert imported([]) == {"code": None, "loaded": []}


@pytest.mark.parametrize("command", ["theory", "check", "run"])
def test_theory_check_and_run_import_neither_pandas_nor_matplotlib_nor_mesa(command):
    """``theory`` and ``check`` need SciPy's ``expit`` (the power-law score), ``run`` the compiled kernels
    (numba, which imports ``scipy.linalg``); none of them needs pandas, matplotlib, Mesa or the sweep stack."""
    result = imported([command, "scenarios/arms_race.toml"])
    assert result["code"] == 0
    allowed = {"theory": {"scipy"}, "check": {"scipy"}, "run": {"scipy", "numba"}}[command]
    assert set(result["loaded"]) <= allowed
    assert "scipy" in result["loaded"]  # the probe sees imports: the score needed SciPy


def test_run_with_out_still_writes_the_frames(tmp_path):
    result = imported(["run", "scenarios/arms_race.toml", "--out", str(tmp_path / "out"), "--quiet"])
    assert result["code"] == 0 and "pandas" in result["loaded"]
    assert (tmp_path / "out" / "trajectory.csv").read_text().startswith("round,developer")


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_run_report_from_the_arrays_equals_the_one_from_the_frames(path):
    """``lbsim run`` without ``--out`` reads the last round from the arrays (no pandas): the same report."""
    from sim.cli import final_round, run_report
    from sim.engine import run
    from sim.scenario import load_scenario

    scenario = load_scenario(path)
    result = run(scenario, progress=False)
    tau = float(result.game.tau[0])
    args = (scenario, result.outcome(0), result.trajectory(0), result.leaderboard(0), "batch", tau)
    from_frames = run_report(*args)
    from_arrays = run_report(*args[:2], None, None, *args[4:], final_round(result))
    assert json.dumps(from_arrays, sort_keys=True) == json.dumps(from_frames, sort_keys=True)
    assert len(from_arrays["final_rank"]) == len(from_arrays["final_score"]) == scenario.n
