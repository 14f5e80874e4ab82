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
    python benchmarks/bench_engine.py --schedule random_order --response logit   # another schedule / response
    python benchmarks/bench_engine.py --strategies     # each built-in strategy's rate (bench_strategies.py)

With ``--schedule`` or ``--response`` the same scenarios play under that
schedule (``asynchronous``: revision probability 0.5) and response
(``logit``: temperature ``--temperature``), and the table compares the
computed updates (``batch-computed``, replay off) with the numpy path the
compiled kernels replace (``batch-numpy``: ``sim.engine.COMPILED_SCHEDULES``
off) instead of with Mesa.

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


def scenarios(
    n: int,
    count: int,
    rounds: int,
    schedule: str = "simultaneous",
    response: str = "best",
    temperature: float = 0.05,
    first_seed: int = 1000,
):
    import numpy as np

    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    items = []
    for k, tau in enumerate(np.linspace(0.0, 20.0, count)):
        data = sampled_arms_race(n, seed=first_seed + k, tau=float(tau), rounds=rounds, name=f"bench-{n}-{k}")
        data["dynamics"]["schedule"] = schedule
        if schedule == "asynchronous":
            data["dynamics"]["revision_probability"] = 0.5
        if response == "logit":
            data["dynamics"].update(response="logit", temperature=temperature)
        items.append(parse_scenario(data))
    return items


def measure(
    engine: str,
    n: int,
    count: int,
    rounds: int,
    schedule: str = "simultaneous",
    response: str = "best",
    temperature: float = 0.05,
) -> dict:
    import resource

    items = scenarios(n, count, rounds, schedule, response, temperature)
    # Warm-up, not timed: imports (numba, Mesa) and loading the cached compiled kernels happen once per
    # process (about 1 s), whatever the size of the run. A small scenario of another size and seed, so that
    # nothing of the measured workload is computed in advance (the engine keeps no state between runs).
    # Same schedule and response, so that their compiled kernels are loaded too.
    (warm,) = scenarios(2, 1, 3, schedule, response, temperature, first_seed=99)
    import sim.kernel  # noqa: F401 -- loaded first: a run this small would otherwise take the numpy path
    warm_start = time.perf_counter()
    if engine == "mesa":
        from sim.model import run_mesa

        run_mesa(warm).outcome()
    else:
        from sim.engine import run_batch

        run_batch([warm], record="tail").outcomes()
    warmup_seconds = time.perf_counter() - warm_start
    start, cpu_start = time.perf_counter(), time.process_time()
    if engine in ("batch", "batch-computed", "batch-numpy"):
        from sim import engine as batch_engine
        from sim.engine import run_batch

        # "batch-computed" switches off the replay of exact recurrences: every round's responses are computed.
        batch_engine.REPLAY_RECURRENCES = engine == "batch"
        # "batch-numpy": also the sequential schedules and the logit response on the numpy path.
        batch_engine.COMPILED_SCHEDULES = engine != "batch-numpy"

        # max_rounds = rounds: the fixed workload of scenarios x rounds, no playing on past it.
        result = run_batch(items, record="tail", max_rounds=rounds)
        outcomes = [o.outcome for o in result.outcomes()]
    else:
        from sim.model import run_mesa

        outcomes = [run_mesa(s, max_rounds=rounds).outcome().outcome for s in items]
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start  # on a loaded machine, steadier than the wall time
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "engine": engine,
        "schedule": schedule,
        "response": response,
        "n": n,
        "scenarios": count,
        "rounds": rounds,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "warmup_seconds": warmup_seconds,
        "updates_per_second": n * count * rounds / seconds,
        "peak_mb": peak_kb / 1024,
        "cycles": outcomes.count("cycle"),
    }


def run_child(engine: str, n: int, count: int, rounds: int, *dynamics) -> dict:
    """Each measurement in a fresh process, so peak memory is its own (``dynamics``: schedule, response,
    temperature)."""
    cmd = [sys.executable, __file__, "--child", engine, str(n), str(count), str(rounds), *map(str, dynamics)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--strategies" in argv:  # the strategy table: benchmarks/bench_strategies.py, the rest of the arguments its own
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_strategies

        return bench_strategies.main([a for a in argv if a != "--strategies"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 scenarios x 200 rounds (batch), 2 x 50 (Mesa)")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="n = 3 only, 2 scenarios x 5 rounds (batch), 1 x 5 (Mesa): a smoke test, no measurement",
    )
    parser.add_argument(
        "--schedule",
        choices=["simultaneous", "sequential", "random_order", "asynchronous"],
        help="play this schedule; compare the compiled kernels with the numpy path",
    )
    parser.add_argument(
        "--response",
        choices=["best", "logit"],
        help="play this response; compare the compiled kernels with the numpy path",
    )
    parser.add_argument("--temperature", type=float, default=0.05, help="of the logit response (default 0.05)")
    parser.add_argument(
        "--n", type=int, nargs="+", help="numbers of developers (default 3 10 30; 10 with --schedule or --response)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        engine, n, count, rounds, *dynamics = args.child
        if dynamics:
            dynamics[2] = float(dynamics[2])
        print(json.dumps(measure(engine, int(n), int(count), int(rounds), *dynamics)))
        return 0
    batch_size, batch_rounds = (2, 5) if args.tiny else (100, 200) if args.quick else (1000, 1000)
    if args.schedule or args.response:
        return compare(args, batch_size, batch_rounds)
    mesa_size, mesa_rounds = (1, 5) if args.tiny else (2, 50) if args.quick else (5, 200)
    print(f"batch engine: {batch_size} scenarios x {batch_rounds} rounds; Mesa model: {mesa_size} x {mesa_rounds}")
    print(f"{'n':>4} {'engine':>14} {'updates/s':>12} {'seconds':>9} {'peak MB':>8} {'cycles':>7} {'batch/Mesa':>11}")
    for n in args.n or ((3,) if args.tiny else (3, 10, 30)):
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


def compare(args, size: int, rounds: int) -> int:
    """The compiled kernels against the numpy path, computed updates only (replay off), same workload."""
    dynamics = (args.schedule or "simultaneous", args.response or "best", args.temperature)
    print(
        f"{size} scenarios x {rounds} rounds, schedule {dynamics[0]}, response {dynamics[1]}"
        + (f" (temperature {dynamics[2]:g})" if dynamics[1] == "logit" else "")
    )
    print(f"{'n':>4} {'engine':>14} {'updates/s':>12} {'seconds':>9} {'peak MB':>8} {'cycles':>7} {'speed-up':>9}")
    for n in args.n or ((3,) if args.tiny else (10,)):
        compiled = run_child("batch-computed", n, size, rounds, *dynamics)
        numpy_path = run_child("batch-numpy", n, size, rounds, *dynamics)
        ratio = compiled["updates_per_second"] / numpy_path["updates_per_second"]
        for row, extra in ((compiled, f"{ratio:9.0f}"), (numpy_path, "")):
            print(
                f"{row['n']:>4} {row['engine']:>14} {row['updates_per_second']:>12,.0f} {row['seconds']:>9.1f} "
                f"{row['peak_mb']:>8.0f} {row['cycles']:>7} {extra}"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
