"""A real leaderboard at two levels of preparation: the lm-harmony train-before-test results.

The data (``sim/data/lm_harmony/all_results.json``, MIT licence, from
Zhang, Dominguez-Olmedo and Hardt, "Train-before-test harmonizes language
model rankings", arXiv 2507.05195) holds the score of 61 open language models
on 27 benchmarks, evaluated directly (``direct_eval``) and after the same
benchmark-specific fine-tuning for every model (``train_before_test``), each
with its standard error (``*_stderr``).  Layout: ``{key: {benchmark: {model:
value}}}``.  The three ``*_2025`` entries (``arxiv_2025``, ``wiki_2025``,
``stackexchange_2025``) cover only 53 models and are not task accuracies
(their standard errors are partly ``"N/A"``): :data:`TASK_BENCHMARKS` leaves
them out, 24 task benchmarks remain.  Scores are accuracies except ``cola``
(Matthews correlation, which can be negative).

Everything below is a pure function of arrays or data frames:

* :func:`load_lm_harmony`: the file as a tidy frame ``(benchmark, model,
  setting, accuracy, stderr)``, ``setting`` in :data:`SETTINGS`;
* :func:`wide_matrix`: models x benchmarks for one setting;
* :func:`standardise`, :func:`principal_components`,
  :func:`first_principal_component`: PCA of the per-benchmark z-scored
  matrix, the latent capability estimate (PC1) and the share of variance each
  component explains;
* :func:`pairwise_kendall`, :func:`mean_pairwise_kendall`: agreement between
  the benchmarks' model rankings (Kendall's tau-b, by ``scipy.stats``);
  :func:`kendall_tau_b_matrix` the same in one matrix product, for resampling;
* :func:`effort_trajectories`: one benchmark as ``(model, effort, score)``
  points, direct evaluation at effort 0 and train-before-test at effort 1 (the
  input of :func:`sim.calibration.fit_power_law`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from sim.errors import ScenarioError

__all__ = [
    "COLUMNS",
    "DATA_FILE",
    "NON_TASK_SUFFIX",
    "SETTINGS",
    "TASK_BENCHMARKS",
    "PrincipalComponents",
    "default_path",
    "effort_trajectories",
    "first_principal_component",
    "is_task_benchmark",
    "kendall_tau_b_matrix",
    "load_lm_harmony",
    "mean_pairwise_kendall",
    "pairwise_kendall",
    "principal_components",
    "standardise",
    "task_benchmarks",
    "wide_matrix",
]

#: The vendored file, relative to the ``sim`` package.
DATA_FILE = "data/lm_harmony/all_results.json"

#: Setting name in the tidy frame -> (key of the scores, key of their standard errors) in the file.
SETTINGS: dict[str, tuple[str, str]] = {
    "direct": ("direct_eval", "direct_eval_stderr"),
    "train_before_test": ("train_before_test", "train_before_test_stderr"),
}

#: Columns of the tidy frame :func:`load_lm_harmony` returns.
COLUMNS = ("benchmark", "model", "setting", "accuracy", "stderr")

#: Benchmarks whose name ends like this are not task accuracies (``arxiv_2025``, ``wiki_2025``, ``stackexchange_2025``).
NON_TASK_SUFFIX = "_2025"

#: The 24 task benchmarks of the vendored file: every benchmark except the ``*_2025`` entries
#: (:func:`is_task_benchmark`), sorted.  Written out so that importing reads no file; a test checks that it
#: equals :func:`task_benchmarks` of the loaded data.
TASK_BENCHMARKS: tuple[str, ...] = (
    "anli_r1",
    "arc_challenge",
    "arc_easy",
    "boolq",
    "cola",
    "commonsense_qa",
    "gsm8k",
    "headqa_en",
    "hellaswag",
    "mathqa",
    "medmcqa",
    "mnli",
    "mrpc",
    "nq_open",
    "openbookqa",
    "piqa",
    "qnli",
    "qqp",
    "rte",
    "sciq",
    "social_iqa",
    "sst2",
    "wic",
    "winogrande",
)


def is_task_benchmark(name: str) -> bool:
    """The rule: a benchmark is a task leaderboard unless its name ends in :data:`NON_TASK_SUFFIX`."""
    return not str(name).endswith(NON_TASK_SUFFIX)


def task_benchmarks(frame: pd.DataFrame) -> tuple[str, ...]:
    """The task benchmarks present in a tidy frame (:func:`is_task_benchmark`), sorted."""
    return tuple(sorted(b for b in frame["benchmark"].unique() if is_task_benchmark(b)))


# --------------------------------------------------------------------------- loading


def default_path() -> Path:
    """Path of the vendored ``all_results.json`` (inside the ``sim`` package)."""
    return Path(str(resources.files("sim").joinpath(DATA_FILE)))


def _value(raw: object, field: str, *, missing_ok: bool) -> float:
    """A finite float from the file; ``"N/A"`` (or ``None``) is ``nan`` where ``missing_ok``, else an error."""
    if missing_ok and (raw is None or raw == "N/A"):
        return math.nan
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ScenarioError(field, raw, "must be a finite number" + (' (or "N/A")' if missing_ok else ""))
    return float(raw)


def load_lm_harmony(path=None) -> pd.DataFrame:
    """The lm-harmony results as a tidy frame, one row per (benchmark, model, setting).

    Columns :data:`COLUMNS`: ``benchmark``, ``model``, ``setting``
    (``"direct"`` or ``"train_before_test"``, :data:`SETTINGS`), ``accuracy``
    (float) and ``stderr`` (float; ``nan`` where the file says ``"N/A"``).
    Rows are sorted by benchmark, model, setting.  Every (benchmark, model) in
    one setting must appear in the other, with a standard error.

    ``path`` defaults to the vendored file (:func:`default_path`).  A file
    that is missing, unreadable, not JSON, or lacks a key or holds a
    non-numeric score raises :class:`~sim.errors.ScenarioError` naming the
    path or the key (``"train_before_test.winogrande.gpt2"``).
    """
    path = default_path() if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("path", str(path), "no such file") from None
    except OSError as err:
        raise ScenarioError("path", str(path), f"cannot be read: {err.strerror or err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScenarioError("path", str(path), f"is not valid JSON: {err.msg} at line {err.lineno}") from None
    if not isinstance(data, dict):
        raise ScenarioError("path", str(path), f"must hold a JSON object, found {type(data).__name__}")
    rows = []
    for setting, (key, err_key) in SETTINGS.items():
        for name in (key, err_key):
            if name not in data:
                raise ScenarioError(name, None, f"missing key in {path}")
            if not isinstance(data[name], dict) or not data[name]:
                found = type(data[name]).__name__
                raise ScenarioError(name, found, f"must be a {{benchmark: {{model: value}}}} object in {path}")
        for benchmark, table in data[key].items():
            where = f"{key}.{benchmark}"
            if not isinstance(table, dict) or not table:
                found = type(table).__name__
                raise ScenarioError(where, found, f"must be a non-empty {{model: value}} object in {path}")
            errors = data[err_key].get(benchmark)
            if not isinstance(errors, dict):
                raise ScenarioError(f"{err_key}.{benchmark}", None, f"missing standard errors in {path}")
            for model, raw in table.items():
                if model not in errors:
                    raise ScenarioError(f"{err_key}.{benchmark}.{model}", None, f"missing standard error in {path}")
                accuracy = _value(raw, f"{where}.{model}", missing_ok=False)
                stderr = _value(errors[model], f"{err_key}.{benchmark}.{model}", missing_ok=True)
                rows.append((benchmark, model, setting, accuracy, stderr))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    counts = frame.groupby(["benchmark", "model"]).size()
    unpaired = counts[counts != len(SETTINGS)]
    if len(unpaired):
        benchmark, model = unpaired.index[0]
        raise ScenarioError(f"{benchmark}.{model}", None, f"has a score in one setting only in {path}")
    return frame.sort_values(["benchmark", "model", "setting"], ignore_index=True)


# --------------------------------------------------------------------------- matrices


def wide_matrix(
    frame: pd.DataFrame, setting: str = "train_before_test", benchmarks: Sequence[str] | None = TASK_BENCHMARKS
) -> pd.DataFrame:
    """Models x benchmarks matrix of one setting (rows: models sorted by name; columns: ``benchmarks`` in order).

    ``benchmarks=None`` takes every task benchmark of ``frame``.  A model
    without a score on one of the benchmarks is an error naming it (the 24
    task benchmarks cover all 61 models).
    """
    if setting not in SETTINGS:
        raise ScenarioError("setting", setting, f"must be one of {', '.join(SETTINGS)}")
    benchmarks = task_benchmarks(frame) if benchmarks is None else tuple(benchmarks)
    present = set(frame["benchmark"].unique())
    for benchmark in benchmarks:
        if benchmark not in present:
            raise ScenarioError("benchmark", benchmark, "not in the data")
    part = frame[(frame["setting"] == setting) & frame["benchmark"].isin(benchmarks)]
    matrix = part.pivot(index="model", columns="benchmark", values="accuracy").reindex(columns=list(benchmarks))
    missing = matrix.isna()
    if missing.any().any():
        model = missing.any(axis=1).idxmax()
        benchmark = missing.loc[model].idxmax()
        raise ScenarioError(f"{benchmark}.{model}", None, f"no {setting} score: every model needs every benchmark")
    matrix = matrix.sort_index()
    matrix.columns.name = "benchmark"
    matrix.index.name = "model"
    return matrix


def _as_frame(matrix) -> pd.DataFrame:
    frame = matrix if isinstance(matrix, pd.DataFrame) else pd.DataFrame(np.asarray(matrix, dtype=float))
    values = frame.to_numpy(dtype=float)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 1:
        raise ScenarioError("matrix", values.shape, "needs at least two models (rows) and one benchmark (column)")
    if not np.all(np.isfinite(values)):
        raise ScenarioError("matrix", "non-finite", "every entry must be a finite number")
    return frame


def standardise(matrix) -> pd.DataFrame:
    """Per-benchmark z-scores ``Z[m, b] = (X[m, b] - mean_b) / sd_b`` (population ``sd``, ``ddof = 0``).

    A benchmark on which every model scores the same has no ranking
    information and cannot be standardised: an error naming it.
    """
    frame = _as_frame(matrix).astype(float)
    sd = frame.std(axis=0, ddof=0)
    flat = sd[~(sd > 0)]
    if len(flat):
        raise ScenarioError("matrix", str(flat.index[0]), "benchmark with zero variance cannot be standardised")
    return (frame - frame.mean(axis=0)) / sd


@dataclass(frozen=True)
class PrincipalComponents:
    """PCA of a standardised models x benchmarks matrix.

    Attributes
    ----------
    scores:
        Models x components frame, ``scores[:, k] = Z v_k = u_k s_k``.
    loadings:
        Benchmarks x components frame, the unit vectors ``v_k``.
    shares:
        Share of the total variance component ``k`` explains,
        ``s_k**2 / sum_j s_j**2`` (sums to 1).
    """

    scores: pd.DataFrame
    loadings: pd.DataFrame
    shares: np.ndarray


def principal_components(matrix) -> PrincipalComponents:
    """Principal components of the per-benchmark z-scored matrix, by singular value decomposition.

    With ``Z`` the standardised matrix (:func:`standardise`, ``m`` models x
    ``p`` benchmarks), ``Z = U S V^T``; component ``k`` has scores ``U[:, k]
    S[k]``, loadings ``V[:, k]`` and explains ``S[k]**2 / sum_j S[j]**2`` of
    the variance (equivalently ``lambda_k / p`` with ``lambda_k`` the
    eigenvalues of the correlation matrix ``Z^T Z / m``).  Each component's
    sign is oriented so that its scores correlate non-negatively with the
    models' mean raw score across benchmarks (higher = better).
    """
    raw = _as_frame(matrix).astype(float)
    z = standardise(raw)
    u, s, vt = np.linalg.svd(z.to_numpy(), full_matrices=False)
    scores = u * s
    mean = raw.to_numpy().mean(axis=1)
    centred = mean - mean.mean()
    signs = np.where(centred @ scores < 0, -1.0, 1.0)
    names = [f"PC{k + 1}" for k in range(s.size)]
    total = float(np.sum(s**2))
    return PrincipalComponents(
        scores=pd.DataFrame(scores * signs, index=raw.index, columns=names),
        loadings=pd.DataFrame(vt.T * signs, index=raw.columns, columns=names),
        shares=s**2 / total,
    )


def first_principal_component(matrix) -> tuple[pd.Series, float]:
    """``(PC1 score per model, share of variance PC1 explains)`` of the standardised matrix.

    The latent-capability estimate: PC1 of the per-benchmark z-scores
    (:func:`principal_components`), signed so that higher means better (its
    correlation with each model's mean score is positive).  The series is
    named ``"pc1"`` and indexed like the matrix rows.
    """
    pca = principal_components(matrix)
    return pca.scores["PC1"].rename("pc1"), float(pca.shares[0])


# --------------------------------------------------------------------------- ranking agreement


def pairwise_kendall(matrix) -> pd.DataFrame:
    """Kendall's tau-b between every two benchmarks' model rankings (benchmarks x benchmarks, diagonal 1).

    Entry ``(a, b)`` is ``scipy.stats.kendalltau(X[:, a], X[:, b])`` (variant
    b, which corrects for ties): ``(P - Q) / sqrt((P + Q + T_a)(P + Q +
    T_b))`` over pairs of models, ``P`` concordant, ``Q`` discordant, ``T``
    tied in one benchmark only.
    """
    frame = _as_frame(matrix)
    values = frame.to_numpy(dtype=float)
    p = values.shape[1]
    tau = np.eye(p)
    for a, b in combinations(range(p), 2):
        tau[a, b] = tau[b, a] = kendalltau(values[:, a], values[:, b]).statistic
    return pd.DataFrame(tau, index=frame.columns, columns=frame.columns)


def mean_pairwise_kendall(matrix) -> tuple[float, pd.DataFrame]:
    """``(mean tau-b over all p(p-1)/2 pairs of benchmarks, the full pairwise matrix)``.

    ``mean = 2 / (p (p - 1)) * sum_{a < b} tau_b(a, b)`` with
    :func:`pairwise_kendall`; it needs at least two benchmarks.
    """
    tau = pairwise_kendall(matrix)
    p = tau.shape[0]
    if p < 2:
        raise ScenarioError("matrix", tau.shape, "needs at least two benchmarks (columns) to compare rankings")
    upper = tau.to_numpy()[np.triu_indices(p, k=1)]
    return float(np.mean(upper)), tau


def kendall_tau_b_matrix(values) -> np.ndarray:
    """All pairwise Kendall tau-b between the columns of ``values`` at once (numpy; for resampling loops).

    With ``S[(i, j), b] = sign(X[i, b] - X[j, b])`` over the pairs of rows
    ``i < j``: ``tau_b(a, b) = sum S[:, a] S[:, b] / sqrt(sum S[:, a]**2 *
    sum S[:, b]**2)``; the numerator is ``P - Q`` and ``sum S[:, a]**2`` is
    the number of pairs not tied in ``a`` (``P + Q + T_b``), which is
    tau-b's denominator.  Equals :func:`pairwise_kendall` (tested).
    """
    values = np.asarray(values, dtype=float)
    i, j = np.triu_indices(values.shape[0], k=1)
    # Signs are -1, 0, 1: float32 sums are exact up to 2**24 pairs (and much faster than float64 here).
    exact = np.float32 if i.size < 2**24 else np.float64
    columns = np.ascontiguousarray(values.T)
    signs = np.sign(columns[:, i] - columns[:, j]).astype(exact)  # benchmarks x pairs
    counts = (signs @ signs.T).astype(float)
    untied = np.diag(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return counts / np.sqrt(np.outer(untied, untied))


# --------------------------------------------------------------------------- effort trajectories


def effort_trajectories(
    frame: pd.DataFrame, benchmark: str, models: Sequence[str] | None = None, tbt_effort: float = 1.0
) -> pd.DataFrame:
    """One benchmark as effort trajectories: columns ``model, effort, score, stderr``.

    Direct evaluation is effort ``0``; train-before-test is effort
    ``tbt_effort`` (default 1: effort measured in units of one
    train-before-test fine-tuning run).  ``models`` (default: all, sorted)
    selects and orders the models; an unknown one is an error naming it.
    """
    if not (math.isfinite(tbt_effort) and tbt_effort > 0):
        raise ScenarioError("tbt_effort", tbt_effort, "must be a finite number > 0")
    part = frame[frame["benchmark"] == benchmark]
    if part.empty:
        raise ScenarioError("benchmark", benchmark, "not in the data")
    available = set(part["model"])
    models = sorted(available) if models is None else list(models)
    for model in models:
        if model not in available:
            raise ScenarioError("model", model, f"has no score on {benchmark}")
    part = part[part["model"].isin(models)].copy()
    part["effort"] = np.where(part["setting"] == "direct", 0.0, float(tbt_effort))
    part["model"] = pd.Categorical(part["model"], categories=models, ordered=True)
    part = part.sort_values(["model", "effort"])
    part["model"] = part["model"].astype(str)
    out = part[["model", "effort", "accuracy", "stderr"]].rename(columns={"accuracy": "score"})
    return out.reset_index(drop=True)
