"""Scenario files: TOML in, validated frozen dataclasses out.

A scenario file describes one leaderboard game and how to play it out::

    name = "two-developers"
    seed = 7                       # optional, default 0
    [developers]
    capability = [1.0, 0.5]        # or sample = {n = 10, distribution = "uniform", low = 0.0, high = 1.0}
    budget = 50.0                  # optional: most effort per developer per round (number or list)
    [score]
    family = "power_law"           # power_law | exp_saturation | custom
    lower = 0.25                   # number, list (one per developer), or {intercept = a, slope = b}
    upper = 0.95
    alpha = {intercept = -2.0, slope = 2.0}
    beta = {intercept = 0.3, slope = 0.2}
    effort_unit = 1.0
    [cost]
    family = "linear"              # linear | power | flat_quadratic | custom
    scale = 0.001
    [reward]
    scheme = "winner_take_all"     # winner_take_all | top_k | linear | geometric | zipf | custom
    [leaderboard]                  # optional
    resolution = 0.0001
    tie_break = "capability"       # capability | id | random
    noise = 0.0                    # sd of Gaussian evaluation noise added to each score
    [designer]                     # optional
    tau = 0.0
    [dynamics]                     # optional
    schedule = "simultaneous"      # simultaneous | sequential | random_order | asynchronous
    rounds = 2000
    # max_rounds = 100000          # deterministic dynamics play on to find a recurrence, up to this cap
    initial = "zero"               # zero | random | [x1, x2, ...]
    response = "best"              # best | logit (then temperature = T > 0)
    # revision_probability = 0.5   # asynchronous only

Keys by section (anything else is an error that names the key):

* ``[developers]``: exactly one of ``capability`` (list of numbers, at least
  two) or ``sample`` (table: ``n >= 2``, ``distribution`` ``"uniform"`` with
  ``low``, ``high`` (defaults 0, 1) or ``"normal"`` with ``mean``, ``sd``
  (defaults 0, 1)).  Samples are drawn with
  a stream split from the scenario's seed (:func:`scenario_streams`), never the
  global random state.  Optional ``budget``: the most additional effort a
  developer may spend per round, a number (the same for everyone) or a list
  (one per developer), each finite and ``>= 0``; omit it for no limit.
  Optional ``strategy``: how developers choose (:mod:`sim.strategies`), one
  for everyone (``"hedge"`` or ``{name = "hedge", eta = 0.1}``) or a list with
  one per developer; without it, ``dynamics.response`` decides.
* ``[score]``: ``family``; ``power_law``: ``lower``, ``upper``, ``alpha``,
  ``beta``, optional ``effort_unit`` (1); ``exp_saturation``: ``lower``,
  ``upper``, optional ``rate`` (1); ``custom``: ``function`` and optional
  ``limit``, both ``"module.path:attribute"``.  Parameters are a number, a
  list (one per developer) or ``{intercept = a, slope = b}`` meaning
  ``a + b * capability``.
* ``[cost]``: ``family``; ``linear``: ``scale``; ``power``: ``scale``,
  ``exponent``; ``flat_quadratic``: ``scale``, ``free_effort``; ``custom``:
  ``function`` (``"module:attribute"``, ``c(x)``) and ``scale``; any family:
  ``gamma``, a per-developer cost scale (list).
* ``[reward]``: ``scheme`` and its parameter (``k`` for ``top_k``, ``q``
  for ``geometric``, ``exponent`` for ``zipf``, ``values`` for ``custom``).
* ``[leaderboard]``: ``resolution`` (``1e-4``), ``tie_break``
  (``"capability"``), ``noise`` (``0``: the standard deviation of Gaussian
  evaluation noise added to each evaluated score before it is published).
* ``[designer]``: ``tau`` (``0``).
* ``[dynamics]``: ``schedule`` (``"simultaneous"``), ``rounds`` (2000),
  ``max_rounds`` (:data:`DEFAULT_MAX_ROUNDS`: deterministic dynamics that
  have not recurred within ``rounds`` play on until they do or this cap is
  reached; a cap below ``rounds`` means ``rounds``),
  ``initial`` (``"zero"``; given efforts may not exceed the budgets),
  ``revision_probability`` (asynchronous schedule only, in ``(0, 1]``,
  default :data:`DEFAULT_REVISION_PROBABILITY`), ``response`` (``"best"`` or
  ``"logit"``) and ``temperature`` (``> 0``, required by and only used by
  ``response = "logit"``).

Every problem raises :class:`~sim.errors.ScenarioError` whose ``field`` is
the dotted path of the offending key (``"score.beta"``, ``"reward.k"``) and
whose message is one line; a file that is not valid TOML or cannot be read
gets the file's path as its field.  Loading builds the
:class:`~sim.game.LeaderboardGame` once, so every error surfaces at load
time.

Custom functions are code, and a scenario file is data: loading never
imports or calls a custom ``"module:attribute"`` unless the caller allows it
for that call (``allow_custom=True`` to :func:`load_scenario` and
:func:`parse_scenario`, ``--allow-custom`` on the command line, or the
environment variable ``LBSIM_ALLOW_CUSTOM=1``); otherwise only the string's
form is checked and loading fails with a :class:`~sim.errors.ScenarioError`
that says how to allow it.  The library's own example functions
(:data:`BUILT_IN_FUNCTIONS`, in :mod:`sim.examples`) need no permission.
Allowed modules are imported without the current working directory on the
module search path (unless it is listed explicitly
in ``PYTHONPATH``): ``python -m sim`` in a directory holding a stray
``evil.py`` does not pick it up.

Custom functions are probed at load time (:data:`PROBE_EFFORTS`, for all
developers at once, for a 2-D array of efforts and for a single developer);
an exception, a NaN, a result of the wrong shape, a non-finite score or
limit, or a non-finite cost at efforts up to 1 is a
:class:`~sim.errors.ScenarioError` naming ``score.function``,
``score.limit`` or ``cost.function``.

The package, one concept per module (every name is importable from ``sim.scenario``):

* :mod:`sim.scenario.schema`: the sections, keys, kinds and limits;
* :mod:`sim.scenario.values`: strict checks of one value;
* :mod:`sim.scenario.developers`: the ``[developers]`` table and the scenario's random streams;
* :mod:`sim.scenario.sections`: the ``[leaderboard]``, ``[designer]`` and ``[dynamics]`` tables;
* :mod:`sim.scenario.spec`: the whole :class:`Scenario`, its game and its serialisation;
* :mod:`sim.scenario.probes`: custom score and cost functions probed at load time;
* :mod:`sim.scenario.custom`: custom functions named ``module:function``;
* :mod:`sim.scenario.parsing`: a TOML document parsed and checked;
* :mod:`sim.scenario.files`: a scenario file read (bounded) and loaded.
"""

from __future__ import annotations

# Importable from sim.scenario as before the split (the tests and callers name it from here).
from sim.errors import callable_path  # noqa: F401
from sim.scenario.custom import (  # noqa: F401
    ALLOW_CUSTOM_ENV,
    BUILT_IN_FUNCTIONS,
    check_callable_path,
    custom_allowed,
    import_callable,
)
from sim.scenario.developers import (  # noqa: F401
    STREAMS,
    Developers,
    SampleSpec,
    scenario_streams,
)
from sim.scenario.files import (  # noqa: F401
    MAX_FILE_BYTES,
    load_scenario,
    parse_toml_text,
    read_text_file,
    read_toml,
)
from sim.scenario.parsing import (  # noqa: F401
    parse_scenario,
)
from sim.scenario.probes import (  # noqa: F401
    PROBE_EFFORTS,
)
from sim.scenario.schema import (  # noqa: F401
    _COST_KEYS,
    _REWARD_KEYS,
    _SCORE_KEYS,
    _TOP_LEVEL_KEYS,
    DEFAULT_MAX_ROUNDS,
    DEFAULT_REVISION_PROBABILITY,
    DISTRIBUTIONS,
    INITIAL_PROFILES,
    MAX_DEVELOPERS,
    RESPONSES,
    ROUNDS_LIMIT,
    SCHEDULES,
    SCORE_FAMILIES,
)
from sim.scenario.sections import (  # noqa: F401
    DesignerSpec,
    DynamicsSpec,
    LeaderboardSpec,
)
from sim.scenario.spec import (  # noqa: F401
    Scenario,
)
from sim.scenario.values import (  # noqa: F401
    _integer,
    _shown,
)

__all__ = [
    "DEFAULT_REVISION_PROBABILITY",
    "DISTRIBUTIONS",
    "INITIAL_PROFILES",
    "MAX_DEVELOPERS",
    "PROBE_EFFORTS",
    "RESPONSES",
    "SCHEDULES",
    "SCORE_FAMILIES",
    "DesignerSpec",
    "Developers",
    "DynamicsSpec",
    "LeaderboardSpec",
    "SampleSpec",
    "Scenario",
    "ALLOW_CUSTOM_ENV",
    "BUILT_IN_FUNCTIONS",
    "callable_path",
    "custom_allowed",
    "import_callable",
    "load_scenario",
    "parse_scenario",
]
