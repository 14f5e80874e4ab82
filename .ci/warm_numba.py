"""Compile the numba kernels (``sim.kernel``) once, into numba's on-disk cache, before the test suite starts.

From a clean clone the cache is empty; without this step every test process (``pytest -n 2``) would compile
the same kernels at the same time on the same cores.  Every bundled scenario is played for a few rounds by
both engines and as a sweep row (tail record), which are the argument types the suite uses.  Prints the time.
"""

import sys
import time
from pathlib import Path

from sim.engine import run
from sim.model import run_mesa
from sim.scenario import load_scenario

start = time.perf_counter()
scenarios = [load_scenario(p) for p in sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))]
for scenario in scenarios:
    run(scenario, rounds=3)
    run(scenario, rounds=3, record="tail")
    run_mesa(scenario, rounds=2)
print(f"numba kernels compiled (or loaded from the cache) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
