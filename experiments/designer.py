"""The designer's tool (``lbsim design``): a recommended tune-before-test level from real data, the designer's
frontier on the bundled scenarios, and the check that simulation finds the theory's ``tau*``.

Three parts (``docs/model.md#the-designers-problem``):

1. **Real leaderboard.**  For each lm-harmony benchmark of :data:`BENCHMARKS`
   (:data:`QUICK_BENCHMARKS` at the quick size), ``lbsim design --from-data
   lm-harmony --benchmark NAME`` (:func:`sim.design.data.design_from_data`):
   ten base models spread over PC1, the generalised power law fitted through
   their direct and train-before-test accuracies (``L`` = chance, ``U`` = 1;
   exactly identified with two points a model), top-3 reward, linear cost 0.25
   a train-before-test run, resolution 0.001; a parametric bootstrap of
   :data:`BOOTSTRAP` draws within the standard errors.  Reported: the point
   fit's ``tau*`` and simulated least stabilising ``tau``, the recommended
   ``tau`` (bootstrap median) with its 90% interval, the hardest pair
   (largest ``kappa ** rho``).
2. **Frontier.**  For each bundled scenario of :data:`FRONTIER_SCENARIOS`
   (deterministic best responses from zero), the ranking quality ``Q(tau)``
   (mean tail Kendall tau over :data:`FRONTIER_ROUNDS` rounds) at every
   evaluated level and the designer's objective ``J = Q - k n tau`` with
   ``k = COST_SHARE / (n tau*)``: running TbT at ``tau*`` costs
   :data:`COST_SHARE` of the best quality.  Plotted against ``tau / tau*``.
3. **Check.**  :data:`CHECK_SCENARIOS` random scenarios satisfying the
   paper's assumptions (:func:`random_game`: power law with common ``L, U``,
   ``alpha`` and ``beta <= 1`` increasing in capability, linear or convex
   power cost with a scale log-uniform on ``[1e-6, 1e-1]``, any reward scheme;
   :func:`sim.assumptions.check_assumptions` must pass, and ``tau*`` must be
   finite and positive: a scenario with ``tau* = 0`` checks nothing), exact
   scores, simultaneous best responses from zero, three rounds (from zero, zero is a fixed point exactly when it is an
   equilibrium, so three rounds decide the criterion).  All are searched
   together (one scan, then bisections in lockstep; relative tolerance
   :data:`RTOL`), and each simulated least ``tau`` is compared with
   :func:`sim.theory.stabilising_threshold`.  The same on a published grid
   (resolution ``1e-4``), where ``Delta_i(tau)`` is a sawtooth and the
   bisection may find an earlier change than the theory's last one: those
   are counted separately, with the check that the change found is a real
   one (zero is an equilibrium at the bracket's upper end and not at its
   lower end, by :func:`sim.theory.zero_is_equilibrium_exact`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import SCENARIOS, ExperimentInfo, command, save_figure, style, write_table

INFO = ExperimentInfo(
    name="designer",
    title="The designer's tool: recommended tune-before-test level, frontier, and simulation against theory",
    description=(
        "Recommended tau with its bootstrap 90% interval on lm-harmony benchmarks, the designer's frontier "
        "(ranking quality and objective against tau / tau*) on bundled scenarios, and the simulated least "
        "stabilising tau against the theory's tau* on random scenarios."
    ),
    figure="designer",
    data=("benchmarks.csv", "frontiers.csv", "check.csv"),
)

BENCHMARKS = ("winogrande", "arc_easy", "hellaswag", "piqa", "sciq", "boolq")
QUICK_BENCHMARKS = ("winogrande",)
BOOTSTRAP = 100
QUICK_BOOTSTRAP = 4
FRONTIER_SCENARIOS = ("two_developers", "winner_take_all_5", "top3_of_10", "linear_rewards_10", "zipf_rewards_10")
QUICK_FRONTIER_SCENARIOS = ("two_developers",)
FRONTIER_ROUNDS = 200
QUICK_FRONTIER_ROUNDS = 10
#: The TbT cost of the frontier: running TbT at tau* costs this share of the best quality (1).
COST_SHARE = 0.1
CHECK_SCENARIOS = 200
QUICK_CHECK_SCENARIOS = 6
RTOL = 1e-3
QUICK_RTOL = 1e-2
SEED = 2026


def _settings(quick: bool, **kw):
    from sim.design.search import DesignSettings

    return DesignSettings(rtol=QUICK_RTOL if quick else RTOL, per_decade=2 if quick else 4, **kw)


# --------------------------------------------------------------------------- part 1: real leaderboard


def benchmark_rows(quick: bool) -> pd.DataFrame:
    from sim.design.data import DataGame, design_from_data, observations

    rows = []
    game = DataGame(rounds=3)
    for b in QUICK_BENCHMARKS if quick else BENCHMARKS:
        obs = observations("lm-harmony", b, game)
        r = design_from_data(obs, game, _settings(quick, seed=SEED), bootstrap=QUICK_BOOTSTRAP if quick else BOOTSTRAP)
        h = r["hardest_pair"] or {}
        rows.append({
            "benchmark": b, "models": r["n"], "lower": r["lower"], "tau_theory": r["tau_theory"],
            "tau_simulated": r["tau_simulated"], "agrees": r["agrees_with_theory"],
            "recommended_tau": r["recommended_tau"], "interval_low": r["interval"][0],
            "interval_high": r["interval"][1], "bootstrap_usable": r["bootstrap_usable"],
            "bootstrap": r["bootstrap"], "hardest_pair": f"{h.get('weaker')} vs {h.get('stronger')}" if h else None,
            "hardest_kappa_pow_rho": h.get("kappa_pow_rho"),
            "reasons": " | ".join(r["reasons"]),
        })  # fmt: skip
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- part 2: frontier


def frontier_rows(quick: bool) -> pd.DataFrame:
    from sim.design.report import design_scenario
    from sim.scenario import load_scenario
    from sim.theory import stabilising_threshold

    parts = []
    rounds = QUICK_FRONTIER_ROUNDS if quick else FRONTIER_ROUNDS
    for name in QUICK_FRONTIER_SCENARIOS if quick else FRONTIER_SCENARIOS:
        scenario = load_scenario(SCENARIOS / f"{name}.toml")
        star = stabilising_threshold(scenario.game(tau=0.0)).tau_star
        cost = COST_SHARE / (scenario.n * star) if star and math.isfinite(star) else 0.0
        r = design_scenario(scenario, _settings(quick, rounds=rounds, tbt_cost=cost, quality="kendall_tau"))
        frame = pd.DataFrame(r["levels"])
        frame.insert(0, "scenario", name)
        frame["n"] = scenario.n
        frame["tau_theory"] = r["tau_theory"]
        frame["tau_simulated"] = r["tau_simulated"]
        frame["tbt_cost"] = cost
        frame["optimum"] = r["objective_optimum"]["tau"]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- part 3: check


def random_game(rng: np.random.Generator, resolution: float):
    """A random game meeting the paper's assumptions (the construction of ``tests/strategies.py``), with a cost
    scale log-uniform on ``[1e-6, 1e-1]`` so that the reward gaps are worth 10 to a million effort units and
    ``tau*`` is mostly positive (with scales near 1 it is mostly 0, and the check would be empty)."""
    from sim.costs import LinearCost, PowerCost
    from sim.game import LeaderboardGame
    from sim.rewards import RewardScheme
    from sim.scores import PowerLaw

    n = int(rng.integers(2, 6))
    theta = rng.permutation(np.cumsum(rng.uniform(0.05, 1.0, n)))
    lower = rng.uniform(0.0, 0.5)
    upper = lower + rng.uniform(0.2, 0.5)
    a0, a1 = rng.uniform(-4.0, 1.0), rng.uniform(0.1, 2.0)
    beta_hi = rng.uniform(0.1, 1.0)
    beta_lo = rng.uniform(0.05, 1.0) * beta_hi
    t = (theta - theta.min()) / (theta.max() - theta.min())
    score = PowerLaw(np.full(n, lower), np.full(n, upper), a0 + a1 * theta, beta_lo + (beta_hi - beta_lo) * t,
                     float(rng.choice([1.0, 10.0])))
    scale = float(10.0 ** rng.uniform(-6.0, -1.0))  # the reward gap worth 10 to 1e6 effort units: tau* > 0 mostly
    cost = LinearCost(scale) if rng.random() < 0.5 else PowerCost(scale, rng.uniform(1.0, 3.0))
    scheme = str(rng.choice(["winner_take_all", "top_k", "linear", "geometric", "zipf"]))
    if scheme == "top_k":
        reward = RewardScheme("top_k", k=int(rng.integers(1, n + 1)))
    elif scheme == "geometric":
        reward = RewardScheme("geometric", q=float(rng.uniform(0.05, 1.0)))
    elif scheme == "zipf":
        reward = RewardScheme("zipf", exponent=float(rng.uniform(0.0, 3.0)))
    else:
        reward = RewardScheme(scheme)
    return LeaderboardGame(theta, score, cost, reward.vector(n), tau=0.0, resolution=resolution), scheme


def scenario_of_game(game, rounds: int):
    """A scenario playing ``game`` (power law, built-in cost, its reward vector) with simultaneous best
    responses from zero for ``rounds`` rounds."""
    from sim.rewards import RewardScheme
    from sim.scenario import DesignerSpec, Developers, DynamicsSpec, LeaderboardSpec, Scenario
    from sim.scores import PowerLawSpec

    f = game.score
    spec = PowerLawSpec(lower=tuple(f.lower.tolist()), upper=tuple(f.upper.tolist()), alpha=tuple(f.alpha.tolist()),
                        beta=tuple(f.beta.tolist()), effort_unit=f.effort_unit)
    return Scenario(name="random", seed=0, developers=Developers(capability=tuple(game.theta.tolist())), score=spec,
                    cost=game.cost, reward=RewardScheme("custom", values=tuple(game.rewards.tolist())),
                    leaderboard=LeaderboardSpec(resolution=game.resolution, tie_break=game.tie_break),
                    designer=DesignerSpec(tau=0.0), dynamics=DynamicsSpec(rounds=rounds))


def check_rows(quick: bool) -> pd.DataFrame:
    from sim.assumptions import check_assumptions
    from sim.design.report import agrees, scan_range
    from sim.design.search import Evaluator, scan_levels, search
    from sim.theory import stabilising_threshold, zero_is_equilibrium_exact

    wanted = QUICK_CHECK_SCENARIOS if quick else CHECK_SCENARIOS
    rows = []
    for resolution, seq in zip((0.0, 1e-4), np.random.SeedSequence(SEED).spawn(2), strict=True):
        rng = np.random.default_rng(seq)
        games, drawn = [], 0
        while len(games) < wanted:
            game, scheme = random_game(rng, resolution)
            drawn += 1
            if not check_assumptions(game).holds:
                continue
            star = stabilising_threshold(game)
            if star.tau_star is None or not (math.isfinite(star.tau_star) and star.tau_star > 0):
                continue
            games.append((game, scheme, star))
        settings = _settings(quick, rounds=3)
        problems = [[scenario_of_game(g, 3)] for g, _, _ in games]
        scans = [scan_levels(*scan_range(p[0], settings, s.tau_star), settings.per_decade)
                 for p, (_, _, s) in zip(problems, games, strict=True)]
        with Evaluator(problems, settings) as evaluator:
            results = search(evaluator, scans)
        for (game, scheme, star), result in zip(games, results, strict=True):
            lo, hi = result.interval if result.interval else (math.nan, math.nan)
            sim = result.tau_simulated
            agree = bool(agrees(sim, star.tau_star, settings.rtol, result.atol))
            real_change = bool(zero_is_equilibrium_exact(game, hi)) and (hi == 0 or not zero_is_equilibrium_exact(
                game, lo))
            if agree:
                reason = ""
            elif resolution > 0 and real_change and hi <= star.tau_star:
                reason = "published grid: the bisection found an earlier change of the sawtooth condition"
            elif not star.vouched:
                reason = "the theory's tau* is not vouched for: " + star.note
            else:
                reason = "unexplained"
            rows.append({"resolution": resolution, "n": game.n, "scheme": scheme, "tau_theory": star.tau_star,
                         "vouched": star.vouched, "tau_simulated": sim, "low": lo, "high": hi, "agrees": agree,
                         "real_change": real_change, "reason": reason, "drawn": drawn})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figure


def designer_figure(benchmarks: pd.DataFrame, frontiers: pd.DataFrame, check: pd.DataFrame):
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.4), layout="constrained")
        ax = axes[0]
        x = np.arange(len(benchmarks))
        rec = benchmarks["recommended_tau"].astype(float)
        lo = benchmarks["interval_low"].astype(float)
        hi = benchmarks["interval_high"].astype(float).clip(upper=1e6)
        ax.errorbar(x, rec, yerr=[rec - lo, hi - rec], fmt="o", color="black", capsize=4,
                    label="recommended tau (bootstrap median, 90% interval)")
        top = 10.0 ** math.ceil(math.log10(max(10.0, float(np.nanmax(hi)) * 3)))
        star = benchmarks["tau_theory"].astype(float)
        ax.plot(x, star.clip(upper=top), "x", color="#d55e00", label="tau* of the point fit (theory)")
        for k in np.flatnonzero((star > top).to_numpy()):
            ax.annotate(f"tau* = {star.iloc[k]:.2g}", (x[k], top), textcoords="offset points", xytext=(0, -12),
                        ha="center", fontsize=6, color="#d55e00")
        ax.set_ylim(-0.005, top * 1.5)
        ax.plot(x, benchmarks["tau_simulated"], "+", color="#cc78bc", markersize=10,
                label="least stabilising tau of the point fit (simulated)")
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_xticks(x, benchmarks["benchmark"], rotation=30)
        ax.set_ylabel("tau (train-before-test runs)")
        ax.set_title("lm-harmony: fits through two points a model (underdetermined)", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[1]
        for name, group in frontiers.groupby("scenario", sort=False):
            star = float(group["tau_theory"].iloc[0])
            g = group[group["tau"] > 0].sort_values("tau")
            ax.plot(g["tau"] / star, g["quality"], marker=".", label=f"{name}: Q")
            ax.plot(g["tau"] / star, g["quality"] - g["tbt_cost"] * g["n"] * g["tau"], linestyle=":",
                    color=ax.lines[-1].get_color())
        ax.axvline(1.0, color="#d55e00", linestyle="--", label="tau = tau*")
        if (frontiers["tau"] > 0).any():
            ax.set_xscale("log")
        ax.set_ylim(-0.6, 1.05)
        ax.set_xlabel("tau / tau*")
        ax.set_ylabel("Q = mean tail Kendall tau (solid); J = Q - k n tau (dotted)")
        ax.set_title(f"Designer's frontier (k n tau* = {COST_SHARE:g})", fontsize=9)
        ax.legend(fontsize=6)
        ax = axes[2]
        for (resolution, agree), group in check.groupby(["resolution", "agrees"]):
            pos = group[(group["tau_theory"] > 0) & (group["tau_simulated"] > 0)]
            ax.plot(pos["tau_theory"], pos["tau_simulated"], "o" if resolution == 0 else "s", markersize=4,
                    alpha=0.6, label=f"resolution {resolution:g}, {'agrees' if agree else 'earlier change'} "
                    f"({len(group)})")
        finite = check[(check["tau_theory"] > 0)]["tau_theory"]
        if len(finite):
            span = [finite.min() / 2, finite.max() * 2]
            ax.plot(span, span, color="grey", linewidth=0.8)
        if len(finite):
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("tau* (theory, Definition 5.4)")
        ax.set_ylabel("least stabilising tau (simulated)")
        ax.set_title("Deterministic best responses from zero", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    benchmarks = benchmark_rows(quick)
    frontiers = frontier_rows(quick)
    check = check_rows(quick)
    write_table(benchmarks, out / "benchmarks.csv")
    write_table(frontiers, out / "frontiers.csv")
    write_table(check, out / "check.csv")
    save_figure(designer_figure(benchmarks, frontiers, check), out, INFO.figure, quick=quick)
    exact = check[check["resolution"] == 0]
    grid = check[check["resolution"] > 0]
    headline: dict = {}
    for r in benchmarks.itertuples():
        headline[f"{r.benchmark}: recommended tau [90% interval]"] = (
            f"{r.recommended_tau:.3g} [{r.interval_low:.3g}, {r.interval_high:.3g}]")
        headline[f"{r.benchmark}: tau* / tau simulated (point fit)"] = f"{r.tau_theory:.3g} / {r.tau_simulated:.3g}"
        headline[f"{r.benchmark}: usable bootstrap draws"] = f"{r.bootstrap_usable} of {r.bootstrap}"
        headline[f"{r.benchmark}: hardest pair (largest kappa**rho)"] = r.hardest_pair
    for name, row in frontiers.groupby("scenario", sort=False).first().iterrows():
        headline[f"frontier {name}: optimum tau / tau*"] = float(row.optimum / row.tau_theory)
    headline.update({
        "check exact scores: scenarios (tau* > 0)": len(exact),
        "check exact scores: agree within rtol": int(exact["agrees"].sum()),
        "check grid 1e-4: scenarios (tau* > 0)": len(grid),
        "check grid 1e-4: agree within rtol": int(grid["agrees"].sum()),
        "check grid 1e-4: an earlier real change of the sawtooth": int((~grid["agrees"] & grid["real_change"]).sum()),
        "check rtol": QUICK_RTOL if quick else RTOL,
        "check tau* range": f"{check['tau_theory'].min():.3g} to {check['tau_theory'].max():.3g}",
        "check disagreements by reason": {str(k): int(v) for k, v in
                                          check.loc[~check["agrees"], "reason"].value_counts().items()},
    })
    return headline


main = command(INFO, run)

if __name__ == "__main__":
    import sys

    sys.exit(main())
