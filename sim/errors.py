"""Errors raised on invalid input.

Every error about a scenario or a parameter names the field and the value, so
that the command line can print it as one line (see :mod:`sim.cli`).
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """An invalid field in a scenario or an impossible parameter.

    Parameters
    ----------
    field:
        Dotted name of the offending field, for example ``"score.beta"``.
    value:
        The value found there.
    message:
        What is wrong with it, for example ``"must be > 0"``.
    """

    def __init__(self, field: str, value: object, message: str):
        self.field = field
        self.value = value
        self.message = message
        super().__init__(f"{field} = {_short(value)}: {message}")

    def prefixed(self, prefix: str) -> ScenarioError:
        """The same error with ``prefix.`` put before the field name."""
        return ScenarioError(f"{prefix}.{self.field}" if self.field else prefix, self.value, self.message)


def callable_path(function) -> str:
    """The ``"module:qualname"`` path of a callable (``repr`` when it has none), for messages and files."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname:
        return repr(function)
    return f"{module}:{qualname}"


def describe_exception(err: BaseException, limit: int = 160) -> str:
    """``TypeName: message`` on one line, the message cut to about ``limit`` characters."""
    text = " ".join(str(err).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters; a value nested too deeply to print is named by its type."""
    try:
        text = repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to show>"
    except Exception as err:  # noqa: BLE001 - a user's object may fail to print in any way
        return f"<{type(value).__name__} that cannot be shown: {type(err).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
