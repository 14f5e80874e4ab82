"""The sweep's workers: the number of jobs, the joblib (loky) or dask executor, the cluster check and the
warm-up each worker process does once.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from sim.errors import ScenarioError, describe_exception
from sim.sweeps.chunks import run_chunk

BACKENDS = ("loky", "dask")


def cap_n_jobs(n_jobs: int) -> tuple[int, str | None]:
    """``n_jobs`` capped at the number of cores this process may use, and a note when it was capped."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if n_jobs <= cores:
        return n_jobs, None
    return cores, f"--n-jobs {n_jobs} is more than the {cores} core(s) here; using {cores}"


def check_scheduler(backend: str, scheduler) -> None:
    """``scheduler`` is only meaningful with the Dask backend, and must then be a non-empty one-line address."""
    if scheduler is None:
        return
    if backend != "dask":
        raise ScenarioError("--scheduler", scheduler, "is only used with --backend dask")
    if not isinstance(scheduler, str) or not scheduler.strip() or not scheduler.isprintable():
        raise ScenarioError("--scheduler", scheduler, "needs an address such as tcp://10.0.0.1:8786")


#: How long to wait for a Dask scheduler given by address before giving up.
SCHEDULER_TIMEOUT = "20s"


def _check_cluster(client, scheduler: str | None) -> None:
    """Refuse a cluster whose scheduler or workers cannot import this package (Dask would wait for ever).

    The probe is the builtin ``eval`` of an import, so that sending it needs
    nothing from this package on the other side.
    """
    from sim import __version__

    where = scheduler or "local cluster"
    probe = "__import__('sim').__version__"
    try:
        versions = {"scheduler": client.run_on_scheduler(eval, probe), **client.run(eval, probe)}
    except Exception as err:  # noqa: BLE001 -- any failure here means the cluster cannot run a sweep
        raise ScenarioError(
            "--scheduler", where,
            f"the cluster cannot import sim ({describe_exception(err, 80)}); install leaderboard-sim on the "
            "scheduler and every worker",
        ) from None  # fmt: skip
    if len(versions) < 2:
        raise ScenarioError("--scheduler", where, "has no workers yet: start them first (dask worker ADDRESS)")
    other = {name: v for name, v in versions.items() if v != __version__}
    if other:
        name, version = next(iter(other.items()))
        raise ScenarioError(
            "--scheduler", where,
            f"{name} runs leaderboard-sim {version}, this machine {__version__}: install one version",
        )  # fmt: skip


def _warm_worker() -> None:
    """Run once in each new loky worker, before its first chunk: import what chunks need and load the kernels.

    A 2-developer, 2-round batch run loads numba's compiled kernels from its on-disk cache (``cache=True``)
    and sets up numba's typing context, the once-per-process cost (about a second) that the first chunk
    would otherwise pay.  Nothing of it reaches any result.
    """
    import pandas  # noqa: F401 -- the summaries are data frames

    import sim.kernel  # noqa: F401 -- loaded, so every run of this worker takes it (sim.engine.compiled.use_kernels)
    from sim import theory  # noqa: F401 -- the theory columns
    from sim.engine import run_batch
    from sim.examples import sampled_arms_race
    from sim.scenario import parse_scenario

    try:
        with np.errstate(all="ignore"):
            run_batch([parse_scenario(sampled_arms_race(2, seed=0, rounds=2, name="warm-up"))], record="tail")
    except Exception:  # noqa: BLE001 -- a warm-up only: the chunks report any real failure
        pass


def warm_loky_backend():
    """joblib's loky backend whose new workers run :func:`_warm_worker` first.

    Sweeps, ``lbsim design`` and ``lbsim tournament`` all use this one, so that
    they share loky's reusable executor: a later parallel call in the same
    process (same ``n_jobs``) finds its workers warm, with the kernels loaded,
    instead of starting new ones (an executor with other arguments would be
    replaced).
    """
    from joblib._parallel_backends import LokyBackend

    return LokyBackend(initializer=_warm_worker)


@contextlib.contextmanager
def _executor(n_jobs: int, backend: str, scheduler: str | None):
    """A function ``tasks -> iterator of chunk results as they finish``, on loky or a Dask cluster.

    The cluster is joined (or started) on entry, before anything is
    written, so that an unreachable scheduler fails first.
    """
    from joblib import Parallel, delayed, parallel_config

    if backend == "loky":
        if n_jobs == 1:
            yield lambda tasks: (run_chunk(t) for t in tasks)
            return
        # loky's reusable executor: the same initializer (hence the same executor arguments) every time, so a
        # later sweep in this process reuses the warm workers (idle for up to 5 minutes) instead of starting new.
        backend_ = warm_loky_backend()
        parallel = Parallel(n_jobs=n_jobs, backend=backend_, return_as="generator_unordered", batch_size=1,
                            pre_dispatch="2*n_jobs")
        yield lambda tasks: parallel(delayed(run_chunk)(t) for t in tasks)
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError(
            "--backend", backend, "needs dask.distributed: pip install 'leaderboard-sim[cluster]'"
        ) from None
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=SCHEDULER_TIMEOUT))
            except (OSError, TimeoutError) as err:
                raise ScenarioError("--scheduler", scheduler, f"cannot connect ({describe_exception(err)})") from None
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n_jobs, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
                )
            )
            client = stack.enter_context(Client(cluster))
        _check_cluster(client, scheduler)
        stack.enter_context(parallel_config(backend="dask"))
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        parallel = Parallel(n_jobs=-1, return_as="generator_unordered", batch_size=1, pre_dispatch=f"{2 * workers}")
        yield lambda tasks: parallel(delayed(run_chunk)(t) for t in tasks)
