"""``lbsim explore`` without a browser: the page's settings, its data preparation, its model and its command.

The browser itself is tested in ``tests/test_explore_browser.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.explore.data import (
    PASTED,
    REWARD_PARAMETER,
    REWARD_SCHEMES,
    SCHEDULES,
    TAU_STEPS,
    ExploreSettings,
    build_scenario,
    capabilities,
    error_line,
    leaderboard_rows,
    nearest_tau_step,
    outcome_line,
    parse_toml_text,
    theory_lines,
    window_trajectory,
)
from tests.inprocess import lbsim
from tests.scenario_texts import small_race

ROOT = Path(__file__).resolve().parent.parent
ARMS_RACE = ROOT / "scenarios" / "arms_race.toml"
ARMS_TEXT = ARMS_RACE.read_text()


def arms(**changes) -> ExploreSettings:
    return ExploreSettings(source=str(ARMS_RACE), text=ARMS_TEXT, **changes)


# --------------------------------------------------------------------------- settings -> scenario


MALFORMED = [
    "[developers\ncapability = [1.0",
    'name = "x"\nname = "y"\n',
    "[score]\nlower = \n",
    "seed = 99999999999999999999999999999999999999999999999999999999999999999999999999999999" * 60,
]


@pytest.mark.parametrize("text", MALFORMED, ids=["unclosed", "duplicate", "no-value", "huge-int"])
def test_pasted_invalid_toml_gives_the_line_lbsim_gives_for_the_same_file(text, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    done = lbsim("theory", str(path))
    assert done.returncode == 2
    with pytest.raises(ScenarioError) as caught:
        parse_toml_text(text, PASTED)
    page_line = error_line(PASTED, caught.value)
    assert page_line == done.stderr.strip().replace(str(path), PASTED)
    assert "\n" not in page_line


def test_a_bad_field_gives_lbsims_line_for_the_same_scenario():
    bad = ROOT / "tests" / "bad_scenarios" / "negative_tau.toml"
    done = lbsim("theory", str(bad))
    with pytest.raises(ScenarioError) as caught:
        build_scenario(ExploreSettings(source=str(bad), text=bad.read_text()))
    assert error_line(str(bad), caught.value) == done.stderr.strip()
    with pytest.raises(ScenarioError, match=r"designer.tau = -1.0: must be >= 0"):
        build_scenario(arms(tau=-1.0))


@settings(max_examples=25, deadline=None)  # each example parses one scenario (milliseconds)
@given(
    tau=st.floats(0, 1e6),
    reward=st.sampled_from(REWARD_SCHEMES),
    n=st.integers(2, 8),
    spread=st.floats(0, 0.9),
    noise=st.floats(0, 0.1),
    schedule=st.sampled_from(SCHEDULES),
    rounds=st.integers(1, 5000),
)
def test_settings_are_written_over_the_scenario(tau, reward, n, spread, noise, schedule, rounds):
    parameter = {"top_k": 1.0, "geometric": 0.5, "zipf": 1.5}.get(reward)
    scenario = build_scenario(arms(tau=tau, reward=reward, reward_parameter=parameter, developers=n, spread=spread,
                                   noise=noise, schedule=schedule, rounds=rounds))
    assert scenario.designer.tau == tau
    assert scenario.n == n
    np.testing.assert_allclose(scenario.theta, [1.0 - spread * i / (n - 1) for i in range(n)])
    assert scenario.leaderboard.noise == noise
    assert scenario.dynamics.schedule == schedule and scenario.dynamics.rounds == rounds
    rewards = scenario.game().rewards
    assert rewards[0] == max(rewards) and np.all(np.diff(rewards) <= 0)  # every scheme pays rank 1 most
    if reward in REWARD_PARAMETER:
        assert getattr(scenario.reward, REWARD_PARAMETER[reward]) == parameter


def test_none_keeps_the_scenarios_own_values():
    from sim.scenario import load_scenario

    built, loaded = build_scenario(arms()), load_scenario(ARMS_RACE)
    assert built.designer == loaded.designer and built.dynamics == loaded.dynamics
    np.testing.assert_array_equal(built.theta, loaded.theta)


def test_switching_schedule_or_response_drops_the_keys_only_the_old_one_takes():
    text = small_race(50, dynamics='schedule = "asynchronous"\nrevision_probability = 0.3')
    scenario = build_scenario(ExploreSettings(PASTED, text, schedule="sequential"))
    assert scenario.dynamics.schedule == "sequential" and scenario.dynamics.revision_probability is None
    logit = build_scenario(ExploreSettings(PASTED, small_race(50), response="logit", temperature=0.05))
    assert logit.dynamics.response == "logit" and logit.dynamics.temperature == 0.05
    with pytest.raises(ScenarioError, match="temperature"):  # logit needs one: the parser's own message
        build_scenario(ExploreSettings(PASTED, small_race(50), response="logit"))


@given(top=st.floats(0.1, 10), low=st.floats(-5, 0.09), n=st.integers(1, 30), spread=st.none() | st.floats(0, 20))
def test_capabilities_are_evenly_spaced_down_from_the_top(top, low, n, spread):
    theta = capabilities({"developers": {"capability": [low, top]}}, n, spread)
    assert len(theta) == n and theta[0] == top
    if n > 1:
        assert np.allclose(np.diff(theta), -(top - low if spread is None else spread) / (n - 1))


@pytest.mark.parametrize("n, spread, field", [(0, None, "developers"), (3, -1.0, "capability spread"),
                                              (3, float("nan"), "capability spread")])
def test_impossible_developers_or_spread_name_the_field(n, spread, field):
    with pytest.raises(ScenarioError, match=field):
        build_scenario(arms(developers=n, spread=spread))


def test_the_tau_slider_reaches_zero_and_is_logarithmic():
    steps = np.array(TAU_STEPS)
    assert steps[0] == 0 and np.all(np.diff(steps) > 0)
    ratios = steps[2:] / steps[1:-1]
    assert np.all((ratios >= 2) & (ratios <= 2.5))  # 1-2-5: never more than a factor 2.5 apart
    assert nearest_tau_step(0.0) == 0.0 and nearest_tau_step(3.0) == 2.0 and nearest_tau_step(4.0) == 5.0


# --------------------------------------------------------------------------- the model and the panels


@pytest.fixture(scope="module")
def played():
    """The arms race played in the explorer's model until it stops by itself (200 rounds)."""
    from sim.explore.model import ExplorerModel

    model = ExplorerModel(arms())
    while model.running:
        model.step()
    return model


def test_the_model_stops_after_its_rounds_with_the_outcome_lbsim_run_reports(played):
    reported = json.loads(lbsim("run", str(ARMS_RACE), "--json").stdout)
    assert played.round == reported["rounds"] == 200 and not played.running
    for key in ("outcome", "period", "entered_at"):
        assert played.known[key] == reported[key]
    assert outcome_line(played.known) == "arms race (cycle), period 20, entered at round 0"


@pytest.mark.parametrize("path, tau", [("scenarios/arms_race.toml", 3.0), ("scenarios/flat_cost.toml", None)])
def test_the_outcome_is_known_at_the_first_recurrence_and_equals_lbsim_run(path, tau):
    """Deterministic dynamics: known as soon as a state recurs, with lbsim run's outcome, period and entry."""
    from sim.explore.model import ExplorerModel

    model = ExplorerModel(ExploreSettings(path, (ROOT / path).read_text(), tau=tau))
    while model.known is None:
        model.step()
    reported = json.loads(lbsim("run", str(ROOT / path), "--json", *(("--tau", str(tau)) if tau else ())).stdout)
    assert {k: model.known[k] for k in ("outcome", "period", "entered_at")} == {
        k: reported[k] for k in ("outcome", "period", "entered_at")}
    period = reported["period"] or 1
    assert model.round == reported["entered_at"] + period  # not a round later


def test_stochastic_dynamics_are_known_after_the_scenarios_rounds():
    from sim.explore.model import ExplorerModel

    model = ExplorerModel(ExploreSettings(PASTED, small_race(30, dynamics='schedule = "random_order"')))
    for _ in range(29):
        model.step()
    assert model.known is None and model.running
    model.step()
    assert model.known is not None and not model.running


def test_the_window_is_the_last_rounds_of_the_models_own_trajectory(played):
    kept = played.history_arrays()
    frame = window_trajectory(kept[0], played.scenario.theta, *kept[1:], window=37)
    full = played.trajectory()
    tail = full[full["round"] > played.round - 37].reset_index(drop=True)
    assert sorted(frame["round"].unique()) == list(range(played.round - 36, played.round + 1))
    for column in ("round", "developer", "capability", "effort", "score", "published", "rank"):
        np.testing.assert_array_equal(frame[column].to_numpy(), tail[column].to_numpy(), err_msg=column)
    assert len(window_trajectory(kept[0], played.scenario.theta, *kept[1:], window=10**6)) == 201 * 2
    with pytest.raises(ValueError, match="window"):
        window_trajectory(kept[0], played.scenario.theta, *kept[1:], window=0)


@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_the_leaderboard_lists_rank_one_first_with_reward_minus_cost(n, seed):
    rng = np.random.default_rng(seed)
    rank = rng.permutation(n) + 1
    rewards = np.sort(rng.random(n))[::-1]
    effort, cost = rng.random(n), rng.random(n)
    rows = leaderboard_rows(rng.random(n), effort, rng.random(n), rank, rewards, cost)
    assert [r["rank"] for r in rows] == sorted(rank.tolist())
    for r in rows:
        assert r["reward"] == rewards[r["rank"] - 1] and r["utility"] == r["reward"] - cost[r["developer"]]
        assert r["effort"] == effort[r["developer"]]


def test_the_theory_panel_shows_lbsim_theorys_numbers(played):
    reported = json.loads(lbsim("theory", str(ARMS_RACE), "--json").stdout)
    lines = theory_lines(played.theory())
    assert float(lines["tau_star"]) == reported["tau_star"]
    assert lines["zero_is_equilibrium"] is reported["zero_is_equilibrium_exact"] is False
    assert [p["pair"] for p in lines["pairs"]] == [f"{b} -> {a}" for a, b in reported["pairs"]]
    assert float(lines["pairs"][0]["just_overtake"]) == pytest.approx(reported["just_overtake"][0], rel=1e-5)


def test_the_figure_draws_three_panels_of_the_window(played):
    from sim.explore.figures import window_figure

    kept = played.history_arrays()
    frame = window_trajectory(kept[0], played.scenario.theta, *kept[1:], window=50)
    fig = window_figure(frame)
    assert [a.get_title() for a in fig.axes][:3] == ["effort per developer", "published scores", "rank per developer"]
    assert all(a.get_xlim()[1] >= played.round - 1 for a in fig.axes[:3])
    with pytest.raises(ValueError, match="panels"):
        window_figure(frame, panels=(3,))


def test_the_png_is_savefigs_picture_in_one_draw(played):
    """figure_png gives the pixels fig.savefig(format="png", dpi=72) gives (the page's panels are these PNGs)."""
    import io

    from PIL import Image

    from sim.explore.figures import figure_png, window_figure

    kept = played.history_arrays()
    frame = window_trajectory(kept[0], played.scenario.theta, *kept[1:], window=30)
    ours = np.asarray(Image.open(io.BytesIO(figure_png(window_figure(frame, panels=(0,)), dpi=72))))
    saved = io.BytesIO()
    window_figure(frame, panels=(0,)).savefig(saved, format="png", dpi=72)
    np.testing.assert_array_equal(ours, np.asarray(Image.open(saved)))
    assert ours.shape[:2] == (int(4.4 * 72), int(6.4 * 72))


@pytest.mark.filterwarnings("ignore::UserWarning")  # Solara's hook checker on Mesa's own ComponentsView
def test_a_panel_is_drawn_once_per_round_and_window(monkeypatch):
    """The page renders again for many reasons; a panel's picture is drawn again only for a new round or window."""
    pytest.importorskip("solara", reason='the page needs the viz extra: pip install -e ".[viz]"')
    from sim.explore import app, figures
    from sim.explore.model import ExplorerModel

    drawn = []
    real = figures.window_figure
    monkeypatch.setattr(figures, "window_figure",
                        lambda frame, panels: drawn.append(panels) or real(frame, panels=panels))
    model = ExplorerModel(ExploreSettings(PASTED, small_race(30)))
    first = app.panel_png(model, 0, 20)
    assert app.panel_png(model, 0, 20) is first and drawn == [(0,)]
    assert app.panel_png(model, 1, 20) is not first and drawn == [(0,), (1,)]  # each panel its own picture
    assert app.panel_png(model, 0, 20) is first and len(drawn) == 2
    model.step()
    assert app.panel_png(model, 0, 20) != first and len(drawn) == 3  # a new round: a new picture
    assert app.panel_png(model, 0, 40) is not first and len(drawn) == 4  # a new window too
    assert app.panel_png(ExplorerModel(ExploreSettings(PASTED, small_race(30))), 0, 20) == first  # same play


# --------------------------------------------------------------------------- the page, rendered without a browser


def _widgets(root):
    """Every widget under ``root``, through children and any other widget-valued trait (SolaraViz's grid items)."""
    import ipywidgets

    seen, todo = set(), [root]
    while todo:
        w = todo.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        yield w
        for name in w.trait_names():
            value = getattr(w, name, None)
            values = value.values() if isinstance(value, dict) else value
            values = values if isinstance(values, (list, tuple, type({}.values()))) else [values]
            todo.extend(v for v in values if isinstance(v, ipywidgets.Widget))


@pytest.mark.filterwarnings("ignore::UserWarning")  # Solara's hook checker on Mesa's own ComponentsView
def test_the_page_applies_settings_and_shows_errors_without_a_browser(monkeypatch):
    """Render the Solara page in this process: Apply after a finished run gives working step and play again
    (SolaraViz's controls start afresh), and a malformed scenario shows lbsim's one line, keeping the model.
    The figures are blank here (they are tested above and in the browser): this is about the controls."""
    pytest.importorskip("solara", reason='the page needs the viz extra: pip install -e ".[viz]"')
    import ipyvuetify as v
    import reacton
    import solara
    from matplotlib.figure import Figure

    from sim.explore import app, figures

    monkeypatch.setattr(figures, "window_figure", lambda frame, panels=(0, 1, 2): Figure(figsize=(1, 1)))

    box, rc = reacton.render(solara.AppLayout(children=[app.Page()]), handle_error=False)

    def button(label):
        return next(w for w in _widgets(box) if isinstance(w, v.Btn) and w.children == [label])

    def text(testid):
        found = [w.children for w in _widgets(box) if isinstance(w, v.Html)
                 and (getattr(w, "attributes", None) or {}).get("data-testid") == testid]
        return found[0][0] if found else None

    def enter(label, value):
        field = next(w for w in _widgets(box) if getattr(w, "label", None) == label)
        field.v_model = value
        field.fire_event("focusout", None)

    enter("rounds (now 200)", "10")  # the race is known at round 20: four clicks of five rounds
    button("Apply").click()
    while not button("Step").disabled:
        button("Step").click()
    assert text("explore-round") == "20" and button("▶").disabled  # the run is over
    assert text("explore-outcome-line") == "arms race (cycle), period 20, entered at round 0"
    enter("tau", "3")
    button("Apply").click()
    assert text("explore-tau") == "3.0" and text("explore-round") == "0"
    assert not button("▶").disabled and not button("Step").disabled
    enter("scenario TOML", "[developers\ncapability = [1.0")
    button("Apply").click()
    assert text("explore-error").startswith(f"lbsim: error: {PASTED} = '[developers': invalid TOML")
    assert text("explore-tau") == "3.0"  # the last good model stays
    button("Step").click()
    assert text("explore-round") == "5" and text("explore-error") is not None


# --------------------------------------------------------------------------- the command


def test_a_bad_scenario_or_port_is_one_line_and_exit_2_before_any_server(tmp_path):
    done = lbsim("explore", str(ROOT / "tests" / "bad_scenarios" / "negative_tau.toml"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "designer.tau = -1.0" in done.stderr
    done = lbsim("explore", str(tmp_path / "missing.toml"))
    assert done.returncode == 2 and "no such scenario file" in done.stderr
    done = lbsim("explore", str(ARMS_RACE), "--port", "70000")
    assert done.returncode == 2 and done.stderr.strip() == f"lbsim: error: {ARMS_RACE}: --port = 70000: must be " \
        "between 0 and 65535"
    assert lbsim("explore", "--port", "x").returncode == 2


def test_the_help_lists_explore_and_imports_neither_solara_nor_mesa():
    probe = ("import sys, contextlib, io\nfrom sim.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
             "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
             "print('explore' in out.getvalue(), [m for m in ('solara', 'mesa', 'playwright') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True []"


def test_the_server_command_serves_the_page_module():
    from sim.explore.cli import server_command, server_env

    command = server_command("127.0.0.1", 8123)
    assert command[:4] == [sys.executable, "-m", "solara", "run"] and "sim.explore.app:Page" in command
    assert command[command.index("--port") + 1] == "8123" and "--production" in command
    assert server_env("scenarios/arms_race.toml")["LBSIM_EXPLORE_SCENARIO"] == str(ARMS_RACE)


def test_a_strategy_replaces_the_response_and_plays_as_lbsim_run_does(tmp_path):
    """The strategy control writes [developers] strategy for every developer (dropping the response keys it
    replaces); the page's model then reports lbsim run's outcome for the same scenario file, and a bad strategy
    is lbsim's one-line error naming the field."""
    from sim.explore.model import ExplorerModel

    logit = ExploreSettings(PASTED, small_race(40), response="logit", temperature=0.05,
                            strategy="partial_adjustment:lambda=0.5")
    scenario = build_scenario(logit)
    assert {s.name for s in scenario.developers.strategy} == {"partial_adjustment"}
    assert scenario.dynamics.response == "best" and scenario.dynamics.temperature is None
    model = ExplorerModel(logit)
    while model.known is None:
        model.step()
    path = tmp_path / "race.toml"
    strategy = '[developers]\nstrategy = {name = "partial_adjustment", lambda = 0.5}'
    path.write_text(small_race(40).replace("[developers]", strategy))
    reported = json.loads(lbsim("run", str(path), "--json").stdout)
    assert reported["strategy"] and {k: model.known[k] for k in ("outcome", "period", "entered_at")} == {
        k: reported[k] for k in ("outcome", "period", "entered_at")}
    with pytest.raises(ScenarioError, match=r"eta = -1"):
        build_scenario(ExploreSettings(PASTED, small_race(40), strategy="hedge:eta=-1"))
