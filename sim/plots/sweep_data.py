"""Data for the sweep figures, prepared apart from the drawing: the axes and measures of a sweep table, the
chosen view (:class:`SweepChoice`), shares with Wilson intervals, and tau* beside them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.errors import ScenarioError

#: Outcomes of a run, in the order stacked by ``y="outcome"``, with their colours.
OUTCOME_ORDER = ("converged_zero", "converged_nonzero", "cycle", "no_convergence")


OUTCOME_WORDS = {
    "converged_zero": "settles at zero effort",
    "converged_nonzero": "settles at positive effort",
    "cycle": "arms race (cycle)",
    "no_convergence": "no settling",
}


#: Share measures computed from the ``outcome`` column: name -> outcomes counted.
_SHARE_MEASURES = {
    "converged_zero_share": ("converged_zero",),
    "converged_share": ("converged_zero", "converged_nonzero"),
    "cycle_share": ("cycle",),
    "no_convergence_share": ("no_convergence",),
}


#: Measures :func:`sweep_figure` can draw on the y axis: name -> axis label.  A measure is available
#: when its column (or, for the shares, ``outcome``) is in the table.
SWEEP_MEASURES = {
    "outcome": "share of replications",
    "converged_zero_share": "share settling at zero effort",
    "converged_share": "share settling (zero or positive effort)",
    "cycle_share": "share in an arms race (cycle)",
    "no_convergence_share": "share not settling",
    "ranking_correct_share": "share of tail rounds ranked correctly",
    "top1_correct_share": "share of tail rounds with the strongest on top",
    "kendall_tau_tail": "Kendall's τ, mean over the tail",
    "total_effort_tail": "total effort, mean over the tail (effort units)",
    "mean_total_effort_tail": "total effort, mean over the tail (effort units)",
    "total_surplus_tail": "total surplus, mean over the tail",
    "std_total_effort_tail": "total effort, std over the tail (effort units)",
    "max_mean_effort_tail": "largest developer effort, mean over the tail (effort units)",
    "final_total_effort": "total effort, final round (effort units)",
    "rank_changes_mean": "rank changes per round, mean over the tail",
    "period": "cycle period (rounds; cycles only)",
}


#: Range a measure can take; the intervals of :func:`sweep_data` are clipped to it.
_MEASURE_RANGE = {
    "ranking_correct_share": (0.0, 1.0), "top1_correct_share": (0.0, 1.0), "kendall_tau_tail": (-1.0, 1.0),
    "total_effort_tail": (0.0, np.inf), "mean_total_effort_tail": (0.0, np.inf),
    "std_total_effort_tail": (0.0, np.inf), "max_mean_effort_tail": (0.0, np.inf),
    "final_total_effort": (0.0, np.inf), "rank_changes_mean": (0.0, np.inf), "period": (0.0, np.inf),
}


#: Columns of a sweep table that are never axes (index, results, theory).
_NOT_AXES = {
    "scenario_index", "point", "replication", "seed", "n", "tau", "rounds", "outcome", "period", "entered_at",
    "final_total_effort", "mean_total_effort_tail", "std_total_effort_tail", "max_mean_effort_tail",
    "ranking_correct_share", "rank_changes_mean", "tau_star", "tau_star_vouched", "zero_is_equilibrium",
    "predicted_stable", "error", "kendall_tau_tail", "top1_correct_share", "effort_tail", "utility_tail",
    "total_surplus_tail", "total_effort_tail",
}


#: Log-spaced axis kinds of a sweep file: an x axis of these kinds is drawn on a log scale.
LOG_KINDS = ("logspace", "loguniform")


#: A numeric x axis with more distinct values than this (a random axis) is binned.
MAX_X_VALUES = 40


#: Bins of a binned x axis.
X_BINS = 12


#: Name of the tune-before-test axis, over which the theory's tau* is drawn.
TAU_AXIS = "designer.tau"


_KIND_KEYS = ("scheme", "family", "distribution", "kind")


def _fmt_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        kind = next((k for k in _KIND_KEYS if k in value), None)
        rest = ", ".join(f"{k}={_fmt_value(v)}" for k, v in value.items() if k != kind)
        if kind is None:
            return rest
        return f"{value[kind]}({rest})" if rest else str(value[kind])
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_value(v) for v in value) + "]"
    return str(value)


def axis_value_label(value) -> str:
    """Readable label of one value of a sweep axis.

    A table-valued axis is stored as a JSON string: its kind key (``scheme``,
    ``family``, ``distribution``) becomes a function name and the other keys
    its arguments, ``'{"k": 3, "scheme": "top_k"}'`` -> ``"top_k(k=3)"``;
    a table without a kind key gives ``"a=1, b=2"``.  Floats are written with
    ``:g``; anything else with ``str``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "{[":
            try:
                return _fmt_value(json.loads(text))
            except ValueError:
                return value
        return value
    if isinstance(value, np.generic):
        value = value.item()
    return _fmt_value(value)


def sweep_axes(frame: pd.DataFrame, manifest: Mapping | None = None) -> dict[str, str]:
    """The axes of a sweep table: name -> kind (``"logspace"``, ``"values"``, ...), in the sweep file's order.

    From the manifest (``spec.axes``, what ``lbsim sweep`` writes) when given,
    keeping the axes present in ``frame``; otherwise every column that is not
    an index, result, theory or ``<axis>_label`` column, with kind ``"values"``.
    """
    spec_axes = ((manifest or {}).get("spec") or {}).get("axes") or {}
    if spec_axes:
        return {name: next(iter(kind), "values") for name, kind in spec_axes.items() if name in frame.columns}
    names = [c for c in frame.columns if c not in _NOT_AXES and not str(c).endswith("_label")]
    return {name: "values" for name in names}


def sweep_measures(frame: pd.DataFrame) -> list[str]:
    """The measures of :data:`SWEEP_MEASURES` that ``frame`` can give (by its columns)."""
    out = []
    for name in SWEEP_MEASURES:
        if name == "outcome" or name in _SHARE_MEASURES:
            if "outcome" in frame.columns:
                out.append(name)
        elif name in frame.columns:
            out.append(name)
    return out


def _varied(frame: pd.DataFrame, names) -> list[str]:
    return [a for a in names if frame[a].astype("string").nunique(dropna=False) > 1]


@dataclass(frozen=True)
class SweepChoice:
    """What :func:`sweep_figure` draws: the x axis, the measure, and the axes of hue, columns and rows."""

    x: str
    y: str
    hue: str | None = None
    col: str | None = None
    row: str | None = None
    logx: bool = False


def sweep_choice(frame: pd.DataFrame, axes: Mapping[str, str], x=None, y=None, hue=None, col=None,
                 row=None) -> SweepChoice:
    """Check the names (``ScenarioError`` naming the field and the valid choices) and fill in defaults.

    Defaults: ``x`` is the first numeric axis that varies (else the first
    that varies, else the first axis); ``y`` is ``"outcome"`` (stacked outcome
    shares); the next varying axes go to ``col`` then ``row`` when
    ``y = "outcome"`` (the hue is then the outcome), to ``hue`` then ``col``
    otherwise.  ``logx`` is true when ``x``'s kind is log-spaced (:data:`LOG_KINDS`).
    """
    names = list(axes)
    if not names:
        raise ScenarioError("axes", [], "the sweep table has no axis column to plot against")
    measures = sweep_measures(frame)
    for field, value in (("x", x), ("hue", hue), ("col", col), ("row", row)):
        if value is not None and value not in axes:
            raise ScenarioError(field, value, f"not an axis of the sweep; choose from {', '.join(names)}")
    if y is not None and y not in measures:
        raise ScenarioError("y", y, f"not a measure of this sweep; choose from {', '.join(measures)}")
    chosen = [v for v in (x, hue, col, row) if v is not None]
    if len(set(chosen)) != len(chosen):
        raise ScenarioError("axes", chosen, "x, hue, col and row must be different axes")
    y = y if y is not None else ("outcome" if "outcome" in measures else (measures[0] if measures else None))
    if y is None:
        raise ScenarioError("y", None, "the sweep table has no measure column")
    if y == "outcome" and hue is not None:
        raise ScenarioError("hue", hue, "with y = outcome the colours are the outcomes; put the axis on col or row")
    varied = _varied(frame, names)
    if x is None:
        numeric = [a for a in varied if pd.api.types.is_numeric_dtype(frame[a])
                   and not pd.api.types.is_bool_dtype(frame[a]) and a not in chosen]
        rest = [a for a in varied if a not in chosen] or [a for a in names if a not in chosen]
        x = (numeric or rest or names)[0]
    free = [a for a in varied if a not in (x, hue, col, row)]
    slots = ("col", "row") if y == "outcome" else ("hue", "col")
    picked = {"hue": hue, "col": col, "row": row}
    if hue is None and col is None and row is None:  # fill in only when the user named no facet
        for slot in slots:
            if picked[slot] is None and free:
                picked[slot] = free.pop(0)
    return SweepChoice(x=x, y=y, hue=picked["hue"], col=picked["col"], row=picked["row"],
                       logx=axes.get(x) in LOG_KINDS)


def _labels(frame: pd.DataFrame, axis: str) -> pd.Series:
    label = f"{axis}_label"
    if label in frame.columns:
        return frame[label].astype("string").fillna("missing").astype(str)
    return frame[axis].astype(object).map(axis_value_label)


def _x_positions(frame: pd.DataFrame, x: str, logx: bool) -> tuple[pd.Series, bool]:
    """Numeric x per row (binned when there are more than :data:`MAX_X_VALUES` values) and whether numeric."""
    if not pd.api.types.is_numeric_dtype(frame[x]) or pd.api.types.is_bool_dtype(frame[x]):
        return _labels(frame, x), False
    values = frame[x].astype(float)
    if values.nunique() <= MAX_X_VALUES:
        return values, True
    finite = values[np.isfinite(values) & ((values > 0) if logx else True)]
    lo, hi = float(finite.min()), float(finite.max())
    if logx:
        edges = np.geomspace(lo, hi, X_BINS + 1)
        centres = np.sqrt(edges[:-1] * edges[1:])
    else:
        edges = np.linspace(lo, hi, X_BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
    index = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, X_BINS - 1)
    binned = pd.Series(centres[index], index=frame.index).where(values.notna())
    binned.attrs["binned"] = True
    return binned, True


def _wilson(successes: np.ndarray, n: np.ndarray, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def sweep_data(frame: pd.DataFrame, choice: SweepChoice) -> pd.DataFrame:
    """The points :func:`sweep_figure` draws: one row per (row, col, hue, x) cell, or per outcome too.

    Rows with an ``error`` are dropped.  Columns: ``x`` (the x value, a bin
    centre for a binned random axis, or a readable label for a non-numeric
    axis), ``hue``, ``col``, ``row`` (readable labels, ``""`` when unused), and

    * for ``y = "outcome"``: ``outcome`` and ``share`` (replications of the
      cell with that outcome over all replications of the cell, every outcome
      of :data:`OUTCOME_ORDER` present, zeros included) and ``count`` (the cell's replications);
    * for a share measure (``*_share`` from ``outcome``): ``mean`` (the
      share), ``low``/``high`` (Wilson 95% interval over the cell's
      replications), ``count``;
    * otherwise ``mean`` of the measure over the cell's replications (NaN
      values left out; ``period`` counts cycles only),
      ``low``/``high`` = ``mean ∓ t_{0.975, m-1} s / sqrt(m)`` (95% interval
      of the mean, ``s`` the sample standard deviation of the ``m``
      values; ``low = high = mean`` when ``m = 1``) clipped to the range
      the measure can take (:data:`_MEASURE_RANGE`: shares in [0, 1], tau
      in [-1, 1], efforts, periods and rank changes >= 0), ``count = m``.

    Axes not chosen are pooled with the replications.  A numeric x with more
    than :data:`MAX_X_VALUES` distinct values (a random axis) is cut into
    :data:`X_BINS` equal bins (equal in log when ``choice.logx``) and each row
    gets its bin's centre (geometric centre in log); ``attrs["x_binned"]``
    says so.  Rows sorted by row, col, hue (first appearance) and x.
    """
    from scipy import stats

    data = frame if "error" not in frame.columns else frame[frame["error"].isna()]
    if data.empty:
        raise ScenarioError("rows", 0, "no scenario of the sweep finished without an error")
    x, numeric = _x_positions(data, choice.x, choice.logx)
    keys = pd.DataFrame({"row": _labels(data, choice.row) if choice.row else "",
                         "col": _labels(data, choice.col) if choice.col else "",
                         "hue": _labels(data, choice.hue) if choice.hue else "", "x": x}, index=data.index)
    group = ["row", "col", "hue", "x"]
    if choice.y == "outcome":
        keys["outcome"] = data["outcome"].astype("string").fillna("missing").astype(str)
        counts = keys.groupby(group + ["outcome"], sort=False, dropna=False).size().unstack("outcome", fill_value=0)
        for name in OUTCOME_ORDER:
            if name not in counts.columns:
                counts[name] = 0
        total = counts.sum(axis=1)
        shares = counts[list(OUTCOME_ORDER)].div(total, axis=0)
        out = shares.stack().rename("share").reset_index().rename(columns={"level_4": "outcome"})
        out["count"] = total.reindex(pd.MultiIndex.from_frame(out[group])).to_numpy()
    elif choice.y in _SHARE_MEASURES:
        keys["v"] = data["outcome"].isin(_SHARE_MEASURES[choice.y]).astype(float).where(data["outcome"].notna())
        agg = keys.dropna(subset=["v"]).groupby(group, sort=False, dropna=False)["v"].agg(["sum", "count"])
        agg = agg[agg["count"] > 0]
        low, high = _wilson(agg["sum"].to_numpy(float), agg["count"].to_numpy(float))
        out = agg.assign(mean=agg["sum"] / agg["count"], low=low, high=high).reset_index()
        out = out[group + ["mean", "low", "high", "count"]]
    else:
        keys["v"] = pd.to_numeric(data[choice.y], errors="coerce").astype(float)
        if choice.y == "period" and "outcome" in data.columns:  # a period is a cycle's (1 for a fixed point)
            keys["v"] = keys["v"].where(data["outcome"] == "cycle")
        keys = keys[np.isfinite(keys["v"])]
        agg = keys.groupby(group, sort=False, dropna=False)["v"].agg(["mean", "std", "count"]).reset_index()
        m = agg["count"].to_numpy(float)
        t = np.where(m > 1, stats.t.ppf(0.975, np.maximum(m - 1, 1)), 0.0)
        half = np.where(m > 1, t * agg["std"].fillna(0.0).to_numpy(float) / np.sqrt(m), 0.0)
        lo_bound, hi_bound = _MEASURE_RANGE.get(choice.y, (-np.inf, np.inf))
        out = agg.assign(low=(agg["mean"] - half).clip(lower=lo_bound), high=(agg["mean"] + half).clip(upper=hi_bound))
        out = out[group + ["mean", "low", "high", "count"]]
    order = {k: list(dict.fromkeys(keys[k])) for k in ("row", "col", "hue")}
    sort = {k: out[k].map({v: i for i, v in enumerate(order[k])}) for k in ("row", "col", "hue")}
    if not numeric:
        sort["x"] = out["x"].map({v: i for i, v in enumerate(dict.fromkeys(keys["x"]))})
    else:
        sort["x"] = out["x"]
    out = out.assign(**{f"_{k}": v for k, v in sort.items()})
    by = ["_row", "_col", "_hue", "_x"] + (["outcome"] if "outcome" in out.columns else [])
    if "outcome" in out.columns:
        out["_o"] = out["outcome"].map({o: i for i, o in enumerate(OUTCOME_ORDER)}).fillna(len(OUTCOME_ORDER))
        by[-1] = "_o"
    out = out.sort_values(by, kind="stable").drop(columns=[c for c in out.columns if c.startswith("_")])
    out = out.reset_index(drop=True)
    out.attrs["x_binned"] = bool(x.attrs.get("binned", False))
    return out


def tau_star_data(frame: pd.DataFrame, choice: SweepChoice) -> pd.DataFrame:
    """The theory's ``tau*`` per (row, col, hue) cell: ``median``, ``q25``, ``q75`` of the finite ``tau_star``
    values (a scenario whose zero profile never stabilises has ``tau* = inf`` and is left out), ``count``.

    Empty when ``tau_star`` is absent or has no finite value.
    """
    columns = ["row", "col", "hue", "median", "q25", "q75", "count"]
    if "tau_star" not in frame.columns:
        return pd.DataFrame(columns=columns)
    data = frame if "error" not in frame.columns else frame[frame["error"].isna()]
    star = pd.to_numeric(data["tau_star"], errors="coerce").astype(float)
    keep = np.isfinite(star)
    if not keep.any():
        return pd.DataFrame(columns=columns)
    keys = pd.DataFrame({"row": _labels(data, choice.row) if choice.row else "",
                         "col": _labels(data, choice.col) if choice.col else "",
                         "hue": _labels(data, choice.hue) if choice.hue else "", "v": star}, index=data.index)[keep]
    agg = keys.groupby(["row", "col", "hue"], sort=False)["v"]
    out = pd.DataFrame({"median": agg.median(), "q25": agg.quantile(0.25), "q75": agg.quantile(0.75),
                        "count": agg.size()}).reset_index()
    return out[columns]
