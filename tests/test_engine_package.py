"""The engine as a package: its public interface, its constants, its response rules, and the library's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from sim import engine, scenario
from sim.engine import BatchGame
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------
# The engine package: names set on sim.engine reach the module that reads them
# ---------------------------------------------------------------------------


def test_setting_an_engine_constant_reaches_the_module_that_reads_it(monkeypatch):
    """``sim.engine.REPLAY_RECURRENCES = False`` and the like take effect: the constants live in the
    package's modules, and setting one on the package sets it there (undone with the monkeypatch)."""
    from sim.engine import horizon, recurrence

    game = BatchGame.from_games([load_scenario(ROOT / "scenarios" / "arms_race.toml").game()])
    settings_ = engine.RunSettings("simultaneous", 10, "best", np.ones(1), np.ones(1))
    assert engine._replays(game, settings_)
    monkeypatch.setattr(engine, "REPLAY_RECURRENCES", False)
    assert recurrence.REPLAY_RECURRENCES is False and not engine._replays(game, settings_)
    monkeypatch.setattr(engine, "RECURRENCE_HISTORY_ENTRIES", 3 * 2)
    assert engine.Recurrence(1, 2, 100).history.shape == (1, 3, 2)
    monkeypatch.setattr(engine, "PROBE_KEYS", 7)
    assert horizon.PROBE_KEYS == 7
    monkeypatch.undo()
    assert recurrence.REPLAY_RECURRENCES is True and engine._replays(game, settings_)
    assert engine.Recurrence(1, 2, 100).history.shape == (1, 101, 2)


def test_engine_modules_stay_small():
    """One concept per module: no module of the engine package is much over 500 lines."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in Path(engine.__file__).parent.glob("*.py")}
    assert len(sizes) > 5 and max(sizes.values()) <= 520, sizes


# ---------------------------------------------------------------------------
# Response rules
# ---------------------------------------------------------------------------


def test_every_response_a_scenario_may_name_has_a_rule():
    assert set(engine.RESPONSES) == set(scenario.RESPONSES)
    for name in scenario.RESPONSES:
        assert engine.response_rule(name).name == name


def test_an_unknown_response_rule_is_refused():
    with pytest.raises(ValueError, match="unknown response 'nope'; known: best, logit"):
        engine.response_rule("nope")


def test_the_rules_are_what_the_batch_game_computes():
    """Best: the held best response of :meth:`BatchGame.respond`; logit: its logit draw over the candidates."""
    game = BatchGame.from_games([load_scenario(ROOT / "scenarios" / "arms_race.toml").game()])
    n = game.shape[1]
    rng = np.random.default_rng(3)
    x = rng.random((1, n))
    evaluated = game.publish(x)[1]
    rows = np.arange(n)[None, :]
    best = engine.response_rule("best").choose(game, evaluated, rows, current=x)
    assert np.array_equal(best, game.respond(evaluated, rows, current=x).next_effort)
    assert np.array_equal(engine.response_rule("best").choose(game, evaluated, rows),
                          game.respond(evaluated, rows).effort)
    uniform = rng.random((1, n))
    logit = engine.response_rule("logit").choose(game, evaluated, rows, temperature=np.array([0.1]), uniform=uniform)
    response = game.respond(evaluated, rows, candidates=True)
    assert np.array_equal(logit, game.logit_choice(response, np.array([0.1]), uniform))
    assert np.isin(logit[0], response.candidate_effort[0]).all()


# ---------------------------------------------------------------------------
# The library's imports: never the experiments, no cycle
# ---------------------------------------------------------------------------


def sim_modules() -> dict[str, Path]:
    """Every module of the ``sim`` package: dotted name -> file (``sim.__main__`` runs the CLI, so it is left out)."""
    out = {}
    for path in sorted((ROOT / "sim").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    out.pop("sim.__main__")
    return out


def module_level_imports(name: str, path: Path, modules) -> set[str]:
    """The ``sim`` modules ``name`` imports when it is imported: statements outside functions, classes and
    ``if TYPE_CHECKING:`` blocks; ``from a import b`` counts as ``a.b`` when that is a module, else ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            elif isinstance(node, ast.If):
                test = node.test
                if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return {m for m in found if m in modules and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as the list of its nodes, first repeated at the end), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)) is not None:
            return cycle
    return None


def test_no_import_cycle_among_sim_modules():
    modules = sim_modules()
    graph = {name: module_level_imports(name, path, modules) for name, path in modules.items()}
    assert "sim.engine" in graph["sim.model"] and "sim.engine.loop" in graph["sim.engine.horizon"]  # the walk sees
    assert "sim.engine.batch_game" not in graph["sim.engine.cache"]  # a TYPE_CHECKING import is not one
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def _is_ours(module: str) -> bool:
    return any(module == top or module.startswith(top + ".") for top in ("sim", "experiments"))


def test_importing_every_sim_module_never_imports_experiments():
    """Import every module of the library afresh, then no ``experiments`` module is loaded.

    In a forked copy of this process with every ``sim`` and ``experiments`` module dropped from ``sys.modules``:
    each library module's top-level code runs again, as in a fresh interpreter, while numpy, pandas, Mesa and
    Solara stay imported (a fresh interpreter spent about 7 s of CPU on importing them again).
    """
    import importlib
    import json
    import os

    names = sorted(sim_modules())
    for name in names:  # here first, so that the child finds the libraries they use imported (shared with other tests)
        importlib.import_module(name)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            os.close(read)
            for module in [m for m in sys.modules if _is_ours(m)]:
                del sys.modules[module]
            for name in names:
                importlib.import_module(name)
            loaded = sorted(m for m in sys.modules if m == "experiments" or m.startswith("experiments."))
            report = {"experiments": loaded, "sim": len([m for m in sys.modules if _is_ours(m)])}
            code = 0
        except BaseException as error:  # noqa: BLE001  (reported to the parent, which fails the test)
            report = {"error": repr(error)}
        with os.fdopen(write, "w") as out:
            json.dump(report, out)
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as reader:
        report = json.loads(reader.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report
    assert report["experiments"] == []
    assert report["sim"] >= len(names)


def test_experiments_do_not_import_the_command_line():
    for path in sorted((ROOT / "experiments").glob("*.py")):
        imported = module_level_imports(f"experiments.{path.stem}", path, {"sim.cli"} | {"sim"})
        assert "sim.cli" not in imported, path.name
