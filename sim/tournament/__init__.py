"""Tournaments of developer strategies (``lbsim tournament``), after Axelrod's.

A tournament file (:mod:`sim.tournament.spec`) names strategies, capabilities,
the game and the mixes of rivals; every mix is played (:mod:`sim.tournament.matches`),
summarised per strategy and as payoffs (:mod:`sim.tournament.payoffs`), and fed to
evolutionary processes (:mod:`sim.tournament.evolution`); :mod:`sim.tournament.report`
writes the tables and figures. Importing the package imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["load_tournament", "parse_tournament", "run_tournament", "write_tournament"]


def __getattr__(name: str):
    if name in ("load_tournament", "parse_tournament"):
        from sim.tournament import spec

        return getattr(spec, name)
    if name in ("run_tournament", "write_tournament"):
        from sim.tournament import report

        return getattr(report, name)
    raise AttributeError(f"module 'sim.tournament' has no attribute {name!r}")
