"""Matches of a tournament: the mixes, one seed per match fixed up front, the scenarios, the play.

Mixes.  ``mixes = "all"``: every multiset of ``n`` strategies from the list,
``C(S + n - 1, n)`` of them, so every strategy meets every composition of
``n - 1`` rivals.  ``mixes = "focal"``: for each strategy ``i`` and each
strategy ``j`` the mix of one ``i`` and ``n - 1`` copies of ``j`` (duplicates
removed; ``i = j`` is the homogeneous population).

Dealing.  Repetition ``r`` of a mix ``(m_0, ..., m_{n-1})`` (sorted) gives
developer ``d`` the strategy ``m_{(d - r) mod n}``: a rotation, so that over
``n`` consecutive repetitions every strategy of the mix plays from every
developer slot once.  With fixed capabilities (developer ``d`` has
``values[d]``) a number of repetitions that is a multiple of ``n`` is
balanced: no strategy is luckier than another in the capabilities it is dealt.

Seeds.  Match ``k`` (in the order tau-major, then mix, then repetition) gets
the ``k``-th child of ``SeedSequence(seed).spawn(matches)``, split before
anything runs; from it come the capabilities (when drawn) and the scenario's
own seed.  A match's result depends only on its own seed and dealing, so the
tables are identical for any number of jobs (:func:`play`).

Measures (per developer, over rounds ``1..R``; round 0 is the initial profile,
which no strategy chose): mean utility ``r_rank - gamma c(x)``, mean published
rank, mean effort, and the share of rounds *ranked correctly* (its published
rank equals its capability rank).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.tournament.spec import StrategyEntry, TournamentSpec

#: Matches per joblib task (each task plays its matches as few batches as their batch keys allow).
CHUNK = 64

MATCH_COLUMNS = {
    "match": "int64", "tau": "float64", "mix": "string", "repetition": "int64", "seed": "int64",
    "developer": "int64", "strategy": "string", "strategy_index": "int64", "rivals": "string",
    "capability": "float64", "capability_rank": "int64", "mean_utility": "float64", "mean_rank": "float64",
    "mean_effort": "float64", "correct_share": "float64", "outcome": "string",
}  # fmt: skip


def mixes(S: int, n: int, mode: str) -> list[tuple[int, ...]]:
    """The mixes (sorted tuples of ``n`` strategy indices) that ``mode`` asks for; see the module docstring."""
    if mode == "all":
        return list(itertools.combinations_with_replacement(range(S), n))
    if mode == "focal":
        out = []
        for i in range(S):
            for j in range(S):
                mix = tuple(sorted((i, *([j] * (n - 1)))))
                if mix not in out:
                    out.append(mix)
        return out
    raise ValueError(f"unknown mix mode {mode!r}")


@dataclass(frozen=True)
class Match:
    """One match: ``tau``, the ``mix``, which ``repetition``, its ``seed`` (the scenario's), the strategy index
    of each developer (``assignment``) and the developers' ``capability``."""

    index: int
    tau: float
    mix: tuple[int, ...]
    repetition: int
    seed: int
    assignment: tuple[int, ...]
    capability: tuple[float, ...]


def plan_matches(spec: TournamentSpec) -> list[Match]:
    """Every match of the tournament with its seed, dealing and capabilities, fixed up front (module docstring)."""
    mix_list = mixes(len(spec.strategies), spec.developers, spec.mixes)
    keys = [(t, m, r) for t in spec.taus for m in mix_list for r in range(spec.repetitions)]
    children = np.random.SeedSequence(spec.seed).spawn(len(keys))
    out = []
    for k, ((tau, mix, rep), child) in enumerate(zip(keys, children, strict=True)):
        cap_seq, run_seq = child.spawn(2)
        n = spec.developers
        assignment = tuple(int(mix[(d - rep) % n]) for d in range(n))
        theta = spec.capabilities.draw(np.random.default_rng(cap_seq), n)
        seed = int(run_seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        out.append(Match(k, float(tau), tuple(mix), rep, seed, assignment, tuple(float(v) for v in theta)))
    return out


def scenario_dict(spec: TournamentSpec, theta, strategies: Sequence[StrategyEntry] | None, tau: float, seed: int,
                  name: str | None = None) -> dict:
    """The scenario (TOML-shaped dict) of one match: the game, these developers (``strategies`` one per developer;
    ``None``: the game alone, no strategy key), this ``tau`` and seed."""
    data = json.loads(json.dumps(spec.game))
    data["name"] = name or spec.name
    data["seed"] = int(seed)
    data["developers"] = {"capability": [float(v) for v in theta]}
    if strategies is not None:
        data["developers"]["strategy"] = [s.to_scenario() for s in strategies]
    data["designer"] = {"tau": float(tau)}
    return data


def capability_ranks(theta, priority) -> np.ndarray:
    """Capability rank (1 = strongest) of each developer, ties broken by ``priority`` like the leaderboard."""
    from sim.leaderboard import capability_order

    order = capability_order(np.asarray(theta, dtype=float), np.asarray(priority))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def developer_measures(rank, effort, utility, capability_rank) -> dict[str, np.ndarray]:
    """Per developer over the given rounds (arrays ``(R, n)``): ``mean_utility``, ``mean_rank``,
    ``mean_effort`` and ``correct_share`` (share of rounds whose published rank equals ``capability_rank``)."""
    rank = np.asarray(rank)
    return {
        "mean_utility": np.asarray(utility, dtype=float).mean(axis=0),
        "mean_rank": rank.mean(axis=0).astype(float),
        "mean_effort": np.asarray(effort, dtype=float).mean(axis=0),
        "correct_share": (rank == np.asarray(capability_rank)[None, :]).mean(axis=0),
    }


def _rows(spec: TournamentSpec, match: Match, result, j: int) -> list[dict]:
    run, jj = result.part(j)
    rank = run.rank[jj][1:]
    effort = run.effort[jj][1:]
    utility = (result.reward(j) - result.cost(j))[1:]
    cap_rank = capability_ranks(result.game.theta[j], result.game.priority[j])
    measures = developer_measures(rank, effort, utility, cap_rank)
    outcome = result.outcome(j).outcome
    labels = spec.labels
    mix = "+".join(labels[i] for i in match.mix)
    rows = []
    for d, s in enumerate(match.assignment):
        rivals = sorted(match.assignment[:d] + match.assignment[d + 1:])
        rows.append({
            "match": match.index, "tau": match.tau, "mix": mix, "repetition": match.repetition, "seed": match.seed,
            "developer": d, "strategy": labels[s], "strategy_index": s,
            "rivals": "+".join(labels[i] for i in rivals), "capability": match.capability[d],
            "capability_rank": int(cap_rank[d]),
            **{key: float(value[d]) for key, value in measures.items()},
            "outcome": outcome,
        })  # fmt: skip
    return rows


def play_matches(spec: TournamentSpec, matches: Sequence[Match]):
    """Play ``matches`` (grouped by batch key) and return their per-developer rows as a DataFrame."""
    import pandas as pd

    from sim.engine import batch_key, run_batch
    from sim.scenario import parse_scenario

    built = []
    for m in matches:
        data = scenario_dict(spec, m.capability, [spec.strategies[s] for s in m.assignment], m.tau, m.seed,
                             name=f"{spec.name}#{m.index}")
        built.append((m, parse_scenario(data, allow_custom=spec.allow_custom)))
    groups: dict = {}
    for m, scenario in built:
        groups.setdefault(batch_key(scenario), []).append((m, scenario))
    rows = []
    with np.errstate(all="ignore"):
        for members in groups.values():
            result = run_batch([s for _, s in members], record="full", max_rounds=spec.rounds)
            for j, (m, _) in enumerate(members):
                rows.extend(_rows(spec, m, result, j))
    frame = pd.DataFrame(rows, columns=list(MATCH_COLUMNS))
    return frame.astype(MATCH_COLUMNS).sort_values(["match", "developer"], ignore_index=True)


def play(spec: TournamentSpec, n_jobs: int = 1, matches: Sequence[Match] | None = None):
    """Every match of ``spec``, ``n_jobs`` processes (joblib, loky): one row per match and developer, sorted.

    Seeds are fixed by :func:`plan_matches` before anything runs, so the
    table does not depend on ``n_jobs`` or on the chunking.
    """
    import pandas as pd

    matches = plan_matches(spec) if matches is None else list(matches)
    size = max(1, min(CHUNK, -(-len(matches) // (2 * n_jobs))))  # at least two tasks a worker when it can
    chunks = [matches[i:i + size] for i in range(0, len(matches), size)]
    if n_jobs == 1 or len(chunks) == 1:
        parts = [play_matches(spec, c) for c in chunks]
    else:
        from joblib import Parallel, delayed

        from sim.sweeps.workers import warm_loky_backend  # the sweeps' warm workers, shared

        parts = Parallel(n_jobs=n_jobs, backend=warm_loky_backend())(delayed(play_matches)(spec, c) for c in chunks)
    frame = pd.concat(parts, ignore_index=True)
    return frame.astype(MATCH_COLUMNS).sort_values(["match", "developer"], ignore_index=True)
