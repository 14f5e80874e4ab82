"""The figures' style: axis labels, the colour-blind palette, the matplotlib rc settings, shared axis helpers, and
saving a figure atomically.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path

import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

#: Axis labels (with units) shared by every figure.
ROUND_LABEL = "round"


EFFORT_LABEL = "additional effort (effort units)"


SCORE_LABEL = "score"


RANK_LABEL = "rank (1 = top)"


TOTAL_EFFORT_LABEL = "total additional effort (effort units)"


TAU_LABEL = "Kendall's τ (ranking vs capability)"


#: Size (inches) of :func:`dynamics_figure`.
FIGSIZE = (12.0, 7.5)


#: Name of the colour-blind-safe seaborn palette used for developers.
PALETTE = "colorblind"


#: seaborn's ``colorblind`` palette (10 colours), here so that drawing a run's figure does not import
#: seaborn (and with it scipy.stats, about a second); a test checks it against seaborn's.
COLORBLIND: tuple[tuple[float, float, float], ...] = tuple(
    to_rgb(c) for c in ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
                        "#ece133", "#56b4e9")
)


def colour_palette(n: int | None = None) -> list[tuple[float, float, float]]:
    """The first ``n`` colours of :data:`COLORBLIND`, cycling past 10 (``seaborn.color_palette("colorblind", n)``)."""
    n = len(COLORBLIND) if n is None else int(n)
    return [COLORBLIND[i % len(COLORBLIND)] for i in range(n)]


#: The one style of every figure: seaborn's ``whitegrid`` axes style and ``notebook`` context at
#: font scale 0.9 (without seaborn's default colormap, which exists only once seaborn is imported),
#: the colour-blind-safe palette, framed legends, 200 dpi.  Written out here (a test checks it against
#: ``seaborn.axes_style`` and ``seaborn.plotting_context``); applied with ``plt.rc_context(STYLE)``
#: inside functions (:func:`styled`), never globally.
STYLE: dict = {
    # seaborn.axes_style("whitegrid")
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out", "ytick.direction": "out",
    "xtick.color": ".15", "ytick.color": ".15", "axes.axisbelow": True, "grid.linestyle": "-", "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True, "xtick.top": False,
    "ytick.right": False, "axes.grid": True, "axes.facecolor": "white", "axes.edgecolor": ".8", "grid.color": ".8",
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True, "axes.spines.top": True,
    "xtick.bottom": False, "ytick.left": False,
    # seaborn.plotting_context("notebook", font_scale=0.9)
    "axes.linewidth": 1.25, "grid.linewidth": 1, "lines.linewidth": 1.5, "lines.markersize": 6,
    "patch.linewidth": 1, "xtick.major.width": 1.25, "ytick.major.width": 1.25, "xtick.minor.width": 1,
    "ytick.minor.width": 1, "xtick.major.size": 6, "ytick.major.size": 6, "xtick.minor.size": 4,
    "ytick.minor.size": 4, "font.size": 10.8, "axes.labelsize": 10.8, "axes.titlesize": 10.8,
    "xtick.labelsize": 9.9, "ytick.labelsize": 9.9, "legend.fontsize": 9.9, "legend.title_fontsize": 10.8,
    # the package's own
    "axes.prop_cycle": cycler(color=list(COLORBLIND)),
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "savefig.dpi": 200,
}


_CYCLE_SHADE = {"color": "0.55", "alpha": 0.18, "linewidth": 0}


_INCORRECT_SHADE = {"facecolor": COLORBLIND[3], "alpha": 0.12, "edgecolor": "none"}


_TOTAL_COLOUR = "0.55"  # grey and black: never a developer's colour


_TAU_COLOUR = "black"


_N_COLOURS = len(COLORBLIND)


_WINDOW_SHADE = {"facecolor": "none", "edgecolor": "0.3", "linewidth": 1.0, "linestyle": ":"}


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")


_DASHES = ("", (5, 2), (1.5, 1.5), (6, 2, 1.5, 2))  # seaborn dash specs: "" is a solid line


def _new_axes(ax, figsize=(7.0, 4.2)):
    if ax is not None:
        return ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def styled(function):
    """Decorator: run ``function`` inside ``plt.rc_context(STYLE)``, so every figure, axes and artist it
    creates gets the package style; the global ``rcParams`` are restored when it returns (no side
    effect at import or after the call)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def _plain_tick(value: float, _pos=None) -> str:
    """Tick label of a symlog axis in plain numbers (``0.01``, ``100``, ``−1e-05``): no mathtext, whose parser
    costs about a third of drawing a figure."""
    if value == 0:
        return "0"
    text = f"{value:g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.0e}"
    return text.replace("-", "\N{MINUS SIGN}")


def _symlog(ax, linthresh: float) -> None:
    ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
    ax.yaxis.set_major_formatter(FuncFormatter(_plain_tick))
    ax.yaxis.set_minor_formatter(NullFormatter())


def save_figure(fig: Figure, path_stem, dpi: float = 200, tight: bool = True) -> list[Path]:
    """Write ``path_stem.png`` (``dpi`` dots per inch, default 200) and ``path_stem.pdf``; returns the two paths.

    ``tight=True`` crops both files to what is drawn (``bbox_inches="tight"``,
    one extra layout pass per file).  ``tight=False`` keeps the figure's own
    size, which is enough for a constrained-layout figure whose legends are
    placed ``"outside"``; then the layout computed for the PNG is reused for
    the PDF (the figure's layout engine is switched off after the first
    file), so the figure is laid out once.

    Each file is written to a temporary file in the same directory (named
    ``.<stem>.tmp<pid><token>.<ext>``, so the format is clear from the extension)
    and moved into place with ``os.replace``, so a reader never sees a
    half-written figure; parent directories are created.  ``path_stem`` is
    used as given (``"run.v2"`` gives ``run.v2.png``).
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, options in (("png", {"dpi": dpi}), ("pdf", {"metadata": {"CreationDate": None}})):
        target = stem.with_name(f"{stem.name}.{ext}")
        # A fresh name (pid + random token) created by savefig itself, so the file gets the usual
        # permissions (umask) rather than mkstemp's 0600.
        tmp = target.with_name(f".{stem.name}.tmp{os.getpid()}{secrets.token_hex(4)}.{ext}")
        try:
            fig.savefig(tmp, format=ext, **({"bbox_inches": "tight"} if tight else {}), **options)
            os.replace(tmp, target)
            if not tight:  # laid out once: no layout engine (not even "none"'s placeholder, which still pre-draws)
                with plt.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
                    fig.set_layout_engine(None)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(target)
    return written
