"""``lbsim explore [SCENARIO] [--port P] [--host H]``: serve the explorer page and print its URL.

The scenario is validated here first (a bad one is ``lbsim``'s one-line error,
exit 2, and no server starts); then ``solara run sim.explore.app:Page`` runs
in a child process with the scenario's path in ``$LBSIM_EXPLORE_SCENARIO``,
until Ctrl-C (or SIGTERM), which stops it and exits 0.  Importing this
module imports neither Solara nor Mesa (``lbsim --help`` stays fast).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sim.errors import ScenarioError

DEFAULT_PORT = 8765
#: Seconds to wait for the server to accept connections before saying it did not start.
START_TIMEOUT = 60.0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``lbsim explore`` on ``subparsers`` (from :func:`sim.cli.build_parser`)."""
    p = subparsers.add_parser(
        "explore", help="open an interactive page (Mesa SolaraViz) to watch and steer a scenario's repeated play"
    )
    p.add_argument("scenario", nargs="?", default=None,
                   help="scenario TOML file (default: the bundled scenarios/arms_race.toml)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    p.set_defaults(run=cmd_explore)
    return p


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(host: str, port: int) -> list[str]:
    """The ``solara run`` command line that serves the page (production mode: no reloader, no browser)."""
    return [sys.executable, "-m", "solara", "run", "sim.explore.app:Page", "--host", host, "--port", str(port),
            "--production", "--no-open", "--log-level", "warning"]  # fmt: skip


def server_env(scenario: str | None) -> dict[str, str]:
    """The server's environment: ours, plus the scenario's absolute path when one was given."""
    env = dict(os.environ)
    if scenario is not None:
        env["LBSIM_EXPLORE_SCENARIO"] = str(Path(scenario).absolute())
    env.setdefault("MPLBACKEND", "Agg")
    # Solara's hook checker warns about Mesa's own ComponentsView on every start; nothing the user can act on.
    env.setdefault("PYTHONWARNINGS", "ignore::UserWarning:solara.validate_hooks")
    return env


def wait_until_serving(host: str, port: int, process: subprocess.Popen, timeout: float = START_TIMEOUT) -> bool:
    """True once ``host:port`` accepts a connection; False if ``process`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def cmd_explore(args) -> int:
    """Validate the scenario, start the server, print the URL, serve until interrupted."""
    from importlib.util import find_spec

    from sim.scenario import load_scenario

    if args.scenario is not None:
        load_scenario(args.scenario)  # the one-line error now, not in the page
    if not 0 <= args.port <= 65535:
        raise ScenarioError("--port", args.port, "must be between 0 and 65535")
    if not args.host.strip():
        raise ScenarioError("--host", args.host, "needs an address, e.g. 127.0.0.1")
    if find_spec("solara") is None:
        raise ScenarioError("explore", "solara", 'the page needs the viz extra: pip install -e ".[viz]"')
    port = args.port or free_port(args.host)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM stops the server too, as Ctrl-C does
    # The server's own messages go to standard error: standard output is the URL line alone.  A new session:
    # Ctrl-C reaches only us, and we stop the server ourselves.
    process = subprocess.Popen(server_command(args.host, port), env=server_env(args.scenario), stdout=2,
                               start_new_session=True)
    try:
        if not wait_until_serving(args.host, port, process):
            code = process.poll()
            raise ScenarioError("--port", port, f"the page's server did not start on {args.host}:{port}"
                                + (f" (it exited with status {code})" if code is not None else ""))
        print(f"lbsim explore: serving http://{args.host}:{port}/ (Ctrl-C to stop)", flush=True)
        process.wait()
        return 0 if process.returncode in (0, -signal.SIGTERM) else 1
    except KeyboardInterrupt:
        print("lbsim explore: stopped", file=sys.stderr)
        return 0
    finally:
        _stop(process)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, then SIGKILL if it has not exited within 5 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
