"""``lbsim run SCENARIO``: repeated play, its outcome and per-developer summary, and optionally the trajectory as
CSV and the dynamics figures in ``--out``.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from sim.cli.common import _add_allow_custom, _floats, _fmt, _safe_name, _table, json_ready
from sim.errors import ScenarioError


def run_report(scenario, outcome, trajectory, leaderboard, engine: str, tau: float, final=None) -> dict:
    """Everything ``lbsim run --json`` prints: the outcome and a per-developer summary, as plain values.

    The last round's ranks, scores and Kendall tau come from the ``trajectory`` and ``leaderboard`` frames,
    or from ``final`` (:func:`final_round`) when the frames were not built (they need pandas).
    """
    out = outcome.to_dict()
    if final is None:
        last_round = int(trajectory["round"].max())
        last = trajectory[trajectory["round"] == last_round].sort_values("developer")
        final = (last["rank"], last["score"], leaderboard["kendall_tau"].iloc[-1])
    ranks, scores, kendall = final
    report = {
        "scenario": scenario.name,
        "engine": engine,
        "seed": scenario.seed,
        "tau": float(tau),
        "schedule": scenario.dynamics.schedule,
        **out,
        "final_rank": [int(r) for r in ranks],
        "final_score": _floats(scores),
        "kendall_tau_final": float(kendall),
    }
    from sim.strategies.report import strategy_report

    report["strategy"] = strategy_report(scenario)  # each developer's strategy (sim.strategies)
    return report


def final_round(result, k: int = 0) -> tuple:
    """``(ranks, scores, Kendall tau)`` of the last stored round of scenario ``k`` of a batch run, by developer.

    The same values as the last round of ``result.trajectory(k)`` and ``result.leaderboard(k)``
    (:func:`sim.analysis.kendall_tau` over the stored ranks), read from the arrays without pandas.
    """
    from sim import analysis

    run, j = result.part(k)
    rank = run.rank[j]
    return rank[-1].astype(np.int64), run.score[j][-1], analysis.kendall_tau(rank, result.game.theta[k])[-1]


def round_off_warning(game) -> str | None:
    """One line when float round-off decides the game at its ``tau``, else ``None`` (``round_off_warning`` in JSON).

    That is when some developer's baseline is within round-off of its limit
    (:func:`sim.theory.float_saturated`) or some adjacent pair's Proposition
    4.5 test is decided by round-off (:func:`sim.theory.round_off_decides`):
    doubles then cannot resolve the just-overtake efforts the dynamics turn on.
    """
    from sim import theory

    saturated = np.flatnonzero(theory.float_saturated(game)).tolist()
    pairs = np.flatnonzero(theory.round_off_decides(game)).tolist()
    if not (saturated or pairs):
        return None
    order = game.capability_order
    what = [f"developers {saturated} score within round-off of their limits"] if saturated else []
    what += [f"round-off decides whether {', '.join(f'{order[k + 1]} -> {order[k]}' for k in pairs)} can "
             "afford to overtake"] if pairs else []
    return (f"at tau = {_fmt(game.tau)} doubles cannot resolve the game ({'; '.join(what)}): these dynamics "
            "reflect float round-off, not the model (docs/model.md#what-is-exact)")


def _print_run(report: dict, scenario, out) -> None:
    period = report["period"]
    head = f"Scenario {report['scenario']}: {report['rounds']} rounds, {report['schedule']} schedule, tau = "
    print(head + f"{_fmt(report['tau'])} ({report['engine']} engine)", file=out)
    detail = {
        "converged_zero": "converged to the all-zero profile (nobody games the benchmark)",
        "converged_nonzero": "converged to a profile with positive effort (an assumption must fail)",
        "cycle": f"cycle of period {period} (an arms race)",
        "no_convergence": (
            f"no fixed point or cycle within the cap of {report.get('max_rounds')} rounds; raise --max-rounds "
            "(or [dynamics] max_rounds) to play longer"
            if report.get("cap_reached") else "no fixed point or cycle within the horizon"
        ),
    }[report["outcome"]]
    entered = "" if report["entered_at"] is None else f", entered at round {report['entered_at']}"
    print(f"Outcome: {report['outcome']}: {detail}{entered}", file=out)
    start, stop = report["window"]
    rows = [
        [str(i), _fmt(theta, ".4g"), _fmt(x), _fmt(mean), str(rank)]
        for i, (theta, x, mean, rank) in enumerate(
            zip(scenario.theta, report["final_effort"], report["mean_effort_tail"], report["final_rank"], strict=True)
        )
    ]
    print(_table(["developer", "capability", "final effort", f"mean effort [{start}, {stop})", "final rank"], rows),
          file=out)
    share = report["ranking_correct_share"]
    print(f"Ranking matches capability in {_fmt(100 * share, '.3g')}% of rounds in [{start}, {stop}); "
          f"mean total effort there {_fmt(report['total_effort_mean'])}.", file=out)
    if report.get("note") and not report.get("cap_reached"):
        print(f"Note: {report['note']}", file=out)
    if report.get("round_off_warning"):
        print(f"Warning: {report['round_off_warning']}", file=out)


def _write_outputs(out_dir, trajectory, leaderboard, report, outcome, plot: bool, window=None) -> list:
    """Write the run's files into ``out_dir`` as one set.

    Everything is first written to a staging directory inside ``out_dir``
    and then moved into place, so an interrupted or failed write leaves the
    previous set (or none) rather than a mix.
    """
    import os
    import shutil
    import tempfile
    from pathlib import Path

    names = ["trajectory.csv", "leaderboard.csv", "outcome.json"] + (["dynamics.png", "dynamics.pdf"] if plot else [])
    try:
        stage = Path(tempfile.mkdtemp(prefix=".lbsim-", dir=out_dir))
    except OSError as err:
        raise ScenarioError("--out", str(out_dir), f"cannot write: {err.strerror}") from None
    try:
        trajectory.to_csv(stage / "trajectory.csv", index=False)
        leaderboard.to_csv(stage / "leaderboard.csv", index=False)
        (stage / "outcome.json").write_text(
            json.dumps(json_ready({**report, "written": [str(out_dir / n) for n in names]}), indent=2,
                       allow_nan=False) + "\n"
        )
        if plot:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from sim.plots import dynamics_figure, save_figure

            fig = dynamics_figure(trajectory, leaderboard, outcome, window=window)
            try:
                save_figure(fig, stage / "dynamics", dpi=PLOT_DPI, tight=False)
            finally:
                plt.close(fig)
        for name in names:
            os.replace(stage / name, out_dir / name)
    except OSError as err:
        raise ScenarioError("--out", str(out_dir), f"cannot write: {err.strerror}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [out_dir / name for name in names]


#: The files ``lbsim run`` may write into ``--out`` (``outcome.json`` doubles as the run's manifest).
RUN_OUTPUTS = ("trajectory.csv", "leaderboard.csv", "outcome.json", "dynamics.png", "dynamics.pdf")


def _previous_run(out_dir) -> dict | None:
    """The ``outcome.json`` of an earlier ``lbsim run`` in ``out_dir`` (its manifest), or None if there is none.

    A manifest is a JSON object naming the ``scenario`` and listing the files it ``written``.
    """
    try:
        previous = json.loads((out_dir / "outcome.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (isinstance(previous, dict) and isinstance(previous.get("scenario"), str)
          and isinstance(previous.get("written"), list) and all(isinstance(w, str) for w in previous["written"]))
    return previous if ok else None


def _check_run_out(out_dir, scenario_name: str, force: bool) -> dict | None:
    """Refuse an ``--out`` that holds anything but an earlier run of the same scenario (unless ``force``).

    Returns the earlier run's manifest (whose files not rewritten are removed after the new run), or None.
    An empty or missing directory is accepted; left-over staging directories (``.lbsim-*``) do not count.
    """
    entries = [p for p in out_dir.iterdir() if not p.name.startswith(".lbsim-")] if out_dir.is_dir() else []
    if not entries:
        return None
    previous = _previous_run(out_dir)
    if previous is None:
        if force:
            return None
        raise ScenarioError("--out", str(out_dir), "is not empty and holds no earlier lbsim run output "
                            "(outcome.json); choose another directory or pass --force to write into it")
    if previous["scenario"] != scenario_name and not force:
        raise ScenarioError("--out", str(out_dir), f"holds the output of scenario {previous['scenario']!r}; "
                            "choose another directory or pass --force to replace it")
    return previous


def _remove_stale(out_dir, previous: dict | None, written) -> None:
    """Remove the files of the earlier run in ``out_dir`` that this run did not rewrite (e.g. its figures)."""
    from pathlib import Path

    if previous is None:
        return
    keep = {Path(p).name for p in written}
    for name in {Path(p).name for p in previous["written"]} - keep:
        if name in RUN_OUTPUTS and (out_dir / name).is_file():
            (out_dir / name).unlink()


#: Resolution of the PNG that ``lbsim run --plot`` writes (the PDF is vector).
PLOT_DPI = 110


def parse_window(text: str) -> tuple[int | None, int | None]:
    """``"START:END"`` (rounds, both included; either may be empty for the run's first or last round)."""
    parts = str(text).split(":")
    if len(parts) != 2:
        raise ScenarioError("--window", text, "must be START:END (rounds, e.g. 100:200, 100: or :200)")
    try:
        start, stop = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        raise ScenarioError("--window", text, "must be START:END with integer rounds (e.g. 100:200)") from None
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        raise ScenarioError("--window", text, "rounds must be >= 0")
    if start is not None and stop is not None and start > stop:
        raise ScenarioError("--window", text, "START must not exceed END")
    return start, stop


def _cmd_run(args) -> int:
    import os
    from pathlib import Path

    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, allow_custom=args.allow_custom)
    if args.tau is not None and not (math.isfinite(args.tau) and args.tau >= 0):
        raise ScenarioError("--tau", args.tau, "must be a finite number >= 0")
    if args.tau is not None:
        args.tau += 0.0  # -0.0 is 0
    if args.rounds is not None and args.rounds < 1:
        raise ScenarioError("--rounds", args.rounds, "must be a positive integer")
    if args.max_rounds is not None and args.max_rounds < 1:
        raise ScenarioError("--max-rounds", args.max_rounds, "must be a positive integer")
    window = parse_window(args.window) if args.window is not None else None
    if window is not None and not args.plot:
        raise ScenarioError("--window", args.window, "applies to the figure: add --plot")
    if window is not None and window[0] is not None:  # before the run: rounds 0 .. R are recorded
        last = args.rounds if args.rounds is not None else scenario.dynamics.rounds
        if window[0] > last:
            raise ScenarioError("--window", args.window, f"holds no round of the run (rounds 0 to {last})")
    out_dir = None
    if args.out is not None or args.plot:
        if args.out is not None and not args.out.strip():
            raise ScenarioError("--out", args.out, "needs a directory name")
        out_dir = Path(args.out) if args.out is not None else Path("results") / _safe_name(scenario.name)
        try:
            clash = out_dir.exists() and not out_dir.is_dir()
        except (OSError, ValueError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise ScenarioError("--out", str(out_dir), f"cannot use the directory: {reason}") from None
        if clash:
            raise ScenarioError("--out", str(out_dir), "exists and is not a directory")
        # Checked before the run, so that a long run never ends in an unwritable place; created after it, so
        # that a refused run (bad option, too much memory) leaves no directory behind.
        existing = next(p for p in (out_dir, *out_dir.absolute().parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ScenarioError("--out", str(out_dir), f"cannot create the directory: {existing} is not writable")
        previous = _check_run_out(out_dir, scenario.name, args.force)
    progress = not args.quiet and sys.stderr.isatty()
    if args.engine == "mesa":
        from sim.model import run_mesa

        model = run_mesa(scenario, rounds=args.rounds, tau=args.tau, max_rounds=args.max_rounds)
        trajectory, leaderboard, outcome = model.trajectory(), model.leaderboard(), model.outcome()
        final = None
        tau = float(model.game.tau[0])
    else:
        from sim.engine import run

        result = run(scenario, rounds=args.rounds, tau=args.tau, progress=progress, max_rounds=args.max_rounds)
        outcome, final = result.outcome(0), final_round(result)
        # The frames (pandas) only when files are written.
        trajectory, leaderboard = (None, None) if out_dir is None else (result.trajectory(0), result.leaderboard(0))
        tau = float(result.game.tau[0])
    report = run_report(scenario, outcome, trajectory, leaderboard, args.engine, tau, final)
    report["round_off_warning"] = round_off_warning(scenario.game(tau))
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ScenarioError("--out", str(out_dir), f"cannot create the directory: {err.strerror}") from None
        report["written"] = [str(p) for p in _write_outputs(out_dir, trajectory, leaderboard, report, outcome,
                                                             args.plot, window)]
        try:
            _remove_stale(out_dir, previous, report["written"])
        except OSError as err:
            raise ScenarioError("--out", str(out_dir), f"cannot remove an earlier run's file: {err.strerror}") from None
    if args.json:
        json.dump(json_ready(report), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _print_run(report, scenario, sys.stdout)
        if out_dir is not None:
            print(f"Wrote {', '.join(report['written'])}", file=sys.stdout)
    return 0


def add_parser(subparsers) -> None:
    """Register ``lbsim run`` on ``subparsers``; its ``run`` default is the command function."""
    p = subparsers.add_parser(
        "run", help="repeated play: outcome (convergence or cycle), summary, trajectory and plots")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--engine", choices=("batch", "mesa"), default="batch",
                   help="batch (numpy, fast; default) or mesa (agents; same trajectory)")
    p.add_argument("--rounds", type=int, default=None, help="number of rounds (default: the scenario's)")
    p.add_argument("--max-rounds", type=int, default=None,
                   help="deterministic dynamics that have not recurred within --rounds play on up to this many "
                   "rounds (default: the scenario's [dynamics] max_rounds)")
    p.add_argument("--tau", type=float, default=None, help="tune-before-test level (default: the scenario's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", action="store_true", help="write the dynamics figure (PNG and PDF) to --out")
    p.add_argument("--window", default=None, metavar="START:END",
                   help="rounds drawn by the effort, score and rank panels of --plot (default: about three periods "
                   "of a cycle, the whole run when it settles or is short)")
    p.add_argument("--out", default=None,
                   help="directory for trajectory.csv, leaderboard.csv, outcome.json and figures "
                   "(default with --plot: results/<scenario name>); refused if it holds anything but an earlier "
                   "run of the same scenario, whose files are then replaced")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty --out anyway, replacing the files of an earlier run found there")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_allow_custom(p)
    p.set_defaults(run=_cmd_run)
