"""Running a sweep (:func:`sweep`): the chunks cut into pieces for the workers, played, and written as they finish."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim import sweep_store
from sim.errors import ScenarioError
from sim.scenario import _integer
from sim.sweeps.chunks import ChunkResult, ChunkTask
from sim.sweeps.columns import TRAJECTORY_COLUMNS, typed_summary
from sim.sweeps.manifest import _manifest, _now, check_out, prepare_out, row_options
from sim.sweeps.plan import DEFAULT_CHUNK_SIZE, SweepPlan, plan_sweep
from sim.sweeps.spec import load_sweep, sweep_spec
from sim.sweeps.tables import MANIFEST, _write_atomic_json, finished_chunks, read_manifest, read_results, write_chunk
from sim.sweeps.workers import BACKENDS, _executor, cap_n_jobs, check_scheduler


@dataclass
class SweepReport:
    """How a sweep run went (``sweep`` returns the table; the CLI prints this)."""

    chunks: int
    chunks_run: int
    chunks_skipped: int
    scenarios: int
    failed: int
    seconds: float
    chunks_rerun: int = 0  # damaged chunks found by --resume and run again


#: Pieces of a chunk run by several workers have at least this many scenarios (unless the chunk has fewer).
MIN_PIECE = 8


#: ... and at least this many agent-updates (developers x rounds, summed over its scenarios): about a second on
#: one core (``benchmarks/bench_engine.py``), what a new worker spends starting up (``benchmarks/README.md``).
PIECE_UPDATES = 2_000_000


def _pieces(plan: SweepPlan, todo: Sequence[int], n_jobs: int) -> list[tuple[int, int, int]]:
    """The order in which the chunks ``todo`` are dispatched, as pieces ``(chunk, start, stop)``.

    One job: whole chunks in index order.  Several: the chunks by expected
    cost, largest first (cost = scenarios x developers x rounds; ties in
    index order), so that the cheapest come last and the workers finish
    together.  With fewer than ``2 n_jobs`` chunks there are too few tasks to
    keep every worker busy, so each chunk is cut into about
    ``2 n_jobs x its share of the cost`` contiguous pieces of near-equal size
    (at least :data:`MIN_PIECE` scenarios and :data:`PIECE_UPDATES`
    agent-updates, so that a piece is worth a worker's start-up; a small
    sweep stays one task and runs in the driver, see :func:`_workers`).  Chunks are not cut otherwise:
    every piece pays the batch engine's per-round cost over all its rounds
    (a few tenths of a second at 2,000 rounds), so more pieces than needed
    cost more than they balance.

    A piece is ``plan.chunks[chunk][start:stop]``; the pieces of a chunk are
    joined into the chunk's table before it is written (:func:`_whole_chunks`),
    and a scenario's row does not depend on the batch it runs in, so the
    result is the same for every ``n_jobs``.
    """
    if n_jobs <= 1:
        return [(c, 0, len(plan.chunks[c])) for c in todo]
    point = {c: int(plan.chunks[c][0]) // plan.spec.replications for c in todo if len(plan.chunks[c])}
    cost = {c: max(int(plan.point_n[p]) * int(plan.point_rounds[p]), 1) * len(plan.chunks[c]) for c, p in point.items()}
    order = sorted(point, key=lambda c: -cost[c])
    if len(order) >= 2 * n_jobs:
        return [(c, 0, len(plan.chunks[c])) for c in order]
    total = sum(cost.values())
    pieces = []
    for c in order:
        size = len(plan.chunks[c])
        k = max(1, min(math.ceil(2 * n_jobs * cost[c] / total), size // MIN_PIECE, cost[c] // PIECE_UPDATES))
        cuts = [size * i // k for i in range(k + 1)]
        pieces.extend((c, a, b) for a, b in zip(cuts, cuts[1:], strict=False))
    return pieces


def _workers(plan: SweepPlan, n_jobs: int, backend: str) -> int:
    """Local workers to start: no more than the sweep has tasks (:func:`_pieces`); 1 runs in the driver.

    A worker costs a second or two of start-up (imports, kernel loads), so a
    sweep of one task runs where it was planned, as with ``n_jobs = 1``.
    """
    if backend != "loky" or n_jobs <= 1:
        return n_jobs
    return max(1, min(n_jobs, len(_pieces(plan, range(len(plan.chunks)), n_jobs))))


def _piece_task(task: ChunkTask, start: int, stop: int) -> ChunkTask:
    """The scenarios ``start:stop`` of a chunk's task (the task itself when that is all of them)."""
    if start == 0 and stop == len(task.indices):
        return task
    cut = slice(start, stop)
    return dataclasses.replace(
        task,
        indices=task.indices[cut],
        values=task.values[cut],
        seeds=task.seeds[cut],
        point_replications=task.point_replications[cut],
    )


def _whole_chunks(results, plan: SweepPlan, pieces: list[tuple[int, int, int]]) -> Iterator[ChunkResult]:
    """Chunk results as each chunk's last piece arrives: its pieces' rows in chunk order, one table.

    ``failed`` and ``seconds`` are the pieces' sums.
    """
    import pandas as pd

    count: dict[int, int] = {}
    position = {}
    for c, start, _ in pieces:
        count[c] = count.get(c, 0) + 1
        position[(c, int(plan.chunks[c][start]))] = start
    waiting: dict[int, dict] = {}
    for result in results:
        if count[result.chunk] == 1:
            yield result
            continue
        first = int(result.summary["scenario_index"].iloc[0])
        got = waiting.setdefault(result.chunk, {})
        got[position[(result.chunk, first)]] = result
        if len(got) < count[result.chunk]:
            continue
        parts = [got[k] for k in sorted(got)]
        del waiting[result.chunk]
        summary = typed_summary(pd.concat([r.summary for r in parts], ignore_index=True), plan.axis_types)
        traj = None
        if parts[0].trajectories is not None:
            traj = pd.concat([r.trajectories for r in parts], ignore_index=True).astype(TRAJECTORY_COLUMNS)
        yield ChunkResult(result.chunk, summary, traj, sum(r.failed for r in parts), sum(r.seconds for r in parts))


def _run_plan(plan: SweepPlan, run_all, out, resume: bool, n_jobs: int, backend: str, progress: bool,
              options: dict, lock: sweep_store.WriterLock | None = None,
              log=None) -> tuple[set[int], list, str, list[int]]:
    """Run the chunks of ``plan`` not yet in ``out``; write each as it finishes; keep the manifest current.

    With ``out``, ``lock`` is the writer lock held on it (committed once
    the manifest is written); ``log`` receives one line per damaged chunk
    that runs again.  Returns the chunks found finished, the in-memory
    frames (without ``out``), the status and the damaged chunks run again.
    """
    done: set[int] = set()
    rerun: list[int] = []
    if out is not None:
        opts = row_options(plan, options["tail_window"], options["trajectory_every"], options["theory"])
        fingerprint = sweep_store.fingerprint(plan.digest, opts)
        done, damaged = prepare_out(out, plan, resume, opts, fingerprint)
        rerun = [c for c, _ in damaged]
        for c, check in damaged:
            if log is not None:
                log(f"{check.path}: damaged ({check.value}: {check.reason}); chunk {c} runs again")
        previous = read_manifest(out)
        run_entry = {"started": _now(), "pid": os.getpid(), "n_jobs": n_jobs, "backend": backend,
                     "resumed": bool(done), "rerun_damaged": rerun}
        manifest = _manifest(plan, previous, status="running", finished=None, fingerprint=fingerprint,
                             options=opts.to_dict())
        manifest["runs"] = [*manifest["runs"], run_entry]
        if lock is not None:
            lock.commit()
        _write_atomic_json(manifest, out / MANIFEST)
        write = dict(fingerprint=fingerprint, axis_types=plan.axis_types)
    todo = [c for c in range(len(plan.chunks)) if c not in done]
    pieces = _pieces(plan, todo, n_jobs)
    tasks = (_piece_task(plan.task(c, **options), start, stop) for c, start, stop in pieces)
    frames = []
    failed = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan.chunks), initial=len(done), unit="chunk", desc=plan.spec.name, dynamic_ncols=True)
    status = "interrupted"
    try:
        for result in _whole_chunks(run_all(tasks), plan, pieces):
            if out is not None:
                write_chunk(out, result, **write)
            else:
                frames.append(result.summary)
            failed += result.failed
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=failed, refresh=False)
        status = "finished"
    finally:
        if bar is not None:
            bar.close()
        if out is not None:
            manifest = read_manifest(out)
            manifest["status"] = status
            manifest["runs"][-1]["finished"] = _now()
            manifest["runs"][-1]["chunks_run"] = len(finished_chunks(out) - done)
            if status == "finished":
                manifest["finished"] = _now()
            _write_atomic_json(manifest, out / MANIFEST)
    return done, frames, status, rerun


def sweep(
    spec,
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    out=None,
    resume: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    tail_window: int | None = None,
    trajectory_every: int | None = None,
    theory: bool = True,
    progress: bool = False,
    report: SweepReport | None = None,
    log=None,
):
    """Run a sweep and return its summary table (a pandas DataFrame, one row per scenario).

    ``spec`` is a sweep file path, a :class:`SweepSpec`, a dict of the
    file's keys (with ``base`` a Scenario or path), or a :class:`SweepPlan`
    (then ``chunk_size`` is the plan's).  ``n_jobs`` workers run
    chunks of ``chunk_size`` scenarios on joblib's ``loky`` backend or, with
    ``backend="dask"``, on the Dask cluster at ``scheduler`` (a
    ``LocalCluster`` of ``n_jobs`` workers when None).

    With ``out`` every finished chunk is written at once as a Parquet file
    (atomically), with a ``manifest.json``; the table is then read back from
    disk, so memory stays bounded by the chunk size.  ``resume`` skips the
    chunks already in ``out``; a non-empty ``out`` is otherwise refused.
    ``out`` is verified and locked (:mod:`sim.sweep_store`): ``resume``
    refuses other row options (tail window, theory, trajectories, chunk
    size, package version) and foreign chunk files, runs damaged chunks
    again (one line each to ``log``, a function of a string), and a second
    writer of ``out`` is refused while this one runs.  A refused run leaves
    no directory behind.
    ``trajectory_every`` also keeps every ``k``-th round (and the last) of
    every scenario in ``out/trajectories`` (:func:`read_trajectories`).

    Columns: ``scenario_index``, ``point``, ``replication``, ``seed``, one
    per axis (named by its dotted field), then :data:`RESULT_COLUMNS`:
    the outcome (:class:`sim.analysis.Outcome`), tail statistics, theory's
    ``tau*`` and whether it predicts the run stable (``tau >= tau*``), and
    ``error`` (None unless the scenario failed).  The result is identical
    for every ``n_jobs``, backend and chunk size.
    """
    import pandas as pd

    plan = spec if isinstance(spec, SweepPlan) else None
    if isinstance(spec, (str, os.PathLike)):
        spec = load_sweep(spec)
    elif isinstance(spec, dict):
        spec = sweep_spec(**spec)
    if backend not in BACKENDS:
        raise ScenarioError("--backend", backend, f"must be one of {', '.join(BACKENDS)}")
    check_scheduler(backend, scheduler)
    n_jobs = cap_n_jobs(_integer(n_jobs, "--n-jobs", 1))[0]
    if tail_window is not None:
        tail_window = _integer(tail_window, "--tail-window", 1)
    if trajectory_every is not None:
        trajectory_every = _integer(trajectory_every, "--trajectories", 1)
        if out is None:
            raise ScenarioError("--trajectories", trajectory_every, "needs an output directory (--out)")
    out = None if out is None else Path(out)
    if plan is None:
        plan = plan_sweep(spec, chunk_size, progress=progress)
    options = dict(tail_window=tail_window, trajectory_every=trajectory_every, theory=theory)
    if out is not None:  # refusals that need only reading come before a cluster starts or anything is written
        opts = row_options(plan, tail_window, trajectory_every, theory)
        check_out(out, plan, resume, opts, sweep_store.fingerprint(plan.digest, opts))
    started = time.perf_counter()
    rerun: list[int] = []
    with contextlib.ExitStack() as stack:
        run_all = stack.enter_context(_executor(_workers(plan, n_jobs, backend), backend, scheduler))
        lock = None if out is None else stack.enter_context(sweep_store.WriterLock(out))
        done, frames, status, rerun = _run_plan(plan, run_all, out, resume, n_jobs, backend, progress, options,
                                                lock, log)
        if out is not None:
            try:
                table = read_results(out)
            except ScenarioError:  # a chunk damaged while this run went on: --resume will redo it
                manifest = read_manifest(out)
                manifest["status"] = "damaged"
                _write_atomic_json(manifest, out / MANIFEST)
                raise
            if status == "finished":
                manifest = read_manifest(out)
                manifest["counts"]["failed"] = int(table["error"].notna().sum())
                manifest["counts"]["outcomes"] = {k: int(v) for k, v in table["outcome"].value_counts().items()}
                _write_atomic_json(manifest, out / MANIFEST)
    if out is None:
        table = (
            pd.concat(frames, ignore_index=True) if frames else typed_summary(pd.DataFrame(), plan.axis_types)
        )
        table = typed_summary(table, plan.axis_types).sort_values("scenario_index", kind="stable")
        table = table.reset_index(drop=True)
    if report is not None:
        report.chunks = len(plan.chunks)
        report.chunks_run = len(plan.chunks) - len(done)
        report.chunks_skipped = len(done)
        report.chunks_rerun = len(rerun)
        report.scenarios = plan.scenarios
        report.failed = int(table["error"].notna().sum())
        report.seconds = time.perf_counter() - started
    return table
