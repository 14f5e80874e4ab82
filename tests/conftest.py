"""Test configuration.

Hypothesis explores new random examples on every local run (and remembers
failures in ``.hypothesis/``); ``pytest --hypothesis-seed=N`` replays or varies
a draw.  Under CI (``CI`` set in the environment) the ``ci`` profile
derandomises it, so that a submission's verdict does not depend on the luck of
the draw.
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


#: Session fixtures that are expensive to set up: under ``pytest -n 2 --dist loadgroup`` the tests using one of
#: them form one xdist group and go to one worker, which sets it up once while the other gets on with the rest
#: of the suite (instead of setting it up again, or waiting on the lock in :func:`quick_results`).
GROUPED_FIXTURES = ("quick_results", "dask_cluster")


def pytest_collection_modifyitems(items):
    for item in items:
        for name in GROUPED_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))
                break


@pytest.fixture(scope="session")
def dask_cluster():
    """One ``dask.distributed.LocalCluster`` (two single-threaded worker processes) for every test that needs one.

    Starting a cluster takes seconds; the tests share this one rather than start their own.
    """
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory) -> Path:
    """Every experiment run once at its reduced size (``python -m experiments.all --quick``): the root directory.

    Shared by ``tests/test_experiments.py`` and the per-experiment tests, so that no experiment runs twice, and
    shared across pytest-xdist workers: they all see the same base temporary directory
    (``getbasetemp().parent``), the first to take the lock runs the experiments into a fresh directory and
    renames it into place, and the others wait on the lock and reuse it.  A run that failed leaves nothing in
    place, so the next worker tries again (and fails the same way, with its own traceback).
    """
    import fcntl

    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # a single process: nobody to share with
        return _run_quick(tmp_path_factory.mktemp("results"))
    shared = tmp_path_factory.getbasetemp().parent
    root = shared / "quick_results"
    with open(shared / "quick_results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not root.is_dir():
                _run_quick(tmp_path_factory.mktemp("results")).rename(root)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root


def _run_quick(root: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from experiments import all as experiments_all

    assert experiments_all.main(["--quick", "--out", str(root)]) == 0
    return root
