"""``lbsim reproduce``: every figure and table in ``results/``, as ``python -m experiments.all`` in a checkout."""

from __future__ import annotations

import sys

from sim.argtypes import positive_int


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


def add_parser(subparsers) -> None:
    """Register ``lbsim reproduce`` on ``subparsers``; its ``run`` default is the command function."""
    p = subparsers.add_parser(
        "reproduce", help="regenerate every figure and table in results/ (python -m experiments.all)")
    p.add_argument("--quick", action="store_true", help="reduced sizes (seconds each): what the test suite runs")
    p.add_argument("--n-jobs", type=positive_int, default=1, help="parallel workers for the sweeps (default 1)")
    p.add_argument("--out", default=None, help="root directory; each experiment writes <out>/<name> "
                   "(default: ./results, or ./results-quick with --quick)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these experiments")
    p.set_defaults(run=_cmd_reproduce)
