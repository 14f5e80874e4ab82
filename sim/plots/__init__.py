"""Figures of repeated leaderboard competition and of sweeps.

Layout follows the Axelrod library's plotting conventions:

* every plot function has the shape ``plot_x(data, ..., ax=None) -> Figure``:
  with ``ax=None`` it makes a new figure and axes, otherwise it draws on
  ``ax`` and returns ``ax.figure``;
* the data each plot shows is prepared by a separate pure function
  (``effort_data``, ``score_data``, ``bump_data``, ``cycle_window``,
  ``default_window``, ``rolling_tau``, ``final_order``, ``developer_labels``;
  ``sweep_choice``, ``sweep_data``, ``tau_star_data`` for sweeps) returning
  plain pandas objects, which the tests check without drawing anything;
* importing the module has no side effects: no ``matplotlib.use``, no global
  ``rcParams``, no seaborn import; the style (:data:`STYLE`, seaborn's
  ``whitegrid`` with the colour-blind-safe ``colorblind`` palette, written
  out) is applied by every public plot function through the :func:`styled`
  decorator (``plt.rc_context``).

Runs: :func:`dynamics_figure` (``lbsim run --plot``) shows effort (symlog when
efforts span decades), published scores (gaps to the leader when crowded) and
a bump chart of ranks over a window of rounds (:func:`default_window`: about
three periods of a cycle, the whole run when it settles or is short), and the
leaderboard over the whole run (total effort, rolling mean of Kendall's tau).
Developers are always coloured in capability order (strongest first gets the
first colour), in every panel, so that a colour means the same developer
everywhere; overlapping lines are drawn widest first, so each colour stays
visible.  Legends list developers strongest first, except the score plot,
whose legend follows the final leaderboard (rank 1 first).

Sweeps: :func:`sweep_figure` (``lbsim plot DIR``) draws any measure of
:func:`sim.sweeps.read_results` against an axis, split by hue, columns and
rows, with intervals over replications and the theory's ``tau*``.

Inputs of the run figures are the tidy frames of
:meth:`sim.engine.BatchRun.trajectory` and ``leaderboard``; they may carry a
``scenario`` column when several scenarios are stacked, and every function
here takes *one* scenario (``ValueError`` otherwise).  Long runs (``10^5``
rounds x 30 developers) are thinned per developer to at most ``max_points``
rounds before drawing (see :func:`subsample_rounds`).

The package, one concept per module (every name is importable from ``sim.plots``):

* :mod:`sim.plots.style`: labels, palette, rc style, shared axis helpers, :func:`save_figure`;
* :mod:`sim.plots.dynamics_data`: the data of the run figures;
* :mod:`sim.plots.dynamics`: the run figures and :func:`dynamics_figure`;
* :mod:`sim.plots.sweep_data`: the data of the sweep figures;
* :mod:`sim.plots.sweep_figures`: :func:`sweep_figure`.
"""

from __future__ import annotations

from sim.plots.dynamics import (  # noqa: F401
    dodge_labels,
    dynamics_figure,
    plot_cycle,
    plot_effort,
    plot_leaderboard,
    plot_rank_bump,
    plot_scores,
)
from sim.plots.dynamics_data import (  # noqa: F401
    CROWDED,
    FLIP_SHARE,
    MARKER_ROUNDS,
    MAX_POINTS,
    MIN_WINDOW,
    RASTER_POINTS,
    SHORT_RUN,
    SMOOTH_ROUNDS,
    SMOOTH_SHARE,
    SYMLOG_RATIO,
    UNSETTLED_WINDOW,
    bump_data,
    cycle_window,
    default_tau_window,
    default_window,
    developer_dashes,
    developer_labels,
    developer_palette,
    effort_data,
    effort_linthresh,
    final_order,
    outcome_title,
    rolling_tau,
    score_data,
    scores_crowded,
    smoothing_rounds,
    subsample_rounds,
)
from sim.plots.style import (  # noqa: F401
    COLORBLIND,
    EFFORT_LABEL,
    FIGSIZE,
    PALETTE,
    RANK_LABEL,
    ROUND_LABEL,
    SCORE_LABEL,
    STYLE,
    TAU_LABEL,
    TOTAL_EFFORT_LABEL,
    colour_palette,
    save_figure,
    styled,
)
from sim.plots.sweep_data import (  # noqa: F401
    LOG_KINDS,
    MAX_X_VALUES,
    OUTCOME_ORDER,
    OUTCOME_WORDS,
    SWEEP_MEASURES,
    TAU_AXIS,
    X_BINS,
    SweepChoice,
    axis_value_label,
    sweep_axes,
    sweep_choice,
    sweep_data,
    sweep_measures,
    tau_star_data,
)
from sim.plots.sweep_figures import (  # noqa: F401
    COL_WRAP,
    sweep_figure,
    sweep_xscale,
)

__all__ = [
    "OUTCOME_ORDER",
    "SWEEP_MEASURES",
    "SweepChoice",
    "axis_value_label",
    "sweep_axes",
    "sweep_choice",
    "sweep_data",
    "sweep_figure",
    "sweep_measures",
    "sweep_xscale",
    "tau_star_data",
    "EFFORT_LABEL",
    "MAX_POINTS",
    "RANK_LABEL",
    "ROUND_LABEL",
    "SCORE_LABEL",
    "STYLE",
    "COLORBLIND",
    "bump_data",
    "cycle_window",
    "default_tau_window",
    "default_window",
    "developer_dashes",
    "developer_labels",
    "colour_palette",
    "developer_palette",
    "dynamics_figure",
    "effort_data",
    "effort_linthresh",
    "final_order",
    "outcome_title",
    "plot_cycle",
    "plot_effort",
    "plot_leaderboard",
    "plot_rank_bump",
    "plot_scores",
    "rolling_tau",
    "save_figure",
    "score_data",
    "scores_crowded",
    "styled",
    "subsample_rounds",
]
