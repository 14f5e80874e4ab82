"""Compiled kernels of the built-in strategies (:mod:`sim.strategies.builtin`), vectorised over scenarios and rows.

* :func:`candidates`: every candidate of the best response (Definition 3.1) with its utility and rank, the
  values :meth:`BatchGame.respond(..., candidates=True) <sim.engine.batch_game.BatchGame.respond>` gives for
  the feasible ones (infeasible: effort ``inf``, utility ``-inf``), for the built-in score and cost families;
  built from :mod:`sim.kernel`'s board and candidate helpers (the same least efforts, cache and all).
* :func:`best_on_boards`: the best response, held at the current effort, of each row to a board of its own
  (``(S, m, n)``: fictitious play's beliefs), the operations of :func:`sim.kernel.respond_active` row by row.
* :func:`rank_defender_choose`: ``rank_defender``'s effort in one pass over the best response's candidates
  within reach.
* :func:`expected_reward`: ``E[r(rank)]`` under Gaussian evaluation noise (``expected_utility``'s numpy path).
* :func:`expected_utility_choose`: ``expected_utility``'s effort in one pass: candidates within reach, their
  expected utilities bracketed (:func:`_expected_bounds`) and integrated (:func:`_expected_total`, the same
  bits as :func:`expected_reward`) only where the choice needs it.
* :func:`hedge_choose`: Hedge's arms, payoff update and draw (``hedge``), any family.
* :func:`window_belief`: fictitious play's mean of the last ``W`` boards, any family.

Both engines call these for the same scenario, so their trajectories stay identical.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.kernel import (
    ROW_PARAMS,
    _best_row,
    _board,
    _board_entry,
    _candidate,
    _cost,
    _holds,
    _level,
    _prefetch_rival,
    _rank,
    _row_params,
    _score,
)

#: ``P(rival above) = 0.5 erfc(d)`` is taken as exactly 0 for ``d > EU_CUT_HIGH`` (``< 6e-30``) and is exactly 1
#: in double precision for ``d < EU_CUT_LOW``; such rivals need no quadrature.
EU_CUT_HIGH = 8.0
EU_CUT_LOW = -6.5

SQRT6 = math.sqrt(6.0)


@njit(cache=True, error_model="numpy")
def candidates(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline,
    evaluated, rows,
    c_target, c_effort, c_score, table_width, origin, table, least, least_width, least_row, least_origin,
    out_effort, out_utility, out_rank, out_score,
):  # fmt: skip
    """Candidate ``j`` of developer ``rows[s, r]``: zero effort (``j`` its own column) or the least effort that
    reaches rival ``j``'s target, into ``out_*[s, r, j]`` with the true score it reaches (effort ``inf``,
    utility ``-inf``, rank 0, score NaN where there is none: zero effort already reaches it, no finite effort
    does, or it exceeds the budget)."""
    S, n = evaluated.shape
    m = rows.shape[1]
    level, draw, beat = np.empty(n), np.empty(n), np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    for s in range(S):
        _board(s, evaluated, priority, resolution, least, least_width, least_row, least_origin, level, draw, beat,
               prio)
        delta = resolution[s]
        t = tau[s]
        for r in range(m):
            i = rows[s, r]
            lo, up, a, b = p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i]
            base = baseline[s, i]
            g = gamma[s, i]
            p = prio[i]
            for j in range(n):
                out_effort[s, r, j] = np.inf
                out_utility[s, r, j] = -np.inf
                out_rank[s, r, j] = 0
                out_score[s, r, j] = np.nan
                if j == i:
                    x, sc = 0.0, base
                    k = _rank(level, prio, i, _level(base, delta))
                else:
                    below = p > prio[j]
                    target = draw[j] if below else beat[j]
                    if not (target > base):
                        continue
                    target_level = level[j] + (0.0 if below else 1.0)
                    x, sc = _candidate(family, lo, up, a, b, unit, t, s, i, j, target, target_level, delta,
                                       c_target, c_effort, c_score, table_width, origin, table)  # fmt: skip
                    if not (np.isfinite(x) and x <= budget[s, i]):
                        continue
                    k = _rank(level, prio, i, _level(sc, delta))
                u = rewards[s, k - 1] - g * _cost(cost_kind, cost_scale, cost_param, x)
                if np.isfinite(u):
                    out_effort[s, r, j] = x
                    out_utility[s, r, j] = u
                    out_rank[s, r, j] = k
                    out_score[s, r, j] = sc


@njit(cache=True, error_model="numpy")
def best_on_boards(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    boards, rows, current,
    c_target, c_effort, c_score, table_width, origin, table, least, least_width, least_row, least_origin,
    out,
):  # fmt: skip
    """The best response of developer ``rows[s, r]`` to the board ``boards[s, r]`` (evaluated scores ``(n,)``),
    kept at ``current[s, r]`` when that is already one, into ``out[s, r]``: :func:`sim.kernel.respond_active`
    with ``hold`` for one row and its own board."""
    S, m, n = boards.shape
    level, draw, beat = np.empty(n), np.empty(n), np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    xs, ss, us = np.empty(n), np.empty(n), np.empty(n)
    ks = np.empty(n, dtype=np.int64)
    rival = np.empty(n + 1, dtype=np.int64)
    rp = np.empty(ROW_PARAMS)
    for s in range(S):
        delta = resolution[s]
        for j in range(n):
            prio[j] = priority[s, j]
        for r in range(m):
            # Rows with the same belief (bit for bit: fictitious play's beliefs agree whenever the rows have seen
            # the same boards with the same weights) share the board entries built for the previous row.
            same = r > 0
            if same:
                for j in range(n):
                    a, b = boards[s, r, j], boards[s, r - 1, j]
                    if not (a == b and math.copysign(1.0, a) == math.copysign(1.0, b)):
                        same = False
                        break
            if not same:
                for j in range(n):
                    _board_entry(s, j, boards[s, r, j], delta, least, least_width, least_row, least_origin, level,
                                 draw, beat)
            i = rows[s, r]
            cur = current[s, r]
            cur_score = _score(family, p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i], unit, tau[s] + cur)
            _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tolerance, reach,
                        budget)  # fmt: skip
            effort, _, best_u, _ = _best_row(
                rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                c_target, c_effort, c_score, table_width, origin, table,
                level, draw, beat, prio, rival, xs, ss, us, ks,
            )  # fmt: skip
            nxt = effort
            if cur != effort and _holds(
                rp, cost_kind, cost_scale, cost_param, s, i, rewards, level, prio, cur, cur_score, best_u
            ):
                nxt = cur  # the current effort is already a best response: held (as sequential_round)
            out[s, r] = nxt


@njit(cache=True, error_model="numpy")
def expected_reward(own, effort, cost, evaluated, rows, sigma, rewards, tolerance, nodes, weights, out):
    """``out[s, r, c] = sum_h weights[h] sum_k P(k rivals above | z_h) r_{k+1}`` for candidate ``c`` of developer
    ``rows[s, r]`` (effort ``effort[s, r, c]``, ``inf`` for none; own true score ``own``; cost ``cost``) against
    the evaluated board ``evaluated[s]`` with noise ``sigma[s] > 0``: ``P(j above | z) = 0.5 erfc((own + sigma z
    - e_j) / (2 sigma))``, independent given ``z``, the count Poisson-binomial by the convolution recursion
    (rivals certain to be above or below, see :data:`EU_CUT_HIGH`, shift the count without quadrature; with one
    uncertain rival the integral is closed: ``P(above) = 0.5 erfc((x - e_j) / (sigma sqrt 6))``); ``nodes``
    ascending.

    Candidates are taken by increasing effort; one whose best case (``r_1 - cost``, then ``r_{a+1} - cost`` with
    ``a`` the rivals certainly above) is below the best expected utility so far minus ``tolerance[s]`` can be
    neither the best nor within the tolerance of it, and gets
    ``-inf`` (as does a candidate without effort); a repeated effort copies the first's value."""
    S, m, c = own.shape
    n = evaluated.shape[1]
    H = nodes.size
    dist = np.empty(n + 1)
    uncertain = np.empty(n, dtype=np.int64)
    order = np.empty(c, dtype=np.int64)
    for s in range(S):
        sg = sigma[s]
        scale = 2.0 * sg
        tol = tolerance[s]
        for r in range(m):
            i = rows[s, r]
            # Candidates by increasing effort (insertion sort, stable).
            for k in range(c):
                order[k] = k
                q = k
                while q > 0 and effort[s, r, order[q - 1]] > effort[s, r, k]:
                    order[q] = order[q - 1]
                    q -= 1
                order[q] = k
            best = -np.inf
            for o in range(c):
                k = order[o]
                x = own[s, r, k]
                out[s, r, k] = -np.inf
                if not np.isfinite(effort[s, r, k]) or not (sg > 0.0):
                    continue
                if o > 0 and effort[s, r, order[o - 1]] == effort[s, r, k]:
                    out[s, r, k] = out[s, r, order[o - 1]]
                    continue
                if rewards[s, 0] - cost[s, r, k] < best - tol:
                    continue
                above = 0
                nu = 0
                for j in range(n):
                    if j == i:
                        continue
                    e = evaluated[s, j]
                    if (x + sg * nodes[0] - e) / scale > EU_CUT_HIGH:
                        continue  # below at every node
                    if (x + sg * nodes[H - 1] - e) / scale < EU_CUT_LOW:
                        above += 1  # above at every node
                        continue
                    uncertain[nu] = j
                    nu += 1
                if rewards[s, above] - cost[s, r, k] < best - tol:
                    continue  # even the best rank it can get (every uncertain rival below) does not pay
                if nu == 0:
                    total = rewards[s, above]
                elif nu == 1:  # closed form: the difference of the two evaluations is N(x - e_j, 3 sigma^2)
                    pa = 0.5 * math.erfc((x - evaluated[s, uncertain[0]]) / (sg * SQRT6))
                    total = rewards[s, above] * (1.0 - pa) + rewards[s, above + 1] * pa
                else:
                    total = 0.0
                    for h in range(H):
                        mine = x + sg * nodes[h]
                        dist[0] = 1.0
                        for q in range(1, nu + 1):
                            dist[q] = 0.0
                        for q in range(nu):
                            d = (mine - evaluated[s, uncertain[q]]) / scale
                            pa = 0.0 if d > EU_CUT_HIGH else 0.5 * math.erfc(d)
                            for kk in range(q + 1, 0, -1):
                                dist[kk] = dist[kk] * (1.0 - pa) + dist[kk - 1] * pa
                            dist[0] = dist[0] * (1.0 - pa)
                        er = 0.0
                        for q in range(nu + 1):
                            er += dist[q] * rewards[s, above + q]
                        total += weights[h] * er
                out[s, r, k] = total
                if total - cost[s, r, k] > best:
                    best = total - cost[s, r, k]


@njit(cache=True, error_model="numpy")
def hedge_choose(ce, cu, cr, payoff, eta, uniform, out):
    """Hedge for rows ``(s, r)``: arm ``k`` is the least candidate effort (``ce``, first column on ties) with
    rank ``cr <= k + 1``; every arm's utility ``cu`` (an unreachable arm: the worst reachable arm's) is added
    to ``payoff[s, r, k]`` in place; arm ``k`` is drawn with weight ``exp(eta (U_k - max U))`` over the
    reachable arms, by inverse CDF of ``uniform[s, r]``; its effort into ``out[s, r]``."""
    S, m, n = ce.shape
    arm_effort = np.empty(n)
    arm_utility = np.empty(n)
    arm_ok = np.empty(n, dtype=np.bool_)
    by_rank = np.empty(n, dtype=np.int64)
    for s in range(S):
        for r in range(m):
            # The least effort (first column on ties) at each rank, then arm k: the least at ranks 1..k+1.
            for k in range(n):
                by_rank[k] = -1
            for j in range(n):
                if np.isfinite(ce[s, r, j]):
                    q = cr[s, r, j] - 1
                    if by_rank[q] < 0 or ce[s, r, j] < ce[s, r, by_rank[q]] or (
                        ce[s, r, j] == ce[s, r, by_rank[q]] and j < by_rank[q]
                    ):
                        by_rank[q] = j
            worst = np.inf
            col = -1
            for k in range(n):
                c = by_rank[k]
                if c >= 0 and (col < 0 or ce[s, r, c] < ce[s, r, col] or (ce[s, r, c] == ce[s, r, col] and c < col)):
                    col = c
                arm_ok[k] = col >= 0
                if col >= 0:
                    arm_effort[k] = ce[s, r, col]
                    arm_utility[k] = cu[s, r, col]
                    if arm_utility[k] < worst:
                        worst = arm_utility[k]
            top = -np.inf
            for k in range(n):
                payoff[s, r, k] += arm_utility[k] if arm_ok[k] else worst
                if arm_ok[k] and payoff[s, r, k] > top:
                    top = payoff[s, r, k]
            total = 0.0
            for k in range(n):
                if arm_ok[k]:
                    total += np.exp(eta[s, r] * (payoff[s, r, k] - top))
                arm_utility[k] = total  # the cumulative weights, in place
            threshold = uniform[s, r] * total
            chosen = -1
            for k in range(n):
                if arm_ok[k] and arm_utility[k] > threshold:
                    chosen = k
                    break
            if chosen < 0:  # round-off at the top of the CDF: the last reachable arm
                for k in range(n):
                    if arm_ok[k]:
                        chosen = k
            out[s, r] = arm_effort[chosen]


@njit(cache=True, error_model="numpy")
def window_belief(history, count, seen, window, out):
    """Fictitious play's window: board ``seen[s]`` stored in ``history[s, r]`` (a ring of ``W`` boards, slot
    ``(count - 1) mod W``; ``count[s, r]`` boards seen, this one included), and ``out[s, r]`` the mean of the last
    ``min(count, window[s, r])`` boards, summed newest first."""
    S, m, W, n = history.shape
    for s in range(S):
        for r in range(m):
            c = count[s, r]
            slot = int((c - 1.0) % W)
            for j in range(n):
                history[s, r, slot, j] = seen[s, j]
            span = min(c, window[s, r]) if window[s, r] == window[s, r] else 1.0
            k = int(span)
            for j in range(n):
                total = 0.0
                for a in range(k):
                    total += history[s, r, (slot - a) % W, j]
                out[s, r, j] = total / span


@njit(cache=True, error_model="numpy")
def rank_defender_choose(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    evaluated, rows,
    c_target, c_effort, c_score, table_width, origin, table, least, least_width, least_row, least_origin,
    out,
):  # fmt: skip
    """``rank_defender``'s effort for developer ``rows[s, r]`` into ``out[s, r]``, in one pass over its candidates.

    With ``R`` its rank on the board (published levels, ties by priority, then by id as
    :func:`sim.leaderboard.ranks`' stable sort), ``BR`` its best response (:func:`sim.kernel.rows._best_row`:
    the smallest effort within the tolerance of the best utility) at rank ``k_BR``: ``BR`` when ``k_BR >= R``,
    else the least candidate effort ranking it ``R`` or better.

    The candidates are the best response's, those within the developer's reach (:meth:`BatchGame.reach
    <sim.engine.batch_game.BatchGame.reach>`), not every candidate as the numpy path
    (:meth:`RankDefender.choose <sim.strategies.builtin.RankDefender.choose>`) takes them, with the same
    result: a target above the reach ``f(theta_i, tau + X_i)`` needs an effort ``x > X_i`` whose utility is
    below zero effort's (``gamma_i (c(x) - c(0)) > r_1 - r_n``), so it is never the best response; and when
    the best response climbs (``k_BR < R``) it ranks ``R`` or better itself, so the least such effort is at
    most ``BR <= X_i < x``.  Skipping them spares a least-effort search whenever a rival beyond reach moves.
    """
    S, n = evaluated.shape
    m = rows.shape[1]
    level, draw, beat = np.empty(n), np.empty(n), np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    xs, ss, us = np.empty(n), np.empty(n), np.empty(n)
    ks = np.empty(n, dtype=np.int64)
    rival = np.empty(n + 1, dtype=np.int64)
    rp = np.empty(ROW_PARAMS)
    for s in range(S):
        _board(s, evaluated, priority, resolution, least, least_width, least_row, least_origin, level, draw, beat,
               prio)
        delta = resolution[s]
        for r in range(m):
            i = rows[s, r]
            # Its rank on the board it sees (sim.leaderboard.ranks: level, then priority, then id, descending).
            li, p = level[i], prio[i]
            rank = 1
            for j in range(n):
                rank += (level[j] > li) | ((level[j] == li) & ((prio[j] > p) | ((prio[j] == p) & (j < i))))
            _row_params(rp, s, i, p_lower, p_upper, p_a, p_b, tau, resolution, baseline, gamma, tolerance, reach,
                        budget)  # fmt: skip
            for c in range(n):
                xs[c] = np.inf  # the candidates _best_row keeps fill a prefix; the rest stays inf
            best_x, _, _, best_rank = _best_row(
                rp, family, unit, cost_kind, cost_scale, cost_param, s, i, rewards,
                c_target, c_effort, c_score, table_width, origin, table,
                level, draw, beat, prio, rival, xs, ss, us, ks,
            )  # fmt: skip
            if best_rank < rank:  # it would climb: the least candidate effort that keeps rank R or better
                held = best_x
                if _rank(level, prio, i, _level(baseline[s, i], delta)) <= rank:
                    held = 0.0
                for c in range(n):
                    if xs[c] < held and ks[c] <= rank:
                        held = xs[c]
                best_x = held
            out[s, r] = best_x


@njit(cache=True, error_model="numpy", inline="always")
def _expected_total(x, sg, s, evaluated, rewards, above, nu, uncertain, nodes, weights, dist):
    """``E[r]`` of a candidate with own true score ``x`` and ``above`` rivals certainly above, ``nu`` uncertain
    ones (``uncertain[:nu]``): :func:`expected_reward`'s sum, bit for bit, with two exact shortcuts per node.

    A rival with ``d < EU_CUT_LOW`` has ``0.5 erfc(d) == 1.0`` exactly in double precision (the test suite
    checks it), and the recursion's update ``dist[k] (1 - 1) + dist[k-1] 1`` is then an exact shift: it is
    done as a shift, without ``erfc``.  The recursion runs over the support ``[lo, hi]`` of ``dist`` only:
    outside it the entries are exact zeros that the update leaves zero, and the reward sum's terms there add
    ``+-0`` to a sum that is never ``-0`` (it starts at ``+0``), which changes nothing."""
    H = nodes.size
    scale = 2.0 * sg
    if nu == 0:
        return rewards[s, above]
    if nu == 1:  # closed form: the difference of the two evaluations is N(x - e_j, 3 sigma^2)
        pa = 0.5 * math.erfc((x - evaluated[s, uncertain[0]]) / (sg * SQRT6))
        return rewards[s, above] * (1.0 - pa) + rewards[s, above + 1] * pa
    total = 0.0
    for h in range(H):
        mine = x + sg * nodes[h]
        dist[0] = 1.0
        for q in range(1, nu + 1):
            dist[q] = 0.0
        lo = 0
        hi = 0
        for q in range(nu):
            d = (mine - evaluated[s, uncertain[q]]) / scale
            if d > EU_CUT_HIGH:
                continue  # pa = 0: the update leaves dist as it is
            if d < EU_CUT_LOW:  # pa = 1: a shift by one
                for kk in range(hi + 1, lo, -1):
                    dist[kk] = dist[kk - 1]
                dist[lo] = 0.0
                lo += 1
                hi += 1
                continue
            pa = 0.5 * math.erfc(d)
            for kk in range(hi + 1, lo, -1):
                dist[kk] = dist[kk] * (1.0 - pa) + dist[kk - 1] * pa
            dist[lo] = dist[lo] * (1.0 - pa)
            hi += 1
        er = 0.0
        for q in range(lo, hi + 1):
            er += dist[q] * rewards[s, above + q]
        total += weights[h] * er
    return total


#: Points per unit of ``d`` of the tables of bounds on ``P(rival above) = 0.5 erfc(d)`` (:func:`pa_tables`),
#: from :data:`EU_CUT_LOW` to :data:`EU_CUT_HIGH`.
EU_TABLE_STEPS = 256

#: Relative amount by which the tables' entries are moved off ``0.5 erfc(d)`` at their points (down for the
#: lower bounds, up for the upper ones), so that they stay bounds whatever the round-off of ``erfc`` (at most
#: a few units in the last place).
EU_TABLE_SHAVE = 1e-12


#: Entries added at each end of the tables (:func:`pa_tables`): indices past the cuts read ``P = 1`` below
#: (upper bounds) and ``P = 0`` above (lower bounds).
EU_TABLE_PAD = 8


def pa_tables() -> np.ndarray:
    """``(2, K + 2 EU_TABLE_PAD)``: at ``d_k = EU_CUT_LOW + k / EU_TABLE_STEPS`` (exact binary fractions), ``k = 0
    .. K - 1``, ``K = (EU_CUT_HIGH - EU_CUT_LOW) EU_TABLE_STEPS + 3``, stored at ``k + EU_TABLE_PAD``: row 0
    ``0.5 erfc(d_k) (1 - EU_TABLE_SHAVE)``, a lower bound on ``0.5 erfc(d)`` for every ``d <= d_k``; row 1
    ``min(1, 0.5 erfc(d_k) (1 + EU_TABLE_SHAVE))``, an upper bound for every ``d >= d_k`` (``erfc``
    decreases).  The padding: row 0 ``0`` past the top, row 1 ``1`` below the bottom (bounds whatever ``d``;
    row 0's bottom and row 1's top padding repeat the end values); row 0 is ``0`` at the points past
    ``EU_CUT_HIGH`` too, where the sum takes ``P = 0``.  Read by
    :func:`_expected_bounds`."""
    k = np.arange(int((EU_CUT_HIGH - EU_CUT_LOW) * EU_TABLE_STEPS) + 3)
    d = EU_CUT_LOW + k / EU_TABLE_STEPS
    pa = np.array([0.5 * math.erfc(v) for v in d])
    floor = np.where(d > EU_CUT_HIGH, 0.0, pa * (1.0 - EU_TABLE_SHAVE))
    low = np.pad(floor, EU_TABLE_PAD, constant_values=(floor[0], 0.0))
    high = np.pad(np.minimum(pa * (1.0 + EU_TABLE_SHAVE), 1.0), EU_TABLE_PAD, constant_values=(1.0, pa[-1]))
    return np.ascontiguousarray(np.stack([low, high]))


#: Nodes with ``|z| <= EU_BOUND_Z`` enter :func:`_expected_bounds`' recursion; the others (weight ``1.1e-3`` of
#: 16) are bounded by the best and worst ranks, ``r_{a+1}`` and ``r_{a+nu+1}``.
EU_BOUND_Z = 3.0


@njit(cache=True, error_model="numpy", inline="always")
def _expected_bounds(x, sg, s, evaluated, rewards, above, nu, uncertain, nodes, weights, central, work, p, tables):
    """Lower and upper bounds on :func:`_expected_total` (``nu >= 2`` uncertain rivals) without ``erfc``.

    At the nodes ``central`` (``|z_h| <= EU_BOUND_Z``) the same recursion with each ``P(rival above | z_h) =
    0.5 erfc(d)`` replaced by the tables' values (:func:`pa_tables`) two points above ``d`` (a lower bound on
    it, for the upper bound on ``E[r]``) and one point below (an upper bound, for the lower bound); two and
    one points, so that the round-off of the index (``(d - EU_CUT_LOW) EU_TABLE_STEPS``, computed as ``((x -
    e) / 2 sigma - EU_CUT_LOW) EU_TABLE_STEPS + z_h EU_TABLE_STEPS / 2``, off by less than ``1e-9``) cannot
    pick the wrong side.  Past the cuts the tables read ``P = 1`` (below) or ``0`` (above) for the bound on
    that side; the other side's bound reads ``0.5 erfc(d_k)`` at a point within the cuts, between ``0`` and
    ``1`` as a bound must be.  At the other nodes the term lies between ``r_{a+nu+1}`` and ``r_{a+1}`` (the
    count's distribution sums to one).  The recursion runs rival by rival over all central nodes and both
    bounds at once (lanes ``l < C`` the upper bound's, ``C + l`` the lower bound's; ``work`` ``(n + 1, 2 C)``,
    ``p`` ``(2 C,)``).

    Why they bound: given ``z`` the count of rivals above is a sum of independent Bernoulli variables, and
    lowering any one's probability makes the count stochastically smaller; the rewards do not increase with
    rank, so ``sum_k P(k above) r_{a+k+1}`` does not decrease; each node's term is bounded, and so is their
    weighted sum.  The tables' ``EU_TABLE_SHAVE`` and the caller's margin (twice the tolerance, ``1e-9``
    relative to the rewards, against round-off of order ``1e-15``) cover the round-off of both computations.
    Typically the bounds are ``1e-3`` apart (rewards of order 1)."""
    C = central.size
    L = 2 * C
    top = tables.shape[1] - 2.0 * EU_TABLE_PAD + 5.0  # the last point K - 1, plus 6: reads the padding
    for lane in range(L):
        work[0, lane] = 1.0
    for q in range(nu):
        for lane in range(L):
            work[q + 1, lane] = 0.0
        base = ((x - evaluated[s, uncertain[q]]) / (2.0 * sg) - EU_CUT_LOW) * EU_TABLE_STEPS
        for c in range(C):
            v = min(max(base + nodes[central[c]] * (0.5 * EU_TABLE_STEPS), -2.0), top) + EU_TABLE_PAD
            k = int(v)
            p[c] = tables[0, k + 2]
            p[C + c] = tables[1, k - 1]
        for kk in range(q + 1, 0, -1):
            for lane in range(L):
                work[kk, lane] = work[kk, lane] * (1.0 - p[lane]) + work[kk - 1, lane] * p[lane]
        for lane in range(L):
            work[0, lane] = work[0, lane] * (1.0 - p[lane])
    lower = 0.0
    upper = 0.0
    c = 0
    for h in range(nodes.size):
        if c < C and central[c] == h:
            er_up = 0.0
            er_down = 0.0
            for q in range(nu + 1):
                er_up += work[q, c] * rewards[s, above + q]
                er_down += work[q, C + c] * rewards[s, above + q]
            c += 1
        else:
            er_up = rewards[s, above]
            er_down = rewards[s, above + nu]
        upper += weights[h] * er_up
        lower += weights[h] * er_down
    return lower, upper


@njit(cache=True, error_model="numpy")
def expected_utility_choose(
    family, p_lower, p_upper, p_a, p_b, unit,
    cost_kind, cost_scale, cost_param,
    tau, resolution, rewards, gamma, priority, budget, baseline, reach, tolerance,
    evaluated, rows, current, sigma, nodes, weights, pa_table,
    c_target, c_effort, c_score, table_width, origin, table, least, least_width, least_row, least_origin,
    out,
):  # fmt: skip
    """``expected_utility``'s effort for developer ``rows[s, r]`` into ``out[s, r]`` (scenarios with ``sigma[s] >
    0``; the others are left alone), in one compiled pass: its candidates, their expected rewards and the choice.

    The same efforts as :meth:`ExpectedUtility.choose <sim.strategies.builtin.ExpectedUtility.choose>` over
    :func:`candidates` and :func:`expected_reward` (the numpy path; the tests compare them): the choice is the
    current effort if its expected utility ``E[r] - gamma_i c(x)`` is within the tolerance of the best, else
    the least candidate effort that is, and it depends only on the exact values of the candidates within the
    tolerance of the best (and of the best), which are computed with the same operations
    (:func:`_expected_total`).  Two things differ, neither of which changes a choice:

    * The candidates are those of the best response within the developer's reach (:meth:`BatchGame.reach
      <sim.engine.batch_game.BatchGame.reach>`), not every one: a target above the reach needs an effort
      ``x > X_i``, so ``gamma_i (c(x) - c(0)) > r_1 - r_n`` and its expected utility is below
      ``r_n - gamma_i c(0)``, at most zero effort's (``E[r] >= r_n``): it is not the best, and it is within
      the tolerance of the best only when zero effort is too, which is then the least.
    * Which candidates are integrated.  Each distinct candidate effort's expected utility ``u`` is bracketed,
      ever more tightly: by the best and worst ranks (``r_{a+1} - cost`` and ``r_{a+nu+1} - cost``, with ``a``
      the rivals certainly above and ``nu`` the uncertain ones), then by :func:`_expected_bounds`, then by
      its exact value (:func:`_expected_total`).  With the leader the candidate of the largest upper bound,
      a candidate whose upper bound is below the leader's lower bound minus twice the tolerance has ``u``
      below the best minus the tolerance: it is neither the best nor within the tolerance of it.  The
      brackets are refined (the least refined first, the leader before the others at the same stage) until
      no other candidate is left against the leader, which is then the only effort within the tolerance
      of the best (chosen, or the current effort if that is the same effort, without integrating it), or
      until the leader and every candidate left are exact (then the choice is made from the exact values,
      as the numpy path makes it).  On the benchmark this integrates about one candidate in a thousand.
      The margin (a second tolerance, ``1e-9`` relative to the rewards) covers the round-off of the sums
      and bounds (of order ``1e-15``).  The numpy path prunes too (by ``r_{a+1} - cost`` against the best
      so far, in order of effort, without a margin), so the two choices could differ only where such a
      bound falls within round-off of the best minus the tolerance.
    """
    S, n = evaluated.shape
    m = rows.shape[1]
    c = n + 1
    level, draw, beat = np.empty(n), np.empty(n), np.empty(n)
    prio = np.empty(n, dtype=priority.dtype)
    eff, own, cost, util = np.empty(c), np.empty(c), np.empty(c), np.empty(c)
    order = np.empty(c, dtype=np.int64)
    queue = np.empty(c, dtype=np.int64)
    first = np.empty(c, dtype=np.int64)
    upper = np.empty(c)
    stage = np.empty(c, dtype=np.int64)
    above_of = np.empty(c, dtype=np.int64)
    nu_of = np.empty(c, dtype=np.int64)
    unc = np.empty((c, n), dtype=np.int64)
    lower = np.empty(c)
    dist = np.empty(n + 1)
    H = nodes.size
    central = np.flatnonzero(np.abs(nodes) <= EU_BOUND_Z)
    work, lanes = np.empty((n + 1, 2 * central.size)), np.empty(2 * central.size)
    for s in range(S):
        sg = sigma[s]
        if not (sg > 0.0):
            continue
        _board(s, evaluated, priority, resolution, least, least_width, least_row, least_origin, level, draw, beat,
               prio)
        delta = resolution[s]
        t = tau[s]
        tol = tolerance[s]
        scale = 2.0 * sg
        low_node, high_node = sg * nodes[0], sg * nodes[H - 1]
        # num / scale > EU_CUT_HIGH whenever num > cut_high_above, and not whenever num < cut_high_below (a
        # quotient rounds by less than 1e-16 relative); the same for EU_CUT_LOW (negative).
        cut_high_above, cut_high_below = EU_CUT_HIGH * scale * (1.0 + 1e-12), EU_CUT_HIGH * scale * (1.0 - 1e-12)
        cut_low_below, cut_low_above = EU_CUT_LOW * scale * (1.0 + 1e-12), EU_CUT_LOW * scale * (1.0 - 1e-12)
        for r in range(m):
            # A share of the next scenario's candidate-cache rows prefetched with each row, as respond_active.
            if s + 1 < S:
                for j in range(r * n // m, (r + 1) * n // m):
                    _prefetch_rival(s + 1, j, n, evaluated, resolution, c_target, c_effort, c_score, table_width,
                                    origin, table)
            i = rows[s, r]
            lo, up, a, b = p_lower[s, i], p_upper[s, i], p_a[s, i], p_b[s, i]
            base = baseline[s, i]
            g = gamma[s, i]
            p = prio[i]
            hi = reach[s, i]
            cap = budget[s, i]
            # The candidates: zero effort, the least effort reaching each rival's target within reach, and
            # (column n) the current effort; effort inf where there is none.
            for j in range(n):
                eff[j] = np.inf
                if j == i:
                    x, sc = 0.0, base
                else:
                    below = p > prio[j]
                    target = draw[j] if below else beat[j]
                    if not (target > base) or target > hi:
                        continue
                    target_level = level[j] + (0.0 if below else 1.0)
                    x, sc = _candidate(family, lo, up, a, b, unit, t, s, i, j, target, target_level, delta,
                                       c_target, c_effort, c_score, table_width, origin, table)  # fmt: skip
                    if not (np.isfinite(x) and x <= cap):
                        continue
                cx = g * _cost(cost_kind, cost_scale, cost_param, x)
                if np.isfinite(cx):
                    eff[j], own[j], cost[j] = x, sc, cx
            cur = current[s, r]
            eff[n] = cur if cur <= cap else np.inf
            own[n] = _score(family, lo, up, a, b, unit, t + cur)
            cost[n] = g * _cost(cost_kind, cost_scale, cost_param, cur)
            # By increasing effort (insertion sort, stable); a repeated effort (the same score, expected reward
            # and cost) is evaluated once, at its first place, and copied.
            for k in range(c):
                order[k] = k
                q = k
                while q > 0 and eff[order[q - 1]] > eff[k]:
                    order[q] = order[q - 1]
                    q -= 1
                order[q] = k
            live = 0
            for o in range(c):
                k = order[o]
                util[k] = -np.inf
                first[k] = k
                if not np.isfinite(eff[k]):
                    continue
                if o > 0 and eff[order[o - 1]] == eff[k]:
                    first[k] = first[order[o - 1]]
                    continue
                # Rivals below at every node ((x + sigma z_1 - e) / 2 sigma > EU_CUT_HIGH), above at every node
                # ((x + sigma z_H - e) / 2 sigma < EU_CUT_LOW), the rest uncertain: the same tests, the quotient
                # computed only where the numerator is within 1e-12 (relative) of the cut times 2 sigma, where
                # its rounding could decide (elsewhere the comparison of the numerator decides it alike).
                x = own[k]
                x_low = x + low_node
                x_high = x + high_node
                above = 0
                nu = 0
                for j in range(n):
                    if j == i:
                        continue
                    e = evaluated[s, j]
                    num = x_low - e
                    if num > cut_high_above or (num >= cut_high_below and num / scale > EU_CUT_HIGH):
                        continue  # below at every node
                    num = x_high - e
                    if num < cut_low_below or (num <= cut_low_above and num / scale < EU_CUT_LOW):
                        above += 1  # above at every node
                        continue
                    unc[k, nu] = j
                    nu += 1
                above_of[k] = above
                nu_of[k] = nu
                if nu <= 1:  # exact at once (at most one erfc)
                    util[k] = _expected_total(x, sg, s, evaluated, rewards, above, nu, unc[k], nodes, weights,
                                              dist) - cost[k]
                    lower[k] = util[k]
                    upper[k] = util[k]
                    stage[k] = 2
                else:  # every uncertain rival below, or above
                    upper[k] = rewards[s, above] - cost[k]
                    lower[k] = rewards[s, above + nu] - cost[k]
                    stage[k] = 0
                queue[live] = k
                live += 1
            # Refine bounds (the cheap ones above, then _expected_bounds', then the exact value) until the
            # candidate with the largest upper bound is certainly the only one within the tolerance of the best
            # (every other upper bound below its lower bound minus twice the tolerance), or it and every
            # candidate not excluded so are exact.  Least refined first, the leader before the others.
            rivals = False
            lead = queue[0]
            while True:
                lead = queue[0]
                for o in range(1, live):
                    if upper[queue[o]] > upper[lead]:
                        lead = queue[o]
                floor = lower[lead] - 2.0 * tol
                pick = lead if stage[lead] < 2 else -1
                rivals = False
                for o in range(live):
                    k = queue[o]
                    if k == lead or upper[k] < floor:
                        continue
                    rivals = True
                    if stage[k] < 2 and (pick < 0 or stage[k] < stage[pick]
                                         or (stage[k] == stage[pick] and pick != lead and upper[k] > upper[pick])):
                        pick = k
                if not rivals or pick < 0:
                    break
                k = pick
                if stage[k] == 0:
                    lo_k, up_k = _expected_bounds(own[k], sg, s, evaluated, rewards, above_of[k], nu_of[k], unc[k],
                                                  nodes, weights, central, work, lanes, pa_table)
                    lower[k] = lo_k - cost[k]
                    upper[k] = up_k - cost[k]
                    stage[k] = 1
                else:
                    util[k] = _expected_total(own[k], sg, s, evaluated, rewards, above_of[k], nu_of[k], unc[k],
                                              nodes, weights, dist) - cost[k]
                    lower[k] = util[k]
                    upper[k] = util[k]
                    stage[k] = 2
            if not rivals:  # the leader alone (with its repeats) is within the tolerance of the best
                for k in range(c):
                    util[k] = 0.0 if first[k] == lead else -np.inf
            else:  # the exact values decide; the rest are below the best minus the tolerance
                for k in range(c):
                    f = first[k]
                    util[k] = util[f] if np.isfinite(eff[f]) and stage[f] == 2 else -np.inf
            top = -np.inf
            for k in range(c):
                if util[k] > top:
                    top = util[k]
            chosen = np.inf
            for k in range(n):
                if util[k] >= top - tol and eff[k] < chosen:
                    chosen = eff[k]
            out[s, r] = cur if util[n] >= top - tol else chosen
