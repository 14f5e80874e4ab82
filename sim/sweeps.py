"""Parameter sweeps: many scenarios, played in parallel chunks, results as one tidy table.

A sweep file names a base scenario, axes over any scenario field by its
dotted name, a number of replications and a master seed::

    name = "tau-by-scheme"
    base = "../winner_take_all_5.toml"      # relative to the sweep file
    replications = 20
    seed = 1
    [axes]
    "designer.tau" = {logspace = [0, 5, 26]}  # numpy.logspace(0, 5, 26)
    "reward.scheme" = ["winner_take_all", "linear", "zipf"]

Axes
    A list of values, or ``{linspace = [start, stop, num]}`` /
    ``{logspace = [start, stop, num]}`` (numpy's meaning: ``10**start`` to
    ``10**stop``), is a *grid* axis; the grid is the Cartesian product of the
    grid axes, the last axis varying fastest.  ``{uniform = [low, high]}``,
    ``{loguniform = [low, high]}``, ``{integers = [low, high]}`` (both ends
    included) and ``{choice = [...]}`` are *random* axes: ``samples = N``
    points are drawn from them (independently per axis, from the sweep's own
    ``"axes"`` stream) and crossed with the grid.  A value may be a whole
    table (``"reward" = [{scheme = "top_k", k = 3}, {scheme = "zipf"}]``).
    Setting ``reward.scheme``, ``score.family`` or ``cost.family`` drops the
    base's keys that the new kind does not take (so ``"reward.scheme" =
    ["geometric", "linear"]`` works on a base with ``q``); setting
    ``developers.capability`` replaces a ``sample`` and the other way round.

Seeds (reproducibility)
    ``SeedSequence(seed).spawn(2)`` gives an ``"axes"`` stream and a
    ``"runs"`` stream.  With ``common_random_numbers = true`` (the default)
    the runs stream is spawned once per replication and every point's
    ``r``-th replication plays with the same seed, so that differences
    between points come from the parameters and not from the draw (common
    random numbers); with ``false`` it is spawned once per scenario index.
    Either way every seed is fixed before anything runs, and a scenario's
    run does not depend on which other scenarios share its batch
    (:mod:`sim.engine`), so the table is identical for any number of jobs,
    backend or chunk size.  The base scenario's own ``seed`` is not used.

Replications.  A point whose scenario has no randomness in it
(:func:`sim.engine.uses_randomness`: no sampled capabilities, random ties,
noise, random initial profile, nor stochastic schedule or response) gives
the same run for every seed, so it is played once (replication 0) whatever
``replications`` says; the ``replications`` column holds the number of
replications each point actually ran.  A random *axis* is not randomness
inside a scenario: each point is judged by its own scenario.

Horizon.  ``max_rounds = M`` in the sweep file sets ``dynamics.max_rounds``
of the base scenario: deterministic runs that have not recurred within
their rounds play on up to ``M`` rounds (:func:`sim.engine.run_batch`).

Scenario ``k = point * replications + replication``.  Scenarios are grouped
by :func:`sim.engine.batch_key` and ``dynamics.rounds`` and cut into chunks
of at most ``chunk_size``; each chunk is one :func:`sim.engine.run_batch`
call (``record="tail"``) and one Parquet file.  See :func:`sweep`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim import sweep_store
from sim.errors import ScenarioError, describe_exception
from sim.scenario import _integer

#: Scenarios per chunk by default: large enough for the batch engine to pay off, small enough to bound memory.
DEFAULT_CHUNK_SIZE = 250

GRID_AXES = ("linspace", "logspace")
RANDOM_AXES = ("uniform", "loguniform", "integers", "choice")
BACKENDS = ("loky", "dask")
SWEEP_KEYS = ("name", "base", "replications", "seed", "samples", "common_random_numbers", "axes", "max_rounds")
#: Above this many points, checking them shows a progress bar (each takes about half a millisecond).
PLAN_PROGRESS_POINTS = 5000
#: Largest number of scenarios one sweep may mean (a guard against a typo such as ``num = 1e9``).
MAX_SCENARIOS = 100_000_000
#: Largest number of parameter points (grid size times samples): every point is held in memory and checked.
MAX_POINTS = 1_000_000
#: ``--dry-run`` checks every point of a sweep with at most this many points; above, it estimates
#: (:func:`estimate_sweep`: every distinct axis value, up to :data:`DRY_RUN_VALUES` per axis, and a sample of points).
DRY_RUN_EXACT_POINTS = 2000
#: Most values per axis and most points the dry-run estimate checks; a listed axis has each of its distinct
#: values checked, up to DRY_RUN_LISTED of them (evenly spread beyond).
DRY_RUN_VALUES = 200
DRY_RUN_SAMPLE = 200
DRY_RUN_LISTED = 5000
#: Integer axis bounds must fit a signed 64-bit integer (numpy draws them as int64).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Section -> the key that selects its kind, and the keys each kind takes.
_KIND_KEYS = {"reward": "scheme", "score": "family", "cost": "family"}
_EXCLUSIVE = {("developers", "capability"): "sample", ("developers", "sample"): "capability"}

SUMMARY_DIR = "summary"
TRAJECTORY_DIR = "trajectories"
MANIFEST = "manifest.json"


# ---------------------------------------------------------------------------
# The sweep file
# ---------------------------------------------------------------------------


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
    import dataclasses

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


# ---------------------------------------------------------------------------
# Points and seeds
# ---------------------------------------------------------------------------


def sweep_points(spec: SweepSpec) -> list[tuple]:
    """Every point as a tuple of axis values in the order of ``spec.axes``.

    Grid axes form a Cartesian product (the last varying fastest); random
    axes are drawn ``samples`` times from the sweep's ``"axes"`` stream and
    crossed with the grid (sample-major).
    """
    grid = list(itertools.product(*(a.grid_values() for a in spec.grid_axes)))
    if spec.random_axes:
        rng = np.random.default_rng(_streams(spec.seed)[0])
        draws = [a.draw(rng, spec.samples) for a in spec.random_axes]
        samples = list(zip(*draws, strict=True))
    else:
        samples = [()]
    grid_pos = [i for i, a in enumerate(spec.axes) if not a.random]
    rand_pos = [i for i, a in enumerate(spec.axes) if a.random]
    points = []
    for sample in samples:
        for values in grid:
            point = [None] * len(spec.axes)
            for i, v in zip(grid_pos, values, strict=True):
                point[i] = v
            for i, v in zip(rand_pos, sample, strict=True):
                point[i] = v
            points.append(tuple(point))
    return points


def _streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    axes, runs = np.random.SeedSequence(seed).spawn(2)
    return axes, runs


def _seed_int(seq: np.random.SeedSequence) -> int:
    """A 63-bit integer seed drawn from ``seq`` (a scenario seed must be an int >= 0)."""
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def run_seeds(spec: SweepSpec) -> np.ndarray:
    """The seed of every scenario ``k = point * replications + replication`` (int64), fixed up front.

    Split with ``SeedSequence.spawn`` from the sweep's ``"runs"`` stream:
    by replication (common random numbers, the default) or by scenario index.
    """
    runs = _streams(spec.seed)[1]
    if spec.common_random_numbers:
        per_rep = np.array([_seed_int(c) for c in runs.spawn(spec.replications)], dtype=np.int64)
        return np.tile(per_rep, spec.points)
    return np.array([_seed_int(c) for c in runs.spawn(spec.scenarios)], dtype=np.int64)


def apply_point(base: dict, names: Sequence[str], values: Sequence) -> dict:
    """A copy of the scenario dict ``base`` with each dotted field ``names[i]`` set to ``values[i]``.

    Raises :class:`ScenarioError` (naming the axis) when a dotted name runs
    through a value that is not a table.
    """
    data = json.loads(json.dumps(base))  # deep copy of plain TOML-shaped data
    changed_kind = set()
    for name, value in zip(names, values, strict=True):
        parts = name.split(".")
        table = data
        for depth, part in enumerate(parts[:-1]):
            nxt = table.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ScenarioError(
                    f"axes.{name}", value, f"{'.'.join(parts[: depth + 1])} is not a table in the base scenario"
                )
            table = nxt
        key = parts[-1]
        table[key] = json.loads(json.dumps(value))
        if len(parts) == 2:
            other = _EXCLUSIVE.get((parts[0], key))
            if other is not None:
                table.pop(other, None)
            if _KIND_KEYS.get(parts[0]) == key:
                changed_kind.add(parts[0])
        if len(parts) == 1 and parts[0] in _KIND_KEYS:
            changed_kind.discard(parts[0])  # a whole table given: nothing to drop
    explicit = set(names)
    for section in changed_kind:
        _drop_foreign_keys(data[section], section, explicit)
    return data


def _drop_foreign_keys(table: dict, section: str, explicit: set) -> None:
    from sim.scenario import _COST_KEYS, _REWARD_KEYS, _SCORE_KEYS

    allowed = {"reward": _REWARD_KEYS, "score": _SCORE_KEYS, "cost": _COST_KEYS}[section]
    kind = table.get(_KIND_KEYS[section])
    if kind not in allowed:
        return  # the parser names the unknown kind
    keep = set(allowed[kind]) | {_KIND_KEYS[section]} | ({"gamma"} if section == "cost" else set())
    for key in list(table):
        if key not in keep and f"{section}.{key}" not in explicit and any(key in v for v in allowed.values()):
            del table[key]


# ---------------------------------------------------------------------------
# The plan: points, seeds, groups, chunks
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run: every point checked, every seed fixed, scenarios cut into chunks.

    ``chunks[c]`` holds the scenario indices of chunk ``c`` (ascending, all
    of one batch group).  ``digest`` identifies the sweep's results: two
    plans with the same digest write the same table (``--resume`` checks it).
    """

    spec: SweepSpec
    points: list[tuple]
    seeds: np.ndarray
    point_n: np.ndarray  # developers per point
    point_rounds: np.ndarray  # rounds per point
    chunks: list[np.ndarray]
    chunk_size: int
    axis_types: dict[str, str]
    groups: int
    digest: str
    point_replications: np.ndarray | None = None  # replications each point runs: 1 where it has no randomness

    @property
    def effective_replications(self) -> np.ndarray:
        """Replications each point runs (``spec.replications``, or 1 for a point with no randomness)."""
        if self.point_replications is None:
            return np.full(len(self.points), self.spec.replications, dtype=np.int64)
        return self.point_replications

    @property
    def points_run_once(self) -> int:
        """Points that run once although ``replications > 1`` (their scenario has no randomness)."""
        if self.spec.replications == 1:
            return 0
        return int(np.count_nonzero(self.effective_replications == 1))

    @property
    def scenarios(self) -> int:
        """Scenarios that run (replications of a point without randomness are not run)."""
        return int(np.sum(self.effective_replications))

    @property
    def agent_updates(self) -> int:
        reps = self.effective_replications
        return int(np.sum(self.point_n.astype(np.int64) * self.point_rounds * reps))

    @property
    def scenario_rounds(self) -> int:
        return int(np.sum(self.point_rounds.astype(np.int64) * self.effective_replications))

    def task(self, c: int, *, tail_window: int | None = None, trajectory_every: int | None = None,
             theory: bool = True) -> ChunkTask:
        """The self-contained job of chunk ``c`` (sent to a worker)."""
        idx = self.chunks[c]
        reps = self.spec.replications
        return ChunkTask(
            chunk=c,
            name=self.spec.name,
            base=self.spec.base.to_dict(),
            axis_names=tuple(a.name for a in self.spec.axes),
            indices=tuple(int(k) for k in idx),
            values=tuple(self.points[int(k) // reps] for k in idx),
            seeds=tuple(int(self.seeds[k]) for k in idx),
            replications=reps,
            tail_window=tail_window,
            trajectory_every=trajectory_every,
            theory=theory,
            axis_types=self.axis_types,
            point_replications=tuple(int(self.effective_replications[int(k) // reps]) for k in idx),
            allow_custom=self.spec.allow_custom,
        )


def _point_facts(spec: SweepSpec, base: dict, names: Sequence[str], p: int, values, seed, memo: dict) -> tuple:
    """Point ``p`` of ``spec`` (axis ``values``, run ``seed``) checked: its batch key, ``n``, rounds and whether
    its scenario uses randomness.  ``memo`` maps a point's scenario text to these, so equal points parse once;
    a bad point is a :class:`ScenarioError` naming the point and its axis values."""
    from sim.engine import batch_key, uses_randomness
    from sim.scenario import parse_scenario

    data = apply_point(base, names, values)
    data["seed"] = int(seed)
    text = json.dumps(data, sort_keys=True, default=str)
    if text not in memo:
        try:
            scenario = parse_scenario(data, name_hint=spec.name, allow_custom=spec.allow_custom)
        except ScenarioError as err:
            at = ", ".join(f"{n} = {_short(v)}" for n, v in zip(names, values, strict=True))
            raise ScenarioError(err.field, err.value, f"{err.message} (sweep point {p}: {at})") from None
        memo[text] = (batch_key(scenario), scenario.n, scenario.dynamics.rounds, uses_randomness(scenario))
    return memo[text]


def plan_sweep(spec: SweepSpec, chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = False) -> SweepPlan:
    """Expand ``spec`` into a :class:`SweepPlan`; every point is validated here, before anything runs.

    A point whose scenario has no randomness (:func:`sim.engine.uses_randomness`)
    gets one replication (``point_replications``); its other scenario indices
    are not run.  A point whose scenario is invalid raises :class:`ScenarioError` naming
    the field, the value and the point, so that a bad sweep fails at once
    and writes nothing.
    """

    chunk_size = _integer(chunk_size, "chunk_size", 1)
    points = sweep_points(spec)
    seeds = run_seeds(spec)
    names = [a.name for a in spec.axes]
    base = spec.base.to_dict()
    keys: dict = {}
    group = np.empty(len(points), dtype=np.int64)
    point_n = np.empty(len(points), dtype=np.int64)
    point_rounds = np.empty(len(points), dtype=np.int64)
    point_reps = np.empty(len(points), dtype=np.int64)
    memo: dict[str, tuple] = {}
    bar = None
    if progress and len(points) > PLAN_PROGRESS_POINTS:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(points), desc="checking points", unit="point", leave=False, dynamic_ncols=True)
    for p, values in enumerate(points):
        if bar is not None:
            bar.update(1)
        key, n, rounds, random = _point_facts(spec, base, names, p, values, seeds[p * spec.replications], memo)
        group[p] = keys.setdefault((key, rounds), len(keys))
        point_n[p], point_rounds[p] = n, rounds
        point_reps[p] = spec.replications if random else 1
    if bar is not None:
        bar.close()
    scenario_group = np.repeat(group, spec.replications)
    # A point without randomness runs its replication 0 only.
    runs = np.tile(np.arange(spec.replications), len(points)) < np.repeat(point_reps, spec.replications)
    chunks = []
    for g in range(len(keys)):
        members = np.flatnonzero((scenario_group == g) & runs)
        chunks.extend(members[i : i + chunk_size] for i in range(0, len(members), chunk_size))
    axis_types = {a.name: _column_type([p[i] for p in points]) for i, a in enumerate(spec.axes)}
    digest = hashlib.sha256(
        json.dumps({"spec": spec.to_dict(), "chunk_size": chunk_size}, sort_keys=True, default=str).encode()
    ).hexdigest()
    return SweepPlan(spec, points, seeds, point_n, point_rounds, chunks, chunk_size, axis_types, len(keys), digest,
                     point_replications=point_reps)


def _short(value, limit: int = 40) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _column_type(values: list) -> str:
    """The column type of an axis in the results table: bool, int, float, str, or json (anything else)."""
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    if all(isinstance(v, str) for v in values):
        return "str"
    return "json"


# ---------------------------------------------------------------------------
# One chunk (runs in a worker)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to play one chunk: plain data, picklable, no file access."""

    chunk: int
    name: str
    base: dict
    axis_names: tuple[str, ...]
    indices: tuple[int, ...]
    values: tuple[tuple, ...]
    seeds: tuple[int, ...]
    replications: int
    tail_window: int | None
    trajectory_every: int | None
    theory: bool
    axis_types: dict
    point_replications: tuple[int, ...] = ()  # per scenario: the replications its point runs
    allow_custom: bool = False  # custom functions may be imported (the user allowed them for this sweep)


@dataclass(frozen=True)
class ChunkResult:
    """A finished chunk: its summary rows, optional trajectories, failures and time taken."""

    chunk: int
    summary: Any  # pandas.DataFrame
    trajectories: Any  # pandas.DataFrame or None
    failed: int
    seconds: float


#: Columns of the summary table after the axis columns, with their pandas dtypes.
RESULT_COLUMNS = {
    "replications": "Int64",  # replications the point ran (1 when its scenario has no randomness)
    "n": "Int64",
    "tau": "float64",
    "rounds": "Int64",
    "max_rounds": "Int64",
    "outcome": "string",
    "period": "Int64",
    "entered_at": "Int64",
    "final_total_effort": "float64",
    "mean_total_effort_tail": "float64",
    "total_effort_tail": "float64",
    "total_surplus_tail": "float64",
    "kendall_tau_tail": "float64",
    "top1_correct_share": "float64",
    "effort_tail": "object",
    "utility_tail": "object",
    "std_total_effort_tail": "float64",
    "max_mean_effort_tail": "float64",
    "ranking_correct_share": "float64",
    "rank_changes_mean": "float64",
    "tau_star": "float64",
    "tau_star_vouched": "boolean",
    "zero_is_equilibrium": "boolean",
    "predicted_stable": "boolean",
    "error": "string",
}
INDEX_COLUMNS = {"scenario_index": "int64", "point": "int64", "replication": "int64", "seed": "int64"}
AXIS_DTYPES = {"bool": "boolean", "int": "Int64", "float": "float64", "str": "string", "json": "string"}
TRAJECTORY_COLUMNS = {
    "scenario_index": "int64",
    "round": "int64",
    "developer": "int64",
    "effort": "float64",
    "score": "float64",
    "published": "float64",
    "rank": "int64",
}


def typed_summary(frame, axis_types: dict):
    """``frame`` with the summary's columns in their fixed order and dtypes (the same in memory and on disk).

    A table-valued (``json``) axis ``a`` has a readable ``a_label`` column beside it (:func:`axis_label`).
    """
    axes = {}
    for name, t in axis_types.items():
        axes[name] = AXIS_DTYPES[t]
        if t == "json":
            axes[f"{name}_label"] = "string"
    dtypes = {**INDEX_COLUMNS, **axes, **RESULT_COLUMNS}
    frame = frame.reindex(columns=list(dtypes))
    return frame.astype(dtypes)


def axis_label(value) -> str:
    """A readable label of an axis value: ``{scheme = "top_k", k = 3}`` -> ``top_k(k=3)``.

    A table's ``scheme`` or ``family`` comes first (as the name), then its
    other keys sorted, ``key=value``; nested values and lists as compact
    JSON, strings bare; anything that is not a table as compact JSON.
    """
    def text(v) -> str:
        return v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))

    if not isinstance(value, dict):
        return text(value)
    head = next((k for k in ("scheme", "family") if k in value), None)
    args = ", ".join(f"{k}={text(value[k])}" for k in sorted(value) if k != head)
    return f"{text(value[head]) if head else ''}({args})"


def _axis_cells(name: str, value, kind: str) -> dict:
    """The axis' cell, and its ``<name>_label`` for a table-valued axis."""
    cells = {name: _axis_cell(value, kind)}
    if kind == "json":
        cells[f"{name}_label"] = axis_label(value)
    return cells


def _axis_cell(value, kind: str):
    if kind == "json":
        return json.dumps(value, sort_keys=True)
    if kind == "float":
        return float(value)
    return value


def run_chunk(task: ChunkTask):
    """Play one chunk; a scenario that fails is recorded with its error and the rest still run.

    Scenarios are built from the base dict, the point's values and the
    seed; the batch engine plays them together (``record="tail"``, or
    ``"full"`` when trajectories are kept); if the batch raises, each
    scenario is played alone so that only the failing ones are lost.
    """
    import pandas as pd

    from sim.engine import batch_key
    from sim.scenario import parse_scenario

    started = time.perf_counter()
    rows: list[dict] = []
    built = []
    reps = task.point_replications or (task.replications,) * len(task.indices)
    for k, values, seed, runs in zip(task.indices, task.values, task.seeds, reps, strict=True):
        row = {
            "scenario_index": k,
            "point": k // task.replications,
            "replication": k % task.replications,
            "replications": runs,
            "seed": seed,
        }
        for n, v in zip(task.axis_names, values, strict=True):
            row.update(_axis_cells(n, v, task.axis_types[n]))
        rows.append(row)
        try:
            data = apply_point(task.base, task.axis_names, values)
            data["seed"], data["name"] = seed, f"{task.name}#{k}"
            built.append((len(rows) - 1, parse_scenario(data, allow_custom=task.allow_custom)))
        except Exception as err:  # noqa: BLE001 -- recorded, the sweep goes on
            row["error"] = describe_exception(err)
    groups: dict = {}
    for pos, scenario in built:
        groups.setdefault((batch_key(scenario), scenario.dynamics.rounds), []).append((pos, scenario))
    trajectories = []
    for members in groups.values():
        for pos, result, j in _play(members, task):
            row = rows[pos]
            if isinstance(result, BaseException):
                row["error"] = describe_exception(result)
                continue
            try:
                columns = _result_columns(result, j)
            except Exception as err:  # noqa: BLE001
                row["error"] = describe_exception(err)
                continue
            row.update(columns)
            if task.theory:
                row.update(_theory_columns(result, j))
            if task.trajectory_every:
                trajectories.append(_trajectory_rows(result, j, row["scenario_index"], task.trajectory_every))
    summary = typed_summary(pd.DataFrame(rows), task.axis_types)
    traj = None
    if task.trajectory_every:
        traj = (
            pd.concat(trajectories, ignore_index=True)
            if trajectories
            else pd.DataFrame({c: [] for c in TRAJECTORY_COLUMNS})
        ).astype(TRAJECTORY_COLUMNS)
    failed = int(summary["error"].notna().sum())
    return ChunkResult(task.chunk, summary, traj, failed, time.perf_counter() - started)


def _play(members, task: ChunkTask) -> Iterator[tuple[int, Any, int]]:
    """Yield ``(row position, BatchRun or exception, index in the run)`` for each member.

    The members are played as one batch; if that raises, each is played
    alone so that only the scenarios that fail are lost.
    """
    from sim.engine import run_batch

    record = "full" if task.trajectory_every else "tail"
    try:
        with np.errstate(all="ignore"):
            result = run_batch([s for _, s in members], record=record, tail_window=task.tail_window)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as err:  # noqa: BLE001 -- recorded, the sweep goes on
        if len(members) == 1:
            yield members[0][0], err, 0
        else:
            for member in members:
                yield from _play([member], task)
        return
    for j, (pos, _) in enumerate(members):
        yield pos, result, j


def _result_columns(result, j: int) -> dict:
    """Summary columns of scenario ``j`` from its :class:`sim.analysis.Outcome` (tail measures included;
    ``effort_tail`` and ``utility_tail`` are lists in developer id order; ``period`` only for a cycle)."""
    out = result.outcome(j)
    tail = np.asarray(out.mean_effort_tail, dtype=float)
    return {
        "n": result.game.shape[1],
        "tau": float(result.game.tau[j]),
        "rounds": out.rounds,
        "max_rounds": out.max_rounds,
        "outcome": out.outcome,
        "period": out.period,
        "entered_at": out.entered_at,
        "final_total_effort": float(np.sum(out.final_effort)),
        "mean_total_effort_tail": out.total_effort_mean,
        "total_effort_tail": out.total_effort_tail,
        "total_surplus_tail": out.total_surplus_tail,
        "kendall_tau_tail": out.kendall_tau_tail,
        "top1_correct_share": out.top1_correct_share,
        "effort_tail": list(out.effort_tail),
        "utility_tail": None if out.utility_tail is None else list(out.utility_tail),
        "std_total_effort_tail": out.total_effort_std,
        "max_mean_effort_tail": float(tail.max()) if tail.size else math.nan,
        "ranking_correct_share": out.ranking_correct_share,
        "rank_changes_mean": out.rank_changes_mean,
    }


#: Memo of the stabilising threshold per game (without tau); a worker keeps it across chunks.
_TAU_STAR_MEMO: dict[bytes, tuple[float, bool]] = {}
_MEMO_LIMIT = 4096


def _game_digest(scenario) -> bytes:
    data = scenario.to_dict()
    for key in ("name", "seed", "designer", "dynamics"):
        data.pop(key, None)
    h = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(scenario.theta).tobytes())
    h.update(np.ascontiguousarray(scenario.tie_priority(), dtype=np.float64).tobytes())
    return h.digest()


def _theory_columns(result, j: int) -> dict:
    """Theory beside the run of scenario ``j``: ``tau*``, and what the one-shot game says at its ``tau``.

    * ``tau_star``, ``tau_star_vouched``: :func:`sim.theory.stabilising_threshold`
      of the scenario's game (it does not depend on ``tau``; memoised per game);
      ``NaN`` and not vouched for when it is undetermined in double precision;
    * ``zero_is_equilibrium``: the all-zero profile is a pure Nash
      equilibrium at ``tau`` (exact: every developer's zero effort is a best
      response within :func:`sim.game.utility_tolerance`, as
      :func:`sim.theory.zero_is_equilibrium_exact`; budgets respected);
    * ``predicted_stable``: ``tau >= tau*`` (Proposition 4.5 with Lemma 5.2).

    A theory computation that raises leaves the columns empty; it does not
    fail the scenario.
    """
    from sim import theory

    scenario = result.scenarios[j]
    tau = float(result.game.tau[j])
    try:
        key = _game_digest(scenario)
        if key not in _TAU_STAR_MEMO:
            if len(_TAU_STAR_MEMO) >= _MEMO_LIMIT:
                _TAU_STAR_MEMO.clear()
            threshold = theory.stabilising_threshold(scenario.game())
            # Undetermined in double precision (docs/model.md#what-is-exact): NaN, never vouched for.
            star = math.nan if threshold.tau_star is None else threshold.tau_star
            _TAU_STAR_MEMO[key] = (star, threshold.vouched and threshold.determined)
        tau_star, vouched = _TAU_STAR_MEMO[key]
        zero = bool(_zero_equilibria(result)[j])
    except Exception:  # noqa: BLE001 -- theory is an annotation of the run, not the run
        return {}
    return {
        "tau_star": tau_star,
        "tau_star_vouched": vouched,
        "zero_is_equilibrium": zero,
        "predicted_stable": bool(tau >= tau_star),
    }


def _zero_equilibria(result) -> np.ndarray:
    """Whether all-zero is an equilibrium, for every scenario of a batch run at once (cached on the run).

    Every developer responds to the all-zero leaderboard (exact best
    response, :meth:`sim.engine.BatchGame.respond`) holding zero when zero
    is already a best response (:func:`sim.engine.hold_current`): all-zero
    is an equilibrium exactly when everyone holds.
    """
    cached = getattr(result, "_zero_equilibria", None)
    if cached is None:
        game = result.game
        S, n = game.shape
        zeros = np.zeros((S, n))
        with np.errstate(all="ignore"):
            _, evaluated, _, _ = game.publish(zeros)
            response = game.respond(evaluated, np.broadcast_to(np.arange(n), (S, n)), current=zeros)
        cached = np.all(response.next_effort == 0.0, axis=1)
        object.__setattr__(result, "_zero_equilibria", cached)
    return cached


def _trajectory_rows(result, j: int, index: int, every: int):
    import pandas as pd

    result, j = result.part(j)  # a deterministic run played past its rounds keeps its records there
    W, n = result.effort.shape[1:]
    rounds = np.arange(result.first_round, result.first_round + W)
    keep = (rounds % every == 0) | (rounds == rounds[-1])
    r = rounds[keep]
    return pd.DataFrame(
        {
            "scenario_index": np.full(r.size * n, index),
            "round": np.repeat(r, n),
            "developer": np.tile(np.arange(n), r.size),
            "effort": result.effort[j][keep].ravel(),
            "score": result.score[j][keep].ravel(),
            "published": result.published[j][keep].ravel(),
            "rank": result.rank[j][keep].ravel(),
        }
    )


# ---------------------------------------------------------------------------
# Output directory
# ---------------------------------------------------------------------------


def chunk_file(out: Path, c: int, kind: str = SUMMARY_DIR) -> Path:
    return Path(out) / kind / f"chunk-{c:06d}.parquet"


def finished_chunks(out: Path) -> set[int]:
    """Chunks whose summary file is in place under its own name (written atomically; verified by ``--resume``)."""
    return set(sweep_store.chunk_files(Path(out) / SUMMARY_DIR)[0])


def _write_atomic_parquet(frame, path: Path, stamp: dict) -> None:
    """Write ``frame`` atomically, stamped with ``stamp`` (see :func:`sim.sweep_store.write_stamped`)."""
    sweep_store.write_stamped(frame, path, stamp)


def _write_atomic_json(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_chunk(out: Path, result: ChunkResult, *, fingerprint: str, axis_types: dict) -> None:
    """Trajectories first, then the summary: a chunk counts as finished once its summary file exists.

    Each file is stamped with the sweep's ``fingerprint``, the chunk index,
    its row count and the ``axis_types`` (:mod:`sim.sweep_store`).
    """
    for frame, kind in ((result.trajectories, TRAJECTORY_DIR), (result.summary, SUMMARY_DIR)):
        if frame is not None:
            stamp = {"fingerprint": fingerprint, "chunk": result.chunk, "kind": kind, "axis_types": axis_types}
            _write_atomic_parquet(frame, chunk_file(out, result.chunk, kind), stamp)


def _verified_tables(out: Path, kind: str, manifest: dict) -> tuple[list, dict | None]:
    """Every chunk file of ``kind`` in ``out`` read whole and verified; ``(data frames, axis types)``.

    A damaged or foreign file, a file under a name that is not a chunk's,
    or chunks of different sweeps are one-line errors naming the file.
    """
    found, odd = sweep_store.chunk_files(out / kind)
    if odd:
        raise ScenarioError(str(odd[0]), odd[0].name, "is not named like a chunk (chunk-NNNNNN.parquet); remove it")
    fingerprint = manifest.get("fingerprint")
    tables, axis_types = [], manifest.get("axis_types")
    for c in sorted(found):
        check = sweep_store.inspect_chunk(found[c], kind, fingerprint)
        if check.state == "damaged":
            raise sweep_store.refuse_chunk(check, "run the sweep again with --resume to redo it")
        if check.state == "foreign":
            raise sweep_store.refuse_chunk(check, "remove it or choose another --out")
        if fingerprint is None:
            fingerprint = check.stamp.fingerprint  # without a manifest, the first chunk names the sweep
        if axis_types is None:
            axis_types = check.stamp.axis_types
        tables.append(check.frame)
    return tables, axis_types


def read_results(out, columns: Sequence[str] | None = None):
    """The summary table of the sweep in ``out``: one row per finished scenario, sorted by ``scenario_index``.

    Every chunk is verified first (:mod:`sim.sweep_store`): all carry the
    manifest's fingerprint (or, without a manifest, one fingerprint), each
    its own index and row count; a damaged or foreign chunk, or a
    ``scenario_index`` found twice, is a :class:`ScenarioError` naming the
    file.  The axis columns come from the manifest or, without one, from
    the chunks' stamps.
    """
    import pandas as pd

    out = Path(out)
    manifest = read_manifest(out)
    tables, axis_types = _verified_tables(out, SUMMARY_DIR, manifest)
    axis_types = axis_types or {}
    if not tables:
        return typed_summary(pd.DataFrame(), axis_types)
    frame = pd.concat(tables, ignore_index=True)
    frame = typed_summary(frame, axis_types).sort_values("scenario_index", kind="stable").reset_index(drop=True)
    repeated = frame["scenario_index"].duplicated()
    if repeated.any():
        k = int(frame.loc[repeated, "scenario_index"].iloc[0])
        raise ScenarioError(f"{out / SUMMARY_DIR}: scenario_index", k, "found in two chunks: the directory is mixed")
    return frame if columns is None else frame[list(columns)]


def read_trajectories(out):
    """The subsampled trajectories (``--trajectories``) of the sweep in ``out``, sorted by scenario and round."""
    import pandas as pd

    out = Path(out)
    tables, _ = _verified_tables(out, TRAJECTORY_DIR, read_manifest(out))
    if not tables:
        return pd.DataFrame({c: [] for c in TRAJECTORY_COLUMNS}).astype(TRAJECTORY_COLUMNS)
    frame = pd.concat(tables, ignore_index=True).astype(TRAJECTORY_COLUMNS)
    frame = frame.sort_values(["scenario_index", "round", "developer"], kind="stable").reset_index(drop=True)
    repeated = frame.duplicated(["scenario_index", "round", "developer"])
    if repeated.any():
        k = int(frame.loc[repeated, "scenario_index"].iloc[0])
        raise ScenarioError(f"{out / TRAJECTORY_DIR}: scenario_index", k, "found in two chunks: the directory is mixed")
    return frame


def read_manifest(out) -> dict:
    """The manifest of the sweep directory ``out`` (``{}`` without one), checked by
    :func:`sim.sweep_store.check_manifest`: a malformed one is a one-line error naming the file and the key."""
    return sweep_store.load_manifest(out)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def row_options(plan: SweepPlan, tail_window: int | None, trajectory_every: int | None,
                theory: bool) -> sweep_store.RowOptions:
    """The options of a run that change its rows (recorded in the manifest; ``--resume`` must repeat them)."""
    from sim import __version__

    return sweep_store.RowOptions(
        tail_window=tail_window,
        theory=bool(theory),
        trajectory_every=trajectory_every,
        chunk_size=plan.chunk_size,
        package_version=__version__,
    )


def check_out(out, plan: SweepPlan, resume: bool, options: sweep_store.RowOptions, fingerprint: str,
              probe_lock: bool = True) -> dict:
    """Refuse an ``out`` this run may not write, reading only; return its manifest (``{}`` when new or empty).

    A non-empty directory is refused unless ``resume`` is set and its
    manifest records the same sweep (same digest) run with the same
    :class:`sim.sweep_store.RowOptions` (the error names those that differ).
    With ``probe_lock`` a directory another process is writing is refused
    first, naming its pid (off when this process holds the lock).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError("--out", str(out), "exists and is not a directory")
    if probe_lock:  # a second writer hears first that the directory is busy, and from whom
        sweep_store.ensure_unlocked(out)
    if not sweep_store.visible_entries(out):
        return {}
    if not resume:
        raise ScenarioError(
            "--out", str(out),
            "is not empty; pass --resume to continue the sweep recorded there, or choose another directory",
        )  # fmt: skip
    manifest = read_manifest(out)
    if not manifest:
        raise ScenarioError("--out", str(out), f"is not empty and holds no {MANIFEST}: not a sweep to resume")
    differences = options.differences(manifest["options"])
    if manifest["digest"] != plan.digest and not any(d.startswith("--chunk-size") for d in differences):
        raise ScenarioError(
            "--resume", str(out),
            "holds a different sweep (sweep file, base scenario or chunk size changed); choose another --out",
        )  # fmt: skip
    if differences:
        raise ScenarioError(
            "--resume", str(out),
            "the sweep there was run with other options that change the rows: " + "; ".join(differences)
            + ": pass the same options, or choose another --out",
        )  # fmt: skip
    if manifest["fingerprint"] != fingerprint:
        raise sweep_store.manifest_error(
            out / MANIFEST, "fingerprint", manifest["fingerprint"][:12],
            "does not match the sweep and options it records: the manifest was altered",
        )  # fmt: skip
    return manifest


def prepare_out(out, plan: SweepPlan, resume: bool, options: sweep_store.RowOptions,
                fingerprint: str) -> tuple[set[int], list[tuple[int, sweep_store.ChunkCheck]]]:
    """Check ``out`` for this sweep (:func:`check_out`) and verify every chunk already there (writer lock held).

    Returns the finished chunks and the damaged ones ``(chunk, check)``,
    whose files are removed so that they run again.  Every chunk file is
    read whole (:func:`sim.sweep_store.inspect_chunk`): a foreign one (no
    stamp, another fingerprint, another index, other scenarios, a name
    that is not a chunk's or an index beyond the plan) is refused, naming
    the file, and then nothing is changed.  A summary whose trajectories
    (``--trajectories``) are missing or damaged counts as damaged.  Stale
    temporary files of an interrupted run are removed.
    """
    out = Path(out)
    manifest = check_out(out, plan, resume, options, fingerprint, probe_lock=False)
    if not manifest:
        return set(), []
    hint = "remove it or choose another --out"
    files = {}
    for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
        found, odd = sweep_store.chunk_files(out / kind)
        if odd:
            raise ScenarioError(str(odd[0]), odd[0].name, f"is not named like a chunk (chunk-NNNNNN.parquet); {hint}")
        beyond = [c for c in found if c >= len(plan.chunks)]
        if beyond:
            raise ScenarioError(str(found[beyond[0]]), beyond[0], f"this sweep has {len(plan.chunks)} chunks; {hint}")
        files[kind] = found
    done: set[int] = set()
    damaged = []
    for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
        for c, path in sorted(files[kind].items()):
            check = sweep_store.inspect_chunk(path, kind, fingerprint, plan.chunks[c])
            if check.state == "foreign":
                raise sweep_store.refuse_chunk(check, hint)
            if kind == SUMMARY_DIR and check.state == "ok":
                done.add(c)
            elif check.state == "damaged" and (c in done or kind == SUMMARY_DIR):
                done.discard(c)
                damaged.append((c, check))
    if options.trajectory_every is not None:
        for c in sorted(done - set(files[TRAJECTORY_DIR])):
            path = chunk_file(out, c, TRAJECTORY_DIR)
            damaged.append((c, sweep_store.ChunkCheck(path, "damaged", "its summary is there", value="missing")))
            done.discard(c)
    try:
        for c, _ in damaged:
            for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
                chunk_file(out, c, kind).unlink(missing_ok=True)
        for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
            for stale in (out / kind).glob(".chunk-*.tmp"):
                stale.unlink()
    except OSError as err:
        raise ScenarioError("--out", str(out), f"cannot write: {err.strerror}") from None
    if not os.access(out, os.W_OK):
        raise ScenarioError("--out", str(out), "is not writable")
    return done, sorted(damaged, key=lambda item: item[0])


def _manifest(plan: SweepPlan, previous: dict, **fields) -> dict:
    from sim import __version__

    spec = plan.spec
    base = {
        "sweep": spec.name,
        "sweep_file": spec.source,
        "sweep_text": spec.text,
        "base_scenario": spec.base.source,
        "spec": spec.to_dict(),
        "digest": plan.digest,
        "axis_types": plan.axis_types,
        "format": sweep_store.FORMAT,
        "package_version": __version__,
        "git_commit": _git_commit(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "started": previous.get("started", _now()),
        "runs": previous.get("runs", []),
        "counts": {
            "points": len(plan.points),
            "replications": spec.replications,
            "points_run_once": plan.points_run_once,
            "scenarios": plan.scenarios,
            "chunks": len(plan.chunks),
            "chunk_size": plan.chunk_size,
            "scenario_rounds": plan.scenario_rounds,
            "agent_updates": plan.agent_updates,
        },
    }
    base.update(fields)
    return base


# ---------------------------------------------------------------------------
# Running a sweep
# ---------------------------------------------------------------------------


@dataclass
class SweepReport:
    """How a sweep run went (``sweep`` returns the table; the CLI prints this)."""

    chunks: int
    chunks_run: int
    chunks_skipped: int
    scenarios: int
    failed: int
    seconds: float
    chunks_rerun: int = 0  # damaged chunks found by --resume and run again


def cap_n_jobs(n_jobs: int) -> tuple[int, str | None]:
    """``n_jobs`` capped at the number of cores this process may use, and a note when it was capped."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if n_jobs <= cores:
        return n_jobs, None
    return cores, f"--n-jobs {n_jobs} is more than the {cores} core(s) here; using {cores}"


def check_scheduler(backend: str, scheduler) -> None:
    """``scheduler`` is only meaningful with the Dask backend, and must then be a non-empty one-line address."""
    if scheduler is None:
        return
    if backend != "dask":
        raise ScenarioError("--scheduler", scheduler, "is only used with --backend dask")
    if not isinstance(scheduler, str) or not scheduler.strip() or not scheduler.isprintable():
        raise ScenarioError("--scheduler", scheduler, "needs an address such as tcp://10.0.0.1:8786")


#: How long to wait for a Dask scheduler given by address before giving up.
SCHEDULER_TIMEOUT = "20s"


def _check_cluster(client, scheduler: str | None) -> None:
    """Refuse a cluster whose scheduler or workers cannot import this package (Dask would wait for ever).

    The probe is the builtin ``eval`` of an import, so that sending it needs
    nothing from this package on the other side.
    """
    from sim import __version__

    where = scheduler or "local cluster"
    probe = "__import__('sim').__version__"
    try:
        versions = {"scheduler": client.run_on_scheduler(eval, probe), **client.run(eval, probe)}
    except Exception as err:  # noqa: BLE001 -- any failure here means the cluster cannot run a sweep
        raise ScenarioError(
            "--scheduler", where,
            f"the cluster cannot import sim ({describe_exception(err, 80)}); install leaderboard-sim on the "
            "scheduler and every worker",
        ) from None  # fmt: skip
    if len(versions) < 2:
        raise ScenarioError("--scheduler", where, "has no workers yet: start them first (dask worker ADDRESS)")
    other = {name: v for name, v in versions.items() if v != __version__}
    if other:
        name, version = next(iter(other.items()))
        raise ScenarioError(
            "--scheduler", where,
            f"{name} runs leaderboard-sim {version}, this machine {__version__}: install one version",
        )  # fmt: skip


def _warm_worker() -> None:
    """Run once in each new loky worker, before its first chunk: import what chunks need and load the kernels.

    A 2-developer, 2-round batch run loads numba's compiled kernels from its on-disk cache (``cache=True``)
    and sets up numba's typing context, the once-per-process cost (about a second) that the first chunk
    would otherwise pay.  Nothing of it reaches any result.
    """
    import pandas  # noqa: F401 -- the summaries are data frames

    import sim.kernel  # noqa: F401 -- loaded, so every run of this worker takes it (sim.engine.compiled.use_kernels)
    from sim import theory  # noqa: F401 -- the theory columns
    from sim.engine import run_batch
    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    try:
        with np.errstate(all="ignore"):
            run_batch([parse_scenario(sampled_arms_race(2, seed=0, rounds=2, name="warm-up"))], record="tail")
    except Exception:  # noqa: BLE001 -- a warm-up only: the chunks report any real failure
        pass


#: Pieces of a chunk run by several workers have at least this many scenarios (unless the chunk has fewer).
MIN_PIECE = 8
#: ... and at least this many agent-updates (developers x rounds, summed over its scenarios): about a second on
#: one core (``benchmarks/bench_engine.py``), what a new worker spends starting up (``benchmarks/README.md``).
PIECE_UPDATES = 2_000_000


def _pieces(plan: SweepPlan, todo: Sequence[int], n_jobs: int) -> list[tuple[int, int, int]]:
    """The order in which the chunks ``todo`` are dispatched, as pieces ``(chunk, start, stop)``.

    One job: whole chunks in index order.  Several: the chunks by expected
    cost, largest first (cost = scenarios x developers x rounds; ties in
    index order), so that the cheapest come last and the workers finish
    together.  With fewer than ``2 n_jobs`` chunks there are too few tasks to
    keep every worker busy, so each chunk is cut into about
    ``2 n_jobs x its share of the cost`` contiguous pieces of near-equal size
    (at least :data:`MIN_PIECE` scenarios and :data:`PIECE_UPDATES`
    agent-updates, so that a piece is worth a worker's start-up; a small
    sweep stays one task and runs in the driver, see :func:`_workers`).  Chunks are not cut otherwise:
    every piece pays the batch engine's per-round cost over all its rounds
    (a few tenths of a second at 2,000 rounds), so more pieces than needed
    cost more than they balance.

    A piece is ``plan.chunks[chunk][start:stop]``; the pieces of a chunk are
    joined into the chunk's table before it is written (:func:`_whole_chunks`),
    and a scenario's row does not depend on the batch it runs in, so the
    result is the same for every ``n_jobs``.
    """
    if n_jobs <= 1:
        return [(c, 0, len(plan.chunks[c])) for c in todo]
    point = {c: int(plan.chunks[c][0]) // plan.spec.replications for c in todo if len(plan.chunks[c])}
    cost = {c: max(int(plan.point_n[p]) * int(plan.point_rounds[p]), 1) * len(plan.chunks[c]) for c, p in point.items()}
    order = sorted(point, key=lambda c: -cost[c])
    if len(order) >= 2 * n_jobs:
        return [(c, 0, len(plan.chunks[c])) for c in order]
    total = sum(cost.values())
    pieces = []
    for c in order:
        size = len(plan.chunks[c])
        k = max(1, min(math.ceil(2 * n_jobs * cost[c] / total), size // MIN_PIECE, cost[c] // PIECE_UPDATES))
        cuts = [size * i // k for i in range(k + 1)]
        pieces.extend((c, a, b) for a, b in zip(cuts, cuts[1:], strict=False))
    return pieces


def _workers(plan: SweepPlan, n_jobs: int, backend: str) -> int:
    """Local workers to start: no more than the sweep has tasks (:func:`_pieces`); 1 runs in the driver.

    A worker costs a second or two of start-up (imports, kernel loads), so a
    sweep of one task runs where it was planned, as with ``n_jobs = 1``.
    """
    if backend != "loky" or n_jobs <= 1:
        return n_jobs
    return max(1, min(n_jobs, len(_pieces(plan, range(len(plan.chunks)), n_jobs))))


def _piece_task(task: ChunkTask, start: int, stop: int) -> ChunkTask:
    """The scenarios ``start:stop`` of a chunk's task (the task itself when that is all of them)."""
    if start == 0 and stop == len(task.indices):
        return task
    cut = slice(start, stop)
    return dataclasses.replace(
        task,
        indices=task.indices[cut],
        values=task.values[cut],
        seeds=task.seeds[cut],
        point_replications=task.point_replications[cut],
    )


def _whole_chunks(results, plan: SweepPlan, pieces: list[tuple[int, int, int]]) -> Iterator[ChunkResult]:
    """Chunk results as each chunk's last piece arrives: its pieces' rows in chunk order, one table.

    ``failed`` and ``seconds`` are the pieces' sums.
    """
    import pandas as pd

    count: dict[int, int] = {}
    position = {}
    for c, start, _ in pieces:
        count[c] = count.get(c, 0) + 1
        position[(c, int(plan.chunks[c][start]))] = start
    waiting: dict[int, dict] = {}
    for result in results:
        if count[result.chunk] == 1:
            yield result
            continue
        first = int(result.summary["scenario_index"].iloc[0])
        got = waiting.setdefault(result.chunk, {})
        got[position[(result.chunk, first)]] = result
        if len(got) < count[result.chunk]:
            continue
        parts = [got[k] for k in sorted(got)]
        del waiting[result.chunk]
        summary = typed_summary(pd.concat([r.summary for r in parts], ignore_index=True), plan.axis_types)
        traj = None
        if parts[0].trajectories is not None:
            traj = pd.concat([r.trajectories for r in parts], ignore_index=True).astype(TRAJECTORY_COLUMNS)
        yield ChunkResult(result.chunk, summary, traj, sum(r.failed for r in parts), sum(r.seconds for r in parts))


@contextlib.contextmanager
def _executor(n_jobs: int, backend: str, scheduler: str | None):
    """A function ``tasks -> iterator of chunk results as they finish``, on loky or a Dask cluster.

    The cluster is joined (or started) on entry, before anything is
    written, so that an unreachable scheduler fails first.
    """
    from joblib import Parallel, delayed, parallel_config

    if backend == "loky":
        if n_jobs == 1:
            yield lambda tasks: (run_chunk(t) for t in tasks)
            return
        from joblib._parallel_backends import LokyBackend

        # loky's reusable executor: the same initializer (hence the same executor arguments) every time, so a
        # later sweep in this process reuses the warm workers (idle for up to 5 minutes) instead of starting new.
        backend_ = LokyBackend(initializer=_warm_worker)
        parallel = Parallel(n_jobs=n_jobs, backend=backend_, return_as="generator_unordered", batch_size=1,
                            pre_dispatch="2*n_jobs")
        yield lambda tasks: parallel(delayed(run_chunk)(t) for t in tasks)
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError(
            "--backend", backend, "needs dask.distributed: pip install 'leaderboard-sim[cluster]'"
        ) from None
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=SCHEDULER_TIMEOUT))
            except (OSError, TimeoutError) as err:
                raise ScenarioError("--scheduler", scheduler, f"cannot connect ({describe_exception(err)})") from None
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n_jobs, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
                )
            )
            client = stack.enter_context(Client(cluster))
        _check_cluster(client, scheduler)
        stack.enter_context(parallel_config(backend="dask"))
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        parallel = Parallel(n_jobs=-1, return_as="generator_unordered", batch_size=1, pre_dispatch=f"{2 * workers}")
        yield lambda tasks: parallel(delayed(run_chunk)(t) for t in tasks)


def _run_plan(plan: SweepPlan, run_all, out, resume: bool, n_jobs: int, backend: str, progress: bool,
              options: dict, lock: sweep_store.WriterLock | None = None,
              log=None) -> tuple[set[int], list, str, list[int]]:
    """Run the chunks of ``plan`` not yet in ``out``; write each as it finishes; keep the manifest current.

    With ``out``, ``lock`` is the writer lock held on it (committed once
    the manifest is written); ``log`` receives one line per damaged chunk
    that runs again.  Returns the chunks found finished, the in-memory
    frames (without ``out``), the status and the damaged chunks run again.
    """
    done: set[int] = set()
    rerun: list[int] = []
    if out is not None:
        opts = row_options(plan, options["tail_window"], options["trajectory_every"], options["theory"])
        fingerprint = sweep_store.fingerprint(plan.digest, opts)
        done, damaged = prepare_out(out, plan, resume, opts, fingerprint)
        rerun = [c for c, _ in damaged]
        for c, check in damaged:
            if log is not None:
                log(f"{check.path}: damaged ({check.value}: {check.reason}); chunk {c} runs again")
        previous = read_manifest(out)
        run_entry = {"started": _now(), "pid": os.getpid(), "n_jobs": n_jobs, "backend": backend,
                     "resumed": bool(done), "rerun_damaged": rerun}
        manifest = _manifest(plan, previous, status="running", finished=None, fingerprint=fingerprint,
                             options=opts.to_dict())
        manifest["runs"] = [*manifest["runs"], run_entry]
        if lock is not None:
            lock.commit()
        _write_atomic_json(manifest, out / MANIFEST)
        write = dict(fingerprint=fingerprint, axis_types=plan.axis_types)
    todo = [c for c in range(len(plan.chunks)) if c not in done]
    pieces = _pieces(plan, todo, n_jobs)
    tasks = (_piece_task(plan.task(c, **options), start, stop) for c, start, stop in pieces)
    frames = []
    failed = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan.chunks), initial=len(done), unit="chunk", desc=plan.spec.name, dynamic_ncols=True)
    status = "interrupted"
    try:
        for result in _whole_chunks(run_all(tasks), plan, pieces):
            if out is not None:
                write_chunk(out, result, **write)
            else:
                frames.append(result.summary)
            failed += result.failed
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=failed, refresh=False)
        status = "finished"
    finally:
        if bar is not None:
            bar.close()
        if out is not None:
            manifest = read_manifest(out)
            manifest["status"] = status
            manifest["runs"][-1]["finished"] = _now()
            manifest["runs"][-1]["chunks_run"] = len(finished_chunks(out) - done)
            if status == "finished":
                manifest["finished"] = _now()
            _write_atomic_json(manifest, out / MANIFEST)
    return done, frames, status, rerun


def sweep(
    spec,
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    out=None,
    resume: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    tail_window: int | None = None,
    trajectory_every: int | None = None,
    theory: bool = True,
    progress: bool = False,
    report: SweepReport | None = None,
    log=None,
):
    """Run a sweep and return its summary table (a pandas DataFrame, one row per scenario).

    ``spec`` is a sweep file path, a :class:`SweepSpec`, a dict of the
    file's keys (with ``base`` a Scenario or path), or a :class:`SweepPlan`
    (then ``chunk_size`` is the plan's).  ``n_jobs`` workers run
    chunks of ``chunk_size`` scenarios on joblib's ``loky`` backend or, with
    ``backend="dask"``, on the Dask cluster at ``scheduler`` (a
    ``LocalCluster`` of ``n_jobs`` workers when None).

    With ``out`` every finished chunk is written at once as a Parquet file
    (atomically), with a ``manifest.json``; the table is then read back from
    disk, so memory stays bounded by the chunk size.  ``resume`` skips the
    chunks already in ``out``; a non-empty ``out`` is otherwise refused.
    ``out`` is verified and locked (:mod:`sim.sweep_store`): ``resume``
    refuses other row options (tail window, theory, trajectories, chunk
    size, package version) and foreign chunk files, runs damaged chunks
    again (one line each to ``log``, a function of a string), and a second
    writer of ``out`` is refused while this one runs.  A refused run leaves
    no directory behind.
    ``trajectory_every`` also keeps every ``k``-th round (and the last) of
    every scenario in ``out/trajectories`` (:func:`read_trajectories`).

    Columns: ``scenario_index``, ``point``, ``replication``, ``seed``, one
    per axis (named by its dotted field), then :data:`RESULT_COLUMNS`:
    the outcome (:class:`sim.analysis.Outcome`), tail statistics, theory's
    ``tau*`` and whether it predicts the run stable (``tau >= tau*``), and
    ``error`` (None unless the scenario failed).  The result is identical
    for every ``n_jobs``, backend and chunk size.
    """
    import pandas as pd

    plan = spec if isinstance(spec, SweepPlan) else None
    if isinstance(spec, (str, os.PathLike)):
        spec = load_sweep(spec)
    elif isinstance(spec, dict):
        spec = sweep_spec(**spec)
    if backend not in BACKENDS:
        raise ScenarioError("--backend", backend, f"must be one of {', '.join(BACKENDS)}")
    check_scheduler(backend, scheduler)
    n_jobs = cap_n_jobs(_integer(n_jobs, "--n-jobs", 1))[0]
    if tail_window is not None:
        tail_window = _integer(tail_window, "--tail-window", 1)
    if trajectory_every is not None:
        trajectory_every = _integer(trajectory_every, "--trajectories", 1)
        if out is None:
            raise ScenarioError("--trajectories", trajectory_every, "needs an output directory (--out)")
    out = None if out is None else Path(out)
    if plan is None:
        plan = plan_sweep(spec, chunk_size, progress=progress)
    options = dict(tail_window=tail_window, trajectory_every=trajectory_every, theory=theory)
    if out is not None:  # refusals that need only reading come before a cluster starts or anything is written
        opts = row_options(plan, tail_window, trajectory_every, theory)
        check_out(out, plan, resume, opts, sweep_store.fingerprint(plan.digest, opts))
    started = time.perf_counter()
    rerun: list[int] = []
    with contextlib.ExitStack() as stack:
        run_all = stack.enter_context(_executor(_workers(plan, n_jobs, backend), backend, scheduler))
        lock = None if out is None else stack.enter_context(sweep_store.WriterLock(out))
        done, frames, status, rerun = _run_plan(plan, run_all, out, resume, n_jobs, backend, progress, options,
                                                lock, log)
        if out is not None:
            try:
                table = read_results(out)
            except ScenarioError:  # a chunk damaged while this run went on: --resume will redo it
                manifest = read_manifest(out)
                manifest["status"] = "damaged"
                _write_atomic_json(manifest, out / MANIFEST)
                raise
            if status == "finished":
                manifest = read_manifest(out)
                manifest["counts"]["failed"] = int(table["error"].notna().sum())
                manifest["counts"]["outcomes"] = {k: int(v) for k, v in table["outcome"].value_counts().items()}
                _write_atomic_json(manifest, out / MANIFEST)
    if out is None:
        table = (
            pd.concat(frames, ignore_index=True) if frames else typed_summary(pd.DataFrame(), plan.axis_types)
        )
        table = typed_summary(table, plan.axis_types).sort_values("scenario_index", kind="stable")
        table = table.reset_index(drop=True)
    if report is not None:
        report.chunks = len(plan.chunks)
        report.chunks_run = len(plan.chunks) - len(done)
        report.chunks_skipped = len(done)
        report.chunks_rerun = len(rerun)
        report.scenarios = plan.scenarios
        report.failed = int(table["error"].notna().sum())
        report.seconds = time.perf_counter() - started
    return table


@dataclass(frozen=True)
class SweepEstimate:
    """What ``--dry-run`` reports: the sweep's size, checked on a sample of points (see :func:`estimate_sweep`).

    ``exact`` is true when every point was checked (then the counts are
    those of :func:`plan_sweep`); otherwise ``checked`` points were, and the
    round counts are exact when no axis touches ``developers`` or
    ``dynamics`` (every point then has the base's ``n`` and rounds) and
    otherwise the sample mean times the number of points.
    """

    spec: SweepSpec
    points: int
    scenarios: int
    scenario_rounds: int
    agent_updates: int
    chunks: int
    chunk_size: int
    groups: int
    exact: bool
    checked: int
    points_run_once: int = 0

    def to_dict(self) -> dict:
        """The ``--dry-run --json`` object."""
        return {
            "sweep": self.spec.name,
            "points": self.points,
            "replications": self.spec.replications,
            "points_run_once": self.points_run_once,
            "scenarios": self.scenarios,
            "scenario_rounds": self.scenario_rounds,
            "agent_updates": self.agent_updates,
            "chunks": self.chunks,
            "chunk_size": self.chunk_size,
            "batch_groups": self.groups,
            "exact": self.exact,
            "checked_points": self.checked,
        }


def points_at(spec: SweepSpec, indices: Sequence[int]) -> list[tuple]:
    """The points ``indices`` of :func:`sweep_points` (the same values), without building the others.

    Point ``p = s * G + g``: sample ``s`` of the random axes (drawn exactly
    as :func:`sweep_points` draws them) and grid index ``g`` in mixed radix,
    the last grid axis fastest.
    """
    grid_axes = spec.grid_axes
    sizes = [len(a.args) if a.kind == "values" else a.args[2] for a in grid_axes]
    grid_total = math.prod(sizes)
    draws = None
    if spec.random_axes:
        rng = np.random.default_rng(_streams(spec.seed)[0])
        draws = [a.draw(rng, spec.samples) for a in spec.random_axes]
    values_cache: dict[int, list] = {}
    out = []
    for p in indices:
        s, g = divmod(int(p), grid_total)
        grid_vals = []
        for i in range(len(grid_axes) - 1, -1, -1):
            g, j = divmod(g, sizes[i])
            if i not in values_cache:
                values_cache[i] = grid_axes[i].grid_values()
            grid_vals.append(values_cache[i][j])
        grid_vals.reverse()
        grid_iter, rand_iter = iter(grid_vals), iter([d[s] for d in draws] if draws else [])
        out.append(tuple(next(rand_iter) if a.random else next(grid_iter) for a in spec.axes))
    return out


def _dry_run_indices(spec: SweepSpec) -> list[int]:
    """Points the estimate checks: each axis's values (every distinct listed value, up to
    :data:`DRY_RUN_LISTED`; up to :data:`DRY_RUN_VALUES` of a range or a random axis), the other axes at their
    first value, and :data:`DRY_RUN_SAMPLE` points spread evenly over the sweep, first and last included."""
    grid_axes = spec.grid_axes
    sizes = [len(a.args) if a.kind == "values" else a.args[2] for a in grid_axes]
    strides = [math.prod(sizes[i + 1 :]) for i in range(len(sizes))]
    grid_total = math.prod(sizes)
    chosen = {0}
    for axis, size, stride in zip(grid_axes, sizes, strides, strict=True):
        if axis.kind == "values":  # every distinct listed value (up to DRY_RUN_LISTED of them)
            first: dict[str, int] = {}
            for j, value in enumerate(axis.args):
                first.setdefault(json.dumps(value, sort_keys=True), j)
            picks = sorted(first.values())
            if len(picks) > DRY_RUN_LISTED:
                picks = [picks[int(k)] for k in np.linspace(0, len(picks) - 1, DRY_RUN_LISTED).round()]
        else:
            picks = np.unique(np.linspace(0, size - 1, min(size, DRY_RUN_VALUES)).round().astype(np.int64))
        chosen.update(int(j) * stride for j in picks)
    if spec.random_axes:
        for s in np.unique(np.linspace(0, spec.samples - 1, min(spec.samples, DRY_RUN_VALUES)).round()):
            chosen.add(int(s) * grid_total)
    total = spec.points
    chosen.update(int(p) for p in np.unique(np.linspace(0, total - 1, min(total, DRY_RUN_SAMPLE)).round()))
    return sorted(chosen)


def estimate_sweep(spec: SweepSpec, chunk_size: int = DEFAULT_CHUNK_SIZE) -> SweepEstimate:
    """The size of a sweep for ``--dry-run``, in bounded time for any size.

    Up to :data:`DRY_RUN_EXACT_POINTS` points, every point is checked
    (:func:`plan_sweep`); above, only the points of :func:`_dry_run_indices`
    are (a bad value of any axis is found; a bad combination may be found
    only by the full check that every run does first).
    """

    chunk_size = _integer(chunk_size, "chunk_size", 1)
    if spec.points <= DRY_RUN_EXACT_POINTS:
        plan = plan_sweep(spec, chunk_size)
        return SweepEstimate(spec, len(plan.points), plan.scenarios, plan.scenario_rounds, plan.agent_updates,
                             len(plan.chunks), plan.chunk_size, plan.groups, True, len(plan.points),
                             plan.points_run_once)
    indices = _dry_run_indices(spec)
    names = [a.name for a in spec.axes]
    base = spec.base.to_dict()
    seeds = run_seeds_at(spec, [p * spec.replications for p in indices])
    keys: set = set()
    sizes = []
    randomness: list[bool] = []
    memo: dict[str, tuple] = {}
    for p, values, seed in zip(indices, points_at(spec, indices), seeds, strict=True):
        key, n, rounds, random = _point_facts(spec, base, names, p, values, seed, memo)
        keys.add((key, rounds))
        sizes.append((n, rounds))
        randomness.append(random)
    points, reps = spec.points, spec.replications
    varies = any(a.name.split(".")[0] in ("developers", "dynamics") for a in spec.axes)
    if varies:  # the mean over the evenly spread sample (the axis-value points are left out: they are not spread)
        spread = set(int(p) for p in np.unique(np.linspace(0, points - 1, min(points, DRY_RUN_SAMPLE)).round()))
        picked = [size for p, size in zip(indices, sizes, strict=True) if p in spread]
        mean_rounds = sum(r for _, r in picked) / len(picked)
        mean_updates = sum(n * r for n, r in picked) / len(picked)
        scenario_rounds = round(mean_rounds * points) * reps
        agent_updates = round(mean_updates * points) * reps
    else:
        n, rounds = sizes[0]
        scenario_rounds, agent_updates = points * rounds * reps, points * n * rounds * reps
    # A point without randomness runs once (plan_sweep); the share of such points is estimated from the sample.
    once_share = 0.0 if reps == 1 else 1.0 - sum(randomness) / len(randomness)
    runs_per_point = reps - once_share * (reps - 1)
    points_run_once = round(once_share * points)
    scenario_rounds = round(scenario_rounds / reps * runs_per_point)
    agent_updates = round(agent_updates / reps * runs_per_point)
    scenarios = points_run_once + (points - points_run_once) * reps
    chunks = max(len(keys), -(-scenarios // chunk_size))
    return SweepEstimate(spec, points, scenarios, scenario_rounds, agent_updates, chunks, chunk_size, len(keys),
                         False, len(memo), points_run_once)


def run_seeds_at(spec: SweepSpec, scenario_indices: Sequence[int]) -> list[int]:
    """The seeds :func:`run_seeds` gives the scenarios ``scenario_indices`` (without the others, by replication)."""
    runs = _streams(spec.seed)[1]
    if spec.common_random_numbers:
        per_rep = [_seed_int(c) for c in runs.spawn(spec.replications)]
        return [per_rep[k % spec.replications] for k in scenario_indices]
    # runs.spawn(m)[k] is SeedSequence(runs.entropy, spawn_key=runs.spawn_key + (k,)): built directly
    return [
        _seed_int(np.random.SeedSequence(runs.entropy, spawn_key=(*runs.spawn_key, int(k)), pool_size=runs.pool_size))
        for k in scenario_indices
    ]


def describe_plan(plan) -> str:
    """What ``lbsim sweep --dry-run`` prints: how many scenarios, rounds and chunks the sweep means.

    ``plan`` is a :class:`SweepPlan` (every point checked) or a :class:`SweepEstimate`.
    """
    spec = plan.spec
    exact = getattr(plan, "exact", True)
    points = plan.points if isinstance(plan.points, int) else len(plan.points)
    chunks = plan.chunks if isinstance(plan.chunks, int) else len(plan.chunks)
    about = "" if exact else "about "
    lines = [f"sweep {spec.name}" + (f" ({spec.source})" if spec.source else "")]
    lines.append(f"  base:      {spec.base.source or spec.base.name} ({spec.base.n} developers)")
    for a in spec.axes:
        lines.append(f"  axis:      {a.name}: {a.describe()}")
    if spec.random_axes:
        lines.append(f"  samples:   {spec.samples} (random axes, seed {spec.seed})")
    once = getattr(plan, "points_run_once", 0)
    if once:
        lines.append(
            f"  scenarios: {points:,} point(s) x {spec.replications:,} replication(s), "
            f"{about}{once:,} point(s) run once = {about}{plan.scenarios:,}"
        )
        lines.append(f"  note:      {replication_note(plan)}")
    else:
        lines.append(
            f"  scenarios: {points:,} point(s) x {spec.replications:,} replication(s) = {plan.scenarios:,}"
        )
    lines.append(
        f"  rounds:    {about}{plan.scenario_rounds:,} scenario-rounds, {plan.agent_updates:,} agent-updates"
    )
    lines.append(
        f"  chunks:    {about}{chunks:,} of at most {plan.chunk_size:,} scenarios ({plan.groups} batch group(s))"
    )
    if not exact:
        lines.append(
            f"  checked:   {plan.checked:,} of {points:,} points (every axis value and an even sample); "
            "a run checks every point first"
        )
    return "\n".join(lines)


def replication_note(plan) -> str | None:
    """One line saying how many points run once although ``replications > 1`` (None when none does).

    ``plan`` is a :class:`SweepPlan` or a :class:`SweepEstimate` (then the count is estimated from a sample).
    """
    once = plan.points_run_once
    if not once:
        return None
    points = plan.points if isinstance(plan.points, int) else len(plan.points)
    about = "" if getattr(plan, "exact", True) else "about "
    return (f"{about}{once:,} of {points:,} point(s) have no randomness (every seed gives the same run): "
            f"each runs once, not {plan.spec.replications:,} times")


__all__ = [
    "Axis",
    "ChunkResult",
    "ChunkTask",
    "SweepPlan",
    "SweepEstimate",
    "SweepReport",
    "SweepSpec",
    "apply_point",
    "axis_label",
    "describe_plan",
    "estimate_sweep",
    "load_sweep",
    "plan_sweep",
    "read_manifest",
    "read_results",
    "read_trajectories",
    "replication_note",
    "run_chunk",
    "run_seeds",
    "sweep",
    "sweep_points",
    "sweep_spec",
]
