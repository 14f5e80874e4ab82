"""Parameter sweeps: many scenarios, played in parallel chunks, results as one tidy table.

A sweep file names a base scenario, axes over any scenario field by its
dotted name, a number of replications and a master seed::

    name = "tau-by-scheme"
    base = "../winner_take_all_5.toml"      # relative to the sweep file
    replications = 20
    seed = 1
    [axes]
    "designer.tau" = {logspace = [0, 5, 26]}  # numpy.logspace(0, 5, 26)
    "reward.scheme" = ["winner_take_all", "linear", "zipf"]

Axes
    A list of values, or ``{linspace = [start, stop, num]}`` /
    ``{logspace = [start, stop, num]}`` (numpy's meaning: ``10**start`` to
    ``10**stop``), is a *grid* axis; the grid is the Cartesian product of the
    grid axes, the last axis varying fastest.  ``{uniform = [low, high]}``,
    ``{loguniform = [low, high]}``, ``{integers = [low, high]}`` (both ends
    included) and ``{choice = [...]}`` are *random* axes: ``samples = N``
    points are drawn from them (independently per axis, from the sweep's own
    ``"axes"`` stream) and crossed with the grid.  A value may be a whole
    table (``"reward" = [{scheme = "top_k", k = 3}, {scheme = "zipf"}]``).
    Setting ``reward.scheme``, ``score.family`` or ``cost.family`` drops the
    base's keys that the new kind does not take (so ``"reward.scheme" =
    ["geometric", "linear"]`` works on a base with ``q``); setting
    ``developers.capability`` replaces a ``sample`` and the other way round.

Seeds (reproducibility)
    ``SeedSequence(seed).spawn(2)`` gives an ``"axes"`` stream and a
    ``"runs"`` stream.  With ``common_random_numbers = true`` (the default)
    the runs stream is spawned once per replication and every point's
    ``r``-th replication plays with the same seed, so that differences
    between points come from the parameters and not from the draw (common
    random numbers); with ``false`` it is spawned once per scenario index.
    Either way every seed is fixed before anything runs, and a scenario's
    run does not depend on which other scenarios share its batch
    (:mod:`sim.engine`), so the table is identical for any number of jobs,
    backend or chunk size.  The base scenario's own ``seed`` is not used.

Replications.  A point whose scenario has no randomness in it
(:func:`sim.engine.uses_randomness`: no sampled capabilities, random ties,
noise, random initial profile, nor stochastic schedule or response) gives
the same run for every seed, so it is played once (replication 0) whatever
``replications`` says; the ``replications`` column holds the number of
replications each point actually ran.  A random *axis* is not randomness
inside a scenario: each point is judged by its own scenario.

Horizon.  ``max_rounds = M`` in the sweep file sets ``dynamics.max_rounds``
of the base scenario: deterministic runs that have not recurred within
their rounds play on up to ``M`` rounds (:func:`sim.engine.run_batch`).

Scenario ``k = point * replications + replication``.  Scenarios are grouped
by :func:`sim.engine.batch_key` and ``dynamics.rounds`` and cut into chunks
of at most ``chunk_size``; each chunk is one :func:`sim.engine.run_batch`
call (``record="tail"``) and one Parquet file.  See :func:`sweep`.

The package, one concept per module (every name is importable from ``sim.sweeps``):

* :mod:`sim.sweeps.spec`: the sweep file, its axes and size limits;
* :mod:`sim.sweeps.points`: the parameter points, the run seeds, a point applied to the base scenario;
* :mod:`sim.sweeps.plan`: every point checked, grouped and cut into chunks;
* :mod:`sim.sweeps.estimate`: the dry-run estimate of a large sweep;
* :mod:`sim.sweeps.columns`: the tables' columns and dtypes;
* :mod:`sim.sweeps.chunks`: one chunk played, and the measures of each run;
* :mod:`sim.sweeps.tables`: the chunk files written and read back;
* :mod:`sim.sweeps.manifest`: the manifest and the output directory's checks;
* :mod:`sim.sweeps.workers`: the executors (joblib/loky, dask) and the workers' warm-up;
* :mod:`sim.sweeps.running`: :func:`sweep` itself.
"""

from __future__ import annotations

from sim.sweeps.chunks import (  # noqa: F401
    _TAU_STAR_MEMO,
    ChunkResult,
    ChunkTask,
    _theory_columns,
    run_chunk,
)
from sim.sweeps.columns import (  # noqa: F401
    AXIS_DTYPES,
    INDEX_COLUMNS,
    RESULT_COLUMNS,
    TRAJECTORY_COLUMNS,
    axis_label,
    typed_summary,
)
from sim.sweeps.estimate import (  # noqa: F401
    DRY_RUN_EXACT_POINTS,
    DRY_RUN_LISTED,
    DRY_RUN_SAMPLE,
    DRY_RUN_VALUES,
    SweepEstimate,
    estimate_sweep,
)
from sim.sweeps.manifest import (  # noqa: F401
    check_out,
    prepare_out,
    row_options,
)
from sim.sweeps.plan import (  # noqa: F401
    DEFAULT_CHUNK_SIZE,
    PLAN_PROGRESS_POINTS,
    SweepPlan,
    describe_plan,
    plan_sweep,
    replication_note,
)
from sim.sweeps.points import (  # noqa: F401
    apply_point,
    points_at,
    run_seeds,
    run_seeds_at,
    sweep_points,
)
from sim.sweeps.running import (  # noqa: F401
    MIN_PIECE,
    PIECE_UPDATES,
    SweepReport,
    _piece_task,
    _pieces,
    _workers,
    sweep,
)
from sim.sweeps.spec import (  # noqa: F401
    GRID_AXES,
    INT64_MAX,
    INT64_MIN,
    MAX_POINTS,
    MAX_SCENARIOS,
    MAX_VALUE_DEPTH,
    RANDOM_AXES,
    SWEEP_KEYS,
    Axis,
    SweepSpec,
    load_sweep,
    sweep_spec,
)
from sim.sweeps.tables import (  # noqa: F401
    MANIFEST,
    SUMMARY_DIR,
    TRAJECTORY_DIR,
    chunk_file,
    finished_chunks,
    read_manifest,
    read_results,
    read_trajectories,
    write_chunk,
)
from sim.sweeps.workers import (  # noqa: F401
    BACKENDS,
    SCHEDULER_TIMEOUT,
    _check_cluster,
    _executor,
    _warm_worker,
    cap_n_jobs,
    check_scheduler,
    warm_loky_backend,
)

__all__ = [
    "Axis",
    "ChunkResult",
    "ChunkTask",
    "SweepPlan",
    "SweepEstimate",
    "SweepReport",
    "SweepSpec",
    "apply_point",
    "axis_label",
    "describe_plan",
    "estimate_sweep",
    "load_sweep",
    "plan_sweep",
    "read_manifest",
    "read_results",
    "read_trajectories",
    "replication_note",
    "run_chunk",
    "run_seeds",
    "sweep",
    "sweep_points",
    "sweep_spec",
]
