"""Small named functions that scenario files refer to by import path.

A scenario with ``[score] family = "custom"`` or ``[cost] family = "custom"``
names its function as ``"module.path:attribute"``, for example
``function = "sim.examples:shifted_exponential"``.  The functions here are
vectorised over numpy arrays and serve as ready-made examples and as the
counterexamples the tests and experiments use.

Score functions take ``(theta, e)`` (capability and *total* effort, arrays of
one shape) and return the score; limit functions take ``theta`` and return
``f(theta, inf)``.  Cost functions take the additional effort ``x >= 0``.
"""

from __future__ import annotations

import numpy as np


def shifted_exponential(theta, e) -> np.ndarray:
    """``f(theta, e) = 1 - exp(-(theta + e))``.

    Capability acts as a head start in effort: every developer rides the same
    curve, the stronger one further along it.  Strictly increasing in
    ``theta`` and concave in ``e`` with limit ``1`` for everyone.  Used by
    ``scenarios/flat_cost.toml`` (the counterexample with a flat-then-quadratic
    cost).
    """
    theta = np.asarray(theta, dtype=float)
    e = np.asarray(e, dtype=float)
    return -np.expm1(-(theta + e))


def shifted_exponential_limit(theta) -> np.ndarray:
    """Limit of :func:`shifted_exponential`: ``f(theta, inf) = 1`` for every ``theta``."""
    return np.ones_like(np.asarray(theta, dtype=float))


def exponential_cost(x) -> np.ndarray:
    """``c(x) = exp(x) - 1``: convex, strictly increasing, ``c(0) = 0``, unbounded."""
    return np.expm1(np.asarray(x, dtype=float))


def huber_cost(x) -> np.ndarray:
    """``c(x) = x**2 / 2`` for ``x <= 1`` and ``x - 1/2`` beyond.

    Convex, strictly increasing for ``x > 0``, ``c(0) = 0``, unbounded, and
    linear for large efforts (so ``c(x) >= c0 * x`` fails only near zero).
    """
    x = np.asarray(x, dtype=float)
    return np.where(x <= 1.0, 0.5 * x**2, x - 0.5)


def sampled_arms_race(n: int, *, seed: int = 0, tau: float = 0.0, rounds: int = 1000, name: str | None = None) -> dict:
    """The scenario family the benchmarks and several tests use, as a scenario dict (``parse_scenario`` it).

    ``n`` capabilities drawn uniformly on ``[0, 1)`` from ``seed``; power-law
    scores (levels 0.25 to 0.95, ``alpha = -2 + 2 theta``, ``beta = 0.3 +
    0.2 theta``); linear cost 0.01 per unit; geometric rewards ``q = 0.7``;
    scores published to 1e-3; simultaneous best responses from zero.  Below
    its ``tau*`` (tens to hundreds of effort units) play is an arms race.
    """
    return {
        "name": name or f"sampled-arms-race-{n}",
        "seed": seed,
        "developers": {"sample": {"n": n, "distribution": "uniform", "low": 0.0, "high": 1.0}},
        "score": {
            "family": "power_law",
            "lower": 0.25,
            "upper": 0.95,
            "alpha": {"intercept": -2.0, "slope": 2.0},
            "beta": {"intercept": 0.3, "slope": 0.2},
        },
        "cost": {"family": "linear", "scale": 0.01},
        "reward": {"scheme": "geometric", "q": 0.7},
        "leaderboard": {"resolution": 0.001},
        "designer": {"tau": float(tau)},
        "dynamics": {"schedule": "simultaneous", "rounds": rounds},
    }
