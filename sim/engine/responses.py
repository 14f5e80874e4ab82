"""Response rules: how a developer chooses its next effort from the published leaderboard.

A rule (:class:`ResponseRule`) has a ``name`` (the scenario's
``dynamics.response``) and a method
``choose(game, evaluated, rows, *, cache, current, temperature, uniform)``
that returns the efforts ``(S, m)`` developers ``rows[s, r]`` of the
:class:`~sim.engine.batch_game.BatchGame` ``game`` play next, given the
scores ``evaluated`` ``(S, n)`` the leaderboard evaluated this round.
Both engines look the rule up in :data:`RESPONSES` (:func:`response_rule`):
the batch play loop through :func:`_respond_rows`, the Mesa model in
:meth:`sim.model.Developer.respond`.  A new rule is a class with these two
members added to :data:`RESPONSES`.

* ``best`` (:class:`BestResponse`): the exact best response
  (:meth:`BatchGame.respond <sim.engine.batch_game.BatchGame.respond>`); with
  ``current`` (the developers' current efforts ``(S, m)``) a developer whose
  current effort is already a best response keeps it
  (:func:`~sim.engine.batch_game.hold_current`).
* ``logit`` (:class:`LogitResponse`): candidate ``k`` with probability
  ``exp(u_k / T) / sum_j exp(u_j / T)`` over distinct feasible candidate
  efforts (:meth:`BatchGame.logit_choice
  <sim.engine.batch_game.BatchGame.logit_choice>`), with ``temperature``
  ``T`` ``(S,)`` and one uniform ``(S, m)`` in ``[0, 1)`` per developer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sim.engine.batch_game import BatchGame
    from sim.engine.cache import CandidateCache


class ResponseRule(Protocol):
    """A response rule: ``choose`` returns the efforts ``(S, m)`` developers ``rows`` play next."""

    name: str

    def choose(
        self,
        game: BatchGame,
        evaluated: np.ndarray,
        rows: np.ndarray,
        *,
        cache: CandidateCache | None = None,
        current: np.ndarray | None = None,
        temperature: np.ndarray | None = None,
        uniform: np.ndarray | None = None,
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class BestResponse:
    """The exact best response, kept at the current effort where that is already one (``current`` given)."""

    name: str = "best"

    def choose(self, game, evaluated, rows, *, cache=None, current=None, temperature=None, uniform=None):
        response = game.respond(evaluated, rows, cache=cache, current=current)
        return response.effort if current is None else response.next_effort


@dataclass(frozen=True)
class LogitResponse:
    """Logit response: candidate ``k`` with probability ``exp(u_k / T) / sum_j exp(u_j / T)`` (inverse-CDF of
    ``uniform``); ``current`` is not used."""

    name: str = "logit"

    def choose(self, game, evaluated, rows, *, cache=None, current=None, temperature=None, uniform=None):
        from sim.engine import compiled

        if compiled.compiled(game):  # the same bits in the compiled kernel (sim.engine.compiled)
            return compiled._logit_compiled(game, evaluated, rows, temperature, uniform, cache)
        response = game.respond(evaluated, rows, candidates=True, cache=cache)
        return game.logit_choice(response, temperature, uniform)


#: The response rules by name (``dynamics.response``).
RESPONSES: dict[str, ResponseRule] = {rule.name: rule for rule in (BestResponse(), LogitResponse())}


def response_rule(name: str) -> ResponseRule:
    """The rule named ``name`` in :data:`RESPONSES` (``ValueError`` if there is none)."""
    try:
        return RESPONSES[name]
    except KeyError:
        raise ValueError(f"unknown response {name!r}; known: {', '.join(sorted(RESPONSES))}") from None


def _respond_rows(game: BatchGame, evaluated, rows, logit: bool, temperature, uniform, cache=None,
                  current=None) -> np.ndarray:
    """Efforts chosen by developers ``rows``: a best response (holding a current one), or a logit draw."""
    rule = RESPONSES["logit" if logit else "best"]
    return rule.choose(game, evaluated, rows, cache=cache, current=current, temperature=temperature, uniform=uniform)
