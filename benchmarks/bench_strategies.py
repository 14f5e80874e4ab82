"""Benchmark: agent-updates per CPU second of each built-in strategy (``sim.strategies``) in the batch engine.

The workload is ``bench_engine.py``'s (arms-race scenarios, power-law scores with sampled capabilities, linear
cost, geometric rewards, resolution 1e-3, tau spread over [0, 20], ``n`` developers, the simultaneous
schedule from zero, with evaluation noise ``--noise`` so that ``expected_utility`` is not the best response),
every developer playing the same strategy.  The reference is today's best response with the replay of exact
recurrences off (``best (dynamics.response)``: every round's responses computed).  Each measurement runs in a
fresh process after an untimed warm-up; times are CPU seconds of that process (``time.process_time``).

    python benchmarks/bench_strategies.py               # n = 10, 1000 scenarios x 200 rounds (a few minutes)
    python benchmarks/bench_strategies.py --quick       # 100 x 50
    python benchmarks/bench_strategies.py --tiny        # 2 x 3: a smoke test, no measurement
    python benchmarks/bench_engine.py --strategies      # the same table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: The strategies measured (the reference first): label -> ``developers.strategy`` (``None``: dynamics.response).
STRATEGY_SPECS = {
    "best (dynamics.response)": None,
    "best": "best",
    "logit": {"name": "logit", "temperature": 0.05},
    "rank_defender": "rank_defender",
    "partial_adjustment": {"name": "partial_adjustment", "lambda": 0.5},
    "fictitious_play (decay)": {"name": "fictitious_play", "decay": 0.5},
    "fictitious_play (window 5)": {"name": "fictitious_play", "window": 5},
    "expected_utility": "expected_utility",
    "hedge": {"name": "hedge", "eta": 1.0},
    "satisficer": {"name": "satisficer", "target_rank": 2},
    "mixed (one of each)": "mixed",
}


def workload(label: str, n: int, count: int, rounds: int, noise: float, first_seed: int = 1000):
    from bench_engine import scenarios

    from sim.scenario import parse_scenario

    spec = STRATEGY_SPECS[label]
    items = []
    for s in scenarios(n, count, rounds, first_seed=first_seed):
        data = s.to_dict()
        data["leaderboard"]["noise"] = noise
        if spec == "mixed":
            pool = [v for v in STRATEGY_SPECS.values() if v not in (None, "mixed")]
            data["developers"]["strategy"] = [pool[i % len(pool)] for i in range(n)]
        elif spec is not None:
            data["developers"]["strategy"] = spec
        items.append(parse_scenario(data))
    return items


def measure(label: str, n: int, count: int, rounds: int, noise: float) -> dict:
    from sim import engine
    from sim.engine import run_batch

    engine.REPLAY_RECURRENCES = False  # every round computed (the reference's replay off)
    run_batch(workload(label, max(2, n), 1, 3, noise, first_seed=99), record="tail").outcomes()  # warm-up
    items = workload(label, n, count, rounds, noise)
    start = time.process_time()
    run_batch(items, record="tail", max_rounds=rounds)
    seconds = time.process_time() - start
    return {"label": label, "n": n, "scenarios": count, "rounds": rounds, "cpu_seconds": seconds,
            "updates_per_second": n * count * rounds / seconds}


def run_child(label: str, n: int, count: int, rounds: int, noise: float) -> dict:
    cmd = [sys.executable, __file__, "--child", label, str(n), str(count), str(rounds), str(noise)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 scenarios x 50 rounds")
    parser.add_argument("--tiny", action="store_true", help="2 scenarios x 3 rounds, n = 3: a smoke test")
    parser.add_argument("--n", type=int, default=10, help="developers (default 10)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("SCENARIOS", "ROUNDS"), help="another workload")
    parser.add_argument("--noise", type=float, default=1e-3, help="evaluation noise sd (default 1e-3)")
    parser.add_argument("--only", nargs="+", choices=list(STRATEGY_SPECS), help="measure only these")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        label, n, count, rounds, noise = args.child
        print(json.dumps(measure(label, int(n), int(count), int(rounds), float(noise))))
        return 0
    count, rounds = (2, 3) if args.tiny else (100, 50) if args.quick else args.size or (1000, 200)
    n = 3 if args.tiny else args.n
    print(f"n = {n}, {count} scenarios x {rounds} rounds, simultaneous, noise {args.noise:g}; CPU seconds")
    print(f"{'strategy':<28} {'updates/s':>12} {'CPU s':>8} {'/ best':>7}")
    reference = None
    reference_label = "best (dynamics.response)"
    for label in [reference_label, *[k for k in (args.only or STRATEGY_SPECS) if k != reference_label]]:
        row = run_child(label, n, count, rounds, args.noise)
        reference = reference or row["updates_per_second"]
        ratio = row["updates_per_second"] / reference
        print(f"{label:<28} {row['updates_per_second']:>12,.0f} {row['cpu_seconds']:>8.2f} {ratio:>7.2f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
