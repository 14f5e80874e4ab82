"""Argument types shared by the command line (:mod:`sim.cli`) and the experiment scripts.

A small library module, so that code outside the command line (the
``experiments`` scripts) can use them without importing :mod:`sim.cli`.
"""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (the message names the value otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value
