"""Adversarial pass: many malformed or hostile inputs, each run with a timeout, classified.

    python benchmarks/hostile_pass.py [--timeout 60] [--only NAME...] [--json]

Each case is a command line (``python -m sim ...``) or a Python API call
run in a fresh interpreter, in a scratch directory, with an expectation:
``error`` (must end in exit 2 with one line ``lbsim: error: ...`` or, for
the API, a ``ScenarioError``) or ``ok`` (must succeed).  Outcomes:

* ``clean``: as expected (a one-line error, or success);
* ``traceback``: a Python traceback on standard error;
* ``hang``: still running at the timeout;
* ``silent``: accepted although it should have been refused;
* ``other``: anything else (wrong exit status, several error lines, ...).

The counts are printed at the end; the exit status is 1 unless every case is
clean.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASE = """
name = "base"
[developers]
capability = [1.0, 0.6, 0.3]
[score]
family = "power_law"
lower = 0.25
upper = 0.95
alpha = {intercept = -2.0, slope = 2.0}
beta = {intercept = 0.3, slope = 0.2}
[cost]
family = "linear"
scale = 0.01
[reward]
scheme = "winner_take_all"
[leaderboard]
resolution = 0.001
[dynamics]
rounds = 30
"""

EVIL = """
import os, pathlib
pathlib.Path(os.environ.get("HOSTILE_MARKER", "MARKER")).write_text("ran")
def score(theta, e):
    return theta + 0 * e
def cost(x):
    return x
"""


@dataclass(frozen=True)
class Case:
    name: str
    files: dict  # file name -> text (or a special: "FIFO", "DIR")
    argv: list | None = None  # lbsim arguments
    python: str | None = None  # or a Python snippet (raises ScenarioError = error)
    expect: str = "error"
    env: dict | None = None
    marker_must_not_exist: bool = False


def sub(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def scenario_cases() -> list[Case]:
    s = []

    def bad(name, text, *extra, command="theory", expect="error"):
        s.append(Case(name, {"s.toml": text}, [command, "s.toml", *extra], expect=expect))

    bad("empty_file", "")
    bad("binary_garbage", "\x00\x01\x02")
    bad("bom_and_garbage", "\ufeff[[[")
    bad("huge_float_capability", sub("[1.0, 0.6, 0.3]", "[1e309, 0.6, 0.3]"))
    bad("capability_strings", sub("[1.0, 0.6, 0.3]", '["a", "b"]'))
    bad("capability_nested", sub("[1.0, 0.6, 0.3]", "[[1.0], [0.5]]"))
    bad("capability_table", sub("capability = [1.0, 0.6, 0.3]", "capability = {a = 1}"))
    bad("capability_date", sub("[1.0, 0.6, 0.3]", "[1979-05-27, 1.0]"))
    bad("capability_time", sub("[1.0, 0.6, 0.3]", "[07:32:00, 1.0]"))
    bad("sample_n_huge", sub("capability = [1.0, 0.6, 0.3]", "sample = {n = 100000000000000000000}"))
    bad("sample_n_float", sub("capability = [1.0, 0.6, 0.3]", "sample = {n = 3.5}"))
    bad("sample_n_million_check", sub("capability = [1.0, 0.6, 0.3]", "sample = {n = 1000000}"), command="check")
    bad("sample_n_million_theory", sub("capability = [1.0, 0.6, 0.3]", "sample = {n = 1000000}"))
    bad("beta_nan", sub("slope = 0.2}", "slope = nan}"))
    bad("alpha_inf", sub("alpha = {intercept = -2.0, slope = 2.0}", "alpha = inf"))
    bad("alpha_affine_extra_key", sub("alpha = {intercept = -2.0, slope = 2.0}",
                                      "alpha = {intercept = -2.0, slope = 2.0, curve = 1}"))
    bad("effort_unit_zero", sub("beta = {intercept = 0.3, slope = 0.2}",
                                "beta = {intercept = 0.3, slope = 0.2}\neffort_unit = 0.0"))
    bad("cost_scale_negative", sub("scale = 0.01", "scale = -1"))
    bad("cost_scale_huge_int", sub("scale = 0.01", "scale = 1" + "0" * 400))
    bad("reward_k_zero", sub('scheme = "winner_take_all"', 'scheme = "top_k"\nk = 0'))
    bad("reward_k_huge", sub('scheme = "winner_take_all"', 'scheme = "top_k"\nk = 99999999999999999999'))
    bad("reward_values_increasing", sub('scheme = "winner_take_all"', 'scheme = "custom"\nvalues = [0, 1, 2]'))
    bad("reward_values_nested", sub('scheme = "winner_take_all"', 'scheme = "custom"\nvalues = [[1], [0], [0]]'))
    bad("reward_scheme_list", sub('scheme = "winner_take_all"', 'scheme = ["top_k"]'))
    bad("resolution_negative", sub("resolution = 0.001", "resolution = -0.001"))
    bad("resolution_string", sub("resolution = 0.001", 'resolution = "fine"'))
    bad("tie_break_unicode", sub("resolution = 0.001", 'resolution = 0.001\ntie_break = "capabilit\u00e9"'))
    bad("rounds_huge", sub("rounds = 30", "rounds = 1" + "0" * 30), command="run")
    bad("rounds_negative", sub("rounds = 30", "rounds = -5"), command="run")
    bad("initial_inf", sub("rounds = 30", "rounds = 30\ninitial = [inf, 0, 0]"), command="run")
    bad("name_control_chars", sub('name = "base"', 'name = "a\\u0007b"'))
    bad("name_empty", sub('name = "base"', 'name = "   "'))
    bad("name_huge_with_plot", sub('name = "base"', f'name = "{"n" * 20000}"'), "--plot", "--rounds", "3",
        command="run", expect="ok")
    bad("name_slashes_with_plot", sub('name = "base"', 'name = "../../../../etc/passwd"'), "--plot", "--rounds", "3",
        command="run", expect="ok")
    bad("deep_header", "[" + ".".join(["x"] * 20000) + "]\n")
    bad("deep_array", "a = " + "[" * 5000 + "]" * 5000 + "\n")
    bad("deep_inline_table", "a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n")
    bad("many_keys", "\n".join(f"k{i} = {i}" for i in range(50000)))
    bad("very_long_line", "x = " + '"' + "y" * 5_000_000 + '"\n')
    bad("custom_os_system", sub('family = "linear"\nscale = 0.01', 'family = "custom"\nfunction = "os:system"'))
    bad("custom_builtins_print", sub('family = "power_law"\nlower = 0.25\nupper = 0.95\n'
                                     "alpha = {intercept = -2.0, slope = 2.0}\nbeta = {intercept = 0.3, slope = 0.2}",
                                     'family = "custom"\nfunction = "builtins:print"'))
    bad("custom_print_allowed", sub('family = "power_law"\nlower = 0.25\nupper = 0.95\n'
                                    "alpha = {intercept = -2.0, slope = 2.0}\nbeta = {intercept = 0.3, slope = 0.2}",
                                    'family = "custom"\nfunction = "builtins:print"'), "--allow-custom")
    bad("custom_path_injection", sub('family = "linear"\nscale = 0.01',
                                     'family = "custom"\nfunction = "__import__(\'os\').system:x"'))
    # Known, outside this pass's fixes: the tau* grid-level search is superlinear in n with many rewards.
    bad("theory_linear_rewards_2000", sub('scheme = "winner_take_all"', 'scheme = "linear"',
                                          sub("capability = [1.0, 0.6, 0.3]", "sample = {n = 2000}")), expect="ok")
    fine = sub("resolution = 0.001", "resolution = 0.0001", sub("scale = 0.01", "scale = 0.001"))
    bad("theory_linear_rewards_2000_fine_grid", sub('scheme = "winner_take_all"', 'scheme = "linear"',
                                                    sub("capability = [1.0, 0.6, 0.3]", "sample = {n = 2000}", fine)),
        expect="ok")
    bad("custom_huge_path", sub('family = "linear"\nscale = 0.01', f'family = "custom"\nfunction = "{"a." * 5000}a:b"'))
    return s


def evil_cases() -> list[Case]:
    files = {
        "evil.py": EVIL,
        "s.toml": sub('family = "linear"\nscale = 0.01', 'family = "custom"\nfunction = "evil:cost"'),
    }
    out = []
    for command in ("theory", "check", "run"):
        out.append(Case(f"evil_{command}_not_allowed", files, [command, "s.toml"], marker_must_not_exist=True,
                        env={"PYTHONPATH": "."}))
        out.append(Case(f"evil_{command}_cwd_not_searched", files, [command, "s.toml", "--allow-custom"],
                        marker_must_not_exist=True))
    out.append(Case("evil_sweep_not_allowed", {**files, "w.toml": 'base = "s.toml"\n'},
                    ["sweep", "w.toml", "--dry-run"], marker_must_not_exist=True, env={"PYTHONPATH": "."}))
    out.append(Case("evil_api_load_scenario", files, python="from sim.scenario import load_scenario\n"
                    "load_scenario('s.toml')", marker_must_not_exist=True, env={"PYTHONPATH": "."}))
    out.append(Case("evil_api_sweep_spec", files, python="from sim.sweeps import sweep_spec\nsweep_spec('s.toml')",
                    marker_must_not_exist=True, env={"PYTHONPATH": "."}))
    return out


def path_cases() -> list[Case]:
    out = []
    for command in ("theory", "check", "run", "sweep"):
        out.append(Case(f"fifo_{command}", {"p.toml": "FIFO"}, [command, "p.toml"]))
    out.append(Case("dev_zero", {}, ["theory", "/dev/zero"]))
    out.append(Case("dev_urandom_sweep", {}, ["sweep", "/dev/urandom"]))
    out.append(Case("directory", {"d.toml": "DIR"}, ["check", "d.toml"]))
    out.append(Case("proc_self_mem", {}, ["theory", "/proc/self/mem"]))
    out.append(Case("path_with_nul_free_but_long", {}, ["theory", "x" * 5000 + ".toml"]))
    out.append(Case("sweep_base_fifo", {"b.toml": "FIFO", "w.toml": 'base = "b.toml"\n'}, ["sweep", "w.toml"]))
    out.append(Case("sweep_base_directory", {"w.toml": 'base = "."\n'}, ["sweep", "w.toml", "--dry-run"]))
    out.append(Case("sweep_base_dev_zero", {"w.toml": 'base = "/dev/zero"\n'}, ["sweep", "w.toml", "--dry-run"]))
    return out


def sweep_cases() -> list[Case]:
    out = []

    def sw(name, body, *extra, expect="error"):
        out.append(Case(name, {"b.toml": BASE, "w.toml": f'base = "b.toml"\n{body}'}, ["sweep", "w.toml", *extra],
                        expect=expect))

    sw("samples_huge_dry", 'samples = 50000000\n[axes]\n"designer.tau" = {uniform = [0, 1]}\n', "--dry-run")
    sw("samples_float", 'samples = 5.0\n[axes]\n"designer.tau" = {uniform = [0, 1]}\n', "--dry-run")
    sw("integers_beyond_64", 'samples = 2\n[axes]\n"dynamics.rounds" = {integers = [1, 99999999999999999999]}\n',
       "--dry-run")
    sw("integers_negative_beyond_64", 'samples = 2\n[axes]\n"seed" = {integers = [-99999999999999999999, 1]}\n',
       "--dry-run")
    sw("axis_date", '[axes]\n"designer.tau" = [1979-05-27T07:32:00Z]\n', "--dry-run")
    sw("axis_choice_time", 'samples = 2\n[axes]\n"designer.tau" = {choice = [07:32:00]}\n', "--dry-run")
    sw("grid_million_dry", '[axes]\n"designer.tau" = {linspace = [0, 1, 1000]}\n"cost.scale" = '
       '{logspace = [-3, 0, 1000]}\n', "--dry-run", expect="ok")
    sw("grid_billion", '[axes]\n"designer.tau" = {linspace = [0, 1, 100000]}\n"cost.scale" = '
       '{logspace = [-3, 0, 100000]}\n', "--dry-run")
    sw("replications_1e12", "replications = 1000000000000\n", "--dry-run")
    sw("conflict_table_and_key", '[axes]\n"reward" = [{scheme = "linear"}]\n"reward.scheme" = ["top_k"]\n',
       "--dry-run")
    sw("conflict_capability_sample", '[axes]\n"developers.capability" = [[1.0, 0.5]]\n'
       '"developers.sample.n" = [4]\n', "--dry-run")
    sw("axis_deep_value", '[axes]\n"designer.tau" = [' + "[" * 200 + "]" * 200 + "]\n", "--dry-run")
    sw("axis_name_empty_part", '[axes]\n"designer..tau" = [1.0]\n', "--dry-run")
    sw("axis_unknown_field", '[axes]\n"designer.tua" = [1.0]\n', "--dry-run")
    sw("axis_custom_not_allowed", '[axes]\n"cost" = [{family = "custom", function = "os:system"}]\n', "--dry-run")
    sw("scheduler_without_dask", "", "--scheduler", "tcp://127.0.0.1:1")
    sw("scheduler_empty_with_dask", "", "--backend", "dask", "--scheduler", " ")
    sw("n_jobs_1000", '[axes]\n"designer.tau" = [0.0, 1.0]\n', "--n-jobs", "1000", "--out", "o", "--quiet",
       expect="ok")
    sw("n_jobs_zero", "", "--n-jobs", "0")
    sw("n_jobs_huge", "", "--n-jobs", "9" * 50, "--dry-run", expect="ok")
    sw("chunk_size_huge", "", "--chunk-size", "9" * 50, "--dry-run", expect="ok")
    sw("out_is_a_file", "", "--out", "b.toml")
    sw("out_too_long", "", "--out", "o" * 5000)
    sw("name_huge", f'name = "{"z" * 5000}"\n', "--quiet", expect="ok")
    sw("seed_huge", "seed = 99999999999999999999999999999999\n", "--dry-run", expect="ok")
    sw("seed_negative", "seed = -1\n", "--dry-run")
    out.append(Case("sweep_file_is_scenario", {"b.toml": BASE}, ["sweep", "b.toml"]))
    out.append(Case("sweep_base_is_sweep", {"w.toml": 'base = "w.toml"\n'}, ["sweep", "w.toml", "--dry-run"]))
    return out


def cli_cases() -> list[Case]:
    f = {"b.toml": BASE}
    out = [
        Case("tau_nan", f, ["theory", "b.toml", "--tau", "nan"]),
        Case("tau_inf", f, ["run", "b.toml", "--tau", "inf"]),
        Case("tau_huge", f, ["theory", "b.toml", "--tau", "1e308"], expect="ok"),
        Case("tau_max_negative", f, ["theory", "b.toml", "--tau-max", "-1"]),
        Case("rounds_zero", f, ["run", "b.toml", "--rounds", "0"]),
        Case("rounds_not_int", f, ["run", "b.toml", "--rounds", "1e3"]),
        Case("unknown_option", f, ["theory", "b.toml", "--bogus"]),
        Case("no_command", f, []),
        Case("engine_unknown", f, ["run", "b.toml", "--engine", "gpu"]),
        Case("out_in_proc", f, ["run", "b.toml", "--out", "/proc/1/nope"]),
    ]
    return out


def api_cases() -> list[Case]:
    f = {"b.toml": BASE}
    return [
        Case("api_parse_not_dict", f, python="from sim.scenario import parse_scenario\nparse_scenario([1, 2])"),
        Case("api_sweep_spec_axes_list", f, python="from sim.sweeps import sweep_spec\nsweep_spec('b.toml', [1])"),
        Case("api_sweep_n_jobs_huge", f, python="from sim.sweeps import sweep\n"
             "t = sweep({'base': 'b.toml', 'axes': {'designer.tau': [0.0]}}, n_jobs=10**6)\nassert len(t) == 1",
             expect="ok"),
        Case("api_sweep_scheduler_loky", f, python="from sim.sweeps import sweep\n"
             "sweep({'base': 'b.toml'}, scheduler='tcp://x:1')"),
        Case("api_load_scenario_fifo", {"p.toml": "FIFO"}, python="from sim.scenario import load_scenario\n"
             "load_scenario('p.toml')"),
        Case("api_load_sweep_dir", {"d.toml": "DIR"}, python="from sim.sweeps import load_sweep\nload_sweep('d.toml')"),
        Case("api_estimate_huge", f, python="from sim.sweeps import sweep_spec, estimate_sweep\n"
             "e = estimate_sweep(sweep_spec('b.toml', {'designer.tau': {'linspace': [0, 1, 1000000]}}))\n"
             "assert e.points == 10**6", expect="ok"),
        Case("api_exact_many_devs", f, python="import numpy as np\nfrom sim.scenario import parse_scenario\n"
             "from sim.examples import sampled_arms_race\nfrom sim.theory import zero_is_equilibrium_exact\n"
             "g = parse_scenario(sampled_arms_race(200000)).game()\nzero_is_equilibrium_exact(g)", expect="ok"),
    ]


ALL = [*scenario_cases(), *evil_cases(), *path_cases(), *sweep_cases(), *cli_cases(), *api_cases()]

API_WRAPPER = """
import sys
from sim.errors import ScenarioError
try:
{body}
except ScenarioError as err:
    print("lbsim: error: " + str(err).replace("\\n", " "), file=sys.stderr)
    sys.exit(2)
"""


def run_case(case: Case, timeout: float) -> tuple[str, str, float]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        tmp = Path(tmp)
        for name, text in case.files.items():
            if text == "FIFO":
                os.mkfifo(tmp / name)
            elif text == "DIR":
                (tmp / name).mkdir()
            else:
                (tmp / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        marker = tmp / "MARKER"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LBSIM_ALLOW_CUSTOM")}
        env["HOSTILE_MARKER"] = str(marker)
        env.update(case.env or {})
        if case.python is not None:
            body = "\n".join("    " + line for line in case.python.splitlines())
            argv = [sys.executable, "-c", API_WRAPPER.format(body=body)]
        else:
            argv = [sys.executable, "-m", "sim", *case.argv]
        started = time.perf_counter()
        try:
            done = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout,
                                  errors="replace")
        except subprocess.TimeoutExpired:
            return "hang", f"still running after {timeout:g} s", time.perf_counter() - started
        seconds = time.perf_counter() - started
        err_lines = done.stderr.strip().splitlines()
        errors = [ln for ln in err_lines if ln.startswith("lbsim: error:") or ln.startswith("lbsim: error")]
        if "Traceback" in done.stderr:
            return "traceback", done.stderr.strip().splitlines()[-1][:200], seconds
        if case.marker_must_not_exist and marker.exists():
            return "silent", "custom code ran", seconds
        if case.expect == "ok":
            ok = done.returncode == 0
            return ("clean" if ok else "other"), (done.stderr.strip()[:200] or "ok"), seconds
        if done.returncode == 0:
            return "silent", "accepted: " + done.stdout.strip()[:120].replace("\n", " | "), seconds
        usage = done.returncode == 2 and err_lines and "error:" in err_lines[-1]
        if done.returncode == 2 and (len(errors) == 1 and len(err_lines) == 1 or usage):
            return "clean", err_lines[-1][:200], seconds
        return "other", f"exit {done.returncode}: {done.stderr.strip()[:200]}", seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cases = [c for c in ALL if args.only is None or c.name in args.only]
    counts: dict[str, int] = {}
    rows = []
    for case in cases:
        outcome, detail, seconds = run_case(case, args.timeout)
        counts[outcome] = counts.get(outcome, 0) + 1
        rows.append({"case": case.name, "outcome": outcome, "seconds": round(seconds, 2), "detail": detail})
        if not args.json:
            print(f"{outcome:9s} {seconds:6.1f}s  {case.name}: {detail}", flush=True)
    summary = {"cases": len(cases), **{k: counts.get(k, 0) for k in ("clean", "traceback", "hang", "silent", "other")}}
    if args.json:
        json.dump({"summary": summary, "cases": rows}, sys.stdout, indent=2)
        print()
    else:
        print(json.dumps(summary))
    return 0 if summary["clean"] == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
