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

The package: one module per command (:mod:`sim.cli.theory`, :mod:`sim.cli.check`, :mod:`sim.cli.run`,
:mod:`sim.cli.sweep`, :mod:`sim.cli.plot`, :mod:`sim.cli.reproduce`), what they share in :mod:`sim.cli.common`,
and here :func:`main` and the registry :data:`COMMANDS`.  A command module exposes ``add_parser(subparsers)``,
which adds its subcommand and sets ``run`` to its command function (``args -> exit code``); adding a command is
one line in :data:`COMMANDS`.  Command modules import only light modules at module level (the heavy ones,
pandas, matplotlib, Mesa, the sweep stack, inside their command functions), so ``lbsim --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from sim.argtypes import positive_int  # noqa: F401 -- also sim.cli.positive_int, as before
from sim.cli.common import EXIT_BAD_INPUT, MAX_SAFE_NAME, _Parser, json_ready  # noqa: F401
from sim.cli.plot import SWEEP_PLOT_DPI  # noqa: F401
from sim.cli.run import PLOT_DPI, RUN_OUTPUTS, final_round, parse_window, round_off_warning, run_report  # noqa: F401
from sim.cli.theory import MAX_THEORY_DEVELOPERS, theory_report  # noqa: F401
from sim.errors import ScenarioError

#: The ``lbsim`` commands, in the order ``lbsim --help`` lists them: each a module exposing
#: ``add_parser(subparsers)``.  A new command is one more line here.
COMMANDS = (
    "sim.cli.theory",
    "sim.cli.check",
    "sim.cli.run",
    "sim.cli.sweep",
    "sim.cli.plot",
    "sim.cli.reproduce",
    "sim.design.cli",
    "sim.tournament.cli",
    "sim.explore.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``lbsim`` parser: one subcommand per module of :data:`COMMANDS`, in that order."""
    parser = _Parser(prog="lbsim", description="Simulate and analyse leaderboard competition under tune-before-test.")
    from sim import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
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
