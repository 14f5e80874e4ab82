"""``lbsim design --from-data``: calibrate the generalised power law to observed scores and carry the
uncertainty of the scores through to the recommended tune-before-test level.

Data: rows ``(model, effort, score[, stderr][, capability])`` from a CSV
file, or the bundled lm-harmony set (:mod:`sim.realdata`) on one benchmark:
effort 0 = direct evaluation, effort 1 = after one train-before-test run.

1. **Fit** (:func:`sim.calibration.fit_power_law`, the paper's regression of
   ``logit((s - L)/(U - L))`` on ``log(1 + e/e0)`` per model) at fixed
   ``L, U``.  With two distinct efforts per model the fit is exactly
   identified: the curve passes through both points, its residuals say
   nothing about its quality, and everything beyond the observed efforts is
   extrapolation.  :func:`underdetermined_warning` says so.
2. **Scenario** (:meth:`sim.calibration.PowerLawFit.to_scenario`): one
   developer per model, capability given (CSV column ``capability``, or PC1
   of the train-before-test scores on the 24 lm-harmony tasks), else the score
   at the largest effort observed for every model; top-``k`` reward, linear
   cost, a published resolution.
3. **Parametric bootstrap**: ``B`` draws ``s*_j = s_j + stderr_j * z_j``,
   ``z_j ~ N(0, 1)`` (one generator from ``SeedSequence(seed)``), each refitted
   (normalised scores clipped to ``[CLIP, 1 - CLIP]``) and carried through the
   theory's ``tau*`` (Definition 5.4) and the simulated least stabilising
   ``tau`` (:mod:`sim.design.search`).  A draw whose refit has some
   ``beta <= 0`` (a score that no longer rises with effort) has no power-law
   scenario and is counted as unusable.  The recommended ``tau`` is the
   median of the usable draws' simulated ``tau`` (with ``--tbt-cost``: of
   their maximisers of ``J``), with the 5% and 95% quantiles as its 90%
   interval (``inverted_cdf`` quantiles: "never" counts as ``+inf``).
4. **Hardest pair**: the adjacent pair with the largest ``kappa_i ** rho_i``
   (Proposition 5.6; :func:`sim.theory.power_law_quantities`): the reward gap
   is worth ``g_i`` effort units, catching up at ``tau = 0`` takes
   ``Delta_i(0)``, ``kappa_i = g_i / Delta_i(0)``, and ``tau*`` grows like
   ``e0 * kappa_i ** rho_i`` with ``rho_i = beta_i / beta_{i-1}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import ScenarioError

#: Name of the bundled data set for ``--from-data``.
LM_HARMONY = "lm-harmony"
#: Chance accuracy (1 / number of answer choices; 0 for generated answers) of the lm-harmony task
#: benchmarks: the lower level ``L`` of the fit.  ``U = 1`` (perfect accuracy).
CHANCE = {
    "anli_r1": 1 / 3, "arc_challenge": 0.25, "arc_easy": 0.25, "boolq": 0.5, "cola": 0.5,
    "commonsense_qa": 0.2, "gsm8k": 0.0, "headqa_en": 0.25, "hellaswag": 0.25, "mathqa": 0.2,
    "medmcqa": 0.25, "mnli": 1 / 3, "mrpc": 0.5, "nq_open": 0.0, "openbookqa": 0.25, "piqa": 0.5,
    "qnli": 0.5, "qqp": 0.5, "rte": 0.5, "sciq": 0.25, "social_iqa": 1 / 3, "sst2": 0.5, "wic": 0.5,
    "winogrande": 0.5,
}  # fmt: skip
#: A model's direct score must exceed chance by more than this many standard errors (lm-harmony candidates).
MIN_Z = 2.0
#: Suffixes of instruction-tuned variants (post-trained copies of a base model; not lm-harmony candidates).
TUNED_TAGS = ("-Chat", "-Instruct", "-it")
#: Clipping of the normalised score in the bootstrap refits (a resampled score may leave ``(L, U)``).
CLIP = 1e-6


@dataclass(frozen=True)
class DataGame:
    """The game built around the calibrated curves (the command-line options ``--top-k`` etc.)."""

    top_k: int = 3
    cost_scale: float = 0.25
    resolution: float = 0.001
    rounds: int = 200
    lower: float | None = None
    upper: float | None = None
    models: int = 10

    def __post_init__(self):
        for name in ("top_k", "rounds", "models"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ScenarioError(f"--{name.replace('_', '-')}", value, "must be an integer >= 1")
        if not (math.isfinite(self.cost_scale) and self.cost_scale > 0):
            raise ScenarioError("--cost-scale", self.cost_scale, "must be a finite number > 0")
        if not (math.isfinite(self.resolution) and self.resolution >= 0):
            raise ScenarioError("--resolution", self.resolution, "must be a finite number >= 0")
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ScenarioError(f"--{name}", value, "must be a finite number")


@dataclass(frozen=True)
class Observations:
    """What the fit sees: ``rows`` (``model, effort, score, stderr``), capability per model, ``L, U``, origin."""

    rows: pd.DataFrame
    capability: dict
    lower: float
    upper: float
    source: str
    capability_from: str


# --------------------------------------------------------------------------- reading


def read_csv(path, game: DataGame) -> Observations:
    """Rows ``model, effort, score[, stderr][, capability]`` from a CSV file (errors name the column)."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ScenarioError("--from-data", str(path), "no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ScenarioError("--from-data", str(path), f"cannot read as CSV: {' '.join(str(err).split())}") from None
    missing = [c for c in ("model", "effort", "score") if c not in frame.columns]
    if missing:
        raise ScenarioError("--from-data", str(path), f"missing column(s) {missing}; found {list(frame.columns)}")
    extra = sorted(set(frame.columns) - {"model", "effort", "score", "stderr", "capability"})
    if extra:
        raise ScenarioError("--from-data", str(path), f"unknown column(s) {extra}")
    if frame.empty:
        raise ScenarioError("--from-data", str(path), "has no rows")
    rows = pd.DataFrame({"model": frame["model"].astype(str)})
    for column in ("effort", "score", "stderr"):
        if column not in frame.columns:
            rows[column] = 0.0
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | ((values < 0) if column != "score" else False)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ScenarioError(column, frame[column].iloc[k],
                                f"row {k + 1} (model {rows['model'].iloc[k]}): must be a finite number"
                                + (" >= 0" if column != "score" else ""))
        rows[column] = values
    if "capability" in frame.columns:
        cap = pd.to_numeric(frame["capability"], errors="coerce")
        per_model = pd.DataFrame({"model": rows["model"], "c": cap}).groupby("model", sort=False)["c"]
        if per_model.nunique().max() > 1 or cap.isna().any() or not np.isfinite(cap).all():
            raise ScenarioError("capability", "column", "must be one finite number per model")
        capability, origin = per_model.first().to_dict(), "the capability column"
    else:
        top = rows.groupby("model", sort=False)["effort"].transform("max")
        last = rows[rows["effort"] == top].groupby("model", sort=False)["score"].mean()
        capability, origin = last.to_dict(), "the score at each model's largest observed effort"
    lower = 0.0 if game.lower is None else game.lower
    upper = 1.0 if game.upper is None else game.upper
    return Observations(rows.reset_index(drop=True), capability, lower, upper, str(path), origin)


def is_base_model(model: str) -> bool:
    """A pretrained base model: the name carries none of :data:`TUNED_TAGS`."""
    return not any(str(model).endswith(tag) or f"{tag}-" in str(model) for tag in TUNED_TAGS)


def read_lm_harmony(benchmark: str | None, game: DataGame) -> Observations:
    """One lm-harmony benchmark: ``game.models`` base models spread over the PC1 range.

    Candidates: base models whose direct accuracy exceeds chance by more
    than :data:`MIN_Z` standard errors and rises under train-before-test
    (else ``beta <= 0``).  For each of ``game.models`` evenly spaced PC1
    targets the nearest unused candidate (as the bundled
    ``lm_harmony_calibrated`` scenario chooses them).  Capability = PC1.
    """
    from sim.realdata import (
        TASK_BENCHMARKS,
        effort_trajectories,
        first_principal_component,
        load_lm_harmony,
        wide_matrix,
    )

    if benchmark is None:
        raise ScenarioError("--benchmark", None, f"--from-data {LM_HARMONY} needs a benchmark: one of "
                            f"{', '.join(TASK_BENCHMARKS)}")
    if benchmark not in TASK_BENCHMARKS:
        raise ScenarioError("--benchmark", benchmark, f"not an lm-harmony task; one of {', '.join(TASK_BENCHMARKS)}")
    frame = load_lm_harmony()
    pc1, _ = first_principal_component(wide_matrix(frame, "train_before_test", TASK_BENCHMARKS))
    points = effort_trajectories(frame, benchmark, tbt_effort=1.0)
    lower = CHANCE[benchmark] if game.lower is None else game.lower
    upper = 1.0 if game.upper is None else game.upper
    wide = points.pivot(index="model", columns="effort", values=["score", "stderr"])
    direct, tbt = wide[("score", 0.0)], wide[("score", 1.0)]
    ok = (direct - lower > MIN_Z * wide[("stderr", 0.0)].fillna(0.0)) & (tbt > direct) & (tbt < upper)
    pool = pc1.reindex([m for m in wide.index[ok.to_numpy()] if is_base_model(m)]).dropna().sort_values()
    if len(pool) < 2:
        raise ScenarioError("--benchmark", benchmark, f"fewer than two usable models ({len(pool)}) above chance "
                            f"L = {lower:g} that improve with train-before-test")
    k = min(game.models, len(pool))
    chosen: list[str] = []
    for target in np.linspace(pool.iloc[0], pool.iloc[-1], k):
        left = pool.drop(chosen)
        chosen.append(str((left - target).abs().idxmin()))
    chosen.sort(key=lambda m: -pc1[m])
    rows = points[points["model"].isin(chosen)].copy()
    rows["model"] = pd.Categorical(rows["model"], categories=chosen, ordered=True)
    rows = rows.sort_values(["model", "effort"])
    rows["model"] = rows["model"].astype(str)
    rows["stderr"] = rows["stderr"].fillna(0.0)
    capability = {m: float(pc1[m]) for m in chosen}
    return Observations(rows.reset_index(drop=True), capability, lower, upper,
                        f"{LM_HARMONY}:{benchmark}", "PC1 of the train-before-test scores on the 24 lm-harmony tasks")


def observations(source: str, benchmark: str | None, game: DataGame) -> Observations:
    """``--from-data SOURCE [--benchmark NAME]``: the bundled set or a CSV file."""
    if source == LM_HARMONY:
        return read_lm_harmony(benchmark, game)
    if benchmark is not None:
        raise ScenarioError("--benchmark", benchmark, f"applies only with --from-data {LM_HARMONY}")
    if not Path(source).exists():
        raise ScenarioError("--from-data", source, f"no such file (or give {LM_HARMONY})")
    return read_csv(source, game)


# --------------------------------------------------------------------------- fit and scenario


def underdetermined_warning(rows: pd.DataFrame) -> str | None:
    """A warning when some model has only two distinct efforts (the fit passes exactly through both)."""
    distinct = rows.groupby("model", sort=False)["effort"].nunique()
    two = list(distinct.index[distinct == 2])
    if not two:
        return None
    who = "every model" if len(two) == len(distinct) else f"{len(two)} of {len(distinct)} models"
    verb = "has" if who == "every model" else "have"
    return (f"underdetermined fit: {who} {verb} only two distinct efforts, so each such "
            "curve passes exactly through both points (zero residual); the data cannot test the power law, "
            "and every score beyond the largest observed effort is an extrapolation, not a measurement")


def fit(rows: pd.DataFrame, obs: Observations, clip: float | None = None):
    from sim.calibration import fit_power_law

    return fit_power_law(rows, lower=obs.lower, upper=obs.upper, effort_unit=1.0, clip=clip)


def scenario_of(fitted, obs: Observations, game: DataGame, name: str):
    """The power-law scenario of a fit (:meth:`~sim.calibration.PowerLawFit.to_scenario`), parsed."""
    from sim.scenario import parse_scenario

    n = len(fitted.models)
    data = fitted.to_scenario(obs.capability, name=name, cost_scale=game.cost_scale,
                              reward={"scheme": "top_k", "k": min(game.top_k, max(1, n - 1))},
                              resolution=game.resolution, rounds=game.rounds)
    return parse_scenario(data, name_hint=name)


def bootstrap_rows(rows: pd.DataFrame, draws: int, seed: int) -> list[pd.DataFrame]:
    """``draws`` resampled copies of ``rows``: ``score + stderr * z``, ``z ~ N(0, 1)`` from one generator."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    z = rng.standard_normal((draws, len(rows)))
    scores = rows["score"].to_numpy() + rows["stderr"].to_numpy() * z
    out = []
    for b in range(draws):
        copy = rows.copy()
        copy["score"] = scores[b]
        out.append(copy)
    return out


def hardest_pair(scenario, models: list[str]) -> dict | None:
    """The adjacent pair (capability order) with the largest ``kappa ** rho`` (Proposition 5.6), and why."""
    from sim.theory import power_law_quantities, stabilising_threshold

    game = scenario.game(tau=0.0)
    q = power_law_quantities(game)
    if q is None or q.kappa.size == 0:
        return None
    order = game.capability_order
    with np.errstate(all="ignore"):
        growth = np.where(np.isfinite(q.kappa), q.kappa**q.rho, -np.inf)
    k = int(np.argmax(growth))
    per_pair = stabilising_threshold(game).per_pair
    sets = int(np.nanargmax(np.where(np.isfinite(per_pair), per_pair, np.inf))) if per_pair.size else None
    stronger, weaker = models[order[k]], models[order[k + 1]]
    why = (f"{weaker} against {stronger}: the reward gap is worth g = {q.reward_gap_effort[k]:.4g} effort units "
           f"while catching up at tau = 0 takes Delta(0) = {q.baseline_catch_up[k]:.4g}, so kappa = "
           f"{q.kappa[k]:.4g}; with rho = beta_weaker / beta_stronger = {q.rho[k]:.4g}, tau* grows like "
           f"e0 * kappa**rho = {q.predicted_tau_star[k]:.4g} (Proposition 5.6)")
    return {
        "pair": k + 1, "stronger": stronger, "weaker": weaker, "kappa": float(q.kappa[k]), "rho": float(q.rho[k]),
        "D": float(q.D[k]), "catch_up_at_zero": float(q.baseline_catch_up[k]),
        "reward_gap_effort": float(q.reward_gap_effort[k]), "kappa_pow_rho": float(growth[k]),
        "predicted_tau_star": float(q.predicted_tau_star[k]),
        "pair_setting_tau_star": None if sets is None else sets + 1,
        "why": why,
    }


def quantiles(values, probs=(0.05, 0.5, 0.95)) -> list[float | None]:
    """``inverted_cdf`` quantiles (no interpolation, so ``inf`` for "never" is kept as such); ``None`` for nan."""
    v = np.asarray([np.inf if x is None else x for x in values], dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return [None] * len(probs)
    return [float(x) for x in np.quantile(v, probs, method="inverted_cdf")]


# --------------------------------------------------------------------------- the design from data


def design_from_data(obs: Observations, game: DataGame, settings, *, bootstrap: int = 200,
                     progress: bool = False) -> dict:
    """Everything ``lbsim design --from-data`` reports, as a JSON-ready dict (see the module docstring).

    ``settings`` is a :class:`sim.design.search.DesignSettings`; its seed seeds the bootstrap.  Problem 0 of
    the search is the point fit, problems ``1..B`` the usable bootstrap draws, all searched together.
    """
    from sim.design.report import _finite, agrees, disagreement_reasons, scan_range, theory_threshold
    from sim.design.search import QUALITIES, Evaluator, objective, scan_levels, search

    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 1:
        raise ScenarioError("--bootstrap", bootstrap, "must be an integer >= 1")
    name = "design-" + obs.source.replace(":", "-").replace("/", "-").replace(".", "-")[-60:]
    point = fit(obs.rows, obs)
    models = list(point.models)
    base = scenario_of(point, obs, game, name)
    alphas, betas, scenarios, unusable = [], [], [], 0
    for rows in bootstrap_rows(obs.rows, bootstrap, settings.seed):
        refit = fit(rows, obs, clip=CLIP)
        try:
            scenarios.append(scenario_of(refit, obs, game, name))
        except ScenarioError:
            unusable += 1
            continue
        alphas.append(refit.alpha)
        betas.append(refit.beta)
    problems = [[base]] + [[s] for s in scenarios]
    theory = [theory_threshold(p, 1) for p in problems]
    scans = [scan_levels(*scan_range(p[0], settings, t.tau_theory), settings.per_decade)
             for p, t in zip(problems, theory, strict=True)]
    with Evaluator(problems, settings, progress=progress) as evaluator:
        results = search(evaluator, scans)
    n = base.n
    sims = [r.tau_simulated for r in results[1:]]
    stars = [t.tau_theory for t in theory[1:]]
    if settings.tbt_cost is not None:
        picks = [objective(r, n, settings.tbt_cost)[0] for r in results[1:]]
        by = "median over the bootstrap draws of each draw's maximiser of J(tau) = Q(tau) - tbt_cost * n * tau"
    else:
        picks = sims
        by = "median over the bootstrap draws of the simulated least stabilising tau"
    low, median, high = quantiles(picks)
    a = np.array(alphas) if alphas else np.empty((0, n))
    b = np.array(betas) if betas else np.empty((0, n))
    fit_rows = []
    for k, m in enumerate(models):
        qa = quantiles(a[:, k]) if a.size else [None] * 3
        qb = quantiles(b[:, k]) if b.size else [None] * 3
        fit_rows.append({"model": m, "capability": float(obs.capability[m]), "alpha": float(point.alpha[k]),
                         "beta": float(point.beta[k]), "alpha_90": [qa[0], qa[2]], "beta_90": [qb[0], qb[2]],
                         "rms": float(point.rms[k]), "n_points": int(point.n_points[k])})
    hardest = hardest_pair(base, models)
    shares: dict = {}
    for s in scenarios:
        h = hardest_pair(s, models)
        if h is not None:
            shares[h["pair"]] = shares.get(h["pair"], 0) + 1
    if hardest is not None and scenarios:
        hardest["share_of_draws"] = shares.get(hardest["pair"], 0) / len(scenarios)
    tau_theory = theory[0].tau_theory
    report = {
        "source": obs.source,
        "scenario": name,
        "n": n,
        "models": models,
        "capability_from": obs.capability_from,
        "lower": obs.lower,
        "upper": obs.upper,
        "game": {"top_k": min(game.top_k, max(1, n - 1)), "cost_scale": game.cost_scale,
                 "resolution": game.resolution, "rounds": game.rounds},
        "criterion": settings.criterion,
        "target": settings.target,
        "confidence": settings.confidence,
        "replications": settings.replications,
        "rtol": settings.rtol,
        "tau_theory": _finite(tau_theory),
        "theory_stabilises": None if tau_theory is None else bool(math.isfinite(tau_theory)),
        "tau_simulated": results[0].tau_simulated,
        "simulated_interval": list(results[0].interval) if results[0].interval is not None else None,
        "agrees_with_theory": agrees(results[0].tau_simulated, tau_theory, settings.rtol, results[0].atol),
        "bootstrap": bootstrap,
        "bootstrap_usable": len(scenarios),
        "bootstrap_unusable": unusable,
        "tau_theory_quantiles": quantiles(stars),
        "tau_simulated_quantiles": quantiles(sims),
        "recommended_tau": median,
        "interval": [low, high],
        "interval_kind": "bootstrap 90% (5% and 95% quantiles)",
        "recommended_by": by,
        "tbt_cost": settings.tbt_cost,
        "quality": settings.quality,
        "quality_measure": QUALITIES[settings.quality],
        "hardest_pair": hardest,
        "fit": fit_rows,
        "warning": underdetermined_warning(obs.rows),
        "levels": [{"tau": row[0], "stage": row[1], "share": row[2], "ok": bool(row[3]), "quality": row[4],
                    "kendall_tau": row[5]} for row in sorted(results[0].levels)],
        "draws": [{"tau_theory": _finite(t), "tau_simulated": s, "pick": p}
                  for t, s, p in zip(stars, sims, picks, strict=True)],
        "observations": obs.rows.to_dict(orient="list"),
        "curves": {"alpha": point.alpha.tolist(), "beta": point.beta.tolist(), "effort_unit": 1.0},
    }
    ok = report["agrees_with_theory"]
    report["reasons"] = [] if ok else disagreement_reasons(base, settings, results[0], theory[0])
    if settings.tbt_cost is not None:
        best, value, _ = objective(results[0], n, settings.tbt_cost)
        report["objective_optimum"] = {"tau": best, "J": value}
    else:
        report["objective_optimum"] = None
    return report
