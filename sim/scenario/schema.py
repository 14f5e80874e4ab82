"""The scenario file's vocabulary: its sections and keys, the kinds each section takes, and the limits."""

from __future__ import annotations

SCORE_FAMILIES = ("power_law", "exp_saturation", "custom")


SCHEDULES = ("simultaneous", "sequential", "random_order", "asynchronous")


INITIAL_PROFILES = ("zero", "random")


#: How a developer picks its effort when it revises: exact best response or a logit (smoothed) choice.
RESPONSES = ("best", "logit")


#: Chance that a developer revises in a round under ``schedule = "asynchronous"`` when none is given.
DEFAULT_REVISION_PROBABILITY = 0.5


#: Most rounds (``dynamics.rounds``, ``dynamics.max_rounds``) a scenario may ask for: far beyond any run's time and
#: memory, and within the 64-bit integers the engine counts rounds in.
ROUNDS_LIMIT = 10**15


#: Default cap on the rounds deterministic dynamics play while looking for a recurrence (``dynamics.max_rounds``).
DEFAULT_MAX_ROUNDS = 100_000


#: Most developers a scenario may have (a sample larger than this is a typo, not a game).
MAX_DEVELOPERS = 1_000_000


#: Sampling distributions and their parameters with defaults.
DISTRIBUTIONS: dict[str, dict[str, float]] = {
    "uniform": {"low": 0.0, "high": 1.0},
    "normal": {"mean": 0.0, "sd": 1.0},
}


_SECTIONS_REQUIRED = ("developers", "score", "cost", "reward")


_SECTIONS_OPTIONAL = ("leaderboard", "designer", "dynamics")


_TOP_LEVEL_KEYS = ("name", "seed", *_SECTIONS_REQUIRED, *_SECTIONS_OPTIONAL)


_SCORE_KEYS = {
    "power_law": ("lower", "upper", "alpha", "beta", "effort_unit"),
    "exp_saturation": ("lower", "upper", "rate"),
    "custom": ("function", "limit"),
}


_COST_KEYS = {
    "linear": ("scale",),
    "power": ("scale", "exponent"),
    "flat_quadratic": ("scale", "free_effort"),
    "custom": ("function", "scale"),
}


_REWARD_KEYS = {
    "winner_take_all": (),
    "top_k": ("k",),
    "linear": (),
    "geometric": ("q",),
    "zipf": ("exponent",),
    "custom": ("values",),
}
