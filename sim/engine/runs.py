"""Running scenarios: :func:`run_batch` (a batch) and :func:`run` (one scenario)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.engine.horizon import _extend
from sim.engine.loop import _run_fixed
from sim.engine.results import BatchRun
from sim.engine.settings import batch_key
from sim.errors import ScenarioError


def run_batch(
    scenarios: Sequence,
    *,
    rounds: int | None = None,
    tau=None,
    record: str = "full",
    tail_window: int | None = None,
    progress: bool = False,
    max_rounds: int | None = None,
) -> BatchRun:
    """Play every scenario in ``scenarios`` (all with the same :func:`batch_key`) together.

    ``rounds`` overrides the scenarios' ``dynamics.rounds`` (which must
    otherwise agree); ``tau`` (a number or one per scenario) overrides the
    designer's.  ``record="tail"`` keeps the state keys of every round but
    the full records only for the last ``tail_window`` rounds (default
    :func:`sim.analysis.default_tail_window`), so that long runs of many
    scenarios fit in memory.  ``progress`` shows a tqdm bar over rounds.

    Horizon.  ``rounds`` is the least number of rounds recorded.  A scenario
    whose dynamics are deterministic (:func:`is_deterministic`) and whose
    state has not recurred within ``rounds`` plays on until it does or the
    cap ``M = max(rounds, max_rounds)`` is reached (``max_rounds`` overrides
    each scenario's ``dynamics.max_rounds``); the others keep ``rounds``.
    See :func:`_extend` for how, and :meth:`BatchRun.part` for where such a
    scenario's records are.
    """
    scenarios = tuple(scenarios)
    if not scenarios:
        raise ValueError("run_batch needs at least one scenario")
    if len({batch_key(s) for s in scenarios}) > 1:
        raise ValueError("these scenarios cannot share a batch (group them by sim.engine.batch_key)")
    if rounds is None:
        all_rounds = {s.dynamics.rounds for s in scenarios}
        if len(all_rounds) > 1:
            raise ValueError(f"scenarios disagree on dynamics.rounds ({sorted(all_rounds)}); pass rounds=")
        rounds = all_rounds.pop()
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ScenarioError("dynamics.rounds", rounds, "must be a positive integer")
    rounds = int(rounds)
    if max_rounds is not None and (
        isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or max_rounds < 1
    ):
        raise ScenarioError("dynamics.max_rounds", max_rounds, "must be a positive integer")
    S = len(scenarios)
    if tau is None:
        taus = [None] * S
    else:
        values = np.asarray(tau, dtype=float)
        if values.ndim > 1 or (values.ndim == 1 and values.size != S):
            raise ValueError(f"tau must be a number or one value per scenario ({S}), got shape {values.shape}")
        taus = [float(t) for t in np.broadcast_to(values, (S,))]
    if tail_window is not None and (
        isinstance(tail_window, bool) or not isinstance(tail_window, (int, np.integer)) or tail_window < 1
    ):
        raise ValueError(f"tail_window must be an integer >= 1, got {tail_window!r}")
    caps = np.array([
        max(rounds, int(max_rounds if max_rounds is not None else getattr(s.dynamics, "max_rounds", rounds)))
        for s in scenarios
    ], dtype=np.int64)  # fmt: skip
    result = _run_fixed(scenarios, rounds, taus, record, tail_window, progress)
    return _extend(result, taus, record, tail_window, caps)


def run(scenario, **kwargs) -> BatchRun:
    """Play one scenario (a batch of one; a path is loaded first); see :func:`run_batch`."""
    if isinstance(scenario, (str, bytes)) or hasattr(scenario, "__fspath__"):
        from sim.scenario import load_scenario

        scenario = load_scenario(scenario)
    return run_batch([scenario], **kwargs)
