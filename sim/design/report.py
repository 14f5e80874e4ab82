"""``lbsim design SCENARIO``: the least stabilising tau by simulation beside the theory's, its cost, and why they
differ when they do (``docs/model.md#the-designers-problem``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.design.search import (
    QUALITIES,
    TAU_MAX,
    TAU_MIN,
    DesignSettings,
    Evaluator,
    SearchResult,
    objective,
    scan_levels,
    scenario_draws,
    search,
)
from sim.theory import DEFAULT_TAU_MAX, stabilising_threshold


@dataclass(frozen=True)
class TheoryThreshold:
    """The theory's ``tau*`` over the draws (Definition 5.4, :func:`sim.theory.stabilising_threshold`).

    ``per_draw[d]`` is draw ``d``'s ``tau*`` (``inf``: never; ``nan``:
    undetermined in double precision).  ``tau_theory`` is the least ``tau``
    at or above the ``tau*`` of at least ``required`` draws (the
    ``required``-th smallest; with one draw its ``tau*``), ``None`` when
    some draw's is undetermined.  ``vouched`` is every used draw's ``vouched``.
    """

    per_draw: tuple[float, ...]
    tau_theory: float | None
    vouched: bool
    notes: tuple[str, ...]


def theory_threshold(draws: list, required: int) -> TheoryThreshold:
    values, vouched, notes = [], True, []
    for scenario in draws:
        t = stabilising_threshold(scenario.game(tau=0.0))
        values.append(float("nan") if t.tau_star is None else float(t.tau_star))
        vouched &= bool(t.vouched)
        if t.note and t.note not in notes:
            notes.append(t.note)
    # The required-th smallest; an undetermined draw could lie anywhere, so then it is unknown.
    tau_theory = None if any(math.isnan(v) for v in values) else sorted(values)[required - 1]
    return TheoryThreshold(tuple(values), tau_theory, vouched, tuple(notes))


def scan_range(scenario, settings: DesignSettings, tau_theory: float | None) -> tuple[float, float]:
    """``(tau_min, tau_max)`` of the scan: the settings', else :data:`TAU_MIN`/:data:`TAU_MAX` effort units
    (``tau_max`` raised to ten times a finite ``tau_theory`` when that is larger, at most the theory's own
    search bound :data:`sim.theory.DEFAULT_TAU_MAX`)."""
    unit = float(getattr(scenario.bound_score(), "effort_unit", 1.0) or 1.0)
    tau_min = settings.tau_min if settings.tau_min is not None else TAU_MIN * unit
    if settings.tau_max is not None:
        tau_max = settings.tau_max
    else:
        tau_max = TAU_MAX * unit
        if tau_theory is not None and math.isfinite(tau_theory):
            tau_max = max(tau_max, min(10.0 * tau_theory, DEFAULT_TAU_MAX))
    if not tau_min < tau_max:
        from sim.errors import ScenarioError

        raise ScenarioError("--tau-min", tau_min, f"must be below the scan's upper end tau_max = {tau_max}")
    return float(tau_min), float(tau_max)


def disagreement_reasons(scenario, settings: DesignSettings, result: SearchResult, theory: TheoryThreshold) -> list:
    """Why simulation and theory may differ for this scenario (each a sentence)."""
    from sim.assumptions import check_assumptions
    from sim.engine import is_deterministic

    reasons = []
    dyn = scenario.dynamics
    if settings.criterion == "ranking":
        reasons.append(f"the criterion is a ranking share >= {settings.target:g}, not convergence to the "
                       "all-zero profile: play can rank by capability while developers still spend effort")
    if not (isinstance(dyn.initial, str) and dyn.initial == "zero"):
        reasons.append(f"play starts from initial = {dyn.initial!r}, not from zero: the dynamics need not reach "
                       "the all-zero equilibrium from there (nor leave it: the theory only says when it exists)")
    if not is_deterministic(dyn.schedule, dyn.response, float(scenario.leaderboard.noise)):
        reasons.append(f"the dynamics are stochastic (schedule {dyn.schedule}, response {dyn.response}, noise "
                       f"{scenario.leaderboard.noise:g}): a stray move can leave zero even where it is an equilibrium")
    if scenario.leaderboard.resolution > 0:
        reasons.append(f"published grid (resolution {scenario.leaderboard.resolution:g}): Delta_i(tau) is a sawtooth "
                       "in tau, so the condition can hold and fail again between two levels; the bisection finds a "
                       "change, the theory enumerates every grid level and returns the last")
    names = set()
    if settings.strategies is not None:
        names = {s if isinstance(s, str) else s["name"] for s in settings.strategies}
    elif scenario.developers.strategy is not None:
        names = {s.name for s in scenario.developers.strategy}
    if names - {"best"}:
        shown = sorted(names)
        reasons.append(f"developers play strategies other than the exact best response ({shown}): the theory's "
                       "tau* is about best responses; other rules may stay at zero below it or leave it above it")
    if scenario.leaderboard.tie_break == "random":
        reasons.append("ties are broken at random: Proposition 4.5 assumes ties go to the higher capability")
    try:
        failures = check_assumptions(scenario.game(tau=0.0)).failures
    except Exception:  # noqa: BLE001 - a custom family may not support every check; then say nothing
        failures = ()
    if failures:
        names = ", ".join(f.name for f in failures)
        reasons.append(f"assumptions fail ({names}): Proposition 4.5's adjacent test and the monotonicity in tau "
                       "(Lemma 5.2) need them")
    if not theory.vouched:
        reasons.append("the theory's tau* is not vouched for: " + "; ".join(theory.notes))
    settled_from_zero = (settings.criterion == "zero" and isinstance(dyn.initial, str) and dyn.initial == "zero"
                         and is_deterministic(dyn.schedule, dyn.response, float(scenario.leaderboard.noise)))
    if result.cap_reached_runs and not settled_from_zero:  # from zero, leaving zero already decides it
        reasons.append(f"{result.cap_reached_runs} run(s) had not settled within their rounds (raise --rounds)")
    if result.non_monotone:
        shown = ", ".join(f"holds at {a:.6g}, fails again at {b:.6g}" for a, b in result.non_monotone)
        reasons.append(f"the simulated criterion is not monotone in tau ({shown})")
    return reasons


def agrees(tau_sim: float | None, tau_theory: float | None, rtol: float, atol: float = 0.0) -> bool | None:
    """``|tau_sim - tau_theory| <= max(rtol * max(tau_sim, tau_theory), atol)`` (the bisection tolerance);
    ``None`` when either is unknown, ``True`` when both say "never" within the scan."""
    if tau_theory is None:
        return None
    if tau_sim is None:
        return not math.isfinite(tau_theory) or None
    if not math.isfinite(tau_theory):
        return False
    return abs(tau_sim - tau_theory) <= max(rtol * max(tau_sim, tau_theory), atol)


def design_scenario(scenario, settings: DesignSettings, *, allow_custom: bool = False,
                    progress: bool = False) -> dict:
    """Everything ``lbsim design SCENARIO`` reports, as a JSON-ready dict (see :func:`sim.design.cli`)."""
    draws, draw_note = scenario_draws(scenario, settings, allow_custom=allow_custom)
    required = settings.required_holds(len(draws))
    theory = theory_threshold(draws, required)
    tau_min, tau_max = scan_range(scenario, settings, theory.tau_theory)
    levels = scan_levels(tau_min, tau_max, settings.per_decade)
    with Evaluator([draws], settings, progress=progress) as evaluator:
        result = search(evaluator, [levels])[0]
    n = scenario.n
    report = {
        "scenario": scenario.name,
        "n": n,
        "criterion": settings.criterion,
        "target": settings.target,
        "confidence": settings.confidence,
        "replications": settings.replications,
        "strategies": None if settings.strategies is None else list(settings.strategies),
        "draws": len(draws),
        "required_draws": required,
        "seed": settings.seed,
        "tau_theory": _finite(theory.tau_theory),
        "theory_stabilises": None if theory.tau_theory is None else bool(math.isfinite(theory.tau_theory)),
        "tau_theory_vouched": theory.vouched,
        "tau_theory_per_draw": [_finite(v) for v in theory.per_draw] if len(draws) > 1 else None,
        "tau_simulated": result.tau_simulated,
        "interval": list(result.interval) if result.interval is not None else None,
        "interval_kind": "bisection",
        "rtol": settings.rtol,
        "atol": result.atol,
        "scan": {"tau_min": tau_min, "tau_max": tau_max, "per_decade": settings.per_decade,
                 "levels": int(levels.size)},
        "non_monotone": [list(pair) for pair in result.non_monotone],
        "agrees_with_theory": agrees(result.tau_simulated, theory.tau_theory, settings.rtol, result.atol),
        "tbt_cost": settings.tbt_cost,
        "quality": settings.quality,
        "quality_measure": QUALITIES[settings.quality],
        "notes": [note for note in (draw_note, *result.notes) if note],
        "levels": [
            {"tau": row[0], "stage": row[1], "share": row[2], "ok": bool(row[3]), "quality": row[4],
             "kendall_tau": row[5]}
            for row in sorted(result.levels)
        ],
    }
    if settings.tbt_cost is not None:
        best, value, values = objective(result, n, settings.tbt_cost)
        report["objective_optimum"] = {"tau": best, "J": value}
        for row, level in zip(sorted(result.levels), report["levels"], strict=True):
            level["designer_cost"] = settings.tbt_cost * n * row[0]
            level["J"] = row[4] - settings.tbt_cost * n * row[0]
        report["recommended_tau"] = best
        report["recommended_by"] = "maximiser of J(tau) = Q(tau) - tbt_cost * n * tau over the evaluated levels"
    else:
        report["objective_optimum"] = None
        report["recommended_tau"] = result.tau_simulated
        report["recommended_by"] = "tau_simulated (no --tbt-cost)"
    ok = report["agrees_with_theory"]
    report["reasons"] = [] if ok else disagreement_reasons(scenario, settings, result, theory)
    return report


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
