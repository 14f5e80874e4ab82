"""A scenario calibrated to a real leaderboard: the generalised power law fitted to Winogrande before and after
train-before-test.

Data: the lm-harmony results (:mod:`sim.realdata`; Zhang, Dominguez-Olmedo and
Hardt, "Train-before-test harmonizes language model rankings").  Every model
has two points on each benchmark: direct evaluation (effort ``0``) and
evaluation after the study's benchmark-specific fine-tuning (effort ``1``:
effort is measured in units of one train-before-test run, ``e0 = 1``).

Choices (each a module constant, each stated in the scenario file's header):

* Benchmark :data:`BENCHMARK` = Winogrande, the task of the paper's case study
  (Chen, Zhang, Hardt, Section 4.1 and Figure 1: Qwen2.5 models on Winogrande).  Winogrande is a
  two-way choice, so ``L`` = chance = :data:`LOWER` = 0.5; ``U`` =
  :data:`UPPER` = 1 (perfect accuracy).  Both are fixed: with two efforts per
  model every ``(L, U)`` fits exactly, so the data cannot identify them.
* Capability: PC1 of the train-before-test scores across the 24 task
  benchmarks (:func:`sim.realdata.first_principal_component`), so capability
  is estimated from all tasks, not from Winogrande alone.
* Candidates (:func:`candidates`): base (pretrained) models only, since an
  instruction-tuned variant is a post-trained copy of a base model of the same
  developer; direct score above chance by more than :data:`MIN_Z` standard
  errors (at chance the logit of the normalised score is noise) and a
  train-before-test score above the direct one (else ``beta <= 0``: no rise
  with effort, which the power law cannot express).
* Models (:func:`select_models`): :data:`N_MODELS` candidates spread over the
  PC1 range, the nearest unused candidate to each of ``N_MODELS`` evenly spaced
  PC1 targets from the lowest to the highest candidate.
* Fit: the paper's regression of ``logit((s - L)/(U - L))`` on ``log(1 + e)``
  per model (:func:`sim.calibration.fit_power_law`); with two points it is
  exactly identified (zero residual up to round-off).
* Game: top-:data:`TOP_K` reward (1 for ranks 1 to 3, else 0), linear cost
  :data:`COST_SCALE` per train-before-test run (the prize is worth four runs),
  leaderboard resolution :data:`RESOLUTION` (accuracy published to 0.1
  percentage point), ties to the higher capability, :data:`ROUNDS` rounds
  (long enough for the simultaneous best-response dynamics at ``tau = 0`` to
  enter their cycle and repeat it).

What the real data break (``python3 -m sim.cli check``): C1, since Winogrande
does not rank every pair of the chosen models as PC1 does; C2's concavity,
since most fitted ``beta`` exceed 1 (an S-shaped curve, convex at low
scores); and C3.  The experiment reports them rather than hiding them.

:func:`calibrated_scenario_text` is the committed
``scenarios/lm_harmony_calibrated.toml`` (a test checks they agree).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from experiments.common import (
    SCENARIOS,
    ExperimentInfo,
    command,
    new_axes,
    save_figure,
    style,
    write_table,
    write_text,
)
from sim.calibration import PowerLawFit, fit_power_law, scenario_toml
from sim.realdata import (
    TASK_BENCHMARKS,
    effort_trajectories,
    first_principal_component,
    load_lm_harmony,
    wide_matrix,
)

INFO = ExperimentInfo(
    name="calibration",
    title="Calibration to a real leaderboard (Winogrande, train-before-test)",
    description=(
        "The generalised power law fitted to ten base models' Winogrande accuracy before and after one "
        "train-before-test run, and the fitted learning efficiency beta against PC1 capability."
    ),
    figure="calibration",
    data=("fit.csv", "curves.csv", "dynamics.csv"),
)

#: The task of the paper's case study.
BENCHMARK = "winogrande"
#: ``L``: chance accuracy of a two-way choice.
LOWER = 0.5
#: ``U``: perfect accuracy.
UPPER = 1.0
#: Effort of the train-before-test point; effort unit ``e0`` (one train-before-test run).
TBT_EFFORT = 1.0
EFFORT_UNIT = 1.0
#: A candidate's direct score must exceed chance by more than this many standard errors.
MIN_Z = 2.0
#: Models in the scenario.
N_MODELS = 10
#: Suffixes of instruction-tuned variants (not candidates).
TUNED_TAGS = ("-Chat", "-Instruct", "-it")

TOP_K = 3
COST_SCALE = 0.25
RESOLUTION = 0.001
ROUNDS = 1000
#: Rounds of the dynamics the quick run plays (the full run plays ROUNDS).
QUICK_ROUNDS = 200
SEED = 0
SCENARIO_NAME = "lm-harmony-calibrated"  # the file stem with dashes (the scenario library convention)
#: The committed copy of the calibrated scenario.
SCENARIO_FILE = SCENARIOS / "lm_harmony_calibrated.toml"

EFFORT_AXIS = "total effort (train-before-test runs)"
#: Efforts at which the fitted curves are tabulated and drawn (0 to 100 runs).
CURVE_EFFORTS = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 121)])


# --------------------------------------------------------------------------- data preparation


def is_base_model(model: str) -> bool:
    """A pretrained base model: the name carries none of :data:`TUNED_TAGS`."""
    return not any(str(model).endswith(tag) or f"{tag}-" in str(model) for tag in TUNED_TAGS)


def capability(frame: pd.DataFrame) -> pd.Series:
    """PC1 of the train-before-test scores across the 24 task benchmarks (higher = better), per model."""
    pc1, _ = first_principal_component(wide_matrix(frame, "train_before_test", TASK_BENCHMARKS))
    return pc1


def candidates(frame: pd.DataFrame, pc1: pd.Series, benchmark: str = BENCHMARK, lower: float = LOWER) -> pd.DataFrame:
    """Every model on ``benchmark``: ``model, pc1, direct, tbt, direct_stderr, tbt_stderr, base, above_chance,
    improves, candidate``, sorted by PC1.

    ``above_chance``: ``direct - L > MIN_Z * direct_stderr``; ``improves``:
    ``tbt > direct``; ``candidate``: base model with both.
    """
    points = effort_trajectories(frame, benchmark, tbt_effort=TBT_EFFORT)
    wide = points.pivot(index="model", columns="effort", values=["score", "stderr"])
    table = pd.DataFrame(
        {
            "pc1": pc1.reindex(wide.index).to_numpy(),
            "direct": wide[("score", 0.0)].to_numpy(),
            "tbt": wide[("score", TBT_EFFORT)].to_numpy(),
            "direct_stderr": wide[("stderr", 0.0)].to_numpy(),
            "tbt_stderr": wide[("stderr", TBT_EFFORT)].to_numpy(),
        },
        index=wide.index,
    )
    table["base"] = [is_base_model(m) for m in table.index]
    table["above_chance"] = table["direct"] - lower > MIN_Z * table["direct_stderr"]
    table["improves"] = table["tbt"] > table["direct"]
    table["candidate"] = table["base"] & table["above_chance"] & table["improves"]
    return table.sort_values("pc1").rename_axis("model").reset_index()


def select_models(pc1: pd.Series, k: int = N_MODELS) -> list[str]:
    """``k`` models spread over the range of ``pc1``: for each of ``k`` evenly spaced targets from the lowest
    to the highest value, the nearest model not yet chosen (ties: the lower PC1).  Returned by PC1, highest first.
    """
    if not 1 <= k <= len(pc1):
        raise ValueError(f"k must be between 1 and {len(pc1)}, got {k}")
    values = pc1.sort_values()
    chosen: list[str] = []
    for target in np.linspace(values.iloc[0], values.iloc[-1], k):
        left = values.drop(chosen)
        chosen.append(str((left - target).abs().idxmin()))
    return sorted(chosen, key=lambda m: -pc1[m])


@dataclass(frozen=True)
class Calibration:
    """Everything the experiment derives from the data."""

    pc1: pd.Series
    pc1_share: float
    table: pd.DataFrame  # candidates(): every model on the benchmark
    models: tuple[str, ...]  # chosen, highest PC1 first
    fit: PowerLawFit  # the chosen models
    fit_all: PowerLawFit  # every candidate (for beta against capability)


def calibrate(frame: pd.DataFrame | None = None) -> Calibration:
    """Load (default: the vendored data), estimate capabilities, choose the models and fit the power law."""
    frame = load_lm_harmony() if frame is None else frame
    pc1, share = first_principal_component(wide_matrix(frame, "train_before_test", TASK_BENCHMARKS))
    table = candidates(frame, pc1)
    pool = table[table["candidate"]].set_index("model")["pc1"]
    models = tuple(select_models(pool, N_MODELS))
    points = effort_trajectories(frame, BENCHMARK, tbt_effort=TBT_EFFORT)
    fit = fit_power_law(points[points["model"].isin(models)].set_index("model").loc[list(models)].reset_index(),
                        lower=LOWER, upper=UPPER, effort_unit=EFFORT_UNIT)
    fit_all = fit_power_law(points[points["model"].isin(pool.index)], lower=LOWER, upper=UPPER,
                            effort_unit=EFFORT_UNIT)
    return Calibration(pc1, share, table, models, fit, fit_all)


def calibrated_scenario(cal: Calibration | None = None) -> dict:
    """The calibrated scenario as a dict (:meth:`sim.calibration.PowerLawFit.to_scenario`): developers in order
    of PC1 (highest first), capability = PC1."""
    cal = calibrate() if cal is None else cal
    return cal.fit.to_scenario(
        cal.pc1.to_dict(),
        name=SCENARIO_NAME,
        cost_scale=COST_SCALE,
        reward={"scheme": "top_k", "k": TOP_K},
        resolution=RESOLUTION,
        rounds=ROUNDS,
        seed=SEED,
        models=list(cal.models),
    )


def _header(cal: Calibration) -> str:
    theory = scenario_theory(calibrated_scenario(cal))
    rows = cal.table.set_index("model").loc[list(cal.models)]
    fit = cal.fit.table().set_index("model")
    n_candidates = int(cal.table["candidate"].sum())
    lines = [
        "Calibrated to a real leaderboard: Winogrande in the lm-harmony train-before-test data.",
        "GENERATED by experiments/calibration.py (calibrated_scenario_text); do not edit by hand:",
        "tests/test_experiment_calibration.py checks that this file equals what the code produces.",
        "",
        "Data: sim/data/lm_harmony/all_results.json (MIT licence), from Zhang, Dominguez-Olmedo, Hardt,",
        '"Train-before-test harmonizes language model rankings" (arXiv 2507.05195): accuracy of 61 open models',
        "evaluated directly and after the same benchmark-specific fine-tuning (train-before-test).",
        "",
        "Benchmark: Winogrande, the task of the case study in Chen, Zhang, Hardt (Section 4.1, Figure 1).",
        "Effort unit: one train-before-test fine-tuning run. Direct evaluation is effort 0, the",
        "train-before-test score is effort 1, effort_unit e0 = 1. Scores are Winogrande accuracies.",
        "Capability: PC1 of the per-benchmark z-scored train-before-test accuracies on the 24 task",
        f"benchmarks (PC1 explains {cal.pc1_share:.1%} of their variance); higher is better.",
        "Score: generalised power law f(e) = L + (U - L) * sigmoid(alpha + beta * log(1 + e / e0)) with",
        f"L = {LOWER:g} (chance: Winogrande is a two-way choice) and U = {UPPER:g} (perfect accuracy), both fixed.",
        "alpha, beta per model by the paper's regression of logit((s - L)/(U - L)) on log(1 + e): with two",
        "points per model it is exactly identified (the curve passes through both points).",
        f"Models: {N_MODELS} of the {n_candidates} candidate models, spread evenly over the PC1 range (nearest",
        f"candidate to {N_MODELS} evenly spaced PC1 targets; developers listed strongest first).",
        "Candidates: base models (instruction-tuned variants are post-trained copies of a base model) whose",
        f"direct accuracy exceeds chance by more than {MIN_Z:g} standard errors and rises under train-before-test",
        "(else beta <= 0).",
        f"Game: top-{TOP_K} reward (1 for ranks 1-{TOP_K}); linear cost {COST_SCALE:g} per train-before-test run",
        f"(the prize is worth {1 / COST_SCALE:g} runs); accuracy published rounded down to {RESOLUTION:g}; ties to",
        f"the higher capability. {ROUNDS} rounds: long enough for the best-response dynamics at tau = 0 to enter",
        "their cycle (an arms race) and repeat it.",
        "Real data need not meet the paper's assumptions (run `python3 -m sim.cli check` on this file). Here:",
        f"failing: {', '.join(theory['assumptions_failing']) or 'none'}; stabilising threshold tau* = "
        f"{theory['tau_star']:.3g} train-before-test runs (sim.theory).",
        "",
        "developer  model                             PC1     direct  train-before-test  alpha    beta",
    ]
    for i, model in enumerate(cal.models):
        r, f = rows.loc[model], fit.loc[model]
        lines.append(
            f"{i:>9}  {model:<32} {r['pc1']:>6.3f}  {r['direct']:.4f}  {r['tbt']:.4f}             "
            f"{f['alpha']:>7.4f}  {f['beta']:.4f}"
        )
    return "\n".join(lines)


def calibrated_scenario_text(cal: Calibration | None = None) -> str:
    """The calibrated scenario file's text: a documented header and the TOML (:func:`sim.calibration.scenario_toml`)."""
    cal = calibrate() if cal is None else cal
    return scenario_toml(calibrated_scenario(cal), _header(cal))


def fit_table(cal: Calibration) -> pd.DataFrame:
    """Every candidate with its fitted ``alpha, beta`` and PC1; ``chosen`` marks the scenario's models."""
    fitted = cal.fit_all.table()[["model", "alpha", "beta", "rms"]]
    table = cal.table.merge(fitted, on="model", how="left")
    table["chosen"] = table["model"].isin(cal.models)
    table["benchmark"] = BENCHMARK
    return table


def curve_data(cal: Calibration, efforts=CURVE_EFFORTS) -> pd.DataFrame:
    """Fitted curves of the chosen models: ``model, pc1, effort, score`` (tidy)."""
    parts = [
        pd.DataFrame({"model": m, "pc1": float(cal.pc1[m]), "effort": efforts, "score": cal.fit.predict(m, efforts)})
        for m in cal.models
    ]
    return pd.concat(parts, ignore_index=True)


def observed_points(cal: Calibration) -> pd.DataFrame:
    """The chosen models' observed points: ``model, effort, score, stderr``."""
    rows = cal.table.set_index("model").loc[list(cal.models)]
    parts = [
        pd.DataFrame({"model": rows.index, "effort": effort, "score": rows[score], "stderr": rows[f"{score}_stderr"]})
        for effort, score in ((0.0, "direct"), (TBT_EFFORT, "tbt"))
    ]
    return pd.concat(parts, ignore_index=True)


def scenario_theory(data: dict) -> dict:
    """``tau*`` (Definition 5.4) and the assumption checks of the calibrated scenario."""
    from sim.assumptions import check_assumptions
    from sim.scenario import parse_scenario
    from sim.theory import stabilising_threshold

    game = parse_scenario(data).game()
    threshold = stabilising_threshold(game)
    report = check_assumptions(game)
    return {
        "tau_star": threshold.tau_star,
        "tau_star_vouched": threshold.vouched,
        "tau_star_per_pair": threshold.per_pair.tolist(),
        "assumptions_failing": [r.name for r in report.failures],
        "assumption_notes": {r.name: r.where for r in report.failures},
    }


def dynamics_outcomes(data: dict, taus, rounds: int) -> pd.DataFrame:
    """Outcome of the scenario's dynamics (:func:`sim.engine.run_batch`) at each tune-before-test level in ``taus``:
    ``tau, outcome, period, entered_at, ranking_correct_share, total_effort_mean``."""
    from sim.engine import run_batch
    from sim.scenario import parse_scenario

    scenario = parse_scenario(data)
    taus = [float(t) for t in taus]
    batch = run_batch([scenario] * len(taus), rounds=rounds, tau=taus)
    rows = []
    for tau, outcome in zip(taus, batch.outcomes(), strict=True):
        rows.append(
            {
                "tau": tau,
                "outcome": outcome.outcome,
                "period": outcome.period,
                "entered_at": outcome.entered_at,
                "ranking_correct_share": outcome.ranking_correct_share,
                "total_effort_mean": outcome.total_effort_mean,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plots


def _short(model: str) -> str:
    return model.split("/")[-1]


def plot_curves(curves: pd.DataFrame, points: pd.DataFrame, tau_star: float | None = None, ax=None):
    """Fitted score against total effort (symmetric-log axis, linear below one run) with the two observed points
    (standard-error bars) per model; models coloured from the highest PC1 down."""
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter, NullLocator

    from sim.plots import PALETTE

    fig, ax = new_axes(ax)
    with style():
        models = list(dict.fromkeys(curves.sort_values("pc1", ascending=False)["model"]))
        colours = sns.color_palette(PALETTE, len(models))
        for colour, model in zip(colours, models, strict=True):
            c = curves[curves["model"] == model]
            p = points[points["model"] == model]
            label = f"{_short(model)} ({c['pc1'].iloc[0]:.1f})"
            ax.plot(c["effort"], c["score"], color=colour, lw=1.4, label=label)
            ax.errorbar(p["effort"], p["score"], yerr=p["stderr"], fmt="o", ms=4, color=colour, capsize=2, lw=1)
        if tau_star is not None and np.isfinite(tau_star):
            ax.axvline(tau_star, color="0.3", ls="--", lw=1)
            ax.annotate(f"τ* = {tau_star:.3g} runs (top-{TOP_K} game)", (tau_star, 0.02), fontsize=8, color="0.3",
                        xycoords=("data", "axes fraction"), xytext=(3, 0), textcoords="offset points")
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
        ticks = [0, 0.5, 1, 2, 5, 10, 20, 50, 100]
        ax.set_xticks([t for t in ticks if t <= curves["effort"].max()])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(-0.08, curves["effort"].max())
        ax.set_xlabel(EFFORT_AXIS)
        ax.set_ylabel("Winogrande accuracy")
        ax.set_title("Fitted power law through the two observed points")
        ax.legend(fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5), title="model (PC1)", title_fontsize=8)
    return fig


def plot_beta_vs_capability(table: pd.DataFrame, ax=None):
    """Fitted ``beta`` of every candidate against its PC1 capability; the scenario's models filled."""
    import seaborn as sns

    from sim.plots import PALETTE

    fig, ax = new_axes(ax)
    colours = sns.color_palette(PALETTE)
    with style():
        rows = table[table["candidate"]]
        rest, chosen = rows[~rows["chosen"]], rows[rows["chosen"]]
        ax.scatter(rest["pc1"], rest["beta"], s=22, facecolor="none", edgecolor=colours[0], label="other candidates")
        ax.scatter(chosen["pc1"], chosen["beta"], s=28, color=colours[1], label="in the scenario")
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("capability (PC1 of train-before-test scores)")
        ax.set_ylabel("fitted β (learning efficiency)")
        ax.set_title("Fitted β against capability (candidate base models)")
        ax.legend(fontsize=8, loc="upper left")
    return fig


def calibration_figure(curves, points, table, tau_star=None):
    import matplotlib.pyplot as plt

    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(13.0, 4.6), layout="constrained",
                                          gridspec_kw={"width_ratios": [1.45, 1]})
    plot_curves(curves, points, tau_star, ax=left)
    plot_beta_vs_capability(table, ax=right)
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    """Fit, write ``fit.csv``, ``curves.csv``, ``dynamics.csv``, the calibrated scenario and the figure; return
    headline numbers.

    The data are small, so ``quick`` changes nothing but is accepted.
    """
    out = Path(out)
    cal = calibrate()
    table = fit_table(cal)
    curves = curve_data(cal)
    points = observed_points(cal)
    write_table(table, out / "fit.csv")
    write_table(curves, out / "curves.csv")
    text = calibrated_scenario_text(cal)
    write_text(text, out / SCENARIO_FILE.name)
    scenario = calibrated_scenario(cal)
    theory = scenario_theory(scenario)
    tau_star = theory["tau_star"]
    above = float(np.ceil(tau_star)) if tau_star is not None and np.isfinite(tau_star) else None
    dynamics = dynamics_outcomes(scenario, [0.0] + ([above] if above is not None else []),
                                 QUICK_ROUNDS if quick else ROUNDS)
    write_table(dynamics, out / "dynamics.csv")
    at_zero = dynamics.iloc[0]
    save_figure(calibration_figure(curves, points, table, theory["tau_star"]), out, INFO.figure, quick=quick)
    rows = table[table["candidate"]]
    rho = spearmanr(rows["pc1"], rows["beta"]).statistic
    return {
        "benchmark": BENCHMARK,
        "models": [_short(m) for m in cal.models],
        "lower_upper": [LOWER, UPPER],
        "max_fit_rms": float(np.max(cal.fit.rms)),
        "tau_star_tbt_runs": theory["tau_star"],
        "tau_star_vouched": theory["tau_star_vouched"],
        "assumptions_failing": theory["assumptions_failing"],
        "outcome_tau_0": str(at_zero["outcome"]),
        "cycle_period_tau_0": None if pd.isna(at_zero["period"]) else int(at_zero["period"]),
        "tau_above_tau_star": above,
        "outcome_above_tau_star": None if above is None else str(dynamics.iloc[1]["outcome"]),
        "beta_range": [float(cal.fit.beta.min()), float(cal.fit.beta.max())],
        "candidates": int(table["candidate"].sum()),
        "spearman_beta_pc1_candidates": float(rho),
        "pc1_share_tbt": cal.pc1_share,
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
