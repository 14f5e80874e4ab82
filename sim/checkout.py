"""The experiment scripts of a checkout, for ``lbsim reproduce``.

The library never imports the ``experiments`` package (the experiments
import the library, not the other way round).  ``lbsim reproduce`` runs the
scripts of the checkout in the working directory: :func:`experiments_all`
loads ``<directory>/experiments`` by file path, as the package
``experiments``, and returns its module ``experiments.all``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from sim.errors import ScenarioError


def experiments_all(directory: str | Path | None = None):
    """The module ``experiments.all`` of the checkout at ``directory`` (default: the working directory).

    Raises :class:`~sim.errors.ScenarioError` naming ``experiments`` when
    ``directory/experiments`` holds no experiment scripts (``__init__.py``
    and ``all.py``), or when a package ``experiments`` from another
    directory is already imported.
    """
    root = Path.cwd() if directory is None else Path(directory)
    path = (root / "experiments").resolve()
    if not ((path / "__init__.py").is_file() and (path / "all.py").is_file()):
        raise ScenarioError(
            "experiments", str(root / "experiments"),
            "no experiment scripts here: run lbsim reproduce from the root of a checkout of the repository",
        )  # fmt: skip
    loaded = sys.modules.get("experiments")
    if loaded is None:
        spec = importlib.util.spec_from_file_location(
            "experiments", path / "__init__.py", submodule_search_locations=[str(path)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["experiments"] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules["experiments"]
            raise
    elif [Path(p).resolve() for p in getattr(loaded, "__path__", [])] != [path]:
        raise ScenarioError(
            "experiments", str(path),
            f"another experiments package is already imported (from {', '.join(getattr(loaded, '__path__', []))})",
        )  # fmt: skip
    return importlib.import_module("experiments.all")
