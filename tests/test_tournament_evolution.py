"""Evolutionary processes over strategy shares (sim.tournament.evolution): checked against closed forms and
against independent brute-force computations (every ordered rival tuple; every subset of rivals in a Moran
population, with the birth-death chain's absorption solved as a linear system)."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.tournament import evolution as evo

# Each example is a few small linear solves or a few hundred replicator steps: milliseconds.
HYP = settings(max_examples=40, deadline=None)


@st.composite
def tables(draw, max_S=4, max_m=3):
    S = draw(st.integers(2, max_S))
    m = draw(st.integers(1, max_m))
    comps = evo.compositions(S, m)
    seed = draw(st.integers(0, 2**32 - 1))
    payoff = np.random.default_rng(seed).uniform(-2, 2, size=(S, len(comps)))
    return evo.PayoffTable(comps, payoff)


def test_compositions_are_every_count_vector():
    for S, m in [(2, 1), (3, 2), (4, 3)]:
        comps = evo.compositions(S, m)
        assert len(comps) == math.comb(S + m - 1, m)
        assert (comps.sum(axis=1) == m).all() and (comps >= 0).all()
        assert len({tuple(c) for c in comps.tolist()}) == len(comps)


@HYP
@given(tables(), st.data())
def test_expected_payoff_is_the_average_over_ordered_rival_draws(table, data):
    """pi_i(x) = sum over ordered tuples of m rivals drawn i.i.d. from x of prod(x) * pi(i | counts)."""
    S, m = table.strategies, table.rivals
    raw = np.array(data.draw(st.lists(st.floats(0.01, 1), min_size=S, max_size=S)))
    x = raw / raw.sum()
    brute = np.zeros(S)
    for tup in itertools.product(range(S), repeat=m):
        counts = np.bincount(np.array(tup), minlength=S)
        weight = np.prod(x[list(tup)])
        brute += weight * np.array([table.at(i, counts) for i in range(S)])
    np.testing.assert_allclose(table.expected(x), brute, rtol=1e-10, atol=1e-12)


@HYP
@given(tables(), st.data())
def test_replicator_stays_on_the_simplex(table, data):
    S = table.strategies
    raw = np.array(data.draw(st.lists(st.floats(0.0, 1), min_size=S, max_size=S)))
    if raw.sum() == 0:
        raw[0] = 1.0
    w = data.draw(st.floats(0, 20))
    shares = evo.replicator(table, raw / raw.sum(), steps=50, selection=w)
    assert (shares >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # a strategy absent at the start stays absent (the replicator creates no strategy)
    assert (shares[:, raw == 0] == 0).all()


@settings(max_examples=25, deadline=None)
@given(tables(), st.data())
def test_a_strictly_dominant_strategy_takes_over(table, data):
    """pi(d | c) > pi(j | c) + margin for every composition c and j != d: the share of d tends to 1."""
    S = table.strategies
    d = data.draw(st.integers(0, S - 1))
    payoff = table.payoff.copy()
    others = np.delete(payoff, d, axis=0)
    payoff[d] = others.max(axis=0) + 0.1
    dominant = evo.PayoffTable(table.comps, payoff)
    raw = np.array(data.draw(st.lists(st.floats(0.05, 1), min_size=S, max_size=S)))
    shares = evo.replicator(dominant, raw / raw.sum(), steps=80, selection=6.0)  # odds grow by e^0.6 a step
    assert shares[-1, d] > 1 - 1e-6
    assert np.all(np.diff(shares[:, d]) >= -1e-15)  # its share never falls


def test_replicator_two_player_prisoners_dilemma_defects():
    P = np.array([[3.0, 0.0], [5.0, 1.0]])  # cooperate, defect
    shares = evo.replicator(evo.PayoffTable.from_matrix(P), [0.99, 0.01], steps=300)
    assert shares[-1, 1] > 0.999


@HYP
@given(tables(), st.integers(0, 6), st.data())
def test_neutral_fixation_is_one_over_n(table, extra, data):
    N = table.rivals + 1 + extra
    i, j = data.draw(st.permutations(range(table.strategies)))[:2]
    assert evo.fixation_probability(table, i, j, N, selection=0.0) == pytest.approx(1.0 / N, rel=1e-12)


@HYP
@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(0.01, 3), st.integers(2, 30), st.integers(1, 3))
def test_constant_fitness_matches_the_closed_form(a, b, w, N, m):
    """Mutant payoff a, resident payoff b whatever the rivals: rho = (1 - 1/r) / (1 - 1/r**N), r = e^{w(a-b)}."""
    if N < m + 1:
        N = m + 1
    comps = evo.compositions(2, m)
    table = evo.PayoffTable(comps, np.array([[a] * len(comps), [b] * len(comps)]))
    s = w * (a - b)  # log r; expm1 keeps the closed form accurate when r is near 1
    expected = 1.0 / N if s == 0 else math.expm1(-s) / math.expm1(-N * s)
    assert evo.fixation_probability(table, 0, 1, N, selection=w) == pytest.approx(expected, rel=1e-9)


def _brute_fixation(table, i, j, N, w):
    """Absorption probability of the Moran birth-death chain from one mutant, fitness by enumerating every set of
    m rivals among the other N - 1 individuals, solved as a linear system (independent of the closed form)."""
    S, m = table.strategies, table.rivals

    def fitness(k, focal_is_mutant):
        others = ["i"] * (k - (1 if focal_is_mutant else 0)) + ["j"] * (N - k - (0 if focal_is_mutant else 1))
        total, count = 0.0, 0
        for rivals in itertools.combinations(range(len(others)), m):
            c = np.zeros(S, dtype=int)
            for r in rivals:
                c[i if others[r] == "i" else j] += 1
            total += table.at(i if focal_is_mutant else j, c)
            count += 1
        return math.exp(w * total / count)

    A = np.zeros((N + 1, N + 1))
    rhs = np.zeros(N + 1)
    A[0, 0] = A[N, N] = 1.0
    rhs[N] = 1.0
    for k in range(1, N):
        f, g = fitness(k, True), fitness(k, False)
        up = k * f / (k * f + (N - k) * g) * (N - k) / N
        down = (N - k) * g / (k * f + (N - k) * g) * k / N
        A[k, k] = up + down
        A[k, k + 1] = -up
        A[k, k - 1] = -down
    return np.linalg.solve(A, rhs)[1]


@settings(max_examples=25, deadline=None)
@given(tables(max_S=3, max_m=2), st.integers(0, 4), st.floats(0.0, 2.0))
def test_fixation_matches_the_birth_death_chain(table, extra, w):
    N = table.rivals + 1 + extra
    got = evo.fixation_probability(table, 0, 1, N, selection=w)
    assert got == pytest.approx(_brute_fixation(table, 0, 1, N, w), rel=1e-8, abs=1e-14)


def test_population_too_small_is_refused():
    table = evo.PayoffTable(evo.compositions(2, 3), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="N = 3"):
        evo.fixation_probability(table, 0, 1, 3)


@HYP
@given(tables(max_m=2), st.floats(0, 2))
def test_stationary_distribution(table, w):
    rho = evo.fixation_matrix(table, 6, w)
    p = evo.moran_stationary(rho)
    assert p.sum() == pytest.approx(1.0) and (p >= 0).all()
    S = table.strategies
    T = rho.T / (S - 1)
    np.fill_diagonal(T, 0)
    np.fill_diagonal(T, 1 - T.sum(axis=1))
    np.testing.assert_allclose(p @ T, p, atol=1e-10)
    if S == 2:  # detailed balance: p0 rho[1, 0] = p1 rho[0, 1]
        assert p[0] * rho[1, 0] == pytest.approx(p[1] * rho[0, 1], rel=1e-8, abs=1e-15)


def test_bad_inputs_are_refused():
    table = evo.PayoffTable.from_matrix(np.eye(2))
    with pytest.raises(ValueError, match="shares"):
        evo.replicator(table, [0.5, 0.6])
    with pytest.raises(ValueError, match="selection"):
        evo.replicator(table, selection=-1.0)
    with pytest.raises(ValueError, match="finite"):
        evo.PayoffTable.from_matrix([[1.0, np.nan], [0.0, 1.0]])
