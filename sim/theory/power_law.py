"""Power-law closed forms (Proposition 5.6) and the designer's utility (Definition 3.4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.game import LeaderboardGame
from sim.rewards import reward_gaps
from sim.scores import PowerLaw
from sim.theory.pairs import _pairs


@dataclass(frozen=True)
class PowerLawQuantities:
    """Proposition 5.6 quantities, one entry per adjacent pair (strongest pair first).

    For the pair (stronger ``i-1``, weaker ``i``) under the generalised power
    law with common ``L, U`` and effort unit ``e0``:

    * ``D_i = exp((alpha_{i-1} - alpha_i) / beta_i)``, so that
      ``1 + (tau + Delta_i(tau)) / e0 = D_i * (1 + tau / e0) ** (beta_{i-1} / beta_i)``;
    * ``baseline_catch_up = Delta_i(0) = e0 * (D_i - 1)``;
    * ``rho_i = beta_i / beta_{i-1}`` (learning-rate ratio);
    * ``reward_gap_effort = g_i = (r_{i-1} - r_i) / (gamma_i * c0)`` with ``c(x) >= c0 * x``;
    * ``kappa_i = g_i / Delta_i(0)`` (effective incentive);
    * ``predicted_tau_star = e0 * kappa_i ** rho_i`` (the paper's order of
      growth, exact up to a constant depending on ``rho_i``).

    ``g``, ``kappa`` and the prediction are ``nan`` when the cost has no
    linear lower bound ``c0 > 0``.  Derivation: ``docs/model.md#power-law-growth-of-the-threshold``.
    """

    D: np.ndarray
    baseline_catch_up: np.ndarray
    rho: np.ndarray
    reward_gap_effort: np.ndarray
    kappa: np.ndarray
    predicted_tau_star: np.ndarray
    effort_unit: float

    def just_overtake_closed_form(self, tau) -> np.ndarray:
        """``Delta_i(tau) = e0 * (D_i * (1 + tau/e0) ** (1 / rho_i) - 1) - tau`` (exact scores)."""
        tau = np.asarray(tau, dtype=float)[..., None]
        e0 = self.effort_unit
        return e0 * (self.D * (1 + tau / e0) ** (1 / self.rho) - 1) - tau


def power_law_quantities(game: LeaderboardGame) -> PowerLawQuantities | None:
    """Proposition 5.6 quantities, or ``None`` when the score is not a power law with common ``L, U``."""
    fam = game.score
    if not isinstance(fam, PowerLaw):
        return None
    lower, upper = np.broadcast_to(fam.lower, (game.n,)), np.broadcast_to(fam.upper, (game.n,))
    if np.ptp(lower) > 1e-12 * max(1.0, np.abs(lower).max()) or np.ptp(upper) > 1e-12 * max(1.0, np.abs(upper).max()):
        return None
    strong, weak = _pairs(game)
    alpha, beta = np.broadcast_to(fam.alpha, (game.n,)), np.broadcast_to(fam.beta, (game.n,))
    D = np.exp((alpha[strong] - alpha[weak]) / beta[weak])
    e0 = fam.effort_unit
    catch_up = e0 * (D - 1)
    rho = beta[weak] / beta[strong]
    c0 = game.cost.linear_lower_bound() * game.gamma[weak]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(c0 > 0, reward_gaps(game.rewards) / np.where(c0 > 0, c0, 1.0), np.nan)
        kappa = g / catch_up
        predicted = e0 * kappa**rho
    return PowerLawQuantities(D, catch_up, rho, g, kappa, predicted, e0)


def designer_utility(game: LeaderboardGame, x, ranking_reward: float, tbt_cost) -> float:
    """``U_D(tau) = R * [score ranking equals capability ranking] - n * C(tau)`` (Definition 3.4)."""
    return ranking_reward * float(game.ranking_matches_capability(x)) - game.n * float(tbt_cost(game.tau))
