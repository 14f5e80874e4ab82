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
import sys
import tempfile
import threading
import time
import traceback
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


class Forked:
    """``lbsim *args`` in a forked copy of this process: a process of its own (its own pid, its own session, so
    ``os.killpg(proc.pid, SIGKILL)`` kills it as it would a ``subprocess.Popen(..., start_new_session=True)``),
    without a fresh interpreter's imports: numpy, pandas, ``sim`` and the compiled kernels this process has
    loaded are there already.

    For tests about processes (two writers racing for a sweep's lock, a writer killed mid-run).  The child
    writes stderr to a file that :attr:`stderr` reads once it has ended; stdout goes to ``/dev/null``.  An
    exception escaping ``main`` prints its traceback there and exits 1, as a real interpreter would.  The child
    never returns into pytest: it leaves with ``os._exit``.
    """

    def __init__(self, *args, cwd: str | Path | None = None):
        self._stderr = tempfile.TemporaryFile()
        self.returncode: int | None = None
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.setsid()
                if cwd is not None:
                    os.chdir(cwd)
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                os.dup2(null, 1)
                os.dup2(self._stderr.fileno(), 2)
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 -- the child's own, until os._exit
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                code = main([str(a) for a in args])
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:  # noqa: BLE001 -- what an interpreter prints for an uncaught exception
                traceback.print_exc()
                code = 1
            finally:
                with contextlib.suppress(BaseException):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        self.pid = pid

    def _ended(self, status: int) -> int:
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code once the child has ended (negative: killed by that signal), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._ended(status)
        return self.returncode

    def wait(self, timeout: float | None = 300) -> int:
        """Wait for the child (at most ``timeout`` seconds, then kill it and raise :class:`Hang`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                os.killpg(self.pid, signal.SIGKILL)
                self.wait(None)
                raise Hang(f"forked lbsim ran past {timeout} s")
            time.sleep(0.01)
        return self.returncode

    @property
    def stderr(self) -> str:
        """What the child wrote to stderr (read after it has ended)."""
        self._stderr.seek(0)
        return self._stderr.read().decode()
