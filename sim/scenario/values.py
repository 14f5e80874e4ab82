"""Strict checks of one value of a scenario document: each failure a one-line error naming the field and the value."""

from __future__ import annotations

import difflib
import math

import numpy as np

from sim.errors import ScenarioError
from sim.scores import (
    Affine,
    Param,
)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _shown(value: object) -> object:
    """``value`` for an error message: an integer too long to print is summarised."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(int(value)).bit_length() > 1000:
        return f"<integer of about {int(abs(int(value)).bit_length() * math.log10(2)) + 1} digits>"
    if isinstance(value, (list, tuple)) and any(_shown(v) is not v for v in value):
        return [_shown(v) for v in value]
    return value


def _listed(value: object) -> object:
    return value.tolist() if isinstance(value, np.ndarray) else list(value) if isinstance(value, tuple) else value


def _choose(choices) -> str:
    return f"choose one of {', '.join(choices)}"


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_float(value: object, field_name: str) -> float:
    if isinstance(value, (bool, str)) or value is None:
        raise ScenarioError(field_name, value, f"must be a number, got {_kind(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ScenarioError(field_name, _shown(value), "must be a finite number") from None
    except (TypeError, ValueError):
        raise ScenarioError(field_name, value, f"must be a number, got {_kind(value)}") from None


def _number(value: object, field_name: str, minimum: float | None = None) -> float:
    """A finite int or float (never a bool or string), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(field_name, value, f"must be a number, got {_kind(value)}")
    number = _as_float(value, field_name)
    if not math.isfinite(number):
        raise ScenarioError(field_name, value, "must be a finite number")
    if minimum is not None and number < minimum:
        raise ScenarioError(field_name, value, f"must be >= {minimum:g}")
    return number


def _integer(value: object, field_name: str, minimum: int | None = None) -> int:
    """``value`` as a Python int (numpy integers accepted), at least ``minimum``; else a :class:`ScenarioError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ScenarioError(field_name, value, f"must be an integer, got {_kind(value)}")
    if minimum is not None and value < minimum:
        raise ScenarioError(field_name, _shown(value), f"must be >= {minimum}")
    return int(value)


def _number_list(value: object, field_name: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ScenarioError(field_name, value, f"must be a list of numbers, got {_kind(value)}")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_number(item, field_name))
        except ScenarioError as err:
            raise ScenarioError(field_name, value, f"entry {i}: {err.message}") from None
    return tuple(out)


def _param(value: object, field_name: str, n: int) -> Param:
    """A score parameter: a number, a list of one number per developer, or ``{intercept, slope}``."""
    if isinstance(value, dict):
        _check_keys(value, field_name, ("intercept", "slope"))
        intercept = _number(_required(value, field_name, "intercept"), f"{field_name}.intercept")
        slope = _number(_required(value, field_name, "slope"), f"{field_name}.slope")
        return Affine(intercept, slope)
    if isinstance(value, list):
        values = _number_list(value, field_name)
        if len(values) != n:
            raise ScenarioError(field_name, value, f"needs one value per developer (n = {n}), got {len(values)}")
        return values
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(
            field_name, value, f"must be a number, a list or {{intercept = a, slope = b}}, got {_kind(value)}"
        )
    return _number(value, field_name)


def _expect_string(value: object, field_name: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(field_name, value, f"must be a string, got {_kind(value)}")
    return value


def _choice(value: object, field_name: str, choices, what: str = "value") -> str:
    _expect_string(value, field_name)
    if value not in choices:
        raise ScenarioError(field_name, value, f"unknown {what}{_suggest(value, choices)}; {_choose(choices)}")
    return value


def _table(value: object, field_name: str) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(field_name, value, f"must be a table, got {_kind(value)}")
    return value


def _section(data: dict, name: str) -> dict:
    if name not in data:
        return {}
    if not isinstance(data[name], dict):
        raise ScenarioError(name, data[name], f"must be a table [{name}], got {_kind(data[name])}")
    return data[name]


def _required(table: dict, prefix: str, key: str, hint: str = "") -> object:
    if key not in table:
        raise ScenarioError(f"{prefix}.{key}", None, f"missing required key{'; ' + hint if hint else ''}")
    return table[key]


def _check_keys(table: dict, prefix: str, allowed, context: str = "") -> None:
    """Reject keys not in ``allowed``, naming the first unknown one (dotted)."""
    for key in table:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else key
            kind = "section or key" if not prefix else "key"
            for_what = f" for {context}" if context else ""
            expected = ", ".join(allowed) if allowed else "none"
            raise ScenarioError(
                where, table[key], f"unknown {kind}{for_what}{_suggest(key, allowed)}; expected: {expected}"
            )
