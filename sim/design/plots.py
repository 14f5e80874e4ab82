"""Figures of ``lbsim design``: the designer's frontier, the calibrated curves and the bootstrap of ``tau``.

Each plot function is shaped ``(data, ax=None) -> Figure`` and draws data
prepared by a separate pure function (:func:`frontier_data`,
:func:`calibration_data`, :func:`bootstrap_data`), which the tests check
without drawing.  The package style is applied with
:func:`sim.plots.styled`; nothing happens at import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.plots import save_figure, styled

#: Colours (seaborn ``colorblind``): quality, cost, objective, theory, simulation.
BLUE, ORANGE, GREEN, RED, PURPLE = "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc"
#: The extrapolated part of a fitted curve is drawn up to this factor beyond the largest observed effort.
EXTRAPOLATE = 30.0


def _plain_log_axis(axis) -> None:
    """Plain tick labels (``0.001``, ``1e+06``) and no minor labels: mathtext labels cost seconds a figure."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos=None: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _new_axes(ax, figsize=(6.4, 4.0)):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FrontierData:
    """One row per evaluated level (``tau, quality, designer_cost, J, ok``) and the marks of the frontier."""

    frame: pd.DataFrame
    tau_theory: float | None
    tau_simulated: float | None
    optimum: float | None
    tbt_cost: float | None
    n: int
    title: str
    warning: str | None = None
    quality: str = "ranking quality Q(tau)"


def frontier_data(report: dict) -> FrontierData:
    """From a ``design_scenario`` or ``design_from_data`` report: ``Q(tau)``, ``k n tau`` and ``J`` by level."""
    k = report.get("tbt_cost") or 0.0
    n = int(report["n"])
    frame = pd.DataFrame(
        [{"tau": lv["tau"], "quality": lv["quality"], "share": lv["share"], "ok": lv["ok"]} for lv in report["levels"]]
    ).sort_values("tau", kind="stable").reset_index(drop=True)
    frame["designer_cost"] = k * n * frame["tau"]
    frame["J"] = frame["quality"] - frame["designer_cost"]
    optimum = report["objective_optimum"]["tau"] if report.get("objective_optimum") else None
    title = report.get("source") or report.get("scenario") or ""
    quality = "Q: " + report.get("quality_measure", "ranking quality")
    return FrontierData(frame, report.get("tau_theory"), report.get("tau_simulated"), optimum,
                        report.get("tbt_cost"), n, str(title), report.get("warning"), quality)


@dataclass(frozen=True)
class CalibrationData:
    """Observed points, fitted curves split into the measured range and the extrapolation, and a warning.

    ``curves`` rows: ``model, effort, score, part`` with ``part`` ``"fit"``
    (between the smallest and the largest observed effort of that model) or
    ``"extrapolated"`` (beyond, up to :data:`EXTRAPOLATE` times the largest).
    """

    points: pd.DataFrame
    curves: pd.DataFrame
    lower: float
    upper: float
    warning: str | None
    title: str


def calibration_data(report: dict, points_per_part: int = 60) -> CalibrationData:
    from scipy.special import expit

    obs = pd.DataFrame(report["observations"])
    alpha, beta = report["curves"]["alpha"], report["curves"]["beta"]
    e0 = report["curves"]["effort_unit"]
    lower, upper = float(report["lower"]), float(report["upper"])
    parts = []
    for k, model in enumerate(report["models"]):
        efforts = obs.loc[obs["model"] == model, "effort"]
        lo, hi = float(efforts.min()), float(efforts.max())
        for part, grid in (("fit", np.linspace(lo, hi, points_per_part)),
                           ("extrapolated", np.geomspace(max(hi, 1e-9), max(hi, 1e-9) * EXTRAPOLATE,
                                                         points_per_part))):
            score = lower + (upper - lower) * expit(alpha[k] + beta[k] * np.log1p(grid / e0))
            parts.append(pd.DataFrame({"model": model, "effort": grid, "score": score, "part": part}))
    return CalibrationData(obs, pd.concat(parts, ignore_index=True), lower, upper, report.get("warning"),
                           str(report.get("source", "")))


@dataclass(frozen=True)
class BootstrapData:
    """Per usable bootstrap draw the theory's and the simulated ``tau`` (finite ones), and the recommendation."""

    draws: pd.DataFrame
    recommended: float | None
    interval: tuple
    never: dict


def bootstrap_data(report: dict) -> BootstrapData:
    frame = pd.DataFrame(report["draws"])
    never = {}
    for column in ("tau_theory", "tau_simulated"):
        values = pd.to_numeric(frame[column], errors="coerce") if len(frame) else pd.Series(dtype=float)
        never[column] = int((~np.isfinite(values.to_numpy(dtype=float))).sum())
    return BootstrapData(frame, report.get("recommended_tau"), tuple(report.get("interval") or (None, None)), never)


# --------------------------------------------------------------------------- figures


def _mark(ax, x, colour, label, style="--"):
    if x is not None and math.isfinite(x):
        ax.axvline(x, color=colour, linestyle=style, linewidth=1.2, label=label)


@styled
def plot_frontier(data: FrontierData, ax=None):
    """Ranking quality ``Q(tau)`` and the designer's cost ``k n tau`` against ``tau``, ``tau*`` marked."""
    ax = _new_axes(ax)
    f = data.frame
    positive = f.loc[f["tau"] > 0, "tau"]
    linthresh = float(positive.min()) if len(positive) else 1.0
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
    _plain_log_axis(ax.xaxis)
    ax.plot(f["tau"], f["quality"], marker="o", markersize=3, color=BLUE, label=_wrap(data.quality, 60))
    handles = []
    if data.tbt_cost:
        right = ax.twinx()
        right.grid(False)
        handles = right.plot(f["tau"], f["designer_cost"], color=ORANGE,
                             label=f"designer cost k n tau (k = {data.tbt_cost:g}; right axis)")
        right.set_ylabel("designer cost k n tau")
        ax.plot(f["tau"], f["J"], color=GREEN, linestyle=":", label="objective J = Q - k n tau")
        if data.optimum is not None:
            best = f.loc[f["tau"] == data.optimum, "J"]
            if len(best):
                ax.plot([data.optimum], [float(best.iloc[0])], marker="*", markersize=12, color=GREEN,
                        linestyle="none", label=f"optimum tau = {data.optimum:.4g}")
        ax.set_ylim(min(-0.05, float(max(f["J"].min(), -1.0)) - 0.05), 1.05)
    else:
        ax.set_ylim(min(-0.05, float(f["quality"].min()) - 0.05), 1.05)
    star = f"tau* (theory) = {data.tau_theory:.4g}" if data.tau_theory is not None else None
    _mark(ax, data.tau_theory, RED, star, "--")
    sim = f"tau simulated = {data.tau_simulated:.4g}" if data.tau_simulated is not None else None
    _mark(ax, data.tau_simulated, PURPLE, sim, ":")
    ax.set_xlabel("tune-before-test level tau (effort units; symlog)")
    ax.set_ylabel("ranking quality Q, objective J")
    ax.set_title(f"Designer's frontier: {data.title}", fontsize=10)
    lines, labels = ax.get_legend_handles_labels()
    ax.legend(lines + handles, labels + [h.get_label() for h in handles], fontsize=6, loc="center left")
    if data.warning:
        ax.text(0.01, 0.01, "WARNING: " + _wrap(data.warning), transform=ax.transAxes, fontsize=6, color=RED,
                va="bottom", ha="left")
    return ax.figure


def _wrap(text: str, width: int = 110) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


@styled
def plot_calibration(data: CalibrationData, ax=None):
    """Observed scores (with standard errors) and the fitted curves; the extrapolation drawn as such."""
    ax = _new_axes(ax, figsize=(7.0, 4.4))
    from sim.plots import colour_palette

    models = list(dict.fromkeys(data.curves["model"]))
    colours = colour_palette(len(models))
    for colour, model in zip(colours, models, strict=True):
        fit = data.curves[(data.curves["model"] == model) & (data.curves["part"] == "fit")]
        ext = data.curves[(data.curves["model"] == model) & (data.curves["part"] == "extrapolated")]
        ax.plot(fit["effort"], fit["score"], color=colour, linewidth=1.5, label=model)
        ax.plot(ext["effort"], ext["score"], color=colour, linewidth=0.8, linestyle=":", alpha=0.6)
        pts = data.points[data.points["model"] == model]
        ax.errorbar(pts["effort"], pts["score"], yerr=pts["stderr"], fmt="o", color=colour, markersize=3,
                    capsize=2)
    ax.plot([], [], color="grey", linestyle=":", label="extrapolation (not measured)")
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel("total effort (effort units; symlog)")
    ax.set_ylabel("score")
    ax.axhline(data.lower, color="grey", linewidth=0.6)
    ax.axhline(data.upper, color="grey", linewidth=0.6)
    ax.set_title(f"Calibrated curves: {data.title}", fontsize=10)
    ax.legend(fontsize=5, ncol=2, loc="upper left")
    if data.warning:
        ax.text(0.01, 0.01, "WARNING: " + _wrap(data.warning, 95), transform=ax.transAxes, fontsize=6, color=RED,
                va="bottom", ha="left")
    return ax.figure


@styled
def plot_bootstrap(data: BootstrapData, ax=None):
    """Histograms (log-spaced bins) of the bootstrap draws' ``tau*`` and simulated ``tau``; the recommendation
    and its 90% interval."""
    ax = _new_axes(ax)
    values = {c: pd.to_numeric(data.draws[c], errors="coerce").to_numpy(dtype=float) if len(data.draws)
              else np.empty(0) for c in ("tau_theory", "tau_simulated")}
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values.values()])
    if finite.size:
        bins = np.geomspace(finite.min() / 1.01, finite.max() * 1.01, 30)
        for column, colour, label in (("tau_theory", RED, "tau* (theory)"), ("tau_simulated", PURPLE,
                                                                             "tau simulated")):
            v = values[column]
            v = v[np.isfinite(v) & (v > 0)]
            never = data.never[column]
            ax.hist(v, bins=bins, color=colour, alpha=0.5,
                    label=label + (f" ({never} draw(s) never within the scan)" if never else ""))
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    _mark(ax, data.recommended, "black", f"recommended tau = {data.recommended:.4g}" if data.recommended else None,
          "-")
    lo, hi = data.interval
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi) and hi > 0:
        ax.axvspan(max(lo, 1e-300), hi, color="grey", alpha=0.15, label="90% interval")
    ax.set_xlabel("tau (effort units; log)")
    ax.set_ylabel("bootstrap draws")
    ax.set_title("Parametric bootstrap of the scores within their standard errors", fontsize=10)
    ax.legend(fontsize=7)
    return ax.figure


def write_figures(report: dict, out) -> list:
    """The figures of a report under ``out``: ``frontier``, and from data ``calibration`` and ``bootstrap``
    (PNG and PDF each, written atomically by :func:`sim.plots.save_figure`)."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    written = []
    figures = [("frontier", plot_frontier(frontier_data(report)))]
    if "observations" in report:
        figures.append(("calibration", plot_calibration(calibration_data(report))))
        figures.append(("bootstrap", plot_bootstrap(bootstrap_data(report))))
    for stem, fig in figures:
        written += save_figure(fig, f"{out}/{stem}", tight=False)
        plt.close(fig)
    return written
