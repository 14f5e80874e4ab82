"""The explorer page's settings and the data behind its panels (pure functions; no Solara, no Mesa).

The page (:mod:`sim.explore.app`) turns its controls into an
:class:`ExploreSettings`; :func:`build_scenario` turns that into a validated
:class:`sim.scenario.Scenario` (the scenario's TOML with the controls' values
written over the fields they name, then the same parser as every command, so
a bad value is the same one-line :class:`~sim.errors.ScenarioError`).  The
panels draw what the functions below prepare:

* :func:`window_trajectory` — the last ``window`` rounds as the tidy
  trajectory frame :mod:`sim.plots` draws (effort, published scores, bump
  chart of ranks), so a long run is drawn from a bounded window, not every point;
* :func:`leaderboard_rows` — the current leaderboard, rank 1 first;
* :func:`theory_lines` — ``lbsim theory --json``'s numbers (:func:`sim.cli.theory_report`):
  ``Delta_i(tau)`` against each pair's reward gap (Proposition 4.5), ``tau*``
  (Definition 5.4), whether zero is an equilibrium;
* :func:`outcome_line` — the outcome as ``lbsim run`` names it (:func:`sim.analysis.classify`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import ScenarioError
from sim.scenario.files import parse_toml_text

#: Where the bundled scenarios live (the repository's ``scenarios/`` beside the package).
SCENARIO_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios"

#: The tau slider's positions: 0, then 1-2-5 steps per decade from 1e-3 to 1e7 (a log slider that can reach 0).
TAU_STEPS: tuple[float, ...] = (0.0, *(float(f"{m}e{e}") for e in range(-3, 7) for m in (1, 2, 5)), 1e7)

REWARD_SCHEMES = ("winner_take_all", "top_k", "linear", "geometric", "zipf")
#: The parameter each reward scheme takes (``reward.<key>``), if any.
REWARD_PARAMETER = {"top_k": "k", "geometric": "q", "zipf": "exponent"}
SCHEDULES = ("simultaneous", "sequential", "random_order", "asynchronous")
RESPONSES = ("best", "logit")

#: Rounds the page keeps for drawing (the model's DataCollector keeps them all).
MAX_WINDOW = 5000
#: Rounds drawn by default.
DEFAULT_WINDOW = 200
#: Points per developer and panel drawn at most (sim.plots thins a longer window).
MAX_POINTS = 400

PASTED = "pasted scenario"


@dataclass(frozen=True)
class ExploreSettings:
    """Everything the page's controls set.  ``None`` keeps the scenario's own value.

    ``source`` names where ``text`` (the scenario's TOML) came from: a file's
    path, or :data:`PASTED` for text pasted or uploaded into the page; errors
    are reported against it as ``lbsim`` reports them against a file.
    ``developers`` and ``spread`` replace the capabilities by ``developers``
    evenly spaced values from the scenario's highest capability down by
    ``spread`` (``theta_i = top - spread * i / (n - 1)``).
    ``strategy`` (``name`` or ``name:key=value,...``, as ``lbsim design
    --strategies`` takes it) gives every developer that strategy
    (``[developers] strategy``, :mod:`sim.strategies`) instead of the response.
    """

    source: str
    text: str
    tau: float | None = None
    reward: str | None = None
    reward_parameter: float | None = None
    developers: int | None = None
    spread: float | None = None
    noise: float | None = None
    schedule: str | None = None
    response: str | None = None
    temperature: float | None = None
    strategy: str | None = None
    rounds: int | None = None


def bundled_scenarios(directory: Path = SCENARIO_DIR) -> dict[str, Path]:
    """The bundled scenario files by stem, sorted (empty when the package is installed without them)."""
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.toml"))}


def nearest_tau_step(tau: float) -> float:
    """The slider position closest to ``tau`` on a log scale (0 only for 0)."""
    if tau <= 0:
        return 0.0
    steps = np.array(TAU_STEPS[1:])
    return float(steps[np.argmin(np.abs(np.log(steps) - math.log(tau)))])


def scenario_data(settings: ExploreSettings) -> dict:
    """The scenario's TOML table with the settings written over the fields they name (not yet validated)."""
    from sim.sweeps import apply_point

    data = parse_toml_text(settings.text, settings.source)
    names: list[str] = []
    values: list = []

    def put(name, value):
        names.append(name)
        values.append(value)

    if settings.tau is not None:
        put("designer.tau", settings.tau)
    if settings.reward is not None:
        put("reward.scheme", settings.reward)
        key = REWARD_PARAMETER.get(settings.reward)
        if key is not None and settings.reward_parameter is not None:
            value = settings.reward_parameter
            put(f"reward.{key}", int(value) if key == "k" and float(value).is_integer() else value)
    if settings.developers is not None or settings.spread is not None:
        put("developers.capability", capabilities(data, settings.developers, settings.spread))
    if settings.noise is not None:
        put("leaderboard.noise", settings.noise)
    if settings.schedule is not None:
        put("dynamics.schedule", settings.schedule)
    if settings.response is not None:
        put("dynamics.response", settings.response)
        if settings.response == "logit" and settings.temperature is not None:
            put("dynamics.temperature", settings.temperature)
    if settings.strategy is not None and settings.strategy.strip():
        from sim.strategies import parse_strategy_option

        put("developers.strategy", parse_strategy_option(settings.strategy.strip(), "strategy"))
    if settings.rounds is not None:
        put("dynamics.rounds", settings.rounds)
    data = apply_point(data, names, values) if names else data
    dynamics = data.get("dynamics")
    if isinstance(dynamics, dict):  # keys the chosen schedule or response does not take
        if settings.schedule not in (None, "asynchronous"):
            dynamics.pop("revision_probability", None)
        if settings.response == "best":
            dynamics.pop("temperature", None)
        if settings.strategy is not None and settings.strategy.strip():  # the strategy replaces the response
            dynamics.pop("response", None)
            dynamics.pop("temperature", None)
    return data


def capabilities(data: dict, developers: int | None, spread: float | None) -> list[float]:
    """``developers`` capabilities evenly spaced from the scenario's highest down by ``spread``.

    ``theta_i = top - spread * i / (n - 1)`` for ``i = 0 .. n - 1``; ``top`` and
    the default ``n`` and ``spread`` (highest minus lowest) come from the
    scenario's listed capabilities, or from its ``sample`` (``high``/``low``, ``n``).
    """
    table = data.get("developers")
    table = table if isinstance(table, dict) else {}
    listed = table.get("capability")
    sample = table.get("sample") if isinstance(table.get("sample"), dict) else {}
    if isinstance(listed, list) and listed and all(isinstance(v, (int, float)) for v in listed):
        top, low, n0 = float(max(listed)), float(min(listed)), len(listed)
    else:
        top, low, n0 = float(sample.get("high", 1.0)), float(sample.get("low", 0.0)), sample.get("n", 2)
    n = n0 if developers is None else developers
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ScenarioError("developers", n, "must be a positive integer")
    spread = top - low if spread is None else spread
    if not (math.isfinite(spread) and spread >= 0):
        raise ScenarioError("capability spread", spread, "must be a finite number >= 0")
    if n == 1:
        return [top]
    return [top - spread * i / (n - 1) for i in range(n)]


def build_scenario(settings: ExploreSettings):
    """The validated scenario the settings describe (:func:`sim.scenario.parse_scenario`); custom functions refused.

    Raises the one-line :class:`ScenarioError` ``lbsim`` would print for the same TOML.
    """
    from sim.scenario import parse_scenario

    data = scenario_data(settings)
    stem = Path(settings.source).stem if settings.source != PASTED else "pasted"
    scenario = parse_scenario(data, name_hint=stem, source=settings.source)
    tau = scenario.designer.tau
    if not (math.isfinite(tau) and tau >= 0):  # the parser checks it too; a float from the slider must never pass
        raise ScenarioError("designer.tau", tau, "must be a finite number >= 0")
    return scenario


def error_line(source: str, err: ScenarioError) -> str:
    """The line ``lbsim`` prints for ``err`` about the scenario ``source`` (:func:`sim.cli.main`)."""
    where = f"{source}: " if source and err.field != str(source) else ""
    return f"lbsim: error: {where}{err}".replace("\n", " ")


# --------------------------------------------------------------------------- panels


def window_trajectory(rounds, capability, effort, score, published, rank, window: int):
    """The last ``window`` recorded rounds as a tidy frame (one row per round and developer).

    ``rounds (T,)``, ``effort``, ``score``, ``published``, ``rank`` ``(T, n)`` in
    round order; columns ``round, developer, capability, effort, score,
    published, rank`` as :meth:`sim.engine.BatchRun.trajectory`, which
    :func:`sim.plots.plot_effort`, :func:`~sim.plots.plot_scores` and
    :func:`~sim.plots.plot_rank_bump` draw.
    """
    import pandas as pd

    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    rounds = np.asarray(rounds, dtype=np.int64)[-window:]
    t, n = len(rounds), len(capability)
    cut = lambda a: np.asarray(a)[-window:].reshape(t, n)  # noqa: E731
    return pd.DataFrame(
        {
            "round": np.repeat(rounds, n),
            "developer": np.tile(np.arange(n, dtype=np.int64), t),
            "capability": np.tile(np.asarray(capability, dtype=float), t),
            "effort": cut(effort).astype(float).ravel(),
            "score": cut(score).astype(float).ravel(),
            "published": cut(published).astype(float).ravel(),
            "rank": cut(rank).astype(np.int64).ravel(),
        }
    )


def leaderboard_rows(capability, effort, published, rank, rewards, cost) -> list[dict]:
    """The current leaderboard, rank 1 first: ``rank, developer, capability, effort, published, reward, cost,
    utility`` with ``reward = r_rank`` and ``utility = reward - cost`` (``cost = gamma_i c(x_i)``, given)."""
    rank = np.asarray(rank, dtype=np.int64)
    rows = []
    for i in np.lexsort((np.arange(len(rank)), rank)):
        reward = float(rewards[rank[i] - 1])
        rows.append({
            "rank": int(rank[i]), "developer": int(i), "capability": float(capability[i]),
            "effort": float(effort[i]), "published": float(published[i]), "reward": reward,
            "cost": float(cost[i]), "utility": reward - float(cost[i]),
        })  # fmt: skip
    return rows


def fmt(value, spec: str = ".6g") -> str:
    """A number as the tables show it: ``-`` for NaN or None, ``inf`` for unreachable."""
    from sim.cli.common import _fmt

    return "-" if value is None else _fmt(value, spec)


def tau_star_text(report: dict) -> str:
    """``tau*`` as ``lbsim theory`` states it: the exact value (``repr``), ``never`` or ``undetermined``."""
    if report["stabilises"] is None:
        return f"undetermined in double precision beyond tau = {fmt(report['tau_star_undetermined_beyond'])}"
    if not report["stabilises"]:
        return "never"
    return repr(float(report["tau_star"]))


def theory_lines(report: dict) -> dict:
    """The theory panel from :func:`sim.cli.theory_report` (what ``lbsim theory --json`` prints).

    ``pairs``: one row per adjacent pair, strongest pair first: ``weaker ->
    stronger``, ``Delta_i(tau)``, its cost ``gamma_i c(Delta_i)``, the reward gap
    ``r_{i-1} - r_i`` and whether the cost covers the gap (Proposition 4.5);
    ``tau_star`` (Definition 5.4), ``zero`` (Proposition 4.5 and the exact check).
    """
    pairs = [
        {"pair": f"{b} -> {a}", "just_overtake": fmt(report["just_overtake"][k]),
         "cost": fmt(report["just_overtake_cost"][k]), "gap": fmt(report["reward_gap"][k]),
         "holds": "yes" if report["pair_holds"][k] else "no", "tau_star_i": fmt(report["tau_star_per_pair"][k])}
        for k, (a, b) in enumerate(report["pairs"])
    ]  # fmt: skip
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    return {
        "tau": repr(float(report["tau"])),
        "pairs": pairs,
        "tau_star": tau_star_text(report),
        "tau_star_short": fmt(report["tau_star"], ".8g") if report["stabilises"] else tau_star_text(report),
        "zero": f"Proposition 4.5: {yes(report['zero_is_equilibrium'])}; "
        f"exact check: {yes(report['zero_is_equilibrium_exact'])}",
        "zero_is_equilibrium": bool(report["zero_is_equilibrium_exact"]),
    }


_OUTCOME_NAMES = {
    "converged_zero": "converged to zero effort",
    "converged_nonzero": "converged to a profile with effort",
    "cycle": "arms race (cycle)",
    "no_convergence": "no convergence",
}


def outcome_line(outcome: dict | None, round_now: int = 0) -> str:
    """One line for the outcome panel: ``"arms race (cycle), period 20, entered at round 0"``;
    ``"not known yet (round t)"`` before it is (``outcome`` None)."""
    if outcome is None:
        return f"not known yet (round {round_now})"
    text = _OUTCOME_NAMES.get(outcome["outcome"], outcome["outcome"])
    if outcome.get("period") is not None:
        text += f", period {outcome['period']}"
    if outcome.get("entered_at") is not None:
        text += f", entered at round {outcome['entered_at']}"
    if outcome["outcome"] == "no_convergence" and outcome.get("cap_reached"):
        text += f" within the cap of {outcome.get('max_rounds')} rounds"
    return text
