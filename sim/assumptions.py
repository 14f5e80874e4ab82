"""Numerical check of the paper's assumptions (Assumptions 4.1 and 4.2 of Chen et al. 2026).

* Cost (4.1): ``c(0) = 0``, non-decreasing, convex, unbounded; and whether it
  is *strictly* increasing, which Proposition 4.3 and Theorem 4.6 need (a
  public reproduction found non-zero, even rank-inverting, equilibria with a
  flat-then-quadratic cost).
* C1: ``f`` strictly increasing in ``theta`` at every fixed effort.
* C2: ``f`` non-decreasing and concave in effort, with a finite limit.
  (The generalised power law with ``beta > 1`` is convex at low scores: its
  second derivative in effort has the sign of ``(1 - 2y) * beta - 1``.)
* C3: ``E(theta_low, s) - E(theta_high, s)`` non-decreasing in ``s`` for
  every pair ``theta_low < theta_high``.

Each check samples effort or score levels on a wide grid (log-spaced and
linear, so both small and very large efforts are seen) and compares with a
stated tolerance: a relative ``RTOL = 1e-9`` of the quantity's scale, plus
the round-off a finite difference of doubles carries (slopes), and C1 is not
judged for equal scores within ``SATURATION_RTOL`` of their limits (doubles
cannot order near-equal capabilities there).  A failure says *where*: which
developers, at which effort or score.

See ``docs/model.md#assumptions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import ScenarioError
from sim.game import LeaderboardGame
from sim.scores import CUSTOM_MAX_EFFORT, CustomScore

#: Relative tolerance of every numerical assumption check.
RTOL = 1e-9
#: Machine epsilon of doubles; slope checks allow this much round-off per score.
EPS = float(np.finfo(float).eps)
#: C1 does not count equal scores where they lie within this (relative) distance of their limits.
SATURATION_RTOL = 1e-9


@dataclass(frozen=True)
class AssumptionResult:
    """One assumption: its name, whether it holds on the sampled grid, and where it fails."""

    name: str
    holds: bool
    where: str = ""
    description: str = ""


@dataclass(frozen=True)
class AssumptionReport:
    """All assumption checks for one game."""

    results: tuple[AssumptionResult, ...] = field(default_factory=tuple)

    @property
    def holds(self) -> bool:
        return all(r.holds for r in self.results)

    @property
    def failures(self) -> tuple[AssumptionResult, ...]:
        return tuple(r for r in self.results if not r.holds)

    def __getitem__(self, name: str) -> AssumptionResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def as_dict(self) -> dict:
        return {r.name: {"holds": r.holds, "where": r.where, "description": r.description} for r in self.results}


def effort_grid(scale: float = 1.0, points: int = 600) -> np.ndarray:
    """Sample efforts: ``0``, a linear grid on ``[0, 20 * scale]``, a log grid on ``[1e-8, 1e12] * scale``."""
    grid = np.concatenate([[0.0], np.linspace(0, 20 * scale, points), scale * np.geomspace(1e-8, 1e12, points)])
    return np.unique(grid)


def _first_run(mask: np.ndarray) -> tuple[int, int]:
    """First and last index of the first run of ``True`` in ``mask``."""
    start = int(np.flatnonzero(mask)[0])
    rest = np.flatnonzero(~mask[start:])
    end = start + (int(rest[0]) - 1 if rest.size else mask.size - start - 1)
    return start, end


def check_cost(cost, efforts: np.ndarray | None = None) -> list[AssumptionResult]:
    """Assumption 4.1 on a grid of efforts, plus strict monotonicity."""
    x = effort_grid() if efforts is None else np.asarray(efforts, dtype=float)
    c = np.asarray(cost(x), dtype=float)
    # Tolerances are local: relative to the cost (or slope) at the points compared, plus round-off.
    local = np.maximum(np.maximum(np.abs(c[:-1]), np.abs(c[1:])), 1.0)
    results = []
    c0 = float(cost(np.array(0.0)))
    results.append(
        AssumptionResult(
            "cost zero at zero", abs(c0) <= RTOL, "" if abs(c0) <= RTOL else f"c(0) = {c0:.6g}", "c(0) = 0"
        )
    )
    dc = np.diff(c)
    dec = dc < -RTOL * local
    where = ""
    if dec.any():
        a, b = _first_run(dec)
        where = (
            f"c decreases on [{x[a]:.6g}, {x[b + 1]:.6g}] "
            f"(c({x[a]:.6g}) = {c[a]:.6g} > c({x[b + 1]:.6g}) = {c[b + 1]:.6g})"
        )
    results.append(AssumptionResult("cost non-decreasing", not dec.any(), where, "c non-decreasing in effort"))
    dx = np.diff(x)
    slopes = dc / dx
    slope_local = np.maximum(np.abs(slopes[:-1]), np.abs(slopes[1:]))
    noise = 4 * EPS * np.maximum(local[:-1], local[1:]) / np.minimum(dx[:-1], dx[1:])
    concave_bits = np.diff(slopes) < -(RTOL * slope_local + noise)
    where = ""
    if concave_bits.any():
        a, b = _first_run(concave_bits)
        where = f"slope of c falls between efforts {x[a]:.6g} and {x[b + 2]:.6g}"
    results.append(AssumptionResult("cost convex", not concave_bits.any(), where, "c convex in effort"))
    flat = dc <= 0
    where = ""
    if flat.any():
        a, b = _first_run(flat)
        end = x[b + 1]
        if b + 2 < x.size:  # bisect for where c starts to rise again
            lo, hi = x[b + 1], x[b + 2]
            for _ in range(100):
                mid = 0.5 * (lo + hi)
                if not lo < mid < hi:
                    break
                lo, hi = (mid, hi) if float(cost(np.array(mid))) <= c[a] else (lo, mid)
            end = lo
        verb = "is constant" if np.all(dc[a : b + 1] == 0) else "does not increase"
        where = f"c {verb} on [{x[a]:.6g}, {end:.6g}] (c = {c[a]:.6g}): not strictly increasing"
    results.append(
        AssumptionResult(
            "cost strictly increasing",
            not flat.any(),
            where,
            "c strictly increasing (needed by Proposition 4.3 and Theorem 4.6)",
        )
    )
    # A convex non-decreasing function is bounded only if it is eventually constant.
    half = c[np.searchsorted(x, x[-1] / 2)]
    unbounded = bool(np.isposinf(c[-1]) or c[-1] > half * (1 + RTOL) + RTOL)
    results.append(
        AssumptionResult(
            "cost unbounded",
            unbounded,
            "" if unbounded else f"c stops growing by effort {x[-1]:.6g}",
            "c(x) -> infinity",
        )
    )
    return results


def check_c1(game: LeaderboardGame, efforts: np.ndarray) -> AssumptionResult:
    """C1: at every sampled effort the scores are strictly increasing in capability.

    Checked between developers adjacent in capability (strict increase is
    transitive).  At zero effort equal scores fail.  At positive effort a
    score *below* the weaker one's (beyond round-off) fails anywhere, while
    equal scores fail only where both are farther than ``SATURATION_RTOL``
    (relative) from their limits: closer than that, near-equal capabilities
    may round to the same double although the model orders them.
    """
    order = np.argsort(game.theta, kind="stable")
    theta = game.theta[order]
    fam = game.score[order]
    scores = fam.score(np.broadcast_to(efforts[:, None], (efforts.size, game.n)))  # (effort, dev ascending theta)
    distinct = np.diff(theta) > 0
    limit = np.broadcast_to(np.asarray(fam.limit(), dtype=float), (game.n,))
    scale = np.maximum(np.abs(limit), 1.0)
    resolvable = (limit[None, :] - scores) > SATURATION_RTOL * scale[None, :]
    diff = np.diff(scores, axis=1)
    noise = 4 * EPS * np.maximum(np.abs(scores[:, :-1]), np.abs(scores[:, 1:]))
    reversed_ = diff < -noise
    equal = (diff <= 0) & ((efforts == 0)[:, None] | (resolvable[:, :-1] & resolvable[:, 1:]))
    bad = (reversed_ | equal) & distinct[None, :]
    where = ""
    if bad.any():
        e_idx, pair = np.argwhere(bad)[0]
        low, high = order[pair], order[pair + 1]
        where = (
            f"developer {high} (theta={game.theta[high]:.6g}) does not score above developer {low} "
            f"(theta={game.theta[low]:.6g}) at effort {efforts[e_idx]:.6g}: "
            f"{scores[e_idx, pair + 1]:.10g} <= {scores[e_idx, pair]:.10g}"
        )
    return AssumptionResult("C1", not bad.any(), where, "f strictly increasing in capability at fixed effort")


def check_c2(game: LeaderboardGame, efforts: np.ndarray) -> list[AssumptionResult]:
    """C2: non-decreasing and concave in effort, with a finite limit, developer by developer."""
    scores = game.score.score(np.broadcast_to(efforts[:, None], (efforts.size, game.n)))  # (effort, dev)
    span = np.maximum(1.0, np.abs(scores).max(axis=0))
    ds = np.diff(scores, axis=0)
    dec = ds < -RTOL * span
    where = ""
    if dec.any():
        e_idx, dev = np.argwhere(dec)[0]
        where = f"developer {dev}: score falls between efforts {efforts[e_idx]:.6g} and {efforts[e_idx + 1]:.6g}"
    monotone = AssumptionResult("C2 non-decreasing", not dec.any(), where, "f non-decreasing in effort")
    dx = np.diff(efforts)[:, None]
    slopes = ds / dx
    slope_scale = np.maximum(np.abs(slopes).max(axis=0), 1e-300)
    # Round-off in a slope is about 2 ulps of the score over the step; allow it on both slopes.
    noise = 4 * EPS * span / np.minimum(dx[:-1], dx[1:])
    convex = np.diff(slopes, axis=0) > RTOL * slope_scale + noise
    where = ""
    if convex.any():
        dev = int(np.argwhere(convex)[0][1])
        a, b = _first_run(convex[:, dev])
        where = (
            f"developer {dev} (theta={game.theta[dev]:.6g}): score is convex in effort on "
            f"[{efforts[a]:.6g}, {efforts[b + 2]:.6g}] (scores {scores[a, dev]:.6g} to {scores[b + 2, dev]:.6g})"
        )
    concave = AssumptionResult("C2 concave", not convex.any(), where, "f concave in effort (diminishing returns)")
    limit = np.asarray(game.score.limit(), dtype=float)
    finite = np.isfinite(limit)
    where = "" if finite.all() else f"developers {np.flatnonzero(~finite).tolist()} have no finite limit"
    if isinstance(game.score, CustomScore) and game.score.limit_function is None:
        # No declared limit: look for growth over the last three decades of effort.
        far = game.score.score(np.full((2, game.n), [[CUSTOM_MAX_EFFORT / 1e3], [CUSTOM_MAX_EFFORT]]))
        growth = far[1] - far[0]
        still = growth > 1e-6 * np.maximum(np.abs(far[1] - scores[0]), 1e-300)
        if still.any():
            finite &= ~still
            dev = int(np.flatnonzero(still)[0])
            where = (
                f"developer {dev}: score still grows by {growth[dev]:.6g} between efforts "
                f"{CUSTOM_MAX_EFFORT / 1e3:.3g} and {CUSTOM_MAX_EFFORT:.3g}; no finite limit in sight"
            )
    bounded = AssumptionResult("C2 finite limit", bool(finite.all()), where, "f(theta, e) has a finite limit")
    return [monotone, concave, bounded]


def check_c3(game: LeaderboardGame, levels: int = 400) -> AssumptionResult:
    """C3: the stronger model's effort advantage ``E(theta_low, s) - E(theta_high, s)`` is non-decreasing in ``s``.

    Checked for developers adjacent in capability, which covers every pair:
    for ``theta_1 < theta_2 < theta_3`` the advantage of 3 over 1 is the sum
    of the adjacent advantages, and a sum of non-decreasing functions is
    non-decreasing (where C1 holds, the limits grow with capability, so the
    intermediate efforts are finite wherever the outer ones are).  Target
    scores run from the lower of the pair's zero-effort scores to just below
    the lower of their limits, linearly and geometrically close to the limit.
    The tolerance is relative (``RTOL``) plus the round-off of the two
    efforts, including the relative accuracy of a custom family's inverse.
    """
    order = np.argsort(game.theta, kind="stable")
    low, high = order[:-1], order[1:]
    keep = game.theta[high] > game.theta[low]
    low, high = low[keep], high[keep]
    zero = np.broadcast_to(game.score.zero_effort_score(), (game.n,))
    limit = np.broadcast_to(np.asarray(game.score.limit(), dtype=float), (game.n,))
    top = np.minimum(limit[low], limit[high])
    bottom = np.minimum(zero[low], zero[high])
    valid = np.isfinite(top) & np.isfinite(bottom) & (top > bottom)
    low, high, top, bottom = low[valid], high[valid], top[valid], bottom[valid]
    if low.size == 0:
        return AssumptionResult("C3", True, "", "effort advantage of the stronger model non-decreasing in the target")
    fractions = np.concatenate([np.linspace(0, 1, levels, endpoint=False), 1 - np.geomspace(1, 1e-10, levels)])
    fractions = np.unique(fractions[fractions < 1])
    width = (top - bottom)[:, None]
    s = np.minimum(bottom[:, None] + width * fractions[None, :], np.nextafter(top, -np.inf)[:, None])  # (pairs, lv)
    e_low = game.score[low][:, None].effort_to_reach(s)
    e_high = game.score[high][:, None].effort_to_reach(s)
    rtol = float(getattr(game.score, "rtol", 0.0))
    with np.errstate(invalid="ignore"):
        adv = e_low - e_high
        size = np.maximum(np.abs(adv), np.maximum(e_low, e_high))
        noise = (4 * EPS + 2 * rtol) * np.maximum(size[:, :-1], size[:, 1:])
        bound = np.maximum(np.maximum(np.abs(adv[:, :-1]), np.abs(adv[:, 1:])), 1e-12)
        falls = np.diff(adv, axis=1) < -(RTOL * bound + noise)
    finite = np.isfinite(e_low) & np.isfinite(e_high)
    falls &= finite[:, :-1] & finite[:, 1:]
    if falls.any():
        pair, k = (int(v) for v in np.argwhere(falls)[0])
        lo_id, hi_id = low[pair], high[pair]
        where = (
            f"developers {hi_id} (theta={game.theta[hi_id]:.6g}) over {lo_id} (theta={game.theta[lo_id]:.6g}): "
            f"effort advantage falls from {adv[pair, k]:.6g} at score {s[pair, k]:.6g} to {adv[pair, k + 1]:.6g} "
            f"at score {s[pair, k + 1]:.6g}"
        )
        return AssumptionResult("C3", False, where, "effort advantage of the stronger model non-decreasing")
    return AssumptionResult("C3", True, "", "effort advantage of the stronger model non-decreasing in the target")


#: Most developers :func:`check_assumptions` takes (time and memory grow with ``n`` times its grids: about
#: 0.6 ms and 60 kB per developer); beyond, a :class:`~sim.errors.ScenarioError` names the limit.
MAX_CHECK_DEVELOPERS = 10_000


def check_assumptions(game: LeaderboardGame, effort_scale: float | None = None) -> AssumptionReport:
    """Every assumption the theory needs, checked numerically for ``game`` (at most :data:`MAX_CHECK_DEVELOPERS`).

    ``effort_scale`` sets where the linear part of the effort grid lies
    (default: the power law's effort unit, else 1).
    """
    if game.n > MAX_CHECK_DEVELOPERS:
        raise ScenarioError(
            "developers", game.n,
            f"the assumption checks evaluate every developer on a grid of efforts and score levels: at most "
            f"{MAX_CHECK_DEVELOPERS:,} developers",
        )  # fmt: skip
    if effort_scale is None:
        effort_scale = float(getattr(game.score, "effort_unit", 1.0))
    efforts = effort_grid(effort_scale)
    results = check_cost(game.cost, efforts)
    results.append(check_c1(game, efforts))
    results.extend(check_c2(game, efforts))
    results.append(check_c3(game))
    return AssumptionReport(tuple(results))
