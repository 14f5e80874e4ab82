"""``lbsim tournament FILE [--out DIR] [--n-jobs J] [--json] [--force]``: registered by :func:`add_parser`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.argtypes import positive_int
from sim.errors import ScenarioError


def add_parser(subparsers) -> None:
    """Register the ``tournament`` command on ``subparsers`` (``sim.cli.build_parser``'s)."""
    p = subparsers.add_parser(
        "tournament",
        help="strategies against every mix of rivals: per-strategy results, payoffs, evolution (Parquet + figure)",
    )
    p.add_argument("tournament_file", metavar="FILE", help="tournament TOML file (strategies, capabilities, game)")
    p.add_argument("--out", default=None, help="output directory (default: results/<tournament name>)")
    p.add_argument("--n-jobs", type=positive_int, default=1, help="parallel workers (default 1); same tables")
    p.add_argument("--json", action="store_true", help="print one JSON object (per-strategy results)")
    p.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing its files")
    p.add_argument("--allow-custom", action="store_true",
                   help="import and run custom functions the game names (also: LBSIM_ALLOW_CUSTOM=1)")
    p.set_defaults(run=cmd_tournament)


def _out_dir(args, name: str) -> Path:
    from sim.cli.common import _safe_name

    if args.out is not None and not args.out.strip():
        raise ScenarioError("--out", args.out, "needs a directory name")
    out = Path(args.out) if args.out is not None else Path("results") / _safe_name(name)
    try:
        exists = out.exists()
    except (OSError, ValueError) as err:
        raise ScenarioError("--out", str(out), f"cannot use the directory: {getattr(err, 'strerror', None) or err}"
                            ) from None
    if exists and not out.is_dir():
        raise ScenarioError("--out", str(out), "exists and is not a directory")
    if exists and any(out.iterdir()) and not args.force:
        raise ScenarioError("--out", str(out), "is not empty; add --force to replace the files written there")
    return out


def cmd_tournament(args) -> int:
    """Load, play, summarise and write a tournament; exit code 0 (bad input raises :class:`ScenarioError`)."""
    import numpy as np

    from sim.sweeps import cap_n_jobs
    from sim.tournament.report import outputs, run_tournament, write_tournament
    from sim.tournament.spec import load_tournament

    path = args.tournament_file
    try:
        spec = load_tournament(path, allow_custom=args.allow_custom)
    except ScenarioError as err:
        shown = f"{path}: {err.field}" if err.field != str(path) else err.field
        raise ScenarioError(shown, err.value, err.message) from None
    out = _out_dir(args, spec.name)
    n_jobs, note = cap_n_jobs(args.n_jobs)
    if note:
        print(f"lbsim: note: {note}", file=sys.stderr)
    result = run_tournament(spec, n_jobs=n_jobs)
    try:
        write_tournament(result, out)
    except OSError as err:
        raise ScenarioError("--out", str(out), f"cannot write: {err.strerror or err}") from None
    rows = result.strategies.replace({np.nan: None}).to_dict(orient="records")
    if args.json:
        json.dump({"tournament": spec.name, "out": str(out), "matches": int(result.matches["match"].nunique()),
                   "strategies": rows, "evolution_basis": result.evolution_basis, "files": list(outputs())},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"tournament {spec.name}: {result.matches['match'].nunique():,} matches of {spec.developers} developers "
          f"({len(spec.strategies)} strategies, mixes = {spec.mixes}, {spec.repetitions} repetition(s), "
          f"{spec.rounds} rounds)")
    headers = ["tau", "strategy", "utility", "95% interval", "rank", "effort", "correct", "replicator", "moran"]
    table = [[f"{r['tau']:g}", r["strategy"], f"{r['mean_utility']:.4g}",
              "-" if r["utility_low"] is None else f"[{r['utility_low']:.3g}, {r['utility_high']:.3g}]",
              f"{r['mean_rank']:.3g}", f"{r['mean_effort']:.4g}", f"{r['correct_share']:.1%}",
              f"{r['replicator_share']:.3f}", f"{r['moran_share']:.3f}"] for r in rows]
    widths = [max(len(h), *(len(row[c]) for row in table)) for c, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    print(f"evolution: {result.evolution_basis}")
    print(f"Wrote {out} ({', '.join(outputs())})")
    return 0
