"""The horizon: deterministic runs that have not recurred play on until they do (:func:`_extend`)."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim import analysis
from sim.engine.loop import _run_fixed
from sim.engine.results import BatchRun
from sim.errors import ScenarioError

#: Most state keys (8 bytes each) one probe batch of :func:`_extend` may hold: scenarios x rounds.
PROBE_KEYS = 1 << 25

#: Largest record (bytes: scenarios x rounds x developers x 28) a probe keeps in full, so that the scenarios
#: it finds recurring are cut from it instead of being played again to their own horizon.
FULL_PROBE_BYTES = 1 << 26


def _extend(base: BatchRun, taus, record: str, tail_window: int | None, caps: np.ndarray) -> BatchRun:
    """Play on the deterministic scenarios of ``base`` that have not recurred, up to their caps ``caps``.

    A deterministic scenario's first ``R + 1`` states do not depend on the
    horizon, so a longer run extends a shorter one.  Probes at horizons
    ``min(2 R, M), min(4 R, M), ...`` (cap ``M``; only the state keys are
    kept, a tail window of one round, in batches of at most
    :data:`PROBE_KEYS` keys) find the first recurrence ``(s, p)``
    (:func:`sim.analysis.first_recurrence`); scenarios that have recurred
    drop out of the next probe.  The scenario is then played again to
    ``T = s + p``, the first round at which the recurrence shows, recording
    as asked with a tail of at least ``p + 1`` rounds (so the statistics cover
    exactly one cycle, as with a full record); one that never recurs is played to ``M``.  The
    results are those of a plain run to ``T`` (or ``M``).  Memory: the keys,
    ``8 (T + 1)`` bytes per scenario, and the records as asked.

    A probe batch small enough (:data:`FULL_PROBE_BYTES`) records every
    round, and its scenarios' results are cut from it at their own ``T``
    (:func:`_cut`) instead of being played again: a deterministic run's
    first ``T + 1`` rounds are those of any longer run, and the records
    of a batch row are those of the scenario alone, so the cut is the
    plain run to ``T``, bit for bit.
    """
    S = len(base)
    R = base.rounds
    pending = [
        k for k in range(S)
        if base.deterministic[k] and caps[k] > R and analysis.first_recurrence(base.keys[k]) is None
    ]  # fmt: skip
    if not pending:
        return dataclasses.replace(base, max_rounds=caps)
    horizon = dict.fromkeys(pending, R)
    final: dict[int, tuple[int, int]] = {}  # scenario -> (rounds to play, least tail window)
    source: dict[int, tuple[BatchRun, int]] = {}  # scenario -> (full probe record, row) to cut it from
    n = base.game.shape[1]
    while pending:
        by_horizon: dict[int, list[int]] = {}
        for k in pending:
            by_horizon.setdefault(int(min(2 * horizon[k], caps[k])), []).append(k)
        pending = []
        for h, members in sorted(by_horizon.items()):
            step = max(1, PROBE_KEYS // (h + 1))
            for a in range(0, len(members), step):
                part = members[a:a + step]
                full = len(part) * (h + 1) * n * 28 <= FULL_PROBE_BYTES
                try:
                    probe = _run_fixed([base.scenarios[k] for k in part], h, [taus[k] for k in part],
                                       "full" if full else "tail", 1, False)
                except ScenarioError as err:  # the keys of h rounds do not fit: the cap is what to lower
                    if err.field != "dynamics.rounds":
                        raise
                    raise ScenarioError("dynamics.max_rounds", int(caps[part[0]]),
                                        f"playing on to {h} rounds: {err.message}") from None
                for i, k in enumerate(part):
                    found = analysis.first_recurrence(probe.keys[i])
                    if found is not None:
                        final[k] = (max(R, found[0] + found[1]), found[1])
                    elif h >= caps[k]:
                        final[k] = (h, 1)
                    if k in final and full:
                        source[k] = (probe, i)
                    elif k not in final:
                        horizon[k] = h
                        pending.append(k)
    parts: list = [None] * S
    groups: dict[tuple[int, int], list[int]] = {}
    for k, (T, period) in final.items():
        # One cycle and the round before it (rank changes count against it), as a full record would have.
        window = min(T + 1, max(tail_window or analysis.default_tail_window(T), period + 1))
        groups.setdefault((T, window), []).append(k)
    for (T, window), members in sorted(groups.items()):
        if all(k in source for k in members):
            for k in members:
                parts[k] = _cut(*source[k], T, record, window)
            continue
        run_ = _run_fixed([base.scenarios[k] for k in members], T, [taus[k] for k in members], record, window, False)
        for i, k in enumerate(members):
            parts[k] = (run_, i)
    return dataclasses.replace(base, max_rounds=caps, parts=tuple(parts))


def _cut(probe: BatchRun, j: int, T: int, record: str, window: int) -> tuple[BatchRun, int]:
    """``(run, j)``: row ``j`` of a fully recorded ``probe`` as a plain run to ``T`` recording ``record``
    with tail window ``window`` would have it (views of the probe's arrays, rounds ``first..T``)."""
    first = 0 if record == "full" else T + 1 - min(T + 1, window)
    cut = dataclasses.replace(
        probe,
        settings=dataclasses.replace(probe.settings, rounds=T),
        effort=probe.effort[:, first:T + 1],
        score=probe.score[:, first:T + 1],
        published=probe.published[:, first:T + 1],
        rank=probe.rank[:, first:T + 1],
        keys=probe.keys[:, :T + 1],
        first_round=first,
        tail_window=window,
        max_rounds=None,
        parts=None,
    )
    return cut, j
