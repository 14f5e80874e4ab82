"""Custom functions named ``module:function`` in a scenario: allowed only on request, imported without the current
directory on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import Callable

from sim.errors import ScenarioError, describe_exception
from sim.scenario.values import _expect_string

#: Environment variable that allows custom functions for every load when set to ``1``.
ALLOW_CUSTOM_ENV = "LBSIM_ALLOW_CUSTOM"


def custom_allowed(allow_custom: bool = False) -> bool:
    """Whether custom code may run: ``allow_custom`` or the environment variable ``LBSIM_ALLOW_CUSTOM=1``."""
    return bool(allow_custom) or os.environ.get(ALLOW_CUSTOM_ENV, "").strip() == "1"


#: The form of a custom function's path: ``module.path:attribute.path`` of Python identifiers.
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"


_CALLABLE_PATH = re.compile(f"{_DOTTED}:{_DOTTED}")


def check_callable_path(path: object, field_name: str) -> str:
    """``path`` if it has the form ``"module.path:attribute"`` (identifiers only); nothing is imported."""
    _expect_string(path, field_name)
    if len(path) > 300 or not _CALLABLE_PATH.fullmatch(path):
        raise ScenarioError(field_name, path, 'must look like "module.path:attribute" (Python identifiers)')
    return path


#: The library's own example functions (:mod:`sim.examples`): pure numpy functions that ship with the package,
#: named by the bundled scenarios; they need no permission (any other module does).
BUILT_IN_FUNCTIONS = frozenset(
    f"sim.examples:{name}"
    for name in ("shifted_exponential", "shifted_exponential_limit", "exponential_cost", "huber_cost")
)


def _custom(path: object, field_name: str, allow_custom: bool) -> Callable:
    """The custom function at ``path`` if custom code is allowed; its form is checked either way.

    The functions in :data:`BUILT_IN_FUNCTIONS` are part of the library and always allowed.
    """
    check_callable_path(path, field_name)
    if path not in BUILT_IN_FUNCTIONS and not custom_allowed(allow_custom):
        raise ScenarioError(
            field_name, path, f"custom code is not run unless allowed (--allow-custom, allow_custom=True or "
            f"{ALLOW_CUSTOM_ENV}=1)"
        )
    return import_callable(path, field_name)


@contextlib.contextmanager
def _without_cwd_on_path():
    """``sys.path`` without the current directory (``""`` or its absolute path) unless ``PYTHONPATH`` lists it.

    ``python -m sim`` puts the working directory first on ``sys.path``; a custom
    module must come from an installed package or an explicit ``PYTHONPATH``.
    """
    cwd = os.path.realpath(os.getcwd())
    explicit = {
        os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    }

    def implicit_cwd(entry: str) -> bool:
        real = os.path.realpath(entry or ".")
        return real == cwd and real not in explicit

    saved = list(sys.path)
    sys.path[:] = [p for p in saved if not (isinstance(p, str) and implicit_cwd(p))]
    try:
        yield
    finally:
        sys.path[:] = saved


def import_callable(path: object, field_name: str) -> Callable:
    """Import ``"module.path:attribute"`` (the attribute may be dotted) and check it is callable.

    This imports (runs) the module: call it only for code the user allowed
    (see :func:`custom_allowed`).  The current directory is not searched
    unless ``PYTHONPATH`` names it.
    """
    check_callable_path(path, field_name)
    module_name, _, attribute = path.partition(":")
    try:
        with _without_cwd_on_path():
            obj = importlib.import_module(module_name)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - an import can fail in any way
        raise ScenarioError(
            field_name, path, f"cannot import module {module_name!r}: {describe_exception(err)}"
        ) from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ScenarioError(field_name, path, f"{module_name!r} has no attribute {attribute!r}") from None
        except Exception as err:  # noqa: BLE001 - a lazy attribute can fail in any way
            raise ScenarioError(field_name, path, f"cannot get {attribute!r}: {describe_exception(err)}") from None
    if not callable(obj):
        raise ScenarioError(field_name, path, f"{attribute!r} is not callable")
    return obj
