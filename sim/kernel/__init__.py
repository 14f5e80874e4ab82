"""Compiled best-response kernel (numba) for the built-in score and cost families.

:meth:`sim.engine.BatchGame.respond` computes exact best responses with
numpy, over arrays of candidates.  Most of that work is the exact least
effort of each candidate (:func:`sim.scores.least_effort_and_score`: the
closed-form inverse, then a search, checked forward, for the least float that
reaches the target), which takes a dozen score evaluations per candidate and
does not vectorise well.  This module does the same computation one
candidate at a time in compiled code, with the same floating-point
operations in the same order, so it returns *the same bits* as the numpy
path and as :func:`sim.game.best_responses` (the tests compare them).  It
covers the generalised power law and exponential saturation with the
linear, power and flat-then-quadratic costs; custom families use numpy.

Bit-for-bit notes: ``expit(z)`` is ``1 / (1 + exp(-z))`` (SciPy's formula);
numpy computes ``x ** 2`` as ``x * x``, so the kernel does too.

The kernel is layered, each module importing only lower ones: :mod:`.primitives`, :mod:`.rows`,
:mod:`.level_counts`, :mod:`.sorted_board`, :mod:`.respond`, :mod:`.publish`, :mod:`.recurrence`.
"""

from __future__ import annotations

from sim.kernel.level_counts import (  # noqa: F401
    COUNTED_RANK_MIN_N,
    TIE_WINDOW,
    _count_board,
    _holds_counted,
    _rank_buckets,
    _rank_counted,
    _span_cap,
)
from sim.kernel.primitives import (  # noqa: F401
    _GRID_STEPS,
    _SLACK,
    _STEPS,
    EXP_SATURATION,
    FLAT_QUADRATIC,
    LINEAR,
    POWER,
    POWER_LAW,
    _bisect,
    _cost,
    _inverse,
    _least_score_at_index,
    _least_score_cached,
    _level,
    _prefetch,
    _prefetch_range,
    _prefetch_rival,
    _prefetch_write,
    _prefetcher,
    _rank,
    _score,
    least_effort,
)
from sim.kernel.publish import (  # noqa: F401
    next_scores,
    publish,
    publish_known,
)
from sim.kernel.recurrence import (  # noqa: F401
    _AHEAD,
    _GOLDEN,
    _M1,
    _M2,
    _mix,
    record_round,
    recurrence_observe,
    recurrence_replay,
)
from sim.kernel.respond import (  # noqa: F401
    respond,
    respond_active,
)
from sim.kernel.rows import (  # noqa: F401
    _A,
    _B,
    _BASE,
    _BUDGET,
    _DELTA,
    _G,
    _HI,
    _LO,
    _T,
    _TOL,
    _UP,
    ROW_PARAMS,
    _best_row,
    _board,
    _board_entry,
    _candidate,
    _holds,
    _row_params,
)
from sim.kernel.sorted_board import (  # noqa: F401
    _BELOW,
    SORTED_BOARD_MIN_N,
    _best_row_sorted,
    _first_above,
    _not_above,
    _rank_sorted,
    _sort_board,
    _sorted_target,
)
