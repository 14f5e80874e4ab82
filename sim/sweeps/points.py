"""A sweep's parameter points and seeds: the grid crossed with the random samples, the run seeds fixed up front
(``SeedSequence(seed).spawn(2)``), and a point applied to the base scenario's document.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence

import numpy as np

from sim.errors import ScenarioError
from sim.sweeps.spec import _EXCLUSIVE, SweepSpec

#: Section -> the key that selects its kind, and the keys each kind takes.
_KIND_KEYS = {"reward": "scheme", "score": "family", "cost": "family"}


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
