"""Scenario files the tests write: one small three-developer race, in one place."""


def small_race(rounds: int, resolution: str = "0.001", dynamics: str = "") -> str:
    """The ``small-race`` scenario file: three developers (capabilities 1.0, 0.7, 0.4), a power-law score, linear
    cost 0.01, geometric rewards (q = 0.6), published to ``resolution`` (text, so that ``"%s"`` leaves a
    placeholder), ``rounds`` rounds, and any further ``[dynamics]`` lines."""
    return f"""
name = "small-race"
seed = 3

[developers]
capability = [1.0, 0.7, 0.4]

[score]
family = "power_law"
lower = 0.25
upper = 0.95
alpha = {{intercept = -2.0, slope = 2.0}}
beta = {{intercept = 0.3, slope = 0.2}}

[cost]
family = "linear"
scale = 0.01

[reward]
scheme = "geometric"
q = 0.6

[leaderboard]
resolution = {resolution}

[dynamics]
rounds = {rounds}
{dynamics}"""
