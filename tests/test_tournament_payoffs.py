"""Tournament data preparation, pure functions on arrays and frames (sim.tournament.matches, .payoffs, .plots):
mixes, seeds fixed up front, per-developer measures, per-strategy summaries and payoffs recovered exactly from
synthetic match tables."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.tournament import evolution as evo
from sim.tournament.matches import MATCH_COLUMNS, developer_measures, mixes, plan_matches
from sim.tournament.payoffs import payoff_matrix, payoff_table, rival_counts, strategy_summary
from sim.tournament.plots import replicator_frame
from sim.tournament.spec import Capabilities, Evolution, StrategyEntry, TournamentSpec, mix_count

HYP = settings(max_examples=30, deadline=None)


def _spec(S=3, n=3, mode="all", reps=2, seed=5, taus=(0.0, 1.0), caps=None):
    return TournamentSpec(
        name="t", seed=seed, developers=n, repetitions=reps, mixes=mode,
        strategies=tuple(StrategyEntry(f"s{k}") for k in range(S)),
        capabilities=caps or Capabilities(distribution="uniform", params=(("high", 1.0), ("low", 0.0))),
        game={}, taus=taus, rounds=5, evolution=Evolution(),
    )  # fmt: skip


@settings(max_examples=40, deadline=None)  # 2 x 5 x 4 cases
@given(st.integers(1, 5), st.integers(2, 5), st.sampled_from(["all", "focal"]))
def test_mixes(S, n, mode):
    out = mixes(S, n, mode)
    assert len(out) == len(set(out)) == mix_count(S, n, mode)
    assert all(len(m) == n and list(m) == sorted(m) for m in out)
    if mode == "all":  # every strategy meets every composition of n - 1 rivals
        for i in range(S):
            met = {tuple(np.bincount(np.delete(np.array(m), list(m).index(i)), minlength=S)) for m in out if i in m}
            assert met == {tuple(c) for c in evo.compositions(S, n - 1).tolist()}
    else:  # every strategy meets every homogeneous rival population
        for i, j in itertools.product(range(S), repeat=2):
            assert tuple(sorted((i, *[j] * (n - 1)))) in out


def test_plan_is_fixed_up_front_and_reproducible():
    spec = _spec()
    a, b = plan_matches(spec), plan_matches(spec)
    assert a == b
    assert len(a) == mix_count(3, 3, "all") * 2 * 2
    assert len({m.seed for m in a}) == len(a)
    for m in a:
        assert sorted(m.assignment) == list(m.mix)
    other = plan_matches(_spec(seed=6))
    assert [m.seed for m in other] != [m.seed for m in a]
    fixed = plan_matches(_spec(caps=Capabilities(values=(1.0, 0.5, 0.2))))
    assert all(m.capability == (1.0, 0.5, 0.2) for m in fixed)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.sampled_from(["all", "focal"]), st.integers(1, 3))
def test_dealing_is_balanced_over_n_repetitions(S, n, mode, rounds_of_n):
    """Over repetitions a multiple of n, each strategy of a mix plays from each developer slot equally often."""
    spec = _spec(S=S, n=n, mode=mode, reps=n * rounds_of_n, taus=(0.0,))
    by_mix = {}
    for m in plan_matches(spec):
        by_mix.setdefault(m.mix, []).append(m.assignment)
    for mix, deals in by_mix.items():
        assert len(deals) == n * rounds_of_n
        for d in range(n):
            seen = [deal[d] for deal in deals]
            for s in set(mix):
                assert seen.count(s) == mix.count(s) * rounds_of_n


@HYP
@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_developer_measures(R, n, seed):
    rng = np.random.default_rng(seed)
    rank = np.array([rng.permutation(n) + 1 for _ in range(R)])
    effort = rng.uniform(0, 3, (R, n))
    utility = rng.normal(size=(R, n))
    cap_rank = rng.permutation(n) + 1
    got = developer_measures(rank, effort, utility, cap_rank)
    for d in range(n):
        assert got["mean_rank"][d] == pytest.approx(sum(rank[t, d] for t in range(R)) / R)
        assert got["correct_share"][d] == sum(rank[t, d] == cap_rank[d] for t in range(R)) / R
        assert got["mean_utility"][d] == pytest.approx(utility[:, d].mean())
        assert got["mean_effort"][d] == pytest.approx(effort[:, d].mean())


def _synthetic_frame(spec, payoff, noise_seed=None):
    """A match table whose utilities are payoff(strategy, rival counts) (+ noise), for the planned matches."""
    rng = np.random.default_rng(noise_seed)
    S = len(spec.strategies)
    rows = []
    for m in plan_matches(spec):
        counts = np.bincount(np.array(m.assignment), minlength=S)
        for d, s in enumerate(m.assignment):
            c = counts.copy()
            c[s] -= 1
            u = payoff(s, tuple(c.tolist())) + (rng.normal() if noise_seed is not None else 0.0)
            rows.append({"match": m.index, "tau": m.tau, "mix": "", "repetition": m.repetition, "seed": m.seed,
                         "developer": d, "strategy": f"s{s}", "strategy_index": s, "rivals": "",
                         "capability": m.capability[d], "capability_rank": d + 1, "mean_utility": u,
                         "mean_rank": 1.0 + s, "mean_effort": 0.5 * s, "correct_share": 1.0 / (1 + s),
                         "outcome": "cycle"})
    return pd.DataFrame(rows, columns=list(MATCH_COLUMNS)).astype(MATCH_COLUMNS)


@settings(max_examples=15, deadline=None)  # up to 35 mixes of 4 a table, built row by row
@given(st.integers(2, 4), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_payoffs_are_recovered_exactly(S, n, seed):
    spec = _spec(S=S, n=n, reps=1, taus=(0.0,))
    coef = np.random.default_rng(seed).normal(size=(S, S, S))
    payoff = lambda s, c: float(coef[s] @ np.array(c) @ np.ones(S) + coef[s, s, s])  # depends on the composition
    frame = _synthetic_frame(spec, payoff)
    table = payoff_table(frame, S, n)
    for i in range(S):
        for c in table.comps.tolist():
            assert table.at(i, c) == pytest.approx(payoff(i, tuple(c)))
    P = payoff_matrix(frame, S, n)
    for i, j in itertools.product(range(S), repeat=2):
        c = [0] * S
        c[j] = n - 1
        assert P[i, j] == pytest.approx(payoff(i, tuple(c)))
    counts = rival_counts(frame, S)
    assert (counts.sum(axis=1) == n - 1).all()


def test_focal_mixes_leave_mixed_compositions_unplayed():
    spec = _spec(S=3, n=3, mode="focal", reps=1, taus=(0.0,))
    frame = _synthetic_frame(spec, lambda s, c: float(s))
    assert np.isfinite(payoff_matrix(frame, 3, 3)).all()
    with pytest.raises(ValueError, match="never played"):
        payoff_table(frame, 3, 3)


def test_strategy_summary_intervals():
    spec = _spec(S=3, n=2, reps=20, taus=(0.0, 2.0))
    frame = _synthetic_frame(spec, lambda s, c: float(s), noise_seed=3)
    summary = strategy_summary(frame, spec.labels)
    assert len(summary) == 2 * 3
    per_match = frame.groupby(["tau", "strategy_index", "match"])["mean_utility"].mean()
    for row in summary.itertuples():
        u = per_match.loc[(row.tau, row.strategy_index)].to_numpy()
        assert row.matches == len(u)
        assert row.mean_utility == pytest.approx(u.mean())
        half = 1.959963984540054 * u.std(ddof=1) / math.sqrt(len(u))
        assert row.utility_high - row.mean_utility == pytest.approx(half)
        assert row.utility_low < row.mean_utility < row.utility_high
        assert row.mean_rank == pytest.approx(1.0 + row.strategy_index)
        assert row.correct_share == pytest.approx(1.0 / (1 + row.strategy_index))


def test_replicator_frame():
    shares = np.array([[0.5, 0.5], [0.6, 0.4], [0.7, 0.3]])
    frame = replicator_frame(shares, ["a", "b"], 2.0)
    assert len(frame) == 6 and set(frame["tau"]) == {2.0}
    assert frame[frame["strategy"] == "a"]["share"].tolist() == [0.5, 0.6, 0.7]
    with pytest.raises(ValueError, match="labels"):
        replicator_frame(shares, ["a"], 0.0)
