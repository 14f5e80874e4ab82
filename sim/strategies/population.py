"""A run's population (:class:`Population`): which strategy each developer plays, their parameters as arrays,
and the per-developer state the run owns; :meth:`Population.choose` is what both engines call.

Developers are grouped by strategy class.  Each group's choice is one vectorised call over the scenarios and
its developers (:meth:`Strategy.choose <sim.strategies.base.Strategy.choose>`); its parameters are ``(S, n)``
arrays (a developer of another strategy holds the defaults) and its state ``(S, n, ...)`` arrays, updated
only at the entries that chose.  The batch engine calls :meth:`choose` with the rows of a round or a
position, the Mesa model with one developer of a batch of one: the same operations on the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.strategies.base import Decision, Strategy


def scenario_strategies(scenario) -> tuple[Strategy, ...] | None:
    """The scenario's ``developers.strategy`` (one per developer), or ``None`` when it has none."""
    return getattr(scenario.developers, "strategy", None)


def strategy_names(strategies: Sequence[Strategy]) -> tuple[str, ...]:
    """What a batch must share: the strategy class of every developer (parameters may differ per scenario)."""
    return tuple(f"{type(s).__module__}:{type(s).__qualname__}" for s in strategies)


def population_deterministic(strategies: Sequence[Strategy]) -> bool:
    """Whether the strategies make the next profile a function of the current one: none is stochastic and
    none remembers (``memory_depth == 0``), so a recurring profile repeats forever."""
    return all(not s.stochastic and s.memory_depth == 0 for s in strategies)


class Population:
    """The strategies of ``S`` scenarios' ``n`` developers (``specs[s][i]``; the same class for developer ``i``
    in every scenario), their parameters and state."""

    def __init__(self, specs: Sequence[Sequence[Strategy]]):
        specs = [tuple(row) for row in specs]
        S, n = len(specs), len(specs[0])
        self.shape = (S, n)
        classes = [type(s) for s in specs[0]]
        if any(tuple(type(s) for s in row) != tuple(classes) for row in specs):
            raise ValueError("the scenarios of a batch must give every developer the same strategy class")
        self.groups: list[tuple[type[Strategy], Strategy, dict, dict]] = []
        self.group_of = np.empty(n, dtype=np.int64)
        for cls in dict.fromkeys(classes):
            g = len(self.groups)
            members = np.array([c is cls for c in classes])
            self.group_of[members] = g
            params = {}
            for key, p in cls.parameters.items():
                fill = p.default if p.default is not None else math.nan
                params[key] = np.array(
                    [[row[i].params.get(key, math.nan) if members[i] else fill for i in range(n)] for row in specs],
                    dtype=float,
                ).reshape(S, n)
            representative = specs[0][int(np.flatnonzero(members)[0])]
            state = representative.init_state(S, n, params)
            self.groups.append((cls, representative, params, state))
        self.stochastic = any(cls.stochastic for cls, *_ in self.groups)
        self.deterministic = population_deterministic(specs[0])

    def choose(self, game, evaluated, rows, current, uniform=None, cache=None, active=None) -> np.ndarray:
        """Efforts ``(S, m)`` developers ``rows`` choose against the board ``evaluated`` ``(S, n)``, each by its
        strategy; ``current`` ``(S, m)`` their efforts, ``uniform`` ``(S, m)`` the ``"choice"`` draws.

        ``active`` ``(S, m)`` (default all): who revises; the others keep ``current`` and their state."""
        rows = np.asarray(rows, dtype=np.int64)
        current = np.asarray(current, dtype=float)
        out = current.copy()
        group = self.group_of[rows]
        for g, (cls, strategy, params, state) in enumerate(self.groups):
            member = group == g
            if active is not None:
                member &= active
            cols = np.flatnonzero(member.any(axis=0))
            if cols.size == 0:
                continue
            sub = rows[:, cols]
            decision = Decision(
                game=game,
                evaluated=evaluated,
                rows=sub,
                current=current[:, cols],
                uniform=None if uniform is None else np.asarray(uniform, dtype=float)[:, cols],
                params={k: np.take_along_axis(v, sub, axis=1) for k, v in params.items()},
                state={k: _gather(v, sub) for k, v in state.items()},
                cache=cache,
            )
            effort, new_state = strategy.choose(decision)
            effort = np.asarray(effort, dtype=float)
            chose = member[:, cols]
            bad = chose & ~(np.isfinite(effort) & (effort >= 0))
            if bad.any():
                s, r = np.argwhere(bad)[0]
                raise ValueError(f"strategy {cls.name!r} chose effort {effort[s, r]!r} for developer "
                                 f"{int(sub[s, r])}: efforts must be finite and >= 0")
            out[:, cols] = np.where(chose, effort, out[:, cols])
            for key, value in new_state.items():
                _scatter(state[key], sub, chose, np.asarray(value))
        return out


def _everyone(rows: np.ndarray, n: int) -> bool:
    """Whether ``rows`` is every developer in id order, in every scenario (the simultaneous schedule)."""
    return rows.shape[1] == n and bool(np.all(rows == np.arange(n)))


def _gather(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[s, rows[s, r], ...]`` ``(S, m, ...)`` (a copy)."""
    if _everyone(rows, array.shape[1]):
        return array.copy()
    return array[np.arange(array.shape[0])[:, None], rows]


def _scatter(array: np.ndarray, rows: np.ndarray, where: np.ndarray, value: np.ndarray) -> None:
    """``array[s, rows[s, r], ...] = value[s, r, ...]`` where ``where[s, r]``."""
    if where.all() and _everyone(rows, array.shape[1]):
        array[...] = value
        return
    s, r = np.nonzero(where)
    array[s, rows[s, r]] = value[s, r]
