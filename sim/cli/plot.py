"""``lbsim plot DIR``: a figure of a sweep's results (:func:`sim.plots.sweep_figure`)."""

from __future__ import annotations

from sim.cli.common import _safe_name
from sim.errors import ScenarioError

#: Resolution of the PNG that ``lbsim plot`` writes (the PDF is vector).
SWEEP_PLOT_DPI = 150


def _cmd_plot(args) -> int:
    """``lbsim plot DIR``: one figure of a sweep's results (:func:`sim.plots.sweep_figure`), PNG and PDF."""
    from pathlib import Path

    from sim import sweeps

    out = Path(args.sweep_dir)
    if not out.is_dir():
        raise ScenarioError("DIR", str(out), "is not a directory (give what lbsim sweep --out wrote)")
    manifest = sweeps.read_manifest(out)
    if not manifest:
        raise ScenarioError("DIR", str(out), f"holds no {sweeps.MANIFEST}: not a sweep output directory")
    if args.out is not None and not args.out.strip():
        raise ScenarioError("--out", args.out, "needs a file name stem")
    try:
        table = sweeps.read_results(out)
    except (OSError, ValueError) as err:
        raise ScenarioError("DIR", str(out), f"cannot read the results: {err}") from None
    if table.empty:
        raise ScenarioError("DIR", str(out), "holds no finished chunk yet")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim import plots

    axes = plots.sweep_axes(table, manifest)
    try:
        choice = plots.sweep_choice(table, axes, x=args.x, y=args.y, hue=args.hue, col=args.col, row=args.row)
    except ScenarioError as err:
        field = err.field if err.field in ("axes", "rows") else f"--{err.field}"
        raise ScenarioError(field, err.value, err.message) from None
    stem = Path(args.out) if args.out is not None else out / _safe_name(f"plot-{choice.y}-by-{choice.x}")
    fig = plots.sweep_figure(table, x=choice.x, y=choice.y, hue=choice.hue, col=choice.col, row=choice.row,
                             axes=axes, title=manifest.get("sweep"))
    try:
        written = plots.save_figure(fig, stem, dpi=SWEEP_PLOT_DPI)
    except OSError as err:
        raise ScenarioError("--out", str(stem), f"cannot write: {err.strerror}") from None
    finally:
        plt.close(fig)
    facets = ", ".join(f"{k} = {v}" for k, v in (("hue", choice.hue), ("col", choice.col), ("row", choice.row)) if v)
    numeric = table[choice.x].dtype.kind in "iuf" or str(table[choice.x].dtype) in ("Int64", "Float64")
    scale = plots.sweep_xscale(table[choice.x].astype(float), choice.logx)[0] if numeric else "linear"
    scale = {"log": " (log scale)", "symlog": " (symlog scale)"}.get(scale, "")
    print(f"{choice.y} by {choice.x}{scale}{'; ' + facets if facets else ''}; "
          f"{len(table):,} scenarios")
    print(f"Wrote {', '.join(map(str, written))}")
    return 0


def add_parser(subparsers) -> None:
    """Register ``lbsim plot`` on ``subparsers``; its ``run`` default is the command function."""
    p = subparsers.add_parser(
        "plot", help="a figure of a sweep's results (lbsim sweep --out DIR): a measure against an axis")
    p.add_argument("sweep_dir", metavar="DIR", help="sweep output directory (manifest.json and summary/)")
    p.add_argument("--x", default=None, metavar="AXIS",
                   help="axis on the x axis (default: the first numeric axis that varies; log scale when log-spaced)")
    p.add_argument("--y", default=None, metavar="MEASURE",
                   help="measure: outcome (stacked shares; default), converged_zero_share, ranking_correct_share, "
                   "kendall_tau_tail, mean_total_effort_tail, period, ... (a bad name lists them)")
    p.add_argument("--hue", default=None, metavar="AXIS", help="axis drawn as one colour per value")
    p.add_argument("--col", default=None, metavar="AXIS", help="axis drawn as one panel column per value")
    p.add_argument("--row", default=None, metavar="AXIS", help="axis drawn as one panel row per value")
    p.add_argument("--out", default=None, metavar="STEM",
                   help="output file stem: writes STEM.png and STEM.pdf (default: DIR/plot-<y>-by-<x>)")
    p.set_defaults(run=_cmd_plot)
