"""The explorer's dynamics figure: effort, published scores and ranks over a window of rounds.

Drawn by :mod:`sim.plots` (the same panels as ``lbsim run --plot``) on a
``matplotlib.figure.Figure`` made without pyplot, so nothing is kept in a
global figure registry between the page's frames.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from sim.explore.data import MAX_POINTS


def window_figure(frame, ax=None, panels: tuple[int, ...] = (0, 1, 2)) -> Figure:
    """Stacked panels of the window ``frame`` (:func:`sim.explore.data.window_trajectory`).

    Effort per developer (symlog when efforts span decades), published scores
    and the bump chart of ranks (:func:`sim.plots.plot_effort`,
    :func:`~sim.plots.plot_scores`, :func:`~sim.plots.plot_rank_bump`), each
    thinned to :data:`~sim.explore.data.MAX_POINTS` rounds per developer.
    ``panels`` picks them (0 effort, 1 scores, 2 ranks); ``ax``: one axes per
    panel to draw on (default: a new figure, 4.4 inches tall per panel, the page's grid cell).
    """
    from sim import plots

    if not panels or any(p not in (0, 1, 2) for p in panels):
        raise ValueError(f"panels must be a non-empty choice of 0 (effort), 1 (scores), 2 (ranks), got {panels!r}")
    if ax is None:
        fig = Figure(figsize=(6.4, 4.4 * len(panels)), layout="constrained")
        ax = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    if len(ax) != len(panels):
        raise ValueError(f"window_figure draws {len(panels)} panel(s), got {len(ax)} axes")
    draw = {
        0: lambda a: plots.plot_effort(frame, ax=a, max_points=MAX_POINTS),
        1: lambda a: plots.plot_scores(frame, ax=a, max_points=MAX_POINTS, legend=False),
        2: lambda a: plots.plot_rank_bump(frame, ax=a, max_points=MAX_POINTS),
    }
    for panel, a in zip(panels, ax, strict=True):
        draw[panel](a)
    for a in ax[:-1]:
        a.set_xlabel("")
    return ax[0].figure


def figure_png(fig: Figure, dpi: float = 72) -> bytes:
    """``fig`` as PNG bytes at ``dpi``: the same pixels as ``fig.savefig(..., format="png", dpi=dpi)``.

    One draw instead of savefig's two (a layout engine makes savefig draw once
    to lay the figure out and once more to render it): the constrained layout
    runs inside the single :meth:`FigureCanvasAgg.draw`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imsave

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    out = io.BytesIO()
    imsave(out, canvas.buffer_rgba(), format="png", origin="upper", dpi=dpi)
    return out.getvalue()
