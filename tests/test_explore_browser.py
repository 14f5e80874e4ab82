"""``lbsim explore`` end to end: the real command serves the page, a real headless Chromium drives it.

One server (``lbsim explore scenarios/arms_race.toml`` as a subprocess on a free port) and one browser page, one
test that goes through these steps in order on that page: step and play at tau = 0 (the arms race), set tau above tau*
(converged), an impossible tau and a malformed pasted scenario (lbsim's one-line error, the page keeps working).
The numbers on the page must equal ``lbsim run --json`` and ``lbsim theory --json`` (in-process).  Screenshots
go to the test's temporary directory (and to ``$LBSIM_EXPLORE_SCREENSHOTS`` when set).

Chromium comes from Debian (``apt-get install -y chromium``), driven by Playwright with
``executable_path``; Playwright downloads no browser.  Without either, the tests skip and say how to install it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from sim.explore.cli import free_port
from sim.explore.data import TAU_STEPS, nearest_tau_step
from tests.inprocess import lbsim

ROOT = Path(__file__).resolve().parent.parent
ARMS_RACE = ROOT / "scenarios" / "arms_race.toml"
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 # less CPU: one renderer process for our one page, no extensions, translation or media router
                 "--disable-extensions", "--disable-site-isolation-trials", "--renderer-process-limit=1",
                 "--disable-features=site-per-process,Translate,MediaRouter,OptimizationHints", "--mute-audio"]
#: Most seconds any one thing on the page may take (a loaded CI machine renders slowly).
WAIT_MS = 60_000

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not found: install it with "
                       "`apt-get install -y chromium` (Debian; .ci/run does) to run the explorer's browser tests"),
    # Found, not imported: the page runs in the server's process, and importing Solara here would cost every
    # test process about a second at collection.
    pytest.mark.skipif(find_spec("solara") is None, reason='the page needs the viz extra: pip install -e ".[viz]"'),
]
sync_api = pytest.importorskip("playwright.sync_api", reason='Playwright missing: pip install -e ".[dev]"')
expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def server():
    """``lbsim explore`` on a free port; yields its URL; stopped with SIGINT (Ctrl-C) at the end, which must
    end it cleanly: exit status 0, no traceback, no server left behind."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "explore", str(ARMS_RACE), "--port", str(port)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    stderr: list[str] = []
    threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True).start()
    line = process.stdout.readline()  # blocks until the URL is printed or the command exits
    try:
        found = re.fullmatch(r"lbsim explore: serving (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)\n", line)
        assert found, f"lbsim explore printed {line!r}, stderr {''.join(stderr)!r}"
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(0.2)  # the reader thread drains stderr
    assert code == 0, "".join(stderr)
    assert "Traceback" not in "".join(stderr)
    with pytest.raises(OSError):  # nothing listens any more
        import socket

        socket.create_connection(("127.0.0.1", int(found.group(1).rsplit(":", 1)[1].strip("/"))), timeout=1)


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server)
        expect(page.get_by_test_id("explore-tau-star")).to_be_visible(timeout=WAIT_MS)
        yield page
        context.close()


def screenshot(page, tmp_path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("LBSIM_EXPLORE_SCREENSHOTS")
    if keep:
        shutil.copy(path, Path(keep) / path.name)
    assert path.stat().st_size > 10_000  # a real picture of the page
    return path


def text(page, testid: str) -> str:
    return page.get_by_test_id(testid).inner_text().strip()


def play_until_known(page) -> None:
    """Play until the outcome is shown, then pause (SolaraViz's ❚❚) unless the run already finished: the page
    then stands still instead of drawing the rest of the scenario's rounds while the test goes on."""
    page.get_by_role("button", name="▶").click()
    expect(page.get_by_test_id("explore-outcome")).to_be_visible(timeout=WAIT_MS)
    # A run that already played all its rounds shows ❚❚ disabled (SolaraViz keeps the label): the click does
    # nothing then.  Either way the page ends up still: paused (▶ offered again) or finished.
    page.get_by_role("button", name="❚❚").click(force=True)
    paused = page.get_by_role("button", name="▶", disabled=False)
    expect(paused.or_(page.get_by_role("button", name="❚❚", disabled=True))).to_be_visible()


def apply_tau(page, tau: str) -> None:
    """Type ``tau`` into the exact tau field, leave it (which commits it) and press Apply."""
    field = page.get_by_label("tau", exact=True)
    field.fill(tau)
    field.press("Tab")
    # The log slider follows the committed value (set by the server): wait for it before pressing Apply.
    position = TAU_STEPS.index(nearest_tau_step(float(tau)))
    expect(page.get_by_role("slider").first).to_have_attribute("aria-valuenow", str(position))
    page.get_by_role("button", name="Apply").click()


def same_outcome(page, reported: dict) -> None:
    assert text(page, "explore-outcome") == reported["outcome"]
    assert text(page, "explore-period") == ("-" if reported["period"] is None else str(reported["period"]))
    assert text(page, "explore-entered-at") == str(reported["entered_at"])


def step_and_play_at_tau_zero(page, tmp_path):
    """Step and play at tau = 0: lbsim run's arms race (period 20), lbsim theory's tau* exactly."""
    theory = json.loads(lbsim("theory", str(ARMS_RACE), "--json").stdout)
    assert text(page, "explore-tau") == "0.0"
    assert float(text(page, "explore-tau-star")) == theory["tau_star"]  # exactly, not to a printed precision
    assert text(page, "explore-zero-equilibrium") == "Proposition 4.5: no; exact check: no"
    page.get_by_role("button", name="Step").click()
    expect(page.get_by_test_id("explore-round")).to_have_text("5")  # SolaraViz's step: render interval 5
    play_until_known(page)
    same_outcome(page, json.loads(lbsim("run", str(ARMS_RACE), "--json").stdout))
    assert text(page, "explore-outcome-line") == "arms race (cycle), period 20, entered at round 0"
    screenshot(page, tmp_path, "explore-arms-race-tau-0")


def tau_above_tau_star(page, tmp_path):
    """Apply tau = 3 > tau*: the controls work again, play converges to zero as lbsim run --tau 3 says."""
    theory = json.loads(lbsim("theory", str(ARMS_RACE), "--json").stdout)
    tau = "3.0"
    assert float(tau) > theory["tau_star"]
    apply_tau(page, tau)
    expect(page.get_by_test_id("explore-tau")).to_have_text(tau)
    expect(page.get_by_test_id("explore-round")).to_have_text("0")
    assert text(page, "explore-zero-equilibrium") == "Proposition 4.5: yes; exact check: yes"
    assert float(text(page, "explore-tau-star")) == theory["tau_star"]  # tau* does not depend on tau
    play_until_known(page)  # the controls work again on the new model, though the last run had finished
    same_outcome(page, json.loads(lbsim("run", str(ARMS_RACE), "--tau", tau, "--json").stdout))
    assert text(page, "explore-outcome") == "converged_zero"
    screenshot(page, tmp_path, "explore-arms-race-above-tau-star")


def impossible_tau(page):
    """tau = -1: lbsim's line for the same field, in the page; the model stays."""
    bad = ROOT / "tests" / "bad_scenarios" / "negative_tau.toml"
    cli_message = lbsim("theory", str(bad)).stderr.strip().split(": ", 3)[3]  # after "lbsim: error: <path>: "
    apply_tau(page, "-1")
    expect(page.get_by_test_id("explore-error")).to_have_text(f"lbsim: error: {ARMS_RACE}: {cli_message}")
    assert text(page, "explore-tau") == "3.0"


def malformed_pasted_scenario(page, tmp_path):
    """Malformed TOML pasted: lbsim's line for the same file; reset and step still work."""
    bad_text = "[developers\ncapability = [1.0"
    path = tmp_path / "bad.toml"
    path.write_text(bad_text)
    cli_line = lbsim("run", str(path)).stderr.strip().replace(str(path), "pasted scenario")
    page.get_by_text("scenario TOML: paste, edit or drop a file").click()  # unfold the scenario's text
    area = page.locator("textarea").first
    area.fill(bad_text)
    area.press("Tab")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("explore-error")).to_have_text(cli_line)
    assert "Traceback" not in page.inner_text("body")
    before = int(text(page, "explore-round"))
    page.get_by_role("button", name="Reset").click()  # SolaraViz's reset: the last good settings, from round 0
    expect(page.get_by_test_id("explore-round")).to_have_text("0")
    page.get_by_role("button", name="Step").click()
    expect(page.get_by_test_id("explore-round")).to_have_text("5")
    assert text(page, "explore-tau") == "3.0" and before >= 0
    screenshot(page, tmp_path, "explore-error")


def test_the_page_in_chromium(page, tmp_path):
    """One server, one browser, one page, in this order (pytest-xdist may split a module's tests across
    workers, and each would start its own server and browser)."""
    step_and_play_at_tau_zero(page, tmp_path)
    tau_above_tau_star(page, tmp_path)
    impossible_tau(page)
    malformed_pasted_scenario(page, tmp_path)
