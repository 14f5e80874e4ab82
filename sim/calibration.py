"""Calibrating the generalised power law to observed ``(model, effort, score)`` trajectories.

The score family is the paper's Eq. 3 (family 1 of the design, Chen, Zhang
and Hardt 2026), per model ``m`` with common levels ``L < U``::

    f_m(e) = L + (U - L) * sigmoid(alpha_m + beta_m * log(1 + e / e0))

so that, with ``y = (s - L) / (U - L)`` the normalised score,
``logit(y) = alpha_m + beta_m * log(1 + e / e0)`` is a straight line in
``x = log(1 + e / e0)``.  :func:`fit_power_law` follows the paper's appendix
("For each model we fit the generalized scaling form by linear regression of
logit(y) on log(1+e)"): ordinary least squares of ``z = logit(y)`` on ``x``
per model,

    beta_m = sum_j (x_j - mean x)(z_j - mean z) / sum_j (x_j - mean x)**2,
    alpha_m = mean z - beta_m * mean x,

with ``L, U`` given.  A score at or outside ``(L, U)`` has no logit: by
default that is an error naming the model and the score; with ``clip=eps``
the normalised score is clipped to ``[eps, 1 - eps]`` instead (the number of
clipped points is recorded).  With ``fit_levels=True`` common ``L`` and
``U`` are fitted too, by nonlinear least squares on the score scale
(``scipy.optimize.least_squares``, started from the regression), with bounds
``L <= min(s) - gap`` and ``U >= max(s) + gap`` (``gap`` =
:data:`LEVEL_GAP` times the score range) that keep every observed score
strictly inside ``(L, U)``.

:meth:`PowerLawFit.to_scenario` turns a fit and capabilities given by the
caller (for instance the first principal component of
:mod:`sim.realdata`) into a scenario dict that
:func:`sim.scenario.parse_scenario` accepts; :func:`scenario_toml` and
:func:`write_scenario` write such a dict as a documented TOML file, formatted
by hand (no TOML writer dependency).
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import expit

from sim.errors import ScenarioError

__all__ = [
    "LEVEL_GAP",
    "LEVEL_PAD",
    "PowerLawFit",
    "fit_power_law",
    "logit_scores",
    "scenario_toml",
    "write_scenario",
]

#: With ``fit_levels=True``: ``L`` stays at least this fraction of the observed score range below the
#: lowest score and ``U`` as far above the highest (bounds of the nonlinear least squares).
LEVEL_GAP = 1e-6
#: With ``fit_levels=True`` and no starting value: ``L`` starts this fraction of the score range below the lowest
#: score, ``U`` as far above the highest.
LEVEL_PAD = 0.1


def logit_scores(score, lower: float, upper: float) -> np.ndarray:
    """``logit((s - L) / (U - L)) = log(s - L) - log(U - s)``, accurate near both levels (no ``y`` formed)."""
    score = np.asarray(score, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(score - lower) - np.log(upper - score)


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """A fitted generalised power law: common ``L, U``, per-model ``alpha, beta`` (all arrays follow ``models``).

    Attributes
    ----------
    models:
        Model names, in the order they first appear in the input.
    alpha, beta:
        Fitted logit intercept and slope per model.
    lower, upper:
        The common levels ``L < U`` (given, or fitted with ``fit_levels``).
    effort_unit:
        ``e0`` of ``log(1 + e / e0)``.
    rms:
        Residual root mean square per model on the score scale,
        ``sqrt(mean_j (f_m(e_j) - s_j)**2)``.
    n_points:
        Observations per model.
    rows:
        The rows used: ``model, effort, score, fitted, residual, clipped``.
    fit_levels:
        Whether ``L, U`` were fitted.
    clip:
        The clipping ``eps`` used, or ``None`` (scores outside ``(L, U)`` are errors).
    """

    models: tuple[str, ...]
    alpha: np.ndarray
    beta: np.ndarray
    lower: float
    upper: float
    effort_unit: float
    rms: np.ndarray
    n_points: np.ndarray
    rows: pd.DataFrame
    fit_levels: bool = False
    clip: float | None = None

    def _index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise ScenarioError("model", model, "not in the fit") from None

    def predict(self, model: str, effort) -> np.ndarray:
        """``f_m(e) = L + (U - L) * sigmoid(alpha_m + beta_m * log(1 + e / e0))`` for one model."""
        k = self._index(model)
        x = np.log1p(np.asarray(effort, dtype=float) / self.effort_unit)
        return self.lower + (self.upper - self.lower) * expit(self.alpha[k] + self.beta[k] * x)

    def table(self) -> pd.DataFrame:
        """One row per model: ``model, alpha, beta, lower, upper, effort_unit, rms, n_points``."""
        return pd.DataFrame(
            {
                "model": list(self.models),
                "alpha": self.alpha,
                "beta": self.beta,
                "lower": self.lower,
                "upper": self.upper,
                "effort_unit": self.effort_unit,
                "rms": self.rms,
                "n_points": self.n_points,
            }
        )

    def to_scenario(
        self,
        capability: Mapping[str, float],
        *,
        name: str,
        cost_scale: float,
        reward: Mapping[str, object],
        resolution: float,
        rounds: int,
        seed: int = 0,
        tie_break: str = "capability",
        tau: float = 0.0,
        models=None,
    ) -> dict:
        """A scenario dict (the parsed-TOML shape :func:`sim.scenario.parse_scenario` accepts).

        One developer per model of ``models`` (default: every fitted model, in
        fit order) with ``capability[model]`` as its capability; ``[score]``
        is ``family = "power_law"`` with the common ``lower``, ``upper`` and
        ``effort_unit`` and one ``alpha``, ``beta`` per developer; a linear
        cost ``cost_scale * x``; ``reward`` is the ``[reward]`` table (for
        instance ``{"scheme": "top_k", "k": 3}``); the leaderboard publishes
        scores rounded down to ``resolution``; ``[dynamics] rounds``.  The
        dict is validated with ``parse_scenario`` before it is returned; a
        model with ``beta <= 0`` (its score does not rise with effort) or
        without a capability is an error naming it.
        """
        from sim.scenario import parse_scenario

        models = list(self.models) if models is None else list(models)
        index = [self._index(m) for m in models]
        theta = []
        for model in models:
            if model not in capability:
                raise ScenarioError("capability", model, "no capability given for this model")
            value = float(capability[model])
            if not math.isfinite(value):
                raise ScenarioError("capability", value, f"model {model}: must be finite")
            theta.append(value)
        for model, k in zip(models, index, strict=True):
            if not self.beta[k] > 0:
                message = f"model {model}: must be > 0 (its score does not rise with effort)"
                raise ScenarioError("score.beta", float(self.beta[k]), message)
        data = {
            "name": name,
            "seed": int(seed),
            "developers": {"capability": theta},
            "score": {
                "family": "power_law",
                "lower": float(self.lower),
                "upper": float(self.upper),
                "alpha": [float(self.alpha[k]) for k in index],
                "beta": [float(self.beta[k]) for k in index],
                "effort_unit": float(self.effort_unit),
            },
            "cost": {"family": "linear", "scale": float(cost_scale)},
            "reward": dict(reward),
            "leaderboard": {"resolution": float(resolution), "tie_break": tie_break},
            "designer": {"tau": float(tau)},
            "dynamics": {"rounds": int(rounds)},
        }
        parse_scenario(data, name_hint=name)
        return data


# --------------------------------------------------------------------------- fitting


def _finite_column(frame: pd.DataFrame, column: str, field: str, models: pd.Series) -> np.ndarray:
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ScenarioError(field, frame[column].tolist()[:5], "must be numbers") from None
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ScenarioError(field, values[k], f"model {models.iloc[k]}: must be a finite number")
    return values


def _check_level(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ScenarioError(field, value, "must be a number")
    if not math.isfinite(float(value)):
        raise ScenarioError(field, value, "must be finite")
    return float(value)


def _ols(x: np.ndarray, z: np.ndarray, groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-group OLS of ``z`` on ``x``: ``beta = Sxz / Sxx``, ``alpha = mean z - beta * mean x``."""
    alpha, beta = np.empty(len(groups)), np.empty(len(groups))
    for k, rows in enumerate(groups):
        xk, zk = x[rows], z[rows]
        dx = xk - xk.mean()
        beta[k] = np.dot(dx, zk - zk.mean()) / np.dot(dx, dx)
        alpha[k] = zk.mean() - beta[k] * xk.mean()
    return alpha, beta


def _normalised_logit(score, lower, upper, clip, models):
    """``logit(y)`` of every score, clipping ``y`` to ``[clip, 1 - clip]`` or raising for a score outside ``(L, U)``."""
    outside = ~((score > lower) & (score < upper))
    if outside.any() and clip is None:
        k = int(np.flatnonzero(outside)[0])
        raise ScenarioError(
            "score",
            float(score[k]),
            f"model {models[k]}: must lie strictly inside (L, U) = ({lower:g}, {upper:g}) to take its logit "
            "(pass clip=eps to clip the normalised score to [eps, 1 - eps])",
        )
    z = logit_scores(score, lower, upper)
    if clip is None:
        return z, np.zeros(score.shape, dtype=bool)
    bound = math.log(clip) - math.log1p(-clip)  # logit(eps) < 0: y in [eps, 1 - eps] <=> |logit(y)| <= -bound
    clipped = outside | (np.abs(z) > -bound)
    z = np.where(score <= lower, bound, np.where(score >= upper, -bound, np.clip(z, bound, -bound)))
    return z, clipped


def fit_power_law(
    frame: pd.DataFrame,
    *,
    lower: float | None = None,
    upper: float | None = None,
    effort_unit: float = 1.0,
    fit_levels: bool = False,
    clip: float | None = None,
    model: str = "model",
    effort: str = "effort",
    score: str = "score",
) -> PowerLawFit:
    """Fit ``f_m(e) = L + (U - L) * sigmoid(alpha_m + beta_m * log(1 + e / e0))`` to trajectories.

    Parameters
    ----------
    frame:
        One row per observation with columns ``model``, ``effort`` (total
        effort, ``>= 0``) and ``score`` (names configurable).  Every model
        needs at least two distinct efforts.  With exactly two the
        regression is exactly identified (zero residual).
    lower, upper:
        The common levels ``L < U``.  Required unless ``fit_levels``, where
        they are starting values (default: :data:`LEVEL_PAD` of the score
        range beyond the lowest and highest score).
    effort_unit:
        ``e0 > 0``.
    fit_levels:
        Also fit common ``L, U`` by nonlinear least squares on the score
        scale, started from the regression at the starting levels; the
        bounds ``L <= min(s) - gap``, ``U >= max(s) + gap`` keep every score
        strictly inside.  Needs some model with three or more distinct
        efforts: with two per model every ``(L, U)`` fits exactly.
    clip:
        ``None`` (default): a score at or outside ``(L, U)`` is an error
        naming the model and the score.  A number ``eps`` in ``(0, 0.5)``:
        the normalised score ``y`` is clipped to ``[eps, 1 - eps]`` before
        the logit (the rows record which points were clipped).

    The residual RMS is on the score scale.  Errors
    (:class:`~sim.errors.ScenarioError`): missing columns, non-finite
    values, negative effort, fewer than two distinct efforts for a model,
    ``L >= U``, a bad ``effort_unit`` or ``clip``, ``clip`` together with
    ``fit_levels``, a score outside ``(L, U)`` without ``clip``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ScenarioError("frame", type(frame).__name__, "must be a pandas DataFrame")
    missing = [c for c in (model, effort, score) if c not in frame.columns]
    if missing:
        raise ScenarioError("frame", missing, f"missing column(s); found {list(frame.columns)}")
    if frame.empty:
        raise ScenarioError("frame", 0, "has no rows")
    e0 = _check_level(effort_unit, "effort_unit")
    if not e0 > 0:
        raise ScenarioError("effort_unit", effort_unit, "must be > 0")
    if clip is not None:
        clip = _check_level(clip, "clip")
        if not 0 < clip < 0.5:
            raise ScenarioError("clip", clip, "must be in (0, 0.5)")
        if fit_levels:
            raise ScenarioError(
                "clip", clip, "is not used with fit_levels=True: the fitted L and U keep every score strictly inside"
            )
    names = frame[model].astype(str).reset_index(drop=True)
    e = _finite_column(frame, effort, effort, names)
    s = _finite_column(frame, score, score, names)
    if (e < 0).any():
        k = int(np.flatnonzero(e < 0)[0])
        raise ScenarioError(effort, float(e[k]), f"model {names[k]}: effort must be >= 0")
    models = tuple(pd.unique(names))
    groups = [np.flatnonzero((names == m).to_numpy()) for m in models]
    for m, rows in zip(models, groups, strict=True):
        if np.unique(e[rows]).size < 2:
            distinct = sorted(set(e[rows].tolist()))
            raise ScenarioError(effort, distinct, f"model {m}: needs at least two distinct efforts")

    low, high = float(s.min()), float(s.max())
    spread = high - low if high > low else max(abs(high), 1.0)
    if fit_levels:
        if max(np.unique(e[rows]).size for rows in groups) < 3:
            raise ScenarioError(
                "fit_levels", True, "L and U are not identified: every model has only two distinct efforts, "
                "so every (L, U) fits exactly; fix lower and upper instead"
            )
        lower = low - LEVEL_PAD * spread if lower is None else _check_level(lower, "lower")
        upper = high + LEVEL_PAD * spread if upper is None else _check_level(upper, "upper")
    else:
        if lower is None or upper is None:
            field = "lower" if lower is None else "upper"
            raise ScenarioError(field, None, "give both lower and upper, or fit_levels=True")
        lower, upper = _check_level(lower, "lower"), _check_level(upper, "upper")
    if not lower < upper:
        raise ScenarioError("upper", upper, f"must be > lower = {lower:g}")

    x = np.log1p(e / e0)
    if fit_levels:
        gap = LEVEL_GAP * spread
        lower, upper = min(lower, low - gap), max(upper, high + gap)  # a feasible start
        z, _ = _normalised_logit(s, lower, upper, None, names)
        alpha, beta = _ols(x, z, groups)
        lower, upper, alpha, beta = _fit_levels(x, s, groups, lower, upper, alpha, beta, low - gap, high + gap)
        clipped = np.zeros(s.shape, dtype=bool)
    else:
        z, clipped = _normalised_logit(s, lower, upper, clip, names)
        alpha, beta = _ols(x, z, groups)

    code = np.empty(s.size, dtype=int)
    for k, rows in enumerate(groups):
        code[rows] = k
    fitted = lower + (upper - lower) * expit(alpha[code] + beta[code] * x)
    residual = fitted - s
    rms = np.array([math.sqrt(float(np.mean(residual[rows] ** 2))) for rows in groups])
    rows = pd.DataFrame(
        {"model": names, "effort": e, "score": s, "fitted": fitted, "residual": residual, "clipped": clipped}
    )
    return PowerLawFit(
        models=models,
        alpha=alpha,
        beta=beta,
        lower=float(lower),
        upper=float(upper),
        effort_unit=e0,
        rms=rms,
        n_points=np.array([rows_.size for rows_ in groups]),
        rows=rows,
        fit_levels=bool(fit_levels),
        clip=clip,
    )


def _fit_levels(x, s, groups, lower, upper, alpha, beta, lower_max, upper_min):
    """Nonlinear least squares of ``f - s`` over ``(L, U, alpha_1..m, beta_1..m)`` with ``L <= lower_max``,
    ``U >= upper_min``; analytic Jacobian ``df/dL = 1 - p``, ``df/dU = p``, ``df/dalpha_m = (U - L) p (1 - p)``,
    ``df/dbeta_m = (U - L) p (1 - p) x`` with ``p = sigmoid(alpha_m + beta_m x)``."""
    m = len(groups)
    code = np.empty(s.size, dtype=int)
    for k, rows in enumerate(groups):
        code[rows] = k
    obs = np.arange(s.size)

    def unpack(p):
        return p[0], p[1], p[2 : 2 + m], p[2 + m :]

    def residual(p):
        low, high, a, b = unpack(p)
        return low + (high - low) * expit(a[code] + b[code] * x) - s

    def jacobian(p):
        low, high, a, b = unpack(p)
        prob = expit(a[code] + b[code] * x)
        slope = (high - low) * prob * (1 - prob)
        jac = np.zeros((s.size, 2 + 2 * m))
        jac[:, 0] = 1 - prob
        jac[:, 1] = prob
        jac[obs, 2 + code] = slope
        jac[obs, 2 + m + code] = slope * x
        return jac

    start = np.concatenate([[lower, upper], alpha, beta])
    bounds_low = np.concatenate([[-np.inf, upper_min], np.full(2 * m, -np.inf)])
    bounds_high = np.concatenate([[lower_max, np.inf], np.full(2 * m, np.inf)])
    result = least_squares(
        residual, start, jac=jacobian, bounds=(bounds_low, bounds_high), method="trf", x_scale="jac",
        ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=2000,
    )
    low, high, a, b = unpack(result.x)
    return float(low), float(high), np.array(a), np.array(b)


# --------------------------------------------------------------------------- writing scenario files


def _toml_value(value, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            raise ScenarioError(where, value, "cannot write NaN into a scenario file")
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest text that reads back as the same double; valid TOML (1e-05, 0.001, 2.0)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v, f'{where}.{k}')}" for k, v in value.items()) + "}"
    raise ScenarioError(where, type(value).__name__, "cannot be written to TOML")


def _toml_key(key) -> str:
    key = str(key)
    return key if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii() else json.dumps(key)


def scenario_toml(data: Mapping, header: str = "") -> str:
    """A scenario dict as TOML text: ``header`` as ``#`` comment lines, top-level keys, then one ``[section]``
    per table (nested tables as inline tables; floats written with ``repr``, which reads back bit for bit).
    Lists longer than four entries are written one entry per line."""
    lines = [("# " + line).rstrip() for line in header.strip("\n").splitlines()] if header.strip() else []
    if lines:
        lines.append("")
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    for key, value in data.items():
        if key not in tables:
            lines.append(f"{_toml_key(key)} = {_toml_value(value, key)}")
    for section, table in tables.items():
        lines += ["", f"[{_toml_key(section)}]"]
        for key, value in table.items():
            where = f"{section}.{key}"
            if isinstance(value, (list, tuple, np.ndarray)) and len(value) > 4:
                lines.append(f"{_toml_key(key)} = [")
                lines += [f"    {_toml_value(v, where)}," for v in value]
                lines.append("]")
            else:
                lines.append(f"{_toml_key(key)} = {_toml_value(value, where)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def write_scenario(path, data: Mapping, header: str = "") -> Path:
    """Write :func:`scenario_toml` of ``data`` to ``path`` atomically, after checking it parses as a scenario."""
    import tomllib

    from sim.scenario import parse_scenario

    text = scenario_toml(data, header)
    parse_scenario(tomllib.loads(text), name_hint=Path(path).stem)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{secrets.token_hex(4)}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
