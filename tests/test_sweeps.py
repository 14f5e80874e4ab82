"""Tests of sim.sweeps and `lbsim sweep`: sweep files, points and seeds, parallel = serial, resume, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inprocess import Forked, lbsim
from pandas.testing import assert_frame_equal
from scenario_texts import small_race

from sim import sweeps, theory
from sim.cli import main
from sim.errors import ScenarioError
from sim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((ROOT / "tests" / "bad_sweeps").glob("*.toml"))
BUNDLED = sorted((ROOT / "scenarios" / "sweeps").glob("*.toml"))

BASE = small_race(rounds=120)


@pytest.fixture
def base_file(tmp_path) -> Path:
    path = tmp_path / "base.toml"
    path.write_text(BASE)
    return path


def write_sweep(tmp_path: Path, body: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'base = "base.toml"\n{body}')
    return path


# A sweep that mixes everything: a grid axis, a scheme switch (drops q), a random initial profile (uses the seed).
MIXED = """
name = "mixed"
replications = 3
seed = 11
[axes]
"designer.tau" = {logspace = [-1, 2, 4]}
"reward.scheme" = ["geometric", "linear"]
"dynamics.initial" = ["zero", "random"]
"""


# ---------------------------------------------------------------------------
# the sweep file
# ---------------------------------------------------------------------------


def test_load_sweep_reads_axes_replications_and_seed(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    assert spec.name == "mixed"
    assert spec.replications == 3 and spec.seed == 11
    assert [a.name for a in spec.axes] == ["designer.tau", "reward.scheme", "dynamics.initial"]
    assert spec.axes[0].grid_values() == pytest.approx(np.logspace(-1, 2, 4).tolist(), rel=0, abs=0)
    assert spec.points == 4 * 2 * 2 and spec.scenarios == 48
    assert spec.base == load_scenario(base_file)


def test_name_defaults_to_the_file_stem(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, "", name="my_sweep.toml"))
    assert spec.name == "my_sweep" and spec.points == 1 and spec.scenarios == 1


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_sweep_file_is_one_line_exit_2_and_writes_nothing(path, tmp_path, capsys):
    expect = path.read_text().splitlines()[0].split(":", 1)[1].strip()
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lbsim: error: ") and err.count("\n") == 1
    assert expect in err
    assert not out.exists()


def test_bad_file_from_a_real_process_has_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "sweep", str(BAD[0]), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_every_bundled_sweep_file_plans(capsys):
    assert BUNDLED, "scenarios/sweeps/ holds no sweep file"
    for path in BUNDLED:
        assert main(["sweep", str(path), "--dry-run"]) == 0
        assert "scenarios:" in capsys.readouterr().out


def test_dry_run_counts_the_issue_example(capsys):
    path = ROOT / "scenarios" / "sweeps" / "tau_by_scheme.toml"
    assert main(["sweep", str(path), "--dry-run", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    rounds = load_scenario(ROOT / "scenarios" / "winner_take_all_5.toml").dynamics.rounds
    assert counts["points"] == 26 * 3
    assert counts["replications"] == 1  # nothing random in it: one replication (it said 20)
    assert counts["scenarios"] == 26 * 3
    assert counts["scenario_rounds"] == 26 * 3 * rounds
    assert counts["agent_updates"] == 26 * 3 * rounds * 5


def test_dry_run_writes_nothing(tmp_path, base_file, capsys):
    out = tmp_path / "never"
    assert main(["sweep", str(write_sweep(tmp_path, MIXED)), "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    # 8 points with a random initial profile x 3 replications + 8 deterministic points run once
    assert "= 32" in text and "3,840 scenario-rounds" in text and "8 point(s) run once" in text
    assert not out.exists()


# ---------------------------------------------------------------------------
# points and seeds
# ---------------------------------------------------------------------------


def test_grid_is_the_cartesian_product_last_axis_fastest(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    points = sweeps.sweep_points(spec)
    taus = np.logspace(-1, 2, 4)
    expected = [(t, s, i) for t in taus for s in ("geometric", "linear") for i in ("zero", "random")]
    assert points == expected


def test_random_axes_are_reproducible_within_bounds_and_crossed_with_the_grid(base_file):
    axes = {
        "designer.tau": {"loguniform": [0.1, 100.0]},
        "reward.q": {"uniform": [0.2, 0.9]},
        "leaderboard.resolution": [0.001, 0.01],
        "reward.scheme": {"choice": ["geometric"]},
    }
    spec = sweeps.sweep_spec(base_file, axes, samples=7, seed=5)
    points = sweeps.sweep_points(spec)
    assert len(points) == spec.points == 14
    assert points == sweeps.sweep_points(sweeps.sweep_spec(base_file, axes, samples=7, seed=5))
    assert points != sweeps.sweep_points(sweeps.sweep_spec(base_file, axes, samples=7, seed=6))
    taus = np.array([p[0] for p in points])
    assert np.all((taus >= 0.1) & (taus <= 100.0))
    # each sample is crossed with both grid values
    assert [p[2] for p in points] == [0.001, 0.01] * 7
    assert [p[0] for p in points[0::2]] == [p[0] for p in points[1::2]]


def test_integer_axis_includes_both_ends(base_file):
    spec = sweeps.sweep_spec(base_file, {"dynamics.rounds": {"integers": [5, 6]}}, samples=200, seed=0)
    values = {p[0] for p in sweeps.sweep_points(spec)}
    assert values == {5, 6}


def test_seeds_are_spawned_up_front_from_the_master_seed(base_file):
    spec = sweeps.sweep_spec(base_file, {"designer.tau": [0.0, 1.0, 2.0]}, replications=4, seed=9)
    seeds = sweeps.run_seeds(spec)
    runs = np.random.SeedSequence(9).spawn(2)[1]
    per_rep = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in runs.spawn(4)]
    assert seeds.tolist() == per_rep * 3  # common random numbers: replication r has one seed at every point
    independent = sweeps.run_seeds(sweeps.sweep_spec(base_file, {"designer.tau": [0.0, 1.0, 2.0]}, replications=4,
                                                     seed=9, common_random_numbers=False))
    assert len(set(independent.tolist())) == 12
    assert np.all(independent >= 0)


def test_scheme_switch_drops_keys_the_new_scheme_does_not_take(base_file):
    base = load_scenario(base_file).to_dict()
    data = sweeps.apply_point(base, ["reward.scheme"], ["linear"])
    assert data["reward"] == {"scheme": "linear"}
    data = sweeps.apply_point(base, ["reward.scheme", "reward.q"], ["linear", 0.5])
    assert data["reward"]["q"] == 0.5  # set explicitly: kept, so the parser can name it
    with pytest.raises(ScenarioError, match="reward.q"):
        parse_scenario(data)
    data = sweeps.apply_point(base, ["reward"], [{"scheme": "top_k", "k": 2}])
    assert parse_scenario(data).reward.scheme == "top_k"
    assert base["reward"] == {"scheme": "geometric", "q": 0.6}  # the base is not modified


def test_capability_replaces_a_sample(tmp_path):
    sampled = load_scenario(ROOT / "scenarios" / "sampled_20.toml").to_dict()
    data = sweeps.apply_point(sampled, ["developers.capability"], [[1.0] * 19 + [0.5]])
    assert "sample" not in data["developers"]
    assert parse_scenario(data).n == 20


# ---------------------------------------------------------------------------
# the table: parallel = serial, disk = memory, theory beside the runs
# ---------------------------------------------------------------------------


def test_table_has_one_row_per_scenario_with_the_swept_values(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    table = sweeps.sweep(spec)
    random = table["dynamics.initial"] == "random"
    assert len(table) == 8 * 3 + 8  # a point without randomness runs once
    assert (table["replications"] == np.where(random, 3, 1)).all()
    assert (table.loc[~random, "replication"] == 0).all()
    assert table["scenario_index"].is_monotonic_increasing
    assert (table["point"] == table["scenario_index"] // 3).all()
    assert (table["replication"] == table["scenario_index"] % 3).all()
    assert table["error"].isna().all()
    assert set(table["outcome"]) <= {"converged_zero", "converged_nonzero", "cycle", "no_convergence"}
    points = sweeps.sweep_points(spec)
    for row in table.itertuples():
        tau, scheme, initial = points[row.point]
        assert row.tau == tau and row._5 == tau  # "designer.tau" column holds the swept value
        assert table.loc[row.Index, "reward.scheme"] == scheme
        assert table.loc[row.Index, "dynamics.initial"] == initial
    assert table.loc[~random, "point"].is_unique


def test_a_row_is_the_run_of_that_scenario_alone(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    table = sweeps.sweep(spec, chunk_size=7)
    from sim.engine import run

    for k in (0, 13, len(table) - 1):
        row = table.iloc[k]
        point = sweeps.sweep_points(spec)[int(row["point"])]
        data = sweeps.apply_point(spec.base.to_dict(), [a.name for a in spec.axes], point)
        data["seed"] = int(row["seed"])
        alone = run(parse_scenario(data), record="tail").outcome(0)
        assert row["outcome"] == alone.outcome
        assert (pd.isna(row["period"]) and alone.period is None) or row["period"] == alone.period
        assert row["mean_total_effort_tail"] == alone.total_effort_mean
        assert row["ranking_correct_share"] == alone.ranking_correct_share


def test_results_identical_for_any_n_jobs_chunk_size_and_dask(tmp_path, base_file, dask_cluster, loky_workers,
                                                            monkeypatch):
    """Axelrod's seeding equality: serial, two loky workers, other chunks and a Dask LocalCluster agree exactly.

    The sweep's own LocalCluster (``backend="dask"`` without a scheduler) is the shared session cluster here:
    the constructor is replaced by one that records its arguments and hands that cluster over (not closing it).
    """
    import contextlib

    import dask.distributed

    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    serial = sweeps.sweep(spec, n_jobs=1, chunk_size=500)
    assert_frame_equal(serial, sweeps.sweep(spec, n_jobs=2, chunk_size=5))
    assert_frame_equal(serial, sweeps.sweep(spec, n_jobs=1, chunk_size=1))
    made = []
    monkeypatch.setattr(dask.distributed, "LocalCluster",
                        lambda **kwargs: made.append(kwargs) or contextlib.nullcontext(dask_cluster))
    assert_frame_equal(serial, sweeps.sweep(spec, n_jobs=2, chunk_size=9, backend="dask"))
    assert made == [{"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
                     "host": "127.0.0.1"}]


def test_dask_joins_an_existing_scheduler(tmp_path, base_file, dask_cluster):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    serial = sweeps.sweep(spec)
    out = tmp_path / "dask_out"
    code = main(["sweep", str(write_sweep(tmp_path, MIXED)), "--backend", "dask", "--scheduler",
                 dask_cluster.scheduler_address, "--out", str(out), "--chunk-size", "8", "--quiet"])
    assert code == 0
    assert_frame_equal(serial, sweeps.read_results(out))


def test_unreachable_scheduler_is_a_one_line_error_and_writes_nothing(tmp_path, base_file, capsys, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sweeps.workers, "SCHEDULER_TIMEOUT", "0.5s")  # waited out idle: short
    code = main(["sweep", str(write_sweep(tmp_path, "")), "--backend", "dask", "--scheduler",
                 "tcp://127.0.0.1:9", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("lbsim: error: ") and "--scheduler" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_disk_table_equals_memory_table_and_manifest_counts(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    out = tmp_path / "out"
    on_disk = sweeps.sweep(spec, out=out, chunk_size=10)
    assert_frame_equal(on_disk, sweeps.sweep(spec))
    assert_frame_equal(on_disk, sweeps.read_results(out))
    files = sorted((out / "summary").glob("*.parquet"))
    assert len(files) == 4  # 32 scenarios (8 x 3 random, 8 deterministic once) in chunks of 10
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["counts"]["scenarios"] == 32 and manifest["counts"]["chunks"] == 4
    assert manifest["counts"]["points_run_once"] == 8
    assert manifest["counts"]["failed"] == 0
    assert sum(manifest["counts"]["outcomes"].values()) == 32
    assert manifest["sweep_text"] == spec.text
    assert manifest["package_version"] and manifest["started"] and manifest["finished"]
    assert "git_commit" in manifest
    assert not list(out.rglob(".*.tmp"))


def test_theory_columns_match_the_one_shot_theory(tmp_path, base_file):
    body = """
replications = 1
[axes]
"designer.tau" = {logspace = [-1, 3, 9]}
"reward.scheme" = ["winner_take_all", "geometric", "linear"]
"""
    spec = sweeps.load_sweep(write_sweep(tmp_path, body))
    table = sweeps.sweep(spec)
    names = [a.name for a in spec.axes]
    for row in table.itertuples(index=False):
        data = sweeps.apply_point(spec.base.to_dict(), names, sweeps.sweep_points(spec)[row.point])
        data["seed"] = row.seed
        game = parse_scenario(data).game()
        assert row.zero_is_equilibrium == theory.zero_is_equilibrium_exact(game)
        assert row.tau_star == theory.stabilising_threshold(game).tau_star
        assert row.predicted_stable == (row.tau >= row.tau_star)
        # from the all-zero start under simultaneous best responses, play stays at zero iff zero is an equilibrium
        assert (row.outcome == "converged_zero") == row.zero_is_equilibrium
    assert table["zero_is_equilibrium"].any() and not table["zero_is_equilibrium"].all()


@settings(max_examples=15, deadline=None)
@given(
    taus=st.lists(st.floats(0.0, 500.0, allow_nan=False), min_size=1, max_size=4, unique=True),
    scale=st.floats(0.001, 0.1),
    chunk=st.integers(1, 6),
)
def test_property_zero_start_stays_at_zero_iff_theory_says_zero_is_an_equilibrium(taus, scale, chunk):
    base = parse_scenario({**_base_dict(), "dynamics": {"rounds": 40}})
    spec = sweeps.sweep_spec(base, {"designer.tau": taus, "cost.scale": [scale]})
    table = sweeps.sweep(spec, chunk_size=chunk)
    assert (table["error"].isna()).all()
    assert ((table["outcome"] == "converged_zero") == table["zero_is_equilibrium"].astype(bool)).all()


def _base_dict() -> dict:
    import tomllib

    return tomllib.loads(BASE)


# ---------------------------------------------------------------------------
# output directory: refuse, resume, interrupted runs
# ---------------------------------------------------------------------------


def test_non_empty_out_is_refused_without_resume(tmp_path, base_file, capsys):
    path = write_sweep(tmp_path, MIXED)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--resume"]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_resume_refuses_a_different_sweep(tmp_path, base_file, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(write_sweep(tmp_path, MIXED)), "--out", str(out), "--quiet"]) == 0
    other = write_sweep(tmp_path, MIXED.replace("seed = 11", "seed = 12"), name="other.toml")
    assert main(["sweep", str(other), "--out", str(out), "--quiet", "--resume"]) == 2
    assert "different sweep" in capsys.readouterr().err
    assert main(["sweep", str(write_sweep(tmp_path, MIXED)), "--out", str(out), "--quiet", "--resume",
                 "--chunk-size", "3"]) == 2


def test_resume_skips_finished_chunks(tmp_path, base_file, capsys):
    path = write_sweep(tmp_path, MIXED)
    out = tmp_path / "out"
    full = sweeps.sweep(sweeps.load_sweep(path))
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--chunk-size", "10"]) == 0
    capsys.readouterr()
    first = (out / "summary" / "chunk-000001.parquet")
    first.unlink()
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "summary").iterdir()}
    assert main(["sweep", str(path), "--out", str(out), "--chunk-size", "10", "--resume", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chunks_run"] == 1 and report["chunks_skipped"] == 3
    assert {p.name: p.stat().st_mtime_ns for p in (out / "summary").iterdir() if p.name in stamp} == stamp
    assert_frame_equal(full, sweeps.read_results(out))
    assert len(json.loads((out / "manifest.json").read_text())["runs"]) == 2


def test_killed_sweep_resumes_to_the_uninterrupted_table(tmp_path, base_file):
    """Start the CLI in a process of its own, kill it once a chunk is on disk, resume: the table is the uninterrupted
    one."""
    body = MIXED.replace("replications = 3", "replications = 6").replace("rounds", "rounds")
    path = write_sweep(tmp_path, body)
    out = tmp_path / "out"
    # The reference first: its 96 scenarios in one batch load the compiled kernels in this process, so the resume
    # below runs its small chunks in them too rather than in the numpy path (same bits, see sim.engine.compiled).
    uninterrupted = sweeps.sweep(sweeps.load_sweep(path))
    cmd = ["sweep", str(path), "--out", str(out), "--chunk-size", "2", "--quiet"]
    proc = Forked(*cmd, cwd=ROOT)  # a process of its own, killed below (forked: no fresh interpreter to pay for)
    try:
        deadline = time.monotonic() + 120
        while not sweeps.finished_chunks(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = sweeps.finished_chunks(out)
    assert 0 < len(done) < 48, "the kill should land part-way"
    partial = sweeps.read_results(out)
    assert 0 < len(partial) < 96
    resumed = lbsim(*cmd, "--resume")  # the resume need not be a process of its own: in this one
    assert resumed.returncode == 0, resumed.stderr
    assert_frame_equal(sweeps.read_results(out), uninterrupted)
    assert not list(out.rglob(".*.tmp"))


# ---------------------------------------------------------------------------
# failure isolation and trajectories
# ---------------------------------------------------------------------------

FAILING_MODULE = '''
import numpy as np

def score(theta, e):
    theta = np.asarray(theta, dtype=float)
    e = np.asarray(e, dtype=float)
    if np.any((e > 2.0) & (e < 50.0)):
        raise RuntimeError("benchmark server down")
    return -np.expm1(-(theta + e))

def limit(theta):
    return np.ones_like(np.asarray(theta, dtype=float))
'''


def test_a_failing_scenario_is_recorded_and_the_rest_finish(tmp_path, monkeypatch, capsys):
    module = tmp_path / "flaky_score.py"
    module.write_text(FAILING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "base.toml").write_text(
        "[developers]\ncapability = [1.0, 0.5]\n"
        '[score]\nfamily = "custom"\nfunction = "flaky_score:score"\nlimit = "flaky_score:limit"\n'
        '[cost]\nfamily = "linear"\nscale = 1.0\n[reward]\nscheme = "winner_take_all"\n'
        "[leaderboard]\nresolution = 0.001\n[dynamics]\nrounds = 20\nmax_rounds = 20\n"  # not about the horizon
    )
    # tau in (2, 50) evaluates the score there: those scenarios fail; the others never look there.
    path = write_sweep(tmp_path, '[axes]\n"designer.tau" = [0.0, 10.0, 60.0, 20.0, 100.0]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--chunk-size", "5", "--allow-custom"]) == 1
    captured = capsys.readouterr()
    assert "2 of 5 scenario(s) failed" in captured.err and "benchmark server down" in captured.err
    assert "failed" in captured.out
    table = sweeps.read_results(out)
    failed = table["error"].notna()
    assert table.loc[failed, "designer.tau"].tolist() == [10.0, 20.0]
    assert table.loc[failed, "error"].str.contains("RuntimeError: benchmark server down").all()
    assert table.loc[~failed, "outcome"].notna().all()
    assert table.loc[failed, "outcome"].isna().all()
    assert json.loads((out / "manifest.json").read_text())["counts"]["failed"] == 2


def test_trajectories_are_subsampled_and_match_the_engine(tmp_path, base_file):
    spec = sweeps.load_sweep(write_sweep(tmp_path, MIXED))
    out = tmp_path / "out"
    sweeps.sweep(spec, out=out, trajectory_every=25, chunk_size=16)
    traj = sweeps.read_trajectories(out)
    assert {0, 25, 50, 75, 100} <= set(traj["round"].unique().tolist())
    # every 25th round and the last, which is the scenario's rounds (at least 120; more where it played on)
    rounds = sweeps.read_results(out).set_index("scenario_index")["rounds"]
    last = traj.groupby("scenario_index")["round"].max()
    assert (last == rounds.loc[last.index]).all() and (last >= 120).all()
    assert ((traj["round"] % 25 == 0) | (traj["round"] == traj["scenario_index"].map(last))).all()
    from sim.engine import run

    row = sweeps.read_results(out).iloc[17]
    point = sweeps.sweep_points(spec)[int(row["point"])]
    data = sweeps.apply_point(spec.base.to_dict(), [a.name for a in spec.axes], point)
    data["seed"] = int(row["seed"])
    full = run(parse_scenario(data)).trajectory(0)
    mine = traj[traj["scenario_index"] == int(row["scenario_index"])].reset_index(drop=True)
    expected = full[(full["round"] % 25 == 0) | (full["round"] == full["round"].max())].reset_index(drop=True)
    for column in ("round", "developer", "effort", "score", "published", "rank"):
        assert mine[column].tolist() == expected[column].tolist()


@pytest.mark.parametrize(
    ("option", "value"),
    [("n_jobs", 0), ("chunk_size", 0), ("tail_window", 0), ("trajectory_every", -1), ("backend", "ray")],
)
def test_impossible_run_options_fail_before_anything_runs(tmp_path, base_file, option, value):
    out = tmp_path / "out"
    with pytest.raises(ScenarioError):
        sweeps.sweep(sweeps.load_sweep(write_sweep(tmp_path, "")), out=out, **{option: value})
    assert not out.exists()


def test_trajectories_need_an_output_directory(tmp_path, base_file):
    with pytest.raises(ScenarioError, match="--trajectories"):
        sweeps.sweep(sweeps.load_sweep(write_sweep(tmp_path, "")), trajectory_every=5)


def test_sim_sweep_is_the_package_entry_point(tmp_path, base_file):
    import sim

    table = sim.sweep(str(write_sweep(tmp_path, "replications = 2\n")))
    assert len(table) == 1 and table["error"].isna().all()  # nothing random: one replication
    assert table["replications"].tolist() == [1]


class _StubClient:
    """Stands in for a dask.distributed Client: what the scheduler and the workers answer to the import probe."""

    def __init__(self, scheduler, workers):
        self.scheduler, self.workers = scheduler, workers

    @staticmethod
    def _answer(value):
        if isinstance(value, BaseException):
            raise value
        return value

    def run_on_scheduler(self, function, *args):
        return self._answer(self.scheduler)

    def run(self, function, *args):
        return {name: self._answer(v) for name, v in self.workers.items()}


def test_a_cluster_that_cannot_import_sim_is_refused_with_one_line():
    from sim import __version__

    missing = ModuleNotFoundError("No module named 'sim'")
    with pytest.raises(ScenarioError, match="cannot import sim .*No module named 'sim'"):
        sweeps._check_cluster(_StubClient(missing, {"w1": __version__}), "tcp://h:8786")
    with pytest.raises(ScenarioError, match="w2 runs leaderboard-sim 0.0.1"):
        sweeps._check_cluster(_StubClient(__version__, {"w1": __version__, "w2": "0.0.1"}), "tcp://h:8786")
    with pytest.raises(ScenarioError, match="no workers"):
        sweeps._check_cluster(_StubClient(__version__, {}), "tcp://h:8786")
    sweeps._check_cluster(_StubClient(__version__, {"w1": __version__}), "tcp://h:8786")  # accepted


# ---------------------------------------------------------------------------
# replications, horizon, tail measures and labels
# ---------------------------------------------------------------------------


def test_points_without_randomness_run_once_and_say_so(tmp_path, base_file, capsys, loky_workers):
    """A random axis is not randomness inside a scenario: each point is judged by its own scenario."""
    body = """
replications = 4
samples = 3
[axes]
"designer.tau" = {loguniform = [0.1, 100.0]}
"dynamics.schedule" = ["simultaneous", "random_order"]
"""
    path = write_sweep(tmp_path, body)
    plan = sweeps.plan_sweep(sweeps.load_sweep(path))
    assert plan.points_run_once == 3 and plan.scenarios == 3 * 4 + 3
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--chunk-size", "4"]) == 0
    assert "3 of 6 point(s) have no randomness" in capsys.readouterr().out
    table = sweeps.read_results(out)
    stochastic = table["dynamics.schedule"] == "random_order"
    assert (table["replications"] == np.where(stochastic, 4, 1)).all()
    assert table[stochastic].groupby("point").size().eq(4).all()
    assert table[~stochastic].groupby("point").size().eq(1).all()
    assert json.loads((out / "manifest.json").read_text())["counts"]["points_run_once"] == 3
    assert_frame_equal(table, sweeps.sweep(sweeps.load_sweep(path), chunk_size=1, n_jobs=2))


def test_summary_columns_are_the_outcome_of_the_run(tmp_path, base_file):
    """The tail-measure columns are the engine's Outcome; period only for cycles; played-on runs included."""
    from sim.engine import run

    body = """
[axes]
"designer.tau" = [0.0, 1.0, 1000.0]
"reward" = [{scheme = "top_k", k = 2}, {scheme = "geometric", q = 0.6}, {scheme = "winner_take_all"}]
"""
    spec = sweeps.load_sweep(write_sweep(tmp_path, body))
    table = sweeps.sweep(spec)
    assert table["reward_label"].tolist()[:3] == ["top_k(k=2)", "geometric(q=0.6)", "winner_take_all()"]
    assert table["reward"].iloc[0] == '{"k": 2, "scheme": "top_k"}'  # the raw value stays as it was
    assert (table["period"].isna() == (table["outcome"] != "cycle")).all()
    assert (table["rounds"] > 120).any()  # some runs played on past their 120 rounds to find the cycle
    names = [a.name for a in spec.axes]
    for row in table.itertuples(index=False):
        data = sweeps.apply_point(spec.base.to_dict(), names, sweeps.sweep_points(spec)[row.point])
        data["seed"] = row.seed
        out = run(parse_scenario(data), record="tail").outcome(0)
        assert (row.rounds, row.max_rounds) == (out.rounds, out.max_rounds)
        for column in ("kendall_tau_tail", "top1_correct_share", "total_surplus_tail", "total_effort_tail"):
            assert getattr(row, column) == getattr(out, column)
        assert list(row.effort_tail) == list(out.effort_tail) and list(row.utility_tail) == list(out.utility_tail)


def test_list_columns_survive_parquet(tmp_path, base_file):
    path = write_sweep(tmp_path, '[axes]\n"designer.tau" = [0.0, 1000.0]\n')
    out = tmp_path / "out"
    memory = sweeps.sweep(sweeps.load_sweep(path))
    disk = sweeps.sweep(sweeps.load_sweep(path), out=out)
    for column in ("effort_tail", "utility_tail"):
        assert [list(v) for v in disk[column]] == [list(v) for v in memory[column]]
        assert all(len(v) == 3 for v in disk[column])


def test_sweep_file_max_rounds_caps_the_horizon(tmp_path, base_file):
    path = write_sweep(tmp_path, 'max_rounds = 150\n[axes]\n"designer.tau" = [0.0, 0.3, 1000.0]\n')
    spec = sweeps.load_sweep(path)
    assert spec.base.dynamics.max_rounds == 150 and spec.base.dynamics.rounds == 120
    table = sweeps.sweep(spec)
    assert (table["max_rounds"] == 150).all() and table["rounds"].between(120, 150).all()
    capped = table["outcome"] == "no_convergence"
    assert capped.any() and (table.loc[capped, "rounds"] == 150).all()
    assert sweeps.plan_sweep(spec).digest != sweeps.plan_sweep(sweeps.load_sweep(write_sweep(tmp_path, ""))).digest


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ({"scheme": "top_k", "k": 3}, "top_k(k=3)"),
        ({"family": "power", "scale": 0.5, "exponent": 2}, "power(exponent=2, scale=0.5)"),
        ({"b": [1, 2], "a": "x"}, '(a=x, b=[1,2])'),
        ([1.0, 0.5], "[1.0,0.5]"),
        ("linear", "linear"),
    ],
)
def test_axis_label_puts_the_kind_first_then_sorted_keys(value, label):
    assert sweeps.axis_label(value) == label
