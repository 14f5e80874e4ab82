"""``lbsim design``: which tune-before-test level should the designer use, how sure, and at what cost.

Registered in :mod:`sim.cli` by :func:`add_parser`; :func:`cmd_design` is
the command.  Every option is checked before anything runs; a bad one is a
one-line error naming the option and the value (exit 2), and nothing is
written.  Outputs go to ``--out`` (default ``results/design-<name>``):
``design.json`` (the report), ``levels.csv`` (every evaluated level) and the
figures (``frontier``; from data also ``calibration`` and ``bootstrap``), PNG
and PDF, each written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from sim.argtypes import positive_int
from sim.errors import ScenarioError

#: The files a design writes (a directory holding ``design.json`` is an earlier design: its files are replaced).
REPORT = "design.json"
LEVELS = "levels.csv"
DATA_OPTIONS = ("benchmark", "bootstrap", "top_k", "cost_scale", "resolution", "lower", "upper", "models")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``lbsim design`` to ``subparsers``; returns its parser."""
    p = subparsers.add_parser(
        "design", help="the designer's tool: least stabilising tau by simulation beside tau*, its cost, from data")
    p.add_argument("scenario", nargs="?", default=None, help="scenario TOML file (or --from-data)")
    p.add_argument("--from-data", default=None, metavar="FILE",
                   help="calibrate from a CSV of model, effort, score[, stderr][, capability] rows, or "
                   "'lm-harmony' (the bundled real leaderboard) with --benchmark")
    p.add_argument("--benchmark", default=None, help="lm-harmony task benchmark (with --from-data lm-harmony)")
    p.add_argument("--criterion", choices=("zero", "ranking"), default="zero",
                   help="zero: play converges to the all-zero profile (default); ranking: ranked by capability in "
                   "at least --target of the tail rounds")
    p.add_argument("--target", type=float, default=None, help="with --criterion ranking: share (default 0.95)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="share of the draws in which the criterion must hold (in (0, 1]; default 0.95)")
    p.add_argument("--replications", type=positive_int, default=1,
                   help="draws of the scenario's random parts (seeds split from --seed; default 1)")
    p.add_argument("--seed", type=int, default=0, help="master seed of the draws and the bootstrap (default 0)")
    p.add_argument("--rounds", type=positive_int, default=None, help="rounds per run (default: the scenario's)")
    p.add_argument("--max-rounds", type=positive_int, default=None,
                   help="deterministic runs that have not recurred within --rounds play on up to this many "
                   "(default: --rounds, no playing on)")
    p.add_argument("--tau-min", type=float, default=None, help="lowest positive level of the scan (default 1e-3)")
    p.add_argument("--tau-max", type=float, default=None,
                   help="highest level of the scan (default 1e6, or 10 tau* when larger)")
    p.add_argument("--per-decade", type=positive_int, default=4, help="scan levels per decade (default 4)")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance of the bisection (default 1e-3)")
    p.add_argument("--verify", type=int, default=16,
                   help="levels probed above the bisected level (up to the second scan level above) for a failure "
                   "the scan stepped over, bisecting again where one fails (default 16; 0: off)")
    p.add_argument("--tbt-cost", type=float, default=None,
                   help="cost per unit of tau per model evaluated: report J = Q - c n tau and its optimum")
    p.add_argument("--quality", choices=("ranking_share", "kendall_tau"), default="ranking_share",
                   help="ranking quality Q of the objective: share of tail rounds ranked by capability (default) "
                   "or mean tail Kendall tau")
    p.add_argument("--bootstrap", type=positive_int, default=None, help="with --from-data: bootstrap draws (200)")
    p.add_argument("--top-k", type=positive_int, default=None, help="with --from-data: top-k reward (3)")
    p.add_argument("--cost-scale", type=float, default=None, help="with --from-data: linear cost per effort unit "
                   "(0.25)")
    p.add_argument("--resolution", type=float, default=None, help="with --from-data: published resolution (0.001)")
    p.add_argument("--lower", type=float, default=None,
                   help="with --from-data: lower level L (default: chance for lm-harmony, 0 for a CSV)")
    p.add_argument("--upper", type=float, default=None, help="with --from-data: upper level U (default 1)")
    p.add_argument("--models", type=positive_int, default=None, help="with --from-data lm-harmony: models (10)")
    p.add_argument("--strategies", nargs="+", default=None, metavar="NAME[:K=V,...]",
                   help="each draw gives every developer a strategy drawn from these (e.g. best hedge:eta=0.1)")
    p.add_argument("--n-jobs", type=positive_int, default=1, help="parallel workers (default 1; same results)")
    p.add_argument("--out", default=None, help="output directory (default results/design-<name>)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-figures", action="store_true", help="write design.json and levels.csv only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-custom", action="store_true",
                   help="import and run custom functions the scenario names (also: LBSIM_ALLOW_CUSTOM=1)")
    p.set_defaults(run=cmd_design)
    return p


def _settings(args):
    from sim.design.search import DesignSettings

    for name in ("target", "confidence", "tau_min", "tau_max", "rtol", "tbt_cost"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise ScenarioError(f"--{name.replace('_', '-')}", value, "must be a finite number")
    if args.seed < 0:
        raise ScenarioError("--seed", args.seed, "must be an integer >= 0")
    from sim.sweeps import cap_n_jobs

    n_jobs, _ = cap_n_jobs(args.n_jobs)
    return DesignSettings(
        criterion=args.criterion, target=args.target, confidence=args.confidence, replications=args.replications,
        seed=args.seed, rounds=args.rounds, max_rounds=args.max_rounds, tau_min=args.tau_min, tau_max=args.tau_max,
        per_decade=args.per_decade, rtol=args.rtol, tbt_cost=args.tbt_cost, n_jobs=n_jobs, quality=args.quality,
        verify=args.verify, strategies=None if args.strategies is None else tuple(args.strategies),
    )


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ScenarioError("--out", str(out), "exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT).is_file():
        raise ScenarioError("--out", str(out), f"is not empty and holds no earlier design ({REPORT})")
    parent = out.parent if not out.exists() else out
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise ScenarioError("--out", str(out), f"cannot write under {parent}")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:80] or "design"


def cmd_design(args) -> int:
    """``lbsim design``: run the search, print the report, write the outputs; returns the exit code."""
    from sim.design.search import progress_wanted

    if (args.scenario is None) == (args.from_data is None):
        raise ScenarioError("SCENARIO", args.scenario, "give a scenario file or --from-data, exactly one")
    settings = _settings(args)
    progress = progress_wanted(args.quiet or args.json)
    if args.from_data is not None:
        from sim.design.data import DataGame, design_from_data, observations

        if args.allow_custom:
            raise ScenarioError("--allow-custom", True, "applies to a scenario file, not to --from-data")
        defaults = DataGame()
        game = DataGame(**{k: getattr(args, k) if getattr(args, k) is not None else getattr(defaults, k)
                           for k in ("top_k", "cost_scale", "resolution", "lower", "upper", "models")},
                        rounds=args.rounds or defaults.rounds)
        if args.max_rounds is not None and args.max_rounds < game.rounds:
            raise ScenarioError("--max-rounds", args.max_rounds, f"must be >= the rounds ({game.rounds})")
        obs = observations(args.from_data, args.benchmark, game)
        name = "design-" + _safe(obs.source.replace(":", "-"))
        out = Path(args.out) if args.out else Path("results") / name
        _check_out(out)
        report = design_from_data(obs, game, settings, bootstrap=args.bootstrap or 200, progress=progress)
    else:
        for name in DATA_OPTIONS:
            if getattr(args, name) is not None:
                raise ScenarioError(f"--{name.replace('_', '-')}", getattr(args, name), "applies only with "
                                    "--from-data")
        from sim.scenario import load_scenario

        scenario = load_scenario(args.scenario, allow_custom=args.allow_custom)
        rounds = args.rounds or scenario.dynamics.rounds
        if args.max_rounds is not None and args.max_rounds < rounds:
            raise ScenarioError("--max-rounds", args.max_rounds, f"must be >= the rounds ({rounds})")
        out = Path(args.out) if args.out else Path("results") / f"design-{_safe(scenario.name)}"
        _check_out(out)
        from sim.design.report import design_scenario

        report = design_scenario(scenario, settings, allow_custom=args.allow_custom, progress=progress)
    written = write_outputs(report, out, figures=not args.no_figures)
    report["written"] = [str(p) for p in written]
    if args.json:
        from sim.cli import json_ready

        print(json.dumps(json_ready(report), indent=2))
    else:
        print_report(report, sys.stdout)
    return 0


def write_outputs(report: dict, out: Path, figures: bool = True) -> list:
    """``design.json``, ``levels.csv`` and the figures under ``out`` (each file written atomically)."""
    import pandas as pd

    from sim.cli import json_ready
    from sim.design.plots import write_figures

    out.mkdir(parents=True, exist_ok=True)
    written = write_figures(report, out) if figures else []
    for path, text in ((out / LEVELS, pd.DataFrame(report["levels"]).to_csv(index=False)),
                       (out / REPORT, json.dumps(json_ready(report), indent=2) + "\n")):
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
        written.append(path)
    return written


def _tau(value) -> str:
    if value is None:
        return "none"
    return "never" if not math.isfinite(value) else f"{value:.6g}"


def print_report(report: dict, out) -> None:
    """The report as text."""
    w = out.write
    w(f"design: {report.get('source') or report['scenario']} ({report['n']} developers)\n")
    crit = report["criterion"] + (f" (ranked by capability in >= {report['target']:g} of the tail rounds)"
                                  if report["criterion"] == "ranking" else " (converged to the all-zero profile)")
    w(f"  criterion             {crit}, in >= {report['confidence']:g} of the draws\n")
    theory = _tau(report["tau_theory"]) if report.get("theory_stabilises") is not False else "never"
    w(f"  tau* (theory)         {theory}\n")
    interval = report.get("simulated_interval") if "bootstrap" in report else report.get("interval")
    w(f"  tau simulated         {_tau(report['tau_simulated'])}   bracket {interval} (rtol {report['rtol']:g})\n")
    agree = report.get("agrees_with_theory")
    w(f"  agrees with theory    {'yes' if agree else 'no' if agree is False else 'unknown'}\n")
    for reason in report.get("reasons") or []:
        w(f"    because: {reason}\n")
    for a, b in report.get("non_monotone") or []:
        w(f"  NOT MONOTONE: holds at tau = {a:.6g}, fails again at tau = {b:.6g}\n")
    if report.get("objective_optimum"):
        o = report["objective_optimum"]
        w(f"  objective J = Q - c n tau (c = {report['tbt_cost']:g}): best at tau = {o['tau']:.6g}, J = "
          f"{o['J']:.4g}\n")
    if "bootstrap" in report:
        w(f"  bootstrap             {report['bootstrap_usable']} usable of {report['bootstrap']} draws\n")
        q = report["tau_theory_quantiles"]
        w(f"  tau* over draws       median {_tau(q[1])}, 90% [{_tau(q[0])}, {_tau(q[2])}]\n")
        lo, hi = report["interval"]
        w(f"  RECOMMENDED tau       {_tau(report['recommended_tau'])}   90% interval [{_tau(lo)}, {_tau(hi)}]\n")
        h = report.get("hardest_pair")
        if h:
            w(f"  hardest pair          {h['why']}\n")
    else:
        w(f"  recommended tau       {_tau(report['recommended_tau'])} ({report['recommended_by']})\n")
    for note in report.get("notes") or []:
        w(f"  note: {note}\n")
    if report.get("warning"):
        w(f"  WARNING: {report['warning']}\n")
    for path in report.get("written", []):
        if str(path).endswith(".png"):
            w(f"  wrote {path}\n")
