"""The ``lbsim explore`` page: Mesa's SolaraViz on :class:`sim.explore.model.ExplorerModel`.

Served by ``solara run sim.explore.app:Page`` (:mod:`sim.explore.cli`).  The
sidebar holds SolaraViz's own controls (step, play, reset, play interval,
render interval) and the scenario's settings; the main area the panels:
the dynamics over a window of the last rounds, the current leaderboard, the
theory (``lbsim theory``'s numbers, :func:`sim.cli.theory_report`) and the
outcome once known (``lbsim run``'s classification).

Settings are applied with the *Apply* button: they are validated into a new
scenario first, and a bad value shows the one line ``lbsim`` would print
(``data-testid="explore-error"``) while the current model keeps running.
Elements the tests read carry ``data-testid`` attributes (``explore-*``).
"""

from __future__ import annotations

import os
from pathlib import Path

import reacton.ipywidgets as rw
import solara
from mesa.visualization import SolaraViz

from sim.errors import ScenarioError, describe_exception
from sim.explore.data import (
    DEFAULT_WINDOW,
    MAX_WINDOW,
    PASTED,
    RESPONSES,
    REWARD_PARAMETER,
    REWARD_SCHEMES,
    SCHEDULES,
    TAU_STEPS,
    ExploreSettings,
    bundled_scenarios,
    error_line,
    fmt,
    leaderboard_rows,
    nearest_tau_step,
    outcome_line,
    theory_lines,
    window_trajectory,
)
from sim.explore.model import ExplorerModel

#: Environment variable through which ``lbsim explore SCENARIO`` names the scenario to open.
SCENARIO_ENV = "LBSIM_EXPLORE_SCENARIO"
KEEP = "(scenario's)"
UPLOADED = "(pasted or uploaded)"


def initial_settings() -> ExploreSettings:
    """The scenario named by ``$LBSIM_EXPLORE_SCENARIO``, else the bundled arms race (else the first bundled)."""
    path = os.environ.get(SCENARIO_ENV)
    if not path:
        bundled = bundled_scenarios()
        path = str(bundled.get("arms_race") or next(iter(bundled.values())))
    return ExploreSettings(source=path, text=Path(path).read_text(encoding="utf-8"))


def _tag(testid: str, text: str, tag: str = "span", style: str = ""):
    """A text element the tests find by ``data-testid``."""
    return solara.v.Html(tag=tag, attributes={"data-testid": testid}, children=[text], style_=style)


# --------------------------------------------------------------------------- panels


def _window(model: ExplorerModel, rounds: int):
    kept = model.history_arrays()
    return window_trajectory(kept[0], model.scenario.theta, *kept[1:], window=rounds)


def _table(headers: list[str], rows: list[list[str]], testid: str):
    """A plain HTML table (no Markdown: its renderer loads KaTeX from the network)."""
    v = solara.v
    head = v.Html(tag="tr", children=[v.Html(tag="th", children=[h]) for h in headers])
    body = [v.Html(tag="tr", children=[v.Html(tag="td", children=[c]) for c in row]) for row in rows]
    return v.SimpleTable(dense=True, attributes={"data-testid": testid},
                         children=[v.Html(tag="thead", children=[head]), v.Html(tag="tbody", children=body)])


def panel_png(model: ExplorerModel, which: int, rounds: int) -> bytes:
    """Panel ``which`` of ``model`` over its last ``rounds`` rounds as a PNG (72 dpi), drawn once per round.

    The picture depends only on the model, its round, the window and the panel,
    so the last one drawn is kept on the model under that key: the page renders
    again for many reasons (a setting typed, an error shown, SolaraViz mounting
    its panels afresh) and only a new round or window draws a new picture.
    """
    from sim.explore import figures

    key = (model.round, rounds)
    kept = model.panel_pngs
    if which not in kept or kept[which][0] != key:
        fig = figures.window_figure(_window(model, rounds), panels=(which,))
        kept[which] = (key, figures.figure_png(fig, dpi=72))
    return kept[which][1]


def make_dynamics_panel(window: solara.Reactive[int], which: int):
    """Panel ``which`` (0 effort, 1 published scores, 2 ranks) over the last ``window`` rounds, one PNG a frame
    (:func:`panel_png`), shown as ``solara.FigureMatplotlib`` shows a figure."""

    def DynamicsPanel(model: ExplorerModel):
        png = panel_png(model, which, window.value)
        with solara.Column() as panel:
            rw.Image(value=png, format="png")
        return panel

    DynamicsPanel.__name__ = ("EffortPanel", "ScoresPanel", "RanksPanel")[which]
    return DynamicsPanel


def LeaderboardPanel(model: ExplorerModel):
    """The current leaderboard, rank 1 first."""
    kept = model.history_arrays()
    rows = leaderboard_rows(model.scenario.theta, kept[1][-1], kept[3][-1], kept[4][-1], model.game.rewards[0],
                            model.costs())
    cells = [[str(r["rank"]), str(r["developer"]), *(fmt(r[k]) for k in
              ("capability", "effort", "published", "reward", "cost", "utility"))] for r in rows]
    with solara.Column() as panel:
        solara.Text(f"Leaderboard at round {model.round}", style="font-weight: bold")
        _table(["rank", "developer", "capability", "effort", "published", "reward", "cost", "utility"], cells,
               "explore-leaderboard")
    return panel


def TheoryPanel(model: ExplorerModel):
    """``lbsim theory`` at the model's tau: Delta_i(tau) against each pair's reward gap, tau*, zero equilibrium."""
    lines = theory_lines(model.theory())
    cells = [[p["pair"], p["just_overtake"], p["cost"], p["gap"], p["holds"], p["tau_star_i"]] for p in lines["pairs"]]
    with solara.Column() as panel:
        with solara.Row():
            solara.Text("Theory at tau =")
            _tag("explore-tau", lines["tau"])
        solara.Text("Just-overtake efforts Delta_i(tau) and their cost against the reward gap (Proposition 4.5), "
                    "strongest pair first:")
        _table(["pair", "Delta_i(tau)", "cost", "reward gap", "cost >= gap", "tau*_i"], cells, "explore-pairs")
        with solara.Row():
            solara.Text(f"stabilising threshold (Definition 5.4): tau* = {lines['tau_star_short']}",
                        style="font-weight: bold")
            solara.Text("exactly")
            _tag("explore-tau-star", lines["tau_star"])
        with solara.Row():
            solara.Text("all-zero profile is an equilibrium:")
            _tag("explore-zero-equilibrium", lines["zero"])
    return panel


def OutcomePanel(model: ExplorerModel):
    """The outcome once known (``lbsim run``'s classification), with its period and entry round."""
    known = model.known
    with solara.Column() as panel:
        with solara.Row():
            solara.Text("Round")
            _tag("explore-round", str(model.round))
        with solara.Row():
            solara.Text("Outcome:")
            _tag("explore-outcome-line", outcome_line(known, model.round), style="font-weight: bold")
        if known is not None:
            with solara.Row():
                solara.Text("outcome")
                _tag("explore-outcome", str(known["outcome"]))
                solara.Text("period")
                _tag("explore-period", "-" if known["period"] is None else str(known["period"]))
                solara.Text("entered at")
                _tag("explore-entered-at", "-" if known["entered_at"] is None else str(known["entered_at"]))
    return panel


# --------------------------------------------------------------------------- settings


def _bundled_name(source: str, bundled: dict[str, Path]) -> str:
    here = Path(source).resolve() if source != PASTED else None
    return next((name for name, path in bundled.items() if path.resolve() == here), UPLOADED)


@solara.component
def SettingsCard(current: ExploreSettings, model: ExplorerModel, apply, error: str | None,
                 window: solara.Reactive[int]):
    """The scenario's controls; *Apply* validates them into a new model (or shows the one-line error)."""
    bundled = bundled_scenarios()
    names = [*bundled, UPLOADED]
    scenario = model.scenario
    choice = solara.use_reactive(_bundled_name(current.source, bundled))
    source = solara.use_reactive(current.source)
    text = solara.use_reactive(current.text)
    tau = solara.use_reactive(float(scenario.designer.tau))
    reward = solara.use_reactive(KEEP)
    parameter = solara.use_reactive(None)
    developers = solara.use_reactive(None)
    spread = solara.use_reactive(None)
    noise = solara.use_reactive(None)
    schedule = solara.use_reactive(KEEP)
    response = solara.use_reactive(KEEP)
    temperature = solara.use_reactive(None)
    strategy = solara.use_reactive("")
    rounds = solara.use_reactive(None)

    def choose(name):
        choice.set(name)
        if name in bundled:
            source.set(str(bundled[name]))
            text.set(bundled[name].read_text(encoding="utf-8"))

    def edit(new_text):
        if new_text != text.value:
            text.set(new_text)
            source.set(PASTED)
            choice.set(UPLOADED)

    def upload(info):
        data = info["data"]
        text.set(data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data))
        source.set(info.get("name") or PASTED)
        choice.set(UPLOADED)

    def on_apply():
        apply(ExploreSettings(
            source=source.value, text=text.value, tau=tau.value,
            reward=None if reward.value == KEEP else reward.value, reward_parameter=parameter.value,
            developers=developers.value, spread=spread.value, noise=noise.value,
            schedule=None if schedule.value == KEEP else schedule.value,
            response=None if response.value == KEEP else response.value, temperature=temperature.value,
            strategy=strategy.value or None, rounds=rounds.value,
        ))  # fmt: skip

    dyn = scenario.dynamics
    with solara.Card("Scenario") as card:
        solara.Select("scenario", value=choice.value, values=names, on_value=choose)
        with solara.Details("scenario TOML: paste, edit or drop a file", expand=False):
            solara.InputTextArea("scenario TOML", value=text.value, on_value=edit, rows=8, auto_grow=False)
            solara.FileDrop(label="or drop a scenario TOML file here", on_file=upload, lazy=False)
        solara.SliderInt("tau, log scale (0, then 1e-3 to 1e7)", value=TAU_STEPS.index(nearest_tau_step(tau.value)),
                         min=0, max=len(TAU_STEPS) - 1, on_value=lambda i: tau.set(TAU_STEPS[i]))
        solara.InputFloat("tau", value=tau.value, on_value=lambda v: tau.set(0.0 if v is None else v), optional=True)
        solara.Select("reward scheme", value=reward.value, values=[KEEP, *REWARD_SCHEMES], on_value=reward.set)
        if reward.value in REWARD_PARAMETER:
            solara.InputFloat(f"reward {REWARD_PARAMETER[reward.value]}", value=parameter.value,
                              on_value=parameter.set, optional=True)
        solara.InputInt(f"developers (now {scenario.n})", value=developers.value, on_value=developers.set,
                        optional=True)
        solara.InputFloat("capability spread (top minus bottom)", value=spread.value, on_value=spread.set,
                          optional=True)
        solara.InputFloat(f"evaluation noise (now {fmt(scenario.leaderboard.noise)})", value=noise.value,
                          on_value=noise.set, optional=True)
        solara.Select(f"schedule (now {dyn.schedule})", value=schedule.value, values=[KEEP, *SCHEDULES],
                      on_value=schedule.set)
        solara.Select(f"response (now {dyn.response})", value=response.value, values=[KEEP, *RESPONSES],
                      on_value=response.set)
        if response.value == "logit":
            solara.InputFloat("logit temperature", value=temperature.value, on_value=temperature.set, optional=True)
        now = "response" if scenario.developers.strategy is None else ", ".join(
            sorted({s.name for s in scenario.developers.strategy}))
        solara.InputText(f"strategy for every developer, e.g. hedge:eta=0.1 (now {now})", value=strategy.value,
                         on_value=strategy.set, continuous_update=True)
        solara.InputInt(f"rounds (now {dyn.rounds})", value=rounds.value, on_value=rounds.set, optional=True)
        solara.Button("Apply", color="primary", on_click=on_apply)
        if error:
            solara.Error(children=[_tag("explore-error", error)])
        solara.SliderInt("rounds drawn", value=window.value, on_value=window.set, min=20, max=MAX_WINDOW, step=20)
    return card


@solara.component
def Page():
    """The whole page: SolaraViz (controls and panels) plus the scenario card in the sidebar."""
    start = solara.use_memo(initial_settings, [])
    settings = solara.use_reactive(start)
    model = solara.use_reactive(solara.use_memo(lambda: ExplorerModel(start), []))
    error = solara.use_reactive(None)
    generation = solara.use_reactive(0)
    window = solara.use_reactive(DEFAULT_WINDOW)

    def apply(new: ExploreSettings) -> None:
        try:
            built = ExplorerModel(new)
        except ScenarioError as err:
            error.set(error_line(new.source, err))
            return
        except Exception as err:  # noqa: BLE001 - whatever goes wrong, the page shows one line and keeps working
            error.set(f"lbsim: error: {new.source}: {describe_exception(err)}")
            return
        error.set(None)
        model.value.running = False  # a play loop still running on the old model stops after its current step
        settings.set(new)
        model.set(built)
        generation.set(generation.value + 1)

    solara.Title("lbsim explore")
    with solara.Sidebar():
        SettingsCard(settings.value, model.value, apply, error.value, window)
        if generation.value % 2:
            # SolaraViz's controls (step, play, reset) and model parameters live in this sidebar too, after these
            # children, and keep their state across renders: moving them one place makes the sidebar mount them
            # afresh, so they start on the new model (not paused or finished) and reset to the new settings.
            solara.Div()
    effort, scores, ranks = (make_dynamics_panel(window, k) for k in range(3))
    components = [effort, OutcomePanel, scores, TheoryPanel, ranks, LeaderboardPanel]  # two columns of three
    # Each applied scenario gets its own reactive: SolaraViz's play loop holds the one it started with, so a loop
    # left running on an old model never steps the new one.
    shown = solara.use_memo(lambda: solara.reactive(model.value), [generation.value])
    SolaraViz(shown, components=components, model_params={"settings": settings.value}, name="lbsim explore",
              play_interval=20, render_interval=5)
