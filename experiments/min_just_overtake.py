"""Figure 1 (right) of Chen, Zhang, Hardt: the cheapest change of ranking against the tune-before-test level.

For the five-model Qwen2.5 Winogrande family (``scenarios/qwen25_winogrande.toml``,
a documented reconstruction of the paper's case study; effort in training
steps of batch 8) this computes, for ``tau`` from 0 to ``TAU_MAX`` steps,

* the just-overtake effort of every adjacent pair (Definition 4.4),
  ``Delta_i(tau) = E(theta_i, b_{i-1}(tau)) - tau`` with exact scores
  (resolution 0, as the paper's curve), and its minimum over pairs
  ``min_i Delta_i(tau)``: the least extra training that changes the ranking.
  Lemma 5.2 says it is non-decreasing in ``tau``;
* the same on the scenario's published grid (accuracies in percent with two
  decimals, resolution ``1e-4``): a sawtooth whose lower envelope is the
  exact curve (within one grid step of the rival's published score more
  ``tau`` lowers the remaining effort; it jumps when the rival crosses the
  next grid line);
* Proposition 5.6's closed form, ``1 + tau + Delta_i(tau) = D_i (1 + tau)^(beta_{i-1}/beta_i)``
  with ``D_i = exp((alpha_{i-1} - alpha_i) / beta_i)``
  (:meth:`sim.theory.PowerLawQuantities.just_overtake_closed_form`), checked
  against :func:`sim.theory.just_overtake`.

The horizontal axis is ``1 + tau`` on a log scale (so ``tau = 0`` sits at 1),
the scale on which the closed form is a power law.  The paper's two anchors
(18 steps at ``tau = 0``, 384,668 steps at ``tau = 3,000``) are marked; the
scenario's ``beta`` were fitted to them (see the scenario file's header), so
they check the reconstruction rather than confirm the paper independently.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import SCENARIOS, ExperimentInfo, command, new_axes, save_figure, style, write_table
from sim.game import LeaderboardGame
from sim.leaderboard import grid_index, least_score_at_index
from sim.scenario import load_scenario
from sim.scores import least_effort
from sim.theory import just_overtake, power_law_quantities, stabilising_threshold

INFO = ExperimentInfo(
    name="min_just_overtake",
    title="Cheapest change of ranking against tune-before-test (Figure 1, right)",
    description=(
        "Least extra training steps that change the ranking of the five Qwen2.5 models on Winogrande, "
        "min over adjacent pairs of the just-overtake effort, against the tune-before-test level, with exact scores, "
        "on the published two-decimal grid and by Proposition 5.6's closed form."
    ),
    figure="min_just_overtake",
    data=("just_overtake.csv", "published_grid.csv", "anchors.csv"),
)

#: The five-model family (effort in training steps of batch 8).
SCENARIO = SCENARIOS / "qwen25_winogrande.toml"
#: Largest tune-before-test level shown (training steps).
TAU_MAX = 1e5
#: The paper's anchors, Section 5.1: tau (steps) -> min_i Delta_i(tau) (steps).
PAPER_ANCHORS = {0.0: 18.0, 3000.0: 384_668.0}
#: Levels of 1 + tau on the log grid (full, quick).
POINTS, POINTS_QUICK = 600, 120
#: The zoomed panel shows the published-grid sawtooth for tau in this window (steps).
ZOOM = (2800.0, 3200.0)
#: Lemma 5.2 is checked up to this relative round-off: min Delta may fall by at most this fraction between levels.
MONOTONE_RTOL = 1e-9

XLABEL = "1 + tune-before-test level τ (training steps)"
YLABEL = "additional effort (training steps)"


# --------------------------------------------------------------------------- data


def load_games(path=SCENARIO) -> tuple[LeaderboardGame, LeaderboardGame]:
    """``(exact, published)``: the scenario's game at ``tau = 0`` with resolution 0 and with its own resolution."""
    published = load_scenario(path).game(0.0)
    return dataclasses.replace(published, resolution=0.0), published


def model_label(theta: float) -> str:
    """``"7B"`` for capability ``log10(7)``: the scenario's capability is log10 of the parameter count in billions."""
    return f"{10.0 ** theta:.3g}B"


def pair_labels(game: LeaderboardGame) -> list[str]:
    """One label per adjacent pair, strongest pair first: ``"7B vs 14B"`` (weaker vs stronger)."""
    order = game.capability_order
    pairs = zip(order[:-1], order[1:], strict=True)
    return [f"{model_label(game.theta[w])} vs {model_label(game.theta[s])}" for s, w in pairs]


def pair_columns(game: LeaderboardGame) -> list[str]:
    """Data column of each pair's ``Delta_i``: ``"delta_7B_vs_14B"``."""
    return ["delta_" + label.replace(" ", "_") for label in pair_labels(game)]


def tau_levels(tau_max: float = TAU_MAX, points: int = POINTS, extra=tuple(PAPER_ANCHORS)) -> np.ndarray:
    """Levels ``tau`` with ``1 + tau`` log-spaced from 1 to ``1 + tau_max`` (``tau = 0`` first), plus ``extra``."""
    taus = np.geomspace(1.0, 1.0 + tau_max, points) - 1.0
    taus[0] = 0.0
    return np.unique(np.concatenate([taus, np.asarray(extra, dtype=float)]))


def just_overtake_table(game: LeaderboardGame, taus) -> pd.DataFrame:
    """``Delta_i(tau)`` per pair, ``min_delta = min_i Delta_i(tau)`` and the pair attaining it, one row per ``tau``.

    With a power law with common ``L, U`` also ``closed_form_min``: the minimum
    of Proposition 5.6's closed form over pairs.
    """
    taus = np.asarray(taus, dtype=float)
    delta = just_overtake(game, taus)  # (levels, pairs)
    frame = pd.DataFrame(delta, columns=pair_columns(game))
    frame.insert(0, "tau", taus)
    frame["min_delta"] = delta.min(axis=1)
    frame["argmin_pair"] = np.asarray(pair_labels(game))[delta.argmin(axis=1)]
    quantities = power_law_quantities(game)
    if quantities is not None:
        frame["closed_form_min"] = quantities.just_overtake_closed_form(taus).min(axis=1)
    return frame


def closed_form_relative_difference(game: LeaderboardGame, taus) -> float:
    """Largest ``|closed form - just_overtake| / just_overtake`` over pairs and levels (Proposition 5.6 check).

    ``game`` must have exact scores (resolution 0) and a power law with common
    ``L, U``; otherwise :class:`ValueError`.
    """
    if game.resolution != 0:
        raise ValueError(f"Proposition 5.6's closed form is for exact scores (resolution 0), got {game.resolution}")
    quantities = power_law_quantities(game)
    if quantities is None:
        raise ValueError("Proposition 5.6 needs a power law with common L and U")
    taus = np.asarray(taus, dtype=float)
    direct = just_overtake(game, taus)
    closed = quantities.just_overtake_closed_form(taus)
    return float(np.max(np.abs(closed - direct) / np.abs(direct)))


def rival_crossings(game: LeaderboardGame, tau_max: float, pair: int | None = None) -> np.ndarray:
    """Every ``tau <= tau_max`` at which a rival (the stronger of a pair) reaches a new published grid level.

    ``T_m = E(theta_{i-1}, t_m)``, the least total effort with a published
    level ``m``; the published-grid ``Delta_i`` of that pair jumps there.
    ``pair`` (index in capability order, strongest pair first) restricts to
    one pair's rival; default every pair's.  Sorted, without duplicates.
    """
    if game.resolution <= 0:
        return np.empty(0)
    strong = game.capability_order[:-1]
    rivals = strong if pair is None else strong[[pair]]
    times = [np.empty(0)]
    for k in rivals:
        rival = game.score[k]
        first = float(grid_index(rival.score(0.0), game.resolution)) + 1
        last = float(grid_index(rival.score(tau_max), game.resolution))
        if last >= first:
            levels = np.arange(first, last + 1)
            times.append(least_effort(rival, 0.0, least_score_at_index(levels, game.resolution)))
    crossings = np.concatenate(times)
    return np.unique(crossings[(crossings > 0) & (crossings <= tau_max)])


def published_grid_table(published: LeaderboardGame, exact: LeaderboardGame, taus, tau_max: float) -> pd.DataFrame:
    """The published-grid sawtooth ``min_i Delta_i(tau)`` beside the exact one.

    Evaluated at ``taus`` and, for every pair, at each crossing ``T_m`` of its
    rival up to ``tau_max`` and just before it (the float below): column
    ``crossing_of`` names the pair (empty for ``taus``), ``left_limit`` marks
    the float below a crossing, so the teeth are drawn exactly.  Further
    columns ``tau``, ``min_delta_grid``, ``min_delta_exact`` and the grid
    ``Delta_i`` per pair.
    """
    taus = np.asarray(taus, dtype=float)
    labels = pair_labels(published)
    levels, left, owner = [taus], [np.zeros(taus.size, dtype=bool)], [np.full(taus.size, "", dtype=object)]
    for k, label in enumerate(labels):
        crossings = rival_crossings(published, tau_max, pair=k)
        levels += [crossings, np.nextafter(crossings, -np.inf)]
        left += [np.zeros(crossings.size, dtype=bool), np.ones(crossings.size, dtype=bool)]
        owner += [np.full(crossings.size, label, dtype=object)] * 2
    levels, left, owner = np.concatenate(levels), np.concatenate(left), np.concatenate(owner)
    order = np.argsort(levels, kind="stable")
    levels, left, owner = levels[order], left[order], owner[order]
    grid = just_overtake(published, levels)
    frame = pd.DataFrame(grid, columns=pair_columns(published))
    frame.insert(0, "tau", levels)
    frame.insert(1, "crossing_of", owner)
    frame.insert(2, "left_limit", left)
    frame["min_delta_grid"] = grid.min(axis=1)
    frame["min_delta_exact"] = just_overtake(exact, levels).min(axis=1)
    return frame


def anchors_table(exact: LeaderboardGame, published: LeaderboardGame, anchors=None) -> pd.DataFrame:
    """The paper's anchors beside the reconstruction: ``tau``, ``paper``, ``exact``, ``grid``, ``relative_error``."""
    anchors = PAPER_ANCHORS if anchors is None else anchors
    taus = np.array(list(anchors), dtype=float)
    paper = np.array(list(anchors.values()), dtype=float)
    got = just_overtake(exact, taus).min(axis=1)
    grid = just_overtake(published, taus).min(axis=1)
    return pd.DataFrame(
        {"tau": taus, "paper": paper, "exact": got, "grid": grid, "relative_error": np.abs(got - paper) / paper}
    )


# --------------------------------------------------------------------------- plots


#: Palette slots (seaborn "colorblind"): pairs, then the grid curve, the closed form and the anchors.
_PAIR_SLOTS = (0, 1, 2, 9, 7, 8)
_GRID, _CLOSED, _ANCHOR = 4, 5, 3


def _palette():
    import seaborn as sns

    from sim.plots import PALETTE

    return sns.color_palette(PALETTE, 10)


def plot_min_just_overtake(data: dict, ax=None):
    """Main panel: per-pair ``Delta_i`` (faint), exact ``min_i Delta_i`` (black), grid sawtooth, closed form, anchors.

    ``data`` holds the frames ``exact`` (:func:`just_overtake_table`),
    ``grid`` (:func:`published_grid_table`), ``anchors`` (:func:`anchors_table`)
    and optionally ``reward_gap`` (steps) and ``tau_star`` (steps).
    """
    fig, ax = new_axes(ax, figsize=(7.2, 4.8))
    exact, grid, anchors = data["exact"], data["grid"], data["anchors"]
    columns = [c for c in exact.columns if c.startswith("delta_")]
    colours = _palette()
    with style():
        x = 1.0 + exact["tau"].to_numpy()
        top = 10 ** np.ceil(np.log10(exact["min_delta"].max()) + 2)
        for k, column in enumerate(columns):
            label = column.removeprefix("delta_").replace("_", " ")
            y = exact[column].to_numpy()
            if y.min() > top:
                label += f" (above: {y.min():.1e} at τ = 0)"
            ax.plot(x, y, color=colours[_PAIR_SLOTS[k % len(_PAIR_SLOTS)]], lw=1.2, alpha=0.45, label=f"Δ: {label}")
        ax.plot(x, exact["min_delta"], color="0.1", lw=2.0, label="min over pairs, exact scores")
        # Within 2 % of the exact curve: drawn on top, thin; the right panel shows its teeth.
        ax.plot(1.0 + grid["tau"], grid["min_delta_grid"], color=colours[_GRID], lw=0.6,
                label="min over pairs, published grid (0.01 %; right)")
        if "closed_form_min" in exact:
            step = max(len(exact) // 25, 1)
            ax.plot(x[::step], exact["closed_form_min"].to_numpy()[::step], ls="none", marker="o", ms=4.5, mfc="none",
                    mec=colours[_CLOSED], mew=1.1, label="Proposition 5.6 closed form")
        if data.get("reward_gap") is not None:
            ax.axhline(data["reward_gap"], color="0.45", ls=":", lw=1.0,
                       label=f"prize in steps g = {data['reward_gap']:,.0f}")
        if data.get("tau_star") is not None and np.isfinite(data["tau_star"]):
            ax.axvline(1.0 + data["tau_star"], color="0.45", ls="--", lw=0.9,
                       label=f"τ* = {data['tau_star']:,.0f} steps (exact scores)")
        ax.plot(1.0 + anchors["tau"], anchors["paper"], ls="none", marker="*", ms=14, color=colours[_ANCHOR],
                mec="0.1", mew=0.6, zorder=5, clip_on=False, label="paper's anchors (Section 5.1)")
        for tau, paper in zip(anchors["tau"], anchors["paper"], strict=True):
            ax.annotate(f"{paper:,.0f} steps at τ = {tau:,.0f}", (1.0 + tau, paper), xytext=(14, -30),
                        textcoords="offset points", fontsize=8.5, ha="left", va="top",
                        arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.8},
                        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.7", "alpha": 0.95})
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(1.0, x.max())
        ax.set_ylim(max(exact["min_delta"].min() / 20, 1e-1), top)
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(YLABEL)
        ax.set_title("Cheapest change of ranking, Qwen2.5 on Winogrande")
        ax.legend(loc="upper left", fontsize=7.5)
    return fig


def plot_sawtooth_zoom(data: dict, ax=None):
    """Side panel: exact and published-grid ``min_i Delta_i`` for ``tau`` in :data:`ZOOM` (linear axes)."""
    fig, ax = new_axes(ax, figsize=(3.6, 4.8))
    grid = data["grid"]
    lo, hi = data.get("zoom", ZOOM)
    window = grid.loc[(grid["tau"] >= lo) & (grid["tau"] <= hi)]
    colours = _palette()
    with style():
        ax.plot(window["tau"], window["min_delta_grid"] / 1e3, color=colours[_GRID], lw=1.2,
                label="published grid (0.01 %)")
        ax.plot(window["tau"], window["min_delta_exact"] / 1e3, color="0.1", lw=1.6, label="exact scores")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("tune-before-test level τ (training steps)")
        ax.set_ylabel("min over pairs (thousand training steps)")
        ax.set_title("Near τ = 3,000: the grid's sawtooth")
        ax.legend(loc="upper left", fontsize=7.5)
    return fig


def figure(data: dict):
    """Both panels side by side."""
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.9), layout="constrained", width_ratios=(2.2, 1.0))
    plot_min_just_overtake(data, ax=axes[0])
    plot_sawtooth_zoom(data, ax=axes[1])
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    exact, published = load_games()
    taus = tau_levels(TAU_MAX, POINTS_QUICK if quick else POINTS)
    table = just_overtake_table(exact, taus)
    zoom = np.linspace(*ZOOM, 41 if quick else 201)
    grid = published_grid_table(published, exact, np.union1d(taus, zoom), TAU_MAX)
    anchors = anchors_table(exact, published)
    threshold = stabilising_threshold(exact)
    threshold_grid = stabilising_threshold(published)
    quantities = power_law_quantities(exact)
    gap = float(np.nanmax(quantities.reward_gap_effort))
    write_table(table, out / "just_overtake.csv")
    write_table(grid, out / "published_grid.csv")
    write_table(anchors, out / "anchors.csv")
    fig = figure({"exact": table, "grid": grid, "anchors": anchors, "reward_gap": gap,
                  "tau_star": threshold.tau_star})
    save_figure(fig, out, INFO.figure, quick=quick)
    at = dict(zip(anchors["tau"], anchors.itertuples(), strict=True))
    return {
        "min_delta_at_tau_0_steps": float(at[0.0].exact),
        "min_delta_at_tau_3000_steps": float(at[3000.0].exact),
        "paper_anchors_max_relative_error": float(anchors["relative_error"].max()),
        "min_delta_grid_at_tau_0_steps": float(at[0.0].grid),
        "min_delta_grid_at_tau_3000_steps": float(at[3000.0].grid),
        f"min_delta_at_tau_{TAU_MAX:.0e}_steps".replace("+0", ""): float(table["min_delta"].iloc[-1]),
        "closed_form_max_relative_difference": closed_form_relative_difference(exact, taus),
        "cheapest_pair": str(table["argmin_pair"].mode().iloc[0]),
        "grid_max_excess_over_exact_relative": float(
            np.max((grid["min_delta_grid"] - grid["min_delta_exact"]) / grid["min_delta_exact"])
        ),
        "tau_star_exact_steps": threshold.tau_star,
        "tau_star_published_grid_steps": threshold_grid.tau_star,
        "prize_steps": gap,
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
