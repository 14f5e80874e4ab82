"""``lbsim`` in this process: ``sim.cli.main`` with its stdout and stderr captured.

For tests whose point is an exit code and what is printed, not the process itself (a console script without a
traceback, signals, locks between processes, ``sys.path`` as ``python -m`` sets it up and import-time behaviour
keep their subprocesses).  An exception that escapes ``main`` (what would be a traceback) propagates and fails
the test.  A fresh interpreter costs one to two seconds of CPU (numpy, numba, pandas imports); this costs none.

``cwd``, ``env`` and ``timeout`` stand in for the same arguments of ``subprocess.run``: the working directory
and the environment variables are set for the call and restored after it, and a call that runs longer than
``timeout`` seconds is interrupted (``Hang``, a ``TimeoutError``) instead of stalling the suite.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sim.cli import main


@dataclass(frozen=True)
class Done:
    """What ``subprocess.run(..., capture_output=True, text=True)`` would give: exit code, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


class Hang(TimeoutError):
    """An in-process command ran past its ``timeout`` (what ``subprocess.TimeoutExpired`` is for a process)."""


@contextlib.contextmanager
def working_directory(cwd: str | Path | None) -> Iterator[None]:
    """``os.chdir(cwd)`` for the block, then back (nothing when ``cwd`` is None)."""
    if cwd is None:
        yield
        return
    before = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def environment(env: Mapping[str, str | None] | None) -> Iterator[None]:
    """The variables of ``env`` set (a value of None: unset) for the block, then restored as they were."""
    saved = {name: os.environ.get(name) for name in env or {}}
    try:
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`Hang` in the block after ``seconds`` of wall time (SIGALRM; blocking calls such as opening a
    named pipe are interrupted too).  Signals reach only the main thread: elsewhere, and with None, no limit."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Hang(f"lbsim did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def lbsim(*args: str, cwd: str | Path | None = None, env: Mapping[str, str | None] | None = None,
          timeout: float | None = None) -> Done:
    """``lbsim *args`` in-process; argparse's refusals (``SystemExit``) give their exit code as the process would.

    ``cwd``: the working directory during the call; ``env``: environment variables set (None: unset) during it;
    ``timeout``: seconds after which the call is interrupted with :class:`Hang`.
    """
    out, err = io.StringIO(), io.StringIO()
    with working_directory(cwd), environment(env), time_limit(timeout):
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return Done(code, out.getvalue(), err.getvalue())
