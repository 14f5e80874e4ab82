"""Run every experiment and write ``results/README.md``: ``python -m experiments.all`` (or ``lbsim reproduce``).

Each experiment writes into ``<out>/<name>/`` (default ``./results``, or
``./results-quick`` with ``--quick`` so that the committed full-size results are
never overwritten by reduced ones); the README lists each figure
with the one command that made it, the sentence its module declares, and its
headline numbers (from its ``summary.json``).  ``--only`` reruns some of them
and still lists every experiment whose outputs are present.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from experiments.common import (
    ExperimentInfo,
    add_common_arguments,
    default_root,
    guarded,
    output_dir,
    run_experiment,
    write_text,
)
from sim.errors import ScenarioError

#: Every experiment, in the order the README shows them.
EXPERIMENTS: tuple[str, ...] = (
    "min_just_overtake",
    "tau_star_vs_kappa",
    "phase_diagram",
    "reward_schemes",
    "dynamics_gallery",
    "real_leaderboard",
    "calibration",
    "designer",
    "strategies",
)


def load(name: str):
    """The experiment module ``experiments.<name>`` (``ScenarioError`` naming ``--only`` when unknown)."""
    if name not in EXPERIMENTS:
        raise ScenarioError("--only", name, f"unknown experiment; choose from {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"experiments.{name}")


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_format(v) for v in value[:8])
        return f"[{shown}{', ...' if len(value) > 8 else ''}]"
    return str(value)


def readme_text(root: Path, infos: Sequence[ExperimentInfo]) -> str:
    """``results/README.md``: one section per experiment whose ``summary.json`` exists under ``root``."""
    import json

    lines = [
        "# results",
        "",
        "Figures and tables of the project, each made by one script in `../experiments/`.",
        "Regenerate all of them with `python -m experiments.all` (or `lbsim reproduce`); this file is written by it.",
        "Each directory holds the figure (PNG and vector PDF), its data (CSV or Parquet) and `summary.json`",
        "(headline numbers, the command, the commit and the wall time).",
        "",
    ]
    for info in infos:
        summary_path = root / info.name / "summary.json"
        if not summary_path.is_file():
            continue
        summary = json.loads(summary_path.read_text())
        lines += [
            f"## {info.title}",
            "",
            f"![{info.title}]({info.name}/{info.figure}.png)",
            "",
            info.description,
            "",
            f"Command: `{summary.get('command', info.command)}` "
            f"({summary.get('seconds', '?')} s; commit `{(summary.get('commit') or 'unknown')[:10]}`).",
            f"Figure: [{info.figure}.pdf]({info.name}/{info.figure}.pdf). "
            f"Data: {', '.join(f'[{d}]({info.name}/{d})' for d in info.data)}.",
            "",
        ]
        results = summary.get("results") or {}
        if results:
            lines += ["| headline | value |", "|---|---|"]
            lines += [f"| {key} | {_format(value)} |" for key, value in results.items()]
            lines.append("")
    return "\n".join(lines)


def write_readme(root: Path) -> Path:
    infos = [load(name).INFO for name in EXPERIMENTS]
    return write_text(readme_text(Path(root), infos), Path(root) / "README.md")


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.all") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Regenerate every figure and table in results/.")
    add_common_arguments(parser)
    parser.add_argument("--out", default=None, help="root directory: each experiment writes <out>/<name> "
                        "(default: ./results, or ./results-quick with --quick)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help=f"run only these experiments ({', '.join(EXPERIMENTS)})")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out is not None else default_root(args.quick)

    def action() -> int:
        names = list(args.only) if args.only else list(EXPERIMENTS)
        modules = [load(name) for name in names]
        output_dir(modules[0].INFO, root / modules[0].INFO.name)  # checks root is writable before anything runs
        start = time.perf_counter()
        for module in modules:
            summary = run_experiment(module, root / module.INFO.name, quick=args.quick, n_jobs=args.n_jobs)
            print(f"{module.INFO.name}: {summary['seconds']:.1f} s", flush=True)
        readme = write_readme(root)
        print(f"all {len(modules)} experiment(s) in {time.perf_counter() - start:.1f} s; {readme}")
        return 0

    return guarded(prog, action, interrupted="interrupted; finished experiments keep their outputs")

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
