"""What ``lbsim run --json`` says of the developers' strategies (:func:`strategy_report`)."""

from __future__ import annotations


def strategy_report(scenario) -> list:
    """Each developer's strategy in the scenario-file form (a name, or ``{name, **parameters}``), by developer id:
    ``developers.strategy``, or the strategy ``dynamics.response`` amounts to when there is none."""
    from sim.strategies import response_strategies

    return [s.to_spec() for s in response_strategies(scenario)]
