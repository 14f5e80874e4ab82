"""``lbsim check SCENARIO``: the paper's assumptions, one by one, and where each fails."""

from __future__ import annotations

import json
import sys

from sim.cli.common import _add_allow_custom


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


def add_parser(subparsers) -> None:
    """Register ``lbsim check`` on ``subparsers``; its ``run`` default is the command function."""
    p = subparsers.add_parser("check", help="check the paper's assumptions numerically, one by one")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when an assumption fails")
    _add_allow_custom(p)
    p.set_defaults(run=_cmd_check)
