"""``lbsim`` in this process: ``sim.cli.main`` with its stdout and stderr captured.

For tests whose point is an exit code and what is printed, not the process itself (a console script without a
traceback, signals, locks between processes and timeouts keep their subprocesses).  An exception that escapes
``main`` (what would be a traceback) propagates and fails the test.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from sim.cli import main


@dataclass(frozen=True)
class Done:
    """What ``subprocess.run(..., capture_output=True, text=True)`` would give: exit code, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


def lbsim(*args: str) -> Done:
    """``lbsim *args`` in-process; argparse's refusals (``SystemExit``) give their exit code as the process would."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return Done(code, out.getvalue(), err.getvalue())
