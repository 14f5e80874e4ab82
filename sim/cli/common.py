"""What every ``lbsim`` command shares: the one-line argparse error (exit status 2), JSON-ready values, number
formatting, plain-text tables, safe file names and the ``--allow-custom`` option.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def json_ready(value):
    """``value`` with every non-finite float replaced by ``None`` (JSON ``null``), recursively."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value, spec: str = ".6g") -> str:
    value = float(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


#: Longest directory name made from a scenario or sweep name (file systems allow 255 bytes).
MAX_SAFE_NAME = 100


def _safe_name(name: str) -> str:
    """A scenario name as one safe directory name (no separators, no leading dots, at most :data:`MAX_SAFE_NAME`
    characters: a longer one is cut and ends in 8 hex digits of its SHA-256, so distinct names stay distinct)."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip(".-") or "scenario"
    if len(safe) > MAX_SAFE_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe[: MAX_SAFE_NAME - 9]}-{digest}"
    return safe


def _add_allow_custom(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-custom", action="store_true",
        help='import and run custom functions the scenario names (function = "module:attr"); without it a '
        "scenario file never runs code (also: LBSIM_ALLOW_CUSTOM=1)",
    )  # fmt: skip
