"""Proposition 5.6 of Chen, Zhang, Hardt: the stabilising threshold grows like ``kappa ** rho``.

Setting (Proposition 5.6).  One adjacent pair, stronger ``i-1`` and weaker
``i``, under the generalised power law with common ``L, U`` and effort unit
``e0 = 1``, linear cost ``c(x) = c0 x``, exact scores (resolution 0), reward
gap ``r_{i-1} - r_i``.  With ``T = 1 + tau``,
``D = exp((alpha_{i-1} - alpha_i) / beta_i)`` and ``rho = beta_i / beta_{i-1}``
(the weaker's learning rate over the stronger's, ``rho <= 1`` under C3),
the just-overtake effort is

    Delta(tau) = D * T ** (1 / rho) - T,

so ``Delta^0 = Delta(0) = D - 1``.  Let ``g = (r_{i-1} - r_i) / c0`` be the
reward gap in effort units and ``kappa = g / Delta^0`` the effective
incentive.  The pair is stable at ``tau`` iff ``c0 Delta(tau) >= r_{i-1} - r_i``,
i.e. ``Delta(tau) >= g``.  ``h(T) = D T^(1/rho) - T`` is increasing for
``T >= 1`` (``h'(T) = (D / rho) T^(1/rho - 1) - 1 >= D / rho - 1 > 0``), so

    tau* = 0                         if kappa <= 1,
    h(1 + tau*) = g                  otherwise.

Why the log-log slope tends to ``rho``: from ``D T*^(1/rho) = g + T*`` and
``T* <= (g + T*) / D``, ``T*`` grows like ``g ** rho = o(g)`` for ``rho < 1``,
so ``D T*^(1/rho) = g (1 + o(1))`` and

    1 + tau* = T* ~ (g / D) ** rho = (kappa * (D - 1) / D) ** rho,

whence ``log(1 + tau*) = rho * log(kappa) + rho * log((D - 1) / D) + o(1)``:
slope ``rho`` in ``log kappa``, with an offset that depends on ``D`` only
(the paper's "up to a constant depending on rho").  The correction term
``rho * log(1 + T*/g)`` makes the local slope ``rho (1 - (1 - rho) T*/g + ...)``,
slightly below ``rho`` and converging like ``g ** (rho - 1)`` (slowly for
``rho`` near 1).  For ``rho = 1``, ``(D - 1) T* = g`` exactly:
``1 + tau* = kappa``.

The experiment draws many random pairs with a seeded generator (:data:`SEED`):
for each ``rho`` in :data:`RHO_GROUPS`, ``kappa`` log-uniform on
:data:`KAPPA_RANGE`, ``Delta^0`` log-uniform on :data:`CATCH_UP_RANGE`
(steps), ``beta_{i-1}`` uniform on :data:`BETA_RANGE`, ``beta_i = rho *
beta_{i-1}``, ``alpha_i`` uniform on :data:`ALPHA_RANGE` and ``alpha_{i-1} =
alpha_i + beta_i log(1 + Delta^0)``; ``c0 = 1 / g`` with rewards ``(1, 0)``.
``tau*`` is :func:`sim.theory.stabilising_threshold` (exact bisection) and
``kappa``, ``rho`` are :func:`sim.theory.power_law_quantities`.  ``L, U``
are drawn too (one draw per batch, see below) though ``tau*`` does not depend
on them: the score is an affine image of the logit.

Speed: :func:`sim.theory.stabilising_threshold` bisects every adjacent pair of
a game at once, so :func:`thresholds` lines up :data:`BATCH` independent pairs
in one game, separated by "bridge" pairs with a zero reward gap (which never
constrain ``tau*``); each real pair's ``tau*_i`` is exactly what it gets as a
two-developer game (the tests check this), apart from the utility tolerance
``1e-9 * max|r|`` growing with the batch (relative ``< 1e-7`` here).

The figure plots ``1 + tau*`` (the quantity of the asymptotic) against
``kappa`` on log-log axes, with ``kappa ** rho`` for reference, and the
least-squares slope of ``log(1 + tau*)`` on ``log kappa`` per ``rho`` group
over ``kappa >= KAPPA_FIT_MIN``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import ExperimentInfo, command, new_axes, save_figure, style, write_table
from sim.costs import LinearCost
from sim.errors import ScenarioError
from sim.game import LeaderboardGame
from sim.scores import PowerLaw
from sim.theory import power_law_quantities, stabilising_threshold

INFO = ExperimentInfo(
    name="tau_star_vs_kappa",
    title="Stabilising threshold against effective incentive (Proposition 5.6)",
    description=(
        "The exact stabilising threshold of thousands of random power-law pairs against the effective incentive "
        "kappa, coloured by the learning-rate ratio rho, and the fitted log-log slopes, which approach rho."
    ),
    figure="tau_star_vs_kappa",
    data=("pairs.csv", "slopes.csv"),
)

#: The one seed of the experiment's random pairs.
SEED = 560
#: Learning-rate ratios rho = beta_i / beta_{i-1} (weaker over stronger), one group each.
RHO_GROUPS = (0.5, 0.7, 0.85, 1.0)
#: Pairs per rho group (full, quick).
PER_GROUP, PER_GROUP_QUICK = 1000, 25
#: kappa is drawn log-uniform on this range.
KAPPA_RANGE = (1.0, 1e6)
#: Slopes are fitted over kappa >= this (the large-kappa range; up to KAPPA_RANGE[1]).
KAPPA_FIT_MIN = 1e3
#: Delta^0 = Delta(0), the baseline catch-up difficulty (effort units), log-uniform on this range.
CATCH_UP_RANGE = (1.0, 1e3)
#: The stronger developer's learning efficiency beta_{i-1}, uniform on this range (beta <= 1: concave, C2).
BETA_RANGE = (0.1, 1.0)
#: The weaker developer's baseline logit alpha_i, uniform on this range.
ALPHA_RANGE = (-3.0, 0.0)
#: Common floor L uniform on LOWER_RANGE, ceiling U = L + uniform on SPAN_RANGE.
LOWER_RANGE, SPAN_RANGE = (0.0, 0.5), (0.2, 0.5)
#: Independent pairs per batched game (see the module docstring).
BATCH = 64

KAPPA_LABEL = "effective incentive κ = g / Δ⁰"
TAU_LABEL = "1 + stabilising threshold τ* (effort units)"

PAIR_COLUMNS = (
    "group_rho", "batch", "lower", "upper", "alpha_strong", "alpha_weak", "beta_strong", "beta_weak",
    "reward_gap_effort", "kappa_drawn",
)


# --------------------------------------------------------------------------- data


def draw_pairs(rng: np.random.Generator, rho_groups=RHO_GROUPS, per_group: int = PER_GROUP,
               batch: int = BATCH) -> pd.DataFrame:
    """Random adjacent pairs satisfying the assumptions, ``per_group`` per ``rho``; see the module docstring.

    One row per pair (columns :data:`PAIR_COLUMNS`); ``batch`` numbers the
    batched game a pair will be solved in, and ``lower``, ``upper`` are drawn
    once per batch (common ``L, U``).
    """
    rho = np.asarray(rho_groups, dtype=float)
    if rho.ndim != 1 or rho.size == 0 or not np.all((rho > 0) & (rho <= 1)):
        raise ScenarioError("rho_groups", list(np.atleast_1d(rho_groups)), "needs ratios in (0, 1] (assumption C3)")
    if isinstance(per_group, bool) or int(per_group) != per_group or per_group < 1:
        raise ScenarioError("per_group", per_group, "needs an integer number of pairs >= 1")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ScenarioError("batch", batch, "needs an integer number of pairs >= 1")
    group = np.repeat(rho, int(per_group))
    n = group.size
    log_k = np.log(KAPPA_RANGE)
    kappa = np.exp(rng.uniform(log_k[0], log_k[1], n))
    catch_up = np.exp(rng.uniform(*np.log(CATCH_UP_RANGE), n))
    beta_strong = rng.uniform(*BETA_RANGE, n)
    beta_weak = group * beta_strong
    alpha_weak = rng.uniform(*ALPHA_RANGE, n)
    alpha_strong = alpha_weak + beta_weak * np.log1p(catch_up)
    batches = np.arange(n) // int(batch)
    n_batches = int(batches.max()) + 1
    lower = rng.uniform(*LOWER_RANGE, n_batches)
    upper = lower + rng.uniform(*SPAN_RANGE, n_batches)
    return pd.DataFrame({
        "group_rho": group, "batch": batches, "lower": lower[batches], "upper": upper[batches],
        "alpha_strong": alpha_strong, "alpha_weak": alpha_weak, "beta_strong": beta_strong, "beta_weak": beta_weak,
        "reward_gap_effort": kappa * catch_up, "kappa_drawn": kappa,
    })


def pair_game(row) -> LeaderboardGame:
    """The two-developer game of one pair (stronger id 0, weaker id 1): rewards ``(1, 0)``, ``c0 = 1 / g``."""
    score = PowerLaw(
        lower=row["lower"], upper=row["upper"],
        alpha=np.array([row["alpha_strong"], row["alpha_weak"]]),
        beta=np.array([row["beta_strong"], row["beta_weak"]]),
    )
    return LeaderboardGame(np.array([1.0, 0.0]), score, LinearCost(1.0 / row["reward_gap_effort"]),
                           np.array([1.0, 0.0]), tau=0.0, resolution=0.0)


def batch_game(rows: pd.DataFrame) -> LeaderboardGame:
    """``m`` pairs in one game of ``2m`` developers: pair ``k`` is capability ranks ``2k+1, 2k+2``.

    Rewards ``m - floor(rank / 2)`` give each real pair a gap of 1 and each
    bridge pair (ranks ``2k+2, 2k+3``) a gap of 0; the weaker developer of
    pair ``k`` has cost scale ``gamma = 1 / g_k`` on a unit linear cost.
    """
    m = len(rows)
    if m == 0 or rows["lower"].nunique() != 1 or rows["upper"].nunique() != 1:
        raise ScenarioError("rows", m, "needs at least one pair, all with the same lower and upper")
    alpha = np.column_stack([rows["alpha_strong"], rows["alpha_weak"]]).ravel()
    beta = np.column_stack([rows["beta_strong"], rows["beta_weak"]]).ravel()
    gamma = np.column_stack([np.ones(m), 1.0 / rows["reward_gap_effort"].to_numpy()]).ravel()
    score = PowerLaw(lower=float(rows["lower"].iloc[0]), upper=float(rows["upper"].iloc[0]), alpha=alpha, beta=beta)
    ranks = np.arange(1, 2 * m + 1)
    rewards = (m - ranks // 2).astype(float)
    theta = -np.arange(2 * m, dtype=float)  # strongest first
    return LeaderboardGame(theta, score, LinearCost(1.0), rewards, tau=0.0, resolution=0.0, gamma=gamma)


def thresholds(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with the exact ``tau_star`` and Proposition 5.6's ``kappa``, ``rho``, ``D``, ``predicted_tau_star``.

    Solved one batched game per ``batch`` value (:func:`batch_game`); also
    ``vouched`` (the search could vouch for monotonicity) per pair.
    """
    parts = []
    for _, rows in pairs.groupby("batch", sort=True):
        game = batch_game(rows)
        real = slice(0, None, 2)  # pairs 0, 2, 4, ... of the chain; the odd ones are bridges
        threshold = stabilising_threshold(game)
        quantities = power_law_quantities(game)
        parts.append(pd.DataFrame({
            "tau_star": threshold.per_pair[real],
            "vouched": threshold.vouched,
            "kappa": quantities.kappa[real],
            "rho": quantities.rho[real],
            "D": quantities.D[real],
            "baseline_catch_up": quantities.baseline_catch_up[real],
            "predicted_tau_star": quantities.predicted_tau_star[real],
        }, index=rows.index))
    return pairs.join(pd.concat(parts))


def fit_slopes(frame: pd.DataFrame, kappa_min: float = KAPPA_FIT_MIN) -> pd.DataFrame:
    """Least-squares slope of ``log(1 + tau*)`` on ``log kappa`` per ``rho`` group, over ``kappa >= kappa_min``.

    Columns ``rho``, ``slope``, ``intercept``, ``stderr`` (of the slope),
    ``n`` (pairs used), ``deviation = slope - rho``.  Groups with fewer than
    3 pairs in range get ``nan``.
    """
    rows = []
    for rho, group in frame.groupby("group_rho", sort=True):
        use = group.loc[(group["kappa"] >= kappa_min) & np.isfinite(group["tau_star"])]
        x, y = np.log(use["kappa"].to_numpy()), np.log1p(use["tau_star"].to_numpy())
        slope = intercept = stderr = np.nan
        if len(use) >= 3:
            (slope, intercept), cov = np.polyfit(x, y, 1, cov=True) if len(use) > 3 else (np.polyfit(x, y, 1), None)
            stderr = float(np.sqrt(cov[0, 0])) if cov is not None else np.nan
        rows.append({"rho": float(rho), "slope": float(slope), "intercept": float(intercept), "stderr": stderr,
                     "n": len(use), "deviation": float(slope - rho)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plots


def _colours(n: int):
    import seaborn as sns

    from sim.plots import PALETTE

    return sns.color_palette(PALETTE, max(n, 3))


def plot_tau_star(frame: pd.DataFrame, ax=None):
    """``1 + tau*`` against ``kappa`` (log-log), one colour per ``rho`` group, with ``kappa ** rho`` dashed."""
    fig, ax = new_axes(ax, figsize=(6.4, 4.8))
    groups = sorted(frame["group_rho"].unique())
    colours = _colours(len(groups))
    with style():
        kappa_line = np.geomspace(max(frame["kappa"].min(), 1.0), frame["kappa"].max(), 50)
        for colour, rho in zip(colours[: len(groups)], groups, strict=True):
            g = frame.loc[frame["group_rho"] == rho]
            ax.scatter(g["kappa"], 1.0 + g["tau_star"], s=6, alpha=0.45, color=colour, linewidths=0,
                       label=f"ρ = {rho:g}", rasterized=True)
            ax.plot(kappa_line, kappa_line**rho, color="0.15", ls="--", lw=0.9, zorder=3)
        ax.plot([], [], color="0.15", ls="--", lw=0.9, label=r"$\kappa^{\rho}$ (reference)")
        ax.axvline(KAPPA_FIT_MIN, color="0.5", ls=":", lw=1.0, label="slopes fitted right of this")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(KAPPA_LABEL)
        ax.set_ylabel(TAU_LABEL)
        ax.set_title("Exact τ* of random pairs")
        ax.legend(loc="upper left", fontsize=8, markerscale=2.5)
    return fig


def plot_slopes(slopes: pd.DataFrame, ax=None):
    """Fitted slope per ``rho`` group (with 2 standard errors) against ``rho``, and the identity line."""
    fig, ax = new_axes(ax, figsize=(4.0, 4.8))
    colours = _colours(len(slopes))
    with style():
        lo, hi = min(slopes["rho"].min(), np.nanmin(slopes["slope"])) - 0.05, 1.05
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=1.0, ls="--", label="slope = ρ")
        for colour, row in zip(colours[: len(slopes)], slopes.itertuples(), strict=True):
            yerr = 2 * row.stderr if np.isfinite(row.stderr) else None
            ax.errorbar(row.rho, row.slope, yerr=yerr, fmt="o", ms=7, color=colour, capsize=3,
                        label=f"ρ = {row.rho:g}: {row.slope:.3f} ± {2 * row.stderr:.3f}")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel(r"learning-rate ratio $\rho = \beta_i / \beta_{i-1}$")
        ax.set_ylabel(f"fitted slope of log(1 + τ*) on log κ\n(κ ≥ {KAPPA_FIT_MIN:,.0f})")
        ax.set_title("Slope tends to ρ (± 2 s.e.)")
        ax.legend(loc="upper left", fontsize=8)
    return fig


def figure(frame: pd.DataFrame, slopes: pd.DataFrame):
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.9), layout="constrained", width_ratios=(1.6, 1.0))
    plot_tau_star(frame, ax=axes[0])
    plot_slopes(slopes, ax=axes[1])
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    rng = np.random.default_rng(SEED)
    pairs = draw_pairs(rng, RHO_GROUPS, PER_GROUP_QUICK if quick else PER_GROUP)
    frame = thresholds(pairs)
    slopes = fit_slopes(frame)
    write_table(frame, out / "pairs.csv")
    write_table(slopes, out / "slopes.csv")
    save_figure(figure(frame, slopes), out, INFO.figure, quick=quick)
    return {
        "pairs": len(frame),
        "rho_groups": [float(r) for r in slopes["rho"]],
        "fitted_slopes": [round(float(s), 4) for s in slopes["slope"]],
        "max_abs_slope_deviation_from_rho": float(np.nanmax(np.abs(slopes["deviation"]))),
        "fit_kappa_min": KAPPA_FIT_MIN,
        "pairs_not_vouched": int((~frame["vouched"]).sum()),
        "max_rho_relative_error": float(np.max(np.abs(frame["rho"] / frame["group_rho"] - 1))),
        "median_tau_star_over_kappa_pow_rho": float(np.median((1 + frame["tau_star"]) / frame["predicted_tau_star"])),
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
