"""Benchmark: how well a sweep's dispatch keeps two workers busy, from CPU times measured one task at a time.

On a shared machine the wall time of a two-job sweep says more about the other
processes than about the scheduling.  This script therefore times every task
of a sweep one after another in this process (CPU seconds, ``time.process_time``,
after a warm-up that loads the compiled kernels and with theory's memo cleared
before each task, as in a fresh worker) and replays the dispatch on ``n``
idle workers (each next task to the first worker free, in dispatch order):

* ``whole``: the plan's chunks in index order (the dispatch before pieces);
* ``pieces``: :func:`sim.sweeps._pieces` (largest expected cost first, the
  tail cut by guided self-scheduling).

Reported: one job's CPU seconds (the sum over whole chunks), the makespans
of both dispatches, and their ratios to one job, without start-up (a fresh
worker's imports and kernel loads, about a second each on a quiet machine,
come on top of the two-job time: see ``benchmarks/README.md``).

    python benchmarks/bench_schedule.py                         # the README's sweep (tau_by_scheme, 78 scenarios)
    python benchmarks/bench_schedule.py --bench 2000 2000        # bench_sweep.py's sweep: scenarios, rounds
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def makespan(costs: list[float], workers: int) -> float:
    """List scheduling in the given order: each task goes to the worker that is free first."""
    free = [0.0] * workers
    for c in costs:
        heapq.heapreplace(free, free[0] + c)
    return max(free)


def cpu(task) -> float:
    from sim import sweeps

    sweeps._TAU_STAR_MEMO.clear()
    start = time.process_time()
    sweeps.run_chunk(task)
    return time.process_time() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", nargs=2, type=int, metavar=("SCENARIOS", "ROUNDS"),
                        help="bench_sweep.py's sweep at this size instead of tau_by_scheme")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from sim import sweeps

    sweeps._warm_worker()
    if args.bench:
        import bench_sweep

        spec = bench_sweep.make_spec(args.bench[0], args.bench[1], 10, 20)
    else:
        spec = sweeps.load_sweep(ROOT / "scenarios" / "sweeps" / "tau_by_scheme.toml")
    plan = sweeps.plan_sweep(spec)
    options = dict(tail_window=None, trajectory_every=None, theory=True)
    todo = list(range(len(plan.chunks)))
    whole = [cpu(plan.task(c, **options)) for c in todo]
    pieces = sweeps._pieces(plan, todo, args.workers)
    piece_cpu = [cpu(sweeps._piece_task(plan.task(c, **options), a, b)) for c, a, b in pieces]
    one = sum(whole)
    before, after = makespan(whole, args.workers), makespan(piece_cpu, args.workers)
    print(f"sweep {spec.name}: {plan.scenarios:,} scenarios, {len(plan.chunks)} chunk(s), {len(pieces)} piece(s) "
          f"on {args.workers} workers")
    print(f"  chunk CPU s: {', '.join(f'{x:.2f}' for x in whole)}")
    print(f"  piece CPU s: {', '.join(f'{x:.2f}' for x in piece_cpu)} (sum {sum(piece_cpu):.2f})")
    print(f"  one job {one:.2f} s; {args.workers} workers: whole chunks {before:.2f} s ({before / one:.3f}), "
          f"pieces {after:.2f} s ({after / one:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
