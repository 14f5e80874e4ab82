"""Sweep directories that cannot be mixed or corrupted: stamped chunks, checked manifests, one writer at a time.

Every test compares against the table of an uninterrupted run of the same
small sweep (12 scenarios of 3 developers, 60 rounds, 4 chunks of 3).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inprocess import Done, Forked, lbsim
from pandas.testing import assert_frame_equal
from scenario_texts import small_race

from sim import sweep_store, sweeps
from sim.cli import main
from sim.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent

# randomness in the scenario, so that both replications of a point run
BASE = small_race(rounds=60, dynamics='initial = "random"\n')

SWEEP = """
base = "base.toml"
name = "mixed"
replications = 2
seed = 11
[axes]
"designer.tau" = {logspace = [-1, 2, 3]}
"reward.scheme" = ["geometric", "linear"]
"""

CHUNK = ["--chunk-size", "3"]


def write_sweep(folder: Path, seed: int = 11) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.toml").write_text(BASE)
    path = folder / "sweep.toml"
    path.write_text(SWEEP.replace("seed = 11", f"seed = {seed}"))
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A finished sweep directory (summary and trajectories) and its uninterrupted tables, made once."""
    # Load the compiled kernels in this process first: the in-process sweeps of this module run chunks of 3
    # scenarios, which otherwise take the (much slower) numpy path in a process that has not loaded them yet;
    # both paths give the same bits (sim.engine.compiled.use_kernels), so the tables are the same.
    from sim import kernel  # noqa: F401
    folder = tmp_path_factory.mktemp("pristine")
    path = write_sweep(folder)
    out = folder / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet", *CHUNK]) == 0
    traj = folder / "traj"
    assert main(["sweep", str(path), "--out", str(traj), "--quiet", *CHUNK, "--trajectories", "7"]) == 0
    other = write_sweep(folder / "other", seed=12)
    other_out = folder / "other" / "out"
    assert main(["sweep", str(other), "--out", str(other_out), "--quiet", *CHUNK]) == 0
    table = sweeps.sweep(sweeps.load_sweep(path), chunk_size=3)
    return {
        "path": path,
        "out": out,
        "traj": traj,
        "other_out": other_out,
        "table": table,
        "trajectories": sweeps.read_trajectories(traj),
    }


@pytest.fixture
def sweep_dir(tmp_path, pristine):
    """A private copy of the pristine sweep directory, its sweep file beside it."""
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(pristine["out"], out)
    return path, out


def cli(*args: str) -> Done:
    """``lbsim *args`` in this process (the exit code and one-line messages do not need a process of their own)."""
    return lbsim(*args)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("lbsim: error: ") and "Traceback" not in stderr
    return lines[0]


def snapshot(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------
# stamps
# ---------------------------------------------------------------------------


def test_every_chunk_carries_fingerprint_index_and_rows(pristine):
    manifest = json.loads((pristine["out"] / "manifest.json").read_text())
    files = sorted((pristine["out"] / "summary").glob("chunk-*.parquet"))
    assert len(files) == 4
    for c, path in enumerate(files):
        meta = pq.read_schema(path).metadata
        assert meta[b"lbsim.fingerprint"].decode() == manifest["fingerprint"]
        assert int(meta[b"lbsim.chunk"]) == c
        assert int(meta[b"lbsim.rows"]) == pq.read_metadata(path).num_rows == 3
        assert json.loads(meta[b"lbsim.axis_types"]) == manifest["axis_types"]
    assert manifest["options"] == {"tail_window": None, "theory": True, "trajectory_every": None, "chunk_size": 3,
                                   "package_version": manifest["package_version"]}


def test_fingerprint_changes_with_every_row_option(pristine):
    plan = sweeps.plan_sweep(sweeps.load_sweep(pristine["path"]), 3)
    base = sweeps.row_options(plan, None, None, True)
    variants = [sweeps.row_options(plan, 5, None, True), sweeps.row_options(plan, None, 2, True),
                sweeps.row_options(plan, None, None, False)]
    prints = {sweep_store.fingerprint(plan.digest, o) for o in [base, *variants]}
    assert len(prints) == 4
    assert sweep_store.fingerprint(plan.digest, base) == json.loads(
        (pristine["out"] / "manifest.json").read_text())["fingerprint"]


# ---------------------------------------------------------------------------
# damaged chunks: run again, the table is the uninterrupted one
# ---------------------------------------------------------------------------

DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "random bytes": lambda data: os.urandom(len(data)),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_chunk_is_run_again_and_the_table_is_the_uninterrupted_one(sweep_dir, pristine, kind):
    path, out = sweep_dir
    victim = out / "summary" / "chunk-000002.parquet"
    victim.write_bytes(DAMAGE[kind](victim.read_bytes()))
    untouched = {p.name: p.stat().st_mtime_ns for p in (out / "summary").iterdir() if p != victim}
    done = cli("sweep", str(path), "--out", str(out), "--quiet", *CHUNK, "--resume", "--json")
    assert done.returncode == 0, done.stderr
    assert "chunk-000002.parquet: damaged" in done.stderr and "chunk 2 runs again" in done.stderr
    report = json.loads(done.stdout)
    assert report["chunks_rerun"] == 1 and report["chunks_run"] == 1 and report["chunks_skipped"] == 3
    assert {p.name: p.stat().st_mtime_ns for p in (out / "summary").iterdir() if p != victim} == untouched
    assert_frame_equal(sweeps.read_results(out), pristine["table"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["runs"][-1]["rerun_damaged"] == [2]


def test_read_results_names_a_damaged_chunk_in_one_line(sweep_dir):
    _, out = sweep_dir
    (out / "summary" / "chunk-000001.parquet").write_bytes(b"")
    with pytest.raises(ScenarioError, match=r"chunk-000001\.parquet.*run the sweep again with --resume"):
        sweeps.read_results(out)


def test_damaged_or_missing_trajectories_run_their_chunk_again(tmp_path, pristine):
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(pristine["traj"], out)
    traj = out / "trajectories"
    (traj / "chunk-000000.parquet").write_bytes(b"PAR1 not really")
    (traj / "chunk-000003.parquet").unlink()
    assert main(["sweep", str(path), "--out", str(out), "--quiet", *CHUNK, "--trajectories", "7", "--resume"]) == 0
    assert json.loads((out / "manifest.json").read_text())["runs"][-1]["rerun_damaged"] == [0, 3]
    assert_frame_equal(sweeps.read_results(out), pristine["table"])
    assert_frame_equal(sweeps.read_trajectories(out), pristine["trajectories"])


# Any single corruption of a finished chunk: either resume restores the uninterrupted table exactly, or it
# refuses in one line naming the file and changes nothing. Never a different table.
@settings(max_examples=12, deadline=None)
@given(
    chunk=st.integers(0, 3),
    damage=st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
        st.tuples(st.just("flip"), st.floats(0.0, 0.999)),
    ),
)
def test_property_any_damage_restores_the_table_or_is_refused_unchanged(tmp_path_factory, pristine, chunk, damage):
    folder = tmp_path_factory.mktemp("prop")
    path = write_sweep(folder)
    out = folder / "out"
    shutil.copytree(pristine["out"], out)
    victim = out / "summary" / f"chunk-{chunk:06d}.parquet"
    data = bytearray(victim.read_bytes())
    how, where = damage
    at = int(where * len(data))
    if how == "truncate":
        data = data[:at]
    else:
        data[at] ^= 0xFF
    victim.write_bytes(bytes(data))
    before = snapshot(out)
    try:
        table = sweeps.sweep(path, out=out, resume=True, chunk_size=3)
    except ScenarioError as err:
        assert str(victim) in str(err)
        assert snapshot(out) == before
        return
    assert_frame_equal(table, pristine["table"])
    assert_frame_equal(sweeps.read_results(out), pristine["table"])


# ---------------------------------------------------------------------------
# foreign chunks: refused, naming the file; nothing changed
# ---------------------------------------------------------------------------


def _unstamped(out: Path, pristine) -> Path:
    target = out / "summary" / "chunk-000001.parquet"
    pd.read_parquet(target).to_parquet(target, index=False)  # same rows, no stamp
    return target


def _other_sweep(out: Path, pristine) -> Path:
    target = out / "summary" / "chunk-000001.parquet"
    shutil.copy(pristine["other_out"] / "summary" / "chunk-000001.parquet", target)
    return target


def _renamed(out: Path, pristine) -> Path:
    target = out / "summary" / "chunk-000001.parquet"
    shutil.copy(out / "summary" / "chunk-000000.parquet", target)
    return target


def _beyond(out: Path, pristine) -> Path:
    target = out / "summary" / "chunk-000009.parquet"
    shutil.copy(out / "summary" / "chunk-000000.parquet", target)
    return target


def _odd_name(out: Path, pristine) -> Path:
    target = out / "summary" / "chunk-1.parquet"
    shutil.copy(out / "summary" / "chunk-000001.parquet", target)
    return target


FOREIGN = {"unstamped": _unstamped, "other sweep": _other_sweep, "another index": _renamed,
           "beyond the plan": _beyond, "not a chunk name": _odd_name}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_chunk_is_refused_in_one_line_and_nothing_changes(sweep_dir, pristine, kind):
    path, out = sweep_dir
    target = FOREIGN[kind](out, pristine)
    before = snapshot(out)
    done = cli("sweep", str(path), "--out", str(out), "--quiet", *CHUNK, "--resume")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert str(target) in line and "remove it or choose another --out" in line
    assert snapshot(out) == before
    with pytest.raises(ScenarioError):  # and read_results will not mix it in either
        sweeps.read_results(out)


def test_read_results_never_returns_a_scenario_twice(sweep_dir):
    """Even a chunk restamped to pass every per-file check cannot bring a scenario in twice."""
    _, out = sweep_dir
    source = out / "summary" / "chunk-000000.parquet"
    table = pq.read_table(source)
    meta = dict(table.schema.metadata)
    meta[b"lbsim.chunk"] = b"3"
    pq.write_table(table.replace_schema_metadata(meta), out / "summary" / "chunk-000003.parquet")
    with pytest.raises(ScenarioError, match="scenario_index = 0: found in two chunks"):
        sweeps.read_results(out)


# ---------------------------------------------------------------------------
# options that change rows
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--tail-window", "5"], "--tail-window 5 now, default there"),
        (["--no-theory"], "theory (--no-theory) off now, on there"),
        (["--trajectories", "3"], "--trajectories 3 now, off there"),
        (["--chunk-size", "4"], "--chunk-size 4 now, 3 there"),
    ],
)
def test_resume_with_other_row_options_is_refused_naming_them(sweep_dir, extra, named):
    path, out = sweep_dir
    before = snapshot(out)
    args = ["sweep", str(path), "--out", str(out), "--quiet", "--resume", *CHUNK, *extra]
    done = cli(*args)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert named in line
    assert snapshot(out) == before


def test_resume_with_the_recorded_options_runs_nothing_and_keeps_the_table(sweep_dir, pristine, capsys):
    path, out = sweep_dir
    assert main(["sweep", str(path), "--out", str(out), "--quiet", *CHUNK, "--resume", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chunks_run"] == 0 and report["chunks_skipped"] == 4 and report["chunks_rerun"] == 0
    assert_frame_equal(sweeps.read_results(out), pristine["table"])


# ---------------------------------------------------------------------------
# malformed manifests
# ---------------------------------------------------------------------------


def _edit(key, value):
    def change(text: str) -> str:
        data = json.loads(text)
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
        return json.dumps(data)

    return change


MALFORMED = {
    "a string": (lambda text: '"hello"', "is not a sweep manifest"),
    "a list": (lambda text: "[]", "is not a sweep manifest"),
    "cut short": (lambda text: text[: len(text) // 2], "is not valid JSON"),
    "runs null": (_edit("runs", None), "runs = None: must be a list of run records"),
    "runs of strings": (_edit("runs", ["x"]), "runs = ['x']: must be a list of run records"),
    "no format": (_edit("format", KeyError), "format = None: is not a format-2 sweep manifest"),
    "options null": (_edit("options", None), "options = None: must be a JSON object"),
    "digest a number": (_edit("digest", 7), "digest = 7: must be a non-empty string"),
    "bad axis type": (_edit("axis_types", {"designer.tau": "complex"}), "axis_types = "),
    "altered fingerprint": (_edit("fingerprint", "0" * 64), "fingerprint = '000000000000': does not match"),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_manifest_is_one_line_naming_the_file(sweep_dir, kind):
    path, out = sweep_dir
    change, expected = MALFORMED[kind]
    manifest = out / "manifest.json"
    manifest.write_text(change(manifest.read_text()))
    before = snapshot(out)
    done = cli("sweep", str(path), "--out", str(out), "--quiet", *CHUNK, "--resume")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert str(manifest) in line and expected in line
    assert snapshot(out) == before
    if kind != "altered fingerprint":  # read_results checks the shape, not the sweep
        with pytest.raises(ScenarioError, match="manifest.json"):
            sweeps.read_results(out)


# ---------------------------------------------------------------------------
# reading without a manifest
# ---------------------------------------------------------------------------


def test_read_results_without_a_manifest_keeps_the_axis_columns(sweep_dir, pristine):
    _, out = sweep_dir
    (out / "manifest.json").unlink()
    table = sweeps.read_results(out)
    assert {"designer.tau", "reward.scheme"} <= set(table.columns)
    assert_frame_equal(table, pristine["table"])


def test_read_results_without_a_manifest_refuses_chunks_of_two_sweeps(sweep_dir, pristine):
    _, out = sweep_dir
    (out / "manifest.json").unlink()
    target = _other_sweep(out, pristine)
    with pytest.raises(ScenarioError, match="another sweep") as err:
        sweeps.read_results(out)
    assert str(target) in str(err.value)


# ---------------------------------------------------------------------------
# one writer at a time
# ---------------------------------------------------------------------------


def test_a_held_lock_refuses_a_second_writer_naming_its_pid(sweep_dir):
    path, out = sweep_dir
    with sweep_store.WriterLock(out):
        done = Forked("sweep", str(path), "--out", str(out), "--quiet", *CHUNK, "--resume", cwd=ROOT)
        done.wait()
        with pytest.raises(ScenarioError, match=f"pid {os.getpid()}"):
            sweeps.sweep(path, out=out, resume=True, chunk_size=3)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert f"is being written by another lbsim process (pid {os.getpid()})" in line
    assert not (out / sweep_store.WRITER).exists()
    assert sweeps.sweep(path, out=out, resume=True, chunk_size=3) is not None  # free again once released


@pytest.mark.parametrize("resume", [True, False], ids=["two resumes", "two fresh sweeps"])
def test_two_writers_at_once_one_writes_and_the_table_is_the_uninterrupted_one(tmp_path, pristine, resume):
    """Two commands on one directory at once: each either runs or is refused in one line; one table, unmixed."""
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    records = 0
    if resume:  # an unfinished sweep: chunk 0 done
        shutil.copytree(pristine["out"], out)
        for c in (1, 2, 3):
            (out / "summary" / f"chunk-{c:06d}.parquet").unlink()
        records = 1
    # Each writer is sim.cli's main in a process of its own: a forked copy of this one, where the compiled kernels
    # are loaded (otherwise its 3-scenario chunks would take the slower numpy path: same bits, see
    # sim.engine.compiled.use_kernels) and no fresh interpreter's imports are paid.  The lock is what is tested.
    cmd = ["sweep", str(path), "--out", str(out), "--quiet", *CHUNK] + (["--resume"] if resume else [])
    procs = [Forked(*cmd, cwd=ROOT) for _ in range(2)]
    for p in procs:
        p.wait(timeout=300)
    results = [(p, p.stderr) for p in procs]
    ran = [p for p, _ in results if p.returncode == 0]
    assert ran, [err for _, err in results]
    for p, err in results:
        if p.returncode != 0:
            assert p.returncode == 2
            line = one_error_line(err)
            other = next(q for q in procs if q is not p)
            busy = f"is being written by another lbsim process (pid {other.pid})" in line
            assert busy or (not resume and "is not empty; pass --resume" in line), line
    assert_frame_equal(sweeps.read_results(out), pristine["table"])
    runs = json.loads((out / "manifest.json").read_text())["runs"]
    assert len(runs) == records + len(ran)  # every run that ran keeps its record
    assert sorted(r["pid"] for r in runs[records:]) == sorted(p.pid for p in ran)
    assert not (out / sweep_store.WRITER).exists()


def test_killed_writer_releases_the_lock(sweep_dir, pristine):
    """SIGKILL mid-run: the kernel drops the lock; the next resume runs and finishes the uninterrupted table."""
    path, out = sweep_dir
    for c in (1, 2, 3):
        (out / "summary" / f"chunk-{c:06d}.parquet").unlink()
    cmd = ["sweep", str(path), "--out", str(out), "--quiet", "--chunk-size", "3", "--resume"]
    proc = Forked(*cmd, cwd=ROOT)  # a process of its own (forked: no fresh interpreter to pay for)
    try:
        deadline = time.monotonic() + 120
        while not (out / sweep_store.WRITER).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = cli(*cmd)
    assert done.returncode == 0, done.stderr
    assert_frame_equal(sweeps.read_results(out), pristine["table"])


# ---------------------------------------------------------------------------
# a refused command leaves nothing behind
# ---------------------------------------------------------------------------


def test_run_refused_for_memory_leaves_no_directory(tmp_path):
    path = write_sweep(tmp_path).parent / "base.toml"
    out = tmp_path / "new" / "X"
    done = cli("run", str(path), "--rounds", "1000000000000", "--out", str(out))
    assert done.returncode == 2
    assert "GiB" in one_error_line(done.stderr)
    assert not (tmp_path / "new").exists()


def test_sweep_refused_before_writing_leaves_no_directory(tmp_path, monkeypatch):
    path = write_sweep(tmp_path)
    out = tmp_path / "new" / "out"

    def refuse(*args, **kwargs):
        raise ScenarioError("--out", str(out), "refused for the test")

    monkeypatch.setattr(sweeps.running, "prepare_out", refuse)
    with pytest.raises(ScenarioError, match="refused for the test"):
        sweeps.sweep(path, out=out, chunk_size=3)
    assert not (tmp_path / "new").exists()


def test_sweep_with_a_bad_point_leaves_no_directory(tmp_path):
    path = write_sweep(tmp_path)
    path.write_text(path.read_text().replace('"reward.scheme" = ["geometric", "linear"]',
                                             '"reward.scheme" = ["geometric", "nonsense"]'))
    out = tmp_path / "new" / "out"
    done = cli("sweep", str(path), "--out", str(out), "--quiet")
    assert done.returncode == 2
    assert "reward.scheme" in one_error_line(done.stderr)
    assert not (tmp_path / "new").exists()


def test_refused_non_empty_directory_gets_nothing_added(tmp_path):
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for extra in ([], ["--resume"]):
        done = cli("sweep", str(path), "--out", str(out), "--quiet", *extra)
        assert done.returncode == 2
        one_error_line(done.stderr)
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_stamped_write_is_what_to_parquet_writes(tmp_path):
    """The stamp adds metadata only: the data read back is the frame's."""
    frame = pd.DataFrame({"scenario_index": [4, 5], "x": [0.5, float("nan")], "s": ["a", None]})
    path = tmp_path / "summary" / "chunk-000002.parquet"
    sweep_store.write_stamped(frame, path, {"fingerprint": "f" * 64, "chunk": 2, "kind": "summary",
                                            "axis_types": {"x": "float"}})
    check = sweep_store.inspect_chunk(path, "summary", "f" * 64, [4, 5])
    assert check.state == "ok" and check.stamp.rows == 2
    plain = tmp_path / "plain.parquet"
    frame.to_parquet(plain, index=False)
    assert pa.Table.equals(pq.read_table(path).replace_schema_metadata(None),
                           pq.read_table(plain).replace_schema_metadata(None))
    assert sweep_store.inspect_chunk(path, "summary", "e" * 64).state == "foreign"
    assert sweep_store.inspect_chunk(path, "summary", "f" * 64, [4, 6]).state == "foreign"
    assert not list(path.parent.glob(".*.tmp"))
