"""A real leaderboard before and after train-before-test: ranking agreement between benchmarks and latent capability.

Data: the lm-harmony results (:mod:`sim.realdata`): 61 open models on the
24 task benchmarks, evaluated directly and after the same benchmark-specific
fine-tuning for every model (train-before-test; Zhang, Dominguez-Olmedo and
Hardt, "Train-before-test harmonizes language model rankings").  For each
setting:

* ranking agreement: Kendall's tau-b between the model rankings of every two
  benchmarks (276 pairs), and its mean (:func:`sim.realdata.mean_pairwise_kendall`);
* latent capability: PCA of the per-benchmark z-scored models x benchmarks
  matrix; PC1 is the capability estimate and its share of the variance says
  how close the leaderboard is to one-dimensional
  (:func:`sim.realdata.principal_components`).

Uncertainty: a bootstrap over models (resample the 61 models with
replacement, recompute both statistics in both settings; percentile
intervals), from one seeded ``numpy.random.Generator``.  The train-before-test
PC1 is the capability the calibrated scenario uses (``experiments.calibration``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import ExperimentInfo, command, new_axes, save_figure, style, write_table
from sim.realdata import (
    SETTINGS,
    TASK_BENCHMARKS,
    kendall_tau_b_matrix,
    load_lm_harmony,
    mean_pairwise_kendall,
    principal_components,
    wide_matrix,
)

INFO = ExperimentInfo(
    name="real_leaderboard",
    title="Real leaderboard: ranking agreement and latent capability under train-before-test",
    description=(
        "Kendall's tau between the model rankings of every two of 24 task benchmarks, and the variance share of "
        "the first five principal components, for 61 models evaluated directly and after train-before-test."
    ),
    figure="real_leaderboard",
    data=("capability.csv", "kendall_pairs.csv", "scree.csv", "summary_stats.csv"),
)

SEED = 20250707
#: Bootstrap resamples of the models (full, quick).
BOOTSTRAP = 1000
QUICK_BOOTSTRAP = 50
#: Components shown in the scree panel.
N_COMPONENTS = 5
LABELS = {"direct": "direct evaluation", "train_before_test": "train-before-test"}


# --------------------------------------------------------------------------- data preparation


def matrices(frame: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Models x 24 task benchmarks for each setting (same rows, same columns)."""
    frame = load_lm_harmony() if frame is None else frame
    return {setting: wide_matrix(frame, setting, TASK_BENCHMARKS) for setting in SETTINGS}


def capability_table(mats: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model: PC1 in each setting and the mean score across the task benchmarks; sorted by train-before-test
    PC1, highest first (``rank_tbt`` 1 = highest)."""
    table = pd.DataFrame(index=mats["train_before_test"].index)
    for setting, mat in mats.items():
        table[f"pc1_{setting}"] = principal_components(mat).scores["PC1"]
        table[f"mean_score_{setting}"] = mat.mean(axis=1)
    table = table.sort_values("pc1_train_before_test", ascending=False)
    table["rank_tbt"] = np.arange(1, len(table) + 1)
    return table.rename_axis("model").reset_index()


def kendall_pairs(mats: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Tidy pairwise Kendall tau-b: ``setting, benchmark_a, benchmark_b, tau`` for every pair ``a < b``."""
    parts = []
    for setting, mat in mats.items():
        _, tau = mean_pairwise_kendall(mat)
        a, b = np.triu_indices(tau.shape[0], k=1)
        parts.append(
            pd.DataFrame(
                {
                    "setting": setting,
                    "benchmark_a": tau.index[a],
                    "benchmark_b": tau.columns[b],
                    "tau": tau.to_numpy()[a, b],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def scree(mats: dict[str, pd.DataFrame], k: int = N_COMPONENTS) -> pd.DataFrame:
    """Share of variance of the first ``k`` principal components: ``setting, component (1..k), share``."""
    parts = [
        pd.DataFrame({"setting": s, "component": np.arange(1, k + 1), "share": principal_components(m).shares[:k]})
        for s, m in mats.items()
    ]
    return pd.concat(parts, ignore_index=True)


def _statistics(values: np.ndarray) -> tuple[float, float]:
    """(mean pairwise tau-b, PC1 share) of one models x benchmarks array (numpy only, for the bootstrap)."""
    tau = kendall_tau_b_matrix(values)
    p = tau.shape[0]
    mean_tau = float(np.mean(tau[np.triu_indices(p, k=1)]))
    z = (values - values.mean(axis=0)) / values.std(axis=0)  # as sim.realdata.standardise, without pandas
    s = np.linalg.svd(z, compute_uv=False)
    return mean_tau, float(s[0] ** 2 / np.sum(s**2))


def bootstrap(mats: dict[str, pd.DataFrame], resamples: int, rng: np.random.Generator) -> pd.DataFrame:
    """Bootstrap over models: each replicate draws the models with replacement (the same draw for both
    settings, so the difference is paired) and records ``mean_tau`` and ``pc1_share`` per setting."""
    direct = mats["direct"].to_numpy()
    tbt = mats["train_before_test"].loc[mats["direct"].index].to_numpy()
    m = direct.shape[0]
    rows = []
    for r in range(resamples):
        pick = rng.integers(0, m, size=m)
        d_tau, d_share = _statistics(direct[pick])
        t_tau, t_share = _statistics(tbt[pick])
        rows.append((r, d_tau, t_tau, d_share, t_share))
    return pd.DataFrame(
        rows, columns=["replicate", "mean_tau_direct", "mean_tau_tbt", "pc1_share_direct", "pc1_share_tbt"]
    )


def summary_stats(mats: dict[str, pd.DataFrame], boot: pd.DataFrame) -> pd.DataFrame:
    """``statistic, direct, train_before_test, difference`` (tbt - direct) and the 95% bootstrap percentile
    interval of each, for the mean pairwise Kendall tau and the PC1 share."""
    rows = []
    for stat, column in (("mean_pairwise_kendall_tau", "mean_tau"), ("pc1_variance_share", "pc1_share")):
        point = {s: _statistics(mats[s].to_numpy())[0 if column == "mean_tau" else 1] for s in SETTINGS}
        diff = boot[f"{column}_tbt"] - boot[f"{column}_direct"]
        row = {
            "statistic": stat,
            "direct": point["direct"],
            "train_before_test": point["train_before_test"],
            "difference": point["train_before_test"] - point["direct"],
        }
        for name, series in (("direct", boot[f"{column}_direct"]), ("train_before_test", boot[f"{column}_tbt"]),
                             ("difference", diff)):
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = np.quantile(series, [0.025, 0.975])
        row["share_of_resamples_increasing"] = float(np.mean(diff > 0))
        row["resamples"] = len(boot)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plots


def _colours():
    import seaborn as sns

    from sim.plots import PALETTE

    palette = sns.color_palette(PALETTE)
    return {"direct": palette[0], "train_before_test": palette[1]}


def plot_kendall_distribution(pairs: pd.DataFrame, ax=None):
    """Histogram of the pairwise Kendall tau-b between benchmarks in each setting, means as dashed lines."""
    fig, ax = new_axes(ax)
    colours = _colours()
    bins = np.linspace(min(-0.2, pairs["tau"].min()), 1.0, 33)
    with style():
        for setting in SETTINGS:
            taus = pairs.loc[pairs["setting"] == setting, "tau"]
            ax.hist(taus, bins=bins, color=colours[setting], alpha=0.45, label=f"{LABELS[setting]}",
                    edgecolor=colours[setting], linewidth=0.8)
            ax.axvline(taus.mean(), color=colours[setting], ls="--", lw=1.5, label=f"mean {taus.mean():.3f}")
        ax.set_xlabel("Kendall's τ-b between two benchmarks' model rankings")
        ax.set_ylabel("benchmark pairs")
        ax.set_title(f"Ranking agreement, {int(len(pairs) / len(SETTINGS))} benchmark pairs")
        ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_scree(shares: pd.DataFrame, ax=None):
    """Variance share of PC1..PCk in each setting (grouped bars, share labelled on PC1)."""
    fig, ax = new_axes(ax)
    colours = _colours()
    width = 0.38
    with style():
        for offset, setting in zip((-width / 2, width / 2), SETTINGS, strict=True):
            rows = shares[shares["setting"] == setting]
            bars = ax.bar(rows["component"] + offset, rows["share"], width=width, color=colours[setting],
                          label=LABELS[setting])
            first = bars[0]
            ax.annotate(f"{first.get_height():.1%}", (first.get_x() + first.get_width() / 2, first.get_height()),
                        xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
        components = sorted(shares["component"].unique())
        ax.set_xticks(components, [f"PC{c}" for c in components])
        ax.set_ylim(0, 1)
        ax.set_xlabel("principal component of the z-scored models x benchmarks matrix")
        ax.set_ylabel("share of variance explained")
        ax.set_title("Scree: how one-dimensional the leaderboard is")
        ax.legend(fontsize=8, loc="upper right")
    return fig


def real_leaderboard_figure(pairs: pd.DataFrame, shares: pd.DataFrame):
    import matplotlib.pyplot as plt

    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.2), layout="constrained")
    plot_kendall_distribution(pairs, ax=left)
    plot_scree(shares, ax=right)
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    """Write the capability table, the pairwise Kendall taus, the scree table, the summary with bootstrap
    intervals and the figure; return the headline numbers (``quick``: fewer bootstrap resamples)."""
    out = Path(out)
    rng = np.random.default_rng(SEED)
    mats = matrices()
    capability = capability_table(mats)
    pairs = kendall_pairs(mats)
    shares = scree(mats)
    boot = bootstrap(mats, QUICK_BOOTSTRAP if quick else BOOTSTRAP, rng)
    stats = summary_stats(mats, boot).set_index("statistic")
    write_table(capability, out / "capability.csv")
    write_table(pairs, out / "kendall_pairs.csv")
    write_table(shares, out / "scree.csv")
    write_table(stats.reset_index(), out / "summary_stats.csv")
    save_figure(real_leaderboard_figure(pairs, shares), out, INFO.figure, quick=quick)
    tau, share = stats.loc["mean_pairwise_kendall_tau"], stats.loc["pc1_variance_share"]
    wide = pairs.pivot_table(index=["benchmark_a", "benchmark_b"], columns="setting", values="tau")
    return {
        "models": int(mats["direct"].shape[0]),
        "task_benchmarks": int(mats["direct"].shape[1]),
        "mean_kendall_tau_direct": float(tau["direct"]),
        "mean_kendall_tau_tbt": float(tau["train_before_test"]),
        "mean_kendall_tau_gain_ci95": [float(tau["difference_ci_low"]), float(tau["difference_ci_high"])],
        "share_of_pairs_agreeing_more_under_tbt": float(np.mean(wide["train_before_test"] > wide["direct"])),
        "pc1_share_direct": float(share["direct"]),
        "pc1_share_tbt": float(share["train_before_test"]),
        "pc1_share_gain_ci95": [float(share["difference_ci_low"]), float(share["difference_ci_high"])],
        "bootstrap_resamples": int(len(boot)),
        "top_model_by_pc1_tbt": str(capability["model"].iloc[0]),
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
