"""Score families: how capability and total effort become a benchmark score.

A score family maps a developer's latent capability ``theta`` and its *total*
benchmark-specific effort ``e = tau + x`` to a score ``f(theta, e)``
(Definition 2.1 of Chen, Zhang and Hardt, "Leaderboard Incentives", 2026).

Each family here is *bound* to developers: its parameters are numpy arrays,
one entry per developer (or any broadcastable shape, for example
``scenarios x developers`` in a batch).  Indexing a family indexes every
parameter array, so ``family[i]`` is developer ``i`` alone and
``family[:, None]`` lines the developers up along a new axis.  Every family
provides, vectorised over numpy arrays:

* ``score(e)``: the score at total effort ``e``;
* ``effort_to_reach(s)``: the least total effort with ``score >= s``; ``0``
  when the score at zero effort already reaches ``s``; ``+inf`` when ``s`` is
  at or above the saturation limit (for a custom callable: above its declared
  limit, which it may attain, or, with none declared, when no effort up to
  :data:`CUSTOM_MAX_EFFORT` reaches ``s``);
* ``limit()``: the saturation limit ``f(theta, inf)``.

The inverse is closed form for the power law and exponential saturation and a
vectorised bracketed bisection for custom callables.  Callers that need a
*guaranteed* ``score(e) >= s`` use :func:`least_effort`, which checks the
inverse by evaluating the score forward.

Families are described in a scenario by parameter specifications
(:class:`Affine`, a number, or one value per developer) and bound to the
developers' capabilities with :meth:`PowerLawSpec.bind` and friends.

The formulas and their inverses in the project's words: ``docs/model.md#score-families``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from sim.errors import ScenarioError, callable_path, describe_exception

# ---------------------------------------------------------------------------
# Parameter specifications
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Affine:
    """A parameter that is an affine function of capability: ``intercept + slope * theta``."""

    intercept: float
    slope: float

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        return self.intercept + self.slope * np.asarray(theta, dtype=float)


#: A score parameter: one number for everyone, one number per developer, or
#: an affine function of capability.
Param = Union[float, tuple, Affine]


def resolve_param(spec: Param, theta: np.ndarray, name: str) -> np.ndarray:
    """The values of parameter ``spec`` for capabilities ``theta``.

    Raises :class:`ScenarioError` naming ``name`` when a per-developer list
    has the wrong length or any value is not finite.
    """
    theta = np.asarray(theta, dtype=float)
    if isinstance(spec, Affine):
        values = spec(theta)
    elif isinstance(spec, (tuple, list, np.ndarray)):
        values = np.asarray(spec, dtype=float)
        if values.shape != theta.shape:
            raise ScenarioError(name, list(spec), f"needs one value per developer ({theta.size}), got {values.size}")
    else:
        values = np.full(theta.shape, float(spec))
    if not np.all(np.isfinite(values)):
        raise ScenarioError(name, spec, "must be finite")
    return values


def is_function_of_capability(spec: Param) -> bool:
    """Whether ``spec`` defines the parameter at any capability (not only at the developers')."""
    return not isinstance(spec, (tuple, list, np.ndarray))


# ---------------------------------------------------------------------------
# Bound families
# ---------------------------------------------------------------------------


def _as_shape(array: np.ndarray, shape: tuple) -> np.ndarray:
    """``np.broadcast_to(array, shape)``, or ``array`` itself when it has that shape already (no new view)."""
    return array if array.shape == shape else np.broadcast_to(array, shape)


class _Bound:
    """Shared behaviour of bound families: indexing maps over parameter arrays."""

    _array_fields: tuple[str, ...] = ()

    def _with_arrays(self, arrays: dict) -> _Bound:
        """A copy of this family with the parameter arrays in ``arrays`` (float arrays, as ``__post_init__``
        makes them), without ``__post_init__``'s checks: views, broadcasts and reshapes of checked parameters
        satisfy them already.  (``dataclasses.replace`` would check again: most of the time of
        :func:`least_effort_and_score` on small arrays went there.)"""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name, value in arrays.items():
            new.__dict__[name] = np.asarray(value, dtype=float)
        return new

    def __getitem__(self, index) -> _Bound:
        shape = self.shape
        return self._with_arrays({name: _as_shape(getattr(self, name), shape)[index] for name in self._array_fields})

    def broadcast_to(self, shape) -> _Bound:
        """The family with every parameter array broadcast to ``shape``."""
        shape = tuple(shape) if np.iterable(shape) else (shape,)
        return self._with_arrays({name: _as_shape(getattr(self, name), shape) for name in self._array_fields})

    def reshape(self, shape) -> _Bound:
        """The family with every parameter array reshaped (parameters must already share one shape)."""
        return self._with_arrays({name: np.reshape(getattr(self, name), shape) for name in self._array_fields})

    @property
    def shape(self) -> tuple[int, ...]:
        return np.broadcast_shapes(*(np.shape(getattr(self, name)) for name in self._array_fields))

    def zero_effort_score(self) -> np.ndarray:
        """The score at zero total effort, ``f(theta, 0)``."""
        return self.score(np.zeros(self.shape))


@dataclass(frozen=True)
class PowerLaw(_Bound):
    """Generalised power law (Eq. 3 of Chen et al. 2026).

    ``f(theta, e) = L + (U - L) * sigmoid(alpha + beta * log(1 + e / e0))``

    with lower and upper levels ``L < U``, baseline logit ``alpha``, learning
    efficiency ``beta > 0`` and effort unit ``e0 > 0``.  Inverse, for
    ``y = (s - L) / (U - L)`` strictly between ``sigmoid(alpha)`` and 1:
    ``E = e0 * (exp((logit(y) - alpha) / beta) - 1)``, with
    ``logit(y) = log(s - L) - log(U - s)`` evaluated without forming ``y``.
    """

    lower: np.ndarray
    upper: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    effort_unit: float = 1.0
    _array_fields = ("lower", "upper", "alpha", "beta")

    def __post_init__(self):
        for name in self._array_fields:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        if np.any(self.upper <= self.lower):
            raise ScenarioError("upper", self.upper.tolist(), "must be > lower for every developer")
        if np.any(self.beta <= 0):
            raise ScenarioError("beta", self.beta.tolist(), "must be > 0 for every developer")
        if not (np.isfinite(self.effort_unit) and self.effort_unit > 0):
            raise ScenarioError("effort_unit", self.effort_unit, "must be a finite number > 0")

    def score(self, e) -> np.ndarray:
        from scipy.special import expit  # here, not at import: SciPy costs CLI commands that never need it

        e = np.asarray(e, dtype=float)
        z = self.alpha + self.beta * np.log1p(e / self.effort_unit)
        return self.lower + (self.upper - self.lower) * expit(z)

    def effort_to_reach(self, s) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # logit(y) = log((s - L) / (U - s)): accurate near both ends, where y itself rounds to 0 or 1.
            z = np.log(s - self.lower) - np.log(self.upper - s)
            effort = self.effort_unit * np.expm1((z - self.alpha) / self.beta)
        effort = np.where(s <= self.score(0.0), 0.0, effort)
        effort = np.where(s >= self.upper, np.inf, effort)
        return np.maximum(effort, 0.0)

    def limit(self) -> np.ndarray:
        return np.broadcast_to(self.upper, self.shape).astype(float)


@dataclass(frozen=True)
class ExpSaturation(_Bound):
    """Exponential saturation: ``f(theta, e) = U - (U - L) * exp(-k * e)``.

    Inverse for ``L < s < U``: ``E = log((U - L) / (U - s)) / k``.  The case
    ``L = theta, U = theta + A, k = 1`` is ``theta + A * (1 - exp(-e))``.
    """

    lower: np.ndarray
    upper: np.ndarray
    rate: np.ndarray
    _array_fields = ("lower", "upper", "rate")

    def __post_init__(self):
        for name in self._array_fields:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        if np.any(self.upper <= self.lower):
            raise ScenarioError("upper", self.upper.tolist(), "must be > lower for every developer")
        if np.any(self.rate <= 0):
            raise ScenarioError("rate", self.rate.tolist(), "must be > 0 for every developer")

    def score(self, e) -> np.ndarray:
        e = np.asarray(e, dtype=float)
        return self.upper - (self.upper - self.lower) * np.exp(-self.rate * e)

    def effort_to_reach(self, s) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            effort = np.log((self.upper - self.lower) / (self.upper - s)) / self.rate
        effort = np.where(s <= self.lower, 0.0, effort)
        effort = np.where(s >= self.upper, np.inf, effort)
        return np.maximum(effort, 0.0)

    def limit(self) -> np.ndarray:
        return np.broadcast_to(self.upper, self.shape).astype(float)


#: Largest total effort a custom family's bracket search expands to before it
#: calls a target unreachable.
CUSTOM_MAX_EFFORT = 1e15


@dataclass(frozen=True)
class CustomScore(_Bound):
    """Any vectorised callable ``function(theta, e) -> score``.

    The inverse expands a bracket ``[0, hi]`` by doubling until
    ``score(hi) >= s`` and then bisects to ``rtol`` (relative); the returned
    effort is always the upper end of the bracket, so ``score(E) >= s``
    holds by construction.  A target not reached by
    :data:`CUSTOM_MAX_EFFORT` (or above ``limit_function(theta)`` when one
    is given; a function may attain its limit) gets ``+inf``.  The function
    must be non-decreasing in effort for the inverse to be the *least* such
    effort.  An exception or a NaN from the function becomes a one-line
    :class:`~sim.errors.ScenarioError` naming ``score.function``.
    """

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]
    theta: np.ndarray
    limit_function: Callable[[np.ndarray], np.ndarray] | None = None
    rtol: float = 1e-13
    _array_fields = ("theta",)

    def __post_init__(self):
        object.__setattr__(self, "theta", np.asarray(self.theta, dtype=float))

    def _call(self, theta: np.ndarray, e: np.ndarray) -> np.ndarray:
        """``function(theta, e)`` with its failures turned into one-line :class:`ScenarioError`."""
        try:
            out = np.asarray(self.function(theta, e), dtype=float)
            out = np.broadcast_to(out, theta.shape)
        except Exception as err:  # a user's function: report, do not crash
            where = f" at effort {float(np.max(e)):.6g}" if np.size(e) else ""
            raise ScenarioError(
                "score.function", callable_path(self.function), f"raised {describe_exception(err)}{where}"
            ) from None
        bad = np.isnan(out) & ~np.isnan(e)
        if bad.any():
            raise ScenarioError(
                "score.function", callable_path(self.function), f"returned NaN at effort {float(e[bad].flat[0]):.6g}"
            )
        return out

    def score(self, e) -> np.ndarray:
        theta, e = np.broadcast_arrays(self.theta, np.asarray(e, dtype=float))
        return self._call(theta, e)

    def limit(self) -> np.ndarray:
        if self.limit_function is not None:
            try:
                lim = np.broadcast_to(np.asarray(self.limit_function(self.theta), dtype=float), self.shape).copy()
            except Exception as err:
                raise ScenarioError(
                    "score.limit", callable_path(self.limit_function), f"raised {describe_exception(err)}"
                ) from None
            return lim
        return self.score(np.full(self.shape, CUSTOM_MAX_EFFORT))

    def effort_to_reach(self, s) -> np.ndarray:
        theta, s = np.broadcast_arrays(self.theta, np.asarray(s, dtype=float))
        shape = theta.shape
        theta, s = theta.ravel().copy(), s.ravel().copy()
        f = lambda e: self._call(theta, e)  # noqa: E731
        result = np.full(s.shape, np.nan)
        zero = f(np.zeros_like(s)) >= s
        result[zero] = 0.0
        if self.limit_function is not None:
            # Above the declared limit nothing reaches; at it, a function that attains it does.
            capped = ~zero & (s > self.broadcast_to(shape).reshape(-1).limit())
            result[capped] = np.inf
        todo = np.isnan(result)
        lo = np.zeros_like(s)
        hi = np.ones_like(s)
        # Expand the bracket until score(hi) >= s or the effort cap is reached.
        while True:
            short = todo & (f(hi) < s)
            if not short.any():
                break
            give_up = short & (hi >= CUSTOM_MAX_EFFORT)
            result[give_up] = np.inf
            todo &= ~give_up
            grow = short & ~give_up
            lo[grow] = hi[grow]
            hi[grow] = np.minimum(hi[grow] * 2.0, CUSTOM_MAX_EFFORT)
        # Bisect: invariant f(lo) < s <= f(hi) on the entries still to do.
        for _ in range(200):
            active = todo & (hi - lo > self.rtol * np.maximum(hi, 1e-300))
            if not active.any():
                break
            mid = 0.5 * (lo + hi)
            reached = f(mid) >= s
            hi = np.where(active & reached, mid, hi)
            lo = np.where(active & ~reached, mid, lo)
        result[todo] = hi[todo]
        return result.reshape(shape)


ScoreFamily = Union[PowerLaw, ExpSaturation, CustomScore]


def least_effort(family: ScoreFamily, tau, target) -> np.ndarray:
    """Least additional effort ``x >= 0`` with ``family.score(tau + x) >= target``, checked forward.

    See :func:`least_effort_and_score`, which also returns the score reached.
    """
    return least_effort_and_score(family, tau, target)[0]


def least_effort_and_score(family: ScoreFamily, tau, target) -> tuple[np.ndarray, np.ndarray]:
    """Least additional effort ``x >= 0`` with ``family.score(tau + x) >= target``, checked forward.

    Starts from the family's inverse ``max(E(target) - tau, 0)``.  Where
    evaluating the score forward shows that round-off left it short of
    ``target``, it raises ``x`` by a step that starts at one ulp of
    ``tau + x`` and doubles until the forward score reaches the target; where
    the inverse overshot (the float below still reaches the target), it
    brackets downwards the same way.  Either way it ends with a bisection on
    floats, so the result reaches the target and the float below it does
    not.  ``+inf`` where the target is unreachable.  This is what makes ranks
    bought with the result earned, and the effort the least that buys them.

    Returns ``(x, score)``: the effort and the score ``family.score(tau + x)``
    it reaches, evaluated forward (NaN where ``x`` is infinite), so callers
    need not evaluate it again.
    """
    tau = np.asarray(tau, dtype=float)
    target = np.asarray(target, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.array(np.maximum(family.effort_to_reach(target) - tau, 0.0), dtype=float, copy=True)
        shape = x.shape
        x = x.reshape(-1)
        fam = family.broadcast_to(shape).reshape(-1)
        tau_f = np.broadcast_to(tau, shape).reshape(-1)
        target_f = np.broadcast_to(target, shape).reshape(-1)
        finite = np.isfinite(x)
        all_finite = bool(finite.all())
        reached = np.full(x.shape, np.nan)
        reached[finite] = (fam if all_finite else fam[finite]).score(tau_f[finite] + x[finite])
        reaches = reached >= target_f
        # Short of the target: bracket upwards from x.
        short = np.flatnonzero(finite & ~reaches)
        if short.size:
            lo, hi = _bracket(fam[short], tau_f[short], target_f[short], x[short], up=True)
            x[short] = _bisect_floats(fam[short], tau_f[short], target_f[short], lo, hi)
        # Reaching it, but so does the float below: the inverse overshot; bracket downwards.
        maybe = np.flatnonzero(reaches & (x > 0))
        over = maybe[:0]
        if maybe.size:
            below = np.nextafter(x[maybe], 0.0)
            over = maybe[fam[maybe].score(tau_f[maybe] + below) >= target_f[maybe]]
            if over.size:
                lo, hi = _bracket(fam[over], tau_f[over], target_f[over], x[over], up=False)
                x[over] = _bisect_floats(fam[over], tau_f[over], target_f[over], lo, hi)
        # The score at the final effort, evaluated forward (re-evaluated where the search moved x).
        moved = np.concatenate([short, over])
        moved = moved[np.isfinite(x[moved])]
        if moved.size:
            reached[moved] = fam[moved].score(tau_f[moved] + x[moved])
        reached[~np.isfinite(x)] = np.nan
    return x.reshape(shape), reached.reshape(shape)


#: Most doublings :func:`_bracket` tries (from the smallest subnormal step to overflow).
_BRACKET_STEPS = 2200
#: Most candidates :func:`_bracket` evaluates in one call of the score (rows x doublings).
_BRACKET_CELLS = 1 << 18


def _bracket(fam, tau, target, x, up: bool):
    """A bracket ``(lo, hi)`` with ``score(tau + lo) < target <= score(tau + hi)`` next to ``x``.

    Steps away from ``x`` by one ulp of ``tau + x``, doubling each time.
    Going up, ``x`` fails and the search is for a ``hi`` that reaches (``inf``
    if no finite effort does); going down, ``x`` reaches and the search is
    for a ``lo`` that fails (``lo = -1`` marks that zero effort reaches).

    The candidates ``x +- step * 2**j`` do not depend on the scores, so a block
    of doublings is evaluated at once (``step * 2**j`` is exact, as repeated
    doubling is, and ``inf`` once it overflows); each row stops at its first
    candidate that reaches (going up) or fails (going down), or leaves the
    finite (up) or positive (down) efforts, exactly where a one-doubling-at-a-
    time loop stops, with the same candidates: the same floats.  Rows that have
    not stopped go on in a longer block.  (Unreachable targets used to cost up
    to 2,200 passes over every row.)
    """
    x = np.asarray(x, dtype=float)
    step = np.spacing(np.abs(tau + x))
    reach, fail = (np.full(x.shape, np.inf), x.copy()) if up else (x.copy(), np.full(x.shape, np.nan))
    todo = np.arange(x.size)
    done = 0
    block = 8
    while todo.size and done < _BRACKET_STEPS:
        k = max(1, min(block, _BRACKET_STEPS - done, _BRACKET_CELLS // todo.size))
        steps = np.ldexp(step[todo][:, None], np.arange(k))
        base = x[todo][:, None]
        cand = base + steps if up else np.maximum(base - steps, 0.0)
        rows = fam[todo].reshape((todo.size, 1))
        hit = rows.score(tau[todo][:, None] + cand) >= target[todo][:, None]
        stop = (hit | ~np.isfinite(cand)) if up else (~hit | ~(cand > 0.0))
        stopped = stop.any(axis=1)
        j = np.argmax(stop, axis=1)
        last = np.where(stopped, j, k - 1)  # the last candidate each row tried in this block
        at = cand[np.arange(todo.size), last]
        before = cand[np.arange(todo.size), np.maximum(last - 1, 0)]
        hit_last = hit[np.arange(todo.size), last]
        # One doubling at a time: reach = cand where it reaches, fail = cand where it fails, for every candidate
        # tried; so the last one tried sets one of them, and the one before it (which did not stop) the other.
        if up:
            new_reach = np.where(hit_last, at, reach[todo])
            new_fail = np.where(hit_last, np.where(last > 0, before, fail[todo]), at)
        else:
            new_fail = np.where(hit_last, fail[todo], at)
            new_reach = np.where(hit_last, at, np.where(last > 0, before, reach[todo]))
        reach[todo] = new_reach
        fail[todo] = new_fail
        step[todo] = np.ldexp(step[todo], k)
        todo = todo[~stopped]
        done += k
        block *= 4
    if not up:
        fail = np.where(np.isnan(fail), -1.0, fail)  # even zero effort reaches the target
    return fail, reach


def _bisect_floats(fam, tau, target, lo, hi):
    """Bisect on floats until ``lo`` and ``hi`` are adjacent; returns ``hi`` (which reaches ``target``).

    Invariant: ``score(tau + lo) < target <= score(tau + hi)``; entries with
    ``hi`` infinite are returned as they are, and ``lo < 0`` (zero already
    reaches) gives ``0``.
    """
    active = np.isfinite(hi) & (lo >= 0)
    for _ in range(2200):
        active &= np.nextafter(lo, np.inf) < hi
        if not active.any():
            break
        mid = lo + 0.5 * (hi - lo)
        mid = np.where((mid <= lo) | (mid >= hi), np.nextafter(lo, np.inf), mid)
        hit = fam.score(tau + mid) >= target
        hi = np.where(active & hit, mid, hi)
        lo = np.where(active & ~hit, mid, lo)
    return np.where(lo < 0, 0.0, hi)


# ---------------------------------------------------------------------------
# Specifications: unbound families as written in a scenario file
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLawSpec:
    """Unbound :class:`PowerLaw`; parameters are :data:`Param` specifications."""

    lower: Param
    upper: Param
    alpha: Param
    beta: Param
    effort_unit: float = 1.0
    family: str = field(default="power_law", init=False)

    def bind(self, theta) -> PowerLaw:
        return PowerLaw(
            lower=resolve_param(self.lower, theta, "lower"),
            upper=resolve_param(self.upper, theta, "upper"),
            alpha=resolve_param(self.alpha, theta, "alpha"),
            beta=resolve_param(self.beta, theta, "beta"),
            effort_unit=float(self.effort_unit),
        )

    def defined_at_any_capability(self) -> bool:
        return all(is_function_of_capability(p) for p in (self.lower, self.upper, self.alpha, self.beta))


@dataclass(frozen=True)
class ExpSaturationSpec:
    """Unbound :class:`ExpSaturation`."""

    lower: Param
    upper: Param
    rate: Param = 1.0
    family: str = field(default="exp_saturation", init=False)

    def bind(self, theta) -> ExpSaturation:
        return ExpSaturation(
            lower=resolve_param(self.lower, theta, "lower"),
            upper=resolve_param(self.upper, theta, "upper"),
            rate=resolve_param(self.rate, theta, "rate"),
        )

    def defined_at_any_capability(self) -> bool:
        return all(is_function_of_capability(p) for p in (self.lower, self.upper, self.rate))


@dataclass(frozen=True)
class CustomScoreSpec:
    """Unbound :class:`CustomScore`: ``function(theta, e)``, optionally ``limit(theta)``."""

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]
    limit: Callable[[np.ndarray], np.ndarray] | None = None
    family: str = field(default="custom", init=False)

    def bind(self, theta) -> CustomScore:
        return CustomScore(function=self.function, theta=np.asarray(theta, dtype=float), limit_function=self.limit)

    def defined_at_any_capability(self) -> bool:
        return True


ScoreSpec = Union[PowerLawSpec, ExpSaturationSpec, CustomScoreSpec]


def as_param(value) -> Param:
    """Normalise a parameter written as a number, a sequence or an :class:`Affine`."""
    if isinstance(value, Affine):
        return value
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        return tuple(float(v) for v in value)
    return float(value)
