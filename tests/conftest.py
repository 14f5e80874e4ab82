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


def pytest_configure(config):
    """Bytecode caching for the test processes even under ``PYTHONDONTWRITEBYTECODE=1``.

    Without it every test process (each xdist worker) recompiles the package and rewrites the asserts of every
    test module from source: about 3 s of CPU a worker, every run.  The cached files go where Python and pytest
    always put them, ``__pycache__/`` beside the sources (git-ignored, where numba's kernel cache lives too),
    never under version control.  Child processes (``lbsim`` subprocesses, loky and dask workers) keep the
    variable: they write nothing but read what the workers wrote.
    """
    import sys

    sys.dont_write_bytecode = False
    _one_blas_thread_per_xdist_worker()


#: The variables that set a BLAS or OpenMP library's thread count in a process that has not loaded it yet.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread_per_xdist_worker() -> None:
    """Under ``pytest -n N``: one BLAS thread in each worker and in the processes it starts.

    N workers already keep N cores busy; a BLAS library that also starts one thread per core in every worker
    makes 2 x 2 threads compete for 2 cores (one test alone, ``test_exact_tau_star_solves_the_closed_form_equation``,
    measured 1.62 s with two BLAS threads and 1.25 s with one; over the whole suite the difference is within this
    machine's run-to-run noise).  The thread count changes no result the tests compare.  The variables cover the
    child processes (``lbsim`` subprocesses, loky and dask workers); threadpoolctl covers the libraries this
    worker loaded already.  A variable the user set is kept.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")


#: Session fixtures that are expensive to set up, and the xdist group of the tests that use them: under
#: ``pytest -n 2 --dist loadgroup`` the tests of one group go to one worker as one unit (the largest units first),
#: which sets the fixture up once while the other worker gets on with the rest of the suite.  A test using
#: several of them joins the first group listed.  ``dask_cluster`` and ``loky_workers`` share a group: one test
#: uses both, and the loky workers a sweep with ``n_jobs >= 2`` starts are then started by one worker only.
GROUPED_FIXTURES = {"quick_results": "quick_results", "dask_cluster": "pools", "loky_workers": "pools"}

#: pytest 9.2 with pytest-xdist 3.8 ignores ``xdist_group`` marks (pytest-xdist issue #1386: xdist appends the
#: group to ``item._nodeid``, which ``item.nodeid`` no longer reads).  So each worker also writes the groups
#: (``{nodeid: group}``) into this file in the directory the workers share, and the controller's scheduler
#: (``pytest_xdist_make_scheduler`` below) reads them from there.
GROUPS_FILE = "xdist_groups.json"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    groups = {}
    for item in items:
        for name, group in GROUPED_FIXTURES.items():
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
                groups[item.nodeid] = group
                break
    shared = _shared_dir(config)
    if shared is not None:  # every worker writes the same mapping; each write is whole (a rename)
        import json
        import tempfile

        fd, temporary = tempfile.mkstemp(dir=shared, prefix=GROUPS_FILE)
        with os.fdopen(fd, "w") as out:
            json.dump(groups, out)
        os.replace(temporary, shared / GROUPS_FILE)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups the workers wrote (see ``GROUPS_FILE``); otherwise xdist's own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    import json

    from xdist.scheduler import LoadGroupScheduling

    path = Path(config._tmp_path_factory.getbasetemp()) / GROUPS_FILE  # the workers' basetemp is under it

    class FileGroupScheduling(LoadGroupScheduling):
        groups: dict | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first called once every worker has finished collecting
                try:
                    self.groups = json.loads(path.read_text())
                except (OSError, ValueError):
                    self.groups = {}
            group = self.groups.get(nodeid)
            return f"group {group}" if group else super()._split_scope(nodeid)

    return FileGroupScheduling(config, log)


@pytest.fixture(scope="session")
def loky_workers():
    """Asked for by the tests that run a sweep, a design search or a tournament with ``n_jobs >= 2`` (loky's
    reusable worker processes, the same warm ones for all three: ``sim.sweeps.workers.warm_loky_backend``), so
    that they run on one xdist worker (``GROUPED_FIXTURES``), which starts those processes and reuses them."""
    return None


@pytest.fixture(scope="module")
def dask_cluster():
    """One ``dask.distributed.LocalCluster`` (two single-threaded worker processes) for the tests of a module.

    Starting a cluster takes seconds; the tests share this one rather than start their own.  It is closed when
    the worker moves on to another module, not at the end of the session: an idle cluster is not free (its
    scheduler, nannies and workers exchange heartbeats, about 7 s of CPU a minute in all), and the tests that use
    it (``tests/test_sweeps.py``, one xdist group) run one after the other.
    """
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster


# --------------------------------------------------------------------------- the quick run, shared by xdist workers
#
# Under xdist every worker's base temporary directory sits in one shared directory (``getbasetemp().parent``).
# The quick run goes into ``<shared>/quick_results``, made under an exclusive lock on
# ``<shared>/quick_results.lock``: whoever holds the lock first and finds no result runs the experiments into a
# fresh directory and renames it into place; everyone after reuses it.  Its tests form one xdist group
# (``GROUPED_FIXTURES``), the largest unit, which the scheduler hands out first: one worker runs the experiments in
# its own process (where collecting the tests has imported what they need) while the other gets on with the rest.
# (A background process started after collection did the same at about 4 s of CPU more, its own imports, and
# competed with both workers for the two cores.)


def _shared_dir(config) -> Path | None:
    """The directory the xdist workers share, or None outside a worker."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or not config.option.basetemp:
        return None
    return Path(config.option.basetemp).parent


def _make_shared_quick_run(shared: Path) -> Path:
    """``<shared>/quick_results``, run now unless it is there already (the caller holds the lock)."""
    import tempfile

    root = shared / "quick_results"
    if not root.is_dir():
        fresh = Path(tempfile.mkdtemp(prefix="quick_results-", dir=shared))
        _run_quick(fresh).rename(root)
    return root


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory) -> Path:
    """Every experiment run once at its reduced size (``python -m experiments.all --quick``): the root directory.

    Shared by ``tests/test_experiments.py`` and the per-experiment tests, so that no experiment runs twice, and
    shared across pytest-xdist workers (see above).  A run that failed leaves nothing in place, so the next
    worker tries again (and fails the same way, with its own traceback).
    """
    import fcntl

    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # a single process: nobody to share with
        return _run_quick(tmp_path_factory.mktemp("results"))
    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / "quick_results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _make_shared_quick_run(shared)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_quick(root: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from experiments import all as experiments_all
    from sim import kernel  # noqa: F401  (loaded: the experiments' small runs take the compiled path, same bits)

    assert experiments_all.main(["--quick", "--out", str(root)]) == 0
    return root
