"""The stabilising threshold by bracketing on log-spaced ``tau`` and bisecting the last change, all pairs at
once (Lemma 5.2, Proposition 5.3).
"""

from __future__ import annotations

import numpy as np

from sim.game import LeaderboardGame
from sim.theory.pairs import SATURATION_ULPS, _pairs
from sim.theory.stabilising import StabilisingThreshold
from sim.theory.zero import _pairs_hold, _pairs_round_off


def _threshold_bisection(
    game: LeaderboardGame, tau_max: float, per_decade: int, fallback: bool
) -> StabilisingThreshold:
    unit = float(getattr(game.score, "effort_unit", 1.0))
    low = min(1e-9 * unit, tau_max * 1e-3)
    decades = np.log10(tau_max) - np.log10(low)
    taus = np.concatenate([[0.0], np.geomspace(low, tau_max, max(int(decades * per_decade), 2) + 1)])
    holds, undetermined = _pairs_round_off(game, taus[:, None])  # (levels, pairs)
    resolvable = _pair_resolvable(game, taus)  # (levels, pairs)
    pairs = game.n - 1
    per_pair = np.zeros(pairs)
    notes = []
    vouched = not fallback
    if fallback:
        notes.append("too many grid levels to enumerate; sampled search on the sawtooth cannot be vouched for")
    lo, hi = np.zeros(pairs), np.zeros(pairs)
    bisect = np.zeros(pairs, dtype=bool)
    beyond = np.inf
    for k in range(pairs):
        # Only the levels before the pair's scores saturate in doubles can be judged.
        unresolvable = np.flatnonzero(~resolvable[:, k])
        end = int(unresolvable[0]) if unresolvable.size else taus.size
        if end == 0:  # saturated from the start (a constant score, say): judge all, vouch for nothing
            end, vouched = taus.size, False
            notes.append(f"pair {k + 1}: scores are within float round-off of their limits at every tau")
        elif end < taus.size:
            notes.append(
                f"pair {k + 1}: scores are within float round-off of their limits from tau = {taus[end]:.6g} on; "
                "larger tau cannot be resolved in double precision"
            )
        # ... and before round-off starts to decide its condition (docs/model.md#what-is-exact).
        decided = np.flatnonzero(undetermined[:end, k])
        end = int(decided[0]) if decided.size else end
        if end < taus.size and (end == 0 or not holds[end - 1, k]):
            # It fails where it can last be judged: whether it ever holds for good is up to round-off.
            per_pair[k], vouched = np.nan, False
            beyond = min(beyond, taus[end])
            notes.append(f"pair {k + 1}: undetermined in double precision beyond tau = {taus[end]:.6g}")
            continue
        if decided.size:
            notes.append(f"pair {k + 1}: round-off decides the condition from tau = {taus[end]:.6g} on")
        fails = ~holds[:end, k]
        if not fails.any():
            continue
        last = int(np.flatnonzero(fails)[-1])
        if not fails[: last + 1].all():
            vouched = False
            first_hold = int(np.flatnonzero(~fails)[0])
            notes.append(
                f"pair {k + 1}: condition not monotone in tau (holds at tau={taus[first_hold]:.6g}, "
                f"fails again at tau={taus[last]:.6g})"
            )
        if last == end - 1:
            per_pair[k] = np.inf
            bound = "tau_max" if end == taus.size else "tau"
            notes.append(f"pair {k + 1}: the condition still fails at {bound} = {taus[end - 1]:.6g}")
            continue
        lo[k], hi[k], bisect[k] = taus[last], taus[last + 1], True
    # Bisect every bracketed pair at once; invariant: fails at lo, holds at hi.
    for _ in range(200):
        mid = np.where(bisect, 0.5 * (lo + hi), 0.0)
        active = bisect & (lo < mid) & (mid < hi)
        if not active.any():
            break
        ok = _pairs_hold(game, mid)
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid, lo)
    per_pair = np.where(bisect, hi, per_pair)
    if np.any(np.isposinf(per_pair)):
        beyond = np.inf  # a pair that never stabilises decides tau*: nothing is undetermined
    beyond = float(beyond) if np.isfinite(beyond) else float("nan")
    return StabilisingThreshold(per_pair, vouched, "bisection", tau_max, "; ".join(notes), beyond)


def _pair_resolvable(game: LeaderboardGame, taus: np.ndarray) -> np.ndarray:
    """Whether doubles can resolve pair ``k`` at each level: bool array ``taus.shape + (n - 1,)``.

    Not where the rival's baseline sits within :data:`SATURATION_ULPS` ulps of
    its own limit (its score has stopped moving in doubles) or of the
    challenger's limit (reachability of the target is decided by round-off).
    """
    strong, weak = _pairs(game)
    rival = game.score[strong].score(np.broadcast_to(taus[:, None], taus.shape + strong.shape))
    limit = np.broadcast_to(np.asarray(game.score.limit(), dtype=float), (game.n,))

    def near(x, lim):
        return np.abs(lim - x) <= SATURATION_ULPS * np.spacing(np.abs(lim))

    return ~(near(rival, limit[strong]) | near(rival, limit[weak]))
