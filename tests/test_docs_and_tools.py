"""What the README shows runs, CI runs what the README says, and the benchmark scripts run (at a tiny size)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def fenced(text: str, language: str) -> list[str]:
    """The bodies of the fenced blocks opened with ```language, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


# --------------------------------------------------------------------------- README


PYTHON_BLOCKS = fenced(README, "python")


def test_readme_has_python_examples():
    assert len(PYTHON_BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_example_runs(index, monkeypatch):
    """Each ```python block runs as shown, from the repository's root (its paths are relative to it)."""
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": f"readme_example_{index}"}
    exec(compile(PYTHON_BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
    if "RankDefender" in namespace:
        # "sim.model.RankDefender is this example": the README's class plays exactly as the library's.
        from sim.model import RankDefender, run_mesa

        scenario = namespace["scenario"]
        shown = run_mesa(scenario, rounds=100, developer_class=namespace["RankDefender"]).trajectory()
        pd.testing.assert_frame_equal(shown, run_mesa(scenario, rounds=100, developer_class=RankDefender).trajectory())


def readme_commands() -> list[str]:
    """The commands of the README's first (setup and test) block."""
    first = re.search(r"^```\n(.*?)^```$", README, flags=re.DOTALL | re.MULTILINE).group(1)
    return [line for line in first.splitlines() if line.strip()]


def test_ci_runs_the_readmes_commands():
    """.ci/run runs the README's setup command and ends with exactly the README's test command."""
    setup, test = readme_commands()
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert setup in lines
    assert lines[-1] == test
    assert test.split()[:3] == [".venv/bin/python", "-m", "pytest"] and "-n" in test.split()


def test_readme_says_how_long_the_tests_take():
    assert re.search(r"the test suite takes about \d+ s", README.replace("\n", " "))


# --------------------------------------------------------------------------- benchmarks


def bench(*args) -> str:
    done = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return done.stdout


def test_bench_engine_runs_at_a_tiny_size():
    out = bench("benchmarks/bench_engine.py", "--tiny")
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+3\s", line)]
    assert [row[1] for row in rows] == ["batch", "batch-computed", "mesa"]
    assert all(float(row[2].replace(",", "")) > 0 for row in rows)  # agent-updates per second


def test_bench_sweep_runs_at_a_tiny_size():
    out = bench("benchmarks/bench_sweep.py", "--tiny")
    assert "tables identical (4 rows)" in out
    cases = [line.split()[:2] for line in out.splitlines() if line.startswith(("timing ", "memory "))]
    assert cases == [["timing", "4"], ["timing", "4"], ["memory", "2"], ["memory", "4"]]


def test_bench_theory_runs_at_a_tiny_size():
    out = bench("benchmarks/bench_theory.py", "--games", "1", "--repeat", "1", "--reference")
    rows = [line for line in out.splitlines()[1:] if line.strip()]
    assert len(rows) == 9
    assert all(line.split()[-1] == "True" for line in rows), out  # the reference loop gives identical results
