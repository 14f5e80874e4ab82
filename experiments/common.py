"""What every experiment shares: its declared metadata, its command line, atomic output, one figure style.

An experiment is a module ``experiments/<name>.py`` that declares

* ``INFO``: an :class:`ExperimentInfo` (name, title, the one sentence the
  results README shows, the figure's file stem, the data files it writes);
* ``run(out: Path, *, quick: bool = False, n_jobs: int = 1) -> dict``: writes
  its data and figure into ``out`` and returns its headline numbers (plain
  JSON values), which :func:`run_experiment` stores in ``out/summary.json``;
* ``main = command(INFO, run)`` so that ``python -m experiments.<name>``
  works on its own.

``quick=True`` is the reduced size the test suite runs (seconds, not
minutes); the committed ``results/`` come from the full size, and a quick run
writes under ``results-quick/`` unless told otherwise.  Data
preparation lives in pure functions inside the module, tested without drawing
anything; plot functions have the shape ``(data, ax=None) -> Figure`` like
:mod:`sim.plots`, and draw inside :func:`style` (the project's one figure
style: seaborn ``whitegrid``, the colour-blind-safe palette).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.argtypes import positive_int
from sim.errors import ScenarioError

#: The repository's root (experiments/ sits directly under it).
ROOT = Path(__file__).resolve().parents[1]
#: Where experiments write by default: ``results/<name>/``, relative to the working directory (the committed
#: results when run from the repository's root; never the directory the package happens to be installed in).
RESULTS = Path("results")
#: Where the reduced (``--quick``) size writes by default: ``results-quick/<name>/`` (git-ignored), so that a quick
#: run never overwrites the committed full-size results.
QUICK_RESULTS = Path("results-quick")
#: Bundled scenario files.
SCENARIOS = ROOT / "scenarios"

EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class ExperimentInfo:
    """Declared metadata of one experiment (checked by the tests, used to write ``results/README.md``).

    Attributes
    ----------
    name:
        Module name and output directory (``results/<name>/``).
    title:
        Heading in the results README.
    description:
        One sentence on what the figure shows.
    figure:
        File stem of the main figure inside the output directory (``.png`` and ``.pdf`` are written).
    data:
        File names of the data the experiment writes (CSV or Parquet), inside the output directory.
    """

    name: str
    title: str
    description: str
    figure: str
    data: tuple[str, ...]

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"ExperimentInfo.name must be a module name, got {self.name!r}")
        if not self.description.strip().endswith("."):
            raise ValueError(f"ExperimentInfo.description must be one sentence ending in '.', got {self.description!r}")
        if not self.data:
            raise ValueError("ExperimentInfo.data must list at least one data file")

    @property
    def command(self) -> str:
        return f"python -m experiments.{self.name}"

    def outputs(self) -> tuple[str, ...]:
        """Every file :func:`run_experiment` must find afterwards (relative to the output directory)."""
        return (f"{self.figure}.png", f"{self.figure}.pdf", *self.data, "summary.json")


# --------------------------------------------------------------------------- output


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{secrets.token_hex(4)}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_table(frame: pd.DataFrame, path) -> Path:
    """Write ``frame`` to ``path`` (``.csv`` or ``.parquet``) atomically: a reader never sees half a file."""
    path = Path(path)
    if path.suffix == ".csv":
        return _atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
    if path.suffix == ".parquet":
        return _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
    raise ValueError(f"data files are .csv or .parquet, got {path.name!r}")


def write_text(text: str, path) -> Path:
    """Write ``text`` to ``path`` (UTF-8) atomically."""
    return _atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _plain(value):
    """JSON-safe copy: numpy scalars to Python, non-finite floats to strings ("inf", "nan")."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(data: dict, path) -> Path:
    """Write ``data`` as indented JSON atomically (numpy values converted, ``inf`` as the string ``"inf"``)."""
    return write_text(json.dumps(_plain(data), indent=2, sort_keys=False) + "\n", path)


#: PNG resolution of the reduced (``--quick``) size's figures (the full size: :func:`sim.plots.save_figure`'s 200).
QUICK_DPI = 100


def save_figure(fig, out: Path, stem: str, *, quick: bool = False) -> list[Path]:
    """PNG and PDF of ``fig`` under ``out/stem`` (atomic); closes it.

    The full size (:func:`sim.plots.save_figure`) crops both files to what is drawn (``tight``) and writes a
    vector PDF.  ``quick`` (the size the test suite runs) draws the figure once, at its own (constrained-layout)
    size: a :data:`QUICK_DPI` PNG, and the PDF is that same picture on a page of the figure's size (a raster
    PDF, no second drawing by the PDF backend): the same data and the same artists at about a third of the full
    size's drawing time.
    """
    import matplotlib.pyplot as plt

    from sim.plots import save_figure as _save

    try:
        if quick:
            return _save_quick(fig, Path(out) / stem)
        return _save(fig, Path(out) / stem)
    finally:
        plt.close(fig)


def _save_quick(fig, stem: Path) -> list[Path]:
    """``stem.png`` drawn once by Agg at :data:`QUICK_DPI`, and ``stem.pdf`` holding that image (same inches)."""
    from PIL import Image

    png = _atomic(stem.with_name(f"{stem.name}.png"), lambda tmp: fig.savefig(tmp, format="png", dpi=QUICK_DPI))
    with Image.open(png) as image:
        picture = image.convert("RGB")
    pdf = _atomic(stem.with_name(f"{stem.name}.pdf"),
                  lambda tmp: picture.save(tmp, format="PDF", resolution=QUICK_DPI))
    return [png, pdf]


@contextmanager
def style():
    """The project's figure style (:data:`sim.plots.STYLE`) for the duration of a ``with`` block."""
    import matplotlib.pyplot as plt

    from sim.plots import STYLE

    with plt.rc_context(STYLE):
        yield


def new_axes(ax=None, figsize=(6.4, 4.0)):
    """``(fig, ax)``: ``ax``'s figure when given, else a new figure in the project's style."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    with style():
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def git_commit() -> str | None:
    """The repository's HEAD commit, or ``None`` outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


# --------------------------------------------------------------------------- running


def default_root(quick: bool) -> Path:
    """The default root of the outputs: ``./results``, or ``./results-quick`` for the reduced size."""
    return QUICK_RESULTS if quick else RESULTS


def output_dir(info: ExperimentInfo, out=None, root=None) -> Path:
    """``out`` if given, else ``<root or results>/<name>``; created, and checked to be a writable directory.

    Relative paths are relative to the working directory.
    """
    path = Path(out) if out is not None else Path(root if root is not None else RESULTS) / info.name
    if path.exists() and not path.is_dir():
        raise ScenarioError("--out", str(path), "exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ScenarioError("--out", str(path), f"cannot create the directory: {err.strerror}") from None
    if not os.access(path, os.W_OK):
        raise ScenarioError("--out", str(path), "is not writable")
    return path


def one_blas_thread():
    """Context manager: the BLAS/LAPACK libraries numpy and scipy loaded use one thread inside the block.

    The quick size's linear algebra is on small matrices (61 models x 24 benchmarks at most), where OpenBLAS's
    extra threads only wait: with two threads on a machine whose cores are busy (the test suite runs two workers
    on two cores) they spin, and the quick ``real_leaderboard`` took three times the CPU.  ``threadpoolctl``
    finds the loaded BLAS libraries and sets their thread count at run time (an environment variable would have
    to be set before numpy is imported, which the test process has long done).  The full size keeps the
    library's default, so that its committed results are made exactly as before.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


#: Matplotlib settings of the quick size's figures.  ``axes.titley = 1``: every title at the top of its axes,
#: matplotlib's own place for it, stated rather than searched for.  Left unset (the full size), each layout pass
#: and the drawing re-place every title above its axes' tick labels and y offset text, which recomputes the
#: y axis's tick labels once more per title (a fifth of the quick figures' drawing time).  The figures have no
#: tick labels above their axes, so only an axis showing an offset text (``1e-5`` over the axis) is drawn
#: differently: its title may touch that text.
QUICK_RC = {"axes.titley": 1.0}


@contextmanager
def quick_size():
    """What the quick size changes around an experiment's ``run``: :func:`one_blas_thread` and :data:`QUICK_RC`."""
    import matplotlib.pyplot as plt

    with one_blas_thread(), plt.rc_context(QUICK_RC):
        yield


def run_experiment(module, out=None, *, root=None, quick: bool = False, n_jobs: int = 1) -> dict:
    """Run one experiment module into its output directory; returns its ``summary.json`` content.

    The summary records the headline numbers ``module.run`` returned, whether
    it was the quick (reduced) size, the wall time, the package version and
    the git commit.  Every file ``INFO.outputs()`` names must exist afterwards
    (``RuntimeError`` otherwise: an experiment that forgot a file is a bug).
    """
    import matplotlib

    from sim import __version__

    info: ExperimentInfo = module.INFO
    path = output_dir(info, out, root if root is not None else default_root(quick))
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")  # experiments only write files
    start = time.perf_counter()
    with np.errstate(all="ignore"), warnings.catch_warnings(), (quick_size() if quick else nullcontext()):
        warnings.simplefilter("ignore", RuntimeWarning)
        headline = module.run(path, quick=quick, n_jobs=n_jobs)
    summary = {
        "experiment": info.name,
        "title": info.title,
        "command": info.command + (" --quick" if quick else ""),
        "quick": quick,
        "seconds": round(time.perf_counter() - start, 2),
        "version": __version__,
        "commit": git_commit(),
        "results": headline,
    }
    summary = _plain(summary)  # what summary.json holds, also in memory
    write_json(summary, path / "summary.json")
    missing = [name for name in info.outputs() if not (path / name).is_file()]
    if missing:
        raise RuntimeError(f"experiment {info.name} did not write {', '.join(missing)} in {path}")
    return summary


def guarded(prog: str, action: Callable[[], int], interrupted: str = "interrupted") -> int:
    """``action()``'s exit code; bad input (:class:`ScenarioError`) is one line on stderr and exit 2,
    Ctrl-C is ``prog: interrupted`` and exit 130."""
    try:
        return action()
    except ScenarioError as err:
        print(f"{prog}: error: {err}".replace("\n", " "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="reduced size (seconds): what the test suite runs")
    parser.add_argument("--n-jobs", type=positive_int, default=1, help="parallel workers for sweeps (default 1)")


def command(info: ExperimentInfo, run: Callable) -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv)`` of ``python -m experiments.<name>``: one-line errors, exit 2 on bad input."""

    def main(argv: Sequence[str] | None = None) -> int:
        parser = argparse.ArgumentParser(prog=info.command, description=f"{info.title}: {info.description}")
        add_common_arguments(parser)
        parser.add_argument("--out", default=None, help=f"output directory (default: ./results/{info.name}, "
                            f"or ./results-quick/{info.name} with --quick)")
        args = parser.parse_args(argv)
        module = sys.modules[run.__module__]

        def action() -> int:
            summary = run_experiment(module, args.out, quick=args.quick, n_jobs=args.n_jobs)
            print(f"{info.name}: {summary['seconds']:.1f} s -> {output_dir(info, args.out, default_root(args.quick))}")
            return 0

        return guarded(info.command, action)

    return main
