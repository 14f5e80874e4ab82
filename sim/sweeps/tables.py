"""A sweep's output directory: one Parquet file per chunk written atomically, and the tables read back."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from sim import sweep_store
from sim.errors import ScenarioError
from sim.sweeps.chunks import ChunkResult
from sim.sweeps.columns import TRAJECTORY_COLUMNS, typed_summary

SUMMARY_DIR = "summary"


TRAJECTORY_DIR = "trajectories"


MANIFEST = "manifest.json"


def chunk_file(out: Path, c: int, kind: str = SUMMARY_DIR) -> Path:
    return Path(out) / kind / f"chunk-{c:06d}.parquet"


def finished_chunks(out: Path) -> set[int]:
    """Chunks whose summary file is in place under its own name (written atomically; verified by ``--resume``)."""
    return set(sweep_store.chunk_files(Path(out) / SUMMARY_DIR)[0])


def _write_atomic_parquet(frame, path: Path, stamp: dict) -> None:
    """Write ``frame`` atomically, stamped with ``stamp`` (see :func:`sim.sweep_store.write_stamped`)."""
    sweep_store.write_stamped(frame, path, stamp)


def _write_atomic_json(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_chunk(out: Path, result: ChunkResult, *, fingerprint: str, axis_types: dict) -> None:
    """Trajectories first, then the summary: a chunk counts as finished once its summary file exists.

    Each file is stamped with the sweep's ``fingerprint``, the chunk index,
    its row count and the ``axis_types`` (:mod:`sim.sweep_store`).
    """
    for frame, kind in ((result.trajectories, TRAJECTORY_DIR), (result.summary, SUMMARY_DIR)):
        if frame is not None:
            stamp = {"fingerprint": fingerprint, "chunk": result.chunk, "kind": kind, "axis_types": axis_types}
            _write_atomic_parquet(frame, chunk_file(out, result.chunk, kind), stamp)


def _verified_tables(out: Path, kind: str, manifest: dict) -> tuple[list, dict | None]:
    """Every chunk file of ``kind`` in ``out`` read whole and verified; ``(data frames, axis types)``.

    A damaged or foreign file, a file under a name that is not a chunk's,
    or chunks of different sweeps are one-line errors naming the file.
    """
    found, odd = sweep_store.chunk_files(out / kind)
    if odd:
        raise ScenarioError(str(odd[0]), odd[0].name, "is not named like a chunk (chunk-NNNNNN.parquet); remove it")
    fingerprint = manifest.get("fingerprint")
    tables, axis_types = [], manifest.get("axis_types")
    for c in sorted(found):
        check = sweep_store.inspect_chunk(found[c], kind, fingerprint)
        if check.state == "damaged":
            raise sweep_store.refuse_chunk(check, "run the sweep again with --resume to redo it")
        if check.state == "foreign":
            raise sweep_store.refuse_chunk(check, "remove it or choose another --out")
        if fingerprint is None:
            fingerprint = check.stamp.fingerprint  # without a manifest, the first chunk names the sweep
        if axis_types is None:
            axis_types = check.stamp.axis_types
        tables.append(check.frame)
    return tables, axis_types


def read_results(out, columns: Sequence[str] | None = None):
    """The summary table of the sweep in ``out``: one row per finished scenario, sorted by ``scenario_index``.

    Every chunk is verified first (:mod:`sim.sweep_store`): all carry the
    manifest's fingerprint (or, without a manifest, one fingerprint), each
    its own index and row count; a damaged or foreign chunk, or a
    ``scenario_index`` found twice, is a :class:`ScenarioError` naming the
    file.  The axis columns come from the manifest or, without one, from
    the chunks' stamps.
    """
    import pandas as pd

    out = Path(out)
    manifest = read_manifest(out)
    tables, axis_types = _verified_tables(out, SUMMARY_DIR, manifest)
    axis_types = axis_types or {}
    if not tables:
        return typed_summary(pd.DataFrame(), axis_types)
    frame = pd.concat(tables, ignore_index=True)
    frame = typed_summary(frame, axis_types).sort_values("scenario_index", kind="stable").reset_index(drop=True)
    repeated = frame["scenario_index"].duplicated()
    if repeated.any():
        k = int(frame.loc[repeated, "scenario_index"].iloc[0])
        raise ScenarioError(f"{out / SUMMARY_DIR}: scenario_index", k, "found in two chunks: the directory is mixed")
    return frame if columns is None else frame[list(columns)]


def read_trajectories(out):
    """The subsampled trajectories (``--trajectories``) of the sweep in ``out``, sorted by scenario and round."""
    import pandas as pd

    out = Path(out)
    tables, _ = _verified_tables(out, TRAJECTORY_DIR, read_manifest(out))
    if not tables:
        return pd.DataFrame({c: [] for c in TRAJECTORY_COLUMNS}).astype(TRAJECTORY_COLUMNS)
    frame = pd.concat(tables, ignore_index=True).astype(TRAJECTORY_COLUMNS)
    frame = frame.sort_values(["scenario_index", "round", "developer"], kind="stable").reset_index(drop=True)
    repeated = frame.duplicated(["scenario_index", "round", "developer"])
    if repeated.any():
        k = int(frame.loc[repeated, "scenario_index"].iloc[0])
        raise ScenarioError(f"{out / TRAJECTORY_DIR}: scenario_index", k, "found in two chunks: the directory is mixed")
    return frame


def read_manifest(out) -> dict:
    """The manifest of the sweep directory ``out`` (``{}`` without one), checked by
    :func:`sim.sweep_store.check_manifest`: a malformed one is a one-line error naming the file and the key."""
    return sweep_store.load_manifest(out)
