"""One chunk of a sweep played (:func:`run_chunk`): its scenarios run as one batch, and the measures of each run
(the summary row, the theory beside it, the trajectory rows).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import describe_exception
from sim.sweeps.columns import TRAJECTORY_COLUMNS, _axis_cells, typed_summary
from sim.sweeps.points import apply_point


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
