"""The engine as a package: its public interface, its constants, its response rules, and the library's imports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim import engine, scenario
from sim.engine import BatchGame
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------
# The engine package: names set on sim.engine reach the module that reads them
# ---------------------------------------------------------------------------


def test_setting_an_engine_constant_reaches_the_module_that_reads_it(monkeypatch):
    """``sim.engine.REPLAY_RECURRENCES = False`` and the like take effect: the constants live in the
    package's modules, and setting one on the package sets it there (undone with the monkeypatch)."""
    from sim.engine import horizon, recurrence

    game = BatchGame.from_games([load_scenario(ROOT / "scenarios" / "arms_race.toml").game()])
    settings_ = engine.RunSettings("simultaneous", 10, "best", np.ones(1), np.ones(1))
    assert engine._replays(game, settings_)
    monkeypatch.setattr(engine, "REPLAY_RECURRENCES", False)
    assert recurrence.REPLAY_RECURRENCES is False and not engine._replays(game, settings_)
    monkeypatch.setattr(engine, "RECURRENCE_HISTORY_ENTRIES", 3 * 2)
    assert engine.Recurrence(1, 2, 100).history.shape == (1, 3, 2)
    monkeypatch.setattr(engine, "PROBE_KEYS", 7)
    assert horizon.PROBE_KEYS == 7
    monkeypatch.undo()
    assert recurrence.REPLAY_RECURRENCES is True and engine._replays(game, settings_)
    assert engine.Recurrence(1, 2, 100).history.shape == (1, 101, 2)


def test_engine_modules_stay_small():
    """One concept per module: no module of the engine package is much over 500 lines."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in Path(engine.__file__).parent.glob("*.py")}
    assert len(sizes) > 5 and max(sizes.values()) <= 520, sizes


# ---------------------------------------------------------------------------
# Response rules
# ---------------------------------------------------------------------------


def test_every_response_a_scenario_may_name_has_a_rule():
    assert set(engine.RESPONSES) == set(scenario.RESPONSES)
    for name in scenario.RESPONSES:
        assert engine.response_rule(name).name == name


def test_an_unknown_response_rule_is_refused():
    with pytest.raises(ValueError, match="unknown response 'nope'; known: best, logit"):
        engine.response_rule("nope")


def test_the_rules_are_what_the_batch_game_computes():
    """Best: the held best response of :meth:`BatchGame.respond`; logit: its logit draw over the candidates."""
    game = BatchGame.from_games([load_scenario(ROOT / "scenarios" / "arms_race.toml").game()])
    n = game.shape[1]
    rng = np.random.default_rng(3)
    x = rng.random((1, n))
    evaluated = game.publish(x)[1]
    rows = np.arange(n)[None, :]
    best = engine.response_rule("best").choose(game, evaluated, rows, current=x)
    assert np.array_equal(best, game.respond(evaluated, rows, current=x).next_effort)
    assert np.array_equal(engine.response_rule("best").choose(game, evaluated, rows),
                          game.respond(evaluated, rows).effort)
    uniform = rng.random((1, n))
    logit = engine.response_rule("logit").choose(game, evaluated, rows, temperature=np.array([0.1]), uniform=uniform)
    response = game.respond(evaluated, rows, candidates=True)
    assert np.array_equal(logit, game.logit_choice(response, np.array([0.1]), uniform))
    assert np.isin(logit[0], response.candidate_effort[0]).all()
