"""The result of the stabilising-threshold search (Definition 5.4): ``tau*``, whether it is vouched for, notes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StabilisingThreshold:
    """The stabilising threshold ``tau*`` (Definition 5.4) and how far it can be trusted.

    See ``docs/model.md#stabilising-threshold`` for how it is computed.

    Attributes
    ----------
    tau_star:
        Smallest ``tau`` from which the zero-equilibrium condition holds for
        every larger ``tau``; ``inf`` when it still fails at ``tau_max``
        (or, for ``delta > 0``, fails for ever); ``None`` when it is
        undetermined in double precision (some pair's condition still fails
        where round-off starts to decide it, and no pair never stabilises).
    per_pair:
        The same for each adjacent pair alone, ``nan`` for an undetermined
        pair; ``tau_star = max(per_pair)`` when no entry is ``nan``.
    stabilises:
        ``tau_star`` is finite; ``None`` when ``tau_star`` is.
    vouched:
        Whether the search can vouch for ``tau_star``: always for the exact
        grid-level enumeration (``delta > 0``); for ``delta = 0`` when the
        condition was monotone on the sampled levels (Lemma 5.2 says it is
        under the assumptions); never when ``tau_star`` is undetermined.
        When ``False``, ``note`` says why.
    method:
        ``"grid_levels"`` (exact) or ``"bisection"``.
    undetermined_beyond:
        The least sampled ``tau`` from which round-off decides the condition of
        an undetermined pair (:func:`round_off_decides`); ``nan`` when every
        pair is determined.
    """

    per_pair: np.ndarray
    vouched: bool
    method: str
    tau_max: float
    note: str = ""
    undetermined_beyond: float = float("nan")

    @property
    def determined(self) -> bool:
        """``tau_star`` is a number (possibly ``inf``), not undetermined in double precision."""
        return bool(np.any(np.isposinf(self.per_pair)) or not np.any(np.isnan(self.per_pair)))

    @property
    def tau_star(self) -> float | None:
        if np.any(np.isposinf(self.per_pair)):
            return float("inf")  # a pair that never stabilises decides, whatever the others
        if np.any(np.isnan(self.per_pair)):
            return None
        return float(np.max(self.per_pair, initial=0.0))

    @property
    def stabilises(self) -> bool | None:
        star = self.tau_star
        return None if star is None else bool(np.isfinite(star))

    def __repr__(self) -> str:
        return (
            f"StabilisingThreshold(tau_star={self.tau_star!r}, per_pair={self.per_pair!r}, vouched={self.vouched}, "
            f"method={self.method!r}, tau_max={self.tau_max!r}, note={self.note!r}, "
            f"undetermined_beyond={self.undetermined_beyond!r})"
        )
