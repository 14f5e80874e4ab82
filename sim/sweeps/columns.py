"""The columns of a sweep's tables: their dtypes, and the axis cells of a row."""

from __future__ import annotations

import json

#: Columns of the summary table after the axis columns, with their pandas dtypes.
RESULT_COLUMNS = {
    "replications": "Int64",  # replications the point ran (1 when its scenario has no randomness)
    "n": "Int64",
    "tau": "float64",
    "rounds": "Int64",
    "max_rounds": "Int64",
    "outcome": "string",
    "period": "Int64",
    "entered_at": "Int64",
    "final_total_effort": "float64",
    "mean_total_effort_tail": "float64",
    "total_effort_tail": "float64",
    "total_surplus_tail": "float64",
    "kendall_tau_tail": "float64",
    "top1_correct_share": "float64",
    "effort_tail": "object",
    "utility_tail": "object",
    "std_total_effort_tail": "float64",
    "max_mean_effort_tail": "float64",
    "ranking_correct_share": "float64",
    "rank_changes_mean": "float64",
    "tau_star": "float64",
    "tau_star_vouched": "boolean",
    "zero_is_equilibrium": "boolean",
    "predicted_stable": "boolean",
    "error": "string",
}


INDEX_COLUMNS = {"scenario_index": "int64", "point": "int64", "replication": "int64", "seed": "int64"}


AXIS_DTYPES = {"bool": "boolean", "int": "Int64", "float": "float64", "str": "string", "json": "string"}


TRAJECTORY_COLUMNS = {
    "scenario_index": "int64",
    "round": "int64",
    "developer": "int64",
    "effort": "float64",
    "score": "float64",
    "published": "float64",
    "rank": "int64",
}


def typed_summary(frame, axis_types: dict):
    """``frame`` with the summary's columns in their fixed order and dtypes (the same in memory and on disk).

    A table-valued (``json``) axis ``a`` has a readable ``a_label`` column beside it (:func:`axis_label`).
    """
    axes = {}
    for name, t in axis_types.items():
        axes[name] = AXIS_DTYPES[t]
        if t == "json":
            axes[f"{name}_label"] = "string"
    dtypes = {**INDEX_COLUMNS, **axes, **RESULT_COLUMNS}
    frame = frame.reindex(columns=list(dtypes))
    return frame.astype(dtypes)


def axis_label(value) -> str:
    """A readable label of an axis value: ``{scheme = "top_k", k = 3}`` -> ``top_k(k=3)``.

    A table's ``scheme``, ``family`` or ``name`` (a strategy) comes first (as the name), then its
    other keys sorted, ``key=value``; nested values and lists as compact
    JSON, strings bare; anything that is not a table as compact JSON.
    """
    def text(v) -> str:
        return v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))

    if not isinstance(value, dict):
        return text(value)
    head = next((k for k in ("scheme", "family", "name") if k in value), None)
    args = ", ".join(f"{k}={text(value[k])}" for k in sorted(value) if k != head)
    return f"{text(value[head]) if head else ''}({args})"


def _axis_cells(name: str, value, kind: str) -> dict:
    """The axis' cell, and its ``<name>_label`` for a table-valued axis."""
    cells = {name: _axis_cell(value, kind)}
    if kind == "json":
        cells[f"{name}_label"] = axis_label(value)
    return cells


def _axis_cell(value, kind: str):
    if kind == "json":
        return json.dumps(value, sort_keys=True)
    if kind == "float":
        return float(value)
    return value
