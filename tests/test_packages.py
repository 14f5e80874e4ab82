"""The library's packages split one concept per module: sweeps, scenario, plots, the command line, the compiled
kernel, the theory and the trajectory analysis.

Each package re-exports its modules' public names (``from sim.sweeps import sweep`` and the like keep working),
no module is much over 500 lines, the import graph has no circle (``tests/test_engine_package.py`` walks it for
every module of ``sim``, these packages included), and the command line's registry builds the parser.
"""

from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path

import pytest

from sim import cli
from tests.test_engine_package import find_cycle, module_level_imports, sim_modules

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim.sweeps", "sim.scenario", "sim.plots", "sim.cli", "sim.kernel", "sim.theory", "sim.analysis")
#: "None much over 500 lines" (issue 13): the budget of a module of these packages.
MAX_LINES = 500


def package_modules(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).glob("*.py"))


def defined_public_names(path: Path) -> set[str]:
    """Names a module defines at its top level (functions, classes, assignments) that do not start with ``_``."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_of_a_module_is_importable_from_its_package(package):
    """A name defined in ``sim.sweeps.running`` is also ``sim.sweeps.<name>``, the same object: callers import
    from the package, as before the split.  (A command module's ``add_parser`` is the registry's business.)"""
    root = importlib.import_module(package)
    seen = 0
    for path in package_modules(package):
        if path.stem.startswith("__"):
            continue
        module = importlib.import_module(f"{package}.{path.stem}")
        names = defined_public_names(path) - ({"add_parser"} if package == "sim.cli" else set())
        seen += len(names)
        missing = sorted(n for n in names if getattr(root, n, None) is not getattr(module, n))
        assert not missing, f"{package}.{path.stem}: {missing}"
    assert seen >= 10  # the walk sees the modules' names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_is_importable(package):
    root = importlib.import_module(package)
    assert [n for n in getattr(root, "__all__", []) if not hasattr(root, n)] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_of_the_split_packages_is_much_over_500_lines(package):
    sizes = {p.name: len(p.read_text().splitlines()) for p in package_modules(package)}
    assert len(sizes) >= 4  # the walk sees the modules
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_split_packages_are_in_the_import_graph_and_have_no_circle():
    modules = sim_modules()
    graph = {name: module_level_imports(name, path, modules) for name, path in modules.items()}
    # The walk sees the new modules and their edges (a sibling imported by name, the package by a private name).
    assert "sim.sweeps.running" in graph["sim.sweeps"] and "sim.sweeps.workers" in graph["sim.sweeps.running"]
    assert "sim.scenario" in graph["sim.sweeps.spec"] and "sim.scenario.spec" in graph["sim.scenario.parsing"]
    assert "sim.cli.common" in graph["sim.cli.run"] and "sim.plots.style" in graph["sim.plots.dynamics"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
    # No module of a package imports the package itself at module level (that would be a circle through
    # its __init__, which imports the module).
    for name in graph:
        package = name.rpartition(".")[0]
        if package in PACKAGES and not name.endswith(".__main__"):  # python -m sim.cli runs the package
            assert package not in graph[name], name


def test_the_mesa_model_uses_only_the_engine_public_interface():
    from sim import engine

    tree = ast.parse((ROOT / "sim" / "model.py").read_text())
    used = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "sim.engine"
            for alias in node.names}
    assert used and used <= set(engine.__all__)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(
        "sim.engine.")]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_command_registry_builds_one_subcommand_per_module_in_order():
    commands = subcommands(cli.build_parser())
    assert len(commands) == len(cli.COMMANDS)
    # Each module of COMMANDS, in order, adds one subcommand whose command function it defines.
    for module, (name, parser) in zip(cli.COMMANDS, commands.items(), strict=True):
        run = parser.get_default("run")
        assert callable(run) and run.__module__ == module, (name, module)
        if module.startswith("sim.cli."):
            assert name == module.rpartition(".")[2]


def test_a_command_is_added_with_one_line(monkeypatch, capsys):
    """A module exposing ``add_parser(subparsers)`` registered in :data:`sim.cli.COMMANDS` is a command of
    ``lbsim``: parsed, run, its exit code returned."""
    import sys
    import types

    module = types.ModuleType("lbsim_probe_command")

    def add_parser(subparsers):
        p = subparsers.add_parser("probe", help="a probe")
        p.add_argument("--code", type=int, default=0)
        p.set_defaults(run=lambda args: print("probed") or args.code)

    module.add_parser = add_parser
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, module.__name__))
    assert cli.main(["probe", "--code", "3"]) == 3
    assert capsys.readouterr().out == "probed\n"
    assert "probe" in subcommands(cli.build_parser())
