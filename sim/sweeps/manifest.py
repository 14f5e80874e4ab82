"""A sweep's manifest: the row options and fingerprint that a resumed sweep must match, and the output
directory checked and prepared before anything runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sim import sweep_store
from sim.errors import ScenarioError
from sim.sweeps.plan import SweepPlan
from sim.sweeps.tables import MANIFEST, SUMMARY_DIR, TRAJECTORY_DIR, chunk_file, read_manifest


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def row_options(plan: SweepPlan, tail_window: int | None, trajectory_every: int | None,
                theory: bool) -> sweep_store.RowOptions:
    """The options of a run that change its rows (recorded in the manifest; ``--resume`` must repeat them)."""
    from sim import __version__

    return sweep_store.RowOptions(
        tail_window=tail_window,
        theory=bool(theory),
        trajectory_every=trajectory_every,
        chunk_size=plan.chunk_size,
        package_version=__version__,
    )


def check_out(out, plan: SweepPlan, resume: bool, options: sweep_store.RowOptions, fingerprint: str,
              probe_lock: bool = True) -> dict:
    """Refuse an ``out`` this run may not write, reading only; return its manifest (``{}`` when new or empty).

    A non-empty directory is refused unless ``resume`` is set and its
    manifest records the same sweep (same digest) run with the same
    :class:`sim.sweep_store.RowOptions` (the error names those that differ).
    With ``probe_lock`` a directory another process is writing is refused
    first, naming its pid (off when this process holds the lock).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError("--out", str(out), "exists and is not a directory")
    if probe_lock:  # a second writer hears first that the directory is busy, and from whom
        sweep_store.ensure_unlocked(out)
    if not sweep_store.visible_entries(out):
        return {}
    if not resume:
        raise ScenarioError(
            "--out", str(out),
            "is not empty; pass --resume to continue the sweep recorded there, or choose another directory",
        )  # fmt: skip
    manifest = read_manifest(out)
    if not manifest:
        raise ScenarioError("--out", str(out), f"is not empty and holds no {MANIFEST}: not a sweep to resume")
    differences = options.differences(manifest["options"])
    if manifest["digest"] != plan.digest and not any(d.startswith("--chunk-size") for d in differences):
        raise ScenarioError(
            "--resume", str(out),
            "holds a different sweep (sweep file, base scenario or chunk size changed); choose another --out",
        )  # fmt: skip
    if differences:
        raise ScenarioError(
            "--resume", str(out),
            "the sweep there was run with other options that change the rows: " + "; ".join(differences)
            + ": pass the same options, or choose another --out",
        )  # fmt: skip
    if manifest["fingerprint"] != fingerprint:
        raise sweep_store.manifest_error(
            out / MANIFEST, "fingerprint", manifest["fingerprint"][:12],
            "does not match the sweep and options it records: the manifest was altered",
        )  # fmt: skip
    return manifest


def prepare_out(out, plan: SweepPlan, resume: bool, options: sweep_store.RowOptions,
                fingerprint: str) -> tuple[set[int], list[tuple[int, sweep_store.ChunkCheck]]]:
    """Check ``out`` for this sweep (:func:`check_out`) and verify every chunk already there (writer lock held).

    Returns the finished chunks and the damaged ones ``(chunk, check)``,
    whose files are removed so that they run again.  Every chunk file is
    read whole (:func:`sim.sweep_store.inspect_chunk`): a foreign one (no
    stamp, another fingerprint, another index, other scenarios, a name
    that is not a chunk's or an index beyond the plan) is refused, naming
    the file, and then nothing is changed.  A summary whose trajectories
    (``--trajectories``) are missing or damaged counts as damaged.  Stale
    temporary files of an interrupted run are removed.
    """
    out = Path(out)
    manifest = check_out(out, plan, resume, options, fingerprint, probe_lock=False)
    if not manifest:
        return set(), []
    hint = "remove it or choose another --out"
    files = {}
    for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
        found, odd = sweep_store.chunk_files(out / kind)
        if odd:
            raise ScenarioError(str(odd[0]), odd[0].name, f"is not named like a chunk (chunk-NNNNNN.parquet); {hint}")
        beyond = [c for c in found if c >= len(plan.chunks)]
        if beyond:
            raise ScenarioError(str(found[beyond[0]]), beyond[0], f"this sweep has {len(plan.chunks)} chunks; {hint}")
        files[kind] = found
    done: set[int] = set()
    damaged = []
    for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
        for c, path in sorted(files[kind].items()):
            check = sweep_store.inspect_chunk(path, kind, fingerprint, plan.chunks[c])
            if check.state == "foreign":
                raise sweep_store.refuse_chunk(check, hint)
            if kind == SUMMARY_DIR and check.state == "ok":
                done.add(c)
            elif check.state == "damaged" and (c in done or kind == SUMMARY_DIR):
                done.discard(c)
                damaged.append((c, check))
    if options.trajectory_every is not None:
        for c in sorted(done - set(files[TRAJECTORY_DIR])):
            path = chunk_file(out, c, TRAJECTORY_DIR)
            damaged.append((c, sweep_store.ChunkCheck(path, "damaged", "its summary is there", value="missing")))
            done.discard(c)
    try:
        for c, _ in damaged:
            for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
                chunk_file(out, c, kind).unlink(missing_ok=True)
        for kind in (SUMMARY_DIR, TRAJECTORY_DIR):
            for stale in (out / kind).glob(".chunk-*.tmp"):
                stale.unlink()
    except OSError as err:
        raise ScenarioError("--out", str(out), f"cannot write: {err.strerror}") from None
    if not os.access(out, os.W_OK):
        raise ScenarioError("--out", str(out), "is not writable")
    return done, sorted(damaged, key=lambda item: item[0])


def _manifest(plan: SweepPlan, previous: dict, **fields) -> dict:
    from sim import __version__

    spec = plan.spec
    base = {
        "sweep": spec.name,
        "sweep_file": spec.source,
        "sweep_text": spec.text,
        "base_scenario": spec.base.source,
        "spec": spec.to_dict(),
        "digest": plan.digest,
        "axis_types": plan.axis_types,
        "format": sweep_store.FORMAT,
        "package_version": __version__,
        "git_commit": _git_commit(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "started": previous.get("started", _now()),
        "runs": previous.get("runs", []),
        "counts": {
            "points": len(plan.points),
            "replications": spec.replications,
            "points_run_once": plan.points_run_once,
            "scenarios": plan.scenarios,
            "chunks": len(plan.chunks),
            "chunk_size": plan.chunk_size,
            "scenario_rounds": plan.scenario_rounds,
            "agent_updates": plan.agent_updates,
        },
    }
    base.update(fields)
    return base
