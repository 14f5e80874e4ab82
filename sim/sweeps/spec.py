"""The sweep file: its axes (:class:`Axis`), the parsed and checked :class:`SweepSpec`, and its size limits."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.scenario import _integer

GRID_AXES = ("linspace", "logspace")


RANDOM_AXES = ("uniform", "loguniform", "integers", "choice")


SWEEP_KEYS = ("name", "base", "replications", "seed", "samples", "common_random_numbers", "axes", "max_rounds")


#: Largest number of scenarios one sweep may mean (a guard against a typo such as ``num = 1e9``).
MAX_SCENARIOS = 100_000_000


#: Largest number of parameter points (grid size times samples): every point is held in memory and checked.
MAX_POINTS = 1_000_000


#: Integer axis bounds must fit a signed 64-bit integer (numpy draws them as int64).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


_EXCLUSIVE = {("developers", "capability"): "sample", ("developers", "sample"): "capability"}


@dataclass(frozen=True)
class Axis:
    """One swept field: ``name`` (dotted), how its values are given (``kind``) and its arguments."""

    name: str
    kind: str  # "values", "linspace", "logspace", "uniform", "loguniform", "integers", "choice"
    args: tuple

    @property
    def random(self) -> bool:
        return self.kind in RANDOM_AXES

    def grid_values(self) -> list:
        """The values of a grid axis (plain Python numbers or the listed values)."""
        if self.kind == "values":
            return list(self.args)
        start, stop, num = self.args
        space = np.linspace if self.kind == "linspace" else np.logspace
        return [float(v) for v in space(start, stop, num)]

    def draw(self, rng: np.random.Generator, size: int) -> list:
        """``size`` values of a random axis from ``rng``."""
        if self.kind == "uniform":
            return [float(v) for v in rng.uniform(self.args[0], self.args[1], size)]
        if self.kind == "loguniform":
            low, high = np.log(self.args[0]), np.log(self.args[1])
            return [float(v) for v in np.exp(rng.uniform(low, high, size))]
        if self.kind == "integers":
            return [int(v) for v in rng.integers(self.args[0], self.args[1], size, endpoint=True)]
        picks = rng.integers(0, len(self.args), size)
        return [self.args[int(i)] for i in picks]

    def describe(self) -> str:
        if self.kind == "values":
            return f"{len(self.args)} value(s)"
        if self.kind in GRID_AXES:
            return f"{self.args[2]} values ({self.kind} {self.args[0]:g} .. {self.args[1]:g})"
        if self.kind == "choice":
            return f"random choice of {len(self.args)}"
        return f"{self.kind} on [{self.args[0]:g}, {self.args[1]:g}]"


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: base scenario, axes, replications, master seed (see the module docstring)."""

    name: str
    base: Any  # sim.scenario.Scenario
    axes: tuple[Axis, ...] = ()
    replications: int = 1
    seed: int = 0
    samples: int | None = None
    common_random_numbers: bool = True
    source: str | None = None
    text: str | None = None
    allow_custom: bool = False

    def __post_init__(self):
        if self.samples is None and any(a.random for a in self.axes):
            raise ScenarioError("samples", None, "random axes need a number of samples (samples = N)")
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ScenarioError("axes", names, "an axis is named twice")

    @property
    def grid_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if not a.random)

    @property
    def random_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if a.random)

    @property
    def points(self) -> int:
        """Number of parameter points: grid size times ``samples`` (when there are random axes)."""
        size = math.prod(len(a.args) if a.kind == "values" else a.args[2] for a in self.grid_axes)
        return size * (self.samples if self.random_axes else 1)

    @property
    def scenarios(self) -> int:
        return self.points * self.replications

    def to_dict(self) -> dict:
        """Plain dict: everything that determines the sweep's results (the base scenario included)."""
        return {
            "name": self.name,
            "base": self.base.to_dict(),
            "axes": {a.name: {a.kind: list(a.args)} for a in self.axes},
            "replications": self.replications,
            "seed": self.seed,
            "samples": self.samples,
            "common_random_numbers": self.common_random_numbers,
        }


def load_sweep(path, *, allow_custom: bool = False) -> SweepSpec:
    """Read and validate the sweep file at ``path`` (the base scenario path is relative to it).

    ``allow_custom`` lets the base scenario and the swept values name custom
    functions (imported and run); without it they are refused
    (see :func:`sim.scenario.custom_allowed`).

    Raises :class:`ScenarioError` naming the field and value; every point
    of the grid is checked later, by :func:`plan_sweep`.
    """
    from sim.scenario import load_scenario, read_text_file, read_toml

    path = Path(path)
    where = str(path)
    data = read_toml(path, "sweep file")
    text = read_text_file(path, "sweep file")  # kept in the manifest; read_toml has checked it decodes
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if "developers" in data and "base" not in data:
        raise ScenarioError(
            where, str(path.absolute()),
            'is a scenario file, not a sweep file; a sweep file names it with base = "path/to/it.toml"',
        )  # fmt: skip
    if unknown:
        expected = ", ".join(SWEEP_KEYS)
        raise ScenarioError(unknown[0], data[unknown[0]], f"unknown key in a sweep file (expected {expected})")
    if "base" not in data:
        raise ScenarioError("base", None, "a sweep file needs base = \"path/to/scenario.toml\" (relative to it)")
    if not isinstance(data["base"], str) or not data["base"].strip():
        raise ScenarioError("base", data["base"], "must be the path of a scenario file")
    base_path = Path(os.path.normpath(path.parent / data["base"]))
    try:
        base = load_scenario(base_path, allow_custom=allow_custom)
    except ScenarioError as err:
        raise ScenarioError(f"base ({base_path}): {err.field}", err.value, err.message) from None
    name = data.get("name", path.stem)
    return sweep_spec(
        base,
        axes=data.get("axes", {}),
        name=name,
        replications=data.get("replications", 1),
        seed=data.get("seed", 0),
        samples=data.get("samples"),
        common_random_numbers=data.get("common_random_numbers", True),
        source=where,
        text=text,
        max_rounds=data.get("max_rounds"),
        allow_custom=allow_custom,
    )


def sweep_spec(
    base,
    axes: dict | None = None,
    *,
    name: str | None = None,
    replications: int = 1,
    seed: int = 0,
    samples: int | None = None,
    common_random_numbers: bool = True,
    source: str | None = None,
    text: str | None = None,
    max_rounds: int | None = None,
    allow_custom: bool = False,
) -> SweepSpec:
    """Build a :class:`SweepSpec` in Python: ``base`` is a Scenario or a scenario file path; ``axes`` as in the file.

    ``max_rounds`` (optional) replaces the base scenario's ``dynamics.max_rounds``.
    ``allow_custom`` lets every point name custom functions (see :func:`sim.scenario.custom_allowed`).
    """

    from sim.scenario import Scenario, custom_allowed, load_scenario

    allow_custom = custom_allowed(allow_custom)
    if not isinstance(base, Scenario):
        base = load_scenario(base, allow_custom=allow_custom)
    if max_rounds is not None:
        cap = _integer(max_rounds, "max_rounds", 1)
        base = dataclasses.replace(base, dynamics=dataclasses.replace(base.dynamics, max_rounds=cap))
    name = base.name if name is None else name
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise ScenarioError("name", name, "needs a non-empty one-line string")
    replications = _integer(replications, "replications", 1)
    seed = _integer(seed, "seed", 0)
    if samples is not None:
        samples = _integer(samples, "samples", 1)
    if not isinstance(common_random_numbers, bool):
        raise ScenarioError("common_random_numbers", common_random_numbers, "must be true or false")
    if axes is None:
        axes = {}
    if not isinstance(axes, dict):
        raise ScenarioError("axes", axes, "must be a table of dotted field names")
    parsed = tuple(_parse_axis(key, value) for key, value in axes.items())
    spec = SweepSpec(
        name=name,
        base=base,
        axes=parsed,
        replications=replications,
        seed=seed,
        samples=samples if any(a.random for a in parsed) else None,
        common_random_numbers=common_random_numbers,
        source=source,
        text=text,
        allow_custom=allow_custom,
    )
    if samples is not None and not spec.random_axes:
        raise ScenarioError("samples", samples, "only random axes (uniform, loguniform, integers, choice) take samples")
    _check_conflicts(parsed)
    _check_size(spec)
    return spec


def _grid_size(spec: SweepSpec) -> int:
    return math.prod(len(a.args) if a.kind == "values" else a.args[2] for a in spec.grid_axes)


def _check_size(spec: SweepSpec) -> None:
    """Refuse sizes this machine cannot hold, naming the field that makes them too large."""
    grid = _grid_size(spec)
    if grid > MAX_POINTS:
        raise ScenarioError("axes", grid, f"the grid has more than {MAX_POINTS:,} points (the most a sweep may have)")
    points = spec.points
    if points > MAX_POINTS:
        raise ScenarioError(
            "samples", spec.samples,
            f"{spec.samples:,} samples x {grid:,} grid points is more than {MAX_POINTS:,} points "
            "(the most a sweep may have)",
        )  # fmt: skip
    if spec.scenarios > MAX_SCENARIOS:
        raise ScenarioError(
            "replications", spec.replications,
            f"{points:,} point(s) x {spec.replications:,} replications is more than {MAX_SCENARIOS:,} scenarios",
        )  # fmt: skip


def _check_conflicts(axes: Sequence[Axis]) -> None:
    """Two axes that set the same field (one inside the other, or mutually exclusive keys) are an error naming both."""
    names = [a.name for a in axes]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = first.split("."), second.split(".")
            short, long = (a, b) if len(a) <= len(b) else (b, a)
            if long[: len(short)] == short:
                raise ScenarioError(
                    f"axes.{second}", None,
                    f"conflicts with axis {first!r}: both set {'.'.join(short)}; sweep one or the other",
                )  # fmt: skip
            if len(a) >= 2 and len(b) >= 2 and a[0] == b[0]:
                if _EXCLUSIVE.get((a[0], a[1])) == b[1]:
                    raise ScenarioError(
                        f"axes.{second}", None,
                        f"conflicts with axis {first!r}: {a[0]}.{a[1]} and {b[0]}.{b[1]} exclude each other",
                    )  # fmt: skip


def _parse_axis(name: object, value: object) -> Axis:
    from sim.scenario import _TOP_LEVEL_KEYS

    field_name = f"axes.{name}"
    if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
        raise ScenarioError("axes", name, "axis names are dotted scenario fields, for example \"designer.tau\"")
    head = name.split(".")[0]
    if head in ("seed", "name"):
        raise ScenarioError(field_name, value, f"{head} is set by the sweep and cannot be swept")
    if head not in _TOP_LEVEL_KEYS:
        sections = ", ".join(k for k in _TOP_LEVEL_KEYS if k not in ("seed", "name"))
        raise ScenarioError(field_name, value, f"unknown scenario section {head!r} (expected one of {sections})")
    if isinstance(value, list):
        if not value:
            raise ScenarioError(field_name, value, "needs at least one value")
        _check_plain(value, field_name)
        return Axis(name, "values", tuple(value))
    if not isinstance(value, dict) or len(value) != 1:
        raise ScenarioError(
            field_name, value,
            "must be a list of values or a table with one of " + ", ".join(GRID_AXES + RANDOM_AXES),
        )  # fmt: skip
    kind, args = next(iter(value.items()))
    if kind not in GRID_AXES + RANDOM_AXES:
        raise ScenarioError(f"{field_name}.{kind}", args, "expected one of " + ", ".join(GRID_AXES + RANDOM_AXES))
    where = f"{field_name}.{kind}"
    if not isinstance(args, list):
        raise ScenarioError(where, args, "must be a list")
    if kind == "choice":
        if not args:
            raise ScenarioError(where, args, "needs at least one value")
        _check_plain(args, where)
        return Axis(name, kind, tuple(args))
    numbers = all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args)
    if kind in GRID_AXES:
        if len(args) != 3 or not numbers:
            raise ScenarioError(where, args, "must be [start, stop, num] with finite numbers")
        if isinstance(args[2], float) or args[2] < 1:
            raise ScenarioError(where, args, "num must be an integer >= 1")
        if kind == "logspace" and max(abs(args[0]), abs(args[1])) > 300:
            raise ScenarioError(where, args, "exponents beyond +-300 overflow doubles")
        return Axis(name, kind, (float(args[0]), float(args[1]), int(args[2])))
    if len(args) != 2 or not numbers:
        raise ScenarioError(where, args, "must be [low, high] with finite numbers")
    low, high = args
    if kind == "integers":
        if isinstance(low, float) or isinstance(high, float) or low > high:
            raise ScenarioError(where, args, "must be two integers, low <= high")
        if low < INT64_MIN or high > INT64_MAX:
            raise ScenarioError(where, _shown(args), f"bounds must lie in [{INT64_MIN}, {INT64_MAX}] (64-bit integers)")
        return Axis(name, kind, (int(low), int(high)))
    if not low < high:
        raise ScenarioError(where, args, "must have low < high")
    if kind == "loguniform" and low <= 0:
        raise ScenarioError(where, args, "must have 0 < low")
    return Axis(name, kind, (float(low), float(high)))


#: Deepest nesting of lists and tables an axis value may have.
MAX_VALUE_DEPTH = 32


def _check_plain(values: list, where: str) -> None:
    """Axis values must be TOML strings, numbers, booleans, lists or tables (no dates or times), nested shallowly."""
    stack = [(v, 1) for v in values]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            raise ScenarioError(where, None, f"values nested more than {MAX_VALUE_DEPTH} levels deep")
        if isinstance(value, (bool, int, float, str)):
            continue
        if isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        else:
            raise ScenarioError(
                where, str(value), f"a {type(value).__name__} cannot be a value; use a string, number, boolean, "
                "list or table"
            )


def _shown(value):
    from sim.scenario import _shown as shown

    return shown(value)
