"""The ``lbsim`` command line.

``lbsim theory SCENARIO [--tau T] [--json]``
    The one-shot theory at the scenario's ``tau`` (or ``--tau``): baseline
    scores, just-overtake efforts against reward gaps (Proposition 4.5), the
    exact equilibrium check, the stabilising threshold ``tau*`` and, for
    power-law scenarios, the Proposition 5.6 quantities.
``lbsim check SCENARIO [--json] [--strict]``
    The paper's assumptions, one by one, and where each fails.
``lbsim run SCENARIO [--engine batch|mesa] [--rounds R] [--max-rounds M] [--tau T] [--json] [--plot]
                   [--window START:END] [--out DIR] [--force]``
    Repeated play: the outcome (converged to zero, to a non-zero profile, a
    cycle with its period, or no convergence), a per-developer summary, and
    optionally the trajectory as CSV and the dynamics figures (PNG and PDF).
    Deterministic dynamics that have not recurred within ``R`` rounds play
    on until they do or ``M`` rounds (default: the scenario's
    ``[dynamics] max_rounds``) have been played.
    ``--out`` must be empty or hold an earlier run of the same scenario (its
    ``outcome.json`` lists the files it wrote); ``--force`` replaces another.

``lbsim plot DIR [--x AXIS] [--y MEASURE] [--hue AXIS] [--col AXIS] [--row AXIS] [--out STEM]``
    A figure (PNG and PDF) of any sweep output directory: a measure against
    an axis, split by other axes (:func:`sim.plots.sweep_figure`).

Invalid input prints one line ``lbsim: error: ...`` to standard error and
exits with status 2, without a traceback.  A scenario naming a custom function
(``function = "module:attr"``) is refused unless the command is given
``--allow-custom`` (or ``LBSIM_ALLOW_CUSTOM=1`` is set): a scenario file alone
never runs code.  ``lbsim sweep --n-jobs`` above the number of cores is capped
(with a note); ``--scheduler`` needs ``--backend dask``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from sim.argtypes import positive_int  # also sim.cli.positive_int, as before
from sim.errors import ScenarioError

EXIT_BAD_INPUT = 2
#: Most developers ``lbsim theory`` takes (its tables have a row per developer; beyond, a one-line error).
MAX_THEORY_DEVELOPERS = 100_000


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def json_ready(value):
    """``value`` with every non-finite float replaced by ``None`` (JSON ``null``), recursively."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value, spec: str = ".6g") -> str:
    value = float(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)


def theory_report(scenario, tau: float | None = None, tau_max: float | None = None) -> dict:
    """Everything ``lbsim theory`` shows, as a dict of plain Python values.

    Floats may be ``inf`` (unreachable, never) or ``nan`` (undefined);
    :func:`json_ready` turns those into ``null`` for ``--json``.
    """
    from sim import theory

    game = scenario.game(tau)
    cond = theory.zero_equilibrium_condition(game)
    exact = theory.zero_is_equilibrium_exact(game)
    threshold = theory.stabilising_threshold(game, **({} if tau_max is None else {"tau_max": tau_max}))
    strong, weak = game.capability_order[:-1], game.capability_order[1:]
    baseline = theory.baseline_scores(game)
    from sim.leaderboard import published_scores

    report = {
        "scenario": scenario.name,
        "n": game.n,
        "tau": game.tau,
        "resolution": game.resolution,
        "tie_break": scenario.leaderboard.tie_break,
        "capability_order": game.capability_order.tolist(),
        "baseline_scores": _floats(baseline),
        "published_baseline_scores": _floats(published_scores(baseline, game.resolution)),
        "baseline_ranks": game.ranks(np.zeros(game.n)).tolist(),
        "pairs": [[int(a), int(b)] for a, b in zip(strong, weak, strict=True)],
        "just_overtake": _floats(cond.just_overtake),
        "just_overtake_cost": _floats(cond.cost),
        "reward_gap": _floats(cond.gap),
        "pair_holds": [bool(h) for h in cond.holds],
        "zero_is_equilibrium": cond.zero_is_equilibrium,
        "zero_is_equilibrium_exact": bool(exact),
        "tests_agree": cond.zero_is_equilibrium == bool(exact),
        "float_saturated": np.flatnonzero(theory.float_saturated(game)).tolist(),
        "tau_star": threshold.tau_star,
        "stabilises": threshold.stabilises,
        "tau_star_per_pair": _floats(threshold.per_pair),
        "tau_star_method": threshold.method,
        "tau_star_vouched": threshold.vouched,
        "tau_star_note": threshold.note,
        "tau_star_undetermined_beyond": None if threshold.determined else threshold.undetermined_beyond,
        "round_off_pairs": np.flatnonzero(theory.round_off_decides(game)).tolist(),
        "tolerance": cond.tolerance,
    }
    q = theory.power_law_quantities(game)
    report["power_law"] = (
        None
        if q is None
        else {
            "D": _floats(q.D),
            "baseline_catch_up": _floats(q.baseline_catch_up),
            "rho": _floats(q.rho),
            "reward_gap_effort": _floats(q.reward_gap_effort),
            "kappa": _floats(q.kappa),
            "predicted_tau_star": _floats(q.predicted_tau_star),
        }
    )
    return report


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _print_theory(report: dict, out) -> None:
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    print(
        f"Scenario {report['scenario']}: {report['n']} developers, tau = {_fmt(report['tau'])}, "
        f"resolution = {_fmt(report['resolution'])}, ties to {report['tie_break']}",
        file=out,
    )
    print("\nBaseline (zero additional effort), strongest first:", file=out)
    rows = []
    for dev in report["capability_order"]:
        rows.append(
            [
                str(dev),
                _fmt(report["baseline_scores"][dev], ".8g"),
                _fmt(report["published_baseline_scores"][dev], ".8g"),
                str(report["baseline_ranks"][dev]),
            ]
        )
    print(_table(["id", "score", "published", "rank"], rows), file=out)
    print("\nJust-overtake efforts, Proposition 4.5 (pair: weaker overtakes the one above):", file=out)
    rows = []
    for k, (a, b) in enumerate(report["pairs"]):
        rows.append(
            [
                f"{b} -> {a}",
                _fmt(report["just_overtake"][k]),
                _fmt(report["just_overtake_cost"][k]),
                _fmt(report["reward_gap"][k]),
                yes(report["pair_holds"][k]),
                _fmt(report["tau_star_per_pair"][k]),
            ]
        )
    print(_table(["pair", "Delta_i(tau)", "cost", "reward gap", "cost >= gap", "tau*_i"], rows), file=out)
    print(
        f"\nAll-zero profile is an equilibrium: Proposition 4.5: {yes(report['zero_is_equilibrium'])}; "
        f"exact check over all deviations: {yes(report['zero_is_equilibrium_exact'])}",
        file=out,
    )
    if report["float_saturated"]:
        print(
            f"note: at this tau the baselines of developers {report['float_saturated']} are within float round-off "
            "of their limits; Delta_i and both tests reflect round-off there, not the model",
            file=out,
        )
    if not report["tests_agree"]:
        reason = (
            "scores are within round-off of their limits, or round-off decides the test (see above)"
            if report["float_saturated"] or report.get("round_off_pairs")
            else "the scenario breaks an assumption the proposition needs (see `lbsim check`)"
            if report["tie_break"] == "capability" and report["resolution"] == 0
            else f"ties are broken by {report['tie_break']}, not against the lower capability as the proposition "
            "assumes (Theorem 4.6), or an assumption fails (see `lbsim check`); trust the exact check"
            if report["tie_break"] != "capability"
            else "on a published grid one step up can pass several developers sharing a level, which the "
            "adjacent test does not see, or an assumption fails (see `lbsim check`); trust the exact check"
        )
        print(f"note: the two tests disagree: {reason}", file=out)
    if report.get("round_off_pairs"):
        print(
            "note: at this tau round-off decides Proposition 4.5's test for pair(s) "
            f"{', '.join(' -> '.join(map(str, report['pairs'][k][::-1])) for k in report['round_off_pairs'])}: "
            "doubles cannot resolve the just-overtake effort there (docs/model.md#what-is-exact)",
            file=out,
        )
    if report["stabilises"] is None:
        star = f"tau* = undetermined in double precision beyond tau = {_fmt(report['tau_star_undetermined_beyond'])}"
    elif report["stabilises"]:
        star = f"tau* = {_fmt(report['tau_star'], '.8g')}"
    else:
        star = "tau* = never (the zero-equilibrium condition keeps failing)"
    vouch = "exact" if report["tau_star_method"] == "grid_levels" else "bisection"
    print(
        f"Stabilising threshold: {star} [{vouch}{'' if report['tau_star_vouched'] else ', NOT vouched for'}]", file=out
    )
    if report["tau_star_note"]:
        print(f"note: {report['tau_star_note']}", file=out)
    q = report["power_law"]
    if q is not None:
        print("\nProposition 5.6 (power law, common L and U):", file=out)
        rows = []
        for k, (a, b) in enumerate(report["pairs"]):
            rows.append(
                [
                    f"{b} -> {a}",
                    _fmt(q["D"][k]),
                    _fmt(q["baseline_catch_up"][k]),
                    _fmt(q["rho"][k]),
                    _fmt(q["kappa"][k]),
                    _fmt(q["predicted_tau_star"][k]),
                ]
            )
        print(_table(["pair", "D_i", "Delta_i(0)", "rho_i", "kappa_i", "e0*kappa^rho"], rows), file=out)
        print("(tau*_i grows like e0 * kappa_i ** rho_i, up to a constant depending on rho_i)", file=out)


def _cmd_theory(args) -> int:
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, allow_custom=args.allow_custom)
    if scenario.n > MAX_THEORY_DEVELOPERS:
        raise ScenarioError(
            "developers", scenario.n,
            f"lbsim theory prints one row per developer and checks every deviation: at most "
            f"{MAX_THEORY_DEVELOPERS:,} developers",
        )  # fmt: skip
    if args.tau is not None and not (math.isfinite(args.tau) and args.tau >= 0):
        raise ScenarioError("--tau", args.tau, "must be a finite number >= 0")
    if args.tau_max is not None and not (math.isfinite(args.tau_max) and args.tau_max > 0):
        raise ScenarioError("--tau-max", args.tau_max, "must be a finite number > 0")
    report = theory_report(scenario, args.tau, args.tau_max)
    if args.json:
        json.dump(json_ready(report), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _print_theory(report, sys.stdout)
    return 0


def _cmd_check(args) -> int:
    from sim.assumptions import check_assumptions
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, allow_custom=args.allow_custom)
    report = check_assumptions(scenario.game())
    if args.json:
        json.dump(
            {"scenario": scenario.name, "holds": report.holds, "assumptions": report.as_dict()}, sys.stdout, indent=2
        )
        sys.stdout.write("\n")
    else:
        print(f"Scenario {scenario.name}: assumptions of the theory (Assumptions 4.1 and 4.2)")
        rows = [[r.name, "holds" if r.holds else "FAILS", r.where] for r in report.results]
        widths = [max(len(r[0]) for r in rows), 5]
        for name, status, where in rows:
            print(f"  {name.ljust(widths[0])}  {status.ljust(widths[1])}  {where}".rstrip())
        print("All assumptions hold." if report.holds else f"{len(report.failures)} assumption(s) fail.")
    return 1 if (args.strict and not report.holds) else 0


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


#: Longest directory name made from a scenario or sweep name (file systems allow 255 bytes).
MAX_SAFE_NAME = 100


def _safe_name(name: str) -> str:
    """A scenario name as one safe directory name (no separators, no leading dots, at most :data:`MAX_SAFE_NAME`
    characters: a longer one is cut and ends in 8 hex digits of its SHA-256, so distinct names stay distinct)."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip(".-") or "scenario"
    if len(safe) > MAX_SAFE_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe[: MAX_SAFE_NAME - 9]}-{digest}"
    return safe


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


def _cmd_sweep(args) -> int:
    from pathlib import Path

    from sim import sweeps

    sweeps.check_scheduler(args.backend, args.scheduler)
    spec = sweeps.load_sweep(args.sweep_file, allow_custom=args.allow_custom)
    chunk_size = sweeps.DEFAULT_CHUNK_SIZE if args.chunk_size is None else args.chunk_size
    if args.dry_run:
        estimate = sweeps.estimate_sweep(spec, chunk_size)
        if args.json:
            json.dump(estimate.to_dict(), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print(sweeps.describe_plan(estimate))
        return 0
    args.n_jobs, note = sweeps.cap_n_jobs(args.n_jobs)
    if note and args.backend == "loky":
        print(f"lbsim: note: {note}", file=sys.stderr)
    elif args.backend == "dask" and args.scheduler is None and note:
        print(f"lbsim: note: {note} (local cluster)", file=sys.stderr)
    plan = sweeps.plan_sweep(spec, chunk_size, progress=not args.quiet and sys.stderr.isatty())
    if args.out is not None and not args.out.strip():
        raise ScenarioError("--out", args.out, "needs a directory name")
    out = Path(args.out) if args.out is not None else Path("results") / _safe_name(spec.name)
    try:
        out.exists()
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ScenarioError("--out", str(out), f"cannot use the directory: {reason}") from None
    report = sweeps.SweepReport(0, 0, 0, 0, 0, 0.0)
    try:
        table = sweeps.sweep(
            plan,
            n_jobs=args.n_jobs,
            backend=args.backend,
            scheduler=args.scheduler,
            out=out,
            resume=args.resume,
            chunk_size=chunk_size,
            tail_window=args.tail_window,
            trajectory_every=args.trajectories,
            theory=not args.no_theory,
            progress=not args.quiet and sys.stderr.isatty(),
            report=report,
            log=lambda line: print(f"lbsim: {line}", file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        done = len(sweeps.finished_chunks(out))
        print(f"lbsim: interrupted; {done} of {len(plan.chunks)} chunks are saved in {out}; "
              "run the same command with --resume to finish", file=sys.stderr)
        return 130
    failed = report.failed
    summary = {
        "sweep": spec.name,
        "out": str(out),
        "scenarios": report.scenarios,
        "points_run_once": plan.points_run_once,
        "chunks": report.chunks,
        "chunks_run": report.chunks_run,
        "chunks_skipped": report.chunks_skipped,
        "chunks_rerun": report.chunks_rerun,
        "failed": failed,
        "seconds": round(report.seconds, 3),
        "outcomes": {str(k): int(v) for k, v in table["outcome"].value_counts(dropna=True).items()},
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"sweep {spec.name}: {report.scenarios:,} scenarios in {report.chunks} chunk(s) "
              f"({report.chunks_run} run now, {report.chunks_skipped} already done"
              + (f", {report.chunks_rerun} damaged and run again" if report.chunks_rerun else "")
              + f"), {report.seconds:.1f} s")
        if sweeps.replication_note(plan):
            print(f"note: {sweeps.replication_note(plan)}")
        counts = table["outcome"].value_counts(dropna=True)
        rows = [[name, f"{int(counts.get(name, 0)):,}", _fmt(counts.get(name, 0) / max(len(table), 1), ".1%")]
                for name in ("converged_zero", "converged_nonzero", "cycle", "no_convergence")]
        rows.append(["failed", f"{failed:,}", _fmt(failed / max(len(table), 1), ".1%")])
        print(_table(["outcome", "scenarios", "share"], rows))
        print(f"Wrote {out} (one Parquet file per chunk under summary/, manifest.json); "
              f'read it with sim.sweeps.read_results("{out}")')
    if failed:
        first = table.loc[table["error"].notna(), ["scenario_index", "error"]].iloc[0]
        print(f"lbsim: {failed} of {report.scenarios} scenario(s) failed (error column); "
              f"first: scenario {int(first['scenario_index'])}: {first['error']}", file=sys.stderr)
        return 1
    return 0


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


def _cmd_reproduce(args) -> int:
    """``lbsim reproduce``: the same as ``python -m experiments.all`` in the working directory, a checkout of the
    repository (:func:`sim.checkout.experiments_all`)."""
    from sim.checkout import experiments_all
    from sim.sweeps import cap_n_jobs

    reproduce = experiments_all().main
    n_jobs, note = cap_n_jobs(args.n_jobs)
    if note:
        print(f"lbsim: note: {note}", file=sys.stderr)
    argv = [*(["--quick"] if args.quick else []), "--n-jobs", str(n_jobs)]
    if args.out is not None:
        argv += ["--out", args.out]
    if args.only:
        argv += ["--only", *args.only]
    return reproduce(argv, prog="lbsim reproduce")


def _add_allow_custom(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-custom", action="store_true",
        help='import and run custom functions the scenario names (function = "module:attr"); without it a '
        "scenario file never runs code (also: LBSIM_ALLOW_CUSTOM=1)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lbsim", description="Simulate and analyse leaderboard competition under tune-before-test.")
    from sim import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("theory", help="one-shot theory: Delta_i(tau), Proposition 4.5, tau*, Proposition 5.6")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--tau", type=float, default=None, help="tune-before-test level (default: the scenario's)")
    p.add_argument(
        "--tau-max",
        type=float,
        default=None,
        help="upper end of the tau* search for exact scores (resolution 0; default 1e12); "
        "on a published grid the search is exact and needs no bound",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_allow_custom(p)
    p.set_defaults(run=_cmd_theory)
    p = sub.add_parser("check", help="check the paper's assumptions numerically, one by one")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when an assumption fails")
    _add_allow_custom(p)
    p.set_defaults(run=_cmd_check)
    p = sub.add_parser("run", help="repeated play: outcome (convergence or cycle), summary, trajectory and plots")
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
    p = sub.add_parser(
        "sweep", help="many scenarios from a sweep file, in parallel: one tidy table (Parquet) of outcomes and theory"
    )
    p.add_argument("sweep_file", help="sweep TOML file (base scenario, axes, replications, seed)")
    p.add_argument("--n-jobs", type=positive_int, default=1, help="parallel workers (default 1)")
    p.add_argument("--backend", choices=("loky", "dask"), default="loky",
                   help="loky (processes on this machine; default) or dask (a dask.distributed cluster)")
    p.add_argument("--scheduler", default=None,
                   help="with --backend dask: address of a running scheduler, e.g. tcp://10.0.0.1:8786 "
                   "(default: a local cluster of --n-jobs workers)")
    p.add_argument("--out", default=None, help="output directory (default: results/<sweep name>)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping finished chunks")
    p.add_argument("--chunk-size", type=positive_int, default=None,
                   help="scenarios per chunk: one batch run and one Parquet file (default 250)")
    p.add_argument("--trajectories", type=positive_int, default=None, metavar="EVERY",
                   help="also keep every EVERY-th round (and the last) of every scenario under trajectories/")
    p.add_argument("--tail-window", type=positive_int, default=None,
                   help="rounds of the tail statistics (default: a quarter of the rounds, at least 10)")
    p.add_argument("--no-theory", action="store_true", help="skip the tau* and equilibrium columns")
    p.add_argument("--dry-run", action="store_true",
                   help="print how many scenarios and rounds the sweep means; run nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_allow_custom(p)
    p.set_defaults(run=_cmd_sweep)
    p = sub.add_parser("plot", help="a figure of a sweep's results (lbsim sweep --out DIR): a measure against an axis")
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
    p = sub.add_parser("reproduce", help="regenerate every figure and table in results/ (python -m experiments.all)")
    p.add_argument("--quick", action="store_true", help="reduced sizes (seconds each): what the test suite runs")
    p.add_argument("--n-jobs", type=positive_int, default=1, help="parallel workers for the sweeps (default 1)")
    p.add_argument("--out", default=None, help="root directory; each experiment writes <out>/<name> "
                   "(default: ./results, or ./results-quick with --quick)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these experiments")
    p.set_defaults(run=_cmd_reproduce)
    from sim.explore.cli import add_parser as add_explore  # lbsim explore (no Solara imported until it runs)

    add_explore(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # inf and nan are reported in the output (as inf, "-" or null); numpy's warnings would only add noise.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return args.run(args)
    except ScenarioError as err:
        path = getattr(args, "scenario", None) or getattr(args, "sweep_file", None) or getattr(args, "sweep_dir", None)
        where = f"{path}: " if path and err.field != str(path) else ""
        print(f"lbsim: error: {where}{err}".replace("\n", " "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # e.g. `lbsim theory ... | head`
        return 0
    except KeyboardInterrupt:
        print("lbsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
