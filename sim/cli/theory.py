"""``lbsim theory SCENARIO``: the one-shot theory at the scenario's ``tau`` (baseline scores, just-overtake efforts
against reward gaps, Proposition 4.5; the exact equilibrium check; ``tau*``; Proposition 5.6 for power laws).
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from sim.cli.common import _add_allow_custom, _floats, _fmt, _table, json_ready
from sim.errors import ScenarioError

#: Most developers ``lbsim theory`` takes (its tables have a row per developer; beyond, a one-line error).
MAX_THEORY_DEVELOPERS = 100_000


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


def add_parser(subparsers) -> None:
    """Register ``lbsim theory`` on ``subparsers``; its ``run`` default is the command function."""
    p = subparsers.add_parser("theory", help="one-shot theory: Delta_i(tau), Proposition 4.5, tau*, Proposition 5.6")
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
