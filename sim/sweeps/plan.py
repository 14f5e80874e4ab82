"""Planning a sweep: every point checked, scenarios grouped by batch key and cut into chunks (:class:`SweepPlan`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import ScenarioError
from sim.scenario import _integer
from sim.sweeps.chunks import ChunkTask
from sim.sweeps.points import apply_point, run_seeds, sweep_points
from sim.sweeps.spec import SweepSpec

#: Scenarios per chunk by default: large enough for the batch engine to pay off, small enough to bound memory.
DEFAULT_CHUNK_SIZE = 250


#: Above this many points, checking them shows a progress bar (each takes about half a millisecond).
PLAN_PROGRESS_POINTS = 5000


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
