"""Custom score and cost functions probed at load time, so that a wrong one fails with a one-line error then and
not in the middle of a run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from sim.costs import CustomCost
from sim.errors import ScenarioError, callable_path, describe_exception
from sim.scenario.values import _kind
from sim.scores import (
    CUSTOM_MAX_EFFORT,
    CustomScoreSpec,
    ExpSaturation,
    PowerLaw,
    ScoreFamily,
)

#: Efforts at which custom score and cost functions are probed at load time.
PROBE_EFFORTS = (0.0, 1e-3, 1.0, 1e3, 1e6)


def _check_bound_score(bound: ScoreFamily) -> None:
    """Reject built-in parameters that are finite one by one but overflow together."""
    if isinstance(bound, (PowerLaw, ExpSaturation)):
        with np.errstate(over="ignore", invalid="ignore"):
            spread = bound.upper - bound.lower
        if not np.all(np.isfinite(spread)):
            raise ScenarioError("score.upper", bound.upper.tolist(), "upper - lower must be finite for every developer")
    if isinstance(bound, PowerLaw) and bound.effort_unit < sys.float_info.min:
        raise ScenarioError(
            "score.effort_unit",
            bound.effort_unit,
            f"must be >= {sys.float_info.min:g} so that 1 / effort_unit is finite",
        )


def _probe(function: Callable, args: tuple, field_name: str, where: str, *, allow_inf: bool = False) -> np.ndarray:
    """Call a user's ``function(*args)`` and check its result, or raise a one-line :class:`ScenarioError`.

    The result must be numbers broadcastable to the shape of ``args[0]``
    (as :class:`~sim.scores.CustomScore` and :class:`~sim.costs.CustomCost`
    broadcast them), finite, except that ``allow_inf`` lets ``+inf`` through
    (a cost may overflow at large efforts).
    """
    path = callable_path(function)
    shape = np.shape(args[0])
    try:
        with np.errstate(all="ignore"):
            raw = function(*args)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any failure of user code is a scenario error
        raise ScenarioError(field_name, path, f"raised {describe_exception(err)} {where}") from None
    expected = f"expected a float array of shape {shape}"
    numeric = isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, (bool, np.bool_))
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iuf":
        numeric = True
    if not numeric:
        raise ScenarioError(field_name, path, f"returned {_returned(raw)}, {expected}, {where}")
    try:
        values = np.asarray(raw, dtype=float)
    except (Exception, SystemExit):  # noqa: BLE001 - a result of any type may fail to convert
        raise ScenarioError(field_name, path, f"returned {_returned(raw)}, {expected}, {where}") from None
    try:
        values = np.broadcast_to(values, shape)
    except ValueError:
        raise ScenarioError(
            field_name, path, f"returned shape {values.shape} for inputs of shape {shape}, {expected}, {where}"
        ) from None
    bad = np.isnan(values) | (np.isneginf(values) if allow_inf else np.isinf(values))
    if bad.any():
        raise ScenarioError(field_name, path, f"returned {values[bad].flat[0]} {where}; must be finite")
    return values


def _returned(raw: object) -> str:
    """What a custom function returned, for a message: ``None``, ``a str``, ``an array of dtype bool``..."""
    if raw is None:
        return "None"
    if isinstance(raw, np.ndarray):
        return f"an array of dtype {raw.dtype}"
    return _kind(raw)


def _probe_custom_score(spec: CustomScoreSpec, theta: np.ndarray) -> None:
    """Call a custom score (and limit) at :data:`PROBE_EFFORTS` so a broken function fails at load time.

    The score is called for all developers at each effort, on a 2-D array of
    efforts (one row per effort) and for a single developer (0-d arrays), the
    shapes the game uses; without a declared limit it is also called at
    :data:`~sim.scores.CUSTOM_MAX_EFFORT`, which then serves as the limit.
    """
    n = theta.size
    efforts = PROBE_EFFORTS if spec.limit is not None else (*PROBE_EFFORTS, CUSTOM_MAX_EFFORT)
    for effort in efforts:
        _probe(spec.function, (theta.copy(), np.full(n, effort)), "score.function", f"at effort {effort:g}")
    grid = np.array(efforts)[:, None] + np.zeros(n)
    _probe(spec.function, (theta + np.zeros_like(grid), grid), "score.function", "for a 2-D array of efforts")
    _probe(spec.function, (np.array(theta[0]), np.array(1.0)), "score.function", "for one developer (0-d arrays)")
    if spec.limit is not None:
        _probe(spec.limit, (theta.copy(),), "score.limit", "for the developers' capabilities")
        _probe(spec.limit, (np.array(theta[0]),), "score.limit", "for one developer (a 0-d array)")


def _probe_custom_cost(cost: CustomCost, n: int) -> None:
    """Call a custom cost at :data:`PROBE_EFFORTS` so a broken function fails at load time.

    The cost must be finite up to effort 1; beyond, ``+inf`` (overflow) is allowed.
    """
    for effort in PROBE_EFFORTS:
        _probe(cost.function, (np.full(n, effort),), "cost.function", f"at effort {effort:g}", allow_inf=effort > 1)
    grid = np.array(PROBE_EFFORTS)[:, None] + np.zeros(n)
    _probe(cost.function, (grid,), "cost.function", "for a 2-D array of efforts", allow_inf=True)
    _probe(cost.function, (np.array(1.0),), "cost.function", "for one developer (a 0-d array)")
