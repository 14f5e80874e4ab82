"""Tests for sim.realdata: loading the lm-harmony results, PCA capability, pairwise Kendall agreement."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import kendalltau

from sim.errors import ScenarioError
from sim.realdata import (
    COLUMNS,
    NON_TASK_SUFFIX,
    SETTINGS,
    TASK_BENCHMARKS,
    default_path,
    effort_trajectories,
    first_principal_component,
    is_task_benchmark,
    kendall_tau_b_matrix,
    load_lm_harmony,
    mean_pairwise_kendall,
    pairwise_kendall,
    principal_components,
    standardise,
    task_benchmarks,
    wide_matrix,
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_lm_harmony()


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(default_path().read_text())


def tiny(**changes) -> dict:
    """A minimal file in the vendored layout: two benchmarks, two models."""
    data = {
        "direct_eval": {"b1": {"m1": 0.5, "m2": 0.6}, "x_2025": {"m1": 0.9}},
        "train_before_test": {"b1": {"m1": 0.7, "m2": 0.8}, "x_2025": {"m1": 0.95}},
        "direct_eval_stderr": {"b1": {"m1": 0.01, "m2": 0.02}, "x_2025": {"m1": "N/A"}},
        "train_before_test_stderr": {"b1": {"m1": 0.03, "m2": 0.04}, "x_2025": {"m1": "N/A"}},
    }
    data.update(changes)
    return data


def write(tmp_path, data, name="results.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# --------------------------------------------------------------------------- loading


def test_vendored_file_is_tidy_and_complete(frame, raw):
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["setting"]) == set(SETTINGS)
    assert set(frame["benchmark"]) == set(raw["direct_eval"])
    # One row per (benchmark, model, setting), exactly as many as the file has scores.
    expected_rows = sum(len(raw[key][b]) for key, _ in SETTINGS.values() for b in raw[key])
    assert len(frame) == expected_rows
    assert not frame.duplicated(["benchmark", "model", "setting"]).any()
    assert np.isfinite(frame["accuracy"]).all()
    # Standard errors are missing ("N/A") only in the non-task entries.
    missing = frame[frame["stderr"].isna()]
    assert len(missing) > 0 and all(b.endswith(NON_TASK_SUFFIX) for b in missing["benchmark"])


def test_values_match_the_file(frame, raw):
    rng = np.random.default_rng(0)
    for k in rng.choice(len(frame), size=25, replace=False):
        row = frame.iloc[k]
        key, err_key = SETTINGS[row["setting"]]
        assert row["accuracy"] == raw[key][row["benchmark"]][row["model"]]
        stderr = raw[err_key][row["benchmark"]][row["model"]]
        assert (math.isnan(row["stderr"]) and stderr == "N/A") or row["stderr"] == stderr


def test_task_benchmarks_follow_the_rule(frame, raw):
    assert TASK_BENCHMARKS == task_benchmarks(frame)
    assert TASK_BENCHMARKS == tuple(sorted(b for b in raw["direct_eval"] if not b.endswith("_2025")))
    assert len(TASK_BENCHMARKS) == 24 and len(set(raw["direct_eval"])) == 27
    assert not is_task_benchmark("wiki_2025") and is_task_benchmark("winogrande")
    # Every task benchmark covers every model in both settings; the *_2025 entries do not.
    models = frame["model"].nunique()
    counts = frame.groupby(["benchmark", "setting"])["model"].nunique()
    for (benchmark, _), count in counts.items():
        assert (count == models) == is_task_benchmark(benchmark), benchmark


def test_load_from_a_path(tmp_path):
    loaded = load_lm_harmony(write(tmp_path, tiny()))
    assert len(loaded) == 2 * 3  # (b1: 2 models + x_2025: 1 model) x 2 settings
    row = loaded[(loaded["benchmark"] == "b1") & (loaded["model"] == "m2") & (loaded["setting"] == "train_before_test")]
    assert row["accuracy"].item() == 0.8 and row["stderr"].item() == 0.04
    assert loaded.loc[loaded["benchmark"] == "x_2025", "stderr"].isna().all()


@pytest.mark.parametrize(
    "data, field, words",
    [
        ("{not json", "path", "not valid JSON"),
        ("[1, 2]", "path", "JSON object"),
        ({k: v for k, v in tiny().items() if k != "direct_eval_stderr"}, "direct_eval_stderr", "missing key"),
        (tiny(train_before_test={"b1": {"m1": "high", "m2": 0.8}}), "train_before_test.b1.m1", "finite number"),
        (tiny(direct_eval={"b1": {"m1": float("nan"), "m2": 0.6}}), "direct_eval.b1.m1", "finite number"),
        (tiny(direct_eval={"b1": {"m1": 0.5, "m2": 0.6, "m3": 0.1}}), "direct_eval_stderr.b1.m3", "standard error"),
        (tiny(direct_eval_stderr={"b1": {"m1": "big", "m2": 0.1}, "x_2025": {"m1": 0.1}}),
         "direct_eval_stderr.b1.m1", "finite number"),
        (tiny(direct_eval=[]), "direct_eval", "object"),
    ],
)
def test_malformed_files_name_the_key(tmp_path, data, field, words):
    path = write(tmp_path, data)
    with pytest.raises(ScenarioError, match=words) as err:
        load_lm_harmony(path)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_score_in_one_setting_only_is_an_error(tmp_path):
    data = tiny(direct_eval={"b1": {"m1": 0.5, "m2": 0.6}, "x_2025": {"m1": 0.9}, "b2": {"m1": 0.1}},
                direct_eval_stderr={"b1": {"m1": 0.01, "m2": 0.02}, "x_2025": {"m1": "N/A"}, "b2": {"m1": 0.1}})
    with pytest.raises(ScenarioError, match="one setting only") as err:
        load_lm_harmony(write(tmp_path, data))
    assert err.value.field == "b2.m1"


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(ScenarioError, match="no such file") as err:
        load_lm_harmony(path)
    assert err.value.field == "path" and err.value.value == str(path)


# --------------------------------------------------------------------------- matrices


def test_wide_matrix_matches_the_tidy_frame(frame):
    for setting in SETTINGS:
        mat = wide_matrix(frame, setting)
        assert mat.shape == (frame["model"].nunique(), 24)
        assert tuple(mat.columns) == TASK_BENCHMARKS and list(mat.index) == sorted(mat.index)
        tidy = frame[frame["setting"] == setting].set_index(["model", "benchmark"])["accuracy"]
        for model in mat.index[::7]:
            for benchmark in TASK_BENCHMARKS[::5]:
                assert mat.loc[model, benchmark] == tidy[(model, benchmark)]


def test_wide_matrix_errors(frame):
    with pytest.raises(ScenarioError, match="setting"):
        wide_matrix(frame, "after")
    with pytest.raises(ScenarioError, match="not in the data"):
        wide_matrix(frame, "direct", ["winogrande", "chess"])
    # The non-task entries lack models: asking for them names the gap.
    with pytest.raises(ScenarioError, match="every model needs every benchmark"):
        wide_matrix(frame, "direct", ["winogrande", "wiki_2025"])


def test_standardise_and_zero_variance():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    with pytest.raises(ScenarioError, match="zero variance"):
        standardise(x)
    z = standardise(x[:, :1]).to_numpy()
    assert np.allclose(z.mean(axis=0), 0) and np.allclose(z.std(axis=0), 1)
    with pytest.raises(ScenarioError, match="finite"):
        standardise(np.array([[1.0], [np.nan]]))
    with pytest.raises(ScenarioError, match="two models"):
        standardise(np.array([[1.0, 2.0]]))


def _eigen_pca(values: np.ndarray):
    """Independent PCA: eigen-decomposition of the correlation matrix R = Z^T Z / m."""
    z = (values - values.mean(axis=0)) / values.std(axis=0)
    corr = z.T @ z / z.shape[0]
    eigenvalues, eigenvectors = np.linalg.eigh(corr)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    return z @ eigenvectors, eigenvalues / eigenvalues.sum()


def _assert_same_components(values: np.ndarray, k: int):
    pca = principal_components(values)
    scores, shares = _eigen_pca(values)
    assert np.allclose(pca.shares, shares[: pca.shares.size], atol=1e-10)
    assert math.isclose(pca.shares.sum(), 1.0, rel_tol=1e-12)
    for c in range(k):
        ours, theirs = pca.scores.iloc[:, c].to_numpy(), scores[:, c]
        sign = np.sign(ours @ theirs)  # eigenvectors have an arbitrary sign
        assert np.allclose(ours, sign * theirs, atol=1e-8 * max(1.0, np.abs(theirs).max()))


def test_svd_pca_matches_eigen_decomposition_on_the_data(frame):
    for setting in SETTINGS:
        _assert_same_components(wide_matrix(frame, setting).to_numpy(), k=3)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(5, 12), st.integers(2, 6)),
              elements=st.floats(-10, 10, allow_nan=False, allow_subnormal=False)),
       st.integers(0, 2**32 - 1), st.floats(0.5, 5.0))
def test_svd_pca_matches_eigen_decomposition(values, seed, spread):
    """Targeted: Hypothesis' matrices (often with constant or repeated columns) plus Gaussian noise of a drawn
    spread, so that every column varies; the rare example left (near-constant column, or a tie of the top
    eigenvalues that leaves PC1's direction undetermined) is rejected with ``assume``, not passed unchecked."""
    values = values + spread * np.random.default_rng(seed).normal(size=values.shape)
    sd = values.std(axis=0)
    mean = np.abs(values).max(axis=0) + 1.0
    assume(np.all(sd >= 1e-3 * mean))  # near-constant columns: standardising only amplifies round-off
    scores, shares = _eigen_pca(values)
    gaps = np.abs(np.diff(shares))
    assume(gaps[0] >= 1e-6)  # PC1 not unique
    _assert_same_components(values, k=1)


def test_pc1_orientation_and_invariance():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=15)
    weights = rng.uniform(0.5, 2.0, size=6)
    values = 0.5 + 0.1 * np.outer(theta, weights) + 0.01 * rng.normal(size=(15, 6))
    pc1, share = first_principal_component(values)
    # One factor plus small noise: PC1 recovers the factor's order and explains nearly everything.
    assert np.corrcoef(pc1, theta)[0, 1] > 0.99
    assert share > 0.95
    assert np.corrcoef(pc1, values.mean(axis=1))[0, 1] > 0  # higher = better
    # Per-benchmark positive affine changes leave the z-scores, hence PC1, unchanged.
    scaled = values * rng.uniform(0.1, 10, size=6) + rng.normal(size=6)
    assert np.allclose(first_principal_component(scaled)[0], pc1)
    # Negating every score reverses who is better: the orientation follows.
    assert np.allclose(first_principal_component(-values)[0], -pc1)


def test_exact_rank_one_matrix_has_pc1_share_one():
    theta = np.array([3.0, -1.0, 0.5, 2.0, -2.5])
    values = np.outer(theta, [1.0, 2.0, 0.5]) + np.array([0.1, 0.2, 0.3])
    pc1, share = first_principal_component(pd.DataFrame(values, index=list("abcde")))
    assert math.isclose(share, 1.0, rel_tol=1e-12)
    assert list(pc1.sort_values().index) == list(pd.Series(theta, index=list("abcde")).sort_values().index)
    assert pc1.name == "pc1"


# --------------------------------------------------------------------------- Kendall agreement


def test_kendall_known_values():
    values = pd.DataFrame(
        {"a": [1, 2, 3, 4], "same": [10, 20, 30, 40], "reversed": [4, 3, 2, 1], "one_swap": [1, 3, 2, 4]}
    )
    mean, tau = mean_pairwise_kendall(values)
    assert tau.loc["a", "same"] == pytest.approx(1.0)
    assert tau.loc["a", "reversed"] == pytest.approx(-1.0)
    # One discordant pair out of six: (5 - 1) / 6.
    assert tau.loc["a", "one_swap"] == pytest.approx(2 / 3)
    upper = [tau.loc[a, b] for i, a in enumerate(tau.index) for b in tau.index[i + 1:]]
    assert mean == pytest.approx(np.mean(upper))
    assert np.allclose(tau.to_numpy(), tau.to_numpy().T) and np.allclose(np.diag(tau), 1.0)


def test_kendall_on_the_data_matches_scipy(frame):
    mat = wide_matrix(frame, "direct")
    mean, tau = mean_pairwise_kendall(mat)
    a, b = "winogrande", "hellaswag"
    assert tau.loc[a, b] == pytest.approx(kendalltau(mat[a], mat[b]).statistic, abs=1e-14)
    assert tau.shape == (24, 24)
    p = 24
    assert mean == pytest.approx(tau.to_numpy()[np.triu_indices(p, 1)].sum() / (p * (p - 1) / 2))


def _tied_columns(rows: int):
    """Columns of small integers (ties everywhere), none constant (a constant column has no tau)."""
    column = st.lists(st.integers(0, 4), min_size=rows, max_size=rows).filter(lambda c: len(set(c)) > 1)
    return st.lists(column, min_size=2, max_size=5).map(lambda cols: np.array(cols, dtype=np.int64).T)


@settings(max_examples=50, deadline=None)
@given(st.integers(3, 15).flatmap(_tied_columns))
def test_vectorised_kendall_equals_scipy_with_ties(values):
    """Small integer scores force ties, where tau-b's correction matters."""
    assert values.ndim == 2 and np.all(values.min(axis=0) < values.max(axis=0))
    fast = kendall_tau_b_matrix(values)
    slow = pairwise_kendall(values.astype(float)).to_numpy()
    assert np.allclose(fast, slow, atol=1e-12)


def test_mean_pairwise_kendall_needs_two_benchmarks():
    with pytest.raises(ScenarioError, match="two benchmarks"):
        mean_pairwise_kendall(np.array([[1.0], [2.0], [3.0]]))


# --------------------------------------------------------------------------- effort trajectories


def test_effort_trajectories(frame):
    models = ["openai-community/gpt2-large", "google/gemma-7b"]
    points = effort_trajectories(frame, "winogrande", models, tbt_effort=3.0)
    assert list(points.columns) == ["model", "effort", "score", "stderr"]
    assert list(points["model"]) == [models[0], models[0], models[1], models[1]]
    assert list(points["effort"]) == [0.0, 3.0, 0.0, 3.0]
    tidy = frame[frame["benchmark"] == "winogrande"].set_index(["model", "setting"])["accuracy"]
    for _, row in points.iterrows():
        setting = "direct" if row["effort"] == 0 else "train_before_test"
        assert row["score"] == tidy[(row["model"], setting)]
    assert len(effort_trajectories(frame, "winogrande")) == 2 * frame["model"].nunique()


def test_effort_trajectories_errors(frame):
    with pytest.raises(ScenarioError, match="not in the data"):
        effort_trajectories(frame, "chess")
    with pytest.raises(ScenarioError, match="no score"):
        effort_trajectories(frame, "winogrande", ["acme/none"])
    with pytest.raises(ScenarioError, match="> 0"):
        effort_trajectories(frame, "winogrande", tbt_effort=0.0)
