"""Benchmark: agent-updates per second of the batch engine and of the Mesa model.

One agent-update is one developer's response in one round.  The workload is
a family of arms-race scenarios (power-law scores with sampled capabilities,
linear cost, geometric rewards, resolution 1e-3, tau spread over [0, 20]),
``n`` developers each, under the simultaneous schedule from the all-zero
profile.  The batch engine steps all scenarios at once on one core
(``record="tail"``), once as it runs by default and once with the replay of
exact recurrences switched off (``batch-computed``: every round's responses
are computed, none copied); the Mesa model runs one scenario at a time.

    python benchmarks/bench_engine.py                 # the full table (several minutes)
    python benchmarks/bench_engine.py --quick         # a smaller version
    python benchmarks/bench_engine.py --tiny          # n = 3 only, a few rounds: a smoke test (the tests run it)

Prints a table of agent-updates per second, the batch/Mesa ratio and the
peak resident memory of each measurement (each in a fresh subprocess).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Run from a checkout without installing: the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# One core: keep numpy's BLAS (unused here, but cheap insurance) single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def scenarios(n: int, count: int, rounds: int):
    import numpy as np

    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    return [
        parse_scenario(sampled_arms_race(n, seed=1000 + k, tau=float(tau), rounds=rounds, name=f"bench-{n}-{k}"))
        for k, tau in enumerate(np.linspace(0.0, 20.0, count))
    ]


def measure(engine: str, n: int, count: int, rounds: int) -> dict:
    import resource

    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    items = scenarios(n, count, rounds)
    # Warm-up, not timed: imports (numba, Mesa) and loading the cached compiled kernels happen once per
    # process (about 1 s), whatever the size of the run. A small scenario of another size and seed, so that
    # nothing of the measured workload is computed in advance (the engine keeps no state between runs).
    warm = parse_scenario(sampled_arms_race(2, seed=99, rounds=3, name="warm-up"))
    warm_start = time.perf_counter()
    if engine == "mesa":
        from sim.model import run_mesa

        run_mesa(warm).outcome()
    else:
        from sim.engine import run_batch

        run_batch([warm], record="tail").outcomes()
    warmup_seconds = time.perf_counter() - warm_start
    start = time.perf_counter()
    if engine in ("batch", "batch-computed"):
        from sim import engine as batch_engine
        from sim.engine import run_batch

        # "batch-computed" switches off the replay of exact recurrences: every round's responses are computed.
        batch_engine.REPLAY_RECURRENCES = engine == "batch"

        # max_rounds = rounds: the fixed workload of scenarios x rounds, no playing on past it.
        result = run_batch(items, record="tail", max_rounds=rounds)
        outcomes = [o.outcome for o in result.outcomes()]
    else:
        from sim.model import run_mesa

        outcomes = [run_mesa(s, max_rounds=rounds).outcome().outcome for s in items]
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "engine": engine,
        "n": n,
        "scenarios": count,
        "rounds": rounds,
        "seconds": seconds,
        "warmup_seconds": warmup_seconds,
        "updates_per_second": n * count * rounds / seconds,
        "peak_mb": peak_kb / 1024,
        "cycles": outcomes.count("cycle"),
    }


def run_child(engine: str, n: int, count: int, rounds: int) -> dict:
    """Each measurement in a fresh process, so peak memory is its own."""
    cmd = [sys.executable, __file__, "--child", engine, str(n), str(count), str(rounds)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 scenarios x 200 rounds (batch), 2 x 50 (Mesa)")
    parser.add_argument("--tiny", action="store_true",
                        help="n = 3 only, 2 scenarios x 5 rounds (batch), 1 x 5 (Mesa): a smoke test, no measurement")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        engine, n, count, rounds = args.child
        print(json.dumps(measure(engine, int(n), int(count), int(rounds))))
        return 0
    batch_size, batch_rounds = (2, 5) if args.tiny else (100, 200) if args.quick else (1000, 1000)
    mesa_size, mesa_rounds = (1, 5) if args.tiny else (2, 50) if args.quick else (5, 200)
    print(f"batch engine: {batch_size} scenarios x {batch_rounds} rounds; Mesa model: {mesa_size} x {mesa_rounds}")
    print(f"{'n':>4} {'engine':>14} {'updates/s':>12} {'seconds':>9} {'peak MB':>8} {'cycles':>7} {'batch/Mesa':>11}")
    for n in (3,) if args.tiny else (3, 10, 30):
        batch = run_child("batch", n, batch_size, batch_rounds)
        computed = run_child("batch-computed", n, batch_size, batch_rounds)
        mesa = run_child("mesa", n, mesa_size, mesa_rounds)
        ratio = batch["updates_per_second"] / mesa["updates_per_second"]
        for row, extra in ((batch, ""), (computed, ""), (mesa, f"{ratio:11.0f}")):
            print(
                f"{row['n']:>4} {row['engine']:>14} {row['updates_per_second']:>12,.0f} {row['seconds']:>9.1f} "
                f"{row['peak_mb']:>8.0f} {row['cycles']:>7} {extra}"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
