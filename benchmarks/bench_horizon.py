"""Rounds, time and memory it takes to find each bundled scenario's outcome with the default horizon.

For every ``scenarios/*.toml``, in a fresh process: ``sim.engine.run`` with
default settings (the scenario's ``rounds``, playing on up to its
``dynamics.max_rounds`` when the dynamics are deterministic), as ``lbsim
run`` does (``record="full"``), after an untimed warm-up that loads the
compiled kernels.  Printed per scenario: the outcome, its period and entry
round, the rounds reported, the rounds played in all (the first run, the
probes and the final run of :func:`sim.engine._extend`, summed), the
seconds, the peak resident memory of the process and, beside it, the state
keys of the reported horizon (``8 (T + 1)`` bytes) and its full records
(``28 n (T + 1)`` bytes).

    python benchmarks/bench_horizon.py              # every bundled scenario (about a minute)
    python benchmarks/bench_horizon.py two_developers winner_take_all_5
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(path: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from sim import engine
    from sim.scenario import load_scenario

    scenario = load_scenario(path)
    import sim.kernel  # noqa: F401 -- loaded first: a run this small would otherwise take the numpy path

    warm = load_scenario(ROOT / "scenarios" / "arms_race.toml")
    engine.run(warm, rounds=3, max_rounds=3).outcome(0)  # kernels loaded, not timed
    played = []
    fixed = engine._run_fixed

    def counting(scenarios, rounds, *args, **kwargs):
        played.append(len(scenarios) * rounds)
        return fixed(scenarios, rounds, *args, **kwargs)

    engine._run_fixed = counting
    played.clear()
    start = time.perf_counter()
    result = engine.run(scenario)
    out = result.outcome(0)
    seconds = time.perf_counter() - start
    T, n = out.rounds, scenario.n
    return {
        "scenario": Path(path).stem,
        "n": n,
        "deterministic": out.deterministic,
        "rounds": scenario.dynamics.rounds,
        "max_rounds": out.max_rounds,
        "outcome": out.outcome,
        "period": out.period,
        "entered_at": out.entered_at,
        "reported_rounds": T,
        "played_rounds": int(sum(played)),
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "keys_mb": 8 * (T + 1) / 2**20,
        "records_mb": 28 * n * (T + 1) / 2**20,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        print(json.dumps(child(argv[1])))
        return
    names = argv or [p.stem for p in sorted((ROOT / "scenarios").glob("*.toml"))]
    print("| scenario | n | det. | rounds | outcome | period | entered | reported rounds | rounds played | "
          "seconds | peak MB | keys MB | records MB |")
    print("|---|--:|:-:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name in names:
        path = ROOT / "scenarios" / f"{name}.toml"
        done = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                              check=True, cwd=ROOT)
        r = json.loads(done.stdout)
        show = lambda v: "" if v is None else f"{v:,}"  # noqa: E731
        print(f"| {r['scenario']} | {r['n']} | {'yes' if r['deterministic'] else 'no'} | {r['rounds']:,} | "
              f"{r['outcome']} | {show(r['period'])} | {show(r['entered_at'])} | {r['reported_rounds']:,} | "
              f"{r['played_rounds']:,} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['keys_mb']:.2f} | "
              f"{r['records_mb']:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
