"""Phase diagram: where repeated play settles at zero effort, over tau x reward scheme and tau x reward gap.

Two sweeps (``scenarios/sweeps/phase_diagram.toml`` and
``phase_diagram_gap.toml``) play the five-developer winner-take-all scenario
with capabilities drawn afresh in every replication, under simultaneous best
responses from the all-zero profile:

* panel (a): the tune-before-test level ``tau`` (log-spaced) x five reward
  schemes (winner-take-all, top-2, linear, geometric, Zipf);
* panel (b): ``tau`` x the winner-take-all prize in effort units,
  ``g = (r_1 - r_2) / c0`` (the reward gap of Proposition 5.6 of Chen, Zhang,
  Hardt), swept through the linear cost scale ``c0``.

Each cell's colour is the share of replications whose run converged to the
all-zero profile (``converged_zero``).  Over it the theory's stabilising
threshold ``tau* = inf {tau : c(Delta_i(tau')) >= r_{i-1} - r_i for all i and
all tau' >= tau}`` (Definition 5.4) is drawn as the median over the
replications with its interquartile range: Proposition 4.5 with Lemma 5.2
predicts the run stable exactly when ``tau >= tau*``.  Cells where the
simulated share and the predicted share (of ``tau >= tau*``) differ are
outlined.  On a published grid (resolution ``delta > 0``) ``Delta_i(tau)`` is
a sawtooth, so the zero profile can be an equilibrium at isolated ``tau``
below ``tau*``: the headline counts those disagreements separately.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import SCENARIOS, ExperimentInfo, command, new_axes, save_figure, style, write_table
from sim.analysis import OUTCOMES
from sim.errors import ScenarioError

INFO = ExperimentInfo(
    name="phase_diagram",
    title="Phase diagram: tune-before-test level against reward scheme and reward gap",
    description=(
        "Share of runs that converge to zero effort over the tune-before-test level tau and the reward scheme (a) "
        "or the winner-take-all prize in effort units (b), with the theory's stabilising threshold tau* "
        "(median and interquartile range over sampled capabilities) drawn over it."
    ),
    figure="phase_diagram",
    data=("sweep_scheme.parquet", "sweep_gap.parquet", "cells.csv"),
)

SCHEME_SWEEP = SCENARIOS / "sweeps" / "phase_diagram.toml"
GAP_SWEEP = SCENARIOS / "sweeps" / "phase_diagram_gap.toml"

#: Reduced sizes for ``quick=True``: replications, tau grid and cost-scale grid.
QUICK_REPLICATIONS = 2
QUICK_TAU = {"logspace": [-1.0, 4.0, 6]}
QUICK_COST_SCALE = {"logspace": [-4.0, -1.0, 4]}

TAU_LABEL = "tune-before-test level τ (effort units)"
GAP_LABEL = "prize (r₁ − r₂)/c₀ (effort units)"
SHARE_LABEL = "share of runs converged to zero effort"
COLORMAP = "viridis"

_SCHEME_NAMES = {
    "winner_take_all": "winner-take-all",
    "linear": "linear",
    "custom": "custom",
}


# --------------------------------------------------------------------------- sweeps


def axes_dict(spec) -> dict:
    """The axes of a :class:`sim.sweeps.SweepSpec` in the form :func:`sim.sweeps.sweep_spec` takes."""
    return {a.name: list(a.args) if a.kind == "values" else {a.kind: list(a.args)} for a in spec.axes}


def reduced_spec(spec, *, replications: int, axes: dict):
    """``spec`` with fewer replications and some axes replaced (the quick size); seed and base unchanged."""
    from sim.sweeps import sweep_spec

    merged = axes_dict(spec)
    unknown = sorted(set(axes) - set(merged))
    if unknown:
        raise ScenarioError("axes", unknown[0], f"is not an axis of the sweep {spec.name!r}")
    merged.update(axes)
    return sweep_spec(spec.base, merged, name=spec.name, replications=replications, seed=spec.seed,
                      common_random_numbers=spec.common_random_numbers)


def load_specs(quick: bool = False):
    """The two sweeps of the figure ``(scheme panel, gap panel)``, reduced when ``quick``."""
    from sim.sweeps import load_sweep

    scheme, gap = load_sweep(SCHEME_SWEEP), load_sweep(GAP_SWEEP)
    if gap.base.reward.scheme != "winner_take_all":
        raise ScenarioError("reward.scheme", gap.base.reward.scheme,
                            f"the gap panel needs a winner-take-all base ({GAP_SWEEP.name})")
    if quick:
        scheme = reduced_spec(scheme, replications=QUICK_REPLICATIONS, axes={"designer.tau": QUICK_TAU})
        gap = reduced_spec(gap, replications=QUICK_REPLICATIONS,
                           axes={"designer.tau": QUICK_TAU, "cost.scale": QUICK_COST_SCALE})
    return scheme, gap


# --------------------------------------------------------------------------- data preparation


def scheme_label(value) -> str:
    """Short name of a reward scheme given as a dict or its JSON text (the sweep's ``reward`` column).

    ``{"scheme": "top_k", "k": 2}`` -> ``"top-2"``; geometric and Zipf show their parameter.
    """
    data = json.loads(value) if isinstance(value, str) else dict(value)
    scheme = data.get("scheme")
    if scheme == "top_k":
        return f"top-{int(data['k'])}"
    if scheme == "geometric":
        return f"geometric (q={float(data.get('q', 0.5)):g})"
    if scheme == "zipf":
        return f"Zipf (s={float(data.get('exponent', 1.0)):g})"
    if scheme in _SCHEME_NAMES:
        return _SCHEME_NAMES[scheme]
    raise ScenarioError("reward.scheme", scheme, "unknown reward scheme")


def played(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sweep table whose scenario ran (no ``error``), with a plain ``bool`` copy of the flags."""
    ok = table[table["error"].isna()].copy()
    for column in ("predicted_stable", "zero_is_equilibrium"):
        ok[column] = ok[column].astype("boolean").fillna(False).astype(bool)
    ok["outcome"] = ok["outcome"].astype(str)
    return ok


def with_scheme(table: pd.DataFrame, column: str = "reward") -> pd.DataFrame:
    """``table`` with a categorical ``scheme`` label (:func:`scheme_label`), in the order schemes first appear."""
    labels = table[column].map(scheme_label)
    return table.assign(scheme=pd.Categorical(labels, categories=list(dict.fromkeys(labels))))


def with_gap(table: pd.DataFrame, column: str = "cost.scale") -> pd.DataFrame:
    """``table`` with ``reward_gap = 1 / c0``: a winner-take-all prize (``r_1 - r_2 = 1``) in effort units.

    This is ``g = (r_1 - r_2) / c0`` of Proposition 5.6 for the linear cost ``c(x) = c0 * x``.
    """
    scale = table[column].astype(float)
    if (scale <= 0).any() or scale.isna().any():
        raise ScenarioError(column, float(scale.min()), "a reward gap needs a positive cost scale")
    return table.assign(reward_gap=1.0 / scale)


def outcome_shares(table: pd.DataFrame, by) -> pd.DataFrame:
    """Count and share of every outcome in each cell of ``by`` (a column name or list).

    Long frame: the ``by`` columns, ``outcome`` (all of :data:`sim.analysis.OUTCOMES`,
    zero counts included), ``count``, ``scenarios`` (in the cell) and
    ``share = count / scenarios``; shares sum to 1 in every cell.  Rows
    without an outcome (failed scenarios) are left out.
    """
    by = [by] if isinstance(by, str) else list(by)
    data = table[table["outcome"].notna()]
    unknown = sorted(set(data["outcome"].astype(str)) - set(OUTCOMES))
    if unknown:
        raise ScenarioError("outcome", unknown[0], f"unknown outcome (expected one of {', '.join(OUTCOMES)})")
    counts = (
        data.assign(outcome=pd.Categorical(data["outcome"].astype(str), categories=list(OUTCOMES)))
        .groupby(by + ["outcome"], observed=False, sort=True)
        .size()
        .rename("count")
        .reset_index()
    )
    counts["scenarios"] = counts.groupby(by, observed=False)["count"].transform("sum")
    counts = counts[counts["scenarios"] > 0].reset_index(drop=True)
    counts["outcome"] = counts["outcome"].astype(str)
    counts["share"] = counts["count"] / counts["scenarios"]
    return counts


def cell_summary(table: pd.DataFrame, row: str, col: str = "tau") -> pd.DataFrame:
    """One line per cell ``(row, col)`` of a played sweep table (:func:`played`).

    Columns: ``scenarios``, ``zero_share`` (simulated ``converged_zero``),
    ``cycle_share``, ``no_convergence_share``, ``predicted_share`` (runs with
    ``tau >= tau*``), ``equilibrium_share`` (all-zero is a pure Nash
    equilibrium at that ``tau``), ``disagreements`` (runs where
    ``converged_zero`` differs from ``tau >= tau*``).
    """
    data = table.assign(
        _zero=table["outcome"] == "converged_zero",
        _cycle=table["outcome"] == "cycle",
        _none=table["outcome"] == "no_convergence",
    )
    data["_disagree"] = data["_zero"] != data["predicted_stable"]
    grouped = data.groupby([row, col], observed=True, sort=True)
    out = pd.DataFrame(
        {
            "scenarios": grouped.size(),
            "zero_share": grouped["_zero"].mean(),
            "cycle_share": grouped["_cycle"].mean(),
            "no_convergence_share": grouped["_none"].mean(),
            "predicted_share": grouped["predicted_stable"].mean(),
            "equilibrium_share": grouped["zero_is_equilibrium"].mean(),
            "disagreements": grouped["_disagree"].sum().astype(np.int64),
        }
    )
    return out.reset_index()


def tau_star_band(table: pd.DataFrame, row: str) -> pd.DataFrame:
    """Median and interquartile range of ``tau*`` over replications, per value of ``row``.

    ``tau*`` depends on the game, not on ``tau``: one value per
    ``(row, replication)`` is kept.  Columns: ``row``, ``replications``,
    ``tau_star_q25``, ``tau_star_median``, ``tau_star_q75``, ``infinite``
    (replications that never stabilise, ``tau* = inf``: they count in the
    quantiles as +inf).
    """
    per_rep = table.drop_duplicates([row, "replication"])[[row, "replication", "tau_star"]]
    grouped = per_rep.groupby(row, observed=True, sort=True)["tau_star"]
    out = pd.DataFrame(
        {
            "replications": grouped.size(),
            "tau_star_q25": grouped.quantile(0.25),
            "tau_star_median": grouped.median(),
            "tau_star_q75": grouped.quantile(0.75),
            "infinite": grouped.agg(lambda s: int(np.isinf(s.to_numpy(dtype=float)).sum())),
        }
    )
    return out.reset_index()


def agreement(table: pd.DataFrame) -> dict:
    """How often the simulated outcome matches the theory, over the runs of a played sweep table.

    * ``agreement_with_tau_star``: share of runs where ``converged_zero`` equals
      ``tau >= tau*`` (Proposition 4.5 with Lemma 5.2);
    * ``agreement_with_zero_equilibrium``: share where it equals "all-zero is a
      pure Nash equilibrium at this ``tau``" (from the all-zero start under
      simultaneous best responses these are the same statement);
    * ``disagreements`` and, among them, ``zero_equilibrium_below_tau_star``:
      runs at ``tau < tau*`` where zero is nevertheless an equilibrium (the
      sawtooth of ``Delta_i(tau)`` on a published grid).
    """
    zero = table["outcome"] == "converged_zero"
    predicted = table["predicted_stable"].astype(bool)
    equilibrium = table["zero_is_equilibrium"].astype(bool)
    disagree = zero != predicted
    runs = len(table)
    return {
        "runs": runs,
        "agreement_with_tau_star": float((~disagree).mean()) if runs else float("nan"),
        "agreement_with_zero_equilibrium": float((zero == equilibrium).mean()) if runs else float("nan"),
        "disagreements": int(disagree.sum()),
        "zero_equilibrium_below_tau_star": int((disagree & equilibrium & ~predicted).sum()),
        "tau_star_not_vouched": int((~table["tau_star_vouched"].astype("boolean").fillna(False)).sum()),
    }


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` over the finite positive pairs (NaN if < 2)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def log_edges(values) -> np.ndarray:
    """Cell edges for log-spaced centres: geometric midpoints, the outer edges half a step beyond."""
    v = np.log(np.unique(np.asarray(values, dtype=float)))
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError("log_edges needs positive finite values")
    if v.size == 1:
        return np.exp(np.array([v[0] - 0.5, v[0] + 0.5]))
    mid = (v[1:] + v[:-1]) / 2
    return np.exp(np.r_[v[0] - (mid[0] - v[0]), mid, v[-1] + (v[-1] - mid[-1])])


def _grid(cells: pd.DataFrame, row: str, value: str, rows: list) -> tuple[np.ndarray, np.ndarray]:
    taus = np.unique(cells["tau"].to_numpy(dtype=float))
    grid = cells.pivot(index=row, columns="tau", values=value).reindex(index=rows, columns=taus)
    return taus, grid.to_numpy(dtype=float)


# --------------------------------------------------------------------------- plots

_MEDIAN_STYLE = {"color": "white", "markeredgecolor": "black", "markeredgewidth": 0.8}


def _disagreement_colour():
    import seaborn as sns

    from sim.plots import PALETTE

    return sns.color_palette(PALETTE)[3]


def _outline_disagreements(ax, cells: pd.DataFrame, x_edges, y_of_row) -> bool:
    """Outline the cells where the simulated share differs from the predicted share; True if any."""
    from matplotlib.patches import Rectangle

    taus = np.unique(cells["tau"].to_numpy(dtype=float))
    any_drawn = False
    for row in cells[cells["zero_share"] != cells["predicted_share"]].itertuples(index=False):
        i = int(np.searchsorted(taus, row.tau))
        y0, y1 = y_of_row(row)
        ax.add_patch(Rectangle((x_edges[i], y0), x_edges[i + 1] - x_edges[i], y1 - y0, fill=False,
                               edgecolor=_disagreement_colour(), linewidth=1.1, zorder=4))
        any_drawn = True
    return any_drawn


def plot_scheme_panel(cells: pd.DataFrame, band: pd.DataFrame, ax=None):
    """Panel (a): ``zero_share`` heatmap, rows = reward scheme, columns = ``tau`` (log); ``tau*`` median and IQR."""
    fig, ax = new_axes(ax)
    rows = list(band["scheme"].astype(str))
    cells = cells.assign(scheme=cells["scheme"].astype(str))
    with style():
        taus, grid = _grid(cells, "scheme", "zero_share", rows)
        x_edges = log_edges(taus)
        ax.pcolormesh(x_edges, np.arange(len(rows) + 1), grid, cmap=COLORMAP, vmin=0, vmax=1,
                             shading="flat")
        y = np.arange(len(rows)) + 0.5
        med = band["tau_star_median"].to_numpy(dtype=float)
        lo, hi = band["tau_star_q25"].to_numpy(dtype=float), band["tau_star_q75"].to_numpy(dtype=float)
        ax.errorbar(med, y, xerr=[med - lo, hi - med], fmt="none", ecolor="white", elinewidth=2.2, capsize=4,
                    capthick=2.2, zorder=5)
        ax.plot(med, y, "D", markersize=7, zorder=6, linestyle="none", **_MEDIAN_STYLE)
        position = {name: i for i, name in enumerate(rows)}
        _outline_disagreements(ax, cells, x_edges, lambda r: (position[r.scheme], position[r.scheme] + 1))
        ax.set_xscale("log")
        ax.set_xlim(x_edges[0], x_edges[-1])
        ax.set_ylim(len(rows), 0)
        ax.set_yticks(y, rows)
        ax.set_xlabel(TAU_LABEL)
        ax.set_ylabel("reward scheme")
        ax.grid(False)
        ax.set_title("(a) reward schemes, 5 developers")
    return fig


def plot_gap_panel(cells: pd.DataFrame, band: pd.DataFrame, ax=None):
    """Panel (b): ``zero_share`` heatmap over ``tau`` x reward gap (both log); ``tau*`` median line and IQR band."""
    fig, ax = new_axes(ax)
    with style():
        gaps = np.unique(band["reward_gap"].to_numpy(dtype=float))
        taus, grid = _grid(cells, "reward_gap", "zero_share", list(gaps))
        x_edges, y_edges = log_edges(taus), log_edges(gaps)
        ax.pcolormesh(x_edges, y_edges, grid, cmap=COLORMAP, vmin=0, vmax=1, shading="flat")
        band = band.sort_values("reward_gap")
        g = band["reward_gap"].to_numpy(dtype=float)
        ax.fill_betweenx(g, band["tau_star_q25"], band["tau_star_q75"], color="white", alpha=0.35, linewidth=0,
                         zorder=3)
        for q in ("tau_star_q25", "tau_star_q75"):
            ax.plot(band[q], g, color="white", linewidth=1.0, linestyle="--", zorder=4)
        ax.plot(band["tau_star_median"], g, color="white", linewidth=2.0, zorder=5)
        ax.plot(band["tau_star_median"], g, "D", markersize=5, zorder=6, linestyle="none", **_MEDIAN_STYLE)
        index = {float(v): i for i, v in enumerate(gaps)}
        _outline_disagreements(
            ax, cells, x_edges, lambda r: (y_edges[index[float(r.reward_gap)]], y_edges[index[float(r.reward_gap)] + 1])
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_edges[0], x_edges[-1])
        ax.set_ylim(y_edges[0], y_edges[-1])
        ax.set_xlabel(TAU_LABEL)
        ax.set_ylabel(GAP_LABEL)
        ax.grid(False)
        ax.set_title("(b) winner-take-all prize, 5 developers")
    return fig


def phase_figure(scheme_cells, scheme_band, gap_cells, gap_band):
    """Both panels side by side, one colour bar, one legend for ``tau*`` and the outlined cells."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.9), layout="constrained",
                                 gridspec_kw={"width_ratios": [1.05, 1]})
        try:
            plot_scheme_panel(scheme_cells, scheme_band, ax=axes[0])
            plot_gap_panel(gap_cells, gap_band, ax=axes[1])
            scale = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=COLORMAP)
            bar = fig.colorbar(scale, ax=axes, shrink=0.9, pad=0.01)
            bar.set_label(SHARE_LABEL)
            handles = [
                Line2D([], [], marker="D", linestyle="-", markerfacecolor="white", markeredgecolor="black",
                       color="0.35", label="τ* median over replications"),
                Patch(facecolor="0.75", edgecolor="0.35", linestyle="--", label="τ* interquartile range"),
                Patch(fill=False, edgecolor=_disagreement_colour(), linewidth=1.1,
                      label="simulated share ≠ share with τ ≥ τ*"),
            ]
            fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize="small")
        except BaseException:
            plt.close(fig)
            raise
    return fig


# --------------------------------------------------------------------------- run


def run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict:
    from sim.sweeps import sweep

    scheme_spec, gap_spec = load_specs(quick)
    scheme_table = sweep(scheme_spec, n_jobs=n_jobs)
    gap_table = sweep(gap_spec, n_jobs=n_jobs)
    write_table(scheme_table, out / "sweep_scheme.parquet")
    write_table(gap_table, out / "sweep_gap.parquet")

    scheme = with_scheme(played(scheme_table))
    gap = with_gap(played(gap_table))
    scheme_cells, scheme_band = cell_summary(scheme, "scheme"), tau_star_band(scheme, "scheme")
    gap_cells, gap_band = cell_summary(gap, "reward_gap"), tau_star_band(gap, "reward_gap")
    cells = pd.concat(
        [
            scheme_cells.merge(scheme_band, on="scheme").assign(
                panel="scheme", scheme=lambda f: f["scheme"].astype(str)
            ),
            gap_cells.merge(gap_band, on="reward_gap").assign(panel="reward_gap"),
        ],
        ignore_index=True,
    )
    cols = ["panel", "scheme", "reward_gap"]
    write_table(cells[cols + [c for c in cells.columns if c not in cols]], out / "cells.csv")
    save_figure(phase_figure(scheme_cells, scheme_band, gap_cells, gap_band), out, INFO.figure, quick=quick)

    both = pd.concat([scheme, gap], ignore_index=True)
    agree = agreement(both)
    shares = both["outcome"].value_counts(normalize=True)
    return {
        "scenarios": len(scheme_table) + len(gap_table),
        "failed_scenarios": int(scheme_table["error"].notna().sum() + gap_table["error"].notna().sum()),
        "agreement_converged_zero_vs_tau_ge_tau_star": agree["agreement_with_tau_star"],
        "agreement_converged_zero_vs_zero_equilibrium": agree["agreement_with_zero_equilibrium"],
        "disagreements": agree["disagreements"],
        "disagreements_zero_equilibrium_below_tau_star": agree["zero_equilibrium_below_tau_star"],
        "tau_star_not_vouched": agree["tau_star_not_vouched"],
        "share_converged_zero": float(shares.get("converged_zero", 0.0)),
        "share_cycle": float(shares.get("cycle", 0.0)),
        "share_no_convergence": float(shares.get("no_convergence", 0.0)),
        "schemes": list(scheme_band["scheme"].astype(str)),
        "median_tau_star_by_scheme": [round(float(v), 1) for v in scheme_band["tau_star_median"]],
        "tau_star_vs_prize_loglog_slope": loglog_slope(gap_band["reward_gap"], gap_band["tau_star_median"]),
    }


main = command(INFO, run)

if __name__ == "__main__":
    sys.exit(main())
