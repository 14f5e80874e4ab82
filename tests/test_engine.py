"""Tests for the batch engine (sim.engine): exact responses, schedules, behaviours, theory against simulation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import assumption_games, scenario_from_game

from sim import analysis, engine, theory
from sim.engine import (
    DRAW_BLOCK,
    BatchGame,
    CandidateCache,
    DynamicsRandom,
    batch_key,
    effort_ceiling,
    run,
    run_batch,
    uses_randomness,
)
from sim.examples import sampled_arms_race
from sim.game import best_responses, utility_tolerance
from sim.leaderboard import grid_index, least_score_at_index
from sim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def two_developer_race(resolution=0.01, scale=0.02, rounds=400, schedule="simultaneous") -> dict:
    """Winner-take-all, two developers, linear cost, tau = 0, published to ``resolution``."""
    return {
        "name": "race",
        "seed": 3,
        "developers": {"capability": [1.0, 0.5]},
        "score": {
            "family": "power_law",
            "lower": 0.25,
            "upper": 0.95,
            "alpha": {"intercept": -2.0, "slope": 2.0},
            "beta": {"intercept": 0.3, "slope": 0.2},
        },
        "cost": {"family": "linear", "scale": scale},
        "reward": {"scheme": "winner_take_all"},
        "leaderboard": {"resolution": resolution},
        "designer": {"tau": 0.0},
        "dynamics": {"schedule": schedule, "rounds": rounds},
    }


# ---------------------------------------------------------------------------
# The response kernel agrees with the core's exact best response
# ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=6), data=st.data())
def test_respond_equals_core_best_responses(game, data):
    """Same efforts, scores, ranks and utilities as sim.game.best_responses, to the bit, with or without cache."""
    n = game.n
    profiles = data.draw(
        st.lists(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n), min_size=1, max_size=3)
    )
    batch = BatchGame.from_games([game] * len(profiles))
    x = np.array(profiles)
    rows = np.broadcast_to(np.arange(n), x.shape)
    cache = CandidateCache(batch)
    for use_cache in (None, cache, cache):  # the second pass with the cache reuses every entry
        got = batch.respond(batch.scores(x), rows, cache=use_cache)
        for s, profile in enumerate(x):
            want = best_responses(game, profile)
            np.testing.assert_array_equal(got.effort[s], want.effort)
            np.testing.assert_array_equal(got.rank[s], want.rank)
            np.testing.assert_array_equal(got.utility[s], want.utility)
            np.testing.assert_array_equal(got.score[s], want.score)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_respond_equals_core_on_bundled_scenarios(path):
    scenario = load_scenario(path)
    games = [scenario.game(tau) for tau in (0.0, 3.0, 300.0)]
    batch = BatchGame.from_games(games)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.exponential(rng.choice([0.1, 10.0, 1000.0]), size=batch.shape) * (rng.random(batch.shape) < 0.7)
        got = batch.respond(batch.scores(x), np.broadcast_to(np.arange(batch.shape[1]), batch.shape))
        for s, game in enumerate(games):
            want = best_responses(game, x[s])
            np.testing.assert_array_equal(got.effort[s], want.effort)
            np.testing.assert_array_equal(got.rank[s], want.rank)


def test_grid_functions_take_one_resolution_per_scenario():
    """Per-scenario resolutions give exactly what the scalar rule gives row by row (0 = exact scores)."""
    rng = np.random.default_rng(1)
    scores = rng.random((3, 7))
    delta = np.array([0.0, 1e-4, 0.01])
    levels = grid_index(scores, delta[:, None])
    for s, d in enumerate(delta):
        np.testing.assert_array_equal(levels[s], grid_index(scores[s], float(d)))
    idx = np.array([[3.0, 30.0], [7.0, 9999.0]])
    res = np.array([[0.1], [1e-4]])
    got = least_score_at_index(idx, res)
    for s in range(2):
        np.testing.assert_array_equal(got[s], least_score_at_index(idx[s], float(res[s, 0])))


def test_batch_rejects_incompatible_games():
    a = load_scenario(ROOT / "scenarios" / "two_developers.toml").game()
    b = load_scenario(ROOT / "scenarios" / "flat_cost.toml").game()
    with pytest.raises(ValueError, match="cannot share a batch"):
        BatchGame.from_games([a, b])


def test_reach_bounds_what_can_pay():
    """Above the reach no effort can beat zero effort; at the reach the cost is still within the reward span."""
    scenario = load_scenario(ROOT / "scenarios" / "winner_take_all_5.toml")
    batch = BatchGame.from_games([scenario.game(0.0), scenario.game(50.0)])
    span = batch.rewards[:, :1] - batch.rewards[:, -1:]
    largest = effort_ceiling(batch)
    assert np.all(batch.gamma * batch.cost(largest) <= span * (1 + 1e-12))
    assert np.all(batch.gamma * batch.cost(largest * (1 + 1e-9)) > span)
    np.testing.assert_array_less(batch.baseline, batch.reach)


# ---------------------------------------------------------------------------
# Theory against simulation
# ---------------------------------------------------------------------------


def _shares_a_level(game) -> bool:
    base = theory.baseline_scores(game)
    levels = grid_index(base, game.resolution)
    return np.unique(levels).size < levels.size


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(game=assumption_games(max_n=5))
def test_zero_start_stays_at_zero_iff_proposition_4_5(game):
    """Simultaneous best responses from zero: stay at zero iff the all-zero profile is a PNE (Proposition 4.5);
    otherwise (strictly increasing cost) no round repeats the previous one (no PNE exists: Theorem 4.6)."""
    result = run(scenario_from_game(game, rounds=40))
    effort = result.effort[0]
    exact = theory.zero_is_equilibrium_exact(game)
    stays = bool(np.all(effort == 0.0))
    assert stays == exact
    if not _shares_a_level(game):  # Prop 4.5's adjacent test is exact unless developers share a published level
        assert stays == theory.zero_is_equilibrium(game)
    if not stays:
        assert not np.any(np.all(effort[1:] == effort[:-1], axis=1))
        assert result.outcome(0).outcome in ("cycle", "no_convergence")
    else:
        assert result.outcome(0).outcome == "converged_zero"


def test_two_developer_race_cycles_with_the_hand_computed_period():
    """Winner-take-all, delta > 0, linear cost, tau = 0 (simultaneous responses).

    By hand: the strong developer S starts on top.  Let l_1 be one grid level
    above S's zero-effort level and w_k the least effort that lifts the weak
    developer W to level l_k = l_1 + k - 1, s_k the least that lifts S to
    l_k (S wins ties).  Round 1: W buys l_1 (x = (0, w_1)); round 2: S draws
    level and wins the tie (s_1, w_1); round 3: W climbs (s_1, w_2); ... so
    x(2k-1) = (s_{k-1}, w_k) and x(2k) = (s_k, w_k), while W can pay, i.e.
    for k <= K with K the largest k with 1 - c(w_k) > tolerance.  Round
    2K+1: W cannot pay for l_{K+1} and drops to zero; round 2K+2: S drops to
    zero too, and the race restarts from (0, 0): period 2K + 2, entered at 0.
    """
    scenario = parse_scenario(two_developer_race())
    game = scenario.game()
    strong, weak = game.score[0], game.score[1]
    delta, c = game.resolution, game.cost
    level_1 = float(grid_index(strong.score(0.0), delta)) + 1
    w, s = [], []
    k = 0
    while True:
        target = least_score_at_index(level_1 + k, delta)
        w_k = float(weak.effort_to_reach(target))
        s_k = float(strong.effort_to_reach(target))
        margin = 1.0 - float(c(w_k))
        assert abs(margin) > 1e-6, "parameters too close to the drop-out boundary for a hand computation"
        if margin < 0:
            break
        w.append(w_k)
        s.append(s_k)
        k += 1
    K = len(w)
    assert K >= 3
    result = run(scenario, rounds=6 * K + 10)
    outcome = result.outcome(0)
    assert outcome.outcome == "cycle"
    assert outcome.period == 2 * K + 2
    assert outcome.entered_at == 0
    effort = result.effort[0]
    # Efforts climb step by step (the closed-form inverse is exact to within a few ulps of the forward check).
    for k in range(1, K + 1):
        np.testing.assert_allclose(effort[2 * k - 1], [s[k - 2] if k > 1 else 0.0, w[k - 1]], rtol=1e-9)
        np.testing.assert_allclose(effort[2 * k], [s[k - 1], w[k - 1]], rtol=1e-9)
    assert effort[2 * K + 1, 1] == 0.0 and effort[2 * K + 1, 0] > 0
    np.testing.assert_array_equal(effort[2 * K + 2], [0.0, 0.0])
    # The weak developer is on top exactly on odd rounds of the climb.
    ranks = result.rank[0]
    assert [int(ranks[2 * k - 1, 1]) for k in range(1, K + 1)] == [1] * K
    assert [int(ranks[2 * k, 0]) for k in range(1, K + 1)] == [1] * K


def test_bundled_arms_race_is_that_race():
    """scenarios/arms_race.toml is the hand-computed race above (and says so): period 20, entered at round 0."""
    bundled = load_scenario(ROOT / "scenarios" / "arms_race.toml")
    race = parse_scenario(two_developer_race(rounds=200))
    assert bundled.to_dict() | {"name": "race", "seed": 3} == race.to_dict() | {"name": "race", "seed": 3}
    outcome = run(bundled).outcome(0)
    assert (outcome.outcome, outcome.period, outcome.entered_at) == ("cycle", 20, 0)


def test_arms_race_stops_from_the_stabilising_threshold():
    """At tau >= tau* (Definition 5.4) nobody games the benchmark: the run stays at zero; just below, it does not."""
    scenario = load_scenario(ROOT / "scenarios" / "arms_race.toml")
    tau_star = theory.stabilising_threshold(scenario.game()).tau_star
    assert 0 < tau_star < np.inf
    assert run(scenario, tau=tau_star, rounds=50).outcome(0).outcome == "converged_zero"
    below = 0.999 * tau_star
    assert not theory.zero_is_equilibrium_exact(scenario.game(below))  # a sawtooth could hold here; this one fails
    assert run(scenario, tau=below, rounds=50).outcome(0).outcome != "converged_zero"


def test_flat_cost_reaches_a_nonzero_fixed_point():
    """Flat-then-quadratic cost (not strictly increasing): from a start inside the free region every effort is a
    best response, so play stays there: converged_nonzero, here even with the weaker developer ranked first."""
    data = _load_dict(ROOT / "scenarios" / "flat_cost.toml")
    data["dynamics"] = {"rounds": 30, "initial": [0.0, 0.9]}
    result = run(parse_scenario(data))
    outcome = result.outcome(0)
    assert outcome.outcome == "converged_nonzero"
    assert outcome.period is None  # a fixed point is not a cycle
    np.testing.assert_array_equal(result.effort[0, -1], [0.0, 0.9])
    assert result.rank[0, -1, 1] == 1  # rank-inverting
    assert outcome.ranking_correct_share == 0.0


def test_flat_cost_from_zero_stays_at_zero():
    data = _load_dict(ROOT / "scenarios" / "flat_cost.toml")
    data["dynamics"] = {"rounds": 10}
    assert run(parse_scenario(data)).outcome(0).outcome == "converged_zero"


def _load_dict(path) -> dict:
    import tomllib

    return tomllib.loads(Path(path).read_text())


# ---------------------------------------------------------------------------
# Schedules and behaviours
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
@pytest.mark.parametrize("schedule", ["simultaneous", "sequential", "random_order", "asynchronous"])
def test_every_bundled_scenario_runs(path, schedule):
    data = _load_dict(path)
    data.setdefault("dynamics", {})
    data["dynamics"].update({"rounds": 6, "max_rounds": 6, "schedule": schedule})
    data["dynamics"].pop("revision_probability", None)
    scenario = parse_scenario(data, name_hint=path.stem)
    a, b = run(scenario), run(scenario)
    n = scenario.n
    assert a.effort.shape == (1, 7, n)
    assert np.all(np.isfinite(a.effort)) and np.all(a.effort >= 0)
    np.testing.assert_array_equal(a.effort, b.effort)  # same seed, same run
    frame = a.trajectory(0)
    assert len(frame) == 7 * n
    assert sorted(set(frame["rank"])) == list(range(1, n + 1))
    np.testing.assert_allclose(frame["utility"], frame["reward"] - frame["cost"])
    assert a.outcome(0).outcome in ("converged_zero", "converged_nonzero", "cycle", "no_convergence")


def test_sequential_schedule_lets_later_developers_see_earlier_moves():
    """Sequential: within a round the weak developer (id 1) responds to the strong one's new effort."""
    scenario = parse_scenario(two_developer_race(schedule="sequential", rounds=4))
    effort = run(scenario).effort[0]
    # Round 1: S (id 0) is on top and keeps 0; W then climbs one level.  Round 2: S answers, then W climbs again.
    assert effort[1, 0] == 0.0 and effort[1, 1] > 0
    assert effort[2, 0] > 0 and effort[2, 1] > effort[1, 1]


def test_asynchronous_revisions_follow_the_probability():
    data = two_developer_race(schedule="asynchronous", rounds=600)
    data["dynamics"]["revision_probability"] = 0.3
    data["developers"] = {"capability": [1.0, 0.9, 0.8, 0.7]}
    scenario = parse_scenario(data)
    result = run(scenario)
    draws = DynamicsRandom(scenario.seed, scenario.n)
    revised = np.array([draws.revision() < 0.3 for _ in range(600)])
    changed = result.effort[0, 1:] != result.effort[0, :-1]
    assert not np.any(changed & ~revised)  # only revisers move
    assert 0.25 < revised.mean() < 0.35


def test_random_order_is_seeded_and_changes_between_rounds():
    data = two_developer_race(schedule="random_order", rounds=50)
    data["developers"] = {"capability": [1.0, 0.9, 0.8, 0.7, 0.6]}
    a = run(parse_scenario(data))
    data["seed"] = 4
    b = run(parse_scenario(data))
    draws = DynamicsRandom(3, 5)
    orders = {tuple(draws.order()) for _ in range(50)}
    assert len(orders) > 10
    assert not np.array_equal(a.effort, b.effort)


def test_draw_streams_do_not_depend_on_buffering():
    draws = DynamicsRandom(11, 4)
    rows = np.array([draws.choice() for _ in range(DRAW_BLOCK + 5)])
    from sim.engine import dynamics_streams

    direct = np.random.default_rng(dynamics_streams(11)["choice"]).random((2 * DRAW_BLOCK, 4))[: DRAW_BLOCK + 5]
    np.testing.assert_array_equal(rows, direct)


def test_budget_caps_effort():
    data = two_developer_race(rounds=200)
    data["developers"]["budget"] = [1e9, 20.0]
    scenario = parse_scenario(data)
    result = run(scenario)
    assert result.effort[0, :, 1].max() <= 20.0
    unconstrained = run(parse_scenario(two_developer_race(rounds=200)))
    assert unconstrained.effort[0, :, 1].max() > 20.0


def test_logit_response_is_seeded_and_near_best_response_when_cold():
    data = two_developer_race(rounds=60)
    data["dynamics"].update({"response": "logit", "temperature": 1e-6})
    cold = run(parse_scenario(data))
    best = run(parse_scenario(two_developer_race(rounds=60)))
    # With a tiny temperature the logit choice is the best candidate (ties aside): same ranks every round.
    np.testing.assert_array_equal(cold.rank, best.rank)
    data["dynamics"]["temperature"] = 0.5
    hot_a, hot_b = run(parse_scenario(data)), run(parse_scenario(data))
    np.testing.assert_array_equal(hot_a.effort, hot_b.effort)
    assert hot_a.outcome(0).period is None or hot_a.outcome(0).outcome.startswith("converged")
    assert not hot_a.outcome(0).deterministic


def test_noise_changes_published_scores_but_not_true_ones():
    data = two_developer_race(rounds=20)
    data["leaderboard"]["noise"] = 0.01
    noisy = run(parse_scenario(data))
    true = noisy.game.scores(noisy.effort[0])
    np.testing.assert_array_equal(noisy.score[0], true)
    delta = noisy.game.resolution[0]
    assert np.any(np.abs(noisy.published[0] - np.floor(true / delta) * delta) > 1.5 * delta)
    assert not noisy.outcome(0).deterministic


def test_random_initial_profile_is_below_the_ceiling_and_seeded():
    data = two_developer_race(rounds=3)
    data["dynamics"]["initial"] = "random"
    scenario = parse_scenario(data)
    a, b = run(scenario), run(scenario)
    np.testing.assert_array_equal(a.effort[0, 0], b.effort[0, 0])
    ceiling = effort_ceiling(a.game)[0]
    assert np.all(a.effort[0, 0] > 0) and np.all(a.effort[0, 0] <= ceiling)


def _effort_ceiling_all_steps(game):
    """``effort_ceiling`` as first written: the doubling, then all 200 bisection steps (no early stop)."""
    span = (game.rewards[:, 0] - game.rewards[:, -1])[:, None] * np.ones(game.shape)
    within = lambda x: game.gamma * game.cost(x) <= span  # noqa: E731
    lo, hi = np.zeros(game.shape), np.ones(game.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(1100):
            grow = within(hi) & np.isfinite(hi)
            if not grow.any():
                break
            lo, hi = np.where(grow, hi, lo), np.where(grow, hi * 2.0, hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            ok = within(mid)
            lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.minimum(lo, game.budget)


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_effort_ceiling_stopping_at_a_fixed_point_equals_all_200_steps(path):
    scenario = load_scenario(path)
    game = BatchGame.from_games([scenario.game(0.0), scenario.game(1.0)])
    np.testing.assert_array_equal(effort_ceiling(game), _effort_ceiling_all_steps(game))
    unit = game.rewards / np.where(np.ptp(game.rewards, axis=1, keepdims=True) > 0,
                                   np.ptp(game.rewards, axis=1, keepdims=True), 1.0)
    for span in (1.0, 1e-300, 1e300):  # ordinary, tiny and huge reward spans
        scaled = dataclasses.replace(game, rewards=unit * span)
        np.testing.assert_array_equal(effort_ceiling(scaled), _effort_ceiling_all_steps(scaled))
    unbounded = dataclasses.replace(game, rewards=np.where(game.rewards == game.rewards.max(), np.inf, 0.0))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(effort_ceiling(unbounded), _effort_ceiling_all_steps(unbounded))


# ---------------------------------------------------------------------------
# Batches, recording and reproducibility
# ---------------------------------------------------------------------------


def test_a_scenario_runs_the_same_alone_or_in_a_batch():
    base = two_developer_race(schedule="random_order", rounds=80)
    scenarios = []
    for seed, tau in [(1, 0.0), (2, 5.0), (3, 50.0)]:
        data = dict(base, seed=seed, designer={"tau": tau})
        data["leaderboard"] = {"resolution": 0.01, "noise": 0.001 * seed}
        scenarios.append(parse_scenario(data))
    together = run_batch(scenarios)
    for k, scenario in enumerate(scenarios):
        alone = run(scenario)
        np.testing.assert_array_equal(together.effort[k], alone.effort[0])
        np.testing.assert_array_equal(together.keys[k], alone.keys[0])


def test_tail_recording_keeps_keys_and_the_last_rounds():
    scenario = parse_scenario(two_developer_race(rounds=300))
    full = run(scenario)
    tail = run(scenario, record="tail", tail_window=50)
    assert tail.effort.shape == (1, 50, 2) and tail.first_round == 251
    np.testing.assert_array_equal(tail.effort[0], full.effort[0, -50:])
    np.testing.assert_array_equal(tail.rank[0], full.rank[0, -50:])
    np.testing.assert_array_equal(tail.keys, full.keys)
    assert tail.outcome(0).outcome == full.outcome(0).outcome == "cycle"
    assert tail.outcome(0).period == full.outcome(0).period
    frame = tail.trajectory(0)
    assert frame["round"].min() == 251 and frame["round"].max() == 300


def test_tau_override_and_batch_key():
    scenario = parse_scenario(two_developer_race(rounds=5))
    result = run_batch([scenario, scenario], tau=[0.0, 1e4])
    assert list(result.game.tau) == [0.0, 1e4]
    assert batch_key(scenario) == batch_key(parse_scenario(dict(two_developer_race(), seed=9)))
    other = dataclasses.replace(scenario, dynamics=dataclasses.replace(scenario.dynamics, schedule="sequential"))
    assert batch_key(other) != batch_key(scenario)
    with pytest.raises(ValueError, match="cannot share a batch"):
        run_batch([scenario, other])


def test_leaderboard_frame_measures():
    result = run(parse_scenario(two_developer_race(rounds=40)))
    board = result.leaderboard(0)
    assert list(board.columns) == ["round", "ranking_correct", "kendall_tau", "total_effort", "rank_changes"]
    ranks = result.rank[0]
    correct = ranks[:, 0] == 1
    np.testing.assert_array_equal(board["ranking_correct"], correct)
    np.testing.assert_allclose(board["kendall_tau"], np.where(correct, 1.0, -1.0))
    np.testing.assert_allclose(board["total_effort"], result.effort[0].sum(axis=1))
    assert board["rank_changes"].iloc[0] == 0
    np.testing.assert_array_equal(board["rank_changes"].iloc[1:], 2 * (ranks[1:, 0] != ranks[:-1, 0]))


def test_tolerance_is_the_game_tolerance():
    scenario = load_scenario(ROOT / "scenarios" / "top3_of_10.toml")
    batch = BatchGame.from_games([scenario.game()])
    assert batch.tolerance[0] == utility_tolerance(scenario.rewards)


def test_rounds_must_be_positive():
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="dynamics.rounds"):
        run(parse_scenario(two_developer_race()), rounds=0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=4, resolution=1e-3), schedule=st.sampled_from(["simultaneous", "sequential"]))
def test_deterministic_runs_that_recur_repeat_exactly(game, schedule):
    """A reported cycle or fixed point really repeats: x(t + p) == x(t) for every stored round after entry."""
    result = run(scenario_from_game(game, schedule=schedule, rounds=120, max_rounds=1000))
    outcome = result.outcome(0)
    assume(outcome.entered_at is not None)
    p, t0 = outcome.period or 1, outcome.entered_at
    part, j = result.part(0)  # a run played on past 120 rounds keeps its records there
    effort = part.effort[j]
    np.testing.assert_array_equal(effort[t0 + p :], effort[t0 : effort.shape[0] - p])


def test_run_batch_rejects_bad_arguments_by_name():
    from sim.errors import ScenarioError

    scenario = parse_scenario(two_developer_race(rounds=3))
    with pytest.raises(ValueError, match="at least one scenario"):
        run_batch([])
    with pytest.raises(ValueError, match="tau must be a number or one value per scenario"):
        run_batch([scenario, scenario], tau=[1.0, 2.0, 3.0])
    with pytest.raises(ScenarioError, match="designer.tau"):
        run_batch([scenario], tau=-1.0)
    with pytest.raises(ValueError, match="tail_window"):
        run_batch([scenario], record="tail", tail_window=0)
    with pytest.raises(ValueError, match="record"):
        run_batch([scenario], record="everything")


def test_huge_rewards_and_starts_keep_the_recurrence_tolerance_in_scale():
    """Efforts as large as doubles allow (rewards of 1e300, a start at 1e13) still get state keys."""
    data = two_developer_race(rounds=120)
    data["reward"] = {"scheme": "custom", "values": [1e300, 0.0]}
    outcome = run(parse_scenario(data)).outcome(0)
    assert outcome.outcome in ("cycle", "no_convergence", "converged_zero", "converged_nonzero")
    data = two_developer_race(rounds=10)
    data["dynamics"]["initial"] = [1e13, 0.0]
    result = run(parse_scenario(data))
    assert result.effort[0, 0, 0] == 1e13 and np.all(np.isfinite(result.effort))


# ---------------------------------------------------------------------------
# Exact recurrences are replayed, not computed again, with identical results
# ---------------------------------------------------------------------------


def _run_both_ways(scenarios, monkeypatch, **kwargs):
    from sim import engine

    monkeypatch.setattr(engine, "REPLAY_RECURRENCES", True)
    fast = run_batch(scenarios, **kwargs)
    monkeypatch.setattr(engine, "REPLAY_RECURRENCES", False)
    slow = run_batch(scenarios, **kwargs)
    for name in ("effort", "score", "published", "rank", "keys"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        bits = lambda v: np.ascontiguousarray(v).view(np.uint8)  # noqa: E731
        assert np.array_equal(bits(a), bits(b)), name  # bit for bit
    return fast


def _race_batch(count, n, rounds):
    return [
        parse_scenario(sampled_arms_race(n, seed=50 + k, tau=float(tau), rounds=rounds, name=f"race-{k}"))
        for k, tau in enumerate(np.linspace(0.0, 20.0, count))
    ]


@pytest.mark.parametrize("record", ["full", "tail"])
def test_replayed_recurrences_give_the_computed_run(monkeypatch, record):
    """Arms races that recur (periods from 1 to hundreds) give the same bits with and without replay."""
    # "full" records rounds 0..400 only, so it pins max_rounds = 400 (playing on would go unrecorded); "tail" keeps
    # the default horizon, whose last rounds (played on past 400 until recurrence) are the ones it records.
    horizon = {"max_rounds": 400} if record == "full" else {}
    result = _run_both_ways(_race_batch(40, 5, 400), monkeypatch, record=record, **horizon)
    assert sum(o.outcome == "cycle" for o in result.outcomes()) > 5


def test_replay_with_a_short_history_gives_the_computed_run(monkeypatch):
    """When the history holds fewer rounds than the run, recurrences found early are still replayed exactly."""
    from sim import engine

    monkeypatch.setattr(engine, "RECURRENCE_HISTORY_ENTRIES", 20 * 4 * 30)
    _run_both_ways(_race_batch(20, 4, 300), monkeypatch, record="full")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=assumption_games(max_n=5), initial=st.sampled_from(["zero", "random"]))
def test_replay_equals_computing_on_random_games(game, initial):
    """Random games (grid or exact scores, any start): replaying a recurrence changes no bit of the run."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _run_both_ways([scenario_from_game(game, rounds=80, initial=initial)], monkeypatch, record="full")


def test_recurrence_detects_the_first_exact_repeat():
    from sim.engine import Recurrence

    rec = Recurrence(2, 3, 10)
    profiles = [np.array([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]), np.array([[1.0, 1.0, 2.0], [-0.0, 5.0, 5.0]])]
    scores = [p + 0.5 for p in profiles]
    active = rec.observe(0, profiles[0], scores[0]).copy()
    assert active.all()
    active = rec.observe(1, profiles[1], scores[1]).copy()
    assert active.all()
    # Scenario 0 returns to round 0's profile; scenario 1 to one that equals round 0's but for the sign of zero.
    active = rec.observe(2, np.array([[0.0, 1.0, 2.0], [0.0, 5.0, 5.0]]), scores[0]).copy()
    assert list(active) == [False, True]
    assert rec.start[0] == 0 and rec.period[0] == 2
    nxt, nxt_score = np.full((2, 3), np.nan), np.full((2, 3), np.nan)
    rec.replay(2, nxt, nxt_score)
    np.testing.assert_array_equal(nxt[0], profiles[1][0])  # x(3) = x(1)
    np.testing.assert_array_equal(nxt_score[0], scores[1][0])
    assert np.isnan(nxt[1]).all() and np.isnan(nxt_score[1]).all()  # not recurring: left alone


# ---------------------------------------------------------------------------
# Horizon: deterministic runs play on until they recur (or reach max_rounds)
# ---------------------------------------------------------------------------


def _without_cap(outcome) -> dict:
    out = outcome.to_dict()
    out.pop("max_rounds")
    return out


@pytest.mark.parametrize("record", ["full", "tail"])
def test_a_run_cut_off_by_its_rounds_plays_on_to_the_cycle(record):
    """A cycle longer than the rounds is found, with the period and entry a long plain run finds, and the
    outcome is that of a plain run to the round the recurrence shows (one cycle of statistics)."""
    scenario = parse_scenario(two_developer_race(resolution=0.001, scale=0.02, rounds=50))
    long = run(scenario, rounds=5000, max_rounds=5000).outcome(0)
    assert long.outcome == "cycle" and long.entered_at + long.period > 50  # not visible within 50 rounds
    result = run(scenario, record=record)
    out = result.outcome(0)
    assert (out.outcome, out.period, out.entered_at) == (long.outcome, long.period, long.entered_at)
    assert out.rounds == out.entered_at + out.period and out.rounds >= 50
    assert out.window[1] - out.window[0] == out.period and out.cycle_effort is not None
    plain = run(scenario, rounds=out.rounds, max_rounds=out.rounds).outcome(0)
    assert _without_cap(out) == _without_cap(plain)
    part, j = result.part(0)
    assert part is not result and part.rounds == out.rounds
    assert len(result.trajectory(0)) == part.effort.shape[1] * scenario.n
    assert result.effort.shape[1] == (51 if record == "full" else analysis.default_tail_window(50))


def test_a_run_that_recurs_within_its_rounds_is_unchanged():
    """Found within the rounds: the same records as before, no extra run, whatever the cap."""
    scenario = parse_scenario(two_developer_race(rounds=400))
    a, b = run(scenario), run(scenario, max_rounds=400)
    assert a.part(0) == (a, 0) and a.outcome(0).rounds == 400
    np.testing.assert_array_equal(a.effort, b.effort)
    assert _without_cap(a.outcome(0)) == _without_cap(b.outcome(0))


def test_the_cap_is_reported_with_what_to_raise():
    scenario = parse_scenario(two_developer_race(resolution=0.001, scale=0.02, rounds=20))
    out = run(scenario, max_rounds=60).outcome(0)
    assert (out.outcome, out.rounds, out.max_rounds, out.cap_reached) == ("no_convergence", 60, 60, True)
    assert "max_rounds" in out.note and "--max-rounds" in out.note
    found = run(scenario).outcome(0)
    assert found.outcome == "cycle" and not found.cap_reached and found.max_rounds == scenario.dynamics.max_rounds


def test_stochastic_runs_keep_their_rounds():
    data = two_developer_race(resolution=0.001, scale=0.02, rounds=30, schedule="random_order")
    result = run(parse_scenario(data))
    assert result.part(0) == (result, 0)
    assert result.outcome(0).rounds == 30 and not result.outcome(0).cap_reached


def test_in_a_batch_only_the_scenarios_without_recurrence_play_on(monkeypatch):
    """Scenarios that recurred keep the batch's records; the others play on, each as it would alone, however
    the probes are split (PROBE_KEYS)."""
    scenario = parse_scenario(two_developer_race(resolution=0.001, scale=0.02, rounds=100))
    taus = [0.0, 1e6, 3.0]
    batch = run_batch([scenario] * 3, tau=taus)
    monkeypatch.setattr(engine, "PROBE_KEYS", 1)
    split = run_batch([scenario] * 3, tau=taus)
    monkeypatch.setattr(engine, "FULL_PROBE_BYTES", 0)  # no probe kept in full: played again to its horizon
    again = run_batch([scenario] * 3, tau=taus)
    for k, tau in enumerate(taus):
        alone = run(scenario, tau=tau).outcome(0)
        assert _without_cap(batch.outcome(k)) == _without_cap(alone) == _without_cap(split.outcome(k))
        assert _without_cap(again.outcome(k)) == _without_cap(alone)
        for field in ("effort", "score", "published", "rank"):  # the cut records are the replayed ones
            (a, i), (b, j) = batch.part(k), again.part(k)
            np.testing.assert_array_equal(getattr(a, field)[i], getattr(b, field)[j])
        recurred = analysis.first_recurrence(batch.keys[k]) is not None
        assert (batch.part(k) == (batch, k)) == recurred
    assert batch.part(1) == (batch, 1)  # a large tau settles at once


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(game=assumption_games(max_n=4, resolution=1e-3), schedule=st.sampled_from(["simultaneous", "sequential"]))
def test_playing_on_equals_a_plain_run_to_the_reported_rounds(game, schedule):
    """Whatever the game: the played-on outcome is the plain run's at the rounds it reports, and a plain run
    to fewer rounds saw no recurrence (the reported round is the first at which one shows)."""
    scenario = scenario_from_game(game, schedule=schedule, rounds=1, max_rounds=400)
    out = run(scenario).outcome(0)
    assume(out.rounds > 1)
    plain = run(scenario, rounds=out.rounds, max_rounds=out.rounds).outcome(0)
    assert _without_cap(out) == _without_cap(plain)
    if out.outcome != "no_convergence":
        shorter = run(scenario, rounds=out.rounds - 1, max_rounds=out.rounds - 1).outcome(0)
        assert shorter.outcome == "no_convergence" and shorter.cap_reached


def test_uses_randomness_names_each_source():
    base = two_developer_race()
    assert not uses_randomness(parse_scenario(base))
    changes = [
        ("dynamics", {"schedule": "random_order"}),
        ("dynamics", {"initial": "random"}),
        ("leaderboard", {"noise": 0.01}),
        ("leaderboard", {"tie_break": "random"}),
        ("developers", {"sample": {"n": 2, "distribution": "uniform"}}),
    ]
    for section, change in changes:
        data = {**base, section: {**base[section], **change}}
        if section == "developers":
            data[section] = change
        assert uses_randomness(parse_scenario(data)), change
