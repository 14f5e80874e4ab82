"""Benchmark: wall time of a sweep on one and two jobs, and peak memory of a large summary-only sweep.

The workload is a sweep (:func:`sim.sweeps.sweep_spec`) over ``designer.tau``
(linspace 0 to 20) with replications, on the arms-race scenario of
``bench_engine.py``: ``n`` developers with capabilities sampled uniformly on
[0, 1), power-law scores, linear cost 0.01, geometric rewards (q = 0.7),
scores published to 1e-3, simultaneous best responses.  It runs through
:func:`sim.sweeps.sweep` with the arguments ``lbsim sweep`` passes (an
``--out`` directory in a temporary folder, so the Parquet chunks and the
manifest are written, theory columns on, default chunk size, loky backend).

    python benchmarks/bench_sweep.py             # the full table (about 12 minutes on 2 cores)
    python benchmarks/bench_sweep.py --quick     # small sizes (about a minute; start-up dominates, ratios mean nothing)
    python benchmarks/bench_sweep.py --tiny      # a few scenarios and rounds: a smoke test (the tests run it)

Each measurement runs in a fresh process.  Reported per measurement:

* wall: seconds from starting that process to its exit (Python start-up,
  imports, planning, worker start-up, the sweep, reading the table back);
  ``sweep()`` alone is shown too;
* driver MB: peak resident set of the driving process (``RUSAGE_SELF``);
* worker MB: peak resident set of the largest loky worker (``RUSAGE_CHILDREN``,
  read after the worker pool is shut down so that the workers are reaped);
* total MB: the largest sum of the resident sets of the driver and all its
  descendants, sampled with psutil every 50 ms (what the sweep holds at once);
* load: the 1-minute load average when the measurement started; own: CPU
  seconds of the measurement (driver and reaped workers) per second of wall
  time; other: cores busy with *other* processes during it (system-wide busy
  time minus the measurement's own, per second of wall time).  On a busy
  machine two jobs cannot have two cores: compare ``own`` with 2.

Targets (the project's issue): 10,000 scenarios x 2,000 rounds x 10
developers on two jobs in at most 0.6 of the one-job time; a 100,000-scenario
summary-only sweep under 2 GB.  The memory sweep uses fewer rounds
(``--memory-rounds``) so that it finishes in a few minutes: the point is that
memory is bounded by the chunk size, not by the number of scenarios, so the
same shape is also measured at 10,000 scenarios for comparison.  The tables of
the one-job and two-job runs are compared with ``pandas.testing.assert_frame_equal``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run from a checkout without installing: the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# One core per job: keep numpy's BLAS (unused here, but cheap insurance) single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def base_scenario(n: int, rounds: int):
    """The arms-race scenario of ``bench_engine.py`` (tau is the swept axis)."""
    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    data = sampled_arms_race(n, seed=0, rounds=rounds, name=f"bench-sweep-{n}")
    data["dynamics"]["max_rounds"] = rounds  # a fixed workload: no playing on past the rounds
    return parse_scenario(data)


def make_spec(scenarios: int, rounds: int, n: int, replications: int):
    from sim.sweeps import sweep_spec

    if scenarios % replications:
        raise SystemExit(f"--scenarios ({scenarios}) must be a multiple of --replications ({replications})")
    points = scenarios // replications
    return sweep_spec(
        base_scenario(n, rounds),
        {"designer.tau": {"linspace": [0.0, 20.0, points]}},
        name=f"bench-sweep-{scenarios}x{rounds}x{n}",
        replications=replications,
        seed=1,
    )


class TreeSampler(threading.Thread):
    """Largest sum of resident sets of this process and all its descendants, sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.05):
        super().__init__(daemon=True)
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.peak_total = 0
        self.peak_worker = 0
        self.stop = threading.Event()

    def sample(self) -> None:
        import psutil

        total = self.me.memory_info().rss
        for child in self.me.children(recursive=True):
            try:
                rss = child.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            self.peak_worker = max(self.peak_worker, rss)
        self.peak_total = max(self.peak_total, total)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)


def measure(params: dict) -> dict:
    """One sweep in this (fresh) process; memory and time as described in the module docstring."""
    from sim import sweeps

    sampler = TreeSampler()
    sampler.start()
    spec = make_spec(params["scenarios"], params["rounds"], params["n"], params["replications"])
    report = sweeps.SweepReport(0, 0, 0, 0, 0, 0.0)
    start = time.perf_counter()
    table = sweeps.sweep(
        spec,
        n_jobs=params["n_jobs"],
        out=Path(params["out"]),
        chunk_size=params["chunk_size"],
        progress=False,
        report=report,
    )
    sweep_seconds = time.perf_counter() - start
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if params["n_jobs"] > 1:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)  # reap the workers: RUSAGE_CHILDREN counts only those
    sampler.stop.set()
    sampler.join()
    sampler.sample()
    counts = table["outcome"].value_counts()
    return {
        **params,
        "sweep_seconds": sweep_seconds,
        "chunks": report.chunks,
        "failed": report.failed,
        "rows": len(table),
        "cycles": int(counts.get("cycle", 0)),
        "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mb_rusage_before_shutdown": children_before / 1024,
        "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "worker_mb_sampled": sampler.peak_worker / 2**20,
        "total_mb": sampler.peak_total / 2**20,
    }


def _busy_seconds() -> float:
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0) + getattr(t, "steal", 0.0)


def run_child(params: dict) -> dict:
    """Each measurement in a fresh process, so its peak memory is its own; wall time includes start-up."""
    load = os.getloadavg()[0]
    busy0 = _busy_seconds()
    own0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", json.dumps(params)]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"measurement failed: {params}")
    own1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = _busy_seconds() - busy0
    own = (own1.ru_utime - own0.ru_utime) + (own1.ru_stime - own0.ru_stime)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row.update(wall=wall, load=load, own_cores=own / wall, other_cores=max(busy - own, 0.0) / wall)
    return row


HEADER = (
    f"{'case':<10} {'scenarios':>9} {'rounds':>6} {'n':>3} {'jobs':>4} {'chunks':>6} {'wall s':>7} {'sweep s':>7} "
    f"{'driver MB':>9} {'worker MB':>9} {'total MB':>8} {'load':>5} {'own':>5} {'other':>5} {'cycles':>6}"
)


def print_row(case: str, r: dict) -> None:
    worker = f"{r['worker_mb']:9.0f}" if r["n_jobs"] > 1 else f"{'-':>9}"
    print(
        f"{case:<10} {r['scenarios']:>9,} {r['rounds']:>6} {r['n']:>3} {r['n_jobs']:>4} {r['chunks']:>6} "
        f"{r['wall']:>7.1f} {r['sweep_seconds']:>7.1f} {r['driver_mb']:>9.0f} {worker} {r['total_mb']:>8.0f} "
        f"{r['load']:>5.2f} {r['own_cores']:>5.2f} {r['other_cores']:>5.2f} {r['cycles']:>6}"
    )
    sys.stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 x 50 timing, 1,000 and 2,000 x 20 memory")
    parser.add_argument("--tiny", action="store_true",
                        help="4 x 5 timing and 2 and 4 x 3 memory (one job), 3 developers, 2 replications: "
                        "checks it runs, measures nothing")
    parser.add_argument("--scenarios", type=int, help="timing sweep: scenarios (default 10,000)")
    parser.add_argument("--rounds", type=int, help="timing sweep: rounds (default 2,000)")
    parser.add_argument("--developers", type=int, default=10, help="developers per scenario (default 10)")
    parser.add_argument("--replications", type=int, default=20, help="replications per tau value (default 20)")
    parser.add_argument("--memory-scenarios", type=int, help="memory sweep: scenarios (default 100,000)")
    parser.add_argument("--memory-rounds", type=int, help="memory sweep: rounds (default 100)")
    parser.add_argument("--memory-jobs", type=int, default=2, help="memory sweep: jobs (default 2)")
    parser.add_argument("--chunk-size", type=int, help="scenarios per chunk (default: sim.sweeps.DEFAULT_CHUNK_SIZE)")
    parser.add_argument("--pairs", type=int, default=1, help="times to run the one-job/two-job pair back to back")
    parser.add_argument("--skip-timing", action="store_true", help="only the memory sweeps")
    parser.add_argument("--skip-memory", action="store_true", help="only the timing pair")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return 0

    import pandas as pd

    from sim.sweeps import DEFAULT_CHUNK_SIZE, read_results

    if args.tiny:
        args.developers, args.replications, args.memory_jobs = 3, 2, 1
    scenarios = args.scenarios or (4 if args.tiny else 1_000 if args.quick else 10_000)
    rounds = args.rounds or (5 if args.tiny else 50 if args.quick else 2_000)
    mem_scenarios = args.memory_scenarios or (4 if args.tiny else 2_000 if args.quick else 100_000)
    mem_rounds = args.memory_rounds or (3 if args.tiny else 20 if args.quick else 100)
    mem_small = 2 if args.tiny else min(10_000, mem_scenarios) if not args.quick else 1_000
    chunk_size = args.chunk_size or DEFAULT_CHUNK_SIZE
    common = {"n": args.developers, "replications": args.replications, "chunk_size": chunk_size}

    print(f"cores: {os.cpu_count()}; load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"chunk size {chunk_size}; tau linspace(0, 20) x {args.replications} replications; "
          f"{args.developers} developers")
    print("load = 1-minute load average at the start of the measurement; own / other = cores busy with this")
    print("measurement / with other processes during it (CPU seconds per wall second)")
    print(HEADER)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        if not args.skip_timing:
            for p in range(args.pairs):
                pair = {}
                for jobs in (1, 2):
                    out = Path(tmp) / f"timing-{p}-{jobs}"
                    row = run_child({**common, "scenarios": scenarios, "rounds": rounds, "n_jobs": jobs,
                                     "out": str(out)})
                    print_row("timing", row)
                    pair[jobs] = row
                ratio = pair[2]["wall"] / pair[1]["wall"]
                ratio_sweep = pair[2]["sweep_seconds"] / pair[1]["sweep_seconds"]
                one, two = read_results(Path(tmp) / f"timing-{p}-1"), read_results(Path(tmp) / f"timing-{p}-2")
                try:
                    pd.testing.assert_frame_equal(one, two)
                    same = "identical"
                except AssertionError as err:
                    same = f"DIFFERENT ({' '.join(str(err).split())[:200]})"
                results.append((ratio, ratio_sweep, same))
                print(f"  pair {p + 1}: 2 jobs / 1 job = {ratio:.3f} (wall), {ratio_sweep:.3f} (sweep() alone); "
                      f"tables {same} ({len(one):,} rows); target <= 0.6: {'met' if ratio <= 0.6 else 'NOT met'}")
        if not args.skip_memory:
            mem = []
            for count in (mem_small, mem_scenarios):
                out = Path(tmp) / f"memory-{len(mem)}-{count}"  # the two counts may be equal
                row = run_child({**common, "scenarios": count, "rounds": mem_rounds, "n_jobs": args.memory_jobs,
                                 "out": str(out)})
                print_row("memory", row)
                mem.append(row)
            big = mem[-1]
            print(f"  memory sweep: {mem_rounds} rounds (not 2,000) so it finishes in minutes; memory is bounded by "
                  f"the chunk size ({chunk_size}), not the sweep size")
            print(f"  {big['scenarios']:,} scenarios: total {big['total_mb']:.0f} MB (driver {big['driver_mb']:.0f}, "
                  f"largest worker {big['worker_mb']:.0f}); {mem[0]['scenarios']:,} scenarios: total "
                  f"{mem[0]['total_mb']:.0f} MB; target < 2048 MB: {'met' if big['total_mb'] < 2048 else 'NOT met'}")
            print(f"  worker peak by RUSAGE_CHILDREN before the pool is shut down: "
                  f"{big['worker_mb_rusage_before_shutdown']:.0f} MB, after: {big['worker_mb']:.0f} MB, "
                  f"sampled with psutil: {big['worker_mb_sampled']:.0f} MB")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
