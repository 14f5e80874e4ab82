"""Loading a scenario file: bounded reading of regular files only, TOML parsed, then :func:`parse_scenario`."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

from sim.errors import ScenarioError
from sim.scenario.parsing import parse_scenario
from sim.scenario.spec import Scenario
from sim.scenario.values import _one_line


def load_scenario(path, *, allow_custom: bool = False) -> Scenario:
    """Load and validate the scenario file at ``path``.

    Custom functions are refused unless ``allow_custom`` (or
    ``LBSIM_ALLOW_CUSTOM=1``): a scenario file is data, not code.

    Raises :class:`ScenarioError`: with the path as ``field`` when the file
    is missing, unreadable or not valid TOML; with the dotted key otherwise.
    The scenario's name defaults to the file's stem.
    """
    path = Path(path)
    data = read_toml(path, "scenario file")
    return parse_scenario(data, name_hint=path.stem, source=str(path), allow_custom=allow_custom)


#: Largest scenario or sweep file read (bytes): a million listed developers fit well within it.
MAX_FILE_BYTES = 64 * 2**20


def read_text_file(path, what: str) -> str:
    """The UTF-8 text of the regular file at ``path``, at most :data:`MAX_FILE_BYTES`, without ever blocking.

    A directory, a named pipe, a device such as ``/dev/zero``, a missing or
    unreadable file is a one-line :class:`ScenarioError` with the path as
    ``field``.  The path is checked with ``os.stat`` first and the file is
    opened non-blocking and checked again (``fstat``) before it is read.
    """
    path = Path(path)
    where = str(path)
    shown = str(path.absolute())
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError(where, shown, f"no such {what}") from None
    except (OSError, ValueError) as err:
        reason = _one_line(getattr(err, "strerror", None) or err)
        raise ScenarioError(where, shown, f"cannot read the file: {reason}") from None
    _check_regular(info, where, shown, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb", closefd=True) as handle:
            _check_regular(os.fstat(handle.fileno()), where, shown, what)
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(where, shown, f"no such {what}") from None
    except OSError as err:
        raise ScenarioError(where, shown, f"cannot read the file: {_one_line(err.strerror)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(where, shown, f"larger than {MAX_FILE_BYTES // 2**20} MiB; not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(where, shown, f"not UTF-8 text ({err.reason})") from None


def _check_regular(info: os.stat_result, where: str, shown: str, what: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = (
        "a directory" if stat.S_ISDIR(info.st_mode)
        else "a named pipe" if stat.S_ISFIFO(info.st_mode)
        else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
        else "a socket" if stat.S_ISSOCK(info.st_mode)
        else "not a regular file"
    )
    raise ScenarioError(where, shown, f"is {kind}, not a {what} (a regular file is needed)")


def read_toml(path, what: str) -> dict:
    """The TOML table in the file at ``path``; a missing, unreadable or invalid file is a one-line
    :class:`ScenarioError` with the path as ``field`` (``what`` names the kind of file, e.g. "sweep file")."""
    path = Path(path)
    where = str(path)
    return parse_toml_text(read_text_file(path, what), where)


def parse_toml_text(text: str, where: str) -> dict:
    """The TOML table in ``text``; invalid TOML is a one-line :class:`ScenarioError` with ``where`` (a file's
    path, or what the text came from) as ``field`` and the offending line as the value."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ScenarioError(where, None, "invalid TOML: arrays or tables nested too deeply") from None
    except ValueError as err:  # TOMLDecodeError, or an integer too long to convert
        message = _one_line(str(err))
        if not isinstance(err, tomllib.TOMLDecodeError):
            message = message.split(";")[0]  # drop Python's advice on sys.set_int_max_str_digits
        found = re.search(r"line (\d+)", message)
        lines = text.splitlines()
        line = lines[int(found.group(1)) - 1].strip() if found and 0 < int(found.group(1)) <= len(lines) else None
        raise ScenarioError(where, line, f"invalid TOML: {message}") from None
