"""The designer's search: the least tune-before-test level at which play settles, by simulation.

The designer commits to ``tau``, the developers then play (a Stackelberg game).
With ``Q(tau)`` the ranking quality of the tail of play and ``P`` the
designer's uncertainty (the scenario's random parts: sampled capabilities,
evaluation noise, random initial profiles, random schedules; ``R``
replications with seeds split up front), the least stabilising level is

    tau_sim = min {tau : P(criterion holds at tau) >= confidence},

found by a scan over ``{0} + log-spaced levels`` and a bisection of the last
failing / first holding pair of levels to a relative tolerance ``rtol``
(``docs/model.md#the-designers-problem``); then ``verify`` levels between the
bisected level and the second scan level above the bracket are probed, and where one fails
the last failure is bracketed and bisected again (the condition is a
sawtooth on a published grid, so a failure can hide between two levels).  The same ``R`` seeds are used at
every ``tau`` (common random numbers).  A level that holds below a level that
fails is reported as a non-monotone pattern, never hidden; the bracket is the
last change.

Criteria (:data:`CRITERIA`):

* ``zero``: the run converged to the all-zero profile (``converged_zero``);
* ``ranking``: the published ranking equals the capability ranking in at least
  ``target`` of the tail rounds.

For deterministic best responses from the all-zero profile, zero is a fixed
point of the dynamics exactly when it is a pure Nash equilibrium, and the
theory's ``tau*`` (Definition 5.4) is where that starts to hold for good: then
``tau_sim`` equals ``tau*`` up to the bisection tolerance (when the condition
is monotone, Lemma 5.2).

With a TbT cost ``k`` per unit of ``tau`` per model evaluated, the designer's
objective is ``J(tau) = E[Q(tau)] - k * n * tau`` (after Definition 3.4's
``U_D(tau) = R [ranking correct] - n C(tau)``, with ``R = 1`` and
``C(tau) = k tau``), ``Q`` the mean over draws of the share of tail rounds
ranked by capability.  Its maximiser is taken over the evaluated levels
(scan and bisection).

Runs are spread over ``n_jobs`` worker processes (joblib); every run is
independent of which others share its batch (:mod:`sim.engine`), so the
results are identical for any number of workers.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from sim.engine import batch_key, run_batch, uses_randomness
from sim.errors import ScenarioError

CRITERIA = ("zero", "ranking")
#: Ranking-quality measures ``Q`` of the tail: share of rounds ranked exactly by capability (Definition 3.4's
#: indicator, averaged), or the mean Kendall tau between the published and the capability ranking.
QUALITIES = {
    "ranking_share": "share of tail rounds ranked by capability (mean over draws)",
    "kendall_tau": "mean tail Kendall tau between published and capability ranking (mean over draws)",
}
#: Default share of tail rounds ranked by capability for ``criterion = "ranking"``.
DEFAULT_TARGET = 0.95
DEFAULT_CONFIDENCE = 0.95
#: Default relative tolerance of the bisection: it stops when ``hi - lo <= max(rtol * hi, atol)`` with
#: ``atol = rtol * tau_min`` (below the scan's least positive level, a relative tolerance would never stop).
DEFAULT_RTOL = 1e-3
#: Default scan, in effort units: ``{0}`` and ``per_decade`` levels a decade from ``TAU_MIN`` to ``TAU_MAX``.
TAU_MIN = 1e-3
TAU_MAX = 1e6
PER_DECADE = 4
#: Most bisection steps (a relative tolerance of 1e-12 needs about 40 from a scan step).
MAX_BISECTIONS = 200
#: Levels probed between the bisected level and the second scan level above the bracket, to catch a failure
#: the scan and the bisection stepped over (a sawtooth on a published grid); ``--verify`` sets it, 0 turns it off.
VERIFY = 16
#: Most rounds of probing and bisecting again.
MAX_REFINEMENTS = 8


@dataclass(frozen=True)
class DesignSettings:
    """What the designer asks (validated on construction; errors name the command-line option).

    ``rounds`` and ``max_rounds`` override the scenario's (``max_rounds``
    defaults to ``rounds``: a designer's run is not played on to find a long
    cycle, a run that has not settled within its rounds does not count as
    settled).  ``tau_min``/``tau_max`` bound the log-spaced scan (``None``:
    :data:`TAU_MIN`/:data:`TAU_MAX` effort units, ``tau_max`` raised to ten
    times the theory's ``tau*`` when that is larger).
    """

    criterion: str = "zero"
    target: float | None = None
    confidence: float = DEFAULT_CONFIDENCE
    replications: int = 1
    seed: int = 0
    rounds: int | None = None
    max_rounds: int | None = None
    tail_window: int | None = None
    tau_min: float | None = None
    tau_max: float | None = None
    per_decade: int = PER_DECADE
    rtol: float = DEFAULT_RTOL
    tbt_cost: float | None = None
    n_jobs: int = 1
    quality: str = "ranking_share"
    verify: int = VERIFY
    strategies: tuple | None = None  # strategy specs the developers' strategies are drawn from, per draw


    def __post_init__(self):
        if self.criterion not in CRITERIA:
            raise ScenarioError("--criterion", self.criterion, f"must be one of {', '.join(CRITERIA)}")
        if self.quality not in QUALITIES:
            raise ScenarioError("--quality", self.quality, f"must be one of {', '.join(QUALITIES)}")
        if self.target is not None:
            if self.criterion != "ranking":
                raise ScenarioError("--target", self.target, "applies only with --criterion ranking")
            if not (math.isfinite(self.target) and 0 < self.target <= 1):
                raise ScenarioError("--target", self.target, "must be in (0, 1]")
        elif self.criterion == "ranking":
            object.__setattr__(self, "target", DEFAULT_TARGET)
        if not (math.isfinite(self.confidence) and 0 < self.confidence <= 1):
            raise ScenarioError("--confidence", self.confidence, "must be in (0, 1]")
        if isinstance(self.verify, bool) or not isinstance(self.verify, (int, np.integer)) or self.verify < 0:
            raise ScenarioError("--verify", self.verify, "must be an integer >= 0")
        for name in ("replications", "n_jobs", "per_decade"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ScenarioError(f"--{name.replace('_', '-')}", value, "must be an integer >= 1")
        for name in ("rounds", "max_rounds", "tail_window"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                      or value < 1):
                raise ScenarioError(f"--{name.replace('_', '-')}", value, "must be an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ScenarioError("--seed", self.seed, "must be an integer >= 0")
        if not (math.isfinite(self.rtol) and 0 < self.rtol < 1):
            raise ScenarioError("--rtol", self.rtol, "must be in (0, 1)")
        for name in ("tau_min", "tau_max"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ScenarioError(f"--{name.replace('_', '-')}", value, "must be a finite number > 0")
        if self.tau_min is not None and self.tau_max is not None and not self.tau_min < self.tau_max:
            raise ScenarioError("--tau-min", self.tau_min, f"must be below --tau-max = {self.tau_max}")
        if self.tbt_cost is not None and not (math.isfinite(self.tbt_cost) and self.tbt_cost >= 0):
            raise ScenarioError("--tbt-cost", self.tbt_cost, "must be a finite number >= 0")
        if self.strategies is not None:
            from sim.strategies import make_strategy, parse_strategy_option

            specs = tuple(parse_strategy_option(s, f"--strategies[{k}]") if isinstance(s, str) else s
                          for k, s in enumerate(self.strategies))
            if not specs:
                raise ScenarioError("--strategies", list(self.strategies), "name at least one strategy")
            for k, spec in enumerate(specs):
                make_strategy(spec, f"--strategies[{k}]")  # unknown names and parameters: one-line errors
            object.__setattr__(self, "strategies", specs)

    def required_holds(self, draws: int) -> int:
        """Least number of the ``draws`` in which the criterion must hold: ``ceil(confidence * draws)``.

        Computed in integers where possible (``confidence * draws`` within 1e-9 of an integer counts as it),
        so that round-off never raises or lowers the bar.
        """
        product = self.confidence * draws
        nearest = round(product)
        return int(nearest) if abs(product - nearest) <= 1e-9 * max(1.0, product) else int(math.ceil(product))


# --------------------------------------------------------------------------- draws


def draw_seeds(seed: int, replications: int) -> list[int]:
    """``replications`` scenario seeds split up front from ``SeedSequence(seed)`` (one child each)."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)) for child in children]


def scenario_draws(scenario, settings: DesignSettings, *, allow_custom: bool = False) -> tuple[list, str | None]:
    """The scenario once per replication, re-seeded (its sampled capabilities, noise and so on drawn afresh).

    A scenario that draws nothing from its seed (:func:`sim.engine.uses_randomness`) gives the same run for
    every seed: it is run once, and the note says so.

    With ``settings.strategies`` (what the designer does not know about the developers' behaviour), each
    draw also gives every developer a strategy drawn uniformly from that list, from its own stream
    (``SeedSequence(seed).spawn`` per draw, independent of the scenario's seed); the same draws serve every
    tau (common random numbers).
    """
    from sim.scenario import parse_scenario

    if settings.strategies is not None and len(settings.strategies) > 1:
        data = scenario.to_dict()
        draws = []
        streams = np.random.SeedSequence([settings.seed, 1]).spawn(settings.replications)
        for s, stream in zip(draw_seeds(settings.seed, settings.replications), streams, strict=True):
            picks = np.random.default_rng(stream).integers(len(settings.strategies), size=scenario.n)
            data["seed"] = s
            data["developers"] = {**data["developers"], "strategy": [settings.strategies[k] for k in picks]}
            draws.append(parse_scenario(data, name_hint=scenario.name, allow_custom=allow_custom))
        return draws, None
    if settings.strategies is not None:  # one strategy for every developer: the scenario with it
        data = scenario.to_dict()
        data["developers"] = {**data["developers"], "strategy": settings.strategies[0]}
        scenario = parse_scenario(data, name_hint=scenario.name, allow_custom=allow_custom)
    if not uses_randomness(scenario):
        note = None
        if settings.replications > 1:
            note = (f"the scenario draws nothing at random: its {settings.replications} replications would be "
                    "identical, so it runs once")
        return [scenario], note
    data = scenario.to_dict()
    draws = []
    for s in draw_seeds(settings.seed, settings.replications):
        data["seed"] = s
        draws.append(parse_scenario(data, name_hint=scenario.name, allow_custom=allow_custom))
    return draws, None


# --------------------------------------------------------------------------- evaluation

#: Columns of one evaluated run (one problem, one tau, one draw).
RUN_FIELDS = ("problem", "tau", "draw", "outcome", "ranking_correct_share", "kendall_tau_tail",
              "top1_correct_share", "total_effort_tail", "cap_reached")


@dataclass(frozen=True)
class RunTask:
    """Runs to play in one worker: scenarios with their levels, and the keys to label the rows."""

    scenarios: tuple
    taus: tuple
    keys: tuple  # (problem, draw) per scenario
    rounds: int | None
    max_rounds: int | None
    tail_window: int | None


def _play_task(task: RunTask) -> list[tuple]:
    """Play one task's runs, grouped by batch key; one row of :data:`RUN_FIELDS` per run, in task order."""
    rows: list = [None] * len(task.scenarios)
    groups: dict = {}
    for j, scenario in enumerate(task.scenarios):
        groups.setdefault(batch_key(scenario), []).append(j)
    for members in groups.values():
        scenarios = [task.scenarios[j] for j in members]
        rounds = task.rounds if task.rounds is not None else max(s.dynamics.rounds for s in scenarios)
        max_rounds = task.max_rounds if task.max_rounds is not None else rounds
        result = run_batch(scenarios, rounds=rounds, tau=[task.taus[j] for j in members], record="tail",
                           tail_window=task.tail_window, max_rounds=max(max_rounds, rounds))
        for k, j in enumerate(members):
            o = result.outcome(k)
            problem, draw = task.keys[j]
            rows[j] = (problem, task.taus[j], draw, o.outcome, float(o.ranking_correct_share),
                       float(o.kendall_tau_tail), float(o.top1_correct_share), float(o.total_effort_tail),
                       bool(o.cap_reached))
    return rows


class Evaluator:
    """Plays (problem, tau, draw) runs in parallel and remembers them (a level is never played twice).

    ``problems[p]`` is the list of draws (scenarios) of problem ``p``.  Runs
    are cut into pieces for ``n_jobs`` workers in a fixed order; each run's
    result does not depend on its piece, so neither does anything here.
    """

    def __init__(self, problems: list[list], settings: DesignSettings, progress: bool = False):
        self.problems = problems
        self.settings = settings
        self.rows: dict[tuple[int, float], list[tuple]] = {}
        self.progress = progress
        self._bar = None
        self._pool = None

    def __enter__(self):
        if self.settings.n_jobs > 1:
            from joblib import Parallel

            from sim.sweeps.workers import warm_loky_backend  # the sweeps' warm workers, shared

            self._pool = Parallel(n_jobs=self.settings.n_jobs, backend=warm_loky_backend())
            self._pool.__enter__()
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=0, unit="run", desc="lbsim design", dynamic_ncols=True, leave=False)
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        if self._pool is not None:
            self._pool.__exit__(*exc)
        return False

    def evaluate(self, wanted: list[tuple[int, float]]) -> None:
        """Play every draw of problem ``p`` at ``tau`` for each ``(p, tau)`` in ``wanted`` not played yet."""
        todo = [(p, float(t)) for p, t in dict.fromkeys(wanted) if (p, float(t)) not in self.rows]
        if not todo:
            return
        runs = [(p, t, d) for p, t in todo for d in range(len(self.problems[p]))]
        if self._bar is not None:
            self._bar.total += len(runs)
            self._bar.refresh()
        s = self.settings
        pieces = max(1, min(len(runs), 4 * s.n_jobs)) if s.n_jobs > 1 else 1
        bounds = np.linspace(0, len(runs), pieces + 1).round().astype(int)
        tasks = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            part = runs[a:b]
            if part:
                tasks.append(RunTask(tuple(self.problems[p][d] for p, _, d in part), tuple(t for _, t, _ in part),
                                     tuple((p, d) for p, _, d in part), s.rounds, s.max_rounds, s.tail_window))
        if self._pool is not None:
            from joblib import delayed

            results = self._pool(delayed(_play_task)(task) for task in tasks)
        else:
            results = map(_play_task, tasks)
        for rows in results:
            for row in rows:
                self.rows.setdefault((row[0], row[1]), []).append(row)
            if self._bar is not None:
                self._bar.update(len(rows))
        for key in todo:
            self.rows[key].sort(key=lambda row: row[2])

    def holds(self, p: int, tau: float) -> np.ndarray:
        """Per draw: does the criterion hold at ``tau``?"""
        s = self.settings
        rows = self.rows[(p, float(tau))]
        if s.criterion == "zero":
            return np.array([row[3] == "converged_zero" for row in rows])
        return np.array([row[4] >= s.target for row in rows])

    def ok(self, p: int, tau: float) -> bool:
        """The criterion holds in at least ``confidence`` of the draws."""
        holds = self.holds(p, tau)
        return int(holds.sum()) >= self.settings.required_holds(holds.size)

    def quality(self, p: int, tau: float) -> float:
        """``Q(tau)``: the mean over draws of the tail measure ``settings.quality`` (:data:`QUALITIES`)."""
        column = 4 if self.settings.quality == "ranking_share" else 5
        return float(np.mean([row[column] for row in self.rows[(p, float(tau))]]))


# --------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class SearchResult:
    """The least stabilising level of one problem and the levels evaluated on the way.

    ``tau_simulated`` is the upper end of the final bracket ``interval = (lo,
    hi)`` (the criterion fails at ``lo`` and holds at ``hi``; ``hi - lo <=
    max(rtol * hi, atol)``, ``atol = rtol * tau_min``), ``0`` when it holds at every scanned level, ``None`` when it
    still fails at ``tau_max``.  ``levels`` rows: ``tau, stage (scan |
    bisection), share (of draws where it holds), ok, quality, kendall_tau``.
    ``non_monotone`` lists ``(tau_holds, tau_fails_again)`` seen in the scan.
    """

    tau_simulated: float | None
    interval: tuple[float, float] | None
    draws: int
    required: int
    levels: tuple[tuple, ...]
    non_monotone: tuple[tuple[float, float], ...]
    tau_max: float
    cap_reached_runs: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    atol: float = 0.0

    def level_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self.levels),
                            columns=["tau", "stage", "share", "ok", "quality", "kendall_tau"]).sort_values("tau")


def scan_levels(tau_min: float, tau_max: float, per_decade: int) -> np.ndarray:
    """``{0}`` and log-spaced levels from ``tau_min`` to ``tau_max``, ``per_decade`` a decade (both ends in)."""
    count = max(2, int(math.ceil(per_decade * math.log10(tau_max / tau_min))) + 1)
    return np.concatenate([[0.0], np.geomspace(tau_min, tau_max, count)])


def _bisect(evaluator: Evaluator, lo: np.ndarray, hi: np.ndarray, bracketed: np.ndarray, atol: np.ndarray,
            stage: dict, label: str) -> None:
    """Bisect every bracketed problem at once, in place: fails at ``lo``, holds at ``hi`` (geometric midpoints,
    arithmetic from 0) until ``hi - lo <= max(rtol * hi, atol)``."""
    s = evaluator.settings
    for _ in range(MAX_BISECTIONS):
        active = bracketed & (hi - lo > np.maximum(s.rtol * hi, atol))
        if not active.any():
            break
        mid = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * hi)
        mid = np.where(active & (lo < mid) & (mid < hi), mid, np.nan)
        active &= np.isfinite(mid)
        if not active.any():
            break
        wanted = [(int(p), float(mid[p])) for p in np.flatnonzero(active)]
        for key in wanted:
            stage.setdefault(key, label)
        evaluator.evaluate(wanted)
        for p, t in wanted:
            if evaluator.ok(p, t):
                hi[p] = t
            else:
                lo[p] = t


def search(evaluator: Evaluator, scan: list[np.ndarray]) -> list[SearchResult]:
    """Scan every problem's levels, then bisect every bracketed problem at once (see the module docstring)."""
    s = evaluator.settings
    P = len(scan)
    evaluator.evaluate([(p, t) for p in range(P) for t in scan[p]])
    lo = np.zeros(P)
    hi = np.zeros(P)
    atol = np.array([s.rtol * float(levels[levels > 0].min()) if np.any(levels > 0) else 0.0 for levels in scan])
    # The stretch verified above each bracket: (hi, upper), up to the second scan level above the bracket.
    upper = np.zeros(P)
    found = np.zeros(P, dtype=bool)
    bracketed = np.zeros(P, dtype=bool)
    patterns: list[list] = [[] for _ in range(P)]
    for p in range(P):
        ok = np.array([evaluator.ok(p, t) for t in scan[p]])
        if ok.all():
            found[p] = True
            continue
        last = int(np.flatnonzero(~ok)[-1])
        if last == ok.size - 1:
            continue  # still fails at tau_max
        # holds at some level below a level where it fails again: report it
        for k in range(last):
            if ok[k] and (k == 0 or not ok[k - 1]):  # a run of holding levels, then a failure again
                again = k + 1 + int(np.flatnonzero(~ok[k + 1:])[0])
                patterns[p].append((float(scan[p][k]), float(scan[p][again])))
        lo[p], hi[p] = scan[p][last], scan[p][last + 1]
        upper[p] = scan[p][min(last + 2, ok.size - 1)]
        found[p] = bracketed[p] = True
    stage: dict[tuple[int, float], str] = {(p, float(t)): "scan" for p in range(P) for t in scan[p]}
    _bisect(evaluator, lo, hi, bracketed, atol, stage, "bisection")
    for _ in range(MAX_REFINEMENTS if s.verify else 0):
        probes = {int(p): np.geomspace(hi[p], upper[p], s.verify + 2)[1:-1] for p in np.flatnonzero(bracketed)
                  if upper[p] > hi[p] * (1 + s.rtol) and hi[p] > 0}
        if not probes:
            break
        wanted = [(p, float(t)) for p, ts in probes.items() for t in ts]
        for key in wanted:
            stage.setdefault(key, "verify")
        evaluator.evaluate(wanted)
        again = np.zeros(P, dtype=bool)
        for p, ts in probes.items():
            fails = [float(t) for t in ts if not evaluator.ok(p, t)]
            if fails:  # held at hi, fails again above it: bracket the last failure and bisect again
                t = max(fails)
                above = [float(x) for x in ts if x > t]
                patterns[p].append((float(hi[p]), t))
                lo[p], hi[p] = t, (above[0] if above else float(upper[p]))
                upper[p] = hi[p]
                again[p] = True
            else:
                upper[p] = hi[p]  # verified: nothing failed on the probes above hi
        if not again.any():
            break
        _bisect(evaluator, lo, hi, again, atol, stage, "bisection")
    results = []
    for p in range(P):
        keys = sorted(k for k in evaluator.rows if k[0] == p)
        levels = []
        cap = 0
        for key in keys:
            rows = evaluator.rows[key]
            holds = evaluator.holds(*key)
            cap += sum(row[8] for row in rows)
            levels.append((key[1], stage.get(key, "scan"), float(holds.mean()), evaluator.ok(*key),
                           evaluator.quality(*key), float(np.nanmean([row[5] for row in rows]))
                           if any(np.isfinite(row[5]) for row in rows) else float("nan")))
        draws = len(evaluator.problems[p])
        notes = []
        if not found[p]:
            notes.append(f"the criterion still fails at tau_max = {scan[p][-1]:.6g}: raise --tau-max")
        tau_sim = None if not found[p] else (float(hi[p]) if bracketed[p] else 0.0)
        interval = None if not found[p] else ((float(lo[p]), float(hi[p])) if bracketed[p] else (0.0, 0.0))
        results.append(SearchResult(tau_sim, interval, draws, s.required_holds(draws), tuple(levels),
                                    tuple(patterns[p]), float(scan[p][-1]), cap, tuple(notes), float(atol[p])))
    return results


def objective(result: SearchResult, n: int, tbt_cost: float) -> tuple[float, float, list[float]]:
    """``J(tau) = Q(tau) - k n tau`` at every evaluated level; ``(argmax tau, max J, J per level)``.

    Ties go to the smallest ``tau`` (the cheaper level).
    """
    taus = np.array([row[0] for row in result.levels])
    quality = np.array([row[4] for row in result.levels])
    order = np.argsort(taus, kind="stable")
    values = quality - tbt_cost * n * taus
    best = order[int(np.argmax(values[order]))]
    return float(taus[best]), float(values[best]), values.tolist()


def progress_wanted(quiet: bool) -> bool:
    """A progress bar unless ``--quiet`` or standard error is not a terminal."""
    return not quiet and sys.stderr.isatty()
