"""Benchmark of :func:`sim.theory.stabilising_threshold` on a published grid (exact grid-level enumeration).

Per-game seconds (mean over ``--games`` games, each a different capability
sample; best of ``--repeat`` runs) for the benchmark family and variants of it::

    python3 benchmarks/bench_theory.py [--games 5] [--repeat 5] [--reference]

``--reference`` also times the original pair-by-pair loop
(``sim.theory._threshold_grid_levels_reference``), alternating runs of the two
so that both see the same machine load, and checks that they give
bit-identical results.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

# Run from a checkout without installing: the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import theory  # noqa: E402
from sim.examples import sampled_arms_race  # noqa: E402
from sim.scenario import parse_scenario  # noqa: E402

BASE = sampled_arms_race(10, seed=3, name="b")


def variant(**changes) -> dict:
    d = copy.deepcopy(BASE)
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            d[section][key] = value
        else:
            d[section] = value
    return d


VARIANTS = {
    "example (power law, 1e-3, geometric, n=10)": variant(),
    "exp_saturation": variant(score={"family": "exp_saturation", "lower": 0.25, "upper": 0.95, "rate": 0.5}),
    "resolution 1e-4": variant(leaderboard={"resolution": 0.0001}),
    "resolution 1e-2": variant(leaderboard={"resolution": 0.01}),
    "winner_take_all": variant(reward={"scheme": "winner_take_all"}),
    "linear rewards": variant(reward={"scheme": "linear"}),
    "zipf rewards": variant(reward={"scheme": "zipf", "exponent": 1.0}),
    "n = 3": variant(developers={"sample": {"n": 3, "distribution": "uniform", "low": 0.0, "high": 1.0}}),
    "n = 30": variant(developers={"sample": {"n": 30, "distribution": "uniform", "low": 0.0, "high": 1.0}}),
}


def games(d: dict, count: int):
    out = []
    for seed in range(count):
        dd = copy.deepcopy(d)
        dd["seed"] = d["seed"] + seed
        out.append(parse_scenario(dd).game())
    return out


def run_once(fn, gs) -> tuple[float, list]:
    """Seconds per game of ``fn`` over the games ``gs``, and its results (compared with ``--reference``)."""
    t0 = time.perf_counter()
    results = [fn(g) for g in gs]
    return (time.perf_counter() - t0) / len(gs), results


def same(a, b) -> bool:
    fields = ("vouched", "method", "note", "tau_max")
    return a.per_pair.tobytes() == b.per_pair.tobytes() and all(getattr(a, f) == getattr(b, f) for f in fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference", action="store_true", help="also time the pair-by-pair reference loop")
    args = parser.parse_args()
    header = f"{'variant':45s} {'new s/game':>11s}"
    if args.reference:
        header += f" {'ref s/game':>11s} {'speed-up':>9s} identical"
    print(header, flush=True)
    for name, d in VARIANTS.items():
        gs = games(d, args.games)
        new = ref = np.inf
        for _ in range(args.repeat):
            seconds, new_results = run_once(theory.stabilising_threshold, gs)
            new = min(new, seconds)
            if args.reference:
                seconds, ref_results = run_once(theory._threshold_grid_levels_reference, gs)
                ref = min(ref, seconds)
        line = f"{name:45s} {new:11.5f}"
        if args.reference:  # the last repetition's results (every repetition computes the same)
            ok = all(same(a, b) for a, b in zip(new_results, ref_results, strict=True))
            line += f" {ref:11.5f} {ref / new:8.1f}x {ok}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
