"""The built-in strategies (``docs/model.md#strategies``), each vectorised over scenarios and developers.

Every one chooses against the board it sees (:class:`~sim.strategies.base.Decision`), with the exact best
response of :meth:`BatchGame.respond <sim.engine.batch_game.BatchGame.respond>` (Definition 3.1: zero effort
and the least effort that overtakes each rival are the candidates; the smallest effort within
:func:`sim.game.utility_tolerance` of the best utility is taken) as its building block.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from sim.errors import ScenarioError
from sim.strategies.base import Decision, Parameter, Strategy, register


def _row_ranks(d: Decision) -> np.ndarray:
    """The rows' ranks on the board they see ``(S, m)`` (published levels, ties by priority)."""
    return np.take_along_axis(d.game.ranks(d.evaluated), d.rows, axis=1)


def _compiled(game) -> bool:
    """Whether ``game``'s strategies run in the compiled kernels (:mod:`sim.kernel_strategies`): the built-in
    families, unless :data:`sim.engine.COMPILED_SCHEDULES` is off (custom families: numpy)."""
    from sim.engine.compiled import compiled

    return compiled(game)


def _cache_arrays(d: Decision) -> tuple:
    from sim.engine.compiled import _cache_arrays as arrays

    return arrays(d.game, d.cache)


def _game_arrays(game) -> tuple:
    return (*game.kernel_spec, game.tau, game.resolution, game.rewards, game.gamma, game.priority, game.budget,
            game.baseline)


def _candidates(d: Decision) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate of the rows' best response ``(S, m, n)``: effort (``inf`` where none), utility (``-inf``),
    rank and the true score it reaches, compiled (:func:`sim.kernel_strategies.candidates`) or from
    :meth:`BatchGame.respond(..., candidates=True) <sim.engine.batch_game.BatchGame.respond>`."""
    g = d.game
    S, m = d.rows.shape
    n = g.shape[1]
    if _compiled(g):
        from sim import kernel_strategies

        out = (np.empty((S, m, n)), np.empty((S, m, n)), np.empty((S, m, n), dtype=np.int64), np.empty((S, m, n)))
        kernel_strategies.candidates(*_game_arrays(g), np.ascontiguousarray(d.evaluated, dtype=float),
                                     np.ascontiguousarray(d.rows), *_cache_arrays(d), *out)
        return out
    response = g.respond(d.evaluated, d.rows, candidates=True, cache=d.cache)
    effort = response.candidate_effort
    finite = np.isfinite(effort)
    s_idx = np.broadcast_to(np.arange(S)[:, None, None], effort.shape)[finite]
    dev = np.broadcast_to(d.rows[:, :, None], effort.shape)[finite]
    score = np.full(effort.shape, np.nan)
    score[finite] = g.score[s_idx, dev].score(g.tau[s_idx] + effort[finite])
    return effort, response.candidate_utility, response.candidate_rank, score


def _best(d: Decision, evaluated=None, rows=None, current=None) -> np.ndarray:
    """The exact best response, kept at the current effort where that is already one (:func:`hold_current`)."""
    rows = d.rows if rows is None else rows
    response = d.game.respond(
        d.evaluated if evaluated is None else evaluated, rows, cache=d.cache,
        current=d.current if current is None else current,
    )  # fmt: skip
    return response.next_effort


@register
class BestResponse(Strategy):
    """``best``: the exact best response to the published board, ``BR_i(x_-i) = argmax_x r(rank_i(x)) -
    gamma_i c(x)`` over the candidates of Definition 3.1 (Proposition 3.2: the maximum is among them), the
    smallest effort among near-ties; a developer whose current effort is already a best response keeps it.
    Today's ``dynamics.response = "best"``, bit for bit."""

    name = "best"
    observes = frozenset({"published_board"})

    def choose(self, d):
        return _best(d), {}


@register
class Logit(Strategy):
    """``logit`` (``temperature`` ``T``): candidate ``k`` with probability ``exp(u_k / T) / sum_j exp(u_j / T)``
    over the distinct feasible candidate efforts of the best response (quantal response, McKelvey and
    Palfrey 1995), by inverse CDF of one ``"choice"`` uniform.  Today's ``dynamics.response = "logit"``, bit for
    bit."""

    name = "logit"
    stochastic = True
    parameters = MappingProxyType({
        "temperature": Parameter(0.0, math.inf, None, "logit temperature T > 0, in utility units", open_low=True),
    })  # fmt: skip

    @classmethod
    def check(cls, values, where):
        if "temperature" not in values:
            raise ScenarioError(f"{where}.temperature", None, "required by logit (a temperature > 0 in utility units)")

    def choose(self, d):
        from sim.engine.responses import RESPONSES

        rule = RESPONSES["logit"]
        temperature = d.params["temperature"]
        if np.all(temperature == temperature[:, :1]):  # one temperature per scenario: one call
            effort = rule.choose(d.game, d.evaluated, d.rows, cache=d.cache, temperature=temperature[:, 0],
                                 uniform=d.uniform)
            return effort, {}
        effort = np.empty(d.rows.shape)
        for r in range(d.rows.shape[1]):
            effort[:, r] = rule.choose(d.game, d.evaluated, d.rows[:, r : r + 1], cache=d.cache,
                                       temperature=temperature[:, r], uniform=d.uniform[:, r : r + 1])[:, 0]
        return effort, {}


@register
class RankDefender(Strategy):
    """``rank_defender``: never climbs; spends only what it takes to keep its current rank.

    With ``R`` its rank on the board it sees: the best response when that ranks it no better than ``R``;
    otherwise the least candidate effort (Definition 3.1) that still ranks it ``R`` or better (the best
    response if none is affordable).  Promoted from the Mesa example :class:`sim.model.RankDefender`.
    """

    name = "rank_defender"

    def choose(self, d):
        g = d.game
        if _compiled(g):  # one compiled pass over the candidates within reach (same efforts)
            from sim import kernel_strategies

            out = np.empty(d.rows.shape)
            kernel_strategies.rank_defender_choose(
                *_game_arrays(g), g.reach, g.tolerance, np.ascontiguousarray(d.evaluated, dtype=float),
                np.ascontiguousarray(d.rows), *_cache_arrays(d), out,
            )  # fmt: skip
            return out, {}
        effort, utility, cand_rank, _ = _candidates(d)
        # The best response from its candidates: the smallest effort within the tolerance of the best utility.
        good = utility >= utility.max(axis=2, keepdims=True) - d.game.tolerance[:, None, None]
        best = np.min(np.where(good, effort, np.inf), axis=2)
        col = np.argmax(good & (effort == best[:, :, None]), axis=2)[:, :, None]
        best_rank = np.take_along_axis(cand_rank, col, axis=2)[:, :, 0]
        rank = _row_ranks(d)
        holds = np.isfinite(effort) & (cand_rank <= rank[:, :, None])
        least = np.min(np.where(holds, effort, np.inf), axis=2)
        climbs = best_rank < rank
        return np.where(climbs & np.isfinite(least), least, best), {}


@register
class PartialAdjustment(Strategy):
    """``partial_adjustment`` (``lambda`` in ``(0, 1]``): ``x <- x + lambda (BR(x) - x)``, moving a
    fraction ``lambda`` of the way to the best response (partial-adjustment dynamics, e.g. Fudenberg and
    Levine 1998, ch. 1); ``lambda = 1`` is ``best``.  A fixed point of the best response (a pure Nash
    equilibrium) is a fixed point here, and from zero above ``tau*`` (Proposition 4.5) play stays at zero."""

    name = "partial_adjustment"
    parameters = MappingProxyType({
        "lambda": Parameter(0.0, 1.0, 0.5, "fraction of the way to the best response", open_low=True),
    })  # fmt: skip

    def choose(self, d):
        lam = d.params["lambda"]
        best = _best(d)
        # x + lambda (BR - x): exactly x where x is a best response (held); exactly BR where lambda = 1.
        return np.where(lam == 1.0, best, d.current + lam * (best - d.current)), {}


@register
class FictitiousPlay(Strategy):
    """``fictitious_play``: the best response to a belief board, the average of the boards seen so far
    (Brown 1951): with ``decay`` in ``(0, 1]`` exponentially weighted, ``b <- (1 - decay) b + decay e`` (the
    first board taken as it is); with ``window = W`` the mean of the last ``W`` boards; with neither, the mean
    of all of them.  ``e`` are the evaluated scores behind the published board (rivals are ranked at the
    published levels of the belief).  ``decay = 1`` or ``window = 1`` is ``best``."""

    name = "fictitious_play"
    memory_depth = math.inf
    observes = frozenset({"published_board", "rival_history"})
    parameters = MappingProxyType({
        "decay": Parameter(0.0, 1.0, None, "weight of the newest board (exponentially weighted history)",
                           open_low=True),
        "window": Parameter(1.0, 100.0, None, "number of past boards averaged (empirical history; kept per developer)",
                            integer=True),
    })  # fmt: skip

    @classmethod
    def check(cls, values, where):
        if "decay" in values and "window" in values:
            raise ScenarioError(where, {"decay": values["decay"], "window": values["window"]},
                                "give decay or window, not both")

    def init_state(self, S, n, params):
        window = params["window"]
        W = int(np.nanmax(window)) if np.any(np.isfinite(window)) else 1
        return {
            "count": np.zeros((S, n)),
            "belief": np.zeros((S, n, n)),
            "total": np.zeros((S, n, n)),
            "history": np.zeros((S, n, W, n)),
        }

    def choose(self, d):
        S, m = d.rows.shape
        n = d.evaluated.shape[1]
        decay, window = d.params["decay"], d.params["window"]
        by_decay, by_window = np.isfinite(decay), np.isfinite(window)
        count = d.state["count"] + 1.0
        seen = np.broadcast_to(d.evaluated[:, None, :], (S, m, n))
        state = {"count": count}
        belief = np.zeros((S, m, n))
        if by_decay.any():  # exponentially weighted (the first board as it is)
            w = np.nan_to_num(decay)[:, :, None]
            weighted = np.where((count == 1.0)[:, :, None], seen, (1.0 - w) * d.state["belief"] + w * seen)
            belief = np.where(by_decay[:, :, None], weighted, belief)
            state["belief"] = weighted
        if by_window.any():  # the last W boards
            from sim import kernel_strategies

            history = np.ascontiguousarray(d.state["history"])  # the rows' copy (Decision.state), updated in place
            recent = np.empty((S, m, n))
            kernel_strategies.window_belief(history, np.ascontiguousarray(count), np.ascontiguousarray(d.evaluated),
                                            np.ascontiguousarray(window), recent)
            belief = np.where(by_window[:, :, None], recent, belief)
            state["history"] = history
        every = ~(by_decay | by_window)
        if every.any():  # all boards seen
            total = d.state["total"] + seen
            belief = np.where(every[:, :, None], total / count[:, :, None], belief)
            state["total"] = total
        effort = np.empty((S, m))
        g = d.game
        if _compiled(g):
            from sim import kernel_strategies

            kernel_strategies.best_on_boards(
                *_game_arrays(g), g.reach, g.tolerance, np.ascontiguousarray(belief), np.ascontiguousarray(d.rows),
                np.ascontiguousarray(d.current, dtype=float), *_cache_arrays(d), effort,
            )  # fmt: skip
        else:
            for r in range(m):
                effort[:, r] = _best(d, belief[:, r, :], d.rows[:, r : r + 1], d.current[:, r : r + 1])[:, 0]
        return effort, state


#: Gauss-Hermite nodes and weights (probabilists', weights summing to 1) over the developer's own noise.
QUADRATURE_NODES = 16

_HERMITE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``nodes``-point Gauss-Hermite rule for a standard normal (ascending nodes; weights summing to 1)."""
    if nodes not in _HERMITE:
        z, w = np.polynomial.hermite_e.hermegauss(nodes)
        _HERMITE[nodes] = (z, w / math.sqrt(2.0 * math.pi))
    return _HERMITE[nodes]


_PA_TABLES: list[np.ndarray] = []


def _pa_tables() -> np.ndarray:
    """:func:`sim.kernel_strategies.pa_tables`, built once."""
    if not _PA_TABLES:
        from sim import kernel_strategies

        _PA_TABLES.append(kernel_strategies.pa_tables())
    return _PA_TABLES[0]


@register
class ExpectedUtility(Strategy):
    """``expected_utility``: knows the evaluation noise ``sigma`` (``leaderboard.noise``) and maximises
    ``E[r(rank_i(x))] - gamma_i c(x)`` over the candidate efforts of the best response and its current effort.

    Belief: rivals keep their efforts; rival ``j``'s true score, given the evaluated ``e_j`` it was seen at
    (flat prior), is ``N(e_j, sigma^2)`` and its next evaluation ``N(e_j, 2 sigma^2)``; the developer's own is
    ``s_i(x) + sigma z``.  Given ``z`` the overtakes are independent, ``P(j above | z) = 1 - Phi((s_i(x) +
    sigma z - e_j) / (sigma sqrt 2))``, and the rank ``1 + #above`` is Poisson-binomial, computed exactly by
    the convolution recursion; ``z`` is integrated by :data:`QUADRATURE_NODES`-point Gauss-Hermite quadrature
    (accurate, not exact).  Scores are compared unrounded (the published grid and tie-breaking are ignored
    in the probabilities: exact for ``resolution = 0``, where ties have probability zero).  The optimum over
    all efforts is approximated by the candidates.  The current effort is kept when it is within
    :func:`sim.game.utility_tolerance` of the best, else the smallest effort within it is taken.  With
    ``sigma = 0`` this is ``best`` exactly.  (The paper's open question of noisy evaluations, Section 7.)"""

    name = "expected_utility"
    observes = frozenset({"published_board", "own_true_score", "noise_level"})

    def choose(self, d):
        g = d.game
        sigma = g.noise
        if not np.all(sigma > 0):  # the best response where there is no noise
            best = _best(d)
            if not np.any(sigma > 0):
                return best, {}
        else:
            best = np.zeros(d.rows.shape)
        from sim import kernel_strategies

        if _compiled(g):  # one compiled pass: candidates within reach, expected rewards, the choice (same efforts)
            chosen = np.empty(d.rows.shape)
            z, w = _hermite(QUADRATURE_NODES)
            kernel_strategies.expected_utility_choose(
                *_game_arrays(g), g.reach, g.tolerance, np.ascontiguousarray(d.evaluated, dtype=float),
                np.ascontiguousarray(d.rows), np.ascontiguousarray(d.current, dtype=float),
                np.ascontiguousarray(sigma, dtype=float), z, w, _pa_tables(), *_cache_arrays(d), chosen,
            )  # fmt: skip
            return np.where(sigma[:, None] > 0, chosen, best), {}
        S, m = d.rows.shape
        n = d.evaluated.shape[1]
        effort, _, _, score = _candidates(d)
        current_score = g.score[np.repeat(np.arange(S), m), d.rows.ravel()].score(
            np.repeat(g.tau, m) + d.current.ravel()).reshape(S, m)
        eff = np.concatenate([effort, d.current[:, :, None]], axis=2)  # (S, m, n + 1)
        own = np.ascontiguousarray(np.concatenate([score, current_score[:, :, None]], axis=2))
        finite = np.isfinite(eff)
        safe = np.where(finite, eff, 0.0)
        gamma = np.take_along_axis(g.gamma, d.rows, axis=1)[:, :, None]
        budget = np.take_along_axis(g.budget, d.rows, axis=1)[:, :, None]
        cost = gamma * g.cost(safe)
        eff = np.ascontiguousarray(np.where(finite & (safe <= budget), eff, np.inf))
        expected = np.empty(own.shape)
        z, w = _hermite(QUADRATURE_NODES)
        kernel_strategies.expected_reward(own, eff, np.ascontiguousarray(cost), np.ascontiguousarray(d.evaluated,
                                          dtype=float), np.ascontiguousarray(d.rows), sigma, g.rewards, g.tolerance,
                                          z, w, expected)
        utility = np.where(np.isfinite(eff) & np.isfinite(expected), expected - cost, -np.inf)
        top = utility.max(axis=2, keepdims=True)
        good = utility >= top - g.tolerance[:, None, None]
        least = np.min(np.where(good[:, :, :n], safe[:, :, :n], np.inf), axis=2)
        chosen = np.where(good[:, :, n], d.current, least)
        return np.where(sigma[:, None] > 0, chosen, best), {}


@register
class Hedge(Strategy):
    """``hedge`` (``eta > 0``): multiplicative weights (Freund and Schapire 1997) over ``n`` arms, arm ``k``
    being the least candidate effort that ranks the developer ``k`` or better on the board it sees.

    Full information: each time it chooses, every arm's utility against that board, ``u_k = r(rank) - gamma_i
    c(effort_k)``, is added to its cumulative payoff ``U_k`` (an arm out of reach, over budget or beyond any
    effort, is credited the worst reachable arm's utility and cannot be played this time); the arm is drawn
    with probability ``exp(eta U_k) / sum_j exp(eta U_j)`` over the reachable arms, by inverse CDF of one
    ``"choice"`` uniform."""

    name = "hedge"
    stochastic = True
    memory_depth = math.inf
    observes = frozenset({"published_board", "rival_history"})
    parameters = MappingProxyType({
        "eta": Parameter(0.0, math.inf, 0.1, "learning rate, per utility unit", open_low=True),
    })  # fmt: skip

    def init_state(self, S, n, params):
        return {"payoff": np.zeros((S, n, n))}

    def choose(self, d):
        from sim import kernel_strategies

        ce, cu, cr, _ = _candidates(d)
        payoff = np.ascontiguousarray(d.state["payoff"], dtype=float)  # the rows' copy, updated in place
        effort = np.empty(d.rows.shape)
        kernel_strategies.hedge_choose(np.ascontiguousarray(ce), np.ascontiguousarray(cu), np.ascontiguousarray(cr),
                                       payoff, np.ascontiguousarray(d.params["eta"]),
                                       np.ascontiguousarray(d.uniform, dtype=float), effort)
        return effort, {"payoff": payoff}


@register
class Satisficer(Strategy):
    """``satisficer`` (``target_rank`` ``k``): keeps its effort while its rank on the board it sees is ``k`` or
    better; otherwise plays the best response (Simon 1955's satisficing)."""

    name = "satisficer"
    parameters = MappingProxyType({
        "target_rank": Parameter(1.0, 1e6, 1.0, "worst rank it is content with", integer=True),
    })  # fmt: skip

    def choose(self, d):
        content = _row_ranks(d) <= d.params["target_rank"]
        return np.where(content, d.current, _best(d)), {}
