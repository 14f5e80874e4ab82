"""What the README shows runs, CI runs what the README says, and the benchmark scripts run (at a tiny size)."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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
        # max_rounds = rounds: the point is the class, not the horizon (tested in test_engine.py and test_cli.py).
        shown = run_mesa(scenario, rounds=100, max_rounds=100, developer_class=namespace["RankDefender"]).trajectory()
        library = run_mesa(scenario, rounds=100, max_rounds=100, developer_class=RankDefender).trajectory()
        pd.testing.assert_frame_equal(shown, library)


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


def load_bench(name: str, monkeypatch) -> ModuleType:
    """benchmarks/<name>.py imported by path; its environment and sys.path edits are undone after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    spec = importlib.util.spec_from_file_location(f"bench_under_test_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ChildInProcess:
    """Stands in for ``subprocess`` in a benchmark module: ``run([python, <the script>, --child, ...])`` calls the
    script's own ``main(["--child", ...])`` in this process (the JSON it prints is what its parent reads), so the
    parent's code runs unchanged without paying a fresh interpreter, numba and Mesa import per measurement."""

    def __init__(self, module: ModuleType):
        self.module = module
        self.calls = 0

    def run(self, cmd, check=False, **kwargs) -> subprocess.CompletedProcess:
        assert Path(cmd[1]) == Path(self.module.__file__) and cmd[2] == "--child", cmd
        self.calls += 1
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = self.module.main(list(cmd[2:]))
        assert code == 0, err.getvalue()
        return subprocess.CompletedProcess(cmd, code, out.getvalue(), err.getvalue())


def bench(name: str, argv: list[str], monkeypatch, capsys) -> str:
    """Run a benchmark's main(argv) in this process (measurements included); what it printed."""
    from sim import engine

    module = load_bench(name, monkeypatch)
    # bench_engine's measurements switch the replay of recurrences off and on: restored after the test.
    monkeypatch.setattr(engine, "REPLAY_RECURRENCES", engine.REPLAY_RECURRENCES)
    children = ChildInProcess(module)
    if hasattr(module, "subprocess"):
        monkeypatch.setattr(module, "subprocess", children)
    monkeypatch.setattr(sys, "argv", [str(module.__file__), *argv])  # bench_theory parses sys.argv
    code = module.main(argv) if "argv" in inspect.signature(module.main).parameters else module.main()
    done = capsys.readouterr()
    assert code in (0, None), done.err[-2000:]
    assert "Traceback" not in done.err
    assert not hasattr(module, "subprocess") or children.calls > 0  # the measurements ran
    return done.out


def test_bench_engine_runs_at_a_tiny_size(monkeypatch, capsys):
    out = bench("bench_engine", ["--tiny"], monkeypatch, capsys)
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+3\s", line)]
    assert [row[1] for row in rows] == ["batch", "batch-computed", "mesa"]
    assert all(float(row[2].replace(",", "")) > 0 for row in rows)  # agent-updates per second


def test_bench_sweep_runs_at_a_tiny_size(monkeypatch, capsys):
    out = bench("bench_sweep", ["--tiny"], monkeypatch, capsys)
    assert "tables identical (4 rows)" in out
    cases = [line.split()[:2] for line in out.splitlines() if line.startswith(("timing ", "memory "))]
    assert cases == [["timing", "4"], ["timing", "4"], ["memory", "2"], ["memory", "4"]]


def test_bench_theory_runs_at_a_tiny_size(monkeypatch, capsys):
    out = bench("bench_theory", ["--games", "1", "--repeat", "1", "--reference"], monkeypatch, capsys)
    rows = [line for line in out.splitlines()[1:] if line.strip()]
    assert len(rows) == 9
    assert all(line.split()[-1] == "True" for line in rows), out  # the reference loop gives identical results


def test_bench_schedule_replays_the_readme_sweep(monkeypatch, capsys):
    """``benchmarks/bench_schedule.py`` on the README's sweep (its default), in this process: a smoke test, its
    times are not checked."""
    out = bench("bench_schedule", [], monkeypatch, capsys)
    assert "78 scenarios, 1 chunk(s), 1 piece(s) on 2 workers" in out
    assert "one job" in out and "pieces" in out
