"""``lbsim tournament``: bad files are one line and exit 2, writing nothing; a tiny tournament gives the same
tables for --n-jobs 1 and 2 and writes its figure; the bundled file parses and plans."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.tournament.matches import plan_matches
from sim.tournament.report import outputs, run_tournament
from sim.tournament.spec import load_tournament, mix_count
from tests.inprocess import lbsim

ROOT = Path(__file__).resolve().parents[1]
BAD = sorted((ROOT / "tests" / "bad_tournaments").glob("*.toml"))
BUNDLED = sorted((ROOT / "scenarios" / "tournaments").glob("*.toml"))

TINY = """
name = "tiny"
seed = 9
developers = 2
repetitions = 2
strategies = ["best", {name = "logit", temperature = 0.05}]
[capabilities]
distribution = "uniform"
low = 0.3
high = 1.0
[game]
scenario = "SCENARIO"
tau = [0.0, 300.0]
rounds = 12
[evolution]
population = 6
"""


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_tournament_file_is_one_line_exit_2_and_writes_nothing(path, tmp_path):
    expect = path.read_text().splitlines()[0].split(":", 1)[1].strip()
    out = tmp_path / "out"
    done = lbsim("tournament", path, "--out", out)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lbsim: error: ") and done.stderr.count("\n") == 1
    assert expect in done.stderr
    assert str(path) in done.stderr
    assert not out.exists()


def test_bad_file_from_a_real_process_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sim.cli", "tournament", str(BAD[0]), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_every_bundled_tournament_parses_and_plans():
    assert BUNDLED, "scenarios/tournaments/ holds no tournament file"
    for path in BUNDLED:
        spec = load_tournament(path)
        matches = plan_matches(spec)
        assert len(matches) == mix_count(len(spec.strategies), spec.developers, spec.mixes) * len(spec.taus) \
            * spec.repetitions
        assert len(matches) <= 200, "a bundled tournament finishes in seconds"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny tournament once through the CLI (--json, --force into a directory holding a stray file)."""
    root = tmp_path_factory.mktemp("tiny")
    path = root / "tiny.toml"
    path.write_text(TINY.replace("SCENARIO", str(ROOT / "scenarios" / "two_developers.toml")))
    out = root / "out"
    out.mkdir()
    (out / "stray.txt").write_text("an earlier file")
    return path, out, lbsim("tournament", path, "--out", out, "--n-jobs", 1, "--json", "--force")


def test_same_tables_for_one_and_two_jobs(tiny_run, loky_workers):
    """Two worker processes (joblib, loky) give the tables the one-process CLI run wrote, to the bit."""
    path, out, done = tiny_run
    assert done.returncode == 0, done.stderr
    result = run_tournament(load_tournament(path), n_jobs=2)
    for name, frame in result.tables().items():
        written = pd.read_parquet(out / f"{name}.parquet")
        assert len(written) > 0
        pd.testing.assert_frame_equal(written, frame.reset_index(drop=True), check_exact=True)


def test_outputs_and_json(tiny_run):
    _, out, done = tiny_run
    assert done.returncode == 0, done.stderr
    for name in outputs():
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    report = json.loads(done.stdout)
    assert report["matches"] == 3 * 2 * 2  # 3 mixes of two strategies for two, 2 taus, 2 repetitions
    rows = report["strategies"]
    assert {r["strategy"] for r in rows} == {"best", "logit(temperature=0.05)"}
    for r in rows:
        assert r["utility_low"] <= r["mean_utility"] <= r["utility_high"]
        assert 1.0 <= r["mean_rank"] <= 2.0 and 0.0 <= r["correct_share"] <= 1.0
    matches = pd.read_parquet(out / "matches.parquet")
    # each match's developers hold ranks 1..n in every round, so their mean ranks sum to n(n+1)/2
    assert matches.groupby("match")["mean_rank"].sum().round(12).eq(3.0).all()
    shares = pd.read_parquet(out / "replicator.parquet").groupby(["tau", "step"])["share"].sum()
    assert (shares - 1.0).abs().max() < 1e-12


def test_out_not_empty_needs_force(tiny_run, tmp_path):
    path, _, _ = tiny_run
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    done = lbsim("tournament", path, "--out", out)
    assert done.returncode == 2 and "--force" in done.stderr and done.stderr.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
