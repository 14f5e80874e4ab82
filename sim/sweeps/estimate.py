"""The dry-run estimate of a sweep too large to check point by point (:func:`estimate_sweep`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from sim.scenario import _integer
from sim.sweeps.plan import DEFAULT_CHUNK_SIZE, _point_facts, plan_sweep
from sim.sweeps.points import points_at, run_seeds_at
from sim.sweeps.spec import SweepSpec

#: ``--dry-run`` checks every point of a sweep with at most this many points; above, it estimates
#: (:func:`estimate_sweep`: every distinct axis value, up to :data:`DRY_RUN_VALUES` per axis, and a sample of points).
DRY_RUN_EXACT_POINTS = 2000


#: Most values per axis and most points the dry-run estimate checks; a listed axis has each of its distinct
#: values checked, up to DRY_RUN_LISTED of them (evenly spread beyond).
DRY_RUN_VALUES = 200


DRY_RUN_SAMPLE = 200


DRY_RUN_LISTED = 5000


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
