"""``lbsim sweep SWEEP_FILE``: many scenarios in parallel, one tidy table (:func:`sim.sweeps.sweep`)."""

from __future__ import annotations

import json
import sys

from sim.argtypes import positive_int
from sim.cli.common import _add_allow_custom, _fmt, _safe_name, _table
from sim.errors import ScenarioError


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


def add_parser(subparsers) -> None:
    """Register ``lbsim sweep`` on ``subparsers``; its ``run`` default is the command function."""
    p = subparsers.add_parser(
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
