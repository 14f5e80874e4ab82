"""Every experiment script runs at its reduced size and writes what it declares (what CI proves still works).

The session fixture ``quick_results`` (``tests/conftest.py``) runs
``python -m experiments.all --quick`` into a temporary directory once; the tests here check
each experiment's declared outputs, its summary, and the generated README.
The shared machinery of :mod:`experiments.common` is tested on a tiny fake
experiment.  Each experiment's own data functions are tested in
``tests/test_experiment_<name>.py``.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from experiments import all as experiments_all  # noqa: E402
from experiments.common import (  # noqa: E402
    ExperimentInfo,
    command,
    run_experiment,
    write_json,
    write_table,
)
from sim import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = experiments_all.EXPERIMENTS


def test_every_experiment_module_is_listed():
    modules = {p.stem for p in (ROOT / "experiments").glob("*.py")} - {"__init__", "all", "common"}
    assert modules == set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_declares_its_metadata(name):
    module = importlib.import_module(f"experiments.{name}")
    info = module.INFO
    assert isinstance(info, ExperimentInfo) and info.name == name
    assert info.description.count(". ") == 0, "one sentence"
    assert all(Path(d).suffix in (".csv", ".parquet") for d in info.data)
    assert callable(module.run) and callable(module.main)
    assert module.__doc__ and len(module.__doc__.strip()) > 80, "the module docstring says what it computes"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_quick_and_writes_its_outputs(quick_results, name):
    info = importlib.import_module(f"experiments.{name}").INFO
    out = quick_results / name
    for file in info.outputs():
        assert (out / file).is_file() and (out / file).stat().st_size > 0, file
    assert (out / f"{info.figure}.pdf").read_bytes().startswith(b"%PDF")
    assert (out / f"{info.figure}.png").read_bytes().startswith(b"\x89PNG")
    for data in info.data:
        frame = pd.read_csv(out / data) if data.endswith(".csv") else pd.read_parquet(out / data)
        assert len(frame) > 0 and len(frame.columns) > 0, data
    summary = json.loads((out / "summary.json").read_text())
    assert summary["experiment"] == name and summary["quick"] is True
    assert summary["command"] == f"python -m experiments.{name} --quick"
    assert isinstance(summary["results"], dict) and summary["results"], "headline numbers are reported"
    assert not list(out.glob(".*tmp*")), "no temporary files are left behind"


def test_readme_lists_every_experiment_with_its_command_and_figure(quick_results):
    text = (quick_results / "README.md").read_text()
    for name in EXPERIMENTS:
        info = importlib.import_module(f"experiments.{name}").INFO
        assert f"## {info.title}" in text
        assert f"({name}/{info.figure}.png)" in text
        assert f"`python -m experiments.{name} --quick`" in text
        assert info.description in text


def test_committed_results_readme_is_the_generated_one():
    """results/README.md is regenerated from the committed summaries: it cannot drift from them."""
    root = ROOT / "results"
    infos = [importlib.import_module(f"experiments.{n}").INFO for n in EXPERIMENTS]
    assert (root / "README.md").read_text() == experiments_all.readme_text(root, infos)
    for info in infos:
        assert (root / info.name / "summary.json").is_file(), f"results/{info.name} is committed"
        for file in info.outputs():
            assert (root / info.name / file).is_file(), f"results/{info.name}/{file} is committed"
        summary = json.loads((root / info.name / "summary.json").read_text())
        assert summary["quick"] is False, "committed results come from the full size"


# --------------------------------------------------------------------------- the shared machinery


def _fake_module(tmp_path, writes=("table.csv",), name="fake_experiment"):
    info = ExperimentInfo(
        name=name, title="Fake", description="A fake experiment.", figure="figure", data=("table.csv",)
    )

    def run(out, *, quick=False, n_jobs=1):
        import matplotlib.pyplot as plt

        from experiments.common import save_figure

        for file in writes:
            write_table(pd.DataFrame({"x": [1, 2]}), out / file)
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        save_figure(fig, out, info.figure)
        return {"quick": quick, "value": 1.5, "inf": math.inf}

    module = types.ModuleType(f"experiments.{name}")
    module.INFO, module.run = info, run
    run.__module__ = module.__name__
    module.main = command(info, run)
    sys.modules[module.__name__] = module
    return module


def test_run_experiment_writes_a_summary(tmp_path):
    module = _fake_module(tmp_path)
    summary = run_experiment(module, tmp_path / "out", quick=True)
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved == summary
    assert saved["results"] == {"quick": True, "value": 1.5, "inf": "inf"}
    assert saved["quick"] is True and saved["seconds"] >= 0


def test_quick_runs_with_one_blas_thread_and_the_full_size_with_the_default(tmp_path):
    """``run_experiment(quick=True)`` limits the loaded BLAS libraries to one thread and sets ``QUICK_RC``
    inside ``run`` only; the full size runs with whatever the process had (its committed results are made as
    before)."""
    import matplotlib as mpl
    from threadpoolctl import threadpool_info, threadpool_limits

    from experiments.common import QUICK_RC

    def blas_threads():
        return sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})

    seen = {}
    module = _fake_module(tmp_path)
    plain_run = module.run

    def run(out, *, quick=False, n_jobs=1):
        seen[quick] = blas_threads()
        seen[quick, "rc"] = {key: mpl.rcParams[key] for key in QUICK_RC}
        return plain_run(out, quick=quick, n_jobs=n_jobs)

    run.__module__ = plain_run.__module__
    module.run = run
    rc_outside = {key: mpl.rcParams[key] for key in QUICK_RC}
    with threadpool_limits(limits=2, user_api="blas"):  # a known outside count, even on a one-core machine
        outside = blas_threads()
        run_experiment(module, tmp_path / "quick", quick=True)
        run_experiment(module, tmp_path / "full", quick=False)
        assert blas_threads() == outside
    assert {key: mpl.rcParams[key] for key in QUICK_RC} == rc_outside != QUICK_RC
    assert outside and seen == {True: [1], False: outside, (True, "rc"): QUICK_RC, (False, "rc"): rc_outside}


def test_run_experiment_refuses_an_experiment_that_forgot_a_file(tmp_path):
    module = _fake_module(tmp_path, writes=())
    with pytest.raises(RuntimeError, match="did not write table.csv"):
        run_experiment(module, tmp_path / "out")


def test_experiment_command_rejects_an_unusable_out(tmp_path, capsys):
    module = _fake_module(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert module.main(["--out", str(blocker)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out" in err and "not a directory" in err
    assert module.main(["--out", str(tmp_path / "ok"), "--quick"]) == 0
    assert (tmp_path / "ok" / "summary.json").is_file()


def test_quick_figures_are_the_whole_figure_at_the_quick_resolution(tmp_path):
    """``quick``: the PNG is the figure's own size (not cropped) at ``QUICK_DPI`` and the PDF that picture on a
    page of the same size; the full size is at 200 dpi with a vector PDF.  Both close the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from experiments.common import QUICK_DPI, save_figure

    def figure():
        fig, ax = plt.subplots(figsize=(3.0, 2.0), layout="constrained")
        ax.plot([0, 1], label="a line")
        ax.legend()
        return fig

    open_before = plt.get_fignums()
    quick = save_figure(figure(), tmp_path / "quick", "f", quick=True)
    full = save_figure(figure(), tmp_path / "full", "f")
    assert plt.get_fignums() == open_before
    for (png, pdf), dpi in ((quick, QUICK_DPI), (full, 200)):
        assert [png.name, pdf.name] == ["f.png", "f.pdf"] and pdf.read_bytes().startswith(b"%PDF")
        with Image.open(png) as image:
            assert [round(d) for d in image.info["dpi"]] == [dpi, dpi]
            if dpi == QUICK_DPI:
                assert image.size == (3 * QUICK_DPI, 2 * QUICK_DPI)
    # The quick PDF is the quick PNG on a page of the figure's size: 3 x 2 inches, 72 points an inch.
    import re

    box = re.search(rb"/MediaBox \[ 0 0 ([0-9.]+) ([0-9.]+) \]", quick[1].read_bytes())
    assert box and [float(v) for v in box.groups()] == [216.0, 144.0]
    assert QUICK_DPI < 200


def test_write_table_rejects_other_formats_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        write_table(pd.DataFrame({"x": [1]}), tmp_path / "t.xlsx")
    frame = pd.DataFrame({"x": [1.5, 2.5], "y": ["a", "b"]})
    pd.testing.assert_frame_equal(pd.read_parquet(write_table(frame, tmp_path / "t.parquet")), frame)
    pd.testing.assert_frame_equal(pd.read_csv(write_table(frame, tmp_path / "t.csv")), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.parquet"]


def test_write_json_makes_non_finite_numbers_strings(tmp_path):
    import numpy as np

    path = write_json({"a": np.float64(np.inf), "b": [np.int64(3), float("nan")], "c": {"d": 1}}, tmp_path / "s.json")
    assert json.loads(path.read_text()) == {"a": "inf", "b": [3, "nan"], "c": {"d": 1}}


def test_reproduce_rejects_an_unknown_experiment(capsys):
    assert cli.main(["reproduce", "--only", "no_such_thing"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--only" in err and "no_such_thing" in err


def test_reproduce_rejects_an_unusable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert experiments_all.main(["--out", str(blocker), "--only", EXPERIMENTS[0]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out" in err


def test_lbsim_reproduce_runs_the_named_experiments(tmp_path, capsys):
    assert cli.main(["reproduce", "--quick", "--only", "dynamics_gallery", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "dynamics_gallery" / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "dynamics_gallery"]
    assert "## Dynamics gallery" in (tmp_path / "README.md").read_text()
