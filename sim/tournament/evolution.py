"""Evolutionary processes over strategy shares, driven by a tournament's payoffs.

A tournament (:mod:`sim.tournament`) measures the mean utility of a developer
playing strategy ``i`` when its ``m = n - 1`` rivals play the strategies in a
*rival composition* ``c`` (a vector of counts, ``sum(c) = m``).  A
:class:`PayoffTable` holds these payoffs ``pi(i | c)`` for every composition
of size ``m``; with ``m = 1`` it is an ordinary payoff matrix ``P[i, j]``
(two-player game, or the "rivals all play ``j``" abstraction).

Fitness is exponential in payoff, ``F = exp(w * pi)`` with selection
intensity ``w >= 0`` (Traulsen, Shoresh and Nowak, "Analytical results for
individual and group selection of any intensity", Bull. Math. Biol. 70,
2008): positive whatever the payoff scale, and ``w = 0`` is neutral drift.

* :func:`replicator`: discrete-time replicator dynamics in an infinite
  population, ``x_i(t+1) = x_i(t) F_i(x) / sum_j x_j F_j(x)`` with
  ``pi_i(x) = sum_c Multinomial(c; m, x) pi(i | c)`` (each rival drawn
  independently from the population's shares).  It stays on the simplex, and
  a strictly dominant strategy (``pi(i | c) > pi(j | c)`` for every ``c``)
  takes over.
* :func:`fixation_probability`: the frequency-dependent Moran process in a
  population of ``N``; one mutant ``i`` among ``N - 1`` residents ``j``; with
  ``k`` mutants a developer's ``m`` rivals are drawn without replacement from
  the other ``N - 1`` (hypergeometric).  Its fixation probability is
  ``rho = 1 / (1 + sum_{k=1}^{N-1} prod_{l=1}^{k} G_l / F_l)`` (Nowak, Sasaki,
  Taylor and Fudenberg, "Emergence of cooperation and evolutionary stability
  in finite populations", Nature 428, 2004), with ``F_l``, ``G_l`` the
  fitness of a mutant and a resident when there are ``l`` mutants.  Neutral
  (``w = 0``): ``1 / N``; constant fitness ratio ``r``:
  ``(1 - 1/r) / (1 - 1/r**N)``.
* :func:`moran_stationary`: the stationary distribution over homogeneous
  populations when mutations are rare (Fudenberg and Imhof, "Imitation
  processes with small mutations", J. Econ. Theory 131, 2006): the chain
  moves from all-``j`` to all-``i`` with probability ``rho[i, j] / (S - 1)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import gammaln, logsumexp


def compositions(S: int, m: int) -> np.ndarray:
    """Every vector of ``S`` non-negative counts summing to ``m``, shape ``(K, S)``, ``K = C(S + m - 1, m)``,
    in the order of ``itertools.combinations_with_replacement(range(S), m)``."""
    rows = []
    for combo in itertools.combinations_with_replacement(range(S), m):
        rows.append(np.bincount(np.asarray(combo, dtype=np.int64), minlength=S))
    return np.array(rows, dtype=np.int64).reshape(-1, S)


@dataclass(frozen=True, eq=False)
class PayoffTable:
    """Payoffs ``pi(i | c)``: ``payoff[i, k]`` for strategy ``i`` against rival composition ``comps[k]``.

    ``comps`` is :func:`compositions` ``(S, m)``; ``payoff`` is ``(S, K)``, finite.
    """

    comps: np.ndarray
    payoff: np.ndarray

    def __post_init__(self):
        comps = np.asarray(self.comps, dtype=np.int64)
        payoff = np.asarray(self.payoff, dtype=float)
        if comps.ndim != 2 or payoff.shape != (comps.shape[1], comps.shape[0]):
            raise ValueError(f"payoff must be (S, K) = {(comps.shape[1], comps.shape[0])}, got {payoff.shape}")
        if not np.all(np.isfinite(payoff)):
            raise ValueError("every payoff must be finite (a rival composition was never played)")
        object.__setattr__(self, "comps", comps)
        object.__setattr__(self, "payoff", payoff)

    @classmethod
    def from_matrix(cls, matrix) -> PayoffTable:
        """The two-player game ``P[i, j]``: ``m = 1``, composition ``j`` is one rival playing ``j``."""
        P = np.asarray(matrix, dtype=float)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise ValueError(f"a payoff matrix must be square, got shape {P.shape}")
        return cls(np.eye(P.shape[0], dtype=np.int64), P)

    @property
    def strategies(self) -> int:
        return int(self.comps.shape[1])

    @property
    def rivals(self) -> int:
        """``m``: the number of rivals a developer meets."""
        return int(self.comps[0].sum())

    @cached_property
    def _index(self) -> dict[tuple, int]:
        return {tuple(int(v) for v in c): k for k, c in enumerate(self.comps)}

    def at(self, i: int, counts) -> float:
        """``pi(i | counts)``."""
        return float(self.payoff[i, self._index[tuple(int(v) for v in counts)]])

    def expected(self, x) -> np.ndarray:
        """``pi_i(x) = sum_c Multinomial(c; m, x) pi(i | c)`` for every ``i`` (rivals drawn i.i.d. from ``x``)."""
        x = np.asarray(x, dtype=float)
        m = self.rivals
        with np.errstate(divide="ignore"):
            logx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
        logw = gammaln(m + 1) - gammaln(self.comps + 1).sum(axis=1)
        with np.errstate(invalid="ignore"):  # 0 * log 0 is a count of 0 from an absent strategy: weight 1
            terms = np.where(self.comps > 0, self.comps * logx, 0.0).sum(axis=1)
        weights = np.exp(logw + terms)
        return self.payoff @ weights


def _fitness(payoff, selection: float) -> np.ndarray:
    return np.exp(selection * np.asarray(payoff, dtype=float))


def replicator(table: PayoffTable, x0=None, steps: int = 200, selection: float = 1.0) -> np.ndarray:
    """Shares ``(steps + 1, S)`` of the discrete replicator ``x_i' = x_i F_i(x) / sum_j x_j F_j(x)``,
    ``F_i = exp(w pi_i(x))`` (see the module docstring); ``x0`` defaults to equal shares."""
    S = table.strategies
    x = np.full(S, 1.0 / S) if x0 is None else np.asarray(x0, dtype=float)
    if x.shape != (S,) or np.any(x < 0) or not math.isclose(float(x.sum()), 1.0, rel_tol=0, abs_tol=1e-9):
        raise ValueError(f"x0 must be {S} non-negative shares summing to 1, got {x0!r}")
    if not (selection >= 0 and math.isfinite(selection)):
        raise ValueError(f"selection must be a finite number >= 0, got {selection!r}")
    x = x / x.sum()
    out = np.empty((steps + 1, S))
    out[0] = x
    for t in range(steps):
        log_growth = selection * table.expected(x)
        log_growth -= log_growth.max()  # the common factor cancels in the normalisation
        x = x * np.exp(log_growth)
        x = x / x.sum()
        out[t + 1] = x
    return out


def _log_hypergeom(N_i: int, N_j: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, log P(a))``: ``a`` mutants among ``m`` rivals drawn without replacement from ``N_i`` mutants and
    ``N_j`` residents."""
    a = np.arange(m + 1)
    ok = (a <= N_i) & (m - a <= N_j)
    with np.errstate(invalid="ignore"):
        logp = (
            gammaln(N_i + 1) - gammaln(a + 1) - gammaln(np.maximum(N_i - a, 0) + 1)
            + gammaln(N_j + 1) - gammaln(m - a + 1) - gammaln(np.maximum(N_j - m + a, 0) + 1)
            - (gammaln(N_i + N_j + 1) - gammaln(m + 1) - gammaln(N_i + N_j - m + 1))
        )  # fmt: skip
    return a, np.where(ok, logp, -np.inf)


def moran_payoffs(table: PayoffTable, i: int, j: int, N: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pi_mutant[k], pi_resident[k])`` for ``k = 1..N-1`` mutants ``i`` among residents ``j`` (arrays of
    length ``N - 1``): each developer's ``m`` rivals drawn without replacement from the other ``N - 1``."""
    m = table.rivals
    if N - 1 < m:
        raise ValueError(f"a population of N = {N} cannot field {m} rivals per match (need N >= {m + 1})")
    S = table.strategies

    def comp(a: int) -> np.ndarray:
        c = np.zeros(S, dtype=np.int64)
        c[i] += a
        c[j] += m - a
        return c

    pay_i = np.array([table.at(i, comp(a)) for a in range(m + 1)])
    pay_j = np.array([table.at(j, comp(a)) for a in range(m + 1)])
    mutant = np.empty(N - 1)
    resident = np.empty(N - 1)
    for k in range(1, N):
        _, lp = _log_hypergeom(k - 1, N - k, m)
        mutant[k - 1] = np.exp(lp) @ pay_i
        _, lp = _log_hypergeom(k, N - k - 1, m)
        resident[k - 1] = np.exp(lp) @ pay_j
    return mutant, resident


def fixation_probability(table: PayoffTable, i: int, j: int, N: int, selection: float = 1.0) -> float:
    """Probability that one mutant ``i`` takes over a Moran population of ``N - 1`` residents ``j``:
    ``1 / (1 + sum_{k=1}^{N-1} prod_{l=1}^{k} G_l / F_l)`` (Nowak et al. 2004), ``F = exp(w pi)``."""
    if i == j:
        return 1.0 / N
    mutant, resident = moran_payoffs(table, i, j, N)
    log_ratio = selection * (resident - mutant)  # log(G_l / F_l)
    log_terms = np.cumsum(log_ratio)
    return float(np.exp(-logsumexp(np.concatenate(([0.0], log_terms)))))


def fixation_matrix(table: PayoffTable, N: int, selection: float = 1.0) -> np.ndarray:
    """``rho[i, j]``: :func:`fixation_probability` of mutant ``i`` among residents ``j`` (``1 / N`` on the
    diagonal, the neutral value)."""
    S = table.strategies
    return np.array([[fixation_probability(table, i, j, N, selection) for j in range(S)] for i in range(S)])


def moran_stationary(rho) -> np.ndarray:
    """Stationary shares of the homogeneous populations when mutations are rare (Fudenberg and Imhof 2006):
    the embedded chain moves from all-``j`` to all-``i`` with probability ``rho[i, j] / (S - 1)``."""
    rho = np.asarray(rho, dtype=float)
    S = rho.shape[0]
    if S == 1:
        return np.ones(1)
    T = rho.T / (S - 1)  # T[j, i]: from j to i
    np.fill_diagonal(T, 0.0)
    np.fill_diagonal(T, 1.0 - T.sum(axis=1))
    A = np.vstack([T.T - np.eye(S), np.ones(S)])
    b = np.zeros(S + 1)
    b[-1] = 1.0
    p, *_ = np.linalg.lstsq(A, b, rcond=None)
    p = np.clip(p, 0.0, None)
    return p / p.sum()
